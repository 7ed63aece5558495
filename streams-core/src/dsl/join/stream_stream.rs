//! Windowed stream-stream joins (`KStream::join_stream / left_join_stream / outer_join_stream`),
//! like Kafka Streams' `KStreamKStreamJoin` with its `KStreamJoinWindow`s: each side keeps its
//! records in a window store for the join window plus grace, and a record of either side joins
//! the other side's records within the window. Left and outer joins keep unmatched records in a
//! shared store and emit them once their window closed, never early (Kafka ≥ 3.1 semantics):
//! an in-order record first emits the waiting records whose window it closed — in the store's
//! order: by timestamp, then right side before left, then key — and then its own join results.

use std::rc::Rc;
use std::sync::Arc;

use crate::dsl::kgrouped::skip_null;
use crate::dsl::kstream::KStream;
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::Serde;
use crate::state::initialized;

const WINDOWED_NAME: &str = "KSTREAM-WINDOWED-";
const STREAM_JOIN_THIS_NAME: &str = "KSTREAM-JOINTHIS-";
const STREAM_JOIN_OTHER_NAME: &str = "KSTREAM-JOINOTHER-";
const OUTER_THIS_NAME: &str = "KSTREAM-OUTERTHIS-";
const OUTER_OTHER_NAME: &str = "KSTREAM-OUTEROTHER-";
const OUTER_SHARED_NAME: &str = "KSTREAM-OUTERSHARED-";
const STREAM_MERGE_NAME: &str = "KSTREAM-MERGE-";

/// The serdes of a stream-stream join — keys, this stream's values, the other stream's values
/// — for its window stores and, if needed, repartition topics (Kafka's `StreamJoined`).
pub struct StreamJoined<K, V, VO> {
    key_serde: Arc<dyn Serde<K>>,
    value_serde: Arc<dyn Serde<V>>,
    other_value_serde: Arc<dyn Serde<VO>>,
    name: Option<String>,
    store_name: Option<String>,
}

impl<K, V, VO> StreamJoined<K, V, VO> {
    /// The key serde and both streams' value serdes.
    pub fn with(
        key_serde: impl Serde<K>,
        value_serde: impl Serde<V>,
        other_value_serde: impl Serde<VO>,
    ) -> Self {
        StreamJoined {
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            other_value_serde: Arc::new(other_value_serde),
            name: None,
            store_name: None,
        }
    }

    /// Names the join's processors `<name>-this-windowed`, `<name>-other-windowed`,
    /// `<name>-this-join` (`-outer-this-join` in an outer join), `<name>-other-join`
    /// (`-outer-other-join` in left and outer joins) and `<name>-merge`, and its repartition
    /// topics, if it needs them, `<application.id>-<name>-left-repartition` and
    /// `…-right-repartition` (Kafka's `StreamJoined.withName`). The stores keep generated names
    /// unless [`with_store_name`](Self::with_store_name) names them.
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_core::prelude::*;
    /// let builder = StreamsBuilder::new();
    /// let left = builder.stream("left", Consumed::with(Serdes::string(), Serdes::string()));
    /// let right = builder.stream("right", Consumed::with(Serdes::string(), Serdes::string()));
    /// left.join_stream(
    ///     &right,
    ///     |l: &String, r: &String| format!("{l}+{r}"),
    ///     JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(100)).unwrap(),
    ///     StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string()).with_name("pairs"),
    /// )
    /// .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let text = builder.build().unwrap().describe().to_string();
    /// assert!(text.contains("Processor: pairs-merge (stores: [])"), "{text}");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Names the join's window stores `<name>-this-join-store` and `<name>-other-join-store`
    /// (`-outer-this-join-store` / `-outer-other-join-store` on the outer sides) and a left or
    /// outer join's shared store `<name>-left-shared-join-store` / `-outer-shared-join-store`,
    /// and so their changelogs (Kafka's `StreamJoined.withStoreName`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_core::prelude::*;
    /// let builder = StreamsBuilder::new();
    /// let left = builder.stream("left", Consumed::with(Serdes::string(), Serdes::string()));
    /// let right = builder.stream("right", Consumed::with(Serdes::string(), Serdes::string()));
    /// left.left_join_stream(
    ///     &right,
    ///     |l: &String, r: Option<&String>| format!("{l}+{r:?}"),
    ///     JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(100)).unwrap(),
    ///     StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string())
    ///         .with_store_name("pairs"),
    /// )
    /// .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let stores = builder.build().unwrap().store_names();
    /// assert!(stores.contains(&"pairs-left-shared-join-store".to_string()), "{stores:?}");
    /// ```
    pub fn with_store_name(mut self, store_name: impl Into<String>) -> Self {
        self.store_name = Some(store_name.into());
        self
    }
}

impl<K: Data, V: Data> KStream<K, V> {
    /// Inner stream-stream join within `windows` (Kafka's `KStream#join(KStream, ValueJoiner,
    /// JoinWindows, StreamJoined)`): a record of either stream joins every record of the other
    /// with the same key whose timestamp is at most `windows`' difference away (`before` /
    /// `after` from this stream's point of view), emitted as `joiner(this_value, other_value)`
    /// with the later of the two timestamps. Both streams are kept in window stores for the
    /// window plus its grace period; a record older than that when it arrives is dropped.
    pub fn join_stream<VO, VR, F>(
        &self,
        other: &KStream<K, VO>,
        joiner: F,
        windows: crate::dsl::windows::JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Data,
        VR: Data,
        F: Fn(&V, &VO) -> VR + Send + Sync + 'static,
    {
        let joiner: PairJoiner<V, VO, VR> = Arc::new(move |v, o| match (v, o) {
            (Some(v), Some(o)) => joiner(v, o),
            _ => unreachable!("an inner join joins only pairs"),
        });
        self.stream_stream_join(other, joiner, windows, joined, Unmatched::None)
    }

    /// Left stream-stream join (Kafka's `KStream#leftJoin(KStream, …)`, ≥ 3.1 semantics): like
    /// [`join_stream`](Self::join_stream), and a record of this stream that found no partner by
    /// the time its window closed (stream time past its timestamp + after + grace) is emitted
    /// once as `joiner(value, None)` — never early, so no result is later contradicted. A record
    /// of this stream with a null key (`None` of an `OptionSerde` key) can match nothing and is
    /// emitted at once as `joiner(value, None)` (KIP-962, Kafka ≥ 3.7); a repartition before
    /// the join lets it through.
    pub fn left_join_stream<VO, VR, F>(
        &self,
        other: &KStream<K, VO>,
        joiner: F,
        windows: crate::dsl::windows::JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Data,
        VR: Data,
        F: Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        let joiner: PairJoiner<V, VO, VR> = Arc::new(move |v, o| match v {
            Some(v) => joiner(v, o),
            None => unreachable!("a left join emits only this stream's records alone"),
        });
        self.stream_stream_join(other, joiner, windows, joined, Unmatched::Left)
    }

    /// Outer stream-stream join (Kafka's `KStream#outerJoin(KStream, …)`): unmatched records of
    /// either stream are emitted once their window closed, as `joiner(Some(v), None)` or
    /// `joiner(None, Some(other))`. A record of either stream with a null key is emitted at
    /// once, joined with nothing (KIP-962, Kafka ≥ 3.7).
    pub fn outer_join_stream<VO, VR, F>(
        &self,
        other: &KStream<K, VO>,
        joiner: F,
        windows: crate::dsl::windows::JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Data,
        VR: Data,
        F: Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        self.stream_stream_join(other, Arc::new(joiner), windows, joined, Unmatched::Both)
    }

    fn stream_stream_join<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: PairJoiner<V, VO, VR>,
        windows: crate::dsl::windows::JoinWindows,
        joined: StreamJoined<K, V, VO>,
        unmatched: Unmatched,
    ) -> KStream<K, VR> {
        // Kafka names a join's repartition topics after the stream's upstream node, or
        // `<name>-left` / `<name>-right` (`KStreamImpl#doJoin`).
        let this_input = if self.repartition_required {
            self.repartition_for_join(
                joined.name.as_ref().map(|n| format!("{n}-left")),
                Arc::clone(&joined.key_serde),
                Arc::clone(&joined.value_serde),
            )
        } else {
            self.clone()
        };
        let other_input = if other.repartition_required {
            other.repartition_for_join(
                joined.name.as_ref().map(|n| format!("{n}-right")),
                Arc::clone(&joined.key_serde),
                Arc::clone(&joined.other_value_serde),
            )
        } else {
            other.clone()
        };
        let graph = Rc::clone(self.graph());
        let names = JoinNames::draw(
            &mut graph.borrow_mut(),
            joined.name.as_deref(),
            joined.store_name.as_deref(),
            unmatched,
        );
        let JoinNames {
            this_windowed,
            other_windowed,
            this_join,
            other_join,
            merge,
            this_store,
            other_store,
            outer_store,
        } = names;
        let span = windows.before_ms().saturating_add(windows.after_ms());
        let retention = span.saturating_add(windows.grace_ms());
        {
            let materialized = crate::dsl::options::Materialized::<K, V>::new();
            let mut g = graph.borrow_mut();
            g.add_store(materialized.record_window_store(&this_store, retention.saturating_add(1)));
            g.add_store(
                materialized.record_window_store(&other_store, retention.saturating_add(1)),
            );
            if let Some(outer) = &outer_store {
                g.add_store(
                    crate::dsl::options::Materialized::<Vec<u8>, Vec<u8>>::new()
                        .key_value_store(outer),
                );
            }
        }
        let keys = Arc::clone(&joined.key_serde);
        let this_kept = buffer(
            &this_input,
            this_windowed,
            &this_store,
            &keys,
            &joined.value_serde,
            span,
        );
        let other_kept = buffer(
            &other_input,
            other_windowed,
            &other_store,
            &keys,
            &joined.other_value_serde,
            span,
        );
        let grace = windows.grace_ms();
        let this_side = join_against(
            &this_kept,
            this_join,
            &other_store,
            &keys,
            &joined.value_serde,
            &joined.other_value_serde,
            (span, retention, grace),
            (windows.before_ms(), windows.after_ms()),
            Arc::clone(&joiner),
            outer_store.clone().map(|store| OuterSide {
                store,
                this_is_left: true,
                emit_this: true,
                emit_other: unmatched == Unmatched::Both,
            }),
        );
        let other_side = {
            let swapped: PairJoiner<VO, V, VR> = Arc::new(move |o, v| joiner(v, o));
            join_against(
                &other_kept,
                other_join,
                &this_store,
                &keys,
                &joined.other_value_serde,
                &joined.value_serde,
                (span, retention, grace),
                // From the other stream's side, "before" and "after" swap.
                (windows.after_ms(), windows.before_ms()),
                swapped,
                outer_store.map(|store| OuterSide {
                    store,
                    this_is_left: false,
                    emit_this: unmatched == Unmatched::Both,
                    emit_other: true,
                }),
            )
        };
        if unmatched != Unmatched::None {
            // Left and outer joins keep null keys (KIP-962): a repartition before either side
            // must not drop them.
            let mut graph = self.graph().borrow_mut();
            graph.relaxed_null_key_joins.insert(this_side.node);
            graph.relaxed_null_key_joins.insert(other_side.node);
        }
        this_side.merge_as(&other_side, merge)
    }
}

/// The node and store names of a stream-stream join, drawn as Kafka's `KStreamImplJoin#join`
/// draws them: a counter value for each node, also when `StreamJoined::with_name` names it,
/// and the stores named after the generated join nodes unless `with_store_name` names them.
struct JoinNames {
    this_windowed: String,
    other_windowed: String,
    this_join: String,
    other_join: String,
    merge: String,
    this_store: String,
    other_store: String,
    /// The shared store of a left or outer join's records waiting for a partner.
    outer_store: Option<String>,
}

impl JoinNames {
    fn draw(
        graph: &mut crate::topology::graph::TopologyGraph,
        name: Option<&str>,
        store_name: Option<&str>,
        unmatched: Unmatched,
    ) -> Self {
        // "Left outer": the other side may go unmatched from this side's point of view, so
        // Kafka calls that side OUTEROTHER; "right outer" makes this side OUTERTHIS.
        let (left_outer, right_outer) =
            (unmatched != Unmatched::None, unmatched == Unmatched::Both);
        let mut suffixed = |suffix: &str, prefix: &str| {
            let generated = graph.next_name(prefix);
            name.map_or(generated, |n| format!("{n}{suffix}"))
        };
        let this_windowed = suffixed("-this-windowed", WINDOWED_NAME);
        let other_windowed = suffixed("-other-windowed", WINDOWED_NAME);
        let (this_suffix, this_prefix) = if right_outer {
            ("-outer-this-join", OUTER_THIS_NAME)
        } else {
            ("-this-join", STREAM_JOIN_THIS_NAME)
        };
        let (other_suffix, other_prefix) = if left_outer {
            ("-outer-other-join", OUTER_OTHER_NAME)
        } else {
            ("-other-join", STREAM_JOIN_OTHER_NAME)
        };
        let this_generated = graph.next_name(this_prefix);
        let other_generated = graph.next_name(other_prefix);
        let merge = {
            let generated = graph.next_name(STREAM_MERGE_NAME);
            name.map_or(generated, |n| format!("{n}-merge"))
        };
        let store = |suffix: &str, generated: &str| match store_name {
            Some(base) => format!("{base}{suffix}-store"),
            None => format!("{generated}-store"),
        };
        // The shared store takes the number of the generated this-side node; it draws none.
        let outer_store = left_outer.then(|| {
            let suffix = if right_outer {
                "-outer-shared-join"
            } else {
                "-left-shared-join"
            };
            let counter = &this_generated[this_prefix.len()..];
            store(suffix, &format!("{OUTER_SHARED_NAME}{counter}"))
        });
        JoinNames {
            this_windowed,
            other_windowed,
            this_join: name.map_or_else(|| this_generated.clone(), |n| format!("{n}{this_suffix}")),
            other_join: name
                .map_or_else(|| other_generated.clone(), |n| format!("{n}{other_suffix}")),
            merge,
            this_store: store(this_suffix, &this_generated),
            other_store: store(other_suffix, &other_generated),
            outer_store,
        }
    }
}

/// Joins a record of one side with one of the other side; `None` for a side stands for "no
/// partner" in left and outer joins (never passed by an inner join).
type PairJoiner<A, B, VR> = Arc<dyn Fn(Option<&A>, Option<&B>) -> VR + Send + Sync>;

/// Which unmatched records a stream-stream join emits once their window closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unmatched {
    /// Inner join: none.
    None,
    /// Left join: the left stream's.
    Left,
    /// Outer join: both streams'.
    Both,
}

/// Adds the node that keeps one side's records in its window store (Kafka's `KStreamJoinWindow`).
fn buffer<K: Data, V: Data>(
    input: &KStream<K, V>,
    name: String,
    store: &str,
    keys: &Arc<dyn Serde<K>>,
    values: &Arc<dyn Serde<V>>,
    span: i64,
) -> KStream<K, V> {
    let (store_name, keys, values): (Arc<str>, _, _) =
        (Arc::from(store), Arc::clone(keys), Arc::clone(values));
    input.add_processor(name, vec![store.to_string()], move || JoinWindowProcessor {
        store_name: Arc::clone(&store_name),
        keys: Arc::clone(&keys),
        values: Arc::clone(&values),
        span,
        store: None,
    })
}

/// Adds the node that joins one side's records with the other side's window store (Kafka's
/// `KStreamKStreamJoin`).
/// How one side of a left or outer join treats records without a partner.
#[derive(Clone)]
struct OuterSide {
    /// The shared store of records waiting for a partner.
    store: String,
    /// Whether this processor's records are the left stream's.
    this_is_left: bool,
    /// Whether this side's unmatched records are emitted (left join: the left side).
    emit_this: bool,
    /// Whether the other side's unmatched records are emitted (outer join; the left side's in
    /// a left join).
    emit_other: bool,
}

/// Adds the node that joins one side's records with the other side's window store (Kafka's
/// `KStreamKStreamJoin`).
#[allow(clippy::too_many_arguments)]
fn join_against<K: Data, A: Data, B: Data, VR: Data>(
    input: &KStream<K, A>,
    name: String,
    other_store: &str,
    keys: &Arc<dyn Serde<K>>,
    values: &Arc<dyn Serde<A>>,
    other_values: &Arc<dyn Serde<B>>,
    (span, retention, grace): (i64, i64, i64),
    (before, after): (i64, i64),
    joiner: PairJoiner<A, B, VR>,
    outer: Option<OuterSide>,
) -> KStream<K, VR> {
    let (store_name, keys, values, other_values): (Arc<str>, _, _, _) = (
        Arc::from(other_store),
        Arc::clone(keys),
        Arc::clone(values),
        Arc::clone(other_values),
    );
    let mut stores = vec![other_store.to_string()];
    stores.extend(outer.as_ref().map(|o| o.store.clone()));
    input.add_processor(name, stores, move || StreamJoinProcessor {
        other_store: Arc::clone(&store_name),
        keys: Arc::clone(&keys),
        values: Arc::clone(&values),
        other_values: Arc::clone(&other_values),
        span,
        retention,
        grace,
        before,
        after,
        joiner: Arc::clone(&joiner),
        outer: outer.clone(),
        store: None,
        outer_store: None,
        last_scan: None,
    })
}

/// Keeps each record of its side, by timestamp, for the other side to find.
struct JoinWindowProcessor<K, V> {
    store_name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    span: i64,
    store: Option<crate::state::WindowStoreRef<K, V>>,
}

impl<K: Data, V: Data> Processor<K, V, K, V> for JoinWindowProcessor<K, V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, V>) -> Result<()> {
        self.store = Some(ctx.window_store_shared(
            &self.store_name,
            Arc::clone(&self.keys),
            Arc::clone(&self.values),
            self.span,
        )?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        if !self.keys.is_null(&record.key) && !self.values.is_null(&record.value) {
            initialized(&self.store, &self.store_name)?.put(
                &record.key,
                Some(&record.value),
                record.timestamp,
            )?;
        }
        ctx.forward(record)
    }
}

/// Joins each record with the other side's records in its window.
struct StreamJoinProcessor<K, A, B, VR> {
    other_store: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<A>>,
    other_values: Arc<dyn Serde<B>>,
    span: i64,
    retention: i64,
    grace: i64,
    before: i64,
    after: i64,
    joiner: PairJoiner<A, B, VR>,
    outer: Option<OuterSide>,
    store: Option<crate::state::WindowStoreRef<K, B>>,
    outer_store: Option<crate::state::KeyValueStoreRef<Vec<u8>, Vec<u8>>>,
    /// Stream time at this processor's last scan of the outer store. Every record still
    /// waiting then or stored since is at most `retention` older than it (older ones were
    /// emitted; a record whose window already ended is emitted at once, never stored), so the
    /// next scan starts there instead of at the store's beginning, past the deletes of
    /// everything emitted before.
    last_scan: Option<i64>,
}

/// The outer store's key: timestamp (big-endian, so entries sort by time), side (1 for the left
/// side, 0 for the right, so that at one timestamp right-side records come first, as in Kafka's
/// `TimestampedKeyAndJoinSide` serialization), record key.
fn outer_key(timestamp: i64, left: bool, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + key.len());
    k.extend_from_slice(&timestamp.to_be_bytes());
    k.push(u8::from(left));
    k.extend_from_slice(key);
    k
}

/// Appends `value` to a list of length-prefixed values.
fn push_value(list: &mut Vec<u8>, value: &[u8]) {
    list.extend_from_slice(&(value.len() as u32).to_be_bytes());
    list.extend_from_slice(value);
}

/// The values of a list `push_value` built; `None` if it is malformed.
fn values_of(mut list: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut values = Vec::new();
    while !list.is_empty() {
        let len = u32::from_be_bytes(list.get(..4)?.try_into().ok()?) as usize;
        values.push(list.get(4..4 + len)?.to_vec());
        list = &list[4 + len..];
    }
    Some(values)
}

impl<K: Data, A: Data, B: Data, VR: Data> StreamJoinProcessor<K, A, B, VR> {
    /// Emits (and forgets) the waiting records whose window closed before stream time `now`.
    fn emit_closed(&mut self, now: i64, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        let (Some(outer), Some(store)) = (&self.outer, &self.outer_store) else {
            return Ok(());
        };
        let close_before = now
            .saturating_sub(self.grace)
            .saturating_sub(self.before.min(self.after));
        if close_before <= 0 {
            return Ok(());
        }
        let mut bound = (close_before - 1).to_be_bytes().to_vec();
        bound.push(u8::MAX);
        let from = self
            .last_scan
            .map_or(0, |t| t.saturating_sub(self.retention).max(0));
        self.last_scan = Some(now);
        let waiting = store.range(Some(&from.to_be_bytes().to_vec()), Some(&bound))?;
        for (entry, list) in waiting {
            let (Some(ts), Some(&side)) = (entry.get(..8), entry.get(8)) else {
                continue;
            };
            let timestamp = i64::from_be_bytes(ts.try_into().unwrap_or_default());
            let is_this = (side == 1) == outer.this_is_left;
            // This side's records may meet partners up to `after` later, the other's `before`.
            let window_end =
                timestamp.saturating_add(if is_this { self.after } else { self.before });
            if window_end.saturating_add(self.grace) >= now {
                continue;
            }
            store.delete(&entry)?;
            if !(if is_this {
                outer.emit_this
            } else {
                outer.emit_other
            }) {
                continue;
            }
            let key: K =
                crate::state::de(&*self.keys, &outer.store, "join key", entry[9..].to_vec())?;
            let values = values_of(&list).ok_or_else(|| {
                crate::error::Error::InvalidArgument(format!(
                    "store `{}` holds a malformed list of values",
                    outer.store
                ))
            })?;
            for bytes in values {
                let value = if is_this {
                    let a: A = crate::state::de(&*self.values, &outer.store, "join value", bytes)?;
                    (self.joiner)(Some(&a), None)
                } else {
                    let b: B =
                        crate::state::de(&*self.other_values, &outer.store, "join value", bytes)?;
                    (self.joiner)(None, Some(&b))
                };
                ctx.forward(Record {
                    key: key.clone(),
                    value,
                    timestamp,
                    headers: crate::record::Headers::new(),
                })?;
            }
        }
        Ok(())
    }
}

impl<K: Data, A: Data, B: Data, VR: Data> Processor<K, A, K, VR>
    for StreamJoinProcessor<K, A, B, VR>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        self.store = Some(ctx.window_store_shared(
            &self.other_store,
            Arc::clone(&self.keys),
            Arc::clone(&self.other_values),
            self.span,
        )?);
        if let Some(outer) = &self.outer {
            self.outer_store = Some(ctx.key_value_store(
                &outer.store,
                crate::serde::BytesSerde,
                crate::serde::BytesSerde,
            )?);
        }
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, A>,
        ctx: &mut ProcessorContext<'_, K, VR>,
    ) -> Result<()> {
        // KIP-962 (Kafka ≥ 3.7): a side whose unmatched records are emitted (the left side of a
        // left join, both sides of an outer join) forwards a record with a null key at once,
        // joined with nothing: it can match no record, and is neither stored nor buffered.
        let emits_unmatched = self.outer.as_ref().is_some_and(|outer| outer.emit_this);
        if emits_unmatched && self.keys.is_null(&record.key) && !self.values.is_null(&record.value)
        {
            let value = (self.joiner)(Some(&record.value), None);
            return ctx.forward(record.with_value(value));
        }
        if skip_null(&*self.keys, &*self.values, &record, ctx) {
            return Ok(());
        }
        let now = ctx.current_stream_time_ms();
        let from = record.timestamp.saturating_sub(self.before).max(0);
        let to = record.timestamp.saturating_add(self.after);
        // Like Kafka, a record older than the stores keep is not dropped: it joins what the other
        // side's store still holds (reads skip expired entries), and in a left or outer join,
        // with no partner left, is emitted alone at once.
        if record.timestamp >= now {
            // Like Kafka, only a record at stream time (not an out-of-order one) emits the
            // waiting records whose window closed, and before its own results.
            self.emit_closed(now, ctx)?;
        }
        let partners =
            initialized(&self.store, &self.other_store)?.fetch_range(&record.key, from, to)?;
        if let (Some(outer), Some(store)) = (&self.outer, &self.outer_store) {
            let key = crate::state::ser(&*self.keys, &outer.store, "join key", &record.key)?;
            if partners.is_empty() && outer.emit_this {
                if to < now {
                    // Its window ended before stream time: Kafka emits it at once rather than
                    // keep an out-of-order record waiting for the grace period.
                    ctx.forward(Record {
                        key: record.key.clone(),
                        value: (self.joiner)(Some(&record.value), None),
                        timestamp: record.timestamp,
                        headers: record.headers.clone(),
                    })?;
                } else {
                    let entry = outer_key(record.timestamp, outer.this_is_left, &key);
                    let mut list = store.get(&entry)?.unwrap_or_default();
                    let value = crate::state::ser(
                        &*self.values,
                        &outer.store,
                        "join value",
                        &record.value,
                    )?;
                    push_value(&mut list, &value);
                    store.put(&entry, &list)?;
                }
            }
            // The partners found are matched now: they will not be emitted alone.
            for (timestamp, _) in &partners {
                store.delete(&outer_key(*timestamp, !outer.this_is_left, &key))?;
            }
        }
        for (timestamp, other) in partners {
            ctx.forward(Record {
                key: record.key.clone(),
                value: (self.joiner)(Some(&record.value), Some(&other)),
                timestamp: timestamp.max(record.timestamp),
                headers: record.headers.clone(),
            })?;
        }
        Ok(())
    }
}
