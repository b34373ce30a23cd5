//! `freeze`: all-or-nothing deep freeze with SCC reference counting.
//!
//! One iterative depth-first walk finds the strongly connected components
//! with Gabow's path-based algorithm (a stack of pending SCC roots,
//! compared by preorder number; this plays the part of the union-find in
//! ISMM 2024 / verona-rt `freeze.h`), with Pearce's node stack: a node
//! joins it only when it finishes without being a root, so singleton SCCs
//! (every node of a tree or a chain) never touch it. When an SCC completes,
//! its first-visited node becomes the representative and receives
//!
//! ```text
//! rc(rep) = Σ rc(members) − internal non-tree edges − (members − 1)
//! ```
//!
//! (the members − 1 internal tree edges form a spanning tree of the SCC);
//! the others forward to it. The rep's old count is parked in `aux`, so a
//! failed walk restores every header exactly. No user code runs during a
//! walk: pre-freeze hooks found by a walk run after it is rolled back, and
//! the walk starts again.
//!
//! The walk keeps no post-order frames: a node finishes when the stack of
//! objects to enter is back at its height (see `path.rs`), so a deep chain
//! costs no memory per level beyond the `visited` list.

use crate::core::body::Body;
use crate::core::error::{FreezeError, FreezeReason, Path, Step};
use crate::core::handle::{Ref, Value};
use crate::core::heap::{self, Tracker};
use crate::core::object::*;
use crate::core::payload::Edge;
use crate::core::status::Freezability;
use crate::freeze::path::OpenPath;
use crate::freeze::pending::Pending;

/// How many frames ahead the post-order run prefetches.
const PREFETCH_AHEAD: usize = 8;

/// A `find_path` frame: an object to visit, or (tagged) one whose children
/// are done.
type Frame = Tagged;

#[inline]
fn pre_frame(p: ObjPtr) -> Frame {
    Tagged::new(p, false)
}

#[inline]
fn post_frame(p: ObjPtr) -> Frame {
    Tagged::new(p, true)
}

enum Stop {
    Refused(ObjPtr, FreezeReason, Path),
    /// `is_frozen` found a mutable object: not an error.
    NotShallow,
}

struct Walk<'t> {
    /// Every object entered, indexed by preorder number.
    visited: Vec<ObjPtr>,
    nodes: Vec<ObjPtr>,
    /// Preorder numbers of the candidate SCC roots on the open path.
    pending: Pending,
    /// Open nodes whose count an internal non-tree edge was taken off (the
    /// edge is uncounted as soon as it is found); rollback adds them back.
    back: Vec<ObjPtr>,
    /// Objects still to enter.
    stack: Vec<ObjPtr>,
    /// Objects entered and not finished (see `path.rs`).
    path: OpenPath,
    hooks: Vec<ObjPtr>,
    tracker: &'t mut Tracker,
    /// `is_frozen` mode: only inherently shallow-immutable kinds may freeze.
    shallow: bool,
    nroots: usize,
    /// The root index of the root being walked (error paths).
    root_label: u32,
    /// Some visited object has weak references (they move on commit).
    saw_weak: bool,
    /// Some visited object has an armed hook that already ran in this
    /// call (it re-armed itself): dropped on commit.
    saw_hook: bool,
    /// A class whose instances, when they carry no status, hook or root
    /// mark of their own, are admitted with no hook pending. No user code
    /// runs during a walk, so the answer found for one such instance holds
    /// for all of them: the admission lookups run once per class, not once
    /// per instance.
    ok_class: Option<ObjPtr>,
}

/// Freezes every root and everything reachable from them, in place.
///
/// All-or-nothing: on error every object is exactly as before (flags,
/// counts), except for side effects of pre-freeze hooks that already ran.
/// Roots may be `Explicit` (classes are by default); objects reached from
/// a root must be freezable implicitly.
///
/// ```
/// use permafrost_freeze::{freeze, is_frozen, Value};
/// let inner = Value::list(vec![Value::Int(1)]);
/// let outer = Value::list(vec![inner.clone()]);
/// freeze(&[&outer]).unwrap();
/// assert!(is_frozen(&inner)); // aliases see the change
/// assert_eq!(inner.append(Value::Int(2)).unwrap_err().to_string(),
///            "object of type list is immutable");
/// ```
pub fn freeze(roots: &[&Value]) -> Result<(), FreezeError> {
    if roots.is_empty() {
        return Err(FreezeError::new(
            String::new(),
            Path::lost(),
            FreezeReason::NoRoots,
        ));
    }
    // Keep each root's position for error paths (immediates have none).
    let objs: Vec<(u32, ObjPtr)> = roots
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.slot().obj().map(|p| (i as u32, p)))
        .collect();
    let _call = crate::freeze::hooks::CallScope::enter();
    loop {
        let (result, hooks) = walk_once(&objs, roots.len(), false)?;
        match result {
            Ok(()) if hooks.is_empty() => return Ok(()),
            Err(Stop::Refused(p, reason, path)) if hooks.is_empty() => {
                return Err(FreezeError::new(describe_type(p), path, reason))
            }
            Err(Stop::NotShallow) => unreachable!("only is_frozen walks are shallow"),
            _ => run_hooks(hooks, &objs, roots.len())?,
        }
    }
}

/// PEP 795 `is_frozen`: immediates, str and bytes are always frozen;
/// a tuple or shallow-frozen object whose contents are all frozen
/// (recursively, through such objects) is frozen as a side effect and
/// reported frozen. A shallow-frozen object that reaches a mutable one is
/// not frozen.
///
/// ```
/// use permafrost_freeze::{is_frozen, Value};
/// let t = Value::tuple(vec![Value::Int(1), Value::from("a"), Value::None]);
/// assert!(is_frozen(&t));
/// let d = Value::dict();
/// assert!(!is_frozen(&Value::tuple(vec![d, Value::None])));
/// ```
pub fn is_frozen(v: &Value) -> bool {
    let Some(p) = v.slot().obj() else {
        return true;
    };
    if p.is_frozen() {
        return true;
    }
    if !shallow_immutable(p) {
        return false;
    }
    matches!(walk_once(&[(0, p)], 1, true), Ok((Ok(()), _)))
}

/// Objects whose own state can never change again: tuples and frozensets
/// (immutable at birth) and shallow-frozen objects. A graph of them over frozen leaves
/// is deeply immutable already, so `is_frozen` may freeze it.
fn shallow_immutable(p: ObjPtr) -> bool {
    matches!(p.body(), Body::Tuple(_) | Body::FrozenSet(_)) || p.flags() & SHALLOW != 0
}

fn walk_once(
    roots: &[(u32, ObjPtr)],
    nroots: usize,
    shallow: bool,
) -> Result<(Result<(), Stop>, Vec<ObjPtr>), FreezeError> {
    let mut stale_hooks = Vec::new();
    let out = heap::with_tracker(|tracker| {
        // `try_with`: a freeze from a thread-local destructor may find the
        // scratch already gone while the heap lives; it works without it.
        let s = SCRATCH
            .try_with(|s| s.take())
            .ok()
            .flatten()
            .unwrap_or_default();
        let mut w = Walk {
            visited: s.visited,
            nodes: s.nodes,
            pending: s.pending,
            back: s.back,
            stack: s.stack,
            path: s.path,
            hooks: Vec::new(),
            tracker,
            shallow,
            nroots,
            root_label: 0,
            saw_weak: false,
            saw_hook: false,
            ok_class: None,
        };
        // Only mutable roots are marked (and unmarked): a frozen root may be
        // shared, and its flags are not ours to write.
        let marked: Vec<ObjPtr> = roots
            .iter()
            .map(|(_, r)| *r)
            .filter(|r| !r.is_frozen())
            .collect();
        for r in &marked {
            r.set_flags(ROOT);
        }
        // A panic inside the walk (a bug) must not leave half-frozen
        // objects behind: roll back, then let it continue.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for (i, r) in roots {
                w.run(*r, *i)?;
            }
            Ok(())
        }));
        for r in &marked {
            r.clear_flags(ROOT);
        }
        let result = match ran {
            Ok(result) => result,
            Err(panic) => {
                w.rollback();
                std::panic::resume_unwind(panic);
            }
        };
        if result.is_err() || !w.hooks.is_empty() {
            w.rollback();
        } else {
            heap::moved_to_frozen(w.visited.len());
            if w.saw_weak {
                // Weak references to objects that just froze move to the
                // process-wide table: the objects may now die on any thread.
                for v in &w.visited {
                    if v.flags() & HAS_WEAK != 0 {
                        crate::core::weak::referent_froze(*v);
                    }
                }
            }
            if w.saw_hook {
                // Hooks re-armed during this call never run now: their
                // objects are frozen. Dropped after the walk (user code).
                for v in &w.visited {
                    if v.flags() & HAS_HOOK != 0 {
                        v.clear_flags(HAS_HOOK);
                        stale_hooks.extend(heap::take_hook(*v));
                    }
                }
            }
        }
        let hooks = std::mem::take(&mut w.hooks);
        let mut s = Scratch {
            visited: std::mem::take(&mut w.visited),
            nodes: std::mem::take(&mut w.nodes),
            pending: std::mem::take(&mut w.pending),
            back: std::mem::take(&mut w.back),
            stack: std::mem::take(&mut w.stack),
            path: std::mem::take(&mut w.path),
        };
        s.reset();
        let _ = SCRATCH.try_with(|slot| slot.set(Some(s)));
        (result, hooks)
    });
    drop(stale_hooks);
    out.ok_or_else(|| FreezeError::new(String::new(), Path::lost(), FreezeReason::ThreadExiting))
}

/// The walk's stacks, kept per thread between freezes so that repeated
/// freezes do not grow them from nothing each time.
#[derive(Default)]
struct Scratch {
    visited: Vec<ObjPtr>,
    nodes: Vec<ObjPtr>,
    pending: Pending,
    back: Vec<ObjPtr>,
    stack: Vec<ObjPtr>,
    path: OpenPath,
}

impl Scratch {
    /// Empties the stacks, giving back memory beyond a modest size.
    fn reset(&mut self) {
        const KEEP: usize = 1 << 16;
        fn keep<T>(v: &mut Vec<T>) {
            v.clear();
            if v.capacity() > KEEP {
                v.shrink_to(KEEP);
            }
        }
        keep(&mut self.visited);
        keep(&mut self.nodes);
        self.pending.clear();
        if self.pending.capacity() > KEEP {
            self.pending.shrink_to(KEEP);
        }
        self.path.clear();
        if self.path.capacity() > KEEP {
            self.path.shrink_to(KEEP);
        }
        keep(&mut self.back);
        keep(&mut self.stack);
    }
}

thread_local! {
    static SCRATCH: std::cell::Cell<Option<Scratch>> = const { std::cell::Cell::new(None) };
}

impl Walk<'_> {
    fn run(&mut self, root: ObjPtr, label: u32) -> Result<(), Stop> {
        use std::sync::atomic::Ordering::Relaxed;
        self.root_label = label;
        self.stack.push(root);
        loop {
            if let Some(pre) = self.path.finished(self.stack.len()) {
                self.path.pop();
                // Deep paths finish in a long run of nodes that left the
                // cache long ago: fetch a few ahead.
                if let Some(ahead) = self.path.below(PREFETCH_AHEAD) {
                    prefetch(self.visited[ahead]);
                }
                self.post(self.visited[pre], pre);
                continue;
            }
            let Some(w) = self.stack.pop() else {
                break;
            };
            let f = w.flags();
            if f & FROZEN != 0 {
                continue;
            }
            if f & VISITED != 0 {
                // Edge to a node whose SCC is still open: it is internal, and
                // not a tree edge, so it does not count towards the SCC's
                // count; pending roots above `w` merge into `w`'s SCC.
                let h = w.header();
                let pre = h.aux.load(Relaxed);
                self.pending.pop_above(pre);
                h.rc.store(h.rc.load(Relaxed) - 1, Relaxed);
                self.back.push(w);
                continue;
            }
            self.visit(w, f)?;
        }
        Ok(())
    }

    fn visit(&mut self, w: ObjPtr, f: u32) -> Result<(), Stop> {
        let admitted = self.admit(w, f);
        if self.shallow {
            // `is_frozen` may freeze only tuples that `freeze` could, and
            // never runs hooks: anything else answers "not frozen".
            if !shallow_immutable(w) || admitted != Ok(false) {
                return Err(Stop::NotShallow);
            }
            // A hook that ran earlier in this `freeze` call and re-armed
            // itself is admitted: the commit must drop it, as below.
            self.saw_hook |= f & HAS_HOOK != 0;
        } else {
            match admitted {
                Err(reason) => return Err(Stop::Refused(w, reason, self.path_to(w))),
                // The path is built only if this hook fails (see
                // `find_path`): building it here would cost the depth of
                // the walk for every hooked object.
                Ok(true) => self.hooks.push(w),
                Ok(false) => self.saw_hook |= f & HAS_HOOK != 0,
            }
        }
        use std::sync::atomic::Ordering::Relaxed;
        let pre = self.visited.len();
        let h = w.header();
        h.aux.store(pre, Relaxed);
        self.saw_weak |= f & HAS_WEAK != 0;
        w.set_flags(VISITED);
        self.visited.push(w);
        // Children are visited first to last (so which pre-freeze hooks a
        // failing walk has met is predictable): push, then reverse.
        let start = self.stack.len();
        self.push_children(w);
        if self.stack.len() == start {
            // Every child is frozen already (or there are none): `w` is an
            // SCC of its own with no internal edge, complete now. Its count
            // stays; `aux` keeps a copy for rollback, as for any rep.
            h.aux.store(h.rc.load(Relaxed), Relaxed);
            w.set_flags(COMPLETE | FROZEN);
            if w.flags() & TRACKED != 0 {
                self.tracker.untrack(w);
            }
            return Ok(());
        }
        self.stack[start..].reverse();
        self.path.push(pre, start);
        self.pending.push(pre);
        Ok(())
    }

    /// [`admit`], answered from `ok_class` when it can be.
    #[inline]
    fn admit(&mut self, w: ObjPtr, f: u32) -> Result<bool, FreezeReason> {
        // What `refusal` and `hooks::pending` read of an instance itself;
        // the rest comes from its class.
        const OWN: u32 = STATUS_MASK | HAS_HOOK | HOOK_RAN | ROOT;
        let class = match w.body() {
            Body::Instance(i) if f & OWN == 0 => Some(i.class),
            _ => None,
        };
        if class.is_some() && class == self.ok_class {
            return Ok(false);
        }
        let admitted = admit(w, f);
        if class.is_some() && admitted == Ok(false) {
            self.ok_class = class;
        }
        admitted
    }

    /// Pushes `w`'s mutable children.
    #[inline]
    fn push_children(&mut self, w: ObjPtr) {
        let stack = &mut self.stack;
        if let Some((class, attrs)) = crate::core::payload::instance_attrs(&w) {
            // The common case, without the generic edge enumeration (the
            // same edges, in the same order: the class, then each object
            // attribute).
            if !class.is_frozen() {
                stack.push(class);
            }
            for s in attrs.values() {
                if let Slot::Obj(c) = s {
                    if !c.is_frozen() {
                        stack.push(c);
                    }
                }
            }
        } else {
            push_walk_children(w, |c| stack.push(c));
        }
    }

    /// `x` (preorder number `pre`) is finished: it completes its SCC if it
    /// is the SCC's root.
    fn post(&mut self, x: ObjPtr, pre: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let h = x.header();
        if self.pending.last() != Some(pre) {
            // Not a root: `x` belongs to an SCC whose root is still open.
            self.nodes.push(x);
            return;
        }
        self.pending.pop();
        let mut sum = h.rc.load(Relaxed);
        let mut count = 1usize;
        if x.flags() & TRACKED != 0 {
            self.tracker.untrack(x);
        }
        // The other members: the non-roots finished since `x` was visited
        // (their `aux` still holds their preorder number). A singleton,
        // the common case, finds none and touches no other header.
        while let Some(&m) = self.nodes.last() {
            let mh = m.header();
            if mh.aux.load(Relaxed) < pre {
                break;
            }
            self.nodes.pop();
            sum += mh.rc.load(Relaxed);
            count += 1;
            if m.flags() & TRACKED != 0 {
                self.tracker.untrack(m);
            }
            mh.aux.store(x.addr(), Relaxed);
            m.set_flags(FORWARD | COMPLETE | FROZEN);
        }
        h.aux.store(h.rc.load(Relaxed), Relaxed);
        // Internal non-tree edges were uncounted as they were found; the
        // `count - 1` tree edges inside the SCC go now.
        h.rc.store(sum - (count - 1), Relaxed);
        // The free loop enumerates members only where there are others.
        x.set_flags(if count > 1 {
            MULTI | COMPLETE | FROZEN
        } else {
            COMPLETE | FROZEN
        });
    }

    fn rollback(&mut self) {
        use std::sync::atomic::Ordering::Relaxed;
        for &v in &self.visited {
            let f = v.flags();
            let h = v.header();
            if f & COMPLETE != 0 {
                if f & FORWARD == 0 {
                    h.rc.store(h.aux.load(Relaxed), Relaxed);
                }
                if f & TRACKED != 0 {
                    self.tracker.retrack(v);
                }
            }
            h.aux.store(0, Relaxed);
            v.clear_flags(VISITED | COMPLETE | FROZEN | FORWARD | MULTI);
        }
        for &v in &self.back {
            let h = v.header();
            h.rc.store(h.rc.load(Relaxed) + 1, Relaxed);
        }
    }

    /// `root.children[3].cb`: the open DFS path plus the edge to `to`.
    fn path_to(&self, to: ObjPtr) -> Path {
        let open: Vec<ObjPtr> = self.path.iter().map(|pre| self.visited[pre]).collect();
        render_path(&open, self.nroots, self.root_label, to)
    }
}

/// The open DFS path `posts` (from root `root_label`) plus the edge from
/// its top to `to`. Each step is the parent's first edge to the child: the
/// one the walk took, as it visits children first to last (no user code
/// ran since, so the edges are the same).
fn render_path(posts: &[ObjPtr], nroots: usize, root_label: u32, to: ObjPtr) -> Path {
    let mut path = Path::at_root(root_label as usize, nroots);
    for (i, &p) in posts.iter().enumerate() {
        let next = posts.get(i + 1).copied().unwrap_or(to);
        path.push(edge_step(p, label_of(p, next)));
    }
    path
}

/// The index of `p`'s first edge to `c` among its object edges.
fn label_of(p: ObjPtr, c: ObjPtr) -> u32 {
    let mut k = 0u32;
    let mut found = None;
    for_each_walk_child(p, |x| {
        if x == c && found.is_none() {
            found = Some(k);
        }
        k += 1;
    });
    found.unwrap_or(k)
}

/// May `w` be frozen, and does a pre-freeze hook have to run first?
#[inline]
fn admit(w: ObjPtr, f: u32) -> Result<bool, FreezeReason> {
    match refusal(w, f) {
        Some(reason) => Err(reason),
        None => Ok(crate::freeze::hooks::pending(w, f)),
    }
}

/// Why `w` may not be frozen, if it may not.
pub(crate) fn refusal(w: ObjPtr, f: u32) -> Option<FreezeReason> {
    // Own status (from the flags already read), else the class's, else
    // the type's default: the prototype's `__freezable__` lookup.
    let status = Freezability::from_bits((f & STATUS_MASK) >> STATUS_SHIFT)
        .or_else(|| match w.body() {
            Body::Instance(i) => crate::model::freezable::class_status(i.class),
            Body::Class(_) => crate::model::freezable::class_status(w),
            _ => None,
        })
        .unwrap_or_else(|| default_status(w.body()));
    match status {
        Freezability::No => return Some(FreezeReason::StatusNo),
        Freezability::Explicit if f & ROOT == 0 => return Some(FreezeReason::Explicit),
        _ => {}
    }
    if let Body::Instance(i) = w.body() {
        if let Body::Class(c) = i.class.body() {
            if c.not_freezable {
                return Some(FreezeReason::NotFreezable);
            }
        }
    }
    None
}

/// The type's default: classes `Explicit` (PEP 795; `Yes` under the
/// prototype switch, see `compat.rs`), modules `No`, the rest `Yes`.
pub(crate) fn default_status(b: &Body) -> Freezability {
    match b {
        Body::Class(_) if crate::freeze::compat::prototype_class_default() => Freezability::Yes,
        Body::Class(_) => Freezability::Explicit,
        Body::Module(_) => Freezability::No,
        _ => Freezability::Yes,
    }
}

/// Pushes `p`'s mutable children (the same order whether the walk or
/// `find_path` pushes).
fn push_walk_children(p: ObjPtr, mut push: impl FnMut(ObjPtr)) {
    for_each_walk_child(p, |c| {
        if !c.is_frozen() {
            push(c);
        }
    });
}

/// The edges the freeze walk follows. Escape hatches hide their contents:
/// a shared field only ever holds frozen values and an interpreter-local
/// field's values live in each worker's heap.
fn for_each_walk_child(p: ObjPtr, mut f: impl FnMut(ObjPtr)) {
    match p.body() {
        Body::SharedField(_) => {}
        _ => crate::core::payload::for_each_child(p, &mut f),
    }
}

pub(crate) fn describe_type(p: ObjPtr) -> String {
    match p.body() {
        Body::Instance(i) => match i.class.body() {
            Body::Class(c) => c.name.as_str().to_string(),
            _ => "instance".into(),
        },
        Body::Class(c) => format!("type ({})", c.name),
        Body::Module(m) => format!("module ({})", m.name),
        Body::Function(fd) => format!("function ({})", fd.name),
        b => b.type_name().to_string(),
    }
}

/// The `k`-th object edge of `p`, in the core's edge order, as a step.
pub(crate) fn edge_step(p: ObjPtr, k: u32) -> Step {
    let mut seen = 0u32;
    let mut found = None;
    crate::core::payload::for_each_edge(p, |e, _| {
        if seen == k && found.is_none() {
            found = Some(e);
        }
        seen += 1;
    });
    // An edge the walk took is still there (no user code ran since).
    found.map_or(Step::Index(k as usize), step)
}

/// The public name of a core edge.
pub(crate) fn step(e: Edge) -> Step {
    use crate::model::repr::short_repr;
    match e {
        Edge::Item(i) => Step::Index(i),
        Edge::Member(k) => Step::Member(short_repr(k)),
        Edge::Key(k) => Step::Key(short_repr(k)),
        Edge::Value(k) => Step::Value(short_repr(k)),
        Edge::Class => Step::Class,
        Edge::Attr(_) | Edge::Inline(..) => Step::Attr(
            e.attr_name()
                .map_or_else(|| "?".to_string(), |n| n.as_str().to_string()),
        ),
        Edge::Base(i) => Step::Base(i),
        Edge::Capture(i) => Step::Capture(i),
        Edge::Default(i) => Step::Default(i),
        Edge::CellContents => Step::CellContents,
        Edge::FieldValue => Step::FieldValue,
        Edge::Factory => Step::Factory,
        Edge::Referent => Step::Referent,
        Edge::Callback => Step::Callback,
    }
}

fn run_hooks(
    hooks: Vec<ObjPtr>,
    roots: &[(u32, ObjPtr)],
    nroots: usize,
) -> Result<(), FreezeError> {
    // Count the hooked objects first: a hook may drop references to others.
    let hooks: Vec<Ref> = hooks.into_iter().map(Ref::from_borrowed).collect();
    for r in hooks {
        if let Err(reason) = crate::freeze::hooks::run(&r) {
            return Err(FreezeError::new(
                describe_type(r.ptr),
                find_path(roots, nroots, r.ptr),
                reason,
            ));
        }
    }
    Ok(())
}

/// The path the freeze walk takes from the roots to `target`, found again
/// by the same depth-first order (only when a hook failed, so the walk
/// itself never spends time on paths). Hooks that ran before may have
/// changed the graph; a target no longer reachable says so.
pub(crate) fn find_path(roots: &[(u32, ObjPtr)], nroots: usize, target: ObjPtr) -> Path {
    let mut seen = rustc_hash::FxHashSet::default();
    let mut stack: Vec<Frame> = Vec::new();
    for &(label, root) in roots {
        stack.push(pre_frame(root));
        while let Some(fr) = stack.pop() {
            if fr.tag() {
                continue;
            }
            let p = fr.ptr();
            if p == target {
                let posts: Vec<ObjPtr> =
                    stack.iter().filter(|f| f.tag()).map(|f| f.ptr()).collect();
                return render_path(&posts, nroots, label, p);
            }
            if p.is_frozen() || !seen.insert(p) {
                continue;
            }
            stack.push(post_frame(p));
            let start = stack.len();
            push_walk_children(p, |c| stack.push(pre_frame(c)));
            stack[start..].reverse();
        }
    }
    Path::lost()
}
