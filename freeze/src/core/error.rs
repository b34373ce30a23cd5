//! Error types: one small enum for operations, one for freezing.

use std::fmt;

use crate::core::status::Freezability;

/// An operation on an object failed. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A write to a frozen object (`object of type list is immutable`).
    Immutable(&'static str),
    /// A write while a read view of the object is open.
    Borrowed(&'static str),
    /// The operation does not apply to this type.
    Type {
        /// What the operation needed.
        expected: &'static str,
        /// What it got.
        found: &'static str,
    },
    /// Index out of range.
    Index {
        /// The index asked for.
        index: i64,
        /// The sequence length.
        len: usize,
    },
    /// Missing dict key.
    Key(String),
    /// Missing attribute.
    Attribute {
        /// The object's type name.
        type_name: String,
        /// The attribute.
        name: String,
    },
    /// The key cannot be hashed (list, dict, set).
    Unhashable(&'static str),
    /// A mutable value where only frozen ones are allowed.
    NotFrozen(&'static str),
    /// A function call failed or was given bad arguments.
    Call(String),
    /// A shared field was given a value that reaches the field itself: a
    /// cycle through the field that reference counting could never free.
    FieldCycle,
    /// Freezing failed; carries the whole explanation.
    Freeze(Box<FreezeError>),
    /// Anything else, with its message.
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Immutable(t) => write!(f, "object of type {t} is immutable"),
            Error::Borrowed(t) => {
                write!(f, "object of type {t} is being read and cannot change now")
            }
            Error::Type { expected, found } => write!(f, "expected {expected}, found {found}"),
            Error::Index { index, len } => write!(f, "index {index} out of range for length {len}"),
            Error::Key(k) => write!(f, "key not found: {k}"),
            Error::Attribute { type_name, name } => {
                write!(f, "'{type_name}' object has no attribute '{name}'")
            }
            Error::Unhashable(t) => write!(f, "unhashable type: '{t}'"),
            Error::NotFrozen(t) => write!(f, "object of type {t} is not frozen"),
            Error::Call(m) => write!(f, "call failed: {m}"),
            Error::FieldCycle => {
                f.write_str("a SharedField cannot hold a value that reaches the field itself")
            }
            Error::Freeze(e) => e.fmt(f),
            Error::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<FreezeError> for Error {
    fn from(e: FreezeError) -> Error {
        Error::Freeze(Box::new(e))
    }
}

/// Why an object could not be frozen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreezeReason {
    /// Its freezability status is `No`.
    StatusNo,
    /// Its status is `Explicit` and it was not passed to `freeze` directly.
    Explicit,
    /// Its class derives from `NotFreezable`.
    NotFreezable,
    /// Its pre-freeze hook failed (the message is the hook's error).
    Hook(String),
    /// Its pre-freeze hook panicked (the message is the panic's).
    HookPanicked(String),
    /// The thread is exiting and its heap is already gone.
    ThreadExiting,
    /// `freeze` was called with nothing to freeze.
    NoRoots,
}

/// A failed [`freeze`](crate::freeze()): every object is as it was before
/// the call (pre-freeze hook side effects excepted, as in PEP 795).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeError {
    /// The offending object's type name.
    pub type_name: String,
    /// How the walk reached it from the roots, e.g. `root.children[3].cb`.
    pub path: String,
    /// Why it cannot be frozen.
    pub reason: FreezeReason,
}

impl fmt::Display for FreezeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match &self.reason {
            FreezeReason::StatusNo => format!("its freezability is {:?}", Freezability::No),
            FreezeReason::Explicit => format!(
                "its freezability is {:?}: freeze it directly (as a root) or mark it Yes",
                Freezability::Explicit
            ),
            FreezeReason::NotFreezable => "its class derives from NotFreezable".into(),
            FreezeReason::Hook(m) => format!("its pre-freeze hook failed: {m}"),
            FreezeReason::HookPanicked(m) => format!("its pre-freeze hook panicked: {m}"),
            FreezeReason::ThreadExiting => {
                return f.write_str("cannot freeze: this thread is exiting and its heap is gone")
            }
            FreezeReason::NoRoots => return f.write_str("freeze() needs at least one object"),
        };
        write!(
            f,
            "cannot freeze object of type {} at {}: {}; nothing was frozen",
            self.type_name, self.path, why
        )
    }
}

impl std::error::Error for FreezeError {}
