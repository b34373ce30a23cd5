//! The PEP 795 prototype's API surface (issue 15), one test per behaviour,
//! named after it, in the style of `pep_semantics.rs`: the mutators
//! Python code uses, shallow freezing, freezability as the prototype
//! resolves it, the prototype-compatible class default, weak references,
//! module deletion and the immutable types the PEP lists.
//!
//! Every test holds the serial lock (counts are process-wide) and checks
//! that what it built is freed.

mod serial;

use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::*;
use proptest::prelude::*;

/// Asserts that everything a test built was freed.
fn assert_freed(heap: usize, frozen: isize) {
    collect();
    assert_eq!(heap_live(), heap, "mutable objects leaked");
    assert_eq!(frozen_live(), frozen, "frozen objects leaked");
}

fn ints(v: &[i64]) -> Value {
    Value::list(v.iter().map(|&i| i.into()).collect())
}

fn repr(v: &Value) -> String {
    format!("{v:?}")
}

fn key_mod3(c: &Call<'_>) -> Result<Value, Error> {
    Ok(Value::Int(c.arg(0)?.as_int().expect("int").rem_euclid(3)))
}

fn key_fails(_: &Call<'_>) -> Result<Value, Error> {
    Err(Error::Other("key refused".into()))
}

/// A key function that appends to the list being sorted.
fn key_mutates(c: &Call<'_>) -> Result<Value, Error> {
    c.captured(0)?.append(0.into())?;
    c.arg(0)
}

// ---------------------------------------------------------------------------
// Item 4: mutators.

/// Every new list mutator refuses a frozen list with the standard error
/// and leaves it as it was.
#[test]
fn list_mutators_refuse_frozen_list_and_change_nothing() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let l = ints(&[3, 1, 2, 1]);
        freeze(&[&l]).unwrap();
        let before = repr(&l);
        let results: Vec<Result<(), Error>> = vec![
            l.remove(&1.into()),
            l.reverse(),
            l.sort(None, false),
            l.sort(None, true),
            l.set_slice(Some(0), Some(1), None, vec![9.into()]),
            l.set_slice(None, None, Some(2), vec![9.into(), 9.into()]),
            l.del_slice(Some(0), Some(2), None),
            l.imul(3),
            l.imul(0),
        ];
        for r in results {
            assert_eq!(r.unwrap_err(), Error::Immutable("list"));
        }
        assert_eq!(repr(&l), before);
        // Reads still work on a frozen list.
        assert_eq!(l.index(&1.into()).unwrap(), 1);
        assert_eq!(l.count(&1.into()).unwrap(), 2);
        assert_eq!(
            repr(&l.slice(None, None, Some(-1)).unwrap()),
            "[1, 2, 1, 3]"
        );
    }
    assert_freed(h, f);
}

#[test]
fn list_remove_reverse_index_count_as_python() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let l = ints(&[1, 2, 3, 2]);
        l.remove(&2.into()).unwrap();
        assert_eq!(repr(&l), "[1, 3, 2]");
        // 2.0 == 2: Python equality.
        l.remove(&Value::Float(2.0)).unwrap();
        assert_eq!(repr(&l), "[1, 3]");
        let e = l.remove(&7.into()).unwrap_err();
        assert_eq!(e.to_string(), "list.remove(x): x not in list");
        assert_eq!(repr(&l), "[1, 3]");
        l.reverse().unwrap();
        assert_eq!(repr(&l), "[3, 1]");
        let t = Value::tuple(vec!["a".into(), "b".into(), "a".into()]);
        assert_eq!(t.index(&"b".into()).unwrap(), 1);
        assert_eq!(t.count(&"a".into()).unwrap(), 2);
        assert!(matches!(t.index(&"z".into()), Err(Error::Value(_))));
    }
    assert_freed(h, f);
}

#[test]
fn list_slices_get_set_delete_as_python() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let l = ints(&[0, 1, 2, 3, 4, 5]);
        assert_eq!(repr(&l.slice(Some(1), Some(4), None).unwrap()), "[1, 2, 3]");
        assert_eq!(repr(&l.slice(None, None, Some(2)).unwrap()), "[0, 2, 4]");
        assert_eq!(repr(&l.slice(Some(-2), None, None).unwrap()), "[4, 5]");
        assert_eq!(
            repr(&l.slice(Some(4), Some(1), Some(-2)).unwrap()),
            "[4, 2]"
        );
        assert_eq!(repr(&l.slice(Some(10), Some(20), None).unwrap()), "[]");
        let t = Value::tuple(vec![1.into(), 2.into(), 3.into()]);
        assert_eq!(repr(&t.slice(Some(1), None, None).unwrap()), "(2, 3)");
        // Step 1 assignment may change the length; an empty slice inserts.
        l.set_slice(Some(1), Some(3), None, vec!["x".into()])
            .unwrap();
        assert_eq!(repr(&l), "[0, 'x', 3, 4, 5]");
        l.set_slice(Some(2), Some(0), None, vec![7.into(), 8.into()])
            .unwrap();
        assert_eq!(repr(&l), "[0, 'x', 7, 8, 3, 4, 5]");
        // Extended slices need exactly as many items.
        let e = l
            .set_slice(None, None, Some(3), vec![1.into()])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "attempt to assign sequence of size 1 to extended slice of size 3"
        );
        assert_eq!(repr(&l), "[0, 'x', 7, 8, 3, 4, 5]");
        l.set_slice(None, None, Some(3), vec![10.into(), 11.into(), 12.into()])
            .unwrap();
        assert_eq!(repr(&l), "[10, 'x', 7, 11, 3, 4, 12]");
        l.del_slice(None, None, Some(2)).unwrap();
        assert_eq!(repr(&l), "['x', 11, 4]");
        l.del_slice(Some(-1), None, Some(-1)).unwrap();
        assert_eq!(repr(&l), "[]");
        let e = l.slice(None, None, Some(0)).unwrap_err();
        assert_eq!(e.to_string(), "slice step cannot be zero");
    }
    assert_freed(h, f);
}

#[test]
fn list_inplace_repeat_as_python() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let inner = Value::list(vec![]);
        let l = Value::list(vec![1.into(), inner.clone()]);
        l.imul(3).unwrap();
        assert_eq!(l.len().unwrap(), 6);
        // The same object repeated, as in Python.
        assert!(l.get(5).unwrap().is(&inner));
        l.imul(-1).unwrap();
        assert_eq!(repr(&l), "[]");
    }
    assert_freed(h, f);
}

#[test]
fn list_sort_stable_with_key_and_reverse() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let key = Value::function("key", 1, key_mod3, vec![], vec![]);
        let l = ints(&[5, 3, 4, 6, 1, 9, 2]);
        l.sort(Some(&key), false).unwrap();
        // Keys 2 0 1 0 1 0 2: equal keys keep their order.
        assert_eq!(repr(&l), "[3, 6, 9, 4, 1, 5, 2]");
        let l = ints(&[5, 3, 4, 6, 1, 9, 2]);
        l.sort(Some(&key), true).unwrap();
        assert_eq!(repr(&l), "[5, 2, 4, 1, 3, 6, 9]");
        let mixed = Value::list(vec![Value::Float(2.5), 1.into(), true.into(), 0.into()]);
        mixed.sort(None, false).unwrap();
        assert_eq!(repr(&mixed), "[0, 1, True, 2.5]");
        let words = Value::list(vec!["b".into(), "a".into(), "B".into()]);
        words.sort(None, false).unwrap();
        assert_eq!(repr(&words), "['B', 'a', 'b']");
        let tuples = Value::list(vec![
            Value::tuple(vec![1.into(), "b".into()]),
            Value::tuple(vec![1.into()]),
            Value::tuple(vec![0.into(), "z".into()]),
        ]);
        tuples.sort(None, false).unwrap();
        assert_eq!(repr(&tuples), "[(0, 'z'), (1,), (1, 'b')]");
    }
    assert_freed(h, f);
}

#[test]
fn list_sort_errors_leave_list_unchanged() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let l = Value::list(vec![3.into(), "a".into(), 1.into()]);
        let e = l.sort(None, false).unwrap_err();
        assert!(matches!(e, Error::Unorderable { .. }), "{e}");
        assert!(e
            .to_string()
            .contains("'<' not supported between instances of"));
        assert_eq!(repr(&l), "[3, 'a', 1]");
        let nested = Value::list(vec![
            Value::tuple(vec![1.into(), Value::None]),
            Value::tuple(vec![1.into(), 2.into()]),
        ]);
        assert!(nested.sort(None, false).is_err());
        assert_eq!(repr(&nested), "[(1, None), (1, 2)]");
        let l = ints(&[2, 1]);
        let bad = Value::function("bad", 1, key_fails, vec![], vec![]);
        assert_eq!(
            l.sort(Some(&bad), false).unwrap_err().to_string(),
            "key refused"
        );
        assert_eq!(repr(&l), "[2, 1]");
        let sneaky = Value::function("sneaky", 1, key_mutates, vec![l.clone()], vec![]);
        let e = l.sort(Some(&sneaky), false).unwrap_err();
        assert_eq!(e.to_string(), "list modified during sort");
        assert_eq!(repr(&l), "[2, 1, 0, 0]");
    }
    assert_freed(h, f);
}

/// Every new dict mutator refuses a frozen dict and changes nothing.
#[test]
fn dict_mutators_refuse_frozen_dict_and_change_nothing() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let d = Value::dict_from(vec![("a".into(), 1.into()), ("b".into(), 2.into())]).unwrap();
        freeze(&[&d]).unwrap();
        let before = repr(&d);
        assert_eq!(d.popitem().unwrap_err(), Error::Immutable("dict"));
        assert_eq!(
            d.setdefault("c".into(), 3.into()).unwrap_err(),
            Error::Immutable("dict")
        );
        // Even for a key already there: setdefault is a mutator.
        assert_eq!(
            d.setdefault("a".into(), 3.into()).unwrap_err(),
            Error::Immutable("dict")
        );
        let other = Value::dict_from(vec![("z".into(), 0.into())]).unwrap();
        assert_eq!(d.update(&other).unwrap_err(), Error::Immutable("dict"));
        assert_eq!(repr(&d), before);
        // copy gives a fresh, mutable dict.
        let c = d.copy().unwrap();
        assert!(!is_frozen(&c));
        c.update(&other).unwrap();
        assert_eq!(repr(&c), "{'a': 1, 'b': 2, 'z': 0}");
        assert_eq!(repr(&Value::list(d.keys().unwrap())), "['a', 'b']");
        assert_eq!(repr(&Value::list(d.values().unwrap())), "[1, 2]");
    }
    assert_freed(h, f);
}

#[test]
fn dict_popitem_setdefault_update_as_python() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let d = Value::dict_from(vec![("a".into(), 1.into())]).unwrap();
        let l = Value::list(vec![]);
        assert!(d.setdefault("l".into(), l.clone()).unwrap().is(&l));
        assert_eq!(
            d.setdefault("a".into(), 5.into()).unwrap().as_int(),
            Some(1)
        );
        let pairs = Value::list(vec![
            Value::tuple(vec!["a".into(), 10.into()]),
            Value::list(vec!["n".into(), Value::None]),
        ]);
        d.update(&pairs).unwrap();
        assert_eq!(repr(&d), "{'a': 10, 'l': [], 'n': None}");
        let bad = Value::list(vec![Value::tuple(vec![1.into()])]);
        assert!(matches!(d.update(&bad), Err(Error::Value(_))));
        let unhashable = Value::list(vec![Value::tuple(vec![Value::list(vec![]), 1.into()])]);
        assert!(matches!(
            d.update(&unhashable),
            Err(Error::Unhashable("list"))
        ));
        assert_eq!(repr(&d), "{'a': 10, 'l': [], 'n': None}");
        // A dict updated with itself is unchanged.
        d.update(&d.clone()).unwrap();
        assert_eq!(d.len().unwrap(), 3);
        let (k, v) = d.popitem().unwrap();
        assert_eq!((k.as_str(), v.is_none()), (Some("n"), true));
        d.popitem().unwrap();
        d.popitem().unwrap();
        assert!(matches!(d.popitem(), Err(Error::Key(_))));
    }
    assert_freed(h, f);
}

/// Every new set mutator refuses a frozen set and changes nothing.
#[test]
fn set_mutators_refuse_frozen_set_and_change_nothing() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let s = Value::set_from(vec![1.into(), 2.into()]).unwrap();
        freeze(&[&s]).unwrap();
        let before = repr(&s);
        let other = Value::list(vec![2.into(), 3.into()]);
        assert_eq!(s.set_pop().unwrap_err(), Error::Immutable("set"));
        assert_eq!(s.remove(&1.into()).unwrap_err(), Error::Immutable("set"));
        assert_eq!(s.update(&other).unwrap_err(), Error::Immutable("set"));
        assert_eq!(
            s.intersection_update(&other).unwrap_err(),
            Error::Immutable("set")
        );
        assert_eq!(
            s.difference_update(&other).unwrap_err(),
            Error::Immutable("set")
        );
        assert_eq!(repr(&s), before);
        // The operators build new (mutable) sets.
        let u = s.union(&other).unwrap();
        assert!(!is_frozen(&u));
        assert_eq!(u.len().unwrap(), 3);
    }
    assert_freed(h, f);
}

#[test]
fn set_pop_remove_and_algebra_as_python() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let s = Value::set_from(vec![1.into(), 2.into(), 3.into()]).unwrap();
        let other = Value::list(vec![2.into(), 3.into(), 4.into()]);
        let set = |v: Vec<i64>| Value::set_from(v.into_iter().map(Value::from).collect()).unwrap();
        assert!(s.union(&other).unwrap().py_eq(&set(vec![1, 2, 3, 4])));
        assert!(s.intersection(&other).unwrap().py_eq(&set(vec![2, 3])));
        assert!(s.difference(&other).unwrap().py_eq(&set(vec![1])));
        s.remove(&1.into()).unwrap();
        assert!(matches!(s.remove(&1.into()), Err(Error::Key(_))));
        s.update(&other).unwrap();
        assert!(s.py_eq(&set(vec![2, 3, 4])));
        s.intersection_update(&Value::tuple(vec![3.into(), 4.into(), 5.into()]))
            .unwrap();
        assert!(s.py_eq(&set(vec![3, 4])));
        s.difference_update(&Value::list(vec![4.into()])).unwrap();
        assert!(s.py_eq(&set(vec![3])));
        assert!(matches!(
            s.update(&Value::list(vec![Value::dict()])),
            Err(Error::Unhashable("dict"))
        ));
        assert_eq!(s.set_pop().unwrap().as_int(), Some(3));
        assert!(matches!(s.set_pop(), Err(Error::Key(_))));
    }
    assert_freed(h, f);
}

/// Reference order for the property test: Python's on (int, str) pairs.
#[derive(Clone, Debug)]
enum Item {
    Int(i64),
    Float(f64),
    Pair(i64, String),
}

fn item_value(i: &Item) -> Value {
    match i {
        Item::Int(x) => (*x).into(),
        Item::Float(x) => Value::Float(*x),
        Item::Pair(a, b) => Value::tuple(vec![(*a).into(), b.as_str().into()]),
    }
}

proptest! {
    /// `sort` agrees with a reference stable sort (Rust's, on the same
    /// order) for numbers, with and without `reverse`.
    #[test]
    fn sort_matches_reference_on_numbers(
        xs in prop::collection::vec(
            prop_oneof![
                (-50i64..50).prop_map(Item::Int),
                (-50i64..50).prop_map(|x| Item::Float(x as f64 / 4.0)),
            ],
            0..40,
        ),
        reverse in any::<bool>(),
    ) {
        let _s = serial::lock();
        let as_f = |i: &Item| match i { Item::Int(x) => *x as f64, Item::Float(x) => *x, _ => unreachable!() };
        let l = Value::list(xs.iter().map(item_value).collect());
        l.sort(None, reverse).unwrap();
        // Tag each item with its index to check stability, not just order.
        let mut expect: Vec<(usize, &Item)> = xs.iter().enumerate().collect();
        if reverse {
            expect.sort_by(|a, b| as_f(b.1).partial_cmp(&as_f(a.1)).unwrap());
        } else {
            expect.sort_by(|a, b| as_f(a.1).partial_cmp(&as_f(b.1)).unwrap());
        }
        let want = Value::list(expect.iter().map(|(_, i)| item_value(i)).collect());
        prop_assert_eq!(repr(&l), repr(&want));
    }

    /// `sort` with a key function is stable and matches a reference sort
    /// of (key, original position).
    #[test]
    fn sort_with_key_matches_reference(xs in prop::collection::vec(-100i64..100, 0..40)) {
        let _s = serial::lock();
        let key = Value::function("key", 1, key_mod3, vec![], vec![]);
        let l = ints(&xs);
        l.sort(Some(&key), false).unwrap();
        let mut want = xs.clone();
        want.sort_by_key(|x| x.rem_euclid(3));
        prop_assert_eq!(repr(&l), repr(&ints(&want)));
    }

    /// Tuples of (int, str) sort lexicographically, as Rust's tuples do.
    #[test]
    fn sort_matches_reference_on_tuples(
        xs in prop::collection::vec((0i64..4, "[a-c]{0,2}"), 0..30),
    ) {
        let _s = serial::lock();
        let items: Vec<Item> = xs.iter().map(|(a, b)| Item::Pair(*a, b.clone())).collect();
        let l = Value::list(items.iter().map(item_value).collect());
        l.sort(None, false).unwrap();
        let mut want = xs.clone();
        want.sort();
        let want = Value::list(want.iter().map(|(a, b)| item_value(&Item::Pair(*a, b.clone()))).collect());
        prop_assert_eq!(repr(&l), repr(&want));
    }
}

// ---------------------------------------------------------------------------
// Item 1: shallow freezing.

#[test]
fn shallow_freeze_locks_own_state_not_referents() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let inner = Value::list(vec![]);
        let outer = Value::list(vec![inner.clone()]);
        let d = Value::dict_from(vec![("k".into(), inner.clone())]).unwrap();
        let cls = Value::class("C", vec![], vec![]).unwrap();
        let obj = cls.instantiate(vec![("x", inner.clone())]).unwrap();
        shallow_freeze(&[&outer, &d, &obj]).unwrap();
        for v in [&outer, &d, &obj] {
            assert!(is_shallow_frozen(v));
            assert!(!is_frozen(v), "reaches a mutable list");
            assert!(v.share().is_err(), "not shareable by reference");
        }
        assert_eq!(
            outer.append(1.into()).unwrap_err(),
            Error::Immutable("list")
        );
        assert_eq!(
            outer.sort(None, false).unwrap_err(),
            Error::Immutable("list")
        );
        assert_eq!(
            d.set_item("k2".into(), 1.into()).unwrap_err(),
            Error::Immutable("dict")
        );
        assert_eq!(
            obj.setattr("x", 1.into()).unwrap_err(),
            Error::Immutable("C")
        );
        assert_eq!(obj.delattr("x").unwrap_err(), Error::Immutable("C"));
        // What they refer to is untouched: still mutable, not locked.
        assert!(!is_shallow_frozen(&inner) && !is_shallow_frozen(&cls));
        inner.append(1.into()).unwrap();
        assert_eq!(repr(&outer), "[[1]]");
        // Reads work as before.
        assert!(d.get_str("k").unwrap().unwrap().is(&inner));
    }
    assert_freed(h, f);
}

#[test]
fn shallow_freeze_checks_every_root_before_locking_any() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let a = Value::list(vec![]);
        let b = Value::list(vec![]);
        unfreezable(&b).unwrap();
        let e = shallow_freeze(&[&a, &b]).unwrap_err();
        assert_eq!(e.path.root(), Some(1));
        assert!(!is_shallow_frozen(&a), "nothing locked on error");
        a.append(1.into()).unwrap();
        let base = Value::not_freezable_class();
        let sub = Value::class("Sub", vec![base], vec![]).unwrap();
        let inst = sub.instantiate(vec![]).unwrap();
        assert!(shallow_freeze(&[&inst]).is_err());
        assert!(!is_shallow_frozen(&inst));
        assert!(shallow_freeze(&[]).is_err(), "zero roots is an error");
    }
    assert_freed(h, f);
}

#[test]
fn shallow_freeze_explicit_root_is_fine() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let cls = Value::class("C", vec![], vec![("n", 1.into())]).unwrap();
        assert_eq!(effective_freezable(&cls), Freezability::Explicit);
        shallow_freeze(&[&cls]).unwrap();
        assert!(is_shallow_frozen(&cls));
        assert_eq!(
            cls.setattr("n", 2.into()).unwrap_err(),
            Error::Immutable("type")
        );
        // Its instances are unaffected.
        let i = cls.instantiate(vec![]).unwrap();
        i.setattr("n", 3.into()).unwrap();
    }
    assert_freed(h, f);
}

#[test]
fn shallow_freeze_runs_pre_freeze_hooks_and_is_idempotent() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let d = Value::dict();
        let runs = std::rc::Rc::new(std::cell::Cell::new(0));
        let r = runs.clone();
        set_pre_freeze_hook(&d, move |d| {
            r.set(r.get() + 1);
            d.set_item("sealed".into(), true.into())
        })
        .unwrap();
        shallow_freeze(&[&d]).unwrap();
        assert_eq!(runs.get(), 1);
        assert_eq!(d.get_str("sealed").unwrap().unwrap().as_bool(), Some(true));
        shallow_freeze(&[&d]).unwrap();
        assert_eq!(runs.get(), 1, "idempotent: nothing runs again");
        // A failing hook: nothing is locked, and the error says why.
        let e = Value::list(vec![]);
        set_pre_freeze_hook(&e, |_| Err(Error::Other("no".into()))).unwrap();
        assert!(shallow_freeze(&[&e]).is_err());
        assert!(!is_shallow_frozen(&e));
    }
    assert_freed(h, f);
}

#[test]
fn deep_frozen_object_is_shallow_frozen() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let l = Value::list(vec![Value::list(vec![])]);
        freeze(&[&l]).unwrap();
        assert!(is_shallow_frozen(&l));
        shallow_freeze(&[&l]).unwrap();
        assert!(is_frozen(&l));
        assert!(is_shallow_frozen(&Value::Int(1)));
        assert!(is_shallow_frozen(&Value::from("s")));
    }
    assert_freed(h, f);
}

#[test]
fn shallow_frozen_over_frozen_contents_is_frozen_and_shareable() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let leaf = Value::list(vec![1.into()]);
        freeze(&[&leaf]).unwrap();
        let mid = Value::list(vec![leaf, "s".into()]);
        let top = Value::dict_from(vec![("m".into(), mid.clone())]).unwrap();
        shallow_freeze(&[&mid, &top]).unwrap();
        assert!(!top.as_obj().unwrap().is_frozen_bit());
        // Everything it reaches is frozen or shallow-frozen: deeply
        // immutable, so `is_frozen` freezes it (as for tuples).
        assert!(is_frozen(&top));
        assert!(mid.as_obj().unwrap().is_frozen_bit());
        let shared = top.share().unwrap();
        let n = std::thread::spawn(move || shared.value().len().unwrap())
            .join()
            .unwrap();
        assert_eq!(n, 1);
    }
    assert_freed(h, f);
}

#[test]
fn shallow_frozen_object_can_still_deep_freeze() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let inner = Value::list(vec![]);
        let outer = Value::list(vec![inner.clone()]);
        shallow_freeze(&[&outer]).unwrap();
        freeze(&[&outer]).unwrap();
        assert!(is_frozen(&outer) && is_frozen(&inner));
        assert!(outer.share().is_ok());
    }
    assert_freed(h, f);
}

#[test]
fn shallow_frozen_cycles_are_collected() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let a = Value::list(vec![]);
        let b = Value::dict();
        a.append(b.clone()).unwrap();
        b.set_item("a".into(), a.clone()).unwrap();
        shallow_freeze(&[&a, &b]).unwrap();
    }
    assert_freed(h, f);
}

#[test]
fn shallow_frozen_weakref_survives_its_referent_dying() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let target = Value::list(vec![]);
        let w = Value::weakref(&target).unwrap();
        shallow_freeze(&[&w]).unwrap();
        assert!(
            w.weak_get().unwrap().is_some(),
            "still weak after shallow freeze"
        );
        drop(target);
        assert!(w.weak_get().unwrap().is_none());
    }
    assert_freed(h, f);
}

// ---------------------------------------------------------------------------
// Item 2: freezability as the prototype resolves it.

#[test]
fn object_without_status_reports_its_class_status() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let cls = Value::class("C", vec![], vec![]).unwrap();
        let obj = cls.instantiate(vec![]).unwrap();
        assert_eq!(get_freezable(&obj), None);
        assert_eq!(effective_freezable(&obj), Freezability::Yes);
        set_freezable(&cls, Freezability::Explicit).unwrap();
        assert_eq!(get_freezable(&obj), Some(Freezability::Explicit));
        assert_eq!(effective_freezable(&obj), Freezability::Explicit);
        set_freezable(&obj, Freezability::Yes).unwrap();
        assert_eq!(get_freezable(&obj), Some(Freezability::Yes));
        unset_freezable(&obj).unwrap();
        assert_eq!(
            get_freezable(&obj),
            Some(Freezability::Explicit),
            "the class's again"
        );
        // Subclasses (and their instances) see a base's status.
        let sub = Value::class("Sub", vec![cls.clone()], vec![]).unwrap();
        let sub_obj = sub.instantiate(vec![]).unwrap();
        assert_eq!(get_freezable(&sub), Some(Freezability::Explicit));
        assert_eq!(get_freezable(&sub_obj), Some(Freezability::Explicit));
        unset_freezable(&cls).unwrap();
        assert_eq!(get_freezable(&sub_obj), None);
        // Built-in kinds have no class object: only their own status.
        assert_eq!(get_freezable(&Value::list(vec![])), None);
    }
    assert_freed(h, f);
}

#[test]
fn class_marked_no_makes_its_instances_refuse() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let cls = Value::class("C", vec![], vec![]).unwrap();
        let sub = Value::class("Sub", vec![cls.clone()], vec![]).unwrap();
        let a = cls.instantiate(vec![]).unwrap();
        let b = sub.instantiate(vec![]).unwrap();
        unfreezable(&cls).unwrap();
        let e = freeze(&[&a, &cls]).unwrap_err();
        assert_eq!(e.reason, FreezeReason::StatusNo);
        assert_eq!((e.type_name.as_str(), e.path.root()), ("C", Some(0)));
        let e = freeze(&[&b, &sub]).unwrap_err();
        assert_eq!(e.reason, FreezeReason::StatusNo);
        assert!(!is_frozen(&b) && !is_frozen(&sub), "nothing frozen");
        // An instance's own status still wins over its class's.
        freezable(&a).unwrap();
        unset_freezable(&cls).unwrap();
        freeze(&[&a, &cls]).unwrap();
    }
    assert_freed(h, f);
}

#[test]
fn freezability_override_every_status_nests_and_restores_exactly() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let v = Value::list(vec![]);
        set_freezable(&v, Freezability::Explicit).unwrap();
        for status in [Freezability::Yes, Freezability::No, Freezability::Explicit] {
            let g = FreezabilityOverride::new(&v, status).unwrap();
            assert!(g.object().is(&v), "hands the object back");
            assert_eq!(get_freezable(&v), Some(status));
            {
                let _inner = FreezabilityOverride::new(&v, Freezability::No).unwrap();
                assert!(freeze(&[&v]).is_err());
            }
            assert_eq!(get_freezable(&v), Some(status), "inner level restored");
        }
        assert_eq!(
            get_freezable(&v),
            Some(Freezability::Explicit),
            "exactly the previous"
        );
        // An Explicit override: refused when reached, fine as a root.
        let holder = Value::list(vec![v.clone()]);
        unset_freezable(&v).unwrap();
        {
            let _g = FreezabilityOverride::new(&v, Freezability::Explicit).unwrap();
            assert_eq!(
                freeze(&[&holder]).unwrap_err().reason,
                FreezeReason::Explicit
            );
        }
        assert_eq!(get_freezable(&v), None, "no status before, none after");
        // Proxy is for modules.
        assert!(FreezabilityOverride::new(&v, Freezability::Proxy).is_err());
        assert_eq!(get_freezable(&v), None);
        let m = Value::module("pf_override_mod");
        {
            let _g = FreezabilityOverride::new(&m, Freezability::Proxy).unwrap();
            assert_eq!(effective_freezable(&m), Freezability::Proxy);
        }
        assert_eq!(effective_freezable(&m), Freezability::No);
        // A Yes override that lets the object freeze: the status stays put.
        {
            let _g = FreezabilityOverride::new(&v, Freezability::Yes).unwrap();
            freeze(&[&holder]).unwrap();
        }
        assert!(is_frozen(&v));
        assert!(FreezabilityOverride::new(&v, Freezability::No).is_err());
    }
    assert_freed(h, f);
}

#[test]
fn freezable_attribute_protocol_is_honoured() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let cls = Value::class("C", vec![], vec![]).unwrap();
        let obj = cls.instantiate(vec![]).unwrap();
        assert!(
            obj.getattr("__freezable__").is_err(),
            "no status: no attribute"
        );
        obj.setattr("__freezable__", "No".into()).unwrap();
        assert_eq!(get_freezable(&obj), Some(Freezability::No));
        assert_eq!(
            freeze(&[&obj, &cls]).unwrap_err().reason,
            FreezeReason::StatusNo
        );
        // set_freezable and the attribute are one store.
        set_freezable(&obj, Freezability::Yes).unwrap();
        assert_eq!(obj.getattr("__freezable__").unwrap().as_str(), Some("Yes"));
        obj.delattr("__freezable__").unwrap();
        assert_eq!(get_freezable(&obj), None);
        // On the class: its instances report it, through attribute lookup.
        cls.setattr("__freezable__", "explicit".into()).unwrap();
        assert_eq!(
            obj.getattr("__freezable__").unwrap().as_str(),
            Some("Explicit")
        );
        assert_eq!(effective_freezable(&obj), Freezability::Explicit);
        // Bad values change nothing.
        assert!(matches!(
            obj.setattr("__freezable__", 3.into()),
            Err(Error::Value(_))
        ));
        assert!(obj.setattr("__freezable__", "Proxy".into()).is_err());
        assert_eq!(get_freezable(&obj), Some(Freezability::Explicit));
        cls.delattr("__freezable__").unwrap();
        freeze(&[&obj, &cls]).unwrap();
        assert_eq!(
            obj.setattr("__freezable__", "No".into()).unwrap_err(),
            Error::Immutable("C")
        );
    }
    assert_freed(h, f);
}

// ---------------------------------------------------------------------------
// Item 3: the prototype's class default.

#[test]
fn prototype_class_default_lets_plain_classes_freeze_implicitly() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        assert!(!prototype_class_default(), "off by default");
        let cls = Value::class("P", vec![], vec![]).unwrap();
        let p = cls.instantiate(vec![]).unwrap();
        assert_eq!(freeze(&[&p]).unwrap_err().reason, FreezeReason::Explicit);
        let before = set_prototype_class_default(Some(true));
        assert_eq!(before, None);
        assert_eq!(effective_freezable(&cls), Freezability::Yes);
        // A class's own Explicit still wins.
        set_freezable(&cls, Freezability::Explicit).unwrap();
        assert!(freeze(&[&p]).is_err());
        unset_freezable(&cls).unwrap();
        freeze(&[&p]).unwrap();
        assert!(
            is_frozen(&cls),
            "the class froze implicitly, as in the prototype"
        );
        set_prototype_class_default(before);
        assert!(!prototype_class_default());
        let c2 = Value::class("Q", vec![], vec![]).unwrap();
        assert_eq!(effective_freezable(&c2), Freezability::Explicit);
        // The process-wide default reaches heaps that have not chosen.
        let old = set_prototype_class_default_everywhere(true);
        let other = std::thread::spawn(|| {
            let c = Value::class("R", vec![], vec![]).unwrap();
            let i = c.instantiate(vec![]).unwrap();
            let ok = freeze(&[&i]).is_ok();
            set_prototype_class_default(Some(false));
            let c = Value::class("S", vec![], vec![]).unwrap();
            (ok, effective_freezable(&c))
        })
        .join()
        .unwrap();
        set_prototype_class_default_everywhere(old);
        assert_eq!(other, (true, Freezability::Explicit));
    }
    assert_freed(h, f);
}

// ---------------------------------------------------------------------------
// Item 6: weak references as in CPython.

fn noop(_: &Call<'_>) -> Result<Value, Error> {
    Ok(Value::None)
}

#[test]
fn weakref_without_callback_is_the_same_object_each_time() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let obj = Value::list(vec![]);
        assert_eq!(getweakrefcount(&obj), 0);
        let a = Value::weakref(&obj).unwrap();
        let b = Value::weakref(&obj).unwrap();
        assert!(a.is(&b));
        assert_eq!(getweakrefcount(&obj), 1);
        // With a callback: always a new weakref, never handed out again.
        let cb = Value::function("cb", 1, noop, vec![], vec![]);
        let c = Value::weakref_with_callback(&obj, Some(cb)).unwrap();
        assert!(!c.is(&a));
        assert!(Value::weakref(&obj).unwrap().is(&a));
        assert_eq!(getweakrefcount(&obj), 2);
        let all = getweakrefs(&obj);
        assert_eq!(all.len(), 2);
        assert!(all.iter().any(|w| w.is(&a)) && all.iter().any(|w| w.is(&c)));
        drop((a, b, all));
        assert_eq!(getweakrefcount(&obj), 1);
        let d = Value::weakref(&obj).unwrap();
        assert!(!d.is(&c), "the callback weakref is not reused");
        drop((c, d));
        assert_eq!(getweakrefcount(&obj), 0);
        assert!(getweakrefs(&Value::Int(1)).is_empty());
    }
    assert_freed(h, f);
}

#[test]
fn weakref_to_frozen_object_is_shared_per_worker_and_counted_everywhere() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let obj = Value::list(vec![1.into()]);
        // Made before the freeze: still the one handed out after it.
        let early = Value::weakref(&obj).unwrap();
        freeze(&[&obj]).unwrap();
        let a = Value::weakref(&obj).unwrap();
        assert!(a.is(&early));
        assert_eq!(getweakrefcount(&obj), 1);
        let shared = obj.share().unwrap();
        let (count_there, same_there) = std::thread::spawn(move || {
            let o = shared.value();
            let w1 = Value::weakref(&o).unwrap();
            let w2 = Value::weakref(&o).unwrap();
            let n = getweakrefcount(&o);
            let mine = getweakrefs(&o);
            (n, w1.is(&w2) && mine.len() == 1 && mine[0].is(&w1))
        })
        .join()
        .unwrap();
        assert_eq!(count_there, 2, "this worker's and that worker's");
        assert!(same_there);
        assert_eq!(getweakrefcount(&obj), 1, "that worker's weakref is gone");
        assert_eq!(getweakrefs(&obj).len(), 1);
    }
    assert_freed(h, f);
}

// ---------------------------------------------------------------------------
// Item 7: modules.

fn unload_init(m: &Value) -> Result<(), Error> {
    m.setattr("counter", 0.into())
}

fn read_module_counter(c: &Call<'_>) -> Result<Value, Error> {
    c.captured(0)?.getattr("counter")
}

#[test]
fn unloading_a_module_makes_a_proxy_reimport_on_next_use() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        register_module("pf_proto_unload", unload_init);
        assert!(!module_loaded("pf_proto_unload"));
        assert!(
            unload_module("pf_proto_unload").is_none(),
            "not imported yet"
        );
        let m = import("pf_proto_unload").unwrap();
        m.setattr("counter", 7.into()).unwrap();
        set_freezable(&m, Freezability::Proxy).unwrap();
        let func = Value::function("f", 0, read_module_counter, vec![m.clone()], vec![]);
        freeze(&[&func]).unwrap();
        assert_eq!(func.call(&[]).unwrap().as_int(), Some(7));
        // `del sys.mut_modules["pf_proto_unload"]`.
        let old = unload_module("pf_proto_unload").expect("it was imported");
        assert!(!module_loaded("pf_proto_unload"));
        assert_eq!(
            old.getattr("counter").unwrap().as_int(),
            Some(7),
            "still valid"
        );
        // The proxy imports afresh on its next use.
        assert_eq!(func.call(&[]).unwrap().as_int(), Some(0));
        assert!(module_loaded("pf_proto_unload"));
        assert!(!import("pf_proto_unload").unwrap().is(&old));
        unload_module("pf_proto_unload");
    }
    assert_freed(h, f);
}

// ---------------------------------------------------------------------------
// Item 5: the immutable and freezable types the PEP lists.

fn round_trips(v: &Value) {
    let back = unpickle(&pickle(v).unwrap()).unwrap();
    assert!(back.py_eq(v), "pickle: {v:?} came back as {back:?}");
    assert_eq!(back.type_name(), v.type_name());
    let copy = deep_copy(v).unwrap().adopt();
    assert!(copy.py_eq(v), "copy: {v:?} came back as {copy:?}");
    assert_eq!(copy.type_name(), v.type_name());
}

#[test]
fn frozenset_is_hashable_and_a_dict_key() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let a = Value::frozenset(vec![1.into(), "x".into(), 1.into()]).unwrap();
        let b = Value::frozenset(vec!["x".into(), Value::Float(1.0)]).unwrap();
        assert_eq!(a.len().unwrap(), 2);
        assert!(a.py_eq(&b));
        let d = Value::dict_from(vec![(a.clone(), "found".into())]).unwrap();
        assert_eq!(d.get_item(&b).unwrap().as_str(), Some("found"));
        // As a set member, and inside a tuple key.
        let s = Value::set_from(vec![a.clone(), b.clone()]).unwrap();
        assert_eq!(s.len().unwrap(), 1);
        let t = Value::tuple(vec![a.clone(), 2.into()]);
        d.set_item(t, 3.into()).unwrap();
        // Equal to a set with the same members, as in Python.
        let set = Value::set_from(vec![1.into(), "x".into()]).unwrap();
        assert!(a.py_eq(&set) && set.py_eq(&a));
        assert!(!a.py_eq(&Value::frozenset(vec![1.into()]).unwrap()));
        // Operators keep the kind; no mutator accepts it.
        let u = a.union(&Value::list(vec![5.into()])).unwrap();
        assert_eq!(u.type_name(), "frozenset");
        assert_eq!(u.len().unwrap(), 3);
        assert!(a.intersection(&set).unwrap().py_eq(&a));
        assert_eq!(
            a.set_update(&set).unwrap_err(),
            Error::Immutable("frozenset")
        );
        assert!(a.add(3.into()).is_err());
        assert!(a.clear().is_err());
        assert_eq!(a.len().unwrap(), 2);
        assert!(
            Value::frozenset(vec![Value::list(vec![])]).is_err(),
            "unhashable member"
        );
        assert!(a.contains(&"x".into()).unwrap());
        assert!(repr(&Value::frozenset(vec![]).unwrap()) == "frozenset()");
        round_trips(&a);
        round_trips(&d);
    }
    assert_freed(h, f);
}

#[test]
fn frozenset_is_deeply_immutable_when_its_members_are() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let plain = Value::frozenset(vec![1.into(), "a".into()]).unwrap();
        assert!(is_shallow_frozen(&plain));
        assert!(is_frozen(&plain), "members all immutable");
        assert!(plain.share().is_ok());
        // A member hashed by identity may be mutable.
        let cls = Value::class("M", vec![], vec![]).unwrap();
        let m = cls.instantiate(vec![("n", 1.into())]).unwrap();
        let fs = Value::frozenset(vec![m.clone()]).unwrap();
        assert!(!is_frozen(&fs));
        assert!(fs.share().is_err());
        m.setattr("n", 2.into()).unwrap();
        freeze(&[&fs, &cls]).unwrap();
        assert!(is_frozen(&m) && fs.share().is_ok());
        round_trips(&plain);
    }
    assert_freed(h, f);
}

#[test]
fn complex_is_frozen_from_birth_and_equals_real_numbers() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let z = Value::complex(1.0, 2.0);
        assert!(z.as_obj().unwrap().is_frozen_bit() && is_frozen(&z));
        assert_eq!(z.as_complex(), Some((1.0, 2.0)));
        assert_eq!(repr(&z), "(1+2j)");
        assert_eq!(repr(&Value::complex(0.0, -1.5)), "-1.5j");
        assert_eq!(repr(&Value::complex(-1.0, -0.0)), "(-1-0j)");
        let one = Value::complex(1.0, 0.0);
        assert!(one.py_eq(&1.into()) && Value::Int(1).py_eq(&one));
        assert!(!z.py_eq(&1.into()));
        assert!(z.py_eq(&Value::complex(1.0, 2.0)));
        // Equal numbers hash alike: 1 finds complex(1, 0).
        let d =
            Value::dict_from(vec![(one.clone(), "one".into()), (z.clone(), "z".into())]).unwrap();
        assert_eq!(d.get_item(&1.into()).unwrap().as_str(), Some("one"));
        assert_eq!(
            d.get_item(&Value::complex(1.0, 2.0)).unwrap().as_str(),
            Some("z")
        );
        assert!(matches!(
            Value::list(vec![z.clone(), one.clone()]).sort(None, false),
            Err(Error::Unorderable { .. })
        ));
        assert!(z.share().is_ok());
        round_trips(&z);
        round_trips(&Value::list(vec![z, one]));
    }
    assert_freed(h, f);
}

#[test]
fn range_is_frozen_from_birth_and_a_sequence() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let r = Value::range(0, 10, 3).unwrap();
        assert!(is_frozen(&r));
        assert_eq!(r.len().unwrap(), 4);
        assert_eq!(repr(&Value::list(r.to_vec().unwrap())), "[0, 3, 6, 9]");
        assert_eq!(r.get(-1).unwrap().as_int(), Some(9));
        assert!(r.get(4).is_err());
        assert!(r.contains(&6.into()).unwrap() && !r.contains(&7.into()).unwrap());
        let down = Value::range(5, 0, -2).unwrap();
        assert_eq!(repr(&Value::list(down.to_vec().unwrap())), "[5, 3, 1]");
        assert!(down.contains(&1.into()).unwrap() && !down.contains(&0.into()).unwrap());
        assert_eq!(repr(&r), "range(0, 10, 3)");
        assert_eq!(repr(&Value::range(1, 4, 1).unwrap()), "range(1, 4)");
        // Equal when they yield the same numbers, and hash alike.
        let a = Value::range(0, 3, 2).unwrap();
        let b = Value::range(0, 4, 2).unwrap();
        assert!(a.py_eq(&b));
        assert!(Value::range(5, 5, 1)
            .unwrap()
            .py_eq(&Value::range(9, 1, 1).unwrap()));
        assert!(!a.py_eq(&r));
        let d = Value::dict_from(vec![(a, 1.into())]).unwrap();
        assert_eq!(d.get_item(&b).unwrap().as_int(), Some(1));
        assert_eq!(
            Value::range(0, 1, 0).unwrap_err().to_string(),
            "range() arg 3 must not be zero"
        );
        assert_eq!(r.range_parts(), Some((0, 10, 3)));
        round_trips(&r);
        round_trips(&d);
    }
    assert_freed(h, f);
}

proptest! {
    /// Frozensets are equal exactly when their members are, whatever the
    /// order or duplicates, and equal frozensets find each other as keys.
    #[test]
    fn frozenset_hash_and_equality_follow_members(
        a in prop::collection::vec(prop_oneof![(-5i64..5).prop_map(Item::Int), "[ab]{0,1}".prop_map(|s| Item::Pair(0, s))], 0..8),
        b in prop::collection::vec(prop_oneof![(-5i64..5).prop_map(Item::Int), "[ab]{0,1}".prop_map(|s| Item::Pair(0, s))], 0..8),
        seed in any::<u64>(),
    ) {
        let _s = serial::lock();
        use std::collections::BTreeSet;
        let norm = |v: &[Item]| -> BTreeSet<String> { v.iter().map(|i| repr(&item_value(i))).collect() };
        let fa = Value::frozenset(a.iter().map(item_value).collect()).unwrap();
        let fb = Value::frozenset(b.iter().map(item_value).collect()).unwrap();
        let same = norm(&a) == norm(&b);
        prop_assert_eq!(fa.py_eq(&fb), same);
        let d = Value::dict_from(vec![(fa.clone(), 1.into())]).unwrap();
        prop_assert_eq!(d.get_item(&fb).is_ok(), same);
        // Order does not matter: a shuffled copy is equal and hashes alike.
        let mut shuffled = a.clone();
        let n = shuffled.len().max(1);
        shuffled.rotate_left((seed as usize) % n);
        shuffled.reverse();
        let fs = Value::frozenset(shuffled.iter().map(item_value).collect()).unwrap();
        prop_assert!(fs.py_eq(&fa));
        prop_assert!(d.get_item(&fs).is_ok());
        // And a pickled copy is still equal and hashes alike.
        let back = unpickle(&pickle(&fa).unwrap()).unwrap();
        prop_assert!(d.get_item(&back).is_ok());
    }
}

fn zero(_: &Call<'_>) -> Result<Value, Error> {
    Ok(0.into())
}

/// A factory that refers back to its dict (a cycle through the factory).
fn self_len(c: &Call<'_>) -> Result<Value, Error> {
    Ok(c.captured(0)?.cell_get()?.len()?.into())
}

#[test]
fn deque_mutators_and_maxlen_as_python_and_refused_once_frozen() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let q = Value::deque(ints(&[1, 2, 3]).to_vec().unwrap(), None);
        q.append(4.into()).unwrap();
        q.appendleft(0.into()).unwrap();
        assert_eq!(repr(&q), "deque([0, 1, 2, 3, 4])");
        assert_eq!(q.popleft().unwrap().as_int(), Some(0));
        assert_eq!(q.pop(None).unwrap().as_int(), Some(4));
        assert_eq!(q.get(-1).unwrap().as_int(), Some(3));
        assert!(q.contains(&2.into()).unwrap());
        let bounded = Value::deque(ints(&[1, 2, 3, 4]).to_vec().unwrap(), Some(3));
        assert_eq!(repr(&bounded), "deque([2, 3, 4], maxlen=3)");
        bounded.append(5.into()).unwrap();
        bounded.appendleft(9.into()).unwrap();
        assert_eq!(repr(&bounded), "deque([9, 3, 4], maxlen=3)");
        bounded.extend(vec![7.into(), 8.into()]).unwrap();
        assert_eq!(repr(&bounded), "deque([4, 7, 8], maxlen=3)");
        assert_eq!(bounded.maxlen().unwrap(), Some(3));
        assert!(Value::set_from(vec![q.clone()]).is_err(), "unhashable");
        round_trips(&bounded);
        let c = q.copy().unwrap();
        assert!(c.py_eq(&q) && !c.is(&q));
        freeze(&[&q]).unwrap();
        let before = repr(&q);
        assert_eq!(q.append(1.into()).unwrap_err(), Error::Immutable("deque"));
        assert_eq!(
            q.appendleft(1.into()).unwrap_err(),
            Error::Immutable("deque")
        );
        assert_eq!(q.pop(None).unwrap_err(), Error::Immutable("deque"));
        assert_eq!(q.popleft().unwrap_err(), Error::Immutable("deque"));
        assert_eq!(q.clear().unwrap_err(), Error::Immutable("deque"));
        assert_eq!(repr(&q), before);
        assert!(q.share().is_ok());
        let empty = Value::deque(vec![], None);
        assert!(matches!(empty.popleft(), Err(Error::Index { .. })));
    }
    assert_freed(h, f);
}

#[test]
fn defaultdict_calls_its_factory_and_freezes_with_it() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let factory = Value::function("zero", 0, zero, vec![], vec![]);
        let d = Value::defaultdict(factory.clone()).unwrap();
        assert_eq!(d.get_item(&"a".into()).unwrap().as_int(), Some(0));
        d.set_item("b".into(), 2.into()).unwrap();
        assert_eq!(repr(&d), "defaultdict(<function zero>, {'a': 0, 'b': 2})");
        let plain = Value::dict_from(vec![("a".into(), 0.into()), ("b".into(), 2.into())]).unwrap();
        assert!(d.py_eq(&plain) && plain.py_eq(&d));
        assert!(d.contains(&"b".into()).unwrap() && !d.contains(&"c".into()).unwrap());
        let c = d.copy().unwrap();
        assert_eq!(c.type_name(), "defaultdict");
        assert!(c.default_factory().unwrap().is(&factory));
        let copied = deep_copy(&d).unwrap().adopt();
        assert!(copied.py_eq(&d) && copied.type_name() == "defaultdict");
        assert_eq!(copied.get_item(&"new".into()).unwrap().as_int(), Some(0));
        // Freezing the dict freezes its factory; a missing key is then a
        // write, refused, and nothing changes.
        freeze(&[&d]).unwrap();
        assert!(is_frozen(&factory));
        assert_eq!(d.get_item(&"b".into()).unwrap().as_int(), Some(2));
        assert_eq!(
            d.get_item(&"zz".into()).unwrap_err(),
            Error::Immutable("defaultdict")
        );
        assert_eq!(d.len().unwrap(), 2);
        assert!(d.share().is_ok());
        // No factory: a missing key is a KeyError; a non-callable is refused.
        let none = Value::defaultdict(Value::None).unwrap();
        assert!(matches!(none.get_item(&1.into()), Err(Error::Key(_))));
        none.set_item(1.into(), Value::list(vec![])).unwrap();
        round_trips(&none);
        assert!(Value::defaultdict(3.into()).is_err());
        // A cycle through the factory is collected.
        let cell = Value::cell(Value::None);
        let g = Value::function("self_len", 0, self_len, vec![cell.clone()], vec![]);
        let cyc = Value::defaultdict(g).unwrap();
        cell.cell_set(cyc.clone()).unwrap();
        assert_eq!(cyc.get_item(&"k".into()).unwrap().as_int(), Some(0));
    }
    assert_freed(h, f);
}

/// The heap invariants (counts, SCCs, weak tables) hold for graphs of the
/// new types and shallow-frozen objects, before and after a deep freeze.
#[test]
fn new_types_and_shallow_frozen_objects_keep_heap_invariants() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let factory = Value::function("zero", 0, zero, vec![], vec![]);
        let dd = Value::defaultdict(factory).unwrap();
        let q = Value::deque(vec![Value::complex(1.0, 1.0)], Some(4));
        let fs = Value::frozenset(vec![Value::range(0, 3, 1).unwrap(), "k".into()]).unwrap();
        let locked = Value::list(vec![q.clone(), fs.clone()]);
        dd.set_item(fs.clone(), locked.clone()).unwrap();
        q.append(dd.clone()).unwrap(); // a cycle through the deque
        shallow_freeze(&[&locked]).unwrap();
        let w = Value::weakref(&q).unwrap();
        let root = Value::tuple(vec![dd.clone(), w.clone()]);
        diag::check_invariants(&[&root]).unwrap();
        freeze(&[&root]).unwrap();
        diag::check_invariants(&[&root]).unwrap();
        assert!(is_frozen(&q) && is_frozen(&locked) && is_frozen(&fs));
    }
    assert_freed(h, f);
}

/// Deeply nested frozensets hash, compare, print and free without
/// recursion (a frozenset's hash is cached; equality pairs members by hash
/// on an explicit stack).
#[test]
fn nested_frozensets_compare_without_recursion() {
    let _s = serial::lock();
    let (h, f) = (heap_live(), frozen_live());
    {
        let chain = |depth: usize, leaf: i64| {
            let mut v = Value::frozenset(vec![leaf.into()]).unwrap();
            for _ in 0..depth {
                v = Value::frozenset(vec![v, "x".into()]).unwrap();
            }
            v
        };
        let a = chain(200_000, 1);
        let b = chain(200_000, 1);
        let c = chain(200_000, 2);
        assert!(a.py_eq(&b));
        assert!(!a.py_eq(&c));
        let d = Value::dict_from(vec![(a.clone(), 1.into())]).unwrap();
        assert!(d.get_item(&b).is_ok() && d.get_item(&c).is_err());
        assert!(is_frozen(&a));
    }
    assert_freed(h, f);
}
