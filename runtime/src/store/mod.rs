//! The object store: [`Store`] (its docs describe the model), with one
//! module per concern: ids, errors, size estimates, the state and its
//! waiting (`state`), the operations on it (`ops`), eviction and restore
//! (`evict`), spill files (`spill`), notifications (`notify`), counters
//! (`stats`). Imports go one way: `ops` uses `evict`, both use `state`.
//!
//! Design choices, in short:
//!
//! * "Held" means pinned: `Frozen` exposes no count the store could read,
//!   so, as in Ray and Plasma, every object a get returns is pinned until
//!   `release`, and only unpinned objects are evicted.
//! * Sizes are [`estimate_size`]'s, taken at put time before freezing.
//! * A spill file is the object's [`pickle`](permafrost_freeze::pickle);
//!   a restore is unpickle + freeze on the getting thread, so it makes new
//!   objects (identity is kept only while resident).
//! * One lock over the state; estimating, freezing, pickling, file I/O and
//!   freeing happen with it released.

mod error;
mod evict;
mod id;
mod notify;
mod ops;
mod size;
mod spill;
mod state;
mod stats;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use permafrost_freeze::{Frozen, Value};

pub use error::StoreError;
pub use id::{ObjectId, ParseIdError};
pub use notify::{Notification, Subscription};
pub use size::{estimate_size, SLOT_BYTES};
pub use stats::StoreStats;

use state::Inner;

/// A process-wide store of sealed (frozen) objects, shared by all workers.
/// Cheap to clone (one reference count), `Send + Sync`; the store lives
/// until its last handle is dropped, and takes its spill files with it.
///
/// After Apache Arrow's Plasma and Ray's object store: frozen graphs are put
/// once under an id, and every worker of the process gets them by id, by
/// reference.
///
/// * **Sealing is freezing.** [`Store::put`] freezes a value (all or
///   nothing) and publishes it under a fresh [`ObjectId`]. Or reserve an
///   id first with [`Store::create`] (other workers may already
///   [`get`](Store::get) it: they block) and publish it with
///   [`Store::seal`]; [`Store::abort`] gives the reservation up and wakes
///   its waiters with [`StoreError::Aborted`].
/// * **A get is an O(1) share**: a [`Frozen`] handle to the very objects
///   that were put, whatever the graph's size.
/// * **Pinning (Ray and Plasma style).** A `Frozen` is a plain counted
///   handle, and the store cannot see how many are alive, so each object a
///   `get` returns is *pinned* once until [`Store::release`] is called for
///   it. A pinned object is never evicted. Release when you are done;
///   a `Frozen` kept after its release stays valid (it is counted), but the
///   store no longer accounts for it and may spill or drop its own handle.
/// * **Capacity and eviction.** Every object is charged its
///   [`estimate_size`] (taken when it is put, before freezing). When a put
///   or a restore needs room, the least recently used sealed objects that
///   no one has pinned are evicted; if that is not enough,
///   [`StoreError::StoreFull`].
/// * **Spilling (Ray's behaviour, on by default).** An evicted object is
///   not dropped: its [`pickle`](permafrost_freeze::pickle) is written to
///   the spill directory, and the next `get` reads it back transparently
///   (unpickle into the getter's heap, then freeze). A restored object is a
///   *new* graph, equal to the one spilled: identity is kept only while an
///   object stays resident. Graphs that cannot be pickled (shared fields,
///   weak references) are never evicted; instances need their classes
///   registered ([`register_class`](permafrost_freeze::register_class)),
///   as for any unpickle. With spilling off, evicted objects are dropped
///   (Plasma's behaviour) and subscribers hear of it. Spill files live in a
///   fresh directory under [`std::env::temp_dir`] unless
///   [`StoreBuilder::spill_dir`] says otherwise, and are removed when the
///   object is restored or deleted, and when the store is dropped.
/// * **Notifications**: [`Store::subscribe`] gives a [`Subscription`] with
///   one [`Notification`] per seal and per deletion or eviction.
///
/// Waiting follows Plasma and Ray: [`Store::get`] waits for every id until
/// a timeout and gives `None` for those still missing (ids that do not
/// exist yet are waited for too: a producer may put them later);
/// [`Store::wait`] returns once `num_returns` of the ids are sealed.
/// Nothing panics; every failure is a [`StoreError`].
///
/// ```
/// use std::time::Duration;
/// use permafrost_runtime::{ObjectId, Runtime, Store, Value};
///
/// let store = Store::new(); // cheap to clone, Send + Sync
/// let table = Value::list((0..1000).map(Value::Int).collect());
/// let table_id = store.put(&table).unwrap(); // frozen, sealed, shared
///
/// let rt = Runtime::new();
/// let result_id = ObjectId::random();
/// let worker = {
///     let store = store.clone();
///     rt.spawn("summer", move |_ctx| {
///         let t = store.get_one(table_id, Duration::from_secs(5)).unwrap();
///         let sum: i64 = t.view().iter().map(|v| v.as_int().unwrap()).sum();
///         store.release(table_id).unwrap(); // unpin: evictable again
///         store.put_with_id(result_id, &Value::Int(sum)).unwrap();
///         t.id() // the identity of what it got
///     })
/// };
/// // Blocks until the worker has put its result.
/// let got = store.get(&[result_id], Duration::from_secs(5)).unwrap();
/// assert_eq!(got[0].as_ref().unwrap().value().as_int(), Some(499_500));
/// store.release(result_id).unwrap();
/// let seen = worker.join().unwrap();
/// assert_eq!(seen, table.share().unwrap().id()); // the very same objects
/// ```
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Configures a [`Store`]: [`Store::builder`].
///
/// ```
/// use permafrost_runtime::Store;
/// let store = Store::builder()
///     .capacity(64 << 20) // bytes, as estimated (see `estimate_size`)
///     .spill(true) // evicted objects go to disk (the default)
///     .spill_dir(std::env::temp_dir().join("my-app-spill"))
///     .build();
/// assert_eq!(store.capacity(), 64 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct StoreBuilder {
    capacity: usize,
    spill: bool,
    spill_dir: Option<PathBuf>,
}

impl Default for StoreBuilder {
    fn default() -> Self {
        StoreBuilder {
            capacity: usize::MAX,
            spill: true,
            spill_dir: None,
        }
    }
}

impl StoreBuilder {
    /// The most bytes the store holds in memory (default: unlimited).
    pub fn capacity(mut self, bytes: usize) -> StoreBuilder {
        self.capacity = bytes;
        self
    }

    /// Whether evicted objects are spilled to disk (default) or dropped.
    pub fn spill(mut self, on: bool) -> StoreBuilder {
        self.spill = on;
        self
    }

    /// Where spill files go (default: a fresh directory under
    /// [`std::env::temp_dir`]). Made on the first spill if missing, and
    /// removed with the store if the store made it. Several stores may
    /// share a directory: each names its files with its own tag.
    pub fn spill_dir(mut self, path: impl Into<PathBuf>) -> StoreBuilder {
        self.spill_dir = Some(path.into());
        self
    }

    /// The store. Nothing touches the disk until the first spill.
    pub fn build(self) -> Store {
        Store {
            inner: Arc::new(Inner::new(self.capacity, self.spill, self.spill_dir)),
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    /// A store with unlimited capacity (and so no eviction).
    pub fn new() -> Store {
        StoreBuilder::default().build()
    }

    /// Configures a store: capacity, spilling, spill directory.
    pub fn builder() -> StoreBuilder {
        StoreBuilder::default()
    }

    /// Freezes `value` (all or nothing, in place: the caller's handle is
    /// frozen too) and seals it under a fresh random id.
    ///
    /// Errors: [`StoreError::NotFreezable`] (nothing was frozen),
    /// [`StoreError::StoreFull`] (the value was left as it was: room is
    /// made before freezing), [`StoreError::SpillIo`] (making room failed).
    ///
    /// ```
    /// use permafrost_runtime::{Store, Value};
    /// let store = Store::new();
    /// let v = Value::list(vec![Value::Int(1)]);
    /// let id = store.put(&v).unwrap();
    /// assert!(store.contains(id));
    /// assert!(v.append(Value::Int(2)).is_err()); // frozen now
    /// ```
    pub fn put(&self, value: &Value) -> Result<ObjectId, StoreError> {
        self.inner.put(value)
    }

    /// [`put`](Store::put) under an id the caller chose (Plasma's ids are
    /// the client's). Wakes every call waiting for `id`.
    ///
    /// Errors: as `put`, and [`StoreError::AlreadyExists`] when `id` is
    /// reserved or stored.
    pub fn put_with_id(&self, id: ObjectId, value: &Value) -> Result<(), StoreError> {
        self.inner.put_with_id(id, value)
    }

    /// Reserves `id`: from now on gets of it block until it is sealed
    /// ([`seal`](Store::seal)) or aborted ([`abort`](Store::abort)).
    ///
    /// Errors: [`StoreError::AlreadyExists`].
    pub fn create(&self, id: ObjectId) -> Result<(), StoreError> {
        self.inner.create(id)
    }

    /// Freezes `value` and publishes it under reserved `id`, waking every
    /// call waiting for it.
    ///
    /// Errors: [`StoreError::UnknownId`] (not reserved),
    /// [`StoreError::AlreadySealed`], [`StoreError::Aborted`] (aborted while
    /// this call froze the value); and [`StoreError::NotFreezable`],
    /// [`StoreError::StoreFull`] or [`StoreError::SpillIo`], which leave
    /// the reservation open for another `seal` (or an `abort`).
    ///
    /// ```
    /// use permafrost_freeze::{set_freezable, Freezability};
    /// use permafrost_runtime::{ObjectId, Store, StoreError, Value};
    /// let store = Store::new();
    /// let id = ObjectId::random();
    /// store.create(id).unwrap();
    /// assert!(!store.contains(id)); // reserved, not sealed
    ///
    /// let socket = Value::dict();
    /// set_freezable(&socket, Freezability::No).unwrap();
    /// let bad = Value::list(vec![socket]);
    /// let Err(StoreError::NotFreezable(e)) = store.seal(id, &bad) else { panic!() };
    /// assert_eq!(e.path, "root[0]"); // nothing frozen, reservation still open
    ///
    /// store.seal(id, &Value::from("done")).unwrap();
    /// assert!(store.contains(id));
    /// assert_eq!(store.seal(id, &Value::None), Err(StoreError::AlreadySealed(id)));
    /// ```
    pub fn seal(&self, id: ObjectId, value: &Value) -> Result<(), StoreError> {
        self.inner.seal(id, value)
    }

    /// Gives up reservation `id`: the id is free again, and every call
    /// waiting for it fails with [`StoreError::Aborted`].
    ///
    /// Errors: [`StoreError::UnknownId`], [`StoreError::AlreadySealed`].
    pub fn abort(&self, id: ObjectId) -> Result<(), StoreError> {
        self.inner.abort(id)
    }

    /// Plasma's `get`: waits until every id is sealed or `timeout` has
    /// passed (`Duration::ZERO`: do not wait; `Duration::MAX`: wait
    /// forever), and gives a handle to each object, `None` for those still
    /// missing. Ids not created yet are waited for as well.
    ///
    /// Each `Some` pins its id once: call [`release`](Store::release) for
    /// it when done. Spilled objects are read back first (into this
    /// thread's heap, then frozen).
    ///
    /// Errors (no pin is kept): [`StoreError::Aborted`] when a reservation
    /// it waits for is aborted; [`StoreError::SpillIo`],
    /// [`StoreError::Restore`] or [`StoreError::StoreFull`] when a spilled
    /// object cannot be brought back (it stays spilled).
    ///
    /// ```
    /// use std::time::Duration;
    /// use permafrost_runtime::{ObjectId, Store, Value};
    /// let store = Store::new();
    /// let a = store.put(&Value::from("a")).unwrap();
    /// let never = ObjectId::random();
    /// let got = store.get(&[a, never], Duration::from_millis(10)).unwrap();
    /// assert_eq!(got[0].as_ref().unwrap().value().as_str(), Some("a"));
    /// assert!(got[1].is_none()); // timed out
    /// store.release(a).unwrap();
    /// ```
    pub fn get(
        &self,
        ids: &[ObjectId],
        timeout: Duration,
    ) -> Result<Vec<Option<Frozen>>, StoreError> {
        self.inner.get(ids, timeout)
    }

    /// One id's [`get`](Store::get): the object (pinned), or
    /// [`StoreError::TimedOut`].
    pub fn get_one(&self, id: ObjectId, timeout: Duration) -> Result<Frozen, StoreError> {
        let got = self.inner.get(&[id], timeout)?;
        got.into_iter()
            .next()
            .flatten()
            .ok_or(StoreError::TimedOut(id))
    }

    /// Ray's `wait`: returns once `num_returns` of `ids` are sealed (at
    /// most `ids.len()`), or when `timeout` has passed, as `(ready,
    /// not_ready)`: at most `num_returns` sealed ids, then all the others,
    /// each list in the order of `ids`. Pins nothing and restores nothing.
    ///
    /// Errors: [`StoreError::Aborted`] when a reservation it still needs is
    /// aborted.
    ///
    /// ```
    /// use std::time::Duration;
    /// use permafrost_runtime::{ObjectId, Store, Value};
    /// let store = Store::new();
    /// let a = store.put(&Value::Int(1)).unwrap();
    /// let b = ObjectId::random();
    /// let (ready, rest) = store.wait(&[b, a], 1, Duration::from_secs(1)).unwrap();
    /// assert_eq!((ready, rest), (vec![a], vec![b]));
    /// ```
    pub fn wait(
        &self,
        ids: &[ObjectId],
        num_returns: usize,
        timeout: Duration,
    ) -> Result<(Vec<ObjectId>, Vec<ObjectId>), StoreError> {
        self.inner.wait(ids, num_returns, timeout)
    }

    /// True when `id` is sealed (in memory or spilled) and not deleted.
    pub fn contains(&self, id: ObjectId) -> bool {
        self.inner.contains(id)
    }

    /// Removes sealed object `id` (and its spill file). If it is pinned it
    /// leaves the namespace now (no longer got, contained or waited for)
    /// and its memory at its last [`release`](Store::release), as in
    /// Plasma; until then it still counts against the capacity and its id
    /// cannot be reused. Subscribers hear of it now.
    ///
    /// Errors: [`StoreError::UnknownId`], [`StoreError::NotSealed`] (abort
    /// a reservation instead).
    pub fn delete(&self, id: ObjectId) -> Result<(), StoreError> {
        self.inner.delete(id)
    }

    /// Drops one pin a [`get`](Store::get) took on `id`; at the last one the
    /// object becomes evictable again (its most recent use).
    ///
    /// Errors: [`StoreError::UnknownId`], [`StoreError::NotPinned`].
    pub fn release(&self, id: ObjectId) -> Result<(), StoreError> {
        self.inner.release(id)
    }

    /// Plasma's `evict`: evicts least recently used unpinned objects
    /// (spilling them, or dropping them with spilling off) until at least
    /// `bytes` came free or nothing evictable is left; returns the bytes
    /// freed.
    ///
    /// Errors: [`StoreError::SpillIo`] (what was spilled before stays so).
    pub fn evict(&self, bytes: usize) -> Result<usize, StoreError> {
        self.inner.evict(bytes)
    }

    /// Notifications of every seal and deletion from now on.
    ///
    /// ```
    /// use permafrost_runtime::{Notification, Store, Value};
    /// let store = Store::new();
    /// let events = store.subscribe();
    /// let id = store.put(&Value::Int(7)).unwrap();
    /// store.delete(id).unwrap();
    /// assert!(matches!(events.recv(), Some(Notification::Sealed { id: i, .. }) if i == id));
    /// assert_eq!(events.recv(), Some(Notification::Deleted { id, evicted: false }));
    /// ```
    pub fn subscribe(&self) -> Subscription {
        self.inner.subscribe()
    }

    /// The store's counters right now.
    pub fn stats(&self) -> StoreStats {
        self.inner.stats()
    }

    /// The capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// The directory spill files go to (it exists only once something was
    /// spilled).
    pub fn spill_dir(&self) -> &Path {
        self.inner.dir.path()
    }

    /// True when both handles are the same store.
    pub fn same_store(&self, other: &Store) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.stats();
        f.debug_struct("Store")
            .field("objects", &s.objects)
            .field("used", &s.used)
            .field("capacity", &s.capacity)
            .finish_non_exhaustive()
    }
}
