//! A process stopped and continued (Ctrl-Z then `fg`, a frozen container)
//! or catching a signal (a terminal resize) makes a blocked `recv` with a
//! timeout fail with EINTR on Linux, even with `SA_RESTART` (signal(7)).
//! OpenSSL turned that into a fatal handshake error: CI saw "TLS handshake:
//! Interrupted system call". This test stops and continues its own process
//! while popview's connection is blocked in reads, and shows the connection
//! survives, and that it really was interrupted.
//!
//! It lives in its own test binary, alone, because stopping the process
//! stops every test thread in it.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use popview::pop3::Uninterrupted;
use popview::pop3::transport::{ConnectOptions, Security, TlsMode, Trust, connect};
use support::certs::TestPki;

/// How long the peer stays silent each time, so the reader is blocked in
/// `recv` when the process is stopped.
const SILENCE: Duration = Duration::from_millis(800);

/// At each of `at` (from now), stop this whole process and continue it,
/// from another process (a stopped process can't continue itself).
fn stop_and_continue_at(at: Vec<Duration>) -> JoinHandle<()> {
    let start = Instant::now();
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

/// popview's implicit-TLS connect: the server accepts TCP and stays silent
/// while the process is stopped and continued (the client waits for the
/// ServerHello), completes the handshake, then stays silent again over TLS
/// (the client waits inside OpenSSL for CAPA's answer). The connection
/// must come up, verified, with the capabilities the server sent.
///
/// Whether a stop lands while the client is blocked in a read depends on
/// the machine's load, so the run is repeated (at most five times) until
/// one did; every run must connect and keep the capabilities.
#[test]
fn a_tls_connection_survives_stops_and_continues() {
    let mut retried = 0;
    for _ in 0..5 {
        retried += tls_connect_through_stops();
        if retried >= 1 {
            break;
        }
    }
    assert!(
        retried >= 1,
        "no read was interrupted in five runs, so this test showed nothing"
    );
}

/// One implicit-TLS connect through stops; how many reads were retried.
fn tls_connect_through_stops() -> u64 {
    let pki = TestPki::shared();
    let acceptor = native_tls::TlsAcceptor::new(pki.valid.identity()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        thread::sleep(SILENCE);
        let mut tls = acceptor
            .accept(Uninterrupted::new(tcp))
            .expect("server handshake");
        tls.write_all(b"+OK ready\r\n").unwrap();
        let mut buf = [0u8; 64];
        let n = tls.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"CAPA"), "{:?}", &buf[..n]);
        thread::sleep(SILENCE);
        tls.write_all(b"+OK\r\nUSER\r\n.\r\n").unwrap();
        let _ = tls.read(&mut buf);
    });

    let mut opts = ConnectOptions::new("localhost", port, TlsMode::Implicit);
    opts.ca_file = Some(pki.ca_pem.clone());
    opts.io_timeout = Duration::from_secs(10);
    // Several stops in each silent stretch, so a busy machine that is slow
    // to block the reader still sees at least one land during a read.
    let step = SILENCE / 5;
    let stops = (1..5).chain(6..10).map(|i| step * i).collect();
    let stopper = stop_and_continue_at(stops);
    let conn = connect(&opts, None);
    stopper.join().unwrap();
    let conn = conn.unwrap_or_else(|e| panic!("connect failed: {e}"));
    match &conn.security {
        Security::Implicit(info) => assert_eq!(info.trust, Trust::Verified),
        _ => panic!("not implicit TLS"),
    }
    assert!(conn.client.capabilities().user, "CAPA answer lost");
    let retried = conn.client.stream().interruptions_retried();
    eprintln!("interrupted reads retried: {retried}");
    drop(conn);
    server.join().unwrap();
    retried
}
