//! The scripting commands (`list`, `show`, `delete`, `serverinfo`): the same
//! worker and pipelined preview path as the TUI, driven synchronously.

use std::io::Write;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::app::format::rfc3339;
use crate::cli::exit;
use crate::mail::HeaderSummary;
use crate::pop3::ErrorKind;
use crate::sanitize;
use crate::worker::api::{CertTrust, ConnectionInfo, Event, ListEntry, MsgKey, Request, TlsState};
use crate::worker::{self, Persist, WorkerConfig};

/// A failure with the exit code it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError {
    pub code: i32,
    pub message: String,
}

impl CmdError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CmdError {
            code,
            message: message.into(),
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
        CmdError::new(code, message)
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

/// The worker, driven synchronously.
pub struct Engine {
    tx: Sender<Request>,
    rx: Receiver<Event>,
    handle: Option<JoinHandle<()>>,
    timeout: Duration,
    pub info: Option<ConnectionInfo>,
    pub listing: Vec<ListEntry>,
    pub previews: std::collections::HashMap<MsgKey, HeaderSummary>,
}

impl Engine {
    pub fn start(cfg: WorkerConfig, persist: Box<dyn Persist>) -> Engine {
        // Generous: every wait below is also bounded by the worker's own
        // socket timeouts and attempt limit.
        let timeout = cfg.connect.io_timeout * 3 + cfg.connect.connect_timeout;
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
        }
    }

    fn send(&self, r: Request) -> Result<()> {
        self.tx
            .send(r)
            .map_err(|_| CmdError::new(exit::INTERNAL, "the worker stopped unexpectedly"))
    }

    /// Handle events until `want` returns a value. Errors end the wait.
    fn until<T>(&mut self, mut want: impl FnMut(&mut Engine, &Event) -> Option<T>) -> Result<T> {
        let mut deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ev = match self.rx.recv_timeout(left) {
                Ok(ev) => ev,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(CmdError::new(
                        exit::NETWORK,
                        "timed out waiting for the server",
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(CmdError::new(
                        exit::INTERNAL,
                        "the worker stopped unexpectedly",
                    ));
                }
            };
            match &ev {
                Event::Connected(info) => self.info = Some((**info).clone()),
                Event::Listing { entries, .. } => self.listing = entries.clone(),
                Event::Previews(batch) => {
                    for (k, h) in batch {
                        self.previews.insert(k.clone(), h.clone());
                    }
                }
                Event::Error(e) if e.fatal => {
                    return Err(CmdError::from_kind(e.kind, &e.message));
                }
                Event::Error(e) => eprintln!("popview: {}", e.message),
                Event::Notice(n) => eprintln!("popview: {n}"),
                Event::PasswordNeeded { reason } => {
                    let _ = self.tx.send(Request::Quit { commit: false });
                    return Err(CmdError::new(
                        exit::AUTH,
                        format!(
                            "{reason}. Give the password with --password-command or POPVIEW_PASSWORD"
                        ),
                    ));
                }
                Event::Reconnecting {
                    reason, delay_secs, ..
                } => {
                    eprintln!("popview: {reason}; retrying in {delay_secs} s");
                    deadline = Instant::now() + self.timeout + Duration::from_secs(*delay_secs);
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
    pub fn finish(mut self, commit: bool) -> Result<(bool, Option<Committed>)> {
        self.send(Request::Quit { commit })?;
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

    /// Resolve MSG against the listing: a message number, a UIDL, or
    /// explicitly `#N` / `uid:X`. A bare value that is both a number and
    /// another message's UIDL is refused: guessing could delete the wrong
    /// message.
    pub fn find(&self, msg: &str) -> Result<&ListEntry> {
        let by_uid = |u: &str| {
            self.listing
                .iter()
                .find(|e| e.key.uid.as_deref() == Some(u))
        };
        let by_number = |t: &str| {
            let n: u32 = t.parse().ok()?;
            self.listing.iter().find(|e| e.key.number == n)
        };
        if let Some(u) = msg.strip_prefix("uid:") {
            return by_uid(u).ok_or_else(|| no_such(msg));
        }
        if let Some(n) = msg.strip_prefix('#') {
            return by_number(n).ok_or_else(|| no_such(msg));
        }
        match (by_number(msg), by_uid(msg)) {
            (Some(a), Some(b)) if a != b => Err(CmdError::new(
                exit::USAGE,
                format!(
                    "\"{m}\" is both message number {m} and the UIDL of message {}; \
                     write #{m} for the number or uid:{m} for the UIDL",
                    b.key.number,
                    m = sanitize::line(msg)
                ),
            )),
            (Some(e), _) | (None, Some(e)) => Ok(e),
            (None, None) => Err(no_such(msg)),
        }
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
    let mut engine = Engine::start(cfg, persist);
    engine.wait_listing()?;
    engine.wait_previews()?;
    let empty = HeaderSummary::default();
    for e in &engine.listing {
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
    engine.finish(false)?;
    Ok(())
}

pub fn show(
    cfg: WorkerConfig,
    persist: Box<dyn Persist>,
    msg: &str,
    raw: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let mut engine = Engine::start(cfg, persist);
    engine.wait_listing()?;
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
    let view = engine.until(|_, e| match e {
        Event::Message {
            ticket: 1, view, ..
        } => Some(view.clone()),
        _ => None,
    })?;
    if raw {
        out.write_all(&view.raw).map_err(io_err)?;
    } else {
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
        for a in &view.attachments {
            writeln!(
                out,
                "[attachment: {} ({}, {} bytes)]",
                a.name,
                a.mime,
                a.data.len()
            )
            .map_err(io_err)?;
        }
    }
    engine.finish(false)?;
    Ok(())
}

pub fn delete(
    cfg: WorkerConfig,
    persist: Box<dyn Persist>,
    targets: &[String],
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let mut engine = Engine::start(cfg, persist);
    engine.wait_listing()?;
    // Resolve everything before touching anything.
    let mut entries = Vec::new();
    for t in targets {
        match engine.find(t) {
            Ok(e) if !entries.contains(e) => entries.push(e.clone()),
            Ok(_) => {}
            Err(e) => {
                let _ = engine.finish(false);
                return Err(e);
            }
        }
    }
    if dry_run {
        for e in &entries {
            writeln!(
                out,
                "would delete {}\t{}",
                e.key.number,
                e.key.uid.as_deref().unwrap_or("-")
            )
            .map_err(io_err)?;
        }
        engine.finish(false)?;
        return Ok(());
    }
    for e in &entries {
        engine.send(Request::Mark(e.key.clone()))?;
    }
    // Wait until every target is marked (the worker confirms by key).
    let keys: Vec<MsgKey> = entries.iter().map(|e| e.key.clone()).collect();
    engine
        .until(|_, e| match e {
            Event::Marks { marked, .. } => {
                keys.iter().all(|k| marked.contains(k)).then_some(Ok(()))
            }
            Event::MarkRefused { reason, .. } => {
                Some(Err(CmdError::new(exit::SERVER, reason.clone())))
            }
            _ => None,
        })
        .and_then(|r| r)?;
    let (committed, info) = engine.finish(true)?;
    if !committed {
        return Err(CmdError::new(
            exit::SERVER,
            "the server did not confirm the deletion; nothing is known to be deleted",
        ));
    }
    let (deleted, gone) = info.unwrap_or_default();
    if deleted + gone.len() > entries.len() {
        // Can't happen: this command's worker starts with no marks.
        return Err(CmdError::new(
            exit::INTERNAL,
            format!(
                "the server deleted {deleted} messages, more than the {} asked",
                entries.len()
            ),
        ));
    }
    for e in &entries {
        let uid = e.key.uid.as_deref().unwrap_or("-");
        if gone.iter().any(|g| g == uid) {
            writeln!(out, "already gone {}\t{uid}", e.key.number).map_err(io_err)?;
        } else {
            writeln!(out, "deleted {}\t{uid}", e.key.number).map_err(io_err)?;
        }
    }
    Ok(())
}

pub fn serverinfo(cfg: WorkerConfig, persist: Box<dyn Persist>, out: &mut dyn Write) -> Result<()> {
    let mut engine = Engine::start(cfg, persist);
    engine.wait_listing()?;
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
