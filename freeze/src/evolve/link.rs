//! The edges a draft follows and rewrites: list and tuple items, dict
//! values, instance attributes and a cell's contents. Dict keys and set
//! members are hashed and never rewritten; a class, function or module is
//! shared as it is, so nothing inside one is part of a draft.

use crate::core::body::Body;
use crate::core::error::Error;
use crate::core::handle::Value;
use crate::core::object::{self, ObjPtr};
use crate::core::payload::{for_each_edge, Edge};
use crate::core::sym::Sym;

/// Where a child sits in its parent.
#[derive(Clone, Debug)]
pub(crate) enum Link {
    /// Item `i` of a list or tuple.
    Item(usize),
    /// The value under this key of a dict.
    Key(Value),
    /// The value under this `str` key of a dict (found without making a
    /// key object, so reads allocate nothing).
    Str(String),
    /// An instance attribute.
    Attr(Sym),
    /// A cell's contents.
    Cell,
}

/// Whether a draft may copy an object of this kind (the containers whose
/// contents a draft can change).
pub(crate) fn draftable(v: &Value) -> bool {
    v.body().is_some_and(|b| {
        matches!(
            b,
            Body::Tuple(_)
                | Body::List(_)
                | Body::Dict(_)
                | Body::Set(_)
                | Body::Instance(_)
                | Body::Cell(_)
                | Body::Buffer(_)
        )
    })
}

/// The draft link of an edge, if drafts follow it.
pub(crate) fn link_of(e: &Edge) -> Option<Link> {
    Some(match e {
        Edge::Item(i) => Link::Item(*i),
        Edge::Value(k) => Link::Key(Value::from_slot(*k)),
        Edge::Attr(_) | Edge::Inline(..) => Link::Attr(e.attr_name()?),
        Edge::CellContents => Link::Cell,
        _ => return None,
    })
}

/// Calls `f` with every draft edge of `v` that points at an object (not an
/// immediate), unlabelled and uncounted (the cheap form, for scans).
/// Holds a read guard on `v` while it runs: `f` must not write.
pub(crate) fn each_edge(v: &Value, mut f: impl FnMut(&Edge, ObjPtr)) {
    let Some(p) = v.slot().obj() else { return };
    if !draftable(v) {
        return;
    }
    for_each_edge(p, |e, c| {
        if matches!(
            e,
            Edge::Item(_) | Edge::Value(_) | Edge::Attr(_) | Edge::Inline(..) | Edge::CellContents
        ) {
            f(&e, c)
        }
    });
}

/// Calls `f` with every draft edge of `v` that points at an object, with
/// its link and a counted handle. Holds a read guard on `v`.
pub(crate) fn each_child(v: &Value, mut f: impl FnMut(Link, &Value)) {
    each_edge(v, |e, c| {
        if let Some(link) = link_of(e) {
            f(link, &Value::from_slot(object::Slot::Obj(c)));
        }
    });
}

/// The draft edges of `v` and their targets, collected (so the caller may
/// write afterwards).
pub(crate) fn children(v: &Value) -> Vec<(Link, Value)> {
    let mut out = Vec::new();
    each_child(v, |l, c| out.push((l, c.clone())));
    out
}

/// Points `parent`'s edge `link` at `child`. `parent` is mutable (a draft
/// copy or a new object). A tuple is immutable to users, but a draft's own
/// copy of one is rewritten here before it is frozen.
pub(crate) fn set_child(parent: &Value, link: &Link, child: Value) -> Result<(), Error> {
    match link {
        Link::Item(i) => match parent.body() {
            Some(Body::Tuple(t)) => {
                let p = parent.slot().obj().expect("a tuple is an object");
                let old = {
                    let mut t = t.write(p)?;
                    let slot = t.get_mut(*i).ok_or(Error::Index {
                        index: *i as i64,
                        len: 0,
                    })?;
                    std::mem::replace(slot, child.into_slot())
                };
                object::decref_slot(old);
                Ok(())
            }
            _ => parent.set(*i as i64, child),
        },
        Link::Key(k) => parent.set_item(k.clone(), child),
        Link::Str(k) => parent.set_item(Value::str(k), child),
        Link::Attr(s) => parent.setattr(s.as_str(), child),
        Link::Cell => parent.cell_set(child),
    }
}

/// The child at `link` of `parent`, if the edge is still there.
pub(crate) fn get_child(parent: &Value, link: &Link) -> Option<Value> {
    match link {
        Link::Item(i) => parent.get(*i as i64).ok(),
        Link::Key(k) => parent.get_item(k).ok(),
        Link::Str(k) => parent.get_str(k).ok().flatten(),
        Link::Attr(s) => match parent.body() {
            Some(Body::Instance(_)) => own_attrs(parent)
                .into_iter()
                .find(|(n, _)| n == s)
                .map(|e| e.1),
            _ => None,
        },
        Link::Cell => parent.cell_get().ok(),
    }
}

/// An instance's own attributes (not its class's), in order.
pub(crate) fn own_attrs(v: &Value) -> Vec<(Sym, Value)> {
    let Some(p) = v.slot().obj() else {
        return Vec::new();
    };
    match p.body() {
        Body::Instance(i) => crate::model::attrs::pairs(p, i)
            .into_iter()
            .map(|(n, s)| (n, Value::from_slot(s)))
            .collect(),
        _ => Vec::new(),
    }
}
