//! Frozen graphs with cycles shared across threads: `Value::share()` gives
//! a `Frozen` (`Send + Sync`), clones travel to several threads and are
//! dropped there in random order, or many threads clone and drop the same
//! handle at once. Afterwards every frozen object is freed exactly once:
//! `frozen_live()` is back to its baseline and nothing crashed.
//!
//! `frozen_live()` is process-global, so every test holds [`serial::lock`].

#[path = "serial/mod.rs"]
mod serial;
use serial::lock;

use std::sync::Barrier;

use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

#[test]
fn frozen_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Frozen>();
}

/// A frozen graph of `n` nodes: node `i` is a list `[i, succ...]` (or an
/// instance with `id` and `e0..` attributes), with rings of random length
/// (cycles), random extra edges (shared nodes, cross-SCC edges) and self
/// loops. Returns every node plus the number of frozen objects made.
fn frozen_graph(n: usize, rng: &mut StdRng) -> (Vec<Value>, usize) {
    let f0 = frozen_live();
    let class = Value::class("N", vec![], vec![]).unwrap();
    let nodes: Vec<Value> = (0..n)
        .map(|i| {
            if rng.gen_bool(0.3) {
                class.instantiate(vec![("id", Value::from(i))]).unwrap()
            } else {
                Value::list(vec![Value::from(i)])
            }
        })
        .collect();
    let link = |from: &Value, to: &Value, k: usize| {
        if from.type_name() == "list" {
            from.append(to.clone()).unwrap()
        } else {
            from.setattr(&format!("e{k}"), to.clone()).unwrap()
        }
    };
    let mut out_deg = vec![0usize; n];
    // Rings over consecutive runs of nodes.
    let mut start = 0;
    while start < n {
        let len = rng.gen_range(1..=8).min(n - start);
        for i in start..start + len {
            let j = if i + 1 == start + len { start } else { i + 1 };
            link(&nodes[i], &nodes[j], out_deg[i]);
            out_deg[i] += 1;
        }
        start += len;
    }
    for _ in 0..n {
        let (a, b) = (rng.gen_range(0..n), rng.gen_range(0..n));
        link(&nodes[a], &nodes[b], out_deg[a]);
        out_deg[a] += 1;
    }
    let all = Value::list(nodes.clone());
    freeze(&[&all, &class]).unwrap();
    assert!(nodes.iter().all(is_frozen));
    drop((all, class));
    let made = usize::try_from(frozen_live() - f0).unwrap();
    assert!(made == n || made == n + 1, "n nodes and perhaps the class");
    (nodes, made)
}

/// The node's id (list item 0 or attribute `id`).
fn node_id(v: &Value) -> i64 {
    if v.type_name() == "list" {
        v.get(0).unwrap().as_int().unwrap()
    } else {
        v.getattr("id").unwrap().as_int().unwrap()
    }
}

/// The node's successors.
fn succs(v: &Value) -> Vec<Value> {
    if v.type_name() == "list" {
        v.to_vec().unwrap().into_iter().skip(1).collect()
    } else {
        (0..)
            .map_while(|k| v.getattr(&format!("e{k}")).ok())
            .collect()
    }
}

/// Walks `steps` edges from `v`, checking that every node reached is
/// intact; returns the sum of ids seen.
fn walk(v: &Value, steps: usize, n: usize, rng: &mut StdRng) -> i64 {
    let mut cur = v.clone();
    let mut sum = 0;
    for _ in 0..steps {
        let id = node_id(&cur);
        assert!((0..n as i64).contains(&id), "corrupt node id {id}");
        sum += id;
        let next = succs(&cur);
        assert!(!next.is_empty(), "every node is on a ring");
        cur = next[rng.gen_range(0..next.len())].clone();
    }
    sum
}

#[test]
fn cyclic_graphs_dropped_on_threads_in_random_order() {
    let _g = lock();
    let base = frozen_live();
    let heap_base = heap_live();
    const THREADS: usize = 4;
    for seed in 0..24u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = rng.gen_range(1..60);
        let (nodes, made) = frozen_graph(n, &mut rng);
        assert_eq!(frozen_live(), base + made as isize);
        assert_eq!(heap_live(), heap_base);
        let shared: Vec<Frozen> = nodes.iter().map(|v| v.share().unwrap()).collect();
        // Each thread gets a random multiset of handles in random order.
        let mut parcels: Vec<Vec<Frozen>> = (0..THREADS)
            .map(|_| {
                let k = rng.gen_range(0..=2 * n);
                (0..k)
                    .map(|_| shared[rng.gen_range(0..n)].clone())
                    .collect()
            })
            .collect();
        // Every handle goes to some thread, so the last drop is off-main.
        for f in shared {
            parcels[rng.gen_range(0..THREADS)].push(f);
        }
        for p in &mut parcels {
            p.shuffle(&mut rng);
        }
        let barrier = Barrier::new(THREADS + 1);
        std::thread::scope(|s| {
            for (t, parcel) in parcels.into_iter().enumerate() {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(seed * 100 + t as u64);
                    barrier.wait();
                    let heap0 = heap_live();
                    for f in parcel {
                        let v = f.value();
                        walk(&v, 5, n, &mut rng);
                        let again = f.clone();
                        drop(f);
                        drop(v);
                        assert!((0..n as i64).contains(&node_id(&again.value())));
                    }
                    assert_eq!(heap_live(), heap0);
                });
            }
            barrier.wait();
            // Main drops its own handles while the threads run.
            let mut mine = nodes;
            mine.shuffle(&mut rng);
            for v in mine {
                walk(&v, 3, n, &mut rng);
                drop(v);
            }
        });
        assert_eq!(
            frozen_live(),
            base,
            "seed {seed}: frozen objects leaked or double-freed"
        );
        assert_eq!(heap_live(), heap_base);
    }
}

#[test]
fn many_threads_clone_and_drop_the_same_frozen() {
    let _g = lock();
    let base = frozen_live();
    let mut rng = StdRng::seed_from_u64(7);
    let n = 40;
    let (nodes, made) = frozen_graph(n, &mut rng);
    let root = nodes[0].share().unwrap();
    let member = nodes[n / 2].share().unwrap();
    drop(nodes);
    // What root and member do not reach is gone; the rest stays.
    let kept = frozen_live();
    assert!(kept > base && kept <= base + made as isize);
    const THREADS: usize = 8;
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (root, member, barrier) = (&root, &member, &barrier);
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(t as u64);
                let mut held: Vec<Frozen> = Vec::new();
                let mut vals: Vec<Value> = Vec::new();
                barrier.wait();
                for i in 0..20_000 {
                    match rng.gen_range(0..6) {
                        0 => held.push(root.clone()),
                        1 => held.push(member.clone()),
                        2 => vals.push(root.value()),
                        3 => {
                            let v = member.value();
                            vals.push(v.clone());
                            vals.extend(succs(&v));
                        }
                        4 => {
                            if !held.is_empty() {
                                let k = rng.gen_range(0..held.len());
                                drop(held.swap_remove(k));
                            }
                        }
                        _ => {
                            if !vals.is_empty() {
                                let k = rng.gen_range(0..vals.len());
                                drop(vals.swap_remove(k));
                            }
                        }
                    }
                    if i % 1000 == 0 {
                        walk(&root.value(), 10, n, &mut rng);
                        held.shuffle(&mut rng);
                        vals.truncate(vals.len() / 2);
                    }
                }
            });
        }
    });
    // Every clone was dropped: the originals are still valid and alone.
    assert_eq!(frozen_live(), kept);
    walk(&root.value(), 100, n, &mut rng);
    walk(&member.value(), 100, n, &mut rng);
    assert!(root.clone().is(&root));
    drop(member);
    assert!(frozen_live() <= kept && frozen_live() > base);
    drop(root);
    assert_eq!(frozen_live(), base);
}

#[test]
fn racing_last_references_free_exactly_once() {
    // K threads each hold one handle to the same cyclic SCC and drop it at
    // the same moment: exactly one of them must free it, once.
    let _g = lock();
    let base = frozen_live();
    const THREADS: usize = 4;
    for round in 0..300u64 {
        let a = Value::list(vec![Value::Int(0)]);
        let b = Value::list(vec![Value::Int(1), a.clone()]);
        let c = Value::list(vec![Value::Int(2), b.clone(), a.clone()]);
        a.append(c.clone()).unwrap();
        a.append(b.clone()).unwrap();
        freeze(&[&a]).unwrap();
        let members = [a.share().unwrap(), b.share().unwrap(), c.share().unwrap()];
        drop((a, b, c));
        assert_eq!(frozen_live(), base + 3);
        let handles: Vec<Frozen> = (0..THREADS)
            .map(|t| members[(t + round as usize) % 3].clone())
            .collect();
        drop(members);
        let barrier = Barrier::new(THREADS);
        std::thread::scope(|s| {
            for h in handles {
                let barrier = &barrier;
                s.spawn(move || {
                    let v = h.value();
                    assert!(v.get(0).unwrap().as_int().is_some());
                    drop(v);
                    barrier.wait();
                    drop(h);
                });
            }
        });
        assert_eq!(frozen_live(), base, "round {round}");
    }
}

#[test]
fn other_threads_store_frozen_values_in_their_own_heaps() {
    // A thread puts shared frozen objects into its own mutable containers
    // (including a mutable cycle), then drops everything; the collector on
    // that thread releases the frozen references.
    let _g = lock();
    let base = frozen_live();
    let mut rng = StdRng::seed_from_u64(99);
    let n = 30;
    let (nodes, made) = frozen_graph(n, &mut rng);
    let shared: Vec<Frozen> = nodes.iter().map(|v| v.share().unwrap()).collect();
    drop(nodes);
    std::thread::scope(|s| {
        for t in 0..3u64 {
            let shared = &shared;
            s.spawn(move || {
                let heap0 = heap_live();
                let mut rng = StdRng::seed_from_u64(t);
                {
                    let x = Value::list(vec![]);
                    let y = Value::dict();
                    x.append(y.clone()).unwrap();
                    y.set_item(Value::Int(0), x.clone()).unwrap(); // mutable cycle
                    for k in 0..50 {
                        let f = &shared[rng.gen_range(0..n)];
                        x.append(f.value()).unwrap();
                        y.set_item(Value::Int(k + 1), f.into()).unwrap();
                    }
                    walk(&x.get(1).unwrap(), 20, n, &mut rng);
                }
                assert!(heap_live() > heap0, "the mutable cycle needs a collection");
                collect();
                assert_eq!(heap_live(), heap0);
            });
        }
    });
    assert_eq!(frozen_live(), base + made as isize);
    drop(shared);
    assert_eq!(frozen_live(), base);
}

#[test]
fn frozen_sent_over_channels_and_dropped_last_elsewhere() {
    // A pipeline of threads passes handles along; each keeps a few, the
    // final stage drops the rest. The main thread keeps nothing.
    let _g = lock();
    let base = frozen_live();
    let mut rng = StdRng::seed_from_u64(3);
    let n = 25;
    let (nodes, made) = frozen_graph(n, &mut rng);
    let shared: Vec<Frozen> = nodes.iter().map(|v| v.share().unwrap()).collect();
    drop(nodes);
    assert_eq!(frozen_live(), base + made as isize);
    let (tx0, rx0) = std::sync::mpsc::channel::<Frozen>();
    let (tx1, rx1) = std::sync::mpsc::channel::<Frozen>();
    let stage1 = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for (i, f) in rx0.into_iter().enumerate() {
            if i % 3 == 0 {
                kept.push(f.clone());
            }
            tx1.send(f).unwrap();
        }
        kept.len()
    });
    let stage2 = std::thread::spawn(move || {
        let mut rng = StdRng::seed_from_u64(4);
        let mut count = 0;
        for f in rx1 {
            walk(&f.value(), 4, n, &mut rng);
            count += 1;
        }
        count
    });
    for _ in 0..10 {
        for f in &shared {
            tx0.send(f.clone()).unwrap();
        }
    }
    drop(shared);
    drop(tx0);
    let kept = stage1.join().unwrap();
    assert_eq!(stage2.join().unwrap(), 10 * n);
    assert!(kept > 0);
    assert_eq!(frozen_live(), base);
}
