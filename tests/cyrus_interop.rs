//! The protocol engine and the worker against a second real server, Cyrus
//! IMAP 3.6's `pop3d` (see `tests/support/cyrus.rs`; needs
//! `bash .ci/cyrus-setup.sh` once): the shared protocol suite
//! (`tests/support/protocol_suite.rs`, also run against Dovecot in
//! `tests/dovecot_protocol.rs`: every command over STLS and POP3S, the login
//! methods, pipelined TOP over 400 messages in order, RETR bytes, the
//! deletion semantics checked by an independent session, certificate policy,
//! no password in the clear), then what is Cyrus's own here: the harness
//! itself and the worker end to end.

mod support;

use popview::pop3::transport::{self, TlsMode};
use popview::pop3::{AuthMethod, Credentials, ErrorKind};
use popview::worker::WorkerConfig;
use popview::worker::api::{CertTrust, Event, MsgKey, Request, TlsState};
use popview::worker::persist::Memory;
use support::cyrus::Cyrus;
use support::dovecot::generated_messages;
use support::protocol_suite::opts;
use support::worker::Harness;

protocol_suite!(Cyrus);

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
fn worker_open_previews_mark_two_commit() {
    let n = 40;
    let c = Cyrus::start(generated_messages(n));
    let before = c.expected_uidls(n);
    for mode in [TlsMode::StartTls, TlsMode::Implicit] {
        let c_uidls = c.uidls();
        let mut cfg = WorkerConfig::new(opts(&c, mode), c.user.clone());
        cfg.password = Some(c.password.clone().into());
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
