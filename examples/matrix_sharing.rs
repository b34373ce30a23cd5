//! PEP 795's Figure 1 in miniature: a producer hands batches of 4x4
//! matrices to consumer workers, which count the invertible ones and reply.
//!
//! The same matrices travel twice:
//!
//! * **shared**: the `Matrix` class and every batch are frozen, and each
//!   batch goes to its consumer by reference (O(1) per message, whatever
//!   its size). Freezing is timed separately, as in the PEP.
//! * **pickled**: the producer pickles each batch; the consumer rebuilds it
//!   (mutable) in its own heap before counting.
//!
//! Both report inversions per second (matrices checked per second), next to
//! a one-thread baseline with no messaging at all.
//!
//! ```text
//! cargo run --release --example matrix_sharing
//! cargo run --release --example matrix_sharing -- --workers 4 --matrices 200000 --batch 1000
//! cargo run --release --example matrix_sharing -- --small     # or PERMAFROST_SMALL=1
//! ```

use std::time::{Duration, Instant};

use permafrost::{freeze, register_class, unbounded, Error, Mode, Runtime, Sender, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Run sizes, from the command line.
struct Config {
    workers: usize,
    per_worker: usize,
    batch: usize,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let small = args.iter().any(|a| a == "--small")
        || std::env::var("PERMAFROST_SMALL").is_ok_and(|v| !v.is_empty() && v != "0");
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut c = if small {
        Config {
            workers: 2,
            per_worker: 2_000,
            batch: 100,
        }
    } else {
        Config {
            workers: cores.clamp(2, 8),
            per_worker: 100_000,
            batch: 1_000,
        }
    };
    let num = |flag: &str| -> Option<usize> {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1)?.parse().ok()
    };
    c.workers = num("--workers").unwrap_or(c.workers).max(1);
    c.per_worker = num("--matrices").unwrap_or(c.per_worker).max(1);
    c.batch = num("--batch").unwrap_or(c.batch).max(1);
    c
}

/// The determinant of a row-major 4x4 matrix (Gaussian elimination with
/// partial pivoting).
fn det4(m: &[f64]) -> f64 {
    let mut a = [0.0f64; 16];
    a.copy_from_slice(&m[..16]);
    let mut det = 1.0;
    for col in 0..4 {
        let pivot = (col..4)
            .max_by(|&i, &j| a[i * 4 + col].abs().total_cmp(&a[j * 4 + col].abs()))
            .unwrap_or(col);
        if a[pivot * 4 + col].abs() < 1e-12 {
            return 0.0;
        }
        if pivot != col {
            for k in 0..4 {
                a.swap(pivot * 4 + k, col * 4 + k);
            }
            det = -det;
        }
        let p = a[col * 4 + col];
        det *= p;
        for row in col + 1..4 {
            let f = a[row * 4 + col] / p;
            for k in col..4 {
                a[row * 4 + k] -= f * a[col * 4 + k];
            }
        }
    }
    det
}

/// Is this `Matrix` instance invertible? Reads its `data` buffer in place.
fn is_invertible(m: &Value) -> Result<bool, Error> {
    m.getattr("data")?.with_buffer(|b| det4(b).abs() > 1e-9)
}

/// Counts the invertible matrices in a list of them.
///
/// A shared (frozen) batch is read through a `View`: borrowed reads that
/// change no reference counts, so consumers reading the very same matrices
/// do not fight over their counts' cache lines. A pickled batch is this
/// worker's own mutable copy and is read through ordinary values.
fn count_invertible(batch: &Value) -> Result<i64, Error> {
    if let Some(view) = batch.view() {
        let mut n = 0;
        for m in view.iter() {
            let data = m.getattr("data").and_then(|d| d.buffer());
            let data = data.ok_or_else(|| Error::Other("a Matrix without data".into()))?;
            n += (det4(data).abs() > 1e-9) as i64;
        }
        return Ok(n);
    }
    let mut n = 0;
    for i in 0..batch.len()? {
        n += is_invertible(&batch.get(i as i64)?)? as i64;
    }
    Ok(n)
}

/// `count` random matrices of small integers (as floats), so that a fair
/// share of them are singular.
fn make_matrices(class: &Value, count: usize, rng: &mut StdRng) -> Vec<Value> {
    (0..count)
        .map(|_| {
            let data: Vec<f64> = (0..16).map(|_| rng.gen_range(-2i32..=2) as f64).collect();
            class
                .instantiate(vec![("data", Value::buffer(data))])
                .expect("Matrix is a class")
        })
        .collect()
}

/// Batches (lists) of matrices, one `Vec` of batches per worker.
fn make_batches(class: &Value, c: &Config, seed: u64) -> Vec<Vec<Value>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..c.workers)
        .map(|_| {
            let mut left = c.per_worker;
            let mut batches = Vec::new();
            while left > 0 {
                let n = left.min(c.batch);
                batches.push(Value::list(make_matrices(class, n, &mut rng)));
                left -= n;
            }
            batches
        })
        .collect()
}

/// Starts `n` consumers: each counts the invertible matrices of every batch
/// it receives and replies with the count (an int: an immediate, which
/// always shares).
fn start_consumers(rt: &Runtime, n: usize, replies: &Sender) -> Vec<Sender> {
    (0..n)
        .map(|i| {
            let replies = replies.clone();
            let w = rt.spawn(format!("consumer-{i}"), move |ctx| {
                while let Ok(batch) = ctx.recv() {
                    let count = count_invertible(&batch).expect("a batch of matrices");
                    drop(batch);
                    replies
                        .send(Value::Int(count), Mode::Share)
                        .expect("main listens");
                }
            });
            w.sender()
        })
        .collect()
}

fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let c = config();
    let total = c.workers * c.per_worker;
    println!(
        "matrix_sharing: {} consumers x {} matrices (batches of {}), {} cores",
        c.workers,
        c.per_worker,
        c.batch,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // The Matrix class. Classes are `Explicit` in PEP 795: freezing an
    // instance does not freeze its class implicitly, so freeze it directly
    // first. A frozen class registered by name is what unpickling looks up
    // in every worker.
    let matrix = Value::class("Matrix", vec![], vec![("size", Value::Int(4))]).unwrap();
    freeze(&[&matrix]).unwrap();
    register_class("Matrix", &matrix).unwrap();

    // Baseline: one thread, no messaging.
    let batches = make_batches(&matrix, &c, 795);
    let t = Instant::now();
    let mut expected = 0;
    for b in batches.iter().flatten() {
        expected += count_invertible(b).unwrap();
    }
    let base = t.elapsed();
    println!(
        "baseline (1 thread, no messages): {:>10.0} inversions/s  ({} of {} invertible)",
        per_sec(total, base),
        expected,
        total
    );

    // Shared: freeze every batch (timed on its own), then send references.
    let t = Instant::now();
    for b in batches.iter().flatten() {
        freeze(&[b]).unwrap();
    }
    let freeze_time = t.elapsed();
    let shared = run(&c, &batches, |tx, b| {
        tx.send(b.clone(), Mode::Share).expect("consumer listens")
    });
    assert_eq!(shared.1, expected, "shared run counted differently");
    println!(
        "shared  (by reference):           {:>10.0} inversions/s  (freeze took {:.1} ms, not counted)",
        per_sec(total, shared.0),
        freeze_time.as_secs_f64() * 1e3
    );
    drop(batches);

    // Pickled: the producer pickles each (mutable) batch, the consumer
    // unpickles it into its own heap.
    let batches = make_batches(&matrix, &c, 795);
    let pickled = run(&c, &batches, |tx, b| {
        tx.send(b.clone(), Mode::Pickle).expect("consumer listens")
    });
    assert_eq!(pickled.1, expected, "pickled run counted differently");
    println!(
        "pickled (serialised copies):      {:>10.0} inversions/s",
        per_sec(total, pickled.0)
    );
    println!(
        "shared / pickled = {:.1}x; {} invertible matrices in every mode",
        pickled.0.as_secs_f64() / shared.0.as_secs_f64(),
        expected
    );
}

/// Sends every batch to its consumer with `send`, waits for every reply and
/// returns the elapsed time and the total count.
fn run(c: &Config, batches: &[Vec<Value>], send: impl Fn(&Sender, &Value)) -> (Duration, i64) {
    let rt = Runtime::new();
    let (reply_tx, replies) = unbounded();
    let consumers = start_consumers(&rt, c.workers, &reply_tx);
    drop(reply_tx);
    let n_batches: usize = batches.iter().map(Vec::len).sum();

    let t = Instant::now();
    // Round-robin over the consumers so they all start at once.
    let longest = batches.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for (w, mine) in batches.iter().enumerate() {
            if let Some(b) = mine.get(i) {
                send(&consumers[w], b);
            }
        }
    }
    let mut count = 0;
    for _ in 0..n_batches {
        count += replies.recv().unwrap().as_int().unwrap();
    }
    let elapsed = t.elapsed();

    drop(consumers); // closes the inboxes: the consumers' loops end
    for r in rt.shutdown() {
        assert_eq!(r.heap_live, 0, "{} leaked objects", r.name);
    }
    (elapsed, count)
}
