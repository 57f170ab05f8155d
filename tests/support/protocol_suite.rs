//! One POP3 protocol suite run against each real server (Dovecot in
//! `tests/dovecot_protocol.rs`, Cyrus in `tests/cyrus_interop.rs`): every
//! command over STLS and POP3S, the login methods, pipelined TOP in order,
//! the deletion semantics seen by an independent session, the certificate
//! policy and no password in the clear.
//!
//! A server is described by [`Pop3Server`]: how to start one with given
//! messages, where it listens (host, ports, account, CA), how to look at it
//! from outside, and what it supports ([`Supports`]). [`protocol_suite!`]
//! makes one `#[test]` per case for a server type.
//!
//! Like [`super::worker`], this module uses popview itself.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use popview::pop3::transport::{self, ConnectOptions, Security, TlsMode, Trust};
use popview::pop3::{AuthMethod, Command, Credentials, ErrorKind, Reply};

use super::certs::TestPki;
use super::cyrus::Cyrus;
use super::dovecot::{Dovecot, DovecotOptions, generated_messages};

/// What a server under test supports, where cases differ.
pub struct Supports {
    /// Messages in the pipelined-TOP case (delivery costs differ a lot).
    pub pipelined_top_messages: usize,
}

/// A real POP3 server the suite can start and check.
pub trait Pop3Server: Sized {
    /// Starts a private server whose one mailbox holds `messages`, in order.
    fn start(messages: Vec<Vec<u8>>) -> Self;
    fn name(&self) -> &'static str;
    fn host(&self) -> &str {
        "localhost"
    }
    fn plain_port(&self) -> u16;
    fn tls_port(&self) -> u16;
    fn user(&self) -> &str;
    fn password(&self) -> &str;
    /// The CA that signed the server's certificate (the test PKI's valid one).
    fn ca_pem(&self) -> PathBuf;
    fn supports() -> Supports;
    /// The UIDLs of the first `n` messages delivered at start.
    fn expected_uidls(&self, n: usize) -> Vec<String>;
    /// What the server holds now, by an independent session.
    fn uidls(&self) -> Vec<String>;
    /// Messages in the mailbox, counted on the server's side.
    fn message_count(&self) -> usize;
    /// Message bytes (or a header block) as sent by the server, with what the
    /// server added at delivery taken out: the bytes that were delivered.
    fn as_delivered(&self, bytes: &[u8]) -> Vec<u8>;
}

impl Pop3Server for Dovecot {
    fn start(messages: Vec<Vec<u8>>) -> Self {
        Dovecot::start(DovecotOptions::with_messages(messages))
    }
    fn name(&self) -> &'static str {
        "Dovecot"
    }
    fn plain_port(&self) -> u16 {
        self.plain_port
    }
    fn tls_port(&self) -> u16 {
        self.tls_port
    }
    fn user(&self) -> &str {
        &self.user
    }
    fn password(&self) -> &str {
        &self.password
    }
    fn ca_pem(&self) -> PathBuf {
        self.ca_pem.clone()
    }
    fn supports() -> Supports {
        Supports {
            pipelined_top_messages: 1200,
        }
    }
    fn expected_uidls(&self, n: usize) -> Vec<String> {
        Dovecot::expected_uidls(n)
    }
    fn uidls(&self) -> Vec<String> {
        Dovecot::uidls(self)
    }
    fn message_count(&self) -> usize {
        Dovecot::message_count(self)
    }
    fn as_delivered(&self, bytes: &[u8]) -> Vec<u8> {
        bytes.to_vec()
    }
}

impl Pop3Server for Cyrus {
    fn start(messages: Vec<Vec<u8>>) -> Self {
        let n = messages.len();
        let c = Cyrus::start(messages);
        eprintln!(
            "cyrus: setup {:?}, startup {:?}, delivery of {n} {:?}",
            c.setup, c.startup, c.delivery
        );
        c
    }
    fn name(&self) -> &'static str {
        "Cyrus"
    }
    fn plain_port(&self) -> u16 {
        self.plain_port
    }
    fn tls_port(&self) -> u16 {
        self.tls_port
    }
    fn user(&self) -> &str {
        &self.user
    }
    fn password(&self) -> &str {
        &self.password
    }
    fn ca_pem(&self) -> PathBuf {
        self.ca_pem.clone()
    }
    fn supports() -> Supports {
        Supports {
            pipelined_top_messages: 400,
        }
    }
    fn expected_uidls(&self, n: usize) -> Vec<String> {
        Cyrus::expected_uidls(self, n)
    }
    fn uidls(&self) -> Vec<String> {
        Cyrus::uidls(self)
    }
    fn message_count(&self) -> usize {
        Cyrus::message_count(self)
    }
    fn as_delivered(&self, bytes: &[u8]) -> Vec<u8> {
        self.strip_delivery_headers(bytes)
    }
}

/// One `#[test]` per suite case against server type `$server`, each named
/// after its case.
#[macro_export]
macro_rules! protocol_suite {
    ($server:ty) => {
        $crate::protocol_suite!(@cases $server;
            every_command_over_stls_and_pop3s,
            apop_sasl_plain_and_user_logins,
            pipelined_top_in_order_over_stls_and_pop3s,
            deletion_semantics_seen_by_an_independent_session,
            certificate_policy,
            no_password_in_cleartext_even_when_the_server_would_take_it,
        );
    };
    (@cases $server:ty; $($case:ident,)*) => {
        $(
            #[test]
            fn $case() {
                $crate::support::protocol_suite::$case::<$server>();
            }
        )*
    };
}

/// Connection options for `mode` (the TLS port for POP3S, else the plain
/// one), verified against the server's CA.
pub fn opts<S: Pop3Server>(s: &S, mode: TlsMode) -> ConnectOptions {
    let port = match mode {
        TlsMode::Implicit => s.tls_port(),
        _ => s.plain_port(),
    };
    let mut o = ConnectOptions::new(s.host(), port, mode);
    o.ca_file = Some(s.ca_pem());
    o.io_timeout = Duration::from_secs(20);
    o
}

/// Connected and logged in with `method`.
pub fn login<S: Pop3Server>(s: &S, mode: TlsMode, method: AuthMethod) -> transport::Connection {
    let mut c = transport::connect(&opts(s, mode), None).expect("connect");
    c.client
        .login(&Credentials::new(s.user(), s.password()), method, false)
        .expect("login");
    c
}

/// The header block of a raw message, up to and including the blank line.
pub fn header_block(m: &[u8]) -> &[u8] {
    let end = m
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(m.len());
    &m[..end]
}

pub fn every_command_over_stls_and_pop3s<S: Pop3Server>() {
    let msgs = generated_messages(5);
    let s = S::start(msgs.clone());
    let name = s.name();
    let want = s.expected_uidls(5);
    for mode in [TlsMode::StartTls, TlsMode::Implicit] {
        let mut conn = login(&s, mode, AuthMethod::Auto);
        match (&conn.security, mode) {
            (Security::StartTls(i), TlsMode::StartTls)
            | (Security::Implicit(i), TlsMode::Implicit) => {
                assert_eq!(i.trust, Trust::Verified)
            }
            other => panic!("{name}: unexpected security {other:?}"),
        }
        let cl = &mut conn.client;
        let caps = cl.capabilities();
        assert!(caps.pipelining && caps.top && caps.uidl, "{name} {mode:?}");
        let (count, size) = cl.stat().unwrap();
        assert_eq!(count, 5);
        let list = cl.list().unwrap();
        assert_eq!(list.len(), 5);
        assert_eq!(list.iter().map(|(_, s)| s).sum::<u64>(), size);
        assert_eq!(cl.list_one(3).unwrap(), list[2]);
        let uids = cl.uidl().unwrap();
        assert_eq!(
            uids.iter()
                .map(|(_, u)| u.clone().unwrap())
                .collect::<Vec<_>>(),
            want
        );
        assert_eq!(cl.uidl_one(2).unwrap().1.as_deref(), Some(want[1].as_str()));
        let top = cl.top(1, 0).unwrap();
        assert!(String::from_utf8_lossy(&top.data).contains("Subject:"));
        assert!(
            top.data.ends_with(b"\r\n\r\n"),
            "headers end with the blank line"
        );
        assert_eq!(
            s.as_delivered(&top.data),
            header_block(&msgs[0]),
            "{name}: TOP 1 0 is the delivered header block"
        );
        // TOP with body lines: the headers, then exactly that many lines.
        let top3 = cl.top(1, 3).unwrap();
        let body3 = &top3.data[top.data.len()..];
        assert!(top3.data.starts_with(&top.data));
        assert_eq!(body3.iter().filter(|&&b| b == b'\n').count(), 3);
        assert!(msgs[0][header_block(&msgs[0]).len()..].starts_with(body3));
        // RETR: the LIST size, and the delivered bytes exactly (dot-stuffed
        // lines included).
        for n in [2u32, 5] {
            let full = cl.retr(n).unwrap();
            let i = n as usize - 1;
            assert_eq!(full.data.len() as u64, list[i].1, "RETR {n} size = LIST");
            assert_eq!(
                s.as_delivered(&full.data),
                msgs[i],
                "{name}: RETR {n} bytes"
            );
        }
        cl.noop().unwrap();
        cl.dele(1).unwrap();
        // A deleted message is refused, not fatal.
        let e = cl.retr(1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        cl.rset().unwrap();
        cl.retr(1).unwrap();
        cl.quit().unwrap();
    }
    assert_eq!(s.uidls(), want, "{name}: RSET + QUIT deleted nothing");
}

pub fn apop_sasl_plain_and_user_logins<S: Pop3Server>() {
    let s = S::start(generated_messages(2));
    let name = s.name();
    for (mode, method) in [
        (TlsMode::Implicit, AuthMethod::Apop),
        (TlsMode::StartTls, AuthMethod::Apop),
        (TlsMode::Implicit, AuthMethod::Plain),
        (TlsMode::Implicit, AuthMethod::User),
        (TlsMode::StartTls, AuthMethod::Plain),
        (TlsMode::StartTls, AuthMethod::User),
    ] {
        let mut conn = login(&s, mode, method);
        assert_eq!(
            conn.client.stat().unwrap().0,
            2,
            "{name} {mode:?} {method:?}"
        );
        conn.client.quit().unwrap();
    }
    // A wrong password: an authentication error from the real server.
    for method in [AuthMethod::Plain, AuthMethod::User] {
        let mut conn = transport::connect(&opts(&s, TlsMode::Implicit), None).unwrap();
        let e = conn
            .client
            .login(&Credentials::new(s.user(), "wrong"), method, false)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth, "{name} {method:?}: {}", e.message);
    }
}

pub fn pipelined_top_in_order_over_stls_and_pop3s<S: Pop3Server>() {
    let n = S::supports().pipelined_top_messages;
    let msgs = generated_messages(n);
    let s = S::start(msgs.clone());
    let name = s.name();
    for mode in [TlsMode::Implicit, TlsMode::StartTls] {
        let mut conn = login(&s, mode, AuthMethod::Auto);
        let cl = &mut conn.client;
        let list = cl.list().unwrap();
        assert_eq!(list.len(), n);
        let t0 = Instant::now();
        let mut got = Vec::new();
        cl.pipeline(
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
        eprintln!(
            "{name}: {n} pipelined TOPs over {mode:?} in {:?}",
            t0.elapsed()
        );
        assert_eq!(got.len(), n);
        for (i, (msg, headers)) in got.iter().enumerate() {
            assert_eq!(*msg as usize, i + 1);
            // The headers we generated, exactly.
            assert_eq!(
                s.as_delivered(headers),
                header_block(&msgs[i]),
                "{name}: headers of message {msg}"
            );
        }
        cl.quit().unwrap();
    }
}

pub fn deletion_semantics_seen_by_an_independent_session<S: Pop3Server>() {
    let s = S::start(generated_messages(6));
    let all = s.expected_uidls(6);
    assert_eq!(s.uidls(), all);

    // DELE without QUIT deletes nothing.
    {
        let mut conn = login(&s, TlsMode::Implicit, AuthMethod::Auto);
        conn.client.dele(1).unwrap();
        conn.client.dele(2).unwrap();
        conn.client.stream().shutdown();
    }
    assert_eq!(s.uidls(), all);

    // DELE + RSET + QUIT deletes nothing.
    let mut conn = login(&s, TlsMode::StartTls, AuthMethod::Auto);
    conn.client.dele(3).unwrap();
    conn.client.rset().unwrap();
    conn.client.quit().unwrap();
    assert_eq!(s.uidls(), all);

    // DELE + QUIT deletes exactly those.
    let mut conn = login(&s, TlsMode::Implicit, AuthMethod::Auto);
    conn.client.dele(2).unwrap();
    conn.client.dele(5).unwrap();
    conn.client.quit().unwrap();
    let left: Vec<String> = [0, 2, 3, 5].iter().map(|&i| all[i].clone()).collect();
    assert_eq!(s.uidls(), left);
    assert_eq!(s.message_count(), 4);
}

pub fn certificate_policy<S: Pop3Server>() {
    let s = S::start(Vec::new());
    let name = s.name();
    // Without the test CA, the system roots don't know the certificate:
    // over POP3S and over STLS, before any credential could be sent.
    for mode in [TlsMode::Implicit, TlsMode::StartTls] {
        let mut o = opts(&s, mode);
        o.ca_file = None;
        let e = transport::connect(&o, None)
            .err()
            .expect("unknown CA accepted");
        assert_eq!(e.kind, ErrorKind::Tls, "{name} {mode:?}: {}", e.message);
        assert!(e.message.contains("--ca-file"), "{}", e.message);
    }
    // The certificate also names IP 127.0.0.1, so that host verifies too.
    let mut o = opts(&s, TlsMode::Implicit);
    o.host = "127.0.0.1".into();
    assert!(transport::connect(&o, None).is_ok(), "{name}");
    // Pinning the server's own fingerprint works without the CA ...
    let fp = TestPki::shared().valid.sha256_fingerprint_hex();
    let mut o = opts(&s, TlsMode::Implicit);
    o.ca_file = None;
    o.pin_sha256 = transport::parse_fingerprint(&fp);
    let conn = transport::connect(&o, None).unwrap();
    assert!(matches!(conn.security, Security::Implicit(ref i) if i.trust == Trust::Pinned));
    // ... and a wrong pin fails even with the CA.
    let mut o = opts(&s, TlsMode::Implicit);
    o.pin_sha256 = Some([7; 32]);
    let e = transport::connect(&o, None).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Tls);
    assert!(e.message.contains("pinned"), "{}", e.message);
}

pub fn no_password_in_cleartext_even_when_the_server_would_take_it<S: Pop3Server>() {
    let s = S::start(Vec::new());
    // The server would take USER/PASS in the clear; the client refuses to
    // send it ...
    let mut conn = transport::connect(&opts(&s, TlsMode::None), None).unwrap();
    assert_eq!(conn.security, Security::Plain);
    let e = conn
        .client
        .login(
            &Credentials::new(s.user(), s.password()),
            AuthMethod::Auto,
            false,
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls);
    // ... and with explicit permission picks APOP, keeping it off the wire.
    let mut conn = transport::connect(&opts(&s, TlsMode::None), None).unwrap();
    let m = conn
        .client
        .login(
            &Credentials::new(s.user(), s.password()),
            AuthMethod::Auto,
            true,
        )
        .unwrap();
    assert_eq!(m, AuthMethod::Apop, "{}", s.name());
    assert_eq!(conn.client.stat().unwrap().0, 0);
    conn.client.quit().unwrap();
}
