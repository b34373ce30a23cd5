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
/// what the payload owns (a list's buffer), nor an instance's inline
/// attribute slots (see [`allocation_bytes`]).
pub const OBJECT_BYTES: usize = std::mem::size_of::<crate::core::object::ObjBox>();

/// How an instance stores its own attributes (see [`attr_storage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttrStorage {
    /// Values kept in the object's own allocation, named by the class's
    /// layout (its shape).
    pub inline: usize,
    /// Inline slots the object was allocated with.
    pub capacity: usize,
    /// Attributes off the shape, in a separate insertion-ordered map.
    pub extra: usize,
}

/// An instance's attribute storage; `None` for anything else.
///
/// ```
/// use permafrost_freeze::{diag, Value};
/// let node = Value::class("Node", vec![], vec![]).unwrap();
/// let a = node.instantiate(vec![("left", Value::None), ("right", Value::None)]).unwrap();
/// let s = diag::attr_storage(&a).unwrap();
/// assert_eq!((s.inline, s.extra), (2, 0)); // one allocation
/// assert_eq!(diag::allocation_bytes(&a), diag::OBJECT_BYTES + 2 * diag::SLOT_BYTES);
/// ```
pub fn attr_storage(v: &crate::Value) -> Option<AttrStorage> {
    let p = v.slot().obj()?;
    match p.body() {
        crate::core::body::Body::Instance(i) => {
            let a = i.attrs.read(p);
            Some(AttrStorage {
                inline: a.inline_len(),
                capacity: a.inline_cap(),
                extra: a.extra().len(),
            })
        }
        _ => None,
    }
}

/// Size in bytes of one attribute value slot.
pub const SLOT_BYTES: usize = std::mem::size_of::<crate::core::object::Slot>();

/// Bytes of the object's own allocation: [`OBJECT_BYTES`], plus an
/// instance's inline slots (0 for an immediate).
pub fn allocation_bytes(v: &crate::Value) -> usize {
    match (v.slot().obj(), attr_storage(v)) {
        (None, _) => 0,
        (Some(_), s) => OBJECT_BYTES + s.map_or(0, |s| s.capacity * SLOT_BYTES),
    }
}
