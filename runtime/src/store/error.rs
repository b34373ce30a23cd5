//! The store's error type: what went wrong and with which id. Values are
//! never taken by the store (`put` and `seal` borrow them), so nothing
//! needs handing back.

use std::fmt;

use permafrost_freeze::{Error, FreezeError};

use super::id::ObjectId;

/// Why a [`Store`](crate::Store) operation failed. Each operation's docs
/// say which cases it can give; a failed operation changed nothing unless
/// its docs say otherwise.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No object or reservation has this id (never created, deleted,
    /// aborted, or evicted with spilling off).
    UnknownId(ObjectId),
    /// `create` or `put_with_id` of an id already reserved or stored (or
    /// deleted while still pinned: the id is free once it is released).
    AlreadyExists(ObjectId),
    /// `seal` or `abort` of an object that is already sealed.
    AlreadySealed(ObjectId),
    /// `delete` of a reservation that is not sealed yet (use `abort`).
    NotSealed(ObjectId),
    /// `release` of an id that no `get` pinned (or was released as many
    /// times as it was got).
    NotPinned(ObjectId),
    /// `get_one` waited its whole timeout and the object was not sealed.
    TimedOut(ObjectId),
    /// The reservation was aborted while this call waited for it, or (for
    /// `seal`) before the value could be published.
    Aborted(ObjectId),
    /// The value cannot be frozen: nothing was frozen, nothing stored (a
    /// reservation stays open for another `seal`).
    NotFreezable(FreezeError),
    /// Room for `needed` bytes cannot be made: every object left is pinned
    /// (or cannot be spilled), or `needed` exceeds the capacity.
    StoreFull {
        /// The estimated size of what was to be stored or restored.
        needed: usize,
        /// The store's capacity.
        capacity: usize,
        /// Bytes held by objects that could not be evicted.
        used: usize,
    },
    /// Writing or reading a spill file failed. A failed write leaves the
    /// object in memory; a failed read leaves it spilled.
    SpillIo {
        /// The object being spilled or restored (or the one being stored
        /// when the spill directory could not be created).
        id: ObjectId,
        /// The I/O error's kind.
        kind: std::io::ErrorKind,
        /// The I/O error with the file's path.
        message: String,
    },
    /// A spilled object could not be rebuilt: its file is not a valid
    /// pickle, or a class it needs is not registered in this worker (as for
    /// any unpickle). It stays spilled: register the class and get again.
    Restore {
        /// The object.
        id: ObjectId,
        /// Why unpickling (or freezing the result) failed.
        error: Error,
    },
}

impl StoreError {
    /// The id the error is about, if it is about one.
    pub fn id(&self) -> Option<ObjectId> {
        match self {
            StoreError::UnknownId(id)
            | StoreError::AlreadyExists(id)
            | StoreError::AlreadySealed(id)
            | StoreError::NotSealed(id)
            | StoreError::NotPinned(id)
            | StoreError::TimedOut(id)
            | StoreError::Aborted(id)
            | StoreError::SpillIo { id, .. }
            | StoreError::Restore { id, .. } => Some(*id),
            StoreError::NotFreezable(_) | StoreError::StoreFull { .. } => None,
        }
    }

    pub(crate) fn io(id: ObjectId, path: &std::path::Path, e: std::io::Error) -> StoreError {
        StoreError::SpillIo {
            id,
            kind: e.kind(),
            message: format!("{}: {e}", path.display()),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::UnknownId(id) => write!(f, "no object {id} in the store"),
            StoreError::AlreadyExists(id) => write!(f, "object {id} already exists"),
            StoreError::AlreadySealed(id) => write!(f, "object {id} is already sealed"),
            StoreError::NotSealed(id) => {
                write!(f, "object {id} is not sealed yet (abort a reservation)")
            }
            StoreError::NotPinned(id) => write!(f, "object {id} is not pinned by a get"),
            StoreError::TimedOut(id) => write!(f, "timed out waiting for object {id}"),
            StoreError::Aborted(id) => write!(f, "the reservation of object {id} was aborted"),
            StoreError::NotFreezable(e) => write!(f, "cannot store the value: {e}"),
            StoreError::StoreFull {
                needed,
                capacity,
                used,
            } => write!(
                f,
                "the store is full: {needed} bytes needed, capacity {capacity}, \
                 {used} bytes held by objects that cannot be evicted"
            ),
            StoreError::SpillIo { id, message, .. } => {
                write!(f, "spill file of object {id}: {message}")
            }
            StoreError::Restore { id, error } => {
                write!(f, "cannot restore spilled object {id}: {error}")
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::NotFreezable(e) => Some(e),
            StoreError::Restore { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<FreezeError> for StoreError {
    fn from(e: FreezeError) -> StoreError {
        StoreError::NotFreezable(e)
    }
}
