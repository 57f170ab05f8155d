//! The worker loop: connect (with a retry policy), then serve one session at
//! a time. The user's deletion marks live in [`Marks`] across sessions and on
//! disk; each session re-applies them with DELE, and only an explicit commit
//! sends QUIT in the transaction state.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use super::api::*;
use super::config::WorkerConfig;
use super::listing::Listing;
use super::marks::Marks;
use super::persist::Persist;
use crate::mail::{self, HeaderSummary};
use crate::pop3::transport::{self, Connection, Security, Stream, Trust};
use crate::pop3::{Client, Command, Credentials, Error, ErrorKind, Reply, Trace};
use crate::sanitize;

/// How the worker hands events to the UI; `false` means the UI is gone.
pub type Emit = Box<dyn FnMut(Event) -> bool + Send>;

/// Previews go to the UI in batches of this many ...
const PREVIEW_BATCH: usize = 256;
/// ... or when this much time has passed since the last batch.
const PREVIEW_FLUSH: Duration = Duration::from_millis(40);
/// Most time spent waiting for a password or a quit after a fatal error.
const MAX_USER_WAIT: Duration = Duration::from_secs(24 * 3600);

/// A write the user asked for: applied in order, never dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Mark(MsgKey),
    Unmark(MsgKey),
    UnmarkAll,
    CheckNewMail,
    CommitNow,
    Quit { commit: bool },
}

impl Op {
    /// Ops that need the pipe drained first (they RSET or end the session).
    fn exclusive(&self) -> bool {
        !matches!(self, Op::Mark(_))
    }
}

/// How a session ended.
enum Exit {
    /// The user quit; the worker ends. `true` when marks were committed.
    Done(bool),
    /// The connection was lost or refused: reconnect with backoff.
    Lost(Error),
    /// Open a fresh session right away (new mail, commit now).
    Renew,
}

pub struct Worker {
    cfg: WorkerConfig,
    persist: Box<dyn Persist>,
    requests: Receiver<Request>,
    emit: Emit,
    ui_gone: bool,
    cache: HashMap<String, HeaderSummary>,
    cache_dirty: bool,
    marks: Marks,
    /// UIDs of marks that a later listing no longer showed (deleted by
    /// someone else, or by a commit whose QUIT answer was lost): reported
    /// as `already_gone` by the next commit.
    gone_marks: Vec<String>,
    restored: bool,
    ops: VecDeque<Op>,
    retrieve: Option<(Ticket, MsgKey)>,
    peek: Option<(Ticket, MsgKey, u32)>,
    visible: Vec<MsgKey>,
    password: Option<String>,
    sessions: u32,
    /// Seconds the server wants between logins (CAPA LOGIN-DELAY).
    login_delay: Option<u64>,
    last_login: Option<Instant>,
}

/// What a user's read in flight asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ReadKind {
    #[default]
    Retrieve,
    Peek(u32),
}

/// Per-session state.
struct Session {
    client: Client<Stream>,
    listing: Listing,
    has_top: bool,
    /// Per message (index = position in the listing): preview requested.
    requested: Vec<bool>,
    cursor: usize,
    needed: usize,
    done: usize,
    bytes: u64,
    batch: Vec<(MsgKey, HeaderSummary)>,
    last_flush: Instant,
    /// Tickets of RETR / TOP n k in flight, in order.
    reads: VecDeque<(Ticket, MsgKey, ReadKind)>,
    last_activity: Instant,
}

impl Session {
    fn index(&self, number: u32) -> Option<usize> {
        self.listing
            .msgs()
            .binary_search_by_key(&number, |m| m.number)
            .ok()
    }
}

impl Worker {
    pub fn new(
        cfg: WorkerConfig,
        persist: Box<dyn Persist>,
        requests: Receiver<Request>,
        emit: Emit,
    ) -> Worker {
        let password = cfg.password.clone();
        Worker {
            cfg,
            persist,
            requests,
            emit,
            ui_gone: false,
            cache: HashMap::new(),
            cache_dirty: false,
            marks: Marks::default(),
            gone_marks: Vec::new(),
            restored: false,
            ops: VecDeque::new(),
            retrieve: None,
            peek: None,
            visible: Vec::new(),
            password,
            sessions: 0,
            login_delay: None,
            last_login: None,
        }
    }

    fn send(&mut self, ev: Event) {
        if !self.ui_gone && !(self.emit)(ev) {
            // The UI is gone: end without QUIT, so nothing is deleted; the
            // marks stay on disk for the next start.
            self.ui_gone = true;
        }
    }

    fn error(&mut self, e: &Error, fatal: bool) {
        self.send(Event::Error(WorkerError {
            kind: e.kind,
            message: sanitize::line(&e.message),
            fatal,
        }));
    }

    fn notice(&mut self, text: impl Into<String>) {
        let text = sanitize::line(&text.into());
        self.send(Event::Notice(text));
    }

    fn send_marks(&mut self) {
        let marked = self.marks.keys();
        let restored = std::mem::take(&mut self.restored);
        self.send(Event::Marks { marked, restored });
    }

    fn persist_marks(&mut self) {
        if let Err(e) = self.persist.save_marks(&self.marks.uids()) {
            let e = Error::local(format!(
                "could not save the deletion marks to disk: {e}; they are kept in memory"
            ));
            self.error(&e, false);
        }
    }

    fn save_cache(&mut self) {
        if self.cache_dirty {
            self.cache_dirty = false;
            if let Err(e) = self.persist.save_headers(&self.cache) {
                self.notice(format!("could not save the header cache: {e}"));
            }
        }
    }

    /// The whole life of the worker thread.
    pub fn run(mut self) {
        self.cache = self.persist.load_headers();
        let restored = self.persist.load_marks();
        if !restored.is_empty() {
            self.marks = Marks::restored(restored);
            self.restored = true;
            self.send_marks();
            self.restored = true;
        }
        let mut attempt = 0u32;
        let committed = loop {
            if self.ui_gone {
                break false;
            }
            if let Some(done) = self.settle_offline_ops() {
                break done;
            }
            if self.password.is_none() && !self.ask_password("") {
                break false;
            }
            self.honour_login_delay(attempt + 1);
            // A quit during the countdown is settled at the top of the loop
            // (a commit with marks still needs the connection).
            if self.ui_gone || (self.quit_queued() && self.marks.is_empty()) {
                continue;
            }
            attempt += 1;
            self.send(Event::Connecting {
                server: self.cfg.connect.server(),
                attempt,
            });
            let exit = match self.open() {
                Ok(session) => {
                    attempt = 0;
                    self.serve(session)
                }
                Err(e) => Exit::Lost(e),
            };
            match exit {
                Exit::Done(committed) => break committed,
                Exit::Renew => attempt = 0,
                Exit::Lost(e) => {
                    if !self.after_failure(&e, attempt) {
                        break false;
                    }
                }
            }
        };
        self.save_cache();
        self.send(Event::Closed { committed });
    }

    /// Take in a request; writes queue up, reads replace older reads.
    fn absorb(&mut self, req: Request) {
        match req {
            Request::Visible(keys) => self.visible = keys,
            Request::Retrieve { ticket, key } => self.retrieve = Some((ticket, key)),
            Request::CancelRetrieve { ticket } => {
                if self.retrieve.as_ref().is_some_and(|(t, _)| *t == ticket) {
                    self.retrieve = None;
                }
            }
            Request::Peek { ticket, key, lines } => self.peek = Some((ticket, key, lines)),
            Request::Password(p) => self.password = Some(p),
            Request::Mark(k) => self.ops.push_back(Op::Mark(k)),
            Request::Unmark(k) => self.ops.push_back(Op::Unmark(k)),
            Request::UnmarkAll => self.ops.push_back(Op::UnmarkAll),
            Request::CheckNewMail => self.ops.push_back(Op::CheckNewMail),
            Request::CommitNow => self.ops.push_back(Op::CommitNow),
            Request::Quit { commit } => self.ops.push_back(Op::Quit { commit }),
        }
    }

    /// Take every request waiting, without blocking.
    fn drain_requests(&mut self) {
        loop {
            match self.requests.try_recv() {
                Ok(r) => self.absorb(r),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.ui_gone = true;
                    break;
                }
            }
        }
    }

    /// Wait up to `dur` for requests; returns early when a quit is queued.
    fn wait(&mut self, dur: Duration) {
        let end = Instant::now() + dur;
        loop {
            let now = Instant::now();
            if now >= end || self.ui_gone || self.quit_queued() {
                return;
            }
            match self.requests.recv_timeout(end - now) {
                Ok(r) => self.absorb(r),
                Err(RecvTimeoutError::Timeout) => return,
                Err(RecvTimeoutError::Disconnected) => self.ui_gone = true,
            }
        }
    }

    fn quit_queued(&self) -> bool {
        self.ops.iter().any(|o| matches!(o, Op::Quit { .. }))
    }

    /// While there is no session: marks change only the intent (there is
    /// nothing on the server to undo). Returns `Some(committed)` when the
    /// user quit and there's nothing left to do online.
    fn settle_offline_ops(&mut self) -> Option<bool> {
        self.drain_requests();
        let mut changed = false;
        while let Some(op) = self.ops.front().cloned() {
            match op {
                Op::Mark(k) => {
                    changed |= self.marks.add(k);
                }
                Op::Unmark(k) => {
                    self.gone_marks.retain(|u| k.uid.as_ref() != Some(u));
                    changed |= self.marks.remove(&k);
                }
                Op::UnmarkAll => {
                    changed |= !self.marks.is_empty();
                    self.gone_marks.clear();
                    self.marks.clear_intent();
                }
                Op::CheckNewMail => {}
                // Needs the server: handled once connected.
                Op::CommitNow => break,
                Op::Quit { commit: true } if !self.marks.is_empty() => break,
                Op::Quit { commit } => {
                    if !commit {
                        self.marks.clear_intent();
                        self.persist_marks();
                    }
                    self.ops.pop_front();
                    return Some(false);
                }
            }
            self.ops.pop_front();
        }
        if changed {
            self.persist_marks();
            self.send_marks();
        }
        None
    }

    /// Ask the UI for the password and wait for it (or a quit).
    fn ask_password(&mut self, reason: &str) -> bool {
        let reason = if reason.is_empty() {
            format!(
                "Password for {} at {}",
                sanitize::line(&self.cfg.user),
                self.cfg.connect.server()
            )
        } else {
            reason.to_string()
        };
        self.send(Event::PasswordNeeded { reason });
        let end = Instant::now() + MAX_USER_WAIT;
        while self.password.is_none() && Instant::now() < end {
            self.wait(Duration::from_secs(1));
            if self.ui_gone || self.quit_queued() {
                return self.password.is_some() || self.quit_queued();
            }
        }
        self.password.is_some()
    }

    /// Decide what to do after a failed connection or a lost session.
    /// Returns false when the worker should stop.
    fn after_failure(&mut self, e: &Error, attempt: u32) -> bool {
        match e.kind {
            ErrorKind::Auth => {
                self.password = None;
                self.error(e, false);
                self.ask_password(&sanitize::line(&e.message))
            }
            ErrorKind::InUse
            | ErrorKind::TempFailure
            | ErrorKind::Network
            | ErrorKind::Timeout
            | ErrorKind::LoginDelay
                if attempt < self.cfg.max_attempts =>
            {
                let delay = if e.kind == ErrorKind::LoginDelay {
                    Duration::from_secs(self.login_delay.unwrap_or(60).clamp(1, 3600))
                } else {
                    let factor = 1u32 << attempt.saturating_sub(1).min(16);
                    (self.cfg.backoff * factor).min(self.cfg.max_backoff)
                };
                self.send(Event::Reconnecting {
                    attempt,
                    delay_secs: delay.as_secs(),
                    reason: sanitize::line(&e.message),
                });
                self.wait(delay);
                true
            }
            _ => {
                // PermFailure, TLS, protocol violations, local refusals, or
                // too many attempts: explain and wait for the user to quit.
                self.error(e, true);
                if self.cfg.max_attempts <= 1 || self.ui_gone {
                    return false;
                }
                let end = Instant::now() + MAX_USER_WAIT;
                while !self.quit_queued() && !self.ui_gone && Instant::now() < end {
                    self.wait(Duration::from_secs(1));
                }
                // Offline, quitting: a commit can't happen; marks stay on disk.
                if let Some(Op::Quit { commit }) = self
                    .ops
                    .iter()
                    .find(|o| matches!(o, Op::Quit { .. }))
                    .cloned()
                {
                    if commit && !self.marks.is_empty() {
                        self.notice(
                            "not connected, so nothing was deleted; the marks are kept for next time",
                        );
                    } else if !commit {
                        self.marks.clear_intent();
                        self.persist_marks();
                    }
                }
                false
            }
        }
    }

    /// A server that announced LOGIN-DELAY gets no login sooner than that
    /// after the previous one: count down instead of hammering it.
    fn honour_login_delay(&mut self, attempt: u32) {
        let (Some(delay), Some(last)) = (self.login_delay, self.last_login) else {
            return;
        };
        let wait = Duration::from_secs(delay).saturating_sub(last.elapsed());
        if wait.is_zero() {
            return;
        }
        self.send(Event::Reconnecting {
            attempt,
            delay_secs: wait.as_secs().max(1),
            reason: format!("the server allows one login every {delay} seconds"),
        });
        self.wait(wait);
    }

    /// Connect, log in, list.
    fn open(&mut self) -> Result<Session, Error> {
        let trace = match &self.cfg.trace {
            Some(path) => Some(open_trace(path)?),
            None => None,
        };
        let Connection {
            mut client,
            security,
        } = transport::connect(&self.cfg.connect, trace)?;
        let mut post_login_caps = None;
        let creds = Credentials::new(
            self.cfg.user.clone(),
            self.password.clone().unwrap_or_default(),
        );
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
        self.send(Event::Connected(Box::new(info)));
        if caps.expire.as_deref().map(str::trim) == Some("0") {
            self.notice("this server does not keep mail after it is downloaded (EXPIRE 0)");
        }
        let n = listing.len();
        Ok(Session {
            client,
            has_top: caps.top || !caps.known,
            requested: vec![false; n],
            cursor: 0,
            needed: 0,
            done: 0,
            bytes: 0,
            batch: Vec::new(),
            last_flush: Instant::now(),
            reads: VecDeque::new(),
            last_activity: Instant::now(),
            listing,
        })
    }

    /// Serve one session until it ends. When the connection is lost, the
    /// user's reads that were in flight (a RETR cut halfway, a TOP) are
    /// asked again in the next session, unless a newer one replaced them:
    /// otherwise the UI would wait forever for an answer to that ticket.
    fn serve(&mut self, mut s: Session) -> Exit {
        let exit = self.serve_session(&mut s);
        if matches!(exit, Exit::Lost(_)) {
            for (ticket, key, kind) in s.reads.drain(..).rev() {
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
        exit
    }

    fn serve_session(&mut self, s: &mut Session) -> Exit {
        self.sessions += 1;
        let reconnect = self.sessions > 1;
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
        self.preload_from_cache(s);
        // Re-apply the marks' intent to this session.
        let gone = self.marks.remap(&s.listing);
        if !gone.is_empty() {
            for uid in gone.iter().filter_map(|k| k.uid.clone()) {
                if !self.gone_marks.contains(&uid) {
                    self.gone_marks.push(uid);
                }
            }
            self.notice(format!(
                "{} marked message(s) are no longer on the server",
                gone.len()
            ));
            self.persist_marks();
        }
        let reapplied = match self.apply_unapplied(s) {
            Ok(n) => n,
            Err(e) => return Exit::Lost(e),
        };
        self.send_marks();
        if reconnect {
            self.send(Event::Reconnected {
                marks_reapplied: reapplied,
            });
        }
        loop {
            self.drain_requests();
            if self.ui_gone {
                // Drop the connection without QUIT: nothing is deleted.
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
            if s.client.in_flight() > 0 {
                if let Err(e) = self.receive(s) {
                    return Exit::Lost(e);
                }
                continue;
            }
            // Idle.
            self.flush_previews(s, true);
            if s.done >= s.needed {
                self.save_cache();
            }
            if !self.ops.is_empty() || self.retrieve.is_some() || self.peek.is_some() {
                continue;
            }
            let timeout = self.cfg.keepalive.saturating_sub(s.last_activity.elapsed());
            match self.requests.recv_timeout(timeout) {
                Ok(r) => self.absorb(r),
                Err(RecvTimeoutError::Disconnected) => self.ui_gone = true,
                Err(RecvTimeoutError::Timeout) => {
                    s.last_activity = Instant::now();
                    if let Err(e) = s.client.noop()
                        && e.is_fatal_to_session()
                    {
                        return Exit::Lost(e);
                    }
                }
            }
        }
    }

    /// Show cached previews at once; queue TOP for the rest.
    fn preload_from_cache(&mut self, s: &mut Session) {
        let mut hits = Vec::new();
        let live: HashSet<&str> = s
            .listing
            .msgs()
            .iter()
            .filter_map(|m| m.uid.as_deref())
            .collect();
        let before = self.cache.len();
        if s.listing.has_uids {
            self.cache.retain(|uid, _| live.contains(uid.as_str()));
        }
        if self.cache.len() != before {
            self.cache_dirty = true;
        }
        for (i, m) in s.listing.msgs().iter().enumerate() {
            if let Some(h) = m.uid.as_ref().and_then(|u| self.cache.get(u)) {
                s.requested[i] = true;
                hits.push((s.listing.key(m), h.clone()));
            }
        }
        s.needed = if self.cfg.previews && s.has_top {
            s.listing.len() - hits.len()
        } else {
            0
        };
        for chunk in hits.chunks(4096) {
            self.send(Event::Previews(chunk.to_vec()));
        }
        self.send(Event::Progress {
            done: 0,
            total: s.needed,
            bytes: 0,
        });
    }

    /// DELE every intended mark not applied in this session (pipelined).
    fn apply_unapplied(&mut self, s: &mut Session) -> Result<usize, Error> {
        let todo = self.marks.unapplied(&s.listing);
        let mut ok = 0;
        let mut failed = Vec::new();
        s.client
            .pipeline(todo.iter().map(|n| Command::Dele(*n)), |a| {
                if let Command::Dele(n) = a.command {
                    match a.result {
                        Ok(_) => {
                            ok += 1;
                            self.marks.applied(n);
                        }
                        Err(e) => failed.push((n, e)),
                    }
                }
                Ok(())
            })?;
        for (n, e) in failed {
            self.error(
                &Error::new(
                    e.kind,
                    format!("could not mark message {n} for deletion: {}", e.message),
                ),
                false,
            );
        }
        Ok(ok)
    }

    /// Apply queued writes in order. Exclusive ones wait for the pipe to drain.
    fn run_ops(&mut self, s: &mut Session) -> Result<Option<Exit>, Error> {
        while let Some(op) = self.ops.front().cloned() {
            if op.exclusive() {
                if s.client.in_flight() > 0 {
                    return Ok(None);
                }
                self.ops.pop_front();
                if let Some(exit) = self.exclusive(op, s)? {
                    return Ok(Some(exit));
                }
                continue;
            }
            if !s.client.can_submit() {
                return Ok(None);
            }
            self.ops.pop_front();
            if let Op::Mark(key) = op {
                self.mark(key, s)?;
            }
        }
        Ok(None)
    }

    fn mark(&mut self, key: MsgKey, s: &mut Session) -> Result<(), Error> {
        let Some(m) = s.listing.resolve(&key).cloned() else {
            let ambiguous = s.listing.get(key.number).is_some_and(|m| m.ambiguous);
            if ambiguous {
                self.notice(format!(
                    "message {} shares its unique id with another message; popview won't mark it, \
                     so one mark can't delete two messages",
                    key.number
                ));
            } else {
                self.notice("that message is no longer on the server");
            }
            self.send_marks();
            return Ok(());
        };
        let key = s.listing.key(&m);
        if self.marks.contains(&key) {
            self.send_marks();
            return Ok(());
        }
        self.marks.add(key);
        self.persist_marks();
        self.send_marks();
        s.client.submit(Command::Dele(m.number))
    }

    fn exclusive(&mut self, op: Op, s: &mut Session) -> Result<Option<Exit>, Error> {
        match op {
            Op::Mark(_) => unreachable!("marks are not exclusive"),
            Op::Unmark(key) => {
                self.gone_marks.retain(|u| key.uid.as_ref() != Some(u));
                if !self.marks.remove(&key) {
                    self.send_marks();
                    return Ok(None);
                }
                self.persist_marks();
                if !self.marks.stale_applied(&s.listing).is_empty() {
                    // POP3 can't undo one DELE: RSET undoes all, then the
                    // others are marked again.
                    match s.client.rset() {
                        Ok(()) => {
                            self.marks.session_reset();
                            self.apply_unapplied(s)?;
                        }
                        Err(e) if !e.is_fatal_to_session() => {
                            self.marks.add(key);
                            self.persist_marks();
                            self.error(
                                &Error::new(
                                    e.kind,
                                    format!(
                                        "the server refused RSET, so the mark stays: {}",
                                        e.message
                                    ),
                                ),
                                false,
                            );
                        }
                        Err(e) => {
                            // The session is gone, and with it every DELE:
                            // the intent is already updated on disk.
                            self.send_marks();
                            return Err(e);
                        }
                    }
                }
                self.send_marks();
                Ok(None)
            }
            Op::UnmarkAll => {
                match s.client.rset() {
                    Ok(()) => {
                        self.gone_marks.clear();
                        self.marks.clear_intent();
                        self.marks.session_reset();
                        self.persist_marks();
                    }
                    Err(e) if !e.is_fatal_to_session() => self.error(
                        &Error::new(
                            e.kind,
                            format!("the server refused RSET, so the marks stay: {}", e.message),
                        ),
                        false,
                    ),
                    Err(e) => {
                        self.gone_marks.clear();
                        self.marks.clear_intent();
                        self.persist_marks();
                        self.send_marks();
                        return Err(e);
                    }
                }
                self.send_marks();
                Ok(None)
            }
            Op::CheckNewMail => {
                // A POP3 session sees the maildrop as it was at login: end
                // this one without deleting anything and open a new one. The
                // marks are re-applied there.
                self.flush_previews(s, true);
                self.save_cache();
                end_without_deleting(s);
                self.notice("checking for new mail");
                Ok(Some(Exit::Renew))
            }
            Op::CommitNow => match self.commit(s) {
                Ok(()) => Ok(Some(Exit::Renew)),
                Err(e) => Err(e),
            },
            Op::Quit { commit: true } => {
                self.flush_previews(s, true);
                self.save_cache();
                match self.commit(s) {
                    Ok(()) => Ok(Some(Exit::Done(true))),
                    Err(e) => {
                        self.error(&e, true);
                        Ok(Some(Exit::Done(false)))
                    }
                }
            }
            Op::Quit { commit: false } => {
                self.flush_previews(s, true);
                self.save_cache();
                self.marks.clear_intent();
                self.persist_marks();
                end_without_deleting(s);
                Ok(Some(Exit::Done(false)))
            }
        }
    }

    /// Make the server's marks equal the intent, then QUIT. Any doubt (a DELE
    /// refused, RSET refused, QUIT refused) means no QUIT, or marks kept.
    fn commit(&mut self, s: &mut Session) -> Result<(), Error> {
        if !self.marks.stale_applied(&s.listing).is_empty() {
            s.client.rset()?;
            self.marks.session_reset();
        }
        let todo = self.marks.unapplied(&s.listing);
        let mut failed = None;
        s.client
            .pipeline(todo.iter().map(|n| Command::Dele(*n)), |a| {
                if let Command::Dele(n) = a.command {
                    match a.result {
                        Ok(_) => self.marks.applied(n),
                        Err(e) => {
                            failed.get_or_insert((n, e));
                        }
                    }
                }
                Ok(())
            })?;
        if let Some((n, e)) = failed {
            // Never QUIT with an unknown set of deletions (SECURITY E27):
            // drop the session, which deletes nothing.
            s.client.stream().shutdown();
            return Err(Error::new(
                e.kind,
                format!(
                    "message {n} could not be marked ({}); nothing was deleted and the marks are kept",
                    e.message
                ),
            ));
        }
        let keys = self.marks.keys();
        let mut deleted = Vec::new();
        let mut already_gone = self.gone_marks.clone();
        for k in &keys {
            match s.listing.resolve(k) {
                Some(m) if self.marks.is_applied(m.number) => deleted.push(k.clone()),
                _ => already_gone.push(k.uid.clone().unwrap_or_else(|| k.number.to_string())),
            }
        }
        match s.client.quit() {
            Ok(()) => {
                self.gone_marks.clear();
                for k in &keys {
                    self.marks.remove(k);
                }
                for m in &deleted {
                    if let Some(uid) = &m.uid {
                        self.cache.remove(uid);
                        self.cache_dirty = true;
                    }
                }
                self.persist_marks();
                self.send(Event::Committed {
                    deleted: deleted.len(),
                    already_gone,
                });
                self.send_marks();
                Ok(())
            }
            Err(e) => Err(Error::new(
                e.kind,
                format!(
                    "the server did not confirm the deletion ({}); the marks are kept and the \
                     next session will check what is really gone",
                    e.message
                ),
            )),
        }
    }

    /// Queue reads: the user's retrieve/peek first, then visible previews,
    /// then the rest in order.
    fn refill(&mut self, s: &mut Session) -> Result<(), Error> {
        if self.ops.front().is_some_and(Op::exclusive) {
            return Ok(()); // let the pipe drain
        }
        if let Some((ticket, key)) = self.retrieve.clone() {
            if !s.client.can_submit() {
                return Ok(());
            }
            self.retrieve = None;
            if let Some(m) = self.readable(&key, s) {
                s.client.submit(Command::Retr {
                    msg: m.number,
                    size: Some(m.size),
                })?;
                s.reads.push_back((ticket, key, ReadKind::Retrieve));
            }
        }
        if let Some((ticket, key, lines)) = self.peek.clone() {
            if !s.client.can_submit() {
                return Ok(());
            }
            self.peek = None;
            if let Some(m) = self.readable(&key, s) {
                s.client.submit(Command::Top {
                    msg: m.number,
                    lines: lines.max(1),
                    size: Some(m.size),
                })?;
                s.reads.push_back((ticket, key, ReadKind::Peek(lines)));
            }
        }
        if !self.cfg.previews || !s.has_top {
            return Ok(());
        }
        let mut visible = std::mem::take(&mut self.visible);
        visible.retain(|key| {
            if !s.client.can_submit() {
                return true;
            }
            let Some(m) = s.listing.resolve(key) else {
                return false;
            };
            let Some(i) = s.index(m.number) else {
                return false;
            };
            if !s.requested[i] {
                s.requested[i] = true;
                let cmd = Command::Top {
                    msg: m.number,
                    lines: 0,
                    size: Some(m.size),
                };
                if s.client.submit(cmd).is_err() {
                    s.requested[i] = false;
                    return true;
                }
            }
            false
        });
        self.visible = visible;
        while s.client.can_submit() && s.cursor < s.requested.len() {
            let i = s.cursor;
            s.cursor += 1;
            if s.requested[i] {
                continue;
            }
            s.requested[i] = true;
            let m = &s.listing.msgs()[i];
            s.client.submit(Command::Top {
                msg: m.number,
                lines: 0,
                size: Some(m.size),
            })?;
        }
        Ok(())
    }

    /// The message to read, unless it is marked (SECURITY E30) or gone.
    fn readable(&mut self, key: &MsgKey, s: &Session) -> Option<super::listing::Msg> {
        let Some(m) = s.listing.resolve(key).cloned() else {
            self.notice("that message is no longer on the server");
            return None;
        };
        if self.marks.is_applied(m.number) {
            self.notice(
                "that message is marked for deletion, so the server won't send it; undo the mark (u) to read it",
            );
            return None;
        }
        Some(m)
    }

    /// Read one answer and act on it.
    fn receive(&mut self, s: &mut Session) -> Result<(), Error> {
        let retr_ticket = match s.client.next_answer_for() {
            Some(Command::Retr { size, .. }) => {
                s.reads.front().map(|(t, _, _)| (*t, size.unwrap_or(0)))
            }
            _ => None,
        };
        let emit = &mut self.emit;
        let ui_gone = &mut self.ui_gone;
        let answer = s.client.recv_with(&mut |bytes| {
            if let Some((ticket, total)) = retr_ticket
                && !*ui_gone
                && !emit(Event::RetrieveProgress {
                    ticket,
                    bytes,
                    total,
                })
            {
                *ui_gone = true;
            }
        })?;
        s.last_activity = Instant::now();
        match (answer.command, answer.result) {
            (Command::Top { msg, lines: 0, .. }, result) => {
                s.done += 1;
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
            (Command::Top { .. }, result) => {
                let (ticket, key, _) = s.reads.pop_front().unwrap_or_default();
                match result {
                    Ok(Reply::Body(body)) => {
                        let view = mail::view(body.data);
                        self.send(Event::Peeked {
                            ticket,
                            key,
                            view: Box::new(view),
                        });
                    }
                    Ok(_) => {}
                    Err(e) => self.error(&e, false),
                }
            }
            (Command::Retr { msg, .. }, result) => {
                let (ticket, key, _) = s.reads.pop_front().unwrap_or_default();
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
                        let view = mail::view(body.data);
                        self.send(Event::Message {
                            ticket,
                            key,
                            view: Box::new(view),
                        });
                    }
                    Ok(_) => {}
                    Err(e) => self.error(&e, false),
                }
            }
            (Command::Dele(n), result) => match result {
                Ok(_) => self.marks.applied(n),
                Err(e) => {
                    if let Some(m) = s.listing.get(n) {
                        let key = s.listing.key(m);
                        self.marks.remove(&key);
                        self.persist_marks();
                    }
                    self.error(
                        &Error::new(
                            e.kind,
                            format!("could not mark message {n} for deletion: {}", e.message),
                        ),
                        false,
                    );
                    self.send_marks();
                }
            },
            (_, Err(e)) => self.error(&e, false),
            _ => {}
        }
        Ok(())
    }

    fn got_preview(&mut self, s: &mut Session, msg: u32, summary: HeaderSummary) {
        let Some(m) = s.listing.get(msg) else { return };
        let key = s.listing.key(m);
        if let Some(uid) = &m.uid {
            self.cache.insert(uid.clone(), summary.clone());
            self.cache_dirty = true;
        }
        s.batch.push((key, summary));
    }

    fn flush_previews(&mut self, s: &mut Session, force: bool) {
        if s.batch.is_empty() {
            return;
        }
        if force || s.batch.len() >= PREVIEW_BATCH || s.last_flush.elapsed() >= PREVIEW_FLUSH {
            let batch = std::mem::take(&mut s.batch);
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

/// End a session so that nothing is deleted: RSET then QUIT, or, if RSET is
/// refused, drop the connection (RFC 1939: no QUIT, no deletions).
fn end_without_deleting(s: &mut Session) {
    match s.client.rset() {
        Ok(()) => {
            let _ = s.client.quit();
        }
        Err(_) => s.client.stream().shutdown(),
    }
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

fn open_trace(path: &std::path::Path) -> Result<Trace, Error> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts
        .open(path)
        .map_err(|e| Error::local(format!("can't open the log file {}: {e}", path.display())))?;
    Ok(Trace::new(Box::new(std::io::BufWriter::new(file))))
}
