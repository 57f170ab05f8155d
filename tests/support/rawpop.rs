//! Raw POP3 over std sockets, with no popview code: a tiny line-level session
//! used by the harness and smoke tests, and the two benchmark baselines
//! ([`raw_pipelined_top_all`], [`one_at_a_time_top_all`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

pub use popview::pop3::Uninterrupted;

/// A test socket: EINTR (a stopped-and-continued machine) is retried
/// below TLS, as popview itself does.
pub type Tcp = Uninterrupted<TcpStream>;

/// Read/write timeout of the sockets made here, so a broken test fails
/// instead of hanging.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A line-level POP3 session over any stream. Panics on I/O errors and EOF
/// (it is for tests).
pub struct Session<S: Read + Write> {
    r: BufReader<S>,
}

impl<S: Read + Write> Session<S> {
    pub fn new(stream: S) -> Self {
        Session {
            r: BufReader::new(stream),
        }
    }

    /// Reads one line; returns it without its CRLF (lossy UTF-8).
    /// Panics on EOF.
    pub fn read_line(&mut self) -> String {
        self.try_read_line()
            .unwrap_or_else(|e| panic!("POP3 read failed: {e}"))
            .unwrap_or_else(|| panic!("POP3 server closed the connection"))
    }

    /// Reads one line; `Ok(None)` on a clean EOF.
    pub fn try_read_line(&mut self) -> std::io::Result<Option<String>> {
        let mut buf = Vec::new();
        self.r.read_until(b'\n', &mut buf)?;
        if buf.is_empty() {
            return Ok(None);
        }
        if buf.ends_with(b"\n") {
            buf.pop();
        }
        if buf.ends_with(b"\r") {
            buf.pop();
        }
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    /// Writes `line` followed by CRLF and flushes.
    pub fn send(&mut self, line: &str) {
        let w = self.r.get_mut();
        w.write_all(line.as_bytes())
            .and_then(|_| w.write_all(b"\r\n"))
            .and_then(|_| w.flush())
            .unwrap_or_else(|e| panic!("POP3 write of {line:?} failed: {e}"));
    }

    /// Sends a command, returns the status line.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(line);
        self.read_line()
    }

    /// Sends a command and asserts `+OK`; returns the status line.
    pub fn ok(&mut self, line: &str) -> String {
        let st = self.cmd(line);
        assert!(st.starts_with("+OK"), "{line:?} got {st:?}");
        st
    }

    /// Reads the body of a multi-line answer up to the lone ".", with the
    /// dot-stuffing removed.
    pub fn read_multiline(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let l = self.read_line();
            if l == "." {
                return lines;
            }
            match l.strip_prefix('.') {
                Some(rest) => lines.push(rest.to_string()),
                None => lines.push(l),
            }
        }
    }

    /// Sends a multi-line command, asserts `+OK`, returns the body lines.
    pub fn multi(&mut self, line: &str) -> Vec<String> {
        self.ok(line);
        self.read_multiline()
    }

    /// USER + PASS, asserting `+OK` for both.
    pub fn login(&mut self, user: &str, pass: &str) {
        self.ok(&format!("USER {user}"));
        self.ok(&format!("PASS {pass}"));
    }

    /// `UIDL` → the unique ids in message order.
    pub fn uidl(&mut self) -> Vec<String> {
        self.multi("UIDL")
            .iter()
            .map(|l| {
                let mut it = l.split(' ');
                let _n = it.next();
                it.next().expect("UIDL line has an id").to_string()
            })
            .collect()
    }

    /// `STAT` → (count, octets).
    pub fn stat(&mut self) -> (usize, u64) {
        let st = self.ok("STAT");
        let mut it = st.split(' ').skip(1);
        let n = it.next().and_then(|x| x.parse().ok());
        let sz = it.next().and_then(|x| x.parse().ok());
        match (n, sz) {
            (Some(n), Some(sz)) => (n, sz),
            _ => panic!("bad STAT answer {st:?}"),
        }
    }

    /// Sends QUIT and asserts `+OK`.
    pub fn quit(mut self) {
        self.ok("QUIT");
    }

    pub fn get_mut(&mut self) -> &mut S {
        self.r.get_mut()
    }

    /// The stream back; asserts no read-ahead bytes would be lost.
    pub fn into_inner(self) -> S {
        assert!(
            self.r.buffer().is_empty(),
            "unread bytes left in the buffer: {:?}",
            String::from_utf8_lossy(self.r.buffer())
        );
        self.r.into_inner()
    }
}

/// TCP connection with timeouts and TCP_NODELAY.
pub fn tcp(addr: impl ToSocketAddrs) -> Tcp {
    let addr: SocketAddr = addr
        .to_socket_addrs()
        .expect("address")
        .next()
        .expect("an address");
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    Uninterrupted::new(s)
}

/// Plain session; the greeting is read and checked.
pub fn connect_plain(addr: impl ToSocketAddrs) -> (Session<Tcp>, String) {
    let mut s = Session::new(tcp(addr));
    let greeting = s.read_line();
    assert!(greeting.starts_with("+OK"), "greeting {greeting:?}");
    (s, greeting)
}

/// Implicit TLS (POP3S) with `connector`, verifying `localhost`.
pub fn connect_pop3s(
    addr: impl ToSocketAddrs,
    connector: &native_tls::TlsConnector,
) -> (Session<native_tls::TlsStream<Tcp>>, String) {
    let tls = connector
        .connect("localhost", tcp(addr))
        .unwrap_or_else(|e| panic!("TLS handshake: {e}"));
    let mut s = Session::new(tls);
    let greeting = s.read_line();
    assert!(greeting.starts_with("+OK"), "greeting {greeting:?}");
    (s, greeting)
}

/// Plain connection upgraded with STLS, verifying `localhost`.
pub fn connect_stls(
    addr: impl ToSocketAddrs,
    connector: &native_tls::TlsConnector,
) -> Session<native_tls::TlsStream<Tcp>> {
    let (mut s, _greeting) = connect_plain(addr);
    s.ok("STLS");
    let tcp = s.into_inner();
    let tls = connector
        .connect("localhost", tcp)
        .unwrap_or_else(|e| panic!("TLS handshake after STLS: {e}"));
    Session::new(tls)
}

const TERMINATOR: &[u8] = b"\r\n.\r\n";

/// Counts multi-line terminators (`\r\n.\r\n`) across chunk boundaries.
pub struct TerminatorCounter {
    tail: Vec<u8>,
    count: usize,
}

impl Default for TerminatorCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl TerminatorCounter {
    pub fn new() -> Self {
        // A leading CRLF so a terminator right at the start of the stream
        // (an empty body) would still be found.
        TerminatorCounter {
            tail: b"\r\n".to_vec(),
            count: 0,
        }
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        let mut buf = std::mem::take(&mut self.tail);
        let old = buf.len();
        buf.extend_from_slice(chunk);
        self.count += buf
            .windows(TERMINATOR.len())
            .enumerate()
            .filter(|(i, w)| i + TERMINATOR.len() > old && *w == TERMINATOR)
            .count();
        let keep = buf.len().min(TERMINATOR.len() - 1);
        self.tail = buf[buf.len() - keep..].to_vec();
    }
}

fn raw_login(addr: impl ToSocketAddrs, user: &str, pass: &str) -> Session<Tcp> {
    let (mut s, _) = connect_plain(addr);
    s.login(user, pass);
    s
}

/// Login over plain TCP, then all of `TOP i 0` for i in 1..=n written in
/// chunks by a writer thread while this thread counts `\r\n.\r\n`
/// terminators (no parsing). Returns the time from connect to the last
/// terminator. Asserts exactly n answers arrived.
pub fn raw_pipelined_top_all(
    addr: impl ToSocketAddrs,
    user: &str,
    pass: &str,
    n: usize,
) -> Duration {
    const CHUNK: usize = 100;
    let start = Instant::now();
    let s = raw_login(addr, user, pass);
    let mut stream = s.into_inner();
    let mut writer = Uninterrupted::new(stream.get_ref().try_clone().expect("clone socket"));
    let w = thread::spawn(move || {
        let mut i = 1;
        while i <= n {
            let end = (i + CHUNK - 1).min(n);
            let mut buf = String::with_capacity(CHUNK * 12);
            for k in i..=end {
                buf.push_str(&format!("TOP {k} 0\r\n"));
            }
            writer.write_all(buf.as_bytes()).expect("write TOP batch");
            i = end + 1;
        }
        writer
    });
    let mut counter = TerminatorCounter::new();
    let mut buf = vec![0u8; 64 * 1024];
    while counter.count < n {
        let k = stream
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("read after {} answers: {e}", counter.count));
        assert!(k > 0, "EOF after {} of {n} answers", counter.count);
        counter.feed(&buf[..k]);
    }
    let elapsed = start.elapsed();
    assert_eq!(counter.count, n, "more terminators than TOP commands");
    let mut writer = w.join().expect("writer thread");
    writer.write_all(b"QUIT\r\n").expect("QUIT");
    let mut s = Session::new(stream);
    let bye = s.read_line();
    assert!(bye.starts_with("+OK"), "QUIT got {bye:?}");
    elapsed
}

/// Login over plain TCP, then `TOP i 0` one at a time, each waiting for its
/// answer (one round trip per message, as NeoMutt does). Returns the time
/// from connect to the last answer; asserts n `+OK` answers.
pub fn one_at_a_time_top_all(
    addr: impl ToSocketAddrs,
    user: &str,
    pass: &str,
    n: usize,
) -> Duration {
    let start = Instant::now();
    let mut s = raw_login(addr, user, pass);
    let mut answers = 0;
    for i in 1..=n {
        s.ok(&format!("TOP {i} 0"));
        let lines = s.read_multiline();
        assert!(!lines.is_empty(), "TOP {i} 0 returned no header lines");
        answers += 1;
    }
    let elapsed = start.elapsed();
    assert_eq!(answers, n);
    s.quit();
    elapsed
}
