//! How the app takes in the worker's events: `on_worker` routes each to
//! the method that decides about it. The connection's state is decided
//! here; the listing in `listing_events`, the user's reads in
//! `read_events`, the marks in `mark_events`.

use super::*;

impl App {
    /// Routes a worker event to the method that decides about it: the
    /// connection's state (here), the listing (`listing_events`), the
    /// user's reads (`read_events`) or the marks (`mark_events`).
    pub(super) fn on_worker(&mut self, e: Event) {
        match e {
            e @ (Event::SaveProgress { .. } | Event::SaveDone(_)) => self.on_save_event(e),
            Event::Connecting { attempt, .. } => self.on_connecting(attempt),
            Event::Connected(info) => self.on_connected(*info),
            Event::Listing {
                entries,
                no_uidl_reason,
            } => self.on_listing(entries, no_uidl_reason),
            Event::CachedListing(entries) => self.on_cached_listing(entries),
            Event::Unseen(keys) => self.on_unseen(keys),
            Event::Previews(batch) => self.on_previews(batch),
            Event::Progress { done, total, .. } => self.on_progress(done, total),
            Event::RetrieveProgress {
                ticket,
                bytes,
                total,
            } => self.on_retrieve_progress(ticket, bytes, total),
            Event::Message { ticket, key, view } | Event::Peeked { ticket, key, view } => {
                let doc = Doc::from_view_in(*view, self.opts.utc_offset_minutes);
                self.on_ready(ticket, key, Box::new(doc));
            }
            Event::ReadFailed {
                ticket,
                key,
                reason,
            } => self.on_read_failed(ticket, key, &reason),
            Event::MarkRefused { key, reason } => self.on_mark_refused(key, &reason),
            Event::MarkDropped(d) => self.on_mark_dropped(&d),
            Event::Marks {
                marked,
                restored,
                settled,
            } => self.on_marks(marked, restored, settled),
            Event::Committed {
                deleted,
                already_gone,
            } => self.on_committed(deleted, &already_gone),
            Event::Notice(s) => self.set_notice(clean_line(&s)),
            Event::CachedBodies(texts) => self.on_cached_bodies(texts),
            Event::Error(e) => self.on_error(e),
            Event::PasswordNeeded { reason } => self.on_password_needed(&reason),
            Event::Reconnecting {
                attempt,
                delay_secs,
                reason,
            } => self.on_reconnecting(attempt, delay_secs, &reason),
            Event::Released => self.on_released(),
            Event::Reconnected { marks_reapplied } => self.on_reconnected(marks_reapplied),
            Event::Closed { committed } => self.on_closed(committed),
        }
    }

    /// The worker is connecting (again).
    fn on_connecting(&mut self, attempt: u32) {
        if self.closing_since.is_none() {
            self.conn = ConnState::Connecting { attempt };
        }
    }
    /// Logged in: what the server said, cleaned for the screen.
    fn on_connected(&mut self, mut info: ConnectionInfo) {
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
        // Idle once the previews' progress says so (never `idle` over rows
        // whose previews are still coming).
        if self.closing_since.is_none() {
            self.conn = ConnState::Listing;
        }
    }
    /// A failure to show; a fatal one leaves the session offline.
    fn on_error(&mut self, e: WorkerError) {
        let WorkerError {
            kind,
            message,
            fatal,
        } = e;

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
    /// The server refused the credentials: ask again.
    fn on_password_needed(&mut self, reason: &str) {
        let reason = clean_line(reason);
        self.password_wanted = Some(reason.clone());
        self.dialog = Some(Dialog::Password {
            reason,
            input: String::with_capacity(128),
        });
    }
    /// The connection dropped; a countdown to the next attempt.
    fn on_reconnecting(&mut self, attempt: u32, delay_secs: u64, reason: &str) {
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
        self.set_notice(format!("{what}: {}", clean_line(reason)));
    }
    /// The session was let go while idle (see `Event::Released`).
    fn on_released(&mut self) {
        if self.closing_since.is_none() {
            self.conn = ConnState::Released;
        }
    }
    /// Connected again, marks re-applied.
    fn on_reconnected(&mut self, marks_reapplied: usize) {
        // The state is the previews' progress, told before this.
        if let Some(e) = &self.error
            && !e.fatal
        {
            self.error = None;
        }
        self.set_notice(format!(
            "reconnected; {marks_reapplied} deletion mark(s) applied again"
        ));
    }
    /// The session is over.
    fn on_closed(&mut self, committed: bool) {
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
