//! Table 1: every shape x {build, traverse, freeze, pickle, unpickle,
//! deepcopy, drop} in this runtime, repeated runs, min / median / max.
//!
//! What each operation times (inputs are always made outside the clock):
//!
//! * `build`: the graph from the pre-generated Rust strings (or `n`);
//! * `traverse`: [`permafrost::diag::traverse`] over a freshly built graph (the
//!   bare visit-and-mark walk, freeze's floor);
//! * `freeze`: [`permafrost::freeze`] of that same graph with its classes,
//!   right after the walk (same objects, same memory layout);
//! * `drop`: releasing the root of that frozen graph (the whole graph is
//!   freed);
//! * `pickle`: [`permafrost::pickle`] of one mutable graph (`bytes` = pickle
//!   size);
//! * `unpickle`: [`permafrost::unpickle`] of those bytes into this heap;
//! * `deepcopy`: [`permafrost::deep_copy`] plus [`permafrost::Detached::adopt`]
//!   (copy, detach, adopt in this heap).
//!
//! What an operation returns is dropped after the clock stops; cyclic
//! garbage (the `graph` shape) is collected outside the clock too.

use std::time::Instant;

use permafrost::diag::{heap_live, traverse};
use permafrost::embed::clear_local_classes;
use permafrost::{collect, pickle_with, register_class, unpickle, Codec, Value};

use crate::csv::Row;
use crate::measure::Stats;
use crate::shapes::{build, Built, Input, Shape, Sizes};

/// The operations of Table 1, in report order.
pub const OPS: [&str; 7] = [
    "build", "traverse", "freeze", "pickle", "unpickle", "deepcopy", "drop",
];

/// The operations CPython's side measures.
pub const PY_OPS: [&str; 3] = ["pickle", "unpickle", "deepcopy"];

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Sizes of the shapes.
    pub sizes: Sizes,
    /// Repetitions per operation.
    pub runs: usize,
    /// Shapes to run.
    pub shapes: Vec<Shape>,
}

/// Steps [`run_shape`] reports to its progress callback for one shape
/// (Table 1's operations, and pickle + unpickle with each other codec).
pub fn steps_per_shape(runs: usize) -> u64 {
    (runs * (OPS.len() + 2 * (Codec::ALL.len() - 1))) as u64
}

/// Registers the graph's classes under their names, so that pickles of
/// it can be rebuilt in this worker.
pub fn register_classes(built: &Built) {
    for c in &built.classes {
        let name = c.name().expect("a class");
        register_class(name, c).expect("a class");
    }
}

fn tidy(shape: Shape) {
    if shape == Shape::Graph {
        collect();
    }
}

/// Timings per operation of [`OPS`], in run order.
struct Samples(Vec<(&'static str, Vec<f64>)>);

impl Samples {
    fn new() -> Samples {
        Samples(OPS.iter().map(|op| (*op, Vec::new())).collect())
    }

    fn get(&self, op: &str) -> &[f64] {
        &self.0.iter().find(|(o, _)| *o == op).expect("known op").1
    }

    fn push_all(&mut self, op: &str, ns: &[f64]) {
        for x in ns {
            self.push(op, *x);
        }
    }

    fn push(&mut self, op: &str, ns: f64) {
        self.0
            .iter_mut()
            .find(|(o, _)| *o == op)
            .expect("known op")
            .1
            .push(ns);
    }
}

/// Runs every operation on one shape; `tick(op)` is called after each
/// timed run. Returns rows (mode `rust`) and notes on anything that failed.
pub fn run_shape(
    shape: Shape,
    sizes: &Sizes,
    runs: usize,
    tick: &mut dyn FnMut(&str),
) -> (Vec<Row>, Vec<String>) {
    let n = shape.size(sizes);
    let input = Input::new(shape, n);
    let runs = runs.max(1);
    let live_before = heap_live();
    let mut notes = Vec::new();
    let mut samples = Samples::new();

    time_build_to_drop(&input, shape, runs, &mut samples, &mut notes, tick);

    // pickle / unpickle / deepcopy of one mutable graph.
    let b = build(&input);
    register_classes(&b);
    let mut codecs = Vec::new();
    let mut bytes = None;
    for codec in Codec::ALL {
        let mut s = Samples::new();
        let b_ = time_pickle(&b.root, shape, codec, runs, &mut s, &mut notes, tick);
        codecs.push((
            codec,
            b_,
            s.get("pickle").to_vec(),
            s.get("unpickle").to_vec(),
        ));
        if codec == Codec::default() {
            bytes = b_;
            samples.push_all("pickle", s.get("pickle"));
            samples.push_all("unpickle", s.get("unpickle"));
        }
    }
    time_deep_copy(&b.root, shape, runs, &mut samples, &mut notes, tick);
    drop(b);
    clear_local_classes();
    tidy(shape);
    let leaked = heap_live().saturating_sub(live_before);
    if leaked > 0 {
        notes.push(format!(
            "{shape}: {leaked} objects still live in the bench heap after the runs"
        ));
    }

    let mut rows: Vec<Row> = samples
        .0
        .into_iter()
        .filter_map(|(op, s)| {
            let stats = Stats::from_samples(&s)?;
            let mut row = Row::new("table1", shape.name(), op, "rust").with_stats(&stats);
            row.n = Some(n as u64);
            if op == "pickle" || op == "unpickle" {
                row.bytes = bytes;
            }
            Some(row)
        })
        .collect();
    rows.extend(codec_rows(shape, n, &codecs));
    (rows, notes)
}

/// One codec's measurements: the codec, the pickle's size, and the pickle
/// and unpickle samples (ns).
type CodecRuns = (Codec, Option<u64>, Vec<f64>, Vec<f64>);

/// Rows of suite `codec`: pickle and unpickle of the shape with each
/// codec (mode = the codec's name; `bytes` = the pickle's size).
fn codec_rows(shape: Shape, n: usize, codecs: &[CodecRuns]) -> Vec<Row> {
    let mut rows = Vec::new();
    for (codec, bytes, pk, un) in codecs {
        for (op, s) in [("pickle", pk), ("unpickle", un)] {
            if let Some(stats) = Stats::from_samples(s) {
                let mut r = Row::new("codec", shape.name(), op, codec.name()).with_stats(&stats);
                r.n = Some(n as u64);
                r.bytes = *bytes;
                rows.push(r);
            }
        }
    }
    rows
}

/// build, traverse, freeze and drop, `runs` times.
fn time_build_to_drop(
    input: &Input,
    shape: Shape,
    runs: usize,
    samples: &mut Samples,
    notes: &mut Vec<String>,
    tick: &mut dyn FnMut(&str),
) {
    for _ in 0..runs {
        // Build a graph, walk it (the floor), then freeze the same graph and
        // drop it: traverse and freeze see the same objects in the same
        // places, so their ratio does not depend on where the allocator
        // put two different graphs.
        let t = Instant::now();
        let b = build(input);
        samples.push("build", t.elapsed().as_nanos() as f64);
        tick("build");
        let t = Instant::now();
        let visited = traverse(&b.root);
        samples.push("traverse", t.elapsed().as_nanos() as f64);
        tick("traverse");
        std::hint::black_box(visited);
        let t = Instant::now();
        let frozen = b.freeze();
        let ns = t.elapsed().as_nanos() as f64;
        tick("freeze");
        match frozen {
            Ok(()) => {
                samples.push("freeze", ns);
                let Built { root, classes } = b;
                let t = Instant::now();
                drop(root);
                samples.push("drop", t.elapsed().as_nanos() as f64);
                drop(classes);
            }
            Err(e) => notes.push(format!("{shape}: freeze failed: {e}")),
        }
        tick("drop");
        tidy(shape);
    }
}

/// pickle with `codec`, then unpickle the bytes, `runs` times each;
/// returns the pickle's size.
fn time_pickle(
    root: &Value,
    shape: Shape,
    codec: Codec,
    runs: usize,
    samples: &mut Samples,
    notes: &mut Vec<String>,
    tick: &mut dyn FnMut(&str),
) -> Option<u64> {
    let mut bytes = None;
    let mut data: Option<Vec<u8>> = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = pickle_with(root, codec);
        let ns = t.elapsed().as_nanos() as f64;
        tick("pickle");
        match r {
            Ok(d) => {
                samples.push("pickle", ns);
                bytes = Some(d.len() as u64);
                data = Some(d);
            }
            Err(e) => {
                notes.push(format!("{shape}: pickle ({codec}) failed: {e}"));
                break;
            }
        }
    }
    let Some(d) = &data else {
        return bytes;
    };
    for _ in 0..runs {
        let t = Instant::now();
        let r = unpickle(d);
        let ns = t.elapsed().as_nanos() as f64;
        tick("unpickle");
        match r {
            Ok(v) => {
                samples.push("unpickle", ns);
                drop(v);
                tidy(shape);
            }
            Err(e) => {
                notes.push(format!("{shape}: unpickle ({codec}) failed: {e}"));
                break;
            }
        }
    }
    bytes
}

/// deep copy (and adopt), `runs` times.
fn time_deep_copy(
    root: &Value,
    shape: Shape,
    runs: usize,
    samples: &mut Samples,
    notes: &mut Vec<String>,
    tick: &mut dyn FnMut(&str),
) {
    for _ in 0..runs {
        let t = Instant::now();
        let r = permafrost::deep_copy(root).map(permafrost::Detached::adopt);
        let ns = t.elapsed().as_nanos() as f64;
        tick("deepcopy");
        match r {
            Ok(v) => {
                samples.push("deepcopy", ns);
                drop::<Value>(v);
                tidy(shape);
            }
            Err(e) => {
                notes.push(format!("{shape}: deep copy failed: {e}"));
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_has_a_row() {
        let sizes = Sizes {
            n: 200,
            graph_n: 100,
            chain_n: 300,
        };
        for shape in Shape::ALL {
            let mut ticks = 0;
            let (rows, notes) = run_shape(shape, &sizes, 2, &mut |_| ticks += 1);
            assert!(notes.is_empty(), "{notes:?}");
            assert_eq!(ticks as u64, steps_per_shape(2));
            let ops: Vec<&str> = rows
                .iter()
                .filter(|r| r.suite == "table1")
                .map(|r| r.op.as_str())
                .collect();
            assert_eq!(ops, OPS.to_vec(), "{shape}");
            // pickle and unpickle with every codec, and the default's
            // figures are Table 1's.
            let codec = |c: Codec, op: &str| {
                rows.iter()
                    .find(|r| r.suite == "codec" && r.mode == c.name() && r.op == op)
                    .cloned()
            };
            for c in Codec::ALL {
                assert!(
                    codec(c, "pickle").is_some_and(|r| r.bytes.is_some()),
                    "{shape} {c}"
                );
                assert!(codec(c, "unpickle").is_some(), "{shape} {c}");
            }
            let t1 = rows
                .iter()
                .find(|r| r.suite == "table1" && r.op == "pickle")
                .unwrap();
            assert_eq!(
                codec(Codec::default(), "pickle").unwrap().median_ns,
                t1.median_ns
            );
            assert!(rows.iter().all(|r| r.runs == Some(2)));
            assert_eq!(rows[0].n, Some(shape.size(&sizes) as u64));
        }
    }
}
