//! The worker loop: connect (with a retry policy), then serve one session at
//! a time. The user's deletion marks live in [`Marks`] across sessions and on
//! disk; each session re-applies them with DELE, and only an explicit commit
//! sends QUIT in the transaction state.

mod bodies;
mod cached;
mod ops;
mod reads;
mod save;
mod session;

pub use bodies::Bodies;
pub use reads::Reads;

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use super::api::*;
use super::config::WorkerConfig;
use super::listing::{FillOrder, Listing};
use super::marks::{Mark, Marks};
use super::persist::{HeaderCache, Persist};
use crate::mail::{self, HeaderSummary};
use crate::pop3::response::MAX_LOGIN_DELAY;
use crate::pop3::transport::{self, Connection, Security, Stream, Trust};
use crate::pop3::{Client, Command, Credentials, Error, ErrorKind, Reply, Trace};
use crate::sanitize;
use crate::store::CachedHeader;
use tracing::{debug, info};

/// How the worker hands events to the UI; `false` means the UI is gone.
pub type Emit = Box<dyn FnMut(Event) -> bool + Send>;

/// Previews go to the UI in batches of this many ...
const PREVIEW_BATCH: usize = 256;
/// ... or when this much time has passed since the last batch.
const PREVIEW_FLUSH: Duration = Duration::from_millis(40);
/// List previews in flight from the background fill: at first (and at
/// least) this many ...
const PREVIEW_DEPTH_MIN: usize = 400;
/// ... then twice what the server answered in the last round trip, so the
/// link stays busy while the rows of a newer view (`G`, a page down, a
/// limit), sent at once behind them, are answered within about two round
/// trips (see [`Session::preview_depth`]).
const PREVIEW_DEPTH_ROUND_TRIPS: usize = 2;
/// Most time spent waiting for a password or a quit after a fatal error.
const MAX_USER_WAIT: Duration = Duration::from_secs(24 * 3600);
/// A session that stayed up this long counts as one that worked (see
/// [`Session::worked`]), even if the user asked nothing of it.
const STABLE_SESSION: Duration = Duration::from_secs(30);
/// How often an idle session checks that the server has not closed it.
const IDLE_PROBE_EVERY: Duration = Duration::from_secs(2);
/// Most often the header cache is rewritten while a session is idle.
const CACHE_SAVE_EVERY: Duration = Duration::from_secs(30);

/// A write the user asked for: applied in order, never dropped.
///
/// Typed by what the session must do with it: a mark is pipelined (DELE);
/// an undo and a session op need the pipe drained first (they RSET or end
/// the session). Marks and undos are the user's changes to the marks, which
/// the UI shows as pending until an `Event::Marks` counts them as settled.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    /// A mark, with the listing the UI showed when it was asked for (the
    /// count of `Request::ListingSeen` before it; `None` when the UI never
    /// said): a mark is judged against the list the user pressed it on.
    Mark {
        key: MsgKey,
        shown: Option<u64>,
    },
    Undo(Undo),
    Session(SessionOp),
    /// A save into a local mailbox (see [`save`]): needs the pipe drained.
    Save(Box<SaveRequest>),
}

/// Taking marks back: POP3 undoes only with RSET, so never pipelined.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Undo {
    One(MsgKey),
    All,
}

/// What ends or renews the session, or needs the server at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionOp {
    CheckNewMail,
    CommitNow,
    Quit { commit: bool },
}

impl Op {
    /// Ops that need the pipe drained first (they RSET or end the session).
    fn exclusive(&self) -> bool {
        !matches!(self, Op::Mark { .. })
    }
}

/// What a run of marks still owes: the marks file, the `Marks` event.
#[derive(Debug, Default)]
struct DeferredMarks {
    persist: bool,
    send: bool,
}

/// How a session ended.
enum Exit {
    /// The user quit; the worker ends. `true` when marks were committed.
    Done(bool),
    /// The connection was lost or refused: reconnect with backoff.
    Lost(Error),
    /// Open a fresh session right away (new mail, commit now).
    Renew,
    /// The session was let go while idle (`WorkerConfig::release_after`):
    /// open the next one at the user's next action.
    Released,
    /// Serve this session next: `r` opened it before ending the last one.
    Swap(Box<Session>),
}

pub struct Worker {
    cfg: WorkerConfig,
    persist: Box<dyn Persist>,
    requests: Receiver<Request>,
    emit: Emit,
    ui_gone: bool,
    /// Previews by UID, each with the LIST size it was fetched for.
    cache: HeaderCache,
    /// The header blocks being read on another thread, merged into `cache`
    /// before the first listing uses it ([`Worker::await_header_cache`]).
    cache_blocks: Option<std::thread::JoinHandle<HashMap<String, crate::store::CachedBlock>>>,
    /// The header index being read on another thread (see
    /// [`Worker::await_header_cache`]).
    cache_index: Option<std::thread::JoinHandle<HashMap<String, crate::store::CachedHeader>>>,
    /// The password being fetched on another thread
    /// (`WorkerConfig::password_first`), awaited at the first login.
    password_coming: Option<std::thread::JoinHandle<Result<crate::password::Password, String>>>,
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
    /// A new `Request::Visible` came: the fill re-centres on it.
    refocus: bool,
    password: Option<crate::password::Password>,
    /// The password source was run again after a rejected token, and no
    /// login succeeded since: a second rejection is final.
    password_refetched: bool,
    sessions: u32,
    /// Seconds the server wants between logins (CAPA LOGIN-DELAY).
    login_delay: Option<u64>,
    last_login: Option<Instant>,
    /// The previous session ended by a lost connection (not a renew).
    last_lost: bool,
    last_cache_save: Option<Instant>,
    /// `Mark`/`Unmark`/`UnmarkAll` requests settled so far (see
    /// `Event::Marks::settled`); they are settled in the order received.
    writes_settled: u64,
    /// While a run of marks is applied (a bulk mark of thousands), the
    /// marks file and the `Marks` event wait for the end of the run: one
    /// write and one event instead of one per mark ([`Worker::flush_marks`]).
    deferred_marks: Option<DeferredMarks>,
    /// A QUIT was sent to commit and its answer never came: whether the
    /// server deleted is unknown until a later listing shows it.
    quit_unconfirmed: bool,
    /// The server refused a second login with `[IN-USE]` while a session
    /// was open, or held it silent (Dovecot's way of waiting on its lock):
    /// it locks the maildrop per session, so a check for new mail ends the
    /// session first, as no new one can open beside it.
    maildrop_locked_per_session: bool,
    /// The last session's listing: what an offline mark names.
    last_listing: Option<Listing>,
    /// The previews the cached list showed, header blocks included, before
    /// the first session (UID to LIST size); that session does not send
    /// them again.
    previews_shown: HashMap<String, u64>,
    /// How many listings the UI has taken in (`Request::ListingSeen`), so
    /// the generation of the one it shows; `None` when it never said (the
    /// scripting commands, which mark within the session they listed).
    ui_listing: Option<u64>,
    /// Server without UIDL: the UI may still show an older listing (a
    /// write of it was refused, or number marks were dropped by a new
    /// session), so a commit it asks for is refused until it writes with a
    /// key of the current listing.
    stale_ui: bool,
    /// Another popview holds the account: why marking is off here.
    read_only: Option<String>,
    /// Files set aside when loading, told once a session is up.
    load_warnings: Vec<String>,
    /// The user quit with `Request::QuitKeepMarks`: the quit deletes
    /// nothing and leaves the marks on disk for the next start.
    keep_marks_at_quit: bool,
    /// Where the user's reads are prepared (see [`reads`]).
    reads: Option<Reads>,
    /// The body cache, when `cache_bodies` is on (see [`bodies`]).
    bodies: Option<Bodies>,
    /// The last request from the user (keepalives and the worker's own
    /// checks don't count): the idle clock of `release_after`.
    last_user: Instant,
    /// Requests that need the server (reads and writes) taken in so far:
    /// one of them ends a release.
    acts: u64,
    /// The session was let go while idle; no new one until the user acts.
    released: bool,
}

/// What a user's read in flight asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadKind {
    Retrieve,
    Peek(u32),
}

/// What a command the session submits while it serves (see
/// [`Worker::refill`] and [`Worker::mark`]) is for. It travels with the
/// command through the client's pipeline and comes back with the answer
/// ([`crate::pop3::Client::submit_tagged`]), so an answer is never matched
/// to its purpose by order or by the kind of command.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    /// `TOP n 0`: the list's preview of message `n`.
    Preview(u32),
    /// The user's read of message `msg` (RETR, or TOP n k), answered to
    /// its ticket.
    Read {
        ticket: Ticket,
        key: MsgKey,
        kind: ReadKind,
        msg: u32,
    },
    /// `DELE n`: the user's mark, applied in this session.
    Mark(u32),
}

/// Per-session state.
struct Session {
    client: Client<Stream, Purpose>,
    listing: Listing,
    has_top: bool,
    /// Per message (index = position in the listing): preview requested.
    requested: Vec<bool>,
    /// Which preview to ask for next: nearest to the view.
    order: FillOrder,
    /// `TOP n 0` previews sent and not yet answered (at most
    /// [`Session::preview_depth`] plus a screenful).
    previews_in_flight: usize,
    /// When the first preview went out, and the time its answer took (a
    /// round trip, measured on this link).
    fill_started: Option<Instant>,
    round_trip: Option<Duration>,
    /// When the previews answered within the last round trip came.
    recent_answers: VecDeque<Instant>,
    needed: usize,
    done: usize,
    bytes: u64,
    batch: Vec<(MsgKey, HeaderSummary)>,
    last_flush: Instant,
    last_activity: Instant,
    /// When this session logged in (the maildrop as it was then).
    opened: Instant,
    /// The user's reads (RETR, TOP n k) this session answered.
    user_answers: u32,
    /// `Worker::writes_settled` when the session opened.
    writes_at_open: u64,
}

impl Session {
    /// Count an answer the server gave in this session (see [`Session::worked`]).
    fn note_answer(&mut self, purpose: Option<&Purpose>) {
        if matches!(purpose, Some(Purpose::Read { .. })) {
            self.user_answers += 1;
        }
    }

    /// Whether this session worked, which restarts the reconnect backoff.
    ///
    /// The rule: the session got through login and the listing (every
    /// `Session` did) and then did something the user asked for: it answered
    /// one of the user's reads, or applied one of the user's mark writes; or
    /// it simply stayed up for [`STABLE_SESSION`]. What every session does
    /// on its own (previews, the marks re-applied after login, NOOPs) does
    /// not count, and a read cut off by the drop is not an answer. So each
    /// restart of the backoff costs either a fresh action of the user or
    /// half a minute of a live session: a server that drops every session
    /// right after login, or at the one message that breaks it (re-asked by
    /// itself after the reconnect), still sees the doubling delays and the
    /// attempt limit, while a user whose working session was cut by a
    /// network blip is back after the first, shortest delay.
    fn worked(&self, writes_settled: u64) -> bool {
        self.user_answers > 0
            || writes_settled > self.writes_at_open
            || self.opened.elapsed() >= STABLE_SESSION
    }

    /// How many previews the fill keeps in flight now: twice what the
    /// server answered in the last round trip (the link's pace), at least
    /// [`PREVIEW_DEPTH_MIN`]; the client's window caps it too.
    fn preview_depth(&self) -> usize {
        (self.recent_answers.len() * PREVIEW_DEPTH_ROUND_TRIPS).max(PREVIEW_DEPTH_MIN)
    }

    /// A preview was answered: keep the pace of the last round trip.
    fn note_preview_answer(&mut self) {
        let now = Instant::now();
        let rtt = *self.round_trip.get_or_insert_with(|| {
            self.fill_started
                .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
        });
        self.recent_answers.push_back(now);
        while self
            .recent_answers
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > rtt)
        {
            self.recent_answers.pop_front();
        }
    }

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
            cache: HeaderCache::default(),
            cache_blocks: None,
            cache_index: None,
            password_coming: None,
            cache_dirty: false,
            marks: Marks::default(),
            gone_marks: Vec::new(),
            restored: false,
            ops: VecDeque::new(),
            retrieve: None,
            peek: None,
            visible: Vec::new(),
            refocus: false,
            password,
            password_refetched: false,
            sessions: 0,
            login_delay: None,
            last_login: None,
            last_lost: false,
            last_cache_save: None,
            writes_settled: 0,
            deferred_marks: None,
            quit_unconfirmed: false,
            maildrop_locked_per_session: false,
            last_listing: None,
            previews_shown: HashMap::new(),
            ui_listing: None,
            stale_ui: false,
            read_only: None,
            load_warnings: Vec::new(),
            keep_marks_at_quit: false,
            reads: None,
            bodies: None,
            last_user: Instant::now(),
            acts: 0,
            released: false,
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
        if let Some(d) = &mut self.deferred_marks {
            d.send = true;
            return;
        }
        let marked = self.marks.keys();
        let restored = std::mem::take(&mut self.restored);
        self.send(Event::Marks {
            marked,
            restored,
            settled: self.writes_settled,
        });
    }

    fn persist_marks(&mut self) {
        if let Some(d) = &mut self.deferred_marks {
            d.persist = true;
            return;
        }
        if let Err(e) = self.persist.save_marks(&self.marks.saved()) {
            let e = Error::local(format!(
                "could not save the deletion marks to disk: {e}; they are kept in memory"
            ));
            self.error(&e, false);
        }
    }

    /// Hold the marks file and the `Marks` event until [`Self::flush_marks`].
    fn defer_marks(&mut self) {
        self.deferred_marks
            .get_or_insert_with(DeferredMarks::default);
    }

    /// Write and send what a run of marks deferred. Called before anything
    /// that is not a mark is done, so the file on disk always holds every
    /// mark before a commit or an undo is sent.
    fn flush_marks(&mut self) {
        if let Some(d) = self.deferred_marks.take() {
            if d.persist {
                self.persist_marks();
            }
            if d.send {
                self.send_marks();
            }
        }
    }

    fn save_cache(&mut self) {
        if self.cache_dirty {
            self.cache_dirty = false;
            self.last_cache_save = Some(Instant::now());
            // Only what changed: the entries added or replaced, the UIDs gone.
            let (put, gone) = self.cache.take_changes();
            let saved = self
                .persist
                .forget_headers(&gone)
                .and_then(|()| self.persist.put_headers(&put));
            if let Err(e) = saved {
                self.notice(format!("could not save the header cache: {e}"));
            }
        }
    }

    /// Wait for the parts of the header cache being read on other threads
    /// (the index, the header blocks), and merge them, when a listing
    /// arrives; what reading them set aside is said with the other load
    /// warnings.
    pub(super) fn await_header_cache(&mut self) {
        self.await_header_index();
        if let Some(blocks) = self.cache_blocks.take() {
            match blocks.join() {
                Ok(blocks) => self.cache.merge_blocks(blocks),
                Err(_) => debug!("reading the header blocks failed; they are fetched again"),
            }
            self.load_warnings.extend(self.persist.take_warnings());
        }
    }

    /// Wait for the header index being read on another thread, if it is.
    pub(super) fn await_header_index(&mut self) {
        if let Some(index) = self.cache_index.take() {
            match index.join() {
                Ok(map) => self.cache = HeaderCache::loaded(map),
                Err(_) => debug!("reading the header index failed; the previews are fetched"),
            }
            self.load_warnings.extend(self.persist.take_warnings());
        }
    }

    /// The whole life of the worker thread.
    pub fn run(mut self) {
        // An access token that asks no one is fetched beside the first
        // screen and the connection (see `WorkerConfig::password_first`).
        self.password_coming = self
            .cfg
            .password_first
            .clone()
            .and_then(|fetch| on_a_thread("popview-token", Box::new(move || (fetch.0)())));
        debug!("worker thread up: reading the header cache");
        self.start_from_cache();
        self.read_only = self.persist.read_only().map(|r| sanitize::line(&r));
        if let Some(why) = &self.read_only {
            info!(reason = %self.logged(why), "read-only mode: marks, undo and commit are off");
        }
        let restored = self.persist.load_marks();
        let warnings = self.persist.take_warnings();
        self.load_warnings.extend(warnings);
        debug!(
            cached_headers = self.cache.len(),
            restored_marks = restored.len(),
            "worker started"
        );
        if !restored.is_empty() {
            self.marks = Marks::restored(restored);
            // Shown at once (offline), and flagged again with the first
            // listing, where the keys get their message numbers.
            self.restored = true;
            self.send_marks();
            self.restored = true;
        }
        // Connection attempts in the current outage (1 = the first try).
        let mut attempt = 0u32;
        // A session `r` opened before it ended the previous one.
        let mut next: Option<Session> = None;
        let committed = loop {
            let (exit, worked) = if let Some(s) = next.take() {
                self.serve(s)
            } else {
                if self.ui_gone {
                    break false;
                }
                if self.released {
                    self.wait_while_released();
                    self.released = false;
                    // Told as a reconnect: the marks are applied again.
                    self.last_lost = true;
                    if self.ui_gone {
                        continue;
                    }
                }
                if let Some(done) = self.settle_offline_ops() {
                    break done;
                }
                self.honour_login_delay(attempt + 1);
                // A quit during the countdown is settled at the top of the
                // loop (a commit with marks still needs the connection).
                if self.ui_gone || (self.quit_queued() && self.marks.is_empty()) {
                    continue;
                }
                attempt += 1;
                info!(attempt, server = %self.cfg.connect.server(), "connecting");
                self.send(Event::Connecting {
                    server: self.cfg.connect.server(),
                    attempt,
                });
                match self.connect_then_ask() {
                    Ok(Some(conn)) => match self.log_in(conn) {
                        Ok(session) => self.serve(session),
                        Err(e) => (Exit::Lost(e), false),
                    },
                    Ok(None) => {
                        // Quit while the password was asked: never log in
                        // without one.
                        self.leave_offline();
                        break false;
                    }
                    Err(e) => (Exit::Lost(e), false),
                }
            };
            if worked && attempt > 1 {
                debug!(attempts = attempt, "backoff reset: the session worked");
            }
            if worked {
                attempt = 0;
            }
            match exit {
                Exit::Done(committed) => {
                    info!(committed, "worker done");
                    break committed;
                }
                Exit::Renew => {
                    debug!("renewing the session (new mail or commit)");
                    attempt = 0;
                }
                Exit::Released => {
                    attempt = 0;
                    self.released = true;
                }
                Exit::Swap(s) => {
                    debug!("swapping to the session opened by the check for new mail");
                    attempt = 0;
                    next = Some(*s);
                }
                Exit::Lost(e) => {
                    info!(
                        kind = ?e.kind,
                        error = %self.logged(&e.message),
                        worked,
                        "session lost or connection failed"
                    );
                    self.last_lost = true;
                    if !self.after_failure(&e, &mut attempt) {
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
        if req != Request::ListingSeen {
            self.last_user = Instant::now();
        }
        if !matches!(
            req,
            Request::Visible(_) | Request::ListingSeen | Request::Password(_)
        ) {
            self.acts += 1;
        }
        let Some(req) = self.unless_read_only(req) else {
            return;
        };
        match req {
            Request::Visible(keys) => {
                self.visible = keys;
                self.refocus = true;
            }
            Request::ListingSeen => *self.ui_listing.get_or_insert(0) += 1,
            Request::Retrieve { ticket, key } => self.retrieve_request(ticket, key),
            Request::CancelRetrieve { ticket } => {
                if self.retrieve.as_ref().is_some_and(|(t, _)| *t == ticket) {
                    self.retrieve = None;
                }
            }
            Request::Peek { ticket, key, lines } => self.peek = Some((ticket, key, lines)),
            Request::Password(p) => self.password = Some(p.0),
            Request::Mark(key) => self.ops.push_back(Op::Mark {
                key,
                shown: self.ui_listing,
            }),
            Request::Unmark(k) => self.ops.push_back(Op::Undo(Undo::One(k))),
            Request::UnmarkAll => self.ops.push_back(Op::Undo(Undo::All)),
            Request::CheckNewMail => self.ops.push_back(Op::Session(SessionOp::CheckNewMail)),
            Request::CommitNow => self.ops.push_back(Op::Session(SessionOp::CommitNow)),
            Request::Quit { commit } => self.ops.push_back(Op::Session(SessionOp::Quit { commit })),
            Request::QuitKeepMarks => {
                self.keep_marks_at_quit = true;
                self.ops
                    .push_back(Op::Session(SessionOp::Quit { commit: false }));
            }
            Request::Save(job) => self.ops.push_back(Op::Save(Box::new(job))),
            Request::StopSave => self.stop_queued_saves(),
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
        self.wait_for(dur, false);
    }

    /// Like [`Worker::wait`], but the user's `r` (a queued check for new
    /// mail) ends the wait too: retry now.
    fn wait_or_retry(&mut self, dur: Duration) {
        self.wait_for(dur, true);
    }

    fn wait_for(&mut self, dur: Duration, or_retry: bool) {
        let end = Instant::now() + dur.min(MAX_USER_WAIT);
        loop {
            let now = Instant::now();
            if now >= end || self.ui_gone || self.quit_queued() || (or_retry && self.retry_asked())
            {
                return;
            }
            match self.requests.recv_timeout(end - now) {
                Ok(r) => {
                    self.absorb(r);
                    // Only ever called without a session.
                    self.settle_offline_writes();
                }
                Err(RecvTimeoutError::Timeout) => return,
                Err(RecvTimeoutError::Disconnected) => self.ui_gone = true,
            }
        }
    }

    /// Released (see [`Exit::Released`]): wait, with marks made meanwhile
    /// settled offline (on disk, applied at the next session after the
    /// usual checks), until the user asks for something that needs the
    /// server, or quits.
    fn wait_while_released(&mut self) {
        let acts = self.acts;
        let end = Instant::now() + MAX_USER_WAIT;
        while self.acts == acts && !self.ui_gone && !self.quit_queued() {
            let now = Instant::now();
            if now >= end {
                break;
            }
            match self.requests.recv_timeout(end - now) {
                Ok(r) => {
                    self.absorb(r);
                    self.settle_offline_writes();
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => self.ui_gone = true,
            }
        }
        info!("the user acted while released: connecting again");
    }

    /// The user pressed `r` (a check for new mail is queued): without a
    /// session, that means "try again now".
    fn retry_asked(&self) -> bool {
        self.ops.contains(&Op::Session(SessionOp::CheckNewMail))
    }

    /// Take back the `r`s queued while offline; true if there were any.
    fn take_retry(&mut self) -> bool {
        let before = self.ops.len();
        self.ops
            .retain(|o| *o != Op::Session(SessionOp::CheckNewMail));
        self.ops.len() != before
    }

    fn quit_queued(&self) -> bool {
        self.ops
            .iter()
            .any(|o| matches!(o, Op::Session(SessionOp::Quit { .. })))
    }

    /// While there is no session: marks change only the intent (there is
    /// nothing on the server to undo). Returns `Some(committed)` when the
    /// user quit and there's nothing left to do online.
    fn settle_offline_ops(&mut self) -> Option<bool> {
        self.drain_requests();
        loop {
            if self.save_waits_offline() {
                return None;
            }
            let &Op::Session(op) = self.ops.front()? else {
                self.settle_offline_writes();
                continue;
            };
            match op {
                SessionOp::CheckNewMail => {
                    self.ops.pop_front();
                }
                // Needs the server: handled once connected.
                SessionOp::CommitNow => return None,
                SessionOp::Quit { commit: true } if !self.marks.is_empty() => return None,
                SessionOp::Quit { commit } => {
                    if !commit && !self.keep_marks_at_quit {
                        self.marks.clear_intent();
                        self.persist_marks();
                    }
                    self.ops.pop_front();
                    return Some(false);
                }
            }
        }
    }

    /// Without a session, the mark writes at the front of the queue change
    /// only the intent: settle them now (on disk, and told to the UI, so a
    /// mark made while the server is away doesn't look pending for the
    /// whole backoff). Stops at the first other op, which keeps its turn.
    fn settle_offline_writes(&mut self) {
        let mut settled = false;
        while let Some(op) = self.ops.pop_front() {
            match op {
                Op::Mark { key, shown } => self.mark_offline(key, shown),
                Op::Undo(Undo::One(k)) => {
                    self.gone_marks.retain(|u| k.uid.as_ref() != Some(u));
                    self.marks.remove(&k);
                }
                Op::Undo(Undo::All) => {
                    self.gone_marks.clear();
                    self.marks.clear_intent();
                }
                Op::Session(_) | Op::Save(_) => {
                    // Keeps its turn.
                    self.ops.push_front(op);
                    break;
                }
            }
            self.writes_settled += 1;
            settled = true;
        }
        if settled {
            self.persist_marks();
            self.send_marks();
        }
    }

    /// Ask the UI for the password and wait for it (or a quit). Esc at the
    /// prompt sends nothing, so the worker keeps waiting: `r` (a check for
    /// new mail) asks again. True when a password was given.
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
        self.send(Event::PasswordNeeded {
            reason: reason.clone(),
        });
        let end = Instant::now() + MAX_USER_WAIT;
        while self.password.is_none() && Instant::now() < end {
            self.wait_or_retry(Duration::from_secs(1));
            if self.ui_gone || self.quit_queued() {
                break;
            }
            if self.password.is_none() && self.take_retry() {
                self.send(Event::PasswordNeeded {
                    reason: reason.clone(),
                });
            }
        }
        self.password.is_some()
    }

    /// An OAuth account whose token can be fetched again (a token command
    /// or variable, or the built-in exchange; not a typed token).
    fn token_refetchable(&self) -> bool {
        (self.cfg.auth.is_oauth() || self.cfg.password_first.is_some())
            && self.cfg.refetch_password.is_some()
    }

    /// After a rejected OAuth access token, run the token command once
    /// more, silently (a token expires; the command may refresh it). True
    /// when a new token is there to try.
    fn refetch_token(&mut self) -> bool {
        if !self.token_refetchable() || self.password_refetched {
            return false;
        }
        let Some(refetch) = self.cfg.refetch_password.clone() else {
            return false;
        };
        self.password_refetched = true;
        match (refetch.0)() {
            Ok(token) => {
                info!("access token refused or not had: fetched a new one");
                self.password = Some(token);
                true
            }
            Err(why) => {
                info!(
                    why = %sanitize::line(&why),
                    "access token rejected: the token command failed"
                );
                false
            }
        }
    }

    /// Decide what to do after a failed connection or a lost session;
    /// `attempt` counts the tries of this outage (a fresh start of the
    /// count after `r`). Returns false when the worker should stop.
    fn after_failure(&mut self, e: &Error, attempt: &mut u32) -> bool {
        let tries = (*attempt).max(1);
        match e.kind {
            ErrorKind::Auth if self.refetch_token() => {
                // A fresh token from the token command: try it at once, as
                // a new attempt.
                *attempt = 0;
                true
            }
            // A token fetched again and rejected again: asking for a
            // "password" would not help. Said once, as final; `r` runs the
            // token command again (below).
            ErrorKind::Auth if !self.token_refetchable() => {
                // No delay of our own: the server already made its (Dovecot
                // waits 2 s before it says no), and the prompt comes back at
                // once. The connection after the new password is checked
                // again before any credential goes out.
                self.password = None;
                info!("login refused: asking for the password again");
                self.error(e, false);
                self.ask_password(&sanitize::line(&e.message));
                if self.password.is_none() {
                    self.leave_offline();
                    return false;
                }
                // Typed by the user: not an attempt of an outage.
                *attempt = 0;
                true
            }
            ErrorKind::InUse
            | ErrorKind::TempFailure
            | ErrorKind::Network
            | ErrorKind::Timeout
            | ErrorKind::LoginDelay
                if tries < self.cfg.max_attempts =>
            {
                let delay = if e.kind == ErrorKind::LoginDelay {
                    Duration::from_secs(self.login_delay.unwrap_or(60).clamp(1, MAX_LOGIN_DELAY))
                } else {
                    let factor = 1u32 << tries.saturating_sub(1).min(16);
                    (self.cfg.backoff * factor).min(self.cfg.max_backoff)
                };
                info!(
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    attempt = tries,
                    max_attempts = self.cfg.max_attempts,
                    kind = ?e.kind,
                    "backoff before reconnecting"
                );
                // Sent once per wait, with the whole wait in whole seconds
                // (rounded up, so a countdown that starts at this event
                // never shows 0 while the worker still waits); the next
                // event is `Connecting` when the wait is over or cut short.
                self.send(Event::Reconnecting {
                    attempt: tries,
                    delay_secs: whole_secs(delay),
                    reason: sanitize::line(&e.message),
                });
                if e.kind == ErrorKind::LoginDelay {
                    // The server said when: `r` can't make it sooner.
                    self.wait(delay);
                } else {
                    self.wait_or_retry(delay);
                }
                true
            }
            _ => {
                // PermFailure, TLS, protocol violations, local refusals, or
                // too many attempts: explain and wait for the user to quit.
                info!(
                    attempt = tries,
                    kind = ?e.kind,
                    "giving up: no more reconnects until the user asks (r)"
                );
                self.error(e, true);
                if self.cfg.max_attempts <= 1 || self.ui_gone {
                    return false;
                }
                // Out of attempts at a passing failure (the network was
                // gone for a while): `r` starts a fresh round.
                let passing = matches!(
                    e.kind,
                    ErrorKind::InUse
                        | ErrorKind::TempFailure
                        | ErrorKind::Network
                        | ErrorKind::Timeout
                        | ErrorKind::LoginDelay
                );
                let end = Instant::now() + MAX_USER_WAIT;
                // Marks made meanwhile still count (on disk); a quit ends it.
                while !self.quit_queued() && !self.ui_gone && Instant::now() < end {
                    // Before the offline settling, which would drop an `r`.
                    self.drain_requests();
                    if passing && self.retry_asked() {
                        debug!("backoff reset: the user asked to retry");
                        *attempt = 0;
                        return true;
                    }
                    if e.kind == ErrorKind::Auth && self.take_retry() {
                        self.password_refetched = false;
                        if self.refetch_token() {
                            *attempt = 0;
                            return true;
                        }
                    }
                    if self.settle_offline_ops().is_some() {
                        return false;
                    }
                    self.wait_for(Duration::from_secs(1), passing);
                }
                self.leave_offline();
                false
            }
        }
    }

    /// The worker stops without a session: apply what the user asked
    /// offline (marks, a discard), and say that nothing was deleted.
    fn leave_offline(&mut self) {
        let _ = self.settle_offline_ops();
        if !self.marks.is_empty() {
            let e = Error::new(
                ErrorKind::Network,
                if self.quit_unconfirmed {
                    "not connected again after a QUIT whose answer was lost: the server may \
                     have deleted the marked messages or not; the marks are kept, and the next \
                     start shows which are gone"
                } else {
                    "not connected, so nothing was deleted; the marks are kept for next time"
                },
            );
            self.error(&e, false);
        }
    }

    /// A server that announced LOGIN-DELAY gets no login sooner than that
    /// after the previous one: count down instead of hammering it.
    fn honour_login_delay(&mut self, attempt: u32) {
        let (Some(delay), Some(last)) = (self.login_delay, self.last_login) else {
            return;
        };
        let wait = Duration::from_secs(delay.min(MAX_LOGIN_DELAY)).saturating_sub(last.elapsed());
        if wait.is_zero() {
            return;
        }
        info!(
            login_delay_secs = delay,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "LOGIN-DELAY: waiting before the next login"
        );
        self.send(Event::Reconnecting {
            attempt,
            delay_secs: whole_secs(wait),
            reason: format!("the server allows one login every {delay} seconds"),
        });
        self.wait(wait);
    }
}

/// A wait in whole seconds for the UI's countdown, rounded up.
fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `work` on a thread of its own, named `name` (`None`: it could not
/// start).
pub(super) fn on_a_thread<T: Send + 'static>(
    name: &str,
    work: Box<dyn FnOnce() -> T + Send>,
) -> Option<std::thread::JoinHandle<T>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .ok()
}
