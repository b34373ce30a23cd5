//! The keystone, checked: walks everything reachable from given roots and
//! verifies the invariants the unsafe core relies on (docs/design.md lists
//! them). Used by the property tests, the fuzz targets and after every
//! hook test; cheap enough for users who want to check their own graphs.
//!
//! ```
//! use permafrost_freeze::{diag::check_invariants_exact, freeze, Value};
//! let a = Value::list(vec![]);
//! let b = Value::list(vec![a.clone()]);
//! a.append(b.clone()).unwrap(); // a cycle
//! drop(b);
//! freeze(&[&a]).unwrap();
//! let census = check_invariants_exact(&[&a]).unwrap();
//! assert_eq!((census.objects, census.frozen, census.sccs), (2, 2, 1));
//! ```

use std::fmt;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::core::body::Body;
use crate::core::handle::Value;
use crate::core::heap;
use crate::core::key::{frozenset_hash, Key};
use crate::core::object::{
    ObjPtr, Slot, COMPLETE, FORWARD, FROZEN, HAS_HOOK, MARK, MULTI, ROOT, VISITED,
};
use crate::core::weak::{self, WeakState};

/// What a successful check saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Census {
    /// Objects reachable from the roots.
    pub objects: usize,
    /// Of those, frozen.
    pub frozen: usize,
    /// Frozen strongly connected components among them.
    pub sccs: usize,
    /// Entries of this thread's and the process's weak tables checked.
    pub weak_entries: usize,
}

/// An invariant that does not hold: a bug in this crate (or memory
/// corruption), never a user error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvariantViolation(pub String);

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invariant violated: {}", self.0)
    }
}

impl std::error::Error for InvariantViolation {}

/// Checks the invariants over everything reachable from `roots` and this
/// thread's weak tables; counts are checked as lower bounds (other handles
/// may exist).
///
/// * no frozen object has an edge to a mutable one, and a shared field
///   holds only frozen values;
/// * every frozen object forwards to a representative that is frozen, not
///   forwarding, and reaches every member of its SCC through members (the
///   free loop relies on it); every count is positive and at least the
///   references from outside its SCC;
/// * no walk scratch bit (visited, complete, root, mark) is left set on a
///   mutable object (root and mark on a frozen one); a
///   mutable container is on its heap's container list, a frozen one is
///   not;
/// * a frozen weakref is strong or dead and has no callback; the weak
///   tables hold only live slots: each registered weakref is live, mutable
///   and points back at the referent it is registered under;
/// * every dict, set and frozenset finds each of its keys where it is, and
///   a frozenset's cached hash is that of its members.
pub fn check_invariants(roots: &[&Value]) -> Result<Census, InvariantViolation> {
    check(roots, false)
}

/// [`check_invariants`], with exact counts: the given roots (each as many
/// times as it is passed) must be the only references into the graph from
/// outside it.
pub fn check_invariants_exact(roots: &[&Value]) -> Result<Census, InvariantViolation> {
    check(roots, true)
}

fn check(roots: &[&Value], exact: bool) -> Result<Census, InvariantViolation> {
    let (order, mut incoming) = reachable(roots);
    let tracked = heap::tracked_set();
    let mut census = Census::default();
    let fail = |m: String| InvariantViolation(m);
    for &p in &order {
        census.frozen += usize::from(p.is_frozen());
        check_object(p, &tracked).map_err(fail)?;
        check_edges(p, &mut incoming).map_err(fail)?;
        check_keys(p).map_err(fail)?;
    }
    census.sccs = check_sccs(&order).map_err(fail)?;
    check_counts(&order, &incoming, exact).map_err(fail)?;
    census.objects = order.len();
    census.weak_entries = weak::check_tables(&tracked).map_err(fail)?;
    Ok(census)
}

/// Every object reachable from the roots (representatives included), and
/// one incoming reference per root handle.
fn reachable(roots: &[&Value]) -> (Vec<ObjPtr>, FxHashMap<ObjPtr, usize>) {
    let mut seen: FxHashSet<ObjPtr> = FxHashSet::default();
    let mut order: Vec<ObjPtr> = Vec::new();
    let mut stack: Vec<ObjPtr> = roots.iter().filter_map(|v| v.slot().obj()).collect();
    let mut incoming: FxHashMap<ObjPtr, usize> = FxHashMap::default();
    for r in &stack {
        *incoming.entry(r.rep()).or_default() += 1;
    }
    while let Some(p) = stack.pop() {
        if !seen.insert(p) {
            continue;
        }
        order.push(p);
        if p.is_frozen() && p.flags() & FORWARD != 0 {
            stack.push(p.rep());
        }
        crate::core::payload::for_each_child(p, |c| stack.push(c));
    }
    (order, incoming)
}

/// One object's own state: walk scratch, container list, SCC link, weak
/// table entries.
fn check_object(p: ObjPtr, tracked: &FxHashSet<ObjPtr>) -> Result<(), String> {
    let f = p.flags();
    let kind = p.body().type_name();
    let frozen = p.is_frozen();
    // Walks skip born-frozen objects on the pointer's bit alone: it must
    // agree with the kind, and such an object must be frozen in its flags.
    if p.born_frozen() != p.body().born_frozen() || (p.born_frozen() && f & FROZEN == 0) {
        return Err(format!(
            "{kind} at {p:?}: the pointer's born-frozen bit is {} but the object {}",
            p.born_frozen(),
            if f & FROZEN == 0 {
                "is mutable"
            } else {
                "disagrees by kind"
            }
        ));
    }
    // A frozen object keeps VISITED | COMPLETE from its walk; on a
    // mutable one any walk bit is a walk that did not clean up.
    let scratch = if frozen {
        ROOT | MARK
    } else {
        VISITED | COMPLETE | FORWARD | MULTI | ROOT | MARK
    };
    if f & scratch != 0 {
        return Err(format!("{kind} at {p:?} has walk bits {f:#x} left set"));
    }
    if !frozen && p.header().aux.load(std::sync::atomic::Ordering::Relaxed) != 0 {
        return Err(format!(
            "mutable {kind} at {p:?} has walk scratch left in aux"
        ));
    }
    // A frozen object's hook can never run: the walk that froze it drops
    // it (a stale one leaked what it captured until thread exit).
    let (flagged, hooked) = (f & HAS_HOOK != 0, heap::has_hook(p));
    if (flagged || hooked) && frozen {
        return Err(format!(
            "frozen {kind} at {p:?} still has a pre-freeze hook"
        ));
    }
    if flagged != hooked {
        return Err(format!(
            "{kind} at {p:?}: HAS_HOOK is {flagged} but the hook table {} it",
            if hooked { "holds" } else { "lacks" }
        ));
    }
    let weakref = matches!(p.body(), Body::WeakRef(_));
    if frozen {
        if tracked.contains(&p) {
            return Err(format!("frozen {kind} at {p:?} is on a container list"));
        }
        if f & (FORWARD | MULTI) == FORWARD | MULTI {
            return Err(format!(
                "frozen {kind} at {p:?} forwards but is marked a representative"
            ));
        }
        let rep = p.rep();
        if !rep.is_frozen() || rep.flags() & FORWARD != 0 {
            return Err(format!(
                "frozen {kind} at {p:?} forwards to a non-representative"
            ));
        }
        if weakref {
            let (state, has_cb) = weak::state_of(p);
            if !matches!(state, WeakState::Strong | WeakState::Dead) || has_cb {
                return Err(format!("frozen weakref at {p:?} is still weak ({state:?})"));
            }
        }
    } else {
        if p.body().can_have_children() && !tracked.contains(&p) {
            return Err(format!(
                "mutable {kind} at {p:?} is not on its container list"
            ));
        }
        if weakref {
            if let (WeakState::Local(q), _) = weak::state_of(p) {
                if !weak::registered_local(q, p) {
                    return Err(format!("weakref at {p:?} is missing from the weak table"));
                }
            }
        }
    }
    Ok(())
}

/// Hash tables find each of their keys where it is (a key hashed before
/// its value was final sits in the wrong bucket), and a frozenset's cached
/// hash is its members' hash.
fn check_keys(p: ObjPtr) -> Result<(), String> {
    fn indexed<'a>(
        keys: impl Iterator<Item = &'a Key>,
        at: impl Fn(&Key) -> Option<usize>,
    ) -> bool {
        // A NaN float is the one key unequal to itself (objects are equal
        // to themselves by identity), so no lookup finds it; an immediate's
        // hash never changes, so it cannot sit in a stale bucket either.
        keys.enumerate()
            .all(|(i, k)| matches!(k.0, Slot::Float(x) if x.is_nan()) || at(k) == Some(i))
    }
    let found = match p.body() {
        Body::Dict(d) => {
            let d = d.read(p);
            indexed(d.keys(), |k| d.get_index_of(k))
        }
        Body::DefaultDict(dd) => {
            let d = dd.map.read(p);
            indexed(d.keys(), |k| d.get_index_of(k))
        }
        Body::Set(s) => {
            let s = s.read(p);
            indexed(s.iter(), |k| s.get_index_of(k))
        }
        Body::FrozenSet(f) => {
            let s = f.members.read(p);
            if f.hash.get() != frozenset_hash(&s) {
                return Err(format!("frozenset at {p:?} caches a stale hash"));
            }
            indexed(s.iter(), |k| s.get_index_of(k))
        }
        _ => true,
    };
    if !found {
        let kind = p.body().type_name();
        return Err(format!("{kind} at {p:?} cannot find one of its keys"));
    }
    Ok(())
}

/// The keystone (no frozen-to-mutable edge), and each edge counted into
/// the count it must explain.
fn check_edges(p: ObjPtr, incoming: &mut FxHashMap<ObjPtr, usize>) -> Result<(), String> {
    let frozen = p.is_frozen();
    let kind = p.body().type_name();
    let mut err = None;
    let mut mutable_child = false;
    crate::core::payload::for_each_child(p, |c| {
        mutable_child |= !c.is_frozen();
        if frozen && !c.is_frozen() && err.is_none() {
            err = Some(format!(
                "frozen {kind} at {p:?} points to mutable {} at {c:?}",
                c.body().type_name()
            ));
        }
        let internal = frozen && c.is_frozen() && p.rep() == c.rep();
        if !internal {
            *incoming.entry(c.rep()).or_default() += 1;
        }
    });
    if let Some(e) = err {
        return Err(e);
    }
    if matches!(p.body(), Body::SharedField(_)) && mutable_child {
        return Err(format!("shared field at {p:?} holds a mutable value"));
    }
    Ok(())
}

/// Every SCC's members are exactly what its representative reaches
/// through members; returns how many SCCs there are.
fn check_sccs(order: &[ObjPtr]) -> Result<usize, String> {
    let mut members: FxHashMap<ObjPtr, usize> = FxHashMap::default();
    for &p in order.iter().filter(|p| p.is_frozen()) {
        *members.entry(p.rep()).or_default() += 1;
    }
    for (&rep, &n) in &members {
        let mut inside = FxHashSet::default();
        let mut st = vec![rep];
        inside.insert(rep);
        while let Some(q) = st.pop() {
            crate::core::payload::for_each_child(q, |c| {
                if c.is_frozen() && c.rep() == rep && inside.insert(c) {
                    st.push(c);
                }
            });
        }
        if inside.len() != n {
            return Err(format!(
                "SCC of {rep:?}: {} members reachable from its representative, {n} found",
                inside.len()
            ));
        }
        // The free loop trusts the mark: without it only `rep` is freed.
        if (n > 1) != (rep.flags() & MULTI != 0) {
            return Err(format!(
                "SCC of {rep:?}: {n} members, but the multi-member mark says otherwise"
            ));
        }
    }
    Ok(members.len())
}

/// Each count covers the references from outside (exactly, if `exact`).
fn check_counts(
    order: &[ObjPtr],
    incoming: &FxHashMap<ObjPtr, usize>,
    exact: bool,
) -> Result<(), String> {
    for &p in order {
        if p.is_frozen() && p.flags() & FORWARD != 0 {
            continue;
        }
        let rc = p.count();
        let want = incoming.get(&p).copied().unwrap_or(0);
        if rc == 0 || rc < want || (exact && rc != want) {
            return Err(format!(
                "{} at {p:?} has count {rc}, {want} references from outside{}",
                p.body().type_name(),
                if p.is_frozen() { " its SCC" } else { "" }
            ));
        }
    }
    Ok(())
}
