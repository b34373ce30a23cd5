//! Drafts: a mutable working copy of a frozen graph that copies on first
//! write, only what is written and the path to it.
//!
//! A draft keeps one map, original object -> its copy, so two paths to one
//! original reach one copy (aliasing is kept), and a list of *places*: how
//! each [`Node`] was reached (its parent place and the edge), so a write
//! can copy the path above it. Reads create no object.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::core::handle::{Frozen, Value};
use crate::core::payload::for_each_child;
use crate::core::sym::Sym;
use crate::evolve::error::DraftError;
use crate::evolve::link::{get_child, own_attrs, set_child, Link};
use crate::evolve::shallow::shallow_copy;

/// A mutable working copy of a frozen graph, on the current worker.
///
/// Reads see the frozen original. The first write to an object copies that
/// object (shallowly) and the objects on the path from the root to it;
/// every other object stays the very same frozen object. [`commit`]
/// freezes the new objects and returns a new root sharing everything else
/// with the old version, which is unchanged. Dropping a draft abandons it
/// and frees what it copied.
///
/// ```
/// use permafrost_freeze::{freeze, Draft, Value};
///
/// let left = Value::list(vec![1.into()]);
/// let right = Value::list(vec![2.into()]);
/// let root = Value::list(vec![left.clone(), right.clone()]);
/// freeze(&[&root]).unwrap();
/// let v1 = root.share().unwrap();
///
/// let draft = Draft::new(&v1);
/// draft.root().get(0).unwrap().append(3.into()).unwrap();
/// let v2 = draft.commit().unwrap();
///
/// assert_eq!(v1.value().get(0).unwrap().len().unwrap(), 1); // unchanged
/// assert_eq!(v2.value().get(0).unwrap().len().unwrap(), 2);
/// assert!(v2.value().get(1).unwrap().is(&right)); // shared, not copied
/// ```
///
/// A draft holds mutable objects, so it stays on its thread:
///
/// ```compile_fail,E0277
/// use permafrost_freeze::{Draft, Frozen};
/// fn send<T: Send>(_: T) {}
/// fn try_it(f: &Frozen) {
///     send(Draft::new(f));
/// }
/// ```
///
/// [`commit`]: Draft::commit
pub struct Draft {
    pub(crate) base: Frozen,
    pub(crate) st: RefCell<State>,
}

/// The draft's working state.
pub(crate) struct State {
    /// The current root: the base's object, or its copy after a write.
    pub(crate) root: Value,
    /// Original (by id) -> (original, copy). Holding the original keeps
    /// its id from being reused while the draft lives.
    pub(crate) copies: HashMap<usize, (Value, Value)>,
    /// How each node was reached; index 0 is the root.
    places: Vec<Place>,
    /// A copied original was in a cycle: copies may form a mutable cycle
    /// that only the cycle collector frees if the draft is abandoned.
    pub(crate) cyclic: bool,
    /// The base is known to have no aliasing: every draftable object is
    /// reached by exactly one draft edge (see `commit.rs`).
    pub(crate) tree: bool,
}

struct Place {
    parent: Option<usize>,
    /// `None` for the root and for objects reached through a class (which
    /// drafts share and never copy).
    link: Option<Link>,
    obj: Value,
}

impl State {
    /// `v`'s copy if the draft copied it, else `v`.
    pub(crate) fn current(&self, v: &Value) -> Value {
        if let Some(p) = v.slot().obj() {
            if p.is_frozen() {
                if let Some((_, c)) = self.copies.get(&v.id()) {
                    return c.clone();
                }
            }
        }
        v.clone()
    }

    /// Copies `orig` (frozen) into the map and returns the copy.
    pub(crate) fn copy_of(&mut self, orig: &Value) -> Result<Value, DraftError> {
        if let Some((_, c)) = self.copies.get(&orig.id()) {
            return Ok(c.clone());
        }
        let copy = shallow_copy(orig)?;
        self.cyclic |= in_cycle(orig);
        self.copies.insert(orig.id(), (orig.clone(), copy.clone()));
        Ok(copy)
    }

    pub(crate) fn clear_places(&mut self) {
        self.places.truncate(1);
    }
}

/// Whether a frozen object is on a cycle: a member of a strongly connected
/// component always has an edge to a member of the same component.
pub(crate) fn in_cycle(v: &Value) -> bool {
    let Some(p) = v.slot().obj() else {
        return false;
    };
    if !p.is_frozen() {
        return false;
    }
    let rep = p.rep().addr();
    let mut found = false;
    for_each_child(p, |c| found |= c.is_frozen() && c.rep().addr() == rep);
    found
}

impl Draft {
    /// A draft of `base`. Nothing is copied until the first write.
    pub fn new(base: &Frozen) -> Draft {
        Draft::with_shape(base, false)
    }

    /// A draft whose base is known (`tree`) to reach each draftable object
    /// by one edge only, so a commit needs no check for other paths.
    pub(crate) fn with_shape(base: &Frozen, tree: bool) -> Draft {
        let root = base.value();
        Draft {
            base: base.clone(),
            st: RefCell::new(State {
                root: root.clone(),
                copies: HashMap::new(),
                places: vec![Place {
                    parent: None,
                    link: None,
                    obj: root,
                }],
                cyclic: false,
                tree,
            }),
        }
    }

    /// The draft's root.
    pub fn root(&self) -> Node<'_> {
        Node { draft: self, at: 0 }
    }

    /// The frozen version this draft started from.
    pub fn base(&self) -> &Frozen {
        &self.base
    }

    /// How many objects the draft has copied so far.
    pub fn copied(&self) -> usize {
        self.st.borrow().copies.len()
    }

    /// Whether anything was written.
    pub fn is_changed(&self) -> bool {
        !self.st.borrow().copies.is_empty()
    }

    fn push(&self, parent: usize, link: Option<Link>, obj: Value) -> Node<'_> {
        let mut st = self.st.borrow_mut();
        st.places.push(Place {
            parent: Some(parent),
            link,
            obj,
        });
        Node {
            draft: self,
            at: st.places.len() - 1,
        }
    }

    /// The current object at place `at`.
    fn at(&self, at: usize) -> Value {
        let st = self.st.borrow();
        st.current(&st.places[at].obj)
    }

    /// Makes the object at place `at` writable: copies it and every frozen
    /// object on the path above it (up to the first one already copied),
    /// and points each copied parent at its new child.
    fn writable(&self, at: usize) -> Result<Value, DraftError> {
        let mut st = self.st.borrow_mut();
        let st = &mut *st;
        let mut chain = Vec::new();
        let mut i = at;
        loop {
            let cur = st.current(&st.places[i].obj);
            if !cur.slot().obj().is_some_and(|p| p.is_frozen()) {
                break; // mutable (a copy or a new object), or an immediate
            }
            chain.push(i);
            match (st.places[i].parent, &st.places[i].link) {
                (Some(_), None) => return Err(DraftError::SharedPath),
                (Some(p), Some(_)) => i = p,
                (None, _) => break,
            }
        }
        for &i in chain.iter().rev() {
            let orig = st.current(&st.places[i].obj);
            let copy = st.copy_of(&orig)?;
            match (st.places[i].parent, &st.places[i].link) {
                (None, _) => st.root = copy,
                (Some(p), Some(link)) => {
                    let parent = st.current(&st.places[p].obj);
                    if get_child(&parent, link).is_some_and(|c| c.is(&orig)) {
                        set_child(&parent, link, copy)?;
                    }
                }
                (Some(_), None) => return Err(DraftError::SharedPath),
            }
        }
        Ok(st.current(&st.places[at].obj))
    }
}

impl Drop for Draft {
    fn drop(&mut self) {
        let st = self.st.get_mut();
        let cyclic = st.cyclic
            && st
                .copies
                .values()
                .any(|(_, c)| !crate::freeze::walk::is_frozen(c));
        st.places.clear();
        st.copies.clear();
        st.root = Value::None;
        if cyclic {
            // Copies of a cycle's members refer to each other.
            crate::core::heap::collect();
        }
    }
}

/// One object of a draft, reached from its root. Reads see the current
/// state (the original, or the draft's copy once written); writes copy on
/// first use. Every object obtained from a draft behaves as a copy:
/// writing to it never changes the original or another draft.
///
/// A node stands for an object, not for the slot it was reached through,
/// as a Python variable does: after `root.set(0, x)`, a node got earlier
/// from `root.get(0)` still writes to the object it stood for (seen
/// through any other path to it in the new version), never to slot 0.
pub struct Node<'d> {
    draft: &'d Draft,
    at: usize,
}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Node").field(&self.value()).finish()
    }
}

impl<'d> Node<'d> {
    /// The object as the draft sees it now (frozen if not yet written).
    /// Writing through the returned value is allowed only once the draft
    /// copied it; use the node's own writers to copy on write.
    pub fn value(&self) -> Value {
        self.draft.at(self.at)
    }

    fn child(&self, link: Link, v: Value) -> Node<'d> {
        self.draft.push(self.at, Some(link), v)
    }

    /// Item `i` of a list or tuple (negative counts from the end).
    pub fn get(&self, i: i64) -> Result<Node<'d>, DraftError> {
        let v = self.value();
        let len = v.len()?;
        let j = if i < 0 { i + len as i64 } else { i };
        let c = v.get(i)?;
        Ok(self.child(Link::Item(j as usize), c))
    }

    /// The value under `key` of a dict (found without making a key object).
    pub fn get_str(&self, key: &str) -> Result<Node<'d>, DraftError> {
        let c = self
            .value()
            .get_str(key)?
            .ok_or_else(|| crate::core::error::Error::Key(format!("'{key}'")))?;
        Ok(self.child(Link::Str(key.to_string()), c))
    }

    /// The value under `key` of a dict.
    pub fn get_item(&self, key: &Value) -> Result<Node<'d>, DraftError> {
        let v = self.value();
        if v.as_obj().is_some_and(|_| v.type_name() != "dict") {
            return self.get(key.as_int().ok_or(crate::core::error::Error::Type {
                expected: "an int index",
                found: key.type_name(),
            })?);
        }
        let c = v.get_item(key)?;
        Ok(self.child(Link::Key(key.clone()), c))
    }

    /// An attribute. An instance's own attribute can be written through;
    /// one found on its class is shared with the class (drafts never copy
    /// classes), so writing inside it is refused.
    pub fn getattr(&self, name: &str) -> Result<Node<'d>, DraftError> {
        let v = self.value();
        let sym = Sym::new(name);
        if let Some((_, c)) = own_attrs(&v).into_iter().find(|(n, _)| *n == sym) {
            return Ok(self.child(Link::Attr(sym), c));
        }
        let c = v.getattr_sym(sym)?;
        Ok(self.draft.push(self.at, None, c))
    }

    /// This object, made writable (copied if still frozen).
    pub fn writable(&self) -> Result<Value, DraftError> {
        self.draft.writable(self.at)
    }

    /// `l[i] = v` for a list (or a number into a buffer). A tuple's item
    /// can be replaced too: the new version gets a new tuple (the frozen
    /// one never changes, and plain writes to a tuple stay refused).
    pub fn set(&self, i: i64, v: Value) -> Result<(), DraftError> {
        let w = self.writable()?;
        if w.type_name() == "tuple" {
            let len = w.len()?;
            let j = if i < 0 { i + len as i64 } else { i };
            if j < 0 || j >= len as i64 {
                return Err(crate::core::error::Error::Index { index: i, len }.into());
            }
            return Ok(set_child(&w, &Link::Item(j as usize), v)?);
        }
        Ok(w.set(i, v)?)
    }

    /// `d[key] = v` for a dict (an int index for a list).
    pub fn set_item(&self, key: Value, v: Value) -> Result<(), DraftError> {
        Ok(self.writable()?.set_item(key, v)?)
    }

    /// `del d[key]`; returns the value.
    pub fn del_item(&self, key: &Value) -> Result<Value, DraftError> {
        Ok(self.writable()?.del_item(key)?)
    }

    /// `obj.name = v` on an instance.
    pub fn setattr(&self, name: &str, v: Value) -> Result<(), DraftError> {
        Ok(self.writable()?.setattr(name, v)?)
    }

    /// `del obj.name` on an instance.
    pub fn delattr(&self, name: &str) -> Result<(), DraftError> {
        Ok(self.writable()?.delattr(name)?)
    }

    /// `list.append(v)`.
    pub fn append(&self, v: Value) -> Result<(), DraftError> {
        Ok(self.writable()?.append(v)?)
    }

    /// `list.insert(i, v)`.
    pub fn insert(&self, i: i64, v: Value) -> Result<(), DraftError> {
        Ok(self.writable()?.insert(i, v)?)
    }

    /// `list.pop(i)` (the last item if `None`).
    pub fn pop(&self, i: Option<i64>) -> Result<Value, DraftError> {
        Ok(self.writable()?.pop(i)?)
    }

    /// `set.add(v)`.
    pub fn add(&self, v: Value) -> Result<(), DraftError> {
        Ok(self.writable()?.add(v)?)
    }

    /// `set.discard(v)`; returns whether it was there.
    pub fn discard(&self, v: &Value) -> Result<bool, DraftError> {
        Ok(self.writable()?.discard(v)?)
    }

    /// Rebinds a cell.
    pub fn cell_set(&self, v: Value) -> Result<(), DraftError> {
        Ok(self.writable()?.cell_set(v)?)
    }
}
