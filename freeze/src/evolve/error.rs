//! What can go wrong while drafting and committing.

use std::fmt;

use crate::core::error::{Error, FreezeError};

/// A draft could not be changed or committed. The frozen original is
/// never affected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DraftError {
    /// A write reached an object a draft cannot copy (a class, function,
    /// module, weakref or escape hatch): those are shared as they are.
    NotDraftable {
        /// The object's type name.
        type_name: &'static str,
    },
    /// A write reached an object through a class attribute: classes are
    /// shared, never copied, so nothing inside one can change in a draft.
    SharedPath,
    /// An operation inside the draft failed (wrong type, missing key...).
    Op(Error),
    /// The new objects could not be frozen (an unfreezable or `Explicit`
    /// object was put into the draft).
    Freeze(Box<FreezeError>),
}

impl fmt::Display for DraftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DraftError::NotDraftable { type_name } => write!(
                f,
                "a draft cannot copy an object of type {type_name}: it is shared as it is"
            ),
            DraftError::SharedPath => f.write_str(
                "this object was reached through a class, which drafts share and never copy",
            ),
            DraftError::Op(e) => e.fmt(f),
            DraftError::Freeze(e) => write!(f, "the draft cannot be re-frozen: {e}"),
        }
    }
}

impl std::error::Error for DraftError {}

impl From<Error> for DraftError {
    fn from(e: Error) -> Self {
        DraftError::Op(e)
    }
}

impl From<DraftError> for Error {
    fn from(e: DraftError) -> Self {
        match e {
            DraftError::Op(e) => e,
            DraftError::Freeze(e) => Error::Freeze(e),
            other => Error::Other(other.to_string()),
        }
    }
}
