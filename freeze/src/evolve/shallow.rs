//! Shallow copies of frozen objects: a new mutable object of the same kind
//! holding the very same children (frozen, so shared by reference).

use crate::core::body::Body;
use crate::core::handle::{Ref, Value};
use crate::core::object::{alloc, incref_slot};
use crate::core::payload::Payload;
use crate::evolve::error::DraftError;

fn made(body: Body) -> Value {
    Value::Obj(Ref::from_owned(alloc(body)))
}

/// A mutable shallow copy of `v`. Instances keep their class (classes stay
/// shared); anything a draft cannot rebuild is refused by type.
pub(crate) fn shallow_copy(v: &Value) -> Result<Value, DraftError> {
    let refuse = || DraftError::NotDraftable {
        type_name: v.type_name(),
    };
    let Some(body) = v.body() else {
        return Err(refuse());
    };
    let p = v.slot().obj().ok_or_else(refuse)?;
    // Containers: clone the table as it is (stored hashes included, so
    // nothing is rehashed) and count the new references it holds.
    let copy = match body {
        Body::List(l) => {
            let items = l.read(p).clone();
            items.iter().for_each(|s| incref_slot(*s));
            made(Body::List(Payload::new(items)))
        }
        Body::Tuple(t) => {
            let items = t.read(p).clone();
            items.iter().for_each(|s| incref_slot(*s));
            made(Body::Tuple(Payload::new(items)))
        }
        Body::Dict(d) => {
            let map = d.read(p).clone();
            for (k, s) in map.iter() {
                incref_slot(k.0);
                incref_slot(*s);
            }
            made(Body::Dict(Box::new(Payload::new(map))))
        }
        Body::Set(s) => {
            let set = s.read(p).clone();
            set.iter().for_each(|k| incref_slot(k.0));
            made(Body::Set(Box::new(Payload::new(set))))
        }
        Body::Cell(_) => Value::cell(v.cell_get()?),
        Body::Buffer(_) => Value::buffer(v.buffer_to_vec()?),
        Body::Instance(_) => v
            .class_of()?
            .instantiate_syms(crate::evolve::link::own_attrs(v))?,
        _ => return Err(refuse()),
    };
    Ok(copy)
}
