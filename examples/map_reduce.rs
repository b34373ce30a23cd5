//! Map-reduce over a large frozen corpus with a [`Pool`] of workers.
//!
//! The corpus (a list of lines of text) is frozen once. Each task is a tiny
//! frozen tuple `(corpus, start, end)`: it *refers* to the corpus, so
//! handing it to a worker costs O(1) however large the corpus is. Every
//! worker counts the words of its slice and returns a dict of counts; the
//! caller merges them.
//!
//! For comparison the same slices are shipped the classic way: each slice
//! is a list of its lines, pickled to the worker and rebuilt there (and
//! once more by deep copy, which skips the byte stream).
//!
//! ```text
//! cargo run --release --example map_reduce
//! cargo run --release --example map_reduce -- --lines 400000 --workers 4 --slices 64
//! cargo run --release --example map_reduce -- --small     # or PERMAFROST_SMALL=1
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use permafrost::{freeze, Error, Mode, Pool, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Run sizes, from the command line.
struct Config {
    lines: usize,
    words_per_line: usize,
    workers: usize,
    slices: usize,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let small = args.iter().any(|a| a == "--small")
        || std::env::var("PERMAFROST_SMALL").is_ok_and(|v| !v.is_empty() && v != "0");
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let num = |flag: &str| -> Option<usize> {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1)?.parse().ok()
    };
    Config {
        lines: num("--lines").unwrap_or(if small { 5_000 } else { 200_000 }),
        words_per_line: 12,
        workers: num("--workers").unwrap_or(cores.clamp(2, 8)).max(1),
        slices: num("--slices").unwrap_or(if small { 8 } else { 32 }).max(1),
    }
}

/// A seeded corpus: `lines` lines of words drawn from a small vocabulary
/// with a skewed (roughly Zipf-like) distribution.
fn make_corpus(c: &Config) -> Value {
    let vocab: Vec<String> = (0..2_000).map(|i| format!("w{i}")).collect();
    let mut rng = StdRng::seed_from_u64(795);
    let mut line = String::new();
    let lines = (0..c.lines)
        .map(|_| {
            line.clear();
            for k in 0..c.words_per_line {
                if k > 0 {
                    line.push(' ');
                }
                // Squaring a uniform number favours the first words.
                let u: f64 = rng.gen();
                line.push_str(&vocab[(u * u * vocab.len() as f64) as usize]);
            }
            Value::from(line.as_str())
        })
        .collect();
    Value::list(lines)
}

/// The map step: word counts of `lines[start..end]` as a dict.
fn count_words(lines: &Value, start: usize, end: usize) -> Result<Value, Error> {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    let held: Vec<Value> = (start..end)
        .map(|i| lines.get(i as i64))
        .collect::<Result<_, _>>()?;
    for line in &held {
        for w in line.as_str().unwrap_or("").split(' ') {
            *counts.entry(w).or_default() += 1;
        }
    }
    let d = Value::dict();
    for (w, n) in counts {
        d.set_item(Value::from(w), Value::Int(n))?;
    }
    Ok(d)
}

/// The reduce step: merges per-slice dicts into one map.
fn merge(parts: impl IntoIterator<Item = Value>) -> HashMap<String, i64> {
    let mut total: HashMap<String, i64> = HashMap::new();
    for part in parts {
        for (w, n) in part.items().expect("a dict of counts") {
            *total.entry(w.as_str().unwrap().to_owned()).or_default() += n.as_int().unwrap();
        }
    }
    total
}

fn ranges(c: &Config) -> Vec<(usize, usize)> {
    let step = c.lines.div_ceil(c.slices);
    (0..c.lines)
        .step_by(step.max(1))
        .map(|s| (s, (s + step).min(c.lines)))
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let c = config();
    println!(
        "map_reduce: {} lines x {} words, {} slices on {} workers",
        c.lines, c.words_per_line, c.slices, c.workers
    );
    let corpus = make_corpus(&c);
    let pool = Pool::new(c.workers);
    let ranges = ranges(&c);

    // Reference answer, on this thread.
    let t = Instant::now();
    let expected = merge([count_words(&corpus, 0, c.lines).unwrap()]);
    println!(
        "one thread:          {:>8.1} ms  ({} distinct words)",
        ms(t.elapsed()),
        expected.len()
    );

    // --- Shared: freeze the corpus once; tasks refer to it. ---
    let t = Instant::now();
    freeze(&[&corpus]).unwrap();
    let freeze_time = t.elapsed();
    let t = Instant::now();
    let tasks: Vec<Value> = ranges
        .iter()
        .map(|&(s, e)| {
            // Freezing the small tuple is O(1): the walk stops at the
            // corpus, which is frozen already.
            let task = Value::tuple(vec![corpus.clone(), s.into(), e.into()]);
            freeze(&[&task]).unwrap();
            task
        })
        .collect();
    let results = pool
        .map(tasks, Mode::Share, |task| {
            let lines = task.get(0)?;
            let start = task.get(1)?.as_int().unwrap_or(0) as usize;
            let end = task.get(2)?.as_int().unwrap_or(0) as usize;
            // The result dict is frozen by the pool and shared back.
            count_words(&lines, start, end)
        })
        .unwrap();
    let shared_total = merge(results);
    let shared_time = t.elapsed();
    assert_eq!(shared_total, expected);
    println!(
        "shared corpus:       {:>8.1} ms  (freeze once: {:.1} ms; each task message is O(1))",
        ms(shared_time),
        ms(freeze_time)
    );

    // --- Pickled / copied: each slice travels as its own list. ---
    let slices: Vec<Value> = ranges
        .iter()
        .map(|&(s, e)| {
            let items = (s..e).map(|i| corpus.get(i as i64).unwrap()).collect();
            Value::list(items)
        })
        .collect();
    let pickled_bytes: usize = slices
        .iter()
        .map(|s| permafrost::pickle(s).unwrap().len())
        .sum();
    for (label, mode) in [
        ("pickled slices:", Mode::Pickle),
        ("copied slices:", Mode::Copy),
    ] {
        let t = Instant::now();
        let results = pool
            .map(slices.clone(), mode, |slice| {
                let n = slice.len()?;
                count_words(&slice, 0, n)
            })
            .unwrap();
        let total = merge(results);
        let took = t.elapsed();
        assert_eq!(total, expected);
        let extra = if mode == Mode::Pickle {
            format!("  ({:.1} MB of pickles)", pickled_bytes as f64 / 1e6)
        } else {
            String::new()
        };
        println!("{label:<20} {:>8.1} ms{extra}", ms(took));
    }

    let top = expected
        .iter()
        .max_by_key(|(w, n)| (**n, std::cmp::Reverse(*w)));
    if let Some((w, n)) = top {
        println!("most frequent word: {w} ({n} times); all modes agree");
    }
    for r in pool.shutdown() {
        assert_eq!(r.heap_live, 0, "{} leaked objects", r.name);
    }
}
