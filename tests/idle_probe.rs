//! `Stream::closed_while_idle`, the check an idle session runs every few
//! seconds: a live connection is left alone (and the check never blocks),
//! while a close, a reset, or words the server sends unasked (its reason
//! before an autologout or a shutdown) end the session, over plain TCP and
//! over TLS. The worker-level behaviour is in `worker_dovecot.rs`.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use popview::pop3::Uninterrupted;
use popview::pop3::transport::Stream;
use support::certs::TestPki;

/// What the peer does once the client is connected and idle.
#[derive(Clone, Copy)]
enum Peer {
    Quiet,
    Close,
    Reset,
    Say(&'static [u8]),
}

/// A connected pair: `stream` is the client side, over TLS when `tls`.
/// The server greets, waits for `go`, then acts as `peer` says and holds
/// the connection until `done`.
struct Pair {
    stream: Stream,
    go: mpsc::Sender<()>,
    done: mpsc::Sender<()>,
    server: thread::JoinHandle<()>,
}

fn pair(tls: bool, peer: Peer) -> Pair {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let acceptor = tls.then(|| native_tls::TlsAcceptor::new(TestPki::shared().valid.identity()));
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let raw = tcp.try_clone().unwrap();
        let mut s: Box<dyn ReadWrite> = match acceptor {
            Some(a) => Box::new(a.unwrap().accept(Uninterrupted::new(tcp)).unwrap()),
            None => Box::new(Uninterrupted::new(tcp)),
        };
        s.write_all(b"+OK hello\r\n").unwrap();
        s.flush().unwrap();
        go_rx.recv().unwrap();
        match peer {
            Peer::Quiet => {}
            Peer::Close => {
                drop(s);
                raw.shutdown(Shutdown::Both).unwrap();
                let _ = done_rx.recv();
                return;
            }
            Peer::Reset => {
                socket2::SockRef::from(&raw)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(s);
                drop(raw);
                let _ = done_rx.recv();
                return;
            }
            Peer::Say(words) => {
                s.write_all(words).unwrap();
                s.flush().unwrap();
            }
        }
        let _ = done_rx.recv();
    });
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let tcp = Uninterrupted::new(tcp);
    let mut stream = if tls {
        let tls = TestPki::shared()
            .verifying_connector()
            .connect("localhost", tcp)
            .unwrap();
        Stream::Tls(Box::new(tls))
    } else {
        Stream::Plain(tcp)
    };
    let mut greeting = [0u8; 11];
    stream.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"+OK hello\r\n");
    Pair {
        stream,
        go: go_tx,
        done: done_tx,
        server,
    }
}

trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

/// Runs the check until it reports, or for at most 5 s; every single call
/// must return at once.
fn check_until_reported(stream: &mut Stream) -> Option<String> {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        let t = Instant::now();
        let got = stream.closed_while_idle();
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "the check blocked"
        );
        if got.is_some() {
            return got;
        }
        thread::sleep(Duration::from_millis(20));
    }
    None
}

fn finish(p: Pair) {
    let _ = p.done.send(());
    p.server.join().unwrap();
}

#[test]
fn a_live_idle_connection_is_left_alone_and_still_works() {
    for tls in [false, true] {
        let mut p = pair(tls, Peer::Quiet);
        p.go.send(()).unwrap();
        for _ in 0..10 {
            assert_eq!(p.stream.closed_while_idle(), None, "tls={tls}");
            thread::sleep(Duration::from_millis(20));
        }
        // The socket is blocking again: the check left it as it was.
        p.stream.write_all(b"NOOP\r\n").unwrap();
        finish(p);
    }
}

#[test]
fn a_close_or_a_reset_ends_the_idle_session() {
    for tls in [false, true] {
        for peer in [Peer::Close, Peer::Reset] {
            let mut p = pair(tls, peer);
            p.go.send(()).unwrap();
            let why = check_until_reported(&mut p.stream)
                .unwrap_or_else(|| panic!("not noticed (tls={tls})"));
            assert!(
                why.contains("closed the idle connection") || why.contains("failed while idle"),
                "tls={tls}: {why}"
            );
            finish(p);
        }
    }
}

#[test]
fn words_sent_unasked_end_the_session_and_are_quoted() {
    for tls in [false, true] {
        let mut p = pair(
            tls,
            Peer::Say(b"-ERR Disconnected for inactivity.\r\n* junk after\r\n"),
        );
        p.go.send(()).unwrap();
        let why = check_until_reported(&mut p.stream)
            .unwrap_or_else(|| panic!("not noticed (tls={tls})"));
        assert_eq!(
            why, "the server ended the idle session, saying: -ERR Disconnected for inactivity.",
            "tls={tls}"
        );
        finish(p);
    }
}
