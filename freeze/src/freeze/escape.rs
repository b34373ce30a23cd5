//! PEP 795 escape hatches: [`SharedField`](Value::shared_field) (one slot of
//! frozen values seen by every worker) and
//! [`InterpreterLocal`](Value::interpreter_local) (one value per worker).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rustc_hash::FxHashMap;

use crate::core::body::{Body, LocalData, SharedFieldData};
use crate::core::error::Error;
use crate::core::handle::{Frozen, Ref, Value};
use crate::core::object::{self, ObjPtr, Slot, NO_FIELDS};
use crate::freeze::walk::freeze;

thread_local! {
    static LOCALS: RefCell<FxHashMap<u64, Value>> = RefCell::new(FxHashMap::default());
}

/// The one admission rule for frozen-only places (a shared field, an
/// interpreter-local factory, [`Value::share`]): what [`is_frozen`]
/// accepts, tuples of frozen values included.
///
/// [`is_frozen`]: crate::is_frozen
pub(crate) fn frozen_slot(v: Value) -> Result<Slot, Error> {
    if !crate::freeze::walk::is_frozen(&v) {
        return Err(Error::NotFrozen(v.type_name()));
    }
    Ok(v.into_slot())
}

/// Serialises stores into shared fields whose value reaches some shared
/// field: only those can close a cycle through fields, and the check and
/// the store must be one step. Stores of field-free values never lock it.
static TOPOLOGY: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Whether storing frozen `v` into frozen field `field` would make `field`
/// reach itself: a cycle of counted references through the field that
/// reference counting could never free. Iterative; objects found to reach
/// no shared field are marked `NO_FIELDS`, which never changes for a
/// frozen object, so each is walked at most once for good.
fn reaches_field(field: ObjPtr, v: Slot) -> bool {
    let Some(start) = v.obj() else { return false };
    let mut seen = rustc_hash::FxHashSet::default();
    let mut stack = vec![start];
    // Values read out of other fields are counted while the walk looks at
    // them: a plain store into such a field (which does not take TOPOLOGY)
    // may replace and release its old value meanwhile.
    let mut held: Vec<Value> = Vec::new();
    let mut any_field = false;
    let mut found = false;
    while let Some(q) = stack.pop() {
        if q == field {
            found = true;
            break;
        }
        if q.flags() & NO_FIELDS != 0 || !seen.insert(q) {
            continue;
        }
        match q.body() {
            Body::SharedField(sf) => {
                any_field = true;
                let inner = {
                    let g = sf.value.lock();
                    object::incref_slot(*g);
                    Value::from_slot_owned(*g)
                };
                stack.extend(inner.slot().obj());
                held.push(inner);
            }
            _ => crate::core::payload::for_each_child(q, |c| stack.push(c)),
        }
    }
    if !found && !any_field {
        for q in seen {
            crate::core::sync::flags_insert(&q.header().flags, NO_FIELDS);
        }
    }
    drop(held);
    found
}

/// Stores `new` into `sf` (of field object `field`) through `store`, after
/// refusing a value that would make the field reach itself.
fn store_checked<R>(
    field: ObjPtr,
    sf: &SharedFieldData,
    new: Slot,
    store: impl FnOnce(&mut Slot, Slot) -> R,
) -> Result<R, Error> {
    let simple = !field.is_frozen() || new.obj().is_none_or(|p| p.flags() & NO_FIELDS != 0);
    let _topology = (!simple).then(|| TOPOLOGY.lock());
    if !simple && reaches_field(field, new) {
        object::decref_slot(new);
        return Err(Error::FieldCycle);
    }
    let mut g = sf.value.lock();
    Ok(store(&mut g, new))
}

fn field(v: &Value) -> Result<(ObjPtr, &SharedFieldData), Error> {
    if let (Some(p), Some(Body::SharedField(sf))) = (v.slot().obj(), v.body()) {
        return Ok((p, sf));
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
        Ok(Value::Obj(Ref::from_owned(object::alloc(
            Body::SharedField(Box::new(SharedFieldData {
                value: parking_lot::Mutex::new(slot),
            })),
        ))))
    }

    /// The field's current value.
    pub fn field_get(&self) -> Result<Value, Error> {
        let (_, sf) = field(self)?;
        let g = sf.value.lock();
        object::incref_slot(*g);
        Ok(Value::from_slot_owned(*g))
    }

    /// Stores a frozen value. A mutable one is refused
    /// ([`Error::NotFrozen`]), and so is a value that reaches this very
    /// field ([`Error::FieldCycle`]: reference counting could never free
    /// the cycle); the field is unchanged then.
    pub fn field_set(&self, v: Value) -> Result<(), Error> {
        let old = self.field_swap(v)?;
        drop(old);
        Ok(())
    }

    /// Stores a frozen value, returning the previous one.
    pub fn field_swap(&self, v: Value) -> Result<Value, Error> {
        let (p, sf) = field(self)?;
        let new = frozen_slot(v)?;
        let old = store_checked(p, sf, new, std::mem::replace)?;
        Ok(Value::from_slot_owned(old))
    }

    /// Stores `new` only if the current value `is` `expected` (identity);
    /// returns whether it did.
    pub fn field_compare_and_swap(&self, expected: &Value, new: Value) -> Result<bool, Error> {
        let (p, sf) = field(self)?;
        let new = frozen_slot(new)?;
        // The counts given up are released after the field's lock.
        let (swapped, release) = store_checked(p, sf, new, |cur, new| {
            if cur.is(expected.slot()) {
                (true, std::mem::replace(cur, new))
            } else {
                (false, new)
            }
        })?;
        object::decref_slot(release);
        Ok(swapped)
    }

    /// An interpreter-local field: each worker sees its own value, made on
    /// first access by calling `factory` (a function, called with no
    /// arguments) or, for any other value, starting as that value.
    /// `factory` is frozen now so every worker may call it.
    pub fn interpreter_local(factory: Value) -> Result<Value, Error> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        freeze(&[&factory])?;
        let slot = frozen_slot(factory)?;
        Ok(Value::Obj(Ref::from_owned(object::alloc(Body::Local(
            Box::new(LocalData {
                id: NEXT.fetch_add(1, Relaxed),
                factory: slot,
            }),
        )))))
    }

    /// This worker's value of an interpreter-local field.
    pub fn local_get(&self) -> Result<Value, Error> {
        let (id, factory) = local(self)?;
        // `try_with`: from a thread-local destructor the table may be gone
        // (a panic there aborts); the value could not be kept, so refuse.
        let found = LOCALS
            .try_with(|l| l.borrow().get(&id).cloned())
            .map_err(|_| Error::thread_exiting("InterpreterLocal"))?;
        if let Some(v) = found {
            return Ok(v);
        }
        let f = Value::from_slot(factory);
        let v = match f.body() {
            Some(Body::Function(_)) => f.call(&[])?,
            _ => f,
        };
        let old = LOCALS
            .try_with(|l| l.borrow_mut().insert(id, v.clone()))
            .map_err(|_| Error::thread_exiting("InterpreterLocal"))?;
        drop(old);
        Ok(v)
    }

    /// Replaces this worker's value (other workers are unaffected).
    pub fn local_set(&self, v: Value) -> Result<(), Error> {
        let (id, _) = local(self)?;
        let old = LOCALS
            .try_with(|l| l.borrow_mut().insert(id, v))
            .map_err(|_| Error::thread_exiting("InterpreterLocal"))?;
        drop(old);
        Ok(())
    }
}

fn local(v: &Value) -> Result<(u64, Slot), Error> {
    match v.body() {
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

impl Value {
    /// A `Send + Sync` handle to this value, if it is an immediate or a
    /// frozen object (a tuple of frozen values counts, as in
    /// [`is_frozen`](crate::is_frozen)). A mutable object is refused (use
    /// the pickle or copy path for those).
    pub fn share(&self) -> Result<Frozen, Error> {
        Ok(Frozen::from_frozen_slot(frozen_slot(self.clone())?))
    }

    /// Like [`share`](Value::share) but consumes the value, handing it back
    /// unchanged when it is not frozen.
    pub fn into_shared(self) -> Result<Frozen, Value> {
        if !crate::freeze::walk::is_frozen(&self) {
            return Err(self);
        }
        Ok(Frozen::from_frozen_slot(self.into_slot()))
    }
}
