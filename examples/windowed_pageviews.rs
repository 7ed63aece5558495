//! Windowed page views: hopping-window counts with suppression, on Rill's runtime.
//!
//! Reads page views from `pageviews` (key: user, value: page, both Strings), counts the views
//! of each page in hopping windows one minute long that advance every 30 seconds (grace 10 s),
//! and writes each window's count once, when the window closes
//! (`suppress(untilWindowCloses)`), to `pageviews-per-window`: the key in Kafka's
//! `TimeWindowedSerde` format (the page's bytes, then the window start as a big-endian i64),
//! the value an 8-byte big-endian count.
//!
//! By default it starts the bundled broker and produces ten minutes of seeded page views (in
//! event time), then one view per page twenty minutes later so that every window of the real
//! data closes; it checks the windows against a model computed here, prints the busiest ones
//! and exits. With `--bootstrap-servers HOST:PORT` it only runs the application, until SIGINT
//! or SIGTERM.
//!
//! ```text
//! cargo run --example windowed_pageviews
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::message::Message;
use rill::prelude::*;
use rill::streams_core::dsl::windows::TimeWindowedSerde;

mod support;
use support::CommonArgs;

const INPUT: &str = "pageviews";
const OUTPUT: &str = "pageviews-per-window";
const APPLICATION_ID: &str = "windowed-pageviews";
const SIZE_MS: i64 = 60_000;
const ADVANCE_MS: i64 = 30_000;
const GRACE_MS: i64 = 10_000;
const PAGES: [&str; 8] = [
    "/home",
    "/search",
    "/cart",
    "/checkout",
    "/about",
    "/blog",
    "/docs",
    "/pricing",
];

/// Windowed page views on Rill's runtime.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Page views produced in embedded mode.
    #[arg(long, default_value_t = 20_000)]
    views: usize,
}

fn topology() -> rill::Result<Topology> {
    let builder = StreamsBuilder::new();
    builder
        .stream(INPUT, Consumed::with(Serdes::string(), Serdes::string()))
        .group_by(
            |_, page| page.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .windowed_by(
            TimeWindows::of_size_and_grace(
                Duration::from_millis(SIZE_MS as u64),
                Duration::from_millis(GRACE_MS as u64),
            )?
            .advance_by(Duration::from_millis(ADVANCE_MS as u64))?,
        )
        .count(Materialized::as_("views-per-window"))
        .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
        .to_stream()
        .to(
            OUTPUT,
            Produced::with(
                TimeWindowedSerde::new(Serdes::string(), SIZE_MS),
                Serdes::option(Serdes::i64()),
            ),
        );
    Ok(builder.build()?)
}

fn main() {
    let args = Args::parse();
    support::run_example(
        "windowed_pageviews",
        APPLICATION_ID,
        &args.common,
        topology(),
        |topology| run_embedded(&args, topology),
    );
}

/// The hopping windows (by start) that contain `ts`.
fn window_starts(ts: i64) -> impl Iterator<Item = i64> {
    let last = ts - ts.rem_euclid(ADVANCE_MS);
    (0..SIZE_MS / ADVANCE_MS)
        .map(move |k| last - k * ADVANCE_MS)
        .filter(move |start| *start >= 0 && ts < start + SIZE_MS)
}

fn run_embedded(args: &Args, topology: Topology) -> Result<(), Box<dyn std::error::Error>> {
    // One input partition: the whole ten minutes of event time arrive at once, and views
    // from several input partitions would reach the counting tasks interleaved only as
    // coarsely as the consumer fetches them, far more out of order than the 10 s grace.
    let broker = support::embedded_broker(&[(INPUT, 1), (OUTPUT, 2)])?;
    let bootstrap = broker.bootstrap();

    // Ten minutes of views in event time, popular pages more often; then the closing views.
    let start_ms: i64 = 1_700_000_000_000 - 1_700_000_000_000 % SIZE_MS;
    let mut state = 0x9a9e_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut views: Vec<(String, String, i64)> = (0..args.views)
        .map(|i| {
            let page = PAGES[(next() % 36).isqrt() as usize % PAGES.len()];
            let user = format!("user-{}", next() % 50);
            let ts = start_ms + (i as i64 * 600_000) / args.views as i64;
            (user, page.to_string(), ts)
        })
        .collect();
    let mut model: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for (_, page, ts) in &views {
        for window in window_starts(*ts) {
            *model.entry((page.clone(), window)).or_default() += 1;
        }
    }
    views.extend(
        PAGES
            .iter()
            .map(|p| ("closer".to_string(), p.to_string(), start_ms + 1_200_000)),
    );
    support::produce(
        &bootstrap,
        INPUT,
        views
            .iter()
            .map(|(user, page, ts)| (Some(user.as_bytes()), page.as_bytes(), Some(*ts))),
    )?;
    println!("produced {} page views to {INPUT}", views.len());

    let (config, _state) = support::streams_config(&args.common, APPLICATION_ID, &bootstrap)?;
    let streams = KafkaStreams::new(topology, config)?;
    let started = Instant::now();
    streams.start()?;
    let consumer = support::output_reader(&bootstrap, "pageviews-reader", &[OUTPUT])?;
    let mut windows: BTreeMap<(String, i64), i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while windows.len() < model.len() {
        if Instant::now() > deadline {
            return Err(format!("{} of {} windows closed", windows.len(), model.len()).into());
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message?;
        let key = message.key().unwrap_or_default();
        let value = message.payload().unwrap_or_default();
        if key.len() < 8 || value.len() != 8 {
            return Err("unexpected record format".into());
        }
        let (page, start) = key.split_at(key.len() - 8);
        let start = i64::from_be_bytes(start.try_into()?);
        let count = i64::from_be_bytes(value.try_into()?);
        let page = String::from_utf8_lossy(page).into_owned();
        if windows.insert((page.clone(), start), count).is_some() {
            return Err(format!("window {page}@{start} emitted twice").into());
        }
    }
    let took = started.elapsed();
    if windows != model {
        return Err("the final window counts differ from the model".into());
    }
    let mut busiest: Vec<(&(String, i64), &i64)> = windows.iter().collect();
    busiest.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    println!("busiest windows (minute since start, page, views):");
    for ((page, window_start), count) in busiest.iter().take(5) {
        let minute = (window_start - start_ms) as f64 / 60_000.0;
        println!(
            "  [{minute:>4.1}, {:>4.1})  {page:<10} {count}",
            minute + 1.0
        );
    }
    println!(
        "{} windows, each emitted once when it closed, equal to the model, in {took:.2?}",
        windows.len()
    );
    streams.close(Duration::from_secs(30));
    drop(consumer);
    broker.shutdown()?;
    Ok(())
}
