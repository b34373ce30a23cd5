//! Handles: [`Value`] and [`Ref`] for the owning thread, [`Frozen`] for
//! sharing.

use std::marker::PhantomData;

use crate::core::body::Body;
use crate::core::error::Error;
use crate::core::object::{self, ObjPtr, Slot};

/// A native function body: receives the call (function, arguments,
/// captured values) and returns a value or an error.
pub type NativeFn = fn(&Call<'_>) -> Result<Value, Error>;

/// A counted handle to a heap object, usable on the thread that owns it
/// (or, for a frozen object, on whichever thread made the handle).
///
/// `Ref` is neither `Send` nor `Sync`: a mutable object cannot leave its
/// worker. Convert to [`Frozen`] (via [`Value::share`]) to send.
///
/// ```compile_fail
/// use permafrost_freeze::Value;
/// let list = Value::list(vec![Value::Int(1)]);
/// std::thread::spawn(move || drop(list)); // Value holds a !Send Ref
/// ```
///
/// ```compile_fail
/// fn assert_sync<T: Sync>() {}
/// assert_sync::<permafrost_freeze::Ref>();
/// ```
pub struct Ref {
    pub(crate) ptr: ObjPtr,
    _local: PhantomData<*const ()>,
}

impl Ref {
    /// Takes over one count the caller owns.
    #[inline]
    pub(crate) fn from_owned(ptr: ObjPtr) -> Ref {
        Ref {
            ptr,
            _local: PhantomData,
        }
    }

    /// Adds a count for the new handle.
    #[inline]
    pub(crate) fn from_borrowed(ptr: ObjPtr) -> Ref {
        object::incref(ptr);
        Ref::from_owned(ptr)
    }

    /// Gives the count back to the caller.
    #[inline]
    pub(crate) fn into_ptr(self) -> ObjPtr {
        let p = self.ptr;
        std::mem::forget(self);
        p
    }

    /// Identity: the object's address, stable while it lives.
    pub fn id(&self) -> usize {
        self.ptr.addr()
    }

    /// Same object?
    pub fn is(&self, other: &Ref) -> bool {
        self.ptr == other.ptr
    }

    /// Python-style type name (`list`, `dict`, `instance`, ...).
    pub fn type_name(&self) -> &'static str {
        self.ptr.body().type_name()
    }

    /// True once the object is deeply immutable. Never goes back.
    pub fn is_frozen_bit(&self) -> bool {
        self.ptr.is_frozen()
    }
}

impl Clone for Ref {
    fn clone(&self) -> Ref {
        Ref::from_borrowed(self.ptr)
    }
}

impl Drop for Ref {
    fn drop(&mut self) {
        object::decref(self.ptr)
    }
}

/// A value: an immediate or a counted reference to a heap object.
///
/// `Value` is `!Send` when it holds an object: share it across threads as
/// a [`Frozen`].
#[derive(Clone, Default)]
pub enum Value {
    /// Python's `None`.
    #[default]
    None,
    /// `bool`.
    Bool(bool),
    /// `int` (64-bit).
    Int(i64),
    /// `float`.
    Float(f64),
    /// A heap object.
    Obj(Ref),
}

impl Value {
    /// Takes over the count held by `s`.
    #[inline]
    pub(crate) fn from_slot_owned(s: Slot) -> Value {
        match s {
            Slot::None => Value::None,
            Slot::Bool(b) => Value::Bool(b),
            Slot::Int(i) => Value::Int(i),
            Slot::Float(x) => Value::Float(x),
            Slot::Obj(p) => Value::Obj(Ref::from_owned(p)),
        }
    }

    /// New counted value for a slot someone else owns.
    #[inline]
    pub(crate) fn from_slot(s: Slot) -> Value {
        object::incref_slot(s);
        Value::from_slot_owned(s)
    }

    /// Gives the count to the caller as a raw slot.
    #[inline]
    pub(crate) fn into_slot(self) -> Slot {
        match self {
            Value::None => Slot::None,
            Value::Bool(b) => Slot::Bool(b),
            Value::Int(i) => Slot::Int(i),
            Value::Float(x) => Slot::Float(x),
            Value::Obj(r) => Slot::Obj(r.into_ptr()),
        }
    }

    /// The raw slot, uncounted (valid while `self` lives).
    #[inline]
    pub(crate) fn slot(&self) -> Slot {
        match self {
            Value::None => Slot::None,
            Value::Bool(b) => Slot::Bool(*b),
            Value::Int(i) => Slot::Int(*i),
            Value::Float(x) => Slot::Float(*x),
            Value::Obj(r) => Slot::Obj(r.ptr),
        }
    }

    /// The object handle, if this is a heap object.
    pub fn as_obj(&self) -> Option<&Ref> {
        match self {
            Value::Obj(r) => Some(r),
            _ => None,
        }
    }

    /// Python-style type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Obj(r) => r.type_name(),
        }
    }

    /// Identity comparison (`is`): immediates by value, objects by address.
    pub fn is(&self, other: &Value) -> bool {
        self.slot().is(other.slot())
    }

    /// Identity of the object, as Python's `id()` (0 for immediates). Two
    /// values are the same object exactly when their ids are equal and
    /// non-zero while both are alive.
    pub fn id(&self) -> usize {
        self.slot().obj().map_or(0, |p| p.addr())
    }

    /// The integer, if this is an `int` (or `bool`).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    /// The number as `f64`, for `int`, `float` and `bool`.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            Value::Bool(b) => Some(*b as i64 as f64),
            _ => None,
        }
    }

    /// The bool, if this is a `bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// True for `None`.
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i as i64)
    }
}
impl From<usize> for Value {
    fn from(i: usize) -> Value {
        Value::Int(i as i64)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Float(x)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::str(&s)
    }
}
impl From<Ref> for Value {
    fn from(r: Ref) -> Value {
        Value::Obj(r)
    }
}
impl From<Frozen> for Value {
    fn from(f: Frozen) -> Value {
        f.into_value()
    }
}
impl From<&Frozen> for Value {
    fn from(f: &Frozen) -> Value {
        f.value()
    }
}

/// A shareable value: an immediate or a frozen object. `Send + Sync`,
/// cloning is O(1) (one atomic increment on the object's SCC).
///
/// ```
/// use permafrost_freeze::{freeze, Value};
/// let data = Value::list(vec![Value::Int(1), Value::from("two")]);
/// freeze(&[&data]).unwrap();
/// let shared = data.share().unwrap();
/// let seen = std::thread::spawn(move || shared.value().len().unwrap())
///     .join()
///     .unwrap();
/// assert_eq!(seen, 2);
/// ```
pub struct Frozen {
    slot: Slot,
}

impl Value {
    /// The object's payload enum, borrowed as long as this handle is.
    pub(crate) fn body(&self) -> Option<&Body> {
        match self {
            Value::Obj(r) => Some(r.ptr.body()),
            _ => None,
        }
    }
}

impl Frozen {
    /// Takes over an owned slot that is an immediate or a frozen object
    /// (checked: this is what makes `Frozen` `Send + Sync`, see send.rs).
    pub(crate) fn from_frozen_slot(slot: Slot) -> Frozen {
        assert!(
            slot.obj().is_none_or(|p| p.is_frozen()),
            "a Frozen handle to a mutable object"
        );
        Frozen { slot }
    }

    /// A handle for use on this thread (one atomic increment).
    pub fn value(&self) -> Value {
        Value::from_slot(self.slot)
    }

    /// Converts into a handle for this thread without touching the count.
    pub fn into_value(self) -> Value {
        let s = self.slot;
        std::mem::forget(self);
        Value::from_slot_owned(s)
    }

    /// Same object (or equal immediate)?
    pub fn is(&self, other: &Frozen) -> bool {
        match (self.slot.obj(), other.slot.obj()) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.value().is(&other.value()),
            _ => false,
        }
    }

    /// Identity of the object (0 for immediates).
    pub fn id(&self) -> usize {
        self.slot.obj().map_or(0, |p| p.addr())
    }

    /// Python-style type name.
    pub fn type_name(&self) -> &'static str {
        match self.slot {
            Slot::Obj(p) => p.body().type_name(),
            _ => self.value().type_name(),
        }
    }
}

impl Frozen {
    pub(crate) fn value_slot(&self) -> Slot {
        self.slot
    }
}

impl Clone for Frozen {
    fn clone(&self) -> Frozen {
        object::incref_slot(self.slot);
        Frozen { slot: self.slot }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        object::decref_slot(self.slot)
    }
}

impl std::fmt::Debug for Frozen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frozen({:?})", self.value())
    }
}

/// One call of a native function.
pub struct Call<'a> {
    pub(crate) func: &'a Ref,
    pub(crate) args: &'a [Value],
}

impl Call<'_> {
    /// The positional arguments.
    pub fn args(&self) -> &[Value] {
        self.args
    }

    /// Argument `i`, or the function's default for it, or an error.
    pub fn arg(&self, i: usize) -> Result<Value, Error> {
        if let Some(v) = self.args.get(i) {
            return Ok(v.clone());
        }
        let Body::Function(fd) = self.func.ptr.body() else {
            unreachable!("Call is only built for functions")
        };
        let defaults = fd.defaults.read(self.func.ptr);
        let first_default = fd.arity.saturating_sub(defaults.len());
        if i >= first_default && i < fd.arity {
            if let Some(s) = defaults.get(i - first_default) {
                return Ok(Value::from_slot(*s));
            }
        }
        Err(Error::Call(format!(
            "{}() missing argument {}",
            fd.name.as_str(),
            i
        )))
    }

    /// Captured value `i` (a closure variable; a cell if it was captured
    /// by reference).
    pub fn captured(&self, i: usize) -> Result<Value, Error> {
        let Body::Function(fd) = self.func.ptr.body() else {
            unreachable!("Call is only built for functions")
        };
        let caps = fd.captures.read(self.func.ptr);
        caps.get(i)
            .map(|s| Value::from_slot(*s))
            .ok_or_else(|| Error::Call(format!("{}() has no captured value {i}", fd.name)))
    }

    /// The function being called.
    pub fn function(&self) -> &Ref {
        self.func
    }
}
