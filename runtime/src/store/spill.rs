//! Spill files: an evicted object's pickle on disk, and the way back.
//!
//! A spill file is exactly [`pickle`]'s output for the object (magic
//! `PFPK`, version, ops), named `<store tag>-<id hex>-<spill number>.pfpk`
//! in the store's spill directory. It is scratch space, not persistence:
//! it is written without fsync, removed when the object is restored or
//! deleted, and removed with the store.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use permafrost_freeze::{collect, freeze, pickle, unpickle, Error, Frozen};

use super::error::StoreError;
use super::id::{random_u64, ObjectId};

/// The directory spill files go to, made on first use.
pub(crate) struct SpillDir {
    path: PathBuf,
    /// Distinguishes this store's files from another store's sharing a
    /// directory given by the caller.
    tag: u64,
    /// `None` until the directory is known to exist; then whether this
    /// store made it (and so removes it when dropped).
    made: Mutex<Option<bool>>,
}

/// Why an object could not be written out.
pub(crate) enum WriteFailure {
    /// The graph cannot be pickled (a shared field, a weak reference): it
    /// can never be spilled.
    NotPicklable,
    /// The file could not be written; the object stays in memory.
    Io(StoreError),
}

impl SpillDir {
    /// `dir`, or a fresh directory under the system's temporary directory.
    pub(crate) fn new(dir: Option<PathBuf>) -> SpillDir {
        let tag = random_u64(0x5311);
        let path = dir.unwrap_or_else(|| {
            std::env::temp_dir().join(format!(
                "permafrost-store-{}-{tag:016x}",
                std::process::id()
            ))
        });
        SpillDir {
            path,
            tag,
            made: Mutex::new(None),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file for spill number `seq` of this store, holding `id`.
    pub(crate) fn file(&self, id: ObjectId, seq: u64) -> PathBuf {
        self.path.join(format!("{:016x}-{id}-{seq}.pfpk", self.tag))
    }

    fn ensure(&self) -> std::io::Result<()> {
        let mut made = self.made.lock();
        if made.is_none() {
            let existed = self.path.is_dir();
            std::fs::create_dir_all(&self.path)?;
            *made = Some(!existed);
        }
        Ok(())
    }

    /// Pickles `object` into `path`. Runs without the store's lock.
    pub(crate) fn write(
        &self,
        id: ObjectId,
        path: &Path,
        object: &Frozen,
    ) -> Result<(), WriteFailure> {
        let bytes = pickle(&object.value()).map_err(|_| WriteFailure::NotPicklable)?;
        self.ensure()
            .map_err(|e| WriteFailure::Io(StoreError::io(id, &self.path, e)))?;
        std::fs::write(path, &bytes).map_err(|e| {
            // why: a short write must not be left behind for the store's
            // drop to miss (it only knows files it finished).
            remove(path);
            WriteFailure::Io(StoreError::io(id, path, e))
        })
    }

    /// Removes the directory if this store made it and it is empty.
    pub(crate) fn remove_if_made(&self) {
        if *self.made.lock() == Some(true) {
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}

/// Removes a spill file; a file already gone is not an error.
pub(crate) fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Reads a spilled object back on this thread: unpickle into this heap,
/// then freeze and share. The result is a new graph, equal to the one
/// spilled but not the same objects. Runs without the store's lock.
pub(crate) fn read(id: ObjectId, path: &Path) -> Result<Frozen, StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::io(id, path, e))?;
    let value = unpickle(&bytes).map_err(|error| StoreError::Restore { id, error })?;
    let shared = match freeze(&[&value]) {
        Ok(()) => value.share(),
        Err(e) => Err(Error::from(e)),
    };
    shared.map_err(|error| {
        // why: a graph that failed to freeze is mutable garbage in this
        // heap, possibly cyclic; reclaim it before reporting.
        drop(value);
        collect();
        StoreError::Restore { id, error }
    })
}
