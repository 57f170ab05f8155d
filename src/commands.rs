//! The scripting commands (`list`, `show`, `delete`, `serverinfo`): the same
//! worker and pipelined preview path as the TUI, driven synchronously.
//!
//! A command tries to reach the server a bounded number of times within
//! [`GIVE_UP_AFTER`] ([`Engine::open`]); once it has the listing, a failure
//! ends it. Names of messages are resolved in [`naming`]; `delete` and how
//! it reports what the server confirmed live in [`delete`]; `list --match`
//! and `delete --match` (mutt's patterns) in `matching`.
//! it reports what the server confirmed live in [`delete`]; `save` (keep
//! messages in a Maildir or an mbox, and move them) in `save`.

pub mod authorize;
mod delete;
mod matching;
pub mod naming;
mod save;

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::app::format::rfc3339;
use crate::cli::exit;
use crate::mail::HeaderSummary;
use crate::pop3::transport;
use crate::pop3::{ConnectOptions, ErrorKind};
use crate::sanitize;
use crate::store::{CachedHeader, SavedMark};
use crate::worker::api::{CertTrust, ConnectionInfo, Event, ListEntry, MsgKey, Request, TlsState};
use crate::worker::{self, Persist, WorkerConfig};

pub use authorize::authorize;
pub use delete::delete;
pub use matching::{delete_matching, list_matching, parse_pattern};
use naming::Resolved;
pub use save::{SaveOptions, save};

/// A scripting command stops trying to reach the server after about this
/// long: no new attempt starts later than this after the first.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(60);
/// Most connection attempts of a scripting command.
pub const MAX_ATTEMPTS: u32 = 3;
/// Most times a scripting command asks for a password on the terminal
/// (the first ask, then after each one the server refused).
const MAX_PROMPTS: u32 = 3;
/// The pause before the second attempt; doubled before each next one.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// The scripting commands' one retry rule: run `attempt` until it works,
/// fails in a way another try can't mend, or `max_attempts` or
/// `give_up_after` is reached; the pause doubles from [`FIRST_BACKOFF`],
/// and `say` reports each retry.
fn with_retries<T>(
    max_attempts: u32,
    give_up_after: Duration,
    say: &mut impl FnMut(&str),
    mut attempt_once: impl FnMut() -> Result<T>,
) -> Result<T> {
    let first = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let err = match attempt_once() {
            Ok(t) => return Ok(t),
            Err(e) => e,
        };
        let next_start = first.elapsed() + backoff;
        if !err.retryable() || attempt >= max_attempts || next_start > give_up_after {
            if attempt > 1 {
                return Err(CmdError {
                    message: format!(
                        "{} (gave up after {attempt} attempts in {} s)",
                        err.message,
                        first.elapsed().as_secs()
                    ),
                    ..err
                });
            }
            return Err(err);
        }
        tracing::info!(
            kind = ?err.kind,
            delay_secs = backoff.as_secs(),
            attempt = attempt + 1,
            max_attempts,
            "command: session not opened; backoff before a new attempt"
        );
        say(&format!(
            "{}; trying again in {} s (attempt {} of {max_attempts})",
            err.message,
            backoff.as_secs(),
            attempt + 1
        ));
        std::thread::sleep(backoff);
        backoff *= 2;
        attempt += 1;
    }
}

/// A failure with the exit code it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError {
    pub code: i32,
    pub message: String,
    /// The protocol error's kind, when it came from the session.
    pub kind: Option<ErrorKind>,
}

impl CmdError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CmdError {
            code,
            message: message.into(),
            kind: None,
        }
    }

    pub fn from_kind(kind: ErrorKind, message: &str) -> Self {
        let code = match kind {
            ErrorKind::Auth => exit::AUTH,
            ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Tls => exit::NETWORK,
            ErrorKind::Local => exit::USAGE,
            ErrorKind::InUse
            | ErrorKind::LoginDelay
            | ErrorKind::TempFailure
            | ErrorKind::PermFailure
            | ErrorKind::Protocol
            | ErrorKind::Refused => exit::SERVER,
        };
        CmdError {
            kind: Some(kind),
            ..CmdError::new(code, message)
        }
    }

    /// Worth another connection attempt: the network failed on the way
    /// (refused, reset), the mailbox is busy, or the server has a passing
    /// problem. A timeout is not retried: the attempt already waited the
    /// whole configured timeout.
    fn retryable(&self) -> bool {
        matches!(
            self.kind,
            Some(ErrorKind::Network | ErrorKind::InUse | ErrorKind::TempFailure)
        )
    }
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

type Result<T> = std::result::Result<T, CmdError>;

/// What a commit reported: how many were deleted, and the UIDs that someone
/// else had deleted already.
pub type Committed = (usize, Vec<String>);

/// One `Persist` shared by the workers of successive attempts.
#[derive(Clone)]
struct SharedPersist(Arc<Mutex<Box<dyn Persist>>>);

impl SharedPersist {
    fn with<T>(&self, f: impl FnOnce(&mut dyn Persist) -> T) -> T {
        let mut p = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(p.as_mut())
    }
}

impl Persist for SharedPersist {
    fn load_headers(&mut self) -> HashMap<String, CachedHeader> {
        self.with(|p| p.load_headers())
    }
    fn load_header_index(&mut self) -> HashMap<String, CachedHeader> {
        self.with(|p| p.load_header_index())
    }
    fn header_blocks_loader(&mut self) -> Option<crate::worker::persist::BlocksLoader> {
        self.with(|p| p.header_blocks_loader())
    }
    fn header_index_loader(&mut self) -> Option<crate::worker::persist::IndexLoader> {
        self.with(|p| p.header_index_loader())
    }
    fn put_headers(&mut self, h: &[(String, CachedHeader)]) -> std::io::Result<()> {
        self.with(|p| p.put_headers(h))
    }
    fn forget_headers(&mut self, uids: &[String]) -> std::io::Result<()> {
        self.with(|p| p.forget_headers(uids))
    }
    fn save_listing(&mut self, l: &[crate::store::ListedMessage]) -> std::io::Result<()> {
        self.with(|p| p.save_listing(l))
    }
    fn load_listing(&mut self) -> Vec<crate::store::ListedMessage> {
        self.with(|p| p.load_listing())
    }
    fn load_marks(&mut self) -> Vec<SavedMark> {
        self.with(|p| p.load_marks())
    }
    fn save_marks(&mut self, marks: &[SavedMark]) -> std::io::Result<()> {
        self.with(|p| p.save_marks(marks))
    }
    fn take_warnings(&mut self) -> Vec<String> {
        self.with(|p| p.take_warnings())
    }
    fn read_only(&self) -> Option<String> {
        self.with(|p| p.read_only())
    }
    fn body_cache(&mut self) -> Option<crate::bodycache::BodyCache> {
        self.with(|p| p.body_cache())
    }
}

/// The worker, driven synchronously.
pub struct Engine {
    tx: Sender<Request>,
    rx: Receiver<Event>,
    handle: Option<JoinHandle<()>>,
    timeout: Duration,
    pub info: Option<ConnectionInfo>,
    pub listing: Vec<ListEntry>,
    pub previews: HashMap<MsgKey, HeaderSummary>,
    /// Times a missing password may still be asked for on the terminal
    /// (only when none was given and stdin is a terminal).
    prompts_left: u32,
    /// The password typed at the prompt, for the next attempt.
    typed: Option<crate::password::Password>,
}

impl Engine {
    /// One worker, one connection attempt: the worker does not retry; a
    /// command retries through [`Engine::open`].
    pub fn start(mut cfg: WorkerConfig, persist: Box<dyn Persist>) -> Engine {
        cfg.max_attempts = 1;
        // The worker asks once it has reached the server and checked its
        // certificate: a bad certificate is told before a password is typed.
        let prompts_left = if cfg.password.is_none() && std::io::stdin().is_terminal() {
            MAX_PROMPTS
        } else {
            0
        };
        // No event for this long means the worker is stuck: each of its
        // network waits is bounded by the socket timeouts (connect, the
        // greeting with its TLS probe, then one read at a time).
        let timeout = cfg.connect.connect_timeout * 2 + cfg.connect.io_timeout * 2;
        let (tx, req_rx) = mpsc::channel();
        let (ev_tx, rx) = mpsc::channel();
        let handle = worker::spawn(cfg, persist, req_rx, move |e| ev_tx.send(e).is_ok());
        Engine {
            tx,
            rx,
            handle: Some(handle),
            timeout,
            info: None,
            listing: Vec::new(),
            previews: Default::default(),
            prompts_left,
            typed: None,
        }
    }

    /// Start a session and wait for its listing, trying again after a
    /// passing failure (`CmdError::retryable`): at most
    /// [`MAX_ATTEMPTS`], none started later than [`GIVE_UP_AFTER`] after
    /// the first, with a doubling pause between them.
    pub fn open(cfg: WorkerConfig, persist: Box<dyn Persist>) -> Result<Engine> {
        Engine::open_with(cfg, persist, MAX_ATTEMPTS, GIVE_UP_AFTER, |msg| {
            eprintln!("popview: {msg}")
        })
    }

    /// [`Engine::open`] with its limits given; `say` reports each retry.
    fn open_with(
        mut cfg: WorkerConfig,
        persist: Box<dyn Persist>,
        max_attempts: u32,
        give_up_after: Duration,
        mut say: impl FnMut(&str),
    ) -> Result<Engine> {
        let shared = SharedPersist(Arc::new(Mutex::new(persist)));
        let attempt_once = || {
            let mut engine = Engine::start(cfg.clone(), Box::new(shared.clone()));
            let err = match engine.wait_listing() {
                Ok(()) => return Ok(engine),
                Err(e) => e,
            };
            // A password typed at this attempt's prompt serves the next one.
            if let Some(p) = engine.typed.take() {
                cfg.password = Some(p);
            }
            // The worker has ended (a fatal error ends it) or is stuck:
            // dropping the engine closes its channels either way.
            engine.abandon();
            Err(err)
        };
        with_retries(max_attempts, give_up_after, &mut say, attempt_once)
    }

    fn send(&self, r: Request) -> Result<()> {
        self.tx
            .send(r)
            .map_err(|_| CmdError::new(exit::INTERNAL, "the worker stopped unexpectedly"))
    }

    /// Handle events until `want` returns a value. Errors end the wait, and
    /// so does a worker that is silent for longer than its own timeouts.
    fn until<T>(&mut self, mut want: impl FnMut(&mut Engine, &Event) -> Option<T>) -> Result<T> {
        loop {
            let ev = match self.rx.recv_timeout(self.timeout) {
                Ok(ev) => ev,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(CmdError {
                        kind: Some(ErrorKind::Timeout),
                        ..CmdError::new(
                            exit::NETWORK,
                            format!(
                                "gave up: no progress from the server in {} s",
                                self.timeout.as_secs()
                            ),
                        )
                    });
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(CmdError::new(
                        exit::INTERNAL,
                        "the worker stopped unexpectedly",
                    ));
                }
            };
            // The listing and the previews are taken, not copied: a wait
            // looks at the listing's arrival only, and at no preview.
            let ev = match ev {
                Event::Listing {
                    entries,
                    no_uidl_reason,
                } => {
                    self.listing = entries;
                    Event::Listing {
                        entries: Vec::new(),
                        no_uidl_reason,
                    }
                }
                Event::Previews(batch) => {
                    self.previews.extend(batch);
                    continue;
                }
                ev => ev,
            };
            match &ev {
                Event::Connected(info) => self.info = Some((**info).clone()),
                Event::Error(e) if e.fatal => {
                    return Err(CmdError::from_kind(e.kind, &e.message));
                }
                Event::Error(e) => eprintln!("popview: {}", e.message),
                Event::Notice(n) => eprintln!("popview: {n}"),
                Event::PasswordNeeded { reason } if self.prompts_left > 0 => {
                    self.prompts_left -= 1;
                    let typed =
                        crate::password::prompt_password(&format!("{reason}: ")).map_err(|e| {
                            CmdError::new(exit::AUTH, format!("can't read the password: {e}"))
                        })?;
                    self.typed = Some(typed.clone());
                    let _ = self
                        .tx
                        .send(Request::Password(crate::worker::api::Secret(typed)));
                }
                Event::PasswordNeeded { reason } => {
                    let _ = self.tx.send(Request::Quit { commit: false });
                    return Err(CmdError {
                        kind: Some(ErrorKind::Auth),
                        ..CmdError::new(
                            exit::AUTH,
                            format!(
                                "{reason}. Give the password with --password-command or \
                                 POPVIEW_PASSWORD"
                            ),
                        )
                    });
                }
                Event::Reconnecting {
                    reason, delay_secs, ..
                } => {
                    eprintln!("popview: {reason}; retrying in {delay_secs} s");
                }
                Event::Closed { .. } => {
                    if let Some(v) = want(self, &ev) {
                        return Ok(v);
                    }
                    return Err(CmdError::new(
                        exit::INTERNAL,
                        "the session ended before the command finished",
                    ));
                }
                _ => {}
            }
            if let Some(v) = want(self, &ev) {
                return Ok(v);
            }
        }
    }

    pub fn wait_listing(&mut self) -> Result<()> {
        self.until(|_, e| matches!(e, Event::Listing { .. }).then_some(()))
    }

    pub fn wait_previews(&mut self) -> Result<()> {
        self.until(|_, e| {
            matches!(e, Event::Progress { done, total, .. } if done >= total).then_some(())
        })
    }

    /// End the session; `commit` deletes the marked messages. Returns
    /// whether the server confirmed a commit and what it reported.
    pub fn finish(self, commit: bool) -> Result<(bool, Option<Committed>)> {
        self.send(Request::Quit { commit })?;
        self.finished()
    }

    /// [`Engine::finish`] once `Request::Quit` is sent: wait for the end.
    pub fn finished(mut self) -> Result<(bool, Option<Committed>)> {
        let mut committed_info = None;
        let closed = self.until(|_, e| match e {
            Event::Committed {
                deleted,
                already_gone,
            } => {
                committed_info = Some((*deleted, already_gone.clone()));
                None
            }
            Event::Closed { committed } => Some(*committed),
            _ => None,
        })?;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        Ok((closed, committed_info))
    }

    /// Leave without QUIT: the worker sees its channels close and drops
    /// the connection, which deletes nothing (RFC 1939 section 6). Joined
    /// only when it has already ended, so a worker stuck in a network
    /// wait can't hold the command.
    pub fn abandon(self) {
        let Engine {
            tx, rx, mut handle, ..
        } = self;
        drop(tx);
        // The worker's last act is to drop its sender: wait a little for
        // that, never longer.
        let end = Instant::now() + Duration::from_secs(2);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(_) if !left.is_zero() => {}
                _ => break,
            }
        }
        if let Some(h) = handle.take()
            && h.is_finished()
        {
            let _ = h.join();
        }
    }

    /// Resolve MSG against the listing (see [`naming`]): a name that could
    /// mean two different messages is refused (exit 2) with both shown.
    pub fn find(&self, msg: &str) -> Result<&ListEntry> {
        match naming::resolve(&self.listing, msg) {
            Resolved::One(e) => Ok(e),
            Resolved::None => Err(no_such(msg)),
            Resolved::Ambiguous(found) => Err(CmdError::new(
                exit::USAGE,
                naming::ambiguity_message(&self.listing, &self.previews, msg, &found),
            )),
        }
    }

    /// Resolve every name before anything is done; the first failure ends
    /// the command (after leaving the session without deleting).
    fn find_all(self, names: &[String]) -> Result<(Engine, Vec<ListEntry>)> {
        let mut entries: Vec<ListEntry> = Vec::new();
        for n in names {
            match self.find(n) {
                Ok(e) if !entries.contains(e) => entries.push(e.clone()),
                Ok(_) => {}
                Err(e) => {
                    let _ = self.finish(false);
                    return Err(e);
                }
            }
        }
        Ok((self, entries))
    }
}

/// One message of `list --json`.
#[derive(Debug, Serialize)]
struct ListJson<'a> {
    number: u32,
    uid: Option<&'a str>,
    size: u64,
    date: Option<String>,
    from: &'a str,
    from_name: &'a str,
    subject: &'a str,
}

pub fn list(
    cfg: WorkerConfig,
    persist: Box<dyn Persist>,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let mut engine = Engine::open(cfg, persist)?;
    engine.wait_previews()?;
    // Everything is in: the session ends while the lines are written.
    engine.send(Request::Quit { commit: false })?;
    write_list(&engine, &engine.listing, json, out)?;
    engine.finished()?;
    Ok(())
}

/// The lines of `list` (or `list --json`) for `entries`.
fn write_list(
    engine: &Engine,
    entries: &[ListEntry],
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    // One write per 64 KB, not per line (stdout is line-buffered).
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let empty = HeaderSummary::default();
    for e in entries {
        let h = engine.previews.get(&e.key).unwrap_or(&empty);
        let date = h.date.as_ref().and_then(rfc3339);
        let line = if json {
            serde_json::to_string(&ListJson {
                number: e.key.number,
                uid: e.key.uid.as_deref(),
                size: e.size,
                date,
                from: &h.from_addr,
                from_name: &h.from_name,
                subject: &h.subject,
            })
            .map_err(|err| CmdError::new(exit::INTERNAL, err.to_string()))?
        } else {
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                e.key.number,
                e.key.uid.as_deref().unwrap_or("-"),
                e.size,
                date.as_deref().unwrap_or("-"),
                h.from_addr,
                h.subject
            )
        };
        writeln!(out, "{line}").map_err(io_err)?;
    }
    out.flush().map_err(io_err)
}

pub fn show(
    cfg: WorkerConfig,
    persist: Box<dyn Persist>,
    msg: &str,
    raw: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let mut persist = persist;
    if raw {
        return show_raw(&cfg, persist.as_mut(), msg, out);
    }
    let mut engine = Engine::open(cfg, persist)?;
    let entry = match engine.find(msg) {
        Ok(e) => e.clone(),
        Err(e) => {
            let _ = engine.finish(false);
            return Err(e);
        }
    };
    engine.send(Request::Retrieve {
        ticket: 1,
        key: entry.key.clone(),
    })?;
    // What is printed, not the whole view: its raw bytes and attachment
    // contents are not copied.
    let (view, attachments) = engine.until(|_, e| match e {
        Event::Message {
            ticket: 1, view, ..
        } => {
            let listed: Vec<(String, String, u64)> = view
                .attachments
                .iter()
                .map(|a| (a.name.clone(), a.mime.clone(), a.size))
                .collect();
            let text = crate::mail::MessageView {
                from: view.from.clone(),
                to: view.to.clone(),
                cc: view.cc.clone(),
                date_text: view.date_text.clone(),
                subject: view.subject.clone(),
                body: view.body.clone(),
                ..Default::default()
            };
            Some((text, listed))
        }
        _ => None,
    })?;
    for (name, value) in [
        ("From", &view.from),
        ("To", &view.to),
        ("Cc", &view.cc),
        ("Date", &view.date_text),
        ("Subject", &view.subject),
    ] {
        if !value.is_empty() {
            writeln!(out, "{name}: {value}").map_err(io_err)?;
        }
    }
    writeln!(out).map_err(io_err)?;
    writeln!(out, "{}", view.body.trim_end()).map_err(io_err)?;
    for (name, mime, len) in &attachments {
        writeln!(out, "[attachment: {name} ({mime}, {len} bytes)]").map_err(io_err)?;
    }
    engine.finish(false)?;
    Ok(())
}

/// `show --raw`: the message written out as it arrives, a line at a time,
/// so memory does not grow with its size. A session of its own (as `save`
/// opens), which sends no DELE: a message marked in the TUI is still shown.
/// With the body cache on (`cache_bodies`), a cached message is written
/// from it with no RETR, and one fetched is kept there (held whole for
/// that, as the TUI's reads are).
fn show_raw(
    cfg: &WorkerConfig,
    persist: &mut dyn Persist,
    msg: &str,
    out: &mut dyn Write,
) -> Result<()> {
    let (mut client, listing) = save::open_session(cfg)?;
    let entry = match save::choose(&listing.entries(), &[msg.to_string()]) {
        Ok(mut chosen) if !chosen.is_empty() => chosen.swap_remove(0),
        Ok(_) => {
            let _ = client.quit();
            return Err(no_such(msg));
        }
        Err(e) => {
            let _ = client.quit();
            return Err(e);
        }
    };
    let mut bodies = entry
        .key
        .uid
        .clone()
        .and_then(|uid| Some((uid, persist.body_cache()?)));
    if let Some((uid, cache)) = &mut bodies
        && let Some(body) = cache.get(uid, entry.size)
    {
        tracing::debug!("cache hit: the message is written from the body cache, no RETR");
        let _ = client.quit();
        out.write_all(&body).map_err(io_err)?;
        return out.flush().map_err(io_err);
    }
    let mut kept: Option<Vec<u8>> = bodies.as_ref().map(|_| Vec::new());
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut failed: Option<std::io::Error> = None;
    let got = client.retrieve_into(
        entry.key.number,
        Some(entry.size),
        &mut |piece| {
            if let Some(k) = &mut kept {
                k.extend_from_slice(piece);
            }
            w.write_all(piece).inspect_err(|e| {
                failed = Some(std::io::Error::new(e.kind(), e.to_string()));
            })
        },
        &mut |_| {},
    );
    if let Some(e) = failed {
        return Err(io_err(e));
    }
    got.map_err(|e| CmdError::from_kind(e.kind, &e.message))?;
    w.flush().map_err(io_err)?;
    let _ = client.quit();
    if let (Some((uid, cache)), Some(body)) = (&mut bodies, kept)
        && let Err(e) = cache.put(uid, entry.size, &body)
    {
        tracing::debug!(error = %e, "could not keep the message in the body cache");
    }
    Ok(())
}

pub fn serverinfo(cfg: WorkerConfig, persist: Box<dyn Persist>, out: &mut dyn Write) -> Result<()> {
    let connect = cfg.connect.clone();
    let engine = match Engine::open(cfg, persist) {
        Ok(e) => e,
        Err(e) if e.kind == Some(ErrorKind::Tls) => {
            untrusted_certificate(&connect, out)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let info = engine
        .info
        .clone()
        .ok_or_else(|| CmdError::new(exit::INTERNAL, "no connection information"))?;
    let total: u64 = engine.listing.iter().map(|e| e.size).sum();
    let tls = match &info.tls {
        TlsState::None => "none (cleartext)".to_string(),
        TlsState::Implicit(d) => format!(
            "implicit TLS, {}",
            trust_text(&d.trust, &d.fingerprint_sha256)
        ),
        TlsState::StartTls(d) => format!("STLS, {}", trust_text(&d.trust, &d.fingerprint_sha256)),
    };
    let rows = [
        ("Server", info.server.clone()),
        (
            // Sent in cleartext before STLS: anyone on the path could have
            // written it.
            if matches!(info.tls, TlsState::StartTls(_)) {
                "Greeting (pre-TLS)"
            } else {
                "Greeting"
            },
            info.greeting.clone(),
        ),
        ("TLS", tls),
        ("Authentication", info.auth_method.clone()),
        (
            "Implementation",
            info.implementation
                .clone()
                .unwrap_or_else(|| "not given".into()),
        ),
        ("Capabilities", info.capabilities.join(", ")),
        ("Pipelining", yes_no(info.pipelining)),
        ("TOP", yes_no(info.has_top)),
        ("UIDL", yes_no(info.has_uidl)),
        (
            "Login delay",
            info.login_delay
                .map(|s| format!("{s} seconds"))
                .unwrap_or_else(|| "none announced".into()),
        ),
        (
            "Expire",
            match info.expire.as_deref() {
                None => "not announced".into(),
                Some("0") => "0 (the server deletes mail once it has been downloaded)".into(),
                Some(e) if e.eq_ignore_ascii_case("never") => "never".into(),
                Some(e) => format!("{e} days"),
            },
        ),
        (
            "Messages",
            format!("{} ({} bytes)", engine.listing.len(), total),
        ),
    ];
    for (k, v) in rows {
        writeln!(out, "{:<15} {}", format!("{k}:"), sanitize::line(&v)).map_err(io_err)?;
    }
    engine.finish(false)?;
    Ok(())
}

/// After a TLS failure: when the server's certificate is all that failed
/// (a handshake that skips verification works), print its SHA-256
/// fingerprint and the exact setting that pins it. Nothing is printed for
/// other TLS failures, or when a pin is already set (its error names both
/// fingerprints).
fn untrusted_certificate(connect: &ConnectOptions, out: &mut dyn Write) -> Result<()> {
    if connect.pin_sha256.is_some() || connect.accept_invalid_certs {
        return Ok(());
    }
    let Ok(fp) = transport::certificate_fingerprint(connect) else {
        return Ok(());
    };
    let pin = pin_setting(&fp);
    let rows = [
        ("Server", connect.server()),
        (
            "TLS",
            "certificate NOT trusted (see the error below)".to_string(),
        ),
        ("Certificate", format!("SHA-256 {fp}")),
    ];
    for (k, v) in rows {
        writeln!(out, "{:<15} {}", format!("{k}:"), sanitize::line(&v)).map_err(io_err)?;
    }
    writeln!(
        out,
        "To trust exactly this certificate, first check the fingerprint with the server's \
         operator (anyone on the network path could have presented it), then add this line \
         to the account's section of config.toml:\n{pin}"
    )
    .map_err(io_err)?;
    Ok(())
}

/// The config line that pins a certificate (the `cert_fingerprint` key of
/// an account), in the colon form `openssl x509 -fingerprint` prints.
pub fn pin_setting(fingerprint_hex: &str) -> String {
    let pairs: Vec<String> = fingerprint_hex
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_ascii_uppercase())
        .collect();
    format!("cert_fingerprint = \"{}\"", pairs.join(":"))
}

fn trust_text(trust: &CertTrust, fp: &str) -> String {
    let t = match trust {
        CertTrust::Verified => "certificate verified",
        CertTrust::Pinned => "certificate pinned",
        CertTrust::Unverified => "CERTIFICATE NOT VERIFIED",
    };
    format!("{t} (SHA-256 {fp})")
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn no_such(msg: &str) -> CmdError {
    CmdError::new(
        exit::SERVER,
        format!(
            "no message \"{}\" on the server (give a number or a UIDL from `popview list`)",
            sanitize::line(msg)
        ),
    )
}

fn io_err(e: std::io::Error) -> CmdError {
    CmdError::new(exit::INTERNAL, format!("can't write the output: {e}"))
}
