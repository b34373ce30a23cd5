//! The pickle's bulk paths: runs of ints and of strings (decoded into
//! containers in one go), batched strings, and instances in post order
//! (one op each, cycles included), at sizes crossing the run minimum (4)
//! and the fill chunk (32,768 items), with both codecs. Truncated or
//! corrupted bytes are errors, and nothing leaks.

use permafrost_freeze::diag::heap_live;
use permafrost_freeze::*;

const CHUNK: usize = 1 << 15;
const SIZES: [usize; 9] = [0, 1, 3, 4, 5, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3];

fn round_trip(v: &Value) -> Vec<Value> {
    Codec::ALL
        .iter()
        .map(|c| unpickle(&pickle_with(v, *c).unwrap()).unwrap())
        .collect()
}

/// Ints of every run width (1, 2, 4, 8 bytes), negatives and extremes.
fn int_at(i: usize) -> i64 {
    match i % 7 {
        0 => i as i64,
        1 => -(i as i64),
        2 => (i as i64) << 20,
        3 => i64::MIN + i as i64,
        4 => i64::MAX - i as i64,
        5 => 300,
        _ => -1,
    }
}

/// Strings: empty, ASCII and multi-byte UTF-8.
fn str_at(i: usize) -> String {
    match i % 4 {
        0 => String::new(),
        1 => format!("s{i}"),
        2 => format!("é{i}✓"),
        _ => "x".repeat(i % 300),
    }
}

#[test]
fn int_lists_round_trip_across_run_and_chunk_sizes() {
    let base = heap_live();
    for n in SIZES {
        // Pure runs, and runs broken by a non-int every 5 items.
        let pure = Value::list((0..n).map(|i| Value::Int(int_at(i))).collect());
        let broken = Value::list(
            (0..n)
                .map(|i| {
                    if i % 5 == 4 {
                        Value::None
                    } else {
                        Value::Int(int_at(i))
                    }
                })
                .collect(),
        );
        for back in round_trip(&pure) {
            assert_eq!(back.len().unwrap(), n);
            for i in [0, n / 2, n.saturating_sub(1)]
                .into_iter()
                .filter(|i| *i < n)
            {
                assert_eq!(
                    back.get(i as i64).unwrap().as_int(),
                    Some(int_at(i)),
                    "{n} {i}"
                );
            }
        }
        for back in round_trip(&broken) {
            assert_eq!(back.len().unwrap(), n);
            for i in 0..n.min(40) {
                let want = if i % 5 == 4 { None } else { Some(int_at(i)) };
                assert_eq!(back.get(i as i64).unwrap().as_int(), want, "{n} {i}");
            }
        }
    }
    assert_eq!(heap_live(), base);
}

#[test]
fn tuples_of_strings_round_trip_across_run_and_chunk_sizes() {
    let base = heap_live();
    for n in SIZES {
        let t = Value::tuple((0..n).map(|i| Value::from(str_at(i).as_str())).collect());
        // A shared string (referenced twice) goes by id, not inline.
        let shared = Value::from("shared");
        let mixed = Value::tuple(
            (0..n)
                .map(|i| {
                    if i % 6 == 5 {
                        shared.clone()
                    } else {
                        Value::from(str_at(i).as_str())
                    }
                })
                .collect(),
        );
        for back in round_trip(&t) {
            assert_eq!(back.len().unwrap(), n);
            for i in (0..n).step_by(997) {
                assert_eq!(
                    back.get(i as i64).unwrap().as_str(),
                    Some(str_at(i).as_str())
                );
            }
        }
        for back in round_trip(&mixed) {
            assert_eq!(back.len().unwrap(), n);
            if n > 11 {
                assert!(back.get(5).unwrap().is(&back.get(11).unwrap()));
                assert_eq!(back.get(4).unwrap().as_str(), Some(str_at(4).as_str()));
            }
        }
    }
    assert_eq!(heap_live(), base);
}

#[test]
fn dicts_with_shared_keys_round_trip() {
    let base = heap_live();
    let cls = Value::class("PrStudent", vec![], vec![]).unwrap();
    register_class("PrStudent", &cls).unwrap();
    for n in [0, 5, CHUNK + 1] {
        let d = Value::dict();
        for i in 0..n {
            let k = Value::from(format!("k{i}").as_str());
            let st = cls
                .instantiate(vec![
                    ("name", k.clone()),
                    ("age", Value::Int(i as i64 % 100)),
                ])
                .unwrap();
            d.set_item(k, st).unwrap();
        }
        for back in round_trip(&d) {
            assert_eq!(back.len().unwrap(), n);
            if n > 3 {
                let st = back.get_item(&Value::from("k3")).unwrap();
                assert_eq!(st.getattr("age").unwrap().as_int(), Some(3));
                assert_eq!(st.getattr("name").unwrap().as_str(), Some("k3"));
            }
        }
    }
    drop(cls);
    embed::clear_local_classes();
    assert_eq!(heap_live(), base);
}

#[test]
fn instances_in_post_order_keep_depth_sharing_and_cycles() {
    let base = heap_live();
    let cls = Value::class("PrLink", vec![], vec![]).unwrap();
    register_class("PrLink", &cls).unwrap();
    // A deep chain (no recursion anywhere).
    let n = 200_000;
    let mut head = Value::None;
    for i in (0..n).rev() {
        head = cls
            .instantiate(vec![("value", Value::Int(i)), ("next", head)])
            .unwrap();
    }
    // Cycles through attributes only: a -> b -> a, and a self-loop.
    let a = cls.instantiate(vec![("value", Value::Int(-1))]).unwrap();
    let b = cls
        .instantiate(vec![("value", Value::Int(-2)), ("next", a.clone())])
        .unwrap();
    a.setattr("next", b.clone()).unwrap();
    a.setattr("me", a.clone()).unwrap();
    let root = Value::list(vec![head, a.clone(), b.clone(), Value::from("tail")]);
    for back in round_trip(&root) {
        let mut l = back.get(0).unwrap();
        for i in 0..n {
            assert_eq!(l.getattr("value").unwrap().as_int(), Some(i));
            l = l.getattr("next").unwrap();
        }
        assert!(l.is_none());
        let (a2, b2) = (back.get(1).unwrap(), back.get(2).unwrap());
        assert!(a2.getattr("next").unwrap().is(&b2));
        assert!(b2.getattr("next").unwrap().is(&a2));
        assert!(a2.getattr("me").unwrap().is(&a2));
        assert_eq!(b2.getattr("value").unwrap().as_int(), Some(-2));
        a2.setattr("me", Value::None).unwrap();
        a2.setattr("next", Value::None).unwrap();
    }
    a.setattr("me", Value::None).unwrap();
    a.setattr("next", Value::None).unwrap();
    drop((root, a, b, cls));
    embed::clear_local_classes();
    collect();
    assert_eq!(heap_live(), base);
}

#[test]
fn corrupt_or_truncated_runs_are_errors_and_leak_nothing() {
    let base = heap_live();
    let v = Value::list(vec![
        Value::list((0..9).map(|i| Value::Int(int_at(i))).collect()),
        Value::tuple((0..6).map(|i| Value::from(str_at(i).as_str())).collect()),
        Value::from("once"),
    ]);
    let shared = Value::from("twice");
    v.append(Value::list(vec![shared.clone(); 5])).unwrap();
    drop(shared);
    for codec in Codec::ALL {
        let good = pickle_with(&v, codec).unwrap();
        assert!(unpickle(&good).is_ok());
        for cut in 5..good.len() {
            assert!(unpickle(&good[..cut]).is_err(), "{codec}: cut at {cut}");
        }
        // Every single-byte change fails cleanly or decodes; none panics.
        for i in 5..good.len() {
            for x in [0x00u8, 0xff, 0x80, 0x7f, 0x0e, 0x0b, 0x06] {
                let mut bad = good.clone();
                bad[i] = x;
                drop(unpickle(&bad));
                collect();
            }
        }
    }
    drop(v);
    collect();
    assert_eq!(heap_live(), base);
}
