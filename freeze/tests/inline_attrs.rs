//! Instances keep their attributes inline, named by the class's layout
//! (its shape), with an insertion-ordered fallback: Python's attribute
//! semantics must not change whichever storage a name lands in.

use permafrost_freeze::{deep_copy, diag, freeze, pickle, unpickle, Value};
use proptest::prelude::*;

fn class(name: &str) -> Value {
    Value::class(name, vec![], vec![]).unwrap()
}

/// A class the pickle path can find by name (this thread's registry).
fn registered(name: &str) -> Value {
    let c = class(name);
    permafrost_freeze::register_class(name, &c).unwrap();
    c
}

fn names(v: &Value) -> Vec<&'static str> {
    v.own_attrs().unwrap().iter().map(|a| a.0).collect()
}

fn ints(v: &Value) -> Vec<(&'static str, i64)> {
    v.own_attrs()
        .unwrap()
        .iter()
        .map(|(n, x)| match x {
            Value::Int(i) => (*n, *i),
            other => panic!("{n} is {other:?}"),
        })
        .collect()
}

#[test]
fn instances_of_one_shape_are_one_allocation() {
    let node = class("Node");
    let a = node
        .instantiate(vec![("left", Value::None), ("right", Value::Int(1))])
        .unwrap();
    let b = node
        .instantiate(vec![("left", Value::Int(2)), ("right", a.clone())])
        .unwrap();
    for v in [&a, &b] {
        let s = diag::attr_storage(v).unwrap();
        assert_eq!((s.inline, s.capacity, s.extra), (2, 2, 0));
        assert_eq!(
            diag::allocation_bytes(v),
            diag::OBJECT_BYTES + 2 * diag::SLOT_BYTES
        );
    }
    assert!(b.getattr("right").unwrap().is(&a));
    assert_eq!(b.getattr("left").unwrap().as_int(), Some(2));
    // Header, payload enum and two 16-byte slots: what verona-rt's
    // two-field object needs plus the Python-level header.
    const { assert!(diag::OBJECT_BYTES <= 56) };
}

#[test]
fn later_instances_learn_the_shape_the_first_one_set() {
    let c = class("Late");
    let first = c.instantiate(vec![]).unwrap();
    first.setattr("a", Value::Int(1)).unwrap();
    first.setattr("b", Value::Int(2)).unwrap();
    // The first was allocated before the layout had names.
    assert_eq!(diag::attr_storage(&first).unwrap().extra, 2);
    let second = c.instantiate(vec![]).unwrap();
    second.setattr("a", Value::Int(3)).unwrap();
    second.setattr("b", Value::Int(4)).unwrap();
    let s = diag::attr_storage(&second).unwrap();
    assert_eq!((s.inline, s.extra), (2, 0));
    assert_eq!(ints(&first), [("a", 1), ("b", 2)]);
    assert_eq!(ints(&second), [("a", 3), ("b", 4)]);
}

#[test]
fn off_shape_order_and_deletion_keep_insertion_order() {
    let c = class("P");
    let shaped = c
        .instantiate(vec![
            ("x", Value::Int(1)),
            ("y", Value::Int(2)),
            ("z", Value::Int(3)),
        ])
        .unwrap();
    let other = c
        .instantiate(vec![("z", Value::Int(1)), ("x", Value::Int(2))])
        .unwrap();
    assert_eq!(names(&other), ["z", "x"]);
    shaped.delattr("y").unwrap();
    assert_eq!(ints(&shaped), [("x", 1), ("z", 3)]);
    shaped.setattr("y", Value::Int(9)).unwrap();
    assert_eq!(ints(&shaped), [("x", 1), ("z", 3), ("y", 9)]);
    assert!(shaped.delattr("nope").is_err());
    assert!(shaped.getattr("nope").is_err());
}

#[test]
fn a_frozen_class_keeps_its_layout_and_new_names_fall_back() {
    let c = class("Fixed");
    let a = c.instantiate(vec![("k", Value::Int(1))]).unwrap();
    freeze(&[&c]).unwrap();
    let b = c
        .instantiate(vec![("k", Value::Int(2)), ("new", Value::Int(3))])
        .unwrap();
    let s = diag::attr_storage(&b).unwrap();
    assert_eq!((s.inline, s.extra), (1, 1));
    assert_eq!(ints(&b), [("k", 2), ("new", 3)]);
    assert_eq!(ints(&a), [("k", 1)]);
    freeze(&[&b]).unwrap();
    assert!(b.setattr("k", Value::Int(5)).is_err());
    assert_eq!(b.getattr("new").unwrap().as_int(), Some(3));
}

#[test]
fn wide_classes_stop_growing_the_shape() {
    let c = class("Wide");
    let attrs: Vec<(String, Value)> = (0..40).map(|i| (format!("a{i}"), Value::Int(i))).collect();
    let v = c
        .instantiate(attrs.iter().map(|(n, x)| (n.as_str(), x.clone())).collect())
        .unwrap();
    let s = diag::attr_storage(&v).unwrap();
    assert_eq!(s.inline + s.extra, 40);
    assert!(s.capacity <= 16, "{s:?}");
    let got: Vec<i64> = ints(&v).iter().map(|a| a.1).collect();
    assert_eq!(got, (0..40).collect::<Vec<_>>());
}

#[test]
fn pickle_and_copy_rebuild_the_shape() {
    let c = registered("Link");
    let mut next = Value::None;
    for i in 0..1000 {
        next = c
            .instantiate(vec![("value", Value::Int(i)), ("next", next)])
            .unwrap();
    }
    let odd = c
        .instantiate(vec![("next", next.clone()), ("value", Value::Int(-1))])
        .unwrap();
    let root = Value::list(vec![next.clone(), odd]);
    let copy = unpickle(&pickle(&root).unwrap()).unwrap();
    let dc = deep_copy(&root).unwrap().adopt();
    for v in [&copy, &dc] {
        let head = v.get(0).unwrap();
        let s = diag::attr_storage(&head).unwrap();
        assert_eq!((s.inline, s.extra), (2, 0), "{s:?}");
        assert_eq!(names(&v.get(1).unwrap()), ["next", "value"]);
        let mut n = 0;
        let mut cur = head;
        while let Ok(nx) = cur.getattr("next") {
            if matches!(nx, Value::None) {
                break;
            }
            n += 1;
            cur = nx;
        }
        assert_eq!(n, 999);
    }
}

#[test]
fn inline_graphs_return_every_object() {
    let before = diag::heap_live();
    let frozen_before = diag::frozen_live();
    {
        let c = class("Node");
        let a = c
            .instantiate(vec![("l", Value::None), ("r", Value::None)])
            .unwrap();
        let b = c
            .instantiate(vec![("l", a.clone()), ("r", Value::None)])
            .unwrap();
        a.setattr("r", b.clone()).unwrap(); // a cycle through inline slots
        let d = c
            .instantiate(vec![("l", b.clone()), ("r", a.clone())])
            .unwrap();
        d.setattr("extra", Value::list(vec![a.clone()])).unwrap();
        freeze(&[&d, &c]).unwrap();
        let m = c.instantiate(vec![]).unwrap();
        m.setattr("r", m.clone()).unwrap(); // self-cycle, off shape
    }
    permafrost_freeze::collect();
    assert_eq!(diag::heap_live(), before);
    assert_eq!(diag::frozen_live(), frozen_before);
}

#[derive(Clone, Debug)]
enum Op {
    Set(usize, u8, i64),
    Del(usize, u8),
    New(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..6u8, any::<i64>()).prop_map(|(i, n, v)| Op::Set(i, n, v)),
        2 => (0..3usize, 0..6u8).prop_map(|(i, n)| Op::Del(i, n)),
        1 => prop::collection::vec(0..6u8, 0..5).prop_map(Op::New),
    ]
}

proptest! {
    /// Attribute semantics match an insertion-ordered map, whichever
    /// storage each name lands in.
    #[test]
    fn attributes_behave_as_an_ordered_map(ops in prop::collection::vec(op(), 1..60)) {
        let c = registered("M");
        let name = |n: u8| format!("n{n}");
        let mut objs: Vec<(Value, Vec<(String, i64)>)> = Vec::new();
        for _ in 0..3 {
            objs.push((c.instantiate(vec![]).unwrap(), Vec::new()));
        }
        for o in ops {
            match o {
                Op::Set(i, n, v) => {
                    let (obj, model) = &mut objs[i];
                    obj.setattr(&name(n), Value::Int(v)).unwrap();
                    match model.iter_mut().find(|e| e.0 == name(n)) {
                        Some(e) => e.1 = v,
                        None => model.push((name(n), v)),
                    }
                }
                Op::Del(i, n) => {
                    let (obj, model) = &mut objs[i];
                    let had = model.iter().position(|e| e.0 == name(n));
                    prop_assert_eq!(obj.delattr(&name(n)).is_ok(), had.is_some());
                    if let Some(k) = had {
                        model.remove(k);
                    }
                }
                Op::New(ns) => {
                    let mut model: Vec<(String, i64)> = Vec::new();
                    for (k, n) in ns.iter().enumerate() {
                        match model.iter_mut().find(|e| e.0 == name(*n)) {
                            Some(e) => e.1 = k as i64,
                            None => model.push((name(*n), k as i64)),
                        }
                    }
                    let attrs: Vec<(String, Value)> =
                        ns.iter().enumerate().map(|(k, n)| (name(*n), Value::Int(k as i64))).collect();
                    let v = c
                        .instantiate(attrs.iter().map(|(n, x)| (n.as_str(), x.clone())).collect())
                        .unwrap();
                    objs[0] = (v, model);
                }
            }
        }
        for (obj, model) in &objs {
            let got: Vec<(String, i64)> =
                ints(obj).into_iter().map(|(n, v)| (n.to_string(), v)).collect();
            prop_assert_eq!(&got, model);
            for (n, v) in model {
                prop_assert_eq!(obj.getattr(n).unwrap().as_int(), Some(*v));
            }
            let back = unpickle(&pickle(obj).unwrap()).unwrap();
            let got: Vec<(String, i64)> =
                ints(&back).into_iter().map(|(n, v)| (n.to_string(), v)).collect();
            prop_assert_eq!(&got, model);
        }
    }
}

#[test]
fn instantiate_syms_takes_any_iterator_even_a_nested_or_panicking_one() {
    use permafrost_freeze::Sym;
    let before = diag::heap_live();
    {
        let c = class("Pair");
        let (a, b) = (Sym::new("a"), Sym::new("b"));
        // An array: no buffer of the caller's.
        let p = c
            .instantiate_syms([(a, Value::Int(1)), (b, Value::Int(2))])
            .unwrap();
        assert_eq!(ints(&p), [("a", 1), ("b", 2)]);
        // The iterator itself builds instances (the per-thread buffer is
        // in use meanwhile).
        let q = c
            .instantiate_syms((0..2).map(|k| {
                let inner = c
                    .instantiate_syms([(a, Value::Int(k)), (b, Value::Int(-k))])
                    .unwrap();
                (if k == 0 { a } else { b }, inner)
            }))
            .unwrap();
        assert_eq!(names(&q), ["a", "b"]);
        assert_eq!(ints(&q.getattr("b").unwrap()), [("a", 1), ("b", -1)]);
        // An iterator that panics halfway releases what it had produced.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.instantiate_syms((0..3).map(|k| {
                assert!(k < 2, "the iterator fails");
                (a, Value::list(vec![Value::Int(k)]))
            }))
        }));
        assert!(r.is_err());
        // The thread's buffer still works afterwards.
        let s = c.instantiate_syms([(b, Value::Int(7))]).unwrap();
        assert_eq!(ints(&s), [("b", 7)]);
    }
    permafrost_freeze::collect();
    assert_eq!(diag::heap_live(), before);
}

/// Instances whose attributes exist already decode as one op, made with
/// their values in place: every corruption of such a stream is an error
/// or a graph, and leaks nothing either way.
#[test]
fn corrupt_one_op_instances_fail_cleanly() {
    let c = registered("Pair");
    let base = diag::heap_live();
    let bytes = {
        let shared = Value::list(vec![Value::Int(7)]);
        let mut node = Value::None;
        for i in 0..4 {
            node = c
                .instantiate(vec![
                    ("left", node),
                    ("right", shared.clone()),
                    ("tag", Value::from(format!("n{i}").as_str())),
                ])
                .unwrap();
        }
        let bytes = pickle(&node).unwrap();
        let back = unpickle(&bytes).unwrap();
        assert_eq!(names(&back), ["left", "right", "tag"]);
        let s = diag::attr_storage(&back).unwrap();
        assert_eq!((s.inline, s.extra), (3, 0), "{s:?}");
        bytes
    };
    assert_eq!(diag::heap_live(), base);
    let (mut refused, mut accepted) = (0, 0);
    for at in 5..bytes.len() {
        for x in [0u8, 1, 5, 0x7f, 0xff] {
            let mut b = bytes.clone();
            if b[at] == x {
                continue;
            }
            b[at] = x;
            match unpickle(&b) {
                Ok(v) => {
                    accepted += 1;
                    drop(v);
                }
                Err(_) => refused += 1,
            }
            permafrost_freeze::collect();
            assert_eq!(diag::heap_live(), base, "byte {at} = {x} leaked");
        }
    }
    assert!(
        refused > 0,
        "no corruption was refused ({accepted} accepted)"
    );
}
