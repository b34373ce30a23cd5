//! The message field: how a graph is framed on the wire, and resolved on
//! arrival.
//!
//! A frame is
//!
//! ```text
//! "PFCL" | version (1) | kind (1 = full, 2 = id) | content id (32 bytes)
//!        | origin length (1 byte) | origin (UTF-8) | pickle (full frames only)
//! ```
//!
//! `origin` names the sending node's fetch server, which answers for the
//! bytes when an id-only frame misses the receiver's cache.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use ractor::BytesConvertable;

use crate::graph::{cache, decode, lock, lookup, ContentId, Graph};
use crate::{server, ClusterError, NodeId};

const MAGIC: &[u8; 4] = b"PFCL";
const VERSION: u8 = 1;
const FULL: u8 = 1;
const ID: u8 = 2;
const HEADER: usize = 4 + 1 + 1 + 32 + 1;

/// A frozen graph as a field of a ractor_cluster message.
///
/// Made on the sending side by [`Graph::to`] (or [`Graph::to_anyone`]);
/// ractor_cluster turns it into bytes ([`BytesConvertable`]) when the
/// message goes to another node, and back into a `Remote` there. The
/// receiving actor calls [`Remote::resolve`] to get the [`Graph`]. Sent to
/// a local actor, nothing is serialised and `resolve` hands back the same
/// graph.
///
/// Decoding a frame never panics: a corrupt one becomes a `Remote` whose
/// `resolve` returns the error, so the handler sees it for that message
/// only.
pub struct Remote {
    inner: Inner,
}

enum Inner {
    /// Still on the sending node.
    Out { graph: Graph, node: Option<NodeId> },
    /// Arrived with the bytes.
    Full {
        id: ContentId,
        origin: String,
        frame: Vec<u8>,
        start: usize,
    },
    /// Arrived with the id only.
    Id { id: ContentId, origin: String },
    /// Arrived unreadable.
    Bad(ClusterError),
}

impl Remote {
    pub(crate) fn outgoing(graph: Graph, node: Option<NodeId>) -> Remote {
        Remote {
            inner: Inner::Out { graph, node },
        }
    }

    /// The graph's content id (`None` for a frame that did not parse).
    pub fn id(&self) -> Option<ContentId> {
        match &self.inner {
            Inner::Out { graph, .. } => Some(graph.id()),
            Inner::Full { id, .. } | Inner::Id { id, .. } => Some(*id),
            Inner::Bad(_) => None,
        }
    }

    /// Whether this arrived carrying only the content id.
    pub fn is_id_only(&self) -> bool {
        matches!(self.inner, Inner::Id { .. })
    }

    /// Whether this arrived carrying the pickled bytes.
    pub fn carries_bytes(&self) -> bool {
        matches!(self.inner, Inner::Full { .. })
    }

    /// The graph, frozen and shared by reference with every local actor
    /// that resolves the same content id.
    ///
    /// From the cache if the graph is there; otherwise the bytes that came
    /// with the message, or (id-only message that missed: evicted, or this
    /// node restarted) the bytes fetched from the sender, are verified
    /// against the id, unpickled and frozen once, on tokio's blocking pool.
    /// Concurrent resolves of one id decode it once.
    pub async fn resolve(self) -> Result<Graph, ClusterError> {
        let result = self.resolve_inner().await;
        if result.is_err() {
            cache().counters.rejected.fetch_add(1, Relaxed);
        }
        result
    }

    async fn resolve_inner(self) -> Result<Graph, ClusterError> {
        let (id, origin, bytes) = match self.inner {
            Inner::Out { graph, .. } => return Ok(graph),
            Inner::Bad(e) => return Err(e),
            Inner::Full {
                id,
                origin,
                frame,
                start,
            } => (id, origin, Some((frame, start))),
            Inner::Id { id, origin } => (id, origin, None),
        };
        let c = cache();
        if let Some(g) = lookup(&id) {
            c.counters.hits.fetch_add(1, Relaxed);
            return Ok(g);
        }
        let gate = lock(&c.loading).entry(id).or_default().clone();
        let result = {
            let _held = gate.lock().await;
            if let Some(g) = lookup(&id) {
                c.counters.hits.fetch_add(1, Relaxed);
                Ok(g)
            } else {
                load(id, &origin, bytes).await
            }
        };
        release(id, gate);
        result
    }
}

/// Decodes the bytes that came, or fetches them from `origin` first.
async fn load(
    id: ContentId,
    origin: &str,
    bytes: Option<(Vec<u8>, usize)>,
) -> Result<Graph, ClusterError> {
    let (frame, start) = match bytes {
        Some(b) => b,
        None => {
            cache().counters.fetches.fetch_add(1, Relaxed);
            (server::fetch(origin, id).await?, 0)
        }
    };
    tokio::task::spawn_blocking(move || decode(id, frame, start))
        .await
        .map_err(|e| ClusterError::Decode {
            id,
            reason: format!("decoder task failed: {e}"),
        })?
}

/// Drops the per-id decode lock once no one else waits on it.
fn release(id: ContentId, gate: Arc<tokio::sync::Mutex<()>>) {
    let mut loading = lock(&cache().loading);
    // The map's handle and ours: nobody else is waiting.
    if Arc::strong_count(&gate) <= 2 {
        loading.remove(&id);
    }
}

static FETCH_TIMEOUT_MS: AtomicU64 = AtomicU64::new(30_000);

/// How long an id-only arrival that missed the cache waits for its
/// sender's bytes (default 30 s), for this whole node.
pub fn set_fetch_timeout(limit: Duration) {
    FETCH_TIMEOUT_MS.store(limit.as_millis() as u64, Relaxed);
}

pub(crate) fn fetch_timeout() -> Duration {
    Duration::from_millis(FETCH_TIMEOUT_MS.load(Relaxed))
}

fn encode(kind: u8, id: &ContentId, origin: &str, payload: &[u8]) -> Vec<u8> {
    let origin = &origin.as_bytes()[..origin.len().min(255)];
    let mut out = Vec::with_capacity(HEADER + origin.len() + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(&id.0);
    out.push(origin.len() as u8);
    out.extend_from_slice(origin);
    out.extend_from_slice(payload);
    out
}

fn parse(frame: Vec<u8>) -> Result<Inner, ClusterError> {
    let bad = |why: &str| Err(ClusterError::Corrupt(why.to_string()));
    if frame.len() < HEADER {
        return bad("truncated header");
    }
    if &frame[..4] != MAGIC {
        return bad("bad magic");
    }
    if frame[4] != VERSION {
        return Err(ClusterError::Corrupt(format!(
            "unknown frame version {}",
            frame[4]
        )));
    }
    let kind = frame[5];
    let id = ContentId(frame[6..38].try_into().expect("32 bytes"));
    let olen = frame[38] as usize;
    let start = HEADER + olen;
    if frame.len() < start {
        return bad("truncated origin");
    }
    let origin = std::str::from_utf8(&frame[HEADER..start])
        .map_err(|_| ClusterError::Corrupt("origin is not UTF-8".into()))?
        .to_string();
    match kind {
        FULL => Ok(Inner::Full {
            id,
            origin,
            frame,
            start,
        }),
        ID if frame.len() == start => Ok(Inner::Id { id, origin }),
        ID => bad("bytes after an id-only frame"),
        k => Err(ClusterError::Corrupt(format!("unknown frame kind {k}"))),
    }
}

impl BytesConvertable for Remote {
    fn into_bytes(self) -> Vec<u8> {
        match self.inner {
            Inner::Out { graph, node } => {
                let e = &graph.inner;
                let origin = server::origin();
                // Full unless this node is known to have had the bytes; the
                // node is marked as it is sent, so concurrent sends from
                // several actors still send the bytes once.
                let first = match node {
                    Some(n) => lock(&e.sent).insert(n),
                    None => true,
                };
                let frame = if first {
                    encode(FULL, &e.id, origin, e.payload())
                } else {
                    encode(ID, &e.id, origin, &[])
                };
                if let Some(n) = node {
                    let mut t = lock(&cache().traffic);
                    let t = t.entry(n).or_default();
                    if first {
                        t.full += 1;
                    } else {
                        t.ids += 1;
                    }
                    t.bytes += frame.len() as u64;
                }
                frame
            }
            // A received field sent on again: re-frame what we have.
            Inner::Full {
                id,
                origin,
                frame,
                start,
            } => encode(FULL, &id, &origin, &frame[start..]),
            Inner::Id { id, origin } => encode(ID, &id, &origin, &[]),
            // Stays unreadable at the next hop too.
            Inner::Bad(_) => Vec::new(),
        }
    }

    fn from_bytes(bytes: Vec<u8>) -> Self {
        let inner = parse(bytes).unwrap_or_else(Inner::Bad);
        Remote { inner }
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Out { graph, node } => write!(f, "Remote::Out({:?} to {node:?})", graph.id()),
            Inner::Full { id, frame, .. } => write!(f, "Remote::Full({id:?}, {} B)", frame.len()),
            Inner::Id { id, .. } => write!(f, "Remote::Id({id:?})"),
            Inner::Bad(e) => write!(f, "Remote::Bad({e})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_garbage_is_an_error() {
        let id = ContentId([7; 32]);
        let f = encode(FULL, &id, "n1", b"PFPK\x02abc");
        match parse(f).unwrap() {
            Inner::Full {
                id: got,
                origin,
                frame,
                start,
            } => {
                assert_eq!(got, id);
                assert_eq!(origin, "n1");
                assert_eq!(&frame[start..], b"PFPK\x02abc");
            }
            _ => panic!("not a full frame"),
        }
        assert!(matches!(
            parse(encode(ID, &id, "n1", &[])).unwrap(),
            Inner::Id { .. }
        ));
        for bad in [
            Vec::new(),
            b"PFCL".to_vec(),
            encode(9, &id, "x", &[]),
            encode(ID, &id, "x", b"extra"),
        ] {
            assert!(matches!(parse(bad), Err(ClusterError::Corrupt(_))));
        }
        let mut wrong = encode(FULL, &id, "x", &[]);
        wrong[0] = b'X';
        assert!(matches!(
            Remote::from_bytes(wrong).inner,
            Inner::Bad(ClusterError::Corrupt(_))
        ));
    }
}
