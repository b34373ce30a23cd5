//! criterion benches for every workload x operation of `WORKLOADS.md`:
//! build, traverse (freeze's floor), freeze, pickle, unpickle, deep copy,
//! transfer to another worker by reference and by pickle, drop of the
//! frozen graph; Figure 1's matrices shared vs pickled; and the object
//! store's put, get and spill + restore.
//!
//! Inputs are built outside the timed region (`iter_batched`, or
//! `iter_custom` for transfers, which time send + receive + first read).
//! Throughput is in elements (strings, ints, vertices, links, matrices).
//!
//! Sizes: `PERMAFROST_BENCH_N` (default 100,000) strings and ints; the graph
//! has N / 10 vertices and the chain N links. `cargo bench -p
//! permafrost-bench -- dict-int` runs one shape.

use std::time::Duration;

use criterion::{criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use permafrost::diag::traverse;
use permafrost::{collect, deep_copy, pickle, unpickle, Detached};
use permafrost::{ObjectId, Store};
use permafrost_bench::shapes::{build, Built, Input, Shape, Sizes};
use permafrost_bench::sharing::{run_once, Matrices};
use permafrost_bench::store::spill_once;
use permafrost_bench::table1::register_classes;
use permafrost_bench::transfer::{lists, Peer};

fn sizes() -> Sizes {
    let n = std::env::var("PERMAFROST_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000usize)
        .max(10);
    Sizes {
        n,
        graph_n: n / 10,
        chain_n: n,
    }
}

fn frozen(input: &Input) -> Built {
    let b = build(input);
    b.freeze().expect("shapes freeze");
    b
}

fn shape_benches(c: &mut Criterion, shape: Shape) {
    let sizes = sizes();
    let n = shape.size(&sizes);
    let input = Input::new(shape, n);
    let mut g = c.benchmark_group(shape.name());
    g.throughput(Throughput::Elements(n as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let id = |op: &str| BenchmarkId::new(op, n);
    let cyclic = shape == Shape::Graph;
    let tidy = move || {
        if cyclic {
            collect();
        }
    };

    g.bench_function(id("build"), |b| {
        b.iter_batched(|| (), |()| build(&input), BatchSize::PerIteration);
        tidy();
    });
    g.bench_function(id("traverse"), |b| {
        b.iter_batched(
            || build(&input),
            |built| {
                let k = traverse(&built.root);
                (built, k)
            },
            BatchSize::PerIteration,
        );
        tidy();
    });
    g.bench_function(id("freeze"), |b| {
        b.iter_batched(
            || build(&input),
            |built| {
                built.freeze().expect("shapes freeze");
                built
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function(id("drop"), |b| {
        b.iter_batched(
            || frozen(&input),
            |Built { root, classes }| {
                drop(root);
                classes
            },
            BatchSize::PerIteration,
        )
    });

    let graph = build(&input);
    register_classes(&graph);
    g.bench_function(id("pickle"), |b| {
        b.iter(|| pickle(&graph.root).expect("pickle"))
    });
    let bytes = pickle(&graph.root).expect("pickle");
    g.bench_function(id("unpickle"), |b| {
        b.iter_batched(
            || (),
            |()| unpickle(&bytes).expect("unpickle"),
            BatchSize::PerIteration,
        );
        tidy();
    });
    g.bench_function(id("deepcopy"), |b| {
        b.iter_batched(
            || (),
            |()| deep_copy(&graph.root).map(Detached::adopt).expect("copy"),
            BatchSize::PerIteration,
        );
        tidy();
    });
    drop(graph);
    tidy();

    // Transfer to another worker: the frozen graph (classes frozen and so
    // registered for every worker) by reference and by pickle.
    let shared = frozen(&input);
    register_classes(&shared);
    let peer = Peer::spawn();
    for mode in ["share", "pickle"] {
        g.bench_function(id(&format!("transfer-{mode}")), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += peer.transfer(&shared.root, mode).expect("transfer");
                }
                total
            })
        });
    }
    drop(peer);
    g.finish();
}

fn table1(c: &mut Criterion) {
    for shape in Shape::ALL {
        shape_benches(c, shape);
    }
}

fn figure1(c: &mut Criterion) {
    let per_worker = sizes().n / 5;
    let workers = 2;
    let m = Matrices::new(per_worker, 1000);
    let mut g = c.benchmark_group("matrices");
    g.throughput(Throughput::Elements((per_worker * workers) as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for mode in ["shared", "pickled"] {
        g.bench_function(BenchmarkId::new(mode, workers), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (ns, _) = run_once(&m, mode, workers).expect("sharing run");
                    total += Duration::from_nanos(ns as u64);
                }
                total
            })
        });
    }
    g.finish();
}

fn store(c: &mut Criterion) {
    let n = sizes().n;
    let mut g = c.benchmark_group("store");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for k in [1, n] {
        let s = Store::new();
        g.bench_function(BenchmarkId::new("put", k), |b| {
            b.iter_batched(
                || lists(k),
                |v| {
                    let id = s.put(&v).expect("put");
                    (v, id)
                },
                BatchSize::PerIteration,
            )
        });
        let id: ObjectId = s.put(&lists(k)).expect("put");
        g.bench_function(BenchmarkId::new("get", k), |b| {
            b.iter(|| {
                let got = s.get(&[id], Duration::ZERO).expect("get");
                s.release(id).expect("release");
                got
            })
        });
    }
    g.bench_function(BenchmarkId::new("spill+restore", n), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let [spill, restore, _, _] = spill_once(n).expect("spill");
                total += Duration::from_nanos((spill + restore) as u64);
            }
            total
        })
    });
    g.finish();
}

/// The criterion group (its generated function has no docs of its own).
mod group {
    #![allow(missing_docs)]
    use super::{figure1, store, table1};
    criterion::criterion_group!(benches, table1, figure1, store);
}

criterion_main!(group::benches);
