//! Frozensets being decoded.
//!
//! A frozenset's hash is taken from its members once and cached, so it must
//! not be put into a hash table, or hashed inside a tuple, before its
//! members are final, and none of them may reach it (no frozenset can
//! contain itself, as none can in Python). A stream may still name a
//! frozenset before its members are complete: the encoder opens it first,
//! so that a cycle through an instance or a cell can point back at it.
//!
//! So the decoder gathers a frozenset's members (the encoder writes their
//! exact count in `OpenFrozenSet`) and makes its set only once every tuple
//! and frozenset of the stream opened so far has all its items. It then
//! completes the gathered frozensets members first: a depth-first walk
//! (with an explicit stack) from each through its members, through tuples
//! and frozensets not yet known complete. A walk that comes back to a
//! frozenset on its own path has found one that contains itself, and the
//! stream is refused.
//!
//! Dict and set fills wait for the same moment (the builder defers them
//! while anything hashable is unfinished), so no key is hashed early.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::core::body::Body;
use crate::core::error::{DecodeError, DecodeProblem, Error};
use crate::core::heap::drop_slots;
use crate::core::key::{check_hashable, frozenset_hash, Key};
use crate::core::object::{ObjPtr, Slot};

/// Frozensets of one decode that are not complete yet.
#[derive(Default)]
pub(crate) struct PendingSets {
    /// Members gathered so far, by the frozenset's address: (the count its
    /// `OpenFrozenSet` claimed, the members). A frozenset leaves this map
    /// when it is complete.
    parts: FxHashMap<usize, (usize, Vec<Slot>)>,
    /// Frozensets whose members have all come, in the order they came.
    ready: Vec<ObjPtr>,
    /// Tuples a walk went through: everything they reach is complete (a
    /// tuple's items never change once filled, so this stays true).
    clean: FxHashSet<usize>,
}

fn refuse(msg: &str) -> Error {
    DecodeError::new(DecodeProblem::Invalid(msg.into())).into()
}

impl PendingSets {
    /// A frozenset that will get `want` members.
    pub(crate) fn open(&mut self, p: ObjPtr, want: usize) {
        self.parts.insert(p.addr(), (want, Vec::new()));
    }

    /// Its claimed count and the members gathered so far (handed back with
    /// [`put`](Self::put), or freed by the caller on error).
    pub(crate) fn take(&mut self, p: ObjPtr) -> (usize, Vec<Slot>) {
        self.parts
            .remove(&p.addr())
            .expect("a frozenset being filled")
    }

    /// Hands back what [`take`](Self::take) gave; `true` once all the
    /// members have come (the frozenset then waits in the ready list).
    pub(crate) fn put(&mut self, p: ObjPtr, want: usize, got: Vec<Slot>) -> bool {
        let ready = got.len() == want;
        self.parts.insert(p.addr(), (want, got));
        if ready {
            self.ready.push(p);
        }
        ready
    }

    /// How many frozensets have all their members but no set yet.
    pub(crate) fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// Completes every ready frozenset, members first. The caller calls
    /// this only when they are all that is unfinished in the stream.
    /// Returns how many were completed.
    pub(crate) fn complete_ready(&mut self) -> Result<usize, Error> {
        let roots = std::mem::take(&mut self.ready);
        // Expanded, not yet completed: the walk's current path.
        let mut on_path = FxHashSet::default();
        // (object, its members were pushed).
        let mut stack: Vec<(ObjPtr, bool)> = Vec::new();
        let mut completed = 0;
        for root in &roots {
            stack.push((*root, false));
            while let Some((p, expanded)) = stack.pop() {
                if expanded {
                    on_path.remove(&p.addr());
                    if matches!(p.body(), Body::FrozenSet(_)) {
                        self.complete(p)?;
                        completed += 1;
                    } else {
                        self.clean.insert(p.addr());
                    }
                    continue;
                }
                if !self.unfinished(p) {
                    continue; // reached again by another path, done since
                }
                on_path.insert(p.addr());
                stack.push((p, true));
                let push = |items: &[Slot], stack: &mut Vec<(ObjPtr, bool)>| {
                    for c in items.iter().filter_map(|s| s.obj()) {
                        if on_path.contains(&c.addr()) {
                            return Err(refuse("a frozenset or tuple that contains itself"));
                        }
                        if self.unfinished(c) {
                            stack.push((c, false));
                        }
                    }
                    Ok(())
                };
                match p.body() {
                    Body::FrozenSet(_) => push(&self.parts[&p.addr()].1, &mut stack)?,
                    Body::Tuple(t) => push(&t.read(p), &mut stack)?,
                    _ => unreachable!("unfinished holds only these"),
                }
            }
        }
        debug_assert_eq!(completed, roots.len());
        Ok(completed)
    }

    /// A tuple or frozenset the walk must go through: one whose hash may
    /// still depend on a frozenset without its set.
    fn unfinished(&self, p: ObjPtr) -> bool {
        if p.is_frozen() {
            return false; // shared by a same-process copy: complete long ago
        }
        match p.body() {
            Body::FrozenSet(_) => self.parts.contains_key(&p.addr()),
            Body::Tuple(_) => !self.clean.contains(&p.addr()),
            _ => false,
        }
    }

    /// Makes the frozenset's set from its gathered members, then its hash.
    fn complete(&mut self, p: ObjPtr) -> Result<(), Error> {
        let (_, got) = self.take(p);
        if let Some(e) = got.iter().find_map(|s| check_hashable(*s).err()) {
            drop_slots(got);
            return Err(e);
        }
        let Body::FrozenSet(f) = p.body() else {
            unreachable!("parts holds only frozensets")
        };
        // A fresh object of this decode: its guard is never refused, but
        // if it were, nothing would leak.
        let mut set = match f.members.write(p) {
            Ok(set) => set,
            Err(e) => {
                drop_slots(got);
                return Err(e);
            }
        };
        set.reserve(got.len());
        let mut dup = Vec::new();
        for k in got {
            if !set.insert(Key(k)) {
                dup.push(k);
            }
        }
        f.hash.set(frozenset_hash(&set));
        drop(set);
        drop_slots(dup);
        Ok(())
    }
}

impl Drop for PendingSets {
    fn drop(&mut self) {
        for (_, (_, got)) in self.parts.drain() {
            drop_slots(got);
        }
    }
}
