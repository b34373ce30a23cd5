//! The store's counters, a plain snapshot: its own module so that the
//! state (which fills it) does not import the store's front module.

/// A snapshot of a store's counters: [`Store::stats`](crate::Store::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// The capacity in bytes.
    pub capacity: usize,
    /// Bytes charged: resident objects' estimated sizes, plus room
    /// reserved by puts and restores in progress.
    pub used: usize,
    /// Sealed objects (resident or spilled).
    pub objects: usize,
    /// Reservations not sealed yet.
    pub pending: usize,
    /// Sealed objects in memory.
    pub resident: usize,
    /// Sealed objects on disk only.
    pub spilled: usize,
    /// Objects with at least one pin (deleted ones still pinned included).
    pub pinned: usize,
    /// `get` and `wait` calls blocked right now.
    pub waiting: usize,
    /// Objects dropped to make room (spilling off), ever.
    pub evictions: u64,
    /// Objects written to disk to make room, ever.
    pub spills: u64,
    /// Spilled objects read back, ever.
    pub restores: u64,
}
