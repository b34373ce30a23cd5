//! Published graphs and the node-local cache.
//!
//! One cache per process, shared by every actor of the node: content id ->
//! weak handle to a [`Graph`]. An entry lives exactly as long as someone on
//! this node holds the graph (a sender that published it, or receivers that
//! resolved it); dropping the last [`Graph`] drops the entry, and with it
//! the frozen objects and the pickled bytes.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use permafrost_freeze::{freeze, pickle, unpickle, Frozen, Value};
use ractor::ActorId;
use sha2::{Digest, Sha256};

use crate::wire::Remote;
use crate::{ClusterError, NodeId};

/// A graph's content id: the SHA-256 of its pickled bytes.
///
/// Computed once per published graph (the sender caches it with the
/// bytes), and checked once by a receiver against the bytes that arrive.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentId(pub [u8; 32]);

impl ContentId {
    /// The id of `bytes`.
    pub fn of(bytes: &[u8]) -> ContentId {
        ContentId(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 12 hex digits are plenty to tell graphs apart in a log.
        for b in &self.0[..6] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentId({self})")
    }
}

pub(crate) struct Entry {
    pub(crate) frozen: Frozen,
    pub(crate) id: ContentId,
    /// The pickle, kept for later sends and for fetches: `frame[start..]`
    /// (a received frame is kept whole rather than copied).
    pub(crate) frame: Vec<u8>,
    pub(crate) start: usize,
    /// Nodes this graph's bytes have been sent to (ractor_cluster's node
    /// ids, which are per connection: a reconnected node is a new id).
    pub(crate) sent: Mutex<HashSet<NodeId>>,
    /// The root's identity, when this entry was published here.
    root_key: Option<usize>,
}

impl Entry {
    pub(crate) fn payload(&self) -> &[u8] {
        &self.frame[self.start..]
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // Our weak handles no longer upgrade; remove them (unless a newer
        // entry took the key in the meantime).
        let c = cache();
        let mut by_id = lock(&c.by_id);
        if by_id.get(&self.id).is_some_and(|w| w.strong_count() == 0) {
            by_id.remove(&self.id);
        }
        drop(by_id);
        if let Some(k) = self.root_key {
            let mut by_root = lock(&c.by_root);
            if by_root.get(&k).is_some_and(|w| w.strong_count() == 0) {
                by_root.remove(&k);
            }
        }
    }
}

#[derive(Default)]
pub(crate) struct Cache {
    /// Content id -> graph, for receivers and for the fetch server.
    pub(crate) by_id: Mutex<HashMap<ContentId, Weak<Entry>>>,
    /// Frozen root identity -> graph, so publishing the same graph again is
    /// free. The entry holds the root, so its address cannot be reused
    /// while the weak handle upgrades.
    by_root: Mutex<HashMap<usize, Weak<Entry>>>,
    /// One lock per id being decoded or fetched, so concurrent arrivals of
    /// the same graph decode it once.
    pub(crate) loading: Mutex<HashMap<ContentId, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) traffic: Mutex<HashMap<NodeId, Traffic>>,
    pub(crate) counters: Counters,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) publishes: AtomicU64,
    pub(crate) decodes: AtomicU64,
    pub(crate) hits: AtomicU64,
    pub(crate) fetches: AtomicU64,
    pub(crate) served: AtomicU64,
    pub(crate) served_bytes: AtomicU64,
    pub(crate) rejected: AtomicU64,
}

pub(crate) fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// Locks, ignoring poisoning: every critical section here leaves the maps
/// consistent, so a panic elsewhere is no reason to stop the node.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Looks `id` up in the node-local cache.
pub(crate) fn lookup(id: &ContentId) -> Option<Graph> {
    let found = lock(&cache().by_id).get(id).and_then(Weak::upgrade);
    found.map(|inner| Graph { inner })
}

fn insert(entry: Entry) -> Graph {
    let id = entry.id;
    let inner = Arc::new(entry);
    lock(&cache().by_id).insert(id, Arc::downgrade(&inner));
    Graph { inner }
}

/// Verifies, unpickles and freezes received bytes (CPU-bound: call it off
/// the async threads) and caches the result.
pub(crate) fn decode(id: ContentId, frame: Vec<u8>, start: usize) -> Result<Graph, ClusterError> {
    let c = cache();
    if ContentId::of(&frame[start..]) != id {
        return Err(ClusterError::HashMismatch { claimed: id });
    }
    let frozen = rebuild(&frame[start..]).map_err(|reason| ClusterError::Decode { id, reason })?;
    c.counters.decodes.fetch_add(1, Relaxed);
    Ok(insert(Entry {
        frozen,
        id,
        frame,
        start,
        sent: Mutex::default(),
        root_key: None,
    }))
}

fn rebuild(bytes: &[u8]) -> Result<Frozen, String> {
    // unpickle reclaims a half-built graph itself; a graph that rebuilt
    // but will not freeze is dropped here, and its cycles collected.
    let v = unpickle(bytes).map_err(|e| e.to_string())?;
    let done = freeze(&[&v])
        .map_err(|e| e.to_string())
        .and_then(|()| v.share().map_err(|e| e.to_string()));
    drop(v);
    if done.is_err() {
        permafrost_freeze::collect();
    }
    done
}

/// A frozen graph known to this node's cache: published here, or arrived
/// from another node. `Send + Sync`; cloning is one atomic increment.
///
/// Every local actor that holds a clone sees the very same frozen objects
/// ([`Graph::frozen`]). The node-local cache keeps the entry (objects, id
/// and pickled bytes) exactly as long as some clone is alive here; after
/// that a graph arriving as an id only is fetched again from its sender.
#[derive(Clone)]
pub struct Graph {
    pub(crate) inner: Arc<Entry>,
}

impl Graph {
    /// Publishes a frozen graph on this node: pickles it and hashes the
    /// bytes, once. Publishing the same root again (from any thread or
    /// actor) returns the same graph without pickling again, for as long as
    /// the first [`Graph`] is alive.
    ///
    /// This pickles the whole graph, which is CPU-bound: from async code,
    /// call it in `tokio::task::spawn_blocking`.
    pub fn publish(frozen: &Frozen) -> Result<Graph, ClusterError> {
        let key = frozen.id();
        let c = cache();
        let known = lock(&c.by_root).get(&key).and_then(Weak::upgrade);
        if let Some(inner) = known {
            if inner.frozen.is(frozen) {
                return Ok(Graph { inner });
            }
        }
        let bytes = pickle(&frozen.value()).map_err(|e| ClusterError::Pickle(e.to_string()))?;
        let id = ContentId::of(&bytes);
        c.counters.publishes.fetch_add(1, Relaxed);
        // Same content published before from another root (or arrived from
        // another node): keep one entry per id, but remember this root too.
        let existing = lookup(&id);
        let graph = match existing {
            Some(g) => g,
            None => insert(Entry {
                frozen: frozen.clone(),
                id,
                frame: bytes,
                start: 0,
                sent: Mutex::default(),
                root_key: Some(key),
            }),
        };
        if graph.inner.frozen.is(frozen) {
            lock(&c.by_root).insert(key, Arc::downgrade(&graph.inner));
        }
        Ok(graph)
    }

    /// Publishes `value` after freezing it (see [`Graph::publish`]).
    pub fn publish_value(value: &Value) -> Result<Graph, ClusterError> {
        freeze(&[value]).map_err(|e| ClusterError::Pickle(e.to_string()))?;
        let frozen = value
            .share()
            .map_err(|e| ClusterError::Pickle(e.to_string()))?;
        Graph::publish(&frozen)
    }

    /// The frozen graph, by reference.
    pub fn frozen(&self) -> &Frozen {
        &self.inner.frozen
    }

    /// A handle to the root for this thread (one atomic increment).
    pub fn value(&self) -> Value {
        self.inner.frozen.value()
    }

    /// The content id.
    pub fn id(&self) -> ContentId {
        self.inner.id
    }

    /// Length of the pickled bytes, i.e. what a full send puts on the wire.
    pub fn pickled_len(&self) -> usize {
        self.inner.payload().len()
    }

    /// The pickled bytes this graph travels as.
    pub fn pickled(&self) -> &[u8] {
        self.inner.payload()
    }

    /// A message field carrying this graph to `dest`: the full bytes the
    /// first time this graph goes to `dest`'s node, only the id after that.
    /// To a local actor it goes by reference.
    pub fn to<M>(&self, dest: &ractor::ActorRef<M>) -> Remote {
        self.to_actor(dest.get_id())
    }

    /// As [`Graph::to`], by actor id.
    pub fn to_actor(&self, dest: ActorId) -> Remote {
        let node = (!dest.is_local()).then(|| dest.node());
        Remote::outgoing(self.clone(), node)
    }

    /// A message field that always carries the full bytes (for a
    /// destination whose node is not known, e.g. a broadcast to a group).
    pub fn to_anyone(&self) -> Remote {
        Remote::outgoing(self.clone(), None)
    }

    /// Whether two handles are the same cached graph.
    pub fn ptr_eq(&self, other: &Graph) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("id", &self.inner.id)
            .field("pickled_len", &self.pickled_len())
            .finish()
    }
}

/// What this node sent to one other node, counting the graph frames only
/// (ractor_cluster's own envelope around them is a few dozen bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Frames that carried the full pickled bytes.
    pub full: u64,
    /// Frames that carried only the content id.
    pub ids: u64,
    /// Bytes of all those frames.
    pub bytes: u64,
}

/// Counters for this node since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Graphs pickled and hashed by [`Graph::publish`].
    pub publishes: u64,
    /// Graphs that arrived as bytes and were rebuilt and frozen here.
    pub decodes: u64,
    /// Arrivals resolved from the node-local cache, with no decoding.
    pub cache_hits: u64,
    /// Arrivals that missed the cache and fetched the bytes from the sender.
    pub fetches: u64,
    /// Fetches this node answered for others.
    pub fetches_served: u64,
    /// Bytes of the pickles those answers carried (not in [`Stats::sent`]:
    /// a fetch does not say which node asked).
    pub bytes_served: u64,
    /// Arrivals whose `resolve` failed (corrupt frame, hash mismatch, not
    /// decodable, fetch failed).
    pub rejected: u64,
    /// Graphs in the node-local cache now.
    pub cached: usize,
    /// What went to each other node, by ractor_cluster node id.
    pub sent: Vec<(NodeId, Traffic)>,
}

/// This node's counters.
pub fn stats() -> Stats {
    let c = cache();
    let mut sent: Vec<_> = lock(&c.traffic).iter().map(|(k, v)| (*k, *v)).collect();
    sent.sort_by_key(|(n, _)| *n);
    let cached = lock(&c.by_id)
        .values()
        .filter(|w| w.strong_count() > 0)
        .count();
    Stats {
        publishes: c.counters.publishes.load(Relaxed),
        decodes: c.counters.decodes.load(Relaxed),
        cache_hits: c.counters.hits.load(Relaxed),
        fetches: c.counters.fetches.load(Relaxed),
        fetches_served: c.counters.served.load(Relaxed),
        bytes_served: c.counters.served_bytes.load(Relaxed),
        rejected: c.counters.rejected.load(Relaxed),
        cached,
        sent,
    }
}
