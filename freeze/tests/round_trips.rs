//! Round trips through pickle and copy.
use permafrost_freeze::diag::heap_live;
use permafrost_freeze::embed::clear_local_classes;
use permafrost_freeze::*;

fn sample() -> Value {
    let cls = Value::class("PkNode", vec![], vec![]).unwrap();
    register_class("PkNode", &cls).unwrap();
    let a = cls.instantiate(vec![("name", "a".into())]).unwrap();
    let shared = Value::list(vec![Value::Float(1.5)]);
    let d = Value::dict_from(vec![
        ("x".into(), shared.clone()),
        ("y".into(), shared.clone()),
        (Value::tuple(vec![1.into(), "k".into()]), a.clone()),
    ])
    .unwrap();
    a.setattr("back", d.clone()).unwrap(); // cycle a -> d -> a
    d
}

#[test]
fn pickle_roundtrip_keeps_sharing_and_cycles() {
    let base = heap_live();
    {
        let d = sample();
        let bytes = pickle(&d).unwrap();
        let e = unpickle(&bytes).unwrap();
        assert_eq!(format!("{e:?}"), format!("{d:?}"));
        let x = e.get_str("x").unwrap().unwrap();
        assert!(x.is(&e.get_str("y").unwrap().unwrap()));
        let a = e
            .get_item(&Value::tuple(vec![1.into(), "k".into()]))
            .unwrap();
        assert!(a.getattr("back").unwrap().is(&e));
        for cut in 0..bytes.len() {
            assert!(unpickle(&bytes[..cut]).is_err());
        }
    }
    clear_local_classes();
    collect();
    assert_eq!(heap_live(), base);
}

#[test]
fn copy_roundtrip_across_threads() {
    let d = sample();
    let frozen = Value::list(vec![Value::Int(7)]);
    freeze(&[&frozen]).unwrap();
    d.set_item("f".into(), frozen.clone()).unwrap();
    let c = deep_copy(&d).unwrap();
    let fid = frozen.as_obj().unwrap().id();
    let ok = std::thread::spawn(move || {
        let base = heap_live();
        let e = c.adopt();
        let same = e.get_str("f").unwrap().unwrap().as_obj().unwrap().id() == fid;
        let x = e.get_str("x").unwrap().unwrap();
        x.append(Value::None).unwrap();
        let shared = x.is(&e.get_str("y").unwrap().unwrap());
        drop((e, x));
        collect();
        same && shared && heap_live() == base
    })
    .join()
    .unwrap();
    assert!(ok);
}

#[test]
fn big_tuples_and_tuple_keys_roundtrip() {
    let items: Vec<Value> = (0..100_000).map(|i| Value::from(format!("s{i}"))).collect();
    let t = Value::tuple(items);
    let key = Value::tuple(vec![Value::tuple(vec![1.into(), "a".into()]), Value::None]);
    let d = Value::dict_from(vec![
        (key.clone(), t.clone()),
        ("empty".into(), Value::tuple(vec![])),
    ])
    .unwrap();
    let back = unpickle(&pickle(&d).unwrap()).unwrap();
    let t2 = back.get_item(&key).unwrap();
    assert_eq!(t2.len().unwrap(), 100_000);
    assert_eq!(t2.get(99_999).unwrap().as_str(), Some("s99999"));
    assert!(t2.py_eq(&t));
    assert_eq!(back.get_str("empty").unwrap().unwrap().len().unwrap(), 0);
    let c = deep_copy(&d).unwrap().adopt();
    assert!(c.get_item(&key).unwrap().py_eq(&t));
}

#[test]
fn instances_whole_and_in_parts_roundtrip() {
    let cls = Value::class("PkPoint", vec![], vec![]).unwrap();
    register_class("PkPoint", &cls).unwrap();
    let shared_name = Value::from("shared");
    let leaf = cls
        .instantiate(vec![
            ("x", 1.into()),
            ("s", "inline".into()),
            ("n", shared_name.clone()),
        ])
        .unwrap();
    let holder = cls
        .instantiate(vec![
            ("items", Value::list(vec![leaf.clone()])),
            ("n", shared_name),
        ])
        .unwrap();
    holder.setattr("me", holder.clone()).unwrap(); // a self-cycle
    let root = Value::list(vec![leaf.clone(), holder.clone(), leaf]);
    let check = |r: &Value| {
        let (a, h, b) = (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap());
        assert!(a.is(&b), "the leaf instance is shared");
        assert_eq!(a.getattr("x").unwrap().as_int(), Some(1));
        assert_eq!(a.getattr("s").unwrap().as_str(), Some("inline"));
        assert!(h.getattr("me").unwrap().is(&h));
        assert!(h.getattr("items").unwrap().get(0).unwrap().is(&a));
        assert!(h.getattr("n").unwrap().is(&a.getattr("n").unwrap()));
        assert_eq!(a.class_of().unwrap().name().unwrap(), "PkPoint");
    };
    check(&unpickle(&pickle(&root).unwrap()).unwrap());
    check(&deep_copy(&root).unwrap().adopt());
    holder.delattr("me").unwrap();
    clear_local_classes();
}
