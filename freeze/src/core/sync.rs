//! The atomic protocols of shared (frozen) objects, written once over
//! [`AtomicWord`] so that production code runs them on `std` atomics and
//! the loom models below run the very same functions on loom's.
//!
//! * An SCC's count (`Header::rc` of its representative): [`scc_acquire`],
//!   [`scc_release`], and the weak upgrade [`scc_try_upgrade`].
//! * A header's flag word, where bits of a shared object are changed by
//!   more than one thread: [`flags_insert`], [`flags_remove`].
//!
//! Each function is `#[inline]` and generic: after monomorphisation over
//! `AtomicUsize` / `AtomicU32` it is the single atomic instruction (or CAS
//! loop) it wraps.
//!
//! The models run with
//! `RUSTFLAGS="--cfg loom" cargo test -p permafrost-freeze --lib --release sync::models`
//! (see `.ci/loom.sh`).

// Callers: raw.rs (incref / decref_no_free), weak.rs (upgrade, the
// HAS_WEAK mark), ops.rs's ReadGuard (the BORROWED bit), escape.rs (the
// NO_FIELDS mark).

use std::ops::{Add, Not};
use std::sync::atomic::Ordering::{self, Acquire, Relaxed, Release};

/// A plain integer held by an [`AtomicWord`]: a count or a flag word.
pub(crate) trait Word: Copy + Eq + Add<Output = Self> + Not<Output = Self> {
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
}

impl Word for usize {
    const ZERO: usize = 0;
    const ONE: usize = 1;
}

impl Word for u32 {
    const ZERO: u32 = 0;
    const ONE: u32 = 1;
}

/// An atomic integer: the operations the protocols below need, with the
/// meaning (and orderings) of `std::sync::atomic`. Implemented for std's
/// `AtomicUsize` and `AtomicU32`, and in loom builds for loom's.
pub(crate) trait AtomicWord {
    /// The integer it holds.
    type Word: Word;
    /// `load`.
    fn load(&self, order: Ordering) -> Self::Word;
    /// `fetch_add` (wrapping).
    fn fetch_add(&self, v: Self::Word, order: Ordering) -> Self::Word;
    /// `fetch_sub` (wrapping).
    fn fetch_sub(&self, v: Self::Word, order: Ordering) -> Self::Word;
    /// `fetch_or`.
    fn fetch_or(&self, v: Self::Word, order: Ordering) -> Self::Word;
    /// `fetch_and`.
    fn fetch_and(&self, v: Self::Word, order: Ordering) -> Self::Word;
    /// `compare_exchange_weak`.
    fn compare_exchange_weak(
        &self,
        current: Self::Word,
        new: Self::Word,
        success: Ordering,
        failure: Ordering,
    ) -> Result<Self::Word, Self::Word>;
    /// `fence(Acquire)` of the same world as the atomic (std's or loom's).
    fn acquire_fence();
}

/// Implements [`AtomicWord`] by forwarding to the type's inherent methods
/// (`<$atomic>::name` resolves to the inherent method, not the trait's).
macro_rules! atomic_word {
    ($($atomic:ty => $word:ty, $fence:path;)*) => {$(
        impl AtomicWord for $atomic {
            type Word = $word;
            #[inline]
            fn load(&self, order: Ordering) -> $word {
                <$atomic>::load(self, order)
            }
            #[inline]
            fn fetch_add(&self, v: $word, order: Ordering) -> $word {
                <$atomic>::fetch_add(self, v, order)
            }
            #[inline]
            fn fetch_sub(&self, v: $word, order: Ordering) -> $word {
                <$atomic>::fetch_sub(self, v, order)
            }
            #[inline]
            fn fetch_or(&self, v: $word, order: Ordering) -> $word {
                <$atomic>::fetch_or(self, v, order)
            }
            #[inline]
            fn fetch_and(&self, v: $word, order: Ordering) -> $word {
                <$atomic>::fetch_and(self, v, order)
            }
            #[inline]
            fn compare_exchange_weak(
                &self,
                current: $word,
                new: $word,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$word, $word> {
                <$atomic>::compare_exchange_weak(self, current, new, success, failure)
            }
            #[inline]
            fn acquire_fence() {
                $fence(Acquire)
            }
        }
    )*};
}

atomic_word! {
    std::sync::atomic::AtomicUsize => usize, std::sync::atomic::fence;
    std::sync::atomic::AtomicU32 => u32, std::sync::atomic::fence;
}

// loom is a dev-dependency (of `cfg(loom)` builds only), so its impls exist
// only where it can be linked: the crate's own test build.
#[cfg(all(test, loom))]
atomic_word! {
    loom::sync::atomic::AtomicUsize => usize, loom::sync::atomic::fence;
    loom::sync::atomic::AtomicU32 => u32, loom::sync::atomic::fence;
}

/// Adds one reference to a frozen SCC's count.
///
/// Relaxed: the caller already holds a counted reference (or the lock of
/// the slot holding one), so the count cannot reach zero meanwhile, and
/// taking a reference publishes nothing: the payload was published to this
/// thread by whatever gave it the reference (a channel, a mutex). As
/// `Arc::clone`.
#[inline]
pub(crate) fn scc_acquire<A: AtomicWord>(rc: &A) {
    rc.fetch_add(A::Word::ONE, Relaxed);
}

/// Drops one reference to a frozen SCC; true if it was the last, and the
/// caller must now free the SCC.
///
/// Release on every decrement, so each thread's reads of the SCC (and its
/// other writes to the header, e.g. [`flags_insert`] of `HAS_WEAK`) happen
/// before its decrement; the decrement that returns 1 then issues an
/// Acquire fence, which synchronises with all of them (the decrements form
/// one release sequence), so freeing happens after every other thread's
/// last use. Only the last one pays for the fence. As `Arc::drop`.
#[inline]
pub(crate) fn scc_release<A: AtomicWord>(rc: &A) -> bool {
    if rc.fetch_sub(A::Word::ONE, Release) == A::Word::ONE {
        A::acquire_fence();
        true
    } else {
        false
    }
}

/// The weak upgrade: adds one reference to an SCC only while its count is
/// not zero; false if the SCC is dead (its freeing has begun or is due).
///
/// A CAS loop, never a plain increment: a count that reached zero has
/// been claimed by the thread that will free the SCC, and must stay zero.
/// The caller must keep the memory allocated while this runs (weak.rs
/// holds the weak table's lock, which the freeing thread takes to clear
/// the entry before it frees).
///
/// Acquire on the load and on success is what weak.rs's `upgrade` uses. It
/// is more than the protocol needs, since the payload was published to this
/// thread by the weak table's mutex (registration happened under it, after
/// the freeze), and the reads this reference allows are ordered before the
/// free by [`scc_release`]'s Release/Acquire, not by this. It is free on
/// x86 and kept so that adopting this changes nothing.
#[inline]
pub(crate) fn scc_try_upgrade<A: AtomicWord>(rc: &A) -> bool {
    let mut cur = rc.load(Acquire);
    loop {
        if cur == A::Word::ZERO {
            return false;
        }
        match rc.compare_exchange_weak(cur, cur + A::Word::ONE, Acquire, Relaxed) {
            Ok(_) => return true,
            Err(now) => cur = now,
        }
    }
}

/// Sets `bits` in a header's flag word that other threads may change at
/// the same time; returns the previous word.
///
/// Relaxed: what matters is that it is one read-modify-write, so a
/// concurrent [`flags_insert`] / [`flags_remove`] of other bits by another
/// thread is not lost (a load + store, as `ObjPtr::set_flags`, would lose
/// it). No bit of a shared header publishes data by itself: the thread
/// that reads `HAS_WEAK` (the one freeing the SCC) is ordered after the
/// setter by the count ([`scc_release`]); `BORROWED` is only read by the
/// owning thread of a still-mutable object; `NO_FIELDS` states a fact
/// about an immutable graph that its reader can already see.
#[inline]
pub(crate) fn flags_insert<A: AtomicWord>(flags: &A, bits: A::Word) -> A::Word {
    flags.fetch_or(bits, Relaxed)
}

/// Clears `bits` in a header's flag word that other threads may change at
/// the same time; returns the previous word. Relaxed, for the reasons
/// given at [`flags_insert`].
#[inline]
pub(crate) fn flags_remove<A: AtomicWord>(flags: &A, bits: A::Word) -> A::Word {
    flags.fetch_and(!bits, Relaxed)
}

/// Loom models of the protocols above, each explored exhaustively (within
/// loom's default bounds; `LOOM_MAX_PREEMPTIONS` narrows them further).
///
/// An "object" is a loom `UnsafeCell` payload plus its count: freeing it
/// is a write to the payload (`with_mut`) and a bump of its free counter,
/// so loom reports any read that is not ordered before the free, and the
/// free counters show a double free or a leak.
#[cfg(all(test, loom))]
// loom's `UnsafeCell` is `!Sync` like std's, and loom's threads are
// coroutines on one OS thread that need no `Send`: sharing an `Obj` between
// them is the point, and loom checks every access to its cell.
#[allow(clippy::arc_with_non_send_sync)]
mod models {
    use super::*;
    use crate::core::object::{BORROWED, FROZEN, HAS_WEAK, NO_FIELDS};
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};
    use loom::sync::Mutex;
    use loom::thread;
    // Scaffolding, not under test: std's Arc only lets the model's threads
    // share the objects; loom's would add its own count's interleavings.
    use std::sync::Arc;

    const LIVE: u64 = 0x5EED;
    const FREED: u64 = 0xDEAD;

    /// A frozen SCC as the models see it: count, flags, memory, how often
    /// freed. `memory` stands for the whole allocation, header included:
    /// every access to the object's memory other than its two atomics is a
    /// read of it, and the free writes it.
    struct Obj {
        rc: AtomicUsize,
        flags: AtomicU32,
        memory: UnsafeCell<()>,
        state: AtomicU64,
        frees: AtomicUsize,
    }

    impl Obj {
        fn new(rc: usize) -> Obj {
            Obj {
                rc: AtomicUsize::new(rc),
                flags: AtomicU32::new(FROZEN),
                memory: UnsafeCell::new(()),
                state: AtomicU64::new(LIVE),
                frees: AtomicUsize::new(0),
            }
        }

        /// A read of the object's memory (its body, or its header as
        /// `ObjPtr::rep` reads it): the object must not have been freed.
        fn read(&self) {
            // loom records the access itself: a free racing it is reported
            // as a data race; a free ordered before it is seen below.
            self.memory.with(|_| ());
            assert_eq!(self.state.load(Relaxed), LIVE, "read after free");
        }

        /// The free: the write every read must be ordered before.
        fn free(&self) {
            self.memory.with_mut(|_| ());
            self.state.store(FREED, Relaxed);
            self.frees.fetch_add(1, Relaxed);
        }

        /// Drop of a counted reference to an object with no weak entry.
        fn release(&self) {
            if scc_release(&self.rc) {
                self.free();
            }
        }

        fn frees(&self) -> usize {
            self.frees.load(Relaxed)
        }
    }

    /// One object and its entry in the global weak table (weak.rs
    /// `Shared::targets`): `Some` while a weak reference may upgrade.
    struct Weakly {
        obj: Obj,
        table: Mutex<Option<u64>>,
    }

    impl Weakly {
        /// raw.rs `decref` of a frozen object: the thread that drops the
        /// last reference runs `free_scc`, which (the referent having
        /// `HAS_WEAK`) clears the entry under the table lock in
        /// `weak::referent_died`, unlocks, and only then frees.
        fn release(&self) {
            if scc_release(&self.obj.rc) {
                if self.obj.flags.load(Relaxed) & HAS_WEAK != 0 {
                    self.table.lock().unwrap().take();
                }
                self.obj.free();
            }
        }

        /// weak.rs `weak_get` of a shared token: `upgrade` under the table
        /// lock (reading the referent's header, then the CAS), then use the
        /// referent and drop it.
        fn weak_get(&self) -> bool {
            let t = self.table.lock().unwrap();
            let up = t.is_some() && {
                self.obj.read();
                scc_try_upgrade(&self.obj.rc)
            };
            drop(t);
            if up {
                self.obj.read();
                self.release();
            }
            up
        }
    }

    /// Two threads drop the last two references while a third upgrades a
    /// weak reference: exactly one free, the entry is gone, and a
    /// successful upgrade's read is never concurrent with (or after) the
    /// free.
    #[test]
    fn last_drop_races_drop_and_weak_upgrade() {
        loom::model(|| {
            let w = Arc::new(Weakly {
                obj: Obj::new(2),
                table: Mutex::new(Some(1)),
            });
            w.obj.flags.fetch_or(HAS_WEAK, Relaxed);
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let w = w.clone();
                    thread::spawn(move || w.release())
                })
                .collect();
            let c = {
                let w = w.clone();
                thread::spawn(move || w.weak_get())
            };
            for t in threads {
                t.join().unwrap();
            }
            c.join().unwrap();
            assert_eq!(w.obj.frees(), 1);
            assert_eq!(*w.table.lock().unwrap(), None, "dangling weak entry");
        });
    }

    /// A thread holding a reference makes the first weak reference (weak.rs
    /// `weakref_with_callback` on a frozen referent: register the token
    /// under the lock, then `flags_insert(HAS_WEAK)`) and drops its
    /// reference, while another thread drops the other reference and a
    /// third upgrades if it sees the entry. Whoever frees must see
    /// `HAS_WEAK` (the bit is relaxed: the count's Release/Acquire orders
    /// it), or the entry would dangle and a later upgrade would read freed
    /// memory.
    ///
    /// This is the only ordering raw.rs relies on for a flag bit. No code
    /// relies on Release/Acquire of the flag word itself: view.rs never
    /// touches flags (a `View` borrows a frozen graph kept alive by its
    /// handle); `BORROWED` (ops.rs `ReadGuard`) is read only by the owning
    /// thread while the object is mutable; escape.rs's `NO_FIELDS` (read
    /// relaxed by `store_checked`) states a fact about an immutable graph
    /// the reader already sees. So there is no model of a reader acquiring
    /// a bit.
    #[test]
    fn weak_registration_seen_by_last_drop() {
        loom::model(|| {
            let w = Arc::new(Weakly {
                obj: Obj::new(2),
                table: Mutex::new(None),
            });
            let a = {
                let w = w.clone();
                thread::spawn(move || {
                    *w.table.lock().unwrap() = Some(1);
                    flags_insert(&w.obj.flags, HAS_WEAK);
                    w.release();
                })
            };
            let b = {
                let w = w.clone();
                thread::spawn(move || w.release())
            };
            let c = {
                let w = w.clone();
                thread::spawn(move || w.weak_get())
            };
            a.join().unwrap();
            b.join().unwrap();
            c.join().unwrap();
            assert_eq!(w.obj.frees(), 1);
            assert_eq!(*w.table.lock().unwrap(), None, "dangling weak entry");
        });
    }

    /// Negative control for the two models above: with a Relaxed final
    /// decrement and no fence, a reader's use is no longer ordered before
    /// the free, and loom must say so.
    #[test]
    #[should_panic(expected = "Causality violation")]
    fn relaxed_last_drop_is_caught() {
        loom::model(|| {
            let o = Arc::new(Obj::new(2));
            let t = {
                let o = o.clone();
                thread::spawn(move || {
                    o.read();
                    if o.rc.fetch_sub(1, Relaxed) == 1 {
                        o.free();
                    }
                })
            };
            o.read();
            if o.rc.fetch_sub(1, Relaxed) == 1 {
                o.free();
            }
            t.join().unwrap();
        });
    }

    /// Objects of the SharedField model.
    const X: usize = 0;
    const Y: usize = 1;

    /// escape.rs `SharedFieldData`: a mutex holding a counted reference
    /// to one of two objects.
    struct Field {
        objs: [Obj; 2],
        slot: Mutex<usize>,
    }

    impl Field {
        /// `field_get`: lock, take a reference to the current value,
        /// unlock; the caller then reads it and drops it.
        fn get(&self) -> usize {
            let g = self.slot.lock().unwrap();
            self.objs[*g].read(); // `incref` reads the header
            scc_acquire(&self.objs[*g].rc);
            *g
        }

        /// `field_swap` (and `field_set`): replace under the lock; the
        /// returned old value is dropped after the lock is released.
        fn swap(&self, new: usize) -> usize {
            std::mem::replace(&mut *self.slot.lock().unwrap(), new)
        }

        /// `field_compare_and_swap`, holding counted `expected` and `new`.
        fn compare_and_swap(&self, expected: usize, new: usize) -> bool {
            let mut g = self.slot.lock().unwrap();
            // `Value::from_slot(*g).is(expected)`: a temporary reference to
            // the current value, dropped under the lock (never the last:
            // the field holds one).
            scc_acquire(&self.objs[*g].rc);
            let same = *g == expected;
            assert!(!scc_release(&self.objs[*g].rc));
            if same {
                let old = std::mem::replace(&mut *g, new);
                drop(g);
                self.objs[old].release();
                true
            } else {
                drop(g);
                self.objs[new].release();
                false
            }
        }
    }

    /// A get, a swap and a compare-and-swap race on one field. X starts
    /// in the field (count: the field + the CAS caller's `expected`); Y is
    /// held by the swapper and by the CAS caller as `new`. Every object is
    /// freed exactly once, after the field's last value is dropped, and
    /// never read after (or concurrently with) its free.
    #[test]
    fn shared_field_get_swap_cas() {
        loom::model(|| {
            let f = Arc::new(Field {
                objs: [Obj::new(2), Obj::new(2)],
                slot: Mutex::new(X),
            });
            let g = {
                let f = f.clone();
                thread::spawn(move || {
                    let v = f.get();
                    f.objs[v].read();
                    f.objs[v].release();
                })
            };
            let s = {
                let f = f.clone();
                thread::spawn(move || {
                    let old = f.swap(Y);
                    f.objs[old].release();
                })
            };
            let c = {
                let f = f.clone();
                thread::spawn(move || {
                    f.compare_and_swap(X, Y);
                    f.objs[X].release();
                })
            };
            g.join().unwrap();
            s.join().unwrap();
            c.join().unwrap();
            // The field keeps Y whatever the order (both writers store Y).
            assert_eq!(*f.slot.lock().unwrap(), Y);
            assert_eq!(f.objs[X].frees(), 1);
            assert_eq!(f.objs[Y].frees(), 0);
            // The field itself dies: its value's reference is dropped.
            let last = *f.slot.lock().unwrap();
            f.objs[last].release();
            assert_eq!(f.objs[Y].frees(), 1);
        });
    }

    /// Three threads change different bits of one shared flag word: two
    /// insert (weak.rs marking `HAS_WEAK` on a frozen object, escape.rs's
    /// `reaches_field` marking `NO_FIELDS`), one removes (`ReadGuard::drop`
    /// clearing `BORROWED` of an object frozen while it was being read).
    /// No update is lost.
    #[test]
    fn flags_insert_remove_race() {
        loom::model(|| {
            let flags = Arc::new(AtomicU32::new(FROZEN | BORROWED));
            let a = {
                let f = flags.clone();
                thread::spawn(move || flags_insert(&*f, HAS_WEAK))
            };
            let b = {
                let f = flags.clone();
                thread::spawn(move || flags_insert(&*f, NO_FIELDS))
            };
            let c = {
                let f = flags.clone();
                thread::spawn(move || flags_remove(&*f, BORROWED))
            };
            a.join().unwrap();
            b.join().unwrap();
            let removed = c.join().unwrap();
            assert_ne!(removed & BORROWED, 0);
            assert_eq!(flags.load(Relaxed), FROZEN | HAS_WEAK | NO_FIELDS);
        });
    }

    /// Negative control: clearing a bit with a load + store (raw.rs
    /// `ObjPtr::clear_flags`) while another thread inserts one loses the
    /// insert. Why `ReadGuard::drop` must use `flags_remove`, and why
    /// `set_flags` / `clear_flags` must never touch a shared header.
    #[test]
    #[should_panic(expected = "lost")]
    fn plain_store_loses_a_bit() {
        loom::model(|| {
            let flags = Arc::new(AtomicU32::new(FROZEN | BORROWED));
            let a = {
                let f = flags.clone();
                thread::spawn(move || flags_insert(&*f, HAS_WEAK))
            };
            flags.store(flags.load(Relaxed) & !BORROWED, Relaxed);
            a.join().unwrap();
            assert_eq!(flags.load(Relaxed), FROZEN | HAS_WEAK, "lost a bit");
        });
    }
}
