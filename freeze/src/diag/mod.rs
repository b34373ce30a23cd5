//! The measuring tools, kept out of the root namespace: live-object
//! counts, object sizes, the traversal that is freeze's floor, and the
//! invariant checker.
//!
//! ```
//! use permafrost_freeze::{diag, freeze, Value};
//! let before = diag::heap_live();
//! let v = Value::list(vec![Value::list(vec![])]);
//! assert_eq!(diag::heap_live(), before + 2);
//! assert_eq!(diag::traverse(&v), 2);
//! freeze(&[&v]).unwrap();
//! assert!(diag::check_invariants(&[&v]).is_ok());
//! ```

pub(crate) mod check;
pub(crate) mod traverse;

pub use crate::core::heap::{frozen_live, heap_live, tracked_containers};
pub use check::{check_invariants, check_invariants_exact, Census, InvariantViolation};
pub use traverse::traverse;

/// Size in bytes of every heap object's header (count, scratch/SCC link,
/// flags, container-list slot).
pub const HEADER_BYTES: usize = std::mem::size_of::<crate::core::object::Header>();

/// Size in bytes of one heap object (header + payload enum), not counting
/// what the payload owns (a list's buffer, an instance's attributes).
pub const OBJECT_BYTES: usize = std::mem::size_of::<crate::core::object::ObjBox>();
