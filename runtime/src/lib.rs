//! Worker "interpreters" on threads, each with its own heap, exchanging
//! PEP 795 frozen graphs by reference, or mutable graphs by pickle or copy.
//!
//! # The pieces
//!
//! * [`Runtime`] spawns named workers. A worker is an OS thread with its own
//!   heap (the object model's heaps are per thread) running a Rust closure;
//!   [`WorkerHandle::join`] gives back its result or its panic as
//!   [`WorkerError::Panicked`]. A finished worker's heap is cleaned
//!   (interpreter-local values, registered mutable classes, cycles) and what
//!   is left is reported in [`WorkerReport::heap_live`] (zero unless
//!   something leaked). Workers share nothing mutable: a mutable
//!   [`Value`] is `!Send`, so it cannot even be moved into a worker.
//! * [`unbounded`] and [`bounded`] channels (crossbeam underneath) carry
//!   [`Message`]s. One way to send a value, [`Sender::send`]`(v, mode)`,
//!   and a shortcut for a handle already frozen, [`Sender::share`]; a
//!   failed send hands the value back. Receives ([`Receiver::recv`],
//!   `try_recv`, `recv_timeout`, [`select`], [`select_timeout`]) give a
//!   value rebuilt in the receiving heap. Every worker also has an inbox
//!   ([`WorkerHandle::sender`], [`Ctx::recv`]).
//! * Four transfer modes, explicit at the call site ([`Mode`]):
//!   - **share** ([`Mode::Share`]): a frozen graph by reference, O(1)
//!     whatever its size; the receiver sees the very same objects. A
//!     mutable value is refused and handed back ([`SendError::NotFrozen`]).
//!   - **pickle** ([`Mode::Pickle`]): the sender serialises the graph to
//!     bytes; the receiver rebuilds a mutable graph in its own heap, with
//!     sharing and cycles preserved. Bad bytes give
//!     [`RecvError::Decode`], never a panic.
//!   - **copy** ([`Mode::Copy`]): a direct deep copy into the receiver's
//!     heap with no byte stream; frozen parts go by reference.
//!   - **move** ([`Mode::Move`]): an isolated mutable graph changes heap,
//!     the same objects and still mutable, nothing copied; a graph
//!     something else refers into is refused and handed back
//!     ([`SendError::NotIsolated`]).
//! * [`Pool`] maps a function over items on N workers, like CPython's
//!   `InterpreterPoolExecutor`, items and results travelling in the mode the
//!   caller picks ([`Pool::map`]).
//! * [`Store`], a sealed object store after Plasma and Ray, shared by all
//!   workers of a process: [`Store::put`] freezes a graph and seals it
//!   under an [`ObjectId`]; any worker [`get`](Store::get)s it by id, an
//!   O(1) share, blocking until it is sealed. Gets pin objects until
//!   [`Store::release`]; a capacity with LRU eviction of unpinned objects,
//!   spilled to disk as pickles and restored transparently; notifications
//!   of seals and deletions ([`Store::subscribe`]).
//!
//! # A tour
//!
//! Freeze a graph, share it with a worker, and get a pickled answer back:
//!
//! ```
//! use permafrost_runtime::{freeze, unbounded, Mode, Runtime, SendError, Value};
//!
//! let rt = Runtime::new();
//! let (to_main, from_worker) = unbounded();
//!
//! let worker = rt.spawn("summer", move |ctx| {
//!     // Each message arrives as a Value in this worker's own heap.
//!     while let Ok(data) = ctx.recv() {
//!         let total: i64 = data.to_vec().unwrap().iter().map(|v| v.as_int().unwrap()).sum();
//!         // A fresh, mutable answer: it cannot be shared, so pickle it.
//!         let answer = Value::list(vec![Value::from("total"), Value::Int(total)]);
//!         to_main.send(answer, Mode::Pickle).unwrap();
//!     }
//!     ctx.name().to_string()
//! });
//!
//! let data = Value::list((1..=100).map(Value::Int).collect());
//! freeze(&[&data]).unwrap(); // deeply immutable from now on
//! worker.sender().send(data.clone(), Mode::Share).unwrap(); // O(1): by reference
//!
//! let answer = from_worker.recv().unwrap(); // rebuilt here, mutable
//! assert_eq!(answer.get(1).unwrap().as_int(), Some(5050));
//! answer.append(Value::None).unwrap();
//!
//! // A mutable value is refused by share, and handed back intact.
//! let err = worker.sender().send(answer, Mode::Share).unwrap_err();
//! assert!(matches!(err, SendError::NotFrozen(_)));
//! let answer = err.into_inner();
//! assert_eq!(answer.len().unwrap(), 3);
//!
//! // Joining drops the handle's inbox sender, so the worker's loop ends.
//! let report = worker.join_report();
//! assert_eq!(report.result.unwrap(), "summer");
//! assert_eq!(report.report.heap_live, 0); // nothing left in its heap
//! rt.shutdown();
//! ```
//!
//! Share the same frozen graph with several workers and see that they all
//! hold the very same objects:
//!
//! ```
//! use permafrost_runtime::{freeze, Runtime, Value};
//!
//! let config = Value::dict_from(vec![("retries".into(), Value::Int(3))]).unwrap();
//! freeze(&[&config]).unwrap();
//! let shared = config.share().unwrap(); // Send + Sync, O(1) clone
//!
//! let rt = Runtime::new();
//! let workers: Vec<_> = (0..3)
//!     .map(|i| {
//!         let cfg = shared.clone();
//!         rt.spawn(format!("w{i}"), move |_ctx| cfg.id())
//!     })
//!     .collect();
//! for w in workers {
//!     assert_eq!(w.join().unwrap(), shared.id()); // same object everywhere
//! }
//! ```
//!
//! # What cannot compile
//!
//! A mutable value cannot cross to another thread by any route other than
//! the four transfer modes:
//!
//! ```compile_fail
//! use permafrost_runtime::{unbounded, Value};
//! let list = Value::list(vec![]);
//! std::thread::spawn(move || list.len()); // Value holding a list is !Send
//! ```
//!
//! # Errors
//!
//! One small error type per operation, as crossbeam does: [`SendError`]
//! hands the value back whatever went wrong; [`Disconnected`],
//! [`TrySendError`] and [`SendTimeoutError`] hand a frozen handle or a
//! message back; [`RecvError`] and friends add a `Decode` case for
//! messages that cannot be rebuilt; [`WorkerError`] for joins and
//! [`PoolError`] for pool maps; [`StoreError`] for the object store. The
//! enums are `#[non_exhaustive]`, and `source()` gives the object-model
//! error underneath where there is one.
#![forbid(unsafe_code)]

mod channel;
mod error;
mod message;
mod pool;
mod store;
mod worker;

pub use channel::{bounded, select, select_timeout, unbounded, Receiver, Sender};
pub use error::{
    Disconnected, PoolError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryRecvError, TrySendError, WorkerError,
};
pub use message::{Message, Mode};
pub use pool::Pool;
pub use store::{
    estimate_size, Notification, ObjectId, ParseIdError, Store, StoreBuilder, StoreError,
    StoreStats, Subscription, SLOT_BYTES,
};
pub use worker::{Ctx, Joined, Runtime, WorkerHandle, WorkerReport};

/// The object-model items that appear in this crate's signatures.
pub use permafrost_freeze::{freeze, Detached, Error, Frozen, Value};
