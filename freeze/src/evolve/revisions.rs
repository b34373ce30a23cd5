//! A revision manager over named entries, usable from any worker: each
//! entry is a history of frozen versions; an update drafts the current
//! one with no lock held and installs the result only if nobody else got
//! there first (a compare-and-swap on the head).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use crate::core::handle::Frozen;
use crate::evolve::commit::commit;
use crate::evolve::draft::{Draft, Node};
use crate::evolve::error::DraftError;
use crate::evolve::history::{select, Batch, HistoryFilter, Order, Revision, RevisionState};
use crate::evolve::shape::is_tree;

/// Named entries, each with its full history of frozen revisions
/// (shoobx.immutable's revisioned immutables and their manager).
///
/// `Send + Sync`: share it (in an `Arc`) between workers. The lock guards
/// only the history lists; it is never held while a caller's closure
/// runs, so a slow update blocks nobody, and two updates of one entry
/// race optimistically: the first to finish wins, the other gets
/// [`RevisionError::Conflict`] and may retry from the new head.
///
/// ```
/// use permafrost_freeze::{freeze, Batch, HistoryFilter, Order, Revisions, Value};
///
/// let cfg = Value::dict_from(vec![("retries".into(), 3.into())]).unwrap();
/// freeze(&[&cfg]).unwrap();
/// let revs = Revisions::new();
/// revs.put("cfg", cfg.share().unwrap()).unwrap();
/// revs.update("cfg", "ana", "more retries", |d| d.set_item("retries".into(), 5.into()))
///     .unwrap();
/// let history = revs
///     .history("cfg", &HistoryFilter::all().creator("ana"), Order::NewestFirst, Batch::all())
///     .unwrap();
/// assert_eq!(history[0].version(), 2);
/// assert_eq!(revs.len("cfg"), 2);
/// revs.rollback_to("cfg", 1).unwrap();
/// let now = revs.current("cfg").unwrap();
/// assert_eq!(now.value().get_str("retries").unwrap().unwrap().as_int(), Some(3));
/// ```
#[derive(Default)]
pub struct Revisions {
    entries: Mutex<HashMap<String, Vec<Revision>>>,
}

/// A revision-manager request was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevisionError {
    /// No entry has this name.
    Unknown(String),
    /// `put` of a name that already has a history.
    Exists(String),
    /// The entry has no such version.
    NoVersion {
        /// The entry.
        name: String,
        /// The version asked for.
        version: u64,
    },
    /// Another update of the entry finished first; retry from the new head.
    Conflict {
        /// The entry.
        name: String,
        /// The version this update started from.
        based_on: u64,
        /// The version that is current now.
        current: u64,
    },
    /// `update_root` of an object that is not the root of a current
    /// revision: a sub-object, or an object no entry holds.
    NotARoot,
    /// `update_root` of a retired revision's root: old versions are locked.
    Retired {
        /// The entry.
        name: String,
        /// The retired version.
        version: u64,
    },
    /// The draft failed (the closure's error, or the commit's).
    Draft(DraftError),
}

impl fmt::Display for RevisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevisionError::Unknown(n) => write!(f, "no revisioned entry named '{n}'"),
            RevisionError::Exists(n) => write!(f, "entry '{n}' already exists"),
            RevisionError::NoVersion { name, version } => {
                write!(f, "entry '{name}' has no version {version}")
            }
            RevisionError::Conflict {
                name,
                based_on,
                current,
            } => write!(
                f,
                "entry '{name}' changed while updating: started from version {based_on}, \
                 current is {current}; retry"
            ),
            RevisionError::NotARoot => f.write_str(
                "update() is only available for the root of a current revision, \
                 not for a sub-object",
            ),
            RevisionError::Retired { name, version } => write!(
                f,
                "version {version} of '{name}' is retired (locked); update the current one"
            ),
            RevisionError::Draft(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RevisionError {}

impl From<DraftError> for RevisionError {
    fn from(e: DraftError) -> Self {
        RevisionError::Draft(e)
    }
}

impl Revisions {
    /// An empty manager.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<Revision>>> {
        // The lock guards plain data that every writer leaves consistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts entry `name` with `root` as version 1. Walks the graph once
    /// (to learn its shape, so later commits need no walk).
    pub fn put(&self, name: &str, root: Frozen) -> Result<u64, RevisionError> {
        let tree = is_tree(&root.value());
        let rev = Revision {
            version: 1,
            creator: String::new(),
            comment: String::new(),
            started: SystemTime::now(),
            ended: None,
            state: RevisionState::Locked,
            root,
            copied: 0,
            tree,
        };
        let mut entries = self.lock();
        if entries.contains_key(name) {
            return Err(RevisionError::Exists(name.to_string()));
        }
        entries.insert(name.to_string(), vec![rev]);
        Ok(1)
    }

    /// Makes a new revision of `name` from its current one with `f`'s
    /// changes (a [`Draft`]). The lock is taken only to read the head and,
    /// after the commit, to install the result if the head is still the
    /// one the draft started from; else [`RevisionError::Conflict`].
    pub fn update(
        &self,
        name: &str,
        creator: &str,
        comment: &str,
        f: impl FnOnce(&Node<'_>) -> Result<(), DraftError>,
    ) -> Result<Revision, RevisionError> {
        let head = self
            .current(name)
            .ok_or_else(|| RevisionError::Unknown(name.to_string()))?;
        self.update_from(name, &head, creator, comment, f)
    }

    /// [`update`](Revisions::update) retried on conflict, at most
    /// `attempts` times (`f` runs once per attempt, on the then current
    /// revision).
    pub fn update_retrying(
        &self,
        name: &str,
        creator: &str,
        comment: &str,
        attempts: usize,
        mut f: impl FnMut(&Node<'_>) -> Result<(), DraftError>,
    ) -> Result<Revision, RevisionError> {
        let mut last = RevisionError::Unknown(name.to_string());
        for _ in 0..attempts.max(1) {
            match self.update(name, creator, comment, &mut f) {
                Err(e @ RevisionError::Conflict { .. }) => last = e,
                other => return other,
            }
        }
        Err(last)
    }

    /// [`update`](Revisions::update) of the entry whose current root is
    /// `root`. Refused for a sub-object of a revision (shoobx: "update() is
    /// only available for master immutables") and for a retired revision.
    pub fn update_root(
        &self,
        root: &Frozen,
        creator: &str,
        comment: &str,
        f: impl FnOnce(&Node<'_>) -> Result<(), DraftError>,
    ) -> Result<Revision, RevisionError> {
        let found = {
            let entries = self.lock();
            let mut found = Err(RevisionError::NotARoot);
            for (name, revs) in entries.iter() {
                if let Some(r) = revs.iter().find(|r| r.root.is(root)) {
                    found = match r.state {
                        RevisionState::Locked => Ok((name.clone(), r.clone())),
                        RevisionState::Retired => Err(RevisionError::Retired {
                            name: name.clone(),
                            version: r.version,
                        }),
                    };
                    break;
                }
            }
            found
        };
        let (name, head) = found?;
        self.update_from(&name, &head, creator, comment, f)
    }

    fn update_from(
        &self,
        name: &str,
        head: &Revision,
        creator: &str,
        comment: &str,
        f: impl FnOnce(&Node<'_>) -> Result<(), DraftError>,
    ) -> Result<Revision, RevisionError> {
        let started = SystemTime::now();
        let draft = Draft::with_shape(&head.root, head.tree);
        f(&draft.root())?;
        let (root, info) = commit(draft).map_err(|e| e.error)?;
        let mut entries = self.lock();
        let revs = entries
            .get_mut(name)
            .ok_or_else(|| RevisionError::Unknown(name.to_string()))?;
        let last = revs.last_mut().expect("an entry has a revision");
        if last.version != head.version || !last.root.is(&head.root) {
            return Err(RevisionError::Conflict {
                name: name.to_string(),
                based_on: head.version,
                current: last.version,
            });
        }
        let now = SystemTime::now();
        last.state = RevisionState::Retired;
        last.ended = Some(now);
        let rev = Revision {
            version: head.version + 1,
            creator: creator.to_string(),
            comment: comment.to_string(),
            started,
            ended: None,
            state: RevisionState::Locked,
            root,
            copied: info.copied,
            tree: info.tree,
        };
        revs.push(rev.clone());
        Ok(rev)
    }

    /// The current revision of `name`.
    pub fn current(&self, name: &str) -> Option<Revision> {
        self.lock().get(name).and_then(|r| r.last().cloned())
    }

    /// Version `version` of `name`.
    pub fn get(&self, name: &str, version: u64) -> Option<Revision> {
        self.lock()
            .get(name)
            .and_then(|r| r.iter().find(|r| r.version == version).cloned())
    }

    /// How many revisions `name` has (0 if there is no such entry).
    pub fn len(&self, name: &str) -> usize {
        self.lock().get(name).map_or(0, Vec::len)
    }

    /// The entries' names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.lock().keys().cloned().collect();
        n.sort();
        n
    }

    /// `name`'s revisions admitted by `filter`, in `order`, windowed by
    /// `batch` (shoobx's `getRevisionHistory`).
    pub fn history(
        &self,
        name: &str,
        filter: &HistoryFilter,
        order: Order,
        batch: Batch,
    ) -> Result<Vec<Revision>, RevisionError> {
        let entries = self.lock();
        let revs = entries
            .get(name)
            .ok_or_else(|| RevisionError::Unknown(name.to_string()))?;
        Ok(select(revs, filter, order, batch))
    }

    /// Makes `version` the current revision of `name` again (locked, not
    /// ended) and removes the later ones, as shoobx's
    /// `rollbackToRevision`; returns the removed revisions, which stay
    /// readable by whoever holds them. An update that started before the
    /// rollback gets a conflict.
    pub fn rollback_to(&self, name: &str, version: u64) -> Result<Vec<Revision>, RevisionError> {
        let mut entries = self.lock();
        let revs = entries
            .get_mut(name)
            .ok_or_else(|| RevisionError::Unknown(name.to_string()))?;
        let i = revs
            .iter()
            .position(|r| r.version == version)
            .ok_or_else(|| RevisionError::NoVersion {
                name: name.to_string(),
                version,
            })?;
        let removed = revs.split_off(i + 1);
        let back = &mut revs[i];
        back.state = RevisionState::Locked;
        back.ended = None;
        Ok(removed)
    }
}
