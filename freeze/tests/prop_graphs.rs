//! Property tests over random object graphs: lists, dicts, instances and
//! tuples with random edges (cycles, shared nodes, self loops), some nodes
//! marked `No`, sometimes a class left `Explicit`, sometimes part of the
//! graph frozen beforehand. A model computes what must freeze; the tests
//! check that freeze is all-or-nothing, that error paths lead to a refused
//! object, and that dropping everything returns the live counts to where
//! they started. After every freeze the invariant checker verifies the
//! keystone and every count exactly.
//!
//! `frozen_live()` is process-global, so every test holds [`serial::lock`].

#[path = "serial/mod.rs"]
mod serial;
use serial::lock;

use std::collections::BTreeSet;

use permafrost_freeze::diag::{check_invariants_exact, frozen_live, heap_live};
use permafrost_freeze::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Dict,
    Inst,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Node(usize),
    Str(u8),
    Int(i64),
}

/// A graph description. Nodes `0..m` are mutable containers, nodes
/// `m..m + tuples.len()` tuples; model node `n = m + tuples.len()` is the
/// class every instance refers to.
#[derive(Debug, Clone)]
struct Spec {
    kinds: Vec<Kind>,
    /// Items of tuple `j`: each reduced modulo `m + j` (any mutable node or
    /// an earlier tuple).
    tuples: Vec<Vec<usize>>,
    /// Out-edges of each mutable node, in insertion order.
    edges: Vec<Vec<Target>>,
    /// Nodes marked `No` (indices below `n`).
    no: Vec<bool>,
    /// Class marked `Yes` (else it keeps its `Explicit` default).
    class_yes: bool,
    /// Frozen first, if it can be.
    pre_root: Option<usize>,
    roots: Vec<usize>,
    /// Failure property: index into the freezable reachable set to mark `No`.
    bad_pick: usize,
    /// Drop order (a permutation seed) for the drop property.
    drop_keys: Vec<u32>,
    /// Collect between drops.
    collect_every: usize,
}

impl Spec {
    fn m(&self) -> usize {
        self.kinds.len()
    }
    fn n(&self) -> usize {
        self.kinds.len() + self.tuples.len()
    }
    fn class_node(&self) -> usize {
        self.n()
    }

    fn tuple_items(&self, j: usize) -> Vec<usize> {
        let m = self.m();
        self.tuples[j].iter().map(|r| r % (m + j)).collect()
    }

    /// Out-edges of model node `i` (to other model nodes).
    fn succ(&self, i: usize) -> Vec<usize> {
        let m = self.m();
        if i == self.class_node() {
            return Vec::new();
        }
        if i >= m {
            return self.tuple_items(i - m);
        }
        let mut out: Vec<usize> = self.edges[i]
            .iter()
            .filter_map(|t| match t {
                Target::Node(j) => Some(*j),
                _ => None,
            })
            .collect();
        if self.kinds[i] == Kind::Inst {
            out.push(self.class_node());
        }
        out
    }

    fn refuses(&self, i: usize, roots: &[usize]) -> bool {
        if i == self.class_node() {
            !self.class_yes && !roots.contains(&i)
        } else {
            self.no[i]
        }
    }

    /// Unfrozen nodes reachable from `roots` (the walk stops at frozen ones).
    fn reach(&self, roots: &[usize], frozen: &BTreeSet<usize>) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = roots.to_vec();
        while let Some(i) = stack.pop() {
            if frozen.contains(&i) || !seen.insert(i) {
                continue;
            }
            stack.extend(self.succ(i));
        }
        seen
    }

    /// The model of `freeze(roots)`: the set that freezes, or `None` if it
    /// must fail.
    fn model_freeze(&self, roots: &[usize], frozen: &BTreeSet<usize>) -> Option<BTreeSet<usize>> {
        let r = self.reach(roots, frozen);
        if r.iter().any(|&i| self.refuses(i, roots)) {
            None
        } else {
            Some(r)
        }
    }
}

fn target(n: usize) -> impl Strategy<Value = Target> {
    prop_oneof![
        8 => (0..n).prop_map(Target::Node),
        1 => (0u8..4).prop_map(Target::Str),
        1 => any::<i64>().prop_map(Target::Int),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::List), Just(Kind::Dict), Just(Kind::Inst)]
}

/// Random graphs; `no_weight` is the chance (in %) of a node being `No`,
/// `class_yes_weight` the chance of the class being `Yes`.
fn spec(no_weight: u32, class_yes_weight: u32) -> impl Strategy<Value = Spec> {
    (1usize..=14, 0usize..=4)
        .prop_flat_map(move |(m, t)| {
            let n = m + t;
            (
                (
                    prop::collection::vec(kind(), m),
                    prop::collection::vec(prop::collection::vec(any::<usize>(), 0..=3), t),
                    prop::collection::vec(prop::collection::vec(target(n), 0..=4), m),
                    prop::collection::vec(prop::bool::weighted(no_weight as f64 / 100.0), n),
                    prop::bool::weighted(class_yes_weight as f64 / 100.0),
                ),
                (
                    prop::option::weighted(0.4, 0..n),
                    prop::collection::vec(0..n, 1..=2),
                    any::<usize>(),
                    prop::collection::vec(any::<u32>(), n + 1),
                    1usize..=4,
                ),
            )
        })
        .prop_map(
            |(
                (kinds, tuples, edges, no, class_yes),
                (pre_root, roots, bad_pick, drop_keys, collect_every),
            )| Spec {
                kinds,
                tuples,
                edges,
                no,
                class_yes,
                pre_root,
                roots,
                bad_pick,
                drop_keys,
                collect_every,
            },
        )
}

/// The built graph: `nodes[i]` for model node `i`, the class last.
struct Built {
    nodes: Vec<Value>,
}

impl Built {
    fn class(&self) -> &Value {
        self.nodes.last().expect("class")
    }
}

fn attr(k: usize) -> String {
    format!("a{k}")
}

fn build(s: &Spec) -> Built {
    let class = Value::class("Node", vec![], vec![]).unwrap();
    if s.class_yes {
        set_freezable(&class, Freezability::Yes).unwrap();
    }
    let mut nodes: Vec<Value> = s
        .kinds
        .iter()
        .map(|k| match k {
            Kind::List => Value::list(vec![]),
            Kind::Dict => Value::dict(),
            Kind::Inst => class.instantiate(vec![]).unwrap(),
        })
        .collect();
    for j in 0..s.tuples.len() {
        let items = s
            .tuple_items(j)
            .into_iter()
            .map(|i| nodes[i].clone())
            .collect();
        nodes.push(Value::tuple(items));
    }
    for (i, es) in s.edges.iter().enumerate() {
        for (k, t) in es.iter().enumerate() {
            let v = match *t {
                Target::Node(j) => nodes[j].clone(),
                Target::Str(b) => Value::from(format!("s{b}")),
                Target::Int(x) => Value::Int(x),
            };
            let node = &nodes[i];
            match s.kinds[i] {
                Kind::List => node.append(v).unwrap(),
                Kind::Dict => node.set_item(Value::Int(k as i64), v).unwrap(),
                Kind::Inst => node.setattr(&attr(k), v).unwrap(),
            }
        }
    }
    for (i, &no) in s.no.iter().enumerate() {
        if no {
            set_freezable(&nodes[i], Freezability::No).unwrap();
        }
    }
    nodes.push(class);
    Built { nodes }
}

fn bit(v: &Value) -> bool {
    v.as_obj().expect("object").is_frozen_bit()
}

/// Follows an error path such as `roots[1].a2[0].__class__` from the
/// roots; `None` if the path does not exist in the graph.
fn resolve(path: &str, roots: &[&Value]) -> Option<Value> {
    let (mut cur, mut rest) = if let Some(r) = path.strip_prefix("roots[") {
        let close = r.find(']')?;
        let i: usize = r[..close].parse().ok()?;
        ((*roots.get(i)?).clone(), &r[close + 1..])
    } else {
        let r = path.strip_prefix("root")?;
        if roots.len() != 1 {
            return None;
        }
        (roots[0].clone(), r)
    };
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            let k: i64 = r[..close].parse().ok()?;
            cur = match cur.type_name() {
                "list" | "tuple" => cur.get(k).ok()?,
                "dict" => cur.get_item(&Value::Int(k)).ok()?,
                _ => return None,
            };
            rest = &r[close + 1..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            cur = if name == "__class__" {
                cur.class_of().ok()?
            } else {
                if cur.type_name() != "instance" {
                    return None;
                }
                cur.getattr(name).ok()?
            };
            rest = &r[end..];
        } else {
            return None;
        }
    }
    Some(cur)
}

/// Can this node still be written?
fn writable(v: &Value) -> Result<(), Error> {
    match v.type_name() {
        "list" => {
            v.append(Value::Int(-1))?;
            v.pop(None).map(drop)
        }
        "dict" => {
            v.set_item(Value::Int(-1), Value::None)?;
            v.del_item(&Value::Int(-1)).map(drop)
        }
        "instance" => {
            v.setattr("probe", Value::None)?;
            v.delattr("probe")
        }
        "type" => v.setattr("probe", Value::None),
        _ => Ok(()), // tuples have no mutators
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    heap: usize,
    frozen: isize,
}

fn counts() -> Counts {
    Counts {
        heap: heap_live(),
        frozen: frozen_live(),
    }
}

/// What a case left behind: the graph, whether the main freeze succeeded,
/// and the model's set of frozen nodes.
struct Outcome {
    built: Built,
    ok: bool,
    frozen: BTreeSet<usize>,
}

/// Builds the graph, runs the optional pre-freeze and the main freeze, and
/// checks everything against the model. With `force_bad`, one node the
/// main freeze must reach is marked `No` first.
fn run_case(s: &Spec, force_bad: bool) -> Result<Outcome, TestCaseError> {
    let built = build(s);
    let nodes = &built.nodes;
    let mut frozen: BTreeSet<usize> = BTreeSet::new();

    if let Some(p) = s.pre_root {
        let c0 = counts();
        let want = s.model_freeze(&[p], &frozen);
        let got = freeze(&[&nodes[p]]);
        prop_assert_eq!(want.is_some(), got.is_ok(), "pre-freeze: {:?}", got);
        if let Some(set) = want {
            prop_assert_eq!(c0.heap - heap_live(), set.len());
            prop_assert_eq!(frozen_live() - c0.frozen, set.len() as isize);
            frozen.extend(set);
        } else {
            prop_assert_eq!(counts(), c0);
        }
    }

    if force_bad {
        let cand: Vec<usize> = s
            .reach(&s.roots, &frozen)
            .into_iter()
            .filter(|&i| i != s.class_node())
            .collect();
        if !cand.is_empty() {
            let i = cand[s.bad_pick % cand.len()];
            set_freezable(&nodes[i], Freezability::No).unwrap();
            let mut s2 = s.clone();
            s2.no[i] = true;
            return check_main(&s2, built, frozen);
        }
    }
    check_main(s, built, frozen)
}

fn check_main(
    s: &Spec,
    built: Built,
    mut frozen: BTreeSet<usize>,
) -> Result<Outcome, TestCaseError> {
    let nodes = &built.nodes;
    let roots: Vec<&Value> = s.roots.iter().map(|&i| &nodes[i]).collect();
    let c0 = counts();
    let want = s.model_freeze(&s.roots, &frozen);
    let got = freeze(&roots);
    // The handles in `nodes` are the only references from outside.
    let all: Vec<&Value> = nodes.iter().collect();
    if let Err(e) = check_invariants_exact(&all) {
        return Err(TestCaseError::fail(format!("after freeze ({got:?}): {e}")));
    }
    let ok = match (want, got) {
        (Some(set), Ok(())) => {
            prop_assert_eq!(c0.heap - heap_live(), set.len(), "heap count moved");
            prop_assert_eq!(frozen_live() - c0.frozen, set.len() as isize);
            frozen.extend(set);
            for (i, v) in nodes.iter().enumerate() {
                if frozen.contains(&i) {
                    prop_assert!(is_frozen(v), "node {} should be frozen", i);
                    prop_assert!(writable(v).is_err() || v.type_name() == "tuple");
                } else {
                    prop_assert!(!bit(v), "node {} frozen but unreachable", i);
                }
            }
            for r in &roots {
                prop_assert!(r.share().is_ok());
            }
            true
        }
        (None, Err(e)) => {
            prop_assert_eq!(counts(), c0, "failed freeze moved objects");
            for (i, v) in nodes.iter().enumerate() {
                prop_assert_eq!(bit(v), frozen.contains(&i), "node {} frozen bit", i);
                if !frozen.contains(&i) {
                    prop_assert!(v.type_name() == "tuple" || !is_frozen(v));
                    if let Err(w) = writable(v) {
                        return Err(TestCaseError::fail(format!("node {i} not writable: {w}")));
                    }
                } else {
                    prop_assert!(is_frozen(v));
                }
            }
            // The path leads to a refused object.
            let Some(at) = resolve(&e.path.to_string(), &roots) else {
                return Err(TestCaseError::fail(format!(
                    "path {:?} does not exist",
                    e.path
                )));
            };
            let Some(idx) = nodes.iter().position(|v| v.is(&at)) else {
                return Err(TestCaseError::fail(format!(
                    "path {:?} leads outside",
                    e.path
                )));
            };
            prop_assert!(
                s.refuses(idx, &s.roots),
                "node {} at {} is freezable",
                idx,
                e.path
            );
            let (reason, tn) = if idx == s.class_node() {
                (FreezeReason::Explicit, "type (Node)".to_string())
            } else {
                let tn = match nodes[idx].type_name() {
                    "instance" => "Node",
                    t => t,
                };
                (FreezeReason::StatusNo, tn.to_string())
            };
            prop_assert_eq!(&e.reason, &reason);
            prop_assert_eq!(&e.type_name, &tn);
            false
        }
        (want, got) => {
            return Err(TestCaseError::fail(format!(
                "model says {:?}, freeze returned {:?}",
                want.map(|s| s.len()),
                got
            )))
        }
    };
    Ok(Outcome { built, ok, frozen })
}

/// Drops the nodes in the order given by `keys`, collecting every
/// `every` drops, then collects once more.
fn drop_all(built: Built, keys: &[u32], every: usize) {
    let mut nodes: Vec<(u32, Value)> = built
        .nodes
        .into_iter()
        .enumerate()
        .map(|(i, v)| (keys.get(i).copied().unwrap_or(0), v))
        .collect();
    nodes.sort_by_key(|(k, _)| *k);
    for (i, (_, v)) in nodes.into_iter().enumerate() {
        drop(v);
        if (i + 1) % every == 0 {
            collect();
        }
    }
    collect();
}

const CASES: u32 = 1500;

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    /// (a) No node is `No`: freeze succeeds unless an instance reaches the
    /// `Explicit` class; on success exactly the reachable set is frozen,
    /// and everything dropped returns both counts to baseline.
    #[test]
    fn a_successful_freeze_freezes_reachable_and_frees(s in spec(0, 80)) {
        let _g = lock();
        let base = counts();
        let out = run_case(&s, false)?;
        drop_all(out.built, &s.drop_keys, usize::MAX);
        prop_assert_eq!(counts(), base);
    }

    /// (b) A node the freeze reaches is `No`: freeze fails, nothing new is
    /// frozen, everything stays writable, and the path names a refused
    /// object. Afterwards, with the blockers cleared, the same freeze
    /// succeeds (the rollback restored every count exactly).
    #[test]
    fn b_failed_freeze_leaves_all_mutable(s in spec(10, 50)) {
        let _g = lock();
        let base = counts();
        let out = run_case(&s, true)?;
        let built = out.built;
        if !out.ok {
            for v in &built.nodes {
                if !bit(v) {
                    unset_freezable(v).unwrap();
                }
            }
            if !bit(built.class()) {
                set_freezable(built.class(), Freezability::Yes).unwrap();
            }
            let mut s2 = s.clone();
            s2.no.iter_mut().for_each(|b| *b = false);
            s2.class_yes = true;
            let want = s2.model_freeze(&s.roots, &out.frozen).expect("nothing refuses");
            let roots: Vec<&Value> = s.roots.iter().map(|&i| &built.nodes[i]).collect();
            let c0 = counts();
            freeze(&roots).unwrap();
            prop_assert_eq!(c0.heap - heap_live(), want.len());
            prop_assert_eq!(frozen_live() - c0.frozen, want.len() as isize);
            for (i, v) in built.nodes.iter().enumerate() {
                prop_assert_eq!(bit(v), want.contains(&i) || out.frozen.contains(&i));
            }
        }
        drop_all(built, &s.drop_keys, usize::MAX);
        prop_assert_eq!(counts(), base);
    }

    /// (c) Any mix of outcomes, nodes dropped in random order with
    /// collections in between: counts return to baseline.
    #[test]
    fn c_drop_in_any_order_returns_to_baseline(s in spec(15, 50)) {
        let _g = lock();
        let base = counts();
        let out = run_case(&s, false)?;
        drop_all(out.built, &s.drop_keys, s.collect_every);
        prop_assert_eq!(counts(), base);
    }
}

#[test]
fn resolve_follows_paths() {
    // The path checker itself, on a known graph.
    let _g = lock();
    let c = Value::class("Node", vec![], vec![]).unwrap();
    let i = c.instantiate(vec![]).unwrap();
    let d = Value::dict();
    let l = Value::list(vec![Value::Int(0), i.clone()]);
    d.set_item(Value::Int(3), l.clone()).unwrap();
    let t = Value::tuple(vec![d.clone()]);
    i.setattr("a0", t.clone()).unwrap();
    assert!(resolve("root", &[&t]).unwrap().is(&t));
    assert!(resolve("root[0][3][1]", &[&t]).unwrap().is(&i));
    assert!(resolve("root[0][3][1].a0", &[&t]).unwrap().is(&t));
    assert!(resolve("roots[1][0][3][1].__class__", &[&l, &t])
        .unwrap()
        .is(&c));
    assert!(resolve("root[5]", &[&t]).is_none());
    assert!(resolve("roots[2]", &[&l, &t]).is_none());
    assert!(resolve("root.a0", &[&l]).is_none());
    i.delattr("a0").unwrap();
}
