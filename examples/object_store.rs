//! The object store in the manner of Plasma's introduction: a driver puts a
//! large frozen table into the store once; workers get it by id (an O(1)
//! share of the very same objects, not a copy), each computes over its
//! slice and puts its result back under an id the driver chose; the driver
//! gathers the results, blocking until every worker has sealed its own.
//!
//! Then, with a store too small for two tables, the first is spilled to
//! disk (its pickle) and read back transparently on the next get.
//!
//! ```text
//! cargo run --release --example object_store
//! cargo run --release --example object_store -- --rows 2000000 --workers 4
//! cargo run --release --example object_store -- --small     # or PERMAFROST_SMALL=1
//! ```

use std::time::{Duration, Instant};

use permafrost::{
    estimate_size, pickle, unpickle, Notification, ObjectId, Runtime, Store, Value, View,
};

/// Run sizes, from the command line.
struct Config {
    rows: usize,
    workers: usize,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let small = args.iter().any(|a| a == "--small")
        || std::env::var("PERMAFROST_SMALL").is_ok_and(|v| !v.is_empty() && v != "0");
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let num = |flag: &str| -> Option<usize> {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1)?.parse().ok()
    };
    Config {
        rows: num("--rows")
            .unwrap_or(if small { 20_000 } else { 1_000_000 })
            .max(1),
        workers: num("--workers").unwrap_or(cores.clamp(2, 8)).max(1),
    }
}

const LONG: Duration = Duration::from_secs(120);

/// Row `i` of the sales table: `(id, name, price in cents, quantity)`.
fn row(i: usize) -> Value {
    Value::tuple(vec![
        Value::Int(i as i64),
        Value::from(format!("item-{i}")),
        Value::Int(((i * 7919) % 10_000 + 100) as i64),
        Value::Int((i % 17 + 1) as i64),
    ])
}

fn table(rows: usize) -> Value {
    Value::list((0..rows).map(row).collect())
}

/// Revenue (price x quantity, in cents) of rows `start..end`, read through
/// a borrowed view: no reference counting on the shared table.
fn revenue(table: View<'_>, start: usize, end: usize) -> i64 {
    (start..end)
        .filter_map(|i| table.get(i))
        .map(|r| {
            let price = r.get(2).and_then(|x| x.as_int()).unwrap_or(0);
            let qty = r.get(3).and_then(|x| x.as_int()).unwrap_or(0);
            price * qty
        })
        .sum()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let c = config();
    println!(
        "object_store: a table of {} rows, {} workers",
        c.rows, c.workers
    );
    let store = Store::new();
    let events = store.subscribe();

    // --- The driver puts the table once. ---
    let t = table(c.rows);
    let size = estimate_size(&t);
    let clock = Instant::now();
    let table_id = store.put(&t).expect("the table freezes");
    println!(
        "driver: put the table once ({:.1} MB estimated) in {:.1} ms as {table_id}",
        size as f64 / 1e6,
        ms(clock.elapsed())
    );

    // The driver names the results up front, as Plasma clients do, so it
    // can wait for them before any worker has started.
    let result_ids: Vec<ObjectId> = (0..c.workers).map(|_| ObjectId::random()).collect();
    let rt = Runtime::new();
    let step = c.rows.div_ceil(c.workers);
    let workers: Vec<_> = result_ids
        .iter()
        .enumerate()
        .map(|(w, &result_id)| {
            let store = store.clone();
            rt.spawn(format!("worker-{w}"), move |_ctx| {
                let clock = Instant::now();
                let table = store.get_one(table_id, LONG).expect("the table is there");
                let got_in = clock.elapsed();
                let (start, end) = (w * step, ((w + 1) * step).min(c.rows));
                let total = revenue(table.view(), start, end);
                let seen = table.id();
                drop(table);
                store.release(table_id).expect("pinned by our get");
                let result = Value::tuple(vec![
                    Value::Int(w as i64),
                    Value::Int(total),
                    Value::Int((end - start) as i64),
                ]);
                store
                    .put_with_id(result_id, &result)
                    .expect("our own result id");
                (seen, got_in)
            })
        })
        .collect();

    // --- The driver gathers, blocking until every result is sealed. ---
    let (ready, _) = store
        .wait(&result_ids, 1, LONG)
        .expect("nothing is aborted");
    println!(
        "driver: first result ready ({} of {})",
        ready.len(),
        c.workers
    );
    let results = store.get(&result_ids, LONG).expect("nothing is aborted");
    let mut total = 0;
    let mut rows = 0;
    for r in results.iter().flatten() {
        let v = r.view();
        total += v.get(1).and_then(|x| x.as_int()).unwrap_or(0);
        rows += v.get(2).and_then(|x| x.as_int()).unwrap_or(0);
    }
    for &id in &result_ids {
        store.release(id).expect("pinned by our get");
    }
    let expect = revenue(t.view().expect("frozen"), 0, c.rows);
    assert_eq!(total, expect);
    assert_eq!(rows as usize, c.rows);
    println!(
        "driver: gathered {} results: {rows} rows, revenue {total} cents (matches the driver's own sum)",
        results.iter().flatten().count()
    );

    let table_obj = t.share().expect("frozen").id();
    let mut slowest = Duration::ZERO;
    for w in workers {
        let j = w.join_report();
        assert_eq!(j.report.heap_live, 0, "{} leaked", j.report.name);
        let (seen, got_in) = j.result.expect("the worker finished");
        assert_eq!(seen, table_obj, "a worker got another object");
        slowest = slowest.max(got_in);
    }
    println!(
        "{} workers got the same table (object {table_obj:#x}), no copy: slowest get {:.1} µs",
        c.workers,
        slowest.as_secs_f64() * 1e6
    );
    // For scale: what one pickled copy of the table costs.
    let clock = Instant::now();
    let bytes = pickle(&t).expect("picklable");
    let copy = unpickle(&bytes).expect("unpicklable");
    println!(
        "for comparison, one pickled copy: {:.1} MB, {:.1} ms (pickle + unpickle) per worker",
        bytes.len() as f64 / 1e6,
        ms(clock.elapsed())
    );
    drop((copy, bytes));

    let sealed = events
        .drain()
        .iter()
        .filter(|n| matches!(n, Notification::Sealed { .. }))
        .count();
    println!(
        "notifications: {sealed} sealed (the table and {} results)",
        c.workers
    );
    store.delete(table_id).expect("stored");
    for id in result_ids {
        store.delete(id).expect("stored");
    }
    drop(t);

    // --- Spilling: a store with room for one slice of the table. ---
    let slice = c.rows.min(50_000);
    let one = estimate_size(&table(slice));
    let small = Store::builder().capacity(one + one / 2).build();
    let first = small.put(&table(slice)).expect("fits");
    let original = small.get_one(first, Duration::ZERO).expect("resident");
    small.release(first).expect("pinned");
    let _second = small.put(&table(slice)).expect("room made by spilling");
    let s = small.stats();
    println!(
        "capacity {:.1} MB: spilled {} object(s) to {}",
        small.capacity() as f64 / 1e6,
        s.spilled,
        small.spill_dir().display()
    );
    let clock = Instant::now();
    let back = small.get_one(first, LONG).expect("restored");
    let took = clock.elapsed();
    let v = back.view();
    let equal = revenue(v, 0, slice) == revenue(original.view(), 0, slice)
        && v.get(slice - 1)
            .and_then(|r| r.get(1))
            .and_then(|x| x.as_str())
            == Some(format!("item-{}", slice - 1).as_str());
    assert!(equal);
    println!(
        "get restored it from disk in {:.1} ms: equal contents, new objects ({})",
        ms(took),
        if back.is(&original) {
            "same identity?!"
        } else {
            "identity is kept only while resident"
        }
    );
    small.release(first).expect("pinned");
    let dir = small.spill_dir().to_path_buf();
    drop((back, original, small));
    println!(
        "store dropped: spill directory {}",
        if dir.exists() {
            "left behind!"
        } else {
            "removed"
        }
    );
    for r in rt.shutdown() {
        assert_eq!(r.heap_live, 0, "{} leaked objects", r.name);
    }
}
