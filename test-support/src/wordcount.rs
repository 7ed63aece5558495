//! Word count, the application most end-to-end tests run: Kafka's WordCountDemo topology,
//! seeded pseudo-random lines to feed it, and the model its output must converge to.

use std::collections::HashMap;

use streams_core::prelude::*;

/// `n` lines of seeded pseudo-random words from a vocabulary of `vocabulary` words, with
/// punctuation and mixed case that word count must see through.
pub fn random_lines(seed: u64, n: usize, vocabulary: usize) -> Vec<String> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545F4914F6CDD1D)
    };
    (0..n)
        .map(|_| {
            let words = 1 + next() % 8;
            let mut line = String::new();
            for i in 0..words {
                if i > 0 {
                    line.push_str(if next() % 5 == 0 { ", " } else { " " });
                }
                let word = format!("word{}", next() % vocabulary as u64);
                if next() % 7 == 0 {
                    line.push_str(&word.to_uppercase());
                } else {
                    line.push_str(&word);
                }
            }
            if next() % 3 == 0 {
                line.push('.');
            }
            line
        })
        .collect()
}

/// A line's words as Java's `line.toLowerCase().split("\\W+")` finds them.
pub fn words(line: &str) -> Vec<String> {
    line.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The model: each word's count over `lines`.
pub fn model(lines: &[String]) -> HashMap<String, i64> {
    let mut counts = HashMap::new();
    for line in lines {
        for word in words(line) {
            *counts.entry(word).or_default() += 1;
        }
    }
    counts
}

/// Kafka's WordCountDemo: `input` lines → word counts in store `counts` → `output` (String
/// keys, 8-byte big-endian i64 counts).
pub fn word_count(input: &str, output: &str) -> Topology {
    word_count_with(input, output, |line: &String| words(line))
}

/// [`word_count`] with `split` in place of [`words`], for tests that make the splitter do
/// more (fail once, count its calls).
pub fn word_count_with(
    input: &str,
    output: &str,
    split: impl Fn(&String) -> Vec<String> + Send + Sync + 'static,
) -> Topology {
    let builder = StreamsBuilder::new();
    count_words(
        builder.stream(
            input,
            Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
        ),
        output,
        split,
    );
    builder.build().expect("the word-count topology builds")
}

/// The counting part of [`word_count_with`], on any stream of lines: for tests that put
/// something of their own (a processor that fails, say) between the input and the count.
pub fn count_words(
    lines: KStream<Option<String>, String>,
    output: &str,
    split: impl Fn(&String) -> Vec<String> + Send + Sync + 'static,
) {
    lines
        .flat_map_values(split)
        .group_by(
            |_, word| word.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_("counts"))
        .to_stream()
        .to(
            output,
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
}
