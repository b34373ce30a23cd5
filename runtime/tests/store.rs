//! The object store: gets that block until a seal and return the very same
//! objects on every worker, timeouts, aborts, pinning, capacity with LRU
//! eviction, spilling and restoring, notifications, and a stress test.
//! Every test ends with this thread's heap empty, the process's frozen
//! objects back to where they were, and no spill file left.

#[path = "../../freeze/tests/serial/mod.rs"]
mod serial;
use serial::lock;

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{iso, make_graph, node_class};
use permafrost_freeze::diag::{frozen_live, heap_live, OBJECT_BYTES};
use permafrost_freeze::{
    collect, freeze, is_frozen, register_class, set_freezable, Freezability, FreezeReason, Frozen,
    Value,
};
use permafrost_runtime::{
    estimate_size, Notification, ObjectId, Runtime, Store, StoreError, Subscription, SLOT_BYTES,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// frozen_live() is process-wide: tests that count it run one at a time.

const LONG: Duration = Duration::from_secs(30);

/// This thread's heap is empty and the frozen objects are back to `base`.
fn assert_clean(base: isize) {
    collect();
    assert_eq!(heap_live(), 0, "objects left in the test thread's heap");
    assert_eq!(frozen_live(), base, "frozen objects leaked or freed twice");
}

/// A fresh directory path (not created) for one test's spill files.
fn spill_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "permafrost-store-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |r| r.count())
}

/// Waits until `n` calls are blocked in the store (no sleeping guesses).
fn wait_for_waiters(store: &Store, n: usize) {
    let t = Instant::now();
    while store.stats().waiting < n {
        assert!(t.elapsed() < LONG, "only {} waiters", store.stats().waiting);
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `[tag, tag + 1, ..., tag + n - 1]`.
fn ints(tag: i64, n: usize) -> Value {
    Value::list((0..n as i64).map(|i| Value::Int(tag + i)).collect())
}

/// Checks a graph made by [`ints`]: item `i` is item 0 plus `i`.
fn check_ints(f: &Frozen, n: usize) {
    let v = f.view();
    assert_eq!(v.len(), Some(n));
    let tag = v.get(0).and_then(|x| x.as_int()).unwrap();
    for (i, x) in v.iter().enumerate() {
        assert_eq!(x.as_int(), Some(tag + i as i64));
    }
}

fn sealed_ids(events: &Subscription) -> (Vec<ObjectId>, Vec<(ObjectId, bool)>) {
    let (mut sealed, mut deleted) = (Vec::new(), Vec::new());
    for n in events.drain() {
        match n {
            Notification::Sealed { id, .. } => sealed.push(id),
            Notification::Deleted { id, evicted } => deleted.push((id, evicted)),
        }
    }
    (sealed, deleted)
}

#[test]
fn handles_are_send_sync_and_cheap_to_clone() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Store>();
    shareable::<Subscription>();
    shareable::<ObjectId>();
    shareable::<StoreError>();
    let _g = lock();
    let a = Store::new();
    let b = a.clone();
    assert!(a.same_store(&b));
    assert!(!a.same_store(&Store::new()));
}

#[test]
fn get_blocks_until_seal_and_every_worker_sees_the_same_objects() {
    let _g = lock();
    let cls = node_class("StoreNode");
    let base = frozen_live();
    {
        let store = Store::new();
        let id = ObjectId::random();
        store.create(id).unwrap();
        let rt = Runtime::new();
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let s = store.clone();
                rt.spawn(format!("getter-{i}"), move |_ctx| {
                    let f = s.get_one(id, LONG).unwrap();
                    let root = f.id();
                    let first = f.value().get(0).unwrap().as_obj().unwrap().id();
                    let len = f.value().len().unwrap();
                    drop(f);
                    s.release(id).unwrap();
                    (root, first, len)
                })
            })
            .collect();
        wait_for_waiters(&store, 4);
        assert!(workers.iter().all(|w| !w.is_finished()));
        assert!(!store.contains(id));

        let graph = make_graph(50, &cls, 1);
        store.seal(id, &graph).unwrap();
        assert!(is_frozen(&graph)); // sealing froze the caller's graph in place
        let root = graph.share().unwrap().id();
        let first = graph.get(0).unwrap().as_obj().unwrap().id();
        for w in workers {
            let j = w.join_report();
            assert_eq!(j.report.heap_live, 0);
            assert_eq!(j.result.unwrap(), (root, first, 52)); // the very same objects
        }
        let mine = store.get_one(id, Duration::ZERO).unwrap();
        assert!(mine.is(&graph.share().unwrap()));
        store.release(id).unwrap();
        assert_eq!(store.stats().pinned, 0);
        drop((mine, graph));
        rt.shutdown();
    }
    drop(cls);
    assert_clean(base);
}

#[test]
fn timeouts_give_none_per_id_and_timed_out_errors() {
    let _g = lock();
    let base = frozen_live();
    {
        let store = Store::new();
        let a = store.put(&Value::from("a")).unwrap();
        let missing = ObjectId::random();
        let got = store.get(&[a, missing], Duration::from_millis(20)).unwrap();
        assert_eq!(got[0].as_ref().unwrap().value().as_str(), Some("a"));
        assert!(got[1].is_none());
        assert_eq!(store.stats().pinned, 1); // only what was returned
        store.release(a).unwrap();

        assert_eq!(
            store.get_one(missing, Duration::ZERO).unwrap_err(),
            StoreError::TimedOut(missing)
        );
        // A reservation times out the same way, and stays open.
        let r = ObjectId::random();
        store.create(r).unwrap();
        assert!(store.get(&[r], Duration::from_millis(5)).unwrap()[0].is_none());
        assert_eq!(store.stats().pending, 1);
        store.abort(r).unwrap();
        // wait gives what is ready when its time is up.
        let (ready, rest) = store
            .wait(&[missing, a], 2, Duration::from_millis(10))
            .unwrap();
        assert_eq!((ready, rest), (vec![a], vec![missing]));
        assert_eq!(store.stats().waiting, 0);
        drop(got);
    }
    assert_clean(base);
}

#[test]
fn many_workers_waiting_on_one_id_all_wake() {
    let _g = lock();
    let base = frozen_live();
    {
        let store = Store::new();
        let id = ObjectId::from_bytes([0x42; 20]);
        let rt = Runtime::new();
        let n = 16;
        let workers: Vec<_> = (0..n)
            .map(|i| {
                let s = store.clone();
                rt.spawn(format!("waiter-{i}"), move |_ctx| {
                    if i % 2 == 0 {
                        let f = s.get_one(id, LONG).unwrap();
                        let seen = f.id();
                        check_ints(&f, 1000);
                        s.release(id).unwrap();
                        seen
                    } else {
                        let (ready, _) = s.wait(&[id], 1, LONG).unwrap();
                        assert_eq!(ready, vec![id]);
                        0
                    }
                })
            })
            .collect();
        wait_for_waiters(&store, n);
        // Waiting for an id no one has created yet, then put under it.
        let table = ints(7, 1000);
        store.put_with_id(id, &table).unwrap();
        let expect = table.share().unwrap().id();
        for (i, w) in workers.into_iter().enumerate() {
            let j = w.join_report();
            assert_eq!(j.report.heap_live, 0);
            let seen = j.result.unwrap();
            assert_eq!(seen, if i % 2 == 0 { expect } else { 0 });
        }
        assert_eq!(store.stats().pinned, 0);
        rt.shutdown();
    }
    assert_clean(base);
}

#[test]
fn abort_wakes_waiters_with_an_error() {
    let _g = lock();
    let base = frozen_live();
    {
        let store = Store::new();
        let id = ObjectId::random();
        let other = store.put(&Value::from("ready")).unwrap();
        store.create(id).unwrap();
        let rt = Runtime::new();
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let s = store.clone();
                rt.spawn(format!("w{i}"), move |_ctx| match i {
                    0 => s.wait(&[id], 1, LONG).map(|_| ()),
                    // A get of several ids fails whole, keeping no pin.
                    1 => s.get(&[other, id], LONG).map(|_| ()),
                    _ => s.get_one(id, LONG).map(|_| ()),
                })
            })
            .collect();
        wait_for_waiters(&store, 4);
        store.abort(id).unwrap();
        for w in workers {
            assert_eq!(w.join().unwrap(), Err(StoreError::Aborted(id)));
        }
        assert_eq!(store.stats().pinned, 0);
        assert!(!store.contains(id));
        assert_eq!(store.seal(id, &Value::None), Err(StoreError::UnknownId(id)));
        // The id is free again.
        store.create(id).unwrap();
        store.seal(id, &Value::Int(3)).unwrap();
        assert!(store.contains(id));
        rt.shutdown();
    }
    assert_clean(base);
}

#[test]
fn a_seal_that_cannot_freeze_leaves_the_reservation_open() {
    let _g = lock();
    let base = frozen_live();
    {
        let store = Store::new();
        let events = store.subscribe();
        let id = ObjectId::random();
        store.create(id).unwrap();
        let getter = {
            let s = store.clone();
            std::thread::spawn(move || {
                let f = s.get_one(id, LONG).unwrap();
                let len = f.value().len().unwrap();
                s.release(id).unwrap();
                len
            })
        };
        wait_for_waiters(&store, 1);

        let socket = Value::dict();
        set_freezable(&socket, Freezability::No).unwrap();
        let bad = Value::list(vec![Value::Int(1), socket]);
        let err = store.seal(id, &bad).unwrap_err();
        let StoreError::NotFreezable(e) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (e.path.to_string().as_str(), &e.reason),
            ("root[1]", &FreezeReason::StatusNo)
        );
        assert!(!is_frozen(&bad)); // all or nothing
        bad.append(Value::Int(2)).unwrap();
        assert_eq!(store.stats().pending, 1);
        assert_eq!(store.stats().waiting, 1); // still waiting

        // put is all or nothing too.
        assert!(matches!(store.put(&bad), Err(StoreError::NotFreezable(_))));
        assert!(!is_frozen(&bad));
        assert_eq!(store.stats().objects, 0);
        assert!(events.drain().is_empty());

        store.seal(id, &ints(0, 3)).unwrap();
        assert_eq!(getter.join().unwrap(), 3);
        assert_eq!(sealed_ids(&events).0, vec![id]);
    }
    assert_clean(base);
}

#[test]
fn errors_are_typed() {
    let _g = lock();
    let base = frozen_live();
    {
        let store = Store::new();
        let unknown = ObjectId::random();
        for r in [
            store.delete(unknown),
            store.release(unknown),
            store.abort(unknown),
            store.seal(unknown, &Value::None),
        ] {
            assert_eq!(r, Err(StoreError::UnknownId(unknown)));
        }
        let pending = ObjectId::random();
        store.create(pending).unwrap();
        assert_eq!(
            store.create(pending),
            Err(StoreError::AlreadyExists(pending))
        );
        assert_eq!(
            store.put_with_id(pending, &Value::None),
            Err(StoreError::AlreadyExists(pending))
        );
        assert_eq!(store.delete(pending), Err(StoreError::NotSealed(pending)));
        let sealed = store.put(&Value::Int(1)).unwrap();
        assert_eq!(
            store.put_with_id(sealed, &Value::None),
            Err(StoreError::AlreadyExists(sealed))
        );
        assert_eq!(store.abort(sealed), Err(StoreError::AlreadySealed(sealed)));
        assert_eq!(
            store.seal(sealed, &Value::None),
            Err(StoreError::AlreadySealed(sealed))
        );
        assert_eq!(store.release(sealed), Err(StoreError::NotPinned(sealed)));
        // Each Some pins once: a duplicated id needs two releases.
        let got = store.get(&[sealed, sealed], Duration::ZERO).unwrap();
        assert!(got.iter().all(Option::is_some));
        store.release(sealed).unwrap();
        store.release(sealed).unwrap();
        assert_eq!(store.release(sealed), Err(StoreError::NotPinned(sealed)));
        let full = Store::builder().capacity(10).build();
        let e = full.put(&ints(0, 100)).unwrap_err();
        assert!(matches!(
            e,
            StoreError::StoreFull {
                capacity: 10,
                used: 0,
                ..
            }
        ));
        for e in [StoreError::UnknownId(unknown), e] {
            assert!(!e.to_string().is_empty());
        }
        assert_eq!(StoreError::TimedOut(unknown).id(), Some(unknown));
        drop(got);
    }
    assert_clean(base);
}

#[test]
fn capacity_and_lru_eviction_never_evict_a_pinned_object() {
    let _g = lock();
    let base = frozen_live();
    {
        let size = estimate_size(&ints(0, 8));
        assert_eq!(size, OBJECT_BYTES + 8 * SLOT_BYTES);
        let store = Store::builder().capacity(3 * size).spill(false).build();
        let events = store.subscribe();
        let a = store.put(&ints(100, 8)).unwrap();
        let b = store.put(&ints(200, 8)).unwrap();
        let c = store.put(&ints(300, 8)).unwrap();
        assert_eq!(store.stats().used, 3 * size);
        let held_a = store.get_one(a, Duration::ZERO).unwrap(); // pinned

        // b is the least recently used object no one holds.
        let d = store.put(&ints(400, 8)).unwrap();
        assert!(!store.contains(b));
        assert!(store.contains(a) && store.contains(c) && store.contains(d));
        // A get and its release make c the most recent.
        store.get_one(c, Duration::ZERO).unwrap();
        store.release(c).unwrap();
        let e = store.put(&ints(500, 8)).unwrap();
        assert!(!store.contains(d) && store.contains(c));

        // Everything pinned: nothing can go.
        let held = store.get(&[c, e], Duration::ZERO).unwrap();
        let full = store.put(&ints(600, 8)).unwrap_err();
        assert_eq!(
            full,
            StoreError::StoreFull {
                needed: size,
                capacity: 3 * size,
                used: 3 * size
            }
        );
        assert!(store.contains(a) && store.contains(c) && store.contains(e));
        // Larger than the whole store.
        assert!(matches!(
            store.put(&ints(0, 100)),
            Err(StoreError::StoreFull { .. })
        ));
        assert_eq!(store.evict(usize::MAX), Ok(0));

        // Released, a is the only candidate.
        store.release(a).unwrap();
        store.put(&ints(600, 8)).unwrap();
        assert!(!store.contains(a));
        check_ints(&held_a, 8); // a kept handle stays valid (it is counted)
        let (sealed, deleted) = sealed_ids(&events);
        assert_eq!(sealed.len(), 6);
        assert_eq!(deleted, vec![(b, true), (d, true), (a, true)]);
        assert_eq!(store.stats().evictions, 3);
        store.release(c).unwrap();
        store.release(e).unwrap();
        drop((held, held_a));
    }
    assert_clean(base);
}

#[test]
fn spill_and_restore_give_an_equal_graph_and_remove_their_files() {
    let _g = lock();
    let cls = node_class("SpillNode");
    let base = frozen_live();
    let dir = spill_dir("restore");
    {
        let g1 = make_graph(40, &cls, 7);
        let g2 = make_graph(40, &cls, 8);
        let big = estimate_size(&g1).max(estimate_size(&g2));
        let store = Store::builder()
            .capacity(big + big / 2) // one graph at a time
            .spill_dir(&dir)
            .build();
        assert_eq!(store.spill_dir(), dir);
        let events = store.subscribe();
        let id1 = store.put(&g1).unwrap();
        assert!(!dir.exists()); // made on the first spill only
        let id2 = store.put(&g2).unwrap();
        let s = store.stats();
        assert_eq!((s.spilled, s.resident, s.spills), (1, 1, 1));
        assert_eq!(files_in(&dir), 1);
        assert!(store.contains(id1)); // spilled objects are still there

        let back = store.get_one(id1, Duration::ZERO).unwrap(); // restored
        let s = store.stats();
        assert_eq!((s.restores, s.spills, s.spilled), (1, 2, 1)); // g2 made room
        assert_eq!(files_in(&dir), 1); // g1's file is gone, g2's is there
        iso(&g1, &back.value()).unwrap();
        assert!(is_frozen(&back.value()));
        // A restored object is a new graph: identity is kept only while
        // resident.
        assert!(!back.is(&g1.share().unwrap()));
        // Resident again, gets return the same (restored) objects.
        let again = store.get_one(id1, Duration::ZERO).unwrap();
        assert!(again.is(&back));
        store.release(id1).unwrap();
        store.release(id1).unwrap();

        store.delete(id2).unwrap(); // spilled: its file goes
        assert_eq!(files_in(&dir), 0);
        store.delete(id1).unwrap();
        assert_eq!(store.stats().used, 0);
        // Spills and restores notified nothing.
        let (sealed, deleted) = sealed_ids(&events);
        assert_eq!(sealed, vec![id1, id2]);
        assert_eq!(deleted, vec![(id2, false), (id1, false)]);
        drop((back, again, g1, g2));
    }
    assert!(!dir.exists(), "the store made the directory and removes it");
    drop(cls);
    assert_clean(base);
}

#[test]
fn many_getters_of_a_spilled_object_restore_it_once() {
    let _g = lock();
    let base = frozen_live();
    {
        let size = estimate_size(&ints(0, 500));
        let store = Store::builder().capacity(size).build();
        let id = store.put(&ints(0, 500)).unwrap();
        assert_eq!(store.evict(1), Ok(size));
        assert_eq!(store.stats().spilled, 1);
        let rt = Runtime::new();
        let workers: Vec<_> = (0..6)
            .map(|i| {
                let s = store.clone();
                rt.spawn(format!("r{i}"), move |_ctx| {
                    let f = s.get_one(id, LONG).unwrap();
                    check_ints(&f, 500);
                    let seen = f.id();
                    s.release(id).unwrap();
                    seen
                })
            })
            .collect();
        let seen: Vec<usize> = workers
            .into_iter()
            .map(|w| {
                let j = w.join_report();
                assert_eq!(j.report.heap_live, 0); // restored on a worker, then frozen
                j.result.unwrap()
            })
            .collect();
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
        assert_eq!(store.stats().restores, 1);
        rt.shutdown();
    }
    assert_clean(base);
}

#[test]
fn a_store_dropped_with_spilled_files_removes_them() {
    let _g = lock();
    let base = frozen_live();
    let size = estimate_size(&ints(0, 50));
    // The default directory: under the temp dir, made and removed by the
    // store.
    let store = Store::builder().capacity(size).build();
    let clone = store.clone();
    store.put(&ints(0, 50)).unwrap();
    store.put(&ints(1, 50)).unwrap();
    store.put(&ints(2, 50)).unwrap();
    let dir = store.spill_dir().to_path_buf();
    assert!(dir.starts_with(std::env::temp_dir()));
    assert_eq!(files_in(&dir), 2);
    drop(store);
    assert_eq!(files_in(&dir), 2); // a clone still holds the store
    drop(clone);
    assert!(!dir.exists());

    // A directory the caller made: the files go, the directory stays.
    let mine = spill_dir("callers");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("keep.txt"), b"not the store's").unwrap();
    let store = Store::builder().capacity(size).spill_dir(&mine).build();
    store.put(&ints(0, 50)).unwrap();
    store.put(&ints(1, 50)).unwrap();
    assert_eq!(files_in(&mine), 2);
    drop(store);
    assert_eq!(files_in(&mine), 1);
    std::fs::remove_dir_all(&mine).unwrap();
    assert_clean(base);
}

#[test]
fn delete_of_a_pinned_object_frees_it_at_the_last_release() {
    let _g = lock();
    let base = frozen_live();
    {
        let size = estimate_size(&ints(0, 10));
        let store = Store::builder().capacity(2 * size).spill(false).build();
        let a = store.put(&ints(0, 10)).unwrap();
        let held = store.get_one(a, Duration::ZERO).unwrap();
        store.delete(a).unwrap();
        assert!(!store.contains(a));
        assert!(store.get(&[a], Duration::ZERO).unwrap()[0].is_none());
        assert_eq!(store.delete(a), Err(StoreError::UnknownId(a)));
        assert_eq!(
            store.put_with_id(a, &Value::None),
            Err(StoreError::AlreadyExists(a))
        );
        assert_eq!(store.stats().used, size); // still in memory, still charged
        check_ints(&held, 10);
        store.release(a).unwrap();
        assert_eq!(store.stats().used, 0);
        store.put_with_id(a, &Value::Int(1)).unwrap(); // the id is free now
        drop(held);
    }
    assert_clean(base);
}

#[test]
fn notifications_arrive_once_per_seal() {
    let _g = lock();
    let base = frozen_live();
    let dir = spill_dir("notify");
    {
        let size = estimate_size(&ints(0, 20));
        let store = Store::builder().capacity(2 * size).spill_dir(&dir).build();
        let events = store.subscribe();
        let mut ids: Vec<ObjectId> = (0..6).map(|i| store.put(&ints(i, 20)).unwrap()).collect();
        // Restores and the spills they cause notify nothing.
        for &id in &ids {
            let f = store.get_one(id, Duration::ZERO).unwrap();
            check_ints(&f, 20);
            store.release(id).unwrap();
        }
        for i in 0..3 {
            let id = ObjectId::random();
            store.create(id).unwrap();
            store.seal(id, &ints(100 + i, 20)).unwrap();
            ids.push(id);
        }
        let aborted = ObjectId::random();
        store.create(aborted).unwrap();
        store.abort(aborted).unwrap();
        let late = store.subscribe();
        store.delete(ids[0]).unwrap();
        store.delete(ids[7]).unwrap();
        assert!(store.stats().spills > 4 && store.stats().restores >= 4);

        let (sealed, deleted) = sealed_ids(&events);
        assert_eq!(sealed, ids); // each once, in order
        assert_eq!(deleted, vec![(ids[0], false), (ids[7], false)]);
        assert_eq!(late.drain().len(), 2); // only what came after it
        drop(store);
        assert_eq!(events.recv(), None); // the store is gone
    }
    assert!(!dir.exists());
    assert_clean(base);
}

#[test]
fn wait_follows_ray() {
    let _g = lock();
    let base = frozen_live();
    {
        let store = Store::new();
        let a = store.put(&Value::Int(1)).unwrap();
        let b = ObjectId::random();
        store.create(b).unwrap();
        let c = ObjectId::random();
        let t = Duration::from_millis(10);
        assert_eq!(
            store.wait(&[a, b, c], 1, LONG).unwrap(),
            (vec![a], vec![b, c])
        );
        assert_eq!(
            store.wait(&[a, b, c], 0, LONG).unwrap(),
            (vec![], vec![a, b, c])
        );
        // num_returns beyond the ids is clamped; the timeout gives what is
        // ready.
        assert_eq!(store.wait(&[a, b, c], 5, t).unwrap(), (vec![a], vec![b, c]));
        let sealer = {
            let s = store.clone();
            std::thread::spawn(move || {
                wait_for_waiters(&s, 1);
                s.seal(b, &Value::Int(2)).unwrap();
            })
        };
        let (ready, rest) = store.wait(&[c, b, a], 2, LONG).unwrap();
        assert_eq!((ready, rest), (vec![b, a], vec![c]));
        sealer.join().unwrap();
        assert_eq!(store.stats().pinned, 0); // wait pins nothing
    }
    assert_clean(base);
}

#[test]
fn a_failed_restore_keeps_the_object_spilled() {
    let _g = lock();
    let cls = Value::class("UnregisteredInStore", vec![], vec![]).unwrap();
    freeze(&[&cls]).unwrap();
    let base = frozen_live();
    {
        let v = Value::list(vec![cls.instantiate(vec![("x", Value::Int(5))]).unwrap()]);
        freeze(&[&v, &cls]).unwrap(); // an already frozen graph may be put
        let size = estimate_size(&v);
        let store = Store::builder().capacity(size).build();
        let id = store.put(&v).unwrap();
        assert_eq!(store.evict(1), Ok(size));
        let err = store.get_one(id, Duration::ZERO).unwrap_err();
        let StoreError::Restore { id: which, error } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*which, id);
        assert!(error.to_string().contains("not registered"), "{error}");
        assert!(store.contains(id));
        assert_eq!(store.stats().spilled, 1);
        assert_eq!(store.stats().pinned, 0);
        // Register the class and get again: nothing was lost.
        register_class("UnregisteredInStore", &cls).unwrap();
        let back = store.get_one(id, Duration::ZERO).unwrap();
        let x = back.value().get(0).unwrap().getattr("x").unwrap();
        assert_eq!(x.as_int(), Some(5));
        store.release(id).unwrap();
        drop((back, x, v));
    }
    drop(cls);
    assert_clean(base);
}

#[test]
fn graphs_that_cannot_be_pickled_are_never_spilled() {
    let _g = lock();
    let base = frozen_live();
    {
        let holder = Value::list(vec![Value::shared_field(Value::Int(0)).unwrap()]);
        let size = estimate_size(&holder).max(estimate_size(&ints(0, 1)));
        let store = Store::builder().capacity(size).build();
        let id = store.put(&holder).unwrap();
        let err = store.put(&ints(0, 1)).unwrap_err();
        assert!(matches!(err, StoreError::StoreFull { .. }), "{err:?}");
        let s = store.stats();
        assert_eq!((s.resident, s.spilled, s.spills), (1, 0, 0));
        let again = store.get_one(id, Duration::ZERO).unwrap();
        assert!(again.is(&holder.share().unwrap())); // never left memory
        store.release(id).unwrap();
        drop((again, holder));
    }
    assert_clean(base);
}

#[test]
fn a_spill_directory_that_cannot_be_made_is_an_io_error() {
    let _g = lock();
    let base = frozen_live();
    let blocker = spill_dir("blocker");
    std::fs::write(&blocker, b"a file where a directory should be").unwrap();
    {
        let size = estimate_size(&ints(0, 5));
        let store = Store::builder()
            .capacity(size)
            .spill_dir(blocker.join("spill"))
            .build();
        let a = store.put(&ints(0, 5)).unwrap();
        let err = store.put(&ints(1, 5)).unwrap_err();
        assert!(
            matches!(err, StoreError::SpillIo { id, .. } if id == a),
            "{err:?}"
        );
        assert!(err.to_string().contains("blocker"), "{err}");
        // The object that could not be spilled is still in memory.
        let f = store.get_one(a, Duration::ZERO).unwrap();
        check_ints(&f, 5);
        store.release(a).unwrap();
        assert_eq!(store.stats().spilled, 0);
        drop(f);
    }
    std::fs::remove_file(&blocker).unwrap();
    assert_clean(base);
}

#[test]
fn object_ids_are_random_and_round_trip_as_hex() {
    let _g = lock();
    let ids: std::collections::HashSet<ObjectId> =
        (0..10_000).map(|_| ObjectId::random()).collect();
    assert_eq!(ids.len(), 10_000);
    for id in ids.iter().take(100) {
        assert_eq!(id.to_string().parse::<ObjectId>(), Ok(*id));
        assert_eq!(id.to_string().len(), 40);
    }
    let id = ObjectId::from_bytes(*b"0123456789abcdefghij");
    assert_eq!(id.as_bytes(), b"0123456789abcdefghij");
    assert_eq!(format!("{id:?}"), format!("ObjectId({id})"));
    for bad in ["", "abc", &"zz".repeat(20), &"0".repeat(41)] {
        assert!(bad.parse::<ObjectId>().is_err(), "{bad:?}");
    }
}

#[test]
fn sizes_are_estimated_as_documented() {
    let _g = lock();
    let base = frozen_live();
    {
        let shared = Value::list(vec![Value::Int(1)]);
        let d = Value::dict_from(vec![
            ("ab".into(), shared.clone()),
            ("c".into(), Value::bytes(b"xyz")),
        ])
        .unwrap();
        let top = Value::list(vec![d, shared, Value::buffer(vec![0.0; 4])]);
        // Mutable: top, dict, shared list, buffer. Frozen: "ab", "c", the
        // bytes. Payload: 2 + 1 + 3 bytes, 4 floats, 3 + 1 item slots
        // (the shared list once) and 2 dict entries.
        let payload = 6 + 4 * 8 + 4 * SLOT_BYTES + 2 * 2 * SLOT_BYTES;
        let expect = 7 * OBJECT_BYTES + payload;
        assert_eq!(estimate_size(&top), expect);
        freeze(&[&top]).unwrap();
        assert_eq!(estimate_size(&top), expect); // all reachable through containers
        let store = Store::new();
        let events = store.subscribe();
        let id = store.put(&top).unwrap();
        assert_eq!(store.stats().used, expect);
        assert_eq!(
            events.recv(),
            Some(Notification::Sealed { id, size: expect })
        );
    }
    assert_clean(base);
}

/// Many workers putting, getting, releasing, deleting and evicting at
/// random in a small store with spilling on. While a worker holds a pin,
/// every get of that id returns the very same objects (a pinned object is
/// never evicted, so never restored as a new graph). At the end nothing is
/// left: no object, no pin, no byte, no file, no frozen object.
#[test]
fn stress_put_get_delete_with_eviction_and_spilling() {
    let _g = lock();
    let base = frozen_live();
    let dir = spill_dir("stress");
    let (spills, restores) = {
        let unit = estimate_size(&ints(0, 100));
        let store = Store::builder().capacity(12 * unit).spill_dir(&dir).build();
        let known: Arc<Mutex<Vec<(ObjectId, usize)>>> = Arc::default();
        let rt = Runtime::new();
        let workers: Vec<_> = (0..4u64)
            .map(|w| {
                let store = store.clone();
                let known = known.clone();
                rt.spawn(format!("stress-{w}"), move |_ctx| {
                    let mut rng = StdRng::seed_from_u64(795 + w);
                    let mut pinned: Vec<(ObjectId, usize, Frozen)> = Vec::new();
                    let mut full = 0;
                    for step in 0..600 {
                        let pick = |rng: &mut StdRng| {
                            let k = known.lock().unwrap();
                            (!k.is_empty()).then(|| k[rng.gen_range(0..k.len())])
                        };
                        match rng.gen_range(0..100) {
                            0..=29 => {
                                let n = rng.gen_range(1..200);
                                let tag = (w as i64) << 40 | (step as i64) << 16;
                                match store.put(&ints(tag, n)) {
                                    Ok(id) => known.lock().unwrap().push((id, n)),
                                    Err(StoreError::StoreFull { .. }) => full += 1,
                                    Err(e) => panic!("put: {e}"),
                                }
                            }
                            30..=64 => {
                                let Some((id, n)) = pick(&mut rng) else {
                                    continue;
                                };
                                let t = Duration::from_micros(rng.gen_range(0..200));
                                match store.get(&[id], t) {
                                    Ok(got) => {
                                        if let Some(f) = got.into_iter().next().flatten() {
                                            check_ints(&f, n);
                                            if let Some(p) = pinned.iter().find(|p| p.0 == id) {
                                                assert!(p.2.is(&f), "a pinned object changed");
                                            }
                                            pinned.push((id, n, f));
                                        }
                                    }
                                    Err(StoreError::StoreFull { .. }) => full += 1,
                                    Err(e) => panic!("get: {e}"),
                                }
                            }
                            65..=84 => {
                                if !pinned.is_empty() {
                                    let (id, n, f) =
                                        pinned.swap_remove(rng.gen_range(0..pinned.len()));
                                    check_ints(&f, n);
                                    drop(f);
                                    store.release(id).unwrap();
                                }
                            }
                            85..=94 => {
                                let Some((id, _)) = pick(&mut rng) else {
                                    continue;
                                };
                                match store.delete(id) {
                                    Ok(()) | Err(StoreError::UnknownId(_)) => {}
                                    Err(e) => panic!("delete: {e}"),
                                }
                            }
                            95..=97 => {
                                store.evict(rng.gen_range(0..4) * unit).unwrap();
                            }
                            _ => {
                                let ids: Vec<ObjectId> =
                                    (0..3).filter_map(|_| pick(&mut rng).map(|p| p.0)).collect();
                                store.wait(&ids, 1, Duration::ZERO).unwrap();
                            }
                        }
                        // Keep pins bounded so the store stays usable.
                        while pinned.len() > 4 {
                            let (id, _, f) = pinned.remove(0);
                            drop(f);
                            store.release(id).unwrap();
                        }
                    }
                    for (id, _, f) in pinned {
                        drop(f);
                        store.release(id).unwrap();
                    }
                    full
                })
            })
            .collect();
        for w in workers {
            let j = w.join_report();
            assert_eq!(j.report.heap_live, 0, "{} leaked", j.report.name);
            j.result.unwrap();
        }
        rt.shutdown();
        let s = store.stats();
        assert_eq!((s.pinned, s.waiting, s.pending), (0, 0, 0));
        for (id, _) in known.lock().unwrap().drain(..) {
            match store.delete(id) {
                Ok(()) | Err(StoreError::UnknownId(_)) => {}
                Err(e) => panic!("final delete: {e}"),
            }
        }
        let s = store.stats();
        assert_eq!((s.objects, s.used), (0, 0));
        assert_eq!(files_in(&dir), 0);
        (s.spills, s.restores)
    };
    assert!(
        spills > 0 && restores > 0,
        "spills {spills}, restores {restores}"
    );
    assert!(!dir.exists(), "spill directory left behind");
    assert_clean(base);
}
