//! An in-process POP3 server (RFC 1939, 2449, 2595, 5034) on `127.0.0.1:0`:
//! the peer of `popview --demo` and the scripted, fault-injecting peer of the
//! tests.
//!
//! # Threads
//! [`Server::start`] binds the listener and spawns one accept thread; every
//! accepted connection gets its own thread. [`Server::shutdown`] (also run on
//! `Drop`) stops accepting, shuts every socket down (which wakes any thread
//! blocked in a read or write), interrupts stalls and latency sleeps, and joins
//! all threads. No thread outlives the [`Server`].
//!
//! # Semantics
//! One shared maildrop. A session takes the maildrop lock when it logs in and
//! keeps it until it ends; a second login meanwhile gets `-ERR [IN-USE]`. A
//! session works on a snapshot taken at login (mail added with
//! [`Server::add_message`] appears in the next session, as with Dovecot).
//! `DELE` only marks, `RSET` unmarks, and only `QUIT` in the TRANSACTION state
//! removes the marked messages (the UPDATE state). A connection that ends any
//! other way deletes nothing.
//!
//! Messages are served with CRLF line ends (bare LF is normalised when the
//! maildrop is built) and dot-stuffed; `LIST` sizes count the CRLF form.
//!
//! Commands are read from a buffer and answered in order; answers are
//! buffered and flushed whenever the input buffer holds no complete line, so
//! a pipelined burst is answered in few writes.
//!
//! # Fault injection
//! [`ServerOptions::hook`] sees every line received (commands and SASL
//! responses) and decides with an [`Action`] what the server does with it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use md5::{Digest as _, Md5};
use native_tls::{Identity, TlsAcceptor};

// The same plain-or-TLS stream the client uses.
use crate::pop3::transport::Stream;
use crate::pop3::uninterrupted::Uninterrupted;

use super::mailbox::Mailbox;

/// Longest command line accepted, without its line end. A longer line is
/// answered with `-ERR line too long` and the connection is closed.
pub const MAX_LINE: usize = 8 * 1024;

/// Pending output above this size is written at once instead of waiting for
/// the input buffer to drain (bounds memory for huge pipelined RETRs).
const FLUSH_THRESHOLD: usize = 64 * 1024;

/// How long an interruptible sleep waits between looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(5);

/// TLS for the server.
#[derive(Clone)]
pub enum TlsMode {
    /// Plain connection; `STLS` (RFC 2595) upgrades it with this identity.
    StartTls(Identity),
    /// Implicit TLS (POP3S): the handshake starts as soon as a client connects.
    Implicit(Identity),
}

impl fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsMode::StartTls(_) => f.write_str("StartTls(..)"),
            TlsMode::Implicit(_) => f.write_str("Implicit(..)"),
        }
    }
}

/// The state of a session when a line arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Not logged in yet (including the line answering a SASL challenge).
    Authorization,
    /// Logged in: the maildrop is locked by this session.
    Transaction,
}

/// What the hook sees for each line received.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    /// The connection, numbered from 0 in accept order (see [`Server::transcript`]).
    pub conn: usize,
    /// 0-based number of this line within its connection.
    pub index_in_conn: usize,
    /// 0-based number of this line across all connections of the server.
    pub global_index: usize,
    /// The line without its line end, lossily decoded.
    pub line: &'a str,
    pub state: SessionState,
    /// True when the connection is protected by TLS.
    pub tls: bool,
}

/// What the server does with one received line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Process the line as a real server would.
    Normal,
    /// Send exactly these bytes instead of the normal answer; the command is
    /// not executed (no state change: a `Reply` to `DELE` marks nothing, to
    /// `QUIT` deletes nothing and keeps the connection open).
    Reply(Vec<u8>),
    /// Send these bytes, then process the line normally (its answer follows
    /// in the same write unless flushed meanwhile).
    ReplyThenNormal(Vec<u8>),
    /// Like [`Action::Reply`], but written in chunks of `n` bytes (0 counts
    /// as 1), each flushed on its own with a 2 ms pause, so the client sees
    /// split reads. Answers still pending for earlier lines are flushed first.
    Split(Vec<u8>, usize),
    /// Close the connection now without answering. Answers pending for
    /// earlier pipelined lines are flushed first; TLS gets no close_notify
    /// (a truncation). Nothing is deleted.
    Drop,
    /// Flush pending answers, wait this long (interrupted by shutdown), then
    /// process the line normally.
    Stall(Duration),
    /// Send these bytes (after any pending answers), then read nothing more
    /// and send nothing for this long (interrupted by shutdown), then close.
    /// E.g. `+OK Begin TLS\r\n` followed by a handshake that never comes, or
    /// half a multi-line answer followed by silence.
    ReplyThenStall(Vec<u8>, Duration),
    /// Flush pending answers, then abort the connection with a TCP RST
    /// (`SO_LINGER` 0). Nothing is deleted.
    Reset,
}

/// The fault-injection hook: called for every line received.
pub type Hook = Arc<dyn Fn(&Ctx<'_>) -> Action + Send + Sync>;

/// What the server offers and how it behaves. `Default` is a full-featured
/// server with the single user `demo`/`demo`, no TLS and no latency.
#[derive(Clone)]
pub struct ServerOptions {
    /// `(user, password)` pairs; all share the one maildrop.
    pub users: Vec<(String, String)>,
    /// Answer `CAPA` (RFC 2449); when false, `CAPA` is an unknown command.
    pub capa: bool,
    /// Support `TOP`.
    pub top: bool,
    /// Support `UIDL`.
    pub uidl: bool,
    /// Advertise `PIPELINING` (commands are always answered in order).
    pub pipelining: bool,
    /// Support `USER`/`PASS`.
    pub user_command: bool,
    /// Support `AUTH PLAIN` (RFC 5034).
    pub sasl_plain: bool,
    /// Support `APOP` (and put a timestamp into the greeting).
    pub apop: bool,
    pub tls: Option<TlsMode>,
    /// Advertise `LOGIN-DELAY n` (not enforced).
    pub login_delay: Option<u64>,
    /// Advertise `EXPIRE ...` (e.g. `"0"`, `"NEVER"`, `"30 USER"`; not enforced).
    pub expire: Option<String>,
    /// Simulated network delay: the server waits this long after each read
    /// that brings new client bytes (and before the greeting), i.e. once per
    /// round trip. Commands pipelined in one write share one delay, as on a
    /// real network.
    pub latency: Option<Duration>,
    pub hook: Option<Hook>,
    /// Send exactly these bytes as the greeting (APOP then uses the first
    /// `<...>` in them, if any).
    pub greeting: Option<Vec<u8>>,
    /// `TOP n k` returns the whole message, as some servers do.
    pub top_streams_body: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            users: vec![("demo".to_string(), "demo".to_string())],
            capa: true,
            top: true,
            uidl: true,
            pipelining: true,
            user_command: true,
            sasl_plain: true,
            apop: true,
            tls: None,
            login_delay: None,
            expire: None,
            latency: None,
            hook: None,
            greeting: None,
            top_streams_body: false,
        }
    }
}

impl fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerOptions")
            .field(
                "users",
                &self.users.iter().map(|(u, _)| u).collect::<Vec<_>>(),
            )
            .field("capa", &self.capa)
            .field("top", &self.top)
            .field("uidl", &self.uidl)
            .field("pipelining", &self.pipelining)
            .field("user_command", &self.user_command)
            .field("sasl_plain", &self.sasl_plain)
            .field("apop", &self.apop)
            .field("tls", &self.tls)
            .field("login_delay", &self.login_delay)
            .field("expire", &self.expire)
            .field("latency", &self.latency)
            .field("hook", &self.hook.as_ref().map(|_| ".."))
            .field("greeting", &self.greeting)
            .field("top_streams_body", &self.top_streams_body)
            .finish()
    }
}

/// One line received by the server, verbatim (passwords included) without
/// its line end, lossily decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub conn: usize,
    pub line: String,
}

/// A running server. Dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    opts: ServerOptions,
    acceptor: Option<TlsAcceptor>,
    implicit_tls: bool,
    maildrop: Mutex<Maildrop>,
    /// Signalled when the maildrop lock is released.
    unlocked: Condvar,
    log: Mutex<Vec<LogLine>>,
    /// Raw bytes received, one entry per connection (index = connection id).
    transcripts: Mutex<Vec<Vec<u8>>>,
    global_index: AtomicUsize,
    stopping: AtomicBool,
    conns: Mutex<Vec<ConnHandle>>,
}

/// A second descriptor of a connection's socket, shared between the server
/// (to shut it down) and the connection thread (to close it, or to reset it:
/// an RST needs every descriptor closed).
type SocketSlot = Arc<Mutex<Option<TcpStream>>>;

struct ConnHandle {
    socket: SocketSlot,
    thread: JoinHandle<()>,
}

struct Maildrop {
    entries: Vec<Entry>,
    next_id: u64,
    locked_by: Option<usize>,
}

#[derive(Clone)]
struct Entry {
    id: u64,
    uid: String,
    data: Arc<[u8]>,
}

impl Maildrop {
    fn push(&mut self, uid: String, bytes: &[u8]) {
        self.next_id += 1;
        self.entries.push(Entry {
            id: self.next_id,
            uid,
            data: normalize_crlf(bytes).into(),
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Server {
    /// Bind `127.0.0.1:0` and start serving `mailbox`.
    pub fn start(mailbox: Mailbox, opts: ServerOptions) -> io::Result<Server> {
        let (acceptor, implicit_tls) = match &opts.tls {
            None => (None, false),
            Some(TlsMode::StartTls(id)) => (Some(tls_acceptor(id)?), false),
            Some(TlsMode::Implicit(id)) => (Some(tls_acceptor(id)?), true),
        };
        let mut maildrop = Maildrop {
            entries: Vec::with_capacity(mailbox.len()),
            next_id: 0,
            locked_by: None,
        };
        for (uid, bytes) in mailbox.into_messages() {
            maildrop.push(uid, &bytes);
        }
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            opts,
            acceptor,
            implicit_tls,
            maildrop: Mutex::new(maildrop),
            unlocked: Condvar::new(),
            log: Mutex::new(Vec::new()),
            transcripts: Mutex::new(Vec::new()),
            global_index: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("demo-pop3-accept".into())
            .spawn(move || accept_loop(&listener, &accept_shared))?;
        Ok(Server {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every line received so far, in arrival order per connection.
    pub fn log(&self) -> Vec<LogLine> {
        lock(&self.shared.log).clone()
    }

    /// The raw bytes received on connection `conn` (0-based, in accept
    /// order), after TLS decryption where TLS was used; empty when unknown.
    pub fn transcript(&self, conn: usize) -> Vec<u8> {
        lock(&self.shared.transcripts)
            .get(conn)
            .cloned()
            .unwrap_or_default()
    }

    /// The UIDs the maildrop holds now, in order (what a fresh session sees).
    pub fn mailbox_uids(&self) -> Vec<String> {
        lock(&self.shared.maildrop)
            .entries
            .iter()
            .map(|e| e.uid.clone())
            .collect()
    }

    /// `(uid, bytes)` of the maildrop now, bytes exactly as served by RETR
    /// before dot-stuffing (CRLF line ends).
    pub fn messages(&self) -> Vec<(String, Vec<u8>)> {
        lock(&self.shared.maildrop)
            .entries
            .iter()
            .map(|e| (e.uid.clone(), e.data.to_vec()))
            .collect()
    }

    /// New mail: appended to the maildrop, visible to sessions that log in
    /// from now on.
    pub fn add_message(&self, uid: impl Into<String>, bytes: impl AsRef<[u8]>) {
        lock(&self.shared.maildrop).push(uid.into(), bytes.as_ref());
    }

    /// How many connections have been accepted so far.
    pub fn connections(&self) -> usize {
        lock(&self.shared.transcripts).len()
    }

    /// True while a session holds the maildrop lock.
    pub fn is_locked(&self) -> bool {
        lock(&self.shared.maildrop).locked_by.is_some()
    }

    /// Wait until no session holds the maildrop lock (e.g. after a client
    /// dropped its connection). False on timeout.
    pub fn wait_unlocked(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut md = lock(&self.shared.maildrop);
        while md.locked_by.is_some() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            md = self
                .shared
                .unlocked
                .wait_timeout(md, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Stop accepting, close every connection and join all threads.
    /// Idempotent; also run on `Drop`.
    pub fn shutdown(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            // Wake the blocking accept() with a connection of our own. If that
            // fails the thread is left to end with the process rather than
            // blocking this call forever.
            if TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).is_ok() {
                let _ = accept.join();
            }
        }
        let conns = std::mem::take(&mut *lock(&self.shared.conns));
        for conn in &conns {
            if let Some(s) = lock(&conn.socket).as_ref() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        for conn in conns {
            let _ = conn.thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("opts", &self.shared.opts)
            .finish_non_exhaustive()
    }
}

fn tls_acceptor(identity: &Identity) -> io::Result<TlsAcceptor> {
    TlsAcceptor::builder(identity.clone())
        .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
        .build()
        .map_err(io::Error::other)
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                // EMFILE and friends: don't spin.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let Ok(socket) = tcp.try_clone() else {
            continue;
        };
        let socket: SocketSlot = Arc::new(Mutex::new(Some(socket)));
        let conn = {
            let mut transcripts = lock(&shared.transcripts);
            transcripts.push(Vec::new());
            transcripts.len() - 1
        };
        let conn_shared = Arc::clone(shared);
        let conn_socket = Arc::clone(&socket);
        let spawned = thread::Builder::new()
            .name(format!("demo-pop3-conn-{conn}"))
            .spawn(move || serve(&conn_shared, conn, tcp, conn_socket));
        let Ok(thread) = spawned else {
            continue;
        };
        let mut conns = lock(&shared.conns);
        // Reap connections that have ended, so the list stays short.
        let (done, live): (Vec<_>, Vec<_>) = std::mem::take(&mut *conns)
            .into_iter()
            .partition(|c| c.thread.is_finished());
        *conns = live;
        conns.push(ConnHandle { socket, thread });
        drop(conns);
        for c in done {
            let _ = c.thread.join();
        }
    }
}

/// Sleep up to `d`, returning early (false) when the server is stopping.
fn sleep_unless_stopping(shared: &Shared, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::sleep((deadline - now).min(STOP_POLL));
    }
}

// ---------------------------------------------------------------------------
// Connection I/O: buffered line input, buffered output.

enum ReadError {
    TooLong,
    Io,
}

struct Conn<'a> {
    shared: &'a Shared,
    id: usize,
    /// `None` only transiently during the STLS upgrade (or after it failed).
    stream: Option<Stream>,
    /// The raw socket, for shutdown and RST.
    socket: SocketSlot,
    inbuf: Vec<u8>,
    pos: usize,
    out: Vec<u8>,
}

impl Conn<'_> {
    fn stream(&mut self) -> io::Result<&mut Stream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.extend_from_slice(bytes);
        if self.out.len() >= FLUSH_THRESHOLD {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let stream = self.stream()?;
        stream.write_all(&out)?;
        stream.flush()
    }

    fn latency(&self) -> bool {
        match self.shared.opts.latency {
            Some(d) if !d.is_zero() => sleep_unless_stopping(self.shared, d),
            _ => !self.shared.stopping.load(Ordering::SeqCst),
        }
    }

    /// The next line without its line end (CRLF or bare LF). Flushes pending
    /// output before blocking on the socket. `Ok(None)` at EOF.
    fn read_line(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        loop {
            let pending = &self.inbuf[self.pos..];
            if let Some(i) = pending.iter().position(|&b| b == b'\n') {
                let mut line = pending[..i].to_vec();
                self.pos += i + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > MAX_LINE {
                    return Err(ReadError::TooLong);
                }
                return Ok(Some(line));
            }
            if pending.len() > MAX_LINE + 1 {
                return Err(ReadError::TooLong);
            }
            self.inbuf.drain(..self.pos);
            self.pos = 0;
            self.flush().map_err(|_| ReadError::Io)?;
            let mut buf = [0u8; 16 * 1024];
            let n = match self.stream().map_err(|_| ReadError::Io)?.read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => n,
                Err(_) => return Err(ReadError::Io),
            };
            if let Some(t) = lock(&self.shared.transcripts).get_mut(self.id) {
                t.extend_from_slice(&buf[..n]);
            }
            self.inbuf.extend_from_slice(&buf[..n]);
            if !self.latency() {
                return Err(ReadError::Io);
            }
        }
    }

    /// Bytes received but not yet consumed as lines.
    fn discard_input(&mut self) {
        self.inbuf.clear();
        self.pos = 0;
    }

    /// Flush, then send FIN both ways (no TLS close_notify).
    fn close(&mut self) {
        let _ = self.flush();
        if let Some(s) = lock(&self.socket).as_ref() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Abort with a TCP RST: linger 0, then close every descriptor.
    fn reset(&mut self) {
        let slot = lock(&self.socket).take();
        if let Some(s) = &slot {
            let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
        }
        drop(slot);
        self.stream = None;
    }
}

// ---------------------------------------------------------------------------
// One connection.

fn serve(shared: &Shared, conn: usize, tcp: TcpStream, socket: SocketSlot) {
    let mut io = Conn {
        shared,
        id: conn,
        stream: None,
        socket,
        inbuf: Vec::with_capacity(4096),
        pos: 0,
        out: Vec::with_capacity(4096),
    };
    let mut session = Session::new(shared, conn);
    let tcp = Uninterrupted::new(tcp);
    if !shared.implicit_tls {
        io.stream = Some(Stream::Plain(tcp));
        let _ = run(&mut io, &mut session);
    } else if let Some(acceptor) = &shared.acceptor
        && let Ok(tls) = acceptor.accept(tcp)
    {
        io.stream = Some(Stream::Tls(Box::new(tls)));
        session.tls_active = true;
        let _ = run(&mut io, &mut session);
    }
    // Close every descriptor now (a failed handshake included); the session
    // and its maildrop lock are released by Session's Drop.
    io.stream = None;
    lock(&io.socket).take();
}

fn run(io: &mut Conn<'_>, session: &mut Session<'_>) -> io::Result<()> {
    let shared = io.shared;
    if !io.latency() {
        return Ok(());
    }
    let greeting = session.greeting();
    io.send(&greeting)?;
    io.flush()?;
    let mut index_in_conn = 0;
    loop {
        let line = match io.read_line() {
            Ok(Some(line)) => line,
            Ok(None) | Err(ReadError::Io) => return Ok(()),
            Err(ReadError::TooLong) => {
                io.send(b"-ERR line too long\r\n")?;
                io.close();
                return Ok(());
            }
        };
        let text = String::from_utf8_lossy(&line).into_owned();
        lock(&shared.log).push(LogLine {
            conn: io.id,
            line: text.clone(),
        });
        let global_index = shared.global_index.fetch_add(1, Ordering::SeqCst);
        let action = match &shared.opts.hook {
            Some(hook) => hook(&Ctx {
                conn: io.id,
                index_in_conn,
                global_index,
                line: &text,
                state: session.public_state(),
                tls: session.tls_active,
            }),
            None => Action::Normal,
        };
        index_in_conn += 1;
        match action {
            Action::Normal => {}
            Action::Reply(bytes) => {
                io.send(&bytes)?;
                continue;
            }
            Action::ReplyThenNormal(bytes) => io.send(&bytes)?,
            Action::Split(bytes, n) => {
                io.flush()?;
                for chunk in bytes.chunks(n.max(1)) {
                    io.send(chunk)?;
                    io.flush()?;
                    if !sleep_unless_stopping(shared, Duration::from_millis(2)) {
                        return Ok(());
                    }
                }
                continue;
            }
            Action::Drop => {
                io.close();
                return Ok(());
            }
            Action::ReplyThenStall(bytes, d) => {
                io.send(&bytes)?;
                io.flush()?;
                sleep_unless_stopping(shared, d);
                io.close();
                return Ok(());
            }
            Action::Stall(d) => {
                io.flush()?;
                if !sleep_unless_stopping(shared, d) {
                    return Ok(());
                }
            }
            Action::Reset => {
                io.flush()?;
                io.reset();
                return Ok(());
            }
        }
        match session.handle(&line, io)? {
            Flow::Continue => {}
            Flow::Close => {
                io.flush()?;
                if let Some(Stream::Tls(tls)) = io.stream.as_mut() {
                    let _ = tls.shutdown();
                }
                io.close();
                return Ok(());
            }
            Flow::StartTls => {
                io.flush()?;
                // Anything the client sent after STLS in the same flight is
                // plaintext that must not be taken as commands over TLS
                // (the command-injection attack): throw it away.
                io.discard_input();
                let Some(acceptor) = &shared.acceptor else {
                    return Ok(());
                };
                let Some(Stream::Plain(tcp)) = io.stream.take() else {
                    return Ok(());
                };
                match acceptor.accept(tcp) {
                    Ok(tls) => io.stream = Some(Stream::Tls(Box::new(tls))),
                    Err(_) => return Ok(()),
                }
                session.tls_active = true;
            }
        }
    }
}

enum Flow {
    Continue,
    Close,
    StartTls,
}

enum State {
    Authorization {
        user: Option<String>,
    },
    /// `AUTH PLAIN` sent the empty challenge; the next line is the response.
    SaslPlain,
    Transaction(Vec<SessionMsg>),
}

struct SessionMsg {
    id: u64,
    uid: String,
    data: Arc<[u8]>,
    deleted: bool,
}

struct Session<'a> {
    shared: &'a Shared,
    conn: usize,
    state: State,
    tls_active: bool,
    /// The APOP timestamp of the greeting, `<...>` included.
    timestamp: Option<String>,
    holds_lock: bool,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        self.release_lock();
    }
}

const CRLF: &[u8] = b"\r\n";

impl<'a> Session<'a> {
    fn new(shared: &'a Shared, conn: usize) -> Session<'a> {
        Session {
            shared,
            conn,
            state: State::Authorization { user: None },
            tls_active: false,
            timestamp: None,
            holds_lock: false,
        }
    }

    fn public_state(&self) -> SessionState {
        match self.state {
            State::Transaction(_) => SessionState::Transaction,
            _ => SessionState::Authorization,
        }
    }

    fn greeting(&mut self) -> Vec<u8> {
        if let Some(g) = &self.shared.opts.greeting {
            self.timestamp = extract_timestamp(g);
            return g.clone();
        }
        if !self.shared.opts.apop {
            return b"+OK popview-demo POP3 server ready\r\n".to_vec();
        }
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            + self.conn as u128;
        let ts = format!("<{}.{clock}@popview.demo>", std::process::id());
        let g = format!("+OK popview-demo POP3 server ready {ts}\r\n");
        self.timestamp = Some(ts);
        g.into_bytes()
    }

    fn release_lock(&mut self) {
        if self.holds_lock {
            self.holds_lock = false;
            let mut md = lock(&self.shared.maildrop);
            if md.locked_by == Some(self.conn) {
                md.locked_by = None;
            }
            drop(md);
            self.shared.unlocked.notify_all();
        }
    }

    fn handle(&mut self, line: &[u8], io: &mut Conn<'_>) -> io::Result<Flow> {
        if matches!(self.state, State::SaslPlain) {
            self.state = State::Authorization { user: None };
            let reply = if line == b"*" {
                b"-ERR AUTH cancelled\r\n".to_vec()
            } else {
                self.sasl_plain_response(line)
            };
            io.send(&reply)?;
            return Ok(Flow::Continue);
        }
        let (keyword, rest) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &line[line.len()..]),
        };
        let keyword = keyword.to_ascii_uppercase();
        let args: Vec<&[u8]> = rest
            .split(|&b| b == b' ')
            .filter(|a| !a.is_empty())
            .collect();
        if matches!(self.state, State::Transaction(_)) {
            self.transaction(&keyword, &args, io)
        } else {
            self.authorization(&keyword, rest, &args, io)
        }
    }

    fn capa(&self) -> Vec<u8> {
        let o = &self.shared.opts;
        let mut s = String::from("+OK Capability list follows\r\n");
        if o.top {
            s.push_str("TOP\r\n");
        }
        if o.uidl {
            s.push_str("UIDL\r\n");
        }
        if o.user_command {
            s.push_str("USER\r\n");
        }
        if o.sasl_plain {
            s.push_str("SASL PLAIN\r\n");
        }
        s.push_str("RESP-CODES\r\nAUTH-RESP-CODE\r\n");
        if o.pipelining {
            s.push_str("PIPELINING\r\n");
        }
        if matches!(o.tls, Some(TlsMode::StartTls(_)))
            && !self.tls_active
            && !matches!(self.state, State::Transaction(_))
        {
            s.push_str("STLS\r\n");
        }
        if let Some(d) = o.login_delay {
            s.push_str(&format!("LOGIN-DELAY {d}\r\n"));
        }
        if let Some(e) = &o.expire {
            s.push_str(&format!("EXPIRE {e}\r\n"));
        }
        s.push_str("IMPLEMENTATION popview-demo\r\n.\r\n");
        s.into_bytes()
    }

    fn authorization(
        &mut self,
        keyword: &[u8],
        rest: &[u8],
        args: &[&[u8]],
        io: &mut Conn<'_>,
    ) -> io::Result<Flow> {
        let o = &self.shared.opts;
        let reply: Vec<u8> = match keyword {
            b"CAPA" if o.capa => self.capa(),
            b"QUIT" => {
                io.send(b"+OK popview-demo POP3 server signing off\r\n")?;
                return Ok(Flow::Close);
            }
            b"USER" if o.user_command => match args {
                [name] => {
                    self.state = State::Authorization {
                        user: Some(String::from_utf8_lossy(name).into_owned()),
                    };
                    b"+OK send PASS\r\n".to_vec()
                }
                _ => b"-ERR usage: USER name\r\n".to_vec(),
            },
            b"PASS" if o.user_command => {
                let user = match &mut self.state {
                    State::Authorization { user } => user.take(),
                    _ => None,
                };
                match user {
                    None => b"-ERR send USER first\r\n".to_vec(),
                    // RFC 1939: the password is everything after "PASS ".
                    Some(user) => self.login(&user, |pw| pw.as_bytes() == rest),
                }
            }
            b"APOP" if o.apop => match (args, self.timestamp.clone()) {
                ([name, digest], Some(ts)) => {
                    let name = String::from_utf8_lossy(name).into_owned();
                    let digest = digest.to_vec();
                    self.login(&name, |pw| {
                        let expected = md5_hex(format!("{ts}{pw}").as_bytes());
                        expected.as_bytes().eq_ignore_ascii_case(&digest)
                    })
                }
                (_, None) => b"-ERR APOP not available: no timestamp in the greeting\r\n".to_vec(),
                _ => b"-ERR usage: APOP name digest\r\n".to_vec(),
            },
            b"AUTH" if o.sasl_plain => match args {
                [] => b"+OK supported mechanisms\r\nPLAIN\r\n.\r\n".to_vec(),
                [mech] if mech.eq_ignore_ascii_case(b"PLAIN") => {
                    self.state = State::SaslPlain;
                    b"+ \r\n".to_vec()
                }
                [mech, initial] if mech.eq_ignore_ascii_case(b"PLAIN") => {
                    if *initial == b"=" {
                        self.sasl_plain_response(b"")
                    } else {
                        self.sasl_plain_response(initial)
                    }
                }
                [_] | [_, _] => b"-ERR [AUTH] unsupported SASL mechanism\r\n".to_vec(),
                _ => b"-ERR usage: AUTH mechanism [initial-response]\r\n".to_vec(),
            },
            b"STLS" if matches!(o.tls, Some(TlsMode::StartTls(_))) => {
                if self.tls_active {
                    b"-ERR TLS is already active\r\n".to_vec()
                } else if !args.is_empty() {
                    b"-ERR usage: STLS\r\n".to_vec()
                } else {
                    io.send(b"+OK Begin TLS negotiation\r\n")?;
                    // RFC 2595: everything known before TLS is forgotten.
                    self.state = State::Authorization { user: None };
                    return Ok(Flow::StartTls);
                }
            }
            b"STAT" | b"LIST" | b"UIDL" | b"TOP" | b"RETR" | b"DELE" | b"NOOP" | b"RSET" => {
                b"-ERR not logged in\r\n".to_vec()
            }
            _ => b"-ERR unknown command\r\n".to_vec(),
        };
        io.send(&reply)?;
        Ok(Flow::Continue)
    }

    /// Answer a SASL PLAIN response: base64 of
    /// `authzid NUL authcid NUL passwd`.
    fn sasl_plain_response(&mut self, b64: &[u8]) -> Vec<u8> {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            return b"-ERR [AUTH] malformed base64 in AUTH PLAIN response\r\n".to_vec();
        };
        let parts: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
        let [authzid, authcid, passwd] = parts[..] else {
            return b"-ERR [AUTH] malformed AUTH PLAIN response\r\n".to_vec();
        };
        if !authzid.is_empty() && authzid != authcid {
            return b"-ERR [AUTH] authorization identity not permitted\r\n".to_vec();
        }
        let user = String::from_utf8_lossy(authcid).into_owned();
        let passwd = passwd.to_vec();
        self.login(&user, |pw| pw.as_bytes() == passwd.as_slice())
    }

    /// Check the credentials, take the maildrop lock, enter TRANSACTION.
    fn login(&mut self, user: &str, password_ok: impl Fn(&str) -> bool) -> Vec<u8> {
        self.state = State::Authorization { user: None };
        let known = self
            .shared
            .opts
            .users
            .iter()
            .any(|(u, pw)| u == user && password_ok(pw));
        if !known {
            return b"-ERR [AUTH] invalid user name or password\r\n".to_vec();
        }
        let mut md = lock(&self.shared.maildrop);
        if md.locked_by.is_some() {
            return b"-ERR [IN-USE] maildrop is locked by another session\r\n".to_vec();
        }
        md.locked_by = Some(self.conn);
        self.holds_lock = true;
        let msgs: Vec<SessionMsg> = md
            .entries
            .iter()
            .map(|e| SessionMsg {
                id: e.id,
                uid: e.uid.clone(),
                data: Arc::clone(&e.data),
                deleted: false,
            })
            .collect();
        drop(md);
        let total: usize = msgs.iter().map(|m| m.data.len()).sum();
        let reply = format!(
            "+OK maildrop locked and ready, {} messages ({} octets)\r\n",
            msgs.len(),
            total
        );
        self.state = State::Transaction(msgs);
        reply.into_bytes()
    }

    fn transaction(
        &mut self,
        keyword: &[u8],
        args: &[&[u8]],
        io: &mut Conn<'_>,
    ) -> io::Result<Flow> {
        let opts = &self.shared.opts;
        let capa = self.capa();
        let State::Transaction(msgs) = &mut self.state else {
            return Ok(Flow::Continue);
        };
        let live = |msgs: &[SessionMsg]| {
            msgs.iter()
                .filter(|m| !m.deleted)
                .fold((0usize, 0usize), |(n, size), m| {
                    (n + 1, size + m.data.len())
                })
        };
        match (keyword, args) {
            (b"CAPA", []) if opts.capa => io.send(&capa)?,
            (b"STAT", []) => {
                let (n, size) = live(msgs);
                io.send(format!("+OK {n} {size}\r\n").as_bytes())?;
            }
            (b"LIST", []) => {
                let (n, size) = live(msgs);
                let mut s = format!("+OK {n} messages ({size} octets)\r\n");
                for (i, m) in msgs.iter().enumerate().filter(|(_, m)| !m.deleted) {
                    s.push_str(&format!("{} {}\r\n", i + 1, m.data.len()));
                }
                s.push_str(".\r\n");
                io.send(s.as_bytes())?;
            }
            (b"UIDL", []) if opts.uidl => {
                let mut s = String::from("+OK unique-id listing follows\r\n");
                for (i, m) in msgs.iter().enumerate().filter(|(_, m)| !m.deleted) {
                    s.push_str(&format!("{} {}\r\n", i + 1, m.uid));
                }
                s.push_str(".\r\n");
                io.send(s.as_bytes())?;
            }
            (b"LIST", [n]) => match find(msgs, n) {
                Ok(i) => io.send(format!("+OK {} {}\r\n", i + 1, msgs[i].data.len()).as_bytes())?,
                Err(e) => io.send(&e)?,
            },
            (b"UIDL", [n]) if opts.uidl => match find(msgs, n) {
                Ok(i) => io.send(format!("+OK {} {}\r\n", i + 1, msgs[i].uid).as_bytes())?,
                Err(e) => io.send(&e)?,
            },
            (b"RETR", [n]) => match find(msgs, n) {
                Ok(i) => {
                    let data = Arc::clone(&msgs[i].data);
                    io.send(format!("+OK {} octets\r\n", data.len()).as_bytes())?;
                    send_stuffed(io, &data)?;
                    io.send(b".\r\n")?;
                }
                Err(e) => io.send(&e)?,
            },
            (b"TOP", [n, k]) if opts.top => match (find(msgs, n), parse_num(k)) {
                (Err(e), _) => io.send(&e)?,
                (Ok(_), None) => io.send(b"-ERR invalid line count\r\n")?,
                (Ok(i), Some(k)) => {
                    let data = Arc::clone(&msgs[i].data);
                    io.send(b"+OK top of message follows\r\n")?;
                    if opts.top_streams_body {
                        send_stuffed(io, &data)?;
                    } else {
                        send_stuffed(io, top_part(&data, k))?;
                    }
                    io.send(b".\r\n")?;
                }
            },
            (b"DELE", [n]) => match find(msgs, n) {
                Ok(i) => {
                    msgs[i].deleted = true;
                    io.send(format!("+OK message {} marked for deletion\r\n", i + 1).as_bytes())?;
                }
                Err(e) => io.send(&e)?,
            },
            (b"NOOP", []) => io.send(b"+OK\r\n")?,
            (b"RSET", []) => {
                for m in msgs.iter_mut() {
                    m.deleted = false;
                }
                let (n, size) = live(msgs);
                io.send(format!("+OK maildrop has {n} messages ({size} octets)\r\n").as_bytes())?;
            }
            (b"QUIT", []) => {
                // The UPDATE state.
                let gone: Vec<u64> = msgs.iter().filter(|m| m.deleted).map(|m| m.id).collect();
                let left = {
                    let mut md = lock(&self.shared.maildrop);
                    md.entries.retain(|e| !gone.contains(&e.id));
                    md.entries.len()
                };
                self.release_lock();
                io.send(
                    format!("+OK popview-demo signing off ({left} messages left)\r\n").as_bytes(),
                )?;
                return Ok(Flow::Close);
            }
            (
                b"STAT" | b"LIST" | b"UIDL" | b"TOP" | b"RETR" | b"DELE" | b"NOOP" | b"RSET"
                | b"QUIT" | b"CAPA",
                _,
            ) if known_in_transaction(keyword, opts) => io.send(b"-ERR wrong arguments\r\n")?,
            (b"USER" | b"PASS" | b"APOP" | b"AUTH" | b"STLS", _) => {
                io.send(b"-ERR already logged in\r\n")?;
            }
            _ => io.send(b"-ERR unknown command\r\n")?,
        }
        Ok(Flow::Continue)
    }
}

fn known_in_transaction(keyword: &[u8], opts: &ServerOptions) -> bool {
    match keyword {
        b"UIDL" => opts.uidl,
        b"TOP" => opts.top,
        b"CAPA" => opts.capa,
        _ => true,
    }
}

/// Message index for a message-number argument, or the `-ERR` line.
fn find(msgs: &[SessionMsg], arg: &[u8]) -> Result<usize, Vec<u8>> {
    let Some(n) = parse_num(arg) else {
        return Err(b"-ERR invalid message number\r\n".to_vec());
    };
    let Some(i) = n.checked_sub(1).and_then(|i| usize::try_from(i).ok()) else {
        return Err(b"-ERR no such message\r\n".to_vec());
    };
    match msgs.get(i) {
        None => Err(b"-ERR no such message\r\n".to_vec()),
        Some(m) if m.deleted => Err(format!("-ERR message {n} already deleted\r\n").into_bytes()),
        Some(_) => Ok(i),
    }
}

fn parse_num(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() || arg.len() > 19 || !arg.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(arg).ok()?.parse().ok()
}

/// The header block (with its terminating blank line) and the first `k`
/// body lines of a CRLF-normalised message.
fn top_part(data: &[u8], k: u64) -> &[u8] {
    let Some(sep) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
        return data;
    };
    let body_start = sep + 4;
    let mut end = body_start;
    let mut lines = 0;
    while lines < k && end < data.len() {
        match data[end..].iter().position(|&b| b == b'\n') {
            Some(i) => end += i + 1,
            None => end = data.len(),
        }
        lines += 1;
    }
    &data[..end]
}

/// Write CRLF-normalised `data` with dot-stuffing (RFC 1939 section 3).
fn send_stuffed(io: &mut Conn<'_>, data: &[u8]) -> io::Result<()> {
    let mut start = 0;
    while start < data.len() {
        let end = data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| start + i + 1);
        if data[start] == b'.' {
            io.send(b".")?;
        }
        io.send(&data[start..end])?;
        start = end;
    }
    if !data.is_empty() && !data.ends_with(CRLF) {
        io.send(CRLF)?;
    }
    Ok(())
}

/// Bare LF becomes CRLF; a non-empty message ends with CRLF.
pub fn normalize_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32 + 2);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The first `<...>` of a greeting, as APOP's timestamp.
fn extract_timestamp(greeting: &[u8]) -> Option<String> {
    let start = greeting.iter().position(|&b| b == b'<')?;
    let len = greeting[start..].iter().position(|&b| b == b'>')?;
    let ts = &greeting[start..=start + len];
    std::str::from_utf8(ts).ok().map(str::to_owned)
}

/// Lower-case hex MD5, as APOP wants it.
pub fn md5_hex(data: &[u8]) -> String {
    crate::pop3::transport::hex(&Md5::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_line_ends() {
        assert_eq!(normalize_crlf(b"a\nb\r\nc"), b"a\r\nb\r\nc\r\n");
        assert_eq!(normalize_crlf(b""), b"");
        assert_eq!(normalize_crlf(b"lone\rcr\n"), b"lone\rcr\r\n");
    }

    #[test]
    fn top_counts_body_lines() {
        let m = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        assert_eq!(top_part(m, 0), b"A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(top_part(m, 2), b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
        assert_eq!(top_part(m, 99), &m[..]);
        assert_eq!(top_part(b"A: 1\r\n", 3), b"A: 1\r\n");
    }

    #[test]
    fn md5_matches_rfc_1939_example() {
        assert_eq!(
            md5_hex(b"<1896.697170952@dbc.mtview.ca.us>tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn numbers_are_checked() {
        assert_eq!(parse_num(b"12"), Some(12));
        assert_eq!(parse_num(b""), None);
        assert_eq!(parse_num(b"-1"), None);
        assert_eq!(parse_num(b"99999999999999999999"), None);
        assert_eq!(
            extract_timestamp(b"+OK hi <a.b@c> x"),
            Some("<a.b@c>".into())
        );
        assert_eq!(extract_timestamp(b"+OK hi <a.b@c"), None);
    }
}
