//! The protocol engine and the worker against a second real server, Cyrus
//! IMAP 3.6's `pop3d` (see `tests/support/cyrus.rs`; needs
//! `bash .ci/cyrus-setup.sh` once): every command over STLS and POP3S,
//! pipelined TOP over hundreds of messages in order, RETR bytes, the
//! deletion semantics checked by an independent session, and the worker end
//! to end.

mod support;

use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use popview::pop3::transport::{self, ConnectOptions, Security, TlsMode, Trust};
use popview::pop3::{AuthMethod, Command, Credentials, ErrorKind, Reply};
use popview::worker::api::{CertTrust, Event, MsgKey, Request, TlsState};
use popview::worker::{self, WorkerConfig};
use support::cyrus::Cyrus;
use support::dovecot::generated_messages;

fn opts(c: &Cyrus, tls: TlsMode) -> ConnectOptions {
    let port = match tls {
        TlsMode::Implicit => c.tls_port,
        _ => c.plain_port,
    };
    let mut o = ConnectOptions::new("localhost", port, tls);
    o.ca_file = Some(c.ca_pem.clone());
    o.io_timeout = Duration::from_secs(20);
    o
}

fn login(c: &Cyrus, tls: TlsMode, method: AuthMethod) -> transport::Connection {
    let mut conn = transport::connect(&opts(c, tls), None).expect("connect");
    conn.client
        .login(&Credentials::new(&c.user, &c.password), method, false)
        .expect("login");
    conn
}

/// The header block of a raw message, up to and including the blank line.
fn header_block(m: &[u8]) -> &[u8] {
    let end = m
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(m.len());
    &m[..end]
}

#[test]
fn harness_delivers_in_order_and_refuses_a_wrong_password() {
    let msgs = generated_messages(3);
    let c = Cyrus::start(msgs.clone());
    eprintln!(
        "cyrus: setup {:?}, startup {:?}, delivery of 3 {:?}",
        c.setup, c.startup, c.delivery
    );
    assert_eq!(c.uidls(), c.expected_uidls(3));
    assert_eq!(c.message_count(), 3);
    // A wrong password is an authentication error from the real server.
    let mut conn = transport::connect(&opts(&c, TlsMode::Implicit), None).unwrap();
    let e = conn
        .client
        .login(&Credentials::new(&c.user, "wrong"), AuthMethod::User, false)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{}", e.message);
}
