//! PEP 795 escape hatches: [`SharedField`](Value::shared_field) (one slot of
//! frozen values seen by every worker) and
//! [`InterpreterLocal`](Value::interpreter_local) (one value per worker).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rustc_hash::FxHashMap;

use crate::body::{Body, LocalData, SharedFieldData};
use crate::error::Error;
use crate::freeze::freeze;
use crate::raw::{self, ObjPtr, Slot};
use crate::value::{Ref, Value};

thread_local! {
    static LOCALS: RefCell<FxHashMap<u64, Value>> = RefCell::new(FxHashMap::default());
}

fn frozen_slot(v: Value) -> Result<Slot, Error> {
    match v.slot().obj() {
        Some(p) if !p.is_frozen() => Err(Error::NotFrozen(p.body().type_name())),
        _ => Ok(v.into_slot()),
    }
}

fn field(v: &Value) -> Result<&SharedFieldData, Error> {
    if let Some(p) = v.slot().obj() {
        // SAFETY: `v` keeps the object alive for the returned borrow, and
        // the field's value is only touched through its mutex.
        if let Body::SharedField(sf) = unsafe { p.body_unbounded() } {
            return Ok(sf);
        }
    }
    Err(Error::Type {
        expected: "a SharedField",
        found: v.type_name(),
    })
}

impl Value {
    /// A shared field holding `init`, which is frozen now (as PEP 795's
    /// constructor does). The field itself stays writable after it is
    /// frozen; it only ever holds frozen values.
    pub fn shared_field(init: Value) -> Result<Value, Error> {
        freeze(&[&init])?;
        let slot = frozen_slot(init)?;
        Ok(Value::Obj(Ref::from_owned(raw::alloc(Body::SharedField(
            Box::new(SharedFieldData {
                value: parking_lot::Mutex::new(slot),
            }),
        )))))
    }

    /// The field's current value.
    pub fn field_get(&self) -> Result<Value, Error> {
        let sf = field(self)?;
        let g = sf.value.lock();
        raw::incref_slot(*g);
        Ok(Value::from_slot_owned(*g))
    }

    /// Stores a frozen value (a mutable one is refused and dropped by the
    /// caller unchanged).
    pub fn field_set(&self, v: Value) -> Result<(), Error> {
        let old = self.field_swap(v)?;
        drop(old);
        Ok(())
    }

    /// Stores a frozen value, returning the previous one.
    pub fn field_swap(&self, v: Value) -> Result<Value, Error> {
        let sf = field(self)?;
        let new = frozen_slot(v)?;
        let old = std::mem::replace(&mut *sf.value.lock(), new);
        Ok(Value::from_slot_owned(old))
    }

    /// Stores `new` only if the current value `is` `expected` (identity);
    /// returns whether it did.
    pub fn field_compare_and_swap(&self, expected: &Value, new: Value) -> Result<bool, Error> {
        let sf = field(self)?;
        let new = frozen_slot(new)?;
        let mut g = sf.value.lock();
        if Value::from_slot(*g).is(expected) {
            let old = std::mem::replace(&mut *g, new);
            drop(g);
            raw::decref_slot(old);
            Ok(true)
        } else {
            drop(g);
            raw::decref_slot(new);
            Ok(false)
        }
    }

    /// An interpreter-local field: each worker sees its own value, made on
    /// first access by calling `factory` (a function, called with no
    /// arguments) or, for any other value, starting as that value.
    /// `factory` is frozen now so every worker may call it.
    pub fn interpreter_local(factory: Value) -> Result<Value, Error> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        freeze(&[&factory])?;
        let slot = frozen_slot(factory)?;
        Ok(Value::Obj(Ref::from_owned(raw::alloc(Body::Local(
            Box::new(LocalData {
                id: NEXT.fetch_add(1, Relaxed),
                factory: slot,
            }),
        )))))
    }

    /// This worker's value of an interpreter-local field.
    pub fn local_get(&self) -> Result<Value, Error> {
        let (id, factory) = local(self)?;
        if let Some(v) = LOCALS.with(|l| l.borrow().get(&id).cloned()) {
            return Ok(v);
        }
        let f = Value::from_slot(factory);
        let v = match f.slot().obj().map(|p| p.body()) {
            Some(Body::Function(_)) => f.call(&[])?,
            _ => f,
        };
        LOCALS.with(|l| l.borrow_mut().insert(id, v.clone()));
        Ok(v)
    }

    /// Replaces this worker's value (other workers are unaffected).
    pub fn local_set(&self, v: Value) -> Result<(), Error> {
        let (id, _) = local(self)?;
        let old = LOCALS.with(|l| l.borrow_mut().insert(id, v));
        drop(old);
        Ok(())
    }
}

fn local(v: &Value) -> Result<(u64, Slot), Error> {
    match v.slot().obj().map(|p: ObjPtr| p.body()) {
        Some(Body::Local(l)) => Ok((l.id, l.factory)),
        _ => Err(Error::Type {
            expected: "an InterpreterLocal",
            found: v.type_name(),
        }),
    }
}

/// Drops this worker's interpreter-local values (workers call it when they
/// finish, so the values die with the worker's heap).
pub fn clear_interpreter_locals() {
    let vals = LOCALS
        .try_with(|l| std::mem::take(&mut *l.borrow_mut()))
        .unwrap_or_default();
    drop(vals);
}
