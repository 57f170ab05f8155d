//! A TCP proxy on `127.0.0.1:0` for delay and fault injection.
//!
//! Each accepted connection gets a fresh connection to the target and two
//! pipes (client→server, server→client), each a reader thread and a writer
//! thread joined by a channel. The reader stamps every chunk with
//! `now + delay`; the writer sleeps until that instant, then forwards it.
//! Order is preserved and many chunks can be in flight, so a one-way delay D
//! gives an RTT of about 2·D without capping throughput at one chunk per D.
//!
//! Faults: [`Proxy::cut_all`] closes every live connection now (both
//! sockets, the client sees EOF); [`Proxy::cut_after_server_bytes`] arms a
//! one-shot cut after exactly n more server→client bytes;
//! [`Proxy::cut_on`] arms a one-shot [`CutRule`] matched against the bytes
//! of each connection (e.g. "after the client sent `RETR `, let 2,000
//! server bytes through, then cut").
//!
//! Every connection's bytes in both directions are recorded (in order of
//! acceptance), so a test can count the commands a client sent over a
//! plaintext connection ([`Proxy::count_client_lines`]).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub struct Proxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
    accept: Option<JoinHandle<()>>,
}

struct Inner {
    target: SocketAddr,
    delay: Duration,
    stop: AtomicBool,
    accepted: AtomicUsize,
    next_id: AtomicU64,
    live: Mutex<Vec<Conn>>,
    /// Server→client bytes still allowed before the armed cut.
    cut_budget: Mutex<Option<u64>>,
    /// The armed [`CutRule`] and the connection that claimed it.
    rule: Mutex<Option<(CutRule, Option<u64>)>>,
    /// How many [`CutRule`]s have fired.
    rules_fired: AtomicUsize,
    /// Per connection (index = id): the bytes forwarded each way.
    records: Mutex<Vec<Arc<Mutex<Record>>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A one-shot cut matched against one connection's bytes. The first
/// connection whose client→server stream contains `after_client` (if set)
/// claims the rule; from then on, once its server→client stream (counted
/// from the claim) contains `after_server` (if set), exactly
/// `then_server_bytes` more server bytes are forwarded and the connection is
/// cut (both sockets). Needles only make sense on plaintext connections.
#[derive(Clone, Debug, Default)]
pub struct CutRule {
    pub after_client: Option<Vec<u8>>,
    pub after_server: Option<Vec<u8>>,
    pub then_server_bytes: u64,
}

impl CutRule {
    /// Cut `then` server bytes after the client sent `needle`.
    pub fn after_client_sends(needle: &str, then: u64) -> CutRule {
        CutRule {
            after_client: Some(needle.as_bytes().to_vec()),
            after_server: None,
            then_server_bytes: then,
        }
    }

    /// Cut right after the server sent `needle` (with no client condition).
    pub fn after_server_sends(needle: &str) -> CutRule {
        CutRule {
            after_client: None,
            after_server: Some(needle.as_bytes().to_vec()),
            then_server_bytes: 0,
        }
    }
}

/// What one connection carried.
#[derive(Default)]
struct Record {
    client: Vec<u8>,
    server: Vec<u8>,
    /// Server offset where this connection claimed the rule.
    claimed_at: Option<usize>,
    /// Absolute server offset at which to cut, once known.
    cut_at: Option<usize>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(from);
    }
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p + needle.len())
}

struct Conn {
    id: u64,
    client: TcpStream,
    server: TcpStream,
}

impl Conn {
    fn cut(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Dir {
    ClientToServer,
    ServerToClient,
}

impl Proxy {
    /// A proxy to `target` without delay.
    pub fn start(target: SocketAddr) -> Proxy {
        Proxy::with_delay(target, Duration::ZERO)
    }

    /// A proxy to `target` holding every chunk `one_way` in each direction
    /// (RTT ≈ 2 × `one_way`).
    pub fn with_delay(target: SocketAddr, one_way: Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            target,
            delay: one_way,
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            live: Mutex::new(Vec::new()),
            cut_budget: Mutex::new(None),
            rule: Mutex::new(None),
            rules_fired: AtomicUsize::new(0),
            records: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
        });
        let inner2 = Arc::clone(&inner);
        let accept = thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || accept_loop(listener, inner2))
            .expect("spawn proxy accept thread");
        Proxy {
            addr,
            inner,
            accept: Some(accept),
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.inner.accepted.load(Ordering::SeqCst)
    }

    /// Connections currently open.
    pub fn live_connections(&self) -> usize {
        self.inner.live.lock().unwrap().len()
    }

    /// Closes every live connection now, both sides.
    pub fn cut_all(&self) {
        for c in self.inner.live.lock().unwrap().iter() {
            c.cut();
        }
    }

    /// One-shot: after exactly `n` more bytes have been forwarded from
    /// server to client (counted from this call, over all connections),
    /// the connection that forwarded the n-th byte is cut. Later
    /// connections are not affected. `n = 0` cuts at the next server byte.
    pub fn cut_after_server_bytes(&self, n: u64) {
        *self.inner.cut_budget.lock().unwrap() = Some(n);
    }

    /// Whether an armed [`Proxy::cut_after_server_bytes`] has not fired yet.
    pub fn cut_pending(&self) -> bool {
        self.inner.cut_budget.lock().unwrap().is_some()
    }

    /// Arms a one-shot [`CutRule`] (replacing an unfired one).
    pub fn cut_on(&self, rule: CutRule) {
        *self.inner.rule.lock().unwrap() = Some((rule, None));
    }

    /// Disarms an unfired [`CutRule`]; returns whether one was armed.
    pub fn disarm(&self) -> bool {
        self.inner.rule.lock().unwrap().take().is_some()
    }

    /// How many [`CutRule`]s have fired so far.
    pub fn rules_fired(&self) -> usize {
        self.inner.rules_fired.load(Ordering::SeqCst)
    }

    /// Connections that reached the target, in order of acceptance.
    pub fn recorded(&self) -> usize {
        self.inner.records.lock().unwrap().len()
    }

    /// Client→server bytes of connection `i` so far.
    pub fn client_bytes(&self, i: usize) -> Vec<u8> {
        self.inner.records.lock().unwrap()[i]
            .lock()
            .unwrap()
            .client
            .clone()
    }

    /// Server→client bytes of connection `i` forwarded so far.
    pub fn server_bytes(&self, i: usize) -> Vec<u8> {
        self.inner.records.lock().unwrap()[i]
            .lock()
            .unwrap()
            .server
            .clone()
    }

    /// Client lines (over all connections) that start with `prefix`:
    /// counts commands on plaintext connections.
    pub fn count_client_lines(&self, prefix: &str) -> usize {
        let records = self.inner.records.lock().unwrap().clone();
        records
            .iter()
            .map(|r| {
                r.lock()
                    .unwrap()
                    .client
                    .split(|&b| b == b'\n')
                    .filter(|l| l.starts_with(prefix.as_bytes()))
                    .count()
            })
            .sum()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        self.cut_all();
        let threads = std::mem::take(&mut *self.inner.threads.lock().unwrap());
        for h in threads {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    for client in listener.incoming() {
        if inner.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        inner.accepted.fetch_add(1, Ordering::SeqCst);
        let Ok(server) = TcpStream::connect_timeout(&inner.target, Duration::from_secs(5)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let id = inner.next_id.fetch_add(1, Ordering::SeqCst);
        let record = Arc::new(Mutex::new(Record::default()));
        {
            let mut records = inner.records.lock().unwrap();
            debug_assert_eq!(records.len() as u64, id);
            records.push(Arc::clone(&record));
        }
        let conn = Conn {
            id,
            client: client.try_clone().expect("clone"),
            server: server.try_clone().expect("clone"),
        };
        inner.live.lock().unwrap().push(conn);
        let done = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for (src, dst, dir) in [
            (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
                Dir::ClientToServer,
            ),
            (server, client, Dir::ServerToClient),
        ] {
            let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
            let delay = inner.delay;
            hs.push(
                thread::Builder::new()
                    .name("proxy-read".into())
                    .spawn(move || reader(src, tx, delay))
                    .expect("spawn"),
            );
            let inner2 = Arc::clone(&inner);
            let done2 = Arc::clone(&done);
            let record2 = Arc::clone(&record);
            hs.push(
                thread::Builder::new()
                    .name("proxy-write".into())
                    .spawn(move || writer(dst, rx, dir, id, inner2, done2, record2))
                    .expect("spawn"),
            );
        }
        let mut threads = inner.threads.lock().unwrap();
        threads.retain(|h| !h.is_finished());
        threads.extend(hs);
    }
}

fn reader(mut src: TcpStream, tx: mpsc::Sender<(Instant, Vec<u8>)>, delay: Duration) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match src.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Client→server: record the chunk and let this connection claim an armed
/// rule whose client needle now appears. Done before forwarding, so the
/// server's answer can't overtake the claim.
fn client_chunk(inner: &Inner, id: u64, record: &Mutex<Record>, data: &[u8]) {
    let mut rule = inner.rule.lock().unwrap();
    let mut rec = record.lock().unwrap();
    let from = rec.client.len();
    rec.client.extend_from_slice(data);
    if let Some((r, owner @ None)) = rule.as_mut()
        && let Some(needle) = &r.after_client
        && find(&rec.client, needle, from.saturating_sub(needle.len())).is_some()
    {
        *owner = Some(id);
        rec.claimed_at = Some(rec.server.len());
    }
}

/// Server→client: how many bytes of `data` to forward before cutting
/// (`None`: forward it all, no cut). Records what is forwarded.
fn server_chunk(inner: &Inner, id: u64, record: &Mutex<Record>, data: &[u8]) -> Option<usize> {
    let mut rule = inner.rule.lock().unwrap();
    let mut rec = record.lock().unwrap();
    let base = rec.server.len();
    rec.server.extend_from_slice(data);
    let mut cut = None;
    if let Some((r, owner)) = rule.as_mut() {
        if r.after_client.is_none() && owner.is_none() {
            // No client condition: whichever connection sees the server
            // needle first (or the first server byte) claims the rule.
            let hit = match &r.after_server {
                Some(n) => find(&rec.server, n, base.saturating_sub(n.len())).is_some(),
                None => true,
            };
            if hit {
                *owner = Some(id);
                rec.claimed_at = Some(base);
            }
        }
        if *owner == Some(id) && rec.cut_at.is_none() {
            let claimed = rec.claimed_at.unwrap_or(0);
            let end = match &r.after_server {
                Some(n) => find(&rec.server, n, claimed.max(base.saturating_sub(n.len()))),
                None => Some(claimed),
            };
            rec.cut_at = end.map(|e| e + r.then_server_bytes as usize);
        }
        if *owner == Some(id)
            && let Some(at) = rec.cut_at
            && at <= base + data.len()
        {
            let keep = at.saturating_sub(base);
            rec.server.truncate(base + keep);
            cut = Some(keep);
            *rule = None;
            inner.rules_fired.fetch_add(1, Ordering::SeqCst);
        }
    }
    cut
}

fn writer(
    mut dst: TcpStream,
    rx: mpsc::Receiver<(Instant, Vec<u8>)>,
    dir: Dir,
    id: u64,
    inner: Arc<Inner>,
    done: Arc<AtomicUsize>,
    record: Arc<Mutex<Record>>,
) {
    let cut_this = |inner: &Inner| {
        if let Some(c) = inner.live.lock().unwrap().iter().find(|c| c.id == id) {
            c.cut();
        }
    };
    for (due, data) in rx {
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        let mut data = &data[..];
        let mut cut_now = false;
        match dir {
            Dir::ClientToServer => client_chunk(&inner, id, &record, data),
            Dir::ServerToClient => {
                if let Some(keep) = server_chunk(&inner, id, &record, data) {
                    data = &data[..keep];
                    cut_now = true;
                }
            }
        }
        if dir == Dir::ServerToClient && !cut_now {
            let mut budget = inner.cut_budget.lock().unwrap();
            if let Some(rem) = *budget {
                if data.len() as u64 >= rem {
                    data = &data[..rem as usize];
                    cut_now = true;
                    *budget = None;
                } else {
                    *budget = Some(rem - data.len() as u64);
                }
            }
        }
        if dst.write_all(data).is_err() {
            break;
        }
        if cut_now {
            let _ = dst.flush();
            cut_this(&inner);
            break;
        }
    }
    // Propagate the half-close (or finish the cut).
    let _ = dst.shutdown(Shutdown::Write);
    if done.fetch_add(1, Ordering::SeqCst) == 1 {
        inner.live.lock().unwrap().retain(|c| c.id != id);
    }
}
