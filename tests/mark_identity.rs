//! A mark names one message, and only that one: the worker against the
//! in-process server playing a server that reuses UIDs (another size, or
//! the same size and another Message-ID), a header cache whose entry no
//! longer fits, marks restored from a version 1 file, and a server without
//! UIDL where a key from an older listing must never act on the new one.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use popview::demo::{Action, Mailbox, Server, ServerOptions};
use popview::mail::HeaderSummary;
use popview::store::{CachedHeader, SavedMark};
use popview::worker::WorkerConfig;
use popview::worker::api::{Event, MsgKey, Request};
use support::worker::{Harness, uids_of};

type Mem = popview::worker::persist::Memory;

fn config(server: &Server) -> WorkerConfig {
    support::worker::demo_config(server.addr().port())
}

/// A message whose Message-ID and subject are `tag` (same length tags give
/// the same size).
fn msg(tag: &str) -> Vec<u8> {
    format!(
        "From: Sender <s@example.org>\r\nTo: a@example.org\r\nSubject: subject {tag}\r\n\
         Message-ID: <{tag}@example.org>\r\n\r\nbody of {tag}\r\n"
    )
    .into_bytes()
}

/// From the second connection on, `UIDL` answers with these UIDs in
/// message order (the server gave message n another's UID).
fn reusing_uids(uidl_later: &[&str]) -> ServerOptions {
    let mut body = String::from("+OK\r\n");
    for (i, u) in uidl_later.iter().enumerate() {
        body.push_str(&format!("{} {u}\r\n", i + 1));
    }
    body.push_str(".\r\n");
    let body = body.into_bytes();
    ServerOptions {
        hook: Some(Arc::new(move |ctx| {
            if ctx.conn >= 1 && ctx.line == "UIDL" {
                Action::Reply(body.clone())
            } else {
                Action::Normal
            }
        })),
        ..ServerOptions::default()
    }
}

fn dropped(seen: &[Event]) -> Vec<(String, String)> {
    seen.iter()
        .filter_map(|e| match e {
            Event::MarkDropped(d) => Some((d.key.uid.clone().unwrap_or_default(), d.describe())),
            _ => None,
        })
        .collect()
}

/// `r` (a new session) finds UID "ua" listed with another size: the
/// server gave it to another message. The mark is dropped, said so, never
/// sent as DELE, and nothing is deleted at commit.
#[test]
fn a_uid_reused_with_another_size_is_never_deleted() {
    let pairs = vec![
        ("ua".to_string(), msg("a")),
        ("ub".to_string(), msg("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")),
    ];
    let server = Server::start(Mailbox::from_pairs(pairs), reusing_uids(&["ub", "ua"])).unwrap();
    let persist = Mem::default();
    let mut h = Harness::start(config(&server), Box::new(persist.clone()));
    let keys = h.listing();
    h.previews_loaded();
    h.send(Request::Mark(keys[0].clone()));
    h.marks_exactly(&["ua"]);
    assert_eq!(persist.state().marks[0].size, Some(msg("a").len() as u64));
    h.send(Request::CheckNewMail);
    h.listing();
    let ev = h.wait("the dropped mark", |e| matches!(e, Event::MarkDropped(_)));
    let Event::MarkDropped(d) = ev else {
        unreachable!()
    };
    assert_eq!(d.key.uid.as_deref(), Some("ua"));
    assert_eq!(
        d.subject, "subject a",
        "the mark remembers which message it was"
    );
    let text = d.describe();
    assert!(
        text.contains("ua") && text.contains("bytes") && text.contains("subject a"),
        "{text}"
    );
    h.marks(0);
    assert!(persist.state().marks.is_empty(), "dropped from disk too");
    let seen = h.quit(true);
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::Committed { deleted: 1.., .. }))
    );
    assert!(
        !server.lines(1).iter().any(|l| l.starts_with("DELE")),
        "{:?}",
        server.lines(1)
    );
    assert_eq!(server.mailbox_uids(), ["ua", "ub"], "nothing deleted");
}

/// Same size, another Message-ID: the worker checks each marked message
/// that knows its Message-ID with a fresh `TOP n 0` before DELE in the new
/// session. The swapped pair is dropped; the unchanged mark is applied and
/// committed: exactly that message is deleted.
#[test]
fn a_uid_reused_with_the_same_size_is_caught_by_its_message_id() {
    let pairs = vec![
        ("ua".to_string(), msg("aaaa")),
        ("ub".to_string(), msg("bbbb")),
        ("uc".to_string(), msg("cccc")),
    ];
    assert_eq!(pairs[0].1.len(), pairs[1].1.len());
    let server = Server::start(
        Mailbox::from_pairs(pairs),
        reusing_uids(&["ub", "ua", "uc"]),
    )
    .unwrap();
    let persist = Mem::default();
    let mut h = Harness::start(config(&server), Box::new(persist.clone()));
    let keys = h.listing();
    h.previews_loaded();
    for k in &keys {
        h.send(Request::Mark(k.clone()));
    }
    h.marks(3);
    let saved = persist.state().marks;
    assert!(
        saved
            .iter()
            .all(|m| m.message_id.as_deref()
                == Some(&format!("{}@example.org", m.uid[1..].repeat(4)))),
        "the marks know their Message-IDs: {saved:?}"
    );
    h.send(Request::CheckNewMail);
    h.listing();
    h.marks_exactly(&["uc"]);
    let d = dropped(&h.seen);
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d.iter().all(|(_, t)| t.contains("Message-ID")), "{d:?}");
    // The session `r` opened: the last connection (with a maildrop locked
    // per session, `r` tries a login beside the old one first).
    let conn1 = server.lines(server.connections() - 1);
    assert!(
        conn1.iter().any(|l| l == "TOP 3 0"),
        "checked afresh: {conn1:?}"
    );
    assert_eq!(
        conn1
            .iter()
            .filter(|l| l.starts_with("DELE"))
            .collect::<Vec<_>>(),
        ["DELE 3"],
        "only the confirmed mark is applied"
    );
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 1, .. }))
    );
    assert_eq!(server.mailbox_uids(), ["ua", "ub"]);
}

/// The next start: marks restored from disk go through the same checks.
/// A mark whose size no longer fits is dropped before any DELE.
#[test]
fn restored_marks_are_checked_before_they_are_applied() {
    let server = Server::start(Mailbox::generated(3), ServerOptions::default()).unwrap();
    let uids = server.mailbox_uids();
    let sizes: Vec<u64> = server
        .messages()
        .iter()
        .map(|(_, b)| b.len() as u64)
        .collect();
    let persist = Mem::default();
    persist.set_marks(vec![
        SavedMark {
            uid: uids[0].clone(),
            size: Some(sizes[0] + 7),
            from: "old@example.org".into(),
            subject: "the message I marked".into(),
            ..SavedMark::default()
        },
        SavedMark {
            uid: uids[1].clone(),
            size: Some(sizes[1]),
            ..SavedMark::default()
        },
    ]);
    let mut h = Harness::start(config(&server), Box::new(persist.clone()));
    h.listing();
    h.marks_exactly(&[&uids[1]]);
    let d = dropped(&h.seen);
    assert_eq!(d.len(), 1);
    assert!(d[0].1.contains("the message I marked"), "{d:?}");
    assert_eq!(persist.state().marked_uids(), vec![uids[1].clone()]);
    let conn0 = server.lines(0);
    assert!(!conn0.iter().any(|l| l == "DELE 1"), "{conn0:?}");
    assert!(conn0.iter().any(|l| l == "DELE 2"), "{conn0:?}");
    h.quit(false);
}

/// A version 1 marks file (UIDs only): restored, matched by UID alone this
/// once and said so; the size found is kept, so a later reuse is caught.
#[test]
fn version_one_marks_are_restored_flagged_and_then_protected() {
    let server = Server::start(Mailbox::generated(2), ServerOptions::default()).unwrap();
    let uids = server.mailbox_uids();
    let persist = Mem::default();
    persist.set_marks(vec![SavedMark::uid_only(uids[1].clone())]);
    let mut h = Harness::start(config(&server), Box::new(persist.clone()));
    h.listing();
    h.wait(
        "the UID-only notice",
        |e| matches!(e, Event::Notice(n) if n.contains("matched by unique id alone")),
    );
    h.marks_exactly(&[&uids[1]]);
    let saved = persist.state().marks;
    assert_eq!(saved[0].size, Some(server.messages()[1].1.len() as u64));
    h.quit(false);
}

/// A cached preview is kept with the size it was fetched for: an entry
/// whose size doesn't match the listing is another message's, so it is
/// fetched again, never shown; an entry that fits is used without TOP.
#[test]
fn a_cached_preview_of_another_size_is_fetched_again() {
    let server = Server::start(Mailbox::generated(3), ServerOptions::default()).unwrap();
    let uids = server.mailbox_uids();
    let sizes: Vec<u64> = server
        .messages()
        .iter()
        .map(|(_, b)| b.len() as u64)
        .collect();
    let planted = |subject: &str, size| CachedHeader {
        size,
        summary: HeaderSummary {
            subject: subject.into(),
            ..HeaderSummary::default()
        },
    };
    let persist = Mem::default();
    persist.0.lock().unwrap().headers = HashMap::from([
        (uids[0].clone(), planted("WRONG MESSAGE", sizes[0] + 1)),
        (uids[1].clone(), planted("from the cache", sizes[1])),
    ]);
    let mut h = Harness::start(config(&server), Box::new(persist.clone()));
    let keys = h.listing();
    h.previews_loaded();
    let mut shown: HashMap<MsgKey, String> = HashMap::new();
    for e in &h.seen {
        if let Event::Previews(batch) = e {
            for (k, s) in batch {
                shown.insert(k.clone(), s.subject.clone());
            }
        }
    }
    assert!(!shown.values().any(|s| s == "WRONG MESSAGE"), "{shown:?}");
    assert_eq!(shown[&keys[1]], "from the cache");
    let mut tops: Vec<String> = server
        .lines(0)
        .into_iter()
        .filter(|l| l.starts_with("TOP"))
        .collect();
    // (Newest first: the order is the fill's, not this test's point.)
    tops.sort();
    assert_eq!(tops, ["TOP 1 0", "TOP 3 0"]);
    h.quit(false);
    let cache = persist.state().headers;
    assert_eq!(cache[&uids[0]].size, sizes[0]);
    assert_ne!(cache[&uids[0]].summary.subject, "WRONG MESSAGE");
}

/// Without UIDL a key is a number valid in one listing. After `r` (a new
/// login, a new listing), a mark, an undo and a commit made from the older
/// listing are refused with words, never applied by number; a mark made on
/// the new listing works and is the only thing deleted.
#[test]
fn without_uidl_writes_from_an_older_listing_are_refused() {
    let opts = ServerOptions {
        uidl: false,
        ..ServerOptions::default()
    };
    let server = Server::start(Mailbox::generated(4), opts).unwrap();
    let before = server.mailbox_uids();
    let mut h = Harness::start(config(&server), Box::new(Mem::default()));
    let old = h.listing();
    assert!(old.iter().all(|k| k.uid.is_none()));
    h.send(Request::Mark(old[0].clone()));
    h.marks(1);
    h.send(Request::CheckNewMail);
    let new = h.listing();
    assert_ne!(new[0], old[0], "the new listing's keys are new keys");
    h.wait(
        "number marks dropped",
        |e| matches!(e, Event::Notice(n) if n.contains("without a unique id were dropped")),
    );
    h.send(Request::Mark(old[1].clone()));
    h.wait("the old mark refused", |e| {
        matches!(e, Event::MarkRefused { key, reason } if *key == old[1] && reason.contains("older list"))
    });
    h.send(Request::Unmark(old[0].clone()));
    h.wait("the old undo refused", |e| {
        matches!(e, Event::MarkRefused { key, reason } if *key == old[0] && reason.contains("older list"))
    });
    h.send(Request::CommitNow);
    h.wait("the commit refused", |e| {
        matches!(e, Event::Error(w) if w.message.contains("older list") && w.message.contains("nothing was deleted"))
    });
    assert!(
        !server
            .lines(1)
            .iter()
            .any(|l| l.starts_with("DELE") || l == "QUIT"),
        "{:?}",
        server.lines(1)
    );
    // On the new listing, marking works again.
    h.send(Request::Mark(new[3].clone()));
    let marked = h.marks(1);
    assert_eq!(marked, vec![new[3].clone()]);
    assert_eq!(uids_of(&marked), Vec::<String>::new());
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 1, .. }))
    );
    assert_eq!(server.mailbox_uids(), before[..3].to_vec());
}

/// `r`, then marks pressed before the UI showed the new list: the UI's
/// keys are the old list's. Each is refused with words (nothing marked, no
/// DELE): `ua` now names another message of the same size, which no size
/// check could tell, and even unchanged `ub` can't be told apart from such
/// a reuse. Once the UI has taken in the new list, its keys count as usual.
#[test]
fn a_mark_from_the_list_before_a_relogin_never_lands_on_a_reused_uid() {
    let pairs = vec![
        ("ua".to_string(), msg("aaaa")),
        ("ub".to_string(), msg("bbbb")),
    ];
    let server = Server::start(Mailbox::from_pairs(pairs), ServerOptions::default()).unwrap();
    let mut h = Harness::start(config(&server), Box::new(Mem::default()));
    let old = h.listing();
    h.send(Request::ListingSeen);
    h.previews_loaded();
    // Another message takes `ua`'s UID, with the same size.
    server.reuse_uid("ua", msg("zzzz"));
    h.send(Request::CheckNewMail);
    let new = h.listing();
    // The UI has not shown the new list yet: these keys are the old list's.
    for uid in ["ua", "ub"] {
        let k = old.iter().find(|k| k.uid.as_deref() == Some(uid)).unwrap();
        h.send(Request::Mark(k.clone()));
        let refused = h.wait("the refusal", |e| matches!(e, Event::MarkRefused { .. }));
        let Event::MarkRefused { key, reason } = refused else {
            unreachable!()
        };
        assert_eq!(key.uid.as_deref(), Some(uid));
        assert!(reason.contains("out of date"), "{reason}");
    }
    // Now the UI shows the new list: `ua` there is the new message.
    h.send(Request::ListingSeen);
    for uid in ["ua", "ub"] {
        let k = new.iter().find(|k| k.uid.as_deref() == Some(uid)).unwrap();
        h.send(Request::Mark(k.clone()));
    }
    h.marks_exactly(&["ua", "ub"]);
    let new_ua = new.iter().find(|k| k.uid.as_deref() == Some("ua")).unwrap();
    // One DELE per accepted mark reaches the server (the marks event comes
    // first, the DELE on its way), and none other.
    let last = server.connections() - 1;
    let deles = || -> Vec<String> {
        server
            .log()
            .into_iter()
            .filter(|l| l.conn == last && l.line.starts_with("DELE"))
            .map(|l| l.line)
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while deles().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut got = deles();
    got.sort();
    let mut want: Vec<String> = [
        new_ua,
        new.iter().find(|k| k.uid.as_deref() == Some("ub")).unwrap(),
    ]
    .iter()
    .map(|k| format!("DELE {}", k.number))
    .collect();
    want.sort();
    assert_eq!(
        got, want,
        "one DELE per accepted mark, on the messages of the new list"
    );
    h.quit(false);
}
