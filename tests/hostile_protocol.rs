//! Hostile POP3 servers (SECURITY-CASES B, C, D): spoofed and unsolicited
//! text, authentication traps, framing and parsing attacks. Against the
//! in-process server with fault hooks (client and worker), plus property
//! tests of the client over arbitrary server bytes split at arbitrary points.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::Arc;

use std::time::Duration;

use popview::demo::{Action, Ctx, Mailbox, Server, ServerOptions};
use popview::pop3::RespCode;
use popview::pop3::client::State;
use popview::pop3::response::{
    BodyLimits, MAX_HEADER_BYTES, MAX_STATUS_LINE, parse_scan_line, parse_stat, parse_status,
    parse_uidl_line,
};
use popview::pop3::transport::{ConnectOptions, TlsMode, connect};
use popview::pop3::{AuthMethod, Client, Command, Credentials, ErrorKind, Reply};
use popview::sanitize::is_forbidden;
use popview::worker::WorkerConfig;
use popview::worker::api::{Event, MsgKey, Request};
use proptest::prelude::*;
use support::worker::Harness;

mod support;

type Mem = popview::worker::persist::Memory;

// ---------------------------------------------------------------------------
// Helpers: the demo server, a logged-in client, the worker harness.

fn hooked(
    mailbox: Mailbox,
    opts: ServerOptions,
    hook: impl Fn(&Ctx<'_>) -> Action + Send + Sync + 'static,
) -> Server {
    Server::start(
        mailbox,
        ServerOptions {
            hook: Some(Arc::new(hook)),
            ..opts
        },
    )
    .unwrap()
}

fn plain_opts(server: &Server) -> ConnectOptions {
    let mut o = ConnectOptions::new("127.0.0.1", server.addr().port(), TlsMode::None);
    o.io_timeout = Duration::from_secs(5);
    o
}

type Plain = Client<popview::pop3::transport::Stream>;

fn logged_in(server: &Server) -> Plain {
    let mut c = connect(&plain_opts(server), None).unwrap().client;
    c.login(&Credentials::new("demo", "demo"), AuthMethod::User, true)
        .unwrap();
    c
}

fn log_lines(server: &Server) -> Vec<String> {
    server.log().into_iter().map(|l| l.line).collect()
}

fn no_credentials(server: &Server) {
    for c in 0..server.connections() {
        let t = String::from_utf8_lossy(&server.transcript(c)).to_ascii_uppercase();
        for bad in ["USER", "PASS", "APOP", "AUTH"] {
            assert!(!t.contains(bad), "{bad} in transcript {c}: {t:?}");
        }
    }
}

fn wcfg(server: &Server) -> WorkerConfig {
    let mut c = WorkerConfig::new(plain_opts(server), "demo");
    c.password = Some("demo".into());
    c.allow_cleartext = true;
    c.backoff = Duration::from_millis(40);
    c.max_backoff = Duration::from_millis(100);
    c
}

/// The shared worker harness, with in-memory persistence.
fn start(cfg: WorkerConfig, persist: Mem) -> Harness {
    Harness::start(cfg, Box::new(persist))
}

fn start_default(cfg: WorkerConfig) -> Harness {
    start(cfg, Mem::default())
}

fn clean(s: &str) -> bool {
    s.chars().all(|c| !is_forbidden(c))
}

// ---------------------------------------------------------------------------
// B10: unsolicited lines after the greeting.

#[test]
fn b10_fake_listing_in_the_greeting_write_is_detected_not_answered() {
    let server = Server::start(
        Mailbox::generated(2),
        ServerOptions {
            greeting: Some(b"+OK ready\r\n+OK 2 messages\r\n1 100\r\n2 200\r\n.\r\n".to_vec()),
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let e = match connect(&plain_opts(&server), None) {
        Ok(_) => panic!("the fake listing was taken as an answer"),
        Err(e) => e,
    };
    assert_eq!(e.kind, ErrorKind::Protocol, "{e:?}");
    assert!(e.message.contains("nobody asked"), "{}", e.message);
    assert!(clean(&e.message));
    support::wait_server_closed(server.addr().port());
    assert!(server.transcript(0).is_empty(), "a command was sent anyway");
}

#[test]
fn b10_extra_lines_after_an_answer_are_detected_before_the_next_command() {
    // A NOOP answered with +OK plus a forged STAT answer in the same write:
    // the forged line must never become the answer to STAT.
    let server = hooked(Mailbox::generated(2), ServerOptions::default(), |ctx| {
        if ctx.line == "NOOP" {
            Action::Reply(b"+OK\r\n+OK 0 0\r\n".to_vec())
        } else {
            Action::Normal
        }
    });
    let mut c = logged_in(&server);
    c.noop().unwrap();
    let e = c.stat().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{e:?}");
    assert_eq!(c.state(), State::Closed);
    assert!(!log_lines(&server).contains(&"STAT".to_string()));
}

#[test]
fn b10_worker_treats_unsolicited_greeting_lines_as_fatal() {
    let server = Server::start(
        Mailbox::generated(2),
        ServerOptions {
            greeting: Some(b"+OK ready\r\n1 100\r\n.\r\n".to_vec()),
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let mut h = start(wcfg(&server), Mem::default());
    let ev = h.wait("error", |e| matches!(e, Event::Error(_)));
    let Event::Error(err) = ev else {
        unreachable!()
    };
    assert_eq!(err.kind, ErrorKind::Protocol);
    assert!(err.fatal);
    let seen = h.quit(false);
    assert!(!seen.iter().any(|e| matches!(e, Event::Listing { .. })));
    no_credentials(&server);
}

// ---------------------------------------------------------------------------
// B11: response codes in odd places, lower case, unknown, broken.

#[test]
fn b11_response_codes_are_parsed_case_insensitively_and_tolerated() {
    let cases: &[(&[u8], bool, Option<RespCode>, &str)] = &[
        (
            b"-ERR [sys/perm] gone",
            false,
            Some(RespCode::SysPerm),
            "gone",
        ),
        (b"-ERR [in-use] busy", false, Some(RespCode::InUse), "busy"),
        (
            b"-err [Login-Delay] wait",
            false,
            Some(RespCode::LoginDelay),
            "wait",
        ),
        (
            b"-ERR [X-FOO] odd",
            false,
            Some(RespCode::Other("X-FOO".into())),
            "odd",
        ),
        (b"-ERR [", false, None, "["),
        (b"-ERR []", false, None, "[]"),
        (b"-ERR [IN-USE", false, None, "[IN-USE"),
        (b"-ERR [IN USE] x", false, None, "[IN USE] x"),
        (b"-ERR [\x1b[31m] x", false, None, "[\x1b[31m] x"),
        (b"-ERR busy [IN-USE]", false, None, "busy [IN-USE]"),
        (
            b"+OK [SYS/PERM] odd but fine",
            true,
            Some(RespCode::SysPerm),
            "odd but fine",
        ),
        (b"+ok", true, None, ""),
        (b"-ERR", false, None, ""),
        (b"-ERR\t[AUTH] tab", false, Some(RespCode::Auth), "tab"),
    ];
    for (line, ok, code, text) in cases {
        let s = parse_status(line).unwrap_or_else(|e| panic!("{line:?}: {e:?}"));
        assert_eq!(
            (s.ok, &s.code, s.text.as_str()),
            (*ok, code, *text),
            "{line:?}"
        );
    }
    for bad in [&b"+OKAY"[..], b"-ERRor", b"OK", b"", b"* OK", b"\x00+OK"] {
        let e = parse_status(bad).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);
        assert!(clean(&e.message), "{:?}", e.message);
    }
    let long = vec![b'['; 100_000];
    let mut line = b"-ERR ".to_vec();
    line.extend_from_slice(&long);
    assert_eq!(parse_status(&line).unwrap().code, None);
}

#[test]
fn b11_lower_case_codes_steer_the_client_like_upper_case_ones() {
    for (reply, kind) in [
        (&b"-ERR [in-use] locked\r\n"[..], ErrorKind::InUse),
        (b"-ERR [sys/temp] later\r\n", ErrorKind::TempFailure),
        (b"-ERR [sys/perm] never\r\n", ErrorKind::PermFailure),
        (b"-ERR [auth] nope\r\n", ErrorKind::Auth),
        (b"-ERR [login-delay] wait\r\n", ErrorKind::LoginDelay),
        (b"-ERR [x-unknown] hmm\r\n", ErrorKind::Auth),
        (b"-ERR [ broken\r\n", ErrorKind::Auth),
    ] {
        let reply = reply.to_vec();
        let server = hooked(
            Mailbox::generated(1),
            ServerOptions::default(),
            move |ctx| {
                if ctx.line.starts_with("PASS") {
                    Action::Reply(reply.clone())
                } else {
                    Action::Normal
                }
            },
        );
        let mut c = connect(&plain_opts(&server), None).unwrap().client;
        let e = c
            .login(&Credentials::new("demo", "demo"), AuthMethod::User, true)
            .unwrap_err();
        assert_eq!(e.kind, kind, "{e:?}");
        assert!(clean(&e.message));
    }
}

// ---------------------------------------------------------------------------
// C12: CR, LF, NUL in credentials.

#[test]
fn c12_line_breaks_and_nul_in_credentials_are_refused_before_sending() {
    let server = Server::start(Mailbox::generated(1), ServerOptions::default()).unwrap();
    let bad = [
        ("demo\r\nDELE 1", "demo"),
        ("demo\n", "demo"),
        ("de\0mo", "demo"),
        ("demo", "pw\r\nDELE 1"),
        ("demo", "pw\n"),
        ("demo", "p\rw"),
        ("demo", "p\0w"),
    ];
    for method in [
        AuthMethod::User,
        AuthMethod::Apop,
        AuthMethod::Plain,
        AuthMethod::Auto,
    ] {
        for (user, pass) in bad {
            let before = server.connections();
            let mut c = connect(&plain_opts(&server), None).unwrap().client;
            let e = c
                .login(&Credentials::new(user, pass), method, true)
                .unwrap_err();
            assert_eq!(
                e.kind,
                ErrorKind::Local,
                "{method:?} {user:?} {pass:?}: {e:?}"
            );
            assert!(e.message.contains("nothing was sent"), "{}", e.message);
            drop(c);
            support::wait_server_closed(server.addr().port());
            assert_eq!(
                server.transcript(before),
                b"CAPA\r\n",
                "{method:?} {user:?}"
            );
        }
    }
    no_credentials(&server);
}

#[test]
fn c12_worker_refuses_a_password_with_a_line_break_and_sends_nothing() {
    let server = Server::start(Mailbox::generated(1), ServerOptions::default()).unwrap();
    let mut cfg = wcfg(&server);
    cfg.password = Some("demo\r\nDELE 1".into());
    let mut h = start_default(cfg);
    let ev = h.wait("error", |e| matches!(e, Event::Error(_)));
    let Event::Error(err) = ev else {
        unreachable!()
    };
    assert_eq!(err.kind, ErrorKind::Local);
    h.quit(false);
    no_credentials(&server);
    assert!(
        log_lines(&server).iter().all(|l| l == "CAPA"),
        "{:?}",
        log_lines(&server)
    );
}

// ---------------------------------------------------------------------------
// C13: APOP only with a well-formed timestamp.

#[test]
fn c13_apop_needs_a_well_formed_timestamp() {
    for greeting in [
        &b"+OK ready <garbage>\r\n"[..],
        b"+OK ready <>\r\n",
        b"+OK ready <a b@c>\r\n",
        b"+OK ready <a@b\r\n",
        b"+OK ready a@b>\r\n",
        b"+OK ready <a\x01@b>\r\n",
    ] {
        let server = Server::start(
            Mailbox::generated(1),
            ServerOptions {
                greeting: Some(greeting.to_vec()),
                ..ServerOptions::default()
            },
        )
        .unwrap();
        // Asked for APOP: refused locally, no MD5 over the garbage.
        let mut c = connect(&plain_opts(&server), None).unwrap().client;
        let e = c
            .login(&Credentials::new("demo", "demo"), AuthMethod::Apop, true)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Local, "{greeting:?}: {e:?}");
        // Auto over cleartext: APOP is not chosen.
        let mut c = connect(&plain_opts(&server), None).unwrap().client;
        let m = c
            .login(&Credentials::new("demo", "demo"), AuthMethod::Auto, true)
            .unwrap();
        assert_ne!(m, AuthMethod::Apop, "{greeting:?}");
        assert!(
            !log_lines(&server).iter().any(|l| l.starts_with("APOP")),
            "{greeting:?}: APOP sent"
        );
    }
    // An over-long timestamp is not well-formed either.
    let g = format!("+OK <{}@host>\r\n", "1".repeat(300));
    let server = Server::start(
        Mailbox::generated(1),
        ServerOptions {
            greeting: Some(g.into_bytes()),
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let mut c = connect(&plain_opts(&server), None).unwrap().client;
    assert!(
        c.login(&Credentials::new("demo", "demo"), AuthMethod::Apop, true)
            .is_err()
    );
    assert!(!log_lines(&server).iter().any(|l| l.starts_with("APOP")));
}

#[test]
fn c13_apop_with_a_good_timestamp_works_over_cleartext_and_is_not_preferred_over_tls() {
    let server = Server::start(
        Mailbox::generated(1),
        ServerOptions {
            greeting: Some(b"+OK ready <1896.697170952@dbc.mtview.ca.us>\r\n".to_vec()),
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let mut c = connect(&plain_opts(&server), None).unwrap().client;
    let m = c
        .login(&Credentials::new("demo", "demo"), AuthMethod::Auto, true)
        .unwrap();
    assert_eq!(m, AuthMethod::Apop);
    let apop = log_lines(&server)
        .into_iter()
        .find(|l| l.starts_with("APOP"))
        .unwrap();
    assert_eq!(
        apop,
        format!(
            "APOP demo {}",
            popview::pop3::auth::apop_digest("<1896.697170952@dbc.mtview.ca.us>", "demo")
        )
    );
}

// ---------------------------------------------------------------------------
// C14: response codes at login steer the worker's retry policy.

fn login_hook(
    reply: &'static [u8],
    conns: usize,
) -> impl Fn(&Ctx<'_>) -> Action + Send + Sync + 'static {
    move |ctx: &Ctx<'_>| {
        let creds = ["PASS", "APOP", "AUTH"]
            .iter()
            .any(|c| ctx.line.starts_with(c));
        if creds && ctx.conn < conns {
            Action::Reply(reply.to_vec())
        } else {
            Action::Normal
        }
    }
}

#[test]
fn c14_in_use_is_retried_with_backoff_and_keeps_the_password() {
    let server = hooked(
        Mailbox::generated(2),
        ServerOptions::default(),
        login_hook(b"-ERR [IN-USE] maildrop locked\r\n", 2),
    );
    let mut h = start_default(wcfg(&server));
    h.wait("connected", |e| matches!(e, Event::Connected(_)));
    let seen = h.quit(false);
    let retries: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Reconnecting {
                attempt, reason, ..
            } => Some((*attempt, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(retries.len(), 2, "{seen:#?}");
    assert!(retries[0].1.contains("in use"), "{:?}", retries[0].1);
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::PasswordNeeded { .. }))
    );
    assert_eq!(server.connections(), 3);
}

#[test]
fn c14_sys_temp_retries_but_gives_up_after_max_attempts() {
    let server = hooked(
        Mailbox::generated(1),
        ServerOptions::default(),
        login_hook(b"-ERR [SYS/TEMP] try later\r\n", usize::MAX),
    );
    let mut cfg = wcfg(&server);
    cfg.max_attempts = 3;
    let mut h = start_default(cfg);
    let ev = h.wait("fatal error", |e| matches!(e, Event::Error(w) if w.fatal));
    let Event::Error(err) = ev else {
        unreachable!()
    };
    assert_eq!(err.kind, ErrorKind::TempFailure);
    h.idle(Duration::from_millis(300));
    assert_eq!(server.connections(), 3, "bounded attempts");
    h.quit(false);
}

#[test]
fn c14_sys_perm_stops_without_a_reconnect_loop() {
    let server = hooked(
        Mailbox::generated(1),
        ServerOptions::default(),
        login_hook(b"-ERR [SYS/PERM] account disabled\r\n", usize::MAX),
    );
    let mut h = start_default(wcfg(&server));
    let ev = h.wait("error", |e| matches!(e, Event::Error(_)));
    let Event::Error(err) = ev else {
        unreachable!()
    };
    assert_eq!(err.kind, ErrorKind::PermFailure);
    assert!(err.fatal);
    h.idle(Duration::from_millis(500));
    assert_eq!(server.connections(), 1, "reconnected after SYS/PERM");
    let seen = h.quit(false);
    assert!(!seen.iter().any(|e| matches!(e, Event::Reconnecting { .. })));
}

#[test]
fn c14_auth_asks_for_the_password_again() {
    let server = hooked(
        Mailbox::generated(1),
        ServerOptions::default(),
        login_hook(b"-ERR [AUTH] wrong password\r\n", 1),
    );
    let mut h = start_default(wcfg(&server));
    let ev = h.wait("password needed", |e| {
        matches!(e, Event::PasswordNeeded { .. })
    });
    let Event::PasswordNeeded { reason } = ev else {
        unreachable!()
    };
    assert!(clean(&reason));
    // No reconnect until the user answers.
    h.idle(Duration::from_millis(300));
    assert_eq!(server.connections(), 1);
    h.send(Request::Password("demo".into()));
    h.wait("connected", |e| matches!(e, Event::Connected(_)));
    h.quit(false);
    assert_eq!(server.connections(), 2);
}

#[test]
fn c14_login_delay_is_honoured() {
    let server = hooked(
        Mailbox::generated(1),
        ServerOptions::default(),
        login_hook(b"-ERR [LOGIN-DELAY] too soon\r\n", usize::MAX),
    );
    let mut h = start_default(wcfg(&server));
    let ev = h.wait("reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    let Event::Reconnecting { delay_secs, .. } = ev else {
        unreachable!()
    };
    assert!(delay_secs >= 60, "LOGIN-DELAY retried after {delay_secs} s");
    h.idle(Duration::from_millis(300));
    assert_eq!(server.connections(), 1);
    h.quit(false);
}

// ---------------------------------------------------------------------------
// C15: SASL challenges.

const LONG_PW_LEN: usize = 200; // too long for the AUTH line: a challenge round

#[test]
fn c15_garbage_sasl_challenge_is_cancelled_with_a_star() {
    let pw = "p".repeat(LONG_PW_LEN);
    for challenge in [
        &b"+ !!!not base64!!!\r\n"[..],
        b"+ dGVzdA==\r\n",
        b"+ \x1b[31m\r\n",
    ] {
        let challenge = challenge.to_vec();
        let server = hooked(
            Mailbox::generated(1),
            ServerOptions {
                users: vec![("demo".into(), pw.clone())],
                ..ServerOptions::default()
            },
            move |ctx| {
                if ctx.line == "AUTH PLAIN" {
                    Action::Reply(challenge.clone())
                } else {
                    Action::Normal
                }
            },
        );
        let mut c = connect(&plain_opts(&server), None).unwrap().client;
        let e = c
            .login(
                &Credentials::new("demo", pw.as_str()),
                AuthMethod::Plain,
                true,
            )
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{e:?}");
        assert!(e.message.contains("cancelled"), "{}", e.message);
        drop(c);
        support::wait_server_closed(server.addr().port());
        assert_eq!(log_lines(&server), vec!["CAPA", "AUTH PLAIN", "*"]);
    }
}

#[test]
fn c15_a_second_challenge_after_the_response_is_cancelled() {
    let pw = "p".repeat(LONG_PW_LEN);
    let server = hooked(
        Mailbox::generated(1),
        ServerOptions {
            users: vec![("demo".into(), pw.clone())],
            ..ServerOptions::default()
        },
        |ctx| {
            if ctx.index_in_conn == 2 {
                // The PLAIN response: ask for more, which PLAIN never does.
                Action::Reply(b"+ bW9yZQ==\r\n".to_vec())
            } else {
                Action::Normal
            }
        },
    );
    let mut c = connect(&plain_opts(&server), None).unwrap().client;
    let e = c
        .login(
            &Credentials::new("demo", pw.as_str()),
            AuthMethod::Plain,
            true,
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{e:?}");
    drop(c);
    support::wait_server_closed(server.addr().port());
    let log = log_lines(&server);
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!(log[3], "*");
}

#[test]
fn c15_no_silent_downgrade_when_plain_is_refused() {
    let server = hooked(Mailbox::generated(1), ServerOptions::default(), |ctx| {
        if ctx.line.starts_with("AUTH") {
            Action::Reply(b"-ERR [AUTH] mechanism disabled\r\n".to_vec())
        } else {
            Action::Normal
        }
    });
    let mut c = connect(&plain_opts(&server), None).unwrap().client;
    let e = c
        .login(&Credentials::new("demo", "demo"), AuthMethod::Plain, true)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    let log = log_lines(&server);
    assert!(
        !log.iter()
            .any(|l| l.starts_with("USER") || l.starts_with("APOP")),
        "fell back: {log:?}"
    );
}

// ---------------------------------------------------------------------------
// D16: over-long lines and endless responses.

#[test]
fn d16_over_long_status_line_is_a_protocol_error_and_closes() {
    let server = hooked(Mailbox::generated(1), ServerOptions::default(), |ctx| {
        if ctx.line == "STAT" {
            // 10 KB without a line end, then silence (the connection stays).
            Action::Reply(vec![b'A'; 10 * 1024])
        } else {
            Action::Normal
        }
    });
    let mut c = logged_in(&server);
    let e = c.stat().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{e:?}");
    assert!(
        e.message.contains(&MAX_STATUS_LINE.to_string()),
        "{}",
        e.message
    );
    assert_eq!(c.state(), State::Closed);
    // Not desynchronised: nothing more is sent on this connection.
    assert_eq!(c.noop().unwrap_err().kind, ErrorKind::Local);
}

#[test]
fn d16_endless_multi_line_answer_is_cut_at_the_limit() {
    // A RETR of a 100-byte message (LIST size) that never ends: the limit is
    // the LIST size plus slack, ~1 MB, far below what the server sends.
    let server = hooked(Mailbox::generated(1), ServerOptions::default(), |ctx| {
        if ctx.line.starts_with("RETR") {
            let mut v = b"+OK\r\n".to_vec();
            let line = [b"x".repeat(998), b"\r\n".to_vec()].concat();
            for _ in 0..3000 {
                v.extend_from_slice(&line);
            }
            Action::Reply(v)
        } else {
            Action::Normal
        }
    });
    let mut c = logged_in(&server);
    let e = c
        .execute(Command::Retr {
            msg: 1,
            size: Some(100),
        })
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{e:?}");
    assert!(e.message.contains("more than"), "{}", e.message);
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn d16_endless_line_inside_a_body_and_a_listing() {
    let server = hooked(
        Mailbox::generated(1),
        ServerOptions::default(),
        |ctx| match ctx.line {
            l if l.starts_with("RETR") => {
                let mut v = b"+OK\r\n".to_vec();
                v.extend(std::iter::repeat_n(b'y', 3 * 1024 * 1024));
                Action::Reply(v)
            }
            "UIDL" => {
                let mut v = b"+OK\r\n1 ".to_vec();
                v.extend(std::iter::repeat_n(b'z', 10_000));
                Action::Reply(v)
            }
            _ => Action::Normal,
        },
    );
    let mut c = logged_in(&server);
    let e = c
        .execute(Command::Retr {
            msg: 1,
            size: Some(100),
        })
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{e:?}");
    assert!(e.message.contains("longer than"), "{}", e.message);
    drop(c);
    assert!(server.wait_unlocked(Duration::from_secs(5)));
    let mut c = logged_in(&server);
    let e = c.uidl().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{e:?}");
    assert!(e.message.contains("longer than"), "{}", e.message);
}

// ---------------------------------------------------------------------------
// D17, D18, D19: long data lines, bare LF, split terminators.

fn message_with_long_line() -> Vec<u8> {
    use base64::Engine;
    let blob: Vec<u8> = (0..75_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(blob);
    assert!(b64.len() >= 100_000);
    let mut m = b"From: a@example.org\r\nSubject: long line\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    m.extend_from_slice(b64.as_bytes());
    m.extend_from_slice(b"\r\n");
    m
}

#[test]
fn d17_a_100_kb_data_line_arrives_intact_through_retr() {
    let msg = message_with_long_line();
    let server = Server::start(
        Mailbox::from_messages(vec![msg.clone()]),
        ServerOptions::default(),
    )
    .unwrap();
    let mut c = logged_in(&server);
    let body = c.retr(1).unwrap();
    assert_eq!(body.data, msg);
    assert!(!body.truncated);
    c.quit().unwrap();

    // Through the worker as well.
    let mut h = start_default(wcfg(&server));
    let (entries, _) = h.listing_entries();
    h.send(Request::Retrieve {
        ticket: 7,
        key: entries[0].key.clone(),
    });
    let ev = h.wait("message", |e| matches!(e, Event::Message { .. }));
    let Event::Message { ticket, view, .. } = ev else {
        unreachable!()
    };
    assert_eq!(ticket, 7);
    assert_eq!(view.raw, msg);
    h.quit(false);
}

#[test]
fn d18_bare_lf_is_a_line_end_and_a_lone_cr_is_not() {
    let server = hooked(
        Mailbox::generated(1),
        ServerOptions::default(),
        |ctx| match ctx.line {
            "STAT" => Action::Reply(b"+OK 1 42\n".to_vec()),
            "LIST" => Action::Reply(b"+OK\n1 42\n.\n".to_vec()),
            l if l.starts_with("RETR") => {
                Action::Reply(b"+OK\nSubject: lf\n\nline one\n..dotted\na\rb\n.\n".to_vec())
            }
            _ => Action::Normal,
        },
    );
    let mut c = logged_in(&server);
    assert_eq!(c.stat().unwrap(), (1, 42));
    assert_eq!(c.list().unwrap(), vec![(1, 42)]);
    let body = c.retr(1).unwrap();
    assert_eq!(body.data, b"Subject: lf\n\nline one\n.dotted\na\rb\n");
    c.noop().unwrap();
}

#[test]
fn d19_terminator_split_across_reads_gives_the_same_body() {
    let answer = b"+OK\r\nSubject: split\r\n\r\n..a\r\n..\r\nend\r\n.\r\n".to_vec();
    let expected = b"Subject: split\r\n\r\n.a\r\n.\r\nend\r\n".to_vec();
    for n in [1usize, 2, 3, 4, 7] {
        let answer = answer.clone();
        let server = hooked(
            Mailbox::generated(1),
            ServerOptions::default(),
            move |ctx| {
                if ctx.line.starts_with("RETR") {
                    Action::Split(answer.clone(), n)
                } else {
                    Action::Normal
                }
            },
        );
        let mut c = logged_in(&server);
        assert_eq!(c.retr(1).unwrap().data, expected, "chunks of {n}");
        c.noop().unwrap();
    }
}

// ---------------------------------------------------------------------------
// D20: EOF or TLS truncation before the terminator.

fn partial_retr_hook(ctx: &Ctx<'_>) -> Action {
    if ctx.line.starts_with("RETR") && ctx.conn == 0 {
        Action::ReplyThenStall(
            b"+OK\r\nSubject: cut\r\n\r\nhalf of the bo".to_vec(),
            Duration::from_millis(100),
        )
    } else {
        Action::Normal
    }
}

#[test]
fn d20_eof_before_the_terminator_is_an_error() {
    let server = hooked(
        Mailbox::generated(2),
        ServerOptions::default(),
        partial_retr_hook,
    );
    let mut c = logged_in(&server);
    let e = c.retr(1).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network, "{e:?}");
    assert!(e.message.contains("closed"), "{}", e.message);
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn d20_tls_truncation_before_the_terminator_is_an_error() {
    let pki = support::certs::TestPki::shared();
    let server = hooked(
        Mailbox::generated(2),
        ServerOptions {
            tls: Some(popview::demo::TlsMode::Implicit(pki.valid.identity())),
            ..ServerOptions::default()
        },
        partial_retr_hook,
    );
    let mut o = ConnectOptions::new("localhost", server.addr().port(), TlsMode::Implicit);
    o.ca_file = Some(pki.ca_pem.clone());
    o.io_timeout = Duration::from_secs(5);
    let mut c = connect(&o, None).unwrap().client;
    c.login(&Credentials::new("demo", "demo"), AuthMethod::Auto, false)
        .unwrap();
    let e = c.retr(1).unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::Network | ErrorKind::Tls),
        "{e:?}"
    );
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn d20_worker_never_delivers_or_caches_a_truncated_message() {
    let server = hooked(
        Mailbox::generated(2),
        ServerOptions::default(),
        partial_retr_hook,
    );
    let persist = Mem::default();
    let mut cfg = wcfg(&server);
    cfg.previews = false;
    let mut h = start(cfg, persist.clone());
    let (entries, _) = h.listing_entries();
    let key = entries[0].key.clone();
    h.send(Request::Retrieve {
        ticket: 42,
        key: key.clone(),
    });
    h.wait("reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    h.wait("second listing", |e| matches!(e, Event::Listing { .. }));
    // Control: a complete RETR in the new session is delivered and cached.
    let other = entries[1].key.clone();
    h.send(Request::Retrieve {
        ticket: 43,
        key: other.clone(),
    });
    h.wait("message 43", |e| {
        matches!(e, Event::Message { ticket: 43, .. })
    });
    h.idle(Duration::from_millis(200));
    let seen = h.quit(false);
    assert!(
        persist
            .state()
            .headers
            .contains_key(other.uid.as_ref().unwrap())
    );
    // The cut read may be asked again in the new session (the worker
    // re-queues reads lost with a connection) unless the newer retrieve
    // replaced it first: then the whole message arrives for ticket 42.
    // What must never arrive is the truncated one.
    let full = server.messages()[0].1.clone();
    let redelivered = seen.iter().find_map(|e| match e {
        Event::Message {
            ticket: 42, view, ..
        } => Some(view.raw.clone()),
        _ => None,
    });
    match redelivered {
        Some(raw) => assert_eq!(raw, full, "a truncated message was delivered"),
        None => {
            let uid = key.uid.unwrap();
            assert!(
                !persist.state().headers.contains_key(&uid),
                "the truncated message's headers were cached"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// D21: numbers.

#[test]
fn d21_sizes_and_counts_are_checked_numbers() {
    assert_eq!(parse_stat("2 300").unwrap(), (2, 300));
    assert_eq!(parse_stat("  2   300  ").unwrap(), (2, 300));
    assert_eq!(
        parse_stat("1 99999999999").unwrap(),
        (1, 99_999_999_999),
        "sizes beyond 32 bits"
    );
    assert_eq!(
        parse_scan_line(b"1 18446744073709551615").unwrap(),
        (1, u64::MAX)
    );
    for bad in [
        "5000000000 1",
        "-1 5",
        "1 -5",
        "x y",
        "1",
        "",
        "1 18446744073709551616",
        "1 1e9",
        "1 +5",
        "0x10 5",
    ] {
        let e = parse_stat(bad).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{bad:?}");
    }
    for bad in [
        &b"0 100"[..],
        b"-1 100",
        b"1 -100",
        b"1 ten",
        b"4294967296 1",
    ] {
        assert!(parse_scan_line(bad).is_err(), "{bad:?}");
        assert!(
            parse_uidl_line(bad).is_err() || bad.starts_with(b"1 "),
            "{bad:?}"
        );
    }
}

#[test]
fn d21_list_sizes_are_hints_never_used_to_truncate_or_preallocate() {
    let msg = message_with_long_line();
    let server = hooked(
        Mailbox::from_messages(vec![msg.clone(), b"Subject: two\r\n\r\nx\r\n".to_vec()]),
        ServerOptions::default(),
        |ctx| {
            if ctx.line == "LIST" {
                // Message 1 claims 1 byte (it has 100 KB), message 2 claims
                // 2^40 bytes: neither may truncate or allocate.
                Action::Reply(b"+OK\r\n1 1\r\n2 1099511627776\r\n.\r\n".to_vec())
            } else {
                Action::Normal
            }
        },
    );
    let mut h = start_default(wcfg(&server));
    let (entries, _) = h.listing_entries();
    assert_eq!(entries[1].size, 1 << 40);
    for (t, e) in entries.iter().enumerate() {
        h.send(Request::Retrieve {
            ticket: t as u64 + 1,
            key: e.key.clone(),
        });
        let ev = h.wait("message", |ev| matches!(ev, Event::Message { .. }));
        let Event::Message { view, .. } = ev else {
            unreachable!()
        };
        let expected = if t == 0 {
            msg.clone()
        } else {
            b"Subject: two\r\n\r\nx\r\n".to_vec()
        };
        assert_eq!(view.raw, expected);
    }
    h.quit(false);
}

#[test]
fn d21_garbage_in_stat_or_list_is_a_protocol_error_not_a_panic() {
    for (cmd, reply) in [
        ("STAT", &b"+OK lots many\r\n"[..]),
        ("STAT", b"+OK -3 -4\r\n"),
        ("LIST", b"+OK\r\n1 12\r\nfoo bar\r\n.\r\n"),
        ("LIST", b"+OK\r\n1 99999999999999999999999\r\n.\r\n"),
    ] {
        let server = hooked(
            Mailbox::generated(1),
            ServerOptions::default(),
            move |ctx| {
                if ctx.line == cmd {
                    Action::Reply(reply.to_vec())
                } else {
                    Action::Normal
                }
            },
        );
        let mut c = logged_in(&server);
        let e = if cmd == "STAT" {
            c.stat().unwrap_err()
        } else {
            c.list().unwrap_err()
        };
        assert_eq!(e.kind, ErrorKind::Protocol, "{reply:?}");
        assert!(clean(&e.message));
    }
}

// ---------------------------------------------------------------------------
// D22: message numbers out of range or repeated.

#[test]
fn d22_repeated_and_unknown_numbers_in_list_and_uidl_are_dropped() {
    let server = hooked(
        Mailbox::generated(3),
        ServerOptions::default(),
        |ctx| match ctx.line {
            "LIST" => Action::Reply(b"+OK\r\n2 100\r\n1 50\r\n2 999\r\n3 70\r\n.\r\n".to_vec()),
            "UIDL" => Action::Reply(
                b"+OK\r\n1 uid-a\r\n2 uid-b\r\n2 uid-x\r\n3 uid-c\r\n77 uid-ghost\r\n.\r\n"
                    .to_vec(),
            ),
            _ => Action::Normal,
        },
    );
    let mut h = start_default(wcfg(&server));
    let (entries, _) = h.listing_entries();
    let nums: Vec<u32> = entries.iter().map(|e| e.key.number).collect();
    assert_eq!(nums, vec![1, 2, 3]);
    assert_eq!(entries[1].size, 100, "the first LIST line for 2 counts");
    let uids: Vec<Option<&str>> = entries.iter().map(|e| e.key.uid.as_deref()).collect();
    assert_eq!(uids, vec![Some("uid-a"), Some("uid-b"), Some("uid-c")]);
    // A key naming the ghost message resolves to nothing: no command for it.
    h.send(Request::Retrieve {
        ticket: 1,
        key: MsgKey {
            number: 77,
            uid: Some("uid-ghost".into()),
            generation: 0,
        },
    });
    h.send(Request::Mark(MsgKey {
        number: 77,
        uid: Some("uid-ghost".into()),
        generation: 0,
    }));
    h.idle(Duration::from_millis(300));
    h.quit(false);
    let log = log_lines(&server);
    assert!(
        !log.iter()
            .any(|l| ["RETR 77", "DELE 77", "TOP 77", "LIST 77"]
                .iter()
                .any(|c| l.starts_with(c))),
        "{log:?}"
    );
}

// ---------------------------------------------------------------------------
// D23: hostile UIDLs.

fn d23_server() -> Server {
    let long = "u".repeat(71);
    let uidl = format!(
        "+OK\r\n1 {long}\r\n2 ../../etc/passwd\r\n3 dup\r\n4 dup\r\n5 ok-5\r\n6 a\u{7f}b\r\n7 caf\u{e9}\r\n.\r\n"
    );
    hooked(
        Mailbox::generated(7),
        ServerOptions::default(),
        move |ctx| {
            if ctx.line == "UIDL" {
                Action::Reply(uidl.clone().into_bytes())
            } else {
                Action::Normal
            }
        },
    )
}

fn deles(server: &Server) -> Vec<String> {
    log_lines(server)
        .into_iter()
        .filter(|l| l.starts_with("DELE"))
        .collect()
}

#[test]
fn d23_invalid_uidls_are_dropped_and_the_rest_shown_sanitized() {
    let server = d23_server();
    let mut h = start_default(wcfg(&server));
    let (entries, _) = h.listing_entries();
    let uids: Vec<Option<&str>> = entries.iter().map(|e| e.key.uid.as_deref()).collect();
    assert_eq!(
        uids,
        vec![
            None,                     // over-long
            Some("../../etc/passwd"), // legal per RFC 1939; the store never uses it as a path
            None,                     // duplicate
            None,                     // duplicate
            Some("ok-5"),
            None, // DEL
            None, // 8-bit
        ]
    );
    for u in entries.iter().filter_map(|e| e.key.uid.as_deref()) {
        assert!(clean(u));
    }
    // A message with a dropped (invalid) UID is still readable by number.
    h.send(Request::Retrieve {
        ticket: 1,
        key: entries[0].key.clone(),
    });
    h.wait("message", |e| matches!(e, Event::Message { ticket: 1, .. }));
    // A normal mark works.
    h.send(Request::Mark(entries[4].key.clone()));
    h.wait(
        "one mark",
        |e| matches!(e, Event::Marks { marked, .. } if marked.len() == 1),
    );
    h.idle(Duration::from_millis(200));
    h.quit(false);
    assert_eq!(deles(&server), vec!["DELE 5"]);
}

/// Both messages of a duplicated UIDL get `uid: None, ambiguous: true`; a
/// key for them resolves by number, and `ops::mark` must still refuse it
/// (this test found that it didn't: one mark, two deletions).
#[test]
fn d23_duplicate_uidls_cannot_be_marked() {
    let server = d23_server();
    let mut h = start_default(wcfg(&server));
    let (entries, _) = h.listing_entries();
    h.send(Request::Mark(entries[2].key.clone()));
    h.send(Request::Mark(entries[3].key.clone()));
    h.idle(Duration::from_millis(500));
    let seen = h.quit(false);
    assert_eq!(
        deles(&server),
        Vec::<String>::new(),
        "DELE sent for a duplicate UIDL"
    );
    assert!(
        seen.iter().any(
            |e| matches!(e, Event::MarkRefused { reason, .. } if reason.contains("unique id"))
        ),
        "no explanation shown"
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::Marks { marked, .. } if !marked.is_empty())),
        "an ambiguous message was marked"
    );
}

// ---------------------------------------------------------------------------
// D24: degraded servers still work through the worker.

fn degraded(opts: ServerOptions, expect_uids: bool) {
    let mailbox = Mailbox::generated(4);
    let raw3 = popview::demo::server::normalize_crlf(&mailbox.messages()[2].1);
    let server = Server::start(mailbox, opts.clone()).unwrap();
    let mut h = start_default(wcfg(&server));
    let (entries, no_uidl) = h.listing_entries();
    assert_eq!(entries.len(), 4, "{opts:?}");
    assert_eq!(no_uidl.is_none(), expect_uids, "{opts:?}");
    if let Some(reason) = &no_uidl {
        assert!(clean(reason) && reason.contains("UIDL"));
    }
    h.send(Request::Retrieve {
        ticket: 9,
        key: entries[2].key.clone(),
    });
    let ev = h.wait("message", |e| matches!(e, Event::Message { .. }));
    let Event::Message { view, .. } = ev else {
        unreachable!()
    };
    assert_eq!(view.raw, raw3, "{opts:?}");
    h.quit(false);
}

#[test]
fn d24_server_without_top_uidl_or_capa_still_works() {
    degraded(
        ServerOptions {
            top: false,
            ..ServerOptions::default()
        },
        true,
    );
    degraded(
        ServerOptions {
            uidl: false,
            ..ServerOptions::default()
        },
        false,
    );
    degraded(
        ServerOptions {
            capa: false,
            ..ServerOptions::default()
        },
        true,
    );
    degraded(
        ServerOptions {
            capa: false,
            top: false,
            uidl: false,
            pipelining: false,
            ..ServerOptions::default()
        },
        false,
    );
}

#[test]
fn d24_top_that_streams_the_whole_body_still_gives_previews() {
    let mailbox = Mailbox::generated(5);
    let server = Server::start(
        mailbox,
        ServerOptions {
            top_streams_body: true,
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let mut h = start_default(wcfg(&server));
    h.listing_entries();
    h.wait(
        "previews",
        |e| matches!(e, Event::Progress { done, total, .. } if done == total && *total > 0),
    );
    let seen = h.quit(false);
    let previews: Vec<_> = seen
        .iter()
        .flat_map(|e| match e {
            Event::Previews(v) => v.clone(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(previews.len(), 5);
    assert!(previews.iter().all(|(_, s)| !s.subject.is_empty()));
}

// ---------------------------------------------------------------------------
// Properties: the client over arbitrary server bytes, split arbitrarily.

/// A peer that answers each command line the client writes with the next
/// canned reply (the first one is the greeting), handing bytes out in reads
/// whose sizes cycle through `splits`; EOF once the replies run out.
struct Canned {
    replies: VecDeque<Vec<u8>>,
    readable: VecDeque<u8>,
    splits: Vec<usize>,
    next: usize,
    written: Vec<u8>,
}

impl Canned {
    fn new(replies: &[Vec<u8>], splits: &[usize]) -> Canned {
        let mut replies: VecDeque<Vec<u8>> = replies.iter().cloned().collect();
        let readable = replies
            .pop_front()
            .unwrap_or_default()
            .into_iter()
            .collect();
        Canned {
            replies,
            readable,
            splits: if splits.is_empty() {
                vec![usize::MAX]
            } else {
                splits.to_vec()
            },
            next: 0,
            written: Vec::new(),
        }
    }
}

impl Read for Canned {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = self.splits[self.next % self.splits.len()].max(1);
        self.next += 1;
        let n = buf.len().min(want).min(self.readable.len());
        for b in buf.iter_mut().take(n) {
            *b = self.readable.pop_front().unwrap();
        }
        Ok(n)
    }
}

impl Write for Canned {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        for _ in buf.iter().filter(|b| **b == b'\n') {
            if let Some(r) = self.replies.pop_front() {
                self.readable.extend(r);
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A whole session against whatever the bytes say; returns the total size of
/// everything parsed out of them.
fn session_over(replies: &[Vec<u8>], splits: &[usize]) -> usize {
    let total: usize = replies.iter().map(Vec::len).sum();
    let Ok(mut c) = Client::new(Canned::new(replies, splits), true, None) else {
        return 0;
    };
    let mut out = 0usize;
    let alive = |c: &Client<Canned>| c.state() != State::Closed;
    let _ = c.refresh_capabilities();
    if alive(&c) {
        let _ = c.login(&Credentials::new("u", "p"), AuthMethod::Auto, false);
    }
    let cmds = [
        Command::Stat,
        Command::List(None),
        Command::Uidl(None),
        Command::List(Some(1)),
        Command::Top {
            msg: 1,
            lines: 0,
            size: Some(10),
        },
        Command::Retr {
            msg: 1,
            size: Some(10),
        },
        Command::Retr { msg: 2, size: None },
    ];
    for cmd in cmds {
        if !alive(&c) || c.state() != State::Transaction {
            break;
        }
        let limits = cmd.multi_line();
        match c.execute(cmd) {
            Ok(Reply::Body(b)) => {
                let l: BodyLimits = limits.unwrap();
                assert!(b.data.len() as u64 <= l.max_kept, "kept beyond the cap");
                if l.headers_only {
                    assert!(b.data.len() as u64 <= MAX_HEADER_BYTES);
                }
                assert!(b.data.len() <= total, "a body bigger than the input");
                out += b.data.len();
            }
            Ok(Reply::ScanListing(v)) => {
                assert!(v.len() <= total / 2 + 1);
                assert!(v.iter().all(|(n, _)| *n > 0));
                out += v.len();
            }
            Ok(Reply::UidListing(v)) => {
                assert!(v.len() <= total / 2 + 1);
                for u in v.iter().filter_map(|(_, u)| u.as_ref()) {
                    assert!(popview::pop3::response::valid_uid(u.as_bytes()));
                }
                out += v.len();
            }
            Ok(_) => {}
            Err(e) => assert!(clean(&e.message), "{:?}", e.message),
        }
    }
    out
}

fn server_replies() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let piece = prop_oneof![
        Just(b"+OK".to_vec()),
        Just(b"+OK ".to_vec()),
        Just(b"-ERR ".to_vec()),
        Just(b"[IN-USE] ".to_vec()),
        Just(b"[sys/perm]".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b".\r\n".to_vec()),
        Just(b"..".to_vec()),
        Just(b".".to_vec()),
        Just(b"1 100".to_vec()),
        Just(b"2 uid".to_vec()),
        Just(b"4294967296 18446744073709551616".to_vec()),
        Just(b"+ ".to_vec()),
        Just(b"SASL PLAIN\r\nUSER\r\nPIPELINING\r\nTOP\r\nUIDL".to_vec()),
        Just(b"\x1b[31m\x00\xff".to_vec()),
        Just(vec![b'x'; 5000]),
        prop::collection::vec(any::<u8>(), 0..16),
    ];
    let reply = prop::collection::vec(piece, 0..12).prop_map(|v| v.concat());
    // Mostly POP3-shaped: a status line first, sometimes a body.
    let shaped = (
        prop_oneof![
            Just(b"+OK\r\n".to_vec()),
            Just(b"-ERR [IN-USE] x\r\n".to_vec()),
            Just(b"+OK 2 30\r\n".to_vec())
        ],
        reply.clone(),
        prop::bool::ANY,
    )
        .prop_map(|(status, body, end)| {
            let mut v = status;
            v.extend_from_slice(&body);
            if end {
                v.extend_from_slice(b"\r\n.\r\n");
            }
            v
        });
    prop::collection::vec(prop_oneof![reply, shaped], 0..14)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any server bytes, split anywhere: no panic, results within the caps.
    #[test]
    fn prop_client_never_panics_and_stays_bounded(
        replies in server_replies(),
        splits in prop::collection::vec(1usize..40, 0..8),
    ) {
        let _ = session_over(&replies, &splits);
    }

    /// Pure garbage (not even POP3-shaped).
    #[test]
    fn prop_client_survives_random_bytes(
        replies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..700), 0..10),
        splits in prop::collection::vec(1usize..600, 0..4),
    ) {
        let mut all = vec![b"+OK\r\n".to_vec()];
        all.extend(replies);
        let _ = session_over(&all, &splits);
    }

    /// A well-formed RETR answer: the body is the same however the reads
    /// split it, dot-stuffing is undone, each line keeps its own line end.
    #[test]
    fn prop_retr_body_is_independent_of_read_splits(
        lines in prop::collection::vec(
            (prop::collection::vec(prop_oneof![Just(b'.'), Just(b'a'), Just(b'\r'), any::<u8>()], 0..20),
             any::<bool>()),
            0..30),
        splits in prop::collection::vec(1usize..9, 1..6),
    ) {
        let mut expected = Vec::new();
        let mut answer = b"+OK\r\n".to_vec();
        for (mut line, crlf) in lines {
            line.retain(|b| *b != b'\n');
            // A line that is all content must not end in CR when it uses a
            // bare LF end (it would then be a CRLF end).
            if !crlf && line.last() == Some(&b'\r') {
                line.pop();
            }
            let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            if line.first() == Some(&b'.') {
                answer.push(b'.');
            }
            answer.extend_from_slice(&line);
            answer.extend_from_slice(eol);
            expected.extend_from_slice(&line);
            expected.extend_from_slice(eol);
        }
        answer.extend_from_slice(b".\r\n");
        // Greeting, USER, PASS (authenticate asks no CAPA afterwards), RETR.
        let replies = [
            b"+OK\r\n".to_vec(),
            b"+OK\r\n".to_vec(),
            b"+OK\r\n".to_vec(),
            answer,
            b"+OK still in sync\r\n".to_vec(),
        ];
        let mut c = Client::new(Canned::new(&replies, &splits), true, None).unwrap();
        c.authenticate(&Credentials::new("u", "p"), AuthMethod::User, false)
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let body = c.retr(1).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(body.data, expected);
        c.noop().map_err(|e| TestCaseError::fail(format!("out of sync: {e:?}")))?;
    }

    /// Response codes: case does not matter.
    #[test]
    fn prop_codes_are_case_insensitive(
        code in prop_oneof![Just("IN-USE"), Just("SYS/PERM"), Just("SYS/TEMP"), Just("AUTH"), Just("LOGIN-DELAY")],
        mask in any::<u64>(),
    ) {
        let mixed: String = code
            .chars()
            .enumerate()
            .map(|(i, c)| if mask >> (i % 64) & 1 == 1 { c.to_ascii_lowercase() } else { c })
            .collect();
        let a = parse_status(format!("-ERR [{code}] x").as_bytes()).unwrap();
        let b = parse_status(format!("-err [{mixed}] x").as_bytes()).unwrap();
        prop_assert_eq!(a, b);
    }
}

/// D16 + D21: a LIST size is a hint the server controls. Claiming 2^40
/// octets must not let an endless line in an automatic `TOP n 0` preview
/// (which keeps only 256 KB of headers) grow the line buffer without bound.
#[test]
fn d16_endless_line_in_a_preview_is_bounded_whatever_list_claims() {
    let mut payload = b"+OK\r\n".to_vec();
    payload.resize(popview::pop3::response::MAX_DATA_LINE + 1024 * 1024, b'x');
    let payload = Arc::new(payload);
    let server = hooked(
        Mailbox::generated(1),
        ServerOptions::default(),
        move |ctx| {
            if ctx.line.starts_with("TOP") {
                Action::Reply(payload.to_vec())
            } else {
                Action::Normal
            }
        },
    );
    let mut o = plain_opts(&server);
    o.io_timeout = Duration::from_secs(30);
    let mut c = connect(&o, None).unwrap().client;
    c.login(&Credentials::new("demo", "demo"), AuthMethod::User, true)
        .unwrap();
    let e = c
        .execute(Command::Top {
            msg: 1,
            lines: 0,
            size: Some(1 << 40),
        })
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{e:?}");
    assert!(e.message.contains("longer than"), "{}", e.message);
}

/// Found by the client_session fuzzer (tests/fixtures/fuzz/client_session/
/// crash-sasl-mechanism-nul): CAPA `SASL` names went verbatim into the
/// "no authentication method" error, NUL and escapes included. Names must
/// follow RFC 4422 (1-20 of A-Z 0-9 - _); anything else is dropped.
#[test]
fn b8_sasl_mechanism_names_from_capa_are_validated() {
    use popview::pop3::Capabilities;
    let caps = Capabilities::parse(
        b"SASL PLAIN \x00 \x1b[31m x-oauth2 SCRAM-SHA-256 ABCDEFGHIJKLMNOPQRSTU caf\xc3\xa9\r\n",
    );
    assert_eq!(caps.sasl, vec!["PLAIN", "X-OAUTH2", "SCRAM-SHA-256"]);
    let caps = Capabilities::parse(b"SASL \x00\x1b]0;x\x07 GSSAPI\r\n");
    let e = popview::pop3::auth::choose(AuthMethod::Auto, &caps, "ready", true).unwrap_err();
    assert!(clean(&e.message), "{:?}", e.message);
    assert!(e.message.contains("GSSAPI"), "{}", e.message);
}
