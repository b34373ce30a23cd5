//! The two ways to make a new version: [`Draft::commit`] and
//! [`Frozen::update`].

use crate::core::handle::Frozen;
use crate::evolve::commit::{commit, CommitError, CommitReport};
use crate::evolve::draft::{Draft, Node};
use crate::evolve::error::DraftError;

impl Draft {
    /// Freezes the new objects and returns the new version's root. If
    /// nothing was written it is the base itself. On failure the draft
    /// comes back in the error, unchanged.
    pub fn commit(self) -> Result<Frozen, CommitError> {
        commit(self).map(|(f, _)| f)
    }

    /// [`commit`](Draft::commit), also saying what the commit did.
    pub fn commit_report(self) -> Result<(Frozen, CommitReport), CommitError> {
        commit(self)
    }
}

impl Frozen {
    /// A new version of this frozen graph with `f`'s changes: `f` gets the
    /// root of a [`Draft`]; its writes copy only what they touch and the
    /// path to it. `self` is unchanged. If `f` fails the draft is abandoned
    /// and the error returned.
    ///
    /// ```
    /// use permafrost_freeze::{freeze, Value};
    ///
    /// let cfg = Value::dict_from(vec![("retries".into(), 3.into())]).unwrap();
    /// freeze(&[&cfg]).unwrap();
    /// let v1 = cfg.share().unwrap();
    /// let v2 = v1.update(|d| d.set_item("retries".into(), 5.into())).unwrap();
    /// assert_eq!(v1.value().get_str("retries").unwrap().unwrap().as_int(), Some(3));
    /// assert_eq!(v2.value().get_str("retries").unwrap().unwrap().as_int(), Some(5));
    /// ```
    pub fn update(
        &self,
        f: impl FnOnce(&Node<'_>) -> Result<(), DraftError>,
    ) -> Result<Frozen, DraftError> {
        let draft = Draft::new(self);
        f(&draft.root())?;
        draft.commit().map_err(|e| e.error)
    }
}
