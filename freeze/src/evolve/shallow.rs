//! Shallow copies of frozen objects: a new mutable object of the same kind
//! holding the very same children (frozen, so shared by reference).

use crate::core::body::Body;
use crate::core::handle::Value;
use crate::evolve::error::DraftError;

/// A mutable shallow copy of `v`. Instances keep their class (classes stay
/// shared); anything a draft cannot rebuild is refused by type.
pub(crate) fn shallow_copy(v: &Value) -> Result<Value, DraftError> {
    let refuse = || DraftError::NotDraftable {
        type_name: v.type_name(),
    };
    let Some(body) = v.body() else {
        return Err(refuse());
    };
    let copy = match body {
        Body::List(_) => Value::list(v.to_vec()?),
        Body::Tuple(_) => Value::tuple(v.to_vec()?),
        Body::Dict(_) => Value::dict_from(v.items()?)?,
        Body::Set(_) => Value::set_from(v.to_vec()?)?,
        Body::Cell(_) => Value::cell(v.cell_get()?),
        Body::Buffer(_) => Value::buffer(v.buffer_to_vec()?),
        Body::Instance(_) => v
            .class_of()?
            .instantiate_syms(crate::evolve::link::own_attrs(v))?,
        _ => return Err(refuse()),
    };
    Ok(copy)
}
