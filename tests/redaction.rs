//! A server that echoes the password (in its greeting, a capability, a
//! refusal, an unsolicited goodbye, or the AUTH PLAIN payload it got) never
//! gets it onto the screen, stderr, stdout or the `--log` trace: the known
//! secrets are cut out of every server text where it leaves the protocol
//! layer (SECURITY-CASES C, F37). Each check also finds the `<redacted>`
//! mark where the echo was, so it can't pass by the text going missing.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use popview::demo::{Action, Ctx, Mailbox, Server, ServerOptions, SessionState};
use popview::pop3::transport::{ConnectOptions, TlsMode, connect_as};
use popview::pop3::{AuthMethod, Credentials, ErrorKind, Secrets, Trace};
use popview::worker::WorkerConfig;
use popview::worker::api::Event;
use support::cli::*;
use support::worker::Harness;

const USER: &str = "demo";

fn plain_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{USER}\0{PW}"))
}

/// Every form of the secret a test must never find.
fn leaks(text: &str) -> bool {
    text.contains(PW) || text.contains(&plain_b64())
}

/// A greeting and an IMPLEMENTATION line that carry the password.
fn echoing_options(refuse_login: bool) -> ServerOptions {
    let hook = move |ctx: &Ctx<'_>| -> Action {
        let up = ctx.line.to_ascii_uppercase();
        if up == "CAPA" {
            let capa = format!(
                "+OK\r\nUSER\r\nSASL PLAIN\r\nPIPELINING\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n\
                 {}IMPLEMENTATION vault-{PW}\r\n.\r\n",
                if ctx.tls || ctx.state == SessionState::Transaction {
                    ""
                } else {
                    "STLS\r\n"
                }
            );
            return Action::Reply(capa.into_bytes());
        }
        if refuse_login
            && ctx.state == SessionState::Authorization
            && (up.starts_with("PASS ") || up.starts_with("AUTH "))
        {
            // Echo what the client sent: the password or the PLAIN payload.
            let sent = ctx.line.split_once(' ').map(|x| x.1).unwrap_or_default();
            return Action::Reply(format!("-ERR [AUTH] wrong: {sent}\r\n").into_bytes());
        }
        Action::Normal
    };
    ServerOptions {
        greeting: Some(format!("+OK hello {PW} ready\r\n").into_bytes()),
        hook: Some(Arc::new(hook)),
        ..ServerOptions::default()
    }
}

/// A trace writer the test can read.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The protocol layer: greeting, capabilities, a refusal and its trace.
#[test]
fn the_client_cuts_the_password_out_of_every_server_text() {
    for method in [AuthMethod::User, AuthMethod::Plain] {
        let server = Server::start(
            Mailbox::generated(1),
            ServerOptions {
                users: vec![(USER.into(), PW.into())],
                ..echoing_options(true)
            },
        )
        .unwrap();
        let mut o = ConnectOptions::new("127.0.0.1", server.addr().port(), TlsMode::None);
        o.io_timeout = Duration::from_secs(10);
        let creds = Credentials::new(USER, PW);
        let trace = Buf::default();
        let mut conn = connect_as(
            &o,
            &Secrets::of(&creds),
            Some(Trace::new(Box::new(trace.clone()))),
        )
        .expect("connect");
        let greeting = conn.client.greeting().text;
        assert_eq!(greeting, "hello <redacted> ready");
        let imp = conn.client.capabilities().implementation.clone();
        assert_eq!(imp.as_deref(), Some("vault-<redacted>"));
        assert!(conn.client.capabilities().raw.iter().all(|l| !leaks(l)));
        let e = conn.client.login(&creds, method, true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth, "{e:?}");
        // `wrong: <redacted>` or `wrong: PLAIN <redacted>`.
        assert!(
            e.message.contains("<redacted>\""),
            "{method:?}: {}",
            e.message
        );
        assert!(!leaks(&e.message), "{method:?}: {}", e.message);
        let t = trace.text();
        assert!(t.contains("S: +OK hello <redacted> ready"), "{t}");
        assert!(
            t.lines()
                .any(|l| l.starts_with("S: -ERR [AUTH] wrong: ") && l.ends_with("<redacted>")),
            "{t}"
        );
        assert!(!leaks(&t), "{method:?}: {t}");
        // The server really sent it (so the checks above can fail).
        assert!(server.log().iter().any(|l| leaks(&l.line)));
    }
}

/// A goodbye the server sends unasked, quoting the password, as the idle
/// check reports it.
#[test]
fn an_unsolicited_goodbye_is_redacted_too() {
    let server = Server::start(
        Mailbox::generated(1),
        ServerOptions {
            users: vec![(USER.into(), PW.into())],
            hook: Some(Arc::new(|ctx: &Ctx<'_>| {
                if ctx.line.eq_ignore_ascii_case("NOOP") {
                    let bye = format!("+OK\r\n-ERR [SYS/TEMP] logging {PW} out\r\n");
                    return Action::Reply(bye.into_bytes());
                }
                Action::Normal
            })),
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let o = ConnectOptions::new("127.0.0.1", server.addr().port(), TlsMode::None);
    let creds = Credentials::new(USER, PW);
    let mut conn = connect_as(&o, &Secrets::of(&creds), None).unwrap();
    conn.client.login(&creds, AuthMethod::User, true).unwrap();
    conn.client.noop().unwrap();
    let said = conn
        .client
        .closed_while_idle()
        .expect("the goodbye is seen");
    assert!(said.contains("logging <redacted> out"), "{said}");
    assert!(!leaks(&said), "{said}");
}

fn worker_seen(refuse_login: bool) -> Vec<Event> {
    let server = Server::start(
        Mailbox::generated(2),
        ServerOptions {
            users: vec![(USER.into(), PW.into())],
            ..echoing_options(refuse_login)
        },
    )
    .unwrap();
    let mut cfg = WorkerConfig::new(
        ConnectOptions::new("127.0.0.1", server.addr().port(), TlsMode::None),
        USER,
    );
    cfg.password = Some(PW.into());
    cfg.allow_cleartext = true;
    cfg.max_attempts = 1;
    let mut h = Harness::start(cfg, Box::new(popview::worker::persist::Memory::default()));
    if refuse_login {
        h.wait("password asked", |e| {
            matches!(e, Event::PasswordNeeded { .. })
        });
    } else {
        h.wait("listing", |e| matches!(e, Event::Listing { .. }));
    }
    h.quit(false)
}

/// What the TUI is told: the connection info (greeting, capabilities,
/// implementation) and the login refusal, from the worker.
#[test]
fn the_worker_never_hands_the_password_to_the_ui() {
    let ok = worker_seen(false);
    let info = ok
        .iter()
        .find_map(|e| match e {
            Event::Connected(i) => Some(i.clone()),
            _ => None,
        })
        .expect("connected");
    assert_eq!(info.greeting, "hello <redacted> ready");
    assert_eq!(info.implementation.as_deref(), Some("vault-<redacted>"));
    let refused = worker_seen(true);
    let reason = refused
        .iter()
        .find_map(|e| match e {
            Event::PasswordNeeded { reason } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(reason.contains("<redacted>"), "{reason}");
    for e in ok.iter().chain(&refused) {
        let shown = format!("{e:?}");
        assert!(!leaks(&shown), "{shown}");
    }
}

/// The real binary: stdout, stderr and the `--log` file (created 0600),
/// for a session that works and one whose login is refused with an echo.
#[test]
fn the_cli_never_prints_or_logs_the_password_and_the_log_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let log = sb.home().join("trace.log");
    let log_s = log.to_str().unwrap().to_string();
    for (refuse, cmd, code) in [(false, "serverinfo", 0), (true, "list", 3)] {
        let server = stls_server_with(Mailbox::generated(2), echoing_options(refuse));
        let u = url(&server);
        let r = sb
            .run(
                &[cmd, &u, "--ca-file", ca(), "--log", &log_s],
                &[("POPVIEW_PASSWORD", PW)],
            )
            .code(code);
        let out = r.out();
        assert!(!leaks(&out) && !leaks(&r.stderr), "{r:#?}");
        if refuse {
            assert!(r.stderr.contains("<redacted>"), "{}", r.stderr);
        } else {
            assert!(out.contains("hello <redacted> ready"), "{out}");
            assert!(out.contains("vault-<redacted>"), "{out}");
        }
        assert!(server.log().iter().any(|l| leaks(&l.line)) || !refuse);
        settle(&server);
    }
    let t = std::fs::read_to_string(&log).unwrap();
    assert!(t.contains("hello <redacted> ready"), "{t}");
    assert!(t.contains("S: -ERR [AUTH] wrong: "), "{t}");
    assert!(!leaks(&t), "{t}");
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// Redaction works on the server's words after the protocol is parsed: a
/// password such as `OK`, `1` or `+` never corrupts `+OK`, a STAT count or
/// a listing, and the session works as without it.
#[test]
fn a_short_password_never_breaks_the_protocol() {
    for pw in ["OK", "1", "+", "0"] {
        let server = Server::start(
            Mailbox::generated(11),
            ServerOptions {
                users: vec![(USER.into(), pw.into())],
                ..ServerOptions::default()
            },
        )
        .unwrap();
        let o = ConnectOptions::new("127.0.0.1", server.addr().port(), TlsMode::None);
        let creds = Credentials::new(USER, pw);
        let mut conn = connect_as(&o, &Secrets::of(&creds), None).unwrap();
        conn.client.login(&creds, AuthMethod::User, true).unwrap();
        let (count, _) = conn.client.stat().unwrap();
        assert_eq!(count, 11, "{pw:?}");
        let list = conn.client.list().unwrap();
        assert_eq!(list.len(), 11, "{pw:?}");
        assert_eq!(conn.client.list_one(10).unwrap().0, 10, "{pw:?}");
        let uids: Vec<String> = conn
            .client
            .uidl()
            .unwrap()
            .into_iter()
            .filter_map(|(_, u)| u)
            .collect();
        assert_eq!(uids, server.mailbox_uids(), "{pw:?}: UIDs are kept as sent");
        conn.client.quit().unwrap();
    }
}
