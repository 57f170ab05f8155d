//! Letting go of an idle session (issue 12 §4) against the in-process
//! server: the release ends the session with RSET before QUIT and deletes
//! nothing, keepalives don't count as use, the user's next action connects
//! again (marks re-applied), and a discard while released needs no
//! connection.

mod support;

use std::time::{Duration, Instant};

use popview::demo::{Mailbox, Server, ServerOptions};
use popview::worker::WorkerConfig;
use popview::worker::api::{Event, Request};
use support::worker::{Harness, summary};

type Mem = popview::worker::persist::Memory;

fn config(server: &Server, release_after: Duration) -> WorkerConfig {
    let mut c = support::worker::demo_config(server.addr().port());
    c.release_after = Some(release_after);
    c
}

fn released(h: &mut Harness) {
    h.wait("released", |e| matches!(e, Event::Released));
}

#[test]
fn an_idle_session_ends_with_rset_then_quit_and_the_next_action_reconnects() {
    let server = Server::start(Mailbox::generated(5), ServerOptions::default()).unwrap();
    let all = server.mailbox_uids();
    let mut h = Harness::start(
        config(&server, Duration::from_millis(300)),
        Box::new(Mem::default()),
    );
    let keys = h.listing();
    h.previews_loaded();
    released(&mut h);
    let first = server.lines(0);
    assert_eq!(
        first[first.len() - 2..],
        ["RSET".to_string(), "QUIT".to_string()],
        "{first:?}"
    );
    assert!(!first.iter().any(|l| l.starts_with("DELE")), "{first:?}");
    assert!(
        server.wait_unlocked(Duration::from_secs(5)),
        "lock still held"
    );
    assert_eq!(server.mailbox_uids(), all, "the release deleted nothing");
    assert_eq!(server.connections(), 1, "no new session before an action");

    // A mark while released: kept at once, applied on the new session.
    h.send(Request::Mark(keys[2].clone()));
    h.marks_exactly(&[&all[2]]);
    h.wait("a new listing", |e| matches!(e, Event::Listing { .. }));
    h.wait(
        "reconnected",
        |e| matches!(e, Event::Reconnected { marks_reapplied } if *marks_reapplied == 1),
    );
    let second = server.lines(1);
    assert!(
        second.iter().any(|l| l == "DELE 3"),
        "the mark is applied in the new session: {second:?}"
    );
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 1, .. })),
        "{}",
        summary(&seen)
    );
    let mut left = all.clone();
    left.remove(2);
    assert_eq!(server.mailbox_uids(), left);
}

#[test]
fn keepalives_do_not_count_as_use() {
    let server = Server::start(Mailbox::generated(3), ServerOptions::default()).unwrap();
    let mut cfg = config(&server, Duration::from_millis(1200));
    cfg.keepalive = Duration::from_millis(100);
    let mut h = Harness::start(cfg, Box::new(Mem::default()));
    h.listing();
    let t = Instant::now();
    // With NOOPs every 100 ms resetting the clock, it would never come.
    h.wait("released", |e| matches!(e, Event::Released));
    let took = t.elapsed();
    let first = server.lines(0);
    let noops = first.iter().filter(|l| *l == "NOOP").count();
    assert!(noops >= 3, "keepalives were sent meanwhile: {first:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    h.quit(false);
}

#[test]
fn a_request_from_the_user_restarts_the_idle_clock() {
    let server = Server::start(Mailbox::generated(3), ServerOptions::default()).unwrap();
    let after = Duration::from_millis(800);
    let mut h = Harness::start(config(&server, after), Box::new(Mem::default()));
    let keys = h.listing();
    h.previews_loaded();
    // Reads every 200 ms for 2 s: the session is in use all along.
    let t = Instant::now();
    let mut ticket = 0;
    while t.elapsed() < Duration::from_secs(2) {
        ticket += 1;
        h.send(Request::Retrieve {
            ticket,
            key: keys[0].clone(),
        });
        let got = h.wait("the message", |e| matches!(e, Event::Message { .. }));
        assert!(matches!(got, Event::Message { ticket: answered, .. } if answered == ticket));
        assert!(
            !h.seen.iter().any(|e| matches!(e, Event::Released)),
            "released while in use"
        );
        let next = Instant::now() + Duration::from_millis(200);
        // Events meanwhile are kept (`seen`); a release would show there.
        h.idle(next.saturating_duration_since(Instant::now()));
    }
    assert!(
        !h.seen.iter().any(|e| matches!(e, Event::Released)),
        "released while in use: {}",
        summary(&h.seen)
    );
    released(&mut h);
    assert_eq!(server.connections(), 1);
    h.quit(false);
}

#[test]
fn a_discard_while_released_needs_no_connection_and_keeps_nothing() {
    let server = Server::start(Mailbox::generated(4), ServerOptions::default()).unwrap();
    let all = server.mailbox_uids();
    let disk = Mem::default();
    let mut h = Harness::start(
        config(&server, Duration::from_millis(300)),
        Box::new(disk.clone()),
    );
    let keys = h.listing();
    h.send(Request::Mark(keys[0].clone()));
    h.marks_exactly(&[&all[0]]);
    released(&mut h);
    assert_eq!(
        disk.state().marked_uids(),
        [all[0].clone()],
        "kept while released"
    );
    let seen = h.quit(false);
    assert!(
        matches!(seen.last(), Some(Event::Closed { committed: false })),
        "{}",
        summary(&seen)
    );
    assert_eq!(server.connections(), 1, "quit without commit stays offline");
    assert_eq!(server.mailbox_uids(), all);
    assert!(disk.state().marks.is_empty(), "the discard forgot the mark");
}

/// The UI while released: the list stays, the header says "released", and
/// the next `Connecting` replaces it.
#[test]
fn the_screen_says_released_and_keeps_the_list() {
    use popview::app::{App, AppEvent, AppOptions};
    use popview::worker::api::{ListEntry, MsgKey};
    use ratatui::{Terminal, backend::TestBackend};

    let screen = |app: &App| {
        let mut t = Terminal::new(TestBackend::new(100, 12)).unwrap();
        t.draw(|f| popview::ui::draw(f, app)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut s = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                s.push_str(buf[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    };
    let mut app = App::new(AppOptions::default());
    app.handle(AppEvent::Resize(100, 12));
    let key = |i: u32| MsgKey::new(i, Some(format!("uid{i}")));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: (1..=3)
            .map(|i| ListEntry {
                key: key(i),
                size: 1000,
            })
            .collect(),
        no_uidl_reason: None,
    }));
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![key(2)],
        restored: false,
        settled: 0,
    }));
    app.handle(AppEvent::Tick);
    let before = screen(&app);
    assert!(!before.contains("released"), "{before}");
    app.handle(AppEvent::Worker(Event::Released));
    let released = screen(&app);
    assert!(released.contains("released"), "{released}");
    // The same screen (rows, marks) as before the release: only the line
    // with the connection's state differs.
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(released.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert!(
        !changed.is_empty() && changed.iter().all(|(_, b)| b.contains("released")),
        "{before}\n---\n{released}"
    );
    app.handle(AppEvent::Worker(Event::Connecting {
        server: "x:1".into(),
        attempt: 1,
    }));
    let connecting = screen(&app);
    assert!(!connecting.contains("released"), "{connecting}");
}

#[test]
fn delete_and_quit_while_released_connects_reapplies_and_commits() {
    let server = Server::start(Mailbox::generated(4), ServerOptions::default()).unwrap();
    let all = server.mailbox_uids();
    let mut h = Harness::start(
        config(&server, Duration::from_millis(300)),
        Box::new(Mem::default()),
    );
    let keys = h.listing();
    h.send(Request::Mark(keys[1].clone()));
    h.marks_exactly(&[&all[1]]);
    released(&mut h);
    assert_eq!(server.mailbox_uids(), all, "the release deleted nothing");
    let seen = h.quit(true);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Committed { deleted: 1, .. })),
        "{}",
        summary(&seen)
    );
    assert_eq!(server.connections(), 2, "one new session for the commit");
    let second = server.lines(1);
    assert!(
        second.iter().any(|l| l == "DELE 2") && second.last().map(String::as_str) == Some("QUIT"),
        "{second:?}"
    );
    let mut left = all.clone();
    left.remove(1);
    assert_eq!(server.mailbox_uids(), left);
}
