//! Pool: map a function over items on N workers, items and results by
//! share, pickle or copy, results in input order, failures by index.
//! (Moving items is in moving.rs.)

#[path = "../../freeze/tests/serial/mod.rs"]
mod serial;
use serial::lock;

mod common;

use common::{iso, make_frozen_graph, make_graph, node_class};
use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::{collect, freeze, is_frozen, Error, Value};
use permafrost_runtime::{Mode, Pool, PoolError};

fn frozen_int_list(i: i64) -> Value {
    let v = Value::list(vec![Value::Int(i), Value::Int(i * i)]);
    freeze(&[&v]).unwrap();
    v
}

fn sum(v: Value) -> Result<Value, Error> {
    let mut t = 0;
    for x in v.to_vec()? {
        t += x.as_int().unwrap_or(0);
    }
    Ok(Value::Int(t))
}

#[test]
fn map_shared_keeps_order_and_identity() {
    let _g = lock();
    let fbase = frozen_live();
    {
        let pool = Pool::new(4);
        assert_eq!(pool.size(), 4);
        // Frozen handles (`Send + Sync`) go in as values of this heap.
        let items: Vec<_> = (0..1000)
            .map(|i| frozen_int_list(i).share().unwrap())
            .collect();
        let values = || items.iter().map(|f| f.value());
        let sums = pool.map(values(), Mode::Share, sum).unwrap();
        for (i, s) in sums.iter().enumerate() {
            let i = i as i64;
            assert_eq!(s.as_int(), Some(i + i * i));
        }
        // The identity function gives back the very same objects.
        let same = pool.map(values(), Mode::Share, Ok).unwrap();
        assert!(same.iter().zip(&items).all(|(a, b)| a.is(&b.value())));
        // A fresh mutable result is frozen by the worker before it comes back.
        let fresh = pool
            .map(values(), Mode::Share, |v| {
                Ok(Value::list(vec![v, Value::from("new")]))
            })
            .unwrap();
        assert!(fresh.iter().all(is_frozen));
        for r in pool.shutdown() {
            assert_eq!(r.heap_live, 0, "{} leaked", r.name);
        }
    }
    assert_eq!(frozen_live(), fbase);
}

#[test]
fn map_pickled_and_copied_give_fresh_mutable_graphs() {
    let _g = lock();
    let cls = node_class("PoolNode");
    let hbase = heap_live();
    {
        let pool = Pool::new(3);
        let items: Vec<Value> = (0..12).map(|i| make_graph(10, &cls, i)).collect();
        for mode in [Mode::Pickle, Mode::Copy] {
            let out = pool
                .map(items.clone(), mode, |g| {
                    // Mutable on the worker: change it and send it back.
                    g.get(0)?.setattr("label", "seen".into())?;
                    Ok(g)
                })
                .unwrap();
            for (orig, got) in items.iter().zip(&out) {
                assert_eq!(
                    orig.get(0).unwrap().getattr("label").unwrap().as_str(),
                    Some("node-0"),
                    "the caller's graph is untouched"
                );
                assert_eq!(
                    got.get(0).unwrap().getattr("label").unwrap().as_str(),
                    Some("seen")
                );
                got.get(0)
                    .unwrap()
                    .setattr("label", "node-0".into())
                    .unwrap();
                iso(orig, got).unwrap();
                assert!(!is_frozen(got));
            }
        }
        let via = pool
            .map(items.clone(), Mode::Pickle, |g| g.len().map(Value::from))
            .unwrap();
        assert!(via.iter().all(|v| v.as_int() == Some(12)));
        let via = pool
            .map(items.clone(), Mode::Copy, |g| g.len().map(Value::from))
            .unwrap();
        assert!(via.iter().all(|v| v.as_int() == Some(12)));
        for r in pool.shutdown() {
            assert_eq!(r.heap_live, 0);
        }
    }
    collect();
    assert_eq!(heap_live(), hbase);
}

#[test]
fn failures_are_reported_by_lowest_index_and_the_pool_goes_on() {
    let _g = lock();
    let pool = Pool::new(2);
    let items: Vec<Value> = (0..10).map(Value::Int).collect();

    let err = pool
        .map(items.clone(), Mode::Share, |v| match v.as_int() {
            Some(3) | Some(7) => Err(Error::Other(format!("bad {v:?}"))),
            _ => Ok(v),
        })
        .unwrap_err();
    assert_eq!(
        err,
        PoolError::Task {
            index: 3,
            error: Error::Other("bad 3".into())
        }
    );

    let err = pool
        .map(items.clone(), Mode::Pickle, |v| {
            if v.as_int() == Some(5) {
                panic!("task panicked on five");
            }
            Ok(v)
        })
        .unwrap_err();
    assert_eq!(
        err,
        PoolError::Panicked {
            index: 5,
            message: "task panicked on five".into()
        }
    );
    assert!(err.to_string().contains("item 5"));

    // A mutable item cannot go by share.
    let mut mixed = items.clone();
    mixed[4] = Value::list(vec![]);
    match pool.map(mixed, Mode::Share, Ok) {
        Err(PoolError::Send { index: 4, error }) => assert_eq!(error, Error::NotFrozen("list")),
        other => panic!("expected Send error, got {other:?}"),
    }
    // A result that cannot be frozen cannot come back by share.
    let err = pool
        .map(items.clone(), Mode::Share, |_| {
            let v = Value::list(vec![]);
            permafrost_freeze::set_freezable(&v, permafrost_freeze::Freezability::No)?;
            Ok(v)
        })
        .unwrap_err();
    assert!(matches!(err, PoolError::Result { index: 0, .. }), "{err:?}");

    // Still works.
    let ok = pool
        .map(items.clone(), Mode::Copy, |v| {
            Ok(Value::Int(v.as_int().unwrap() * 2))
        })
        .unwrap();
    let ok: Vec<i64> = ok.iter().map(|v| v.as_int().unwrap()).collect();
    assert_eq!(ok, (0..10).map(|i| i * 2).collect::<Vec<_>>());
    for r in pool.shutdown() {
        assert_eq!(r.heap_live, 0);
        assert!(!r.panicked);
    }
}

#[test]
fn map_over_shared_frozen_graphs() {
    let _g = lock();
    let cls = node_class("PoolGraph");
    let fbase = frozen_live();
    {
        let graphs: Vec<_> = (0..16)
            .map(|i| make_frozen_graph(50, &cls, 200 + i).share().unwrap())
            .collect();
        let pool = Pool::new(4);
        let labels = pool
            .map(
                graphs.into_iter().map(|f| f.into_value()),
                Mode::Share,
                |g| {
                    let mut n = 0;
                    for node in g.to_vec()? {
                        if node.getattr("label").is_ok() {
                            n += 1;
                        }
                    }
                    Ok(Value::Int(n))
                },
            )
            .unwrap();
        assert!(labels.iter().all(|l| l.as_int() == Some(50)));
        assert_eq!(pool.map(vec![], Mode::Share, Ok).unwrap().len(), 0);
    }
    assert_eq!(frozen_live(), fbase);
}
