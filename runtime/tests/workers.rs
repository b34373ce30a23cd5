//! Workers: results and panics on join, cleanup of each worker's heap,
//! shutdown waking waiting workers, and nothing leaking.

#[path = "../../freeze/tests/serial/mod.rs"]
mod serial;
use serial::lock;

mod common;

use std::time::Duration;

use common::{make_frozen_graph, make_graph, node_class};
use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::{freeze, register_class, Frozen, Value};
use permafrost_runtime::{unbounded, Mode, Runtime, WorkerError};

#[test]
fn a_panicking_worker_is_reported_and_the_others_finish() {
    let _g = lock();
    let cls = node_class("PanicNode");
    let fbase = frozen_live();
    {
        let shared = make_frozen_graph(50, &cls, 21).share().unwrap();
        let rt = Runtime::new();
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let data = shared.clone();
                let c = cls.share().unwrap();
                rt.spawn(format!("w{i}"), move |_ctx| {
                    // Every worker builds mutable cyclic garbage and frozen
                    // graphs of its own, and holds the shared graph.
                    let local = make_graph(100, &c.value(), i);
                    let mine = make_frozen_graph(20, &c.value(), 100 + i);
                    let _held = (data.value(), mine, local);
                    if i == 2 {
                        panic!("boom in worker {i}");
                    }
                    std::thread::sleep(Duration::from_millis(20));
                    i * 10
                })
            })
            .collect();
        let mut ok = Vec::new();
        for w in workers {
            let name = w.name().to_string();
            let j = w.join_report();
            assert_eq!(j.report.heap_live, 0, "{name} leaked");
            match j.result {
                Ok(v) => {
                    assert!(!j.report.panicked);
                    ok.push(v)
                }
                Err(e) => {
                    assert!(j.report.panicked);
                    assert_eq!(
                        e,
                        WorkerError::Panicked {
                            name: "w2".into(),
                            message: "boom in worker 2".into()
                        }
                    );
                    assert_eq!(e.to_string(), "worker 'w2' panicked: boom in worker 2");
                }
            }
        }
        assert_eq!(ok, [0, 10, 30]);
        let reports = rt.shutdown();
        assert_eq!(reports.len(), 4);
        assert!(reports.iter().all(|r| r.heap_live == 0));
        assert_eq!(reports.iter().filter(|r| r.panicked).count(), 1);
    }
    assert_eq!(
        frozen_live(),
        fbase,
        "what the panicking worker held was released"
    );
}

#[test]
fn a_non_string_panic_is_reported_too() {
    let _g = lock();
    let rt = Runtime::new();
    let w = rt.spawn("any", |_ctx| -> u8 { std::panic::panic_any(42_u32) });
    match w.join() {
        Err(WorkerError::Panicked { name, message }) => {
            assert_eq!(name, "any");
            assert!(message.contains("non-string"), "{message}");
        }
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn shutdown_wakes_waiting_workers_after_delivering_queued_messages() {
    let _g = lock();
    let rt = Runtime::new();
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for i in 0..3 {
        let w = rt.spawn(format!("waiter{i}"), |ctx| {
            let mut n = 0;
            while let Ok(v) = ctx.recv() {
                n += v.as_int().unwrap();
            }
            assert!(ctx.is_stopping());
            n
        });
        // Keep a sender: the inbox never disconnects on its own.
        senders.push(w.sender());
        handles.push(w);
    }
    for s in &senders {
        for k in 1..=3 {
            s.send(Value::Int(k), Mode::Share).unwrap();
        }
    }
    let reports = rt.shutdown();
    assert_eq!(reports.len(), 3);
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r.index, i);
        assert_eq!(r.name, format!("waiter{i}"));
        assert_eq!(r.heap_live, 0);
    }
    // Results stay available after shutdown; sends now hand values back.
    for (w, s) in handles.into_iter().zip(&senders) {
        assert!(w.is_finished());
        assert_eq!(w.join().unwrap(), 6);
        assert!(s
            .send(Value::Int(1), Mode::Share)
            .unwrap_err()
            .is_disconnected());
    }
}

#[test]
fn join_ends_a_worker_loop_by_closing_its_inbox() {
    let _g = lock();
    let rt = Runtime::new();
    let w = rt.spawn("loop", |ctx| {
        let mut n = 0;
        while ctx.recv().is_ok() {
            n += 1;
        }
        n
    });
    for _ in 0..5 {
        w.sender().send(Value::None, Mode::Share).unwrap();
    }
    assert_eq!(w.join().unwrap(), 5);
}

#[test]
fn dropping_the_runtime_joins_everything() {
    let _g = lock();
    let fbase = frozen_live();
    let (tx, rx) = unbounded();
    let handle = {
        let rt = Runtime::new();
        for i in 0..4 {
            let tx = tx.clone();
            drop(rt.spawn(format!("detached{i}"), move |ctx| {
                let v = Value::tuple(vec![Value::Int(i), Value::from(ctx.name())]);
                freeze(&[&v]).unwrap();
                tx.send(v, Mode::Share).unwrap();
            }));
        }
        rt.spawn("kept", |ctx| ctx.index())
        // rt dropped here: every worker is joined
    };
    drop(tx);
    let got: Vec<Value> = std::iter::from_fn(|| rx.recv().ok()).collect();
    assert_eq!(got.len(), 4);
    assert_eq!(handle.join().unwrap(), 4);
    drop(got);
    assert_eq!(frozen_live(), fbase);
}

#[test]
fn a_worker_may_return_a_frozen_graph() {
    let _g = lock();
    let cls = node_class("Returned");
    let fbase = frozen_live();
    {
        let rt = Runtime::new();
        let c = cls.share().unwrap();
        let w = rt.spawn("maker", move |_ctx| -> Frozen {
            make_frozen_graph(30, &c.value(), 22).share().unwrap()
        });
        let j = w.join_report();
        assert_eq!(j.report.heap_live, 0);
        let g = j.result.unwrap().into_value();
        assert_eq!(g.len().unwrap(), 32);
        assert_eq!(g.get(3).unwrap().getattr("id").unwrap().as_int(), Some(3));
    }
    assert_eq!(frozen_live(), fbase);
}

#[test]
fn interpreter_locals_and_local_classes_die_with_the_worker() {
    let _g = lock();
    fn fresh_list(_: &permafrost_freeze::Call<'_>) -> Result<Value, permafrost_freeze::Error> {
        Ok(Value::list(vec![Value::dict(), Value::list(vec![])]))
    }
    let factory = Value::function("fresh", 0, fresh_list, vec![], vec![]);
    let local = Value::interpreter_local(factory).unwrap();
    freeze(&[&local]).unwrap();
    let local = local.share().unwrap();
    let rt = Runtime::new();
    let w = rt.spawn("locals", move |_ctx| {
        let l = local.value();
        let mine = l.local_get().unwrap();
        mine.append(Value::Int(1)).unwrap();
        assert!(l.local_get().unwrap().is(&mine));
        let cls = Value::class("WorkerLocal", vec![], vec![]).unwrap();
        register_class("WorkerLocal", &cls).unwrap();
        // A cycle, to keep the collector honest.
        let a = Value::list(vec![]);
        a.append(a.clone()).unwrap();
        heap_live()
    });
    let j = w.join_report();
    assert!(j.result.unwrap() >= 5, "the worker's heap held objects");
    assert_eq!(
        j.report.heap_live, 0,
        "all released by the worker's cleanup"
    );
}

#[test]
fn many_short_workers() {
    let _g = lock();
    let rt = Runtime::new();
    let ws: Vec<_> = (0..64)
        .map(|i| rt.spawn(format!("short{i}"), move |ctx| (ctx.index(), i)))
        .collect();
    assert!(rt.workers() <= 64);
    for w in ws {
        let (idx, i) = w.join().unwrap();
        assert_eq!(idx, i);
    }
    assert_eq!(rt.workers(), 0);
    assert!(format!("{rt:?}").contains("Runtime"));
}

#[test]
fn worker_threads_carry_their_names() {
    let _g = lock();
    let rt = Runtime::new();
    let w = rt.spawn("named-worker", |ctx| {
        (
            std::thread::current().name().map(str::to_string),
            ctx.name().to_string(),
        )
    });
    let (thread, ctx) = w.join().unwrap();
    assert_eq!(thread.as_deref(), Some("named-worker"));
    assert_eq!(ctx, "named-worker");
}

fn init_cfg(m: &Value) -> Result<(), permafrost_freeze::Error> {
    m.setattr("threads", Value::Int(8))?;
    m.setattr("names", Value::list(vec![Value::from("a")]))
}

/// Issue 10, finding 8: a worker's imported modules die with its heap.
#[test]
fn f8_a_worker_that_imports_a_module_reports_nothing_live() {
    let _g = lock();
    permafrost_freeze::register_module("f8_cfg", init_cfg);
    let rt = Runtime::new();
    let w = rt.spawn("importer", |_ctx| {
        let cfg = permafrost_freeze::import("f8_cfg").unwrap();
        cfg.getattr("threads").unwrap().as_int()
    });
    let joined = w.join_report();
    assert_eq!(joined.result.unwrap(), Some(8));
    assert_eq!(
        joined.report.heap_live, 0,
        "module state outlived the worker"
    );
}
