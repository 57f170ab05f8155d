//! How the scripting commands reach a server, through the real binary:
//! bounded attempts (a timeout is not retried, a refused connection is
//! retried a few times, then the command gives up with exit 4), the port
//! mix-ups named, and `serverinfo` against an untrusted certificate
//! printing the fingerprint and the exact setting that pins it.

mod support;

use std::net::TcpListener;

use popview::cli::exit;
use popview::demo::{Mailbox, Server, ServerOptions, TlsMode};
use support::certs::TestPki;
use support::cli::*;
use support::silent::silent_listener;

/// A config file with one account `t` at 127.0.0.1:`port`, the password
/// from `$PV_TEST_PW`, and `extra` lines (timeouts, a pin).
fn config(sb: &Sandbox, port: u16, tls: &str, extra: &str) -> String {
    let path = sb.home().join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[accounts.t]\nhost = \"localhost\"\nport = {port}\ntls = \"{tls}\"\n\
             username = \"demo\"\npassword_env = \"PV_TEST_PW\"\n{extra}\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

fn env() -> [(&'static str, &'static str); 1] {
    [("PV_TEST_PW", PW)]
}

/// A silent server and a short configured timeout: the command gives up
/// after one attempt (a timeout already waited the whole timeout), with
/// exit 4 and a message that names the missing greeting and the setting.
#[test]
fn a_silent_server_is_given_up_after_one_attempt() {
    let silent = silent_listener();
    let sb = Sandbox::new();
    let cfg = config(&sb, silent.port, "starttls", "timeout_secs = 2");
    let r = sb
        .run(&["list", "--config", &cfg], &env())
        .code(exit::NETWORK);
    assert!(r.stderr.contains("sent no greeting"), "{}", r.stderr);
    assert!(r.stderr.contains("timeout_secs"), "{}", r.stderr);
    assert!(!r.stderr.contains("trying again"), "{}", r.stderr);
    // The attempt and its TLS check; no second attempt.
    assert_eq!(*silent.accepted.lock().unwrap(), 2);
}

/// A refused connection is retried, a bounded number of times with a
/// growing pause, then the command gives up and says so.
#[test]
fn a_refused_connection_is_retried_twice_then_given_up() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sb = Sandbox::new();
    let u = format!("pop3s://demo@127.0.0.1:{port}");
    let r = sb
        .run(&["list", &u], &[("POPVIEW_PASSWORD", PW)])
        .code(exit::NETWORK);
    for want in [
        "trying again in 1 s (attempt 2 of 3)",
        "trying again in 2 s (attempt 3 of 3)",
        "gave up after 3 attempts",
        "connection refused",
    ] {
        assert!(r.stderr.contains(want), "{want:?} in {}", r.stderr);
    }
    assert!(!r.stderr.contains("attempt 4"), "{}", r.stderr);
}

/// pop3:// at the POP3S port, through the command line: named, exit 4,
/// one attempt.
#[test]
fn pop3_at_a_pop3s_port_is_named_by_the_cli() {
    let server = pop3s_server(Mailbox::generated(1));
    let port = server.addr().port();
    let sb = Sandbox::new();
    let u = format!("pop3://demo@localhost:{port}");
    let r = sb
        .run(
            &["list", &u, "--ca-file", ca()],
            &[("POPVIEW_PASSWORD", PW)],
        )
        .code(exit::NETWORK);
    assert!(
        r.stderr
            .contains(&format!("port {port} of localhost speaks TLS"))
            && r.stderr.contains(&format!("use pop3s://localhost:{port}")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("trying again"), "{}", r.stderr);
    assert!(server.log().is_empty(), "{:?}", server.log());
}

/// pop3s:// at the plain port, through the command line.
#[test]
fn pop3s_at_a_plain_port_is_named_by_the_cli() {
    let server = stls_server(Mailbox::generated(1));
    let port = server.addr().port();
    let sb = Sandbox::new();
    let u = format!("pop3s://demo@localhost:{port}");
    let r = sb
        .run(
            &["list", &u, "--ca-file", ca()],
            &[("POPVIEW_PASSWORD", PW)],
        )
        .code(exit::NETWORK);
    assert!(
        r.stderr.contains("does not speak TLS from the start")
            && r.stderr.contains(&format!("use pop3://localhost:{port}")),
        "{}",
        r.stderr
    );
    assert!(!server.log().iter().any(|l| l.line.contains(PW)));
}

/// `serverinfo` against a certificate it can't verify: the verification
/// error in full, the SHA-256 fingerprint, and a `cert_fingerprint` line
/// that, pasted into the account, parses to exactly that certificate and
/// makes the next run trust it (as pinned). No credential is sent.
#[test]
fn serverinfo_prints_the_pin_for_an_untrusted_certificate() {
    let pki = TestPki::shared();
    let server = Server::start(
        Mailbox::generated(2),
        ServerOptions {
            users: vec![("demo".into(), PW.into())],
            tls: Some(TlsMode::Implicit(pki.self_signed.identity())),
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let port = server.addr().port();
    let sb = Sandbox::new();
    let cfg = config(&sb, port, "implicit", "");
    let r = sb
        .run(&["serverinfo", "--config", &cfg], &env())
        .code(exit::NETWORK);
    let out = r.out();
    let want = pki.self_signed.sha256_fingerprint_hex();
    assert!(
        r.stderr.contains("can't verify the certificate"),
        "{}",
        r.stderr
    );
    assert!(out.contains("certificate NOT trusted"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("cert_fingerprint = "))
        .unwrap_or_else(|| panic!("no pin line in:\n{out}"));
    assert!(
        !server.log().iter().any(|l| l.line.contains(PW)),
        "{:?}",
        server.log()
    );

    // The printed line is a valid setting naming this very certificate.
    let pinned = config(&sb, port, "implicit", line);
    let parsed = popview::config::load(std::path::Path::new(&pinned)).expect("the line parses");
    let pin = parsed.accounts["t"].cert_fingerprint.expect("a pin");
    assert_eq!(hex::encode(pin), want);
    let out = sb
        .run(&["serverinfo", "--config", &pinned], &env())
        .ok()
        .out();
    assert!(out.contains("implicit TLS, certificate pinned"), "{out}");
    assert!(out.contains(&want), "{out}");
}
