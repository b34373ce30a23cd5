//! Hostile pickle bytes: `unpickle` must return `Ok` or `Err` (never panic,
//! abort or hang), leave nothing behind in this thread's heap or in the
//! frozen count, and whatever it accepts must pickle again and unpickle
//! to a graph that pickles to the very same bytes. The crate's invariant
//! checker must pass over every decoded graph.

#![no_main]

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use libfuzzer_sys::fuzz_target;
use permafrost_freeze::{collect, pickle, unpickle};
use permafrost_freeze::diag::{check_invariants, frozen_live, heap_live};

mod common;

/// Inputs run so far in this process.
static RUNS: AtomicUsize = AtomicUsize::new(0);

fuzz_target!(|data: &[u8]| {
    RUNS.fetch_add(1, Relaxed);
    // Classes and functions the seed corpus refers to by name (registered
    // once per process, before any baseline is taken).
    common::init();
    collect();
    let (heap0, frozen0) = (heap_live(), frozen_live());
    match unpickle(data) {
        Ok(v) => {
            // The crate's invariant checker: frozen edges, SCC structure,
            // walk bits, container lists, weak tables.
            if let Err(e) = check_invariants(&[&v]) {
                panic!("a decoded graph: {e}");
            }
            // The graph is valid: it compares equal to itself (an object
            // root; a NaN root is rightly not) and pickles again. (No
            // `{v:?}`: repr expands shared sub-objects, so a 469-byte
            // pickle of a DAG printed 172 MB; see fuzz/README.md.)
            if v.as_obj().is_some() {
                assert!(v.py_eq(&v), "a decoded graph is not equal to itself");
            }
            let again = pickle(&v).expect("a decoded graph could not be pickled again");
            let back = unpickle(&again).expect("a re-pickled graph could not be unpickled");
            // The re-pickle is canonical: one more trip gives the same bytes.
            let third = pickle(&back).expect("a round-tripped graph could not be pickled");
            assert_eq!(again, third, "pickle(unpickle(pickle(v))) != pickle(v)");
            drop((v, back));
        }
        Err(e) => {
            let m = e.to_string();
            assert!(!m.is_empty());
            // The process mints at most a fixed number of names from
            // untrusted bytes; once spent, inputs with new names fail
            // here, so say when that happens (results after it depend on
            // what ran before in the process).
            if m.starts_with("too many distinct names") {
                static ONCE: std::sync::Once = std::sync::Once::new();
                ONCE.call_once(|| {
                    eprintln!(
                        "NOTE: the untrusted-name budget was spent at run {}: {m}",
                        RUNS.load(Relaxed)
                    )
                });
            }
        }
    }
    collect();
    assert_eq!(
        heap_live(),
        heap0,
        "unpickle left mutable objects behind ({} -> {})",
        heap0,
        heap_live()
    );
    assert_eq!(
        frozen_live(),
        frozen0,
        "unpickle left frozen objects behind ({} -> {})",
        frozen0,
        frozen_live()
    );
});
