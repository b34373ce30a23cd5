//! Smoke tests for the object model.

use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::*;

/// `frozen_live()` is process-wide: tests that create frozen objects run
/// one at a time so each sees only its own.
static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn freeze_list_and_drop() {
    let _g = serial();
    let base = heap_live();
    let fbase = frozen_live();
    {
        let a = Value::list(vec![Value::Int(1), Value::from("x")]);
        let b = Value::list(vec![a.clone(), a.clone()]);
        a.append(b.clone()).unwrap(); // cycle a <-> b
        freeze(&[&b]).unwrap();
        assert!(is_frozen(&a));
        assert_eq!(
            a.append(Value::None).unwrap_err().to_string(),
            "object of type list is immutable"
        );
        let s = b.share().unwrap();
        let t = std::thread::spawn(move || s.value().len().unwrap())
            .join()
            .unwrap();
        assert_eq!(t, 2);
    }
    assert_eq!(heap_live(), base);
    assert_eq!(frozen_live(), fbase);
}

#[test]
fn mutable_cycle_collected() {
    let _g = serial();
    let base = heap_live();
    {
        let a = Value::list(vec![]);
        let b = Value::dict();
        b.set_item("a".into(), a.clone()).unwrap();
        a.append(b.clone()).unwrap();
    }
    assert!(heap_live() > base);
    collect();
    assert_eq!(heap_live(), base);
}

#[test]
fn failed_freeze_rolls_back() {
    let _g = serial();
    let c = Value::class("C", vec![], vec![]).unwrap();
    let bad = Value::list(vec![]);
    set_freezable(&bad, Freezability::No).unwrap();
    let o = c.instantiate(vec![("child", bad.clone())]).unwrap();
    let e = freeze(&[&o, &c]).unwrap_err();
    assert_eq!(e.path, "roots[0].child");
    assert!(!is_frozen(&o) && !is_frozen(&bad) && !is_frozen(&c));
    o.setattr("x", 1.into()).unwrap();
}

#[test]
fn deep_chain() {
    let _g = serial();
    let n = 1_000_000;
    let mut head = Value::None;
    for i in 0..n {
        head = Value::list(vec![Value::Int(i), head]);
    }
    freeze(&[&head]).unwrap();
    let f = frozen_live();
    drop(head);
    assert!(frozen_live() <= f - n as isize);
}

#[test]
fn is_frozen_respects_status_and_hooks() {
    let _g = serial();
    let t = Value::tuple(vec![Value::Int(1), Value::Int(2)]);
    set_freezable(&t, Freezability::No).unwrap();
    assert!(!is_frozen(&t));
    let holder = Value::list(vec![t.clone()]);
    assert!(freeze(&[&holder]).is_err());
    assert!(t.share().is_err());
    let h = Value::tuple(vec![Value::None]);
    set_pre_freeze_hook(&h, |_| Ok(())).unwrap();
    assert!(!is_frozen(&h));
    freeze(&[&h]).unwrap();
    assert!(is_frozen(&h));
}

#[test]
fn error_paths_count_immediate_roots() {
    let _g = serial();
    let ok = Value::list(vec![]);
    let bad = Value::list(vec![]);
    set_freezable(&bad, Freezability::No).unwrap();
    assert_eq!(
        freeze(&[&Value::Int(1), &ok, &bad]).unwrap_err().path,
        "roots[2]"
    );
    assert_eq!(freeze(&[&Value::None, &bad]).unwrap_err().path, "roots[1]");
}

#[test]
fn share_accepts_tuples_of_frozen_values() {
    let _g = serial();
    let inner = Value::list(vec![]);
    freeze(&[&inner]).unwrap();
    let t = Value::tuple(vec![inner, Value::from("s"), Value::Int(1)]);
    let shared = t.share().expect("a tuple of frozen values is frozen");
    assert!(is_frozen(&t));
    assert_eq!(shared.value().len().unwrap(), 3);
    let open = Value::tuple(vec![Value::list(vec![])]);
    assert!(open.share().is_err());
    assert!(open.into_shared().is_err());
}

#[test]
fn immutable_errors_name_the_class() {
    let _g = serial();
    let c = Value::class("Socket", vec![], vec![]).unwrap();
    let s = c.instantiate(vec![]).unwrap();
    freeze(&[&s, &c]).unwrap();
    assert_eq!(
        s.setattr("fd", 3.into()).unwrap_err().to_string(),
        "object of type Socket is immutable"
    );
}

#[test]
fn views_read_frozen_graphs_without_handles() {
    let _g = serial();
    let c = Value::class("Point", vec![], vec![("dims", 2.into())]).unwrap();
    let p = c
        .instantiate(vec![
            ("xy", Value::buffer(vec![1.5, 2.5])),
            ("name", "p".into()),
        ])
        .unwrap();
    let d = Value::dict_from(vec![("p".into(), p.clone()), ("n".into(), 7.into())]).unwrap();
    let t = Value::tuple(vec![d.clone(), Value::None, Value::from(3.5)]);
    assert!(t.view().is_none(), "not frozen yet");
    freeze(&[&t, &c]).unwrap();
    let shared = t.share().unwrap();
    let v = shared.view();
    assert_eq!(v.len(), Some(3));
    assert!(v.get(1).unwrap().is_none());
    assert_eq!(v.get(2).unwrap().as_float(), Some(3.5));
    assert!(v.get(3).is_none());
    let pv = v.get(0).unwrap().get_str("p").unwrap();
    assert!(pv.is(&p.view().unwrap()));
    assert_eq!(pv.getattr("xy").unwrap().buffer(), Some(&[1.5, 2.5][..]));
    assert_eq!(pv.getattr("name").unwrap().as_str(), Some("p"));
    assert_eq!(
        pv.getattr("dims").unwrap().as_int(),
        Some(2),
        "found on the class"
    );
    assert!(pv.getattr("missing").is_none());
    assert_eq!(v.get(0).unwrap().get_str("n").unwrap().as_int(), Some(7));
    assert_eq!(v.iter().count(), 3);
    assert_eq!(format!("{:?}", pv.getattr("name").unwrap()), "'p'");
    // Views are Send + Sync: scoped threads read the same objects.
    let names: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| s.spawn(move || pv.getattr("name").unwrap().as_str().unwrap().to_owned()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(names, ["p", "p", "p"]);
    let back = pv.to_value();
    assert!(back.is(&p));
}
