//! Error types, one small type per operation, in crossbeam's manner: a
//! failed send hands the value (or message) back to the caller.
//!
//! This module depends on nothing else in the crate: the errors are
//! generic over what they hand back, or hold object-model types only.

use std::fmt;

use permafrost_freeze::{Error, MoveError, Value};

/// Why [`Sender::send`](crate::Sender::send) (or
/// [`Message::new`](crate::Message::new)) failed. Every case hands the
/// value back untouched: [`into_inner`](SendError::into_inner).
#[non_exhaustive]
pub enum SendError {
    /// [`Mode::Share`](crate::Mode::Share) of a value that is (or reaches)
    /// a mutable object; only frozen graphs may be shared. Freeze it
    /// first, or send it in another mode.
    NotFrozen(Value),
    /// [`Mode::Move`](crate::Mode::Move) of a graph something outside it
    /// refers into (or that holds what cannot move). The [`MoveError`]
    /// names the object and the path to it, and holds the value.
    NotIsolated(MoveError),
    /// The graph could not be pickled or copied.
    Encode(Error, Value),
    /// The receiving side is gone.
    Disconnected(Value),
}

impl SendError {
    /// The value that could not be sent, unchanged (a moved graph is back
    /// in this heap).
    pub fn into_inner(self) -> Value {
        match self {
            SendError::NotFrozen(v) | SendError::Encode(_, v) | SendError::Disconnected(v) => v,
            SendError::NotIsolated(e) => e.into_inner(),
        }
    }

    /// True when the receiver was gone (rather than the value unfit for
    /// the mode).
    pub fn is_disconnected(&self) -> bool {
        matches!(self, SendError::Disconnected(_))
    }
}

impl fmt::Debug for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotFrozen(v) => write!(f, "NotFrozen({})", v.type_name()),
            SendError::NotIsolated(e) => write!(f, "NotIsolated({e:?})"),
            SendError::Encode(e, v) => write!(f, "Encode({e:?}, {})", v.type_name()),
            SendError::Disconnected(v) => write!(f, "Disconnected({})", v.type_name()),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotFrozen(v) => write!(
                f,
                "cannot send a mutable {} by share: freeze it first, or send it by pickle or copy",
                v.type_name()
            ),
            SendError::NotIsolated(e) => e.fmt(f),
            SendError::Encode(e, _) => write!(f, "cannot encode the message: {e}"),
            SendError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::NotIsolated(e) => Some(e),
            SendError::Encode(e, _) => Some(e),
            SendError::NotFrozen(_) | SendError::Disconnected(_) => None,
        }
    }
}

/// The receiving side is gone; what was sent comes back (a
/// [`Message`](crate::Message) from
/// [`Sender::send_message`](crate::Sender::send_message), a
/// [`Frozen`](crate::Frozen) from [`Sender::share`](crate::Sender::share)).
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct Disconnected<T>(pub T);

impl<T> Disconnected<T> {
    /// What could not be sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Why [`Sender::try_send`](crate::Sender::try_send) failed; the message
/// comes back.
#[non_exhaustive]
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The channel is bounded and full.
    Full(T),
    /// The receiving side is gone.
    Disconnected(T),
}

impl<T> TrySendError<T> {
    /// The message that could not be sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(m) | TrySendError::Disconnected(m) => m,
        }
    }
}

/// Why [`Sender::send_timeout`](crate::Sender::send_timeout) failed; the
/// message comes back.
#[non_exhaustive]
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// The channel stayed full for the whole timeout.
    Timeout(T),
    /// The receiving side is gone.
    Disconnected(T),
}

impl<T> SendTimeoutError<T> {
    /// The message that could not be sent.
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(m) | SendTimeoutError::Disconnected(m) => m,
        }
    }
}

/// Why [`Receiver::recv`](crate::Receiver::recv) failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecvError {
    /// The channel is empty and every sender is gone.
    Disconnected,
    /// A message arrived but could not be rebuilt (bad pickle bytes, no
    /// class registered under a pickled instance's class name, ...). The
    /// message is consumed; the channel is still usable.
    Decode(Error),
}

/// Why [`Receiver::try_recv`](crate::Receiver::try_recv) failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is waiting.
    Empty,
    /// The channel is empty and every sender is gone.
    Disconnected,
    /// A message arrived but could not be rebuilt.
    Decode(Error),
}

/// Why [`Receiver::recv_timeout`](crate::Receiver::recv_timeout) failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing arrived within the timeout.
    Timeout,
    /// The channel is empty and every sender is gone.
    Disconnected,
    /// A message arrived but could not be rebuilt.
    Decode(Error),
}

/// [`select_timeout`](crate::select_timeout) saw nothing ready in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectTimeoutError;

/// How a worker ended, when it did not return a result.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerError {
    /// The worker's closure panicked; `message` is the panic payload when
    /// it was a string. Its heap was cleaned up all the same.
    Panicked {
        /// The worker's name.
        name: String,
        /// The panic message.
        message: String,
    },
    /// The operating system refused to start the thread.
    Spawn {
        /// The worker's name.
        name: String,
        /// The OS error.
        message: String,
    },
}

/// Why [`Pool::map`](crate::Pool::map) failed. Results for other items
/// are dropped; the pool stays usable.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    /// Item `index` could not travel in the chosen mode (a mutable item
    /// by share, an item that cannot be pickled or copied).
    Send {
        /// Position in the input.
        index: usize,
        /// Why.
        error: Error,
    },
    /// The function returned an error for item `index`.
    Task {
        /// Position in the input.
        index: usize,
        /// The function's error.
        error: Error,
    },
    /// The item or its result could not be rebuilt on the other side, or
    /// the result could not be frozen for the share path.
    Result {
        /// Position in the input.
        index: usize,
        /// Why.
        error: Error,
    },
    /// The function panicked on item `index` (the worker survives).
    Panicked {
        /// Position in the input.
        index: usize,
        /// The panic message.
        message: String,
    },
    /// Every worker of the pool is gone.
    Closed,
}

impl<T> fmt::Debug for Disconnected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Disconnected(..)")
    }
}

impl<T> fmt::Display for Disconnected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a disconnected channel")
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out waiting on send operation"),
            SendTimeoutError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Disconnected => {
                f.write_str("receiving on an empty and disconnected channel")
            }
            RecvError::Decode(e) => write!(f, "cannot rebuild the received message: {e}"),
        }
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Disconnected => {
                f.write_str("receiving on an empty and disconnected channel")
            }
            TryRecvError::Decode(e) => write!(f, "cannot rebuild the received message: {e}"),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting on receive operation"),
            RecvTimeoutError::Disconnected => {
                f.write_str("receiving on an empty and disconnected channel")
            }
            RecvTimeoutError::Decode(e) => write!(f, "cannot rebuild the received message: {e}"),
        }
    }
}

impl fmt::Display for SelectTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting on select")
    }
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerError::Panicked { name, message } => {
                write!(f, "worker '{name}' panicked: {message}")
            }
            WorkerError::Spawn { name, message } => {
                write!(f, "worker '{name}' could not start: {message}")
            }
        }
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Send { index, error } => write!(f, "item {index} cannot be sent: {error}"),
            PoolError::Task { index, error } => write!(f, "task failed on item {index}: {error}"),
            PoolError::Result { index, error } => {
                write!(f, "result of item {index} cannot travel back: {error}")
            }
            PoolError::Panicked { index, message } => {
                write!(f, "task panicked on item {index}: {message}")
            }
            PoolError::Closed => f.write_str("the pool's workers are gone"),
        }
    }
}

impl<T> std::error::Error for Disconnected<T> {}
impl<T> std::error::Error for TrySendError<T> {}
impl<T> std::error::Error for SendTimeoutError<T> {}
impl std::error::Error for RecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvError::Decode(e) => Some(e),
            RecvError::Disconnected => None,
        }
    }
}

impl std::error::Error for TryRecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TryRecvError::Decode(e) => Some(e),
            TryRecvError::Empty | TryRecvError::Disconnected => None,
        }
    }
}

impl std::error::Error for RecvTimeoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvTimeoutError::Decode(e) => Some(e),
            RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected => None,
        }
    }
}

impl std::error::Error for SelectTimeoutError {}

// A panic or a refused thread start is carried as text: nothing to chain.
impl std::error::Error for WorkerError {}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Send { error, .. }
            | PoolError::Task { error, .. }
            | PoolError::Result { error, .. } => Some(error),
            PoolError::Panicked { .. } | PoolError::Closed => None,
        }
    }
}

impl From<RecvError> for TryRecvError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Disconnected => TryRecvError::Disconnected,
            RecvError::Decode(e) => TryRecvError::Decode(e),
        }
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Disconnected => RecvTimeoutError::Disconnected,
            RecvError::Decode(e) => RecvTimeoutError::Decode(e),
        }
    }
}
