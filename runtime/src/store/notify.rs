//! Notifications: Plasma's `subscribe` / `get_next_notification`, one
//! message per seal and per deletion, to every subscriber.

use std::time::Duration;

use crossbeam_channel as cb;

use super::id::ObjectId;

/// What a [`Subscription`] receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notification {
    /// The object was sealed (by `put`, `put_with_id` or `seal`) and can
    /// be got. Sent once per seal: spilling and restoring send nothing.
    Sealed {
        /// The object.
        id: ObjectId,
        /// Its estimated size in bytes (see
        /// [`estimate_size`](crate::estimate_size)).
        size: usize,
    },
    /// The object left the store.
    Deleted {
        /// The object.
        id: ObjectId,
        /// True when the store evicted it to make room (spilling off);
        /// false for a [`delete`](crate::Store::delete).
        evicted: bool,
    },
}

impl Notification {
    /// The object the notification is about.
    pub fn id(&self) -> ObjectId {
        match self {
            Notification::Sealed { id, .. } | Notification::Deleted { id, .. } => *id,
        }
    }
}

/// A stream of the store's [`Notification`]s from the moment of
/// [`Store::subscribe`](crate::Store::subscribe), in the order the store
/// made the changes. Unbounded: read it, or drop it. `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Subscription {
    rx: cb::Receiver<Notification>,
}

impl Subscription {
    /// The next notification, waiting for it (Plasma's
    /// `get_next_notification`); `None` once every handle of the store is
    /// gone and everything sent has been read.
    pub fn recv(&self) -> Option<Notification> {
        self.rx.recv().ok()
    }

    /// The next notification if one is waiting.
    pub fn try_recv(&self) -> Option<Notification> {
        self.rx.try_recv().ok()
    }

    /// The next notification, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Notification> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Every notification waiting now, without blocking.
    pub fn drain(&self) -> Vec<Notification> {
        self.rx.try_iter().collect()
    }
}

/// The subscribers' senders; lives in the store's state so notifications
/// go out in the order of the changes they describe.
#[derive(Default)]
pub(crate) struct Notifier {
    subscribers: Vec<cb::Sender<Notification>>,
}

impl Notifier {
    pub(crate) fn subscribe(&mut self) -> Subscription {
        let (tx, rx) = cb::unbounded();
        self.subscribers.push(tx);
        Subscription { rx }
    }

    /// Sends `n` to every subscriber; forgets those that are gone.
    /// Unbounded channels: never blocks.
    pub(crate) fn publish(&mut self, n: Notification) {
        self.subscribers.retain(|s| s.send(n).is_ok());
    }
}
