//! One session: open (connect, log in, list), then serve the user's
//! requests and stream previews through the pipeline until it ends.

use super::*;
use tracing::{debug, info};

impl Worker {
    /// The known secrets (the password, once there is one) to cut out of
    /// server text.
    fn secrets(&self) -> crate::pop3::Secrets {
        crate::pop3::Secrets::of(&Credentials::new(
            self.cfg.user.clone(),
            self.password.as_ref().map_or("", |p| p.expose()),
        ))
    }

    /// Server text as the debug log may hold it: sanitized, with the
    /// session's secrets cut out (see [`crate::debug_log`]).
    pub(super) fn logged(&self, text: &str) -> String {
        sanitize::line(&self.secrets().redact(text))
    }

    /// The UID of message `number` in `listing`, as the debug log may hold it.
    pub(super) fn logged_uid(&self, listing: &Listing, number: u32) -> String {
        listing
            .get(number)
            .and_then(|m| m.uid.as_deref())
            .map_or_else(|| "-".to_string(), |u| self.logged(u))
    }

    /// Connect: TCP, TLS or STLS with the certificate checked, CAPA. No
    /// credential has been sent yet.
    pub(super) fn connect(&mut self) -> Result<Connection, Error> {
        let trace = match &self.cfg.trace {
            Some(path) => Some(Trace::open_file(path)?),
            None => None,
        };
        // The password, when known, is cut out of everything the server
        // says from the greeting on; one typed later is added at login.
        transport::connect_as(&self.cfg.connect, &self.secrets(), trace)
    }

    /// Connect, then, if the password isn't known yet, ask for it: a
    /// certificate that fails, a missing STLS or a server that isn't there
    /// is reported before the user types a password, and the password goes
    /// over the connection that was checked. `Ok(None)`: the user quit at
    /// the prompt (or the UI is gone).
    pub(super) fn connect_then_ask(&mut self) -> Result<Option<Connection>, Error> {
        let mut conn = self.connect()?;
        self.await_password()?;
        if self.password.is_some() {
            return Ok(Some(conn));
        }
        if !self.ask_password("") || self.ui_gone {
            // Dropped in the authorization state: nothing was sent but CAPA.
            return Ok(None);
        }
        // The server may have closed the connection while the user typed
        // (a login timeout): connect again, with the same checks, rather
        // than report a failure the user didn't cause.
        if conn.client.stream_mut().closed_while_idle().is_some() {
            conn = self.connect()?;
        }
        Ok(Some(conn))
    }

    /// The password fetched on another thread, if one is coming
    /// (`WorkerConfig::password_first`). Its failure is the login's: an
    /// authentication error, told in words (after which the token is
    /// fetched once more, as for a rejected one).
    fn await_password(&mut self) -> Result<(), Error> {
        let Some(coming) = self.password_coming.take() else {
            return Ok(());
        };
        let why = match coming.join() {
            Ok(Ok(password)) => {
                self.password = Some(password);
                return Ok(());
            }
            Ok(Err(why)) => why,
            Err(_) => "the token exchange stopped unexpectedly".to_string(),
        };
        Err(Error::new(
            ErrorKind::Auth,
            format!("could not get an access token: {}", sanitize::line(&why)),
        ))
    }

    /// Log in on a connection from [`Worker::connect`], then list.
    pub(super) fn log_in(&mut self, conn: Connection) -> Result<Session, Error> {
        self.log_in_within(conn, None)
    }

    /// [`Worker::log_in`], giving up when the server is silent for
    /// `silence` (instead of the usual I/O timeout) until the listing is in.
    pub(super) fn log_in_within(
        &mut self,
        conn: Connection,
        silence: Option<Duration>,
    ) -> Result<Session, Error> {
        let Connection {
            mut client,
            security,
        } = conn;
        if let Some(t) = silence {
            set_read_timeout(client.stream(), t.min(self.cfg.connect.io_timeout))?;
        }
        let mut post_login_caps = None;
        let creds = Credentials::new(
            self.cfg.user.clone(),
            self.password.as_ref().map_or("", |p| p.expose()),
        )
        .at(self.cfg.connect.host.clone(), self.cfg.connect.port);
        client.set_secrets(crate::pop3::Secrets::of(&creds));
        // CAPA (again: some servers list more after login), LIST and UIDL,
        // in the same round trip as the login when the server pipelines.
        let (method, answers) = client.login_then(
            &creds,
            self.cfg.auth,
            self.cfg.allow_cleartext,
            vec![
                Command::Capa,
                Command::Stat,
                Command::List(None),
                Command::Uidl(None),
            ],
        )?;
        // Logged in: a token rejected later may be fetched again.
        self.password_refetched = false;
        if silence.is_some() {
            set_read_timeout(client.stream(), self.cfg.connect.io_timeout)?;
        }
        client.set_window(self.cfg.pipeline_window);
        let mut count = None;
        let mut list = None;
        let mut uidl = None;
        for a in answers {
            match a.result {
                Ok(Reply::Capa(caps)) => post_login_caps = Some(caps),
                Ok(Reply::Stat { count: n, .. }) => count = Some(n),
                Ok(Reply::ScanListing(v)) => list = Some(v),
                Ok(Reply::UidListing(v)) => uidl = Some(v),
                Err(e) if matches!(a.command, Command::List(_)) => return Err(e),
                _ => {}
            }
        }
        if let Some(caps) = post_login_caps.take() {
            client.set_capabilities(caps);
        }
        let caps = client.capabilities().clone();
        let list = list.ok_or_else(|| Error::protocol("the server sent no LIST answer"))?;
        let mut listing = Listing::new(&list, uidl.as_deref());
        // Numbers beyond what STAT said can't be real messages (SECURITY D22).
        if let Some(n) = count
            && listing.msgs().iter().any(|m| m.number > n)
        {
            self.notice("the server listed messages beyond its own count; ignoring them");
            let list: Vec<_> = list.into_iter().filter(|(m, _)| *m <= n).collect();
            listing = Listing::new(&list, uidl.as_deref());
        }
        let info = ConnectionInfo {
            server: self.cfg.connect.server(),
            tls: tls_state(&security),
            greeting: sanitize::line(&client.greeting().text),
            capabilities: caps.raw.iter().map(|c| sanitize::line(c)).collect(),
            implementation: caps.implementation.as_deref().map(sanitize::line),
            login_delay: caps.login_delay,
            expire: caps.expire.as_deref().map(sanitize::line),
            pipelining: caps.pipelining,
            has_top: caps.top || !caps.known,
            has_uidl: listing.has_uids,
            auth_method: method.name().to_string(),
        };
        self.login_delay = caps.login_delay.filter(|d| *d > 0);
        self.last_login = Some(Instant::now());
        info!(
            messages = listing.len(),
            has_uidl = listing.has_uids,
            has_top = info.has_top,
            pipelining = info.pipelining,
            login_delay_secs = ?self.login_delay,
            auth = %info.auth_method,
            "session opened"
        );
        self.send(Event::Connected(Box::new(info)));
        if caps.expire.as_deref().map(str::trim) == Some("0") {
            self.notice("this server does not keep mail after it is downloaded (EXPIRE 0)");
        }
        let n = listing.len();
        Ok(Session {
            client: client.with_tags()?,
            has_top: caps.top || !caps.known,
            requested: vec![false; n],
            order: FillOrder::newest_first(n),
            previews_in_flight: 0,
            fill_started: None,
            round_trip: None,
            recent_answers: VecDeque::new(),
            needed: 0,
            done: 0,
            bytes: 0,
            batch: Vec::new(),
            last_flush: Instant::now(),
            last_activity: Instant::now(),
            opened: Instant::now(),
            user_answers: 0,
            writes_at_open: self.writes_settled,
            listing,
        })
    }

    /// Serve one session until it ends. When the connection is lost, the
    /// user's reads that were in flight (a RETR cut halfway, a TOP) are
    /// asked again in the next session, unless a newer one replaced them:
    /// otherwise the UI would wait forever for an answer to that ticket.
    /// Also says whether the session worked ([`Session::worked`]).
    pub(super) fn serve(&mut self, mut s: Session) -> (Exit, bool) {
        let exit = self.serve_session(&mut s);
        // A run of marks cut short by the session's end is written and
        // reported now.
        self.flush_marks();
        let worked = s.worked(self.writes_settled);
        if matches!(exit, Exit::Lost(_)) {
            self.ask_again(&mut s, None);
        }
        // What a mark made while offline names.
        self.last_listing = Some(std::mem::take(&mut s.listing));
        (exit, worked)
    }

    /// The user's reads in flight on `s` (ended), but the `cancelled`
    /// one, asked again in the next session unless newer ones replaced
    /// them.
    fn ask_again(&mut self, s: &mut Session, cancelled: Option<Ticket>) {
        let reads = s.client.take_tags().into_iter().filter_map(|p| match p {
            Purpose::Read {
                ticket, key, kind, ..
            } if Some(ticket) != cancelled => Some((ticket, key, kind)),
            Purpose::Read { .. } | Purpose::Preview(_) | Purpose::Mark(_) => None,
        });
        for (ticket, key, kind) in reads.rev() {
            match kind {
                ReadKind::Retrieve if self.retrieve.is_none() => {
                    self.retrieve = Some((ticket, key));
                }
                ReadKind::Peek(lines) if self.peek.is_none() => {
                    self.peek = Some((ticket, key, lines));
                }
                _ => {}
            }
        }
    }

    pub(super) fn serve_session(&mut self, s: &mut Session) -> Exit {
        self.sessions += 1;
        // Keys without UID name this listing only (see `MsgKey::generation`).
        s.listing.generation = u64::from(self.sessions);
        let reconnect = std::mem::take(&mut self.last_lost);
        self.marks.session_reset();
        let no_uidl_reason = (!s.listing.has_uids).then(|| {
            "the server does not support UIDL: no header cache, and deletion marks \
             can't survive a lost connection"
                .to_string()
        });
        self.send(Event::Listing {
            entries: s.listing.entries(),
            no_uidl_reason,
        });
        self.keep_listing(&s.listing);
        self.bodies_listing(&s.listing);
        self.preload_from_cache(s);
        if let Err(e) = self.remap_marks(s) {
            return Exit::Lost(e);
        }
        if let Some(why) = self.read_only.clone() {
            self.notice(format!("{why}; marks are off here: read only"));
        }
        for w in std::mem::take(&mut self.load_warnings) {
            self.error(&Error::local(w), false);
        }
        let reapplied = match self.apply_unapplied(s) {
            Ok(n) => n,
            Err(e) => return Exit::Lost(e),
        };
        debug!(
            session = self.sessions,
            reapplied,
            marks = self.marks.keys().len(),
            reconnect,
            "marks re-applied at the new session"
        );
        self.send_marks();
        if reconnect {
            self.send(Event::Reconnected {
                marks_reapplied: reapplied,
            });
        }
        loop {
            self.drain_requests();
            if self.ui_gone {
                // Drop the connection without QUIT: nothing is deleted. What
                // the user marked last is still kept on disk.
                let _ = self.settle_offline_ops();
                return Exit::Done(false);
            }
            match self.run_ops(s) {
                Ok(Some(exit)) => return exit,
                Ok(None) => {}
                Err(e) => return Exit::Lost(e),
            }
            if let Err(e) = self.refill(s) {
                return Exit::Lost(e);
            }
            if s.client.state() == crate::pop3::State::Closed {
                return Exit::Lost(Error::protocol(
                    "the connection was closed after a protocol error",
                ));
            }
            if s.client.in_flight() > 0 {
                match self.receive(s) {
                    Ok(false) => {}
                    Ok(true) => return Exit::Renew,
                    Err(e) => return Exit::Lost(e),
                }
                continue;
            }
            // Idle.
            self.flush_previews(s, true);
            // Rewriting the whole cache (with fsyncs) is not for every idle
            // moment: once when the previews are all in, then at most every
            // CACHE_SAVE_EVERY; a session's end always saves.
            if s.done >= s.needed
                && self
                    .last_cache_save
                    .is_none_or(|t| t.elapsed() >= CACHE_SAVE_EVERY)
            {
                self.save_cache();
            }
            if !self.ops.is_empty() || self.retrieve.is_some() || self.peek.is_some() {
                continue;
            }
            if self.new_mail_check_due(s) {
                // A POP3 session never sees new mail: look with a new one,
                // as `r` does (marks are re-applied there).
                self.ops.push_back(Op::Session(SessionOp::CheckNewMail));
                continue;
            }
            // Idle long enough: let the maildrop go (once every preview is
            // in, so a slow fill is never cut). Not without UIDL: marks by
            // message number can't outlive the session.
            let until_release = match self.cfg.release_after {
                Some(after) if s.done >= s.needed && s.listing.has_uids => {
                    let left = after.saturating_sub(self.last_user.elapsed());
                    if left.is_zero() {
                        self.release(s);
                        return Exit::Released;
                    }
                    left
                }
                _ => Duration::MAX,
            };
            let until_noop = self.cfg.keepalive.saturating_sub(s.last_activity.elapsed());
            let wake = until_noop
                .min(IDLE_PROBE_EVERY)
                .min(self.until_new_mail_check(s))
                .min(until_release);
            match self.requests.recv_timeout(wake) {
                Ok(r) => self.absorb(r),
                Err(RecvTimeoutError::Disconnected) => self.ui_gone = true,
                Err(RecvTimeoutError::Timeout)
                    if s.last_activity.elapsed() >= self.cfg.keepalive =>
                {
                    s.last_activity = Instant::now();
                    if let Err(e) = s.client.noop()
                        && e.is_fatal_to_session()
                    {
                        return Exit::Lost(e);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    // Noticed now rather than at the next NOOP or request, so
                    // the header shows the truth and the marks (dropped by
                    // the server with the session) are re-applied at once.
                    if let Some(why) = closed_while_idle(s) {
                        return Exit::Lost(Error::new(ErrorKind::Network, why));
                    }
                }
            }
        }
    }

    /// End an idle session without deleting anything (RSET, then QUIT; a
    /// drop if RSET is refused), keeping the list and the marks: the
    /// maildrop lock is free until the user acts again.
    fn release(&mut self, s: &mut Session) {
        self.flush_previews(s, true);
        self.save_cache();
        info!(
            idle_secs = self.last_user.elapsed().as_secs(),
            marks = self.marks.keys().len(),
            "idle: releasing the session (RSET, QUIT); marks kept"
        );
        super::ops::end_without_deleting(s);
        self.send(Event::Released);
    }

    /// The periodic check for new mail is due: the session is at least as
    /// old as the setting and as the server's LOGIN-DELAY (never a login
    /// the server asked us not to make).
    fn new_mail_check_due(&self, s: &Session) -> bool {
        self.cfg.check_mail.is_some() && self.until_new_mail_check(s).is_zero()
    }

    /// Time left before the periodic check (`Duration::MAX` when off).
    fn until_new_mail_check(&self, s: &Session) -> Duration {
        let Some(every) = self.cfg.check_mail else {
            return Duration::MAX;
        };
        let delay = Duration::from_secs(self.login_delay.unwrap_or(0));
        every.max(delay).saturating_sub(s.opened.elapsed())
    }

    /// The user's read was refused: the UI stops waiting for its ticket.
    fn read_failed(&mut self, ticket: Ticket, key: MsgKey, e: &Error) {
        self.send(Event::ReadFailed {
            ticket,
            key,
            reason: sanitize::line(&e.message),
        });
    }

    /// Show cached previews at once; queue TOP for the rest.
    pub(super) fn preload_from_cache(&mut self, s: &mut Session) {
        self.await_header_cache();
        let before = self.cache.len();
        // A cache that knew messages knows which ones are new: those it
        // has no preview of (mutt's "new", for `~N`).
        let find_unseen = before > 0 && s.listing.has_uids;
        let mut unseen = Vec::new();
        // Previews the cached list already showed, of the same message (UID
        // and size), are not sent again.
        let shown = std::mem::take(&mut self.previews_shown);
        let mut fresh = Vec::new();
        let mut hits = 0;
        let mut size_mismatch = 0usize;
        for (i, m) in s.listing.msgs().iter().enumerate() {
            let Some(h) = self.cached_preview(m) else {
                size_mismatch +=
                    usize::from(m.uid.as_deref().is_some_and(|u| self.cache.contains_key(u)));
                if find_unseen {
                    unseen.push(s.listing.key(m));
                }
                continue;
            };
            s.requested[i] = true;
            hits += 1;
            let uid = m.uid.as_deref().unwrap_or_default();
            if shown.get(uid) != Some(&m.size) {
                fresh.push((s.listing.key(m), h.clone()));
            }
        }
        // A UID no longer listed is gone; one that now lists with another
        // size is another message: its preview is fetched again, never
        // shown for this one. Nothing to drop when every entry was a hit.
        if s.listing.has_uids && hits < before {
            self.cache
                .retain(|uid, c| s.listing.by_uid(uid).is_some_and(|m| m.size == c.size));
        }
        if self.cache.len() != before {
            self.cache_dirty = true;
        }
        s.needed = if self.cfg.previews && s.has_top {
            s.listing.len() - hits
        } else {
            0
        };
        debug!(
            session = self.sessions,
            hits,
            misses = s.listing.len() - hits,
            size_mismatch,
            evicted = before - self.cache.len(),
            to_fetch = s.needed,
            "header cache"
        );
        if !unseen.is_empty() {
            self.send(Event::Unseen(unseen));
        }
        let mut fresh = fresh.into_iter().peekable();
        while fresh.peek().is_some() {
            self.send(Event::Previews(fresh.by_ref().take(4096).collect()));
        }
        self.send(Event::Progress {
            done: 0,
            total: s.needed,
            bytes: 0,
        });
    }

    /// Queue reads: the user's retrieve/peek first, then the previews of
    /// the rows on screen, then the rest nearest to the view first
    /// ([`FillOrder`]; newest first until the UI says what it shows).
    pub(super) fn refill(&mut self, s: &mut Session) -> Result<(), Error> {
        if self.ops.front().is_some_and(Op::exclusive) {
            return Ok(()); // let the pipe drain
        }
        if let Some((ticket, key)) = self.retrieve.clone() {
            if !s.client.can_submit() {
                return Ok(());
            }
            self.retrieve = None;
            if let Some(m) = self.readable(ticket, &key, s) {
                let read = Purpose::Read {
                    ticket,
                    key,
                    kind: ReadKind::Retrieve,
                    msg: m.number,
                };
                let cmd = Command::Retr {
                    msg: m.number,
                    size: Some(m.size),
                };
                s.client.submit_tagged(cmd, read)?;
            }
        }
        if let Some((ticket, key, lines)) = self.peek.clone() {
            if !s.client.can_submit() {
                return Ok(());
            }
            self.peek = None;
            if let Some(m) = self.readable(ticket, &key, s) {
                let read = Purpose::Read {
                    ticket,
                    key,
                    kind: ReadKind::Peek(lines),
                    msg: m.number,
                };
                let cmd = Command::Top {
                    msg: m.number,
                    lines: lines.max(1),
                    size: Some(m.size),
                };
                s.client.submit_tagged(cmd, read)?;
            }
        }
        if !self.cfg.previews || !s.has_top {
            return Ok(());
        }
        let mut visible = std::mem::take(&mut self.visible);
        if std::mem::take(&mut self.refocus) {
            // The view moved: the fill goes on outward from its rows.
            let lowest = visible
                .iter()
                .filter_map(|key| s.index(s.listing.resolve(key)?.number))
                .min();
            if let Some(lo) = lowest {
                s.order.focus(lo);
            }
        }
        // The rows on screen go out at once, even past the fill's depth:
        // a screenful at most.
        visible.retain(|key| {
            if !s.client.can_submit() {
                return true;
            }
            let Some(i) = s.listing.resolve(key).and_then(|m| s.index(m.number)) else {
                return false;
            };
            if !s.requested[i] {
                match submit_preview(s, i) {
                    Ok(()) => {}
                    Err(_) => return true,
                }
            }
            false
        });
        self.visible = visible;
        // The rest, nearest to the view first, with few enough in flight
        // that a newer view's rows are answered within a round trip or two.
        while s.client.can_submit() && s.previews_in_flight < s.preview_depth() {
            let Some(i) = s.order.next(&s.requested) else {
                break;
            };
            submit_preview(s, i)?;
        }
        Ok(())
    }

    /// The message to read, unless it is marked (SECURITY E30: the server
    /// would refuse) or gone; then the UI is told, so it stops waiting.
    pub(super) fn readable(
        &mut self,
        ticket: Ticket,
        key: &MsgKey,
        s: &Session,
    ) -> Option<crate::worker::listing::Msg> {
        let reason = match s.listing.resolve(key) {
            None if s.listing.is_stale(key) => {
                "that message number is from an older list (popview logged in again since, \
                 and this server gives no unique ids): open it again from the new list"
            }
            None => "that message is no longer on the server",
            Some(m) if self.marks.contains(key) || self.marks.is_applied(m.number) => {
                "that message is marked for deletion, so the server won't send it; \
                 undo the mark (u) to read it"
            }
            Some(m) => return Some(m.clone()),
        };
        self.send(Event::ReadFailed {
            ticket,
            key: key.clone(),
            reason: reason.to_string(),
        });
        None
    }

    /// Read one answer and act on it. `Ok(true)`: the user cancelled the
    /// download in flight and the connection was dropped rather than read
    /// to the end (see [`RetrieveWatch`]): open a fresh session.
    pub(super) fn receive(&mut self, s: &mut Session) -> Result<bool, Error> {
        let retr = match (s.client.next_tag(), s.client.next_answer_for()) {
            (
                Some(&Purpose::Read {
                    ticket,
                    kind: ReadKind::Retrieve,
                    ..
                }),
                Some(Command::Retr { size, .. }),
            ) => Some((ticket, size.unwrap_or(0))),
            _ => None,
        };
        let Some((ticket, total)) = retr else {
            let answer = s.client.recv()?;
            self.act_on(s, answer, false);
            return Ok(false);
        };
        // The user's RETR: the body goes into one buffer sized from LIST
        // (capped: a server can lie), progress at most PROGRESS_EVERY, and
        // the requests that come meanwhile are read, so a cancel is seen.
        let mut watch = RetrieveWatch::new(ticket, total);
        let mut data: Vec<u8> = Vec::with_capacity(
            usize::try_from(total.min(crate::pop3::response::MAX_PRESIZE)).unwrap_or(0),
        );
        let abort = std::cell::Cell::new(false);
        let emit = &mut self.emit;
        let ui_gone = &mut self.ui_gone;
        let requests = &self.requests;
        let received = s.client.recv_into(
            &mut |bytes| {
                watch.take_requests(requests, ui_gone);
                if watch.should_drop(bytes) {
                    abort.set(true);
                }
                if let Some(ev) = watch.progress(bytes)
                    && !*ui_gone
                    && !emit(ev)
                {
                    *ui_gone = true;
                }
            },
            Some(&mut |piece: &[u8]| {
                if abort.get() {
                    return Err(std::io::Error::other("download cancelled"));
                }
                data.extend_from_slice(piece);
                Ok(())
            }),
        );
        for r in std::mem::take(&mut watch.held) {
            self.absorb(r);
        }
        let answer = match received {
            Err(_) if abort.get() => {
                info!(
                    ticket,
                    "download cancelled: connection dropped, opening a new one"
                );
                s.client.stream().shutdown();
                self.ask_again(s, Some(ticket));
                return Ok(true);
            }
            Err(e) => return Err(e),
            Ok(a) => a,
        };
        let mut answer = answer;
        if let Ok(Reply::Body(b)) = &mut answer.result {
            b.data = data;
        }
        self.act_on(s, answer, watch.cancelled);
        Ok(false)
    }

    /// Act on one answer; `cancelled`: the user's RETR it answers was
    /// cancelled (the message is not prepared nor sent).
    fn act_on(&mut self, s: &mut Session, answer: crate::pop3::Answer<Purpose>, cancelled: bool) {
        s.last_activity = Instant::now();
        s.note_answer(answer.tag.as_ref());
        let result = answer.result;
        match answer.tag {
            Some(Purpose::Preview(msg)) => self.answer_preview(s, msg, result),
            Some(Purpose::Read {
                ticket,
                key,
                kind: ReadKind::Peek(_),
                ..
            }) => match result {
                Ok(Reply::Body(body)) => self.deliver_read(ticket, key, body.data, true),
                Ok(_) => {}
                Err(e) => self.read_failed(ticket, key, &e),
            },
            Some(Purpose::Read {
                ticket,
                key,
                kind: ReadKind::Retrieve,
                msg,
            }) => self.answer_retrieve(s, ticket, key, msg, result, cancelled),
            Some(Purpose::Mark(n)) => self.answer_mark(s, n, result),
            // Not submitted by the session while it serves: nothing
            // waits for it but a refusal is still told.
            None => {
                if let Err(e) = result {
                    self.error(&e, false);
                }
            }
        }
    }

    /// `TOP n 0` answered: the list's preview of message `msg`.
    fn answer_preview(&mut self, s: &mut Session, msg: u32, result: Result<Reply, Error>) {
        s.done += 1;
        s.previews_in_flight = s.previews_in_flight.saturating_sub(1);
        s.note_preview_answer();
        match result {
            Ok(Reply::Body(body)) => {
                s.bytes += body.data.len() as u64;
                let summary = mail::summarize(&body.data);
                self.got_preview(s, msg, summary);
            }
            Ok(_) => {}
            Err(e) => {
                if s.done == 1 && !s.client.capabilities().known {
                    s.has_top = false;
                    s.needed = 0;
                    self.notice(
                        "this server has no TOP command: previews come from opening messages",
                    );
                } else if e.kind != ErrorKind::Refused {
                    self.error(&e, false);
                }
            }
        }
        self.flush_previews(s, false);
    }

    /// The user's RETR answered: the message for its ticket, and its
    /// preview when the cache had none.
    fn answer_retrieve(
        &mut self,
        s: &mut Session,
        ticket: Ticket,
        key: MsgKey,
        msg: u32,
        result: Result<Reply, Error>,
        cancelled: bool,
    ) {
        match result {
            Ok(Reply::Body(body)) => {
                let known = s
                    .listing
                    .get(msg)
                    .and_then(|m| m.uid.as_ref())
                    .is_some_and(|u| self.cache.contains_key(u));
                if !known {
                    let summary = mail::summarize(&body.data);
                    self.got_preview(s, msg, summary);
                    self.flush_previews(s, true);
                }
                // Read to its end even when cancelled: whole, so kept.
                self.keep_body(s, msg, &body.data);
                if !cancelled {
                    self.deliver_read(ticket, key, body.data, false);
                }
            }
            Ok(_) => {}
            Err(_) if cancelled => {}
            Err(e) => self.read_failed(ticket, key, &e),
        }
    }

    /// A mark's `DELE n` answered.
    fn answer_mark(&mut self, s: &Session, n: u32, result: Result<Reply, Error>) {
        match result {
            Ok(_) => {
                self.marks.applied(n);
                debug!(number = n, uid = %self.logged_uid(&s.listing, n), "mark applied");
            }
            // The mark stays the user's intent (on disk too): a refusal
            // may be passing (a server about to hang up says -ERR too).
            // A commit tries it again and, if it still fails, deletes
            // nothing; the user can undo it.
            Err(e) => {
                info!(
                    number = n,
                    uid = %self.logged_uid(&s.listing, n),
                    kind = ?e.kind,
                    reason = %self.logged(&e.message),
                    "mark refused by the server (DELE); kept as intent"
                );
                let e = e.reword(|m| {
                    format!(
                        "the server would not mark message {n} for deletion ({m}); the mark \
                         is kept and tried again on commit; undo it (u) to keep the message"
                    )
                });
                self.error(&e, false);
            }
        }
    }

    pub(super) fn got_preview(&mut self, s: &mut Session, msg: u32, summary: HeaderSummary) {
        let Some(m) = s.listing.get(msg) else { return };
        let key = s.listing.key(m);
        if let Some(uid) = &m.uid {
            self.cache.insert(
                uid.clone(),
                CachedHeader {
                    size: m.size,
                    summary: summary.clone(),
                },
            );
            self.cache_dirty = true;
        }
        // Fetched in this session for this number: it is the marked
        // message, so the mark learns its Message-ID.
        if self.marks.learn(&key, &summary) {
            self.persist_marks();
        }
        s.batch.push((key, summary));
    }

    /// The cached preview of `m`, only if it was fetched for a message of
    /// this size under this UID.
    pub(super) fn cached_preview(&self, m: &crate::worker::listing::Msg) -> Option<&HeaderSummary> {
        let c = self.cache.get(m.uid.as_deref()?)?;
        (c.size == m.size).then_some(&c.summary)
    }

    pub(super) fn flush_previews(&mut self, s: &mut Session, force: bool) {
        if s.batch.is_empty() {
            return;
        }
        if force || s.batch.len() >= PREVIEW_BATCH || s.last_flush.elapsed() >= PREVIEW_FLUSH {
            let batch = std::mem::take(&mut s.batch);
            debug!(
                previews = batch.len(),
                done = s.done.min(s.needed),
                total = s.needed,
                bytes = s.bytes,
                "preview batch"
            );
            self.send(Event::Previews(batch));
            self.send(Event::Progress {
                done: s.done.min(s.needed),
                total: s.needed,
                bytes: s.bytes,
            });
            s.last_flush = Instant::now();
        }
    }
}

/// Send `TOP n 0` for the message at listing position `i` (a preview).
fn submit_preview(s: &mut Session, i: usize) -> Result<(), Error> {
    let Some(m) = s.listing.msgs().get(i) else {
        return Ok(());
    };
    let number = m.number;
    let cmd = Command::Top {
        msg: number,
        lines: 0,
        size: Some(m.size),
    };
    s.client.submit_tagged(cmd, Purpose::Preview(number))?;
    s.requested[i] = true;
    s.previews_in_flight += 1;
    s.fill_started.get_or_insert_with(Instant::now);
    Ok(())
}

fn tls_state(sec: &Security) -> TlsState {
    let details = |i: &crate::pop3::TlsInfo| TlsDetails {
        trust: match i.trust {
            Trust::Verified => CertTrust::Verified,
            Trust::Pinned => CertTrust::Pinned,
            Trust::Unverified => CertTrust::Unverified,
        },
        fingerprint_sha256: i.fingerprint_sha256.clone(),
    };
    match sec {
        Security::Plain => TlsState::None,
        Security::Implicit(i) => TlsState::Implicit(details(i)),
        Security::StartTls(i) => TlsState::StartTls(details(i)),
    }
}

/// Change the connection's read timeout (only ever shortened for a while).
fn set_read_timeout(stream: &Stream, t: Duration) -> Result<(), Error> {
    let tcp = match stream {
        Stream::Plain(s) => s.get_ref(),
        Stream::Tls(s) => s.get_ref().get_ref(),
    };
    tcp.set_read_timeout(Some(t))
        .map_err(|e| Error::io(&e, "setting up the connection"))
}

/// Whether the server ended the session while it was idle (see
/// [`Stream::closed_while_idle`]); bytes already buffered count too.
fn closed_while_idle(s: &mut Session) -> Option<String> {
    s.client.closed_while_idle()
}

/// Progress events of the user's RETR go out at most this often.
pub(super) const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// What reading the rest of a cancelled download may cost before dropping
/// the connection is cheaper: a new session (TLS, login, UIDL, LIST, the
/// marks applied again) takes well under a second on a LAN, about a
/// second over a long link.
pub(super) const RENEW_COST: Duration = Duration::from_secs(1);
/// A cancelled download with no more than this left is always read to the
/// end (and dropped) in place of a new session.
pub(super) const FINISH_BELOW: u64 = 1024 * 1024;

/// The user's RETR while it arrives: throttled progress, and the requests
/// that come meanwhile (held, to be taken in after it), a cancel of this
/// very download among them. A cancel either lets the answer finish and
/// drops it (little left, or a fast link), or asks to drop the connection
/// ([`should_drop`](Self::should_drop)), when reading the rest would take
/// longer than [`RENEW_COST`]: the session is never left out of step.
pub(super) struct RetrieveWatch {
    ticket: Ticket,
    total: u64,
    started: Instant,
    last_sent: Option<Instant>,
    pub(super) held: Vec<Request>,
    pub(super) cancelled: bool,
}

impl RetrieveWatch {
    pub(super) fn new(ticket: Ticket, total: u64) -> RetrieveWatch {
        RetrieveWatch {
            ticket,
            total,
            started: Instant::now(),
            last_sent: None,
            held: Vec::new(),
            cancelled: false,
        }
    }

    /// Take in the requests waiting (without blocking); a cancel of this
    /// download is noted (and kept, for the worker's own bookkeeping).
    fn take_requests(&mut self, requests: &Receiver<Request>, ui_gone: &mut bool) {
        loop {
            match requests.try_recv() {
                Ok(r) => {
                    if r == (Request::CancelRetrieve {
                        ticket: self.ticket,
                    }) {
                        self.cancelled = true;
                    }
                    self.held.push(r);
                }
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    *ui_gone = true;
                    self.cancelled = true;
                    return;
                }
            }
        }
    }

    /// After a cancel: true when the rest would take longer to read (at
    /// the rate so far) than a new session costs.
    pub(super) fn should_drop(&self, bytes: u64) -> bool {
        if !self.cancelled {
            return false;
        }
        let left = self.total.saturating_sub(bytes);
        if left <= FINISH_BELOW {
            return false;
        }
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = bytes as f64 / secs;
        rate <= 0.0 || left as f64 / rate > RENEW_COST.as_secs_f64()
    }

    /// The progress event to send now, if any: none after a cancel, at
    /// most one per [`PROGRESS_EVERY`], and always the last one.
    fn progress(&mut self, bytes: u64) -> Option<Event> {
        if self.cancelled {
            return None;
        }
        let now = Instant::now();
        let due = self
            .last_sent
            .is_none_or(|t| now.duration_since(t) >= PROGRESS_EVERY);
        if !due && bytes < self.total {
            return None;
        }
        self.last_sent = Some(now);
        Some(Event::RetrieveProgress {
            ticket: self.ticket,
            bytes,
            total: self.total,
        })
    }
}
