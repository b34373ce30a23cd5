//! Transfer: a graph sent to another worker by `share` (frozen, by
//! reference), `pickle` (bytes, rebuilt mutable in the receiver's heap) and
//! `copy` (a detached deep copy adopted by the receiver's heap) and `move`
//! (the sender's own isolated graph, re-homed in the receiver's heap with
//! nothing copied).
//!
//! Timed: from just before the sender makes the message (share / pickle /
//! deep copy) until the receiver has the graph in its heap and has read its
//! first element (send + receive + first read). The receiver reports the
//! instant it finished reading; it drops what it got and acknowledges
//! before the next send, outside the clock.
//!
//! Graphs: `int` is one immediate (`Value::Int`), the baseline of the
//! "independent of size" target; `lists` of `n` objects is a list holding
//! `n - 1` one-element lists `[i]`, all mutable before the run (frozen
//! before the clock starts for `share`; built afresh outside the clock
//! before every `move`, which gives the graph away).
//!
//! The receiver ([`Peer`]) is a worker of this runtime
//! ([`permafrost::Runtime`]), and the graphs travel through its inbox with
//! the runtime's `Sender::send` in each `Mode`; only the
//! receiver's "done reading" instant comes back on a `std::sync::mpsc`
//! channel.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use permafrost::{collect, freeze, pickle, Mode, RecvError, Runtime, Sender, Value, WorkerHandle};

use crate::csv::Row;
use crate::measure::Stats;

/// Transfer modes, in report order.
pub const MODES: [&str; 4] = ["share", "pickle", "copy", "move"];

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Object counts of the `lists` graphs (1, 1,000, 1,000,000 by default).
    pub sizes: Vec<usize>,
    /// Repetitions for pickle and copy of graphs above 1,000 objects.
    pub runs: usize,
    /// Repetitions for everything else (share at any size, small graphs).
    pub small_reps: usize,
}

/// The `lists` graph of `n` objects: a list of `n - 1` lists `[i]`.
pub fn lists(n: usize) -> Value {
    Value::list(
        (0..n.saturating_sub(1) as i64)
            .map(|i| Value::list(vec![Value::Int(i)]))
            .collect(),
    )
}

/// The receiver's first read: the first element (of the first element).
pub fn first_read(v: &Value) -> i64 {
    if let Some(i) = v.as_int() {
        return i;
    }
    match v.get(0) {
        Ok(inner) => inner.get(0).ok().and_then(|x| x.as_int()).unwrap_or(-1),
        Err(_) => -1,
    }
}

/// A receiving worker of this runtime ([`Runtime::spawn`]: a thread with
/// its own heap) that takes graphs from its inbox in whatever mode they
/// were sent, reads their first element, reports when it was done
/// reading, then drops what it got (and collects cycles) before it takes
/// the next message.
pub struct Peer {
    rt: Option<Runtime>,
    worker: Option<WorkerHandle<()>>,
    to: Option<Sender>,
    done: mpsc::Receiver<Result<Instant, String>>,
}

impl Default for Peer {
    fn default() -> Self {
        Peer::spawn()
    }
}

impl Peer {
    /// Starts the receiving worker.
    pub fn spawn() -> Peer {
        let rt = Runtime::new();
        let (tx, done) = mpsc::channel::<Result<Instant, String>>();
        let worker = rt.spawn("transfer-receiver", move |ctx| loop {
            let reply = match ctx.recv() {
                Ok(v) => {
                    std::hint::black_box(first_read(&v));
                    let t = Instant::now();
                    drop(v);
                    Ok(t)
                }
                Err(RecvError::Disconnected) => break,
                Err(e) => Err(format!("{e:?}")),
            };
            collect();
            if tx.send(reply).is_err() {
                break;
            }
        });
        Peer {
            rt: Some(rt),
            to: Some(worker.sender()),
            worker: Some(worker),
            done,
        }
    }

    /// Sends `v` by `mode` (`share`, `pickle` or `copy`; share needs a
    /// frozen `v`) and waits until the receiver is done with it. Returns
    /// the time from before the message was made (pickling and copying
    /// happen in the send) to the receiver's first read.
    pub fn transfer(&self, v: &Value, mode: &str) -> Result<Duration, String> {
        let to = self.to.as_ref().expect("open until dropped");
        let t0 = Instant::now();
        let sent = match mode {
            "share" => to
                .send(v.clone(), Mode::Share)
                .map_err(|e| format!("{e:?}")),
            "pickle" => to
                .send(v.clone(), Mode::Pickle)
                .map_err(|e| format!("{e:?}")),
            "copy" => to.send(v.clone(), Mode::Copy).map_err(|e| format!("{e:?}")),
            other => Err(format!("unknown transfer mode {other:?}")),
        };
        sent?;
        self.wait(t0)
    }

    /// Moves `v` (its only handle: the graph is given away) and waits as
    /// [`transfer`](Peer::transfer) does.
    pub fn transfer_moved(&self, v: Value) -> Result<Duration, String> {
        let to = self.to.as_ref().expect("open until dropped");
        let t0 = Instant::now();
        to.send(v, Mode::Move).map_err(|e| format!("{e}"))?;
        self.wait(t0)
    }

    fn wait(&self, t0: Instant) -> Result<Duration, String> {
        let t1 = self
            .done
            .recv()
            .map_err(|_| "receiver gone".to_string())??;
        Ok(t1.duration_since(t0))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.to.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown();
        }
    }
}

/// Repetitions of one (graph, mode) cell.
pub fn reps(cfg: &Config, mode: &str, n: usize) -> usize {
    if mode == "share" || n <= 1000 {
        cfg.small_reps.max(1)
    } else {
        cfg.runs.max(1)
    }
}

/// Runs every (graph, mode) cell; `tick()` after each repetition.
pub fn run(cfg: &Config, tick: &mut dyn FnMut()) -> (Vec<Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let peer = Peer::spawn();
    let mut cells: Vec<(String, usize, Value)> = vec![("int".into(), 1, Value::Int(795))];
    for &n in &cfg.sizes {
        cells.push(("lists".into(), n, lists(n)));
    }
    for (workload, n, graph) in &cells {
        for mode in MODES {
            // share needs a frozen graph: freeze a twin outside the clock.
            let twin;
            let v = if mode == "share" && *workload != "int" {
                twin = lists(*n);
                freeze(&[&twin]).expect("lists freeze");
                &twin
            } else {
                graph
            };
            let mut samples = Vec::new();
            // The pickle's size, measured outside the clock.
            let bytes = if mode == "pickle" {
                pickle(v).ok().map(|b| b.len() as u64)
            } else {
                None
            };
            for _ in 0..reps(cfg, mode, *n) {
                let r = if mode == "move" {
                    // A fresh graph for each move, built outside the clock.
                    let fresh = if *workload == "int" {
                        Value::Int(795)
                    } else {
                        lists(*n)
                    };
                    peer.transfer_moved(fresh)
                } else {
                    peer.transfer(v, mode)
                };
                tick();
                match r {
                    Ok(d) => samples.push(d.as_nanos() as f64),
                    Err(e) => {
                        notes.push(format!("transfer {workload} n={n} {mode}: {e}"));
                        break;
                    }
                }
            }
            if let Some(stats) = Stats::from_samples(&samples) {
                let mut row = Row::new("transfer", workload, mode, "").with_stats(&stats);
                row.n = Some(*n as u64);
                row.bytes = bytes;
                rows.push(row);
            }
        }
    }
    (rows, notes)
}

/// Total repetitions [`run`] makes (for a progress bar).
pub fn total_steps(cfg: &Config) -> u64 {
    let mut total = 0;
    for n in std::iter::once(1).chain(cfg.sizes.iter().copied()) {
        for mode in MODES {
            total += reps(cfg, mode, n) as u64;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_have_n_objects() {
        let g = lists(10);
        assert_eq!(permafrost::diag::traverse(&g), 10);
        assert_eq!(first_read(&g), 0);
        assert_eq!(permafrost::diag::traverse(&lists(1)), 1);
    }

    #[test]
    fn every_cell_has_a_row() {
        let cfg = Config {
            sizes: vec![1, 50],
            runs: 2,
            small_reps: 3,
        };
        let mut ticks = 0;
        let (rows, notes) = run(&cfg, &mut || ticks += 1);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(rows.len(), 12);
        assert_eq!(ticks, total_steps(&cfg));
        assert!(rows
            .iter()
            .filter(|r| r.op == "pickle")
            .all(|r| r.bytes.is_some()));
    }
}
