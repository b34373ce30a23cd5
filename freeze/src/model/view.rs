//! Borrowed reads of frozen graphs: no reference counting at all.
//!
//! Reading a shared frozen graph through [`Value`]s increments and
//! decrements the counts of the objects read, and when several workers read
//! the same objects those atomic updates fight over the same cache lines. A
//! [`View`] borrows instead: a frozen graph never changes, so everything
//! reachable from a handle stays alive as long as the handle does, and a
//! view of it needs no count of its own.

use crate::core::body::Body;
use crate::core::handle::{Frozen, Value};
use crate::core::object::Slot;
use crate::core::payload::Reach;
use crate::core::sym::Sym;

/// A borrowed, uncounted view of a frozen value (or an immediate), valid
/// while the handle it came from lives. `Copy`; free to pass around.
///
/// ```
/// use permafrost_freeze::{freeze, Value};
/// let c = Value::class("Matrix", vec![], vec![]).unwrap();
/// let m = c.instantiate(vec![("data", Value::buffer(vec![1.0, 2.0]))]).unwrap();
/// let batch = Value::list(vec![m]);
/// freeze(&[&batch, &c]).unwrap();
/// let shared = batch.share().unwrap();
/// let v = shared.view();
/// let data = v.get(0).unwrap().getattr("data").unwrap().buffer().unwrap();
/// assert_eq!(data, &[1.0, 2.0]);
/// ```
#[derive(Clone, Copy)]
pub struct View<'a> {
    at: Reach<'a>,
}

impl Frozen {
    /// A borrowed view of this frozen value.
    pub fn view(&self) -> View<'_> {
        View {
            at: Reach::root(self),
        }
    }
}

impl Value {
    /// A borrowed view, if this value is frozen (or an immediate).
    pub fn view(&self) -> Option<View<'_>> {
        Reach::of(self).map(|at| View { at })
    }
}

impl<'a> View<'a> {
    fn obj(&self) -> Option<&'a Body> {
        self.at.body()
    }

    fn child(&self, s: Slot) -> View<'a> {
        View {
            at: self.at.child(s),
        }
    }

    /// A counted handle for this thread.
    pub fn to_value(&self) -> Value {
        Value::from_slot(self.at.slot())
    }

    /// Python-style type name.
    pub fn type_name(&self) -> &'static str {
        match self.at.slot() {
            Slot::Obj(p) => crate::model::ops::type_label(p),
            s => Value::from_slot(s).type_name(),
        }
    }

    /// True for `None`.
    pub fn is_none(&self) -> bool {
        matches!(self.at.slot(), Slot::None)
    }

    /// The int (or bool as int).
    pub fn as_int(&self) -> Option<i64> {
        match self.at.slot() {
            Slot::Int(i) => Some(i),
            Slot::Bool(b) => Some(b as i64),
            _ => None,
        }
    }

    /// The number as `f64`.
    pub fn as_float(&self) -> Option<f64> {
        match self.at.slot() {
            Slot::Int(i) => Some(i as f64),
            Slot::Float(x) => Some(x),
            Slot::Bool(b) => Some(b as i64 as f64),
            _ => None,
        }
    }

    /// The bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self.at.slot() {
            Slot::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The string, for `str`.
    pub fn as_str(&self) -> Option<&'a str> {
        match self.obj()? {
            Body::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, for `bytes`.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self.obj()? {
            Body::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// A buffer's floats, without copying.
    pub fn buffer(&self) -> Option<&'a [f64]> {
        match self.obj()? {
            Body::Buffer(b) => Some(b.frozen(self.at)),
            _ => None,
        }
    }

    fn items(&self) -> Option<&'a [Slot]> {
        match self.obj()? {
            Body::Tuple(t) => Some(t.frozen(self.at)),
            Body::List(l) => Some(l.frozen(self.at)),
            _ => None,
        }
    }

    /// Number of items of a str (bytes), bytes, tuple, list, dict, set or
    /// buffer.
    pub fn len(&self) -> Option<usize> {
        crate::model::ops::body_len(self.at.slot().obj()?)
    }

    /// True when `len()` is zero (`None` when it has no length).
    pub fn is_empty(&self) -> Option<bool> {
        self.len().map(|n| n == 0)
    }

    /// Item `i` of a tuple or list.
    pub fn get(&self, i: usize) -> Option<View<'a>> {
        self.items()?.get(i).map(|s| self.child(*s))
    }

    /// The items of a tuple or list (empty for anything else).
    pub fn iter(&self) -> impl Iterator<Item = View<'a>> + 'a {
        let at = self.at;
        self.items()
            .unwrap_or(&[])
            .iter()
            .map(move |s| View { at: at.child(*s) })
    }

    /// `d[key]` for a dict with a str key.
    pub fn get_str(&self, key: &str) -> Option<View<'a>> {
        match self.obj()? {
            Body::Dict(d) => d
                .frozen(self.at)
                .get(&crate::core::key::Probe::Str(key))
                .map(|s| self.child(*s)),
            _ => None,
        }
    }

    /// Attribute lookup, as [`Value::getattr`] (own attributes, then the
    /// class and its bases).
    pub fn getattr(&self, name: &str) -> Option<View<'a>> {
        self.getattr_sym(Sym::new(name))
    }

    /// [`getattr`](View::getattr) with a pre-interned name.
    pub fn getattr_sym(&self, sym: Sym) -> Option<View<'a>> {
        let p = self.at.slot().obj()?;
        match self.obj()? {
            Body::Instance(i) => {
                let (inline, extra) = i.attrs.frozen_parts(self.at);
                match crate::model::attrs::frozen_get(i.class, inline, extra, sym) {
                    Some(s) => Some(self.child(s)),
                    None => crate::model::ops::class_lookup(i.class, sym).map(|s| self.child(s)),
                }
            }
            Body::Class(_) => crate::model::ops::class_lookup(p, sym).map(|s| self.child(s)),
            _ => None,
        }
    }

    /// Same object (or equal immediate)?
    pub fn is(&self, other: &View<'_>) -> bool {
        match (self.at.slot().obj(), other.at.slot().obj()) {
            (Some(a), Some(b)) => a == b,
            _ => self.to_value().is(&other.to_value()),
        }
    }
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::model::repr::repr(self.at.slot(), usize::MAX))
    }
}
