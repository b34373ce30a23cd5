//! PEP 795's `SharedField`: one mutable slot, seen by every worker, that
//! only ever holds frozen values.
//!
//! 1. **A counter.** Many workers increment one shared int with a
//!    compare-and-swap loop: read the current value, store `current + 1`
//!    only if nobody changed it meanwhile, otherwise retry. The final count
//!    is asserted.
//! 2. **Config hot-swap (read-copy-update).** Writers publish new versions
//!    of a frozen config dict with compare-and-swap, which compares by
//!    *identity*: a writer that lost the race rebuilds from the newer
//!    config and retries, so no update is lost. Readers take snapshots
//!    while this goes on; each snapshot is a frozen dict, so it is always
//!    internally consistent, whatever the writers do next.
//!
//! The field itself is frozen (so it can be shared) and stays writable.
//! Inside, each field operation is a short critical section (a mutex around
//! one slot); what this example shows is the protocol built on top of it.
//!
//! ```text
//! cargo run --release --example shared_counter
//! cargo run --release --example shared_counter -- --workers 8 --increments 100000
//! cargo run --release --example shared_counter -- --small     # or PERMAFROST_SMALL=1
//! ```

use std::time::Instant;

use permafrost::{freeze, Error, Frozen, Runtime, Value};

/// Run sizes, from the command line.
struct Config {
    workers: usize,
    increments: usize,
    updates: usize,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let small = args.iter().any(|a| a == "--small")
        || std::env::var("PERMAFROST_SMALL").is_ok_and(|v| !v.is_empty() && v != "0");
    let num = |flag: &str| -> Option<usize> {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1)?.parse().ok()
    };
    Config {
        workers: num("--workers").unwrap_or(4).max(1),
        increments: num("--increments").unwrap_or(if small { 1_000 } else { 1_000_000 }),
        updates: num("--updates").unwrap_or(if small { 100 } else { 20_000 }),
    }
}

/// A shared field holding `init`, frozen so that workers can share it.
fn shared_field(init: Value) -> Frozen {
    let field = Value::shared_field(init).unwrap(); // freezes `init`
    freeze(&[&field]).unwrap(); // the field stays writable
    field.share().unwrap()
}

/// Adds one to the int in `field`; returns how many attempts lost a race.
fn increment(field: &Value) -> Result<u64, Error> {
    let mut retries = 0;
    loop {
        let current = field.field_get()?;
        let next = Value::Int(current.as_int().unwrap_or(0) + 1);
        if field.field_compare_and_swap(&current, next)? {
            return Ok(retries);
        }
        retries += 1;
    }
}

/// A frozen config: `threshold` is always `10 * version`, and `name` says
/// the version too, so a torn read would show.
fn make_config(version: i64) -> Value {
    let cfg = Value::dict_from(vec![
        ("version".into(), version.into()),
        ("threshold".into(), (version * 10).into()),
        ("name".into(), format!("config-v{version}").into()),
    ])
    .unwrap();
    freeze(&[&cfg]).unwrap();
    cfg
}

fn int(cfg: &Value, key: &str) -> i64 {
    cfg.get_str(key).unwrap().and_then(|v| v.as_int()).unwrap()
}

fn main() {
    let c = config();
    let rt = Runtime::new();

    // ---- 1. A counter incremented by every worker. ----
    let counter = shared_field(Value::Int(0));
    let t = Instant::now();
    let workers: Vec<_> = (0..c.workers)
        .map(|i| {
            let counter = counter.clone(); // O(1): one atomic increment
            let n = c.increments;
            rt.spawn(format!("incr-{i}"), move |_ctx| {
                let field = counter.value();
                (0..n).map(|_| increment(&field).unwrap()).sum::<u64>()
            })
        })
        .collect();
    let retries: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let took = t.elapsed();
    let total = counter.value().field_get().unwrap().as_int().unwrap();
    let expected = (c.workers * c.increments) as i64;
    assert_eq!(total, expected, "lost increments");
    println!(
        "counter: {} workers x {} increments = {} (expected {}), {} CAS retries, {:.1} ms ({:.1} M increments/s)",
        c.workers,
        c.increments,
        total,
        expected,
        retries,
        took.as_secs_f64() * 1e3,
        total as f64 / took.as_secs_f64() / 1e6
    );

    // ---- 2. Hot-swapping a frozen config while readers use it. ----
    let config_field = shared_field(make_config(0));
    let writers = 2;
    let t = Instant::now();
    let writer_handles: Vec<_> = (0..writers)
        .map(|i| {
            let field = config_field.clone();
            let updates = c.updates;
            rt.spawn(format!("writer-{i}"), move |_ctx| {
                let field = field.value();
                let mut lost = 0;
                for _ in 0..updates {
                    loop {
                        // Read-copy-update: build the next version from the
                        // current one, then publish it if nobody beat us.
                        let current = field.field_get().unwrap();
                        let next = make_config(int(&current, "version") + 1);
                        if field.field_compare_and_swap(&current, next).unwrap() {
                            break;
                        }
                        lost += 1;
                    }
                }
                lost
            })
        })
        .collect();
    let final_version = (writers * c.updates) as i64;
    let reader_handles: Vec<_> = (0..2)
        .map(|i| {
            let field = config_field.clone();
            rt.spawn(format!("reader-{i}"), move |_ctx| {
                let field = field.value();
                let (mut snapshots, mut last) = (0u64, -1);
                loop {
                    let cfg = field.field_get().unwrap();
                    let v = int(&cfg, "version");
                    // Every snapshot is consistent, and versions only grow.
                    assert_eq!(int(&cfg, "threshold"), v * 10);
                    let name = cfg.get_str("name").unwrap().unwrap();
                    assert_eq!(name.as_str(), Some(format!("config-v{v}").as_str()));
                    assert!(v >= last, "version went back from {last} to {v}");
                    last = v;
                    snapshots += 1;
                    if v == final_version {
                        return snapshots;
                    }
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    let lost: u64 = writer_handles.into_iter().map(|w| w.join().unwrap()).sum();
    let snapshots: u64 = reader_handles.into_iter().map(|r| r.join().unwrap()).sum();
    let took = t.elapsed();
    let now = config_field.value().field_get().unwrap();
    assert_eq!(int(&now, "version"), final_version, "lost updates");
    println!(
        "config: {} writers x {} updates -> version {} (expected {}), {} lost races retried, {} consistent snapshots read, {:.1} ms",
        writers,
        c.updates,
        int(&now, "version"),
        final_version,
        lost,
        snapshots,
        took.as_secs_f64() * 1e3
    );

    // A mutable value can never get into the field.
    let err = config_field.value().field_set(Value::dict()).unwrap_err();
    println!("storing a mutable dict in the field: {err}");

    for r in rt.shutdown() {
        assert_eq!(r.heap_live, 0, "{} leaked objects", r.name);
    }
}
