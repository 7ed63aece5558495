//! Temperature alerts: a stateless routing application — filter, map and branch to several
//! topics — on Rill's runtime.
//!
//! Reads sensor readings from `sensor-readings` (key: sensor id as a String; value: degrees
//! Celsius as an 8-byte big-endian f64), drops readings outside what the sensors can measure
//! (−50 °C to 60 °C), and routes the rest by temperature: above 35 °C to
//! `temperature-alerts-hot`, below −10 °C to `temperature-alerts-cold`, everything else to
//! `temperature-normal` — Kafka Streams' `filter`, `mapValues` and `split().branch()`.
//!
//! By default it starts the bundled broker, produces seeded random readings, runs the
//! application until every reading has arrived in its topic, prints a summary and exits. With
//! `--bootstrap-servers HOST:PORT` it only runs the application (the input topic must exist)
//! until SIGINT or SIGTERM.
//!
//! ```text
//! cargo run --example temperature_alerts
//! cargo run --example temperature_alerts -- --bootstrap-servers 127.0.0.1:9092
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::message::Message;
use rill::prelude::*;

mod support;
use support::CommonArgs;

const INPUT: &str = "sensor-readings";
const HOT: &str = "temperature-alerts-hot";
const COLD: &str = "temperature-alerts-cold";
const NORMAL: &str = "temperature-normal";
const APPLICATION_ID: &str = "temperature-alerts";

/// Temperature alerts on Rill's runtime.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Readings produced in embedded mode.
    #[arg(long, default_value_t = 20_000)]
    readings: usize,
}

/// The routing topology.
fn topology() -> rill::Result<Topology> {
    let builder = StreamsBuilder::new();
    let produced = || Produced::with(Serdes::string(), Serdes::f64());
    builder
        .stream(INPUT, Consumed::with(Serdes::string(), Serdes::f64()))
        .filter(|_, celsius| (-50.0..=60.0).contains(celsius))
        // One decimal is all the sensors resolve.
        .map_values(|celsius: &f64| (celsius * 10.0).round() / 10.0)
        .split()
        .branch_with(
            |_, celsius| *celsius > 35.0,
            Branched::with_consumer(move |hot| hot.to(HOT, produced())),
        )
        .branch_with(
            |_, celsius| *celsius < -10.0,
            Branched::with_consumer(move |cold| cold.to(COLD, produced())),
        )
        .default_branch_with(Branched::with_consumer(move |normal| {
            normal.to(NORMAL, produced())
        }));
    Ok(builder.build()?)
}

fn main() {
    let args = Args::parse();
    support::run_example(
        "temperature_alerts",
        APPLICATION_ID,
        &args.common,
        topology(),
        |topology| run_embedded(&args, topology),
    );
}

fn run_embedded(args: &Args, topology: Topology) -> Result<(), Box<dyn std::error::Error>> {
    let broker = support::embedded_broker(&[(INPUT, 2), (HOT, 2), (COLD, 2), (NORMAL, 2)])?;
    let bootstrap = broker.bootstrap();

    // Seeded readings from 20 sensors, some of them broken (out of range).
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let readings: Vec<(String, f64)> = (0..args.readings)
        .map(|_| {
            let sensor = format!("sensor-{:02}", next() % 20);
            let celsius = (next() % 1400) as f64 / 10.0 - 70.0; // -70.0 ..= 69.9
            (sensor, celsius)
        })
        .collect();
    let expected = readings
        .iter()
        .filter(|(_, c)| (-50.0..=60.0).contains(c))
        .count();
    let values: Vec<[u8; 8]> = readings.iter().map(|(_, c)| c.to_be_bytes()).collect();
    support::produce(
        &bootstrap,
        INPUT,
        readings
            .iter()
            .zip(&values)
            .map(|((sensor, _), value)| (Some(sensor.as_bytes()), &value[..], None)),
    )?;
    println!(
        "produced {} readings ({} in range) to {INPUT}",
        readings.len(),
        expected
    );

    let (config, _state) = support::streams_config(&args.common, APPLICATION_ID, &bootstrap)?;
    let streams = KafkaStreams::new(topology, config)?;
    let started = Instant::now();
    streams.start()?;
    let consumer = support::output_reader(&bootstrap, "alerts-reader", &[HOT, COLD, NORMAL])?;
    let mut per_topic: BTreeMap<String, usize> = BTreeMap::new();
    let mut hottest: Option<(String, f64)> = None;
    let mut received = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while received < expected {
        if Instant::now() > deadline {
            return Err(format!("only {received} of {expected} readings arrived").into());
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message?;
        received += 1;
        *per_topic.entry(message.topic().to_string()).or_default() += 1;
        let sensor = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
        let celsius = f64::from_be_bytes(
            message
                .payload()
                .unwrap_or_default()
                .try_into()
                .map_err(|_| "value is not 8 bytes")?,
        );
        if message.topic() == HOT && hottest.as_ref().is_none_or(|(_, c)| celsius > *c) {
            hottest = Some((sensor, celsius));
        }
    }
    let took = started.elapsed();
    for (topic, n) in &per_topic {
        println!("{n:>7}  {topic}");
    }
    if let Some((sensor, celsius)) = hottest {
        println!("hottest alert: {sensor} at {celsius:.1} °C");
    }
    println!(
        "{received} readings routed in {took:.2?} ({:.0} readings/s end to end); {} dropped as out of range",
        received as f64 / took.as_secs_f64(),
        readings.len() - expected
    );
    streams.close(Duration::from_secs(30));
    drop(consumer);
    broker.shutdown()?;
    Ok(())
}
