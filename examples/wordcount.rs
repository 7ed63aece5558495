//! Word count, the "hello world" of stream processing, like Kafka Streams' `WordCountDemo`.
//!
//! Reads lines of text from the topic `streams-plaintext-input`, splits them into lowercase
//! words, counts each word and writes every updated count to `streams-wordcount-output`.
//!
//! The counts live in a RocksDB state store named `counts`, whose every change is also
//! written to the changelog topic `wordcount-counts-changelog`. Until Rill's runtime lands, the
//! example runs the topology through the `TopologyTestDriver`; the topology itself does not
//! change when it moves onto a broker.
//!
//! ```text
//! cargo run --example wordcount                 # the built-in sample text
//! cargo run --example wordcount -- notes.txt    # any text file
//! some-command | cargo run --example wordcount -- -   # standard input
//! ```

use std::io::Read;

use rill::prelude::*;

const INPUT_TOPIC: &str = "streams-plaintext-input";
const OUTPUT_TOPIC: &str = "streams-wordcount-output";

const SAMPLE: &str = "\
all streams lead to kafka
hello kafka streams
join kafka summit
the quick brown fox jumps over the lazy dog
streams of data flow like streams of water
a rill is a small stream";

/// The word-count topology.
fn topology() -> rill::Result<Topology> {
    let builder = StreamsBuilder::new();
    builder
        .stream(
            INPUT_TOPIC,
            Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
        )
        .flat_map_values(|line: &String| {
            line.split(|c: char| !c.is_alphanumeric())
                .filter(|word| !word.is_empty())
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .group_by(
            |_, word| word.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_("counts"))
        .to_stream()
        .to(
            OUTPUT_TOPIC,
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    builder.build()
}

/// The text to count: the sample, a file, or standard input (`-`). Bytes that are not UTF-8
/// become U+FFFD rather than stopping the count.
fn read_input() -> std::io::Result<String> {
    let bytes = match std::env::args().nth(1).as_deref() {
        None => return Ok(SAMPLE.to_string()),
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes)?;
            bytes
        }
        Some(path) => std::fs::read(path)?,
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("wordcount: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let text = read_input().map_err(|e| format!("cannot read the input text: {e}"))?;
    let topology = topology()?;
    println!("{}", topology.describe());

    let driver = TopologyTestDriver::with_config(topology, StreamsConfig::new("wordcount")?, 0)?;
    let lines = driver.create_input_topic(
        INPUT_TOPIC,
        Serdes::option(Serdes::string()),
        Serdes::string(),
    );
    let counts = driver.create_output_topic(
        OUTPUT_TOPIC,
        Serdes::string(),
        Serdes::option(Serdes::i64()),
    );
    let mut line_count = 0;
    for line in text.lines() {
        lines.try_pipe_input(None::<String>, line)?;
        line_count += 1;
    }
    let updates = counts.queue_size();
    let totals = counts.read_key_values_to_map();

    let mut top: Vec<(String, i64)> = totals
        .into_iter()
        .filter_map(|(word, count)| Some((word, count?)))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!(
        "{line_count} lines, {updates} count updates, {} distinct words",
        top.len()
    );
    println!("{:>6}  word", "count");
    for (word, count) in top.iter().take(10) {
        println!("{count:>6}  {word}");
    }
    Ok(())
}
