//! OAuth2 bearer tokens (XOAUTH2, OAUTHBEARER), SCRAM-SHA-256 and LOGIN
//! against a real Dovecot. Tokens are checked by Dovecot's `oauth2` passdb
//! against a tiny introspection endpoint in this process (see
//! `support::introspect`): a good token logs in, a rejected one ends in
//! words and exit code 3, and a token command that printed a stale token is
//! run once more.

mod support;

use std::time::Duration;

use popview::cli::exit;
use popview::pop3::transport::{ConnectOptions, TlsMode, connect};
use popview::pop3::{AuthMethod, Credentials, ErrorKind, Reply};
use support::cli::Sandbox;
use support::dovecot::{Dovecot, DovecotOptions, generated_messages};
use support::introspect::Introspection;

/// A good token of 3 KB, as Microsoft's are: past the 255-octet AUTH line,
/// so OAUTHBEARER goes two-step too. (Dovecot 2.3's pop3-login drops the
/// connection on a response line of ~13 KB: tokens over 8 KB are tested
/// against the in-memory peer in `sasl_transcripts.rs`.)
fn long_token(tag: &str) -> String {
    format!("{tag}.{}", "A1b2C3d4-_".repeat(300))
}

fn start(intro: &Introspection) -> Dovecot {
    Dovecot::start(DovecotOptions {
        auth_mechanisms: "plain login scram-sha-256 xoauth2 oauthbearer".to_string(),
        oauth2_introspection: Some(intro.url()),
        auth_failure_delay: Some(Duration::from_millis(0)),
        auth_penalty: false,
        ..DovecotOptions::with_messages(generated_messages(3))
    })
}

fn opts(d: &Dovecot) -> ConnectOptions {
    let mut o = ConnectOptions::new("localhost", d.tls_port, TlsMode::Implicit);
    o.ca_file = Some(d.ca_pem.clone());
    o.io_timeout = Duration::from_secs(30);
    o
}

/// Log in with `method` and `secret`; the message count on success.
fn login(
    d: &Dovecot,
    method: AuthMethod,
    secret: &str,
) -> popview::pop3::Result<(AuthMethod, u32)> {
    let mut conn = connect(&opts(d), None)?;
    let creds = Credentials::new(d.user.clone(), secret).at("localhost", d.tls_port);
    let used = conn.client.login(&creds, method, false)?;
    match conn.client.execute(popview::pop3::Command::Stat)? {
        Reply::Stat { count, .. } => Ok((used, count)),
        other => panic!("STAT answered {other:?}"),
    }
}

#[test]
fn dovecot_takes_good_tokens_scram_and_login() {
    let intro = Introspection::start();
    let d = start(&intro);
    let token = long_token("good");
    intro.accept(&token, &d.user);
    for method in [AuthMethod::XOAuth2, AuthMethod::OAuthBearer] {
        assert_eq!(
            login(&d, method, &token).unwrap(),
            (method, 3),
            "{method:?}"
        );
    }
    assert!(
        intro.asked().iter().all(|t| *t == token),
        "Dovecot asked about our token"
    );
    for method in [AuthMethod::ScramSha256, AuthMethod::Login] {
        assert_eq!(
            login(&d, method, &d.password).unwrap(),
            (method, 3),
            "{method:?}"
        );
    }
    // `auto` takes SCRAM-SHA-256 when offered, never a token mechanism.
    assert_eq!(
        login(&d, AuthMethod::Auto, &d.password).unwrap().0,
        AuthMethod::ScramSha256
    );
    let e = login(&d, AuthMethod::ScramSha256, "wrong-password").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e:?}");
}

#[test]
fn dovecot_rejected_tokens_are_told_in_words() {
    let intro = Introspection::start();
    let d = start(&intro);
    for (method, status) in [
        (AuthMethod::XOAuth2, "401"),
        (AuthMethod::OAuthBearer, "invalid_token"),
    ] {
        let e = login(&d, method, "stale-token").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth, "{method:?}: {e:?}");
        assert!(
            e.message
                .starts_with(&format!("the token was rejected: {status}")),
            "{method:?}: {}",
            e.message
        );
    }
}

/// A config file for account `t` with `auth` and the token from `source`.
fn config(sb: &Sandbox, d: &Dovecot, auth: &str, source: &str) -> String {
    let path = sb.home().join(format!("config-{auth}.toml"));
    std::fs::write(
        &path,
        format!(
            "[accounts.t]\nhost = \"localhost\"\nport = {}\ntls = \"implicit\"\n\
             username = \"{}\"\nauth = \"{auth}\"\nca_file = \"{}\"\n{source}\n",
            d.tls_port,
            d.user,
            d.ca_pem.display()
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn dovecot_rejected_token_exits_3_from_list() {
    let intro = Introspection::start();
    let d = start(&intro);
    let sb = Sandbox::new();
    for (i, auth) in ["xoauth2", "oauthbearer"].into_iter().enumerate() {
        let cfg = config(&sb, &d, auth, "password_env = \"PV_TOKEN\"");
        let r = sb
            .run(&["list", "--config", &cfg], &[("PV_TOKEN", "stale-token")])
            .code(exit::AUTH);
        assert!(
            r.stderr.contains("the token was rejected") && r.stderr.contains("re-authorize"),
            "{auth}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("stale-token"), "{}", r.stderr);
        assert_eq!(
            r.stderr.matches("the token was rejected").count(),
            1,
            "said once, as final: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("Give the password"), "{}", r.stderr);
        // Fetched once more after the rejection, then no more tries.
        assert_eq!(intro.asked().len(), 2 * (i + 1), "{:?}", intro.asked());
    }
}

#[test]
fn dovecot_token_command_is_run_again_after_a_rejection() {
    let intro = Introspection::start();
    let d = start(&intro);
    let good = long_token("fresh");
    intro.accept(&good, &d.user);
    let sb = Sandbox::new();
    // Prints a stale token the first time, the good one after.
    let script = sb.home().join("token.sh");
    let runs = sb.home().join("runs");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{runs}'\nif [ $(wc -l < '{runs}') -eq 1 ]; then \
             echo stale-token; else echo '{good}'; fi\n",
            runs = runs.display()
        ),
    )
    .unwrap();
    let cfg = config(
        &sb,
        &d,
        "xoauth2",
        &format!("password_command = \"sh {}\"", script.display()),
    );
    let log = sb.home().join("trace.log");
    let r = sb
        .run(
            &["list", "--config", &cfg, "--log", log.to_str().unwrap()],
            &[],
        )
        .ok();
    assert_eq!(r.lines().len(), 3, "{}", r.out());
    // The wire trace shows the exchange, never a token or its base64.
    let trace = std::fs::read_to_string(&log).unwrap();
    assert!(trace.contains("AUTH XOAUTH2"), "{trace}");
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    for secret in [
        good.clone(),
        "stale-token".to_string(),
        b64(&format!("user={}\x01auth=Bearer {good}\x01\x01", d.user)),
        b64(&format!(
            "user={}\x01auth=Bearer stale-token\x01\x01",
            d.user
        )),
    ] {
        assert!(!trace.contains(&secret), "a token in the trace:\n{trace}");
    }
    assert_eq!(
        std::fs::read_to_string(&runs).unwrap().lines().count(),
        2,
        "the token command ran twice"
    );
    assert_eq!(intro.asked(), ["stale-token".to_string(), good]);
    assert!(!r.stderr.contains("rejected"), "silent: {}", r.stderr);
}

/// In the TUI's worker: a token rejected twice (the first one, and the one
/// the token command gave again) is said once, as final, with no password
/// prompt; `r` runs the token command again, and a good token logs in.
#[test]
fn dovecot_worker_refetches_once_then_on_r() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use popview::worker::Refetch;
    use popview::worker::api::{Event, Request};
    use support::worker::{Dirs, Harness, dovecot_config};

    let intro = Introspection::start();
    let d = start(&intro);
    let good = long_token("good");
    let runs = Arc::new(AtomicUsize::new(0));
    let fixed = Arc::new(AtomicBool::new(false));
    let mut cfg = dovecot_config(&d);
    cfg.auth = AuthMethod::XOAuth2;
    cfg.password = Some("stale-0".into());
    cfg.refetch_password = Some(Refetch(Arc::new({
        let (runs, fixed, good) = (Arc::clone(&runs), Arc::clone(&fixed), good.clone());
        move || {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(if fixed.load(Ordering::SeqCst) {
                good.clone()
            } else {
                format!("stale-{n}")
            }
            .into())
        }
    })));
    let dirs = Dirs::new();
    let mut h = Harness::start(cfg, dirs.persist());
    let e = h.wait(
        "the final rejection",
        |e| matches!(e, Event::Error(w) if w.fatal),
    );
    let Event::Error(w) = e else { unreachable!() };
    assert!(
        w.message.starts_with("the token was rejected: 401"),
        "{}",
        w.message
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the token command ran once more"
    );
    assert_eq!(intro.asked(), ["stale-0", "stale-1"]);
    assert!(
        !h.seen
            .iter()
            .any(|e| matches!(e, Event::PasswordNeeded { .. })),
        "no password prompt for a token"
    );

    intro.accept(&good, &d.user);
    fixed.store(true, Ordering::SeqCst);
    h.send(Request::CheckNewMail);
    h.wait("the listing", |e| matches!(e, Event::Listing { .. }));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "r ran the token command again"
    );
    assert_eq!(intro.asked().last(), Some(&good));
    h.quit(false);
}
