//! End-to-end throughput and latency of applications on the runtime, against the embedded
//! broker in the same process (broker and application share the machine, as in the targets of
//! issue 6).
//!
//! Prints a table of records/s for (a) a stateless `filter` + `map_values`, (b) word count
//! (RocksDB store with changelog) under at-least-once, (c) the same under exactly-once v2 and
//! (d) a stream-table join (views joined with a 1,000-row table of regions),
//! and the end-to-end latency (p50/p99, from the input record's timestamp to the output record
//! arriving at a consumer) of (a) at an offered load of 10,000 records/s.
//!
//! `consumer-loop` (also in `RILL_BENCH_ONLY`) measures the choice behind the runtime's stream
//! threads: the same records read by a blocking `poll()` loop on an OS thread (what a stream
//! thread does) and by `recv().await` on a tokio task, with the same per-record work.
//!
//! Throughput: the input is produced first; the clock runs from the application reaching
//! RUNNING until it has processed every input record. For word count, "records/s" counts the
//! input lines and, separately, every record the application processed (lines plus the words
//! of the repartition topic).
//!
//! Run with `cargo bench --bench e2e`. Environment: `RILL_BENCH_RECORDS` (default 500,000
//! input records for (a), a fifth of that in lines for (b) and (c)), `RILL_BENCH_PARTITIONS`
//! (default 3), `RILL_BENCH_ONLY` (`stateless`, `join`, `alos`, `eos`, `latency` or
//! `consumer-loop`),
//! `RILL_BENCH_SET`
//! (`key=value,...` streams properties for the application, e.g.
//! `producer.linger.ms=20,consumer.fetch.wait.max.ms=10`).

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rill::prelude::*;
use rill_test_support::{embedded_broker, env_usize, now_ms, produce, word_count};
use streams_broker::BrokerHandle;

fn wanted(what: &str) -> bool {
    std::env::var("RILL_BENCH_ONLY").map_or(true, |only| only == what)
}

fn producer(bootstrap: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

fn send(producer: &ThreadedProducer<DefaultProducerContext>, topic: &str, value: &[u8], ts: i64) {
    let record = BaseRecord::<(), [u8]>::to(topic)
        .payload(value)
        .timestamp(ts);
    produce::send(producer, record).expect("record queued");
}

fn config(
    application_id: &str,
    bootstrap: &str,
    guarantee: &str,
) -> (StreamsConfig, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("state dir");
    let mut config = StreamsConfig::new(application_id).expect("config");
    config
        .set("bootstrap.servers", bootstrap)
        .unwrap()
        .set("state.dir", &dir.path().display().to_string())
        .unwrap()
        .set("processing.guarantee", guarantee)
        .unwrap();
    for property in std::env::var("RILL_BENCH_SET")
        .unwrap_or_default()
        .split(',')
    {
        if let Some((key, value)) = property.split_once('=') {
            config.set(key, value).expect("RILL_BENCH_SET property");
        }
    }
    (config, dir)
}

fn stateless(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream(
            input,
            Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
        )
        .filter(|_, v| !v.ends_with('7'))
        .map_values(|v: &String| v.to_uppercase())
        .to(
            output,
            Produced::with(Serdes::option(Serdes::string()), Serdes::string()),
        );
    builder.build().expect("topology")
}

/// (d): views (user → page) joined with a table of users' regions into (user → "page@region").
fn stream_table_join(views: &str, users: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    let regions = builder.table(
        users,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("regions"),
    );
    builder
        .stream(views, Consumed::with(Serdes::string(), Serdes::string()))
        .join(
            &regions,
            |page: &String, region: &String| format!("{page}@{region}"),
            Joined::with(Serdes::string(), Serdes::string()),
        )
        .to(output, Produced::with(Serdes::string(), Serdes::string()));
    builder.build().expect("topology")
}

/// Sends keyed records, retrying while the producer's queue is full.
fn send_keyed(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    key: &str,
    value: &str,
) {
    let record = BaseRecord::to(topic)
        .key(key.as_bytes())
        .payload(value.as_bytes())
        .timestamp(now_ms());
    produce::send(producer, record).expect("record queued");
}

/// Runs `topology` over the already produced input until it processed `expected` records;
/// returns the seconds it took from RUNNING.
fn run_to_completion(topology: Topology, config: StreamsConfig, expected: u64) -> f64 {
    let streams = KafkaStreams::new(topology, config).expect("streams");
    streams.start().expect("start");
    assert!(streams.wait_for_state(State::Running, Duration::from_secs(60)));
    let started = Instant::now();
    while streams.metrics().records_processed < expected {
        assert!(started.elapsed() < Duration::from_secs(600), "too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = started.elapsed().as_secs_f64();
    streams.close(Duration::from_secs(60));
    took
}

fn throughput(broker: &BrokerHandle, records: usize, partitions: i32) {
    let bootstrap = broker.bootstrap();
    if wanted("stateless") {
        broker.create_topic("a-in", partitions).expect("topic");
        broker.create_topic("a-out", partitions).expect("topic");
        let p = producer(&bootstrap);
        for i in 0..records {
            send(&p, "a-in", format!("value-{i:08}").as_bytes(), now_ms());
        }
        p.flush(Duration::from_secs(120)).expect("flush");
        let (config, _dir) = config("bench-a", &bootstrap, "at_least_once");
        let took = run_to_completion(stateless("a-in", "a-out"), config, records as u64);
        println!(
            "| (a) filter + map_values, at_least_once | {records} records | {:.0} records/s |",
            records as f64 / took
        );
    }
    if wanted("join") {
        const USERS: usize = 1_000;
        broker.create_topic("d-users", partitions).expect("topic");
        broker.create_topic("d-views", partitions).expect("topic");
        broker.create_topic("d-out", partitions).expect("topic");
        let p = producer(&bootstrap);
        for u in 0..USERS {
            send_keyed(
                &p,
                "d-users",
                &format!("user-{u}"),
                ["eu", "us", "asia"][u % 3],
            );
        }
        p.flush(Duration::from_secs(120)).expect("flush");
        for i in 0..records {
            send_keyed(
                &p,
                "d-views",
                &format!("user-{}", i % USERS),
                &format!("/page/{}", i % 50),
            );
        }
        p.flush(Duration::from_secs(120)).expect("flush");
        let (config, _dir) = config("bench-d", &bootstrap, "at_least_once");
        let took = run_to_completion(
            stream_table_join("d-views", "d-users", "d-out"),
            config,
            (records + USERS) as u64,
        );
        println!(
            "| (d) stream-table join, at_least_once | {records} records + {USERS} table rows | {:.0} records/s |",
            records as f64 / took
        );
    }
    let lines = records / 5;
    let text: Vec<String> = (0..lines)
        .map(|i| {
            format!(
                "the quick brown fox {} jumps over word{}",
                i % 1000,
                i % 5000
            )
        })
        .collect();
    let words_per_line = 8;
    for (name, guarantee) in [("alos", "at_least_once"), ("eos", "exactly_once_v2")] {
        if !wanted(name) {
            continue;
        }
        let (input, output) = (format!("wc-in-{name}"), format!("wc-out-{name}"));
        broker.create_topic(&input, partitions).expect("topic");
        broker.create_topic(&output, partitions).expect("topic");
        let p = producer(&bootstrap);
        for line in &text {
            send(&p, &input, line.as_bytes(), now_ms());
        }
        p.flush(Duration::from_secs(120)).expect("flush");
        let (config, _dir) = config(&format!("bench-wc-{name}"), &bootstrap, guarantee);
        let processed = (lines * (1 + words_per_line)) as u64;
        let took = run_to_completion(word_count(&input, &output), config, processed);
        println!(
            "| ({}) word count, {guarantee} | {lines} lines | {:.0} lines/s, {:.0} records/s |",
            if name == "alos" { "b" } else { "c" },
            lines as f64 / took,
            processed as f64 / took
        );
    }
}

/// Latency of (a) at 10,000 records/s; with `through_app` false, of the broker alone (the
/// consumer reads the input topic): the baseline the application adds to.
fn latency(broker: &BrokerHandle, partitions: i32, through_app: bool) {
    if !wanted("latency") {
        return;
    }
    let bootstrap = broker.bootstrap();
    let suffix = if through_app { "app" } else { "broker" };
    let (input, output) = (format!("lat-in-{suffix}"), format!("lat-out-{suffix}"));
    broker.create_topic(&input, partitions).expect("topic");
    broker.create_topic(&output, partitions).expect("topic");
    let (mut config, _dir) = config(
        &format!("bench-latency-{suffix}"),
        &bootstrap,
        "at_least_once",
    );
    config.set("consumer.fetch.wait.max.ms", "5").unwrap();
    config.set("producer.linger.ms", "1").unwrap();
    let streams = through_app.then(|| {
        let streams = KafkaStreams::new(stateless(&input, &output), config).expect("streams");
        streams.start().expect("start");
        assert!(streams.wait_for_state(State::Running, Duration::from_secs(60)));
        streams
    });
    let read_from = if through_app { &output } else { &input };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", format!("bench-latency-reader-{suffix}"))
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "5")
        .create()
        .expect("consumer");
    consumer.subscribe(&[read_from]).expect("subscribe");
    // Measure steady state: the reader must own its partitions before the first record is
    // sent, or the records of its group join (~100 ms, 1% of the run) are the p99.
    let joined = Instant::now() + Duration::from_secs(30);
    while consumer.assignment().map_or(0, |a| a.count()) < partitions as usize {
        assert!(
            Instant::now() < joined,
            "the latency reader got no assignment"
        );
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(10)) {
            panic!("the latency reader read a record before any was produced");
        }
    }
    let rate = 10_000u64;
    let seconds = 10u64;
    let producer = {
        let bootstrap = bootstrap.clone();
        let input = input.clone();
        std::thread::spawn(move || {
            let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("linger.ms", "1")
                .create()
                .expect("producer");
            let started = Instant::now();
            for i in 0..rate * seconds {
                let due = Duration::from_micros(i * 1_000_000 / rate);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
                send(&p, &input, format!("v{i}").as_bytes(), now_ms());
            }
            p.flush(Duration::from_secs(60)).expect("flush");
        })
    };
    let expected = (0..rate * seconds)
        .filter(|i| !through_app || !format!("v{i}").ends_with('7'))
        .count();
    let mut latencies = Vec::with_capacity(expected);
    let deadline = Instant::now() + Duration::from_secs(seconds + 60);
    while latencies.len() < expected && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            if let Some(ts) = m.timestamp().to_millis() {
                latencies.push(now_ms() - ts);
            }
        }
    }
    producer.join().expect("producer thread");
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "| {} at {rate} records/s offered | {} records | p50 {} ms, p99 {} ms, max {} ms |",
        if through_app {
            "(a) latency"
        } else {
            "broker alone (producer → consumer) latency"
        },
        latencies.len(),
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or(0)
    );
    if let Some(streams) = streams {
        streams.close(Duration::from_secs(30));
    }
}

/// A consumer reading `topic` from the beginning with the runtime's fetch settings.
fn loop_consumer_config(bootstrap: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("fetch.queue.backoff.ms", "10");
    config
}

/// Records/s of a blocking poll loop on an OS thread and of an async loop on a tokio task,
/// each reading the same `records` records and summing their value lengths.
fn consumer_loops(broker: &BrokerHandle, records: usize, partitions: i32) {
    if !wanted("consumer-loop") {
        return;
    }
    let bootstrap = broker.bootstrap();
    broker.create_topic("loop-in", partitions).expect("topic");
    let p = producer(&bootstrap);
    for i in 0..records {
        send(&p, "loop-in", format!("value-{i:08}").as_bytes(), now_ms());
    }
    p.flush(Duration::from_secs(120)).expect("flush");

    let blocking: BaseConsumer = loop_consumer_config(&bootstrap, "loop-blocking")
        .create()
        .expect("consumer");
    blocking.subscribe(&["loop-in"]).expect("subscribe");
    let (mut n, mut bytes, mut started) = (0usize, 0usize, None);
    while n < records {
        if let Some(Ok(m)) = blocking.poll(Duration::from_millis(100)) {
            started.get_or_insert_with(Instant::now);
            bytes += m.payload().map_or(0, <[u8]>::len);
            n += 1;
        }
    }
    let os_thread = started.map_or(0.0, |s| s.elapsed().as_secs_f64());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (async_n, async_bytes, tokio_task) = runtime.block_on(async {
        let consumer: StreamConsumer = loop_consumer_config(&bootstrap, "loop-async")
            .create()
            .expect("consumer");
        consumer.subscribe(&["loop-in"]).expect("subscribe");
        tokio::spawn(async move {
            let (mut n, mut bytes, mut started) = (0usize, 0usize, None);
            while n < records {
                if let Ok(m) = consumer.recv().await {
                    started.get_or_insert_with(Instant::now);
                    bytes += m.payload().map_or(0, <[u8]>::len);
                    n += 1;
                }
            }
            (n, bytes, started.map_or(0.0, |s| s.elapsed().as_secs_f64()))
        })
        .await
        .expect("consumer task")
    });
    assert_eq!((n, bytes), (async_n, async_bytes));
    println!(
        "| consumer loop: blocking poll on an OS thread | {records} records | {:.0} records/s |",
        records as f64 / os_thread
    );
    println!(
        "| consumer loop: recv().await on a tokio task | {records} records | {:.0} records/s |",
        records as f64 / tokio_task
    );
}

fn main() {
    let records = env_usize("RILL_BENCH_RECORDS", 500_000);
    let partitions = env_usize("RILL_BENCH_PARTITIONS", 3) as i32;
    let broker = embedded_broker(&[("group.initial.rebalance.delay.ms", "0")]);
    println!("| workload | input | throughput / latency |");
    println!("|---|---|---|");
    throughput(&broker, records, partitions);
    latency(&broker, partitions, false);
    latency(&broker, partitions, true);
    consumer_loops(&broker, records, partitions);
}
