//! Hostile TLS and STARTTLS peers (SECURITY-CASES A1-A7, B8, B9, G39): every case
//! asserts on what the client really sent, from the server's transcript and
//! log, and where the raw wire matters, from a recording TCP proxy.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use popview::demo::{Action, Ctx, Mailbox, Server, ServerOptions, TlsMode as ServerTls};
use popview::pop3::transport::{ConnectOptions, Connection, Security, TlsMode, Trust, connect};
use popview::pop3::{AuthMethod, Credentials, ErrorKind};
use popview::sanitize::is_forbidden;
use popview::worker::WorkerConfig;
use popview::worker::api::{CertTrust, Event, TlsState};
use support::certs::{CertKey, TestPki};
use support::silent::silent_listener;
use support::worker::Harness;

type Mem = popview::worker::persist::Memory;

fn pki() -> &'static TestPki {
    TestPki::shared()
}

fn server_with(cert: &CertKey, implicit: bool, opts: ServerOptions) -> Server {
    let id = cert.identity();
    let tls = if implicit {
        ServerTls::Implicit(id)
    } else {
        ServerTls::StartTls(id)
    };
    Server::start(
        Mailbox::generated(3),
        ServerOptions {
            tls: Some(tls),
            ..opts
        },
    )
    .unwrap()
}

fn server(cert: &CertKey, implicit: bool) -> Server {
    server_with(cert, implicit, ServerOptions::default())
}

fn hooked(cert: &CertKey, hook: impl Fn(&Ctx<'_>) -> Action + Send + Sync + 'static) -> Server {
    server_with(
        cert,
        false,
        ServerOptions {
            hook: Some(Arc::new(hook)),
            ..ServerOptions::default()
        },
    )
}

fn opts_for(port: u16, mode: TlsMode) -> ConnectOptions {
    let mut o = ConnectOptions::new("localhost", port, mode);
    o.ca_file = Some(pki().ca_pem.clone());
    o.io_timeout = Duration::from_secs(5);
    o.connect_timeout = Duration::from_secs(5);
    o
}

fn opts(server: &Server, mode: TlsMode) -> ConnectOptions {
    opts_for(server.addr().port(), mode)
}

fn connect_err(o: &ConnectOptions) -> popview::pop3::Error {
    match connect(o, None) {
        Ok(_) => panic!("connected although it must fail"),
        Err(e) => e,
    }
}

/// No credential command in any connection's log or raw transcript.
fn assert_no_credentials(server: &Server) {
    for l in server.log() {
        let up = l.line.to_ascii_uppercase();
        for bad in ["USER", "PASS", "APOP", "AUTH"] {
            assert!(
                !up.starts_with(bad),
                "credential command sent: {:?}",
                l.line
            );
        }
    }
    for c in 0..server.connections() {
        let t = String::from_utf8_lossy(&server.transcript(c)).to_ascii_uppercase();
        for bad in ["USER ", "PASS ", "APOP ", "AUTH "] {
            assert!(
                !t.contains(bad),
                "credential bytes in transcript {c}: {t:?}"
            );
        }
    }
}

/// Waits until the server has closed every connection it got: its
/// transcripts then hold all it will ever read.
fn settle(server: &Server) {
    support::wait_server_closed(server.addr().port());
}

fn cert_hint(msg: &str) -> bool {
    msg.contains("--ca-file") && msg.contains("pin")
}

// ---------------------------------------------------------------------------
// A5: certificates, implicit TLS and STLS.

fn bad_certificate(cert: &CertKey, what: &str) {
    for implicit in [true, false] {
        let server = server(cert, implicit);
        let mode = if implicit {
            TlsMode::Implicit
        } else {
            TlsMode::StartTls
        };
        let e = connect_err(&opts(&server, mode));
        assert_eq!(e.kind, ErrorKind::Tls, "{what} ({mode:?}): {e:?}");
        assert!(
            cert_hint(&e.message),
            "{what}: no advice in {:?}",
            e.message
        );
        settle(&server);
        assert_eq!(server.connections(), 1);
        // Implicit: nothing decrypted at all. STLS: the two plaintext
        // commands and not one byte more.
        let expected: &[u8] = if implicit { b"" } else { b"CAPA\r\nSTLS\r\n" };
        assert_eq!(
            server.transcript(0),
            expected,
            "{what} ({mode:?}): the client sent more"
        );
        assert_no_credentials(&server);
    }
}

#[test]
fn a5_self_signed_certificate_fails_closed() {
    bad_certificate(&pki().self_signed, "self-signed");
}

#[test]
fn a5_unknown_root_fails_closed() {
    bad_certificate(&pki().unknown_ca, "unknown root");
}

#[test]
fn a5_wrong_host_name_fails_closed() {
    bad_certificate(&pki().wrong_host, "wrong host");
}

#[test]
fn a5_expired_certificate_fails_closed() {
    bad_certificate(&pki().expired, "expired");
}

#[test]
fn a5_without_the_ca_the_valid_certificate_is_refused_too() {
    let server = server(&pki().valid, true);
    let mut o = opts(&server, TlsMode::Implicit);
    o.ca_file = None;
    let e = connect_err(&o);
    assert_eq!(e.kind, ErrorKind::Tls);
    settle(&server);
    assert!(server.transcript(0).is_empty());
}

#[test]
fn a5_valid_certificate_works_by_name_and_by_ip() {
    for implicit in [true, false] {
        let server = server(&pki().valid, implicit);
        for host in ["localhost", "127.0.0.1"] {
            let mode = if implicit {
                TlsMode::Implicit
            } else {
                TlsMode::StartTls
            };
            let mut o = opts(&server, mode);
            o.host = host.into();
            let Connection {
                mut client,
                security,
            } = connect(&o, None).unwrap_or_else(|e| panic!("{host} {mode:?}: {e:?}"));
            let info = match (&security, implicit) {
                (Security::Implicit(i), true) | (Security::StartTls(i), false) => i.clone(),
                other => panic!("wrong security {other:?}"),
            };
            assert_eq!(info.trust, Trust::Verified);
            assert_eq!(
                info.fingerprint_sha256,
                pki().valid.sha256_fingerprint_hex()
            );
            client
                .login(&Credentials::new("demo", "demo"), AuthMethod::Auto, false)
                .unwrap();
            assert_eq!(client.stat().unwrap().0, 3);
            client.quit().unwrap();
        }
    }
}

fn pin_of(cert: &CertKey) -> [u8; 32] {
    popview::pop3::transport::parse_fingerprint(&cert.sha256_fingerprint_hex()).unwrap()
}

#[test]
fn a5_pinned_self_signed_certificate_is_accepted_as_pinned() {
    for implicit in [true, false] {
        let server = server(&pki().self_signed, implicit);
        let mode = if implicit {
            TlsMode::Implicit
        } else {
            TlsMode::StartTls
        };
        let mut o = opts(&server, mode);
        o.ca_file = None;
        o.pin_sha256 = Some(pin_of(&pki().self_signed));
        let conn = connect(&o, None).unwrap();
        let info = match conn.security {
            Security::Implicit(i) | Security::StartTls(i) => i,
            Security::Plain => panic!("plain"),
        };
        assert_eq!(info.trust, Trust::Pinned);
        assert_eq!(
            info.fingerprint_sha256,
            pki().self_signed.sha256_fingerprint_hex()
        );
    }
}

#[test]
fn a5_wrong_pin_fails_before_any_command_over_tls() {
    for implicit in [true, false] {
        let server = server(&pki().self_signed, implicit);
        let mode = if implicit {
            TlsMode::Implicit
        } else {
            TlsMode::StartTls
        };
        let mut o = opts(&server, mode);
        // The pin of another certificate (the valid one); even a CA-valid
        // certificate must not pass when a pin is set.
        o.pin_sha256 = Some(pin_of(&pki().valid));
        let e = connect_err(&o);
        assert_eq!(e.kind, ErrorKind::Tls, "{e:?}");
        assert!(
            e.message.contains("pinned") && e.message.contains("update the pin"),
            "{}",
            e.message
        );
        settle(&server);
        let expected: &[u8] = if implicit { b"" } else { b"CAPA\r\nSTLS\r\n" };
        assert_eq!(server.transcript(0), expected);
        assert_no_credentials(&server);
    }
    // A pin also overrides a CA-valid chain.
    let server = server(&pki().valid, true);
    let mut o = opts(&server, TlsMode::Implicit);
    o.pin_sha256 = Some(pin_of(&pki().self_signed));
    assert_eq!(connect_err(&o).kind, ErrorKind::Tls);
}

#[test]
fn a5_accept_invalid_certs_is_reported_as_unverified() {
    let server = server(&pki().expired, true);
    let mut o = opts(&server, TlsMode::Implicit);
    o.ca_file = None;
    o.accept_invalid_certs = true;
    let conn = connect(&o, None).unwrap();
    match conn.security {
        Security::Implicit(i) => {
            assert_eq!(i.trust, Trust::Unverified);
            assert_eq!(i.fingerprint_sha256, pki().expired.sha256_fingerprint_hex());
        }
        other => panic!("{other:?}"),
    }
}

/// What the raw legacy-TLS server saw.
#[derive(Debug)]
struct LegacyOutcome {
    handshake: Result<(), String>,
    plaintext: Vec<u8>,
}

/// A one-connection implicit-TLS server limited to TLS 1.0 (and 1.1).
fn legacy_tls_server(acceptor: native_tls::TlsAcceptor) -> (SocketAddr, JoinHandle<LegacyOutcome>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let h = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        match acceptor.accept(popview::pop3::Uninterrupted::new(tcp)) {
            Ok(mut tls) => {
                let _ = tls.write_all(b"+OK legacy\r\n");
                let _ = tls.flush();
                let mut plaintext = Vec::new();
                let _ = tls.read_to_end(&mut plaintext);
                LegacyOutcome {
                    handshake: Ok(()),
                    plaintext,
                }
            }
            Err(e) => LegacyOutcome {
                handshake: Err(e.to_string()),
                plaintext: Vec::new(),
            },
        }
    });
    (addr, h)
}

#[test]
fn a5_tls_1_0_and_1_1_only_servers_fail_closed() {
    use native_tls::Protocol;
    for max in [Protocol::Tlsv10, Protocol::Tlsv11] {
        let acceptor = native_tls::TlsAcceptor::builder(pki().valid.identity())
            .min_protocol_version(Some(Protocol::Tlsv10))
            .max_protocol_version(Some(max))
            .build()
            .expect("OpenSSL builds a legacy acceptor");
        let (addr, h) = legacy_tls_server(acceptor);
        let e = connect_err(&opts_for(addr.port(), TlsMode::Implicit));
        assert_eq!(e.kind, ErrorKind::Tls, "{max:?}: {e:?}");
        let seen = h.join().unwrap();
        assert!(
            seen.handshake.is_err(),
            "{max:?}: a legacy handshake completed"
        );
        assert!(seen.plaintext.is_empty());
        eprintln!(
            "note: {max:?}-only server: client error {:?}; server side: {:?}",
            e.message, seen.handshake
        );
    }
}

// ---------------------------------------------------------------------------
// A1: stripping, through `connect` and through the worker.

fn strip_hook(case: &'static str) -> impl Fn(&Ctx<'_>) -> Action + Send + Sync + 'static {
    move |ctx: &Ctx<'_>| match (case, ctx.line) {
        ("no-stls", "CAPA") => {
            Action::Reply(b"+OK\r\nUSER\r\nSASL PLAIN\r\nTOP\r\nUIDL\r\n.\r\n".to_vec())
        }
        ("stls-refused", "STLS") => Action::Reply(b"-ERR TLS unavailable\r\n".to_vec()),
        // Response codes must not turn the refusal into a retry (SYS/TEMP,
        // IN-USE, LOGIN-DELAY) or a password prompt (AUTH).
        ("stls-sys-temp", "STLS") => Action::Reply(b"-ERR [SYS/TEMP] try later\r\n".to_vec()),
        ("stls-in-use", "STLS") => Action::Reply(b"-ERR [IN-USE] busy\r\n".to_vec()),
        ("stls-auth", "STLS") => Action::Reply(b"-ERR [AUTH] bad password\r\n".to_vec()),
        ("stls-login-delay", "STLS") => Action::Reply(b"-ERR [LOGIN-DELAY] wait\r\n".to_vec()),
        ("stls-sys-perm", "STLS") => Action::Reply(b"-ERR [sys/perm] no\r\n".to_vec()),
        ("capa-fails-coded", "CAPA") => Action::Reply(b"-ERR [AUTH] who are you\r\n".to_vec()),
        ("capa-fails", "CAPA") => Action::Reply(b"-ERR unknown command\r\n".to_vec()),
        _ => Action::Normal,
    }
}

#[test]
fn a1_stripping_aborts_before_credentials() {
    for (case, transcript) in [
        ("no-stls", &b"CAPA\r\n"[..]),
        ("stls-refused", b"CAPA\r\nSTLS\r\n"),
        ("stls-sys-temp", b"CAPA\r\nSTLS\r\n"),
        ("stls-in-use", b"CAPA\r\nSTLS\r\n"),
        ("stls-auth", b"CAPA\r\nSTLS\r\n"),
        ("stls-login-delay", b"CAPA\r\nSTLS\r\n"),
        ("stls-sys-perm", b"CAPA\r\nSTLS\r\n"),
        ("capa-fails", b"CAPA\r\n"),
        ("capa-fails-coded", b"CAPA\r\n"),
    ] {
        let server = hooked(&pki().valid, strip_hook(case));
        let e = connect_err(&opts(&server, TlsMode::StartTls));
        assert_eq!(e.kind, ErrorKind::Tls, "{case}: {e:?}");
        assert!(
            e.message.contains("TLS") && e.message.contains("cleartext")
                || e.message.contains("without TLS"),
            "{case}: {}",
            e.message
        );
        settle(&server);
        assert_eq!(
            server.connections(),
            1,
            "{case}: fell back to another connection"
        );
        assert_eq!(
            server.transcript(0),
            transcript,
            "{case}: more commands after the failure"
        );
        assert_no_credentials(&server);
    }
}

/// The shared worker harness, with in-memory persistence.
fn start(cfg: WorkerConfig) -> Harness {
    Harness::start(cfg, Box::new(Mem::default()))
}

fn worker_config(o: ConnectOptions) -> WorkerConfig {
    let mut c = WorkerConfig::new(o, "demo");
    c.password = Some("demo".into());
    c.backoff = Duration::from_millis(20);
    c.max_backoff = Duration::from_millis(50);
    c.max_attempts = 5;
    c
}

#[test]
fn a1_worker_reports_stripping_as_fatal_and_never_retries() {
    for case in [
        "no-stls",
        "stls-refused",
        "stls-sys-temp",
        "stls-in-use",
        "stls-auth",
        "capa-fails",
    ] {
        let server = hooked(&pki().valid, strip_hook(case));
        let mut h = start(worker_config(opts(&server, TlsMode::StartTls)));
        let ev = h.wait("fatal error", |e| matches!(e, Event::Error(_)));
        let Event::Error(err) = ev else {
            unreachable!()
        };
        assert!(err.fatal, "{case}: {err:?}");
        assert_eq!(err.kind, ErrorKind::Tls, "{case}");
        // Bounded window: with a 20 ms backoff a retry loop would have made
        // many connections by now.
        h.idle(Duration::from_millis(400));
        assert_eq!(server.connections(), 1, "{case}: the worker reconnected");
        let seen = h.quit(false);
        assert!(
            !seen
                .iter()
                .any(|e| matches!(e, Event::Reconnecting { .. } | Event::Connected(_))),
            "{case}: {seen:#?}"
        );
        assert!(
            !seen
                .iter()
                .any(|e| matches!(e, Event::PasswordNeeded { .. })),
            "{case}: a stripped STLS made the worker ask for the password"
        );
        assert_no_credentials(&server);
    }
}

// ---------------------------------------------------------------------------
// A2: response injection after the STLS +OK.

#[test]
fn a2_lines_injected_with_the_stls_answer_abort_before_the_handshake() {
    for (name, reply) in [
        (
            "forged listing",
            &b"+OK Begin TLS\r\n+OK\r\nPLAIN\r\n.\r\n"[..],
        ),
        ("forged capa", b"+OK Begin TLS\r\n+OK\r\nUSER\r\n.\r\n"),
        ("no line end", b"+OK Begin TLS\r\nX"),
        ("bare LF then junk", b"+OK Begin TLS\n+OK"),
    ] {
        let reply = reply.to_vec();
        // The hook answers STLS itself, so the server never starts TLS: any
        // ClientHello would land in the plaintext transcript.
        let server = hooked(&pki().valid, move |ctx| {
            if ctx.line == "STLS" {
                Action::Reply(reply.clone())
            } else {
                Action::Normal
            }
        });
        let e = connect_err(&opts(&server, TlsMode::StartTls));
        assert_eq!(e.kind, ErrorKind::Protocol, "{name}: {e:?}");
        assert!(e.message.contains("injection"), "{name}: {}", e.message);
        assert!(e.message.chars().all(|c| !is_forbidden(c)));
        settle(&server);
        assert_eq!(
            server.transcript(0),
            b"CAPA\r\nSTLS\r\n",
            "{name}: the client sent something after the injected answer"
        );
        assert_no_credentials(&server);
    }
}

#[test]
fn a2_injection_arriving_after_the_answer_breaks_the_handshake_not_the_policy() {
    // The forged lines come in a later segment: the client may already be in
    // the handshake, where they are garbage TLS records. Either way: an
    // error, and no credentials.
    let server = hooked(&pki().valid, |ctx| {
        if ctx.line == "STLS" {
            Action::Split(b"+OK Begin TLS\r\n+OK\r\nPLAIN\r\n.\r\n".to_vec(), 15)
        } else {
            Action::Normal
        }
    });
    let e = connect_err(&opts(&server, TlsMode::StartTls));
    assert!(
        matches!(e.kind, ErrorKind::Protocol | ErrorKind::Tls),
        "{e:?}"
    );
    settle(&server);
    assert_no_credentials(&server);
    let t = server.transcript(0);
    assert!(t.starts_with(b"CAPA\r\nSTLS\r\n"), "{t:?}");
    // Whatever follows STLS is a TLS handshake record, never a command.
    let after = &t[b"CAPA\r\nSTLS\r\n".len()..];
    assert!(after.is_empty() || after[0] == 0x16, "{after:?}");
}

// ---------------------------------------------------------------------------
// A3: capabilities are forgotten and asked again after TLS.

#[test]
fn a3_capa_again_after_tls_and_auth_chosen_from_the_new_list_only() {
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let rec = Arc::clone(&seen);
    let server = hooked(&pki().valid, move |ctx| {
        rec.lock().unwrap().push((ctx.line.to_string(), ctx.tls));
        match (ctx.line, ctx.tls) {
            // Before TLS: SASL PLAIN only (a MITM could offer anything).
            ("CAPA", false) => Action::Reply(b"+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n".to_vec()),
            // After TLS: USER only, and STLS again, which must be ignored.
            ("CAPA", true) => {
                Action::Reply(b"+OK\r\nUSER\r\nSTLS\r\nTOP\r\nUIDL\r\n.\r\n".to_vec())
            }
            _ => Action::Normal,
        }
    });
    let mut conn = connect(&opts(&server, TlsMode::StartTls), None).unwrap();
    assert!(conn.client.capabilities().user);
    assert!(
        !conn.client.capabilities().has_sasl("PLAIN"),
        "pre-TLS capabilities leaked"
    );
    let method = conn
        .client
        .authenticate(&Credentials::new("demo", "demo"), AuthMethod::Auto, false)
        .unwrap();
    assert_eq!(method, AuthMethod::User);
    conn.client.quit().unwrap();
    let seen = seen.lock().unwrap().clone();
    let lines: Vec<(&str, bool)> = seen.iter().map(|(l, t)| (l.as_str(), *t)).collect();
    assert_eq!(
        lines,
        vec![
            ("CAPA", false),
            ("STLS", false),
            ("CAPA", true),
            ("USER demo", true),
            ("PASS demo", true),
            ("QUIT", true),
        ]
    );
}

// ---------------------------------------------------------------------------
// A4: nothing pipelined across STLS (raw wire via a recording proxy).

/// A one-connection TCP proxy that records the client's raw bytes.
struct Recorder {
    addr: SocketAddr,
    upstream: Arc<Mutex<Vec<u8>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Recorder {
    fn start(target: SocketAddr) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream: Arc<Mutex<Vec<u8>>> = Arc::default();
        let rec = Arc::clone(&upstream);
        let t = thread::spawn(move || {
            let (client, _) = listener.accept().unwrap();
            let server = TcpStream::connect(target).unwrap();
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let up = thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match c_in.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            rec.lock().unwrap().extend_from_slice(&buf[..n]);
                            if s_out.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = s_out.shutdown(Shutdown::Write);
            });
            let (mut s_in, mut c_out) = (server, client);
            let mut buf = [0u8; 4096];
            loop {
                match s_in.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if c_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = c_out.shutdown(Shutdown::Write);
            let _ = up.join();
        });
        Recorder {
            addr,
            upstream,
            threads: vec![t],
        }
    }

    fn finish(mut self) -> Vec<u8> {
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        self.upstream.lock().unwrap().clone()
    }
}

#[test]
fn a4_stls_is_alone_on_the_wire_until_the_client_hello() {
    // Latency gives a pipelining client every chance to write ahead.
    let server = server_with(
        &pki().valid,
        false,
        ServerOptions {
            latency: Some(Duration::from_millis(30)),
            ..ServerOptions::default()
        },
    );
    let proxy = Recorder::start(server.addr());
    let mut conn = connect(&opts_for(proxy.addr.port(), TlsMode::StartTls), None).unwrap();
    conn.client
        .login(&Credentials::new("demo", "demo"), AuthMethod::Auto, false)
        .unwrap();
    conn.client.quit().unwrap();
    drop(conn);
    let raw = proxy.finish();
    let head = b"CAPA\r\nSTLS\r\n";
    assert!(
        raw.starts_with(head),
        "{:?}",
        String::from_utf8_lossy(&raw[..raw.len().min(64)])
    );
    assert_eq!(
        raw[head.len()],
        0x16,
        "the byte after STLS is not a TLS handshake record"
    );
    // And no cleartext command anywhere after it.
    let rest = String::from_utf8_lossy(&raw[head.len()..]).to_ascii_uppercase();
    for cmd in ["USER ", "PASS ", "CAPA\r\n", "AUTH ", "QUIT\r\n"] {
        assert!(!rest.contains(cmd), "{cmd:?} in cleartext after STLS");
    }
}

// ---------------------------------------------------------------------------
// A6: a stalled handshake.

#[test]
fn a6_stalled_stls_handshake_times_out_with_a_clear_error() {
    let server = hooked(&pki().valid, |ctx| {
        if ctx.line == "STLS" {
            Action::ReplyThenStall(b"+OK Begin TLS\r\n".to_vec(), Duration::from_secs(30))
        } else {
            Action::Normal
        }
    });
    let mut o = opts(&server, TlsMode::StartTls);
    o.io_timeout = Duration::from_secs(1);
    let t0 = Instant::now();
    let e = connect_err(&o);
    let took = t0.elapsed();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(e.message.contains("handshake"), "{}", e.message);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "took {took:?}"
    );
    assert_no_credentials(&server);
}

#[test]
fn a6_silent_implicit_tls_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let h = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut s = popview::pop3::Uninterrupted::new(s);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the ClientHello, answer nothing, until the client gives up.
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let _ = done_rx.recv_timeout(Duration::from_secs(5));
        got
    });
    let mut o = opts_for(port, TlsMode::Implicit);
    o.io_timeout = Duration::from_secs(1);
    let t0 = Instant::now();
    let e = connect_err(&o);
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(e.message.contains("handshake"), "{}", e.message);
    assert!(t0.elapsed() < Duration::from_secs(4));
    done_tx.send(()).unwrap();
    let got = h.join().unwrap();
    assert_eq!(got.first(), Some(&0x16), "only a ClientHello was sent");
}

#[test]
fn a6_worker_stays_responsive_during_a_stalled_handshake() {
    let server = hooked(&pki().valid, |ctx| {
        if ctx.line == "STLS" {
            Action::ReplyThenStall(b"+OK Begin TLS\r\n".to_vec(), Duration::from_secs(30))
        } else {
            Action::Normal
        }
    });
    let mut o = opts(&server, TlsMode::StartTls);
    o.io_timeout = Duration::from_secs(1);
    let mut cfg = worker_config(o);
    cfg.max_attempts = 2;
    let mut h = start(cfg);
    let ev = h.wait("reconnecting after the timeout", |e| {
        matches!(e, Event::Reconnecting { .. } | Event::Error(_))
    });
    match ev {
        Event::Reconnecting { reason, .. } => assert!(reason.contains("handshake"), "{reason}"),
        Event::Error(e) => assert_eq!(e.kind, ErrorKind::Timeout),
        _ => unreachable!(),
    }
    let t0 = Instant::now();
    let seen = h.quit(false);
    // One stalled handshake at most stands between the quit and the end.
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    assert!(!seen.iter().any(|e| matches!(e, Event::Connected(_))));
    assert!(
        server.connections() <= 2,
        "{} connections",
        server.connections()
    );
    assert_no_credentials(&server);
}

// ---------------------------------------------------------------------------
// A7: the padlock reflects the live connection.

fn connected_info(cfg: WorkerConfig) -> popview::worker::api::ConnectionInfo {
    let mut h = start(cfg);
    let ev = h.wait("connected", |e| matches!(e, Event::Connected(_)));
    let Event::Connected(info) = ev else {
        unreachable!()
    };
    h.quit(false);
    *info
}

#[test]
fn a7_connection_info_tls_comes_from_the_live_connection() {
    let s = server(&pki().valid, false);
    let info = connected_info(worker_config(opts(&s, TlsMode::StartTls)));
    match info.tls {
        TlsState::StartTls(d) => {
            assert_eq!(d.trust, CertTrust::Verified);
            assert_eq!(d.fingerprint_sha256, pki().valid.sha256_fingerprint_hex());
        }
        other => panic!("{other:?}"),
    }

    let s = server(&pki().valid, true);
    let info = connected_info(worker_config(opts(&s, TlsMode::Implicit)));
    match info.tls {
        TlsState::Implicit(d) => {
            assert_eq!(d.trust, CertTrust::Verified);
            assert_eq!(d.fingerprint_sha256, pki().valid.sha256_fingerprint_hex());
        }
        other => panic!("{other:?}"),
    }

    // Pinned self-signed: the fingerprint shown is the one served.
    let s = server(&pki().self_signed, true);
    let mut o = opts(&s, TlsMode::Implicit);
    o.ca_file = None;
    o.pin_sha256 = Some(pin_of(&pki().self_signed));
    let info = connected_info(worker_config(o));
    match info.tls {
        TlsState::Implicit(d) => {
            assert_eq!(d.trust, CertTrust::Pinned);
            assert_eq!(
                d.fingerprint_sha256,
                pki().self_signed.sha256_fingerprint_hex()
            );
        }
        other => panic!("{other:?}"),
    }

    // Opted out of verification: shown as unverified, whatever the chain.
    let s = server(&pki().valid, true);
    let mut o = opts(&s, TlsMode::Implicit);
    o.accept_invalid_certs = true;
    let info = connected_info(worker_config(o));
    assert!(
        matches!(&info.tls, TlsState::Implicit(d) if d.trust == CertTrust::Unverified),
        "{:?}",
        info.tls
    );

    // No TLS at all (explicitly allowed): no padlock.
    let s = Server::start(Mailbox::generated(1), ServerOptions::default()).unwrap();
    let mut o = ConnectOptions::new("127.0.0.1", s.addr().port(), TlsMode::None);
    o.io_timeout = Duration::from_secs(5);
    let mut cfg = worker_config(o);
    cfg.allow_cleartext = true;
    assert_eq!(connected_info(cfg).tls, TlsState::None);
}

// ---------------------------------------------------------------------------
// A9 / B8: escape sequences in greetings and -ERR texts.

fn assert_clean(s: &str, what: &str) {
    assert!(
        s.chars().all(|c| !is_forbidden(c)),
        "{what} carries a control char: {s:?}"
    );
}

#[test]
fn b8_escape_sequences_in_the_greeting_never_reach_the_ui() {
    let s = server_with(
        &pki().valid,
        false,
        ServerOptions {
            greeting: Some(
                b"+OK \x1b[31;1;4mPOP3\x1b[0m ready \x1b]0;owned\x07\xc2\x9b2J\r\n".to_vec(),
            ),
            ..ServerOptions::default()
        },
    );
    let info = connected_info(worker_config(opts(&s, TlsMode::StartTls)));
    assert_clean(&info.greeting, "greeting");
    assert!(
        info.greeting.contains("POP3") && info.greeting.contains("ready"),
        "{:?}",
        info.greeting
    );
    assert!(
        !info.greeting.contains("owned"),
        "OSC payload shown: {:?}",
        info.greeting
    );
    for c in &info.capabilities {
        assert_clean(c, "capability");
    }
}

#[test]
fn b8_escape_sequences_in_err_texts_never_reach_the_ui() {
    // A hostile -ERR to PASS, with a permanent code so the worker stops.
    let s = hooked(&pki().valid, |ctx| {
        if ctx.line.starts_with("PASS") || ctx.line.starts_with("AUTH") {
            Action::Reply(
                b"-ERR [SYS/PERM] \x1b]0;pwned\x07\x1b[2J\x1b[1;1Hgone \x9b31m\xe2\x80\xaeevil\r\n"
                    .to_vec(),
            )
        } else {
            Action::Normal
        }
    });
    let mut h = start(worker_config(opts(&s, TlsMode::StartTls)));
    let ev = h.wait("error", |e| matches!(e, Event::Error(_)));
    let Event::Error(err) = ev else {
        unreachable!()
    };
    assert_eq!(err.kind, ErrorKind::PermFailure);
    assert!(err.fatal);
    assert_clean(&err.message, "error message");
    assert!(err.message.contains("gone"), "{:?}", err.message);
    assert!(!err.message.contains("pwned"), "{:?}", err.message);
    let seen = h.quit(false);
    for e in &seen {
        match e {
            Event::Error(w) => assert_clean(&w.message, "error"),
            Event::Notice(n) => assert_clean(n, "notice"),
            Event::Reconnecting { reason, .. } => assert_clean(reason, "reconnect reason"),
            Event::PasswordNeeded { reason } => assert_clean(reason, "password reason"),
            _ => {}
        }
    }
    // SYS/PERM: one connection, no retry loop.
    assert_eq!(s.connections(), 1);
}

// ---------------------------------------------------------------------------
// G39: reconnects apply the same TLS policy.

type Seen = Arc<Mutex<Vec<(usize, String, bool)>>>;

#[test]
fn g39_reconnect_upgrades_again_and_sends_credentials_only_over_tls() {
    let seen: Seen = Arc::default();
    let rec = Arc::clone(&seen);
    let server = hooked(&pki().valid, move |ctx| {
        rec.lock()
            .unwrap()
            .push((ctx.conn, ctx.line.to_string(), ctx.tls));
        if ctx.conn == 0 && ctx.line.starts_with("TOP") {
            Action::Drop
        } else {
            Action::Normal
        }
    });
    let mut h = start(worker_config(opts(&server, TlsMode::StartTls)));
    h.wait("reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    h.wait("reconnected", |e| matches!(e, Event::Reconnected { .. }));
    h.quit(false);
    let seen = seen.lock().unwrap().clone();
    for conn in 0..2 {
        let lines: Vec<_> = seen.iter().filter(|(c, _, _)| *c == conn).collect();
        assert_eq!(lines[0].1, "CAPA");
        assert_eq!((lines[1].1.as_str(), lines[1].2), ("STLS", false), "{conn}");
        for (_, line, tls) in &lines[2..] {
            assert!(tls, "conn {conn}: {line:?} sent without TLS");
        }
        assert!(
            lines
                .iter()
                .any(|(_, l, tls)| *tls && (l.starts_with("AUTH") || l.starts_with("PASS"))),
            "conn {conn} never logged in"
        );
    }
}

#[test]
fn g39_stripped_stls_on_reconnect_is_fatal_and_sends_nothing() {
    let server = hooked(&pki().valid, move |ctx| match (ctx.conn, ctx.line) {
        (0, l) if l.starts_with("TOP") => Action::Drop,
        (c, "CAPA") if c > 0 && !ctx.tls => Action::Reply(b"+OK\r\nUSER\r\n.\r\n".to_vec()),
        _ => Action::Normal,
    });
    let mut h = start(worker_config(opts(&server, TlsMode::StartTls)));
    h.wait("connected", |e| matches!(e, Event::Connected(_)));
    let ev = h.wait("fatal error", |e| matches!(e, Event::Error(w) if w.fatal));
    let Event::Error(err) = ev else {
        unreachable!()
    };
    assert_eq!(err.kind, ErrorKind::Tls);
    h.idle(Duration::from_millis(300));
    h.quit(false);
    assert_eq!(server.connections(), 2, "kept reconnecting");
    assert_eq!(
        server.transcript(1),
        b"CAPA\r\n",
        "more than CAPA on the stripped connection"
    );
}

/// pop3s:// pointed at a port that speaks plain POP3 (the usual mix-up of
/// 995 and 110): a TLS error that names the mix-up first, so a status line
/// that cuts the message still says what to do; nothing is sent.
#[test]
fn pop3s_on_a_plain_port_says_which_port_to_use() {
    let server = Server::start(Mailbox::generated(1), ServerOptions::default()).unwrap();
    let e = connect_err(&opts(&server, TlsMode::Implicit));
    assert_eq!(e.kind, ErrorKind::Tls, "{e:?}");
    let head: String = e.message.chars().take(90).collect();
    assert!(
        head.contains("does not speak TLS from the start"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("995") && e.message.contains("pop3://"),
        "{}",
        e.message
    );
    assert_no_credentials(&server);
}

/// pop3:// (STLS, or no TLS) pointed at an implicit-TLS port: the server
/// waits for a ClientHello and says nothing. popview names the mix-up
/// after a couple of seconds of silence (a TLS handshake on a second
/// connection tells), long before the 30 s timeout, and sends nothing
/// but that handshake.
#[test]
fn pop3_on_an_implicit_tls_port_is_named_within_seconds() {
    for mode in [TlsMode::StartTls, TlsMode::None] {
        let server = server(&pki().valid, true);
        let mut o = opts(&server, mode);
        o.io_timeout = Duration::from_secs(30);
        let t0 = Instant::now();
        let e = connect_err(&o);
        let took = t0.elapsed();
        eprintln!("{mode:?} at the POP3S port: named after {took:?}");
        assert_eq!(e.kind, ErrorKind::Tls, "{mode:?}: {e:?}");
        let port = server.addr().port();
        assert!(
            e.message
                .contains(&format!("port {port} of localhost speaks TLS"))
                && e.message.contains(&format!("pop3s://localhost:{port}")),
            "{}",
            e.message
        );
        assert!(
            took >= popview::pop3::transport::GREETING_PROBE_AFTER
                && took < Duration::from_secs(10),
            "{mode:?}: took {took:?}"
        );
        settle(&server);
        assert!(server.log().is_empty(), "{:?}", server.log());
        assert_no_credentials(&server);
    }
}

/// A plain port that accepts and stays silent and is not TLS either: the
/// TLS check finds nothing, and the wait ends at the configured timeout
/// with a message that says no greeting came. One connection, plus the
/// check's.
#[test]
fn a_silent_plain_port_gives_up_at_the_timeout_naming_the_missing_greeting() {
    let silent = silent_listener();
    let mut o = opts_for(silent.port, TlsMode::StartTls);
    o.io_timeout = Duration::from_secs(3);
    let e = connect_err(&o);
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(e.message.contains("sent no greeting"), "{}", e.message);
    assert!(e.message.contains("timeout_secs"), "{}", e.message);
    assert_eq!(
        *silent.accepted.lock().unwrap(),
        2,
        "the connection and the TLS check"
    );
}

/// The TUI shows the worker's error: the worker reports the mix-up as a
/// fatal TLS error and never retries it.
#[test]
fn the_worker_reports_the_port_mixup_once_and_does_not_retry() {
    let server = server(&pki().valid, true);
    let mut h = start(worker_config(opts(&server, TlsMode::StartTls)));
    let ev = h.wait("fatal error", |e| matches!(e, Event::Error(_)));
    let Event::Error(err) = ev else {
        unreachable!()
    };
    assert!(err.fatal, "{err:?}");
    assert_eq!(err.kind, ErrorKind::Tls);
    assert!(err.message.contains("use pop3s://"), "{}", err.message);
    let seen = h.quit(false);
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Reconnecting { .. })),
        "{seen:#?}"
    );
    // The first connection and its TLS check, nothing more.
    assert_eq!(server.connections(), 2);
    assert_no_credentials(&server);
}

/// A CA file may be a bundle (as `/etc/ssl/certs/ca-certificates.crt`
/// is): every certificate in it is trusted, whatever its place; a file
/// with no certificate is refused with its name, before any connection.
#[test]
fn a5_ca_file_bundles_are_read_whole_and_an_empty_one_is_refused() {
    let server = server(&pki().valid, true);
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.pem");
    let mut text = std::fs::read_to_string(&pki().other_ca_pem).unwrap();
    text.push_str("\n# a comment between blocks, as bundles have\n");
    text.push_str(&std::fs::read_to_string(&pki().ca_pem).unwrap());
    std::fs::write(&bundle, text).unwrap();
    let mut o = opts(&server, TlsMode::Implicit);
    o.ca_file = Some(bundle);
    let Connection { mut client, .. } =
        connect(&o, None).expect("the bundle's second CA is trusted");
    client.quit().unwrap();

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    o.ca_file = Some(empty);
    let e = connect_err(&o);
    assert!(
        e.message.contains("holds no PEM certificate") && e.message.contains("empty.pem"),
        "{e:?}"
    );
}
