//! Capacity: LRU eviction of sealed objects no one has pinned, spilling
//! them to disk (or dropping them, spilling off), and reading spilled
//! objects back.
//!
//! Only entries that are sealed, resident, unpinned and not deleted are in
//! the LRU order (and, spilling on, only those whose graph can be
//! pickled): a pinned object is never a candidate, so it is never evicted.
//! Use is a seal, a restore, or the last release of a pin.

use std::path::{Path, PathBuf};

use parking_lot::MutexGuard;
use permafrost_freeze::Frozen;

use super::error::StoreError;
use super::id::ObjectId;
use super::notify::Notification;
use super::spill::{self, WriteFailure};
use super::state::{Guard, Inner, Slot, State};

/// One eviction step.
enum Step {
    /// An entry left the LRU order; this many bytes came free (0 when it
    /// turned out to be in use, or unspillable).
    Freed(usize),
    /// Nothing is evictable.
    Nothing,
}

fn full(inner: &Inner, st: &State, needed: usize) -> StoreError {
    StoreError::StoreFull {
        needed,
        capacity: inner.capacity,
        used: st.used,
    }
}

/// Reserves `needed` bytes (adds them to `used`), evicting least recently
/// used objects as needed. May release the lock while spilling. Fails with
/// `StoreFull` when every object left is pinned or unspillable.
pub(crate) fn make_room(
    inner: &Inner,
    st: &mut Guard<'_>,
    needed: usize,
) -> Result<(), StoreError> {
    if needed > inner.capacity {
        return Err(full(inner, st, needed));
    }
    loop {
        if st.used.saturating_add(needed) <= inner.capacity {
            st.used += needed;
            return Ok(());
        }
        match evict_one(inner, st)? {
            Step::Freed(_) => {}
            // Another call's spill will free its bytes: wait for it.
            Step::Nothing if st.spilling > 0 => inner.cond.wait(st),
            Step::Nothing => return Err(full(inner, st, needed)),
        }
    }
}

/// Plasma's `evict(bytes)`: evicts least recently used objects until at
/// least `bytes` came free or nothing is left to evict; returns the bytes
/// freed.
pub(crate) fn evict(inner: &Inner, st: &mut Guard<'_>, bytes: usize) -> Result<usize, StoreError> {
    let mut freed = 0;
    while freed < bytes {
        match evict_one(inner, st)? {
            Step::Freed(n) => freed += n,
            Step::Nothing => break,
        }
    }
    Ok(freed)
}

/// Evicts the least recently used evictable entry: drops it (spilling
/// off) or writes its pickle out with the lock released (spilling on).
fn evict_one(inner: &Inner, st: &mut Guard<'_>) -> Result<Step, StoreError> {
    let Some((&tick, &id)) = st.lru.iter().next() else {
        return Ok(Step::Nothing);
    };
    st.lru.remove(&tick);
    let Some(e) = st.entries.get_mut(&id) else {
        return Ok(Step::Freed(0));
    };
    e.lru = None;
    let (gen, size) = (e.gen, e.size);
    if !inner.spill {
        st.remove_entry(id);
        st.evictions += 1;
        st.notifier
            .publish(Notification::Deleted { id, evicted: true });
        return Ok(Step::Freed(size));
    }
    let object = match std::mem::replace(&mut e.slot, Slot::Pending) {
        Slot::Resident(f) => f,
        other => {
            e.slot = other;
            return Ok(Step::Freed(0));
        }
    };
    e.slot = Slot::Spilling(object.clone());
    st.spilling += 1;
    // why: a fresh name for every spill, not per entry: an object spilled,
    // restored and spilled again must not reuse a path whose removal may
    // still be pending.
    st.files += 1;
    let path = inner.dir.file(id, st.files);
    let written = MutexGuard::unlocked(st, || inner.dir.write(id, &path, &object));
    st.spilling -= 1;
    inner.cond.notify_all();
    let done = Spilled {
        id,
        gen,
        size,
        object,
        path,
    };
    finish_spill(st, inner.spill, done, written)
}

/// An object whose pickle was being written with the lock released.
struct Spilled {
    id: ObjectId,
    gen: u64,
    size: usize,
    object: Frozen,
    path: PathBuf,
}

/// Back under the lock after a spill write: drops the in-memory graph if
/// the entry is still the one spilled and nobody pinned it meanwhile.
fn finish_spill(
    st: &mut State,
    spill: bool,
    done: Spilled,
    written: Result<(), WriteFailure>,
) -> Result<Step, StoreError> {
    let Spilled {
        id,
        gen,
        size,
        object,
        path,
    } = done;
    let Some(e) = st
        .entries
        .get_mut(&id)
        .filter(|e| e.gen == gen && matches!(e.slot, Slot::Spilling(_)))
    else {
        // Deleted meanwhile: the delete gave its bytes back.
        st.trash.push(object);
        if written.is_ok() {
            st.dead_files.push(path);
        }
        return Ok(Step::Freed(0));
    };
    let in_memory = std::mem::replace(&mut e.slot, Slot::Resident(object));
    st.trash.push(match in_memory {
        Slot::Spilling(f) => f,
        _ => return Ok(Step::Freed(0)),
    });
    match written {
        Ok(()) if e.pins == 0 => {
            // The store's handle goes; the graph is freed unless someone
            // still holds a handle they no longer pin.
            if let Slot::Resident(f) = std::mem::replace(&mut e.slot, Slot::Spilled(path)) {
                st.trash.push(f);
            }
            e.charged = false;
            st.used -= size;
            st.spills += 1;
            Ok(Step::Freed(size))
        }
        Ok(()) => {
            // Got while it was written: it stays in memory, pinned.
            st.dead_files.push(path);
            Ok(Step::Freed(0))
        }
        Err(WriteFailure::NotPicklable) => {
            e.unspillable = true;
            Ok(Step::Freed(0))
        }
        Err(WriteFailure::Io(err)) => {
            st.settle(id, spill);
            Err(err)
        }
    }
}

/// Reads spilled `id` back into memory (on this thread: unpickle, then
/// freeze), after reserving room for it. Other getters wait meanwhile.
/// Returns `Ok` also when someone else restored or deleted it first: the
/// caller looks again.
pub(crate) fn restore(inner: &Inner, st: &mut Guard<'_>, id: ObjectId) -> Result<(), StoreError> {
    let Some(e) = st.entries.get_mut(&id) else {
        return Ok(());
    };
    let (gen, size) = (e.gen, e.size);
    let path = match std::mem::replace(&mut e.slot, Slot::Pending) {
        Slot::Spilled(p) => p,
        other => {
            e.slot = other;
            return Ok(());
        }
    };
    e.slot = Slot::Restoring(path.clone());
    let back_to_spilled = |st: &mut State| back_to_spilled(inner, st, id, gen, size, &path);
    // why: room first, so a restore never takes the store over capacity.
    if let Err(err) = make_room(inner, st, size) {
        back_to_spilled(st);
        return Err(err);
    }
    // make_room may have let go of the lock: is the entry still ours?
    match st
        .entry(id, gen)
        .filter(|e| matches!(e.slot, Slot::Restoring(_)))
    {
        Some(e) => e.charged = true,
        None => {
            // Deleted meanwhile: the delete left the file to us.
            st.used -= size;
            st.dead_files.push(path);
            return Ok(());
        }
    }
    let restored = MutexGuard::unlocked(st, || spill::read(id, &path));
    inner.cond.notify_all();
    let still_ours = st
        .entry(id, gen)
        .is_some_and(|e| matches!(e.slot, Slot::Restoring(_)));
    match restored {
        Ok(f) if still_ours => {
            if let Some(e) = st.entry(id, gen) {
                e.slot = Slot::Resident(f);
            }
            st.dead_files.push(path);
            st.restores += 1;
            st.settle(id, inner.spill);
            Ok(())
        }
        Ok(f) => {
            // Deleted meanwhile (the delete gave its bytes back).
            st.trash.push(f);
            st.dead_files.push(path);
            Ok(())
        }
        Err(_) if !still_ours => {
            st.dead_files.push(path);
            Ok(())
        }
        Err(err) => {
            back_to_spilled(st);
            Err(err)
        }
    }
}

/// A failed or abandoned restore: the entry (if it is still the one being
/// restored) is spilled again and its reserved room given back.
fn back_to_spilled(
    inner: &Inner,
    st: &mut State,
    id: ObjectId,
    gen: u64,
    size: usize,
    path: &Path,
) {
    match st
        .entry(id, gen)
        .filter(|e| matches!(e.slot, Slot::Restoring(_)))
    {
        Some(e) => {
            if let Slot::Restoring(p) = std::mem::replace(&mut e.slot, Slot::Pending) {
                e.slot = Slot::Spilled(p);
            }
            if e.charged {
                e.charged = false;
                st.used -= size;
            }
        }
        // Deleted while the lock was released: the file is ours to remove.
        None => st.dead_files.push(path.to_path_buf()),
    }
    inner.cond.notify_all();
}
