//! The first screen before the network answers: the last session's
//! listing and the previews cached for it, sent at start
//! (`Event::CachedListing`), and each new listing kept for the next start.

use tracing::debug;

use std::collections::{HashMap, HashSet};

use super::Worker;
use crate::worker::api::{Event, ListEntry, MsgKey};
use crate::worker::listing::Listing;
use crate::worker::persist::HeaderCache;

/// Previews sent first, alone: more rows than any terminal shows.
const FIRST_SCREENFUL: usize = 256;
/// The rest go in chunks this big, so the UI draws between them.
const PREVIEW_CHUNK: usize = 2048;

impl Worker {
    /// Before the first connection: the header cache, and from it the list
    /// as it was last seen. The cache's index is read on another thread
    /// from the start. The rows go first (they need only the last
    /// listing), their previews once the index is in, the newest
    /// screenful alone; then the header blocks (`~h`, nine tenths of the
    /// bytes) are read on another thread while the session opens. Without
    /// a first screen to draw (the commands), the index is read beside the
    /// login; what is still being read is awaited with the listing
    /// ([`Worker::await_header_cache`]).
    pub(super) fn start_from_cache(&mut self) {
        self.cache_index = self
            .persist
            .header_index_loader()
            .and_then(|load| super::on_a_thread("popview-index", load));
        if self.cache_index.is_none() {
            self.cache = HeaderCache::loaded(self.persist.load_header_index());
        }
        if self.cfg.show_cached
            && let Some(listing) = self.show_cached_rows()
        {
            self.await_header_index();
            self.show_cached_previews(listing);
        }
        if self.cfg.header_blocks {
            self.cache_blocks = self
                .persist
                .header_blocks_loader()
                .and_then(|load| super::on_a_thread("popview-cache", load));
        }
    }

    /// The rows of the last listing (only messages with a valid, unique
    /// UID), sent as `Event::CachedListing`; the listing, when it has any.
    /// A mark made on them names its message by UID (kept offline, checked
    /// at the session like any restored mark).
    fn show_cached_rows(&mut self) -> Option<Listing> {
        let mut listing = Listing::kept(self.persist.load_listing());
        // Not a session's listing: the first session's is generation 1.
        listing.generation = 0;
        let entries: Vec<ListEntry> = listing
            .entries()
            .into_iter()
            .filter(|e| e.key.uid.is_some())
            .collect();
        if entries.is_empty() {
            return None;
        }
        debug!(
            rows = entries.len(),
            "cached listing shown before connecting"
        );
        self.send(Event::CachedListing(entries));
        Some(listing)
    }

    /// The previews cached for the rows of `listing`, newest first (the
    /// list opens on the newest): the first screenful goes alone, made and
    /// sent before the rest is looked at, so the UI draws it before taking
    /// in the others.
    fn show_cached_previews(&mut self, listing: Listing) {
        // A preview shown here with its header block (`~h`) is not sent
        // again by the first session; one whose block is still being read
        // (see `Worker::await_header_cache`) is, with its block.
        let mut shown = HashMap::new();
        let mut sent = 0;
        let mut newest_first = listing.msgs().iter().rev();
        let mut size = FIRST_SCREENFUL;
        loop {
            let mut chunk = Vec::with_capacity(size);
            for m in newest_first.by_ref() {
                let (Some(uid), Some(summary)) = (&m.uid, self.cached_preview(m)) else {
                    continue;
                };
                if !summary.headers.is_empty() {
                    shown.insert(uid.clone(), m.size);
                }
                chunk.push((listing.key(m), summary.clone()));
                if chunk.len() == size {
                    break;
                }
            }
            if chunk.is_empty() {
                break;
            }
            sent += chunk.len();
            self.send(Event::Previews(chunk));
            size = PREVIEW_CHUNK;
        }
        self.previews_shown = shown;
        debug!(previews = sent, "cached previews shown before connecting");
        self.last_listing = Some(listing);
    }

    /// Keeps a session's listing (its messages with UIDs) for the next
    /// start's first screen.
    pub(super) fn keep_listing(&mut self, listing: &Listing) {
        if !listing.has_uids {
            return;
        }
        let kept: Vec<(u32, String, u64)> = listing
            .msgs()
            .iter()
            .filter_map(|m| Some((m.number, m.uid.clone()?, m.size)))
            .collect();
        self.save_kept(&kept);
    }

    /// After a confirmed commit: the listing without the deleted messages,
    /// numbered again as the server will number them (in order, from 1), so
    /// the next start never shows a deleted message, even as cached.
    pub(super) fn keep_listing_after_commit(&mut self, listing: &Listing, deleted: &[MsgKey]) {
        if !listing.has_uids {
            return;
        }
        let gone: HashSet<&str> = deleted.iter().filter_map(|k| k.uid.as_deref()).collect();
        let kept: Vec<(u32, String, u64)> = listing
            .msgs()
            .iter()
            .filter(|m| m.uid.as_deref().is_none_or(|u| !gone.contains(u)))
            .zip(1u32..)
            .filter_map(|(m, n)| Some((n, m.uid.clone()?, m.size)))
            .collect();
        self.save_kept(&kept);
    }

    /// A failure costs only the next start's first screen: said in the
    /// debug log, not to the user.
    fn save_kept(&mut self, kept: &[(u32, String, u64)]) {
        if let Err(e) = self.persist.save_listing(kept) {
            debug!(error = %e, "could not keep the listing for the next start");
        }
    }
}
