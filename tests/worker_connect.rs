//! How the worker connects and reconnects (issue 9, section 7): the backoff
//! restarts only after a session that worked; the countdown event; `r`
//! opens the new session before it ends the working one; a wrong password
//! is asked again at once, and after Esc `r` asks again; the certificate is
//! checked before the password is asked. Against the in-process server and
//! a private Dovecot; the exit code of the real binary in tmux.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use popview::demo::{Action, Ctx, Mailbox, Server, ServerOptions};
use popview::pop3::transport::ConnectOptions;
use popview::pop3::{ErrorKind, TlsMode};
use popview::worker::WorkerConfig;
use popview::worker::api::{Event, MsgKey, Request};
use support::certs::TestPki;
use support::dovecot::{Dovecot, DovecotOptions, generated_messages};
use support::proxy::Proxy;
use support::worker::{Harness, WAIT, dovecot_config, server_uidls, summary};

type Mem = popview::worker::persist::Memory;

fn start(cfg: WorkerConfig) -> Harness {
    Harness::start(cfg, Box::new(Mem::default()))
}

fn config_for_port(port: u16) -> WorkerConfig {
    support::worker::demo_config(port)
}

fn config(server: &Server) -> WorkerConfig {
    config_for_port(server.addr().port())
}

fn server(n: usize, opts: ServerOptions) -> Server {
    Server::start(Mailbox::generated(n), opts).unwrap()
}

/// Two messages; the first `n` logins are refused as a passing failure
/// (`[SYS/TEMP]`), the rest go through.
fn busy_for_logins(n: usize) -> Server {
    let count = AtomicUsize::new(0);
    hooked(2, true, move |ctx| {
        if completes_login(ctx.line) && count.fetch_add(1, Ordering::SeqCst) < n {
            Action::Reply(b"-ERR [SYS/TEMP] try again later\r\n".to_vec())
        } else {
            Action::Normal
        }
    })
}

fn hooked(
    n: usize,
    lock_maildrop: bool,
    hook: impl Fn(&Ctx<'_>) -> Action + Send + Sync + 'static,
) -> Server {
    server(
        n,
        ServerOptions {
            lock_maildrop,
            hook: Some(Arc::new(hook)),
            ..ServerOptions::default()
        },
    )
}

/// Index in the server's log of the first line on `conn` starting with
/// `prefix` (the log is in arrival order across connections).
fn log_index(server: &Server, conn: usize, prefix: &str) -> Option<usize> {
    server
        .log()
        .iter()
        .position(|l| l.conn == conn && l.line.starts_with(prefix))
}

/// Index in the server's log of the login (any method) on `conn`.
fn login_index(server: &Server, conn: usize) -> Option<usize> {
    server
        .log()
        .iter()
        .position(|l| l.conn == conn && is_credential(&l.line))
}

fn is_credential(line: &str) -> bool {
    ["USER", "PASS", "APOP", "AUTH"]
        .iter()
        .any(|c| line.starts_with(c))
}

/// The line that completes a login (the password, or its proof).
fn completes_login(line: &str) -> bool {
    ["PASS", "APOP", "AUTH"].iter().any(|c| line.starts_with(c))
}

fn credentials_sent(server: &Server) -> bool {
    server.log().iter().any(|l| is_credential(&l.line))
}

fn reconnect_attempts(seen: &[Event]) -> Vec<u32> {
    seen.iter()
        .filter_map(|e| match e {
            Event::Reconnecting { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect()
}

fn is_listing(e: &Event) -> bool {
    matches!(e, Event::Listing { .. })
}

// ---------------------------------------------------------------------------
// The backoff restarts after a session that worked, and only then.

/// A server that ends every session at its first NOOP (a keepalive after
/// 150 ms idle), so each session lives a moment after the listing.
fn dropping_at_noop() -> Server {
    hooked(3, true, |ctx| {
        if ctx.line == "NOOP" {
            Action::Drop
        } else {
            Action::Normal
        }
    })
}

fn short_lived(server: &Server) -> WorkerConfig {
    let mut cfg = config(server);
    cfg.keepalive = Duration::from_millis(150);
    cfg.backoff = Duration::from_millis(40);
    cfg.max_backoff = Duration::from_secs(5);
    cfg.max_attempts = 4;
    cfg
}

#[test]
fn a_session_that_served_the_user_restarts_the_backoff() {
    let server = dropping_at_noop();
    let mut h = start(short_lived(&server));
    for round in 0..4u64 {
        let keys = h.listing();
        h.send(Request::Retrieve {
            ticket: round + 1,
            key: keys[round as usize % 3].clone(),
        });
        h.wait("the message", |e| matches!(e, Event::Message { .. }));
        h.wait("the cut", |e| matches!(e, Event::Reconnecting { .. }));
    }
    h.listing();
    let attempts = reconnect_attempts(&h.seen);
    assert_eq!(attempts, vec![1, 1, 1, 1], "{}", summary(&h.seen));
    // With a 4-attempt limit, five sessions were only possible because
    // each one that served the user started the count afresh.
    assert_eq!(server.connections(), 5);
    assert!(
        !h.seen
            .iter()
            .any(|e| matches!(e, Event::Error(w) if w.fatal)),
        "{}",
        summary(&h.seen)
    );
    h.quit(false);
}

/// The same server and sessions, but the user asks nothing: previews, the
/// listing and NOOPs are what every session does by itself, so the delays
/// grow and the attempt limit ends it.
#[test]
fn sessions_that_served_nothing_keep_backing_off() {
    let server = dropping_at_noop();
    let mut h = start(short_lived(&server));
    let fatal = h.wait("giving up", |e| matches!(e, Event::Error(w) if w.fatal));
    let Event::Error(w) = fatal else {
        unreachable!()
    };
    assert_eq!(w.kind, ErrorKind::Network, "{w:?}");
    assert_eq!(reconnect_attempts(&h.seen), vec![1, 2, 3]);
    let listings = h.seen.iter().filter(|e| is_listing(e)).count();
    assert_eq!(listings, 4, "each session reached its listing");
    assert_eq!(server.connections(), 4);
    h.quit(false);
}

/// A message whose RETR makes the server hang up: the read is asked again
/// in each new session, but a read cut off is not an answer, so the
/// backoff grows and the attempt limit ends it.
#[test]
fn a_read_the_server_always_drops_does_not_restart_the_backoff() {
    let server = hooked(3, true, |ctx| {
        if ctx.line.starts_with("RETR") {
            Action::Drop
        } else {
            Action::Normal
        }
    });
    let mut cfg = config(&server);
    cfg.backoff = Duration::from_millis(40);
    cfg.max_backoff = Duration::from_secs(5);
    cfg.max_attempts = 4;
    let mut h = start(cfg);
    let keys = h.listing();
    h.send(Request::Retrieve {
        ticket: 1,
        key: keys[1].clone(),
    });
    h.wait("giving up", |e| matches!(e, Event::Error(w) if w.fatal));
    assert_eq!(reconnect_attempts(&h.seen), vec![1, 2, 3]);
    let retrs = server
        .log()
        .iter()
        .filter(|l| l.line.starts_with("RETR"))
        .count();
    assert_eq!(retrs, 4, "asked again in every session");
    h.quit(false);
}

// ---------------------------------------------------------------------------
// The countdown.

/// A port nobody listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn the_countdown_event_comes_once_per_wait_with_the_whole_delay_rounded_up() {
    let mut cfg = config_for_port(closed_port());
    cfg.backoff = Duration::from_millis(600);
    cfg.max_backoff = Duration::from_millis(1500);
    cfg.max_attempts = 4;
    let mut h = start(cfg);
    h.wait("giving up", |e| matches!(e, Event::Error(w) if w.fatal));
    let mut waits = Vec::new();
    for e in &h.seen {
        if let Event::Reconnecting {
            attempt,
            delay_secs,
            ..
        } = e
        {
            waits.push((*attempt, *delay_secs));
        }
    }
    assert_eq!(
        waits,
        vec![(1, 1), (2, 2), (3, 2)],
        "0.6 s, 1.2 s and 1.5 s, each announced once, rounded up:\n{}",
        summary(&h.seen)
    );
    h.quit(false);
}

/// Each wait lasts at least what it announced (no early retry), measured
/// from the event to the next connection attempt.
#[test]
fn the_worker_waits_the_announced_delay() {
    let port = closed_port();
    let mut cfg = config_for_port(port);
    cfg.backoff = Duration::from_millis(700);
    cfg.max_backoff = Duration::from_secs(5);
    cfg.max_attempts = 3;
    let mut h = start(cfg);
    let mut gaps = Vec::new();
    for _ in 0..2 {
        h.wait("countdown", |e| matches!(e, Event::Reconnecting { .. }));
        let t = Instant::now();
        h.wait("next attempt", |e| matches!(e, Event::Connecting { .. }));
        gaps.push(t.elapsed());
    }
    assert!(gaps[0] >= Duration::from_millis(650), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(1350), "{gaps:?}");
    h.quit(false);
}

/// `r` during the countdown retries now instead of after the full wait.
#[test]
fn r_during_the_countdown_retries_now() {
    let server = busy_for_logins(1);
    let mut cfg = config(&server);
    cfg.backoff = Duration::from_secs(60);
    cfg.max_backoff = Duration::from_secs(60);
    let mut h = start(cfg);
    let ev = h.wait("countdown", |e| matches!(e, Event::Reconnecting { .. }));
    assert!(
        matches!(ev, Event::Reconnecting { delay_secs: 60, .. }),
        "{ev:?}"
    );
    let t = Instant::now();
    h.send(Request::CheckNewMail);
    assert_eq!(h.listing().len(), 2);
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    h.quit(false);
}

/// Out of attempts after a passing failure (the network was gone): the
/// worker says so and waits; `r` starts a fresh round.
#[test]
fn r_after_the_attempts_ran_out_tries_again() {
    let server = busy_for_logins(2);
    let mut cfg = config(&server);
    cfg.max_attempts = 2;
    let mut h = start(cfg);
    h.wait("giving up", |e| matches!(e, Event::Error(w) if w.fatal));
    assert_eq!(server.connections(), 2);
    h.send(Request::CheckNewMail);
    assert_eq!(h.listing().len(), 2);
    assert_eq!(server.connections(), 3);
    h.quit(false);
}

// ---------------------------------------------------------------------------
// `r`: the new session first, then the old one ends without deleting.

fn mark_and_wait(h: &mut Harness, key: &MsgKey) {
    h.send(Request::Mark(key.clone()));
    let uid = key.uid.clone().unwrap();
    h.marks_exactly(&[&uid]);
}

/// Conn 0 ended with RSET then QUIT, and no DELE after its RSET.
fn ended_without_deleting(server: &Server, conn: usize) {
    let lines = server.lines(conn);
    let rset = lines.iter().rposition(|l| l == "RSET");
    let quit = lines.iter().position(|l| l == "QUIT");
    match (rset, quit) {
        (Some(r), Some(q)) => {
            assert!(r < q, "QUIT before RSET on conn {conn}: {lines:?}");
            assert!(
                !lines[r..].iter().any(|l| l.starts_with("DELE")),
                "{lines:?}"
            );
        }
        (_, None) => {} // dropped: deletes nothing either
        (None, Some(_)) => panic!("QUIT without RSET on conn {conn}: {lines:?}"),
    }
}

#[test]
fn r_opens_the_new_session_before_ending_the_old_one() {
    let server = server(
        4,
        ServerOptions {
            lock_maildrop: false,
            ..ServerOptions::default()
        },
    );
    let before = server.mailbox_uids();
    let mut h = start(config(&server));
    let keys = h.listing();
    mark_and_wait(&mut h, &keys[1]);
    server.add_message("new-1", b"Subject: new\r\n\r\nhello\r\n");
    h.send(Request::CheckNewMail);
    let keys = h.listing();
    assert_eq!(keys.len(), 5, "the new mail is listed");
    h.marks_exactly(&[&before[1]]);
    // Order on the wire: the new login and its listing, then the old
    // session's RSET and QUIT.
    let login = login_index(&server, 1).expect("second login");
    let list = log_index(&server, 1, "LIST").expect("second listing");
    let rset = log_index(&server, 0, "RSET").expect("old session RSET");
    let quit = log_index(&server, 0, "QUIT").expect("old session QUIT");
    assert!(
        login < rset && list < rset && rset < quit,
        "{:?}",
        server.log()
    );
    ended_without_deleting(&server, 0);
    // The mark is applied again in the new session, and the swap deleted
    // nothing.
    let deles: Vec<_> = server
        .lines(1)
        .into_iter()
        .filter(|l| l.starts_with("DELE"))
        .collect();
    assert_eq!(deles, vec!["DELE 2".to_string()]);
    let mut all = before.clone();
    all.push("new-1".into());
    assert_eq!(server.mailbox_uids(), all);
    assert_eq!(server.connections(), 2);
    // The new session works, and commits exactly the mark.
    h.send(Request::Retrieve {
        ticket: 1,
        key: keys[4].clone(),
    });
    h.wait("the new message", |e| matches!(e, Event::Message { .. }));
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 1, .. })),
        "{}",
        summary(&seen)
    );
    all.remove(1);
    assert_eq!(server.mailbox_uids(), all);
}

/// The second login fails (server busy, or the connection breaks): the
/// user keeps the working session, is told why, and nothing is deleted.
#[test]
fn a_failed_second_login_keeps_the_working_session() {
    type Fail = fn() -> Action;
    let cases: [(&str, Fail); 2] = [
        ("busy", || {
            Action::Reply(b"-ERR [SYS/TEMP] too busy, try later\r\n".to_vec())
        }),
        ("dropped", || Action::Drop),
    ];
    for (case, fail) in cases {
        let server = hooked(4, false, move |ctx| {
            if ctx.conn > 0 && completes_login(ctx.line) {
                fail()
            } else {
                Action::Normal
            }
        });
        let before = server.mailbox_uids();
        let mut h = start(config(&server));
        let keys = h.listing();
        h.previews_loaded();
        mark_and_wait(&mut h, &keys[0]);
        h.send(Request::CheckNewMail);
        let ev = h.wait("the explanation", |e| matches!(e, Event::Error(_)));
        let Event::Error(w) = ev else { unreachable!() };
        assert!(!w.fatal, "{case}: {w:?}");
        assert!(w.message.contains("still connected"), "{case}: {w:?}");
        // The old session still serves.
        h.send(Request::Retrieve {
            ticket: 7,
            key: keys[2].clone(),
        });
        h.wait("a message", |e| matches!(e, Event::Message { .. }));
        let conn0 = server.lines(0);
        assert!(
            !conn0.iter().any(|l| l == "RSET" || l == "QUIT"),
            "{case}: {conn0:?}"
        );
        assert_eq!(server.mailbox_uids(), before, "{case}");
        let listings = h.seen.iter().filter(|e| is_listing(e)).count();
        assert_eq!(listings, 1, "{case}: no new listing");
        // Commit: exactly the mark, from the session that kept it.
        let seen = h.quit(true);
        assert!(
            seen.iter()
                .any(|e| matches!(e, Event::Committed { deleted: 1, .. })),
            "{case}: {}",
            summary(&seen)
        );
        assert_eq!(server.mailbox_uids(), before[1..].to_vec(), "{case}");
    }
}

/// A server that locks the maildrop per session answers the second login
/// `[IN-USE]`: only then the old way (end, then log in again), remembered,
/// so the next `r` doesn't knock first. Nothing is deleted by either.
#[test]
fn a_locked_maildrop_falls_back_to_ending_the_session_first() {
    let server = server(4, ServerOptions::default());
    let before = server.mailbox_uids();
    let mut h = start(config(&server));
    let keys = h.listing();
    mark_and_wait(&mut h, &keys[2]);
    h.send(Request::CheckNewMail);
    h.listing();
    h.marks_exactly(&[&before[2]]);
    // The knock (refused), then the old session ended, then the new login.
    let knock = login_index(&server, 1).expect("the knock");
    let rset = log_index(&server, 0, "RSET").expect("old session RSET");
    let login = login_index(&server, 2).expect("the new login");
    assert!(knock < rset && rset < login, "{:?}", server.log());
    assert_eq!(server.connections(), 3);
    ended_without_deleting(&server, 0);
    assert!(
        log_index(&server, 2, "DELE 3").is_some(),
        "{:?}",
        server.log()
    );
    assert_eq!(server.mailbox_uids(), before);
    // The second check ends the session first, with no knock.
    h.send(Request::CheckNewMail);
    h.listing();
    h.marks_exactly(&[&before[2]]);
    assert_eq!(server.connections(), 4, "{:?}", server.log());
    ended_without_deleting(&server, 2);
    assert_eq!(server.mailbox_uids(), before);
    assert!(
        !h.seen
            .iter()
            .any(|e| matches!(e, Event::Error(w) if w.kind == ErrorKind::InUse)),
        "the knock is not an error: {}",
        summary(&h.seen)
    );
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 1, .. }))
    );
    let mut left = before.clone();
    left.remove(2);
    assert_eq!(server.mailbox_uids(), left);
}

/// Dovecot with `pop3_lock_session` holds the second login silent (about
/// 13 s) before it answers `[IN-USE]`: a second login silent for a few
/// seconds is taken for that lock, and the old way follows.
#[test]
fn a_second_login_held_silent_is_taken_for_a_lock() {
    let server = hooked(3, true, |ctx| {
        if ctx.conn == 1 && completes_login(ctx.line) {
            Action::Stall(Duration::from_secs(30))
        } else {
            Action::Normal
        }
    });
    let before = server.mailbox_uids();
    let mut h = start(config(&server));
    let keys = h.listing();
    mark_and_wait(&mut h, &keys[0]);
    let t = Instant::now();
    h.send(Request::CheckNewMail);
    h.listing();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(15), "{took:?}");
    h.marks_exactly(&[&before[0]]);
    ended_without_deleting(&server, 0);
    assert!(login_index(&server, 2).is_some(), "{:?}", server.log());
    assert!(
        !h.seen.iter().any(|e| matches!(e, Event::Error(_))),
        "{}",
        summary(&h.seen)
    );
    assert_eq!(server.mailbox_uids(), before);
    h.quit(false);
    assert_eq!(server.mailbox_uids(), before);
}

/// The old session's RSET is refused: it is dropped, never sent QUIT with
/// its DELEs applied.
#[test]
fn an_old_session_that_refuses_rset_is_dropped_not_quit() {
    let server = hooked(3, false, |ctx| {
        if ctx.conn == 0 && ctx.line == "RSET" {
            Action::Reply(b"-ERR no\r\n".to_vec())
        } else {
            Action::Normal
        }
    });
    let before = server.mailbox_uids();
    let mut h = start(config(&server));
    let keys = h.listing();
    mark_and_wait(&mut h, &keys[0]);
    h.send(Request::CheckNewMail);
    h.listing();
    h.marks_exactly(&[&before[0]]);
    let conn0 = server.lines(0);
    assert!(conn0.iter().any(|l| l == "RSET"), "{conn0:?}");
    assert!(!conn0.iter().any(|l| l == "QUIT"), "{conn0:?}");
    assert_eq!(server.mailbox_uids(), before);
    h.quit(false);
    assert_eq!(server.mailbox_uids(), before);
}

// ---------------------------------------------------------------------------
// A wrong password.

/// No delay of the client's own: the prompt is back long before the
/// (deliberately long) backoff would end, with no countdown and no new
/// connection while it waits.
#[test]
fn a_wrong_password_is_asked_again_at_once() {
    let server = server(2, ServerOptions::default());
    let mut cfg = config(&server);
    cfg.password = Some("wrong".into());
    cfg.backoff = Duration::from_secs(10);
    cfg.max_backoff = Duration::from_secs(10);
    let t = Instant::now();
    let mut h = start(cfg);
    h.wait("the prompt", |e| matches!(e, Event::PasswordNeeded { .. }));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let auth = h
        .seen
        .iter()
        .position(|e| matches!(e, Event::Error(w) if w.kind == ErrorKind::Auth && !w.fatal));
    assert!(auth.is_some(), "{}", summary(&h.seen));
    assert!(
        !h.seen
            .iter()
            .any(|e| matches!(e, Event::Reconnecting { .. })),
        "{}",
        summary(&h.seen)
    );
    h.idle(Duration::from_millis(300));
    assert_eq!(server.connections(), 1, "no login while the prompt is open");
    h.send(Request::Password("demo".into()));
    assert_eq!(h.listing().len(), 2);
    h.quit(false);
}

/// Esc at the prompt sends nothing: the worker keeps waiting (no login, no
/// end), and `r` asks again, at the first prompt and after a wrong one.
#[test]
fn after_esc_at_the_prompt_r_asks_again() {
    for wrong_first in [false, true] {
        let server = server(2, ServerOptions::default());
        let mut cfg = config(&server);
        cfg.password = wrong_first.then(|| "wrong".into());
        let mut h = start(cfg);
        h.wait("the prompt", |e| matches!(e, Event::PasswordNeeded { .. }));
        // Esc: the UI sends nothing.
        let quiet = h.idle(Duration::from_millis(400));
        assert!(
            !quiet
                .iter()
                .any(|e| matches!(e, Event::Closed { .. } | Event::Connecting { .. })),
            "{quiet:?}"
        );
        h.send(Request::CheckNewMail);
        h.wait("the prompt again", |e| {
            matches!(e, Event::PasswordNeeded { .. })
        });
        h.send(Request::Password("demo".into()));
        assert_eq!(h.listing().len(), 2, "wrong first: {wrong_first}");
        // No connection while the prompt waited: the checked one (and,
        // after a wrong password, one for the new one).
        let want = if wrong_first { 2 } else { 1 };
        assert_eq!(server.connections(), want, "wrong first: {wrong_first}");
        h.quit(false);
    }
}

/// Against Dovecot, which waits `auth_failure_delay` (2 s) before it says
/// no: the prompt follows the refusal with no wait of the client's own.
#[test]
fn dovecot_wrong_password_prompt_follows_the_servers_own_delay() {
    let d = Dovecot::start(DovecotOptions {
        auth_penalty: false,
        ..DovecotOptions::with_messages(generated_messages(2))
    });
    let mut cfg = dovecot_config(&d);
    cfg.password = Some("not-the-password".into());
    cfg.backoff = Duration::from_secs(20);
    cfg.max_backoff = Duration::from_secs(20);
    let mut h = start(cfg);
    h.wait(
        "the error",
        |e| matches!(e, Event::Error(w) if w.kind == ErrorKind::Auth),
    );
    let t = Instant::now();
    h.wait("the prompt", |e| matches!(e, Event::PasswordNeeded { .. }));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    h.send(Request::Password(d.password.clone().into()));
    assert_eq!(h.listing().len(), 2);
    h.quit(false);
}

// ---------------------------------------------------------------------------
// The certificate before the password.

fn pki() -> &'static TestPki {
    TestPki::shared()
}

fn tls_server(cert: &support::certs::CertKey, implicit: bool) -> Server {
    let id = cert.identity();
    let tls = if implicit {
        popview::demo::TlsMode::Implicit(id)
    } else {
        popview::demo::TlsMode::StartTls(id)
    };
    server(
        3,
        ServerOptions {
            tls: Some(tls),
            ..ServerOptions::default()
        },
    )
}

fn tls_config(server: &Server, mode: TlsMode) -> WorkerConfig {
    let mut o = ConnectOptions::new("localhost", server.addr().port(), mode);
    o.ca_file = Some(pki().ca_pem.clone());
    o.io_timeout = Duration::from_secs(5);
    o.connect_timeout = Duration::from_secs(5);
    let mut c = WorkerConfig::new(o, "demo");
    c.password = None;
    c.backoff = Duration::from_millis(50);
    c.max_backoff = Duration::from_millis(200);
    c
}

#[test]
fn an_untrusted_certificate_fails_before_the_password_is_asked() {
    for (cert, what) in [
        (&pki().self_signed, "self-signed"),
        (&pki().unknown_ca, "unknown CA"),
        (&pki().wrong_host, "wrong host"),
        (&pki().expired, "expired"),
    ] {
        for (implicit, mode) in [(true, TlsMode::Implicit), (false, TlsMode::StartTls)] {
            let server = tls_server(cert, implicit);
            let mut h = start(tls_config(&server, mode));
            let ev = h.wait("the certificate error", |e| matches!(e, Event::Error(_)));
            let Event::Error(w) = ev else { unreachable!() };
            assert_eq!(w.kind, ErrorKind::Tls, "{what} {mode:?}: {w:?}");
            assert!(w.fatal, "{what} {mode:?}");
            let seen = h.quit(false);
            assert!(
                !seen
                    .iter()
                    .any(|e| matches!(e, Event::PasswordNeeded { .. })),
                "{what} {mode:?}: asked for a password on a connection that failed:\n{}",
                summary(&seen)
            );
            assert!(!credentials_sent(&server), "{what} {mode:?}");
        }
    }
}

/// A good certificate: the connection is made and checked first, the
/// prompt comes after it, and the login uses that same connection.
#[test]
fn the_password_is_asked_after_the_check_and_used_on_that_connection() {
    for (implicit, mode) in [(true, TlsMode::Implicit), (false, TlsMode::StartTls)] {
        let server = tls_server(&pki().valid, implicit);
        let mut h = start(tls_config(&server, mode));
        h.wait("the prompt", |e| matches!(e, Event::PasswordNeeded { .. }));
        assert_eq!(server.connections(), 1, "{mode:?}: connected before asking");
        let before: Vec<_> = server.lines(0);
        assert!(before.iter().any(|l| l == "CAPA"), "{mode:?}: {before:?}");
        assert!(!credentials_sent(&server), "{mode:?}");
        h.send(Request::Password("demo".into()));
        assert_eq!(h.listing().len(), 3);
        assert_eq!(server.connections(), 1, "{mode:?}: logged in on it");
        assert!(credentials_sent(&server), "{mode:?}");
        h.quit(false);
    }
}

/// The server closes the connection while the user types (a login
/// timeout): the worker connects again, quietly, and logs in.
#[test]
fn a_connection_closed_while_typing_is_made_again() {
    let server = server(2, ServerOptions::default());
    let proxy = Proxy::start(server.addr());
    let mut cfg = config_for_port(proxy.port());
    cfg.password = None;
    let mut h = start(cfg);
    h.wait("the prompt", |e| matches!(e, Event::PasswordNeeded { .. }));
    proxy.cut_all();
    let end = Instant::now() + WAIT;
    while proxy.live_connections() > 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    // The close has reached the worker's socket.
    assert!(
        support::wait_until(WAIT, || support::client_side_established(proxy.port()) == 0),
        "the worker's socket never saw the close"
    );
    h.send(Request::Password("demo".into()));
    assert_eq!(h.listing().len(), 2);
    assert_eq!(proxy.connections(), 2);
    assert!(
        !h.seen
            .iter()
            .any(|e| matches!(e, Event::Error(_) | Event::Reconnecting { .. })),
        "{}",
        summary(&h.seen)
    );
    h.quit(false);
}

#[test]
fn dovecot_certificate_is_checked_before_the_password() {
    let d = Dovecot::start(DovecotOptions::with_messages(generated_messages(2)));
    // Without the test CA: Dovecot's certificate is untrusted.
    let mut cfg = dovecot_config(&d);
    cfg.connect.ca_file = None;
    cfg.password = None;
    let mut h = start(cfg);
    let ev = h.wait("the certificate error", |e| matches!(e, Event::Error(_)));
    assert!(
        matches!(&ev, Event::Error(w) if w.kind == ErrorKind::Tls && w.fatal),
        "{ev:?}"
    );
    let seen = h.quit(false);
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::PasswordNeeded { .. })),
        "{}",
        summary(&seen)
    );
    // With it: the prompt comes after the connection, which the login uses.
    let proxy = Proxy::start(d.tls_addr());
    let mut cfg = dovecot_config(&d);
    cfg.connect.port = proxy.port();
    cfg.password = None;
    let mut h = start(cfg);
    h.wait("the prompt", |e| matches!(e, Event::PasswordNeeded { .. }));
    assert_eq!(proxy.connections(), 1);
    h.send(Request::Password(d.password.clone().into()));
    assert_eq!(h.listing().len(), 2);
    assert_eq!(proxy.connections(), 1);
    h.quit(false);
}

// ---------------------------------------------------------------------------
// `r` against Dovecot, with and without pop3_lock_session.

fn r_keeps_marks_and_deletes_nothing(lock: bool) {
    let n = 6;
    let d = Dovecot::start(DovecotOptions {
        extra_config: if lock {
            "pop3_lock_session = yes\n".into()
        } else {
            String::new()
        },
        ..DovecotOptions::with_messages(generated_messages(n))
    });
    let all = Dovecot::expected_uidls(n);
    let mut h = start(dovecot_config(&d));
    let keys = h.listing();
    h.send(Request::Mark(keys[1].clone()));
    h.send(Request::Mark(keys[4].clone()));
    h.marks_exactly(&[&all[1], &all[4]]);
    let extra = generated_messages(n + 1).split_off(n);
    d.add_messages(&extra);
    let mut want = all.clone();
    want.push(Dovecot::expected_uidl(n as u32 + 1));
    for round in 0..2 {
        let t = Instant::now();
        h.send(Request::CheckNewMail);
        let keys = h.listing();
        eprintln!(
            "lock {lock} round {round}: new listing after {:?}",
            t.elapsed()
        );
        assert_eq!(keys.len(), n + 1, "lock {lock} round {round}");
        h.marks_exactly(&[&all[1], &all[4]]);
        if !lock {
            // (With the lock, no other session can look while ours lives.)
            assert_eq!(server_uidls(&d), want, "lock {lock} round {round}");
        }
    }
    assert!(
        !h.seen
            .iter()
            .any(|e| matches!(e, Event::Error(_) | Event::Reconnecting { .. })),
        "lock {lock}: {}",
        summary(&h.seen)
    );
    // Nothing was deleted by the swaps: a discarding quit leaves it all.
    let seen = h.quit(false);
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Committed { .. })),
        "{}",
        summary(&seen)
    );
    assert_eq!(server_uidls(&d), want, "lock {lock}");
    // A new worker marks the same two, checks once more and commits:
    // exactly those go, the new mail stays.
    let mut h = start(dovecot_config(&d));
    let keys = h.listing();
    h.send(Request::Mark(keys[1].clone()));
    h.send(Request::Mark(keys[4].clone()));
    h.marks_exactly(&[&all[1], &all[4]]);
    h.send(Request::CheckNewMail);
    h.listing();
    h.marks_exactly(&[&all[1], &all[4]]);
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 2, .. })),
        "{}",
        summary(&seen)
    );
    let left = server_uidls(&d);
    assert_eq!(left.len(), n - 1);
    assert!(left.contains(&want[n]), "the new mail stays");
    assert!(!left.contains(&all[1]) && !left.contains(&all[4]));
}

#[test]
fn dovecot_r_swaps_sessions_without_deleting() {
    r_keeps_marks_and_deletes_nothing(false);
}

#[test]
fn dovecot_r_with_pop3_lock_session_falls_back_without_deleting() {
    r_keeps_marks_and_deletes_nothing(true);
}

// ---------------------------------------------------------------------------
// The real binary: a wrong password, Esc, `r`, and the exit code.

/// popview in a sandboxed tmux (HOME and XDG dirs in a temp dir, no
/// password in the environment); the shell prints `EXIT=<code>` after it.
fn tui(args: &[&str]) -> (support::tmux::Tmux, tempfile::TempDir) {
    use support::tmux::{Tmux, sh_quote};
    let home = tempfile::Builder::new()
        .prefix("pvconn")
        .tempdir_in(support::temp_root())
        .unwrap();
    let h = home.path().display().to_string();
    let mut inner = sh_quote(env!("CARGO_BIN_EXE_popview"));
    for a in args {
        inner.push(' ');
        inner.push_str(&sh_quote(a));
    }
    inner.push_str("; echo EXIT=$?; exec sleep 600");
    let cmd = format!(
        "exec env -u POPVIEW_PASSWORD HOME={h} XDG_CONFIG_HOME={h}/config \
         XDG_CACHE_HOME={h}/cache XDG_DATA_HOME={h}/data TERM=xterm-256color sh -c {}",
        sh_quote(&inner)
    );
    (Tmux::start(&cmd, 120, 40), home)
}

#[test]
fn tui_wrong_password_then_esc_r_and_quit_exits_with_the_auth_code() {
    let server = tls_server(&pki().valid, true);
    let url = format!("pop3s://demo@localhost:{}", server.addr().port());
    let ca = pki().ca_pem.display().to_string();
    let (s, _home) = tui(&[&url, "--ca-file", &ca]);
    let long = Duration::from_secs(15);
    s.wait_all(&[" Password ", "Password: "], long);
    s.type_text("wrong");
    s.send_keys(&["Enter"]);
    // Asked again, with the server's reason.
    s.wait_until("the prompt again", long, |sc| {
        sc.contains("invalid user name or password") && sc.contains("Password: ")
    });
    s.send_keys(&["Escape"]);
    s.wait_for("login cancelled", long);
    s.send_keys(&["r"]);
    s.wait_for("Password: ", long);
    s.send_keys(&["Escape"]);
    s.wait_for("login cancelled", long);
    s.send_keys(&["q"]);
    let screen = s.wait_until("the exit", long, |sc| {
        sc.lines()
            .any(|l| l.starts_with("EXIT=") && l.trim_end().len() > 5)
    });
    assert!(screen.contains("EXIT=3"), "{screen}");
    assert!(screen.contains("ended without a session"), "{screen}");
    // Two logins tried (the wrong one and none after Esc): one failed
    // PASS/APOP/AUTH on the wire, no second.
    let logins = server
        .log()
        .iter()
        .filter(|l| completes_login(&l.line))
        .count();
    assert_eq!(logins, 1, "{:?}", server.log());
}

/// The same server with the right password: a session was had, so 0.
#[test]
fn tui_with_a_session_exits_zero() {
    let server = tls_server(&pki().valid, true);
    let url = format!("pop3s://demo@localhost:{}", server.addr().port());
    let ca = pki().ca_pem.display().to_string();
    let (s, _home) = tui(&[&url, "--ca-file", &ca]);
    let long = Duration::from_secs(15);
    s.wait_for("Password: ", long);
    s.type_text("demo");
    s.send_keys(&["Enter"]);
    s.wait_for("3 msgs", long);
    s.send_keys(&["q"]);
    let screen = s.wait_until("the exit", long, |sc| {
        sc.lines()
            .any(|l| l.starts_with("EXIT=") && l.trim_end().len() > 5)
    });
    assert!(screen.contains("EXIT=0"), "{screen}");
}

/// A scripting command on a terminal asks for a missing password only once
/// the server is reached and its certificate checked: an untrusted
/// certificate is told at once, and no prompt ever appears.
#[test]
fn cli_untrusted_certificate_is_told_before_any_password_prompt() {
    let server = tls_server(&pki().self_signed, true);
    let url = format!("pop3s://demo@localhost:{}", server.addr().port());
    let ca = pki().ca_pem.display().to_string();
    let (s, _home) = tui(&["list", &url, "--ca-file", &ca]);
    let long = Duration::from_secs(20);
    let screen = s.wait_until("the exit", long, |sc| {
        sc.lines()
            .any(|l| l.starts_with("EXIT=") && l.trim_end().len() > 5)
    });
    assert!(screen.contains("EXIT=4"), "{screen}");
    assert!(screen.to_lowercase().contains("certificate"), "{screen}");
    assert!(
        !screen.contains("Password"),
        "no prompt before the check: {screen}"
    );
    assert!(
        !server.log().iter().any(|l| completes_login(&l.line)),
        "no credential sent: {:?}",
        server.log()
    );
}

/// With a trusted certificate the prompt comes after the connection: the
/// password typed there logs in and the listing is printed.
#[test]
fn cli_asks_for_the_password_after_connecting_and_lists() {
    let server = tls_server(&pki().valid, true);
    let url = format!("pop3s://demo@localhost:{}", server.addr().port());
    let ca = pki().ca_pem.display().to_string();
    let (s, _home) = tui(&["list", &url, "--ca-file", &ca]);
    let long = Duration::from_secs(20);
    s.wait_for("Password for demo", long);
    // Connected (the TLS session is up) before the prompt was shown.
    assert!(server.connections() >= 1);
    assert!(!server.log().iter().any(|l| completes_login(&l.line)));
    s.type_text("demo");
    s.send_keys(&["Enter"]);
    let screen = s.wait_until("the exit", long, |sc| {
        sc.lines()
            .any(|l| l.starts_with("EXIT=") && l.trim_end().len() > 5)
    });
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        !screen.contains("demo\n"),
        "the password is not echoed: {screen}"
    );
}
