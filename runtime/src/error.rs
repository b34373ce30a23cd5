//! Error types, one small type per operation, in crossbeam's manner: a
//! failed send hands the message (or value) back to the caller.

use std::fmt;

use permafrost_freeze::{Error, MoveError, Value};

use crate::message::Message;

/// The receiving side is gone; the message comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The message that could not be sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Why [`Sender::try_send`](crate::Sender::try_send) failed; the message
/// comes back.
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

/// Why [`Sender::send_shared`](crate::Sender::send_shared) or
/// [`Message::share`] failed. The value always comes back intact.
pub enum ShareError {
    /// The value is (or reaches) a mutable object; only frozen graphs may
    /// be shared. Freeze it first, or send it by pickle or copy.
    NotFrozen(Value),
    /// The receiving side is gone.
    Disconnected(Value),
}

impl ShareError {
    /// The value that could not be sent, unchanged.
    pub fn into_inner(self) -> Value {
        match self {
            ShareError::NotFrozen(v) | ShareError::Disconnected(v) => v,
        }
    }

    /// True when the receiver was gone (rather than the value mutable).
    pub fn is_disconnected(&self) -> bool {
        matches!(self, ShareError::Disconnected(_))
    }
}

/// Why [`Sender::send_moved`](crate::Sender::send_moved) failed. The value
/// always comes back intact.
pub enum MoveSendError {
    /// Something outside the graph refers into it (or it holds what
    /// cannot move); the error names the object and the path to it.
    Refused(MoveError),
    /// The receiving side is gone; the graph is back in this heap.
    Disconnected(Value),
}

impl MoveSendError {
    /// The value that could not be moved, unchanged.
    pub fn into_inner(self) -> Value {
        match self {
            MoveSendError::Refused(e) => e.into_inner(),
            MoveSendError::Disconnected(v) => v,
        }
    }
}

impl fmt::Debug for MoveSendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoveSendError::Refused(e) => write!(f, "Refused({e:?})"),
            MoveSendError::Disconnected(v) => write!(f, "Disconnected({})", v.type_name()),
        }
    }
}

impl fmt::Display for MoveSendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoveSendError::Refused(e) => e.fmt(f),
            MoveSendError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
        }
    }
}

impl std::error::Error for MoveSendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MoveSendError::Refused(e) => Some(e),
            MoveSendError::Disconnected(_) => None,
        }
    }
}

/// Why a pickle or copy send failed.
pub enum TransferError {
    /// The graph could not be pickled or copied (the caller still holds
    /// it, unchanged).
    Encode(Error),
    /// The receiving side is gone; the encoded message comes back.
    Disconnected(Message),
}

/// Why [`Receiver::recv`](crate::Receiver::recv) failed.
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

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
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

impl fmt::Debug for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareError::NotFrozen(v) => write!(f, "NotFrozen({})", v.type_name()),
            ShareError::Disconnected(v) => write!(f, "Disconnected({})", v.type_name()),
        }
    }
}

impl fmt::Debug for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::Encode(e) => write!(f, "Encode({e:?})"),
            TransferError::Disconnected(m) => write!(f, "Disconnected({:?})", m.mode()),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a disconnected channel")
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

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareError::NotFrozen(v) => write!(
                f,
                "cannot send a mutable {} by share: freeze it first, or send it by pickle or copy",
                v.type_name()
            ),
            ShareError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
        }
    }
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::Encode(e) => write!(f, "cannot encode the message: {e}"),
            TransferError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
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

impl<T> std::error::Error for SendError<T> {}
impl<T> std::error::Error for TrySendError<T> {}
impl<T> std::error::Error for SendTimeoutError<T> {}
impl std::error::Error for ShareError {}
impl std::error::Error for TransferError {}
impl std::error::Error for RecvError {}
impl std::error::Error for TryRecvError {}
impl std::error::Error for RecvTimeoutError {}
impl std::error::Error for SelectTimeoutError {}
impl std::error::Error for WorkerError {}
impl std::error::Error for PoolError {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Disconnected(e.0)
    }
}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(e: SendError<T>) -> Self {
        SendTimeoutError::Disconnected(e.0)
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
