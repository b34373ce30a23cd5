//! PEP 795 section 6 "Testable behaviours" 1-8 and 16-18 for the object
//! model: all-or-nothing freeze with rollback, immutability of frozen
//! containers, freezability statuses, and SCC reference counting.
//!
//! `frozen_live()` is process-global, so every test holds [`serial::lock`].

#[path = "serial/mod.rs"]
mod serial;
use serial::lock;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::*;

/// Live counts: this thread's mutable heap and the global frozen count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    heap: usize,
    frozen: isize,
}

fn counts() -> Counts {
    Counts {
        heap: heap_live(),
        frozen: frozen_live(),
    }
}

fn bit(v: &Value) -> bool {
    v.as_obj().expect("an object").is_frozen_bit()
}

fn immutable_msg(t: &str) -> String {
    format!("object of type {t} is immutable")
}

/// Asserts `r` is the "object of type `t` is immutable" error.
#[track_caller]
fn assert_immutable<T: std::fmt::Debug>(r: Result<T, Error>, t: &'static str) {
    match r {
        Err(e) => {
            assert_eq!(e.to_string(), immutable_msg(t));
            assert_eq!(e, Error::Immutable(t));
        }
        Ok(v) => panic!("mutation of a frozen {t} succeeded: {v:?}"),
    }
}

/// A class whose instances may be frozen implicitly.
fn yes_class(name: &str) -> Value {
    let c = Value::class(name, vec![], vec![]).unwrap();
    set_freezable(&c, Freezability::Yes).unwrap();
    c
}

#[test]
fn b01_failed_freeze_leaves_everything_mutable() {
    let _g = lock();
    let base = counts();
    {
        let cls = yes_class("C");
        let bad = Value::list(vec![Value::Int(1)]);
        set_freezable(&bad, Freezability::No).unwrap();
        let c = cls.instantiate(vec![]).unwrap();
        c.setattr("child", bad.clone()).unwrap();
        let before = counts();

        let e = freeze(&[&c]).unwrap_err();
        assert_eq!(e.reason, FreezeReason::StatusNo);
        assert_eq!(e.path, "root.child");
        assert_eq!(e.type_name, "list");
        assert!(e.to_string().contains("nothing was frozen"), "{e}");
        // The Error wrapper (TypeError analogue) carries the same message.
        let wrapped: Error = e.clone().into();
        assert_eq!(wrapped.to_string(), e.to_string());

        assert!(!is_frozen(&c));
        assert!(!is_frozen(&bad));
        assert!(!is_frozen(&cls));
        assert!(!bit(&c) && !bit(&bad) && !bit(&cls));
        assert_eq!(counts(), before, "a failed freeze moved objects");

        // Still mutable.
        c.setattr("x", 5.into()).unwrap();
        assert_eq!(c.getattr("x").unwrap().as_int(), Some(5));
        bad.append(Value::Int(2)).unwrap();
        assert_eq!(bad.len().unwrap(), 2);
        cls.setattr("k", 1.into()).unwrap();
        c.delattr("x").unwrap();
        // Once the blocker is gone the same graph freezes.
        c.delattr("child").unwrap();
        freeze(&[&c]).unwrap();
        assert!(is_frozen(&c) && is_frozen(&cls));
        assert!(!is_frozen(&bad));
    }
    assert_eq!(counts(), base);
}

#[test]
fn b02_cycle_rollback_then_collectable() {
    let _g = lock();
    let base = counts();
    {
        let cls = yes_class("Node");
        let a = cls.instantiate(vec![]).unwrap();
        let b = cls.instantiate(vec![]).unwrap();
        let bad = cls.instantiate(vec![]).unwrap();
        set_freezable(&bad, Freezability::No).unwrap();
        a.setattr("other", b.clone()).unwrap();
        b.setattr("other", a.clone()).unwrap();
        b.setattr("bad", bad.clone()).unwrap();
        let before = counts();

        let e = freeze(&[&a]).unwrap_err();
        assert_eq!(e.reason, FreezeReason::StatusNo);
        assert_eq!(e.path, "root.other.bad");
        assert_eq!(e.type_name, "Node");
        for v in [&a, &b, &bad, &cls] {
            assert!(!is_frozen(v));
            assert!(!bit(v));
        }
        assert_eq!(counts(), before);
        a.setattr("still", true.into()).unwrap();
        b.setattr("still", true.into()).unwrap();
        bad.setattr("still", true.into()).unwrap();
    }
    // a <-> b is a mutable cycle (bad hangs off it): only the collector
    // can free it.
    assert!(heap_live() > base.heap);
    collect();
    assert_eq!(counts(), base, "rolled-back cycle is not collectable");
}

#[test]
fn b02_rollback_restores_counts_exactly() {
    // Fail, unblock, freeze again, drop: if the rollback left a count off,
    // the frozen SCC would leak (or die early) and the totals would differ.
    let _g = lock();
    let base = counts();
    {
        let a = Value::list(vec![Value::Int(0)]);
        let b = Value::list(vec![Value::Int(1), a.clone()]);
        a.append(b.clone()).unwrap();
        a.append(a.clone()).unwrap(); // self edge
        b.append(a.clone()).unwrap(); // duplicate internal edge
        let bad = Value::dict();
        set_freezable(&bad, Freezability::No).unwrap();
        b.append(bad.clone()).unwrap();
        let before = counts();
        for _ in 0..3 {
            let e = freeze(&[&a]).unwrap_err();
            assert_eq!(e.path, "root[1][3]");
            assert_eq!(counts(), before);
        }
        set_freezable(&bad, Freezability::Yes).unwrap();
        freeze(&[&a]).unwrap();
        assert!(is_frozen(&a) && is_frozen(&b) && is_frozen(&bad));
        assert_eq!(before.heap - heap_live(), 3);
        assert_eq!(frozen_live() - before.frozen, 3);
    }
    assert_eq!(counts(), base);
}

#[test]
fn b03_previously_frozen_stays_frozen_after_failed_freeze() {
    let _g = lock();
    let base = counts();
    {
        let pre = Value::list(vec![Value::Int(7)]);
        freeze(&[&pre]).unwrap();
        let bad = Value::list(vec![]);
        set_freezable(&bad, Freezability::No).unwrap();
        let g = Value::list(vec![pre.clone(), bad.clone()]);
        let before = counts();
        let e = freeze(&[&g]).unwrap_err();
        assert_eq!(e.path, "root[1]");
        assert!(is_frozen(&pre));
        assert!(!is_frozen(&g) && !is_frozen(&bad));
        assert_immutable(pre.append(Value::Int(8)), "list");
        assert_eq!(pre.len().unwrap(), 1);
        assert_eq!(counts(), before);
        g.append(Value::Int(1)).unwrap();
        // A previously frozen object as a root of a failing freeze.
        let e = freeze(&[&pre, &g]).unwrap_err();
        assert_eq!(e.path, "roots[1][1]");
        assert!(is_frozen(&pre) && !is_frozen(&g));
        assert_eq!(counts(), before);
    }
    assert_eq!(counts(), base);
}

/// Frozen sample of every mutable container kind.
struct Sample {
    list: Value,
    dict: Value,
    set: Value,
    inst: Value,
    class: Value,
    cell: Value,
    buffer: Value,
    inner: Value,
}

fn frozen_sample() -> Sample {
    let inner = Value::list(vec![Value::Int(1), Value::from("in")]);
    let list = Value::list(vec![Value::Int(1), Value::from("a"), inner.clone()]);
    let dict = Value::dict_from(vec![
        ("k".into(), Value::Int(1)),
        (Value::Int(2), inner.clone()),
    ])
    .unwrap();
    let set = Value::set_from(vec![Value::Int(1), Value::from("x")]).unwrap();
    let base = Value::class("Base", vec![], vec![]).unwrap();
    let class = Value::class("C", vec![base.clone()], vec![("cv", Value::Int(3))]).unwrap();
    let inst = class
        .instantiate(vec![("x", Value::Int(1)), ("l", inner.clone())])
        .unwrap();
    let cell = Value::cell(list.clone());
    let buffer = Value::buffer(vec![1.0, 2.0]);
    let all = Value::list(vec![
        list.clone(),
        dict.clone(),
        set.clone(),
        inst.clone(),
        cell.clone(),
        buffer.clone(),
    ]);
    freeze(&[&all, &class, &base]).unwrap();
    Sample {
        list,
        dict,
        set,
        inst,
        class,
        cell,
        buffer,
        inner,
    }
}

#[test]
fn b04_every_mutator_refused_contents_unchanged() {
    let _g = lock();
    let base = counts();
    {
        let s = frozen_sample();
        let snap = |v: &Value| format!("{v:?}");
        let objs = [
            &s.list, &s.dict, &s.set, &s.inst, &s.class, &s.cell, &s.buffer, &s.inner,
        ];
        let before: Vec<String> = objs.iter().map(|v| snap(v)).collect();
        let before_bases = s.class.bases().unwrap().len();
        let c0 = counts();
        // Fresh mutable arguments: a refused mutator must release them.
        let fresh = || Value::list(vec![Value::Int(9)]);

        // list
        assert_immutable(s.list.append(fresh()), "list");
        assert_immutable(s.list.insert(0, fresh()), "list");
        assert_immutable(s.list.insert(-1, Value::Int(0)), "list");
        assert_immutable(s.list.pop(None), "list");
        assert_immutable(s.list.pop(Some(0)), "list");
        assert_immutable(s.list.set(0, fresh()), "list");
        assert_immutable(s.list.set(-1, Value::None), "list");
        assert_immutable(s.list.extend(vec![fresh(), Value::Int(2)]), "list");
        assert_immutable(s.list.extend(Vec::new()), "list");
        assert_immutable(s.list.clear(), "list");
        assert_immutable(s.list.set_item(Value::Int(0), fresh()), "list");
        // reached only through other containers
        assert_immutable(s.inner.append(Value::Int(3)), "list");
        assert_immutable(s.inner.clear(), "list");
        assert_immutable(s.dict.get_item(&Value::Int(2)).unwrap().pop(None), "list");

        // dict
        assert_immutable(s.dict.set_item("k".into(), fresh()), "dict");
        assert_immutable(s.dict.set_item("new".into(), Value::Int(1)), "dict");
        assert_immutable(s.dict.del_item(&"k".into()), "dict");
        assert_immutable(s.dict.del_item(&Value::Int(2)), "dict");
        assert_immutable(s.dict.clear(), "dict");

        // set
        assert_immutable(s.set.add(Value::Int(42)), "set");
        assert_immutable(s.set.add(Value::Int(1)), "set");
        assert_immutable(s.set.discard(&Value::Int(1)), "set");
        assert_immutable(s.set.discard(&"x".into()), "set");
        assert_immutable(s.set.clear(), "set");

        // instance
        assert_immutable(s.inst.setattr("x", fresh()), "C");
        assert_immutable(s.inst.setattr("y", Value::Int(2)), "C");
        assert_immutable(s.inst.delattr("x"), "C");
        assert_immutable(s.inst.getattr("l").unwrap().append(Value::None), "list");

        // class
        assert_immutable(s.class.setattr("cv", Value::Int(4)), "type");
        assert_immutable(s.class.setattr("new", fresh()), "type");
        assert_immutable(s.class.delattr("cv"), "type");
        assert_immutable(s.class.set_bases(vec![]), "type");
        let other = Value::class("Other", vec![], vec![]).unwrap();
        assert_immutable(s.class.set_bases(vec![other]), "type");

        // cell
        assert_immutable(s.cell.cell_set(fresh()), "cell");
        assert_immutable(s.cell.cell_set(Value::None), "cell");
        assert_immutable(s.cell.cell_get().unwrap().append(Value::None), "list");

        // buffer
        assert_immutable(s.buffer.set(0, Value::Float(5.0)), "buffer");

        let after: Vec<String> = objs.iter().map(|v| snap(v)).collect();
        assert_eq!(before, after, "contents changed");
        assert_eq!(s.class.bases().unwrap().len(), before_bases);
        assert_eq!(s.list.len().unwrap(), 3);
        assert_eq!(s.dict.len().unwrap(), 2);
        assert_eq!(s.set.len().unwrap(), 2);
        assert_eq!(s.inst.getattr("x").unwrap().as_int(), Some(1));
        assert_eq!(s.class.getattr("cv").unwrap().as_int(), Some(3));
        assert_eq!(s.buffer.buffer_to_vec().unwrap(), vec![1.0, 2.0]);
        assert!(s.cell.cell_get().unwrap().is(&s.list));
        assert_eq!(counts(), c0, "a refused mutator leaked or freed something");
    }
    assert_eq!(counts(), base);
}

#[test]
fn b04_mutable_sample_accepts_the_same_mutators() {
    // Control for b04: the same calls succeed before freezing, so the
    // refusals above are due to freezing alone.
    let _g = lock();
    let base = counts();
    {
        let l = Value::list(vec![Value::Int(1), Value::Int(2)]);
        l.append(Value::Int(3)).unwrap();
        l.insert(0, Value::Int(0)).unwrap();
        assert_eq!(l.pop(None).unwrap().as_int(), Some(3));
        l.set(0, Value::Int(5)).unwrap();
        l.extend(vec![Value::Int(6)]).unwrap();
        l.set_item(Value::Int(1), Value::Int(7)).unwrap();
        assert_eq!(format!("{l:?}"), "[5, 7, 2, 6]");
        l.clear().unwrap();
        let d = Value::dict();
        d.set_item("k".into(), 1.into()).unwrap();
        d.del_item(&"k".into()).unwrap();
        d.clear().unwrap();
        let s = Value::set_from(vec![]).unwrap();
        s.add(1.into()).unwrap();
        assert!(s.discard(&1.into()).unwrap());
        s.clear().unwrap();
        let c = Value::class("C", vec![], vec![]).unwrap();
        c.setattr("a", 1.into()).unwrap();
        c.delattr("a").unwrap();
        c.set_bases(vec![]).unwrap();
        let o = c.instantiate(vec![]).unwrap();
        o.setattr("a", 1.into()).unwrap();
        o.delattr("a").unwrap();
        let cell = Value::cell(Value::None);
        cell.cell_set(1.into()).unwrap();
        let b = Value::buffer(vec![0.0]);
        b.set(0, 1.0.into()).unwrap();
    }
    assert_eq!(counts(), base);
}

#[test]
fn b05_freeze_in_place_aliases_see_it() {
    let _g = lock();
    let base = counts();
    {
        let leaf = Value::dict();
        leaf.set_item("v".into(), 1.into()).unwrap();
        let mid = Value::list(vec![leaf.clone()]);
        let x = Value::list(vec![mid.clone(), Value::Int(3)]);
        let id_x = x.as_obj().unwrap().id();
        let alias_leaf = x.get(0).unwrap().get(0).unwrap();
        assert!(alias_leaf.is(&leaf));
        let alias_x = x.clone();

        freeze(&[&x]).unwrap();
        // freeze(x) is x: same object, in place.
        assert_eq!(x.as_obj().unwrap().id(), id_x);
        assert!(alias_x.is(&x));
        let shared = x.share().unwrap();
        assert_eq!(shared.id(), id_x);
        assert!(shared.value().is(&x));
        assert!(x.get(0).unwrap().is(&mid));

        for v in [&alias_x, &mid, &leaf, &alias_leaf] {
            assert!(is_frozen(v));
        }
        assert_immutable(alias_leaf.set_item("v".into(), 2.into()), "dict");
        assert_immutable(alias_leaf.set_item("w".into(), 2.into()), "dict");
        assert_immutable(alias_x.append(Value::None), "list");
        assert_immutable(mid.pop(None), "list");
        assert_eq!(leaf.get_str("v").unwrap().unwrap().as_int(), Some(1));
        assert_eq!(leaf.len().unwrap(), 1);
    }
    assert_eq!(counts(), base);
}

#[test]
fn b06_instance_of_plain_class_needs_class_frozen() {
    let _g = lock();
    let base = counts();
    {
        // Plain class: freezing an instance alone fails.
        let foo = Value::class("Foo", vec![], vec![]).unwrap();
        assert_eq!(effective_freezable(&foo), Freezability::Explicit);
        let o = foo.instantiate(vec![("a", 1.into())]).unwrap();
        let before = counts();
        let e = freeze(&[&o]).unwrap_err();
        assert_eq!(e.reason, FreezeReason::Explicit);
        assert_eq!(e.path, "root.__class__");
        assert_eq!(e.type_name, "type (Foo)");
        assert!(!is_frozen(&o) && !is_frozen(&foo));
        assert_eq!(counts(), before);
        o.setattr("a", 2.into()).unwrap();
        // After freeze(Foo) it succeeds.
        freeze(&[&foo]).unwrap();
        assert!(is_frozen(&foo) && !is_frozen(&o));
        freeze(&[&o]).unwrap();
        assert!(is_frozen(&o));

        // @freezable: marked Yes, reached implicitly.
        let bar = Value::class("Bar", vec![], vec![]).unwrap();
        freezable(&bar).unwrap();
        let ob = bar.instantiate(vec![]).unwrap();
        freeze(&[&ob]).unwrap();
        assert!(is_frozen(&ob) && is_frozen(&bar));

        // @frozen: frozen at once.
        let baz = Value::class("Baz", vec![], vec![]).unwrap();
        frozen(&baz).unwrap();
        assert!(is_frozen(&baz));
        let oz = baz.instantiate(vec![]).unwrap();
        freeze(&[&oz]).unwrap();
        assert!(is_frozen(&oz));

        // freeze(o, Qux) in one call.
        let qux = Value::class("Qux", vec![], vec![]).unwrap();
        let oq = qux.instantiate(vec![]).unwrap();
        freeze(&[&oq, &qux]).unwrap();
        assert!(is_frozen(&oq) && is_frozen(&qux));

        // A base class reached through __bases__ is Explicit too.
        let parent = Value::class("Parent", vec![], vec![]).unwrap();
        let child = Value::class("Child", vec![parent.clone()], vec![]).unwrap();
        let oc = child.instantiate(vec![]).unwrap();
        let e = freeze(&[&oc, &child]).unwrap_err();
        assert_eq!(e.path, "roots[0].__class__.__bases__[0]");
        assert_eq!(e.reason, FreezeReason::Explicit);
        assert!(!is_frozen(&oc) && !is_frozen(&child) && !is_frozen(&parent));
        freeze(&[&oc, &child, &parent]).unwrap();
        assert!(is_frozen(&oc) && is_frozen(&child) && is_frozen(&parent));
    }
    assert_eq!(counts(), base);
}

#[test]
fn b07_explicit_must_be_frozen_directly_first() {
    let _g = lock();
    let base = counts();
    {
        let v = Value::list(vec![Value::Int(1)]);
        set_freezable(&v, Freezability::Explicit).unwrap();
        assert_eq!(get_freezable(&v), Some(Freezability::Explicit));
        let c1 = Value::cell(v.clone());
        let e = freeze(&[&c1]).unwrap_err();
        assert_eq!(e.reason, FreezeReason::Explicit);
        assert_eq!(e.path, "root.cell_contents");
        assert_eq!(e.type_name, "list");
        assert!(!is_frozen(&c1) && !is_frozen(&v));
        v.append(Value::Int(2)).unwrap();

        freeze(&[&v]).unwrap();
        assert!(is_frozen(&v) && !is_frozen(&c1));
        freeze(&[&c1]).unwrap();
        assert!(is_frozen(&c1));
        let c2 = Value::cell(v.clone());
        freeze(&[&c2]).unwrap();
        assert!(is_frozen(&c2));
        assert_eq!(v.len().unwrap(), 2);
    }
    assert_eq!(counts(), base);
}

#[test]
fn b08_status_no_blocks_until_switched_to_yes() {
    let _g = lock();
    let base = counts();
    {
        let v = Value::dict();
        set_freezable(&v, Freezability::No).unwrap();
        unfreezable(&v).unwrap();
        let holder = Value::list(vec![Value::Int(0), v.clone()]);
        let cell = Value::cell(holder.clone());
        let before = counts();

        let e = freeze(&[&v]).unwrap_err();
        assert_eq!(e.reason, FreezeReason::StatusNo);
        assert_eq!(e.path, "root");
        assert_eq!(e.type_name, "dict");
        let e = freeze(&[&holder]).unwrap_err();
        assert_eq!(e.reason, FreezeReason::StatusNo);
        assert_eq!(e.path, "root[1]");
        let e = freeze(&[&cell]).unwrap_err();
        assert_eq!(e.path, "root.cell_contents[1]");
        assert!(!is_frozen(&v) && !is_frozen(&holder) && !is_frozen(&cell));
        assert_eq!(counts(), before);

        set_freezable(&v, Freezability::Yes).unwrap();
        freeze(&[&cell]).unwrap();
        assert!(is_frozen(&v) && is_frozen(&holder) && is_frozen(&cell));
        // Status can no longer change once frozen.
        assert_immutable(set_freezable(&v, Freezability::No), "dict");
    }
    assert_eq!(counts(), base);
}

static FINALIZED: AtomicUsize = AtomicUsize::new(0);

fn on_dead(_c: &Call<'_>) -> Result<Value, Error> {
    FINALIZED.fetch_add(1, Ordering::SeqCst);
    Ok(Value::None)
}

#[test]
fn b16_cyclic_scc_freed_at_once() {
    let _g = lock();
    let base = counts();
    let f = Value::list(vec![Value::Int(0)]);
    let g = Value::list(vec![Value::Int(1)]);
    let h = Value::list(vec![Value::Int(2)]);
    f.append(g.clone()).unwrap();
    g.append(h.clone()).unwrap();
    h.append(g.clone()).unwrap();
    freeze(&[&f]).unwrap();
    assert!(is_frozen(&f) && is_frozen(&g) && is_frozen(&h));
    assert_eq!(heap_live(), base.heap);
    assert_eq!(frozen_live(), base.frozen + 3);

    // Finalizers: weak references (made after freezing, outside the
    // graph) with callbacks on both SCC members.
    let cb = Value::function("on_dead", 1, on_dead, vec![], vec![]);
    let wg = Value::weakref_with_callback(&g, Some(cb.clone())).unwrap();
    let wh = Value::weakref_with_callback(&h, Some(cb.clone())).unwrap();
    let wf = Value::weakref(&f).unwrap();
    let fin0 = FINALIZED.load(Ordering::SeqCst);

    // f is its own SCC: it dies alone.
    drop(f);
    assert_eq!(frozen_live(), base.frozen + 2);
    assert!(wf.weak_get().unwrap().is_none());
    assert!(wg.weak_get().unwrap().is_some());
    // Dropping g's handle does not free g: h's edge keeps the SCC alive.
    drop(g);
    assert_eq!(frozen_live(), base.frozen + 2);
    let g2 = wg.weak_get().unwrap().expect("g alive through h");
    assert!(g2.get(1).unwrap().is(&h));
    drop(g2);
    assert_eq!(run_weak_callbacks().unwrap(), 0);
    // Last external reference: g and h go together, no collect().
    drop(h);
    assert_eq!(frozen_live(), base.frozen);
    assert!(wg.weak_get().unwrap().is_none());
    assert!(wh.weak_get().unwrap().is_none());
    assert_eq!(run_weak_callbacks().unwrap(), 2);
    assert_eq!(FINALIZED.load(Ordering::SeqCst), fin0 + 2);
    drop((wg, wh, wf, cb));
    assert_eq!(counts(), base);
}

/// a -> b -> c -> a, plus optional extra internal edges; ints 0, 1, 2 at
/// index 0 and the successor at index 1.
fn ring3(extra_edges: bool) -> [Value; 3] {
    let a = Value::list(vec![Value::Int(0)]);
    let b = Value::list(vec![Value::Int(1)]);
    let c = Value::list(vec![Value::Int(2)]);
    a.append(b.clone()).unwrap();
    b.append(c.clone()).unwrap();
    c.append(a.clone()).unwrap();
    if extra_edges {
        a.append(c.clone()).unwrap(); // chord
        b.append(b.clone()).unwrap(); // self loop
        c.append(a.clone()).unwrap(); // duplicate back edge
        a.append(b.clone()).unwrap(); // duplicate tree edge
    }
    [a, b, c]
}

/// Walks the ring from `v` and checks the values; proves the members are
/// still allocated and intact.
#[track_caller]
fn check_ring(v: &Value) {
    let start = v.get(0).unwrap().as_int().unwrap();
    let mut cur = v.clone();
    for step in 0..6 {
        assert_eq!(cur.get(0).unwrap().as_int(), Some((start + step) % 3));
        cur = cur.get(1).unwrap();
    }
}

const PERMS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

#[test]
fn b17_scc_refcount_accounting() {
    let _g = lock();
    let base = counts();
    for extra in [false, true] {
        for perm in PERMS {
            for root in 0..3 {
                let ring = ring3(extra);
                freeze(&[&ring[root]]).unwrap();
                assert_eq!(frozen_live(), base.frozen + 3);
                assert_eq!(heap_live(), base.heap);
                // One more external reference on one member.
                let ext = ring[perm[1]].clone();
                let mut handles: Vec<Option<Value>> = ring.into_iter().map(Some).collect();
                for (k, &i) in perm.iter().enumerate() {
                    handles[i] = None;
                    assert_eq!(
                        frozen_live(),
                        base.frozen + 3,
                        "SCC freed early (extra={extra}, perm={perm:?}, root={root}, step {k})"
                    );
                    if let Some(v) = handles.iter().flatten().next() {
                        check_ring(v);
                    }
                }
                check_ring(&ext);
                drop(ext);
                assert_eq!(
                    frozen_live(),
                    base.frozen,
                    "SCC not freed by its last reference (extra={extra}, perm={perm:?}, root={root})"
                );
            }
        }
    }
    assert_eq!(counts(), base);
}

#[test]
fn b17_references_from_outside_the_scc() {
    let _g = lock();
    let base = counts();
    // A frozen SCC pointing in: outer -> a (outer frozen in the same call).
    {
        let [a, b, c] = ring3(true);
        let outer = Value::list(vec![b.clone(), b.clone()]);
        freeze(&[&outer]).unwrap();
        assert_eq!(frozen_live(), base.frozen + 4);
        drop((a, b, c));
        assert_eq!(frozen_live(), base.frozen + 4);
        check_ring(&outer.get(0).unwrap());
        drop(outer);
        assert_eq!(frozen_live(), base.frozen);
    }
    // Dropping the outer SCC first frees exactly one object.
    {
        let [a, b, c] = ring3(false);
        let outer = Value::list(vec![c.clone()]);
        freeze(&[&outer]).unwrap();
        drop(outer);
        assert_eq!(frozen_live(), base.frozen + 3);
        drop((b, c));
        assert_eq!(frozen_live(), base.frozen + 3);
        check_ring(&a);
        drop(a);
        assert_eq!(frozen_live(), base.frozen);
    }
    // A mutable container made after freezing holds a member.
    {
        let [a, b, c] = ring3(true);
        freeze(&[&b]).unwrap();
        let holder = Value::dict();
        holder.set_item("m".into(), c.clone()).unwrap();
        let list_holder = Value::list(vec![a.clone()]);
        drop((a, b, c));
        assert_eq!(frozen_live(), base.frozen + 3 + 1); // + "m"
        check_ring(&holder.get_str("m").unwrap().unwrap());
        drop(holder);
        assert_eq!(frozen_live(), base.frozen + 3);
        check_ring(&list_holder.get(0).unwrap());
        drop(list_holder);
        assert_eq!(frozen_live(), base.frozen);
    }
    // A member refers to an object frozen earlier: freeing the SCC
    // releases it.
    {
        let old = Value::list(vec![Value::Int(9)]);
        freeze(&[&old]).unwrap();
        let [a, b, c] = ring3(false);
        b.append(old.clone()).unwrap();
        freeze(&[&a]).unwrap();
        assert_eq!(frozen_live(), base.frozen + 4);
        drop(old);
        assert_eq!(frozen_live(), base.frozen + 4);
        drop((a, b, c));
        assert_eq!(frozen_live(), base.frozen);
    }
    assert_eq!(counts(), base);
}

#[test]
fn b17_clones_on_other_threads_keep_the_scc_alive() {
    let _g = lock();
    let base = counts();
    for last in 0..3 {
        let ring = ring3(true);
        freeze(&[&ring[0]]).unwrap();
        let shared: Vec<Frozen> = ring.iter().map(|v| v.share().unwrap()).collect();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let mine = shared[last].clone();
        let t = std::thread::spawn(move || {
            // Many increments and decrements through every member.
            let v = mine.value();
            for _ in 0..1000 {
                let c = v.clone();
                let n = c.get(1).unwrap();
                drop(c);
                let _ = n.get(1).unwrap();
            }
            drop(v);
            ready_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            check_ring(&mine.value());
            drop(mine); // the last reference, on this thread
        });
        ready_rx.recv().unwrap();
        drop(shared);
        drop(ring);
        assert_eq!(
            frozen_live(),
            base.frozen + 3,
            "a thread's clone did not keep it"
        );
        go_tx.send(()).unwrap();
        t.join().unwrap();
        assert_eq!(frozen_live(), base.frozen, "freed on the other thread");
    }
    assert_eq!(counts(), base);
}

#[test]
fn b18_is_frozen_tuples() {
    let _g = lock();
    let base = counts();
    {
        let t = Value::tuple(vec![Value::Int(1), Value::from("a"), Value::None]);
        assert!(!bit(&t));
        let c = counts();
        assert!(is_frozen(&t));
        // Reported frozen, and now frozen in fact (moved off the heap).
        assert!(bit(&t));
        assert_eq!(heap_live(), c.heap - 1);
        assert_eq!(frozen_live(), c.frozen + 1);
        assert!(t.share().is_ok());

        let d = Value::dict_from(vec![("x".into(), 1.into())]).unwrap();
        let t2 = Value::tuple(vec![d.clone(), Value::None]);
        let c0 = counts();
        assert!(!is_frozen(&t2));
        assert!(!bit(&t2) && !bit(&d));
        assert_eq!(counts(), c0);
        d.set_item("y".into(), 2.into()).unwrap();

        // Nested tuples: frozen only if every level is.
        let inner = Value::tuple(vec![Value::Int(1), Value::Float(2.5)]);
        let nested = Value::tuple(vec![inner.clone(), Value::from("z"), Value::Bool(true)]);
        assert!(is_frozen(&nested));
        assert!(bit(&inner));
        let bad_inner = Value::tuple(vec![Value::Int(1), Value::list(vec![])]);
        let mixed = Value::tuple(vec![Value::tuple(vec![]), bad_inner.clone()]);
        let c1 = counts();
        assert!(!is_frozen(&mixed));
        assert!(!bit(&mixed) && !bit(&bad_inner));
        assert_eq!(counts(), c1);
        // A tuple holding an already-frozen list is frozen.
        let l = Value::list(vec![Value::Int(1)]);
        freeze(&[&l]).unwrap();
        assert!(is_frozen(&Value::tuple(vec![l, Value::None])));
        // Immediates, str and bytes are always frozen.
        for v in [
            Value::None,
            Value::Int(3),
            Value::Bool(false),
            Value::Float(1.0),
            Value::from("s"),
            Value::bytes(b"b"),
        ] {
            assert!(is_frozen(&v));
        }
        // Mutable containers are not, even when empty.
        assert!(!is_frozen(&Value::list(vec![])));
        assert!(!is_frozen(&Value::dict()));
        assert!(!is_frozen(&Value::set_from(vec![]).unwrap()));
    }
    assert_eq!(counts(), base);
}
