//! Share mode: a frozen graph travels by reference and arrives as the very
//! same objects; a mutable graph is refused and handed back intact; a send
//! to a worker that is gone hands the message back.

#[path = "../../freeze/tests/serial/mod.rs"]
mod serial;
use serial::lock;

mod common;

use common::{iso, make_frozen_graph, make_graph, node_class};
use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::{collect, is_frozen, Frozen, Value};
use permafrost_runtime::{unbounded, Disconnected, Message, Mode, Runtime, SendError};

fn ids(v: &Value) -> Vec<usize> {
    let mut ids: Vec<usize> = iso(v, v)
        .unwrap()
        .iter()
        .map(|(a, _)| a.as_obj().unwrap().id())
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn shared_graph_arrives_as_the_same_objects() {
    let _g = lock();
    let cls = node_class("ShareNode");
    let (hbase, fbase) = (heap_live(), frozen_live());
    {
        let g = make_frozen_graph(200, &cls, 1);
        let mine = ids(&g);
        assert!(mine.len() > 600, "graph has {} objects", mine.len());

        let rt = Runtime::new();
        let (back_tx, back_rx) = unbounded();
        let w = rt.spawn("receiver", move |ctx| {
            let v = ctx.recv().unwrap();
            assert!(is_frozen(&v));
            let seen = ids(&v);
            back_tx.send(v, Mode::Share).unwrap();
            seen
        });
        w.sender().send(g.clone(), Mode::Share).unwrap();
        let back = back_rx.recv().unwrap();
        assert!(back.is(&g), "the graph came back as the same root object");
        let joined = w.join_report();
        let seen = joined.result.unwrap();
        assert_eq!(seen, mine, "the worker saw exactly the objects we made");
        assert_eq!(joined.report.heap_live, 0);
        assert!(!joined.report.panicked);
        rt.shutdown();
    }
    assert_eq!(heap_live(), hbase);
    assert_eq!(frozen_live(), fbase);
}

#[test]
fn one_graph_shared_with_many_workers() {
    let _g = lock();
    let cls = node_class("ShareFan");
    let fbase = frozen_live();
    {
        let g = make_frozen_graph(50, &cls, 2);
        let root: Frozen = g.share().unwrap();
        let rt = Runtime::new();
        let workers: Vec<_> = (0..4)
            .map(|i| {
                rt.spawn(format!("fan-{i}"), |ctx| {
                    let v = ctx.recv().unwrap();
                    (v.as_obj().unwrap().id(), ids(&v))
                })
            })
            .collect();
        for w in &workers {
            w.sender()
                .send_message(Message::Shared(root.clone()))
                .unwrap();
        }
        let mine = ids(&g);
        for w in workers {
            let (id, seen) = w.join().unwrap();
            assert_eq!(id, root.id());
            assert_eq!(seen, mine);
        }
    }
    assert_eq!(frozen_live(), fbase);
}

#[test]
fn the_last_reference_may_die_on_the_worker() {
    let _g = lock();
    let cls = node_class("ShareLast");
    let fbase = frozen_live();
    let rt = Runtime::new();
    let (ack_tx, ack_rx) = unbounded();
    let w = rt.spawn("holder", move |ctx| {
        let v = ctx.recv().unwrap();
        ack_tx.send(Value::Int(1), Mode::Share).unwrap();
        // Wait until the main thread has dropped its handles.
        let _ = ctx.recv();
        drop(v); // the last reference: the whole graph is freed here
        frozen_live()
    });
    let g = make_frozen_graph(100, &cls, 3);
    let grown = frozen_live();
    assert!(grown > fbase);
    w.sender().send(g, Mode::Share).unwrap(); // moved: main holds nothing now
    assert_eq!(ack_rx.recv().unwrap().as_int(), Some(1));
    assert_eq!(frozen_live(), grown, "the worker still holds the graph");
    w.sender().send(Value::None, Mode::Share).unwrap();
    let after = w.join().unwrap();
    assert_eq!(after, fbase, "freed on the worker");
    assert_eq!(frozen_live(), fbase);
}

#[test]
fn mutable_graph_by_share_is_refused_and_handed_back_intact() {
    let _g = lock();
    let cls = node_class("ShareRefused");
    let hbase = heap_live();
    {
        let g = make_graph(40, &cls, 4);
        let before = ids(&g);
        let live = heap_live();
        let (tx, rx) = unbounded();

        let err = tx.send(g.clone(), Mode::Share).unwrap_err();
        assert!(matches!(err, SendError::NotFrozen(_)));
        let msg = err.to_string();
        assert!(msg.contains("mutable list"), "{msg}");
        assert!(msg.contains("freeze it first"), "{msg}");
        let back = err.into_inner();
        assert!(back.is(&g), "the very same value came back");
        assert!(!is_frozen(&back), "nothing was frozen");
        assert_eq!(ids(&back), before, "graph unchanged");
        assert_eq!(heap_live(), live, "nothing copied, nothing freed");
        back.append(Value::Int(7)).unwrap(); // still mutable
        assert!(rx.try_recv().is_err(), "nothing was sent");

        // The same refusal when building the message by hand.
        match Message::new(g.clone(), Mode::Share) {
            Err(SendError::NotFrozen(v)) => assert!(v.is(&g)),
            other => panic!("expected NotFrozen, got {other:?}"),
        }

        // A frozen graph holding... nothing mutable is possible (freeze is
        // deep), but a mutable list of frozen items is still mutable.
        let frozen_item = make_frozen_graph(3, &cls, 5);
        let outer = Value::list(vec![frozen_item.clone()]);
        let err = tx.send(outer.clone(), Mode::Share).unwrap_err();
        assert!(err.into_inner().is(&outer));

        // A worker's inbox refuses the same way.
        let rt = Runtime::new();
        let w = rt.spawn("inbox", |ctx| ctx.recv().map(|v| v.as_int()).ok());
        let err = w.sender().send(g.clone(), Mode::Share).unwrap_err();
        assert!(err.into_inner().is(&g));
        w.sender().send(Value::Int(3), Mode::Share).unwrap();
        assert_eq!(w.join().unwrap(), Some(Some(3)));
    }
    collect();
    assert_eq!(heap_live(), hbase);
}

#[test]
fn a_send_to_a_gone_worker_hands_the_message_back() {
    let _g = lock();
    let cls = node_class("ShareGone");
    let (hbase, fbase) = (heap_live(), frozen_live());
    {
        let rt = Runtime::new();
        let w = rt.spawn("short-lived", |_ctx| 42);
        let inbox = w.sender();
        assert_eq!(w.join().unwrap(), 42);

        // share: the value itself comes back
        let g = make_frozen_graph(10, &cls, 6);
        match inbox.send(g.clone(), Mode::Share) {
            Err(SendError::Disconnected(v)) => assert!(v.is(&g)),
            other => panic!("expected Disconnected, got {other:?}"),
        }
        match inbox.share(g.share().unwrap()) {
            Err(Disconnected(f)) => assert_eq!(f.id(), g.share().unwrap().id()),
            Ok(()) => panic!("sent to a gone worker"),
        }
        // a raw message comes back as it was
        let err = inbox
            .send_message(Message::new(g.clone(), Mode::Share).unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("disconnected"));
        assert!(err.into_inner().into_value().unwrap().is(&g));

        // pickle and copy: the value itself comes back, unchanged
        let m = make_graph(10, &cls, 7);
        for mode in [Mode::Pickle, Mode::Copy] {
            match inbox.send(m.clone(), mode) {
                Err(SendError::Disconnected(v)) => {
                    assert!(v.is(&m), "{mode:?}");
                    iso(&m, &v).unwrap();
                }
                other => panic!("expected Disconnected, got {other:?}"),
            }
        }
        rt.shutdown();
    }
    collect();
    assert_eq!(heap_live(), hbase);
    assert_eq!(frozen_live(), fbase);
}

#[test]
fn immediates_and_strings_share_too() {
    let _g = lock();
    let (tx, rx) = unbounded();
    tx.send(Value::Int(5), Mode::Share).unwrap();
    tx.send(Value::Float(0.5), Mode::Share).unwrap();
    tx.send(Value::None, Mode::Share).unwrap();
    let s = Value::from("born frozen");
    tx.send(s.clone(), Mode::Share).unwrap();
    assert_eq!(rx.recv().unwrap().as_int(), Some(5));
    assert_eq!(rx.recv().unwrap().as_float(), Some(0.5));
    assert!(rx.recv().unwrap().is_none());
    assert!(rx.recv().unwrap().is(&s));
}
