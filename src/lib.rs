//! permafrost: a runtime for PEP 795's experiment.
//!
//! * The object model ([`permafrost_freeze`], re-exported at the top):
//!   per-worker heaps of Python-like objects, PEP 795's deep
//!   all-or-nothing [`freeze`], [`Frozen`] handles that are `Send + Sync`,
//!   and the [`pickle`] / [`deep_copy`] primitives.
//! * The runtime ([`runtime`], main types re-exported at the top): worker
//!   "interpreters" on threads, channels that carry graphs by share (a
//!   frozen graph by reference), pickle or copy, and a [`Pool`].
//!
//! ```
//! use permafrost::{freeze, unbounded, Runtime, Value};
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
//!         results.send_shared(Value::Int(part)).unwrap();
//!     }));
//! }
//! drop(results);
//! let mut total = 0;
//! while let Ok(v) = from_workers.recv() {
//!     total += v.as_int().unwrap();
//! }
//! assert_eq!(total, 499_500);
//! for report in rt.shutdown() {
//!     assert_eq!(report.heap_live, 0);
//! }
//! ```

pub use permafrost_freeze::*;
pub use permafrost_runtime as runtime;
pub use permafrost_runtime::{
    bounded, select, select_timeout, unbounded, Ctx, Joined, Message, Mode, Pool, PoolError,
    Receiver, RecvError, Runtime, Sender, ShareError, TransferError, WorkerError, WorkerHandle,
    WorkerReport,
};
