//! The body cache on the worker's side (`cache_bodies`, see
//! [`crate::bodycache`]).
//!
//! - A `Retrieve` whose (UID, size) is cached is answered from the cache
//!   when it arrives, with no `RETR`: while a session is up, connecting,
//!   released or offline alike (a released session stays released). The size is the one of the listing in
//!   effect (the last one the server gave in this run; before any, the
//!   header cache's, which is the list the UI shows). A message marked for
//!   deletion is not served from the cache: it goes the usual way and is
//!   refused as before (the mark rule wins).
//! - After a `RETR`, the bytes are kept on the cache's own thread
//!   (`popview-bodies`), so the session never waits for the disk.
//! - That thread starts by sending the text of the cached messages
//!   ([`Event::CachedBodies`]) so `~b` searches what was read before,
//!   bounded per message, in total and in time.
//!
//! Messages without a UID are never cached.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{debug, info};

use super::{Session, Worker};
use crate::bodycache::BodyCache;
use crate::worker::api::{Event, MsgKey, Ticket};
use crate::worker::listing::Listing;

/// At most this many bytes of one message's text are sent for `~b`.
pub const MAX_TEXT_PER_MESSAGE: usize = 256 * 1024;
/// At most this many bytes of text in all are sent for `~b`.
pub const MAX_TEXT_TOTAL: usize = 32 * 1024 * 1024;
/// At most this many cached messages are read for `~b` ...
const MAX_MESSAGES: usize = 20_000;
/// ... within this time.
const TEXT_BUDGET: Duration = Duration::from_secs(10);

/// A message to keep.
struct Put {
    uid: String,
    size: u64,
    /// The only strong reference: dropped once the file is written.
    raw: Arc<Vec<u8>>,
}

/// The worker's handle on the body cache and its thread (which ends,
/// after the puts already queued, when this is dropped).
pub struct Bodies {
    cache: Arc<Mutex<BodyCache>>,
    puts: Option<Sender<Put>>,
    thread: Option<JoinHandle<()>>,
    /// Set when the worker ends: the texts for `~b` are no longer wanted
    /// (a scripting command that read one message doesn't wait for them).
    stop: Arc<AtomicBool>,
    /// The cache's cap: a message this big is not kept.
    cap: u64,
    /// The last message queued to be kept, readable from memory until its
    /// file is written (an open right after a read doesn't miss).
    pending: Option<(String, u64, Weak<Vec<u8>>)>,
    /// UID -> size in the last listing of this run.
    sizes: Option<HashMap<String, u64>>,
}

fn lock(m: &Mutex<BodyCache>) -> MutexGuard<'_, BodyCache> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Bodies {
    /// Starts the cache's thread over `cache` (`None`: the cache is off,
    /// and nothing starts). `emit` takes the texts for `~b` and the
    /// warnings about files set aside.
    pub fn start(
        cache: Option<BodyCache>,
        mut emit: impl FnMut(Event) -> bool + Send + 'static,
    ) -> Option<Bodies> {
        let cache = cache?;
        let cap = cache.cap();
        let cache = Arc::new(Mutex::new(cache));
        let (tx, rx) = mpsc::channel::<Put>();
        let shared = Arc::clone(&cache);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("popview-bodies".into())
            .spawn(move || {
                let texts = texts_for_search(&shared, &stopped);
                let warnings = lock(&shared).take_warnings();
                for w in warnings {
                    if !emit(Event::Notice(crate::sanitize::line(&w))) {
                        return;
                    }
                }
                let wanted = !stopped.load(Ordering::Relaxed);
                if wanted && !texts.is_empty() && !emit(Event::CachedBodies(texts)) {
                    return;
                }
                while let Ok(put) = rx.recv() {
                    let mut c = lock(&shared);
                    if let Err(e) = c.put(&put.uid, put.size, &put.raw) {
                        info!(error = %e, "could not keep a message in the body cache");
                    } else {
                        debug!(
                            bytes = put.raw.len(),
                            total = c.total_bytes(),
                            cap = c.cap(),
                            "message kept in the body cache"
                        );
                    }
                    // In the cache's index before the bytes go.
                    drop(c);
                    drop(put);
                }
            })
            .ok()?;
        Some(Bodies {
            cache,
            puts: Some(tx),
            thread: Some(thread),
            stop,
            cap,
            pending: None,
            sizes: None,
        })
    }
}

impl Drop for Bodies {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.puts = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The text of the cached messages, most recently read first, bounded.
fn texts_for_search(cache: &Mutex<BodyCache>, stop: &AtomicBool) -> Vec<(String, String)> {
    let started = Instant::now();
    let names = lock(cache).names_by_use(MAX_MESSAGES);
    let mut out = Vec::new();
    let mut total = 0usize;
    for name in names {
        if started.elapsed() > TEXT_BUDGET
            || total >= MAX_TEXT_TOTAL
            || stop.load(Ordering::Relaxed)
        {
            break;
        }
        let Some((uid, raw)) = lock(cache).read_name(&name) else {
            continue;
        };
        let text = std::panic::catch_unwind(AssertUnwindSafe(|| {
            crate::text::clean_text(&crate::mail::view(raw).body)
        }));
        let Ok(mut text) = text else { continue };
        if text.len() > MAX_TEXT_PER_MESSAGE {
            let mut cut = MAX_TEXT_PER_MESSAGE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        total += text.len();
        out.push((uid, text));
    }
    debug!(
        messages = out.len(),
        bytes = total,
        "texts of cached messages sent for ~b"
    );
    out
}

impl Worker {
    /// Answers reads from `bodies` (and keeps what is read there) from
    /// now on.
    pub(in crate::worker) fn with_bodies(mut self, bodies: Option<Bodies>) -> Worker {
        self.bodies = bodies;
        self
    }

    /// A `Retrieve` arrived: answered from the body cache when it holds
    /// that message, else queued (superseding an older one) for `RETR`.
    pub(super) fn retrieve_request(&mut self, ticket: Ticket, key: MsgKey) {
        if self.answer_from_cache(ticket, &key) {
            self.retrieve = None;
            // Served without the server: not an action that ends a
            // release (no login for a message read from disk).
            self.acts = self.acts.saturating_sub(1);
        } else {
            self.retrieve = Some((ticket, key));
        }
    }

    fn answer_from_cache(&mut self, ticket: Ticket, key: &MsgKey) -> bool {
        let Some(uid) = key.uid.as_deref() else {
            return false;
        };
        if self.bodies.is_none() || self.marks.contains(key) {
            return false;
        }
        let size = match self.bodies.as_ref().and_then(|b| b.sizes.as_ref()) {
            Some(sizes) => sizes.get(uid).copied(),
            None => self.cache.get(uid).map(|c| c.size),
        };
        let Some(size) = size else { return false };
        let Some(b) = &self.bodies else { return false };
        let queued = match &b.pending {
            Some((u, n, raw)) if u == uid && *n == size => raw.upgrade(),
            _ => None,
        };
        let (raw, warnings) = match queued {
            Some(raw) => (Some(raw.as_ref().clone()), Vec::new()),
            None => {
                let mut c = lock(&b.cache);
                (c.get(uid, size), c.take_warnings())
            }
        };
        for w in warnings {
            self.notice(w);
        }
        let Some(raw) = raw else { return false };
        debug!(
            uid = %self.logged(uid),
            size,
            bytes = raw.len(),
            "cache hit: message read from the body cache, no RETR"
        );
        self.deliver_read(ticket, key.clone(), raw, false);
        true
    }

    /// A listing came: its sizes are the ones cached messages are matched
    /// by from now on.
    pub(super) fn bodies_listing(&mut self, listing: &Listing) {
        if let Some(b) = &mut self.bodies {
            b.sizes = Some(
                listing
                    .msgs()
                    .iter()
                    .filter_map(|m| Some((m.uid.clone()?, m.size)))
                    .collect(),
            );
        }
    }

    /// Message `msg` was read in full (`RETR`): keep it, off this thread.
    pub(super) fn keep_body(&mut self, s: &Session, msg: u32, raw: &[u8]) {
        let Some(b) = &mut self.bodies else { return };
        let Some(m) = s.listing.get(msg) else { return };
        let Some(uid) = &m.uid else { return };
        if raw.len() as u64 >= b.cap {
            return;
        }
        if let Some(tx) = &b.puts {
            let raw = Arc::new(raw.to_vec());
            b.pending = Some((uid.clone(), m.size, Arc::downgrade(&raw)));
            let _ = tx.send(Put {
                uid: uid.clone(),
                size: m.size,
                raw,
            });
        }
    }
}
