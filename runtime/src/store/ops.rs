//! The store's operations on its state: put, seal, get, wait, delete,
//! release, evict, stats. Long work runs with the lock released (see
//! `state`); making room and restoring are `evict`'s.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, MutexGuard};
use permafrost_freeze::{freeze, Frozen, Value};

use super::error::StoreError;
use super::evict;
use super::id::ObjectId;
use super::notify::{Notification, Subscription};
use super::size::estimate_size;
use super::spill;
use super::state::{Guard, Inner, Look, Slot, State};
use super::stats::StoreStats;

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
            let result = loop {
                let (missing, restore) = match take_ready(st, ids, &mut out, seen.as_deref()) {
                    Ok(pass) => pass,
                    Err(e) => break Err(e),
                };
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

/// One pass of a get over the `ids` not taken yet: pins and takes what is
/// ready into `out`. Gives whether something is still missing and the
/// first spilled id to restore, or the abort of an id watched since
/// `seen`.
fn take_ready(
    st: &mut State,
    ids: &[ObjectId],
    out: &mut [Option<Frozen>],
    seen: Option<&[u64]>,
) -> Result<(bool, Option<ObjectId>), StoreError> {
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
            Look::Wait if seen.is_some_and(|s| st.aborted_since(id, s[i])) => {
                return Err(StoreError::Aborted(id));
            }
            Look::Wait => missing = true,
        }
    }
    Ok((missing, restore))
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
