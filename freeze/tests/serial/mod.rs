//! The lock that serialises tests reading process-wide counts
//! (`frozen_live()`), shared by the test binaries that need it.

use std::sync::{Mutex, MutexGuard};

static LOCK: Mutex<()> = Mutex::new(());

/// Held for a test's duration. Collects this thread's cyclic garbage
/// before letting go, so that the thread's exit (which frees what is left,
/// after the test has reported) cannot move the counts under the next
/// test.
pub struct Serial(#[allow(dead_code)] MutexGuard<'static, ()>);

impl Drop for Serial {
    fn drop(&mut self) {
        permafrost_freeze::collect();
    }
}

/// Takes the lock (a test that panicked while holding it does not poison
/// the others).
pub fn lock() -> Serial {
    Serial(LOCK.lock().unwrap_or_else(|e| e.into_inner()))
}
