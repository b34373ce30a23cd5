//! What travels on a channel: a frozen graph by reference, pickled bytes,
//! or a detached deep copy. The transfer mode is always chosen by the
//! sender, explicitly.

use std::fmt;

use permafrost_freeze::{
    deep_copy, detach_moved, pickle, unpickle, Detached, Error, Frozen, MoveError, Value,
};

use crate::error::ShareError;

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
    /// mutable, nothing copied ([`detach_moved`]). Needs the value itself
    /// ([`Message::moved`], [`Sender::send_moved`](crate::Sender::send_moved),
    /// [`Pool::map_moved`](crate::Pool::map_moved)).
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
    /// Wraps `v` for sharing by reference. A mutable value is refused and
    /// handed back unchanged in [`ShareError::NotFrozen`].
    pub fn share(v: Value) -> Result<Message, ShareError> {
        v.into_shared()
            .map(Message::Shared)
            .map_err(ShareError::NotFrozen)
    }

    /// Pickles the graph under `v` (the caller keeps `v`, unchanged).
    pub fn pickle(v: &Value) -> Result<Message, Error> {
        let bytes = pickle(v)?;
        Ok(Message::Pickled(triomphe::Arc::from(bytes)))
    }

    /// Deep-copies the graph under `v` for another heap (the caller keeps
    /// `v`, unchanged).
    pub fn copy(v: &Value) -> Result<Message, Error> {
        deep_copy(v).map(Message::Copied)
    }

    /// Moves the isolated graph under `v` (see [`detach_moved`]). A graph
    /// something else refers into is refused and handed back in the
    /// [`MoveError`] ([`MoveError::into_inner`]).
    pub fn moved(v: Value) -> Result<Message, MoveError> {
        detach_moved(v).map(Message::Moved)
    }

    /// Encodes `v` in `mode`. For [`Mode::Share`] a mutable value gives
    /// [`Error::NotFrozen`]. [`Mode::Move`] needs the value itself, not a
    /// borrow: it gives an error pointing at [`Message::moved`].
    pub fn new(v: &Value, mode: Mode) -> Result<Message, Error> {
        match mode {
            Mode::Share => v.share().map(Message::Shared),
            Mode::Pickle => Message::pickle(v),
            Mode::Copy => Message::copy(v),
            Mode::Move => Err(Error::Other(
                "Mode::Move takes the value itself: use Message::moved, \
                 Sender::send_moved or Pool::map_moved"
                    .into(),
            )),
        }
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
