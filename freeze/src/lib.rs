//! The object model of permafrost: per-worker heaps of Python-like objects
//! and PEP 795's deep, all-or-nothing [`freeze`].
//!
//! * [`Value`] is an immediate (`None`, `bool`, `int`, `float`) or a
//!   counted reference to a heap object: str, bytes, tuple, list, dict,
//!   set, frozenset, complex, range, deque, defaultdict, class, instance,
//!   function, cell, buffer, module, weakref and the escape hatches
//!   `SharedField` and `InterpreterLocal`.
//! * A `Value` holding a mutable object is `!Send`: it stays on the worker
//!   that made it. [`freeze`] makes a graph deeply immutable in place; then
//!   [`Value::share`] gives a [`Frozen`], which is `Send + Sync` and cloned
//!   in O(1).
//! * A frozen graph changes only by making a new version: a [`Draft`] (or
//!   [`Frozen::update`]) copies on write just the objects written and the
//!   path to them, sharing the rest; [`Revisions`] keeps named histories
//!   of versions that any worker can update optimistically.
//! * Cycles in frozen graphs are reference counted per strongly connected
//!   component; cycles of mutable objects are found by each heap's cycle
//!   collector ([`collect`]).
//!
//! ```
//! use permafrost_freeze::{freeze, is_frozen, Value};
//!
//! let point = Value::class("Point", vec![], vec![]).unwrap();
//! let p = point.instantiate(vec![("x", 1.into()), ("y", 2.into())]).unwrap();
//! // Classes are Explicit: freeze the class with the instance.
//! assert!(freeze(&[&p]).is_err());
//! freeze(&[&p, &point]).unwrap();
//! assert!(is_frozen(&p));
//! assert!(p.setattr("x", 5.into()).is_err());
//!
//! let shared = p.share().unwrap(); // Send + Sync
//! std::thread::spawn(move || {
//!     assert_eq!(shared.value().getattr("y").unwrap().as_int(), Some(2));
//! })
//! .join()
//! .unwrap();
//! ```

#![deny(unsafe_code)]

mod core;
pub mod diag;
pub mod embed;
mod evolve;
mod freeze;
mod model;
mod transfer;

pub use core::error::{DecodeError, DecodeProblem, Error, FreezeError, FreezeReason, Path, Step};
pub use core::handle::{Call, Frozen, NativeFn, Ref, Value};
pub use core::heap::{collect, GcPause};
pub use core::status::Freezability;
pub use core::sym::{Sym, UNTRUSTED_NAME_BUDGET, UNTRUSTED_NAME_BYTES};
pub use core::weak::{getweakrefcount, getweakrefs, run_weak_callbacks};
pub use evolve::commit::{CommitError, CommitReport};
pub use evolve::draft::{Draft, Node};
pub use evolve::error::DraftError;
pub use evolve::history::{Batch, HistoryFilter, Order, Revision, RevisionState};
pub use evolve::revisions::{RevisionError, Revisions};
pub use freeze::compat::{
    prototype_class_default, set_prototype_class_default, set_prototype_class_default_everywhere,
};
pub use freeze::hooks::set_pre_freeze_hook;
pub use freeze::shallow::{is_shallow_frozen, shallow_freeze};
pub use freeze::status::{
    disabled, effective_freezable, freezable, frozen, get_freezable, set_freezable, unfreezable,
    unset_freezable, Disabled, FreezabilityOverride,
};
pub use freeze::walk::{freeze, is_frozen};
pub use model::modules::{import, module_loaded, register_module, unload_module, ModuleInit};
pub use model::registry::{lookup_class, register_class, register_function};
pub use model::view::View;
pub use transfer::copy::{deep_copy, Detached};
pub use transfer::moving::{detach_moved, MoveError, MoveRefusal};
pub use transfer::pickle::{pickle, pickle_with, unpickle, Codec};
