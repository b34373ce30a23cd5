//! The one error type of this crate.

use std::fmt;

use crate::ContentId;

/// What went wrong with a graph on its way between nodes.
///
/// Every case concerns one message: the node, its other actors and its
/// cache go on as before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterError {
    /// The sender could not pickle the graph (it holds something that has
    /// no pickled form: a weak reference, a shared field, an
    /// interpreter-local).
    Pickle(String),
    /// The frame that arrived is not a permafrost-cluster frame, or is cut
    /// short (bad magic, unknown version or kind, truncated header).
    Corrupt(String),
    /// The bytes arrived whole but do not hash to the content id they came
    /// with: corrupted on the way, or sent by a broken peer.
    HashMismatch {
        /// The id the frame claimed.
        claimed: ContentId,
    },
    /// The bytes hash right but do not rebuild into a frozen graph (a class
    /// not registered on this node, or a hostile pickle).
    Decode {
        /// The graph's content id.
        id: ContentId,
        /// Why `unpickle` or `freeze` refused it.
        reason: String,
    },
    /// Only the id arrived, the local cache no longer had the graph, and
    /// the sending node could not supply the bytes (it is gone, or it has
    /// dropped the graph itself, or it did not answer in time).
    Fetch {
        /// The graph's content id.
        id: ContentId,
        /// What the fetch ran into.
        reason: String,
    },
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::Pickle(e) => write!(f, "cannot pickle the graph: {e}"),
            ClusterError::Corrupt(e) => write!(f, "corrupt graph frame: {e}"),
            ClusterError::HashMismatch { claimed } => {
                write!(f, "graph bytes do not hash to their id {claimed}")
            }
            ClusterError::Decode { id, reason } => {
                write!(f, "graph {id} does not rebuild: {reason}")
            }
            ClusterError::Fetch { id, reason } => {
                write!(f, "cannot fetch graph {id} from its sender: {reason}")
            }
        }
    }
}

impl std::error::Error for ClusterError {}
