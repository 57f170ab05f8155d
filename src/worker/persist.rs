//! What the worker keeps on disk, behind a trait so tests can use memory.

use std::collections::HashMap;
use std::io;

use crate::mail::HeaderSummary;

/// Header cache and pending deletion marks, both keyed by UID.
pub trait Persist: Send {
    fn load_headers(&mut self) -> HashMap<String, HeaderSummary>;
    fn save_headers(&mut self, headers: &HashMap<String, HeaderSummary>) -> io::Result<()>;
    fn load_marks(&mut self) -> Vec<String>;
    fn save_marks(&mut self, uids: &[String]) -> io::Result<()>;
}

/// Keeps nothing (`--no-cache`, or a server without UIDL). Marks still
/// live for the session.
#[derive(Debug, Default)]
pub struct Nothing;

impl Persist for Nothing {
    fn load_headers(&mut self) -> HashMap<String, HeaderSummary> {
        HashMap::new()
    }
    fn save_headers(&mut self, _: &HashMap<String, HeaderSummary>) -> io::Result<()> {
        Ok(())
    }
    fn load_marks(&mut self) -> Vec<String> {
        Vec::new()
    }
    fn save_marks(&mut self, _: &[String]) -> io::Result<()> {
        Ok(())
    }
}

/// What [`Memory`] holds.
#[derive(Debug, Default, Clone)]
pub struct MemoryState {
    pub headers: HashMap<String, HeaderSummary>,
    pub marks: Vec<String>,
}

/// Keeps everything in memory, shared between clones: outlives a worker
/// like a disk would (demo mode, tests, benchmarks).
#[derive(Debug, Default, Clone)]
pub struct Memory(pub std::sync::Arc<std::sync::Mutex<MemoryState>>);

impl Memory {
    pub fn state(&self) -> MemoryState {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A panic elsewhere can't corrupt two plain collections.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Persist for Memory {
    fn load_headers(&mut self) -> HashMap<String, HeaderSummary> {
        self.lock().headers.clone()
    }
    fn save_headers(&mut self, headers: &HashMap<String, HeaderSummary>) -> io::Result<()> {
        self.lock().headers = headers.clone();
        Ok(())
    }
    fn load_marks(&mut self) -> Vec<String> {
        self.lock().marks.clone()
    }
    fn save_marks(&mut self, uids: &[String]) -> io::Result<()> {
        self.lock().marks = uids.to_vec();
        Ok(())
    }
}

/// The on-disk [`Store`](crate::store::Store): the header cache when `cache`
/// is on (`--no-cache` neither reads nor writes it), and the pending marks
/// when `marks` is on. The scripting commands run with `marks` off: they
/// must neither commit nor forget marks a TUI session left pending.
pub struct OnDisk {
    pub store: crate::store::Store,
    pub cache: bool,
    pub marks: bool,
}

impl Persist for OnDisk {
    fn load_headers(&mut self) -> HashMap<String, HeaderSummary> {
        if self.cache {
            self.store.load_headers()
        } else {
            HashMap::new()
        }
    }
    fn save_headers(&mut self, headers: &HashMap<String, HeaderSummary>) -> io::Result<()> {
        if self.cache {
            self.store.save_headers(headers)
        } else {
            Ok(())
        }
    }
    fn load_marks(&mut self) -> Vec<String> {
        if self.marks {
            self.store.load_marks()
        } else {
            Vec::new()
        }
    }
    fn save_marks(&mut self, uids: &[String]) -> io::Result<()> {
        if self.marks {
            self.store.save_marks(uids)
        } else {
            Ok(())
        }
    }
}
