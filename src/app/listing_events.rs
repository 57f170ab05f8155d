//! The listing as the worker reports it: a (new) listing merged into the
//! rows, messages new since the cache, previews, loading progress.

use super::*;
use crate::mail::HeaderSummary;
use crate::worker::api::ListEntry;

impl App {
    /// A session's listing: merged by UID, keeping the cursor, the sort
    /// and the limit. After the cached list, what changed since the last
    /// session is said once.
    pub(super) fn on_listing(&mut self, entries: Vec<ListEntry>, no_uidl_reason: Option<String>) {
        // From now on the keys the UI sends are this listing's.
        self.from_events.push(Request::ListingSeen);
        self.no_uidl = no_uidl_reason.as_deref().map(clean_line);
        let was_cached = std::mem::take(&mut self.cached_list);
        let first = self.rows.is_empty();
        let before = self.rows.len();
        let new = self.merge_listing(entries);
        let gone = (before + new).saturating_sub(self.rows.len());
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        if was_cached && (new > 0 || gone > 0) {
            self.set_notice(format!(
                "since last time: {new} new message{}, {gone} gone from the server",
                plural(new)
            ));
        } else if !first && new > 0 {
            self.set_notice(format!("{new} new message{}", plural(new)));
        }
        self.reader_follows_listing();
    }

    /// The last session's listing, from the cache, before the server
    /// answers: drawn at once and marked as cached until the session's
    /// listing replaces it. Only as the first listing (the worker sends it
    /// once, at start).
    pub(super) fn on_cached_listing(&mut self, entries: Vec<ListEntry>) {
        if !self.rows.is_empty() {
            self.stale_dropped += 1;
            return;
        }
        self.cached_list = true;
        self.merge_listing(entries);
    }

    /// Merges `entries` into the rows, keeping the cursor, the sort and
    /// the limit; how many rows are new.
    fn merge_listing(&mut self, entries: Vec<ListEntry>) -> usize {
        let keep = self.cursor_key().cloned();
        let pos = self.cursor;
        let new = self.rows.merge(entries);
        self.recount_message_ids();
        self.rules_due = true;
        // Row indices changed: the limit is computed again first.
        self.refresh_limit();
        self.sort_pending = !self.rows.sort(self.sort, self.descending, &self.filter);
        self.view_dirty = false;
        self.restore_cursor(keep.as_ref(), Some(pos));
        self.recount_marks();
        new
    }

    /// Messages no earlier session knew (`~N`).
    pub(super) fn on_unseen(&mut self, keys: Vec<MsgKey>) {
        for key in keys {
            if let Some(i) = self.rows.find(&key) {
                self.rows.rows[i].new = true;
            }
        }
    }

    /// A batch of previews for the rows.
    pub(super) fn on_previews(&mut self, batch: Vec<(MsgKey, HeaderSummary)>) {
        let authserv = self.opts.authserv_id.clone();
        for (key, summary) in batch {
            if let Some(i) = self.rows.find(&key) {
                let info = RowInfo::for_account(&summary, authserv.as_deref());
                self.count_message_id(i, &info.message_id);
                self.rows.set_info(i, info);
            }
        }
        if self.sort.needs_previews() || !self.filter.is_empty() || self.limit.is_some() {
            self.view_dirty = true;
        }
    }

    /// Preview loading progress; the rules' proposal once all are in.
    pub(super) fn on_progress(&mut self, done: usize, total: usize) {
        if !matches!(
            self.conn,
            ConnState::Closing | ConnState::Reconnecting { .. }
        ) {
            self.conn = if done < total {
                ConnState::LoadingPreviews { done, total }
            } else {
                ConnState::Idle
            };
        }
        if done >= total && self.rules_due {
            self.propose_rules();
        }
    }

    /// A new listing (a new session: numbers may have shifted): the open
    /// reader follows its message by UID, or closes with a note when that
    /// can't be done, so it never shows one message under another's number
    /// and its keys (next, previous, mark) act on the message shown.
    fn reader_follows_listing(&mut self) {
        let Some(r) = &self.reader else { return };
        let number = r.key.number;
        let note = match &r.key.uid {
            Some(_) => match self.rows.find(&r.key) {
                Some(i) => {
                    let key = self.rows.rows[i].key.clone();
                    if let Some(r) = &mut self.reader {
                        r.key = key;
                    }
                    if let Some(pos) = self.reader.as_ref().and_then(|r| self.view_pos(&r.key)) {
                        self.cursor = pos;
                        self.ensure_cursor_visible();
                    }
                    return;
                }
                None => format!("message {number} is no longer on the server: the reader closed"),
            },
            None => format!(
                "the server gives no unique ids, so after a new session popview can't tell \
                 which message was {number}: the reader closed"
            ),
        };
        // A download in flight is cancelled (sent by `handle`).
        let mut cancel = Vec::new();
        self.close_reader(&mut cancel);
        self.from_events.append(&mut cancel);
        self.set_notice(note);
    }
}
