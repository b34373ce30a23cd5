//! A three-stage pipeline on workers: producer -> transformer -> consumer.
//!
//! Each stage builds what it passes on in its own heap, freezes it, and
//! hands it to the next stage by reference over a bounded channel (so a
//! slow stage holds the faster ones back). Nothing is ever copied between
//! stages, and no stage can change what an earlier stage made: the
//! transformer tries once, and is refused.
//!
//! * producer: batches of `Reading` instances (sensor id + a buffer of
//!   samples), frozen per batch;
//! * transformer: one `Summary` per reading (sensor, mean, peak), frozen
//!   per batch;
//! * consumer: totals per sensor, returned to `main` when the stream ends.
//!
//! ```text
//! cargo run --release --example pipeline
//! cargo run --release --example pipeline -- --batches 2000 --batch 100
//! cargo run --release --example pipeline -- --small     # or PERMAFROST_SMALL=1
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use permafrost::{bounded, freeze, is_frozen, Error, Frozen, Mode, Runtime, Value};

const SENSORS: i64 = 8;
const SAMPLES: usize = 32;

/// Run sizes, from the command line.
struct Config {
    batches: usize,
    batch: usize,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let small = args.iter().any(|a| a == "--small")
        || std::env::var("PERMAFROST_SMALL").is_ok_and(|v| !v.is_empty() && v != "0");
    let num = |flag: &str| -> Option<usize> {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1)?.parse().ok()
    };
    Config {
        batches: num("--batches").unwrap_or(if small { 50 } else { 2_000 }),
        batch: num("--batch").unwrap_or(100).max(1),
    }
}

/// Makes a class and freezes it. Classes are `Explicit` in PEP 795, so they
/// are frozen directly, once, before any instance is.
fn frozen_class(name: &str) -> Frozen {
    let class = Value::class(name, vec![], vec![]).unwrap();
    freeze(&[&class]).unwrap();
    class.share().unwrap()
}

/// A deterministic sample value (no RNG needed): sensor `s` reads values
/// in `0..=s+1`.
fn sample(seq: usize, k: usize) -> f64 {
    let sensor = (seq as i64 % SENSORS) as f64;
    let x = (seq * 31 + k * 17) % 101;
    (sensor + 1.0) * x as f64 / 100.0
}

/// The transformer's work on one reading.
fn summarise(summary_class: &Value, reading: &Value) -> Result<Value, Error> {
    let sensor = reading.getattr("sensor")?;
    let (mean, peak) = reading.getattr("samples")?.with_buffer(|s| {
        let sum: f64 = s.iter().sum();
        (
            sum / s.len() as f64,
            s.iter().cloned().fold(f64::MIN, f64::max),
        )
    })?;
    summary_class.instantiate(vec![
        ("sensor", sensor),
        ("mean", mean.into()),
        ("peak", peak.into()),
    ])
}

fn main() {
    let c = config();
    println!(
        "pipeline: {} batches x {} readings x {} samples",
        c.batches, c.batch, SAMPLES
    );
    let reading_class = frozen_class("Reading");
    let summary_class = frozen_class("Summary");

    let rt = Runtime::new();
    // Bounded channels: at most 4 batches in flight between two stages.
    let (to_transformer, transformer_in) = bounded(4);
    let (to_consumer, consumer_in) = bounded(4);

    let t = Instant::now();
    let (batches, batch) = (c.batches, c.batch);
    let producer = rt.spawn("producer", move |_ctx| {
        let cls = reading_class.value();
        let mut seq = 0;
        for _ in 0..batches {
            let readings: Vec<Value> = (0..batch)
                .map(|_| {
                    seq += 1;
                    let samples = (0..SAMPLES).map(|k| sample(seq, k)).collect();
                    cls.instantiate(vec![
                        ("sensor", Value::Int(seq as i64 % SENSORS)),
                        ("seq", Value::Int(seq as i64)),
                        ("samples", Value::buffer(samples)),
                    ])
                    .unwrap()
                })
                .collect();
            let batch = Value::list(readings);
            // Freeze, then pass on by reference: O(1) whatever the size.
            freeze(&[&batch]).unwrap();
            to_transformer.send(batch, Mode::Share).unwrap();
        }
        seq // dropping `to_transformer` ends the transformer's loop
    });

    let transformer = rt.spawn("transformer", move |_ctx| {
        let cls = summary_class.value();
        let mut refused = None;
        let mut n = 0;
        while let Ok(batch) = transformer_in.recv() {
            // The batch is the producer's own objects, frozen: reading is
            // free, writing is refused (shown once).
            if refused.is_none() {
                let r = batch.get(0).unwrap();
                refused = Some(r.setattr("sensor", Value::Int(-1)).unwrap_err().to_string());
            }
            let out: Vec<Value> = batch
                .to_vec()
                .unwrap()
                .iter()
                .map(|r| summarise(&cls, r).unwrap())
                .collect();
            n += out.len();
            let out = Value::list(out);
            freeze(&[&out]).unwrap();
            to_consumer.send(out, Mode::Share).unwrap();
        }
        (n, refused.unwrap_or_default())
    });

    let consumer = rt.spawn("consumer", move |_ctx| {
        // sensor -> (count, sum of means, highest peak)
        let mut totals: BTreeMap<i64, (usize, f64, f64)> = BTreeMap::new();
        while let Ok(batch) = consumer_in.recv() {
            assert!(is_frozen(&batch));
            for s in batch.to_vec().unwrap() {
                let e = totals
                    .entry(s.getattr("sensor").unwrap().as_int().unwrap())
                    .or_insert((0, 0.0, f64::MIN));
                e.0 += 1;
                e.1 += s.getattr("mean").unwrap().as_float().unwrap();
                e.2 = e.2.max(s.getattr("peak").unwrap().as_float().unwrap());
            }
        }
        totals
    });

    let produced = producer.join().unwrap();
    let (transformed, refused) = transformer.join().unwrap();
    let totals = consumer.join().unwrap();
    let took = t.elapsed();

    let consumed: usize = totals.values().map(|t| t.0).sum();
    assert_eq!(produced, c.batches * c.batch);
    assert_eq!(transformed, produced);
    assert_eq!(consumed, produced);
    println!("transformer tried to change a reading: {refused}");
    for (sensor, (n, mean_sum, peak)) in &totals {
        println!(
            "  sensor {sensor}: {n:>7} readings, average mean {:.3}, peak {peak:.1}",
            mean_sum / *n as f64
        );
    }
    println!(
        "{} readings through 3 stages in {:.1} ms ({:.0} readings/s), all frozen, none copied",
        consumed,
        took.as_secs_f64() * 1e3,
        consumed as f64 / took.as_secs_f64()
    );
    for r in rt.shutdown() {
        assert_eq!(r.heap_live, 0, "{} leaked objects", r.name);
    }
}
