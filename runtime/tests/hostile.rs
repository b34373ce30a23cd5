//! Bad input: truncated, corrupted and hostile pickle bytes decode to an
//! error or to a valid graph, never a panic, an abort, a huge allocation
//! or a leak. Every decode runs with an allocator that records the largest
//! single allocation made while decoding on this thread.

#[path = "../../freeze/tests/serial/mod.rs"]
mod serial;
use serial::lock;

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use common::{make_graph, node_class};
use permafrost_freeze::diag::{frozen_live, heap_live};
use permafrost_freeze::{collect, pickle, register_function, Call, Error, Value};
use permafrost_runtime::{Message, RecvError, Runtime};
use proptest::prelude::*;

struct Tracking;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static MAX: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static LIVE_PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = ON.try_with(|on| {
        if on.get() {
            let _ = MAX.try_with(|m| m.set(m.get().max(size)));
            let _ = LIVE.try_with(|l| {
                l.set(l.get() + size as isize);
                let _ = LIVE_PEAK.try_with(|p| p.set(p.get().max(l.get())));
            });
        }
    });
}

fn unnote(size: usize) {
    let _ = ON.try_with(|on| {
        if on.get() {
            let _ = LIVE.try_with(|l| l.set(l.get() - size as isize));
        }
    });
}

// SAFETY: every method forwards to the system allocator with the caller's
// arguments; `note` only touches const-initialised thread-locals (no
// allocation, no destructor).
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size());
        // SAFETY: forwarded contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size());
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unnote(l.size());
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        unnote(l.size());
        note(new);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Tracking = Tracking;

/// Largest (single allocation / input length) ratio seen, in thousandths.
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Largest single allocation a decode of `len` bytes may make: a
/// generous constant plus a multiple of the input (a graph legitimately
/// takes more room in memory than on the wire).
fn alloc_bound(len: usize) -> usize {
    (1 << 20) + 64 * len
}

fn twice(c: &Call<'_>) -> Result<Value, Error> {
    Ok(Value::Int(
        c.args().first().and_then(Value::as_int).unwrap_or(0) * 2,
    ))
}

/// Valid pickles of varied shapes: instances (class by name), dicts,
/// sets, tuples, buffers, bytes, cycles, sharing, a native function with
/// captures and defaults, large chunked containers and a deep chain.
fn seeds() -> Vec<Vec<u8>> {
    let cls = node_class("HostileNode");
    register_function("hostile_twice", twice);
    let mut out = Vec::new();
    for (n, seed) in [(1, 1), (3, 2), (8, 3), (20, 4)] {
        out.push(pickle(&make_graph(n, &cls, seed)).unwrap());
    }
    let f = Value::function(
        "hostile_twice",
        1,
        twice,
        vec![Value::from("captured"), Value::list(vec![])],
        vec![Value::Int(3)],
    );
    out.push(pickle(&Value::list(vec![f.clone(), f])).unwrap());
    out.push(pickle(&Value::buffer((0..70_000).map(f64::from).collect())).unwrap());
    out.push(pickle(&Value::list((0..40_000).map(Value::Int).collect())).unwrap());
    let mut chain = Value::None;
    for i in 0..200 {
        chain = Value::tuple(vec![Value::Int(i), chain, Value::from("x")]);
    }
    out.push(pickle(&chain).unwrap());
    let d = Value::dict_from(vec![
        (Value::from("k"), Value::bytes(b"\x00\x01\x02")),
        (
            Value::Int(7),
            Value::set_from(vec![Value::Float(1.5), Value::None]).unwrap(),
        ),
    ])
    .unwrap();
    d.set_item("self".into(), d.clone()).unwrap();
    out.push(pickle(&d).unwrap());
    out
}

/// Decodes `bytes` as a received message would be and checks the
/// outcome; with `leaks` set, also that nothing was left behind. Returns
/// whether it decoded.
fn check_with(bytes: &[u8], leaks: bool) -> bool {
    collect();
    let (hbase, fbase) = (heap_live(), frozen_live());
    MAX.with(|m| m.set(0));
    LIVE.with(|m| m.set(0));
    LIVE_PEAK.with(|m| m.set(0));
    ON.with(|on| on.set(true));
    let got = Message::from_pickle_bytes(bytes).into_value();
    ON.with(|on| on.set(false));
    let biggest = MAX.with(Cell::get);
    let held = LIVE_PEAK.with(Cell::get) as usize;
    assert!(
        held <= 2 * alloc_bound(bytes.len()),
        "decoding {} bytes held {held} bytes at once",
        bytes.len()
    );
    PEAK.fetch_max(biggest * 1000 / (bytes.len() + 1), Relaxed);
    assert!(
        biggest <= alloc_bound(bytes.len()),
        "decoding {} bytes made a {biggest}-byte allocation",
        bytes.len()
    );
    let ok = match got {
        Ok(v) => {
            // A valid graph: it can be walked (repr is iterative and
            // cycle-safe), compared and pickled again.
            let _ = format!("{v:?}");
            assert!(v.py_eq(&v));
            pickle(&v).unwrap();
            true
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
    };
    collect();
    if leaks {
        assert_eq!(heap_live(), hbase, "a decode leaked mutable objects");
        assert_eq!(frozen_live(), fbase, "a decode leaked frozen objects");
    }
    ok
}

fn check(bytes: &[u8]) -> bool {
    check_with(bytes, true)
}

#[test]
fn valid_pickles_decode() {
    let _g = lock();
    for s in seeds() {
        assert!(check(&s));
    }
}

#[test]
fn every_truncation_is_an_error() {
    let _g = lock();
    for s in seeds().into_iter().filter(|s| s.len() < 4096) {
        for cut in 0..s.len() {
            assert!(!check(&s[..cut]), "a {cut}-byte prefix decoded");
        }
    }
}

#[test]
fn every_single_byte_change_of_a_small_pickle() {
    let _g = lock();
    let seeds = seeds();
    let s = &seeds[2];
    let mut decoded = 0;
    let mut cases = 0;
    for pos in 0..s.len() {
        for b in [0x00, 0x01, 0x7f, 0x80, 0xfb, 0xfc, 0xfd, 0xfe, 0xff] {
            if s[pos] == b {
                continue;
            }
            let mut m = s.clone();
            m[pos] = b;
            cases += 1;
            decoded += check(&m) as usize;
        }
    }
    eprintln!(
        "single-byte changes of a {}-byte pickle: {cases} cases, {decoded} decoded to a valid graph; \
         largest allocation so far {:.1}x the input",
        s.len(),
        PEAK.load(Relaxed) as f64 / 1000.0
    );
}

#[test]
fn length_bombs_are_refused_cheaply() {
    let _g = lock();
    let seeds = seeds();
    let s = &seeds[1];
    // A varint claiming u64::MAX (253 = u64 follows) or u32::MAX items.
    for bomb in [
        &[253u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
        &[252, 0xff, 0xff, 0xff, 0xff],
    ] {
        for pos in 5..s.len() {
            let mut m = s.clone();
            let end = (pos + bomb.len()).min(m.len());
            m.splice(pos..end, bomb.iter().copied());
            check(&m);
        }
    }
}

#[test]
fn many_length_claims_do_not_add_up() {
    let _g = lock();
    // The op that opens a tuple, from a real pickle: magic, tag, length.
    let two = pickle(&Value::tuple(vec![Value::Int(1), Value::Int(2)])).unwrap();
    let (magic, tag) = (&two[..5], two[5]);
    assert_eq!(two[6], 2, "a tuple's length follows its tag");
    for claim in [&[0xfc, 0xff, 0xff, 0xff, 0xff][..], &[0xfb, 0x00, 0x80]] {
        let mut m = magic.to_vec();
        for _ in 0..2000 {
            m.push(tag);
            m.extend_from_slice(claim);
        }
        assert!(!check(&m), "{} bytes of open tuples decoded", m.len());
    }
}

#[test]
fn a_worker_survives_a_stream_of_garbage() {
    let _g = lock();
    let good = seeds().swap_remove(3);
    let rt = Runtime::new();
    let w = rt.spawn("garbage-eater", |ctx| {
        let (mut ok, mut bad) = (0, 0);
        loop {
            match ctx.recv() {
                Ok(_) => ok += 1,
                Err(RecvError::Decode(_)) => bad += 1,
                Err(RecvError::Disconnected) => break,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        (ok, bad)
    });
    let tx = w.sender();
    for i in 0..500 {
        let mut m = good.clone();
        let n = m.len();
        m[(i * 7919) % n] ^= 0x5a;
        m.truncate(n - i % 3);
        tx.send_message(Message::from_pickle_bytes(&m)).unwrap();
    }
    tx.send_message(Message::from_pickle_bytes(&good)).unwrap();
    drop(tx);
    let j = w.join_report();
    let (ok, bad) = j.result.unwrap();
    assert_eq!(ok + bad, 501);
    assert!(ok >= 1 && bad >= 300, "ok {ok}, bad {bad}");
    assert_eq!(j.report.heap_live, 0);
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(prop::sample::Index, u8),
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
    Copy(prop::sample::Index, prop::sample::Index, usize),
    Truncate(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    use prop::sample::Index;
    prop_oneof![
        4 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        3 => (any::<Index>(), 0..8u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        2 => (any::<Index>(), 1..16usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), any::<Index>(), 1..32usize)
            .prop_map(|(a, b, n)| Mutation::Copy(a, b, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match m {
        Mutation::Set(i, b) => bytes[i.index(n)] = *b,
        Mutation::Flip(i, bit) => bytes[i.index(n)] ^= 1 << bit,
        Mutation::Insert(i, v) => {
            let at = i.index(n);
            bytes.splice(at..at, v.iter().copied());
        }
        Mutation::Delete(i, k) => {
            let at = i.index(n);
            bytes.drain(at..(at + k).min(n));
        }
        Mutation::Copy(a, b, k) => {
            let (from, to) = (a.index(n), b.index(n));
            let chunk: Vec<u8> = bytes[from..(from + k).min(n)].to_vec();
            let end = (to + chunk.len()).min(n);
            bytes.splice(to..end, chunk);
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(n)),
    }
}

thread_local! {
    static SEEDS: Vec<Vec<u8>> = seeds();
}

fn mutated(which: prop::sample::Index, muts: &[Mutation]) -> Vec<u8> {
    let mut bytes = SEEDS.with(|s| s[which.index(s.len())].clone());
    for m in muts {
        apply(&mut bytes, m);
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4096,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Error or valid graph, never a panic, never a huge allocation.
    #[test]
    fn random_mutations_decode_to_an_error_or_a_valid_graph(
        which in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let _g = lock();
        check_with(&mutated(which, &muts), false);
    }

    /// And nothing leaks.
    #[test]
    fn random_mutations_leak_nothing(
        which in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let _g = lock();
        check(&mutated(which, &muts));
    }
}
