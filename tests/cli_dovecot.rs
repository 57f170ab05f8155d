//! The scripting commands against a real Dovecot: `delete` reports "not
//! deleted" or "unknown" when the connection is cut before or after QUIT
//! (through a cutting proxy), both port mix-ups are named within seconds,
//! `serverinfo` prints the pin for a certificate it can't verify, and a
//! greeting that carries the password is shown redacted.

mod support;

use std::time::{Duration, Instant};

use popview::cli::exit;
use popview::pop3::ErrorKind;
use popview::pop3::transport::{ConnectOptions, TlsMode, connect};
use support::cli::*;
use support::dovecot::{Dovecot, DovecotOptions, generated_messages};
use support::proxy::{CutRule, Proxy};

/// A config file with account `t`; the password from `$PV_TEST_PW`.
fn config(sb: &Sandbox, d: &Dovecot, port: u16, tls: &str, extra: &str) -> String {
    let path = sb.home().join(format!("config-{port}-{tls}.toml"));
    std::fs::write(
        &path,
        format!(
            "[accounts.t]\nhost = \"localhost\"\nport = {port}\ntls = \"{tls}\"\n\
             username = \"{}\"\npassword_env = \"PV_TEST_PW\"\n{extra}\n",
            d.user
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// `delete` through a proxy that cuts the connection at a chosen command,
/// cleartext so the proxy can see the commands.
fn delete_cut_at(command: &str) -> (Run, Dovecot, Vec<String>) {
    let d = Dovecot::start(DovecotOptions::with_messages(generated_messages(3)));
    let before = d.uidls();
    let proxy = Proxy::start(format!("127.0.0.1:{}", d.plain_port).parse().unwrap());
    proxy.cut_on(CutRule::after_client_sends(command, 0));
    let sb = Sandbox::new();
    let cfg = config(
        &sb,
        &d,
        proxy.port(),
        "none",
        "allow_cleartext_password = true",
    );
    let r = sb.run(
        &["delete", "1", "3", "--config", &cfg],
        &[("PV_TEST_PW", d.password.as_str())],
    );
    assert_eq!(proxy.rules_fired(), 1, "the cut happened");
    assert_eq!(proxy.connections(), 1, "never retried");
    (r, d, before)
}

/// Cut as the DELEs go out: Dovecot deletes nothing without QUIT, and
/// `delete` says "not deleted" (exit 6).
#[test]
fn dovecot_cut_before_quit_is_not_deleted() {
    let (r, d, before) = delete_cut_at("DELE ");
    let r = r.code(exit::NOT_DELETED);
    assert_eq!(
        r.out(),
        format!(
            "not deleted 1\t{}\nnot deleted 3\t{}\n",
            before[0], before[2]
        )
    );
    assert!(r.stderr.contains("nothing was deleted"), "{}", r.stderr);
    assert_eq!(d.uidls(), before, "Dovecot kept every message");
}

/// Cut once QUIT is sent: Dovecot may have deleted or not; `delete` says
/// "unknown" (exit 7), never "deleted". Whatever Dovecot did, it did to the
/// two named messages only.
#[test]
fn dovecot_cut_after_quit_is_unknown() {
    let (r, d, before) = delete_cut_at("QUIT");
    let r = r.code(exit::UNKNOWN);
    assert_eq!(
        r.out(),
        format!("unknown 1\t{}\nunknown 3\t{}\n", before[0], before[2])
    );
    assert!(r.stderr.contains("may or may not"), "{}", r.stderr);
    let after = d.uidls();
    assert!(
        after == before || after == vec![before[1].clone()],
        "{after:?} from {before:?}"
    );
}

/// Both mix-ups, and `serverinfo`'s pin for a certificate it can't verify
/// (Dovecot's certificate comes from the test CA, not given here), and a
/// greeting with the password in it, all on one Dovecot.
#[test]
fn dovecot_mixups_pin_and_a_greeting_with_the_password() {
    let d = Dovecot::start(DovecotOptions {
        login_greeting: Some(format!("Hi {} ready", support::dovecot::PASSWORD)),
        ..DovecotOptions::with_messages(generated_messages(2))
    });
    let opts = |port, mode| {
        let mut o = ConnectOptions::new("localhost", port, mode);
        o.ca_file = Some(d.ca_pem.clone());
        o.io_timeout = Duration::from_secs(30);
        o
    };
    // pop3:// at the POP3S port: named after the silence, well before the
    // 30 s timeout.
    let t0 = Instant::now();
    let e = connect(&opts(d.tls_port, TlsMode::StartTls), None)
        .err()
        .expect("must fail");
    assert_eq!(e.kind, ErrorKind::Tls, "{e:?}");
    assert!(
        e.message
            .contains(&format!("use pop3s://localhost:{}", d.tls_port)),
        "{}",
        e.message
    );
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    // pop3s:// at the plain port.
    let e = connect(&opts(d.plain_port, TlsMode::Implicit), None)
        .err()
        .expect("must fail");
    assert_eq!(e.kind, ErrorKind::Tls, "{e:?}");
    assert!(
        e.message
            .contains(&format!("use pop3://localhost:{}", d.plain_port)),
        "{}",
        e.message
    );

    // serverinfo without the CA: the pin, which then works.
    let sb = Sandbox::new();
    let env = [("PV_TEST_PW", d.password.as_str())];
    let cfg = config(&sb, &d, d.tls_port, "implicit", "");
    let r = sb.run(&["serverinfo", "--config", &cfg], &env);
    let r = r.code(exit::NETWORK);
    let out = r.out();
    let line = out
        .lines()
        .find(|l| l.starts_with("cert_fingerprint = "))
        .unwrap_or_else(|| panic!("no pin line:\n{out}\n{}", r.stderr));
    let log = sb.home().join("trace.log");
    let pinned = config(&sb, &d, d.tls_port, "implicit", line);
    let out = sb
        .run(
            &[
                "serverinfo",
                "--config",
                &pinned,
                "--log",
                log.to_str().unwrap(),
            ],
            &env,
        )
        .ok()
        .out();
    assert!(out.contains("implicit TLS, certificate pinned"), "{out}");
    // Dovecot greeted with the password: shown and logged redacted.
    assert!(out.contains("Hi <redacted> ready"), "{out}");
    let trace = std::fs::read_to_string(&log).unwrap();
    assert!(trace.contains("S: +OK Hi <redacted> ready"), "{trace}");
    assert!(!out.contains(&d.password) && !trace.contains(&d.password));
}
