//! Cancelling a big download (Esc in the reader): the in-process server
//! sends message 1 slowly (4 KB writes, each followed by a 2 ms pause), the
//! UI cancels once the first progress arrives and asks for message 2. The
//! cancelled message is never delivered, message 2 arrives whole, and the
//! session stays in step either way the worker chooses:
//! - much left at a slow rate: the connection is dropped and a new session
//!   serves message 2 (a second connection, no error shown);
//! - under a megabyte left: the answer is read to its end and dropped, on
//!   the same connection.
//!
//! Plus: progress events are throttled (at most about 10 a second).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use popview::demo::{Action, Mailbox, Server, ServerOptions};
use popview::worker::api::{Event, Request};
use support::worker::Harness;

/// A message of about `bytes` bytes, with dot lines to unstuff.
fn message(bytes: usize) -> Vec<u8> {
    let mut m = b"Subject: big\r\nFrom: a@example.org\r\n\r\n.dot\r\n".to_vec();
    let line = [b'x'; 76];
    while m.len() < bytes {
        m.extend_from_slice(&line);
        m.extend_from_slice(b"\r\n");
    }
    m
}

/// The RETR answer for `m` as a server sends it.
fn answer(m: &[u8]) -> Vec<u8> {
    let mut out = b"+OK\r\n".to_vec();
    for line in m.split_inclusive(|b| *b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// A server holding `big` and a small message, sending `RETR 1` slowly.
fn slow_server(big: &[u8]) -> (Server, Vec<u8>) {
    let small = b"Subject: small\r\n\r\nhello\r\n".to_vec();
    let slow = answer(big);
    let opts = ServerOptions {
        hook: Some(Arc::new(move |ctx| {
            if ctx.line == "RETR 1" {
                Action::Split(slow.clone(), 4096)
            } else {
                Action::Normal
            }
        })),
        // As Dovecot by default: a new session need not wait for the
        // dropped one to be noticed (a locking server answers [IN-USE]
        // once, and the worker retries).
        lock_maildrop: false,
        ..ServerOptions::default()
    };
    let mailbox = Mailbox::from_messages(vec![big.to_vec(), small.clone()]);
    (Server::start(mailbox, opts).unwrap(), small)
}

/// Open message 1, cancel at its first progress, open message 2; returns
/// message 2's raw bytes and the events seen after the cancel.
fn cancel_then_read_another(server: &Server) -> (Vec<u8>, Vec<Event>) {
    let mut h = Harness::start(
        support::worker::demo_config(server.addr().port()),
        Box::new(popview::worker::persist::Memory::default()),
    );
    let keys = h.listing();
    h.send(Request::Retrieve {
        ticket: 1,
        key: keys[0].clone(),
    });
    h.wait(
        "progress of message 1",
        |e| matches!(e, Event::RetrieveProgress { ticket: 1, bytes, .. } if *bytes > 0),
    );
    h.send(Request::CancelRetrieve { ticket: 1 });
    h.send(Request::Retrieve {
        ticket: 2,
        key: keys[1].clone(),
    });
    let from = h.seen.len();
    let raw = match h.wait("message 2", |e| {
        matches!(e, Event::Message { ticket: 2, .. })
    }) {
        Event::Message { view, .. } => view.raw,
        _ => unreachable!(),
    };
    let after = h.seen[from..].to_vec();
    // Nothing more for ticket 1 later either.
    let later = h.idle(Duration::from_millis(300));
    let mut all = after;
    all.extend(later);
    h.quit(false);
    (raw, all)
}

fn assert_clean(events: &[Event]) {
    for e in events {
        match e {
            Event::Message { ticket: 1, .. } => panic!("the cancelled message was delivered"),
            Event::Error(err) => panic!("an error was shown: {}", err.message),
            Event::ReadFailed { ticket, reason, .. } => {
                panic!("read {ticket} failed: {reason}")
            }
            _ => {}
        }
    }
}

#[test]
fn much_left_drops_the_connection_and_a_new_session_reads_on() {
    // 16 MB at most 2 MB/s (4 KB per 2 ms of the server's own pauses):
    // reading it all takes over 8 s, far more than a new session costs.
    let big = message(16 * 1024 * 1024);
    let (server, small) = slow_server(&big);
    let t = Instant::now();
    let (raw, events) = cancel_then_read_another(&server);
    assert_eq!(raw, small);
    assert_clean(&events);
    let log: Vec<String> = server
        .log()
        .iter()
        .map(|l| format!("{} {}", l.conn, l.line))
        .collect();
    assert_eq!(
        server.connections(),
        2,
        "a new session after the drop: {log:#?}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "message 2 came before message 1 could have finished: {:?}",
        t.elapsed()
    );
}

#[test]
fn little_left_is_read_to_the_end_on_the_same_connection() {
    // Under a megabyte in all: finishing is cheaper than a new session.
    let big = message(900 * 1024);
    let (server, small) = slow_server(&big);
    let (raw, events) = cancel_then_read_another(&server);
    assert_eq!(raw, small);
    assert_clean(&events);
    assert_eq!(server.connections(), 1, "the session went on");
    let log = server.log();
    let retr2 = log
        .iter()
        .position(|l| l.line == "RETR 2")
        .expect("RETR 2 sent");
    let retr1 = log
        .iter()
        .position(|l| l.line == "RETR 1")
        .expect("RETR 1 sent");
    assert!(retr1 < retr2 && log[retr2].conn == log[retr1].conn);
}

#[test]
fn progress_is_throttled() {
    // About 1.5 s of download: at most ~10 events a second (the last one
    // always goes), where the old code sent one per 64 KB (60 here).
    let big = message(3 * 1024 * 1024);
    let (server, _) = slow_server(&big);
    let mut h = Harness::start(
        support::worker::demo_config(server.addr().port()),
        Box::new(popview::worker::persist::Memory::default()),
    );
    let keys = h.listing();
    let t = Instant::now();
    h.send(Request::Retrieve {
        ticket: 1,
        key: keys[0].clone(),
    });
    match h.wait("message 1", |e| {
        matches!(e, Event::Message { ticket: 1, .. })
    }) {
        Event::Message { view, .. } => assert_eq!(view.raw, big),
        _ => unreachable!(),
    }
    let secs = t.elapsed().as_secs_f64();
    let progress: Vec<u64> = h
        .seen
        .iter()
        .filter_map(|e| match e {
            Event::RetrieveProgress {
                ticket: 1, bytes, ..
            } => Some(*bytes),
            _ => None,
        })
        .collect();
    assert!(!progress.is_empty(), "some progress was sent");
    assert!(
        progress.len() as f64 <= secs * 10.0 + 2.0,
        "{} progress events in {secs:.2} s",
        progress.len()
    );
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "monotonic");
    assert_eq!(
        *progress.last().unwrap(),
        answer(&big).len() as u64 - 5,
        "the last event says all of it"
    );
    h.quit(false);
}
