//! `Client<S>`: a POP3 session over any `Read + Write` stream.
//!
//! It knows its state (authorization / transaction), refuses commands that
//! don't belong to it, and pipelines: commands are queued with [`Client::submit`]
//! and answered in order by [`Client::recv`], with a bounded window so the
//! bytes written ahead of the answers stay small (no deadlock against a server
//! that stops reading while it writes). Tests drive it over byte transcripts.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{Read, Write};

use super::auth::{self, AuthMethod, Credentials};
use super::command::{Allowed, Command};
use super::error::{Error, ErrorKind, RespCode, Result};
use super::redact::Secrets;
use super::response::{
    Body, BodyCollector, BodyLimits, Capabilities, LineBuffer, MAX_DATA_LINE, MAX_HEADER_LINE,
    MAX_LISTING_LINE, MAX_STATUS_LINE, Status, apop_timestamp, body_lines, parse_continuation,
    parse_scan_line, parse_stat, parse_status, parse_uidl_line, preview,
};
use super::trace::Trace;
use crate::sanitize;

mod commands;
mod login;
mod retrieve;

/// Where a streamed answer goes, one piece at a time (see
/// [`Client::retrieve_into`]).
pub type Sink<'a> = dyn FnMut(&[u8]) -> std::io::Result<()> + 'a;

/// Default for the most commands in flight when the server advertises
/// PIPELINING. mpop keeps about 100; over a long round trip that caps the
/// rate at 100 answers per RTT, so popview defaults higher and bounds the
/// bytes instead (see [`MAX_BYTES_AHEAD`]).
pub const PIPELINE_WINDOW: usize = 1000;
/// Most command bytes written ahead of their answers. Well below the sum of
/// our socket send buffer and the server's receive buffer, so a write can
/// never block while the server is itself blocked writing answers we haven't
/// read yet: no deadlock.
pub const MAX_BYTES_AHEAD: usize = 16 * 1024;

/// RFC 1939 session states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Authorization,
    Transaction,
    /// After QUIT, or after a fatal error: nothing more can be sent.
    Closed,
}

/// A parsed positive answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK` to a one-line command; the text (untrusted).
    Ok(String),
    Stat {
        count: u32,
        size: u64,
    },
    /// `LIST`: message numbers and sizes.
    ScanListing(Vec<(u32, u64)>),
    /// `LIST n`.
    Scan(u32, u64),
    /// `UIDL`: message numbers and UIDs (`None` when the UID was invalid).
    UidListing(Vec<(u32, Option<String>)>),
    /// `UIDL n`.
    Uid(u32, Option<String>),
    Capa(Capabilities),
    /// `TOP` or `RETR`.
    Body(Body),
}

/// The answer to one pipelined command: the command and either its reply or
/// the server's refusal (a non-fatal error of kind `Refused` or a coded kind).
#[derive(Debug)]
pub struct Answer<T = ()> {
    pub command: Command,
    pub result: Result<Reply>,
    /// What the caller submitted the command for ([`Client::submit_tagged`]);
    /// `None` for the client's own commands and plain [`Client::submit`].
    pub tag: Option<T>,
}

/// A command written (or queued) and not yet answered, with its caller's tag.
struct InFlight<T> {
    command: Command,
    tag: Option<T>,
}

/// Everything a client keeps across the STLS upgrade, minus the stream.
pub struct Parked {
    greeting: Status,
    trace: Option<Trace>,
    secrets: Secrets,
}

/// `T` is what the caller tags its commands with (see
/// [`Client::submit_tagged`]): each tag comes back with its command's answer.
pub struct Client<S, T = ()> {
    stream: S,
    input: LineBuffer,
    output: Vec<u8>,
    state: State,
    caps: Capabilities,
    greeting: Status,
    tls: bool,
    in_flight: VecDeque<InFlight<T>>,
    bytes_ahead: usize,
    window: usize,
    trace: Option<Trace>,
    chunk: Box<[u8]>,
    /// Cut out of every server text that leaves this client.
    secrets: Secrets,
}

impl<S: Read + Write> Client<S> {
    /// Read the greeting from a fresh connection. `tls` says whether the
    /// stream is already protected (implicit TLS).
    pub fn new(stream: S, tls: bool, trace: Option<Trace>) -> Result<Self> {
        Client::new_redacting(stream, tls, trace, Secrets::default())
    }

    /// [`Client::new`] knowing the secrets to cut out of server text from
    /// the greeting on (the login adds its credentials in any case).
    pub fn new_redacting(
        stream: S,
        tls: bool,
        trace: Option<Trace>,
        secrets: Secrets,
    ) -> Result<Self> {
        let mut client = Client {
            stream,
            input: LineBuffer::new(),
            output: Vec::new(),
            state: State::Authorization,
            caps: Capabilities::default(),
            greeting: Status {
                ok: true,
                code: None,
                text: String::new(),
            },
            tls,
            in_flight: VecDeque::new(),
            bytes_ahead: 0,
            window: PIPELINE_WINDOW,
            trace,
            chunk: vec![0; 64 * 1024].into_boxed_slice(),
            secrets,
        };
        let line = client.read_status_line("waiting for the greeting")?;
        // Kept as sent: the APOP timestamp is in it. Shown only through
        // `greeting()`, redacted.
        let status = parse_status(&line).map_err(|e| client.secrets.error(e))?;
        if !status.ok {
            return Err(refusal_error(&client.redacted(status), "connecting", false));
        }
        client.greeting = status;
        Ok(client)
    }
}

impl<S: Read + Write, T> Client<S, T> {
    /// The same session, its commands tagged with `U` from now on. Only
    /// with nothing in flight (a tag can't be invented for those).
    pub fn with_tags<U>(self) -> Result<Client<S, U>> {
        if !self.in_flight.is_empty() {
            return Err(Error::local(
                "internal: commands in flight while changing the tag type",
            ));
        }
        Ok(Client {
            stream: self.stream,
            input: self.input,
            output: self.output,
            state: self.state,
            caps: self.caps,
            greeting: self.greeting,
            tls: self.tls,
            in_flight: VecDeque::new(),
            bytes_ahead: self.bytes_ahead,
            window: self.window,
            trace: self.trace,
            chunk: self.chunk,
            secrets: self.secrets,
        })
    }

    /// Learn the secrets to cut out of server text from now on (a password
    /// typed after the connection was made).
    pub fn set_secrets(&mut self, secrets: Secrets) {
        self.secrets = secrets;
    }

    /// The secrets cut out of server text (see [`super::redact`]).
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Server text with the known secrets cut out: for any text that
    /// leaves the protocol layer outside of this client's own answers.
    pub fn redact(&self, text: &str) -> String {
        self.secrets.redact(text).into_owned()
    }

    /// A status line parsed, its text redacted (after parsing, so a short
    /// secret can't break the protocol), and any parse error redacted too.
    fn parse_status_line(&self, line: &[u8]) -> Result<Status> {
        let status = parse_status(line).map_err(|e| self.secrets.error(e))?;
        Ok(self.redacted(status))
    }

    fn redacted(&self, mut status: Status) -> Status {
        if let Cow::Owned(t) = self.secrets.redact(&status.text) {
            status.text = t;
        }
        status
    }

    /// The greeting, its text redacted (untrusted: sanitize to show it).
    pub fn greeting(&self) -> Status {
        self.redacted(self.greeting.clone())
    }

    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Access to the underlying stream (e.g. to read TLS details).
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// The stream itself, bypassing the reader: only for checks made while
    /// nothing is in flight (see `Stream::closed_while_idle`).
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Bytes received but not yet consumed by an answer. With nothing in
    /// flight they are data the server sent unasked.
    pub fn unread_input(&self) -> &[u8] {
        self.input.pending()
    }

    /// How many commands may be in flight: the pipeline window, or one when
    /// the server doesn't advertise PIPELINING.
    pub fn window(&self) -> usize {
        if self.caps.pipelining && self.state == State::Transaction {
            self.window
        } else {
            1
        }
    }

    /// Change the most commands in flight with PIPELINING (at least 1).
    pub fn set_window(&mut self, window: usize) {
        self.window = window.max(1);
    }

    /// The command whose answer [`recv`](Self::recv) will return next.
    pub fn next_answer_for(&self) -> Option<&Command> {
        self.in_flight.front().map(|f| &f.command)
    }

    /// The tag of the command whose answer [`recv`](Self::recv) will return next.
    pub fn next_tag(&self) -> Option<&T> {
        self.in_flight.front().and_then(|f| f.tag.as_ref())
    }

    /// The tags of every command not yet answered, oldest first, taken out
    /// of the client: for a session that is over (the connection lost), to
    /// learn what was asked and never answered.
    pub fn take_tags(&mut self) -> Vec<T> {
        self.in_flight
            .iter_mut()
            .filter_map(|f| f.tag.take())
            .collect()
    }

    /// Commands sent (or queued) and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// True when another command may be submitted without exceeding the
    /// window or the bytes-ahead bound.
    pub fn can_submit(&self) -> bool {
        self.in_flight.len() < self.window() && self.bytes_ahead < MAX_BYTES_AHEAD
    }

    /// Ask CAPA (again) and keep the answer. A server without CAPA answers
    /// `-ERR`: then the capabilities are "unknown", and the session goes on.
    pub fn refresh_capabilities(&mut self) -> Result<&Capabilities> {
        match self.execute(Command::Capa) {
            Ok(Reply::Capa(caps)) => self.caps = caps,
            Ok(_) => unreachable!("CAPA answers with capabilities"),
            // No CAPA (RFC 2449 is optional): keep what was learnt in this
            // TLS state, if anything; "unknown" otherwise.
            Err(e) if !e.is_fatal_to_session() => {}
            Err(e) => return Err(e),
        }
        Ok(&self.caps)
    }

    /// Queue a command (it is written on the next [`flush`](Self::flush) or
    /// [`recv`](Self::recv)). Refused locally when it doesn't belong to the
    /// current state or the window is full.
    pub fn submit(&mut self, command: Command) -> Result<()> {
        self.submit_with(command, None)
    }

    /// [`submit`](Self::submit), tagging the command with what it is for:
    /// the tag comes back in its [`Answer`].
    pub fn submit_tagged(&mut self, command: Command, tag: T) -> Result<()> {
        self.submit_with(command, Some(tag))
    }

    fn submit_with(&mut self, command: Command, tag: Option<T>) -> Result<()> {
        self.check_allowed(&command)?;
        if !self.can_submit() {
            return Err(Error::local(
                "internal: pipeline window full; read answers before sending more",
            ));
        }
        if self.in_flight.is_empty() && !self.input.pending().is_empty() {
            // B10: lines nobody asked for must never answer the next command.
            let junk = self.redact(&preview(self.input.pending()));
            self.state = State::Closed;
            return Err(Error::protocol(format!(
                "the server sent data nobody asked for ({junk}); closing the connection"
            )));
        }
        self.queue(command, tag);
        Ok(())
    }

    /// Queue a command without the state and window checks: `submit` after
    /// its checks, and the pipelined login, whose follow-ups belong to the
    /// state the login is about to enter.
    fn queue(&mut self, command: Command, tag: Option<T>) {
        if let Some(t) = self.trace.as_mut() {
            t.client(&self.secrets.redact(&command.trace_form()));
        }
        let wire = command.wire();
        self.bytes_ahead += wire.len();
        self.output.extend_from_slice(&wire);
        self.in_flight.push_back(InFlight { command, tag });
    }

    fn check_allowed(&self, command: &Command) -> Result<()> {
        let ok = match (self.state, command.allowed()) {
            (State::Closed, _) => false,
            (_, Allowed::Both) => true,
            (State::Authorization, Allowed::Authorization) => true,
            (State::Transaction, Allowed::Transaction) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::local(format!(
                "{} is not allowed in the {} state",
                command.name(),
                match self.state {
                    State::Authorization => "authorization",
                    State::Transaction => "transaction",
                    State::Closed => "closed",
                }
            )))
        }
    }

    /// Write every queued command.
    pub fn flush(&mut self) -> Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.output);
        let res = self
            .stream
            .write_all(&out)
            .and_then(|()| self.stream.flush());
        if let Err(e) = res {
            self.state = State::Closed;
            return Err(Error::io(&e, "sending a command"));
        }
        Ok(())
    }

    /// The answer to the oldest command in flight.
    pub fn recv(&mut self) -> Result<Answer<T>> {
        self.recv_with(&mut |_| ())
    }

    /// Like [`recv`](Self::recv), calling `progress` with the bytes received
    /// so far while a multi-line answer arrives.
    pub fn recv_with(&mut self, progress: &mut dyn FnMut(u64)) -> Result<Answer<T>> {
        self.recv_into(progress, None)
    }

    /// [`recv_with`](Self::recv_with), a multi-line answer handed to `sink`
    /// line by line (dot-unstuffed, each line's end as sent) instead of
    /// being kept, when there is a sink: its `Body` is then empty. A sink
    /// that fails ends the session (the rest of the answer is not read).
    pub(crate) fn recv_into(
        &mut self,
        progress: &mut dyn FnMut(u64),
        sink: Option<&mut Sink<'_>>,
    ) -> Result<Answer<T>> {
        let Some(InFlight { command, tag }) = self.in_flight.pop_front() else {
            return Err(Error::local(
                "internal: no command is waiting for an answer",
            ));
        };
        self.bytes_ahead = self.bytes_ahead.saturating_sub(command.wire().len());
        match self
            .flush()
            .and_then(|()| self.read_answer(&command, progress, sink))
        {
            Ok(result) => Ok(Answer {
                command,
                result: result.map_err(|e| self.secrets.error(e)),
                tag,
            }),
            Err(e) => {
                // Transport or framing failure: the stream can't be trusted
                // to be in sync any more. The command was never answered:
                // it stays in flight, with its tag (see `take_tags`).
                self.in_flight.push_front(InFlight { command, tag });
                self.state = State::Closed;
                Err(self.secrets.error(e))
            }
        }
    }

    /// Send one command and wait for its answer; a refusal becomes an error.
    pub fn execute(&mut self, command: Command) -> Result<Reply> {
        if !self.in_flight.is_empty() {
            return Err(Error::local(
                "internal: a pipelined batch is still in flight",
            ));
        }
        self.submit(command)?;
        self.recv()?.result
    }

    /// Run `commands` with a sliding window, handing each answer, in order,
    /// to `on_answer`. One at a time when the server doesn't pipeline.
    pub fn pipeline<I>(
        &mut self,
        commands: I,
        mut on_answer: impl FnMut(Answer<T>) -> Result<()>,
    ) -> Result<()>
    where
        I: IntoIterator<Item = Command>,
    {
        let mut commands = commands.into_iter().peekable();
        loop {
            while self.can_submit() {
                match commands.next() {
                    Some(c) => self.submit(c)?,
                    None => break,
                }
            }
            if self.in_flight.is_empty() {
                return Ok(());
            }
            let answer = self.recv()?;
            on_answer(answer)?;
        }
    }

    /// Outer error: the session is broken. Inner error: the server refused.
    fn read_answer(
        &mut self,
        command: &Command,
        progress: &mut dyn FnMut(u64),
        mut sink: Option<&mut Sink<'_>>,
    ) -> Result<Result<Reply>> {
        let line = self.read_status_line("waiting for an answer")?;
        let status = self.parse_status_line(&line)?;
        if !status.ok {
            return Ok(Err(refusal_error(
                &status,
                command.name(),
                command.is_authentication(),
            )));
        }
        let Some(limits) = command.multi_line() else {
            // STAT, LIST n and UIDL n are parsed from the text as received.
            let unredacted = parse_status(&line)?;
            return one_line_reply(command, unredacted).map(|r| Ok(self.redact_reply(r)));
        };
        let (limits, expected) = match (command, sink.is_some()) {
            (Command::Retr { size, .. }, true) => (BodyLimits::streamed(*size), 0),
            (Command::Retr { size, .. }, false) => (limits, size.unwrap_or(0)),
            _ => (limits, 0),
        };
        let mut collector = BodyCollector::expecting(limits, expected);
        // The LIST size, which sets `max_total`, is the server's claim: it
        // must never be the only bound on one line (SECURITY D16, D21).
        let max_line = match command {
            Command::Top { lines: 0, .. } => MAX_HEADER_LINE,
            Command::Top { .. } | Command::Retr { .. } => usize::try_from(limits.max_total)
                .unwrap_or(usize::MAX)
                .min(MAX_DATA_LINE),
            _ => MAX_LISTING_LINE,
        };
        let mut last_report = 0u64;
        loop {
            match self.input.next_line(max_line)? {
                Some(line) => match sink.as_deref_mut() {
                    None => {
                        if collector.push_line(line.content, line.eol)? {
                            break;
                        }
                    }
                    Some(sink) => {
                        let Some(content) = collector.accept_line(line.content, line.eol)? else {
                            break;
                        };
                        sink(content).and_then(|()| sink(line.eol)).map_err(|e| {
                            Error::local(format!("can't write the message out: {e}"))
                        })?;
                    }
                },
                None => {
                    if collector.seen() >= last_report + 64 * 1024 {
                        last_report = collector.seen();
                        progress(last_report);
                    }
                    self.fill("receiving a multi-line answer")?;
                }
            }
        }
        progress(collector.seen());
        let seen = collector.seen();
        let body = collector.finish();
        if let Some(t) = self.trace.as_mut() {
            t.server_data(if sink.is_some() {
                usize::try_from(seen).unwrap_or(usize::MAX)
            } else {
                body.data.len()
            });
        }
        multi_line_reply(command, body).map(|r| Ok(self.redact_reply(r)))
    }

    /// The server's own words in a reply (a `+OK` text, capabilities),
    /// redacted. Mail, listings and UIDs are left as sent.
    fn redact_reply(&self, reply: Reply) -> Reply {
        if self.secrets.is_empty() {
            return reply;
        }
        match reply {
            Reply::Ok(t) => Reply::Ok(self.redact(&t)),
            Reply::Capa(mut caps) => {
                for r in &mut caps.raw {
                    *r = self.redact(r);
                }
                caps.implementation = caps.implementation.map(|t| self.redact(&t));
                caps.expire = caps.expire.map(|t| self.redact(&t));
                Reply::Capa(caps)
            }
            other => other,
        }
    }

    fn read_status_line(&mut self, during: &str) -> Result<Vec<u8>> {
        loop {
            let next = self
                .input
                .next_line(MAX_STATUS_LINE)
                .map_err(|e| self.secrets.error(e))?;
            if let Some(line) = next {
                let content = line.content.to_vec();
                if let Some(t) = self.trace.as_mut() {
                    t.server(&self.secrets.redact_bytes(&content));
                }
                return Ok(content);
            }
            self.fill(during)?;
        }
    }

    fn fill(&mut self, during: &str) -> Result<()> {
        // EINTR is retried below TLS by the transport (`Uninterrupted`).
        match self.stream.read(&mut self.chunk) {
            Ok(0) => {
                self.state = State::Closed;
                Err(Error::new(
                    ErrorKind::Network,
                    format!("the server closed the connection while {during}"),
                ))
            }
            Ok(n) => {
                self.input.extend(&self.chunk[..n]);
                Ok(())
            }
            Err(e) => {
                self.state = State::Closed;
                Err(Error::io(&e, during))
            }
        }
    }
}

fn unexpected(reply: Reply) -> Error {
    Error::protocol(format!("internal: unexpected reply {reply:?}"))
}

/// A refused USER is an authentication failure, not a generic refusal.
fn as_auth_error(e: Error) -> Error {
    if e.kind == ErrorKind::Refused {
        Error {
            kind: ErrorKind::Auth,
            ..e
        }
    } else {
        e
    }
}

/// Turn a `-ERR` into an error with the right kind and a readable message.
fn refusal_error(status: &Status, command: &str, authentication: bool) -> Error {
    let text = sanitize::line(&status.text);
    let said = if text.is_empty() {
        String::new()
    } else {
        format!(": \"{text}\"")
    };
    let (kind, message) = match status.code {
        Some(RespCode::InUse) => (
            ErrorKind::InUse,
            format!("the mailbox is in use by another session{said}; popview will retry"),
        ),
        Some(RespCode::LoginDelay) => (
            ErrorKind::LoginDelay,
            format!("the server wants more time between logins{said}"),
        ),
        Some(RespCode::SysTemp) => (
            ErrorKind::TempFailure,
            format!("the server has a temporary problem{said}; trying again later may work"),
        ),
        Some(RespCode::SysPerm) => (
            ErrorKind::PermFailure,
            format!("the server has a permanent problem{said}; contact your mail provider"),
        ),
        Some(RespCode::Auth) => (
            ErrorKind::Auth,
            format!("the server refused the user name or password{said}"),
        ),
        _ if authentication => (
            ErrorKind::Auth,
            format!("the server refused the login{said}; check the user name and password"),
        ),
        _ => (
            ErrorKind::Refused,
            format!("the server refused {command}{said}"),
        ),
    };
    Error::new(kind, message).with_code(status.code.clone())
}

fn one_line_reply(command: &Command, status: Status) -> Result<Reply> {
    Ok(match command {
        Command::Stat => {
            let (count, size) = parse_stat(&status.text)?;
            Reply::Stat { count, size }
        }
        Command::List(Some(n)) => {
            let (m, size) = parse_scan_line(status.text.as_bytes())?;
            check_number(*n, m)?;
            Reply::Scan(m, size)
        }
        Command::Uidl(Some(n)) => {
            let (m, uid) = parse_uidl_line(status.text.as_bytes())?;
            check_number(*n, m)?;
            Reply::Uid(m, uid)
        }
        _ => Reply::Ok(status.text),
    })
}

fn check_number(asked: u32, got: u32) -> Result<()> {
    if asked == got {
        Ok(())
    } else {
        Err(Error::protocol(format!(
            "asked about message {asked}, the server answered about message {got}"
        )))
    }
}

fn multi_line_reply(command: &Command, body: Body) -> Result<Reply> {
    Ok(match command {
        Command::Capa => Reply::Capa(Capabilities::parse(&body.data)),
        Command::List(None) => Reply::ScanListing(
            body_lines(&body.data)
                .map(parse_scan_line)
                .collect::<Result<_>>()?,
        ),
        Command::Uidl(None) => Reply::UidListing(
            body_lines(&body.data)
                .map(parse_uidl_line)
                .collect::<Result<_>>()?,
        ),
        _ => Reply::Body(body),
    })
}
