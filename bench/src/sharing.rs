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
//! send to the last reply; CSV rows carry ns per inversion. Consumers are
//! workers of this runtime ([`Runtime::spawn`], a thread and a heap each)
//! fed through their inboxes with `share` / `send(v, Mode::Pickle)`; counts
//! come back on a `std::sync::mpsc` channel.
//!
//! Two setups ([`Setup`]). [`Setup::Queue`] (the default) is the PEP
//! team's artifact: every worker's share is `per_worker` matrices as
//! `batches` lists (200,000 as 4 x 50,000), all put on **one shared work
//! queue** (a [`permafrost::unbounded`] channel whose receiver every
//! worker holds) that workers pull from until it is closed; worker counts
//! 1, 2, 3, ... (weak scaling: the work grows with the workers); mean and
//! standard deviation over the trials beside the median.
//! [`Setup::Inboxes`] (the earlier Figure 1) sends every batch to every
//! worker's own inbox, worker counts 1, 2, 4, ...
//!
//! [`resident`] measures memory: N workers all holding one graph at once,
//! received shared or pickled.

use std::sync::mpsc;
use std::sync::{Arc, Barrier, RwLock};
use std::time::Instant;

use permafrost::diag::{frozen_live, heap_live};
use permafrost::{collect, freeze, register_class};
use permafrost::{Frozen, Mode, Runtime, Sender, Value, WorkerHandle};

use crate::csv::Row;
use crate::measure::Stats;
use crate::shapes::{count_invertible, matrix_batches, matrix_class, matrix_floats};

/// How the matrices reach the workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Setup {
    /// The PEP artifact's: one shared work queue, `batches` batches per
    /// worker.
    Queue,
    /// Every batch to every worker's inbox.
    Inboxes,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// The setup.
    pub setup: Setup,
    /// Matrices each worker receives (200,000 in the PEP).
    pub per_worker: usize,
    /// Matrices per message.
    pub batch: usize,
    /// Worker counts (1, 2, 4, ... up to twice the cores).
    pub workers: Vec<usize>,
    /// Repetitions per (mode, workers) point.
    pub runs: usize,
}

/// 1, 2, 3, ... up to `max` (the queue setup's worker counts).
pub fn every_count(max: usize) -> Vec<usize> {
    (1..=max.max(1)).collect()
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

type Finish = fn(usize, Vec<Value>, &RwLock<()>, &mpsc::Sender<Result<usize, String>>);

/// Starts `workers` consumers on `rt`; each waits at `barrier`, then
/// takes `batches` messages from its inbox and calls `each` on every one,
/// and finally calls `finish(total, held, release, reply)`.
fn consumers(
    rt: &Runtime,
    (workers, batches): (usize, usize),
    (barrier, release): (&Arc<Barrier>, &Arc<RwLock<()>>),
    reply: &mpsc::Sender<Result<usize, String>>,
    each: fn(&Value, &mut Vec<Value>) -> usize,
    finish: Finish,
) -> Vec<WorkerHandle<()>> {
    (0..workers)
        .map(|i| {
            let barrier = barrier.clone();
            let release = release.clone();
            let reply = reply.clone();
            rt.spawn(format!("consumer-{i}"), move |ctx| {
                barrier.wait();
                let mut total = 0usize;
                let mut held = Vec::new();
                for _ in 0..batches {
                    match ctx.recv() {
                        Ok(v) => total += each(&v, &mut held),
                        Err(e) => {
                            let _ = reply.send(Err(format!("{e:?}")));
                            return;
                        }
                    }
                }
                finish(total, held, &release, &reply);
            })
        })
        .collect()
}

fn send_all(m: &Matrices, mode: &str, to: &[Sender]) -> Result<(), String> {
    for b in &m.batches {
        for tx in to {
            if mode == "shared" {
                tx.share(b.clone())
                    .map_err(|_| "a consumer is gone".to_string())?;
            } else {
                tx.send(b.value(), Mode::Pickle)
                    .map_err(|e| format!("{e:?}"))?;
            }
        }
    }
    Ok(())
}

fn join_all(handles: Vec<WorkerHandle<()>>, rt: Runtime) -> Result<(), String> {
    let mut failure = Ok(());
    for h in handles {
        if let Err(e) = h.join() {
            failure = Err(format!("{e:?}"));
        }
    }
    rt.shutdown();
    failure
}

/// One timed run of `mode` ("shared" or "pickled") with `workers`
/// consumers (workers of a fresh [`Runtime`]); returns (elapsed ns, total
/// invertible counted).
pub fn run_once(m: &Matrices, mode: &str, workers: usize) -> Result<(f64, usize), String> {
    let rt = Runtime::new();
    let (reply_tx, reply_rx) = mpsc::channel::<Result<usize, String>>();
    let barrier = Arc::new(Barrier::new(workers + 1));
    let handles = consumers(
        &rt,
        (workers, m.batches.len()),
        (&barrier, &Arc::new(RwLock::new(()))),
        &reply_tx,
        |v, _| count_invertible(v),
        |total, _, _, reply| {
            let _ = reply.send(Ok(total));
        },
    );
    drop(reply_tx);
    let to: Vec<Sender> = handles.iter().map(|h| h.sender()).collect();
    barrier.wait();
    let t0 = Instant::now();
    let mut failure = send_all(m, mode, &to).err();
    let mut total = 0;
    // After a failed send some consumers wait for more: don't wait for them.
    let expect = if failure.is_some() { 0 } else { workers };
    for _ in 0..expect {
        match reply_rx.recv() {
            Ok(Ok(c)) => total += c,
            Ok(Err(e)) => failure = Some(e),
            Err(_) => {
                failure = Some("a consumer died".into());
                break;
            }
        }
    }
    let ns = t0.elapsed().as_nanos() as f64;
    drop(to);
    if let Err(e) = join_all(handles, rt) {
        failure = Some(e);
    }
    match failure {
        Some(e) => Err(e),
        None => Ok((ns, total)),
    }
}

/// One timed run of the queue setup: `workers` workers pull from one
/// shared queue holding `workers` copies of `m`'s batches (shared by
/// reference or pickled by the producer as it puts them), until the
/// producer closes it. Returns (elapsed ns, total invertible counted).
pub fn run_queue_once(m: &Matrices, mode: &str, workers: usize) -> Result<(f64, usize), String> {
    let rt = Runtime::new();
    let (work_tx, work_rx) = permafrost::unbounded();
    let (reply_tx, reply_rx) = mpsc::channel::<Result<usize, String>>();
    let barrier = Arc::new(Barrier::new(workers + 1));
    let handles: Vec<WorkerHandle<()>> = (0..workers)
        .map(|i| {
            let (barrier, reply, rx) = (barrier.clone(), reply_tx.clone(), work_rx.clone());
            rt.spawn(format!("queue-worker-{i}"), move |_| {
                barrier.wait();
                let mut total = 0;
                // Disconnected: the producer is done and the queue empty.
                let r = loop {
                    match rx.recv() {
                        Ok(v) => total += count_invertible(&v),
                        Err(permafrost::RecvError::Disconnected) => break Ok(total),
                        Err(e) => break Err(e.to_string()),
                    }
                };
                let _ = reply.send(r);
            })
        })
        .collect();
    drop((reply_tx, work_rx));
    barrier.wait();
    let t0 = Instant::now();
    let mut failure = None;
    'put: for _ in 0..workers {
        for b in &m.batches {
            let r = if mode == "shared" {
                work_tx
                    .share(b.clone())
                    .map_err(|_| "the workers are gone".to_string())
            } else {
                work_tx
                    .send(b.value(), Mode::Pickle)
                    .map_err(|e| e.to_string())
            };
            if let Err(e) = r {
                failure = Some(e);
                break 'put;
            }
        }
    }
    drop(work_tx);
    let mut total = 0;
    for _ in 0..workers {
        match reply_rx.recv() {
            Ok(Ok(c)) => total += c,
            Ok(Err(e)) => failure = Some(e),
            Err(_) => {
                failure = Some("a worker died".into());
                break;
            }
        }
    }
    let ns = t0.elapsed().as_nanos() as f64;
    if let Err(e) = join_all(handles, rt) {
        failure = Some(e);
    }
    match failure {
        Some(e) => Err(e),
        None => Ok((ns, total)),
    }
}

/// Mean and (sample) standard deviation.
pub fn mean_std(x: &[f64]) -> Option<(f64, f64)> {
    if x.is_empty() {
        return None;
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = if x.len() > 1 {
        x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Some((mean, var.sqrt()))
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
    let workload = match cfg.setup {
        Setup::Queue => "queue",
        Setup::Inboxes => "matrices",
    };
    let mut row = |mode: &str, workers: usize, per_inversion: &[f64]| {
        if let Some(stats) = Stats::from_samples(per_inversion) {
            let mut r = Row::new("sharing", workload, "throughput", mode).with_stats(&stats);
            r.n = Some(cfg.per_worker as u64);
            r.workers = Some(workers as u64);
            rows.push(r);
        }
        // Mean and standard deviation of inversions per second.
        let rates: Vec<f64> = per_inversion.iter().map(|ns| 1e9 / ns).collect();
        if let Some((mean, sd)) = mean_std(&rates) {
            for (op, x) in [("rate-mean", mean), ("rate-std", sd)] {
                let mut r = Row::new("sharing", workload, op, mode);
                r.median_ns = Some(x);
                r.runs = Some(rates.len() as u64);
                r.n = Some(cfg.per_worker as u64);
                r.workers = Some(workers as u64);
                rows.push(r);
            }
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
                let r = match cfg.setup {
                    Setup::Queue => run_queue_once(&m, mode, w),
                    Setup::Inboxes => run_once(&m, mode, w),
                };
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
    let rt = Runtime::new();
    let (reply_tx, reply_rx) = mpsc::channel::<Result<usize, String>>();
    let barrier = Arc::new(Barrier::new(workers + 1));
    // Workers hold what they got until this write lock is released.
    let release = Arc::new(RwLock::new(()));
    let hold = release.write().expect("a fresh lock");
    let handles = consumers(
        &rt,
        (workers, m.batches.len()),
        (&barrier, &release),
        &reply_tx,
        |v, held| {
            held.push(v.clone());
            0
        },
        |_, held, release, reply| {
            let _ = reply.send(Ok(heap_live()));
            drop(release.read());
            drop(held);
            collect();
        },
    );
    drop(reply_tx);
    let to: Vec<Sender> = handles.iter().map(|h| h.sender()).collect();
    barrier.wait();
    let mut failure = send_all(m, mode, &to).err();
    let mut worker_objects = 0;
    let expect = if failure.is_some() { 0 } else { workers };
    for _ in 0..expect {
        match reply_rx.recv() {
            Ok(Ok(c)) => worker_objects += c,
            Ok(Err(e)) => failure = Some(e),
            Err(_) => {
                failure = Some("a worker died".into());
                break;
            }
        }
    }
    let frozen_delta = frozen_live() - frozen0;
    let rss_delta = rss_bytes().zip(rss0).map(|(a, b)| a - b);
    drop(hold);
    drop(to);
    if let Err(e) = join_all(handles, rt) {
        failure = Some(e);
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

    #[test]
    fn the_queue_hands_out_every_batch_once() {
        // 3 workers, 4 batches each: 3 x 50 matrices counted in all.
        let m = Matrices::new(50, 13);
        assert_eq!(m.batches.len(), 4);
        for mode in ["shared", "pickled"] {
            let (_, total) = run_queue_once(&m, mode, 3).unwrap();
            assert_eq!(total, 150, "{mode}");
        }
        let (mean, sd) = mean_std(&[1.0, 3.0]).unwrap();
        assert_eq!(mean, 2.0);
        assert!((sd - 2f64.sqrt()).abs() < 1e-12);
    }
}
