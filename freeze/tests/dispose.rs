//! Dropping frozen graphs of every SCC shape: singletons (which the free
//! loop frees without enumerating members), self-loops, multi-member SCCs
//! and mixtures of them return every object, clear weak references to
//! their members, and keep the walk's counts exact (including after a
//! failed freeze that met internal edges).

#[path = "serial/mod.rs"]
mod serial;
use serial::lock;

use permafrost_freeze::diag::{check_invariants, check_invariants_exact, frozen_live, heap_live};
use permafrost_freeze::*;

fn node_class() -> Value {
    Value::class("N", vec![], vec![]).unwrap()
}

fn obj(class: &Value, a: Value, b: Value) -> Value {
    class.instantiate(vec![("f1", a), ("f2", b)]).unwrap()
}

/// A balanced tree of `depth` levels: every node its own SCC.
fn tree(class: &Value, depth: u32) -> Value {
    if depth == 0 {
        return Value::None;
    }
    obj(class, tree(class, depth - 1), tree(class, depth - 1))
}

/// Graphs of each SCC shape, each with the objects and SCCs the freeze
/// must make (not counting the class).
fn shapes(class: &Value) -> Vec<(&'static str, Value, usize, usize)> {
    let mut out = Vec::new();
    // Singletons: a tree and a chain of instances, strings inside.
    out.push(("tree", tree(class, 8), 255, 255));
    let mut head = Value::None;
    for i in 0..1000 {
        head = obj(class, Value::from(format!("s{i}").as_str()), head);
    }
    out.push(("chain", head, 2000, 2000));
    // A singleton with a self-loop: its internal edge is uncounted.
    let s = obj(class, Value::None, Value::None);
    s.setattr("f1", s.clone()).unwrap();
    out.push(("self-loop", s, 1, 1));
    // One two-member SCC (with a duplicate internal edge).
    let a = obj(class, Value::None, Value::None);
    let b = obj(class, a.clone(), a.clone());
    a.setattr("f1", b.clone()).unwrap();
    out.push(("pair", a, 2, 1));
    // A doubly linked list: one SCC of 500.
    let first = obj(class, Value::None, Value::None);
    let mut last = first.clone();
    for _ in 1..500 {
        let n = obj(class, Value::None, last.clone());
        last.setattr("f1", n.clone()).unwrap();
        last = n;
    }
    drop(last);
    out.push(("dlist", first, 500, 1));
    // Singletons hanging off a cycle and a cycle hanging off singletons.
    let c1 = obj(class, Value::None, tree(class, 3));
    let c2 = obj(class, c1.clone(), tree(class, 2));
    c1.setattr("f1", c2.clone()).unwrap();
    let top = Value::list(vec![tree(class, 2), c1, Value::tuple(vec![c2])]);
    out.push(("mixed", top, 1 + 2 + 7 + 3 + 3 + 1, 1 + 1 + 7 + 3 + 3 + 1));
    out
}

#[test]
fn every_scc_shape_returns_to_zero() {
    let _g = lock();
    let (heap0, frozen0) = (heap_live(), frozen_live());
    {
        for k in 0..shapes(&node_class()).len() {
            // A class of its own, frozen first, so that the graph's handle
            // and the class's are the only references from outside.
            let class = node_class();
            freeze(&[&class]).unwrap();
            let base = check_invariants_exact(&[&class]).unwrap();
            let (name, root, objects, sccs) = shapes(&class).swap_remove(k);
            collect(); // the other shapes' cycles
            freeze(&[&root]).unwrap();
            // Exact counts and the multi-member mark on every representative.
            let census =
                check_invariants_exact(&[&root, &class]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(census.objects - base.objects, objects, "{name}: objects");
            assert_eq!(census.sccs - base.sccs, sccs, "{name}: sccs");
            drop(root);
        }
    }
    collect(); // the cycles of the shapes only counted, never frozen
    assert_eq!(heap_live(), heap0);
    assert_eq!(frozen_live(), frozen0);
}

#[test]
fn weakrefs_to_members_are_cleared_on_dispose() {
    let _g = lock();
    let (heap0, frozen0) = (heap_live(), frozen_live());
    {
        let class = node_class();
        // A singleton, a member of a pair (not its representative) and a
        // representative of a pair.
        let solo = obj(&class, Value::None, Value::None);
        let a = obj(&class, Value::None, Value::None);
        let b = obj(&class, a.clone(), Value::None);
        a.setattr("f1", b.clone()).unwrap();
        // A weakref inside each kind of SCC too (strengthened by the freeze).
        let inner_solo = Value::weakref(&solo).unwrap();
        let inner_pair = Value::weakref(&a).unwrap();
        b.setattr("f2", inner_pair).unwrap();
        let root = Value::list(vec![solo.clone(), a.clone(), inner_solo]);
        freeze(&[&root, &class]).unwrap();
        check_invariants(&[&root]).unwrap();
        let ws: Vec<Value> = [&solo, &a, &b]
            .iter()
            .map(|t| Value::weakref(t).unwrap())
            .collect();
        for (w, t) in ws.iter().zip([&solo, &a, &b]) {
            assert!(w.weak_get().unwrap().unwrap().is(t));
        }
        drop((solo, a, b));
        for w in &ws {
            assert!(w.weak_get().unwrap().is_some(), "the root keeps them alive");
        }
        drop(root);
        for w in &ws {
            assert!(w.weak_get().unwrap().is_none());
        }
    }
    assert_eq!(heap_live(), heap0);
    assert_eq!(frozen_live(), frozen0);
}

#[test]
fn failed_freeze_after_internal_edges_restores_counts() {
    let _g = lock();
    let (heap0, frozen0) = (heap_live(), frozen_live());
    {
        let class = node_class();
        // A doubly linked list (an internal edge per node) that ends in an
        // object refusing to freeze, found after every internal edge.
        let first = obj(&class, Value::None, Value::None);
        let mut last = first.clone();
        for _ in 1..100 {
            let n = obj(&class, Value::None, last.clone());
            last.setattr("f1", n.clone()).unwrap();
            last = n;
        }
        let bad = Value::dict();
        set_freezable(&bad, Freezability::No).unwrap();
        last.setattr("f1", bad).unwrap();
        drop(last);
        let e = freeze(&[&first, &class]).unwrap_err();
        // The path runs down the list: 100 `f1` edges.
        assert_eq!(e.path.to_string(), format!("roots[0]{}", ".f1".repeat(100)));
        assert!(!is_frozen(&first));
        // Mutable again, with the counts exactly as before.
        check_invariants_exact(&[&first, &class]).unwrap();
    }
    collect(); // the list is a mutable cycle
    assert_eq!(heap_live(), heap0);
    assert_eq!(frozen_live(), frozen0);
}

#[test]
fn error_paths_name_the_first_edge_to_a_repeated_child() {
    let _g = lock();
    let bad = Value::dict();
    set_freezable(&bad, Freezability::No).unwrap();
    let mid = Value::list(vec![Value::Int(0), bad.clone(), bad]);
    let root = Value::list(vec![Value::None, mid.clone(), mid]);
    let e = freeze(&[&root]).unwrap_err();
    assert_eq!(e.path, "root[1][1]");
    let class = node_class();
    let bad = Value::dict();
    set_freezable(&bad, Freezability::No).unwrap();
    let o = obj(&class, Value::Int(1), bad);
    let e = freeze(&[&Value::Int(3), &class, &o]).unwrap_err();
    assert_eq!(e.path, "roots[2].f2");
}

/// 10,000,000 instances (`PERMAFROST_CHAIN_NODES` to change it), each its
/// own SCC: frozen and dropped without recursion, every object returned.
#[test]
fn long_instance_chain_freezes_and_drops() {
    let n = std::env::var("PERMAFROST_CHAIN_NODES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000isize);
    let _g = lock();
    let (heap0, frozen0) = (heap_live(), frozen_live());
    {
        let class = node_class();
        let head = {
            let _pause = GcPause::new();
            let mut head = Value::None;
            for i in 0..n {
                head = obj(&class, Value::Int(i as i64), head);
            }
            head
        };
        freeze(&[&head, &class]).unwrap();
        let frozen = frozen_live();
        assert!(frozen > frozen0 + n); // the chain and its class
        assert_eq!(heap_live(), heap0);
        drop(head);
        assert_eq!(frozen_live(), frozen - n);
    }
    assert_eq!(heap_live(), heap0);
    assert_eq!(frozen_live(), frozen0);
}
