//! A revision's metadata and the history queries of shoobx.immutable's
//! revision manager: filter by creator, comment substring and start time,
//! oldest or newest first, in batches.

use std::time::SystemTime;

use crate::core::handle::{Frozen, Value};

/// Where a revision is in its life (shoobx.immutable's `IM_STATE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevisionState {
    /// The current revision of its entry: frozen, and the one updates start from.
    Locked,
    /// Replaced by a later revision; still readable by anyone holding it.
    Retired,
}

/// One version of an entry: a plain frozen graph plus who made it, why and when.
#[derive(Clone, Debug)]
pub struct Revision {
    pub(crate) version: u64,
    pub(crate) creator: String,
    pub(crate) comment: String,
    pub(crate) started: SystemTime,
    pub(crate) ended: Option<SystemTime>,
    pub(crate) state: RevisionState,
    pub(crate) root: Frozen,
    pub(crate) copied: usize,
    /// Known to reach each draftable object by one edge (`commit.rs`).
    pub(crate) tree: bool,
}

impl Revision {
    /// The version number: 1 for the first, one more for each update.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// Who made it.
    pub fn creator(&self) -> &str {
        &self.creator
    }
    /// Why.
    pub fn comment(&self) -> &str {
        &self.comment
    }
    /// When the update that made it began.
    pub fn started(&self) -> SystemTime {
        self.started
    }
    /// When a later revision replaced it (`None` while current).
    pub fn ended(&self) -> Option<SystemTime> {
        self.ended
    }
    /// Locked (current) or retired.
    pub fn state(&self) -> RevisionState {
        self.state
    }
    /// The revision's frozen root: `Send + Sync`, readable by any worker.
    pub fn root(&self) -> &Frozen {
        &self.root
    }
    /// The root as a value, for reading.
    pub fn value(&self) -> Value {
        self.root.value()
    }
    /// How many objects this revision added (copied or new): what it costs
    /// on top of the revision before it, in objects.
    pub fn copied(&self) -> usize {
        self.copied
    }
}

/// Which revisions a history lists. Every condition set must hold.
#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    creator: Option<String>,
    comment: Option<String>,
    started_after: Option<SystemTime>,
    started_before: Option<SystemTime>,
}

impl HistoryFilter {
    /// Every revision.
    pub fn all() -> Self {
        Self::default()
    }
    /// Only revisions by `creator`.
    pub fn creator(mut self, creator: &str) -> Self {
        self.creator = Some(creator.to_string());
        self
    }
    /// Only revisions whose comment contains `text`.
    pub fn comment_contains(mut self, text: &str) -> Self {
        self.comment = Some(text.to_string());
        self
    }
    /// Only revisions started strictly after `t`.
    pub fn started_after(mut self, t: SystemTime) -> Self {
        self.started_after = Some(t);
        self
    }
    /// Only revisions started strictly before `t`.
    pub fn started_before(mut self, t: SystemTime) -> Self {
        self.started_before = Some(t);
        self
    }

    pub(crate) fn admits(&self, r: &Revision) -> bool {
        self.creator.as_ref().is_none_or(|c| *c == r.creator)
            && self
                .comment
                .as_ref()
                .is_none_or(|c| r.comment.contains(c.as_str()))
            && self.started_after.is_none_or(|t| r.started > t)
            && self.started_before.is_none_or(|t| r.started < t)
    }
}

/// The order of a history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Version 1 first.
    #[default]
    OldestFirst,
    /// The current revision first (shoobx's `reversed=True`).
    NewestFirst,
}

/// A window on a history: skip `start` revisions (after filtering and
/// ordering), then list at most `size` (all if `None`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Revisions skipped.
    pub start: usize,
    /// At most this many listed.
    pub size: Option<usize>,
}

impl Batch {
    /// The whole history.
    pub fn all() -> Self {
        Self::default()
    }
    /// `size` revisions from `start`.
    pub fn new(start: usize, size: usize) -> Self {
        Batch {
            start,
            size: Some(size),
        }
    }
}

/// Applies a query to an entry's revisions (oldest first).
pub(crate) fn select(
    revs: &[Revision],
    filter: &HistoryFilter,
    order: Order,
    batch: Batch,
) -> Vec<Revision> {
    let admitted = revs.iter().filter(|r| filter.admits(r));
    let ordered: Box<dyn Iterator<Item = &Revision>> = match order {
        Order::OldestFirst => Box::new(admitted),
        Order::NewestFirst => Box::new(admitted.rev()),
    };
    ordered
        .skip(batch.start)
        .take(batch.size.unwrap_or(usize::MAX))
        .cloned()
        .collect()
}
