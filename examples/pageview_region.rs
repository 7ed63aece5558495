//! Page views per region: a stream-table join, then a count — like Kafka Streams'
//! `PageViewRegionExample`.
//!
//! Reads page views from `streams-pageview-input` (key: user id; value: page) and user profiles
//! from the table topic `streams-userprofile-input` (key: user id; value: region), joins each
//! view with its user's current region (views of users without a profile are dropped: an inner
//! join), re-keys by region — through a repartition topic, since the key changes — and counts
//! the views per region into `streams-pageviewstats-output` (String key, 8-byte big-endian
//! i64 value).
//!
//! By default it starts the bundled broker, loads seeded profiles, waits until the table holds
//! them all, produces seeded page views (some by users without a profile), runs until the counts
//! equal what a plain-Rust model of the join computes, prints them and exits. With
//! `--bootstrap-servers HOST:PORT` it only runs the application until SIGINT or SIGTERM.
//!
//! ```text
//! cargo run --example pageview_region
//! cargo run --example pageview_region -- --bootstrap-servers 127.0.0.1:9092
//! ```

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::message::Message;
use rill::prelude::*;

mod support;
use support::CommonArgs;

const VIEWS: &str = "streams-pageview-input";
const PROFILES: &str = "streams-userprofile-input";
const OUTPUT: &str = "streams-pageviewstats-output";
const APPLICATION_ID: &str = "pageview-region";
const REGIONS: [&str; 5] = ["africa", "americas", "asia", "europe", "oceania"];

/// Page views per region on Rill's runtime.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Users with a profile, in embedded mode.
    #[arg(long, default_value_t = 500)]
    users: usize,
    /// Page views produced in embedded mode.
    #[arg(long, default_value_t = 20_000)]
    views: usize,
}

/// The join-and-count topology.
fn topology() -> rill::Result<Topology> {
    let builder = StreamsBuilder::new();
    let regions = builder.table(
        PROFILES,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("user-regions"),
    );
    builder
        .stream(VIEWS, Consumed::with(Serdes::string(), Serdes::string()))
        .join(
            &regions,
            |_page: &String, region: &String| region.clone(),
            Joined::with(Serdes::string(), Serdes::string()),
        )
        .group_by(
            |_user, region: &String| region.clone(),
            Grouped::with(Serdes::string(), Serdes::string()).with_name("views-by-region"),
        )
        .count(Materialized::as_("views-per-region"))
        .to_stream()
        .to(
            OUTPUT,
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    Ok(builder.build()?)
}

fn main() {
    let args = Args::parse();
    support::run_example(
        "pageview_region",
        APPLICATION_ID,
        &args.common,
        topology(),
        |topology| run_embedded(&args, topology),
    );
}

fn run_embedded(args: &Args, topology: Topology) -> Result<(), Box<dyn std::error::Error>> {
    let broker = support::embedded_broker(&[(VIEWS, 2), (PROFILES, 2), (OUTPUT, 2)])?;
    let bootstrap = broker.bootstrap();
    let mut state = 0xfeed_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let profiles: Vec<(String, &str)> = (0..args.users)
        .map(|u| (format!("user-{u}"), REGIONS[(next() % 5) as usize]))
        .collect();
    // One view in ten is by a user without a profile; the join drops those.
    let views: Vec<(String, String)> = (0..args.views)
        .map(|_| {
            let user = next() % (args.users as u64 + args.users as u64 / 10 + 1);
            (format!("user-{user}"), format!("/page/{}", next() % 50))
        })
        .collect();
    let region_of: HashMap<&str, &str> = profiles.iter().map(|(u, r)| (u.as_str(), *r)).collect();
    let mut model: BTreeMap<String, i64> = BTreeMap::new();
    for (user, _) in &views {
        if let Some(region) = region_of.get(user.as_str()) {
            *model.entry(region.to_string()).or_default() += 1;
        }
    }

    let (config, _state) = support::streams_config(&args.common, APPLICATION_ID, &bootstrap)?;
    let streams = KafkaStreams::new(topology, config)?;
    streams.start()?;
    support::produce(
        &bootstrap,
        PROFILES,
        profiles
            .iter()
            .map(|(u, r)| (Some(u.as_bytes()), r.as_bytes(), None)),
    )?;
    // A stream-table join sees the table as it is when a view is processed: load the profiles
    // completely before the first view.
    let table_deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let loaded = streams
            .local_store("user-regions", Serdes::string(), Serdes::string())
            .and_then(|store| store.all())
            .map_or(0, |all| all.len());
        if loaded == profiles.len() {
            break;
        }
        if Instant::now() > table_deadline {
            return Err(format!("only {loaded} of {} profiles loaded", profiles.len()).into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("loaded {} user profiles into the table", profiles.len());
    let started = Instant::now();
    support::produce(
        &bootstrap,
        VIEWS,
        views
            .iter()
            .map(|(u, p)| (Some(u.as_bytes()), p.as_bytes(), None)),
    )?;
    println!("produced {} page views to {VIEWS}", views.len());

    let consumer = support::output_reader(&bootstrap, "pageview-stats-reader", &[OUTPUT])?;
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while counts != model {
        if Instant::now() > deadline {
            return Err(format!("counts {counts:?} never reached the model {model:?}").into());
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message?;
        let region = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
        let count = i64::from_be_bytes(
            message
                .payload()
                .unwrap_or_default()
                .try_into()
                .map_err(|_| "count is not 8 bytes")?,
        );
        counts.insert(region, count);
    }
    let took = started.elapsed();
    for (region, count) in &counts {
        println!("{count:>7}  {region}");
    }
    let joined: i64 = counts.values().sum();
    println!(
        "counts equal the model: {joined} of {} views joined to a region in {took:.2?} ({:.0} views/s end to end)",
        views.len(),
        views.len() as f64 / took.as_secs_f64()
    );
    streams.close(Duration::from_secs(30));
    drop(consumer);
    broker.shutdown()?;
    Ok(())
}
