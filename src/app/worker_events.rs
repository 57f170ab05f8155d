//! How the app takes in the worker's events: the listing, previews, a
//! message, marks, errors and the connection's state.

use super::reader::same_message;
use super::*;

impl App {
    /// A message or peek arrived. `Peeked` and `Message` share the shape;
    /// they are told apart by what the reader asked for.
    pub(super) fn on_ready(&mut self, ticket: Ticket, key: MsgKey, doc: Box<Doc>) {
        let read_in_full = match &mut self.reader {
            Some(r) if r.ticket == ticket && same_message(&r.key, &key) => {
                let peek = matches!(r.content, Content::Loading { peek: true, .. });
                let body = (!peek).then(|| doc.body.clone());
                r.content = Content::Ready { doc, peek };
                r.scroll = 0;
                r.selected = 0;
                let w = self.size.0 as usize;
                r.layout(w);
                body
            }
            _ => {
                self.stale_dropped += 1;
                None
            }
        };
        if let Some(body) = read_in_full {
            // Read: no longer new; its text is kept for `~b`.
            if let Some(i) = self.rows.find(&key) {
                self.rows.rows[i].new = false;
            }
            self.remember_body(&key, &body);
        }
    }

    pub(super) fn on_worker(&mut self, e: Event) {
        match e {
            e @ (Event::SaveProgress { .. } | Event::SaveDone(_)) => self.on_save_event(e),
            Event::Connecting { attempt, .. } => {
                if self.closing_since.is_none() {
                    self.conn = ConnState::Connecting { attempt };
                }
            }
            Event::Connected(info) => {
                let mut info = *info;
                info.server = clean_line(&info.server);
                info.greeting = clean_line(&info.greeting);
                info.auth_method = clean_line(&info.auth_method);
                info.implementation = info.implementation.as_deref().map(clean_line);
                if let Some(e) = &self.error
                    && !e.fatal
                {
                    self.error = None;
                }
                self.info = Some(info);
                if self.closing_since.is_none() {
                    self.conn = ConnState::Idle;
                }
            }
            Event::Listing {
                entries,
                no_uidl_reason,
            } => {
                // From now on the keys the UI sends are this listing's.
                self.from_events.push(Request::ListingSeen);
                self.no_uidl = no_uidl_reason.as_deref().map(clean_line);
                let keep = self.cursor_key().cloned();
                let pos = self.cursor;
                let first = self.rows.is_empty();
                let new = self.rows.merge(entries);
                self.recount_message_ids();
                self.rules_due = true;
                // Row indices changed: the limit is computed again first.
                self.refresh_limit();
                self.sort_pending = !self.rows.sort(self.sort, self.descending, &self.filter);
                self.view_dirty = false;
                self.restore_cursor(keep.as_ref(), Some(pos));
                self.recount_marks();
                if !first && new > 0 {
                    self.set_notice(format!(
                        "{new} new message{}",
                        if new == 1 { "" } else { "s" }
                    ));
                }
                self.reader_follows_listing();
            }
            Event::Unseen(keys) => {
                for key in keys {
                    if let Some(i) = self.rows.find(&key) {
                        self.rows.rows[i].new = true;
                    }
                }
            }
            Event::Previews(batch) => {
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
            Event::Progress { done, total, .. } => {
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
            Event::RetrieveProgress {
                ticket,
                bytes,
                total,
            } => {
                if let Some(r) = &mut self.reader
                    && r.ticket == ticket
                    && let Content::Loading {
                        bytes: b, total: t, ..
                    } = &mut r.content
                {
                    *b = bytes;
                    *t = total;
                }
            }
            Event::Message { ticket, key, view } | Event::Peeked { ticket, key, view } => {
                let doc = Doc::from_view_in(*view, self.opts.utc_offset_minutes);
                self.on_ready(ticket, key, Box::new(doc));
            }
            Event::ReadFailed {
                ticket,
                key,
                reason,
            } => match &self.reader {
                Some(r) if r.ticket == ticket && same_message(&r.key, &key) => {
                    self.reader = None;
                    self.screen = Screen::List;
                    self.error = Some(ErrorNote {
                        kind: None,
                        message: clean_line(&reason),
                        advice: "the message was not opened",
                        fatal: false,
                    });
                }
                _ => self.stale_dropped += 1,
            },
            Event::MarkRefused { key, reason } => {
                if let Some(i) = self.rows.find(&key) {
                    self.rows.rows[i].pending = None;
                }
                self.recount_marks();
                self.set_notice(clean_line(&reason));
            }
            Event::MarkDropped(d) => {
                // Shown until dismissed: a mark the user made is gone.
                self.error = Some(ErrorNote {
                    kind: None,
                    message: clean_line(&d.describe()),
                    advice: "nothing was deleted for it",
                    fatal: false,
                });
            }
            Event::Marks {
                marked,
                restored,
                settled,
            } => {
                let mut set = vec![false; self.rows.len()];
                for k in &marked {
                    if let Some(i) = self.rows.find(k) {
                        set[i] = true;
                    }
                }
                for (row, m) in self.rows.rows.iter_mut().zip(set) {
                    row.marked = m;
                    // A write not settled yet is still queued behind this
                    // report (a reconnect's replay, say): keep showing it.
                    if row.pending_write <= settled {
                        row.pending = None;
                    }
                }
                let count = marked.len();
                self.worker_marks = marked;
                self.recount_marks();
                if restored && count > 0 {
                    self.set_notice(format!(
                        "{} deletion mark(s) restored from the last session: pending, not committed ({} undoes all)",
                        count,
                        self.opts.keymap.hint(Action::UnmarkAll)
                    ));
                }
            }
            Event::Notice(s) => self.set_notice(clean_line(&s)),
            Event::Error(WorkerError {
                kind,
                message,
                fatal,
            }) => {
                self.error = Some(ErrorNote {
                    kind: Some(kind),
                    message: clean_line(&message),
                    advice: advice(kind),
                    fatal,
                });
                if fatal && self.closing_since.is_none() {
                    self.conn = ConnState::Offline;
                }
            }
            Event::PasswordNeeded { reason } => {
                let reason = clean_line(&reason);
                self.password_wanted = Some(reason.clone());
                self.dialog = Some(Dialog::Password {
                    reason,
                    input: String::with_capacity(128),
                });
            }
            Event::Reconnecting {
                attempt,
                delay_secs,
                reason,
            } => {
                if self.closing_since.is_none() {
                    self.conn = ConnState::Reconnecting {
                        attempt,
                        delay_secs,
                    };
                    // Counted down from here by the ticks (see `on_tick`).
                    let delay = i64::try_from(delay_secs).unwrap_or(i64::MAX);
                    self.reconnect_at = Some(self.now.saturating_add(delay));
                }
                // Before the first connection nothing was lost yet.
                let what = if self.info.is_some() {
                    "connection lost"
                } else {
                    "can't connect"
                };
                self.set_notice(format!("{what}: {}", clean_line(&reason)));
            }
            Event::Released => {
                if self.closing_since.is_none() {
                    self.conn = ConnState::Released;
                }
            }
            Event::Reconnected { marks_reapplied } => {
                if self.closing_since.is_none() {
                    self.conn = ConnState::Idle;
                }
                if let Some(e) = &self.error
                    && !e.fatal
                {
                    self.error = None;
                }
                self.set_notice(format!(
                    "reconnected; {marks_reapplied} deletion mark(s) applied again"
                ));
            }
            Event::Committed {
                deleted,
                already_gone,
            } => {
                let mut s = format!("deleted {deleted} message(s) on the server");
                if !already_gone.is_empty() {
                    s.push_str(&format!(
                        "; {} marked message(s) were already gone from the server",
                        already_gone.len()
                    ));
                }
                self.outcome = Some(s.clone());
                self.set_notice(s);
            }
            Event::Closed { committed } => {
                self.conn = ConnState::Offline;
                if self.closing_since.is_some() {
                    self.quit = true;
                } else {
                    // The worker ended on its own: stay, explain, let q leave.
                    self.worker_gone = true;
                    self.error = Some(ErrorNote {
                        kind: None,
                        message: format!(
                            "the session ended{}",
                            if committed { " (marks committed)" } else { "" }
                        ),
                        advice: "press q to leave",
                        fatal: true,
                    });
                }
            }
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
