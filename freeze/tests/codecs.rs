//! Both pickle codecs round-trip random graphs exactly, and corrupt bytes
//! of either are errors that leak nothing.

use permafrost_freeze::diag::heap_live;
use permafrost_freeze::*;
use proptest::prelude::*;

/// A random acyclic value tree (sharing and a cycle are added on top).
#[derive(Clone, Debug)]
enum T {
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<T>),
    Tuple(Vec<T>),
    Dict(Vec<(String, T)>),
}

fn tree() -> impl Strategy<Value = T> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(T::Int),
        (-1e9f64..1e9).prop_map(T::Float),
        "[a-zé]{0,12}".prop_map(T::Str),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(T::Bytes),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(T::List),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(T::Tuple),
            proptest::collection::vec(("[a-z]{1,4}", inner), 0..6).prop_map(T::Dict),
        ]
    })
}

/// Builds `t` (recursing at most 4 deep: the strategy's depth).
fn build(t: &T) -> Value {
    match t {
        T::Int(i) => Value::Int(*i),
        T::Float(x) => Value::Float(*x),
        T::Str(s) => Value::from(s.as_str()),
        T::Bytes(b) => Value::bytes(b),
        T::List(v) => Value::list(v.iter().map(build).collect()),
        T::Tuple(v) => Value::tuple(v.iter().map(build).collect()),
        T::Dict(kv) => {
            let d = Value::dict();
            for (k, v) in kv {
                d.set_item(Value::from(k.as_str()), build(v)).unwrap();
            }
            d
        }
    }
}

proptest! {
    #[test]
    fn every_codec_round_trips_exactly(t in tree()) {
        let base = heap_live();
        {
            let inner = build(&t);
            // Sharing and a cycle: the same subgraph twice, and the root.
            let root = Value::list(vec![inner.clone(), inner]);
            root.append(root.clone()).unwrap();
            let reference = pickle_with(&root, Codec::Bincode).unwrap();
            for codec in Codec::ALL {
                let bytes = pickle_with(&root, codec).unwrap();
                let back = unpickle(&bytes).unwrap();
                prop_assert!(back.get(0).unwrap().is(&back.get(1).unwrap()));
                prop_assert!(back.get(2).unwrap().is(&back));
                // The same graph: it pickles to the very same bytes.
                prop_assert_eq!(&pickle_with(&back, Codec::Bincode).unwrap(), &reference);
                prop_assert_eq!(pickle_with(&back, codec).unwrap(), bytes);
                drop(back);
                collect();
            }
        }
        collect();
        prop_assert_eq!(heap_live(), base);
    }

    #[test]
    fn corrupt_bytes_of_either_codec_are_errors(t in tree(), at in any::<prop::sample::Index>(), x in any::<u8>()) {
        let base = heap_live();
        for codec in Codec::ALL {
            let good = pickle_with(&build(&t), codec).unwrap();
            // Every strict prefix is an error.
            let cut = at.index(good.len());
            prop_assert!(unpickle(&good[..cut]).is_err(), "{} cut at {}", codec, cut);
            // A changed byte gives an error or some valid graph; never a
            // panic, and nothing leaks.
            let mut bad = good.clone();
            bad[at.index(good.len())] = x;
            drop(unpickle(&bad));
            collect();
        }
        prop_assert_eq!(heap_live(), base);
    }
}
