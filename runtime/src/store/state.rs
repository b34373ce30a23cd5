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
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};
use permafrost_freeze::{freeze, Frozen, Value};

use super::error::StoreError;
use super::evict;
use super::id::ObjectId;
use super::notify::{Notification, Notifier, Subscription};
use super::size::estimate_size;
use super::spill::{self, SpillDir};
use super::StoreStats;

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
struct Watch {
    calls: usize,
    aborts: u64,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) entries: HashMap<ObjectId, Entry>,
    /// Evictable entries (sealed, resident, unpinned) by last use, oldest
    /// first.
    pub(crate) lru: BTreeMap<u64, ObjectId>,
    pub(crate) tick: u64,
    next_gen: u64,
    pub(crate) used: usize,
    /// Spill files named so far (each spill gets a new name).
    pub(crate) files: u64,
    /// Spills in flight (their bytes will come free).
    pub(crate) spilling: usize,
    watches: HashMap<ObjectId, Watch>,
    blocked: usize,
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
enum Look {
    Ready(Frozen),
    Spilled,
    Wait,
}

impl State {
    fn new_entry(&mut self, slot: Slot) -> Entry {
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
    fn is_sealed(&self, id: ObjectId) -> bool {
        self.entries
            .get(&id)
            .is_some_and(|e| !e.deleted && !matches!(e.slot, Slot::Pending))
    }

    fn look(&self, id: ObjectId) -> Look {
        match self.entries.get(&id) {
            Some(e) if !e.deleted => match &e.slot {
                Slot::Resident(f) | Slot::Spilling(f) => Look::Ready(f.clone()),
                Slot::Spilled(_) => Look::Spilled,
                Slot::Pending | Slot::Restoring(_) => Look::Wait,
            },
            _ => Look::Wait,
        }
    }

    fn pin(&mut self, id: ObjectId) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.pins += 1;
            if e.pins == 1 {
                self.lru_remove(id);
            }
        }
    }

    fn unpin(&mut self, id: ObjectId, spill: bool) -> Result<(), StoreError> {
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
    fn insert_sealed(&mut self, id: ObjectId, object: Frozen, size: usize, spill: bool) {
        let mut e = self.new_entry(Slot::Resident(object));
        e.size = size;
        e.charged = true;
        self.entries.insert(id, e);
        self.sealed(id, size, spill);
    }

    /// A seal is complete: the entry may be evicted, subscribers hear of
    /// it.
    fn sealed(&mut self, id: ObjectId, size: usize, spill: bool) {
        self.settle(id, spill);
        self.notifier.publish(Notification::Sealed { id, size });
    }

    /// Records a call waiting on `ids`; returns each id's abort count now.
    fn watch(&mut self, ids: &[ObjectId]) -> Vec<u64> {
        ids.iter()
            .map(|id| {
                let w = self.watches.entry(*id).or_default();
                w.calls += 1;
                w.aborts
            })
            .collect()
    }

    fn unwatch(&mut self, ids: &[ObjectId]) {
        for id in ids {
            if let Some(w) = self.watches.get_mut(id) {
                w.calls -= 1;
                if w.calls == 0 {
                    self.watches.remove(id);
                }
            }
        }
    }

    fn aborted_since(&self, id: ObjectId, seen: u64) -> bool {
        self.watches.get(&id).is_some_and(|w| w.aborts != seen)
    }

    fn fresh_id(&self) -> ObjectId {
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

/// `timeout` from now; `None` (wait forever) when that overflows, as
/// `Duration::MAX` does.
fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Sleeps until woken or `deadline`; true when the deadline passed.
fn sleep(cond: &Condvar, st: &mut Guard<'_>, deadline: Option<Instant>) -> bool {
    st.blocked += 1;
    let timed_out = match deadline {
        Some(d) => cond.wait_until(st, d).timed_out(),
        None => {
            cond.wait(st);
            false
        }
    };
    st.blocked -= 1;
    timed_out
}

/// Freezes `value` (all or nothing) and takes a shareable handle to it.
fn freeze_share(value: &Value) -> Result<Frozen, StoreError> {
    freeze(&[value])?;
    // A value `freeze` accepted is frozen, and `share` refuses only mutable
    // values: this cannot fail (an internal invariant, not an input case).
    Ok(value.share().expect("a value freeze accepted is frozen"))
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

    /// Runs `f` under the lock, then drops what it threw away and removes
    /// dead files with the lock released.
    fn with<R>(&self, f: impl FnOnce(&mut Guard<'_>) -> R) -> R {
        let mut st = self.state.lock();
        let r = f(&mut st);
        let trash = std::mem::take(&mut st.trash);
        let files = std::mem::take(&mut st.dead_files);
        drop(st);
        drop(trash);
        for f in files {
            spill::remove(&f);
        }
        r
    }

    /// Reserves room for `size` bytes, freezes `value` with the lock
    /// released, and hands the lock, the handle and the reservation to
    /// `install`; gives the room back if anything fails.
    fn store_value<R>(
        &self,
        st: &mut Guard<'_>,
        value: &Value,
        size: usize,
        install: impl FnOnce(&mut Guard<'_>, Frozen) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        // why: room first, so a put the store cannot hold leaves the value
        // as it was (not frozen).
        evict::make_room(self, st, size)?;
        let frozen = match MutexGuard::unlocked(st, || freeze_share(value)) {
            Ok(f) => f,
            Err(e) => {
                st.used -= size;
                return Err(e);
            }
        };
        let r = install(st, frozen).inspect_err(|_| st.used -= size)?;
        self.cond.notify_all();
        Ok(r)
    }

    pub(crate) fn put(&self, value: &Value) -> Result<ObjectId, StoreError> {
        let size = estimate_size(value);
        let spill = self.spill;
        self.with(|st| {
            self.store_value(st, value, size, |st, frozen| {
                let id = st.fresh_id();
                st.insert_sealed(id, frozen, size, spill);
                Ok(id)
            })
        })
    }

    pub(crate) fn put_with_id(&self, id: ObjectId, value: &Value) -> Result<(), StoreError> {
        if self.state.lock().entries.contains_key(&id) {
            return Err(StoreError::AlreadyExists(id));
        }
        let size = estimate_size(value);
        let spill = self.spill;
        self.with(|st| {
            self.store_value(st, value, size, |st, frozen| {
                if st.entries.contains_key(&id) {
                    st.trash.push(frozen);
                    return Err(StoreError::AlreadyExists(id));
                }
                st.insert_sealed(id, frozen, size, spill);
                Ok(())
            })
        })
    }

    pub(crate) fn create(&self, id: ObjectId) -> Result<(), StoreError> {
        self.with(|st| {
            if st.entries.contains_key(&id) {
                return Err(StoreError::AlreadyExists(id));
            }
            let e = st.new_entry(Slot::Pending);
            st.entries.insert(id, e);
            Ok(())
        })
    }

    /// The generation of the open reservation under `id`.
    fn pending_gen(st: &State, id: ObjectId) -> Result<u64, StoreError> {
        match st.entries.get(&id) {
            Some(e) if e.deleted => Err(StoreError::UnknownId(id)),
            Some(e) if matches!(e.slot, Slot::Pending) => Ok(e.gen),
            Some(_) => Err(StoreError::AlreadySealed(id)),
            None => Err(StoreError::UnknownId(id)),
        }
    }

    pub(crate) fn seal(&self, id: ObjectId, value: &Value) -> Result<(), StoreError> {
        Self::pending_gen(&self.state.lock(), id)?;
        let size = estimate_size(value);
        let spill = self.spill;
        self.with(|st| {
            let gen = Self::pending_gen(st, id)?;
            self.store_value(st, value, size, |st, frozen| {
                let Some(e) = st.entry(id, gen) else {
                    st.trash.push(frozen);
                    return Err(StoreError::Aborted(id));
                };
                if !matches!(e.slot, Slot::Pending) {
                    st.trash.push(frozen);
                    return Err(StoreError::AlreadySealed(id));
                }
                e.slot = Slot::Resident(frozen);
                e.size = size;
                e.charged = true;
                st.sealed(id, size, spill);
                Ok(())
            })
        })
    }

    pub(crate) fn abort(&self, id: ObjectId) -> Result<(), StoreError> {
        self.with(|st| {
            Self::pending_gen(st, id)?;
            st.remove_entry(id);
            if let Some(w) = st.watches.get_mut(&id) {
                w.aborts += 1;
            }
            self.cond.notify_all();
            Ok(())
        })
    }

    pub(crate) fn get(
        &self,
        ids: &[ObjectId],
        timeout: Duration,
    ) -> Result<Vec<Option<Frozen>>, StoreError> {
        let deadline = deadline(timeout);
        let mut out: Vec<Option<Frozen>> = vec![None; ids.len()];
        let result = self.with(|st| {
            // Watched (for aborts) from the first time something is
            // missing, before the lock is first released: the fast path
            // of a get whose objects are all there touches no watch.
            let mut seen: Option<Vec<u64>> = None;
            let mut last = false;
            let result = 'wait: loop {
                let mut restore = None;
                let mut missing = false;
                for (i, &id) in ids.iter().enumerate() {
                    if out[i].is_some() {
                        continue;
                    }
                    match st.look(id) {
                        Look::Ready(f) => {
                            st.pin(id);
                            out[i] = Some(f);
                        }
                        Look::Spilled => {
                            missing = true;
                            restore.get_or_insert(id);
                        }
                        Look::Wait if seen.as_ref().is_some_and(|s| st.aborted_since(id, s[i])) => {
                            break 'wait Err(StoreError::Aborted(id));
                        }
                        Look::Wait => missing = true,
                    }
                }
                if !missing {
                    break Ok(());
                }
                if seen.is_none() {
                    seen = Some(st.watch(ids));
                }
                if let Some(id) = restore {
                    // Transparent: read it back, then look again.
                    match evict::restore(self, st, id) {
                        Ok(()) => continue,
                        Err(e) => break Err(e),
                    }
                }
                if last {
                    break Ok(());
                }
                // One more look after the deadline, for a seal that came
                // with it.
                last = sleep(&self.cond, st, deadline);
            };
            if seen.is_some() {
                st.unwatch(ids);
            }
            if result.is_err() {
                // All or nothing: give back the pins this call took.
                for (i, &id) in ids.iter().enumerate() {
                    if out[i].take().is_some() {
                        let _ = st.unpin(id, self.spill);
                    }
                }
            }
            result
        });
        result.map(|()| out)
    }

    pub(crate) fn wait(
        &self,
        ids: &[ObjectId],
        num_returns: usize,
        timeout: Duration,
    ) -> Result<(Vec<ObjectId>, Vec<ObjectId>), StoreError> {
        let want = num_returns.min(ids.len());
        let deadline = deadline(timeout);
        self.with(|st| {
            let mut seen: Option<Vec<u64>> = None;
            let mut last = false;
            let result = 'wait: loop {
                let ready = ids.iter().filter(|id| st.is_sealed(**id)).count();
                if ready >= want {
                    break Ok(());
                }
                if let Some(seen) = &seen {
                    for (i, &id) in ids.iter().enumerate() {
                        if !st.is_sealed(id) && st.aborted_since(id, seen[i]) {
                            break 'wait Err(StoreError::Aborted(id));
                        }
                    }
                } else {
                    seen = Some(st.watch(ids));
                }
                if last {
                    break Ok(());
                }
                last = sleep(&self.cond, st, deadline);
            };
            if seen.is_some() {
                st.unwatch(ids);
            }
            result?;
            let (mut ready, mut rest) = (Vec::new(), Vec::new());
            for &id in ids {
                if ready.len() < want && st.is_sealed(id) {
                    ready.push(id);
                } else {
                    rest.push(id);
                }
            }
            Ok((ready, rest))
        })
    }

    pub(crate) fn contains(&self, id: ObjectId) -> bool {
        self.state.lock().is_sealed(id)
    }

    pub(crate) fn delete(&self, id: ObjectId) -> Result<(), StoreError> {
        self.with(|st| {
            let e = match st.entries.get_mut(&id) {
                Some(e) if !e.deleted => e,
                _ => return Err(StoreError::UnknownId(id)),
            };
            if matches!(e.slot, Slot::Pending) {
                return Err(StoreError::NotSealed(id));
            }
            if e.pins > 0 {
                // why: a pinned object's graph is in use; like Plasma, it
                // leaves the namespace now and the memory at its last
                // release (it still counts against the capacity until then).
                e.deleted = true;
            } else {
                st.remove_entry(id);
            }
            st.notifier
                .publish(Notification::Deleted { id, evicted: false });
            Ok(())
        })
    }

    pub(crate) fn release(&self, id: ObjectId) -> Result<(), StoreError> {
        self.with(|st| st.unpin(id, self.spill))
    }

    pub(crate) fn evict(&self, bytes: usize) -> Result<usize, StoreError> {
        self.with(|st| evict::evict(self, st, bytes))
    }

    pub(crate) fn subscribe(&self) -> Subscription {
        self.state.lock().notifier.subscribe()
    }

    pub(crate) fn stats(&self) -> StoreStats {
        let st = self.state.lock();
        let mut s = StoreStats {
            capacity: self.capacity,
            used: st.used,
            waiting: st.blocked,
            evictions: st.evictions,
            spills: st.spills,
            restores: st.restores,
            ..StoreStats::default()
        };
        for e in st.entries.values() {
            if e.pins > 0 {
                s.pinned += 1;
            }
            if e.deleted {
                continue;
            }
            match e.slot {
                Slot::Pending => s.pending += 1,
                Slot::Resident(_) | Slot::Spilling(_) => s.resident += 1,
                Slot::Spilled(_) | Slot::Restoring(_) => s.spilled += 1,
            }
        }
        s.objects = s.resident + s.spilled;
        s
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let st = self.state.get_mut();
        // No call is in flight (each holds a handle): every file left is
        // a spilled object's, or dead.
        for e in st.entries.values() {
            if let Slot::Spilled(p) | Slot::Restoring(p) = &e.slot {
                spill::remove(p);
            }
        }
        for p in st.dead_files.drain(..) {
            spill::remove(&p);
        }
        st.entries.clear();
        st.trash.clear();
        self.dir.remove_if_made();
    }
}
