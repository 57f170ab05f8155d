//! The protocol engine and the worker against a second real server, Cyrus
//! IMAP 3.6's `pop3d` (see `tests/support/cyrus.rs`; needs
//! `bash .ci/cyrus-setup.sh` once): every command over STLS and POP3S,
//! pipelined TOP over hundreds of messages in order, RETR bytes, the
//! deletion semantics checked by an independent session, and the worker end
//! to end.

mod support;

use std::time::{Duration, Instant};

use popview::pop3::transport::{self, ConnectOptions, Security, TlsMode, Trust};
use popview::pop3::{AuthMethod, Command, Credentials, ErrorKind, Reply};
use popview::worker::WorkerConfig;
use popview::worker::api::{CertTrust, Event, MsgKey, Request, TlsState};
use popview::worker::persist::Memory;
use support::cyrus::Cyrus;
use support::dovecot::generated_messages;
use support::worker::Harness;

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

#[test]
fn every_command_over_stls_and_pop3s() {
    let msgs = generated_messages(5);
    let c = Cyrus::start(msgs.clone());
    let want = c.expected_uidls(5);
    for mode in [TlsMode::StartTls, TlsMode::Implicit] {
        let mut conn = login(&c, mode, AuthMethod::Auto);
        match (&conn.security, mode) {
            (Security::StartTls(i), TlsMode::StartTls)
            | (Security::Implicit(i), TlsMode::Implicit) => {
                assert_eq!(i.trust, Trust::Verified)
            }
            other => panic!("unexpected security {other:?}"),
        }
        let cl = &mut conn.client;
        let caps = cl.capabilities();
        assert!(caps.pipelining && caps.top && caps.uidl, "{mode:?}");
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
            c.strip_delivery_headers(&top.data),
            header_block(&msgs[0]),
            "TOP 1 0 is the delivered header block plus Cyrus's trace"
        );
        // TOP with body lines: the headers, then exactly that many lines.
        let top3 = cl.top(1, 3).unwrap();
        let body3 = &top3.data[top.data.len()..];
        assert!(top3.data.starts_with(&top.data));
        assert_eq!(body3.iter().filter(|&&b| b == b'\n').count(), 3);
        assert!(msgs[0][header_block(&msgs[0]).len()..].starts_with(body3));
        // RETR: the LIST size, and the delivered bytes exactly (dot-stuffed
        // lines included) once Cyrus's trace fields are taken out.
        for n in [2u32, 5] {
            let full = cl.retr(n).unwrap();
            let i = n as usize - 1;
            assert_eq!(full.data.len() as u64, list[i].1, "RETR {n} size = LIST");
            assert_eq!(
                c.strip_delivery_headers(&full.data),
                msgs[i],
                "RETR {n} bytes"
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
    assert_eq!(c.uidls(), want, "RSET + QUIT deleted nothing");
}

#[test]
fn pipelined_top_over_400_messages_in_order() {
    let n = 400;
    let msgs = generated_messages(n);
    let c = Cyrus::start(msgs.clone());
    eprintln!(
        "cyrus: setup {:?}, startup {:?}, delivery of {n} {:?}",
        c.setup, c.startup, c.delivery
    );
    for mode in [TlsMode::Implicit, TlsMode::StartTls] {
        let mut conn = login(&c, mode, AuthMethod::Auto);
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
            "cyrus: {n} pipelined TOPs over {mode:?} in {:?}",
            t0.elapsed()
        );
        assert_eq!(got.len(), n);
        for (i, (msg, headers)) in got.iter().enumerate() {
            assert_eq!(*msg as usize, i + 1);
            assert_eq!(
                c.strip_delivery_headers(headers),
                header_block(&msgs[i]),
                "headers of message {msg}"
            );
        }
        cl.quit().unwrap();
    }
}

#[test]
fn deletion_semantics_seen_by_an_independent_session() {
    let c = Cyrus::start(generated_messages(6));
    let all = c.expected_uidls(6);
    assert_eq!(c.uidls(), all);

    // DELE without QUIT deletes nothing.
    {
        let mut conn = login(&c, TlsMode::Implicit, AuthMethod::Auto);
        conn.client.dele(1).unwrap();
        conn.client.dele(2).unwrap();
        conn.client.stream().shutdown();
    }
    assert_eq!(c.uidls(), all);

    // DELE + RSET + QUIT deletes nothing.
    let mut conn = login(&c, TlsMode::StartTls, AuthMethod::Auto);
    conn.client.dele(3).unwrap();
    conn.client.rset().unwrap();
    conn.client.quit().unwrap();
    assert_eq!(c.uidls(), all);

    // DELE + QUIT deletes exactly those.
    let mut conn = login(&c, TlsMode::Implicit, AuthMethod::Auto);
    conn.client.dele(2).unwrap();
    conn.client.dele(5).unwrap();
    conn.client.quit().unwrap();
    let left: Vec<String> = [0, 2, 3, 5].iter().map(|&i| all[i].clone()).collect();
    assert_eq!(c.uidls(), left);
    assert_eq!(c.message_count(), 4);
}

#[test]
fn apop_sasl_plain_and_user_logins() {
    let c = Cyrus::start(generated_messages(2));
    for (mode, method) in [
        (TlsMode::Implicit, AuthMethod::Apop),
        (TlsMode::StartTls, AuthMethod::Apop),
        (TlsMode::Implicit, AuthMethod::Plain),
        (TlsMode::Implicit, AuthMethod::User),
        (TlsMode::StartTls, AuthMethod::Plain),
        (TlsMode::StartTls, AuthMethod::User),
    ] {
        let mut conn = login(&c, mode, method);
        assert_eq!(conn.client.stat().unwrap().0, 2, "{mode:?} {method:?}");
        conn.client.quit().unwrap();
    }
}

#[test]
fn certificate_policy_and_no_cleartext_password() {
    let c = Cyrus::start(Vec::new());
    // Without the test CA, the system roots don't know the certificate:
    // over POP3S and over STLS, before any credential could be sent.
    for mode in [TlsMode::Implicit, TlsMode::StartTls] {
        let mut o = opts(&c, mode);
        o.ca_file = None;
        let e = transport::connect(&o, None)
            .err()
            .expect("unknown CA accepted");
        assert_eq!(e.kind, ErrorKind::Tls, "{mode:?}: {}", e.message);
    }
    // Pinning the server's own fingerprint works without the CA.
    let mut o = opts(&c, TlsMode::Implicit);
    o.ca_file = None;
    o.pin_sha256 = transport::parse_fingerprint(
        &support::certs::TestPki::shared()
            .valid
            .sha256_fingerprint_hex(),
    );
    let conn = transport::connect(&o, None).unwrap();
    assert!(matches!(conn.security, Security::Implicit(ref i) if i.trust == Trust::Pinned));
    // Cyrus would take USER/PASS in the clear (allowplaintext: yes); the
    // client refuses to send it ...
    let mut conn = transport::connect(&opts(&c, TlsMode::None), None).unwrap();
    assert_eq!(conn.security, Security::Plain);
    let e = conn
        .client
        .login(
            &Credentials::new(&c.user, &c.password),
            AuthMethod::Auto,
            false,
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls);
    // ... and with explicit permission picks APOP, keeping it off the wire.
    let mut conn = transport::connect(&opts(&c, TlsMode::None), None).unwrap();
    let m = conn
        .client
        .login(
            &Credentials::new(&c.user, &c.password),
            AuthMethod::Auto,
            true,
        )
        .unwrap();
    assert_eq!(m, AuthMethod::Apop);
    assert_eq!(conn.client.stat().unwrap().0, 0);
    conn.client.quit().unwrap();
}

#[test]
fn worker_open_previews_mark_two_commit() {
    let n = 40;
    let c = Cyrus::start(generated_messages(n));
    let before = c.expected_uidls(n);
    for mode in [TlsMode::StartTls, TlsMode::Implicit] {
        let c_uidls = c.uidls();
        let mut cfg = WorkerConfig::new(opts(&c, mode), c.user.clone());
        cfg.password = Some(c.password.clone());
        let mut w = Harness::start(cfg, Box::new(Memory::default()));
        let Event::Connected(info) = w.wait("connected", |e| matches!(e, Event::Connected(_)))
        else {
            unreachable!()
        };
        match (&info.tls, mode) {
            (TlsState::StartTls(d), TlsMode::StartTls)
            | (TlsState::Implicit(d), TlsMode::Implicit) => {
                assert_eq!(d.trust, CertTrust::Verified)
            }
            other => panic!("unexpected TLS state {other:?}"),
        }
        assert!(info.pipelining && info.has_top && info.has_uidl);
        assert!(
            info.implementation
                .as_deref()
                .is_some_and(|i| i.contains("Cyrus")),
            "{info:?}"
        );
        let Event::Listing { entries, .. } =
            w.wait("listing", |e| matches!(e, Event::Listing { .. }))
        else {
            unreachable!()
        };
        let keys: Vec<MsgKey> = entries.into_iter().map(|e| e.key).collect();
        assert_eq!(
            keys.iter()
                .map(|k| k.uid.clone().unwrap())
                .collect::<Vec<_>>(),
            c_uidls
        );
        w.wait(
            "all previews",
            |e| matches!(e, Event::Progress { done, total, .. } if done == total),
        );
        // Every message got its own preview: the generated Message-ID
        // names the message number.
        let mut previewed = 0;
        for e in &w.seen {
            if let Event::Previews(v) = e {
                for (k, h) in v {
                    let uid = k.uid.as_deref().unwrap();
                    let i = before.iter().position(|u| u == uid).unwrap() + 1;
                    assert!(
                        h.message_id.contains(&format!("pv.{i}.")),
                        "preview of {uid}: {h:?}"
                    );
                    previewed += 1;
                }
            }
        }
        assert_eq!(previewed, keys.len(), "a preview for every message");
        // Mark two (the second and the second to last), commit.
        let marked = [keys[1].clone(), keys[keys.len() - 2].clone()];
        for k in &marked {
            w.send(Request::Mark(k.clone()));
        }
        w.wait(
            "2 marks",
            |e| matches!(e, Event::Marks { marked, .. } if marked.len() == 2),
        );
        let seen = w.quit(true);
        assert!(
            seen.iter()
                .any(|e| matches!(e, Event::Committed { deleted: 2, .. })),
            "{seen:#?}"
        );
        assert!(matches!(
            seen.last(),
            Some(Event::Closed { committed: true })
        ));
        let gone: Vec<&str> = marked.iter().map(|k| k.uid.as_deref().unwrap()).collect();
        let want: Vec<String> = c_uidls
            .iter()
            .filter(|u| !gone.contains(&u.as_str()))
            .cloned()
            .collect();
        assert_eq!(want.len(), c_uidls.len() - 2);
        assert_eq!(c.uidls(), want, "exactly the two marked are gone");
    }
    assert_eq!(c.message_count(), n - 4);
}
