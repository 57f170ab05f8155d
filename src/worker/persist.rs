//! What the worker keeps on disk, behind a trait so tests can use memory.

use std::collections::{HashMap, HashSet};
use std::io;

use crate::store::{AccountLock, CachedBlock, CachedHeader, ListedMessage, SavedMark};

/// Reads the header blocks off the worker's thread (see
/// [`Persist::header_blocks_loader`]).
pub type BlocksLoader = Box<dyn FnOnce() -> HashMap<String, CachedBlock> + Send>;

/// Reads the header index off the worker's thread (see
/// [`Persist::header_index_loader`]).
pub type IndexLoader = Box<dyn FnOnce() -> HashMap<String, CachedHeader> + Send>;

/// Header cache and pending deletion marks, both keyed by UID, and the
/// last listing. The header cache is written by what changed: the worker
/// keeps its map in memory ([`HeaderCache`]) and tells the store which
/// entries it added or replaced, and which UIDs left the server.
pub trait Persist: Send {
    /// The whole header cache, header blocks included.
    fn load_headers(&mut self) -> HashMap<String, CachedHeader>;
    /// The header cache the list needs first: where
    /// [`Persist::header_blocks_loader`] gives a loader, without the header
    /// blocks (they come from it), else all of it.
    fn load_header_index(&mut self) -> HashMap<String, CachedHeader> {
        self.load_headers()
    }
    /// A loader of the header blocks to run on another thread, when
    /// [`Persist::load_header_index`] left them out.
    fn header_blocks_loader(&mut self) -> Option<BlocksLoader> {
        None
    }
    /// A loader of what [`Persist::load_header_index`] gives, to run on
    /// another thread while the session opens (`None`: load it here).
    fn header_index_loader(&mut self) -> Option<IndexLoader> {
        None
    }
    /// Add or replace these entries of the header cache.
    fn put_headers(&mut self, entries: &[(String, CachedHeader)]) -> io::Result<()>;
    /// Drop these UIDs from the header cache (gone from the server).
    fn forget_headers(&mut self, uids: &[String]) -> io::Result<()>;
    /// Keep the last listing the server gave (number, UID, LIST size), in
    /// order; not written again when unchanged.
    fn save_listing(&mut self, _listing: &[ListedMessage]) -> io::Result<()> {
        Ok(())
    }
    /// The last listing kept (empty when none, or when it was unfit).
    fn load_listing(&mut self) -> Vec<ListedMessage> {
        Vec::new()
    }
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
    fn put_headers(&mut self, _: &[(String, CachedHeader)]) -> io::Result<()> {
        Ok(())
    }
    fn forget_headers(&mut self, _: &[String]) -> io::Result<()> {
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
    /// The last listing saved: (number, UID, size).
    pub listing: Vec<ListedMessage>,
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
    fn put_headers(&mut self, entries: &[(String, CachedHeader)]) -> io::Result<()> {
        self.lock().headers.extend(entries.iter().cloned());
        Ok(())
    }
    fn forget_headers(&mut self, uids: &[String]) -> io::Result<()> {
        let mut state = self.lock();
        for uid in uids {
            state.headers.remove(uid);
        }
        Ok(())
    }
    fn save_listing(&mut self, listing: &[ListedMessage]) -> io::Result<()> {
        self.lock().listing = listing.to_vec();
        Ok(())
    }
    fn load_listing(&mut self) -> Vec<ListedMessage> {
        self.lock().listing.clone()
    }
    fn load_marks(&mut self) -> Vec<SavedMark> {
        self.lock().marks.clone()
    }
    fn save_marks(&mut self, marks: &[SavedMark]) -> io::Result<()> {
        self.lock().marks = marks.to_vec();
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
    fn load_header_index(&mut self) -> HashMap<String, CachedHeader> {
        if self.cache {
            self.store.load_header_index()
        } else {
            HashMap::new()
        }
    }
    fn header_blocks_loader(&mut self) -> Option<BlocksLoader> {
        let store = self.store.clone();
        self.cache
            .then(|| Box::new(move || store.load_header_blocks()) as BlocksLoader)
    }
    fn header_index_loader(&mut self) -> Option<IndexLoader> {
        let store = self.store.clone();
        self.cache
            .then(|| Box::new(move || store.load_header_index()) as IndexLoader)
    }
    fn put_headers(&mut self, entries: &[(String, CachedHeader)]) -> io::Result<()> {
        if self.cache {
            self.store.put_headers(entries)
        } else {
            Ok(())
        }
    }
    fn forget_headers(&mut self, uids: &[String]) -> io::Result<()> {
        if self.cache {
            self.store.forget_headers(uids)
        } else {
            Ok(())
        }
    }
    fn save_listing(&mut self, listing: &[ListedMessage]) -> io::Result<()> {
        if self.cache {
            self.store.save_listing(listing)
        } else {
            Ok(())
        }
    }
    fn load_listing(&mut self) -> Vec<ListedMessage> {
        if self.cache {
            self.store.load_listing()
        } else {
            Vec::new()
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

/// The worker's header cache: the previews by UID in memory, noting which
/// UIDs changed since the last [`HeaderCache::take_changes`], so a save
/// writes only those (reads go through `Deref` to the map).
#[derive(Debug, Default)]
pub struct HeaderCache {
    map: HashMap<String, CachedHeader>,
    changed: HashSet<String>,
}

impl HeaderCache {
    /// The cache as loaded: nothing changed yet.
    pub fn loaded(map: HashMap<String, CachedHeader>) -> HeaderCache {
        HeaderCache {
            map,
            changed: HashSet::new(),
        }
    }

    pub fn insert(&mut self, uid: String, entry: CachedHeader) {
        self.changed.insert(uid.clone());
        self.map.insert(uid, entry);
    }

    pub fn remove(&mut self, uid: &str) -> Option<CachedHeader> {
        let old = self.map.remove(uid);
        if old.is_some() {
            self.changed.insert(uid.to_string());
        }
        old
    }

    /// Keep the entries `keep` says yes to; the others are noted gone.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &CachedHeader) -> bool) {
        let changed = &mut self.changed;
        self.map.retain(|uid, c| {
            let k = keep(uid, c);
            if !k {
                changed.insert(uid.clone());
            }
            k
        });
    }

    /// What changed since the last call: the entries added or replaced,
    /// and the UIDs removed.
    pub fn take_changes(&mut self) -> (Vec<(String, CachedHeader)>, Vec<String>) {
        let mut put = Vec::new();
        let mut gone = Vec::new();
        for uid in self.changed.drain() {
            match self.map.get(&uid) {
                Some(c) => put.push((uid, c.clone())),
                None => gone.push(uid),
            }
        }
        (put, gone)
    }

    /// Give the entries their header blocks, loaded after them (not a
    /// change: they are what the cache holds). An entry left without one is
    /// removed (its preview is fetched again), and that is a change.
    pub fn merge_blocks(&mut self, blocks: HashMap<String, CachedBlock>) {
        let dropped = crate::store::merge_blocks(&mut self.map, blocks);
        self.changed.extend(dropped);
    }

    /// Nothing changed since the last [`HeaderCache::take_changes`].
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty()
    }
}

impl std::ops::Deref for HeaderCache {
    type Target = HashMap<String, CachedHeader>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::HeaderSummary;

    fn entry(size: u64) -> CachedHeader {
        CachedHeader {
            size,
            summary: HeaderSummary::default(),
        }
    }

    #[test]
    fn the_cache_reports_only_what_changed() {
        let mut c = HeaderCache::loaded(HashMap::from([
            ("a".to_string(), entry(1)),
            ("b".to_string(), entry(2)),
            ("c".to_string(), entry(3)),
        ]));
        assert!(c.is_clean());
        c.insert("d".into(), entry(4));
        c.insert("a".into(), entry(10));
        c.retain(|uid, _| uid != "b");
        assert!(c.remove("zz").is_none());
        let (mut put, gone) = c.take_changes();
        put.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(put, vec![("a".into(), entry(10)), ("d".into(), entry(4))]);
        assert_eq!(gone, vec!["b".to_string()]);
        assert!(c.is_clean());
        // Removed after being added: only the removal is left.
        c.insert("e".into(), entry(5));
        c.remove("e");
        assert_eq!(c.take_changes(), (vec![], vec!["e".to_string()]));
        assert_eq!(c.len(), 3);
    }
}
