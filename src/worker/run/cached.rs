//! The first screen before the network answers: the last session's
//! listing and the previews cached for it, sent at start
//! (`Event::CachedListing`), and each new listing kept for the next start.

use tracing::debug;

use std::collections::HashSet;

use super::Worker;
use crate::pop3::response::valid_uid;
use crate::worker::api::{Event, ListEntry, MsgKey};
use crate::worker::listing::Listing;

/// Previews sent first, alone: more rows than any terminal shows.
const FIRST_SCREENFUL: usize = 256;
/// The rest go in chunks this big, so the UI draws between them.
const PREVIEW_CHUNK: usize = 2048;

impl Worker {
    /// Before the first connection: the last listing (only messages with a
    /// valid, unique UID) and the previews cached for it, so the list is
    /// drawn at once. A mark made on it names its message by UID (kept
    /// offline, checked at the session like any restored mark).
    pub(super) fn show_cached_listing(&mut self) {
        let kept: Vec<(u32, String, u64)> = self
            .persist
            .load_listing()
            .into_iter()
            .filter(|(_, uid, _)| valid_uid(uid.as_bytes()))
            .collect();
        if kept.is_empty() {
            return;
        }
        let list: Vec<(u32, u64)> = kept.iter().map(|&(n, _, size)| (n, size)).collect();
        let uidl: Vec<(u32, Option<String>)> =
            kept.into_iter().map(|(n, uid, _)| (n, Some(uid))).collect();
        let mut listing = Listing::new(&list, Some(&uidl));
        // Not a session's listing: the first session's is generation 1.
        listing.generation = 0;
        let entries: Vec<ListEntry> = listing
            .entries()
            .into_iter()
            .filter(|e| e.key.uid.is_some())
            .collect();
        if entries.is_empty() {
            return;
        }
        // Newest first (the list opens on the newest): the first screenful
        // goes alone, so the UI draws it before taking in the rest.
        // A preview shown here with its header block (`~h`) is not sent
        // again by the first session; one whose block is still being read
        // (see `Worker::await_header_blocks`) is, with its block.
        let mut previews = Vec::new();
        let mut shown = HashSet::new();
        for m in listing.msgs().iter().rev() {
            let (Some(uid), Some(summary)) = (&m.uid, self.cached_preview(m)) else {
                continue;
            };
            if !summary.headers.is_empty() {
                shown.insert((uid.clone(), m.size));
            }
            previews.push((listing.key(m), summary.clone()));
        }
        self.previews_shown = shown;
        debug!(
            rows = entries.len(),
            previews = previews.len(),
            "cached listing shown before connecting"
        );
        self.send(Event::CachedListing(entries));
        let mut rest = previews.into_iter();
        let mut size = FIRST_SCREENFUL;
        loop {
            let chunk: Vec<_> = rest.by_ref().take(size).collect();
            if chunk.is_empty() {
                break;
            }
            self.send(Event::Previews(chunk));
            size = PREVIEW_CHUNK;
        }
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
