//! Committing a draft: point every reference at the copies, make sure no
//! path the user never walked still reaches an original that was copied,
//! and freeze exactly the new objects.
//!
//! # The other-paths problem
//!
//! A write copies the path from the root to the object it changes. If the
//! same original is also referenced by an object the draft did not copy (a
//! second path the user never walked), that object must be copied too and
//! pointed at the copy, or the new version would see the old and the new
//! object at once. Finding such parents needs the old graph's reverse
//! edges, so it is avoided whenever it is provably unnecessary:
//!
//! 1. the draft's base is known to be a *tree* (each draftable object is
//!    reached by one draft edge; a [`Revisions`](crate::Revisions) entry
//!    tracks this from version to version), or
//! 2. every copied original's reference count equals the references the
//!    draft accounts for (edges from other copied originals and the
//!    draft's own handle), so nothing else anywhere refers to it. Objects on
//!    cycles never pass this test (their count lives on the component).
//!
//! Otherwise the commit walks the new version's frozen part once (O(n)
//! objects, a hash map of reverse edges) and copies every parent of a
//! copied original, up to the root.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::core::handle::{Frozen, Value};
use crate::core::object::Slot;
use crate::core::payload::for_each_child;
use crate::evolve::draft::{in_cycle, Draft, State};
use crate::evolve::error::DraftError;
use crate::evolve::link::{draftable, each_edge, link_of, set_child, Link};
use crate::freeze::walk::freeze;

/// What a commit did ([`Draft::commit_report`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct CommitReport {
    /// Objects copied (and frozen) by this version.
    pub(crate) copied: usize,
    /// Whether the commit had to walk the whole graph for other paths.
    pub(crate) walked: bool,
    /// The new version is known to be a tree (see the module doc).
    pub(crate) tree: bool,
}

/// A commit failed; the draft comes back unchanged, so nothing is lost.
pub struct CommitError {
    /// Why.
    pub error: DraftError,
    draft: Box<Draft>,
}

impl CommitError {
    pub(crate) fn new(error: DraftError, draft: Draft) -> Self {
        CommitError {
            error,
            draft: Box::new(draft),
        }
    }

    /// The draft, to fix and commit again (or drop).
    pub fn into_draft(self) -> Draft {
        *self.draft
    }
}

impl fmt::Debug for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommitError")
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for CommitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl CommitReport {
    /// Objects the new version added: the copies (and nothing else; new
    /// objects the closure made are not counted).
    pub fn copied(&self) -> usize {
        self.copied
    }
    /// Whether the commit had to walk the whole graph to find paths to a
    /// copied object that the draft never walked (module doc of `commit`).
    pub fn walked_graph(&self) -> bool {
        self.walked
    }
}

fn is_frozen_obj(v: &Value) -> bool {
    v.slot().obj().is_some_and(|p| p.is_frozen())
}

pub(crate) fn commit(draft: Draft) -> Result<(Frozen, CommitReport), CommitError> {
    match prepare(&draft) {
        Ok(None) => {
            let tree = draft.st.borrow().tree;
            Ok((
                draft.base.clone(),
                CommitReport {
                    tree,
                    ..CommitReport::default()
                },
            ))
        }
        Ok(Some((root, info))) => match freeze(&[&root]) {
            Ok(()) => {
                let f = root.share().expect("frozen just now");
                Ok((f, info))
            }
            Err(e) => Err(CommitError::new(DraftError::Freeze(Box::new(e)), draft)),
        },
        Err(e) => Err(CommitError::new(e, draft)),
    }
}

/// Everything before the freeze: the new root and what was done, or `None`
/// if nothing was written.
fn prepare(draft: &Draft) -> Result<Option<(Value, CommitReport)>, DraftError> {
    let mut st = draft.st.borrow_mut();
    if st.copies.is_empty() {
        return Ok(None);
    }
    st.clear_places();
    let root = st.root.clone();
    let mut shape = Shape::default();
    let track = st.tree && !st.cyclic;
    redirect(&root, &st, track.then_some(&mut shape))?;
    let mut walked = false;
    if !st.tree && !accounted(&st, &draft.base) {
        other_paths(&root, &mut st)?;
        redirect(&root, &st, None)?;
        walked = true;
    }
    let tree = track && !walked && shape.is_tree(&root, &st);
    Ok(Some((
        root,
        CommitReport {
            copied: st.copies.len(),
            walked,
            tree,
        },
    )))
}

/// In-degrees of draftable objects among the new objects' edges.
#[derive(Default)]
struct Shape {
    indeg: HashMap<usize, u32>,
    frozen: Vec<usize>,
}

impl Shape {
    fn edge(&mut self, target: &Value) {
        if !draftable(target) {
            return;
        }
        let n = self.indeg.entry(target.id()).or_insert(0);
        *n += 1;
        if *n == 1 && is_frozen_obj(target) {
            self.frozen.push(target.id());
        }
    }

    /// Whether the new version is a tree, given that the base was: every
    /// draftable target is referenced once, and every frozen one was a
    /// child of a copied original (whose one reference the copy replaced).
    fn is_tree(&self, root: &Value, st: &State) -> bool {
        if self.indeg.contains_key(&root.id()) || self.indeg.values().any(|&n| n != 1) {
            return false;
        }
        let mut old_kids = HashSet::new();
        for (orig, _) in st.copies.values() {
            crate::evolve::link::each_child(orig, |_, c| {
                old_kids.insert(c.id());
            });
        }
        self.frozen.iter().all(|id| old_kids.contains(id))
    }
}

/// Points every draft edge of the new (mutable) objects that still refers
/// to a copied original at its copy. With `shape`, also counts in-degrees
/// (only needed when the base is a tree).
fn redirect(root: &Value, st: &State, mut shape: Option<&mut Shape>) -> Result<(), DraftError> {
    let mut stack = vec![root.clone()];
    let mut seen = HashSet::from([root.id()]);
    while let Some(m) = stack.pop() {
        // A cheap scan first: which edges need rewriting, which objects
        // to visit next (mutable ones), and the shape's in-degrees.
        let mut fix: Vec<(Link, Value)> = Vec::new();
        each_edge(&m, |e, c| {
            let hit = if c.is_frozen() {
                st.copies.get(&c.addr()).map(|(_, copy)| copy.clone())
            } else {
                None
            };
            let target = match hit {
                Some(copy) => {
                    if let Some(link) = link_of(e) {
                        fix.push((link, copy.clone()));
                    }
                    copy
                }
                None => Value::from_slot(Slot::Obj(c)),
            };
            if let Some(shape) = shape.as_deref_mut() {
                shape.edge(&target);
            }
            if !is_frozen_obj(&target) && seen.insert(target.id()) {
                stack.push(target);
            }
        });
        for (link, copy) in fix {
            set_child(&m, &link, copy)?;
        }
    }
    Ok(())
}

/// Whether the counts prove that no object outside the draft refers to a
/// copied original (module doc, case 2).
fn accounted(st: &State, base: &Frozen) -> bool {
    let mut refs: HashMap<usize, usize> = HashMap::new();
    for (orig, _) in st.copies.values() {
        if let Some(p) = orig.slot().obj() {
            for_each_child(p, |c| {
                if st.copies.contains_key(&c.addr()) {
                    *refs.entry(c.addr()).or_insert(0) += 1;
                }
            });
        }
    }
    let base = base.value();
    st.copies.iter().all(|(id, (orig, _))| {
        if in_cycle(orig) {
            return false;
        }
        if orig.is(&base) {
            return true; // not on a cycle: nothing in the graph refers to it
        }
        let count = orig.slot().obj().map_or(0, |p| p.count());
        count == 1 + refs.get(id).copied().unwrap_or(0)
    })
}

/// The walk of module doc's last paragraph: copies every frozen object of
/// the new version that refers to a copied original, transitively.
fn other_paths(root: &Value, st: &mut State) -> Result<(), DraftError> {
    let mut objs: HashMap<usize, Value> = HashMap::new();
    let mut parents: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut frozen = Vec::new();
    let mut mutable = vec![root.clone()];
    let mut seen = HashSet::from([root.id()]);
    while let Some(m) = mutable.pop() {
        crate::evolve::link::each_child(&m, |_, c| {
            if is_frozen_obj(c) {
                if !st.copies.contains_key(&c.id()) && !objs.contains_key(&c.id()) {
                    objs.insert(c.id(), c.clone());
                    frozen.push(c.clone());
                }
            } else if seen.insert(c.id()) {
                mutable.push(c.clone());
            }
        });
    }
    while let Some(u) = frozen.pop() {
        crate::evolve::link::each_child(&u, |_, c| {
            parents.entry(c.id()).or_default().push(u.id());
            if !st.copies.contains_key(&c.id()) && !objs.contains_key(&c.id()) {
                objs.insert(c.id(), c.clone());
                frozen.push(c.clone());
            }
        });
    }
    let mut work: Vec<usize> = st.copies.keys().copied().collect();
    while let Some(o) = work.pop() {
        for u in parents.remove(&o).unwrap_or_default() {
            if !st.copies.contains_key(&u) {
                st.copy_of(&objs[&u])?;
                work.push(u);
            }
        }
    }
    Ok(())
}
