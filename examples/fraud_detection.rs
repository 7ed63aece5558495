//! Fraud detection: a stream-stream join of payments and logins within 5 minutes.
//!
//! Reads payments from `payments` (key: account id; value: amount in cents as an 8-byte
//! big-endian i64) and logins from `logins` (key: account id; value: the login's location) and
//! left-joins them within 5 minutes either way: a payment with a login of its account close in
//! time is fine; a payment without one is suspicious and goes to `fraud-alerts` (key: account;
//! value: "amount without a login within 5 minutes"). Because the join follows Kafka ≥ 3.1, an
//! alert is emitted only once the payment's window has closed — never for a payment whose login
//! merely arrives a little later.
//!
//! By default it starts the bundled broker, produces a seeded day of logins and payments (with
//! event times), runs until the alerts equal what a plain-Rust model of the window computes,
//! prints them and exits. With `--bootstrap-servers HOST:PORT` it only runs the application
//! until SIGINT or SIGTERM.
//!
//! ```text
//! cargo run --example fraud_detection
//! cargo run --example fraud_detection -- --bootstrap-servers 127.0.0.1:9092
//! ```

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::message::Message;
use rill::prelude::*;

mod support;
use support::CommonArgs;

const PAYMENTS: &str = "payments";
const LOGINS: &str = "logins";
const ALERTS: &str = "fraud-alerts";
const APPLICATION_ID: &str = "fraud-detection";
const WINDOW_MS: i64 = 5 * 60 * 1000;

/// Fraud detection on Rill's runtime.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Payments produced in embedded mode (logins: one per two payments).
    #[arg(long, default_value_t = 4_000)]
    payments: usize,
}

/// The join topology: payments left-joined with logins, unmatched payments to the alerts.
fn topology() -> rill::Result<Topology> {
    let builder = StreamsBuilder::new();
    let payments = builder.stream(PAYMENTS, Consumed::with(Serdes::string(), Serdes::i64()));
    let logins = builder.stream(LOGINS, Consumed::with(Serdes::string(), Serdes::string()));
    payments
        .left_join_stream(
            &logins,
            |cents: &i64, login: Option<&String>| (*cents, login.is_some()),
            JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(WINDOW_MS as u64))?,
            StreamJoined::with(Serdes::string(), Serdes::i64(), Serdes::string()),
        )
        .filter(|_, (_, had_login)| !had_login)
        .map_values(|(cents, _)| {
            format!(
                "{}.{:02} without a login within 5 minutes",
                cents / 100,
                cents % 100
            )
        })
        .to(ALERTS, Produced::with(Serdes::string(), Serdes::string()));
    Ok(builder.build()?)
}

fn main() {
    let args = Args::parse();
    support::run_example(
        "fraud_detection",
        APPLICATION_ID,
        &args.common,
        topology(),
        |topology| run_embedded(&args, topology),
    );
}

fn run_embedded(args: &Args, topology: Topology) -> Result<(), Box<dyn std::error::Error>> {
    let broker = support::embedded_broker(&[(PAYMENTS, 2), (LOGINS, 2), (ALERTS, 2)])?;
    let bootstrap = broker.bootstrap();
    let mut state = 0xf4a7_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // A day of event time starting at an hour boundary; 50 accounts.
    let start_ms: i64 = 1_700_000_000_000 / 3_600_000 * 3_600_000;
    let day = 24 * 3_600_000;
    // Each topic in event-time order, as producers write them.
    let mut event = |n: usize| -> Vec<(String, i64)> {
        let mut events: Vec<(String, i64)> = (0..n)
            .map(|_| {
                let account = format!("account-{:02}", next() % 50);
                (account, start_ms + (next() % day as u64) as i64)
            })
            .collect();
        events.sort_by_key(|(_, t)| *t);
        events
    };
    let logins: Vec<(String, i64)> = event(args.payments / 2);
    let payments: Vec<(String, i64)> = event(args.payments);
    // A day later every account pays once more: stream time passes the end of every earlier
    // payment's window in every partition, so each of their results is final. (These last
    // payments' own windows stay open.)
    let closing: Vec<(String, i64)> = (0..50)
        .map(|a| (format!("account-{a:02}"), start_ms + 2 * day))
        .collect();
    let model: BTreeSet<(String, i64)> = payments
        .iter()
        .filter(|(account, t)| {
            !logins
                .iter()
                .any(|(a, u)| a == account && (t - u).abs() <= WINDOW_MS)
        })
        .cloned()
        .collect();

    let amounts: Vec<[u8; 8]> = payments
        .iter()
        .map(|(_, t)| ((t % 100_000) + 100).to_be_bytes())
        .collect();
    support::produce(
        &bootstrap,
        LOGINS,
        logins
            .iter()
            .map(|(a, t)| (Some(a.as_bytes()), &b"home"[..], Some(*t))),
    )?;
    let closing_amount = 100i64.to_be_bytes();
    support::produce(
        &bootstrap,
        PAYMENTS,
        payments
            .iter()
            .zip(&amounts)
            .map(|((a, t), amount)| (Some(a.as_bytes()), &amount[..], Some(*t)))
            .chain(
                closing
                    .iter()
                    .map(|(a, t)| (Some(a.as_bytes()), &closing_amount[..], Some(*t))),
            ),
    )?;
    println!(
        "produced {} logins and {} payments over a day of event time, before the application starts",
        logins.len(),
        payments.len() + closing.len()
    );

    // Every input is on the broker before the application starts: each task must still read
    // its payments and logins partitions in event-time order (it waits for a partition whose
    // records are still being fetched), or stream time would run ahead on one side and
    // drop the other's records as late.
    let (config, _state) = support::streams_config(&args.common, APPLICATION_ID, &bootstrap)?;
    let streams = KafkaStreams::new(topology, config)?;
    let started = Instant::now();
    streams.start()?;
    let consumer = support::output_reader(&bootstrap, "fraud-alerts-reader", &[ALERTS])?;
    let mut alerts: BTreeSet<(String, i64)> = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while alerts.len() < model.len() {
        if Instant::now() > deadline {
            return Err(format!("only {} of {} alerts arrived", alerts.len(), model.len()).into());
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message?;
        let account = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
        let timestamp = message.timestamp().to_millis().unwrap_or(-1);
        if !alerts.insert((account.clone(), timestamp)) {
            return Err(format!("alert for {account} at {timestamp} emitted twice").into());
        }
    }
    let took = started.elapsed();
    if alerts != model {
        let missing: Vec<_> = model.difference(&alerts).take(5).collect();
        let extra: Vec<_> = alerts.difference(&model).take(5).collect();
        return Err(format!(
            "the alerts differ from the model: missing {missing:?}, unexpected {extra:?} (start {start_ms})"
        )
        .into());
    }
    // Nothing beyond the model: no alert for a payment that had a login (read a little longer).
    let settle = Instant::now() + Duration::from_millis(500);
    while Instant::now() < settle {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message?;
            let account = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
            return Err(format!("unexpected alert for {account}").into());
        }
    }
    for (account, timestamp) in alerts.iter().take(5) {
        println!(
            "  alert: {account} paid at minute {} without a login within 5 minutes",
            (timestamp - start_ms) / 60_000
        );
    }
    println!(
        "{} alerts for {} payments, equal to the model, in {took:.2?}",
        alerts.len(),
        payments.len()
    );
    streams.close(Duration::from_secs(30));
    drop(consumer);
    broker.shutdown()?;
    Ok(())
}
