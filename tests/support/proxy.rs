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
//! one-shot cut after exactly n more server→client bytes.

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
    threads: Mutex<Vec<JoinHandle<()>>>,
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
            hs.push(
                thread::Builder::new()
                    .name("proxy-write".into())
                    .spawn(move || writer(dst, rx, dir, id, inner2, done2))
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

fn writer(
    mut dst: TcpStream,
    rx: mpsc::Receiver<(Instant, Vec<u8>)>,
    dir: Dir,
    id: u64,
    inner: Arc<Inner>,
    done: Arc<AtomicUsize>,
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
        if dir == Dir::ServerToClient {
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
