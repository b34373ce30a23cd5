//! Error types: one small enum for operations, one for freezing.

use std::fmt;

use crate::core::status::Freezability;

/// An operation on an object failed. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Pickled bytes could not be read back; nothing was rebuilt.
    Decode(DecodeError),
    /// `a < b` for values Python cannot order (`'<' not supported
    /// between instances of 'str' and 'int'`), e.g. while sorting.
    Unorderable {
        /// The left operand's type name.
        left: &'static str,
        /// The right operand's type name.
        right: &'static str,
    },
    /// Python's `ValueError`: the right type with a value the operation
    /// cannot take (`list.remove(x): x not in list`).
    Value(String),
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
            Error::Decode(e) => e.fmt(f),
            Error::Unorderable { left, right } => write!(
                f,
                "'<' not supported between instances of '{left}' and '{right}'"
            ),
            Error::Value(m) => f.write_str(m),
            Error::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Freeze(e) => Some(&**e),
            Error::Decode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Error {
        Error::Decode(e)
    }
}

/// What was wrong with a pickle, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeError {
    /// Index of the op (0-based, in stream order) that was refused, when
    /// the bytes parsed that far.
    pub op: Option<usize>,
    /// What was wrong.
    pub problem: DecodeProblem,
}

/// The ways a pickle can be unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeProblem {
    /// The stream does not start with this format's header.
    BadHeader,
    /// The stream ends in the middle of an op or before its end marker.
    Truncated,
    /// Bytes follow the end marker.
    TrailingData,
    /// An op or its payload does not parse (the codec's message).
    Malformed(String),
    /// An op is well formed but not allowed here (e.g. an id used before
    /// it was defined, a base that is not a class).
    Invalid(String),
    /// The stream names a class or function this worker has not
    /// registered.
    NotRegistered {
        /// `"class"` or `"function"`.
        kind: &'static str,
        /// The name it asked for.
        name: String,
    },
}

impl DecodeError {
    pub(crate) fn new(problem: DecodeProblem) -> DecodeError {
        DecodeError { op: None, problem }
    }

    pub(crate) fn at(mut self, op: usize) -> DecodeError {
        self.op.get_or_insert(op);
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("corrupt pickle")?;
        if let Some(op) = self.op {
            write!(f, " at op {op}")?;
        }
        match &self.problem {
            DecodeProblem::BadHeader => f.write_str(": bad header"),
            DecodeProblem::Truncated => f.write_str(": truncated"),
            DecodeProblem::TrailingData => f.write_str(": data after the end"),
            DecodeProblem::Malformed(m) | DecodeProblem::Invalid(m) => write!(f, ": {m}"),
            DecodeProblem::NotRegistered { kind, name } => {
                write!(f, ": {kind} '{name}' is not registered in this worker")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

impl From<FreezeError> for Error {
    fn from(e: FreezeError) -> Error {
        Error::Freeze(Box::new(e))
    }
}

/// Why an object could not be frozen.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FreezeReason {
    /// Its freezability status is `No`.
    StatusNo,
    /// Its status is `Explicit` and it was not passed to `freeze` directly.
    Explicit,
    /// Its class derives from `NotFreezable`.
    NotFreezable,
    /// Its pre-freeze hook failed with this error (also the
    /// [`FreezeError`]'s `source()`).
    Hook(Box<Error>),
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
#[non_exhaustive]
pub struct FreezeError {
    /// The offending object's type name.
    pub type_name: String,
    /// How the walk reached it from the roots, e.g. `root.children[3].cb`.
    pub path: Path,
    /// Why it cannot be frozen.
    pub reason: FreezeReason,
}

impl Error {
    /// `what` needs a per-thread table that this thread's exit has already
    /// destroyed (it was called from a thread-local destructor).
    pub(crate) fn thread_exiting(what: &str) -> Error {
        Error::Other(format!(
            "{what}: this thread is exiting and its state is gone"
        ))
    }
}

impl FreezeError {
    pub(crate) fn new(type_name: String, path: Path, reason: FreezeReason) -> FreezeError {
        FreezeError {
            type_name,
            path,
            reason,
        }
    }
}

/// How a walk reached an object from its roots: the root, then one
/// [`Step`] per reference followed. Displays as Python would spell it
/// (`root.children[3].cb`, `roots[1]['k']`) and compares equal to that
/// text.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Path {
    /// Index of the root among several (`None`: the only root).
    root: Option<usize>,
    steps: Vec<Step>,
    /// False when the object could not be found again from the roots (a
    /// hook changed the graph) or there is no root at all.
    found: bool,
}

/// One reference followed on a [`Path`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Item `i` of a tuple or list.
    Index(usize),
    /// A set member, by its repr.
    Member(String),
    /// A dict key itself (`.keys()[k]`), by its repr.
    Key(String),
    /// The value under a dict key, by the key's repr.
    Value(String),
    /// An instance's class.
    Class,
    /// An attribute of an instance, class or module.
    Attr(String),
    /// Base class `i`.
    Base(usize),
    /// Captured value `i` of a function.
    Capture(usize),
    /// Default value `i` of a function.
    Default(usize),
    /// A cell's contents.
    CellContents,
    /// A shared field's value.
    FieldValue,
    /// An interpreter-local's factory.
    Factory,
    /// A strengthened weak reference's referent.
    Referent,
    /// A weak reference's callback.
    Callback,
}

impl Path {
    /// A path at root `index` of `nroots` roots.
    pub(crate) fn at_root(index: usize, nroots: usize) -> Path {
        Path {
            root: (nroots > 1).then_some(index),
            steps: Vec::new(),
            found: true,
        }
    }

    /// The path of an object no longer reachable from the roots.
    pub(crate) fn lost() -> Path {
        Path::default()
    }

    pub(crate) fn push(&mut self, s: Step) {
        self.steps.push(s);
    }

    /// The root's index when there were several roots.
    pub fn root(&self) -> Option<usize> {
        self.root
    }

    /// The references followed from the root, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// False when the object could not be found from the roots.
    pub fn is_found(&self) -> bool {
        self.found
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Index(i) => write!(f, "[{i}]"),
            Step::Member(k) => write!(f, "{{{k}}}"),
            Step::Key(k) => write!(f, ".keys()[{k}]"),
            Step::Value(k) => write!(f, "[{k}]"),
            Step::Class => f.write_str(".__class__"),
            Step::Attr(n) => write!(f, ".{n}"),
            Step::Base(i) => write!(f, ".__bases__[{i}]"),
            Step::Capture(i) => write!(f, ".__closure__[{i}]"),
            Step::Default(i) => write!(f, ".__defaults__[{i}]"),
            Step::CellContents => f.write_str(".cell_contents"),
            Step::FieldValue => f.write_str(".value"),
            Step::Factory => f.write_str(".factory"),
            Step::Referent => f.write_str("()"),
            Step::Callback => f.write_str(".__callback__"),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.found {
            return f.write_str("(no longer reachable from the roots)");
        }
        match self.root {
            Some(i) => write!(f, "roots[{i}]")?,
            None => f.write_str("root")?,
        }
        self.steps.iter().try_for_each(|s| s.fmt(f))
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl PartialEq<str> for Path {
    fn eq(&self, other: &str) -> bool {
        let text = self.to_string();
        text == other
    }
}

impl PartialEq<&str> for Path {
    fn eq(&self, other: &&str) -> bool {
        let text = self.to_string();
        text == *other
    }
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
            FreezeReason::Hook(e) => format!("its pre-freeze hook failed: {e}"),
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

impl std::error::Error for FreezeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.reason {
            FreezeReason::Hook(e) => Some(&**e),
            _ => None,
        }
    }
}
