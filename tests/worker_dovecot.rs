//! The worker thread against a real, private Dovecot: event sequences over
//! verified POP3S, marks through undo/commit/discard, cuts (mid-listing,
//! mid-RETR, after marks) through the fault-injecting proxy, a killed UI and
//! a restart restoring marks from disk, the header cache, new mail, and a
//! marked message deleted by someone else. Every change to the mailbox is
//! checked by an independent POP3S session (`Dovecot::uidls`, retried if that session itself breaks), never by the
//! worker's own word.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use popview::pop3::TlsMode;
use popview::worker::api::{CertTrust, Event, MsgKey, Request, TlsState};
use popview::worker::persist::Memory;

use support::dovecot::{Dovecot, DovecotOptions, generated_messages};
use support::proxy::{CutRule, Proxy};
use support::worker::{
    Dirs, Harness, dovecot_config, other_client, proxied_config, server_uidls, uids_of,
};

const N: usize = 12;

fn dovecot(n: usize) -> (Dovecot, Vec<Vec<u8>>) {
    let msgs = generated_messages(n);
    let d = Dovecot::start(DovecotOptions::with_messages(msgs.clone()));
    (d, msgs)
}

fn mem() -> Box<Memory> {
    Box::new(Memory::default())
}

/// All UIDLs of the seeded mailbox except those at these (0-based) indexes.
fn all_but(n: usize, gone: &[usize]) -> Vec<String> {
    Dovecot::expected_uidls(n)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !gone.contains(i))
        .map(|(_, u)| u)
        .collect()
}

fn uid(i: usize) -> String {
    Dovecot::expected_uidl(i as u32 + 1)
}

fn position(seen: &[Event], what: &str, pred: impl Fn(&Event) -> bool) -> usize {
    seen.iter()
        .position(pred)
        .unwrap_or_else(|| panic!("no {what} in {seen:#?}"))
}

fn committed(seen: &[Event]) -> Vec<(usize, Vec<String>)> {
    seen.iter()
        .filter_map(|e| match e {
            Event::Committed {
                deleted,
                already_gone,
            } => Some((*deleted, already_gone.clone())),
            _ => None,
        })
        .collect()
}

/// Waits until the server has answered every command sent before: RETR of
/// an unmarked message is pipelined after them, so its `Message` arrives
/// only once they were answered.
fn sync_on_retrieve(h: &mut Harness, key: &MsgKey, ticket: u64) {
    h.send(Request::Retrieve {
        ticket,
        key: key.clone(),
    });
    h.wait(
        "message (sync)",
        |e| matches!(e, Event::Message { ticket: t, .. } if *t == ticket),
    );
}

#[test]
fn open_over_pop3s_lists_previews_and_retrieves_exact_bytes() {
    let (d, msgs) = dovecot(N);
    let mut h = Harness::start(dovecot_config(&d), mem());
    let keys = h.listing();
    h.previews_loaded();
    h.send(Request::Retrieve {
        ticket: 7,
        key: keys[4].clone(),
    });
    let ev = h.wait("message", |e| matches!(e, Event::Message { .. }));
    let Event::Message { ticket, key, view } = ev else {
        unreachable!()
    };
    assert_eq!((ticket, &key), (7, &keys[4]));
    assert_eq!(view.raw, msgs[4], "RETR bytes equal the seeded message");
    assert!(view.subject.ends_with("#5"), "{:?}", view.subject);
    let seen = h.quit(false);

    // The sequence: Connecting(1) < Connected < Listing < Previews < Progress done.
    assert!(matches!(
        seen.first(),
        Some(Event::Connecting { attempt: 1, server }) if *server == format!("localhost:{}", d.tls_port)
    ));
    let connected = position(&seen, "Connected", |e| matches!(e, Event::Connected(_)));
    let listing = position(&seen, "Listing", |e| matches!(e, Event::Listing { .. }));
    let first_preview = position(&seen, "Previews", |e| matches!(e, Event::Previews(_)));
    assert!(connected < listing && listing < first_preview);
    let Event::Connected(info) = &seen[connected] else {
        unreachable!()
    };
    match &info.tls {
        TlsState::Implicit(t) => {
            assert_eq!(t.trust, CertTrust::Verified);
            assert_eq!(t.fingerprint_sha256.len(), 64);
        }
        other => panic!("expected implicit TLS, got {other:?}"),
    }
    assert!(info.pipelining && info.has_top && info.has_uidl);
    let Event::Listing {
        entries,
        no_uidl_reason,
    } = &seen[listing]
    else {
        unreachable!()
    };
    assert_eq!(no_uidl_reason, &None);
    let listed: Vec<String> = entries.iter().map(|e| e.key.uid.clone().unwrap()).collect();
    assert_eq!(
        listed,
        Dovecot::expected_uidls(N),
        "Dovecot's UIDs, in order"
    );
    let numbers: Vec<u32> = entries.iter().map(|e| e.key.number).collect();
    assert_eq!(numbers, (1..=N as u32).collect::<Vec<_>>());
    // Every message got exactly one preview; progress reached n of n.
    let mut previewed: Vec<String> = seen
        .iter()
        .flat_map(|e| match e {
            Event::Previews(v) => v.iter().map(|(k, _)| k.uid.clone().unwrap()).collect(),
            _ => Vec::new(),
        })
        .collect();
    previewed.sort();
    assert_eq!(previewed, Dovecot::expected_uidls(N));
    assert!(seen.iter().any(|e| matches!(
        e,
        Event::Progress { done, total, .. } if *done == N && *total == N
    )));
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Error(_))),
        "{seen:#?}"
    );
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: false })
    ));
    assert_eq!(
        server_uidls(&d),
        Dovecot::expected_uidls(N),
        "nothing deleted"
    );
}

#[test]
fn mark_three_undo_the_middle_one_commit_deletes_exactly_two() {
    let (d, _) = dovecot(N);
    let mut h = Harness::start(dovecot_config(&d), mem());
    let keys = h.listing();
    for i in [2, 5, 8] {
        h.send(Request::Mark(keys[i].clone()));
    }
    h.marks_exactly(&[&uid(2), &uid(5), &uid(8)]);
    // Marked only: another session still sees all of them.
    sync_on_retrieve(&mut h, &keys[0], 1);
    assert_eq!(server_uidls(&d), Dovecot::expected_uidls(N));
    h.send(Request::Unmark(keys[5].clone()));
    h.marks_exactly(&[&uid(2), &uid(8)]);
    let seen = h.quit(true);
    assert_eq!(committed(&seen), vec![(2, vec![])]);
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: true })
    ));
    assert_eq!(server_uidls(&d), all_but(N, &[2, 8]));
}

#[test]
fn undo_all_then_commit_deletes_nothing() {
    let (d, _) = dovecot(N);
    let mut h = Harness::start(dovecot_config(&d), mem());
    let keys = h.listing();
    h.send(Request::Mark(keys[0].clone()));
    h.send(Request::Mark(keys[11].clone()));
    h.marks_exactly(&[&uid(0), &uid(11)]);
    h.send(Request::UnmarkAll);
    h.marks_exactly(&[]);
    let seen = h.quit(true);
    assert_eq!(committed(&seen), vec![(0, vec![])]);
    assert_eq!(server_uidls(&d), Dovecot::expected_uidls(N));
}

#[test]
fn discard_deletes_nothing_and_forgets_the_marks_on_disk() {
    let (d, _) = dovecot(N);
    let dirs = Dirs::new();
    let mut h = Harness::start(dovecot_config(&d), dirs.persist());
    let keys = h.listing();
    h.send(Request::Mark(keys[3].clone()));
    h.marks_exactly(&[&uid(3)]);
    assert_eq!(dirs.marks(), vec![uid(3)], "the mark is on disk at once");
    sync_on_retrieve(&mut h, &keys[0], 1);
    let seen = h.quit(false);
    assert!(committed(&seen).is_empty());
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: false })
    ));
    assert_eq!(server_uidls(&d), Dovecot::expected_uidls(N));
    assert!(
        dirs.marks().is_empty(),
        "discarded marks are gone from disk"
    );
}

#[test]
fn commit_now_deletes_and_a_fresh_session_lists_the_rest() {
    let (d, _) = dovecot(N);
    let dirs = Dirs::new();
    let mut h = Harness::start(dovecot_config(&d), dirs.persist());
    let keys = h.listing();
    h.send(Request::Mark(keys[1].clone()));
    h.marks_exactly(&[&uid(1)]);
    h.send(Request::CommitNow);
    let ev = h.wait("committed", |e| matches!(e, Event::Committed { .. }));
    assert_eq!(
        ev,
        Event::Committed {
            deleted: 1,
            already_gone: vec![]
        }
    );
    assert_eq!(server_uidls(&d), all_but(N, &[1]));
    let keys = h.listing();
    assert_eq!(uids_of(&keys), all_but(N, &[1]));
    assert!(dirs.marks().is_empty());
    let seen = h.quit(false);
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Error(_))),
        "{seen:#?}"
    );
    assert_eq!(server_uidls(&d), all_but(N, &[1]));
}

/// A cut inside LIST or UIDL (plaintext through the proxy, so the cut can
/// be placed by content): no listing from the broken session, a reconnect,
/// then the full listing; nothing changes on the server.
#[test]
fn a_cut_mid_list_or_mid_uidl_reconnects_and_lists_everything() {
    let (d, msgs) = dovecot(N);
    let size2 = support::dovecot::virtual_size(&msgs[1]);
    for needle in [
        // After the second LIST line.
        format!("\r\n2 {size2}\r\n"),
        // After the first UIDL line.
        format!("\r\n1 {}\r\n", uid(0)),
    ] {
        let proxy = Proxy::start(d.plain_addr());
        proxy.cut_on(CutRule::after_server_sends(&needle));
        let mut cfg = proxied_config(&d, &proxy, TlsMode::None);
        cfg.previews = false;
        let mut h = Harness::start(cfg, mem());
        let keys = h.listing();
        assert_eq!(proxy.rules_fired(), 1, "the cut happened ({needle:?})");
        assert!(
            h.seen
                .iter()
                .any(|e| matches!(e, Event::Reconnecting { .. })),
            "{:#?}",
            h.seen
        );
        let listings = h
            .seen
            .iter()
            .filter(|e| matches!(e, Event::Listing { .. }))
            .count();
        assert_eq!(listings, 1, "no listing from the cut session");
        assert_eq!(uids_of(&keys), Dovecot::expected_uidls(N));
        // The first connection really ended inside the listing.
        let first = String::from_utf8_lossy(&proxy.server_bytes(0)).into_owned();
        assert!(first.ends_with(&needle), "cut elsewhere: {first:?}");
        h.quit(false);
        assert_eq!(server_uidls(&d), Dovecot::expected_uidls(N));
    }
}

/// A cut in the middle of a big RETR: the UI never gets a partial message;
/// the worker reconnects and delivers the complete message for the same
/// ticket (a read is idempotent, and the user still wants it).
#[test]
fn a_cut_mid_retr_delivers_the_whole_message_after_reconnect() {
    let mut msgs = generated_messages(4);
    let mut big = b"From: Big <big@example.org>\r\nTo: alice@example.com\r\n\
                    Subject: big one\r\nMessage-ID: <big@pv.test>\r\n\r\n"
        .to_vec();
    while big.len() < 600_000 {
        big.extend_from_slice(
            b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n",
        );
    }
    msgs.push(big.clone());
    let d = Dovecot::start(DovecotOptions::with_messages(msgs));
    let proxy = Proxy::start(d.plain_addr());
    let mut h = Harness::start(proxied_config(&d, &proxy, TlsMode::None), mem());
    let keys = h.listing();
    h.previews_loaded();
    proxy.cut_on(CutRule::after_client_sends("RETR ", 200_000));
    h.send(Request::Retrieve {
        ticket: 42,
        key: keys[4].clone(),
    });
    let ev = h.wait("message", |e| matches!(e, Event::Message { .. }));
    let Event::Message { ticket, key, view } = ev else {
        unreachable!()
    };
    assert_eq!(proxy.rules_fired(), 1);
    assert_eq!((ticket, &key), (42, &keys[4]));
    assert_eq!(view.raw.len(), big.len());
    assert!(
        view.raw == big,
        "the delivered message is complete and exact"
    );
    let reconnecting = position(&h.seen, "Reconnecting", |e| {
        matches!(e, Event::Reconnecting { .. })
    });
    // Some of it had arrived before the cut (it was cut mid-RETR).
    assert!(h.seen[..reconnecting].iter().any(|e| matches!(
        e,
        Event::RetrieveProgress { ticket: 42, bytes, total } if *bytes > 0 && bytes < total
    )));
    let messages = h
        .seen
        .iter()
        .filter(|e| matches!(e, Event::Message { .. }))
        .count();
    assert_eq!(messages, 1);
    assert_eq!(proxy.count_client_lines("RETR "), 2, "asked again once");
    h.quit(false);
    assert_eq!(server_uidls(&d), Dovecot::expected_uidls(5));
}

/// Over STLS through the proxy: marks applied, then every connection cut
/// while the worker is idle (its keepalive NOOP finds out). The cut deletes
/// nothing; the worker reconnects, re-applies both marks,
/// and the commit deletes exactly them.
#[test]
fn a_cut_after_marks_reapplies_them_and_commit_deletes_exactly_them() {
    let (d, _) = dovecot(N);
    let proxy = Proxy::start(d.plain_addr());
    let mut cfg = proxied_config(&d, &proxy, TlsMode::StartTls);
    // The idle worker notices the cut at its next NOOP.
    cfg.keepalive = Duration::from_millis(300);
    let mut h = Harness::start(cfg, mem());
    let keys = h.listing();
    let Some(Event::Connected(info)) = h.seen.iter().find(|e| matches!(e, Event::Connected(_)))
    else {
        unreachable!()
    };
    assert!(
        matches!(&info.tls, TlsState::StartTls(t) if t.trust == CertTrust::Verified),
        "{:?}",
        info.tls
    );
    h.send(Request::Mark(keys[0].clone()));
    h.send(Request::Mark(keys[6].clone()));
    h.marks_exactly(&[&uid(0), &uid(6)]);
    sync_on_retrieve(&mut h, &keys[1], 1); // both DELEs answered
    proxy.cut_all();
    h.wait("reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    let ev = h.wait("reconnected", |e| matches!(e, Event::Reconnected { .. }));
    assert_eq!(ev, Event::Reconnected { marks_reapplied: 2 });
    assert_eq!(
        server_uidls(&d),
        Dovecot::expected_uidls(N),
        "the cut deleted nothing"
    );
    let seen = h.quit(true);
    assert_eq!(committed(&seen), vec![(2, vec![])]);
    assert!(proxy.connections() >= 2);
    assert_eq!(server_uidls(&d), all_but(N, &[0, 6]));
}

#[test]
fn a_killed_ui_deletes_nothing_and_a_restart_commits_exactly_the_marks() {
    let (d, _) = dovecot(N);
    let dirs = Dirs::new();
    let mut h = Harness::start(dovecot_config(&d), dirs.persist());
    let keys = h.listing();
    h.send(Request::Mark(keys[2].clone()));
    h.send(Request::Mark(keys[9].clone()));
    h.marks_exactly(&[&uid(2), &uid(9)]);
    sync_on_retrieve(&mut h, &keys[0], 1); // the DELEs are on the server
    let seen = h.crash();
    assert!(committed(&seen).is_empty());
    assert_eq!(
        server_uidls(&d),
        Dovecot::expected_uidls(N),
        "no QUIT, no deletion"
    );
    assert_eq!(dirs.marks(), vec![uid(2), uid(9)]);

    let mut h = Harness::start(dovecot_config(&d), dirs.persist());
    let ev = h.wait("restored marks", |e| {
        matches!(e, Event::Marks { restored: true, .. })
    });
    let Event::Marks { marked, .. } = ev else {
        unreachable!()
    };
    assert_eq!(uids_of(&marked), vec![uid(2), uid(9)]);
    // Restored before any connection: pending intent, nothing deleted yet.
    assert!(!h.seen.iter().any(|e| matches!(e, Event::Connected(_))));
    h.listing();
    let seen = h.quit(true);
    assert_eq!(committed(&seen), vec![(2, vec![])]);
    assert_eq!(server_uidls(&d), all_but(N, &[2, 9]));
    assert!(
        dirs.marks().is_empty(),
        "the marks file is empty after commit"
    );
}

/// Second open with the same on-disk state: previews come from the cache
/// and no TOP is sent (counted on the wire, plaintext through the proxy); a
/// message another session deleted meanwhile is pruned from the cache file.
#[test]
fn the_header_cache_saves_every_top_and_prunes_deleted_messages() {
    let (d, _) = dovecot(N);
    let dirs = Dirs::new();
    let proxy = Proxy::start(d.plain_addr());
    let cfg = proxied_config(&d, &proxy, TlsMode::None);
    let mut h = Harness::start(cfg.clone(), dirs.persist());
    h.listing();
    h.previews_loaded();
    h.quit(false);
    assert_eq!(proxy.count_client_lines("TOP "), N, "one TOP per message");
    assert_eq!(dirs.cached_uids(), Dovecot::expected_uidls(N));

    // Another client deletes message 4.
    let mut other = other_client(&d);
    other.ok("DELE 4");
    other.quit();
    assert_eq!(server_uidls(&d), all_but(N, &[3]));

    let mut h = Harness::start(cfg, dirs.persist());
    let keys = h.listing();
    assert_eq!(uids_of(&keys), all_but(N, &[3]));
    h.wait("progress 0 of 0", |e| {
        matches!(
            e,
            Event::Progress {
                done: 0,
                total: 0,
                ..
            }
        )
    });
    assert_eq!(h.count_session_previews(), N - 1, "all from the cache");
    h.quit(false);
    assert_eq!(
        proxy.count_client_lines("TOP "),
        N,
        "no TOP on the second open"
    );
    assert_eq!(proxy.count_client_lines("RETR "), 0);
    assert_eq!(
        dirs.cached_uids(),
        all_but(N, &[3]),
        "the gone one is pruned"
    );
}

#[test]
fn new_mail_gives_a_new_listing_and_keeps_the_marks() {
    let (d, _) = dovecot(N);
    let mut h = Harness::start(dovecot_config(&d), mem());
    let keys = h.listing();
    h.send(Request::Mark(keys[0].clone()));
    h.send(Request::Mark(keys[5].clone()));
    h.marks_exactly(&[&uid(0), &uid(5)]);
    let extra = generated_messages(N + 3).split_off(N);
    d.add_messages(&extra);
    h.send(Request::CheckNewMail);
    let keys = h.listing();
    assert_eq!(uids_of(&keys), Dovecot::expected_uidls(N + 3));
    // The new session announces the marks it applied again (a new-mail
    // check is not a lost connection: no `Reconnected`).
    let Event::Marks { marked, .. } =
        h.wait("the marks re-applied", |e| matches!(e, Event::Marks { .. }))
    else {
        unreachable!()
    };
    assert_eq!(uids_of(&marked), vec![uid(0), uid(5)]);
    assert!(
        !h.seen
            .iter()
            .any(|e| matches!(e, Event::Reconnected { .. }))
    );
    // The new messages are readable: exact bytes of the first new one.
    h.send(Request::Retrieve {
        ticket: 3,
        key: keys[N].clone(),
    });
    let Event::Message { view, .. } = h.wait("message", |e| matches!(e, Event::Message { .. }))
    else {
        unreachable!()
    };
    assert_eq!(view.raw, extra[0]);
    let seen = h.quit(true);
    assert_eq!(committed(&seen), vec![(2, vec![])]);
    assert_eq!(server_uidls(&d), all_but(N + 3, &[0, 5]));
}

/// Another client deletes a marked message before the commit, and the
/// worker learns it at its next listing (new-mail check): the commit names
/// it in `already_gone`, deletes the other, and reports no error.
#[test]
fn a_marked_message_deleted_elsewhere_is_reported_already_gone() {
    let (d, _) = dovecot(N);
    let mut h = Harness::start(dovecot_config(&d), mem());
    let keys = h.listing();
    h.send(Request::Mark(keys[1].clone()));
    h.send(Request::Mark(keys[7].clone()));
    h.marks_exactly(&[&uid(1), &uid(7)]);
    let mut other = other_client(&d);
    other.ok("DELE 2");
    other.quit();
    h.send(Request::CheckNewMail);
    let keys = h.listing();
    assert_eq!(uids_of(&keys), all_but(N, &[1]));
    let seen = h.quit(true);
    assert_eq!(committed(&seen), vec![(1, vec![uid(1)])]);
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Error(_))),
        "{seen:#?}"
    );
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: true })
    ));
    assert_eq!(server_uidls(&d), all_but(N, &[1, 7]));
}

/// The same, but the other client deletes it while the worker's session is
/// open (POP3 shows a session a fixed snapshot, so the worker can't know):
/// the commit must still succeed without an error and leave exactly the
/// unmarked messages.
#[test]
fn a_marked_message_deleted_elsewhere_during_the_session_commits_cleanly() {
    let (d, _) = dovecot(N);
    let mut h = Harness::start(dovecot_config(&d), mem());
    let keys = h.listing();
    h.send(Request::Mark(keys[1].clone()));
    h.send(Request::Mark(keys[7].clone()));
    h.marks_exactly(&[&uid(1), &uid(7)]);
    sync_on_retrieve(&mut h, &keys[0], 1);
    let mut other = other_client(&d);
    other.ok("DELE 2");
    other.quit();
    let seen = h.quit(true);
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Error(_))),
        "{seen:#?}"
    );
    assert_eq!(committed(&seen).len(), 1, "{seen:#?}");
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: true })
    ));
    assert_eq!(server_uidls(&d), all_but(N, &[1, 7]));
    let left: BTreeSet<String> = server_uidls(&d).into_iter().collect();
    assert_eq!(left.len(), N - 2);
}

/// The server closes a session that is idle (a restart, an admin's kick):
/// the worker notices within seconds, long before its next NOOP, and
/// reconnects on its own, re-applying the marks the server dropped with the
/// session. The proxy's record shows no NOOP was needed to find out.
#[test]
fn a_server_closing_an_idle_session_is_noticed_and_the_marks_reapplied() {
    let (d, _) = dovecot(N);
    let proxy = Proxy::start(d.plain_addr());
    let mut cfg = proxied_config(&d, &proxy, TlsMode::None);
    cfg.keepalive = Duration::from_secs(600);
    let mut h = Harness::start(cfg, mem());
    let keys = h.listing();
    h.previews_loaded();
    h.send(Request::Mark(keys[2].clone()));
    h.send(Request::Mark(keys[5].clone()));
    h.marks_exactly(&[&uid(2), &uid(5)]);
    sync_on_retrieve(&mut h, &keys[0], 1);
    proxy.cut_all();
    let ev = h.wait("reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    let Event::Reconnecting { reason, .. } = ev else {
        unreachable!()
    };
    assert!(reason.contains("closed the idle connection"), "{reason}");
    let ev = h.wait("reconnected", |e| matches!(e, Event::Reconnected { .. }));
    assert_eq!(ev, Event::Reconnected { marks_reapplied: 2 });
    let first = String::from_utf8_lossy(&proxy.client_bytes(0)).into_owned();
    assert!(!first.contains("NOOP"), "found out by NOOP:\n{first}");
    let seen = h.quit(true);
    assert_eq!(committed(&seen), vec![(2, vec![])]);
    assert_eq!(server_uidls(&d), all_but(N, &[2, 5]));
}

/// The idle check must not mistake TLS housekeeping (TLS 1.3 session
/// tickets and the like) for the server ending the session: idle sessions
/// over POP3S and STLS stay up across several checks, and still serve.
#[test]
fn idle_tls_sessions_are_left_alone() {
    let (d, msgs) = dovecot(N);
    for cfg in [dovecot_config(&d), {
        let mut c = dovecot_config(&d);
        c.connect.port = d.plain_port;
        c.connect.tls = TlsMode::StartTls;
        c
    }] {
        let mut cfg = cfg;
        cfg.keepalive = Duration::from_secs(600);
        let mut h = Harness::start(cfg, mem());
        let keys = h.listing();
        h.previews_loaded();
        let quiet = h.idle(Duration::from_millis(5_500));
        assert!(
            !quiet.iter().any(|e| matches!(
                e,
                Event::Reconnecting { .. } | Event::Error(_) | Event::Listing { .. }
            )),
            "an idle session was disturbed: {quiet:#?}"
        );
        h.send(Request::Retrieve {
            ticket: 9,
            key: keys[3].clone(),
        });
        let ev = h.wait("message", |e| matches!(e, Event::Message { ticket: 9, .. }));
        let Event::Message { view, .. } = ev else {
            unreachable!()
        };
        assert_eq!(view.raw, msgs[3]);
        h.quit(false);
    }
}

/// "Delete and quit": Dovecot processes QUIT (the messages are gone) but
/// the connection is cut before its `+OK` arrives. The worker can't know,
/// so it reconnects and commits again: the new listing shows both marks
/// gone, they are named as already gone, the commit is confirmed, and
/// nothing else is touched.
#[test]
fn a_quit_whose_answer_is_lost_is_confirmed_on_a_new_session() {
    let (d, _) = dovecot(N);
    let proxy = Proxy::start(d.plain_addr());
    let cfg = proxied_config(&d, &proxy, TlsMode::None);
    let mut h = Harness::start(cfg, mem());
    let keys = h.listing();
    h.send(Request::Mark(keys[4].clone()));
    h.send(Request::Mark(keys[9].clone()));
    h.marks_exactly(&[&uid(4), &uid(9)]);
    // One byte of the answer to QUIT gets through: Dovecot has answered,
    // so it has expunged; the client sees "+" and then the cut.
    proxy.cut_on(CutRule::after_client_sends("QUIT", 1));
    let seen = h.quit(true);
    assert_eq!(proxy.rules_fired(), 1, "the cut did not fire");
    let mut gone = vec![uid(4), uid(9)];
    gone.sort();
    let got: Vec<(usize, Vec<String>)> = committed(&seen)
        .into_iter()
        .map(|(n, mut g)| {
            g.sort();
            (n, g)
        })
        .collect();
    assert_eq!(got, vec![(0, gone)], "{seen:#?}");
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: true })
    ));
    assert!(proxy.connections() >= 2);
    assert_eq!(server_uidls(&d), all_but(N, &[4, 9]));
}

/// A message with this Message-ID tag (same length tags: same size).
fn tagged(i: usize, tag: &str) -> Vec<u8> {
    format!(
        "From: Sender {i} <s{i}@example.org>\r\nTo: alice@example.org\r\n\
         Subject: message {i}\r\nMessage-ID: <{tag}@example.org>\r\n\r\nBody {i}\r\n"
    )
    .into_bytes()
}

/// A real server reusing UIDs across a restart: the marks left on disk by
/// a killed session meet another Dovecot whose messages 2 and 3 carry the
/// same UIDLs (same UIDVALIDITY, same UIDs) but are other messages: 2 with
/// the same size and another Message-ID, 3 with another size. Both marks
/// are dropped with a reason, no DELE reaches the server, nothing is
/// deleted; the mark on the unchanged message 1 is applied and committed.
#[test]
fn restored_marks_meet_a_dovecot_that_reused_the_uids() {
    let first = vec![tagged(1, "one-1"), tagged(2, "two-2"), tagged(3, "thr-3")];
    let dirs = Dirs::new();
    {
        let d = Dovecot::start(DovecotOptions::with_messages(first));
        let mut h = Harness::start(dovecot_config(&d), dirs.persist());
        let keys = h.listing();
        h.previews_loaded();
        for k in &keys {
            h.send(Request::Mark(k.clone()));
        }
        h.marks(3);
        // The UI dies: the marks stay on disk, nothing is deleted.
        h.crash();
        assert_eq!(d.uidls().len(), 3);
    }
    let mut other_three = tagged(3, "thr-3");
    other_three.extend_from_slice(b"and a longer body\r\n");
    let second = vec![tagged(1, "one-1"), tagged(2, "two-9"), other_three];
    assert_eq!(second[1].len(), tagged(2, "two-2").len());
    let d = Dovecot::start(DovecotOptions::with_messages(second));
    let before = d.uidls();
    assert_eq!(
        before,
        Dovecot::expected_uidls(3),
        "the same UIDLs as before"
    );
    let mut h = Harness::start(dovecot_config(&d), dirs.persist());
    h.listing();
    h.marks_exactly(&[&before[0]]);
    let dropped: Vec<String> = h
        .seen
        .iter()
        .filter_map(|e| match e {
            Event::MarkDropped(m) => Some(m.describe()),
            _ => None,
        })
        .collect();
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(
        dropped.iter().any(|t| t.contains("Message-ID")),
        "{dropped:?}"
    );
    assert!(dropped.iter().any(|t| t.contains("bytes")), "{dropped:?}");
    assert_eq!(dirs.marks(), vec![before[0].clone()]);
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 1, .. }))
    );
    assert_eq!(
        d.uidls(),
        before[1..].to_vec(),
        "only message 1 was deleted"
    );
}
