//! The protocol engine against a real Dovecot: every command over STLS and
//! POP3S, APOP, pipelined TOP over 1,000+ messages, certificate policy, and
//! the deletion semantics checked by an independent session.

mod support;

use std::time::Duration;

use popview::pop3::transport::{self, ConnectOptions, Security, TlsMode, Trust};
use popview::pop3::{AuthMethod, Command, Credentials, ErrorKind, Reply};
use support::certs::TestPki;
use support::dovecot::{Dovecot, DovecotOptions, generated_messages};

fn opts(d: &Dovecot, tls: TlsMode) -> ConnectOptions {
    let port = match tls {
        TlsMode::Implicit => d.tls_port,
        _ => d.plain_port,
    };
    let mut o = ConnectOptions::new("localhost", port, tls);
    o.ca_file = Some(d.ca_pem.clone());
    o.io_timeout = Duration::from_secs(20);
    o
}

fn login(d: &Dovecot, tls: TlsMode, method: AuthMethod) -> transport::Connection {
    let mut c = transport::connect(&opts(d, tls), None).expect("connect");
    c.client
        .login(&Credentials::new(&d.user, &d.password), method, false)
        .expect("login");
    c
}

#[test]
fn every_command_over_stls_and_pop3s() {
    let msgs = generated_messages(5);
    let d = Dovecot::start(DovecotOptions::with_messages(msgs.clone()));
    for mode in [TlsMode::StartTls, TlsMode::Implicit] {
        let mut conn = login(&d, mode, AuthMethod::Auto);
        match (&conn.security, mode) {
            (Security::StartTls(i), TlsMode::StartTls)
            | (Security::Implicit(i), TlsMode::Implicit) => {
                assert_eq!(i.trust, Trust::Verified)
            }
            other => panic!("unexpected security {other:?}"),
        }
        let c = &mut conn.client;
        assert!(c.capabilities().pipelining && c.capabilities().top && c.capabilities().uidl);
        let (count, size) = c.stat().unwrap();
        assert_eq!(count, 5);
        let list = c.list().unwrap();
        assert_eq!(list.len(), 5);
        assert_eq!(list.iter().map(|(_, s)| s).sum::<u64>(), size);
        assert_eq!(c.list_one(3).unwrap(), list[2]);
        let uids = c.uidl().unwrap();
        let want = Dovecot::expected_uidls(5);
        assert_eq!(
            uids.iter()
                .map(|(_, u)| u.clone().unwrap())
                .collect::<Vec<_>>(),
            want
        );
        assert_eq!(c.uidl_one(2).unwrap().1.as_deref(), Some(want[1].as_str()));
        let top = c.top(1, 0).unwrap();
        assert!(String::from_utf8_lossy(&top.data).contains("Subject:"));
        assert!(
            top.data.ends_with(b"\r\n\r\n"),
            "headers end with the blank line"
        );
        let full = c.retr(2).unwrap();
        assert_eq!(
            full.data.len() as u64,
            list[1].1,
            "RETR size equals LIST size"
        );
        c.noop().unwrap();
        c.dele(1).unwrap();
        // A deleted message is refused, not fatal.
        let e = c.retr(1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        c.rset().unwrap();
        c.retr(1).unwrap();
        c.quit().unwrap();
    }
    assert_eq!(d.uidls().len(), 5, "RSET + QUIT deleted nothing");
}

#[test]
fn apop_and_sasl_plain_and_user() {
    let d = Dovecot::start(DovecotOptions::with_messages(generated_messages(2)));
    for method in [AuthMethod::Apop, AuthMethod::Plain, AuthMethod::User] {
        let mut conn = login(&d, TlsMode::Implicit, method);
        assert_eq!(conn.client.stat().unwrap().0, 2, "{method:?}");
        conn.client.quit().unwrap();
    }
    // Wrong password: an authentication error, the session stays usable.
    let mut conn = transport::connect(&opts(&d, TlsMode::Implicit), None).unwrap();
    let e = conn
        .client
        .login(
            &Credentials::new(&d.user, "wrong"),
            AuthMethod::Plain,
            false,
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
}

#[test]
fn pipelined_top_over_1200_messages_in_order() {
    let n = 1200;
    let msgs = generated_messages(n);
    let d = Dovecot::start(DovecotOptions::with_messages(msgs.clone()));
    let mut conn = login(&d, TlsMode::Implicit, AuthMethod::Auto);
    let c = &mut conn.client;
    let list = c.list().unwrap();
    let mut got = Vec::new();
    c.pipeline(
        list.iter().map(|&(msg, size)| Command::Top {
            msg,
            lines: 0,
            size: Some(size),
        }),
        |a| {
            let Command::Top { msg, .. } = a.command else {
                panic!()
            };
            let Ok(Reply::Body(b)) = a.result else {
                panic!("TOP {msg} failed")
            };
            got.push((msg, b.data));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(got.len(), n);
    for (i, (msg, headers)) in got.iter().enumerate() {
        assert_eq!(*msg as usize, i + 1);
        // The headers we generated, exactly (Dovecot sends them back with CRLF).
        let original = &msgs[i];
        let end = original
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
            .unwrap_or(original.len());
        assert_eq!(&headers[..], &original[..end], "headers of message {msg}");
    }
    c.quit().unwrap();
}

#[test]
fn deletion_semantics_seen_by_an_independent_session() {
    let d = Dovecot::start(DovecotOptions::with_messages(generated_messages(6)));
    let all = Dovecot::expected_uidls(6);

    // DELE without QUIT deletes nothing.
    {
        let mut conn = login(&d, TlsMode::Implicit, AuthMethod::Auto);
        conn.client.dele(1).unwrap();
        conn.client.dele(2).unwrap();
        conn.client.stream().shutdown();
    }
    assert_eq!(d.uidls(), all);

    // DELE + RSET + QUIT deletes nothing.
    let mut conn = login(&d, TlsMode::StartTls, AuthMethod::Auto);
    conn.client.dele(3).unwrap();
    conn.client.rset().unwrap();
    conn.client.quit().unwrap();
    assert_eq!(d.uidls(), all);

    // DELE + QUIT deletes exactly those.
    let mut conn = login(&d, TlsMode::Implicit, AuthMethod::Auto);
    conn.client.dele(2).unwrap();
    conn.client.dele(5).unwrap();
    conn.client.quit().unwrap();
    let left: Vec<String> = [0, 2, 3, 5].iter().map(|&i| all[i].clone()).collect();
    assert_eq!(d.uidls(), left);
}

#[test]
fn certificate_policy_against_dovecot() {
    let d = Dovecot::start(DovecotOptions::default());
    // Without the test CA, the system roots don't know Dovecot's certificate.
    let mut o = opts(&d, TlsMode::Implicit);
    o.ca_file = None;
    let e = transport::connect(&o, None)
        .err()
        .expect("unknown CA accepted");
    assert_eq!(e.kind, ErrorKind::Tls, "{}", e.message);
    assert!(e.message.contains("--ca-file"), "{}", e.message);
    // The same over STLS: fails before any credential could be sent.
    let mut o = opts(&d, TlsMode::StartTls);
    o.ca_file = None;
    assert_eq!(
        transport::connect(&o, None).err().unwrap().kind,
        ErrorKind::Tls
    );
    // The certificate also names IP 127.0.0.1, so that host verifies too.
    let mut o = opts(&d, TlsMode::Implicit);
    o.host = "127.0.0.1".into();
    assert!(transport::connect(&o, None).is_ok());
    // Pinning the server's own fingerprint works without the CA ...
    let pki = TestPki::shared();
    let fp = pki.valid.sha256_fingerprint_hex();
    let mut o = opts(&d, TlsMode::Implicit);
    o.ca_file = None;
    o.pin_sha256 = transport::parse_fingerprint(&fp);
    let conn = transport::connect(&o, None).unwrap();
    assert!(matches!(conn.security, Security::Implicit(ref i) if i.trust == Trust::Pinned));
    // ... and a wrong pin fails even with the CA.
    let mut o = opts(&d, TlsMode::Implicit);
    o.pin_sha256 = Some([7; 32]);
    let e = transport::connect(&o, None).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Tls);
    assert!(e.message.contains("pinned"), "{}", e.message);
}

#[test]
fn no_password_in_cleartext_even_when_the_server_would_take_it() {
    let d = Dovecot::start(DovecotOptions::default());
    let mut conn = transport::connect(&opts(&d, TlsMode::None), None).unwrap();
    assert_eq!(conn.security, Security::Plain);
    let e = conn
        .client
        .login(
            &Credentials::new(&d.user, &d.password),
            AuthMethod::Auto,
            false,
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls);
    // With explicit permission, APOP keeps the password off the wire.
    let mut conn = transport::connect(&opts(&d, TlsMode::None), None).unwrap();
    let m = conn
        .client
        .login(
            &Credentials::new(&d.user, &d.password),
            AuthMethod::Auto,
            true,
        )
        .unwrap();
    assert_eq!(m, AuthMethod::Apop);
}
