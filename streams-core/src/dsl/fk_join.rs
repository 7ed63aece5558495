//! Foreign-key table-table joins, like Kafka Streams' `KTable#join(other, foreignKeyExtractor,
//! joiner)` and `leftJoin` (KIP-213): each row of this (left) table names a row of the other
//! (right) table by a foreign key extracted from its value, and the result table holds, per left
//! key, the joiner's result of the left value and the right row it names.
//!
//! The two tables are partitioned by different keys, so the join runs in two sub-topologies that
//! talk through two internal topics, as Kafka's does:
//!
//! - On the left, the subscription-send processor turns each left update into a *subscription*
//!   (the left key, a hash of the left value and an instruction) keyed by the foreign key, and
//!   writes it to `<application.id>-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-<n>-topic`. When the
//!   foreign key changes it also unsubscribes from the old one; a left delete unsubscribes.
//! - On the right, co-partitioned with the right table, the subscriptions are kept in the store
//!   `KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-<n>`, keyed by (foreign key, left key) so that a
//!   right update finds its subscribers with a prefix scan. A subscription is answered with the
//!   right row's current value; a right update answers every subscriber. Answers go, keyed by
//!   the left key, to `<application.id>-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-<n>-topic`.
//! - Back on the left, the response resolver looks up the left row's current value and drops the
//!   answer if its hash no longer matches (the row changed since, and a newer answer is on its
//!   way); otherwise it emits the join result — for an inner join a delete when the right row is
//!   missing, for a left join the joiner with `None`.
//!
//! The subscriptions, the answers and the subscription store's entries are written in a small
//! versioned binary format of this module (see [`Subscription`] and [`Response`]); bytes that do
//! not parse are a serde error, never a panic. The value hash is the 128-bit MurmurHash3 of the
//! serialized left value, as in Kafka.

use std::sync::Arc;

use super::cached::TableStore;
use super::change::Change;
use super::kstream::{add_source, KStream};
use super::ktable::{KTable, TableSource};
use super::options::Materialized;
use super::view::ValueGetter;
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::{BytesSerde, Serde, SerdeError};
use crate::state::{initialized, ser, KeyValueStoreRef};
use crate::topology::graph::{RepartitionTopic, TopicRef, TopologyGraph};

const SUBSCRIPTION_REGISTRATION: &str = "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-";
const SUBSCRIPTION_PROCESSOR: &str = "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-";
const SUBSCRIPTION_RESPONSE: &str = "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-";
const RESPONSE_RESOLVER: &str = "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-";
const SUBSCRIPTION_STATE_STORE: &str = "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-";
const OUTPUT_NAME: &str = "KTABLE-FK-JOIN-OUTPUT-";
const SINK_NAME: &str = "KTABLE-SINK-";
const SOURCE_NAME: &str = "KTABLE-SOURCE-";
const TOPIC_SUFFIX: &str = "-topic";

/// The version byte every wire format of this module starts with.
const WIRE_VERSION: u8 = 0;

/// The 128-bit hash of a serialized left value that travels with a subscription and comes back
/// with its answer.
pub(crate) type ValueHash = [u8; 16];

/// What the right side does with a subscription (Kafka's `SubscriptionWrapper.Instruction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instruction {
    /// Unsubscribe, and answer nothing: the left row moved to another foreign key, whose answer
    /// replaces the result.
    DeleteNoPropagate = 0,
    /// Unsubscribe and answer with no right value: the left row was deleted (or has no foreign
    /// key any more), so its result goes.
    DeleteAndPropagate = 1,
    /// Subscribe and answer even when the right row is missing (left joins, and updates of a
    /// row that may have had a result to retract).
    PropagateNullIfNoValue = 2,
    /// Subscribe and answer only if the right row exists (an inner join's new left row).
    PropagateOnlyIfValue = 3,
}

impl Instruction {
    fn from_byte(byte: u8) -> std::result::Result<Self, SerdeError> {
        Ok(match byte {
            0 => Instruction::DeleteNoPropagate,
            1 => Instruction::DeleteAndPropagate,
            2 => Instruction::PropagateNullIfNoValue,
            3 => Instruction::PropagateOnlyIfValue,
            other => {
                return Err(SerdeError::new(format!(
                    "foreign-key join subscription: unknown instruction {other}"
                )))
            }
        })
    }

    fn deletes(self) -> bool {
        matches!(
            self,
            Instruction::DeleteNoPropagate | Instruction::DeleteAndPropagate
        )
    }
}

/// A left row's subscription to a foreign key (Kafka's `SubscriptionWrapper`), the value of the
/// registration topic. Wire format: version byte (0), instruction byte, hash ([`put_hash`]),
/// then the left key as its serde writes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Subscription<K> {
    pub(crate) hash: Option<ValueHash>,
    pub(crate) instruction: Instruction,
    pub(crate) primary_key: K,
}

/// An answer to a subscription (Kafka's `SubscriptionResponseWrapper`), the value of the response
/// topic. Wire format: version byte (0), hash ([`put_hash`]), then a presence byte and, if 1,
/// the right value as its serde writes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Response<VO> {
    pub(crate) hash: Option<ValueHash>,
    pub(crate) value: Option<VO>,
}

/// Writes an optional hash: a presence byte, then the 16 bytes if present.
fn put_hash(out: &mut Vec<u8>, hash: &Option<ValueHash>) {
    match hash {
        Some(hash) => {
            out.push(1);
            out.extend_from_slice(hash);
        }
        None => out.push(0),
    }
}

/// Reads what [`put_hash`] wrote, returning the rest.
fn take_hash<'a>(
    what: &str,
    data: &'a [u8],
) -> std::result::Result<(Option<ValueHash>, &'a [u8]), SerdeError> {
    match data.split_first() {
        Some((0, rest)) => Ok((None, rest)),
        Some((1, rest)) => {
            let hash = rest
                .get(..16)
                .and_then(|h| ValueHash::try_from(h).ok())
                .ok_or_else(|| SerdeError::new(format!("{what}: truncated value hash")))?;
            Ok((Some(hash), &rest[16..]))
        }
        Some((other, _)) => Err(SerdeError::new(format!(
            "{what}: invalid hash marker {other}"
        ))),
        None => Err(SerdeError::new(format!("{what}: missing value hash"))),
    }
}

/// Checks the version byte, returning the rest.
fn take_version<'a>(
    what: &str,
    data: Option<&'a [u8]>,
) -> std::result::Result<&'a [u8], SerdeError> {
    let data = data.ok_or_else(|| SerdeError::new(format!("{what}: unexpected null")))?;
    match data.split_first() {
        Some((&WIRE_VERSION, rest)) => Ok(rest),
        Some((version, _)) => Err(SerdeError::new(format!(
            "{what}: unsupported version {version} (this build reads version {WIRE_VERSION})"
        ))),
        None => Err(SerdeError::new(format!("{what}: empty"))),
    }
}

/// The serde of [`Subscription`]s, over the left key's serde.
pub(crate) struct SubscriptionSerde<K>(pub(crate) Arc<dyn Serde<K>>);

impl<K: 'static> Serde<Subscription<K>> for SubscriptionSerde<K> {
    fn serialize(
        &self,
        topic: &str,
        data: &Subscription<K>,
    ) -> std::result::Result<Option<Vec<u8>>, SerdeError> {
        let key = self.0.serialize(topic, &data.primary_key)?.ok_or_else(|| {
            SerdeError::new("foreign-key join subscription: the primary key is null")
        })?;
        let mut out = Vec::with_capacity(19 + key.len());
        out.push(WIRE_VERSION);
        out.push(data.instruction as u8);
        put_hash(&mut out, &data.hash);
        out.extend_from_slice(&key);
        Ok(Some(out))
    }

    fn deserialize(
        &self,
        topic: &str,
        data: Option<&[u8]>,
    ) -> std::result::Result<Subscription<K>, SerdeError> {
        const WHAT: &str = "foreign-key join subscription";
        let rest = take_version(WHAT, data)?;
        let (&instruction, rest) = rest
            .split_first()
            .ok_or_else(|| SerdeError::new(format!("{WHAT}: missing instruction")))?;
        let instruction = Instruction::from_byte(instruction)?;
        let (hash, key) = take_hash(WHAT, rest)?;
        Ok(Subscription {
            hash,
            instruction,
            primary_key: self.0.deserialize(topic, Some(key))?,
        })
    }
}

/// The serde of [`Response`]s, over the right value's serde.
pub(crate) struct ResponseSerde<VO>(pub(crate) Arc<dyn Serde<VO>>);

impl<VO: 'static> Serde<Response<VO>> for ResponseSerde<VO> {
    fn serialize(
        &self,
        topic: &str,
        data: &Response<VO>,
    ) -> std::result::Result<Option<Vec<u8>>, SerdeError> {
        let mut out = Vec::with_capacity(32);
        out.push(WIRE_VERSION);
        put_hash(&mut out, &data.hash);
        match data.value.as_ref().map(|v| self.0.serialize(topic, v)) {
            Some(Err(e)) => return Err(e),
            Some(Ok(Some(value))) => {
                out.push(1);
                out.extend_from_slice(&value);
            }
            Some(Ok(None)) | None => out.push(0),
        }
        Ok(Some(out))
    }

    fn deserialize(
        &self,
        topic: &str,
        data: Option<&[u8]>,
    ) -> std::result::Result<Response<VO>, SerdeError> {
        const WHAT: &str = "foreign-key join response";
        let rest = take_version(WHAT, data)?;
        let (hash, rest) = take_hash(WHAT, rest)?;
        let value = match rest.split_first() {
            Some((0, [])) => None,
            Some((1, value)) => Some(self.0.deserialize(topic, Some(value))?),
            Some((0, _)) => {
                return Err(SerdeError::new(format!(
                    "{WHAT}: bytes after an absent value"
                )))
            }
            Some((other, _)) => {
                return Err(SerdeError::new(format!(
                    "{WHAT}: invalid value marker {other}"
                )))
            }
            None => return Err(SerdeError::new(format!("{WHAT}: missing value marker"))),
        };
        Ok(Response { hash, value })
    }
}

/// The subscription store's key: the foreign key's length (4 bytes, big-endian), the foreign
/// key, the left key (Kafka's `CombinedKey`), so that one foreign key's subscribers share a
/// prefix.
fn combined_key(foreign_key: &[u8], primary_key: &[u8]) -> Vec<u8> {
    let mut key = foreign_key_prefix(foreign_key);
    key.extend_from_slice(primary_key);
    key
}

/// The prefix of every subscription store key of `foreign_key`.
fn foreign_key_prefix(foreign_key: &[u8]) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(4 + foreign_key.len());
    prefix.extend_from_slice(&(foreign_key.len() as u32).to_be_bytes());
    prefix.extend_from_slice(foreign_key);
    prefix
}

/// The subscription store's value: version byte (0), hash ([`put_hash`]), the subscription's
/// timestamp (8 bytes, big-endian).
fn stored_subscription(hash: &Option<ValueHash>, timestamp: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(26);
    out.push(WIRE_VERSION);
    put_hash(&mut out, hash);
    out.extend_from_slice(&timestamp.to_be_bytes());
    out
}

/// Reads what [`stored_subscription`] wrote.
fn read_stored_subscription(
    data: &[u8],
) -> std::result::Result<(Option<ValueHash>, i64), SerdeError> {
    const WHAT: &str = "foreign-key join subscription store entry";
    let rest = take_version(WHAT, Some(data))?;
    let (hash, rest) = take_hash(WHAT, rest)?;
    let timestamp = <[u8; 8]>::try_from(rest)
        .map_err(|_| SerdeError::new(format!("{WHAT}: expected an 8-byte timestamp")))?;
    Ok((hash, i64::from_be_bytes(timestamp)))
}

/// MurmurHash3 x64 128 (seed 0) of `data`, as 16 bytes: the hash Kafka's foreign-key join
/// compares left values by. Stable across builds and platforms, unlike `std`'s hashers.
pub(crate) fn murmur3_128(data: &[u8]) -> ValueHash {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    fn fmix(mut k: u64) -> u64 {
        k ^= k >> 33;
        k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
        k ^= k >> 33;
        k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        k ^ (k >> 33)
    }
    let mix1 = |k: u64| k.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    let mix2 = |k: u64| k.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
    let (mut h1, mut h2) = (0u64, 0u64);
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        let (a, b) = block.split_at(8);
        let k1 = u64::from_le_bytes(a.try_into().unwrap_or_default());
        let k2 = u64::from_le_bytes(b.try_into().unwrap_or_default());
        h1 ^= mix1(k1);
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= mix2(k2);
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    let (mut k1, mut k2) = (0u64, 0u64);
    for (i, &byte) in tail.iter().enumerate() {
        if i < 8 {
            k1 ^= u64::from(byte) << (8 * i);
        } else {
            k2 ^= u64::from(byte) << (8 * (i - 8));
        }
    }
    if tail.len() > 8 {
        h2 ^= mix2(k2);
    }
    if !tail.is_empty() {
        h1 ^= mix1(k1);
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&h1.to_be_bytes());
    out[8..].copy_from_slice(&h2.to_be_bytes());
    out
}

/// `value` (a left value or a foreign key) as `serde` writes it, for node `node` to compare.
fn serialized<T: 'static>(serde: &dyn Serde<T>, node: &str, value: &T) -> Result<Vec<u8>> {
    let bytes = serde.serialize(node, value).map_err(|e| {
        crate::Error::InvalidArgument(format!(
            "foreign-key join node `{node}` cannot serialize a value to compare it: {e}"
        ))
    })?;
    Ok(bytes.unwrap_or_default())
}

/// The hash of a left value as `serde` writes it, for node `node`.
fn hash_of<V: 'static>(serde: &dyn Serde<V>, node: &str, value: &V) -> Result<ValueHash> {
    Ok(murmur3_128(&serialized(serde, node, value)?))
}

/// Joins a left value with the right value its foreign key names (`None`: the right table holds
/// none), or `None` when the join yields no row (an inner join without a right value).
type FkJoiner<V, VO, VR> = Arc<dyn Fn(&V, Option<&VO>) -> Option<VR> + Send + Sync>;

/// Extracts the foreign key from a left value.
type FkExtractor<V, KO> = Arc<dyn Fn(&V) -> KO + Send + Sync>;

impl<K: Data, V: Data> KTable<K, V> {
    /// Inner foreign-key join (Kafka's `KTable#join(other, foreignKeyExtractor, joiner)`): the
    /// result holds, for every key of this table whose value's foreign key `foreign_key(value)`
    /// is a key of `other`, `joiner(value, other_value)`. It follows updates of either side:
    /// a left row that moves to another foreign key is re-joined (or deleted from the result if
    /// the new foreign key has no row), a deleted left or right row deletes the result. Either
    /// table may lack a store of its own (it is then read through the stores it derives from,
    /// as Kafka's value getters read it), and `other`'s topic must be
    /// partitioned by the serialized foreign key as Kafka's default partitioner does it.
    /// `other`'s store loses its record cache: the join answers its subscribers about every
    /// right update, also one a cache would net out between two commits.
    ///
    /// A foreign key the right table's key serde calls null (e.g. `None` with
    /// `Serdes::option`) has no right row: an inner join has no result for a row with a null
    /// foreign key (it retracts the row's earlier one), a left join gives `joiner(value, None)`
    /// (as Kafka ≥ 3.7 does, KIP-962).
    ///
    /// Name the join with [`named`](Self::named) first (Kafka's `TableJoined.as`) to get stable
    /// internal names: `<application.id>-<name>-subscription-registration-topic`,
    /// `<name>-subscription-store`, `<application.id>-<name>-subscription-response-topic`, …
    /// instead of generated ones that shift when the topology changes.
    ///
    /// The result forwards no old values (as Kafka's unmaterialized foreign-key join result);
    /// use [`join_on_foreign_key_materialized`](Self::join_on_foreign_key_materialized) to
    /// materialize it, e.g. to aggregate it with a subtractor.
    pub fn join_on_foreign_key<KO, VO, VR, FK, F>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: FK,
        joiner: F,
    ) -> KTable<K, VR>
    where
        KO: Data,
        VO: Data,
        VR: Data,
        FK: Fn(&V) -> KO + Send + Sync + 'static,
        F: Fn(&V, &VO) -> VR + Send + Sync + 'static,
    {
        self.fk_join(
            other,
            Arc::new(foreign_key),
            Arc::new(move |v, o| o.map(|o| joiner(v, o))),
            false,
            None,
        )
    }

    /// Left foreign-key join (Kafka's `KTable#leftJoin(other, foreignKeyExtractor, joiner)`):
    /// every key of this table, joined with the row of `other` its foreign key names, or with
    /// `None` when `other` holds none.
    pub fn left_join_on_foreign_key<KO, VO, VR, FK, F>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: FK,
        joiner: F,
    ) -> KTable<K, VR>
    where
        KO: Data,
        VO: Data,
        VR: Data,
        FK: Fn(&V) -> KO + Send + Sync + 'static,
        F: Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        self.fk_join(
            other,
            Arc::new(foreign_key),
            Arc::new(move |v, o| Some(joiner(v, o))),
            true,
            None,
        )
    }

    /// [`join_on_foreign_key`](Self::join_on_foreign_key) whose result is materialized as
    /// `materialized` says (Kafka's overload with `Materialized`): queryable under its name,
    /// joinable, and forwarding old values. The store's value serde must be given.
    pub fn join_on_foreign_key_materialized<KO, VO, VR, FK, F>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: FK,
        joiner: F,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        KO: Data,
        VO: Data,
        VR: Data,
        FK: Fn(&V) -> KO + Send + Sync + 'static,
        F: Fn(&V, &VO) -> VR + Send + Sync + 'static,
    {
        self.fk_join(
            other,
            Arc::new(foreign_key),
            Arc::new(move |v, o| o.map(|o| joiner(v, o))),
            false,
            Some(materialized),
        )
    }

    /// [`left_join_on_foreign_key`](Self::left_join_on_foreign_key) whose result is
    /// materialized as `materialized` says.
    pub fn left_join_on_foreign_key_materialized<KO, VO, VR, FK, F>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: FK,
        joiner: F,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        KO: Data,
        VO: Data,
        VR: Data,
        FK: Fn(&V) -> KO + Send + Sync + 'static,
        F: Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        self.fk_join(
            other,
            Arc::new(foreign_key),
            Arc::new(move |v, o| Some(joiner(v, o))),
            true,
            Some(materialized),
        )
    }

    fn fk_join<KO: Data, VO: Data, VR: Data>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: FkExtractor<V, KO>,
        joiner: FkJoiner<V, VO, VR>,
        left: bool,
        materialized: Option<Materialized<K, VR>>,
    ) -> KTable<K, VR> {
        let graph = std::rc::Rc::clone(self.change_stream().graph());
        let names = FkNames::new(
            &mut graph.borrow_mut(),
            self.change_stream().pending_name(),
            materialized.as_ref().and_then(|m| m.name.clone()),
        );
        // Kafka's `doJoinOnForeignKey` asks both tables for old values: a left row that changes
        // its foreign key unsubscribes from the old one, a right row's old value is compared.
        other.enable_sending_old_values();
        self.enable_sending_old_values();
        // Each side is read through its view (Kafka's `valueGetterSupplier`): its store, or
        // the stores it derives from; the values' serdes hash the left rows and carry the answers.
        let sides = match (
            self.view(),
            self.value_serde(),
            other.view(),
            other.value_serde(),
        ) {
            (Some(this_view), Some(this_values), Some(other_view), Some(other_values)) => {
                Some((this_view, this_values, other_view, other_values))
            }
            _ => None,
        };
        let output_values = materialized.as_ref().map(|m| m.value_serde.clone());
        let Some((this_view, this_values, other_view, other_values)) = sides else {
            graph.borrow_mut().errors.push(format!(
                "foreign-key join `{}`: both tables must be readable; give each a store with Materialized::as_ and a value serde",
                names.output
            ));
            return KTable::new(
                self.change_stream()
                    .add_processor(names.output, Vec::new(), || super::join::Unreachable),
                self.key_serde(),
                None,
                None,
            );
        };
        if let Some(None) = output_values {
            graph.borrow_mut().errors.push(format!(
                "foreign-key join `{}`: a materialized result needs its value serde; use Materialized::with_value_serde",
                names.output
            ));
        }
        let (keys, foreign_keys) = (self.key_serde(), other.key_serde());
        {
            let mut g = graph.borrow_mut();
            for topic in [&names.registration_topic, &names.response_topic] {
                g.repartition_topics.push(RepartitionTopic {
                    name: topic.clone(),
                    partitions: None,
                });
            }
            g.add_store(Materialized::<Vec<u8>, Vec<u8>>::new().key_value_store(&names.store));
            // A subscription is answered with the right value the store holds now. With a record
            // cache, a right row created and deleted between two flushes would never be
            // forwarded (the cache nets it out), and the subscribers that saw it would keep it.
            for store in other_view.stores() {
                g.disable_caching(store);
            }
        }
        let subscriptions: Arc<dyn Serde<Subscription<K>>> =
            Arc::new(SubscriptionSerde(Arc::clone(&keys)));
        let responses: Arc<dyn Serde<Response<VO>>> =
            Arc::new(ResponseSerde(Arc::clone(&other_values)));
        let store: Arc<str> = Arc::from(names.store.as_str());

        // Left side: subscribe.
        let sent = {
            let (extract, values, foreign_keys) = (
                Arc::clone(&foreign_key),
                Arc::clone(&this_values),
                Arc::clone(&foreign_keys),
            );
            self.change_stream()
                .add_processor(names.send, Vec::new(), move || SubscriptionSend {
                    foreign_key: Arc::clone(&extract),
                    values: Arc::clone(&values),
                    foreign_keys: Arc::clone(&foreign_keys),
                    left,
                })
        };
        sent.add_sink(
            names.registration_sink,
            TopicRef::internal(names.registration_topic.clone()),
            Arc::clone(&foreign_keys),
            Arc::clone(&subscriptions),
        );

        // Right side: keep the subscriptions, answer them and every right update.
        let received = {
            let (store, keys, foreign_keys) = (
                Arc::clone(&store),
                Arc::clone(&keys),
                Arc::clone(&foreign_keys),
            );
            add_source(
                &graph,
                names.registration_source,
                vec![TopicRef::internal(names.registration_topic)],
                Arc::clone(&foreign_keys),
                Arc::clone(&subscriptions),
            )
            .add_processor(names.receive, vec![names.store.clone()], move || {
                SubscriptionReceive {
                    store_name: Arc::clone(&store),
                    keys: Arc::clone(&keys),
                    foreign_keys: Arc::clone(&foreign_keys),
                    store: None,
                }
            })
        };
        let answered: KStream<K, Response<VO>> = {
            let (other, foreign_keys) = (other_view.clone(), Arc::clone(&foreign_keys));
            received.add_processor(
                names.join_foreign,
                other_view.stores().to_vec(),
                move || SubscriptionJoin {
                    other: other.getter(),
                    foreign_keys: Arc::clone(&foreign_keys),
                },
            )
        };
        let updated: KStream<K, Response<VO>> = {
            let (store, keys, foreign_keys) = (
                Arc::clone(&store),
                Arc::clone(&keys),
                Arc::clone(&foreign_keys),
            );
            other.change_stream().add_processor(
                names.foreign_update,
                vec![names.store.clone()],
                move || ForeignTableJoin {
                    store_name: Arc::clone(&store),
                    keys: Arc::clone(&keys),
                    foreign_keys: Arc::clone(&foreign_keys),
                    store: None,
                },
            )
        };
        let response_sink = answered.add_sink(
            names.response_sink,
            TopicRef::internal(names.response_topic.clone()),
            Arc::clone(&keys),
            Arc::clone(&responses),
        );
        updated.feed(response_sink);

        // Left side again: resolve the answers against the current left values.
        let resolved: KStream<K, Option<VR>> = {
            let (this, values) = (this_view.clone(), Arc::clone(&this_values));
            add_source(
                &graph,
                names.response_source,
                vec![TopicRef::internal(names.response_topic)],
                Arc::clone(&keys),
                responses,
            )
            .add_processor(names.resolver, this_view.stores().to_vec(), move || {
                ResponseResolver {
                    this: this.getter(),
                    values: Arc::clone(&values),
                    joiner: Arc::clone(&joiner),
                    left,
                }
            })
        };
        match (materialized, output_values) {
            (Some(materialized), Some(Some(values))) => {
                let store_name = names.output_store;
                let keys = materialized
                    .key_serde
                    .clone()
                    .unwrap_or_else(|| Arc::clone(&keys));
                let mut g = graph.borrow_mut();
                materialized.reject_versioned(&mut g.errors, "a foreign-key join");
                g.add_store(materialized.timestamped_store(&store_name));
                drop(g);
                let (store, k, v) = (
                    Arc::<str>::from(store_name.as_str()),
                    Arc::clone(&keys),
                    Arc::clone(&values),
                );
                let table =
                    resolved.add_processor(names.output, vec![store_name.clone()], move || {
                        TableSource(TableStore::new(
                            Arc::clone(&store),
                            Arc::clone(&k),
                            Arc::clone(&v),
                        ))
                    });
                // Queryable (and joinable) under its name only if the user gave one, as for
                // `StreamsBuilder::table`.
                let queryable = materialized.name.as_ref().map(|_| store_name);
                KTable::new(table, keys, Some(values), queryable)
            }
            _ => KTable::new(
                resolved.add_processor(names.output, Vec::new(), || FkJoinOutput),
                keys,
                None,
                None,
            ),
        }
    }
}

/// The names of one foreign-key join's topics, nodes and stores.
struct FkNames {
    registration_topic: String,
    send: String,
    registration_sink: String,
    registration_source: String,
    store: String,
    receive: String,
    join_foreign: String,
    foreign_update: String,
    response_topic: String,
    response_sink: String,
    response_source: String,
    resolver: String,
    output: String,
    output_store: String,
}

impl FkNames {
    /// Kafka's names (`KTableImpl#doJoinOnForeignKey`): with a user-given base name (`named`,
    /// Kafka's `TableJoined.as`), `<name>-subscription-registration-topic` and the other
    /// suffixes; otherwise generated ones, drawn in Kafka's order. The result store's name is
    /// drawn even when the result is not materialized, as Kafka does.
    fn new(g: &mut TopologyGraph, base: Option<&str>, output_store: Option<String>) -> Self {
        // Like Kafka's `NamedInternal#suffixWithOrElseGet`, a counter value is drawn either way.
        let mut name = |suffix: &str, prefix: &str| {
            let generated = g.next_name(prefix);
            base.map_or(generated, |base| format!("{base}{suffix}"))
        };
        let registration_topic = format!(
            "{}{TOPIC_SUFFIX}",
            name("-subscription-registration", SUBSCRIPTION_REGISTRATION)
        );
        let send = name(
            "-subscription-registration-processor",
            SUBSCRIPTION_REGISTRATION,
        );
        let registration_sink = name("-subscription-registration-sink", SINK_NAME);
        let registration_source = name("-subscription-registration-source", SOURCE_NAME);
        let store = name("-subscription-store", SUBSCRIPTION_STATE_STORE);
        let receive = name("-subscription-receive", SUBSCRIPTION_PROCESSOR);
        let join_foreign = name("-subscription-join-foreign", SUBSCRIPTION_PROCESSOR);
        let foreign_update = name("-foreign-join-subscription", SUBSCRIPTION_PROCESSOR);
        let response_topic = format!(
            "{}{TOPIC_SUFFIX}",
            name("-subscription-response", SUBSCRIPTION_RESPONSE)
        );
        let response_sink = name("-subscription-response-sink", SINK_NAME);
        let response_source = name("-subscription-response-source", SOURCE_NAME);
        let resolver = name("-subscription-response-resolver", RESPONSE_RESOLVER);
        let output = name("-result", OUTPUT_NAME);
        let output_store = match output_store {
            Some(store) => store,
            None => g.next_store_name(OUTPUT_NAME),
        };
        FkNames {
            registration_topic,
            send,
            registration_sink,
            registration_source,
            store,
            receive,
            join_foreign,
            foreign_update,
            response_topic,
            response_sink,
            response_source,
            resolver,
            output,
            output_store,
        }
    }
}

/// Turns left updates into subscriptions keyed by foreign key (Kafka's
/// `SubscriptionSendProcessorSupplier`).
struct SubscriptionSend<V, KO> {
    foreign_key: FkExtractor<V, KO>,
    values: Arc<dyn Serde<V>>,
    foreign_keys: Arc<dyn Serde<KO>>,
    left: bool,
}

impl<V: Data, KO: Data> SubscriptionSend<V, KO> {
    /// The foreign key of `value`, or `None` if it is null (logged for an inner join, which
    /// drops such rows).
    fn extract<K: Data>(
        &self,
        value: &V,
        ctx: &ProcessorContext<'_, KO, Subscription<K>>,
    ) -> Option<KO> {
        let key = (self.foreign_key)(value);
        if self.foreign_keys.is_null(&key) {
            if !self.left {
                tracing::warn!(
                    processor = ctx.node_name(),
                    "skipping foreign-key join of a row with a null foreign key"
                );
            }
            return None;
        }
        Some(key)
    }
}

impl<K: Data, V: Data, KO: Data> Processor<K, Change<V>, KO, Subscription<K>>
    for SubscriptionSend<V, KO>
{
    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, KO, Subscription<K>>,
    ) -> Result<()> {
        // Out-of-order updates of a versioned table are history, not news (KIP-914).
        if !record.value.is_latest {
            tracing::info!("skipping out-of-order record from versioned table while performing table-table join");
            return Ok(());
        }
        let node = ctx.node_name().to_string();
        let hash = match &record.value.new {
            Some(value) => Some(hash_of(&*self.values, &node, value)?),
            None => None,
        };
        let old_key = match &record.value.old {
            Some(old) => self.extract(old, ctx),
            None => None,
        };
        let new_key = match &record.value.new {
            Some(new) => self.extract(new, ctx),
            None => None,
        };
        let mut send = |foreign_key: KO, instruction: Instruction| {
            ctx.forward(Record {
                key: foreign_key,
                value: Subscription {
                    hash,
                    instruction,
                    primary_key: record.key.clone(),
                },
                timestamp: record.timestamp,
                headers: record.headers.clone(),
            })
        };
        match (old_key, new_key) {
            (Some(old), Some(new)) => {
                let moved = serialized(&*self.foreign_keys, &node, &old)?
                    != serialized(&*self.foreign_keys, &node, &new)?;
                if moved {
                    send(old, Instruction::DeleteNoPropagate)?;
                }
                // The row may have had a result to replace or retract: answer even without a
                // right value.
                send(new, Instruction::PropagateNullIfNoValue)
            }
            // A left join answers a row with a null foreign key itself (Kafka ≥ 3.7, KIP-962):
            // through the right side like any other, keyed by the null key, so that the
            // response meets the row's current value (the hash check) as every answer does.
            (old, None) if self.left && record.value.new.is_some() => {
                if let Some(old) = old {
                    send(old, Instruction::DeleteNoPropagate)?;
                }
                let null = record.value.new.as_ref().map(|v| (self.foreign_key)(v));
                match null {
                    Some(null) => send(null, Instruction::PropagateNullIfNoValue),
                    None => Ok(()),
                }
            }
            (Some(old), None) => send(old, Instruction::DeleteAndPropagate),
            // A deleted left row whose foreign key was null had a left-join result to retract.
            (None, None) if self.left && record.value.new.is_none() => {
                let null = record.value.old.as_ref().map(|v| (self.foreign_key)(v));
                match null {
                    Some(null) => send(null, Instruction::DeleteAndPropagate),
                    None => Ok(()),
                }
            }
            (None, Some(new)) => send(
                new,
                if self.left {
                    Instruction::PropagateNullIfNoValue
                } else {
                    Instruction::PropagateOnlyIfValue
                },
            ),
            (None, None) => Ok(()),
        }
    }
}

/// Keeps the subscriptions in the subscription store, keyed by (foreign key, left key) (Kafka's
/// `SubscriptionReceiveProcessorSupplier`), and passes them on to be answered.
struct SubscriptionReceive<K, KO> {
    store_name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    foreign_keys: Arc<dyn Serde<KO>>,
    store: Option<KeyValueStoreRef<Vec<u8>, Vec<u8>>>,
}

impl<K: Data, KO: Data> Processor<KO, Subscription<K>, KO, Subscription<K>>
    for SubscriptionReceive<K, KO>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, KO, Subscription<K>>) -> Result<()> {
        self.store = Some(ctx.key_value_store(&self.store_name, BytesSerde, BytesSerde)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<KO, Subscription<K>>,
        ctx: &mut ProcessorContext<'_, KO, Subscription<K>>,
    ) -> Result<()> {
        if self.foreign_keys.is_null(&record.key) {
            // A left join's row with a null foreign key: answered (with no right value) but
            // never subscribed.
            if !matches!(
                record.value.instruction,
                Instruction::PropagateNullIfNoValue | Instruction::DeleteAndPropagate
            ) {
                tracing::warn!(
                    processor = ctx.node_name(),
                    "skipping foreign-key join subscription with a null foreign key"
                );
                return Ok(());
            }
            return ctx.forward(record);
        }
        let store = initialized(&self.store, &self.store_name)?;
        let key = combined_key(
            &ser(
                &*self.foreign_keys,
                &self.store_name,
                "foreign key",
                &record.key,
            )?,
            &ser(
                &*self.keys,
                &self.store_name,
                "primary key",
                &record.value.primary_key,
            )?,
        );
        if record.value.instruction.deletes() {
            store.delete(&key)?;
        } else {
            store.put(
                &key,
                &stored_subscription(&record.value.hash, record.timestamp),
            )?;
        }
        ctx.forward(record)
    }
}

/// Answers a subscription with the right row's current value, as its instruction says (Kafka's
/// `SubscriptionJoinProcessorSupplier`).
struct SubscriptionJoin<KO, VO> {
    /// Reads the right-hand table (Kafka's `KTableValueGetter`).
    other: Box<dyn ValueGetter<KO, VO>>,
    foreign_keys: Arc<dyn Serde<KO>>,
}

impl<K: Data, KO: Data, VO: Data> Processor<KO, Subscription<K>, K, Response<VO>>
    for SubscriptionJoin<KO, VO>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Response<VO>>) -> Result<()> {
        self.other.connect(&|name| ctx.store_handle(name))
    }

    fn process(
        &mut self,
        record: Record<KO, Subscription<K>>,
        ctx: &mut ProcessorContext<'_, K, Response<VO>>,
    ) -> Result<()> {
        let subscription = record.value;
        let found = match subscription.instruction {
            Instruction::DeleteNoPropagate => return Ok(()),
            Instruction::DeleteAndPropagate => None,
            _ if self.foreign_keys.is_null(&record.key) => None,
            Instruction::PropagateNullIfNoValue | Instruction::PropagateOnlyIfValue => {
                self.other.get(&record.key)?
            }
        };
        if found.is_none() && subscription.instruction == Instruction::PropagateOnlyIfValue {
            return Ok(());
        }
        let timestamp = found
            .as_ref()
            .map_or(record.timestamp, |(_, ts)| record.timestamp.max(*ts));
        ctx.forward(Record {
            key: subscription.primary_key,
            value: Response {
                hash: subscription.hash,
                value: found.map(|(v, _)| v),
            },
            timestamp,
            headers: record.headers,
        })
    }
}

/// Answers every subscriber of a right row when it changes (Kafka's
/// `ForeignTableJoinProcessorSupplier`): a prefix scan of the subscription store.
struct ForeignTableJoin<K, KO> {
    store_name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    foreign_keys: Arc<dyn Serde<KO>>,
    store: Option<KeyValueStoreRef<Vec<u8>, Vec<u8>>>,
}

impl<K: Data, KO: Data, VO: Data> Processor<KO, Change<VO>, K, Response<VO>>
    for ForeignTableJoin<K, KO>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Response<VO>>) -> Result<()> {
        self.store = Some(ctx.key_value_store(&self.store_name, BytesSerde, BytesSerde)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<KO, Change<VO>>,
        ctx: &mut ProcessorContext<'_, K, Response<VO>>,
    ) -> Result<()> {
        // Out-of-order updates of a versioned table are history, not news (KIP-914).
        if !record.value.is_latest {
            tracing::info!("skipping out-of-order record from versioned table while performing table-table join");
            return Ok(());
        }
        if record.value.new.is_none() && record.value.old.is_none() {
            return Ok(());
        }
        let store = initialized(&self.store, &self.store_name)?;
        let prefix = foreign_key_prefix(&ser(
            &*self.foreign_keys,
            &self.store_name,
            "foreign key",
            &record.key,
        )?);
        for (key, stored) in store.prefix_scan(&prefix)? {
            let (hash, timestamp) = read_stored_subscription(&stored).map_err(|e| {
                crate::state::store_serde_error(&self.store_name, "subscription", e)
            })?;
            let primary_key = crate::state::de(
                &*self.keys,
                &self.store_name,
                "primary key",
                key[prefix.len()..].to_vec(),
            )?;
            ctx.forward(Record {
                key: primary_key,
                value: Response {
                    hash,
                    value: record.value.new.clone(),
                },
                timestamp: record.timestamp.max(timestamp),
                headers: record.headers.clone(),
            })?;
        }
        Ok(())
    }
}

/// Joins an answer with the left row's current value, unless the row changed since the answer's
/// subscription (Kafka's `ResponseJoinProcessorSupplier`).
struct ResponseResolver<K, V, VO, VR> {
    /// Reads the left-hand table (Kafka's `KTableValueGetter`).
    this: Box<dyn ValueGetter<K, V>>,
    /// The left values' serde, which hashes them as the subscriptions did.
    values: Arc<dyn Serde<V>>,
    joiner: FkJoiner<V, VO, VR>,
    left: bool,
}

impl<K: Data, V: Data, VO: Data, VR: Data> Processor<K, Response<VO>, K, Option<VR>>
    for ResponseResolver<K, V, VO, VR>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Option<VR>>) -> Result<()> {
        self.this.connect(&|name| ctx.store_handle(name))
    }

    fn process(
        &mut self,
        record: Record<K, Response<VO>>,
        ctx: &mut ProcessorContext<'_, K, Option<VR>>,
    ) -> Result<()> {
        let current = self.this.get(&record.key)?;
        let current_hash = match &current {
            Some((value, _)) => Some(hash_of(&*self.values, ctx.node_name(), value)?),
            None => None,
        };
        if current_hash != record.value.hash {
            // The left row changed after this answer's subscription: the answer to the newer
            // subscription decides.
            tracing::trace!(
                processor = ctx.node_name(),
                "dropping a stale foreign-key join response"
            );
            return Ok(());
        }
        let result = match &current {
            Some((value, _)) if record.value.value.is_some() || self.left => {
                (self.joiner)(value, record.value.value.as_ref())
            }
            _ => None,
        };
        ctx.forward(Record {
            key: record.key,
            value: result,
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }
}

/// The result table of an unmaterialized foreign-key join (Kafka's `KTABLE-FK-JOIN-OUTPUT`
/// without a store): each result as a change without an old value.
struct FkJoinOutput;

impl<K: Data, VR: Data> Processor<K, Option<VR>, K, Change<VR>> for FkJoinOutput {
    fn process(
        &mut self,
        record: Record<K, Option<VR>>,
        ctx: &mut ProcessorContext<'_, K, Change<VR>>,
    ) -> Result<()> {
        let new = record.value.clone();
        ctx.forward(record.with_value(Change::new(new, None)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde::StringSerde;

    #[test]
    fn murmur3_matches_the_reference_vectors() {
        assert_eq!(murmur3_128(b""), [0; 16]);
        let fox = murmur3_128(b"The quick brown fox jumps over the lazy dog");
        assert_eq!(
            u64::from_be_bytes(fox[..8].try_into().unwrap()),
            0xe34b_bc7b_bc07_1b6c
        );
        assert_eq!(
            u64::from_be_bytes(fox[8..].try_into().unwrap()),
            0x7a43_3ca9_c49a_9347
        );
    }

    #[test]
    fn subscriptions_and_responses_round_trip() {
        let subscriptions = SubscriptionSerde::<String>(Arc::new(StringSerde));
        for (hash, instruction) in [
            (Some([7u8; 16]), Instruction::PropagateOnlyIfValue),
            (None, Instruction::DeleteAndPropagate),
            (Some([0u8; 16]), Instruction::DeleteNoPropagate),
            (Some([255u8; 16]), Instruction::PropagateNullIfNoValue),
        ] {
            let s = Subscription {
                hash,
                instruction,
                primary_key: "order-1".to_string(),
            };
            let bytes = subscriptions.serialize("t", &s).unwrap().unwrap();
            assert_eq!(bytes[0], WIRE_VERSION);
            assert_eq!(subscriptions.deserialize("t", Some(&bytes)).unwrap(), s);
        }
        let responses = ResponseSerde::<String>(Arc::new(StringSerde));
        for r in [
            Response {
                hash: Some([1u8; 16]),
                value: Some("widget".to_string()),
            },
            Response {
                hash: None,
                value: None,
            },
            Response {
                hash: Some([2u8; 16]),
                value: Some(String::new()),
            },
        ] {
            let bytes = responses.serialize("t", &r).unwrap().unwrap();
            assert_eq!(responses.deserialize("t", Some(&bytes)).unwrap(), r);
        }
        let stored = stored_subscription(&Some([3u8; 16]), -5);
        assert_eq!(
            read_stored_subscription(&stored).unwrap(),
            (Some([3u8; 16]), -5)
        );
    }

    #[test]
    fn malformed_bytes_are_errors_not_panics() {
        let subscriptions = SubscriptionSerde::<String>(Arc::new(StringSerde));
        let responses = ResponseSerde::<String>(Arc::new(StringSerde));
        let good = subscriptions
            .serialize(
                "t",
                &Subscription {
                    hash: Some([9u8; 16]),
                    instruction: Instruction::PropagateOnlyIfValue,
                    primary_key: "k".to_string(),
                },
            )
            .unwrap()
            .unwrap();
        // Every truncation of a valid subscription but the full one (and the one that only
        // shortens the key) fails cleanly, as does garbage.
        for len in 0..good.len() - 1 {
            assert!(
                subscriptions.deserialize("t", Some(&good[..len])).is_err(),
                "{len}"
            );
        }
        let version = subscriptions
            .deserialize("t", Some(&[9, 0, 0]))
            .unwrap_err();
        assert!(
            version.to_string().contains("unsupported version 9"),
            "{version}"
        );
        let instruction = subscriptions
            .deserialize("t", Some(&[0, 4, 0]))
            .unwrap_err();
        assert!(
            instruction.to_string().contains("instruction 4"),
            "{instruction}"
        );
        assert!(subscriptions.deserialize("t", None).is_err());
        for bad in [
            &[][..],
            &[0],
            &[0, 1, 1],
            &[0, 0, 2],
            &[0, 0, 0, 1],
            &[0, 0, 7],
        ] {
            assert!(responses.deserialize("t", Some(bad)).is_err(), "{bad:?}");
        }
        assert!(read_stored_subscription(&[0, 0, 1, 2]).is_err());
        assert!(read_stored_subscription(&[]).is_err());
    }

    #[test]
    fn combined_keys_of_one_foreign_key_share_its_prefix_and_no_other() {
        let prefix = foreign_key_prefix(b"ab");
        assert!(combined_key(b"ab", b"x").starts_with(&prefix));
        // A foreign key that extends another does not fall under its prefix.
        assert!(!combined_key(b"abc", b"x").starts_with(&prefix));
    }
}
