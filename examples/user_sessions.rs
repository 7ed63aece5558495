//! User sessions: session windows on Rill's runtime.
//!
//! Reads clicks from `user-clicks` (key: user, value: page, both Strings), groups each user's
//! clicks into sessions that end after five minutes of inactivity (grace 30 s), counts the
//! clicks of each session and writes every change to `user-sessions`: the key in Kafka's
//! `SessionWindowedSerde` format (the user's bytes, then the session end and start as
//! big-endian i64s), the value an 8-byte big-endian count — or a tombstone when a session was
//! merged into a longer one, as Kafka Streams emits them. The reader here applies the changes
//! like a table and ends with each user's final sessions.
//!
//! By default it starts the bundled broker and produces two hours of seeded clicks (in event
//! time, in bursts per user), reads the sessions back until they equal a model computed here,
//! prints the longest ones and exits. With `--bootstrap-servers HOST:PORT` it only runs the application, until SIGINT or
//! SIGTERM.
//!
//! ```text
//! cargo run --example user_sessions
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::message::Message;
use rill::prelude::*;
use rill::streams_core::dsl::windows::SessionWindowedSerde;

mod support;
use support::CommonArgs;

const INPUT: &str = "user-clicks";
const OUTPUT: &str = "user-sessions";
const APPLICATION_ID: &str = "user-sessions";
const GAP_MS: i64 = 5 * 60_000;
const GRACE_MS: i64 = 30_000;

/// User sessions on Rill's runtime.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// At most this many clicks are produced in embedded mode (two hours of event time).
    #[arg(long, default_value_t = 2_000)]
    clicks: usize,
}

fn topology() -> rill::Result<Topology> {
    let builder = StreamsBuilder::new();
    builder
        .stream(INPUT, Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key(Grouped::with(Serdes::string(), Serdes::string()))
        .windowed_by(SessionWindows::of_inactivity_gap_and_grace(
            Duration::from_millis(GAP_MS as u64),
            Duration::from_millis(GRACE_MS as u64),
        )?)
        .count(Materialized::as_("clicks-per-session"))
        .to_stream()
        .to(
            OUTPUT,
            Produced::with(
                SessionWindowedSerde::new(Serdes::string()),
                Serdes::option(Serdes::i64()),
            ),
        );
    Ok(builder.build()?)
}

fn main() {
    let args = Args::parse();
    support::run_example(
        "user_sessions",
        APPLICATION_ID,
        &args.common,
        topology(),
        |topology| run_embedded(&args, topology),
    );
}

/// Each user's sessions as `(start, end) → clicks`, from click timestamps in order.
fn sessions(clicks: &[(String, i64)]) -> BTreeMap<(String, i64, i64), i64> {
    let mut open: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    let mut closed = BTreeMap::new();
    for (user, ts) in clicks {
        match open.get_mut(user.as_str()) {
            Some((_, end, n)) if ts - *end <= GAP_MS => {
                *end = *ts;
                *n += 1;
            }
            _ => {
                if let Some((start, end, n)) = open.insert(user, (*ts, *ts, 1)) {
                    closed.insert((user.clone(), start, end), n);
                }
            }
        }
    }
    for (user, (start, end, n)) in open {
        closed.insert((user.to_string(), start, end), n);
    }
    closed
}

fn run_embedded(args: &Args, topology: Topology) -> Result<(), Box<dyn std::error::Error>> {
    let broker = support::embedded_broker(&[(INPUT, 2), (OUTPUT, 2)])?;
    let bootstrap = broker.bootstrap();

    // Two hours of clicks in event time: each user clicks in bursts, a few seconds apart
    // within a burst and many minutes apart between bursts.
    let start_ms: i64 = 1_700_000_000_000;
    let mut state = 0x5e55_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let users = 25;
    let mut at: Vec<i64> = (0..users).map(|_| start_ms).collect();
    let mut clicks: Vec<(String, i64)> = Vec::with_capacity(args.clicks);
    while clicks.len() < args.clicks {
        let u = (next() % users as u64) as usize;
        let pause = if next() % 12 == 0 {
            6 * 60_000 + (next() % 1_200_000) as i64 // a new session
        } else {
            1_000 + (next() % 60_000) as i64 // the same session
        };
        at[u] += pause;
        if at[u] < start_ms + 2 * 3_600_000 {
            clicks.push((format!("user-{u:02}"), at[u]));
        }
        if at.iter().all(|t| *t >= start_ms + 2 * 3_600_000) {
            break;
        }
    }
    clicks.sort_by_key(|(_, ts)| *ts);
    let model = sessions(&clicks);
    let pages = ["/home", "/search", "/item", "/cart"];
    support::produce(
        &bootstrap,
        INPUT,
        clicks
            .iter()
            .enumerate()
            .map(|(i, (user, ts))| (Some(user.as_bytes()), pages[i % 4].as_bytes(), Some(*ts))),
    )?;
    println!(
        "produced {} clicks of {users} users ({} sessions) to {INPUT}",
        clicks.len(),
        model.len()
    );

    let (config, _state) = support::streams_config(&args.common, APPLICATION_ID, &bootstrap)?;
    let streams = KafkaStreams::new(topology, config)?;
    let started = Instant::now();
    streams.start()?;
    let consumer = support::output_reader(&bootstrap, "sessions-reader", &[OUTPUT])?;
    let mut seen: BTreeMap<(String, i64, i64), i64> = BTreeMap::new();
    let mut changes = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen != model {
        if Instant::now() > deadline {
            return Err(format!(
                "the sessions did not converge: {} of {} so far",
                seen.len(),
                model.len()
            )
            .into());
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message?;
        changes += 1;
        let key = message.key().unwrap_or_default();
        if key.len() < 16 {
            return Err("unexpected key format".into());
        }
        let (user, times) = key.split_at(key.len() - 16);
        let end = i64::from_be_bytes(times[..8].try_into()?);
        let start = i64::from_be_bytes(times[8..].try_into()?);
        let session = (String::from_utf8_lossy(user).into_owned(), start, end);
        match message.payload() {
            // A tombstone: the session was merged into a longer one.
            None => {
                seen.remove(&session);
            }
            Some(value) => {
                seen.insert(session, i64::from_be_bytes(value.try_into()?));
            }
        }
    }
    let took = started.elapsed();
    let mut longest: Vec<(&(String, i64, i64), &i64)> = seen.iter().collect();
    longest.sort_by_key(|((_, start, end), _)| std::cmp::Reverse(end - start));
    println!("longest sessions:");
    for ((user, start, end), clicks) in longest.iter().take(5) {
        println!(
            "  {user}: {:>5.1} min from minute {:>5.1}, {clicks} clicks",
            (end - start) as f64 / 60_000.0,
            (start - start_ms) as f64 / 60_000.0
        );
    }
    println!(
        "{} sessions from {changes} changes, equal to the model, in {took:.2?}",
        seen.len()
    );
    streams.close(Duration::from_secs(30));
    drop(consumer);
    broker.shutdown()?;
    Ok(())
}
