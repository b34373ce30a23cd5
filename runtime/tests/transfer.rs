//! Pickle and copy modes: the graph arrives isomorphic (same shape,
//! sharing and cycles preserved) and mutable, in the receiver's own heap;
//! frozen parts of a copy travel by reference.

#[path = "../../freeze/tests/serial/mod.rs"]
mod serial;
use serial::lock;

mod common;

use common::{assert_rebuilt_mutable, iso, make_frozen_graph, make_graph, node_class};
use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::{collect, is_frozen, Value};
use permafrost_runtime::{unbounded, Message, Mode, RecvError, Runtime, SendError};

/// Sends a graph built from `seed` in `mode` to a worker, which rebuilds
/// the same graph locally and checks the received one against it, mutates
/// it, and sends it back in the same mode.
fn round_trip(mode: Mode, class_name: &str, seed: u64) {
    let cls = node_class(class_name);
    let (hbase, fbase) = (heap_live(), frozen_live());
    {
        let rt = Runtime::new();
        let (back_tx, back_rx) = unbounded();
        let shared_cls = cls.share().unwrap();
        let w = rt.spawn(format!("{mode:?}-receiver"), move |ctx| {
            let cls = shared_cls.value();
            let got = ctx.recv().unwrap();
            let expect = make_graph(60, &cls, seed);
            let pairs = iso(&expect, &got).unwrap();
            assert_rebuilt_mutable(&pairs);
            // Mutable, and owned by this heap.
            assert!(!is_frozen(&got));
            got.get(0)
                .unwrap()
                .setattr("label", "changed".into())
                .unwrap();
            back_tx.send(got.clone(), mode).unwrap();
            pairs.len()
        });
        let g = make_graph(60, &cls, seed);
        w.sender().send(g.clone(), mode).unwrap();
        let back = back_rx.recv().unwrap();
        let pairs = iso(&g, &back);
        // The worker changed one label: everything else is the same.
        assert!(pairs.is_err(), "the change came back");
        g.get(0)
            .unwrap()
            .setattr("label", "changed".into())
            .unwrap();
        let pairs = iso(&g, &back).unwrap();
        assert_rebuilt_mutable(&pairs);
        let joined = w.join_report();
        assert_eq!(joined.result.unwrap(), pairs.len());
        assert_eq!(
            joined.report.heap_live, 0,
            "nothing left in the worker's heap"
        );
        rt.shutdown();
    }
    collect();
    assert_eq!(heap_live(), hbase);
    assert_eq!(frozen_live(), fbase);
}

#[test]
fn pickled_graph_arrives_isomorphic_and_mutable() {
    let _g = lock();
    round_trip(Mode::Pickle, "PickleNode", 11);
}

#[test]
fn copied_graph_arrives_isomorphic_and_mutable() {
    let _g = lock();
    round_trip(Mode::Copy, "CopyNode", 12);
}

#[test]
fn a_frozen_graph_pickled_arrives_mutable() {
    let _g = lock();
    let cls = node_class("PickleFrozen");
    let g = make_frozen_graph(30, &cls, 13);
    let rt = Runtime::new();
    let shared_cls = cls.share().unwrap();
    let w = rt.spawn("thaw", move |ctx| {
        let got = ctx.recv().unwrap();
        let expect = make_graph(30, &shared_cls.value(), 13);
        let pairs = iso(&expect, &got).unwrap();
        assert_rebuilt_mutable(&pairs);
        got.append(Value::None).unwrap();
        pairs.len()
    });
    w.sender().send(g.clone(), Mode::Pickle).unwrap();
    assert!(w.join().unwrap() > 90);
}

#[test]
fn a_copy_shares_its_frozen_parts_by_reference() {
    let _g = lock();
    let cls = node_class("CopyMixed");
    let fbase = frozen_live();
    {
        let frozen_part = make_frozen_graph(20, &cls, 14);
        let fid = frozen_part.share().unwrap();
        let inner = Value::list(vec![frozen_part.clone(), Value::Int(1)]);
        let root = Value::dict_from(vec![
            ("frozen".into(), frozen_part.clone()),
            ("inner".into(), inner.clone()),
            ("again".into(), inner),
        ])
        .unwrap();
        let frozen_before = frozen_live();
        let rt = Runtime::new();
        let w = rt.spawn("adopter", move |ctx| {
            let got = ctx.recv().unwrap();
            let f = got.get_item(&"frozen".into()).unwrap();
            assert!(f.is(&fid.value()), "frozen part arrived by reference");
            let inner = got.get_item(&"inner".into()).unwrap();
            assert!(!is_frozen(&inner));
            assert!(inner.get(0).unwrap().is(&f), "and inside the copy too");
            assert!(
                inner.is(&got.get_item(&"again".into()).unwrap()),
                "sharing kept"
            );
            inner.append(Value::None).unwrap();
            heap_live()
        });
        w.sender().send(root.clone(), Mode::Copy).unwrap();
        assert_eq!(frozen_live(), frozen_before, "no frozen object was copied");
        assert_eq!(
            w.join().unwrap(),
            2,
            "the worker's heap adopted the dict and the list"
        );
    }
    assert_eq!(frozen_live(), fbase);
}

#[test]
fn pickling_deep_chains_does_not_overflow_a_worker_stack() {
    let _g = lock();
    let hbase = heap_live();
    let n = 200_000;
    {
        let mut chain = Value::None;
        for i in 0..n {
            chain = Value::list(vec![Value::Int(i), chain]);
        }
        let rt = Runtime::new();
        let (back, from) = unbounded();
        let w = rt.spawn("deep", move |ctx| {
            for _ in 0..2 {
                let got = ctx.recv().unwrap();
                let mut depth = 0;
                let mut cur = got.clone();
                while !cur.is_none() {
                    depth += 1;
                    cur = cur.get(1).unwrap();
                }
                assert_eq!(depth, n);
                back.send(got.clone(), Mode::Pickle).unwrap();
            }
        });
        w.sender().send(chain.clone(), Mode::Pickle).unwrap();
        w.sender().send(chain.clone(), Mode::Copy).unwrap();
        let a = from.recv().unwrap();
        let b = from.recv().unwrap();
        assert_eq!(a.get(0).unwrap().as_int(), Some(n - 1));
        assert_eq!(b.get(0).unwrap().as_int(), Some(n - 1));
        let r = w.join_report();
        r.result.unwrap();
        assert_eq!(r.report.heap_live, 0);
    }
    assert_eq!(heap_live(), hbase);
}

#[test]
fn unregistered_class_is_a_decode_error_and_leaks_nothing() {
    let _g = lock();
    // A mutable class is registered for this thread only.
    let local = Value::class("OnlyOnMain", vec![], vec![]).unwrap();
    permafrost_freeze::register_class("OnlyOnMain", &local).unwrap();
    let obj = local
        .instantiate(vec![("payload", Value::list(vec![Value::Int(1)]))])
        .unwrap();
    let rt = Runtime::new();
    let w = rt.spawn("no-class", |ctx| {
        let first = ctx.recv();
        let second = ctx.recv().unwrap();
        (first.err(), second.as_int(), heap_live())
    });
    w.sender().send(obj.clone(), Mode::Pickle).unwrap();
    w.sender().send(Value::Int(9), Mode::Pickle).unwrap();
    let joined = w.join_report();
    let (err, second, live) = joined.result.unwrap();
    match err {
        Some(RecvError::Decode(e)) => assert!(e.to_string().contains("OnlyOnMain"), "{e}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(second, Some(9), "the channel still works");
    assert_eq!(live, 0);
    assert_eq!(joined.report.heap_live, 0);
    permafrost_freeze::embed::clear_local_classes();
}

#[test]
fn what_cannot_travel_is_refused_before_sending() {
    let _g = lock();
    let target = Value::list(vec![]);
    let weak = Value::weakref(&target).unwrap();
    let (tx, rx) = unbounded();
    match tx.send(Value::list(vec![weak.clone()]), Mode::Pickle) {
        Err(SendError::Encode(e, v)) => {
            assert!(e.to_string().contains("weakref"), "{e}");
            assert!(v.get(0).unwrap().is(&weak), "the value comes back");
        }
        other => panic!("expected Encode, got {other:?}"),
    }
    assert!(matches!(
        tx.send(weak.clone(), Mode::Copy),
        Err(SendError::Encode(..))
    ));
    assert!(rx.try_recv().is_err());
}

#[test]
fn one_pickle_can_be_broadcast() {
    let _g = lock();
    let cls = node_class("Broadcast");
    let g = make_graph(20, &cls, 15);
    let msg = Message::pickle(&g).unwrap();
    assert!(msg.pickled_len() > 100);
    let rt = Runtime::new();
    let shared_cls = cls.share().unwrap();
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let c = shared_cls.clone();
            rt.spawn(format!("b{i}"), move |ctx| {
                let got = ctx.recv().unwrap();
                iso(&make_graph(20, &c.value(), 15), &got).unwrap().len()
            })
        })
        .collect();
    for w in &workers {
        w.sender().send_message(msg.try_clone().unwrap()).unwrap();
    }
    let copy = Message::new(g.clone(), Mode::Copy).unwrap();
    assert!(copy.try_clone().is_none(), "a copy is adopted once");
    let n: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(n.iter().all(|&k| k == n[0] && k > 60));
    for r in rt.shutdown() {
        assert_eq!(r.heap_live, 0);
    }
}
