//! Figure 1 (PEP 795, "sharing"): consumer workers each receive the same
//! `per_worker` 4x4 matrices (Matrix instances) in lists of `batch`, count
//! the invertible ones and reply with the count.
//!
//! * `shared`: the Matrix class and all batches are frozen before the clock
//!   starts (the PEP excludes freeze time); the producer sends each batch
//!   to each worker by reference ([`Frozen`]).
//! * `pickled`: the producer pickles each batch for each worker as it
//!   sends it (as a pickling channel does); the worker unpickles it into
//!   its own heap, with the class found by name in the registry.
//! * `baseline`: one thread, no messaging, counting the same matrices
//!   (mutable, never frozen).
//!
//! Throughput is inversions (matrices examined) per second, from the first
//! send to the last reply; CSV rows carry ns per inversion. Workers are
//! `std::thread`s with their own heaps, fed through `std::sync::mpsc`.
//!
//! [`resident`] measures memory: N workers all holding one graph at once,
//! received shared or pickled.

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use permafrost::{collect, freeze, frozen_live, heap_live, pickle, register_class, unpickle};
use permafrost::{Frozen, Value};

use crate::csv::Row;
use crate::measure::Stats;
use crate::shapes::{count_invertible, matrix_batches, matrix_class, matrix_floats};

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Matrices each worker receives (200,000 in the PEP).
    pub per_worker: usize,
    /// Matrices per message.
    pub batch: usize,
    /// Worker counts (1, 2, 4, ... up to twice the cores).
    pub workers: Vec<usize>,
    /// Repetitions per (mode, workers) point.
    pub runs: usize,
}

/// 1, 2, 4, ... up to `max`, and `max` itself.
pub fn worker_counts(max: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut w = 1;
    while w < max {
        v.push(w);
        w *= 2;
    }
    v.push(max.max(1));
    v
}

/// Cores available to this process.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

enum Job {
    Shared(Frozen),
    Pickled(Vec<u8>),
    Done,
}

/// The frozen batches and their class, made once.
pub struct Matrices {
    /// Frozen Matrix class (registered under "Matrix").
    pub class: Frozen,
    /// Frozen batches (lists of Matrix).
    pub batches: Vec<Frozen>,
    /// Total matrices.
    pub count: usize,
}

impl Matrices {
    /// Builds and freezes `count` matrices in batches of `batch`.
    pub fn new(count: usize, batch: usize) -> Matrices {
        let class = matrix_class();
        let floats = matrix_floats(count);
        let batches = matrix_batches(&class, &floats, batch);
        let mut roots: Vec<&Value> = batches.iter().collect();
        roots.push(&class);
        freeze(&roots).expect("matrices freeze");
        register_class("Matrix", &class).expect("a class");
        Matrices {
            class: class.share().expect("frozen"),
            batches: batches.iter().map(|b| b.share().expect("frozen")).collect(),
            count,
        }
    }
}

/// One timed run of `mode` ("shared" or "pickled") with `workers`
/// consumers; returns (elapsed ns, total invertible counted).
pub fn run_once(m: &Matrices, mode: &str, workers: usize) -> Result<(f64, usize), String> {
    let (reply_tx, reply_rx) = mpsc::channel::<Result<usize, String>>();
    let barrier = Arc::new(Barrier::new(workers + 1));
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for i in 0..workers {
        let (tx, rx) = mpsc::channel::<Job>();
        senders.push(tx);
        let reply = reply_tx.clone();
        let barrier = barrier.clone();
        handles.push(
            std::thread::Builder::new()
                .name(format!("consumer-{i}"))
                .spawn(move || {
                    barrier.wait();
                    let mut count = 0usize;
                    let mut error = None;
                    while let Ok(job) = rx.recv() {
                        match job {
                            Job::Shared(f) => count += count_invertible(&f.value()),
                            Job::Pickled(b) => match unpickle(&b) {
                                Ok(v) => count += count_invertible(&v),
                                Err(e) => error = Some(e.to_string()),
                            },
                            Job::Done => break,
                        }
                    }
                    let _ = reply.send(error.map_or(Ok(count), Err));
                    collect();
                })
                .expect("spawn a consumer"),
        );
    }
    drop(reply_tx);
    barrier.wait();
    let t0 = Instant::now();
    let mut failure = None;
    'send: for b in &m.batches {
        for tx in &senders {
            let job = if mode == "shared" {
                Job::Shared(b.clone())
            } else {
                match pickle(&b.value()) {
                    Ok(bytes) => Job::Pickled(bytes),
                    Err(e) => {
                        failure = Some(e.to_string());
                        break 'send;
                    }
                }
            };
            if tx.send(job).is_err() {
                failure = Some("a consumer is gone".into());
                break 'send;
            }
        }
    }
    for tx in &senders {
        let _ = tx.send(Job::Done);
    }
    let mut total = 0;
    for _ in 0..workers {
        match reply_rx.recv() {
            Ok(Ok(c)) => total += c,
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some("a consumer died".into()),
        }
    }
    let ns = t0.elapsed().as_nanos() as f64;
    for h in handles {
        if h.join().is_err() {
            failure = Some("a consumer panicked".into());
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok((ns, total)),
    }
}

/// The single-thread baseline: counts `count` mutable matrices; returns
/// (elapsed ns, invertible).
pub fn baseline_once(count: usize, batch: usize) -> (f64, usize) {
    let class = matrix_class();
    let batches = matrix_batches(&class, &matrix_floats(count), batch);
    let t0 = Instant::now();
    let total: usize = batches.iter().map(count_invertible).sum();
    (t0.elapsed().as_nanos() as f64, total)
}

/// Total steps of [`run`] (for a progress bar).
pub fn total_steps(cfg: &Config) -> u64 {
    ((1 + 2 * cfg.workers.len()) * cfg.runs.max(1)) as u64
}

/// Runs the baseline and both modes at every worker count.
pub fn run(cfg: &Config, tick: &mut dyn FnMut(&str)) -> (Vec<Row>, Vec<String>) {
    let runs = cfg.runs.max(1);
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut row = |mode: &str, workers: usize, per_inversion: &[f64]| {
        if let Some(stats) = Stats::from_samples(per_inversion) {
            let mut r = Row::new("sharing", "matrices", "throughput", mode).with_stats(&stats);
            r.n = Some(cfg.per_worker as u64);
            r.workers = Some(workers as u64);
            rows.push(r);
        }
    };
    let mut base = Vec::new();
    for _ in 0..runs {
        let (ns, counted) = baseline_once(cfg.per_worker, cfg.batch);
        tick("baseline");
        if counted != cfg.per_worker {
            notes.push(format!(
                "sharing baseline: {counted} of {} matrices invertible",
                cfg.per_worker
            ));
        }
        base.push(ns / cfg.per_worker as f64);
    }
    row("baseline", 1, &base);
    collect();

    let m = Matrices::new(cfg.per_worker, cfg.batch);
    for &w in &cfg.workers {
        for mode in ["shared", "pickled"] {
            let mut samples = Vec::new();
            for _ in 0..runs {
                let r = run_once(&m, mode, w);
                tick(mode);
                match r {
                    Ok((ns, _)) => samples.push(ns / (cfg.per_worker * w) as f64),
                    Err(e) => {
                        notes.push(format!("sharing {mode} x{w}: {e}"));
                        break;
                    }
                }
            }
            row(mode, w, &samples);
        }
    }
    (rows, notes)
}

/// Memory of N workers all holding one graph at once.
#[derive(Clone, Debug, PartialEq)]
pub struct Resident {
    /// "shared" or "pickled".
    pub mode: String,
    /// Workers holding the graph.
    pub workers: usize,
    /// Objects in the graph (the matrices and their buffers, the batches).
    pub graph_objects: usize,
    /// Objects the workers' heaps held, summed, while all held the graph.
    pub worker_objects: usize,
    /// Change of the process-wide frozen-object count meanwhile.
    pub frozen_delta: isize,
    /// Change of the process's resident set meanwhile (bytes), if known.
    pub rss_delta: Option<i64>,
}

/// Resident set size of this process in bytes (Linux), if known.
pub fn rss_bytes() -> Option<i64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// `workers` workers each receive all of `m`'s batches (shared or pickled)
/// and hold them until every worker has reported its heap; nothing is
/// released meanwhile.
pub fn resident(m: &Matrices, mode: &str, workers: usize) -> Result<Resident, String> {
    let graph_objects = m.count * 2 + m.batches.len();
    let frozen0 = frozen_live();
    let rss0 = rss_bytes();
    let (reply_tx, reply_rx) = mpsc::channel::<Result<usize, String>>();
    let release = Arc::new(Barrier::new(workers + 1));
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (tx, rx) = mpsc::channel::<Job>();
        let reply = reply_tx.clone();
        let release = release.clone();
        handles.push(std::thread::spawn(move || {
            let before = heap_live();
            let mut held = Vec::new();
            let mut error = None;
            while let Ok(job) = rx.recv() {
                match job {
                    Job::Shared(f) => held.push(f.value()),
                    Job::Pickled(b) => match unpickle(&b) {
                        Ok(v) => held.push(v),
                        Err(e) => error = Some(e.to_string()),
                    },
                    Job::Done => break,
                }
            }
            let _ = reply.send(error.map_or(Ok(heap_live() - before), Err));
            release.wait();
            drop(held);
            collect();
        }));
        for b in &m.batches {
            let job = if mode == "shared" {
                Job::Shared(b.clone())
            } else {
                Job::Pickled(pickle(&b.value()).map_err(|e| e.to_string())?)
            };
            tx.send(job).map_err(|_| "worker gone".to_string())?;
        }
        tx.send(Job::Done).map_err(|_| "worker gone".to_string())?;
    }
    let mut worker_objects = 0;
    let mut failure = None;
    for _ in 0..workers {
        match reply_rx.recv() {
            Ok(Ok(c)) => worker_objects += c,
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some("a worker died".into()),
        }
    }
    let frozen_delta = frozen_live() - frozen0;
    let rss_delta = rss_bytes().zip(rss0).map(|(a, b)| a - b);
    release.wait();
    for h in handles {
        let _ = h.join();
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Resident {
        mode: mode.into(),
        workers,
        graph_objects,
        worker_objects,
        frozen_delta,
        rss_delta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(worker_counts(4), vec![1, 2, 4]);
        assert_eq!(worker_counts(6), vec![1, 2, 4, 6]);
        assert_eq!(worker_counts(1), vec![1]);
    }

    #[test]
    fn both_modes_count_everything() {
        let m = Matrices::new(50, 8);
        for mode in ["shared", "pickled"] {
            let (_, total) = run_once(&m, mode, 2).unwrap();
            assert_eq!(total, 100, "{mode}");
        }
        assert_eq!(baseline_once(50, 8).1, 50);
        let s = resident(&m, "shared", 2).unwrap();
        assert_eq!(s.worker_objects, 0);
        let p = resident(&m, "pickled", 2).unwrap();
        assert_eq!(p.worker_objects, 2 * p.graph_objects);
    }
}
