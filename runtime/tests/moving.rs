//! Move: isolated mutable graphs change worker without being copied, by
//! channel (`send(v, Mode::Move)`) and through the pool
//! (`map(items, Mode::Move, f)`).

#[path = "../../freeze/tests/serial/mod.rs"]
mod serial;
use serial::lock;

use permafrost_freeze::diag::{check_invariants_exact, heap_live};
use permafrost_freeze::{collect, Error, Value};
use permafrost_runtime::{unbounded, Message, Mode, Pool, PoolError, Runtime, SendError};

/// A batch: a list of `n` dicts, each pointing back at the batch.
fn batch(n: usize) -> Value {
    let b = Value::list(vec![]);
    for i in 0..n {
        let d = Value::dict();
        d.set_item("i".into(), Value::Int(i as i64)).unwrap();
        d.set_item("batch".into(), b.clone()).unwrap();
        b.append(d).unwrap();
    }
    b
}

#[test]
fn a_moved_batch_reaches_the_worker_as_the_same_mutable_objects() {
    let _g = lock();
    std::thread::spawn(|| {
        let rt = Runtime::new();
        let (back_tx, back_rx) = unbounded();
        let w = rt.spawn("stage", move |ctx| {
            let b = ctx.recv().unwrap();
            let live = heap_live();
            b.append(Value::Int(-1)).unwrap(); // mutable here
            check_invariants_exact(&[&b]).unwrap();
            let first = b.get(0).unwrap().id();
            back_tx.send(b, Mode::Move).unwrap(); // and on again
            (live, first)
        });
        let b = batch(100);
        let (id, first) = (b.id(), b.get(0).unwrap().id());
        let before = heap_live();
        w.sender().send(b, Mode::Move).unwrap();
        assert_eq!(heap_live(), before - 101, "the batch left this heap");
        let joined = w.join_report();
        let (live_there, first_there) = joined.result.unwrap();
        assert_eq!(live_there, 101);
        assert_eq!(first_there, first);
        assert_eq!(joined.report.heap_live, 0, "the worker kept nothing");
        let back = back_rx.recv().unwrap();
        assert_eq!(back.id(), id, "the very same list came back");
        assert_eq!(back.len().unwrap(), 101);
        assert_eq!(heap_live(), before);
        drop(back);
        collect();
        assert_eq!(heap_live(), 0);
        rt.shutdown();
    })
    .join()
    .unwrap();
}

#[test]
fn a_refused_or_undelivered_move_hands_the_value_back() {
    let _g = lock();
    std::thread::spawn(|| {
        let (tx, rx) = unbounded();
        let b = batch(3);
        let alias = b.get(2).unwrap();
        let e = tx.send(b, Mode::Move).unwrap_err();
        assert!(matches!(e, SendError::NotIsolated(_)));
        assert!(e.to_string().contains("at root[2]"), "{e}");
        let b = e.into_inner();
        assert_eq!(b.len().unwrap(), 3);
        assert!(rx.try_recv().is_err(), "nothing was sent");
        drop(alias);
        drop(rx);
        let before = heap_live();
        let e = tx.send(b, Mode::Move).unwrap_err();
        let b = match e {
            SendError::Disconnected(v) => v,
            other => panic!("expected Disconnected, got {other:?}"),
        };
        assert_eq!(heap_live(), before, "re-adopted by this heap");
        check_invariants_exact(&[&b]).unwrap();
        b.append(Value::None).unwrap();
        drop(b);
        collect();
        assert_eq!(heap_live(), 0);
    })
    .join()
    .unwrap();
}

fn tag(v: Value) -> Result<Value, Error> {
    v.append(Value::from("seen"))?;
    Ok(v)
}

#[test]
fn the_pool_moves_items_and_results() {
    let _g = lock();
    std::thread::spawn(|| {
        let pool = Pool::new(2);
        let items: Vec<Value> = (0..20).map(|_| batch(5)).collect();
        let ids: Vec<usize> = items.iter().map(Value::id).collect();
        let out = pool.map(items, Mode::Move, tag).unwrap();
        let got: Vec<usize> = out.iter().map(Value::id).collect();
        assert_eq!(got, ids, "each result is its item, moved there and back");
        assert!(out.iter().all(|b| b.len().unwrap() == 6));
        drop(out);
        collect();
        assert_eq!(heap_live(), 0);
        // An item the caller still holds cannot move: a clear error,
        // nothing lost.
        let keep = vec![batch(1)];
        let e = pool.map(keep.clone(), Mode::Move, tag).unwrap_err();
        assert!(matches!(&e, PoolError::Send { index: 0, .. }), "{e}");
        assert!(e.to_string().contains("cannot move"), "{e}");
        assert_eq!(keep[0].len().unwrap(), 1);
        // An aliased item is refused by index.
        let a = batch(1);
        let alias = a.clone();
        let e = pool.map(vec![batch(1), a], Mode::Move, tag).unwrap_err();
        assert!(matches!(&e, PoolError::Send { index: 1, .. }), "{e}");
        drop((alias, keep));
        collect();
        assert_eq!(heap_live(), 0);
        // An immediate "moves" as the shared reference it is.
        let m = Message::new(Value::Int(1), Mode::Move).unwrap();
        assert_eq!(m.mode(), Mode::Move);
        assert_eq!(m.into_value().unwrap().as_int(), Some(1));
    })
    .join()
    .unwrap();
}
