//! What travels on a channel: a frozen graph by reference, pickled bytes,
//! or a detached deep copy. The transfer mode is always chosen by the
//! sender, explicitly.

use std::fmt;

use permafrost_freeze::{
    deep_copy, detach_moved, pickle, unpickle, Detached, Error, Frozen, Value,
};

use crate::error::SendError;

/// How a value travels from one worker to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// By reference, O(1) whatever the graph's size: the receiver sees the
    /// very same (frozen) objects. Mutable values are refused.
    Share,
    /// Serialised to bytes by the sender and rebuilt, mutable, in the
    /// receiver's heap (identity memo: sharing and cycles survive).
    Pickle,
    /// Deep-copied by the sender with no byte stream and adopted by the
    /// receiver's heap; frozen parts travel by reference.
    Copy,
    /// Moved: an isolated mutable graph changes heap, same objects, still
    /// mutable, nothing copied ([`detach_moved`]). The sender must hold
    /// the only handle into the graph.
    Move,
}

/// One message: a value on its way to another worker's heap.
///
/// `Message` is `Send` whatever it carries; turn it into a [`Value`] on
/// the receiving thread with [`into_value`](Message::into_value) (which
/// [`Receiver::recv`](crate::Receiver::recv) does for you).
pub enum Message {
    /// A frozen graph (or an immediate), by reference.
    Shared(Frozen),
    /// A pickle; the bytes are immutable and cheap to clone, so one pickle
    /// can be sent to many workers.
    Pickled(triomphe::Arc<[u8]>),
    /// A deep copy detached from the sender's heap, waiting to be adopted.
    Copied(Detached),
    /// A moved graph (the sender's own objects), waiting to be adopted.
    Moved(Detached),
}

impl Message {
    /// Encodes `v` in `mode`, taking it by value so that a failure hands
    /// it back untouched ([`SendError::into_inner`]): [`Mode::Share`]
    /// needs a frozen graph ([`SendError::NotFrozen`]), [`Mode::Move`] an
    /// isolated one ([`SendError::NotIsolated`]); [`Mode::Pickle`] and
    /// [`Mode::Copy`] encode a borrow and drop `v` once encoded (the
    /// caller's other handles keep the graph alive).
    pub fn new(v: Value, mode: Mode) -> Result<Message, SendError> {
        match mode {
            Mode::Share => v
                .into_shared()
                .map(Message::Shared)
                .map_err(SendError::NotFrozen),
            Mode::Pickle => Message::pickle(&v).map_err(|e| SendError::Encode(e, v)),
            Mode::Copy => match deep_copy(&v) {
                Ok(d) => Ok(Message::Copied(d)),
                Err(e) => Err(SendError::Encode(e, v)),
            },
            Mode::Move => detach_moved(v)
                .map(Message::Moved)
                .map_err(SendError::NotIsolated),
        }
    }

    /// Pickles the graph under `v` (the caller keeps `v`, unchanged). The
    /// bytes can go to many receivers ([`try_clone`](Message::try_clone))
    /// or leave the process.
    pub fn pickle(v: &Value) -> Result<Message, Error> {
        let bytes = pickle(v)?;
        Ok(Message::Pickled(triomphe::Arc::from(bytes)))
    }

    /// A message carrying pickle bytes made elsewhere (a file, a socket,
    /// [`permafrost_freeze::pickle`]). They are checked when received.
    pub fn from_pickle_bytes(bytes: &[u8]) -> Message {
        Message::Pickled(triomphe::Arc::from(bytes))
    }

    /// The transfer mode this message was made with.
    pub fn mode(&self) -> Mode {
        match self {
            Message::Shared(_) => Mode::Share,
            Message::Pickled(_) => Mode::Pickle,
            Message::Copied(_) => Mode::Copy,
            Message::Moved(_) => Mode::Move,
        }
    }

    /// Bytes of pickle carried (0 for the other modes).
    pub fn pickled_len(&self) -> usize {
        match self {
            Message::Pickled(b) => b.len(),
            _ => 0,
        }
    }

    /// A second handle to the same message, for shared and pickled
    /// messages (O(1): one atomic increment). A copy can only be adopted
    /// once, so `Copied` gives `None`.
    pub fn try_clone(&self) -> Option<Message> {
        match self {
            Message::Shared(f) => Some(Message::Shared(f.clone())),
            Message::Pickled(b) => Some(Message::Pickled(b.clone())),
            Message::Copied(_) | Message::Moved(_) => None,
        }
    }

    /// Turns the message into a value in this thread's heap: a shared
    /// graph is the same objects; a pickle is rebuilt (decode errors are
    /// reported, never a panic); a copy is adopted.
    pub fn into_value(self) -> Result<Value, Error> {
        match self {
            Message::Shared(f) => Ok(f.into_value()),
            Message::Pickled(b) => unpickle(&b),
            Message::Copied(d) | Message::Moved(d) => Ok(d.adopt()),
        }
    }
}

impl From<Frozen> for Message {
    fn from(f: Frozen) -> Message {
        Message::Shared(f)
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Shared(v) => write!(f, "Shared({} @ {:#x})", v.type_name(), v.id()),
            Message::Pickled(b) => write!(f, "Pickled({} bytes)", b.len()),
            Message::Copied(d) => write!(f, "Copied({} objects)", d.len()),
            Message::Moved(d) => write!(f, "Moved({} objects)", d.len()),
        }
    }
}
