//! The object store ([`permafrost::Store`]): what a put and a get cost, how
//! gets of the same ids scale over workers, and what spilling to disk and
//! reading back costs against a plain pickle round trip.
//!
//! * `put` (workload `lists`, n objects): `Store::put` of a fresh mutable
//!   `lists` graph (see [`crate::transfer::lists`]), built outside the
//!   clock: size estimate, freeze, seal. Into an empty unlimited store.
//! * `get`: `Store::get` of one resident id, timeout zero, in batches of
//!   [`Config::get_batch`] gets (ns per get; the pins are released outside
//!   the clock). A get is a lookup, a pin and one count increment: it must
//!   not depend on the graph's size.
//! * `throughput` (workload `ids`): `workers` workers of a [`Runtime`]
//!   each do `gets_per_worker` get + release pairs over the same
//!   [`Config::ids`] ids (one-object graphs), round robin, from a common
//!   start; ns per pair over all workers (`1e9 / ns` pairs per second).
//! * `spill`, `restore` (workload `lists`, n objects; bytes = the pickle,
//!   which is the spill file): `Store::evict` writing the resident graph
//!   out (pickle + file write, no fsync; the caller still holds the graph,
//!   so no free is timed), then `Store::get` reading it back (file read +
//!   unpickle + freeze). `pickle` and `unpickle` are the same graph's plain
//!   in-memory round trip, for comparison.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use permafrost::{collect, pickle, unpickle, ObjectId, Runtime, Store, Value};

use crate::csv::Row;
use crate::measure::Stats;
use crate::transfer::lists;

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Object counts of the put / get graphs (1 and 1,000,000 by default).
    pub sizes: Vec<usize>,
    /// Objects of the spilled graph.
    pub spill_n: usize,
    /// Repetitions of puts of large graphs, spills and restores.
    pub runs: usize,
    /// Timed batches of gets, and repetitions of small puts.
    pub small_reps: usize,
    /// Gets per timed batch.
    pub get_batch: usize,
    /// Worker counts for the throughput runs.
    pub workers: Vec<usize>,
    /// Get + release pairs per worker and run.
    pub gets_per_worker: usize,
    /// Distinct ids the throughput workers get.
    pub ids: usize,
}

/// Puts of large graphs take `runs` repetitions, small ones `small_reps`.
fn put_reps(cfg: &Config, n: usize) -> usize {
    if n <= 1000 {
        cfg.small_reps.max(1)
    } else {
        cfg.runs.max(1)
    }
}

/// Total steps of [`run`] (for a progress bar).
pub fn total_steps(cfg: &Config) -> u64 {
    let puts: usize = cfg.sizes.iter().map(|&n| put_reps(cfg, n)).sum();
    let gets = cfg.sizes.len() * cfg.small_reps.max(1);
    let thr = cfg.workers.len() * cfg.runs.max(1);
    (puts + gets + thr + cfg.runs.max(1)) as u64
}

fn row(op: &str, workload: &str, n: usize, samples: &[f64]) -> Option<Row> {
    let stats = Stats::from_samples(samples)?;
    let mut r = Row::new("store", workload, op, "").with_stats(&stats);
    r.n = Some(n as u64);
    Some(r)
}

/// Put latency of an `n`-object graph, `reps` times.
fn puts(n: usize, reps: usize, tick: &mut dyn FnMut(&str)) -> Result<Vec<f64>, String> {
    let store = Store::new();
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        let v = lists(n);
        let t = Instant::now();
        let id = store.put(&v).map_err(|e| e.to_string())?;
        samples.push(t.elapsed().as_nanos() as f64);
        store.delete(id).map_err(|e| e.to_string())?;
        drop(v);
        tick("put");
    }
    Ok(samples)
}

/// Get latency (ns per get) of a resident `n`-object graph.
fn gets(cfg: &Config, n: usize, tick: &mut dyn FnMut(&str)) -> Result<Vec<f64>, String> {
    let store = Store::new();
    let id = store.put(&lists(n)).map_err(|e| e.to_string())?;
    let batch = cfg.get_batch.max(1);
    let mut held = Vec::with_capacity(batch);
    let mut samples = Vec::new();
    for _ in 0..cfg.small_reps.max(1) {
        let t = Instant::now();
        for _ in 0..batch {
            let got = store
                .get(&[id], Duration::ZERO)
                .map_err(|e| e.to_string())?;
            held.push(got);
        }
        samples.push(t.elapsed().as_nanos() as f64 / batch as f64);
        for got in held.drain(..) {
            if got.into_iter().flatten().next().is_none() {
                return Err("a resident object was not found".into());
            }
            store.release(id).map_err(|e| e.to_string())?;
        }
        tick("get");
    }
    Ok(samples)
}

/// One throughput run: ns per get + release pair over all workers.
pub fn throughput_once(
    store: &Store,
    ids: &[ObjectId],
    workers: usize,
    per_worker: usize,
) -> Result<f64, String> {
    let rt = Runtime::new();
    let ids: Arc<[ObjectId]> = ids.into();
    let start = Arc::new(Barrier::new(workers + 1));
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let (store, ids, start) = (store.clone(), ids.clone(), start.clone());
            rt.spawn(format!("getter-{w}"), move |_ctx| -> Result<(), String> {
                start.wait();
                for k in 0..per_worker {
                    let id = ids[(k + w) % ids.len()];
                    let got = store
                        .get(&[id], Duration::ZERO)
                        .map_err(|e| e.to_string())?;
                    std::hint::black_box(&got);
                    drop(got);
                    store.release(id).map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    start.wait();
    let t = Instant::now();
    let mut failure = None;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(e.to_string()),
        }
    }
    let ns = t.elapsed().as_nanos() as f64;
    rt.shutdown();
    match failure {
        Some(e) => Err(e),
        None => Ok(ns / (workers * per_worker) as f64),
    }
}

/// Spill, restore, pickle and unpickle times of an `n`-object graph, and
/// the pickle's size.
pub fn spill_once(n: usize) -> Result<[f64; 4], String> {
    let store = Store::new();
    let v = lists(n);
    let id = store.put(&v).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let freed = store.evict(usize::MAX).map_err(|e| e.to_string())?;
    let spill = t.elapsed().as_nanos() as f64;
    if freed == 0 || store.stats().spilled != 1 {
        return Err("the graph was not spilled".into());
    }
    let t = Instant::now();
    let back = store
        .get_one(id, Duration::ZERO)
        .map_err(|e| e.to_string())?;
    let restore = t.elapsed().as_nanos() as f64;
    store.release(id).map_err(|e| e.to_string())?;
    drop(back);
    drop(store);
    let t = Instant::now();
    let bytes = pickle(&v).map_err(|e| e.to_string())?;
    let pickled = t.elapsed().as_nanos() as f64;
    let t = Instant::now();
    let again = unpickle(&bytes).map_err(|e| e.to_string())?;
    let unpickled = t.elapsed().as_nanos() as f64;
    drop(again);
    collect();
    Ok([spill, restore, pickled, unpickled])
}

/// Runs everything; `tick(op)` after each repetition.
pub fn run(cfg: &Config, tick: &mut dyn FnMut(&str)) -> (Vec<Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for &n in &cfg.sizes {
        match puts(n, put_reps(cfg, n), tick) {
            Ok(s) => rows.extend(row("put", "lists", n, &s)),
            Err(e) => notes.push(format!("store put n={n}: {e}")),
        }
        match gets(cfg, n, tick) {
            Ok(s) => rows.extend(row("get", "lists", n, &s)),
            Err(e) => notes.push(format!("store get n={n}: {e}")),
        }
    }

    throughputs(cfg, tick, &mut rows, &mut notes);

    spills(cfg, tick, &mut rows, &mut notes);
    (rows, notes)
}

/// Get + release throughput over one-object ids, per worker count.
fn throughputs(
    cfg: &Config,
    tick: &mut dyn FnMut(&str),
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) {
    let store = Store::new();
    let ids: Result<Vec<ObjectId>, _> = (0..cfg.ids.max(1) as i64)
        .map(|i| store.put(&Value::list(vec![Value::Int(i)])))
        .collect();
    match ids {
        Ok(ids) => {
            for &w in &cfg.workers {
                let mut samples = Vec::new();
                for _ in 0..cfg.runs.max(1) {
                    let r = throughput_once(&store, &ids, w, cfg.gets_per_worker.max(1));
                    tick("throughput");
                    match r {
                        Ok(ns) => samples.push(ns),
                        Err(e) => {
                            notes.push(format!("store throughput x{w}: {e}"));
                            break;
                        }
                    }
                }
                if let Some(mut r) = row("throughput", "ids", ids.len(), &samples) {
                    r.workers = Some(w as u64);
                    rows.push(r);
                }
            }
        }
        Err(e) => notes.push(format!("store throughput: {e}")),
    }
    drop(store);
}

/// Spill and restore of one graph, beside an in-memory pickle and unpickle.
fn spills(cfg: &Config, tick: &mut dyn FnMut(&str), rows: &mut Vec<Row>, notes: &mut Vec<String>) {
    let bytes = pickle(&lists(cfg.spill_n)).map(|b| b.len() as u64).ok();
    let mut samples: [Vec<f64>; 4] = Default::default();
    for _ in 0..cfg.runs.max(1) {
        let r = spill_once(cfg.spill_n);
        tick("spill");
        match r {
            Ok(t) => {
                for (s, x) in samples.iter_mut().zip(t) {
                    s.push(x);
                }
            }
            Err(e) => {
                notes.push(format!("store spill n={}: {e}", cfg.spill_n));
                break;
            }
        }
    }
    for (op, s) in ["spill", "restore", "pickle", "unpickle"]
        .iter()
        .zip(&samples)
    {
        if let Some(mut r) = row(op, "lists", cfg.spill_n, s) {
            r.bytes = bytes;
            rows.push(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_gives_a_row() {
        let cfg = Config {
            sizes: vec![1, 100],
            spill_n: 100,
            runs: 2,
            small_reps: 2,
            get_batch: 10,
            workers: vec![1, 2],
            gets_per_worker: 50,
            ids: 4,
        };
        let mut ticks = 0;
        let (rows, notes) = run(&cfg, &mut |_| ticks += 1);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(ticks, total_steps(&cfg));
        for op in [
            "put",
            "get",
            "throughput",
            "spill",
            "restore",
            "pickle",
            "unpickle",
        ] {
            assert!(rows.iter().any(|r| r.op == op), "no {op} row");
        }
        assert!(rows
            .iter()
            .filter(|r| r.op == "spill")
            .all(|r| r.bytes.is_some()));
    }
}
