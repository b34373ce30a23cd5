//! Weak references. To a mutable object: a per-heap table, cleared when the
//! referent dies on its thread. To a frozen object (which may die on any
//! thread): a global table of tokens; upgrading increments the SCC count
//! only while it is non-zero. Inside a graph being frozen a weak reference
//! becomes strong (its referent freezes with it), as PEP 795 specifies.
//!
//! Callbacks run on the thread that registered them: a referent dying on
//! another thread queues the callback for its owner, which runs it in
//! [`run_weak_callbacks`].

use std::cell::RefCell;
use std::sync::OnceLock;
use std::thread::ThreadId;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::core::body::{Body, WeakData, WeakTarget};
use crate::core::error::Error;
use crate::core::handle::{Ref, Value};
use crate::core::object::{self, ObjPtr, Slot, HAS_WEAK};
use crate::core::payload::Payload;
use crate::core::send::SharedPtr;

#[derive(Default)]
struct Shared {
    next: u64,
    /// token -> referent address (None once dead)
    targets: FxHashMap<u64, Option<SharedPtr>>,
    by_referent: FxHashMap<usize, Vec<u64>>,
    /// token -> thread that registered a callback for it
    owners: FxHashMap<u64, ThreadId>,
    /// dead tokens whose callbacks their owner has not run yet
    due: FxHashMap<ThreadId, Vec<u64>>,
}

fn shared() -> &'static Mutex<Shared> {
    static S: OnceLock<Mutex<Shared>> = OnceLock::new();
    S.get_or_init(Default::default)
}

/// This thread's weak-reference bookkeeping, in one thread-local so that
/// its teardown is one step (see `Drop`).
#[derive(Default)]
struct Local {
    /// referent -> weak reference objects (both mutable, on this thread)
    by_referent: FxHashMap<ObjPtr, Vec<ObjPtr>>,
    /// token -> weakref object, for callbacks on frozen referents
    tokens: FxHashMap<u64, ObjPtr>,
    /// callbacks due (callback, weakref) after their referent died here
    due: Vec<(Value, Value)>,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::default());
}

/// Thread teardown: other thread-locals' destructors (the user's included)
/// may still free referents or read weakrefs after this table is gone, so
/// every weakref still registered dies now (`weak_get` says `None`), no
/// new weakref to a mutable object can be registered (creation fails),
/// and this thread's callback tokens leave the process-wide table, so no
/// other thread queues callbacks for a thread that will never run them.
impl Drop for Local {
    fn drop(&mut self) {
        for (_, ws) in self.by_referent.drain() {
            for w in ws {
                set_target(w, WeakTarget::Dead);
            }
        }
        if !self.tokens.is_empty() {
            let me = std::thread::current().id();
            let mut s = shared().lock();
            for tok in self.tokens.keys() {
                s.owners.remove(tok);
            }
            s.due.remove(&me);
        }
        // `due` drops its callbacks and weakrefs here; freeing them only
        // reaches the free loop, which tolerates a missing table.
    }
}

impl Value {
    /// A weak reference to `target` (`weakref.ref(target)`). As in
    /// CPython, a weak reference without a callback is shared: while one
    /// made on this worker is alive and still weak, the same object is
    /// returned again.
    ///
    /// ```
    /// use permafrost_freeze::{getweakrefcount, Value};
    /// let obj = Value::list(vec![]);
    /// let a = Value::weakref(&obj).unwrap();
    /// assert!(Value::weakref(&obj).unwrap().is(&a));
    /// assert_eq!(getweakrefcount(&obj), 1);
    /// ```
    pub fn weakref(target: &Value) -> Result<Value, Error> {
        if let Some(w) = target.slot().obj().and_then(plain_weakref) {
            return Ok(Value::Obj(Ref::from_borrowed(w)));
        }
        Value::weakref_with_callback(target, None)
    }

    /// A weak reference whose `callback(weakref)` runs on this thread after
    /// the referent dies (at the next [`run_weak_callbacks`]).
    pub fn weakref_with_callback(target: &Value, callback: Option<Value>) -> Result<Value, Error> {
        let p = target.slot().obj().ok_or(Error::Type {
            expected: "an object",
            found: target.type_name(),
        })?;
        let has_cb = callback.is_some();
        if !p.is_frozen() && LOCAL.try_with(|_| ()).is_err() {
            return Err(Error::Other(
                "cannot make a weak reference: this thread is exiting".into(),
            ));
        }
        let w = object::alloc(Body::WeakRef(Box::new(WeakData {
            target: Payload::new(WeakTarget::Dead),
            callback: Payload::new(callback.map_or(Slot::None, Value::into_slot)),
        })));
        if p.is_frozen() {
            let tok = register_shared(p, w, has_cb);
            // Mark after registering; the flag is only read when the SCC
            // dies, and a frozen header's flags are otherwise fixed, so a
            // relaxed RMW cannot race with a writer.
            crate::core::sync::flags_insert(&p.header().flags, HAS_WEAK);
            set_target(w, WeakTarget::Shared(tok));
        } else {
            p.set_flags(HAS_WEAK);
            LOCAL.with(|l| l.borrow_mut().by_referent.entry(p).or_default().push(w));
            set_target(w, WeakTarget::Local(p));
        }
        Ok(Value::Obj(Ref::from_owned(w)))
    }

    /// Dereferences a weak reference: the referent, or `None` if it died.
    pub fn weak_get(&self) -> Result<Option<Value>, Error> {
        let p = self.slot().obj().ok_or(Error::Type {
            expected: "a weakref",
            found: self.type_name(),
        })?;
        if !matches!(p.body(), Body::WeakRef(_)) {
            return Err(Error::Type {
                expected: "a weakref",
                found: p.body().type_name(),
            });
        }
        Ok(match t_of(p) {
            WeakTarget::Dead => None,
            WeakTarget::Local(q) | WeakTarget::Strong(q) => Some(Value::Obj(Ref::from_borrowed(q))),
            WeakTarget::Shared(tok) => upgrade(tok).map(|q| Value::Obj(Ref::from_owned(q))),
        })
    }
}

fn t_of(w: ObjPtr) -> WeakTarget {
    let Body::WeakRef(wd) = w.body() else {
        unreachable!("weakrefs only")
    };
    match &*wd.target.read(w) {
        WeakTarget::Dead => WeakTarget::Dead,
        WeakTarget::Local(p) => WeakTarget::Local(*p),
        WeakTarget::Shared(t) => WeakTarget::Shared(*t),
        WeakTarget::Strong(p) => WeakTarget::Strong(*p),
    }
}

fn set_target(w: ObjPtr, t: WeakTarget) {
    let Body::WeakRef(wd) = w.body() else {
        unreachable!("weakrefs only")
    };
    *wd.target
        .write_internal(w)
        .expect("weakref targets change only while mutable") = t;
}

/// A counted pointer to the referent of `tok`, if its SCC is still alive.
fn upgrade(tok: u64) -> Option<ObjPtr> {
    let s = shared().lock();
    let p = (*s.targets.get(&tok)?)?.ptr();
    // The dying thread clears `targets` under this lock before freeing, so
    // `p` is still allocated; only resurrect a count that is not zero.
    crate::core::sync::scc_try_upgrade(&p.rep().header().rc).then_some(p)
}

/// The `__pre_freeze__` of a weakref: become a strong reference. A strong
/// reference has no callback: its referent can no longer die first.
pub(crate) fn strengthen(w: ObjPtr) {
    if w.is_frozen() {
        return;
    }
    drop(Value::from_slot_owned(take_callback(w)));
    match t_of(w) {
        WeakTarget::Local(p) => {
            object::incref(p);
            unlink_local(p, w);
            set_target(w, WeakTarget::Strong(p));
        }
        WeakTarget::Shared(tok) => {
            let t = match upgrade(tok) {
                Some(p) => WeakTarget::Strong(p),
                None => WeakTarget::Dead,
            };
            forget_token(tok);
            set_target(w, t);
        }
        _ => {}
    }
}

/// Takes the (counted) callback out of mutable weakref `w`.
fn take_callback(w: ObjPtr) -> Slot {
    let Body::WeakRef(wd) = w.body() else {
        unreachable!("weakrefs only")
    };
    let mut cb = wd
        .callback
        .write_internal(w)
        .expect("callbacks are taken only while mutable");
    std::mem::replace(&mut *cb, Slot::None)
}

fn has_callback(w: ObjPtr) -> bool {
    let Body::WeakRef(wd) = w.body() else {
        unreachable!("weakrefs only")
    };
    matches!(*wd.callback.read(w), Slot::Obj(_))
}

fn unlink_local(p: ObjPtr, w: ObjPtr) {
    let _ = LOCAL.try_with(|l| {
        let l = &mut l.borrow_mut().by_referent;
        if let Some(v) = l.get_mut(&p) {
            v.retain(|x| *x != w);
            if v.is_empty() {
                l.remove(&p);
            }
        }
    });
}

fn forget_token(tok: u64) {
    let mut s = shared().lock();
    if let Some(Some(sp)) = s.targets.remove(&tok) {
        let addr = sp.ptr().addr();
        if let Some(v) = s.by_referent.get_mut(&addr) {
            v.retain(|t| *t != tok);
            if v.is_empty() {
                s.by_referent.remove(&addr);
            }
        }
    }
    s.owners.remove(&tok);
    drop(s);
    let _ = LOCAL.try_with(|l| l.borrow_mut().tokens.remove(&tok));
}

/// `p` was frozen: its weak references, registered in this thread's table,
/// become tokens in the process-wide table (a frozen object may die on any
/// thread), keeping their callbacks with this thread.
pub(crate) fn referent_froze(p: ObjPtr) {
    for w in take_local(p) {
        let tok = register_shared(p, w, has_callback(w));
        set_target(w, WeakTarget::Shared(tok));
    }
}

/// Registers weakref `w` to frozen `p` in the process-wide table. With a
/// callback, this thread owns the token and finds `w` by it.
fn register_shared(p: ObjPtr, w: ObjPtr, has_cb: bool) -> u64 {
    let tok = {
        let mut s = shared().lock();
        s.next += 1;
        let tok = s.next;
        s.targets.insert(tok, Some(SharedPtr::new(p)));
        s.by_referent.entry(p.addr()).or_default().push(tok);
        if has_cb {
            s.owners.insert(tok, std::thread::current().id());
        }
        tok
    };
    // Every weakref of this thread is found by its token (callbacks run
    // by it; `weakref` and `getweakrefs` find this thread's references).
    let _ = LOCAL.try_with(|l| l.borrow_mut().tokens.insert(tok, w));
    tok
}

/// This thread's weak references to `p`: for a mutable `p` all of them,
/// for a frozen one those made on this thread.
fn weakrefs_here(p: ObjPtr) -> Vec<ObjPtr> {
    if p.flags() & HAS_WEAK == 0 {
        return Vec::new();
    }
    if !p.is_frozen() {
        return LOCAL
            .try_with(|l| l.borrow().by_referent.get(&p).cloned())
            .ok()
            .flatten()
            .unwrap_or_default();
    }
    let toks = shared()
        .lock()
        .by_referent
        .get(&p.addr())
        .cloned()
        .unwrap_or_default();
    LOCAL
        .try_with(|l| {
            let l = l.borrow();
            toks.iter()
                .filter_map(|t| l.tokens.get(t).copied())
                .collect()
        })
        .unwrap_or_default()
}

/// A live, still weak reference to `p` without a callback, made on this
/// thread (the one `weakref(p)` hands out again).
fn plain_weakref(p: ObjPtr) -> Option<ObjPtr> {
    weakrefs_here(p)
        .into_iter()
        .find(|&w| !w.is_frozen() && !has_callback(w))
}

/// `weakref.getweakrefcount(obj)`: how many weak references point at
/// `obj` (for a frozen object, from every worker).
pub fn getweakrefcount(obj: &Value) -> usize {
    let Some(p) = obj.slot().obj() else { return 0 };
    if p.flags() & HAS_WEAK == 0 {
        return 0;
    }
    if p.is_frozen() {
        return shared()
            .lock()
            .by_referent
            .get(&p.addr())
            .map_or(0, Vec::len);
    }
    weakrefs_here(p).len()
}

/// `weakref.getweakrefs(obj)`: the weak references to `obj` this worker
/// can hold (all of them for a mutable object; for a frozen one, those
/// made on this worker: the others are objects of other heaps).
pub fn getweakrefs(obj: &Value) -> Vec<Value> {
    let Some(p) = obj.slot().obj() else {
        return Vec::new();
    };
    weakrefs_here(p)
        .into_iter()
        .map(|w| Value::Obj(Ref::from_borrowed(w)))
        .collect()
}

/// This thread's weak references to mutable `p`, taken out of its table.
fn take_local(p: ObjPtr) -> Vec<ObjPtr> {
    LOCAL
        .try_with(|l| l.borrow_mut().by_referent.remove(&p))
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// A mutable weakref object is being freed on its thread (its callback
/// is an ordinary edge, released by the free loop).
pub(crate) fn weakref_freed(w: ObjPtr) {
    match t_of(w) {
        WeakTarget::Local(p) => unlink_local(p, w),
        WeakTarget::Shared(tok) => forget_token(tok),
        _ => {}
    }
}

/// A frozen weakref is being freed, on any thread. Freezing strengthened
/// it, so it holds no table entry; nothing to do but check that.
pub(crate) fn frozen_weakref_freed(w: ObjPtr) {
    debug_assert!(
        matches!(t_of(w), WeakTarget::Strong(_) | WeakTarget::Dead),
        "a frozen weakref was never strengthened"
    );
}

/// The referent `p` is being freed (on its owner thread if mutable, on
/// any thread if frozen).
pub(crate) fn referent_died(p: ObjPtr) {
    if p.is_frozen() {
        let mut s = shared().lock();
        for tok in s.by_referent.remove(&p.addr()).unwrap_or_default() {
            s.targets.insert(tok, None);
            if let Some(owner) = s.owners.get(&tok).copied() {
                s.due.entry(owner).or_default().push(tok);
            }
        }
        return;
    }
    for w in take_local(p) {
        set_target(w, WeakTarget::Dead);
        if w.count() == 0 {
            // The weakref dies in this same free loop (it is queued): like
            // CPython, a dead weakref's callback is not called. Resurrecting
            // it for the callback would free it twice.
            continue;
        }
        let cb = take_callback(w);
        if let Slot::Obj(_) = cb {
            object::incref(w);
            let due = (Value::from_slot_owned(cb), Value::Obj(Ref::from_owned(w)));
            // Weakrefs to mutable objects exist only while the table
            // does (see `Local`'s teardown), so this always queues.
            let _ = LOCAL.try_with(|l| l.borrow_mut().due.push(due));
        }
    }
}

/// Runs this thread's weakref callbacks whose referents died (here or, for
/// frozen referents, on any thread). Returns how many ran; the first error
/// is returned after all have run.
pub fn run_weak_callbacks() -> Result<usize, Error> {
    let Ok(mut calls) = LOCAL.try_with(|l| std::mem::take(&mut l.borrow_mut().due)) else {
        return Ok(0);
    };
    let me = std::thread::current().id();
    let toks = shared().lock().due.remove(&me).unwrap_or_default();
    for tok in toks {
        let w = LOCAL
            .try_with(|l| l.borrow_mut().tokens.remove(&tok))
            .ok()
            .flatten();
        shared().lock().owners.remove(&tok);
        if let Some(w) = w {
            let cb = take_callback(w);
            if let Slot::Obj(_) = cb {
                calls.push((
                    Value::from_slot_owned(cb),
                    Value::Obj(Ref::from_borrowed(w)),
                ));
            }
        }
    }
    let n = calls.len();
    let mut first_err = None;
    for (cb, w) in calls {
        if let Err(e) = cb.call(&[w]) {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(n), Err)
}

/// A weakref's state, for the invariant checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WeakState {
    Dead,
    Local(ObjPtr),
    Shared(u64),
    Strong,
}

/// The state of weakref `w` and whether it holds a callback.
pub(crate) fn state_of(w: ObjPtr) -> (WeakState, bool) {
    let st = match t_of(w) {
        WeakTarget::Dead => WeakState::Dead,
        WeakTarget::Local(p) => WeakState::Local(p),
        WeakTarget::Shared(t) => WeakState::Shared(t),
        WeakTarget::Strong(_) => WeakState::Strong,
    };
    (st, has_callback(w))
}

/// Whether `w` is registered in this thread's table under `referent`.
pub(crate) fn registered_local(referent: ObjPtr, w: ObjPtr) -> bool {
    LOCAL
        .try_with(|l| {
            l.borrow()
                .by_referent
                .get(&referent)
                .is_some_and(|ws| ws.contains(&w))
        })
        .unwrap_or(false)
}

/// Checks this thread's weak table and the process-wide one: every
/// registered weakref is live (on this heap's container list `tracked`),
/// mutable, and points back where it is registered; every live token names
/// a frozen referent marked `HAS_WEAK`. Returns how many entries it saw.
pub(crate) fn check_tables(tracked: &rustc_hash::FxHashSet<ObjPtr>) -> Result<usize, String> {
    let mut n = 0;
    let local = LOCAL.try_with(|l| {
        let l = l.borrow();
        for (&p, ws) in &l.by_referent {
            if p.is_frozen() || p.flags() & HAS_WEAK == 0 {
                return Err(format!(
                    "weak table lists {p:?}, not a mutable weak referent"
                ));
            }
            for &w in ws {
                n += 1;
                if !tracked.contains(&w) || w.is_frozen() {
                    return Err(format!(
                        "weak table holds {w:?}, not a live mutable weakref"
                    ));
                }
                if !matches!(t_of(w), WeakTarget::Local(q) if q == p) {
                    return Err(format!("weakref {w:?} does not point at {p:?}"));
                }
            }
        }
        for (&tok, &w) in &l.tokens {
            n += 1;
            if !tracked.contains(&w) || w.is_frozen() {
                return Err(format!(
                    "callback token {tok} holds {w:?}, not a live weakref"
                ));
            }
            if !matches!(t_of(w), WeakTarget::Shared(t) if t == tok) {
                return Err(format!("weakref {w:?} does not hold token {tok}"));
            }
        }
        Ok(())
    });
    if let Ok(r) = local {
        r?;
    }
    let s = shared().lock();
    for (&tok, addr) in &s.targets {
        n += 1;
        let Some(sp) = *addr else { continue };
        let p = sp.ptr();
        let addr = p.addr();
        if !p.is_frozen() || p.flags() & HAS_WEAK == 0 {
            return Err(format!(
                "token {tok} names {p:?}, not a frozen weak referent"
            ));
        }
        if !s.by_referent.get(&addr).is_some_and(|v| v.contains(&tok)) {
            return Err(format!("token {tok} is missing from its referent's list"));
        }
    }
    Ok(n)
}

/// The referent of a weakref to a mutable object (on this thread).
pub(crate) fn local_target(w: ObjPtr) -> Option<ObjPtr> {
    match t_of(w) {
        WeakTarget::Local(p) => Some(p),
        _ => None,
    }
}

/// Whether every weakref registered to mutable `p` satisfies `f`.
pub(crate) fn weakrefs_all(p: ObjPtr, mut f: impl FnMut(ObjPtr) -> bool) -> bool {
    LOCAL
        .try_with(|l| {
            l.borrow()
                .by_referent
                .get(&p)
                .is_none_or(|ws| ws.iter().all(|&w| f(w)))
        })
        .unwrap_or(true)
}

/// The weak-table entries of a graph that is moving to another heap.
#[derive(Default)]
pub(crate) struct MovedWeak {
    by_referent: Vec<(ObjPtr, Vec<ObjPtr>)>,
    tokens: Vec<(u64, ObjPtr)>,
}

/// Takes the entries of `objs` (an isolated graph: its weak references
/// point inside it, or at frozen objects) out of this thread's tables.
pub(crate) fn detach_moved(objs: &[ObjPtr]) -> MovedWeak {
    let mut out = MovedWeak::default();
    let _ = LOCAL.try_with(|l| {
        let mut l = l.borrow_mut();
        for &p in objs {
            if p.flags() & HAS_WEAK != 0 {
                if let Some(ws) = l.by_referent.remove(&p) {
                    out.by_referent.push((p, ws));
                }
            }
            if let Body::WeakRef(_) = p.body() {
                if let WeakTarget::Shared(tok) = t_of(p) {
                    if let Some(w) = l.tokens.remove(&tok) {
                        out.tokens.push((tok, w));
                    }
                }
            }
        }
    });
    if !out.tokens.is_empty() {
        // No thread owns these callbacks until the graph is adopted.
        let mut s = shared().lock();
        for (tok, _) in &out.tokens {
            s.owners.remove(tok);
        }
    }
    out
}

/// Installs a moved graph's weak-table entries in this thread's tables;
/// a callback whose frozen referent died while the graph was in transit
/// is queued here.
pub(crate) fn adopt_moved(moved: MovedWeak) {
    if moved.by_referent.is_empty() && moved.tokens.is_empty() {
        return;
    }
    let installed = LOCAL.try_with(|l| {
        let mut l = l.borrow_mut();
        l.by_referent.extend(moved.by_referent.iter().cloned());
        l.tokens.extend(moved.tokens.iter().copied());
    });
    if installed.is_err() {
        // This thread's table is gone: the weakrefs die, as at teardown.
        for (_, ws) in &moved.by_referent {
            for &w in ws {
                set_target(w, WeakTarget::Dead);
            }
        }
        return;
    }
    if !moved.tokens.is_empty() {
        let me = std::thread::current().id();
        let mut s = shared().lock();
        for (tok, _) in &moved.tokens {
            s.owners.insert(*tok, me);
            if matches!(s.targets.get(tok), Some(None)) {
                s.due.entry(me).or_default().push(*tok);
            }
        }
    }
}
