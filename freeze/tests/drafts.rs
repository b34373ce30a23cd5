//! Copy-on-write drafts of frozen graphs: reads allocate nothing, a write
//! copies only the path to it, commits share everything else by identity,
//! aliasing and cycles survive, abandoned drafts leak nothing.
//!
//! `frozen_live()` is process-global, so every test holds [`serial::lock`].

#[path = "serial/mod.rs"]
mod serial;
use serial::lock;

use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::*;

fn frozen(v: &Value) -> Frozen {
    freeze(&[v]).unwrap();
    v.share().unwrap()
}

fn int(v: &Value) -> i64 {
    v.as_int().unwrap()
}

mod common;
use common::{path_to, tree};

#[test]
fn reads_allocate_nothing() {
    let _g = lock();
    let inner =
        Value::dict_from(vec![("k".into(), Value::list(vec![1.into(), 2.into()]))]).unwrap();
    let root = frozen(&Value::list(vec![inner, Value::tuple(vec![3.into()])]));
    let (heap0, frozen0) = (heap_live(), frozen_live());
    let draft = Draft::new(&root);
    let mut sum = 0;
    for _ in 0..100 {
        let k = draft.root().get(0).unwrap().get_str("k").unwrap();
        sum += int(&k.get(1).unwrap().value());
        sum += int(&draft.root().get(-1).unwrap().get(0).unwrap().value());
        assert!(k
            .value()
            .is(&root.value().get(0).unwrap().get_str("k").unwrap().unwrap()));
    }
    assert_eq!(sum, 500);
    assert_eq!((heap_live(), frozen_live()), (heap0, frozen0));
    assert_eq!(draft.copied(), 0);
    let same = draft.commit().unwrap();
    assert!(
        same.is(&root),
        "an unchanged draft commits to the base itself"
    );
    assert_eq!((heap_live(), frozen_live()), (heap0, frozen0));
}

#[test]
fn one_leaf_of_a_million_node_tree_copies_only_its_path() {
    let _g = lock();
    const N: usize = 1_000_000;
    let heap0 = heap_live();
    let frozen0 = frozen_live();
    let v1 = frozen(&tree(N));
    assert_eq!(frozen_live(), frozen0 + N as isize);
    let leaf = N - 1; // the deepest level
    let steps = path_to(leaf);
    assert_eq!(steps.len(), 19);

    let draft = Draft::new(&v1);
    let mut node = draft.root();
    for &s in &steps {
        node = node.get(s).unwrap();
    }
    node.set(0, Value::Int(-1)).unwrap();
    // The leaf and the 19 objects above it, root included: nothing else.
    assert_eq!(heap_live(), heap0 + steps.len() + 1);
    assert_eq!(draft.copied(), steps.len() + 1);
    let v2 = draft.commit().unwrap();
    assert_eq!(heap_live(), heap0);
    assert_eq!(frozen_live(), frozen0 + (N + steps.len() + 1) as isize);

    // New leaf in v2, old leaf in v1; every object off the path is shared.
    let (mut a, mut b) = (v1.value(), v2.value());
    for &s in &steps {
        assert!(!a.is(&b), "the path is copied");
        let other = 1 - s;
        if let (Ok(x), Ok(y)) = (a.get(other), b.get(other)) {
            assert!(x.is(&y), "the sibling subtree is the same object");
        }
        a = a.get(s).unwrap();
        b = b.get(s).unwrap();
    }
    assert_eq!(int(&a.get(0).unwrap()), leaf as i64);
    assert_eq!(int(&b.get(0).unwrap()), -1);
    drop((v2, b));
    assert_eq!(frozen_live(), frozen0 + N as isize);
    drop((a, v1));
    assert_eq!(frozen_live(), frozen0);
}

#[test]
fn two_paths_to_one_original_lead_to_one_copy() {
    let _g = lock();
    let shared = Value::list(vec![1.into()]);
    let root = frozen(&Value::list(vec![shared.clone(), shared.clone()]));
    let draft = Draft::new(&root);
    draft.root().get(0).unwrap().append(2.into()).unwrap();
    let other = draft.root().get(1).unwrap().value();
    assert!(other.is(&draft.root().get(0).unwrap().value()));
    assert_eq!(other.len().unwrap(), 2);
    assert_eq!(draft.copied(), 2);
    let v2 = draft.commit().unwrap();
    let r = v2.value();
    assert!(r.get(0).unwrap().is(&r.get(1).unwrap()));
    assert_eq!(shared.len().unwrap(), 1, "the original is unchanged");
}

#[test]
fn a_path_never_walked_sees_the_new_object_too() {
    let _g = lock();
    let (heap0, frozen0) = (heap_live(), frozen_live());
    {
        // x and y both hold `shared`; the draft only walks through x.
        let shared = Value::list(vec![1.into()]);
        let x = Value::list(vec![shared.clone()]);
        let y = Value::tuple(vec![shared.clone()]);
        let z = Value::list(vec![y.clone()]);
        let root = frozen(&Value::dict_from(vec![("x".into(), x), ("z".into(), z)]).unwrap());
        drop((shared, y));
        let v2 = root
            .update(|d| d.get_str("x")?.get(0)?.append(2.into()))
            .unwrap();
        let r = v2.value();
        let via_x = r.get_str("x").unwrap().unwrap().get(0).unwrap();
        let via_z = r
            .get_str("z")
            .unwrap()
            .unwrap()
            .get(0)
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(via_x.len().unwrap(), 2);
        assert!(via_x.is(&via_z), "both paths reach the one new object");
        let old = root
            .value()
            .get_str("z")
            .unwrap()
            .unwrap()
            .get(0)
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(old.len().unwrap(), 1);
        assert!(diag::check_invariants(&[&r]).is_ok());
    }
    collect();
    assert_eq!((heap_live(), frozen_live()), (heap0, frozen0));
}

#[test]
fn a_sub_object_held_elsewhere_does_not_confuse_the_commit() {
    let _g = lock();
    // The leaf is held by another handle as well as by two parents.
    let leaf = Value::list(vec![0.into()]);
    let a = Value::list(vec![leaf.clone()]);
    let b = Value::list(vec![leaf.clone()]);
    let root = frozen(&Value::list(vec![a, b]));
    let keep = leaf.share().unwrap();
    let v2 = root.update(|d| d.get(1)?.get(0)?.set(0, 9.into())).unwrap();
    let r = v2.value();
    assert!(r
        .get(0)
        .unwrap()
        .get(0)
        .unwrap()
        .is(&r.get(1).unwrap().get(0).unwrap()));
    assert_eq!(int(&r.get(0).unwrap().get(0).unwrap().get(0).unwrap()), 9);
    assert_eq!(int(&keep.value().get(0).unwrap()), 0);
}

#[test]
fn cycles_survive_and_abandoned_cyclic_drafts_leak_nothing() {
    let _g = lock();
    let (heap0, frozen0) = (heap_live(), frozen_live());
    {
        let a = Value::list(vec![]);
        let b = Value::list(vec![a.clone(), 1.into()]);
        a.append(b.clone()).unwrap();
        let v1 = frozen(&a);
        drop((a, b));
        let v2 = v1.update(|d| d.get(0)?.set(1, 2.into())).unwrap();
        let (a2, a1) = (v2.value(), v1.value());
        let b2 = a2.get(0).unwrap();
        assert!(
            b2.get(0).unwrap().is(&a2),
            "the cycle closes on the new root"
        );
        assert_eq!(int(&b2.get(1).unwrap()), 2);
        assert!(a1.get(0).unwrap().get(0).unwrap().is(&a1));
        assert_eq!(int(&a1.get(0).unwrap().get(1).unwrap()), 1);
        assert!(diag::check_invariants(&[&a2, &a1]).is_ok());

        // Abandoned after writing both members of the cycle.
        let draft = Draft::new(&v1);
        draft.root().append(3.into()).unwrap();
        draft.root().get(0).unwrap().set(1, 4.into()).unwrap();
        assert_eq!(heap_live(), heap0 + 2);
        drop(draft);
        assert_eq!(heap_live(), heap0);
    }
    collect();
    assert_eq!((heap_live(), frozen_live()), (heap0, frozen0));
}

#[test]
fn instances_are_copied_and_classes_stay_shared() {
    let _g = lock();
    let point = Value::class(
        "Point",
        vec![],
        vec![("origin", Value::list(vec![0.into()]))],
    )
    .unwrap();
    let p = point
        .instantiate(vec![("x", 1.into()), ("y", 2.into())])
        .unwrap();
    freeze(&[&p, &point]).unwrap();
    let v1 = Value::list(vec![p.clone(), point.clone()]);
    let v1 = frozen(&v1);
    let v2 = v1.update(|d| d.get(0)?.setattr("x", 10.into())).unwrap();
    let p2 = v2.value().get(0).unwrap();
    assert!(p2.class_of().unwrap().is(&point), "the class is shared");
    assert_eq!(int(&p2.getattr("x").unwrap()), 10);
    assert_eq!(int(&p2.getattr("y").unwrap()), 2);
    assert_eq!(int(&p.getattr("x").unwrap()), 1);
    assert!(v2.value().get(1).unwrap().is(&point));

    // Inside a class: refused, with the reason.
    let err = v1.update(|d| d.get(1)?.setattr("x", 0.into())).unwrap_err();
    assert_eq!(err, DraftError::NotDraftable { type_name: "type" });
    let err = v1
        .update(|d| d.get(0)?.getattr("origin")?.append(1.into()))
        .unwrap_err();
    assert_eq!(err, DraftError::SharedPath);
    assert!(err.to_string().contains("class"));
}

#[test]
fn what_cannot_be_refrozen_is_refused_and_the_draft_comes_back() {
    let _g = lock();
    let v1 = frozen(&Value::dict_from(vec![("a".into(), 1.into())]).unwrap());
    let socket = Value::list(vec![]);
    set_freezable(&socket, Freezability::No).unwrap();
    let draft = Draft::new(&v1);
    draft.root().set_item("conn".into(), socket).unwrap();
    let err = draft.commit().unwrap_err();
    assert!(matches!(err.error, DraftError::Freeze(ref e) if e.reason == FreezeReason::StatusNo));
    assert!(err.to_string().contains("cannot be re-frozen"));
    let draft = err.into_draft();
    assert_eq!(draft.root().value().len().unwrap(), 2, "nothing was lost");
    draft.root().del_item(&"conn".into()).unwrap();
    draft.root().set_item("b".into(), 2.into()).unwrap();
    let v2 = draft.commit().unwrap();
    assert_eq!(v2.value().len().unwrap(), 2);
    assert_eq!(v1.value().len().unwrap(), 1);
}

#[test]
fn objects_from_a_draft_behave_as_copies() {
    let _g = lock();
    let v1 = frozen(&Value::list(vec![Value::list(vec![1.into()])]));
    let d1 = Draft::new(&v1);
    let d2 = Draft::new(&v1);
    let mine = d1.root().get(0).unwrap().writable().unwrap();
    mine.append(2.into()).unwrap(); // a plain write to the draft's copy
    assert_eq!(d2.root().get(0).unwrap().value().len().unwrap(), 1);
    assert_eq!(v1.value().get(0).unwrap().len().unwrap(), 1);
    d2.root().get(0).unwrap().append(3.into()).unwrap();
    let (n1, n2) = (d1.commit().unwrap(), d2.commit().unwrap());
    let last = |f: &Frozen| int(&f.value().get(0).unwrap().get(-1).unwrap());
    assert_eq!((last(&v1), last(&n1), last(&n2)), (1, 2, 3));
}

#[test]
fn a_failing_update_changes_nothing_and_leaks_nothing() {
    let _g = lock();
    let v1 = frozen(&Value::list(vec![Value::list(vec![1.into()])]));
    let (heap0, frozen0) = (heap_live(), frozen_live());
    let err = v1
        .update(|d| {
            d.get(0)?.append(2.into())?;
            d.get(5).map(drop)
        })
        .unwrap_err();
    assert!(matches!(err, DraftError::Op(Error::Index { index: 5, .. })));
    assert_eq!((heap_live(), frozen_live()), (heap0, frozen0));
    assert_eq!(v1.value().get(0).unwrap().len().unwrap(), 1);
}

#[test]
fn tuples_cells_sets_and_buffers_on_the_path() {
    let _g = lock();
    let v1 = frozen(&Value::tuple(vec![
        Value::cell(Value::list(vec![])),
        Value::set_from(vec![1.into()]).unwrap(),
        Value::buffer(vec![0.5]),
    ]));
    let v2 = v1
        .update(|d| {
            let cell = d.get(0)?;
            cell.cell_set(Value::Int(7))?;
            d.get(1)?.add(2.into())?;
            d.get(2)?.set(0, Value::Float(1.5))
        })
        .unwrap();
    let t = v2.value();
    assert_eq!(t.type_name(), "tuple");
    assert_eq!(int(&t.get(0).unwrap().cell_get().unwrap()), 7);
    assert_eq!(t.get(1).unwrap().len().unwrap(), 2);
    assert_eq!(t.get(2).unwrap().buffer_to_vec().unwrap(), vec![1.5]);
    let old = v1.value();
    assert_eq!(old.get(0).unwrap().cell_get().unwrap().type_name(), "list");
    assert_eq!(old.get(1).unwrap().len().unwrap(), 1);
    assert_eq!(old.get(2).unwrap().buffer_to_vec().unwrap(), vec![0.5]);
    // A draft may replace a tuple's item (the new version gets a new
    // tuple); a plain write to the draft's tuple is still refused.
    let v3 = v1.update(|d| d.set(-1, 1.into())).unwrap();
    assert_eq!(v3.value().get(2).unwrap().as_int(), Some(1));
    assert!(v3.value().get(0).unwrap().is(&old.get(0).unwrap()));
    assert_eq!(
        v1.update(|d| d.set(3, 1.into())).unwrap_err(),
        DraftError::Op(Error::Index { index: 3, len: 3 })
    );
    let d = Draft::new(&v1);
    assert!(d.root().writable().unwrap().set(0, 1.into()).is_err());
}

#[test]
fn a_one_key_change_to_a_big_dict_copies_the_dict_only() {
    let _g = lock();
    let n = 10_000;
    let d = Value::dict();
    for i in 0..n {
        d.set_item(Value::Int(i), Value::list(vec![Value::Int(i)]))
            .unwrap();
    }
    let v1 = frozen(&d);
    drop(d);
    let frozen0 = frozen_live();
    let v2 = v1
        .update(|d| d.set_item(Value::Int(3), Value::Int(-3)))
        .unwrap();
    assert_eq!(
        frozen_live(),
        frozen0 + 1,
        "one new dict (its table is copied)"
    );
    let (a, b) = (v1.value(), v2.value());
    assert!(a
        .get_item(&Value::Int(4))
        .unwrap()
        .is(&b.get_item(&Value::Int(4)).unwrap()));
    assert_eq!(int(&b.get_item(&Value::Int(3)).unwrap()), -3);
}

#[test]
fn a_deep_chain_is_drafted_without_recursion() {
    let _g = lock();
    let n = 100_000;
    let mut head = Value::list(vec![Value::Int(0)]);
    for _ in 0..n {
        head = Value::list(vec![head]);
    }
    let v1 = frozen(&head);
    drop(head);
    let draft = Draft::new(&v1);
    let mut node = draft.root();
    for _ in 0..n {
        node = node.get(0).unwrap();
    }
    node.set(0, Value::Int(1)).unwrap();
    assert_eq!(draft.copied(), n + 1);
    let v2 = draft.commit().unwrap();
    let mut v = v2.value();
    for _ in 0..n {
        v = v.get(0).unwrap();
    }
    assert_eq!(int(&v.get(0).unwrap()), 1);
}

/// A node stands for an object, not for the slot it was reached through
/// (as a Python variable does): once the slot holds something else, a
/// write through the node changes that object, which every other path
/// to it still sees, and never the slot.
#[test]
fn a_node_whose_slot_was_replaced_still_writes_its_object() {
    let _g = lock();
    let (heap0, frozen0) = (heap_live(), frozen_live());
    {
        let shared = Value::list(vec![1.into()]);
        let v1 = frozen(&Value::list(vec![shared.clone(), shared]));
        let draft = Draft::new(&v1);
        let first = draft.root().get(0).unwrap();
        draft.root().set(0, Value::Int(9)).unwrap();
        first.append(2.into()).unwrap();
        let v2 = draft.commit().unwrap();
        let root = v2.value();
        assert_eq!(
            root.get(0).unwrap().as_int(),
            Some(9),
            "the slot keeps its new value"
        );
        let alias = root.get(1).unwrap();
        assert_eq!(alias.len().unwrap(), 2, "the other path sees the write");
        assert_eq!(v1.value().get(1).unwrap().len().unwrap(), 1, "v1 unchanged");
    }
    assert_eq!((heap_live(), frozen_live()), (heap0, frozen0));
}
