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
//! keeps it until it ends; a second login meanwhile gets `-ERR [IN-USE]`
//! (unless [`ServerOptions::lock_maildrop`] is off). A
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
//!
//! # Files
//! This file: options, hooks, the [`Server`] handle and the accept loop.
//! `conn`: one connection's buffered I/O and its command loop. `session`:
//! the POP3 state machine and the maildrop update at QUIT.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use md5::{Digest as _, Md5};
use native_tls::{Identity, TlsAcceptor};

// The same plain-or-TLS stream the client uses.
use crate::pop3::transport::Stream;
use crate::pop3::uninterrupted::Uninterrupted;

use super::mailbox::Mailbox;

mod conn;
mod session;

use conn::serve;
pub use session::{md5_hex, normalize_crlf};

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
    /// A session locks the maildrop (a second login gets `[IN-USE]`);
    /// `false` lets sessions share it, as Dovecot does by default.
    pub lock_maildrop: bool,
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
            lock_maildrop: true,
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
            .field("lock_maildrop", &self.lock_maildrop)
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
    /// Per login, in order: the maildrop it saw, as `(id, uid)` per message.
    logins: Mutex<Vec<Vec<(u64, String)>>>,
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
            logins: Mutex::new(Vec::new()),
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

    /// The command lines received on connection `conn` (0-based, in
    /// accept order), in order.
    pub fn lines(&self, conn: usize) -> Vec<String> {
        lock(&self.shared.log)
            .iter()
            .filter(|l| l.conn == conn)
            .map(|l| l.line.clone())
            .collect()
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

    /// Every message of the maildrop now as `(id, uid)`: the id names one
    /// message for the server's life (never reused, even when a UID is).
    pub fn ids(&self) -> Vec<(u64, String)> {
        lock(&self.shared.maildrop)
            .entries
            .iter()
            .map(|e| (e.id, e.uid.clone()))
            .collect()
    }

    /// Per successful login, in order: the maildrop as that session saw it
    /// (`(id, uid)` per message, message `n` at index `n - 1`).
    pub fn logins(&self) -> Vec<Vec<(u64, String)>> {
        lock(&self.shared.logins).clone()
    }

    /// Another client deletes the message with this UID (a session holding
    /// the maildrop sees it until it logs in again). False when none has it.
    pub fn remove_message(&self, uid: &str) -> bool {
        let mut md = lock(&self.shared.maildrop);
        let before = md.entries.len();
        md.entries.retain(|e| e.uid != uid);
        md.entries.len() != before
    }

    /// A server that reuses UIDs (RFC 1939 forbids it; real ones do it): the
    /// message with `uid` goes and a new one arrives under the same UID, at
    /// the end of the maildrop. Returns the new message's id.
    pub fn reuse_uid(&self, uid: &str, bytes: impl AsRef<[u8]>) -> u64 {
        let mut md = lock(&self.shared.maildrop);
        md.entries.retain(|e| e.uid != uid);
        md.push(uid.to_string(), bytes.as_ref());
        md.next_id
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
