//! permafrost: a runtime for the experiment PEP 795 ("Deep Immutability for
//! Efficient Sharing and Concurrency Safety") proposes for Python.
//!
//! Worker "interpreters" on threads each own a heap of Python-like objects.
//! They exchange **deeply frozen graphs by reference**, or mutable graphs by
//! **pickle** (bytes) or **copy**, so every measurement can put freezing
//! beside copying.
//!
//! * The object model ([`permafrost_freeze`], re-exported at the top):
//!   [`Value`], PEP 795's deep all-or-nothing [`freeze`], [`Frozen`]
//!   handles that are `Send + Sync`, and the [`pickle`] / [`deep_copy`]
//!   primitives.
//! * The runtime ([`runtime`], main types re-exported at the top): worker
//!   threads, channels that carry graphs by share, pickle, copy or move
//!   ([`Sender::send`] with a [`Mode`]), and a [`Pool`].
//!
//! # A tour
//!
//! ## Freezing
//!
//! [`freeze`] makes everything reachable from its arguments immutable, in
//! place: identity is kept, and every alias sees the change.
//!
//! ```
//! use permafrost::{freeze, is_frozen, Value};
//!
//! let row = Value::list(vec![Value::Int(1), Value::from("one")]);
//! let table = Value::list(vec![row.clone(), row.clone()]);
//! freeze(&[&table]).unwrap();
//! assert!(is_frozen(&row)); // reached through `table`
//! assert_eq!(
//!     row.append(Value::Int(2)).unwrap_err().to_string(),
//!     "object of type list is immutable"
//! );
//! ```
//!
//! Classes follow PEP 795: they are `Explicit`, so an instance freezes only
//! with its class (passed in the same call, frozen before, or marked
//! [`freezable`]):
//!
//! ```
//! use permafrost::{freeze, Value};
//!
//! let point = Value::class("Point", vec![], vec![]).unwrap();
//! let p = point.instantiate(vec![("x", 1.into()), ("y", 2.into())]).unwrap();
//! let err = freeze(&[&p]).unwrap_err();
//! assert_eq!(err.path, "root.__class__");
//! freeze(&[&p, &point]).unwrap();
//! ```
//!
//! ## Sharing with workers
//!
//! A frozen value becomes a [`Frozen`] with [`Value::share`]: `Send + Sync`
//! and O(1) to clone, whatever the graph's size. Workers see the very same
//! objects.
//!
//! ```
//! use permafrost::{freeze, unbounded, Mode, Runtime, Value};
//!
//! let table = Value::list((0..1000).map(Value::Int).collect());
//! freeze(&[&table]).unwrap();
//!
//! let rt = Runtime::new();
//! let (results, from_workers) = unbounded();
//! for i in 0..4 {
//!     let results = results.clone();
//!     let mine = table.share().unwrap(); // O(1): the same objects
//!     drop(rt.spawn(format!("worker-{i}"), move |_ctx| {
//!         let t = mine.value();
//!         let part: i64 = (i..1000)
//!             .step_by(4)
//!             .map(|k| t.get(k as i64).unwrap().as_int().unwrap())
//!             .sum();
//!         results.send(Value::Int(part), Mode::Share).unwrap();
//!     }));
//! }
//! drop(results);
//! let mut total = 0;
//! while let Ok(v) = from_workers.recv() {
//!     total += v.as_int().unwrap();
//! }
//! assert_eq!(total, 499_500);
//! for report in rt.shutdown() {
//!     assert_eq!(report.heap_live, 0); // every worker's heap came back empty
//! }
//! ```
//!
//! ## Pickle and copy
//!
//! Mutable graphs travel by pickle (self-contained bytes, serde + bincode)
//! or by copy (a direct deep copy); either way the receiver gets its own
//! mutable graph, with sharing and cycles kept.
//!
//! ```
//! use permafrost::{pickle, unpickle, Mode, Runtime, Value};
//!
//! let a = Value::list(vec![]);
//! let b = Value::dict_from(vec![("a".into(), a.clone())]).unwrap();
//! a.append(b.clone()).unwrap(); // a cycle
//!
//! let bytes = pickle(&b).unwrap();
//! let back = unpickle(&bytes).unwrap();
//! let a2 = back.get_str("a").unwrap().unwrap();
//! assert!(a2.get(0).unwrap().is(&back)); // the cycle survived
//!
//! let rt = Runtime::new();
//! let w = rt.spawn("copier", |ctx| {
//!     let v = ctx.recv().unwrap(); // rebuilt in this worker's heap
//!     v.set_item("seen".into(), true.into()).unwrap(); // and mutable
//!     v.len().unwrap()
//! });
//! w.sender().send(b.clone(), Mode::Copy).unwrap();
//! assert_eq!(w.join().unwrap(), 2);
//! assert_eq!(b.len().unwrap(), 1); // the sender's graph is untouched
//! ```
//!
//! ## A pool
//!
//! [`Pool`] maps a function over items on N workers, like CPython's
//! `InterpreterPoolExecutor`; items and results travel in the mode you
//! pick.
//!
//! ```
//! use permafrost::{Error, Mode, Pool, Value};
//!
//! fn square(v: Value) -> Result<Value, Error> {
//!     let x = v.as_int().unwrap();
//!     Ok(Value::Int(x * x))
//! }
//!
//! let pool = Pool::new(2);
//! let items: Vec<Value> = (1..=4).map(Value::Int).collect();
//! let out = pool.map(items, Mode::Pickle, square).unwrap();
//! let out: Vec<i64> = out.iter().map(|v| v.as_int().unwrap()).collect();
//! assert_eq!(out, [1, 4, 9, 16]);
//! ```
//!
//! ## Errors
//!
//! Nothing panics on bad input; every error says what went wrong and
//! nothing is lost.
//!
//! ```
//! use permafrost::{
//!     freeze, set_freezable, unbounded, Freezability, FreezeReason, Mode, SendError, Value,
//! };
//!
//! // A failed freeze changes nothing and names the path to the culprit.
//! let socket = Value::list(vec![]);
//! set_freezable(&socket, Freezability::No).unwrap();
//! let cfg = Value::dict_from(vec![("conn".into(), socket.clone())]).unwrap();
//! let err = freeze(&[&cfg]).unwrap_err();
//! assert_eq!(err.reason, FreezeReason::StatusNo);
//! assert_eq!(err.path, "root['conn']");
//! cfg.set_item("retries".into(), 3.into()).unwrap(); // still mutable
//!
//! // Sharing a mutable value is refused, and the value is handed back.
//! let (tx, _rx) = unbounded();
//! let err = tx.send(cfg, Mode::Share).unwrap_err();
//! assert!(matches!(err, SendError::NotFrozen(_)));
//! let back = err.into_inner();
//! assert_eq!(back.len().unwrap(), 2);
//!
//! // Corrupt bytes are a decode error, never a panic.
//! assert!(permafrost::unpickle(b"PFPK\x02\xff\xff").is_err());
//! ```
//!
//! ## Escape hatches
//!
//! A [`SharedField`](Value::shared_field) is one slot of frozen values that
//! every worker may read and swap, atomically:
//!
//! ```
//! use permafrost::{freeze, Value};
//!
//! let counter = Value::shared_field(Value::Int(0)).unwrap();
//! let holder = Value::list(vec![counter.clone()]);
//! freeze(&[&holder]).unwrap(); // the field stays writable
//! let shared = holder.share().unwrap();
//! let threads: Vec<_> = (0..4)
//!     .map(|_| {
//!         let h = shared.clone();
//!         std::thread::spawn(move || {
//!             let field = h.value().get(0).unwrap();
//!             for _ in 0..100 {
//!                 loop {
//!                     let old = field.field_get().unwrap();
//!                     let new = Value::Int(old.as_int().unwrap() + 1);
//!                     if field.field_compare_and_swap(&old, new).unwrap() {
//!                         break;
//!                     }
//!                 }
//!             }
//!         })
//!     })
//!     .collect();
//! for t in threads {
//!     t.join().unwrap();
//! }
//! assert_eq!(counter.field_get().unwrap().as_int(), Some(400));
//! ```
//!
//! # What cannot compile
//!
//! A mutable value cannot leave its thread:
//!
//! ```compile_fail
//! use permafrost::Value;
//! let list = Value::list(vec![]);
//! std::thread::spawn(move || list.len()); // Value holding a list is !Send
//! ```
//!
//! See `docs/` in the repository for the design, the PEP 795 mapping, a
//! guide, and the benchmark figures.

pub use permafrost_freeze::*;
pub use permafrost_runtime as runtime;
pub use permafrost_runtime::{
    bounded, select, select_timeout, unbounded, Ctx, Disconnected, Joined, Message, Mode, Pool,
    PoolError, Receiver, RecvError, Runtime, SendError, Sender, WorkerError, WorkerHandle,
    WorkerReport,
};
pub use permafrost_runtime::{
    estimate_size, Notification, ObjectId, ParseIdError, Store, StoreBuilder, StoreError,
    StoreStats, Subscription, SLOT_BYTES,
};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The guide's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
pub struct GuideDoctests;
