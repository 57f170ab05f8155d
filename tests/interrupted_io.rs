//! A process stopped and continued (Ctrl-Z then `fg`, a frozen container)
//! or catching a signal (a terminal resize) makes a blocked `recv` with a
//! timeout fail with EINTR on Linux, even with `SA_RESTART` (signal(7)).
//! OpenSSL turned that into a fatal handshake error: CI saw "TLS handshake:
//! Interrupted system call". These tests stop and continue their own process
//! while a read is blocked, and show that popview's connection survives.
//!
//! They live in their own test binary because stopping the process stops
//! every test thread in it.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use popview::pop3::transport::{ConnectOptions, Security, TlsMode, Trust, connect};
use support::certs::TestPki;

/// How long the peer stays silent, so the reader is surely blocked in
/// `recv` when the process is stopped.
const SILENCE: Duration = Duration::from_millis(600);

/// At each of `at` (from now), stop this whole process and continue it,
/// from another process (a stopped process can't continue itself).
fn stop_and_continue_at(at: &[Duration]) -> JoinHandle<()> {
    let start = Instant::now();
    let at = at.to_vec();
    thread::spawn(move || {
        for when in at {
            thread::sleep(when.saturating_sub(start.elapsed()));
            let pid = std::process::id();
            let status = Command::new("sh")
                .arg("-c")
                .arg(format!("kill -STOP {pid}; kill -CONT {pid}"))
                .status()
                .expect("run sh");
            assert!(status.success(), "kill -STOP/-CONT failed: {status}");
        }
    })
}

/// The effect being guarded against, shown on a bare socket: without this
/// the other test could pass only because the kernel did not interrupt.
#[test]
fn a_stop_and_continue_interrupts_a_bare_socket_read() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        thread::sleep(SILENCE * 2);
        let _ = s.write_all(b"+OK late\r\n");
    });
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let stopper = stop_and_continue_at(&[SILENCE / 3]);
    let got = tcp.read(&mut [0u8; 16]);
    stopper.join().unwrap();
    server.join().unwrap();
    let e = got.expect_err("the read should have been interrupted");
    assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "{e}");
}

/// popview's implicit-TLS connect: the server accepts TCP and stays silent
/// while the process is stopped and continued, completes the handshake,
/// then stays silent again over TLS (a stop during a read inside OpenSSL)
/// before answering CAPA. The connection must come up, verified, with the
/// capabilities the server sent.
#[test]
fn a_tls_handshake_survives_a_stop_and_continue() {
    let pki = TestPki::shared();
    let acceptor = native_tls::TlsAcceptor::new(pki.valid.identity()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // Silent until the client has been stopped and continued while it
        // waits for the ServerHello.
        thread::sleep(SILENCE);
        let mut tls = acceptor
            .accept(popview::pop3::Uninterrupted(tcp))
            .expect("server handshake");
        tls.write_all(b"+OK ready\r\n").unwrap();
        // CAPA, answered with a minimal list, then wait for the client to go.
        let mut buf = [0u8; 64];
        let n = tls.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"CAPA"), "{:?}", &buf[..n]);
        thread::sleep(SILENCE);
        tls.write_all(b"+OK\r\nUSER\r\n.\r\n").unwrap();
        let _ = tls.read(&mut buf);
    });

    let mut opts = ConnectOptions::new("localhost", port, TlsMode::Implicit);
    opts.ca_file = Some(pki.ca_pem.clone());
    opts.io_timeout = Duration::from_secs(5);
    // Once during the handshake, once while CAPA's answer is awaited.
    let stopper = stop_and_continue_at(&[SILENCE / 3, SILENCE + SILENCE / 2]);
    let conn = connect(&opts, None);
    stopper.join().unwrap();
    let conn = conn.unwrap_or_else(|e| panic!("connect failed: {e}"));
    match &conn.security {
        Security::Implicit(info) => assert_eq!(info.trust, Trust::Verified),
        _ => panic!("not implicit TLS"),
    }
    assert!(conn.client.capabilities().user, "CAPA answer lost");
    drop(conn);
    server.join().unwrap();
}
