//! Evolving frozen data: the cost of a one-leaf change to each Table 1
//! shape (and `ints`, `graph`, `chain`) by three routes, and the memory
//! held by many revisions.
//!
//! * `draft`: [`Draft`] of the frozen graph, the write, `commit` (copies
//!   the written object and the path to it, freezes only those);
//! * `deepcopy`: [`deep_copy`] of the graph (its mutable twin: a frozen
//!   graph's deep copy would share everything), the write, `freeze`;
//! * `pickle`: `pickle` + `unpickle` of the frozen graph, the write,
//!   `freeze`.
//!
//! "The leaf" is: the first string's value (`dict-int`), that student's
//! `age` (`dict-student`), item 0 (`tuple`, `ints`), the key of the
//! leftmost bottom `Node` (`binary-tree`), vertex 0's `id` (`graph`), the
//! last link's `value` (`chain`). A rebuilt tuple (`deepcopy`, `pickle`)
//! is a new tuple with the item replaced, as in Python.
//!
//! Rows: `revisions,<shape>,update,<route>` (ns per update) and
//! `revisions,<shape>,objects,draft` whose `bytes` column holds the
//! objects one draft update adds. [`memory`] builds `revisions` one-leaf
//! revisions of the binary tree in a [`Revisions`] manager and compares
//! what they hold with one copy of the tree.

use std::time::Instant;

use permafrost::diag::frozen_live;
use permafrost::{
    collect, deep_copy, freeze, pickle, unpickle, Draft, DraftError, Frozen, Node, Revisions, Value,
};

use crate::csv::Row;
use crate::measure::Stats;
use crate::report::{fmt_ns, fmt_ratio, median, Target};
use crate::shapes::{build, Input, Shape, Sizes};
use crate::sharing::rss_bytes;

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Shape sizes (as Table 1's).
    pub sizes: Sizes,
    /// Shapes to run.
    pub shapes: Vec<Shape>,
    /// Repetitions per route.
    pub runs: usize,
    /// Revisions of the binary tree for the memory measurement (1,000).
    pub revisions: usize,
}

/// The three routes, in report order.
pub const ROUTES: [&str; 3] = ["draft", "deepcopy", "pickle"];

/// Memory held by many one-leaf revisions of the binary tree.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Memory {
    /// Nodes of the tree (instances).
    pub nodes: usize,
    /// Revisions held (the original included).
    pub revisions: usize,
    /// Frozen objects of one copy (nodes and their key strings).
    pub one_copy_objects: isize,
    /// Frozen objects all revisions hold together.
    pub all_objects: isize,
    /// Resident-set growth for one copy, bytes (Linux; noisy).
    pub one_copy_rss: Option<i64>,
    /// Resident-set growth for all revisions, bytes.
    pub all_rss: Option<i64>,
    /// Median ns per revision (draft + commit + install).
    pub update_ns: f64,
}

impl Memory {
    /// All revisions' objects over one copy's.
    pub fn ratio(&self) -> f64 {
        self.all_objects as f64 / self.one_copy_objects.max(1) as f64
    }
}

/// Total steps of [`run`] (for a progress bar).
pub fn total_steps(cfg: &Config) -> u64 {
    (cfg.shapes.len() * ROUTES.len() * cfg.runs.max(1)) as u64 + 1
}

fn steps_to_leaf(shape: Shape, root: &Value) -> usize {
    match shape {
        Shape::BinaryTree => {
            let mut k = 0;
            let mut v = root.clone();
            while let Ok(left) = v.getattr("left") {
                if left.is_none() {
                    break;
                }
                v = left;
                k += 1;
            }
            k
        }
        Shape::Chain => shape_len(root, "next"),
        _ => 0,
    }
}

fn shape_len(root: &Value, attr: &str) -> usize {
    let mut k = 0;
    let mut v = root.clone();
    while let Ok(next) = v.getattr(attr) {
        if next.is_none() {
            break;
        }
        v = next;
        k += 1;
    }
    k
}

/// The one-leaf change through a draft.
fn draft_edit(shape: Shape, d: &Node<'_>, key: &str, depth: usize) -> Result<(), DraftError> {
    match shape {
        Shape::DictInt => d.set_item(Value::str(key), Value::Int(-1)),
        Shape::DictStudent => d.get_str(key)?.setattr("age", Value::Int(101)),
        Shape::Tuple => d.set(0, "changed".into()),
        Shape::Ints => d.set(0, Value::Int(-1)),
        Shape::BinaryTree | Shape::Chain => {
            let (attr, leaf) = if shape == Shape::Chain {
                ("next", "value")
            } else {
                ("left", "key")
            };
            if depth == 0 {
                return d.setattr(leaf, "changed".into());
            }
            let mut node = d.getattr(attr)?;
            for _ in 1..depth {
                node = node.getattr(attr)?;
            }
            node.setattr(leaf, "changed".into())
        }
        Shape::Graph => d.get(0)?.setattr("id", Value::Int(-1)),
    }
}

/// The same change on a mutable copy; returns the (possibly new) root.
fn plain_edit(shape: Shape, v: Value, key: &str, depth: usize) -> Value {
    let ok = "a mutable copy of the shape";
    match shape {
        Shape::DictInt => v.set_item(Value::str(key), Value::Int(-1)).expect(ok),
        Shape::DictStudent => v
            .get_str(key)
            .expect(ok)
            .expect(ok)
            .setattr("age", Value::Int(101))
            .expect(ok),
        Shape::Tuple => {
            let mut items = v.to_vec().expect(ok);
            items[0] = "changed".into();
            return Value::tuple(items);
        }
        Shape::Ints => v.set(0, Value::Int(-1)).expect(ok),
        Shape::BinaryTree | Shape::Chain => {
            let (attr, leaf) = if shape == Shape::Chain {
                ("next", "value")
            } else {
                ("left", "key")
            };
            let mut node = v.clone();
            for _ in 0..depth {
                node = node.getattr(attr).expect(ok);
            }
            node.setattr(leaf, "changed".into()).expect(ok);
        }
        Shape::Graph => v.get(0).expect(ok).setattr("id", Value::Int(-1)).expect(ok),
    }
    v
}

fn time(
    runs: usize,
    mut f: impl FnMut() -> Result<Box<dyn std::any::Any>, String>,
    tick: &mut dyn FnMut(&str),
    what: &str,
) -> Result<Stats, String> {
    let mut samples = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let out = f()?;
        samples.push(t.elapsed().as_nanos() as f64);
        drop(out);
        collect();
        tick(what);
    }
    Stats::from_samples(&samples).ok_or_else(|| "no samples".to_string())
}

/// Times the three routes on every shape.
pub fn run(cfg: &Config, tick: &mut dyn FnMut(&str)) -> (Vec<Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for &shape in &cfg.shapes {
        let n = shape.size(&cfg.sizes);
        let input = Input::new(shape, n);
        let key = input.strings.first().cloned().unwrap_or_default();
        // A frozen graph and its mutable twin (with the same, frozen, classes).
        let twin = build(&input);
        if !twin.classes.is_empty() {
            freeze(&twin.classes.iter().collect::<Vec<_>>()).expect("classes freeze");
        }
        let frozen_built = build(&input);
        frozen_built.freeze().expect("the shape freezes");
        crate::table1::register_classes(&frozen_built);
        let base: Frozen = frozen_built.root.share().expect("frozen");
        let depth = steps_to_leaf(shape, &base.value());
        drop(frozen_built);

        let mut copied = None;
        let mut walked = false;
        let draft = time(
            cfg.runs,
            || {
                let d = Draft::new(&base);
                draft_edit(shape, &d.root(), &key, depth).map_err(|e| e.to_string())?;
                let (f, report) = d.commit_report().map_err(|e| e.to_string())?;
                copied = Some(report.copied());
                walked |= report.walked_graph();
                Ok(Box::new(f))
            },
            tick,
            "draft",
        );
        let deep = time(
            cfg.runs,
            || {
                let v = deep_copy(&twin.root).map_err(|e| e.to_string())?.adopt();
                let v = plain_edit(shape, v, &key, depth);
                freeze(&[&v]).map_err(|e| e.to_string())?;
                Ok(Box::new(v.share().map_err(|e| e.to_string())?))
            },
            tick,
            "deepcopy",
        );
        let pick = time(
            cfg.runs,
            || {
                let bytes = pickle(&base.value()).map_err(|e| e.to_string())?;
                let v = unpickle(&bytes).map_err(|e| e.to_string())?;
                let v = plain_edit(shape, v, &key, depth);
                freeze(&[&v]).map_err(|e| e.to_string())?;
                Ok(Box::new(v.share().map_err(|e| e.to_string())?))
            },
            tick,
            "pickle",
        );
        for (route, stats) in [("draft", draft), ("deepcopy", deep), ("pickle", pick)] {
            match stats {
                Ok(s) => {
                    let mut r = Row::new("revisions", shape.name(), "update", route).with_stats(&s);
                    r.n = Some(n as u64);
                    rows.push(r);
                }
                Err(e) => notes.push(format!("revisions {shape} {route}: {e}")),
            }
        }
        if let Some(c) = copied {
            let mut r = Row::new("revisions", shape.name(), "objects", "draft");
            r.n = Some(n as u64);
            r.bytes = Some(c as u64);
            rows.push(r);
        }
        if walked {
            notes.push(format!(
                "revisions {shape}: the draft's commit walked the whole graph (objects on cycles, or shared sub-objects: see evolve/commit.rs)"
            ));
        }
        drop((twin, base));
        collect();
    }
    (rows, notes)
}

/// `revisions` one-leaf revisions of the `n`-key binary tree, each from
/// the one before, in a [`Revisions`] manager: what they hold against one
/// copy (frozen objects, and resident-set growth).
pub fn memory(n: usize, revisions: usize) -> Result<Memory, String> {
    collect();
    let input = Input::new(Shape::BinaryTree, n);
    let frozen0 = frozen_live();
    let rss0 = rss_bytes();
    let built = build(&input);
    built.freeze().map_err(|e| e.to_string())?;
    let base = built.root.share().map_err(|e| e.to_string())?;
    drop(built);
    let one_copy_objects = frozen_live() - frozen0;
    let rss1 = rss_bytes();
    let revs = Revisions::new();
    revs.put("tree", base).map_err(|e| e.to_string())?;
    // Leaves: walk down choosing left/right from the bits of a counter.
    let mut samples = Vec::new();
    for k in 1..revisions {
        let t = Instant::now();
        revs.update("tree", "bench", "one leaf", |d| {
            let mut bits = (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut node = d.getattr(if bits & 1 == 0 { "left" } else { "right" })?;
            loop {
                bits = bits.rotate_right(1);
                let side = if bits & 1 == 0 { "left" } else { "right" };
                match node.getattr(side) {
                    Ok(next) if !next.value().is_none() => node = next,
                    _ => break,
                }
            }
            node.setattr("key", Value::Int(k as i64))
        })
        .map_err(|e| e.to_string())?;
        samples.push(t.elapsed().as_nanos() as f64);
    }
    let all_objects = frozen_live() - frozen0;
    let rss2 = rss_bytes();
    let stats = Stats::from_samples(&samples).unwrap_or(Stats {
        runs: 0,
        median_ns: 0.0,
        min_ns: 0.0,
        max_ns: 0.0,
    });
    let m = Memory {
        nodes: n,
        revisions: revs.len("tree"),
        one_copy_objects,
        all_objects,
        one_copy_rss: rss0.zip(rss1).map(|(a, b)| b - a),
        all_rss: rss0.zip(rss2).map(|(a, b)| b - a),
        update_ns: stats.median_ns,
    };
    drop(revs);
    collect();
    Ok(m)
}

/// The suite's targets (issue 12): the tree update against deep copy, and
/// the memory of many revisions against one copy.
pub fn targets(rows: &[Row], memory: Option<&Memory>) -> Vec<Target> {
    let tree = Shape::BinaryTree.name();
    let draft = median(rows, "revisions", tree, "update", "draft");
    let deep = median(rows, "revisions", tree, "update", "deepcopy");
    let speedup = match (draft, deep) {
        (Some(d), Some(c)) if d > 0.0 => Some(c / d),
        _ => None,
    };
    let n = rows
        .iter()
        .find(|r| r.suite == "revisions" && r.workload == tree)
        .and_then(|r| r.n)
        .unwrap_or(0);
    let mut out = vec![Target {
        text: "revisions: a one-leaf update of the binary tree by draft + commit is at least \
               1,000x cheaper than deep copy + change + freeze"
            .into(),
        measured: match (speedup, draft, deep) {
            (Some(s), Some(d), Some(c)) => {
                format!("n={n}: {} vs {}: {}", fmt_ns(d), fmt_ns(c), fmt_ratio(s))
            }
            _ => "–".into(),
        },
        met: speedup.map(|s| s >= 1000.0),
    }];
    out.push(Target {
        text: "revisions: 1,000 one-leaf revisions of the binary tree hold under 1.1x the \
               memory of one copy"
            .into(),
        measured: memory.map_or("–".into(), |m| {
            format!(
                "{} revisions of {} nodes: {} frozen objects vs {} ({:.3}x){}",
                m.revisions,
                m.nodes,
                m.all_objects,
                m.one_copy_objects,
                m.ratio(),
                match (m.all_rss, m.one_copy_rss) {
                    (Some(a), Some(o)) if o > 0 => format!(
                        "; resident set +{:.1} MiB vs +{:.1} MiB ({:.3}x, noisy)",
                        a as f64 / 1048576.0,
                        o as f64 / 1048576.0,
                        a as f64 / o as f64
                    ),
                    _ => String::new(),
                }
            )
        }),
        met: memory.map(|m| m.ratio() < 1.1),
    });
    out
}

/// The report's section.
pub fn section(w: &mut String, rows: &[Row], memory: Option<&Memory>) {
    use std::fmt::Write as _;
    if !rows.iter().any(|r| r.suite == "revisions") && memory.is_none() {
        return;
    }
    let _ = writeln!(
        w,
        "## Revisions: changing one leaf of a frozen graph (median)\n\n\
         draft = `Draft` + write + `commit`; deepcopy = `deep_copy` of the mutable twin + write + \
         `freeze`; pickle = `pickle` + `unpickle` + write + `freeze`. Objects = objects one draft \
         update adds (the copies).\n"
    );
    let _ = writeln!(
        w,
        "| shape | n | draft | deepcopy | pickle | deepcopy / draft | pickle / draft | objects |\n|---|---|---|---|---|---|---|---|"
    );
    let mut shapes: Vec<&str> = Vec::new();
    for r in rows.iter().filter(|r| r.suite == "revisions") {
        if !shapes.contains(&r.workload.as_str()) {
            shapes.push(&r.workload);
        }
    }
    for s in shapes {
        let m = |route| median(rows, "revisions", s, "update", route);
        let (d, c, p) = (m("draft"), m("deepcopy"), m("pickle"));
        let cell = |x: Option<f64>| x.map_or("–".into(), fmt_ns);
        let ratio = |a: Option<f64>| match (a, d) {
            (Some(a), Some(d)) if d > 0.0 => fmt_ratio(a / d),
            _ => "–".into(),
        };
        let find = |op: &str| {
            rows.iter()
                .find(|r| r.suite == "revisions" && r.workload == s && r.op == op)
        };
        let n = find("update")
            .and_then(|r| r.n)
            .map_or("–".into(), |n| n.to_string());
        let objects = find("objects")
            .and_then(|r| r.bytes)
            .map_or("–".into(), |b| b.to_string());
        let _ = writeln!(
            w,
            "| {s} | {n} | {} | {} | {} | {} | {} | {objects} |",
            cell(d),
            cell(c),
            cell(p),
            ratio(c),
            ratio(p)
        );
    }
    let _ = writeln!(
        w,
        "\nA draft copies each object on the written path shallowly, so flat containers are \
         copied whole: the one-key change to `dict-int` and `dict-student` copies the dict's \
         table (n slots), `tuple` and `ints` copy their n items, and `chain` copies every link \
         above the last one (the path is the whole chain). Only nested shapes (`binary-tree`) get \
         the O(depth) update. `graph` is one big cycle: its commit must walk the graph to find \
         every path to the changed vertex (evolve/commit.rs). A persistent representation \
         (a HAMT for dicts, an RRB vector for lists) would make these O(log n) per change at the \
         price of slower reads and a different memory layout; this crate keeps Python's flat \
         tables.\n"
    );
    if let Some(m) = memory {
        let _ = writeln!(
            w,
            "Memory: {} revisions of the {}-key binary tree, each one leaf changed from the one \
             before, hold {} frozen objects against {} for one copy ({:.3}x); one revision took \
             {} (median, draft + commit + install).\n",
            m.revisions,
            m.nodes,
            m.all_objects,
            m.one_copy_objects,
            m.ratio(),
            fmt_ns(m.update_ns)
        );
    }
}
