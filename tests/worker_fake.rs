//! The worker against the in-process POP3 server: event sequences, marks
//! through undo/commit/discard, cuts and reconnects, restart restoring
//! marks, the header cache, degraded servers.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use popview::demo::{Action, Mailbox, Server, ServerOptions};
use popview::pop3::ErrorKind;
use popview::store::SavedMark;
use popview::worker::WorkerConfig;
use popview::worker::api::{Event, Request, TlsState};
use support::worker::FirstTopGate;
use support::worker::{Harness, uids_of};

type Mem = popview::worker::persist::Memory;

/// The shared worker harness, with this file's in-memory persistence.
fn start(cfg: WorkerConfig, persist: Mem) -> Harness {
    Harness::start(cfg, Box::new(persist))
}

fn config(server: &Server) -> WorkerConfig {
    config_for_port(server.addr().port())
}

fn config_for_port(port: u16) -> WorkerConfig {
    support::worker::demo_config(port)
}

fn tops(server: &Server, conn: Option<usize>) -> usize {
    server
        .log()
        .iter()
        .filter(|l| conn.is_none_or(|c| l.conn == c) && l.line.starts_with("TOP "))
        .count()
}

fn uids(mailbox_len: usize, server: &Server) -> Vec<String> {
    let all = server.mailbox_uids();
    assert_eq!(all.len(), mailbox_len);
    all
}

/// A server that drops the connection, unanswered and deleting nothing,
/// at the first `times` QUITs; the count of drops so far.
fn dropping_quits(times: usize) -> (ServerOptions, Arc<Mutex<usize>>) {
    let dropped = Arc::new(Mutex::new(0));
    let count = Arc::clone(&dropped);
    let opts = ServerOptions {
        hook: Some(Arc::new(move |ctx| {
            let mut n = count.lock().unwrap();
            if *n < times && ctx.line == "QUIT" {
                *n += 1;
                Action::Drop
            } else {
                Action::Normal
            }
        })),
        ..ServerOptions::default()
    };
    (opts, dropped)
}

#[test]
fn open_lists_and_streams_every_preview() {
    let server = Server::start(Mailbox::generated(60), ServerOptions::default()).unwrap();
    let mut h = start(config(&server), Mem::default());
    let connected = h.wait("connected", |e| matches!(e, Event::Connected(_)));
    let Event::Connected(info) = connected else {
        unreachable!()
    };
    assert_eq!(info.tls, TlsState::None);
    assert!(info.pipelining && info.has_top && info.has_uidl);
    let keys = h.listing();
    assert_eq!(keys.len(), 60);
    assert!(keys.iter().all(|k| k.uid.is_some()));
    h.previews_loaded();
    assert_eq!(h.count_previews(), 60);
    assert_eq!(tops(&server, None), 60);
    let seen = h.quit(false);
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: false })
    ));
    assert_eq!(server.mailbox_uids().len(), 60);
}

/// A newer `Retrieve` that arrives while an older one is still queued in the
/// worker replaces it: only the newer ticket is sent as `RETR` and answered.
#[test]
fn retrieve_returns_the_parsed_message_and_stale_tickets_are_superseded() {
    // The server holds the first preview (`TOP`) until released, so the
    // worker sits waiting for that answer while both retrieves queue up:
    // when it next takes its requests, the older one is still unsent.
    let gate = FirstTopGate::default();
    let opts = gate.options();
    let mailbox = Mailbox::generated(5);
    let raw3 = mailbox.messages()[2].1.clone();
    let server = Server::start(mailbox, opts).unwrap();
    let mut h = start(config(&server), Mem::default());
    let keys = h.listing();
    gate.wait_entered();
    h.send(Request::Retrieve {
        ticket: 1,
        key: keys[0].clone(),
    });
    h.send(Request::Retrieve {
        ticket: 2,
        key: keys[2].clone(),
    });
    gate.release();
    let ev = h.wait("message", |e| matches!(e, Event::Message { .. }));
    let Event::Message { ticket, key, view } = ev else {
        unreachable!()
    };
    assert_eq!((ticket, key), (2, keys[2].clone()));
    assert_eq!(view.raw, popview::demo::server::normalize_crlf(&raw3));
    let seen = h.quit(false);
    // The older ticket was never answered, nor even asked of the server.
    assert!(
        !seen.iter().any(|e| matches!(
            e,
            Event::Message { ticket: 1, .. }
                | Event::ReadFailed { ticket: 1, .. }
                | Event::RetrieveProgress { ticket: 1, .. }
        )),
        "ticket 1 was answered: {}",
        support::worker::summary(&seen)
    );
    let retrs: Vec<String> = server
        .log()
        .into_iter()
        .map(|l| l.line)
        .filter(|l| l.starts_with("RETR "))
        .collect();
    assert_eq!(retrs, vec!["RETR 3".to_string()]);
}

#[test]
fn mark_undo_one_and_commit_deletes_exactly_the_rest() {
    let server = Server::start(Mailbox::generated(6), ServerOptions::default()).unwrap();
    let before = uids(6, &server);
    let mut h = start(config(&server), Mem::default());
    let keys = h.listing();
    for k in &keys[0..3] {
        h.send(Request::Mark(k.clone()));
    }
    h.marks(3);
    h.send(Request::Unmark(keys[1].clone()));
    let left = h.marks(2);
    assert_eq!(left, vec![keys[0].clone(), keys[2].clone()]);
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 2, .. }))
    );
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: true })
    ));
    let want: Vec<String> = before
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 0 && *i != 2)
        .map(|(_, u)| u.clone())
        .collect();
    assert_eq!(server.mailbox_uids(), want);
    // Per-message undo is RSET followed by DELE of the remaining marks.
    let lines: Vec<String> = server.log().into_iter().map(|l| l.line).collect();
    let rset = lines.iter().position(|l| l == "RSET").expect("RSET sent");
    assert!(lines[rset + 1..].iter().any(|l| l == "DELE 1"));
    assert!(lines[rset + 1..].iter().any(|l| l == "DELE 3"));
    assert!(!lines[rset + 1..].iter().any(|l| l == "DELE 2"));
}

/// Every `Mark`, `Unmark` and `UnmarkAll` is counted as settled in the
/// `Marks` reports, in order, even one that changes nothing (a second mark,
/// an undo of an unmarked message, a mark the worker refuses), so the UI
/// never waits on a write forever; the count never goes back.
#[test]
fn every_mark_write_is_counted_as_settled_in_order() {
    let server = Server::start(Mailbox::generated(6), ServerOptions::default()).unwrap();
    let mut h = start(config(&server), Mem::default());
    let keys = h.listing();
    let mut gone = keys[5].clone();
    gone.number = 99;
    gone.uid = Some("no-such-uid".into());
    h.send(Request::Mark(keys[0].clone()));
    h.send(Request::Mark(keys[0].clone()));
    h.send(Request::Unmark(keys[3].clone()));
    h.send(Request::Mark(gone));
    h.send(Request::UnmarkAll);
    h.send(Request::Mark(keys[1].clone()));
    let ev = h.wait("six writes settled", |e| {
        matches!(e, Event::Marks { settled: 6, .. })
    });
    let Event::Marks { marked, .. } = ev else {
        unreachable!()
    };
    assert_eq!(marked, vec![keys[1].clone()]);
    assert!(
        h.seen
            .iter()
            .any(|e| matches!(e, Event::MarkRefused { .. })),
        "the mark on a missing message was not refused"
    );
    let counts: Vec<u64> = h
        .seen
        .iter()
        .filter_map(|e| match e {
            Event::Marks { settled, .. } => Some(*settled),
            _ => None,
        })
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    h.quit(false);
}

/// "Delete and quit" (or "commit now"), and the connection drops as QUIT
/// goes out (the server never processed it): the worker reconnects, marks
/// again and commits on the new session, so the user's choice is carried
/// out.
#[test]
fn a_quit_lost_on_the_way_is_committed_on_a_new_session() {
    for commit_now in [false, true] {
        let (opts, dropped) = dropping_quits(1);
        let server = Server::start(Mailbox::generated(5), opts).unwrap();
        let before = uids(5, &server);
        let persist = Mem::default();
        let mut h = start(config(&server), persist.clone());
        let keys = h.listing();
        h.send(Request::Mark(keys[1].clone()));
        h.send(Request::Mark(keys[3].clone()));
        h.marks(2);
        let seen = if commit_now {
            h.send(Request::CommitNow);
            h.wait("committed", |e| matches!(e, Event::Committed { .. }));
            h.quit(false)
        } else {
            h.quit(true)
        };
        assert_eq!(
            *dropped.lock().unwrap(),
            1,
            "the first QUIT was not dropped"
        );
        assert!(
            seen.iter().any(|e| matches!(e, Event::Reconnecting { .. })),
            "{seen:#?}"
        );
        assert!(
            seen.iter().any(
                |e| matches!(e, Event::Committed { deleted: 2, already_gone } if already_gone.is_empty())
            ),
            "commit_now={commit_now}: {seen:#?}"
        );
        assert!(matches!(
            seen.last(),
            Some(Event::Closed { committed }) if *committed != commit_now
        ));
        let want: Vec<String> = [0, 2, 4].iter().map(|&i| before[i].clone()).collect();
        assert_eq!(server.mailbox_uids(), want, "commit_now={commit_now}");
        assert!(persist.state().marks.is_empty());
    }
}

/// Every QUIT is lost on the way and the retries run out: nothing is
/// claimed either way. The user is told the server may or may not have
/// deleted, the marks stay on disk for the next start to check, and the
/// worker ends without claiming a commit.
#[test]
fn quits_lost_until_the_retries_run_out_keep_the_marks_and_say_so() {
    let (opts, _) = dropping_quits(usize::MAX);
    let server = Server::start(Mailbox::generated(4), opts).unwrap();
    let before = uids(4, &server);
    let persist = Mem::default();
    let mut cfg = config(&server);
    cfg.max_attempts = 2;
    let mut h = start(cfg, persist.clone());
    let keys = h.listing();
    h.send(Request::Mark(keys[2].clone()));
    h.marks(1);
    let seen = h.quit(true);
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: false })
    ));
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Committed { .. })),
        "{seen:#?}"
    );
    assert!(
        seen.iter().any(|e| matches!(e, Event::Error(w)
            if w.message.contains("may have deleted"))),
        "{seen:#?}"
    );
    assert_eq!(server.mailbox_uids(), before);
    assert_eq!(persist.state().marked_uids(), vec![before[2].clone()]);
}

#[test]
fn undo_all_then_commit_deletes_nothing() {
    let server = Server::start(Mailbox::generated(4), ServerOptions::default()).unwrap();
    let mut h = start(config(&server), Mem::default());
    let keys = h.listing();
    h.send(Request::Mark(keys[0].clone()));
    h.send(Request::Mark(keys[3].clone()));
    h.marks(2);
    h.send(Request::UnmarkAll);
    h.marks(0);
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 0, .. }))
    );
    assert_eq!(server.mailbox_uids().len(), 4);
}

#[test]
fn quit_discarding_deletes_nothing_and_forgets_the_marks() {
    let server = Server::start(Mailbox::generated(3), ServerOptions::default()).unwrap();
    let persist = Mem::default();
    let mut h = start(config(&server), persist.clone());
    let keys = h.listing();
    h.send(Request::Mark(keys[1].clone()));
    h.marks(1);
    assert_eq!(persist.state().marks.len(), 1, "mark on disk at once");
    let seen = h.quit(false);
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: false })
    ));
    assert_eq!(server.mailbox_uids().len(), 3);
    assert!(persist.state().marks.is_empty());
}

#[test]
fn marks_are_replayed_after_a_cut_and_then_committed_exactly() {
    let cut_done = Arc::new(Mutex::new(false));
    let flag = Arc::clone(&cut_done);
    let opts = ServerOptions {
        hook: Some(Arc::new(move |ctx| {
            // Cut the first session when it is asked for a message.
            let mut cut = flag.lock().unwrap();
            if !*cut && ctx.line.starts_with("RETR") {
                *cut = true;
                Action::Drop
            } else {
                Action::Normal
            }
        })),
        ..ServerOptions::default()
    };
    let server = Server::start(Mailbox::generated(5), opts).unwrap();
    let before = uids(5, &server);
    let mut h = start(config(&server), Mem::default());
    let keys = h.listing();
    h.send(Request::Mark(keys[0].clone()));
    h.send(Request::Mark(keys[4].clone()));
    h.marks(2);
    h.send(Request::Retrieve {
        ticket: 9,
        key: keys[2].clone(),
    });
    h.wait("reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    let ev = h.wait("reconnected", |e| matches!(e, Event::Reconnected { .. }));
    assert_eq!(ev, Event::Reconnected { marks_reapplied: 2 });
    // Nothing was deleted by the cut.
    assert_eq!(server.mailbox_uids(), before);
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 2, .. }))
    );
    assert_eq!(server.mailbox_uids(), before[1..4].to_vec());
}

#[test]
fn a_cut_mid_listing_reconnects_and_lists() {
    let opts = ServerOptions {
        hook: Some(Arc::new(|ctx| {
            if ctx.conn == 0 && ctx.line == "UIDL" {
                Action::Reset
            } else {
                Action::Normal
            }
        })),
        ..ServerOptions::default()
    };
    let server = Server::start(Mailbox::generated(7), opts).unwrap();
    let mut h = start(config(&server), Mem::default());
    let keys = h.listing();
    assert_eq!(keys.len(), 7);
    assert!(
        h.seen
            .iter()
            .any(|e| matches!(e, Event::Reconnecting { .. }))
    );
    h.quit(false);
}

#[test]
fn marks_survive_a_killed_ui_and_are_restored_pending() {
    let server = Server::start(Mailbox::generated(4), ServerOptions::default()).unwrap();
    let before = uids(4, &server);
    let persist = Mem::default();
    {
        let mut h = start(config(&server), persist.clone());
        let keys = h.listing();
        h.send(Request::Mark(keys[1].clone()));
        h.marks(1);
        // The UI dies without quitting: drop both channel ends.
        h.crash();
    }
    assert!(server.wait_unlocked(Duration::from_secs(5)));
    assert_eq!(
        server.mailbox_uids(),
        before,
        "nothing deleted without QUIT"
    );
    let mut h = start(config(&server), persist.clone());
    let restored = h.wait("restored marks", |e| {
        matches!(e, Event::Marks { restored: true, .. })
    });
    let Event::Marks { marked, .. } = restored else {
        unreachable!()
    };
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].uid.as_deref(), Some(before[1].as_str()));
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 1, .. }))
    );
    let mut want = before.clone();
    want.remove(1);
    assert_eq!(server.mailbox_uids(), want);
    assert!(persist.state().marks.is_empty(), "committed marks cleared");
}

/// Offline (the server is unreachable), the user undoes the marks restored
/// from the last session and quits: the undo is kept on disk, so the marks
/// don't come back at the next start.
#[test]
fn marks_undone_offline_stay_undone_after_quit() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let persist = Mem::default();
    persist.set_marks(vec![SavedMark::uid_only("u-1"), SavedMark::uid_only("u-2")]);
    let mut h = start(config_for_port(port), persist.clone());
    h.wait("restored marks", |e| {
        matches!(e, Event::Marks { restored: true, .. })
    });
    h.wait("a failed connect", |e| {
        matches!(e, Event::Reconnecting { .. })
    });
    h.send(Request::UnmarkAll);
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Closed { committed: false })),
        "{seen:#?}"
    );
    assert!(
        persist.state().marks.is_empty(),
        "undone marks would be restored: {:?}",
        persist.state().marks
    );
}

/// While the server is away (a long backoff between attempts), a mark
/// the user makes on a message of the last listing is kept on disk (with
/// that listing's size, so the next session checks it) and reported
/// settled at once, not at the next attempt, so the UI doesn't show it
/// pending for the whole wait. A key no listing gave is refused.
#[test]
fn a_mark_made_while_offline_is_settled_during_the_backoff() {
    let mut server = Server::start(Mailbox::generated(3), ServerOptions::default()).unwrap();
    let persist = Mem::default();
    let mut cfg = config(&server);
    cfg.backoff = Duration::from_secs(60);
    cfg.max_backoff = Duration::from_secs(60);
    let mut h = start(cfg, persist.clone());
    let keys = h.listing();
    server.shutdown();
    h.wait("the connection lost", |e| {
        matches!(e, Event::Reconnecting { .. })
    });
    let sent = Instant::now();
    h.send(Request::Mark(keys[2].clone()));
    let ev = h.wait("the mark settled", |e| {
        matches!(e, Event::Marks { settled: 1, .. })
    });
    assert!(
        sent.elapsed() < Duration::from_secs(30),
        "settled only after the backoff"
    );
    let Event::Marks { marked, .. } = ev else {
        unreachable!()
    };
    assert_eq!(marked, vec![keys[2].clone()]);
    let saved = persist.state().marks;
    assert_eq!(saved.len(), 1);
    assert_eq!(Some(&saved[0].uid), keys[2].uid.as_ref());
    assert!(
        saved[0].size.is_some(),
        "the listing's size is kept: {saved:?}"
    );
    let ghost = popview::worker::api::MsgKey::new(9, Some("never-listed".into()));
    h.send(Request::Mark(ghost.clone()));
    h.wait(
        "the made-up key refused",
        |e| matches!(e, Event::MarkRefused { key, .. } if *key == ghost),
    );
    h.wait(
        "settled",
        |e| matches!(e, Event::Marks { settled: 2, marked, .. } if marked.len() == 1),
    );
    let seen = h.quit(false);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Closed { committed: false })),
        "{seen:#?}"
    );
    assert!(persist.state().marks.is_empty(), "discarded at quit");
}

/// With `check_mail` set, an idle worker looks for new mail on its own
/// (a new session, as `r` does): the new message is listed without any
/// request, and the user's mark is applied again in the new session.
#[test]
fn new_mail_is_found_on_its_own_with_check_mail() {
    let server = Server::start(Mailbox::generated(3), ServerOptions::default()).unwrap();
    let mut cfg = config(&server);
    cfg.check_mail = Some(Duration::from_millis(300));
    let mut h = start(cfg, Mem::default());
    let keys = h.listing();
    assert_eq!(keys.len(), 3);
    h.send(Request::Mark(keys[0].clone()));
    h.marks(1);
    server.add_message("new-1", b"Subject: fresh\r\n\r\nhello\r\n");
    let ev = h.wait(
        "a listing with the new message",
        |e| matches!(e, Event::Listing { entries, .. } if entries.len() == 4),
    );
    let Event::Listing { entries, .. } = ev else {
        unreachable!()
    };
    assert_eq!(entries[3].key.uid.as_deref(), Some("new-1"));
    let ev = h.wait("marks in the new session", |e| {
        matches!(e, Event::Marks { .. })
    });
    let Event::Marks { marked, .. } = ev else {
        unreachable!()
    };
    assert_eq!(uids_of(&marked), vec![keys[0].uid.clone().unwrap()]);
    let seen = h.quit(false);
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: false })
    ));
    assert_eq!(server.mailbox_uids().len(), 4, "nothing deleted");
}

#[test]
fn second_open_with_the_cache_sends_no_top() {
    let server = Server::start(Mailbox::generated(30), ServerOptions::default()).unwrap();
    let persist = Mem::default();
    let mut h = start(config(&server), persist.clone());
    h.listing();
    h.previews_loaded();
    h.quit(false);
    let first = tops(&server, None);
    assert_eq!(first, 30);
    assert_eq!(persist.state().headers.len(), 30);
    // One message vanishes meanwhile (another client deletes it).
    let mut h = start(config(&server), persist.clone());
    let keys = h.listing();
    h.previews_loaded();
    h.send(Request::Mark(keys[0].clone()));
    h.marks(1);
    h.quit(true);
    assert_eq!(server.mailbox_uids().len(), 29);
    let mut h = start(config(&server), persist.clone());
    h.listing();
    h.previews_loaded();
    assert_eq!(h.count_previews(), 29);
    h.quit(false);
    assert_eq!(tops(&server, None), first, "no TOP on later opens");
    assert_eq!(persist.state().headers.len(), 29, "the gone one is pruned");
}

#[test]
fn retrieve_jumps_the_preview_queue() {
    let server = Server::start(Mailbox::generated(3000), ServerOptions::default()).unwrap();
    let mut h = start(config(&server), Mem::default());
    let keys = h.listing();
    h.send(Request::Retrieve {
        ticket: 1,
        key: keys[2999].clone(),
    });
    h.wait("message", |e| matches!(e, Event::Message { .. }));
    let done_before = h
        .seen
        .iter()
        .filter_map(|e| match e {
            Event::Progress { done, .. } => Some(*done),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    assert!(done_before < 3000, "the message came before all previews");
    h.previews_loaded();
    h.quit(false);
}

#[test]
fn a_server_without_top_or_uidl_still_works() {
    let opts = ServerOptions {
        top: false,
        uidl: false,
        ..ServerOptions::default()
    };
    let server = Server::start(Mailbox::generated(3), opts).unwrap();
    let mut h = start(config(&server), Mem::default());
    let ev = h.wait("listing", |e| matches!(e, Event::Listing { .. }));
    let Event::Listing {
        entries,
        no_uidl_reason,
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(entries.len(), 3);
    assert!(no_uidl_reason.is_some());
    h.send(Request::Retrieve {
        ticket: 4,
        key: entries[1].key.clone(),
    });
    h.wait("message", |e| matches!(e, Event::Message { ticket: 4, .. }));
    assert_eq!(h.count_previews(), 1, "the opened message got its preview");
    // Marks still work within the session.
    h.send(Request::Mark(entries[0].key.clone()));
    h.marks(1);
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 1, .. }))
    );
    assert_eq!(server.mailbox_uids().len(), 2);
    assert_eq!(tops(&server, None), 0);
}

#[test]
fn wrong_password_asks_again() {
    let server = Server::start(Mailbox::generated(2), ServerOptions::default()).unwrap();
    let mut cfg = config(&server);
    cfg.password = Some("wrong".into());
    let mut h = start(cfg, Mem::default());
    h.wait("password prompt", |e| {
        matches!(e, Event::PasswordNeeded { .. })
    });
    assert!(
        h.seen
            .iter()
            .any(|e| matches!(e, Event::Error(w) if w.kind == ErrorKind::Auth))
    );
    h.send(Request::Password("demo".into()));
    assert_eq!(h.listing().len(), 2);
    h.quit(false);
}

#[test]
fn a_locked_maildrop_is_retried_not_a_password_error() {
    let server = Server::start(Mailbox::generated(2), ServerOptions::default()).unwrap();
    // Hold the lock with another session.
    let mut other = std::net::TcpStream::connect(server.addr()).unwrap();
    use std::io::{BufRead, BufReader, Write};
    let mut r = BufReader::new(other.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    other.write_all(b"USER demo\r\nPASS demo\r\n").unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("+OK"), "{line}");
    let mut h = start(config(&server), Mem::default());
    let ev = h.wait("reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    let Event::Reconnecting { reason, .. } = ev else {
        unreachable!()
    };
    assert!(reason.contains("in use"), "{reason}");
    assert!(
        !h.seen
            .iter()
            .any(|e| matches!(e, Event::PasswordNeeded { .. }))
    );
    other.write_all(b"QUIT\r\n").unwrap();
    assert_eq!(h.listing().len(), 2);
    h.quit(false);
}

#[test]
fn login_delay_is_honoured_with_a_countdown() {
    let opts = ServerOptions {
        login_delay: Some(2),
        ..ServerOptions::default()
    };
    let server = Server::start(Mailbox::generated(2), opts).unwrap();
    let mut h = start(config(&server), Mem::default());
    h.listing();
    let t = Instant::now();
    // Checking for mail would leave the user offline: refused with a time.
    h.send(Request::CheckNewMail);
    h.wait(
        "the wait explained",
        |e| matches!(e, Event::Notice(n) if n.contains("check again in")),
    );
    // A commit needs a new session: it waits out the delay, counting down.
    h.send(Request::CommitNow);
    let ev = h.wait("countdown", |e| matches!(e, Event::Reconnecting { .. }));
    let Event::Reconnecting {
        delay_secs, reason, ..
    } = ev
    else {
        unreachable!()
    };
    assert!((1..=2).contains(&delay_secs), "{delay_secs}");
    assert!(reason.contains("one login every 2 seconds"), "{reason}");
    h.listing();
    assert!(t.elapsed() >= Duration::from_millis(1500), "no early login");
    assert_eq!(server.connections(), 2);
    h.quit(false);
}

/// Quitting (even "delete now") at the password prompt never logs in
/// without a password, deletes nothing and keeps the marks on disk.
#[test]
fn quit_at_the_password_prompt_never_logs_in() {
    let server = Server::start(Mailbox::generated(3), ServerOptions::default()).unwrap();
    let uid = server.mailbox_uids()[1].clone();
    let persist = Mem::default();
    persist.set_marks(vec![SavedMark::uid_only(uid.clone())]);
    let mut cfg = config(&server);
    cfg.password = None;
    let mut h = start(cfg, persist.clone());
    h.wait("password prompt", |e| {
        matches!(e, Event::PasswordNeeded { .. })
    });
    let seen = h.quit(true);
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: false })
    ));
    // Connected (the certificate is checked before the prompt), never logged in.
    assert!(
        !server.log().iter().any(|l| l.line.starts_with("USER")
            || l.line.starts_with("PASS")
            || l.line.starts_with("APOP")
            || l.line.starts_with("AUTH")),
        "no login without a password"
    );
    assert_eq!(persist.state().marked_uids(), vec![uid]);
}

/// A DELE the server refuses keeps the mark (it may be passing); the commit
/// tries it again and, refused again, deletes nothing at all.
#[test]
fn a_refused_dele_keeps_the_mark_and_blocks_the_commit() {
    let opts = ServerOptions {
        hook: Some(Arc::new(|ctx| {
            if ctx.line == "DELE 2" {
                Action::Reply(b"-ERR [SYS/TEMP] try later\r\n".to_vec())
            } else {
                Action::Normal
            }
        })),
        ..ServerOptions::default()
    };
    let server = Server::start(Mailbox::generated(3), opts).unwrap();
    let before = server.mailbox_uids();
    let persist = Mem::default();
    let mut h = start(config(&server), persist.clone());
    let keys = h.listing();
    h.send(Request::Mark(keys[0].clone()));
    h.send(Request::Mark(keys[1].clone()));
    h.wait(
        "the refusal",
        |e| matches!(e, Event::Error(w) if w.message.contains("message 2")),
    );
    assert_eq!(persist.state().marks.len(), 2, "both marks kept");
    let seen = h.quit(true);
    assert!(matches!(
        seen.last(),
        Some(Event::Closed { committed: false })
    ));
    assert_eq!(server.mailbox_uids(), before, "nothing deleted");
    assert!(!server.log().iter().any(|l| l.line == "QUIT" && l.conn == 0));
    assert_eq!(persist.state().marks.len(), 2);
}

/// A session where UIDL fails can't match marks by UID: they are kept, not
/// reported gone, and a commit refuses to run.
#[test]
fn marks_survive_a_session_without_uids() {
    let opts = ServerOptions {
        hook: Some(Arc::new(|ctx| {
            if ctx.line == "UIDL" {
                Action::Reply(b"-ERR [SYS/TEMP] uid index busy\r\n".to_vec())
            } else {
                Action::Normal
            }
        })),
        ..ServerOptions::default()
    };
    let server = Server::start(Mailbox::generated(3), opts).unwrap();
    let before = server.mailbox_uids();
    let persist = Mem::default();
    persist.set_marks(vec![SavedMark::uid_only(before[0].clone())]);
    let mut h = start(config(&server), persist.clone());
    h.listing();
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Error(w) if w.message.contains("unique ids")))
    );
    assert!(!seen.iter().any(|e| matches!(e, Event::Committed { .. })));
    assert_eq!(server.mailbox_uids(), before);
    assert_eq!(persist.state().marked_uids(), vec![before[0].clone()]);
}

/// Opening a marked message says why instead of leaving the reader waiting.
#[test]
fn reading_a_marked_message_fails_with_a_reason() {
    let server = Server::start(Mailbox::generated(2), ServerOptions::default()).unwrap();
    let mut h = start(config(&server), Mem::default());
    let keys = h.listing();
    h.send(Request::Mark(keys[0].clone()));
    h.marks(1);
    h.send(Request::Retrieve {
        ticket: 5,
        key: keys[0].clone(),
    });
    let ev = h.wait("read failed", |e| matches!(e, Event::ReadFailed { .. }));
    let Event::ReadFailed { ticket, reason, .. } = ev else {
        unreachable!()
    };
    assert_eq!(ticket, 5);
    assert!(reason.contains("marked for deletion"), "{reason}");
    assert!(!server.log().iter().any(|l| l.line.starts_with("RETR")));
    h.quit(false);
}

/// Two messages sharing a UID can be read but not marked: one mark must
/// never become two deletions (SECURITY D23).
#[test]
fn a_duplicated_uid_is_never_marked() {
    let msgs = Mailbox::generated(3).into_messages();
    let pairs = vec![
        ("same".to_string(), msgs[0].1.clone()),
        ("same".to_string(), msgs[1].1.clone()),
        ("other".to_string(), msgs[2].1.clone()),
    ];
    let server = Server::start(Mailbox::from_pairs(pairs), ServerOptions::default()).unwrap();
    let mut h = start(config(&server), Mem::default());
    let keys = h.listing();
    assert_eq!(keys[0].uid, None);
    h.send(Request::Mark(keys[0].clone()));
    h.wait(
        "refusal",
        |e| matches!(e, Event::MarkRefused { reason, .. } if reason.contains("shares its unique id")),
    );
    h.send(Request::Mark(keys[2].clone()));
    h.marks(1);
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 1, .. }))
    );
    assert!(!server.log().iter().any(|l| l.line == "DELE 1"));
    assert_eq!(server.mailbox_uids(), vec!["same", "same"]);
}

/// A bulk mark (`D` on a pattern: hundreds of `Mark`s at once) is pipelined
/// and reported in a few `Marks` events, not one per mark; a bulk undo of
/// many (`U` on a pattern) takes one RSET, then the remaining marks again;
/// the server ends up lacking exactly the marks that are left.
#[test]
fn a_bulk_mark_and_a_bulk_undo_are_batched() {
    let server = Server::start(Mailbox::generated(400), ServerOptions::default()).unwrap();
    let before = uids(400, &server);
    let mut h = start(config(&server), Mem::default());
    let keys = h.listing();
    for k in &keys[..300] {
        h.send(Request::Mark(k.clone()));
    }
    h.wait(
        "300 marks settled",
        |e| matches!(e, Event::Marks { settled: 300, marked, .. } if marked.len() == 300),
    );
    let reports = h
        .seen
        .iter()
        .filter(|e| matches!(e, Event::Marks { .. }))
        .count();
    assert!(reports < 30, "{reports} Marks events for one bulk mark");
    // Undo 200 of them at once: one RSET.
    for k in &keys[..200] {
        h.send(Request::Unmark(k.clone()));
    }
    h.wait(
        "the undos settled",
        |e| matches!(e, Event::Marks { settled: 500, marked, .. } if marked.len() == 100),
    );
    let rsets = server.log().iter().filter(|l| l.line == "RSET").count();
    assert!(rsets <= 3, "{rsets} RSETs for one bulk undo");
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 100, .. })),
        "{}",
        support::worker::summary(&seen)
    );
    let want: Vec<String> = before[..200]
        .iter()
        .chain(&before[300..])
        .cloned()
        .collect();
    assert_eq!(server.mailbox_uids(), want);
}
