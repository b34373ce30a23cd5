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
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::OnceLock;
use std::thread::ThreadId;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::body::{Body, WeakData, WeakTarget};
use crate::error::Error;
use crate::raw::{self, ObjPtr, Payload, HAS_WEAK};
use crate::value::{Ref, Value};

#[derive(Default)]
struct Shared {
    next: u64,
    /// token -> referent address (None once dead)
    targets: FxHashMap<u64, Option<usize>>,
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

thread_local! {
    /// referent -> weak reference objects (both on this thread)
    static LOCAL: RefCell<FxHashMap<ObjPtr, Vec<ObjPtr>>> = RefCell::new(FxHashMap::default());
    /// weakref object -> callback, for this thread's weak references
    static CALLBACKS: RefCell<FxHashMap<ObjPtr, Value>> = RefCell::new(FxHashMap::default());
    /// token -> weakref object, for callbacks on frozen referents
    static TOKENS: RefCell<FxHashMap<u64, ObjPtr>> = RefCell::new(FxHashMap::default());
    static DUE_LOCAL: RefCell<Vec<(Value, Value)>> = const { RefCell::new(Vec::new()) };
}

impl Value {
    /// A weak reference to `target` (`weakref.ref(target)`).
    pub fn weakref(target: &Value) -> Result<Value, Error> {
        Value::weakref_with_callback(target, None)
    }

    /// A weak reference whose `callback(weakref)` runs on this thread after
    /// the referent dies (at the next [`run_weak_callbacks`]).
    pub fn weakref_with_callback(target: &Value, callback: Option<Value>) -> Result<Value, Error> {
        let p = target.slot().obj().ok_or(Error::Type {
            expected: "an object",
            found: target.type_name(),
        })?;
        let w = raw::alloc(Body::WeakRef(Box::new(WeakData {
            target: Payload::new(WeakTarget::Dead),
        })));
        let has_cb = callback.is_some();
        if let Some(cb) = callback {
            CALLBACKS.with(|c| c.borrow_mut().insert(w, cb));
        }
        if p.is_frozen() {
            let tok = register_shared(p, w, has_cb);
            // Mark after registering; the flag is only read when the SCC
            // dies, and a frozen header's flags are otherwise fixed, so a
            // relaxed RMW cannot race with a writer.
            p.header().flags.fetch_or(HAS_WEAK, Relaxed);
            set_target(w, WeakTarget::Shared(tok));
        } else {
            p.set_flags(HAS_WEAK);
            LOCAL.with(|l| l.borrow_mut().entry(p).or_default().push(w));
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
    // SAFETY: weakref on its owning thread (or frozen); copy out at once.
    match unsafe { wd.target.get() } {
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
    // SAFETY: mutable weakref on its owning thread; no borrow live.
    unsafe { *wd.target.get_mut() = t };
}

/// A counted pointer to the referent of `tok`, if its SCC is still alive.
fn upgrade(tok: u64) -> Option<ObjPtr> {
    let s = shared().lock();
    let addr = (*s.targets.get(&tok)?)?;
    let p = ObjPtr(std::ptr::NonNull::new(addr as *mut raw::ObjBox)?);
    // The dying thread clears `targets` under this lock before freeing, so
    // `p` is still allocated; only resurrect a count that is not zero.
    let rc = &p.rep().header().rc;
    let mut cur = rc.load(Acquire);
    loop {
        if cur == 0 {
            return None;
        }
        match rc.compare_exchange_weak(cur, cur + 1, Acquire, Relaxed) {
            Ok(_) => return Some(p),
            Err(now) => cur = now,
        }
    }
}

/// The `__pre_freeze__` of a weakref: become a strong reference. A strong
/// reference has no callback: its referent can no longer die first.
pub(crate) fn strengthen(w: ObjPtr) {
    let cb = CALLBACKS
        .try_with(|c| c.borrow_mut().remove(&w))
        .ok()
        .flatten();
    drop(cb);
    match t_of(w) {
        WeakTarget::Local(p) => {
            raw::incref(p);
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

fn unlink_local(p: ObjPtr, w: ObjPtr) {
    let _ = LOCAL.try_with(|l| {
        let mut l = l.borrow_mut();
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
    if let Some(Some(addr)) = s.targets.remove(&tok) {
        if let Some(v) = s.by_referent.get_mut(&addr) {
            v.retain(|t| *t != tok);
            if v.is_empty() {
                s.by_referent.remove(&addr);
            }
        }
    }
    s.owners.remove(&tok);
    let _ = TOKENS.try_with(|t| t.borrow_mut().remove(&tok));
}

/// `p` was frozen: its weak references, registered in this thread's table,
/// become tokens in the process-wide table (a frozen object may die on any
/// thread), keeping their callbacks with this thread.
pub(crate) fn referent_froze(p: ObjPtr) {
    for w in take_local(p) {
        let has_cb = CALLBACKS.with(|c| c.borrow().contains_key(&w));
        let tok = register_shared(p, w, has_cb);
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
        s.targets.insert(tok, Some(p.addr()));
        s.by_referent.entry(p.addr()).or_default().push(tok);
        if has_cb {
            s.owners.insert(tok, std::thread::current().id());
        }
        tok
    };
    if has_cb {
        TOKENS.with(|t| t.borrow_mut().insert(tok, w));
    }
    tok
}

/// This thread's weak references to mutable `p`, taken out of its table.
fn take_local(p: ObjPtr) -> Vec<ObjPtr> {
    LOCAL
        .try_with(|l| l.borrow_mut().remove(&p))
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// A weakref object is being freed.
pub(crate) fn weakref_freed(w: ObjPtr) {
    match t_of(w) {
        WeakTarget::Local(p) => unlink_local(p, w),
        WeakTarget::Shared(tok) => forget_token(tok),
        _ => {}
    }
    let cb = CALLBACKS
        .try_with(|c| c.borrow_mut().remove(&w))
        .ok()
        .flatten();
    drop(cb);
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
        if let Some(cb) = CALLBACKS
            .try_with(|c| c.borrow_mut().remove(&w))
            .ok()
            .flatten()
        {
            raw::incref(w);
            let _ =
                DUE_LOCAL.try_with(|d| d.borrow_mut().push((cb, Value::Obj(Ref::from_owned(w)))));
        }
    }
}

/// Runs this thread's weakref callbacks whose referents died (here or, for
/// frozen referents, on any thread). Returns how many ran; the first error
/// is returned after all have run.
pub fn run_weak_callbacks() -> Result<usize, Error> {
    let mut calls: Vec<(Value, Value)> = DUE_LOCAL.with(|d| std::mem::take(&mut *d.borrow_mut()));
    let me = std::thread::current().id();
    let toks = shared().lock().due.remove(&me).unwrap_or_default();
    for tok in toks {
        let w = TOKENS.with(|t| t.borrow_mut().remove(&tok));
        shared().lock().owners.remove(&tok);
        if let Some(w) = w {
            if let Some(cb) = CALLBACKS.with(|c| c.borrow_mut().remove(&w)) {
                calls.push((cb, Value::Obj(Ref::from_borrowed(w))));
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
