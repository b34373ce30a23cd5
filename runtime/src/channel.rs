//! Channels between workers: crossbeam channels carrying [`Message`]s, with
//! typed helpers for each transfer mode.

use std::time::Duration;

use crossbeam_channel as cb;
use permafrost_freeze::{Frozen, Value};

use crate::error::MoveSendError;

use crate::error::{
    RecvError, RecvTimeoutError, SelectTimeoutError, SendError, SendTimeoutError, ShareError,
    TransferError, TryRecvError, TrySendError,
};
use crate::message::{Message, Mode};

/// The sending half of a channel. `Send + Sync`, cheap to clone.
#[derive(Clone)]
pub struct Sender {
    inner: cb::Sender<Message>,
}

/// The receiving half of a channel. `Send + Sync`, cheap to clone (clones
/// compete for messages: each message goes to one receiver).
#[derive(Clone)]
pub struct Receiver {
    inner: cb::Receiver<Message>,
}

/// A channel with no capacity limit.
pub fn unbounded() -> (Sender, Receiver) {
    let (s, r) = cb::unbounded();
    (Sender { inner: s }, Receiver { inner: r })
}

/// A channel holding at most `cap` messages (`0`: each send waits for a
/// receive).
pub fn bounded(cap: usize) -> (Sender, Receiver) {
    let (s, r) = cb::bounded(cap);
    (Sender { inner: s }, Receiver { inner: r })
}

impl Sender {
    /// Sends a message, blocking while a bounded channel is full. If every
    /// receiver is gone the message comes back.
    pub fn send(&self, msg: Message) -> Result<(), SendError<Message>> {
        self.inner.send(msg).map_err(|e| SendError(e.into_inner()))
    }

    /// Sends without blocking.
    pub fn try_send(&self, msg: Message) -> Result<(), TrySendError<Message>> {
        self.inner.try_send(msg).map_err(|e| match e {
            cb::TrySendError::Full(m) => TrySendError::Full(m),
            cb::TrySendError::Disconnected(m) => TrySendError::Disconnected(m),
        })
    }

    /// Sends, waiting at most `timeout` for room.
    pub fn send_timeout(
        &self,
        msg: Message,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<Message>> {
        self.inner.send_timeout(msg, timeout).map_err(|e| match e {
            cb::SendTimeoutError::Timeout(m) => SendTimeoutError::Timeout(m),
            cb::SendTimeoutError::Disconnected(m) => SendTimeoutError::Disconnected(m),
        })
    }

    /// Shares a frozen graph by reference: O(1), the receiver sees the same
    /// objects. A mutable value is refused; either way a failed send hands
    /// the value back intact.
    pub fn send_shared(&self, v: Value) -> Result<(), ShareError> {
        let msg = Message::share(v)?;
        self.send(msg).map_err(|e| match e.0 {
            Message::Shared(f) => ShareError::Disconnected(f.into_value()),
            _ => unreachable!("a shared message comes back shared"),
        })
    }

    /// Sends an already shareable handle by reference.
    pub fn send_frozen(&self, f: Frozen) -> Result<(), SendError<Frozen>> {
        self.send(Message::Shared(f)).map_err(|e| match e.0 {
            Message::Shared(f) => SendError(f),
            _ => unreachable!("a shared message comes back shared"),
        })
    }

    /// Pickles the graph under `v` and sends the bytes; the receiver
    /// rebuilds a mutable graph in its own heap.
    pub fn send_pickled(&self, v: &Value) -> Result<(), TransferError> {
        self.send_value(v, Mode::Pickle)
    }

    /// Deep-copies the graph under `v` (no byte stream) and sends the copy;
    /// the receiver adopts it into its own heap. Frozen parts travel by
    /// reference.
    pub fn send_copied(&self, v: &Value) -> Result<(), TransferError> {
        self.send_value(v, Mode::Copy)
    }

    /// Moves the isolated mutable graph under `v` to the receiver: the same
    /// objects, still mutable, nothing copied or allocated per object. If
    /// anything outside the graph refers into it, the move is refused with
    /// the first such object and the path to it, and `v` comes back
    /// untouched ([`MoveSendError::Refused`]); a disconnected channel hands
    /// it back too, re-adopted by this heap.
    ///
    /// ```
    /// use permafrost_runtime::{unbounded, Value};
    /// let (tx, rx) = unbounded();
    /// let batch = Value::list(vec![Value::Int(1)]);
    /// let id = batch.id();
    /// let alias = batch.clone();
    /// let err = tx.send_moved(batch).unwrap_err(); // `alias` refers into it
    /// assert!(err.to_string().contains("at root has 1 reference from outside"));
    /// drop(alias);
    /// tx.send_moved(err.into_inner()).unwrap();
    /// let got = std::thread::spawn(move || rx.recv().unwrap().id()).join().unwrap();
    /// assert_eq!(got, id);
    /// ```
    pub fn send_moved(&self, v: Value) -> Result<(), MoveSendError> {
        let msg = Message::moved(v).map_err(MoveSendError::Refused)?;
        self.send(msg).map_err(|e| match e.0.into_value() {
            Ok(v) => MoveSendError::Disconnected(v),
            Err(_) => unreachable!("a moved graph is adopted back without decoding"),
        })
    }

    /// Sends `v` in `mode` (a mutable value in [`Mode::Share`] gives
    /// [`TransferError::Encode`]; use [`send_shared`](Sender::send_shared)
    /// to get the value itself back).
    pub fn send_value(&self, v: &Value, mode: Mode) -> Result<(), TransferError> {
        let msg = Message::new(v, mode).map_err(TransferError::Encode)?;
        self.send(msg)
            .map_err(|e| TransferError::Disconnected(e.into_inner()))
    }

    /// Messages waiting in the channel.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True when no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The capacity of a bounded channel.
    pub fn capacity(&self) -> Option<usize> {
        self.inner.capacity()
    }

    /// True if both senders belong to the same channel.
    pub fn same_channel(&self, other: &Sender) -> bool {
        self.inner.same_channel(&other.inner)
    }
}

impl Receiver {
    /// Waits for a message and turns it into a value in this thread's heap
    /// (see [`Message::into_value`]).
    pub fn recv(&self) -> Result<Value, RecvError> {
        decode(self.recv_message()?)
    }

    /// Takes a waiting message, if any, as a value in this thread's heap.
    pub fn try_recv(&self) -> Result<Value, TryRecvError> {
        Ok(decode(self.try_recv_message()?)?)
    }

    /// Waits at most `timeout` for a message.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Value, RecvTimeoutError> {
        Ok(decode(self.recv_message_timeout(timeout)?)?)
    }

    /// Waits for a message and returns it as it travelled (benchmarks use
    /// this to time decoding separately).
    pub fn recv_message(&self) -> Result<Message, RecvError> {
        self.inner.recv().map_err(|_| RecvError::Disconnected)
    }

    /// Takes a waiting message, if any, as it travelled.
    pub fn try_recv_message(&self) -> Result<Message, TryRecvError> {
        self.inner.try_recv().map_err(|e| match e {
            cb::TryRecvError::Empty => TryRecvError::Empty,
            cb::TryRecvError::Disconnected => TryRecvError::Disconnected,
        })
    }

    /// Waits at most `timeout` for a message, as it travelled.
    pub fn recv_message_timeout(&self, timeout: Duration) -> Result<Message, RecvTimeoutError> {
        self.inner.recv_timeout(timeout).map_err(|e| match e {
            cb::RecvTimeoutError::Timeout => RecvTimeoutError::Timeout,
            cb::RecvTimeoutError::Disconnected => RecvTimeoutError::Disconnected,
        })
    }

    /// Messages waiting in the channel.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True when no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The capacity of a bounded channel.
    pub fn capacity(&self) -> Option<usize> {
        self.inner.capacity()
    }

    /// True if both receivers belong to the same channel.
    pub fn same_channel(&self, other: &Receiver) -> bool {
        self.inner.same_channel(&other.inner)
    }

    pub(crate) fn raw(&self) -> &cb::Receiver<Message> {
        &self.inner
    }
}

fn decode(msg: Message) -> Result<Value, RecvError> {
    msg.into_value().map_err(RecvError::Decode)
}

/// Waits until one of `receivers` has a message (or is disconnected) and
/// receives from it. Returns the receiver's position and what it gave:
/// `Err(RecvError::Disconnected)` means that receiver's channel is empty
/// and closed, so a fan-in loop should drop it and select again.
///
/// An empty slice gives `(0, Err(RecvError::Disconnected))` at once.
pub fn select(receivers: &[&Receiver]) -> (usize, Result<Value, RecvError>) {
    let (i, r) = select_message(receivers);
    (i, r.and_then(decode))
}

/// Like [`select`], but gives up after `timeout`.
pub fn select_timeout(
    receivers: &[&Receiver],
    timeout: Duration,
) -> Result<(usize, Result<Value, RecvError>), SelectTimeoutError> {
    let (i, r) = select_message_timeout(receivers, timeout)?;
    Ok((i, r.and_then(decode)))
}

/// Like [`select`], returning the message as it travelled.
pub fn select_message(receivers: &[&Receiver]) -> (usize, Result<Message, RecvError>) {
    if receivers.is_empty() {
        return (0, Err(RecvError::Disconnected));
    }
    let mut sel = cb::Select::new();
    for r in receivers {
        sel.recv(&r.inner);
    }
    let op = sel.select();
    let i = op.index();
    let got = op
        .recv(&receivers[i].inner)
        .map_err(|_| RecvError::Disconnected);
    (i, got)
}

/// Like [`select_message`], but gives up after `timeout`.
pub fn select_message_timeout(
    receivers: &[&Receiver],
    timeout: Duration,
) -> Result<(usize, Result<Message, RecvError>), SelectTimeoutError> {
    if receivers.is_empty() {
        return Ok((0, Err(RecvError::Disconnected)));
    }
    let mut sel = cb::Select::new();
    for r in receivers {
        sel.recv(&r.inner);
    }
    let op = sel
        .select_timeout(timeout)
        .map_err(|_| SelectTimeoutError)?;
    let i = op.index();
    let got = op
        .recv(&receivers[i].inner)
        .map_err(|_| RecvError::Disconnected);
    Ok((i, got))
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad("Sender { .. }")
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad("Receiver { .. }")
    }
}
