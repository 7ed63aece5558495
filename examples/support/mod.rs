//! What every example shares: the command-line options Kafka Streams users expect, the
//! application configuration built from them, the embedded broker of the self-contained mode,
//! a producer for sample input, and running until SIGINT/SIGTERM against a real cluster.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rill::prelude::*;
use rill::streams_broker::{BrokerConfig, BrokerHandle, EmbeddedBroker};

/// Options every example accepts.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// Run against this Kafka cluster instead of a fresh embedded broker, until SIGINT/SIGTERM.
    #[arg(long)]
    pub bootstrap_servers: Option<String>,
    /// `application.id`: the consumer group and the prefix of internal topics (default: the
    /// example's name).
    #[arg(long)]
    pub application_id: Option<String>,
    /// `state.dir` (default: a temporary directory, removed at exit).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// `processing.guarantee`: at_least_once or exactly_once_v2.
    #[arg(long, default_value = "at_least_once")]
    pub processing_guarantee: String,
    /// Any other `StreamsConfig` property, as `KEY=VALUE` (repeatable), e.g.
    /// `--set num.stream.threads=2 --set consumer.session.timeout.ms=10000`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
}

/// Sends the runtime's warnings (or what `RUST_LOG` asks for) to standard error.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
}

/// The application's configuration from the options: `bootstrap`, and a state directory that
/// lives as long as the returned guard when none was given.
pub fn streams_config(
    args: &CommonArgs,
    default_application_id: &str,
    bootstrap: &str,
) -> Result<(StreamsConfig, Option<tempfile::TempDir>), Box<dyn std::error::Error>> {
    let application_id = args
        .application_id
        .as_deref()
        .unwrap_or(default_application_id);
    let (state_dir, guard) = match &args.state_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let temp = tempfile::Builder::new()
                .prefix(&format!("rill-{application_id}-"))
                .tempdir()?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let mut config = StreamsConfig::new(application_id)?;
    config
        .set("bootstrap.servers", bootstrap)?
        .set("processing.guarantee", &args.processing_guarantee)?
        .set("state.dir", &state_dir.display().to_string())?
        .set("commit.interval.ms", "200")?;
    for property in &args.properties {
        let (key, value) = property
            .split_once('=')
            .ok_or_else(|| format!("`--set {property}`: expected KEY=VALUE"))?;
        config.set(key, value)?;
    }
    Ok((config, guard))
}

/// What every example's `main` does: prints `topology`'s description, then runs it against
/// `--bootstrap-servers` until SIGINT/SIGTERM if given, else `embedded(topology)` (on a fresh
/// bundled broker); an error is printed as `name: error` and exits with status 1.
pub fn run_example(
    name: &str,
    application_id: &str,
    common: &CommonArgs,
    topology: rill::Result<Topology>,
    embedded: impl FnOnce(Topology) -> Result<(), Box<dyn std::error::Error>>,
) {
    init_tracing();
    let result = topology.map_err(Into::into).and_then(|topology| {
        println!("{}", topology.describe());
        match &common.bootstrap_servers {
            Some(bootstrap) => {
                let (config, _state) = streams_config(common, application_id, bootstrap)?;
                run_until_signalled(topology, config)
            }
            None => embedded(topology),
        }
    });
    if let Err(e) = result {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}

/// Against a real cluster: run `topology` until SIGINT or SIGTERM, then close cleanly.
pub fn run_until_signalled(
    topology: Topology,
    config: StreamsConfig,
) -> Result<(), Box<dyn std::error::Error>> {
    let streams = KafkaStreams::new(topology, config)?;
    streams.set_state_listener(|new, old| println!("state {old} -> {new}"));
    streams.start()?;
    // The handlers are in place before "running" is printed: whoever waits for that line (a
    // test) may signal right away.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut term, mut int) = {
        use tokio::signal::unix::{signal, SignalKind};
        let _entered = runtime.enter();
        (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        )
    };
    println!("running; Ctrl-C to stop");
    runtime.block_on(async {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    });
    println!("shutting down");
    streams.close(Duration::from_secs(30));
    let m = streams.metrics();
    println!(
        "processed {} records ({:.0} records/s)",
        m.records_processed, m.process_rate
    );
    Ok(())
}

/// A fresh embedded broker on 127.0.0.1 (any free port, temporary data directory), with
/// `topics` created (name, partitions).
pub fn embedded_broker(topics: &[(&str, i32)]) -> Result<BrokerHandle, Box<dyn std::error::Error>> {
    let mut config = BrokerConfig::default();
    config.set("group.initial.rebalance.delay.ms", "0")?;
    let broker = EmbeddedBroker::start(config)?;
    println!("embedded broker at {}", broker.bootstrap());
    for (topic, partitions) in topics {
        broker.create_topic(topic, *partitions)?;
    }
    Ok(broker)
}

/// One record to produce: key, value and, if given, its timestamp.
pub type Input<'a> = (Option<&'a [u8]>, &'a [u8], Option<i64>);

/// Produces `records` to `topic` and waits until all are acknowledged.
pub fn produce<'a>(
    bootstrap: &str,
    topic: &str,
    records: impl IntoIterator<Item = Input<'a>>,
) -> Result<(), Box<dyn std::error::Error>> {
    produce_nullable(
        bootstrap,
        topic,
        records
            .into_iter()
            .map(|(key, value, ts)| (key, Some(value), ts)),
    )
}

/// Like [`produce`], with `None` values written as tombstones (null values), for table topics.
///
/// Records are partitioned as Kafka's Java producer does (murmur2 of the key), the partitioner
/// Rill's runtime writes its internal topics with: a foreign-key join's registration topic is
/// then co-partitioned with the table topic produced here.
pub fn produce_nullable<'a>(
    bootstrap: &str,
    topic: &str,
    records: impl IntoIterator<Item = (Option<&'a [u8]>, Option<&'a [u8]>, Option<i64>)>,
) -> Result<(), Box<dyn std::error::Error>> {
    rill_test_support::produce::try_produce(bootstrap, topic, records)?;
    Ok(())
}

/// A consumer of the application's output `topics` from the beginning, as a downstream reader
/// would see them: committed records only (so that exactly-once output is read correctly).
pub fn output_reader(
    bootstrap: &str,
    group: &str,
    topics: &[&str],
) -> Result<BaseConsumer, Box<dyn std::error::Error>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()?;
    consumer.subscribe(topics)?;
    Ok(consumer)
}
