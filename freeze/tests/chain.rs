//! Very deep graphs: a 10,000,000-node linked chain is built, traversed,
//! frozen, shared and dropped without recursion (no stack overflow), and
//! the live counts return to baseline. Also a 10,000,000-node cycle (one
//! SCC) and a 2,000,000-node mutable chain freed by plain reference
//! counting.
//!
//! `frozen_live()` is process-global, so every test holds [`serial::lock`]; it also
//! keeps the big tests from running (and holding memory) at the same time.

#[path = "serial/mod.rs"]
mod serial;
use serial::lock;

use permafrost_freeze::diag::{frozen_live, heap_live, traverse};
use permafrost_freeze::*;

/// Chain length: 10,000,000, or `PERMAFROST_CHAIN_NODES` (the valgrind run
/// in CI uses a shorter chain: the walks are the same code at any length,
/// and memcheck is about 50 times slower).
fn n() -> usize {
    std::env::var("PERMAFROST_CHAIN_NODES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000)
}

/// `[N-1, [N-2, ... [0, tail]]]`: node `i` is `[i, next]`.
fn chain(n: usize, tail: Value) -> Value {
    let _pause = GcPause::new();
    let mut head = tail;
    for i in 0..n {
        head = Value::list(vec![Value::from(i), head]);
    }
    head
}

/// Walks the chain from `head` checking every node's number; returns the
/// number of nodes visited before reaching something that is not a list
/// of two (or `limit` nodes).
fn walk_chain(head: &Value, limit: usize) -> usize {
    let mut cur = head.clone();
    let mut expect = head.get(0).unwrap().as_int().unwrap();
    let mut k = 0;
    while k < limit && cur.type_name() == "list" && cur.len().unwrap() == 2 {
        assert_eq!(cur.get(0).unwrap().as_int(), Some(expect));
        expect -= 1;
        cur = cur.get(1).unwrap();
        k += 1;
    }
    k
}

#[test]
fn ten_million_chain_freeze_traverse_drop() {
    let nodes = n();
    let _g = lock();
    let heap0 = heap_live();
    let frozen0 = frozen_live();
    let head = chain(nodes, Value::None);
    assert_eq!(heap_live(), heap0 + nodes);
    assert_eq!(traverse(&head), nodes);
    assert_eq!(
        traverse(&head),
        nodes,
        "traverse must unmark what it marked"
    );

    freeze(&[&head]).unwrap();
    assert_eq!(heap_live(), heap0);
    assert_eq!(frozen_live(), frozen0 + nodes as isize);
    assert!(is_frozen(&head));
    // traverse visits mutable objects only.
    assert_eq!(traverse(&head), 0);
    assert_eq!(walk_chain(&head, usize::MAX), nodes);

    // The far end is frozen too, and still reachable after the head goes
    // if something else holds it.
    let mut mid = head.clone();
    for _ in 0..nodes / 2 {
        mid = mid.get(1).unwrap();
    }
    assert!(is_frozen(&mid));
    assert_immutable(mid.append(Value::None));
    drop(head);
    assert_eq!(frozen_live(), frozen0 + (nodes / 2) as isize);
    assert_eq!(walk_chain(&mid, usize::MAX), nodes / 2);
    // Last reference dropped on another thread.
    let shared = mid.share().unwrap();
    drop(mid);
    std::thread::spawn(move || drop(shared)).join().unwrap();
    assert_eq!(frozen_live(), frozen0);
    assert_eq!(heap_live(), heap0);
}

#[track_caller]
fn assert_immutable(r: Result<(), Error>) {
    assert_eq!(
        r.unwrap_err().to_string(),
        "object of type list is immutable"
    );
}

#[test]
fn ten_million_cycle_is_one_scc() {
    let nodes = n();
    // Close the chain into a ring: one SCC of nodes members, one counter.
    let _g = lock();
    let heap0 = heap_live();
    let frozen0 = frozen_live();
    let last = Value::list(vec![Value::Int(-1)]);
    let head = chain(nodes - 1, last.clone());
    last.append(head.clone()).unwrap();
    assert_eq!(traverse(&last), nodes);
    freeze(&[&last]).unwrap();
    assert_eq!(frozen_live(), frozen0 + nodes as isize);
    assert_eq!(heap_live(), heap0);
    drop(head);
    // `last` alone keeps all nodes alive: they are one component.
    assert_eq!(frozen_live(), frozen0 + nodes as isize);
    let first = last.get(1).unwrap();
    // nodes-2, ..., 0, then `last` (-1): all nodes members, in order.
    assert_eq!(walk_chain(&first, nodes), nodes);
    drop(first);
    drop(last);
    assert_eq!(frozen_live(), frozen0);
    assert_eq!(heap_live(), heap0);
}

#[test]
fn long_mutable_chain_drop_and_collect() {
    let nodes = n();
    // Mutable: freed by reference counting alone, without recursion; then a
    // mutable ring of the same length needs (and survives) the collector.
    let _g = lock();
    let heap0 = heap_live();
    let head = chain(nodes / 5, Value::None);
    assert_eq!(heap_live(), heap0 + (nodes / 5));
    drop(head);
    assert_eq!(heap_live(), heap0);

    let last = Value::list(vec![Value::Int(-1)]);
    let head = chain((nodes / 5) - 1, last.clone());
    last.append(head).unwrap();
    drop(last);
    assert_eq!(heap_live(), heap0 + (nodes / 5));
    assert_eq!(collect(), (nodes / 5));
    assert_eq!(heap_live(), heap0);
}

#[test]
fn ten_million_chain_moves_to_another_heap() {
    let nodes = n();
    let _g = lock();
    let heap0 = heap_live();
    let head = chain(nodes, Value::None);
    let id = head.id();
    let moved = detach_moved(head).unwrap();
    assert_eq!(moved.len(), nodes);
    assert_eq!(heap_live(), heap0);
    let (got, len, live) = std::thread::spawn(move || {
        let head = moved.adopt();
        let got = (head.id(), walk_chain(&head, usize::MAX), heap_live());
        drop(head); // freed there, iteratively
        got
    })
    .join()
    .unwrap();
    assert_eq!((got, len, live), (id, nodes, nodes));
}
