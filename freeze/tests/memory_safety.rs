//! Regression tests for bugs a soundness review found (use-after-free,
//! lost flags, panics in the free loop and in the walk, hostile tuples,
//! self-proxying modules, inexact number equality). Each failed, crashed
//! or hung before its fix.

use permafrost_freeze::*;
use std::cell::RefCell;
use std::rc::Rc;

#[test]
fn p1_key_error_repr_non_ascii() {
    let d = Value::dict();
    let k = Value::str(&"é".repeat(30));
    let e = d.get_item(&k).unwrap_err();
    assert!(e.to_string().starts_with("key not found: 'éé"), "{e}");
}

struct Spy(Value, Rc<RefCell<Option<Value>>>);
impl Drop for Spy {
    fn drop(&mut self) {
        // user code running while the object is being freed
        let got = self.0.weak_get().unwrap();
        *self.1.borrow_mut() = got;
    }
}

#[test]
fn p2_hook_drop_resurrects_via_weakref() {
    let out = Rc::new(RefCell::new(None));
    {
        let obj = Value::list(vec![Value::Int(7)]);
        let w = Value::weakref(&obj).unwrap();
        let spy = Spy(w, out.clone());
        set_pre_freeze_hook(&obj, move |_| {
            let _ = &spy;
            Ok(())
        })
        .unwrap();
        drop(obj);
    }
    // The hook (and the weakref its capture holds) is dropped after the
    // object is gone: the weakref answers None instead of resurrecting it.
    let got = out.borrow_mut().take();
    assert!(got.is_none(), "a freed object came back through a weakref");
}

#[test]
fn p3_cyclic_tuple_from_pickle_hangs() {
    // MAGIC, OpenSet(1), OpenTuple(1), Fill(1,[Ref 1]), Fill(0,[Ref 1]), End(Ref 0)
    let mut b = b"PFPK\x02".to_vec();
    b.extend_from_slice(&[11, 1, 8, 1, 18, 1, 1, 13, 18, 0, 1, 13, 22, 4, 0]);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = unpickle(&b).map(|_| ()).map_err(|e| e.to_string());
        let _ = tx.send(r);
    });
    let r = rx.recv_timeout(std::time::Duration::from_secs(5));
    let r = r.expect("unpickle of 15 hostile bytes did not return in 5 s");
    assert!(r.is_err(), "a tuple containing itself is refused");
}

#[test]
fn p4_panic_in_freeze_leaves_walk_marks() {
    let bad = Value::list(vec![]);
    unfreezable(&bad).unwrap();
    let d = Value::dict();
    d.set_item(Value::str(&"é".repeat(30)), bad).unwrap();
    // The error path (with a non-ASCII key in it) is built without panicking,
    // and the walk leaves no marks behind.
    let e = freeze(&[&d]).unwrap_err();
    assert_eq!(e.reason, FreezeReason::StatusNo);
    assert!(e.path.to_string().starts_with("root['éé"), "{}", e.path);
    assert!(!is_frozen(&d));
    d.clear().unwrap();
    let outer = Value::list(vec![d.clone()]);
    freeze(&[&outer]).unwrap();
    assert!(is_frozen(&outer) && is_frozen(&d));
    drop(outer.share().unwrap());
    assert_eq!(
        outer.len().unwrap(),
        1,
        "the counts are right after the walk"
    );
}

#[test]
fn p5_freeze_of_frozen_root_loses_has_weak() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    // Two threads hand off by spinning: under valgrind (one thread at a
    // time) each hand-off costs a scheduling slice, so CI's memcheck run
    // asks for fewer rounds.
    let n: usize = std::env::var("PERMAFROST_RACE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let objs: Vec<Value> = (0..n)
        .map(|i| {
            let v = Value::list(vec![Value::Int(i as i64)]);
            freeze(&[&v]).unwrap();
            v
        })
        .collect();
    let shared: Vec<Frozen> = objs.iter().map(|v| v.share().unwrap()).collect();
    let idx = Arc::new(AtomicUsize::new(usize::MAX));
    let ack = Arc::new(AtomicUsize::new(usize::MAX));
    let (i2, a2) = (idx.clone(), ack.clone());
    let t = std::thread::spawn(move || {
        let vals: Vec<Value> = shared.iter().map(Frozen::value).collect();
        drop(shared);
        loop {
            let i = i2.load(SeqCst);
            if i == n {
                break;
            }
            if i == usize::MAX {
                continue;
            }
            a2.store(i, SeqCst);
            let _ = freeze(&[&vals[i]]);
        }
        drop(vals);
    });
    let mut weaks = Vec::with_capacity(n);
    for (i, v) in objs.iter().enumerate() {
        idx.store(i, SeqCst);
        while ack.load(SeqCst) != i {
            std::hint::spin_loop();
        }
        weaks.push(Value::weakref(v).unwrap());
    }
    idx.store(n, SeqCst);
    t.join().unwrap();
    drop(objs);
    let alive = weaks
        .iter()
        .filter(|w| w.weak_get().unwrap().map(std::mem::forget).is_some())
        .count();
    assert_eq!(
        alive, 0,
        "weakrefs still resolving after their referents died"
    );
}

#[test]
fn p6_weakref_to_mutable_then_frozen() {
    let obj = Value::list(vec![Value::Int(1)]);
    let w = Value::weakref(&obj).unwrap();
    freeze(&[&obj]).unwrap();
    drop(obj);
    let got = w.weak_get().unwrap();
    assert!(got.is_none(), "weakref resolves after its referent died");
}

struct Boom;
impl Drop for Boom {
    fn drop(&mut self) {
        panic!("boom in a hook's captured value");
    }
}

#[test]
fn p7_panic_while_draining_leaves_dangling_worklist() {
    let r = std::panic::catch_unwind(|| {
        let obj = Value::list(vec![]);
        let b = Boom;
        set_pre_freeze_hook(&obj, move |_| {
            let _ = &b;
            Ok(())
        })
        .unwrap();
        drop(obj);
    });
    assert!(r.is_err());
    // Ordinary frees on this thread now go through DRAINING.
    for _ in 0..100 {
        let a = Value::list(vec![Value::list(vec![Value::Int(1)])]);
        drop(a);
    }
    assert_eq!(collect(), 0);
    let c = Value::list(vec![]);
    c.append(c.clone()).unwrap();
    drop(c);
    assert_eq!(collect(), 1, "collector never runs again on this thread");
}

fn init_proxy(m: &Value) -> Result<(), Error> {
    m.setattr("x", Value::Int(1))?;
    set_freezable(m, Freezability::Proxy)?;
    freeze(&[m]).map_err(|e| Error::Other(e.to_string()))?;
    Ok(())
}

#[test]
fn p8_module_init_that_proxies_itself() {
    register_module("review_selfproxy", init_proxy);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let m = import("review_selfproxy").unwrap();
        let r = m.getattr("x").map(|v| v.as_int());
        let _ = tx.send(format!("{r:?}"));
    });
    let got = rx.recv_timeout(std::time::Duration::from_secs(10));
    assert_eq!(got.as_deref(), Ok("Ok(Some(1))"));
}

#[test]
fn p9_ints_and_floats_compare_exactly() {
    let big = 1i64 << 53;
    let d = Value::dict_from(vec![(Value::Float(big as f64), "f".into())]).unwrap();
    assert!(d.get_item(&Value::Int(big)).is_ok(), "2^53 == 2.0^53");
    assert!(
        d.get_item(&Value::Int(big + 1)).is_err(),
        "2^53+1 != 2.0^53"
    );
    assert!(Value::Int(1).py_eq(&Value::Float(1.0)));
    assert!(Value::Bool(true).py_eq(&Value::Int(1)));
    assert!(!Value::Int(1).py_eq(&Value::Float(1.5)));
}
