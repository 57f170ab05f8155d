//! What the worker keeps on disk, behind a trait so tests can use memory.

use std::collections::HashMap;
use std::io;

use crate::store::{AccountLock, CachedHeader, SavedMark};

/// Header cache and pending deletion marks, both keyed by UID.
pub trait Persist: Send {
    fn load_headers(&mut self) -> HashMap<String, CachedHeader>;
    fn save_headers(&mut self, headers: &HashMap<String, CachedHeader>) -> io::Result<()>;
    fn load_marks(&mut self) -> Vec<SavedMark>;
    fn save_marks(&mut self, marks: &[SavedMark]) -> io::Result<()>;
    /// What loading set aside (a corrupt or planted file), in words for
    /// the user.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// Why this instance must not change the marks (another popview has
    /// the account open), if so: marking and committing are then refused,
    /// and the marks file is neither read nor written.
    fn read_only(&self) -> Option<String> {
        None
    }
    /// The last listing the server gave, in order: (message number, UID,
    /// LIST size). Empty when none was kept or it can't be trusted.
    fn load_listing(&mut self) -> Vec<(u32, String, u64)> {
        Vec::new()
    }
    /// Keep `listing` (a listing with UIDs) for the next start's first
    /// screen.
    fn save_listing(&mut self, _listing: &[(u32, String, u64)]) -> io::Result<()> {
        Ok(())
    }
    /// The body cache (`cache_bodies`), when it is on.
    fn body_cache(&mut self) -> Option<crate::bodycache::BodyCache> {
        None
    }
}

/// Keeps nothing (`--no-cache`, or a server without UIDL). Marks still
/// live for the session.
#[derive(Debug, Default)]
pub struct Nothing;

impl Persist for Nothing {
    fn load_headers(&mut self) -> HashMap<String, CachedHeader> {
        HashMap::new()
    }
    fn save_headers(&mut self, _: &HashMap<String, CachedHeader>) -> io::Result<()> {
        Ok(())
    }
    fn load_marks(&mut self) -> Vec<SavedMark> {
        Vec::new()
    }
    fn save_marks(&mut self, _: &[SavedMark]) -> io::Result<()> {
        Ok(())
    }
}

/// What [`Memory`] holds.
#[derive(Debug, Default, Clone)]
pub struct MemoryState {
    pub headers: HashMap<String, CachedHeader>,
    pub marks: Vec<SavedMark>,
    /// The last listing kept: (number, UID, size).
    pub listing: Vec<(u32, String, u64)>,
}

impl MemoryState {
    /// The UIDs of the saved marks, in order.
    pub fn marked_uids(&self) -> Vec<String> {
        self.marks.iter().map(|m| m.uid.clone()).collect()
    }
}

/// Keeps everything in memory, shared between clones: outlives a worker
/// like a disk would (demo mode, tests, benchmarks).
#[derive(Debug, Default, Clone)]
pub struct Memory(pub std::sync::Arc<std::sync::Mutex<MemoryState>>);

impl Memory {
    pub fn state(&self) -> MemoryState {
        self.lock().clone()
    }

    /// Replace the saved marks (a test planting a marks file).
    pub fn set_marks(&self, marks: Vec<SavedMark>) {
        self.lock().marks = marks;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A panic elsewhere can't corrupt two plain collections.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Persist for Memory {
    fn load_headers(&mut self) -> HashMap<String, CachedHeader> {
        self.lock().headers.clone()
    }
    fn save_headers(&mut self, headers: &HashMap<String, CachedHeader>) -> io::Result<()> {
        self.lock().headers = headers.clone();
        Ok(())
    }
    fn load_marks(&mut self) -> Vec<SavedMark> {
        self.lock().marks.clone()
    }
    fn save_marks(&mut self, marks: &[SavedMark]) -> io::Result<()> {
        self.lock().marks = marks.to_vec();
        Ok(())
    }
    fn load_listing(&mut self) -> Vec<(u32, String, u64)> {
        self.lock().listing.clone()
    }
    fn save_listing(&mut self, listing: &[(u32, String, u64)]) -> io::Result<()> {
        self.lock().listing = listing.to_vec();
        Ok(())
    }
}

/// The on-disk [`Store`](crate::store::Store): the header cache when `cache`
/// is on (`--no-cache` neither reads nor writes it), and the pending marks
/// when `marks` is on. The scripting commands run with `marks` off: they
/// must neither commit nor forget marks a TUI session left pending. A
/// second TUI on an account another popview holds runs `read_only` (see
/// [`Persist::read_only`]).
pub struct OnDisk {
    pub store: crate::store::Store,
    pub cache: bool,
    pub marks: bool,
    /// Set when another popview holds the account lock: why marks are off.
    pub read_only: Option<String>,
    /// The account lock, held for the life of the worker that may change
    /// the marks (released when it ends).
    pub lock: Option<AccountLock>,
    /// `cache_bodies`: the body cache's cap in bytes; `None`: off, and
    /// nothing of a body is written.
    pub bodies: Option<u64>,
}

impl OnDisk {
    /// Cache and marks as given, no lock held, not read-only.
    pub fn new(store: crate::store::Store, cache: bool, marks: bool) -> OnDisk {
        OnDisk {
            store,
            cache,
            marks,
            read_only: None,
            lock: None,
            bodies: None,
        }
    }

    fn marks_on(&self) -> bool {
        self.marks && self.read_only.is_none()
    }
}

impl Persist for OnDisk {
    fn load_headers(&mut self) -> HashMap<String, CachedHeader> {
        if self.cache {
            self.store.load_headers()
        } else {
            HashMap::new()
        }
    }
    fn save_headers(&mut self, headers: &HashMap<String, CachedHeader>) -> io::Result<()> {
        if self.cache {
            self.store.save_headers(headers)
        } else {
            Ok(())
        }
    }
    fn load_marks(&mut self) -> Vec<SavedMark> {
        if self.marks_on() {
            self.store.load_mark_records()
        } else {
            Vec::new()
        }
    }
    fn save_marks(&mut self, marks: &[SavedMark]) -> io::Result<()> {
        if self.marks_on() {
            self.store.save_mark_records(marks)
        } else {
            Ok(())
        }
    }
    fn take_warnings(&mut self) -> Vec<String> {
        self.store.take_warnings()
    }
    fn read_only(&self) -> Option<String> {
        self.read_only.clone()
    }
    fn body_cache(&mut self) -> Option<crate::bodycache::BodyCache> {
        let cap = self.bodies?;
        let dir = crate::bodycache::dir_in(self.store.cache_dir());
        crate::bodycache::BodyCache::open(&dir, cap)
            .map_err(|e| tracing::info!(error = %e, "the body cache could not be opened"))
            .ok()
    }
}
