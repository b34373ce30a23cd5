//! A frozenset's hash is cached from its members, so the decoder must not
//! hash one (as a key, a member, or inside a tuple key) before its members
//! are final, and must refuse one that contains itself. Streams name a
//! frozenset before its members when a cycle through an instance points
//! back at it; these graphs must come back with working hashes, and
//! pickle again to the same bytes.

use permafrost_freeze::{collect, diag, pickle, unpickle, Value};

fn registered(name: &str) -> Value {
    let c = Value::class(name, vec![], vec![]).unwrap();
    permafrost_freeze::register_class(name, &c).unwrap();
    c
}

/// pickle(unpickle(b)) == b, and the decoded graph passes the crate's
/// invariant checker.
fn round_trip(bytes: &[u8]) -> Value {
    let back = unpickle(bytes).unwrap();
    diag::check_invariants(&[&back]).unwrap();
    assert_eq!(pickle(&back).unwrap(), bytes, "re-pickle is not canonical");
    back
}

fn fillers() -> impl Iterator<Item = Value> {
    (0..8).map(Value::Int)
}

/// `fs` is found in a set and as a dict key by an equal frozenset made
/// fresh from its members: its cached hash is its members' hash.
fn hash_is_current(fs: &Value) {
    let fresh = Value::frozenset(fs.to_vec().unwrap()).unwrap();
    assert!(fresh.py_eq(fs));
    // More than one entry: indexmap finds a lone key by equality alone.
    let set = Value::set_from(fillers().chain([fs.clone()]).collect()).unwrap();
    assert!(set.contains(&fresh).unwrap(), "stale frozenset hash");
    let d = Value::dict();
    for k in fillers() {
        d.set_item(k, Value::None).unwrap();
    }
    d.set_item(fresh.clone(), Value::Int(1)).unwrap();
    assert_eq!(d.get_item(fs).unwrap().as_int(), Some(1));
}

/// `t = (obj,)`, `obj.a = frozenset({t})`: the frozenset is filled while
/// the tuple it holds is still open.
#[test]
fn a_frozenset_holding_an_open_tuple_gets_its_hash_once_the_tuple_is_in() {
    let c = registered("FsHolder");
    let base = diag::heap_live();
    {
        let obj = c.instantiate(vec![("a", Value::None)]).unwrap();
        let t = Value::tuple(vec![obj.clone()]);
        let fs = Value::frozenset(vec![t.clone()]).unwrap();
        obj.setattr("a", fs).unwrap();
        let bytes = pickle(&t).unwrap();
        let back = round_trip(&bytes);
        let fs2 = back.get(0).unwrap().getattr("a").unwrap();
        hash_is_current(&fs2);
        assert!(fs2.contains(&back).unwrap());
        obj.setattr("a", Value::None).unwrap();
        back.get(0).unwrap().setattr("a", Value::None).unwrap();
    }
    collect();
    assert_eq!(diag::heap_live(), base);
}

/// `h = frozenset({obj})`, `obj.a = f = frozenset({h})`: `f` has all its
/// members before `h` does, yet its hash depends on `h`'s, so `h` must be
/// completed first.
#[test]
fn frozensets_complete_members_first() {
    let c = registered("FsLink");
    let base = diag::heap_live();
    {
        let obj = c.instantiate(vec![("a", Value::None)]).unwrap();
        let h = Value::frozenset(vec![obj.clone()]).unwrap();
        let f = Value::frozenset(vec![h.clone()]).unwrap();
        obj.setattr("a", f).unwrap();
        let bytes = pickle(&h).unwrap();
        let back = round_trip(&bytes);
        let obj2 = back.to_vec().unwrap().pop().unwrap();
        let f2 = obj2.getattr("a").unwrap();
        hash_is_current(&f2);
        hash_is_current(&back);
        assert!(f2.contains(&back).unwrap());
        obj.setattr("a", Value::None).unwrap();
        obj2.setattr("a", Value::None).unwrap();
    }
    collect();
    assert_eq!(diag::heap_live(), base);
}

/// A dict keyed by a frozenset that is still gathering when the dict is
/// filled: the fill waits, and the key is found afterwards.
#[test]
fn a_dict_keyed_by_an_unfinished_frozenset_is_filled_after_it() {
    let c = registered("FsKeyed");
    let base = diag::heap_live();
    {
        let obj = c.instantiate(vec![("a", Value::None)]).unwrap();
        let fs = Value::frozenset(vec![obj.clone(), Value::Int(3)]).unwrap();
        let d = Value::dict();
        for k in fillers() {
            d.set_item(k, Value::None).unwrap();
        }
        d.set_item(fs.clone(), Value::from("v")).unwrap();
        obj.setattr("a", Value::list(vec![d])).unwrap();
        let bytes = pickle(&fs).unwrap();
        let back = round_trip(&bytes);
        hash_is_current(&back);
        let obj2 = back
            .to_vec()
            .unwrap()
            .into_iter()
            .find(|m| m.as_int().is_none())
            .unwrap();
        let d2 = obj2.getattr("a").unwrap().get(0).unwrap();
        assert_eq!(d2.get_item(&back).unwrap().as_str(), Some("v"));
        obj.setattr("a", Value::None).unwrap();
        obj2.setattr("a", Value::None).unwrap();
    }
    collect();
    assert_eq!(diag::heap_live(), base);
}

/// `OpenFrozenSet(3)`, `OpenCell`, `Fill(1, [None])`,
/// `Fill(0, [ref 0, ref 1, ref 0])`, `End(ref 0)`: a frozenset naming
/// itself as a member (once decoded twice over, so that its re-pickle
/// differed: found by the fuzzer).
const SELF_MEMBER: &[u8] = &[
    80, 70, 80, 75, 2, 23, 3, 12, 18, 1, 1, 0, 18, 0, 3, 5, 13, 5, 22, 4, 0,
];

#[test]
fn a_frozenset_that_contains_itself_is_refused() {
    let base = diag::heap_live();
    let e = unpickle(SELF_MEMBER).unwrap_err();
    assert!(e.to_string().contains("contains itself"), "{e}");
    // The same through a tuple: frozenset -> (frozenset,).
    let through_tuple: &[u8] = &[
        80, 70, 80, 75, 2, 23, 1, 8, 1, 18, 1, 1, 5, 18, 0, 1, 13, 22, 4, 0,
    ];
    let e = unpickle(through_tuple).unwrap_err();
    assert!(e.to_string().contains("contains itself"), "{e}");
    collect();
    assert_eq!(diag::heap_live(), base);
}

/// A frozenset's count is exact: more members, or fewer by the end, are
/// refused.
#[test]
fn a_frozenset_gets_exactly_its_count() {
    let base = diag::heap_live();
    let bytes = pickle(&Value::frozenset(vec![1.into(), 2.into()]).unwrap()).unwrap();
    round_trip(&bytes);
    let fills = |count: u8| {
        let mut b = bytes.clone();
        let at = b.iter().position(|&x| x == 23).unwrap();
        assert_eq!(b[at + 1], 2, "{b:?}");
        b[at + 1] = count;
        unpickle(&b)
    };
    assert!(fills(1)
        .unwrap_err()
        .to_string()
        .contains("too many members"));
    assert!(fills(3).unwrap_err().to_string().contains("never filled"));
    collect();
    assert_eq!(diag::heap_live(), base);
}

/// Every single-byte corruption of a stream with unfinished frozensets is
/// an error or a graph that pickles canonically, and nothing leaks.
#[test]
fn corrupt_frozenset_streams_fail_cleanly() {
    let c = registered("FsCorrupt");
    let base = diag::heap_live();
    let bytes = {
        let obj = c.instantiate(vec![("a", Value::None)]).unwrap();
        let h = Value::frozenset(vec![obj.clone(), Value::Int(1)]).unwrap();
        let t = Value::tuple(vec![h.clone(), Value::Int(2)]);
        let f = Value::frozenset(vec![t, h.clone()]).unwrap();
        let d = Value::dict();
        d.set_item(f.clone(), Value::Int(5)).unwrap();
        obj.setattr("a", Value::list(vec![f, d])).unwrap();
        let b = pickle(&h).unwrap();
        round_trip(&b);
        obj.setattr("a", Value::None).unwrap();
        b
    };
    collect();
    assert_eq!(diag::heap_live(), base);
    let (mut refused, mut accepted) = (0, 0);
    for at in 5..bytes.len() {
        for x in [0u8, 1, 2, 5, 13, 0x7f, 0xff] {
            let mut b = bytes.clone();
            if b[at] == x {
                continue;
            }
            b[at] = x;
            if let Ok(v) = unpickle(&b) {
                accepted += 1;
                diag::check_invariants(&[&v]).unwrap();
                let again = pickle(&v).unwrap();
                let third = pickle(&unpickle(&again).unwrap()).unwrap();
                assert_eq!(again, third, "byte {at} = {x}: re-pickle not canonical");
            } else {
                refused += 1;
            }
            collect();
            assert_eq!(diag::heap_live(), base, "byte {at} = {x} leaked");
        }
    }
    assert!(
        refused > 0 && accepted > 0,
        "{refused} refused, {accepted} accepted"
    );
}

/// A NaN key is found by no lookup (it is unequal to itself, as in
/// CPython), so the checker must not call such a table broken: this is
/// what the smoke run in CI on `21623a4` tripped over
/// (`fuzz/regressions/unpickle/check-keys-nan-key`). A tuple holding NaN
/// is equal to itself by identity, and must still be found.
#[test]
fn tables_holding_nan_keys_pass_the_checker() {
    let nan = Value::Float(f64::NAN);
    let nan_tuple = Value::tuple(vec![Value::Int(1), nan.clone()]);
    let d = Value::dict();
    let s = Value::set_from(vec![]).unwrap();
    for k in fillers().chain([nan.clone(), nan_tuple.clone()]) {
        d.set_item(k.clone(), Value::None).unwrap();
        s.add(k).unwrap();
    }
    let fs = Value::frozenset(fillers().chain([nan, nan_tuple]).collect()).unwrap();
    let root = Value::list(vec![d, s, fs]);
    diag::check_invariants(&[&root]).unwrap();
    let back = round_trip(&pickle(&root).unwrap());
    drop((root, back));
    collect();
}
