//! Review edge cases: hostile pickle streams that must fail cleanly (no
//! leak), failed copies, rollback with frozen roots, weak references to
//! frozen objects dying on other threads, borrowed buffers and views read
//! from scoped threads.

use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::*;

/// `frozen_live()` is process-wide: tests that check it run one at a time.
static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn pk(ops: &[u8]) -> Vec<u8> {
    let mut b = b"PFPK\x02".to_vec();
    b.extend_from_slice(ops);
    b
}

#[test]
fn hostile_fill_streams_fail_without_leaking() {
    let _g = serial();
    let base = heap_live();
    let fbase = frozen_live();
    // Op indices: OpenTuple=8, OpenList=9, OpenDict=10, OpenCell=12,
    // Fill=18, End=22; packed items: Ref(n) = n<<3|5, Int = 3 + zigzag.
    let cases: &[&[u8]] = &[
        // list id0 filled with a reference to itself and to id 7 (unknown)
        &[9, 2, 18, 0, 2, 5, 61, 22, 4, 0],
        // dict with an odd number of items
        &[10, 1, 18, 0, 1, 5, 22, 4, 0],
        // dict keyed by a list (unhashable)
        &[9, 0, 10, 1, 18, 1, 2, 5, 0, 22, 4, 1],
        // cell filled with two values
        &[12, 18, 0, 2, 0, 0, 22, 4, 0],
        // tuple of 1 given 2 items, in a cycle through a list
        &[9, 1, 8, 1, 18, 0, 1, 13, 18, 1, 2, 5, 5, 22, 4, 0],
        // a tuple never filled
        &[9, 1, 8, 2, 18, 0, 1, 13, 18, 1, 1, 5, 22, 4, 0],
        // fill of a str (not a container)
        &[1, 1, b'a', 18, 0, 0, 22, 4, 0],
        // truncated after an open
        &[9, 1],
    ];
    for (i, c) in cases.iter().enumerate() {
        let r = unpickle(&pk(c));
        assert!(r.is_err(), "case {i} was accepted: {r:?}");
        assert_eq!(heap_live(), base, "case {i} leaked mutable objects");
        assert_eq!(frozen_live(), fbase, "case {i} leaked frozen objects");
    }
}

#[test]
fn failed_deep_copy_and_pickle_leave_the_graph_usable() {
    let _g = serial();
    let base = heap_live();
    {
        let target = Value::list(vec![]);
        let w = Value::weakref(&target).unwrap();
        let inner = Value::list(vec![Value::Int(1), w]);
        let outer = Value::list(vec![inner.clone(), inner.clone()]);
        inner.append(outer.clone()).unwrap(); // cycle
        assert!(deep_copy(&outer).is_err());
        assert!(pickle(&outer).is_err());
        // the memo marks are gone: a later copy of a sub-graph works
        inner.pop(Some(1)).unwrap();
        let c = deep_copy(&outer).unwrap().adopt();
        assert!(c.get(0).unwrap().is(&c.get(1).unwrap()));
        assert!(c.get(0).unwrap().get(1).unwrap().is(&c));
        inner.pop(None).unwrap(); // break the cycle
    }
    collect();
    assert_eq!(heap_live(), base);
}

#[test]
fn refused_freeze_with_frozen_and_mutable_roots_rolls_back_counts() {
    let _g = serial();
    let base = heap_live();
    let fbase = frozen_live();
    {
        let done = Value::list(vec![Value::Int(1)]);
        freeze(&[&done]).unwrap();
        let bad = Value::list(vec![]);
        unfreezable(&bad).unwrap();
        let a = Value::list(vec![done.clone()]);
        let b = Value::list(vec![a.clone(), bad.clone()]);
        a.append(b.clone()).unwrap(); // a <-> b, b -> bad
        let e = freeze(&[&done, &a]).unwrap_err();
        assert!(e.to_string().contains("roots[1]"), "{e}");
        assert!(!is_frozen(&a) && !is_frozen(&b));
        unset_freezable(&bad).unwrap();
        freeze(&[&done, &a]).unwrap();
        assert!(is_frozen(&bad));
        let s = a.share().unwrap();
        drop((a, b, bad));
        std::thread::spawn(move || assert_eq!(s.value().len().unwrap(), 2))
            .join()
            .unwrap();
        drop(done);
    }
    assert_eq!(heap_live(), base);
    assert_eq!(frozen_live(), fbase);
}

#[test]
fn weakref_to_frozen_member_dying_on_another_thread() {
    let _g = serial();
    let fbase = frozen_live();
    let a = Value::list(vec![]);
    let b = Value::list(vec![a.clone()]);
    a.append(b.clone()).unwrap(); // one SCC {a, b}
    freeze(&[&a]).unwrap();
    let w = Value::weakref_with_callback(
        &b,
        Some(Value::function(
            "cb",
            1,
            |_| Ok(Value::None),
            vec![],
            vec![],
        )),
    )
    .unwrap();
    assert!(w.weak_get().unwrap().unwrap().is(&b));
    let s = a.share().unwrap();
    drop((a, b));
    std::thread::spawn(move || drop(s)).join().unwrap();
    assert!(w.weak_get().unwrap().is_none());
    assert_eq!(run_weak_callbacks().unwrap(), 1);
    drop(w);
    assert_eq!(frozen_live(), fbase);
}

#[test]
fn borrowed_buffer_refuses_writes_and_views_cross_scoped_threads() {
    let _g = serial();
    let buf = Value::buffer(vec![1.0, 2.0, 3.0]);
    let sum = buf
        .with_buffer(|b| {
            assert!(buf.set(0, Value::Float(9.0)).is_err());
            // nested read views are fine
            assert_eq!(buf.buffer_to_vec().unwrap(), b);
            b.iter().sum::<f64>()
        })
        .unwrap();
    assert_eq!(sum, 6.0);
    buf.set(0, Value::Float(4.0)).unwrap();
    let d = Value::dict_from(vec![(Value::from("m"), buf.clone())]).unwrap();
    let t = Value::tuple(vec![d.clone(), Value::from("k")]);
    freeze(&[&t]).unwrap();
    let v = t.view().unwrap();
    let total: f64 = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                sc.spawn(move || {
                    v.get(0)
                        .unwrap()
                        .get_str("m")
                        .unwrap()
                        .buffer()
                        .unwrap()
                        .iter()
                        .sum::<f64>()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(total, 18.0);
}
