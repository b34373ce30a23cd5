//! Channels between workers: crossbeam channels carrying [`Message`]s.
//! One way to send a value ([`Sender::send`] with a [`Mode`]), one shortcut
//! for a handle already frozen ([`Sender::share`]), and the raw message
//! sends; receives always rebuild a value in the receiving heap.

use std::time::Duration;

use crossbeam_channel as cb;
use permafrost_freeze::{Frozen, Value};

use crate::error::{
    Disconnected, RecvError, RecvTimeoutError, SelectTimeoutError, SendError, SendTimeoutError,
    TryRecvError, TrySendError,
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
    /// Sends `v` in `mode`, blocking while a bounded channel is full. The
    /// value is taken so that every failure hands it back untouched
    /// ([`SendError::into_inner`]): [`Mode::Share`] refuses a mutable
    /// graph, [`Mode::Move`] one something else refers into, a pickle or
    /// copy can fail to encode, and the receiver can be gone.
    ///
    /// ```
    /// use permafrost_runtime::{unbounded, Mode, SendError, Value};
    /// let (tx, rx) = unbounded();
    /// let batch = Value::list(vec![Value::Int(1)]);
    /// let id = batch.id();
    /// let alias = batch.clone();
    /// let err = tx.send(batch, Mode::Move).unwrap_err(); // `alias` refers into it
    /// assert!(matches!(err, SendError::NotIsolated(_)));
    /// assert!(err.to_string().contains("at root has 1 reference from outside"));
    /// drop(alias);
    /// tx.send(err.into_inner(), Mode::Move).unwrap();
    /// let got = std::thread::spawn(move || rx.recv().unwrap().id()).join().unwrap();
    /// assert_eq!(got, id);
    /// ```
    pub fn send(&self, v: Value, mode: Mode) -> Result<(), SendError> {
        match mode {
            // Encoded from a borrow: `v` stays here to hand back if the
            // receiver is gone (the clone is one reference-count bump).
            Mode::Pickle | Mode::Copy => {
                let msg = Message::new(v.clone(), mode)?;
                self.send_message(msg)
                    .map_err(|_| SendError::Disconnected(v))
            }
            // The message owns the graph: take it back out if refused.
            Mode::Share | Mode::Move => {
                let msg = Message::new(v, mode)?;
                self.send_message(msg).map_err(|e| reclaim(e.0))
            }
        }
    }

    /// Shares an already frozen handle by reference: O(1), the receiver
    /// sees the same objects. Fails only if the receiver is gone, handing
    /// the handle back.
    pub fn share(&self, f: Frozen) -> Result<(), Disconnected<Frozen>> {
        // A second handle (one atomic increment) to hand back, rather than
        // unpicking the returned message.
        let back = f.clone();
        self.inner
            .send(Message::Shared(f))
            .map_err(|_| Disconnected(back))
    }

    /// Sends a pre-built [`Message`] (a pickle made once for many
    /// receivers, say), blocking while a bounded channel is full. If every
    /// receiver is gone the message comes back.
    pub fn send_message(&self, msg: Message) -> Result<(), Disconnected<Message>> {
        self.inner.send(msg).map_err(|e| Disconnected(e.0))
    }

    /// Sends a pre-built message without blocking.
    pub fn try_send(&self, msg: Message) -> Result<(), TrySendError<Message>> {
        self.inner.try_send(msg).map_err(|e| match e {
            cb::TrySendError::Full(m) => TrySendError::Full(m),
            cb::TrySendError::Disconnected(m) => TrySendError::Disconnected(m),
        })
    }

    /// Sends a pre-built message, waiting at most `timeout` for room.
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
        let msg = self.inner.recv().map_err(|_| RecvError::Disconnected)?;
        decode(msg)
    }

    /// Takes a waiting message, if any, as a value in this thread's heap.
    pub fn try_recv(&self) -> Result<Value, TryRecvError> {
        let msg = self.inner.try_recv().map_err(|e| match e {
            cb::TryRecvError::Empty => TryRecvError::Empty,
            cb::TryRecvError::Disconnected => TryRecvError::Disconnected,
        })?;
        Ok(decode(msg)?)
    }

    /// Waits at most `timeout` for a message.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Value, RecvTimeoutError> {
        let msg = self.inner.recv_timeout(timeout).map_err(|e| match e {
            cb::RecvTimeoutError::Timeout => RecvTimeoutError::Timeout,
            cb::RecvTimeoutError::Disconnected => RecvTimeoutError::Disconnected,
        })?;
        Ok(decode(msg)?)
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

/// Takes back a shared or moved message that was never received.
fn reclaim(msg: Message) -> SendError {
    match msg.into_value() {
        Ok(v) => SendError::Disconnected(v),
        // Only a pickle decodes, and pickles are sent from a borrow, so
        // this is not reached; report it rather than panic.
        Err(e) => SendError::Encode(e, Value::None),
    }
}

/// Waits until one of `receivers` has a message (or is disconnected) and
/// receives from it. Returns the receiver's position and what it gave:
/// `Err(RecvError::Disconnected)` means that receiver's channel is empty
/// and closed, so a fan-in loop should drop it and select again, and
/// `Err(RecvError::Decode(_))` that its message could not be rebuilt (the
/// channel is still usable).
///
/// An empty slice gives `(0, Err(RecvError::Disconnected))` at once.
///
/// ```
/// use permafrost_runtime::{select, unbounded, Mode, Value};
/// let (tx_a, rx_a) = unbounded();
/// let (_tx_b, rx_b) = unbounded();
/// tx_a.send(Value::Int(7), Mode::Share).unwrap();
/// let (i, got) = select(&[&rx_b, &rx_a]);
/// assert_eq!((i, got.unwrap().as_int()), (1, Some(7)));
/// ```
pub fn select(receivers: &[&Receiver]) -> (usize, Result<Value, RecvError>) {
    if receivers.is_empty() {
        return (0, Err(RecvError::Disconnected));
    }
    let mut sel = selector(receivers);
    let op = sel.select();
    let i = op.index();
    let got = op
        .recv(&receivers[i].inner)
        .map_err(|_| RecvError::Disconnected);
    (i, got.and_then(decode))
}

/// Like [`select`], but gives up after `timeout` with
/// [`SelectTimeoutError`] if no receiver was ready.
pub fn select_timeout(
    receivers: &[&Receiver],
    timeout: Duration,
) -> Result<(usize, Result<Value, RecvError>), SelectTimeoutError> {
    if receivers.is_empty() {
        return Ok((0, Err(RecvError::Disconnected)));
    }
    let mut sel = selector(receivers);
    let op = sel
        .select_timeout(timeout)
        .map_err(|_| SelectTimeoutError)?;
    let i = op.index();
    let got = op
        .recv(&receivers[i].inner)
        .map_err(|_| RecvError::Disconnected);
    Ok((i, got.and_then(decode)))
}

fn selector<'a>(receivers: &[&'a Receiver]) -> cb::Select<'a> {
    let mut sel = cb::Select::new();
    for r in receivers {
        sel.recv(&r.inner);
    }
    sel
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
