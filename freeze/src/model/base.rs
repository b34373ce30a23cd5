//! The small helpers every operation module shares: allocation of a new
//! object, the writability check, index normalisation, type errors. Kept
//! apart from `ops` so that the type modules need not import it.

use crate::core::body::Body;
use crate::core::error::Error;
use crate::core::handle::{Ref, Value};
use crate::core::object::{self, ObjPtr, Slot, BORROWED, FROZEN, SHALLOW};
use crate::core::payload::type_label;

pub(crate) fn new_obj(body: Body) -> Value {
    Value::Obj(Ref::from_owned(object::alloc(body)))
}

pub(crate) fn slots(items: Vec<Value>) -> Vec<Slot> {
    items.into_iter().map(Value::into_slot).collect()
}

#[inline]
pub(crate) fn writable(p: ObjPtr) -> Result<(), Error> {
    let f = p.flags();
    if f & (FROZEN | SHALLOW) != 0 {
        Err(Error::Immutable(type_label(p)))
    } else if f & BORROWED != 0 {
        Err(Error::Borrowed(type_label(p)))
    } else {
        Ok(())
    }
}

pub(crate) fn norm_index(i: i64, len: usize) -> Result<usize, Error> {
    let j = if i < 0 { i + len as i64 } else { i };
    if j < 0 || j >= len as i64 {
        Err(Error::Index { index: i, len })
    } else {
        Ok(j as usize)
    }
}

pub(crate) fn type_err(expected: &'static str, found: &Value) -> Error {
    Error::Type {
        expected,
        found: found.type_name(),
    }
}
