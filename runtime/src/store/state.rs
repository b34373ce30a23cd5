//! The store's state under one lock, and the condition variable every
//! blocked call sleeps on.
//!
//! An entry's life: `Pending` (created, not sealed) → `Resident` (sealed,
//! in memory) ⇄ `Spilling` / `Spilled` / `Restoring` (see `evict`), until
//! it is deleted, aborted or evicted. Long work (estimating and freezing a
//! value, pickling, file I/O, freeing a graph) happens with the lock
//! released; whoever takes the lock back checks that the entry is still the
//! one it left (same id, same generation, same state) before finishing.
//!
//! Byte accounting: `used` is the sum of the sizes of the entries marked
//! `charged`. Room is reserved (`evict::make_room`) before a value is
//! frozen or a spilled object read back, then either given to an entry or
//! given back; removing a charged entry gives its bytes back.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use parking_lot::{Condvar, Mutex, MutexGuard};
use permafrost_freeze::Frozen;

use super::error::StoreError;
use super::id::ObjectId;
use super::notify::{Notification, Notifier};
use super::spill::SpillDir;

pub(crate) type Guard<'a> = MutexGuard<'a, State>;

/// Where an entry's object is.
pub(crate) enum Slot {
    /// Reserved by `create`, not sealed yet.
    Pending,
    /// Sealed, in memory.
    Resident(Frozen),
    /// Sealed, in memory, its pickle being written out (gets still see it).
    Spilling(Frozen),
    /// Sealed, only on disk.
    Spilled(PathBuf),
    /// Sealed, being read back by one getter (the others wait).
    Restoring(PathBuf),
}

pub(crate) struct Entry {
    /// Unique per entry, so a call that let go of the lock can tell its
    /// entry from a newer one under the same id.
    pub(crate) gen: u64,
    /// Estimated size (0 until sealed).
    pub(crate) size: usize,
    /// Gets not yet released. A pinned entry is never evicted.
    pub(crate) pins: usize,
    /// `size` is counted in `State::used`.
    pub(crate) charged: bool,
    /// Deleted while pinned: invisible, removed at its last release.
    pub(crate) deleted: bool,
    /// Its graph cannot be pickled, so (spilling on) it is never evicted.
    pub(crate) unspillable: bool,
    /// Its place in the LRU order, while evictable.
    pub(crate) lru: Option<u64>,
    pub(crate) slot: Slot,
}

/// Calls blocked on an id, and how many times it was aborted: a waiter
/// that sees the count change was aborted.
#[derive(Default)]
pub(super) struct Watch {
    pub(super) calls: usize,
    pub(super) aborts: u64,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) entries: HashMap<ObjectId, Entry>,
    /// Evictable entries (sealed, resident, unpinned) by last use, oldest
    /// first.
    pub(crate) lru: BTreeMap<u64, ObjectId>,
    pub(crate) tick: u64,
    pub(super) next_gen: u64,
    pub(crate) used: usize,
    /// Spill files named so far (each spill gets a new name).
    pub(crate) files: u64,
    /// Spills in flight (their bytes will come free).
    pub(crate) spilling: usize,
    pub(super) watches: HashMap<ObjectId, Watch>,
    pub(super) blocked: usize,
    pub(crate) notifier: Notifier,
    /// Handles to drop once the lock is released (freeing a large graph
    /// takes time).
    pub(crate) trash: Vec<Frozen>,
    /// Spill files to remove once the lock is released.
    pub(crate) dead_files: Vec<PathBuf>,
    pub(crate) evictions: u64,
    pub(crate) spills: u64,
    pub(crate) restores: u64,
}

/// What a get finds under an id.
pub(super) enum Look {
    Ready(Frozen),
    Spilled,
    Wait,
}

impl State {
    /// Puts `id` at the young end of the LRU order if it may be evicted.
    pub(crate) fn settle(&mut self, id: ObjectId, spill: bool) {
        self.lru_remove(id);
        let tick = self.tick;
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        let evictable = !e.deleted
            && e.pins == 0
            && matches!(e.slot, Slot::Resident(_))
            && !(spill && e.unspillable);
        if evictable {
            e.lru = Some(tick);
            self.lru.insert(tick, id);
            self.tick += 1;
        }
    }

    pub(crate) fn lru_remove(&mut self, id: ObjectId) {
        if let Some(t) = self.entries.get_mut(&id).and_then(|e| e.lru.take()) {
            self.lru.remove(&t);
        }
    }

    pub(super) fn new_entry(&mut self, slot: Slot) -> Entry {
        self.next_gen += 1;
        Entry {
            gen: self.next_gen,
            size: 0,
            pins: 0,
            charged: false,
            deleted: false,
            unspillable: false,
            lru: None,
            slot,
        }
    }

    /// The entry under `id` if it is generation `gen`.
    pub(crate) fn entry(&mut self, id: ObjectId, gen: u64) -> Option<&mut Entry> {
        self.entries.get_mut(&id).filter(|e| e.gen == gen)
    }

    /// Visible (not deleted) and sealed, wherever it is.
    pub(super) fn is_sealed(&self, id: ObjectId) -> bool {
        self.entries
            .get(&id)
            .is_some_and(|e| !e.deleted && !matches!(e.slot, Slot::Pending))
    }

    pub(super) fn look(&self, id: ObjectId) -> Look {
        match self.entries.get(&id) {
            Some(e) if !e.deleted => match &e.slot {
                Slot::Resident(f) | Slot::Spilling(f) => Look::Ready(f.clone()),
                Slot::Spilled(_) => Look::Spilled,
                Slot::Pending | Slot::Restoring(_) => Look::Wait,
            },
            _ => Look::Wait,
        }
    }

    pub(super) fn pin(&mut self, id: ObjectId) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.pins += 1;
            if e.pins == 1 {
                self.lru_remove(id);
            }
        }
    }

    pub(super) fn unpin(&mut self, id: ObjectId, spill: bool) -> Result<(), StoreError> {
        let e = self.entries.get_mut(&id).ok_or(StoreError::UnknownId(id))?;
        if e.pins == 0 {
            return Err(StoreError::NotPinned(id));
        }
        e.pins -= 1;
        if e.pins == 0 {
            if e.deleted {
                self.remove_entry(id);
            } else {
                self.settle(id, spill);
            }
        }
        Ok(())
    }

    /// Removes an entry, giving back its bytes; its handle and file go to
    /// the trash. A file being read back is the restorer's to remove, a
    /// file being written the spiller's.
    pub(crate) fn remove_entry(&mut self, id: ObjectId) {
        let Some(e) = self.entries.remove(&id) else {
            return;
        };
        if let Some(t) = e.lru {
            self.lru.remove(&t);
        }
        if e.charged {
            self.used -= e.size;
        }
        match e.slot {
            Slot::Resident(f) | Slot::Spilling(f) => self.trash.push(f),
            Slot::Spilled(p) => self.dead_files.push(p),
            Slot::Restoring(_) | Slot::Pending => {}
        }
    }

    /// Stores a sealed object under a new entry (room already reserved).
    pub(super) fn insert_sealed(&mut self, id: ObjectId, object: Frozen, size: usize, spill: bool) {
        let mut e = self.new_entry(Slot::Resident(object));
        e.size = size;
        e.charged = true;
        self.entries.insert(id, e);
        self.sealed(id, size, spill);
    }

    /// A seal is complete: the entry may be evicted, subscribers hear of
    /// it.
    pub(super) fn sealed(&mut self, id: ObjectId, size: usize, spill: bool) {
        self.settle(id, spill);
        self.notifier.publish(Notification::Sealed { id, size });
    }

    /// Records a call waiting on `ids`; returns each id's abort count now.
    pub(super) fn watch(&mut self, ids: &[ObjectId]) -> Vec<u64> {
        ids.iter()
            .map(|id| {
                let w = self.watches.entry(*id).or_default();
                w.calls += 1;
                w.aborts
            })
            .collect()
    }

    pub(super) fn unwatch(&mut self, ids: &[ObjectId]) {
        for id in ids {
            if let Some(w) = self.watches.get_mut(id) {
                w.calls -= 1;
                if w.calls == 0 {
                    self.watches.remove(id);
                }
            }
        }
    }

    pub(super) fn aborted_since(&self, id: ObjectId, seen: u64) -> bool {
        self.watches.get(&id).is_some_and(|w| w.aborts != seen)
    }

    pub(super) fn fresh_id(&self) -> ObjectId {
        loop {
            let id = ObjectId::random();
            if !self.entries.contains_key(&id) {
                return id;
            }
        }
    }
}

/// Everything a [`Store`](crate::Store) handle shares.
pub(crate) struct Inner {
    pub(crate) state: Mutex<State>,
    /// Woken on every seal, abort, and finished spill or restore.
    pub(crate) cond: Condvar,
    pub(crate) capacity: usize,
    pub(crate) spill: bool,
    pub(crate) dir: SpillDir,
}

impl Inner {
    pub(crate) fn new(capacity: usize, spill: bool, dir: Option<PathBuf>) -> Inner {
        Inner {
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            capacity,
            spill,
            dir: SpillDir::new(dir),
        }
    }
}
