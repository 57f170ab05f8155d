//! A user's read is prepared off the session thread: while a message is
//! being prepared (here: its delivery to the UI is held, as a slow
//! `app::prepare` of a heavy message would hold it), the session goes on:
//! a mark is sent and settled and the idle keepalive NOOP goes out. Were
//! the message prepared on the session thread, neither could happen until
//! it was done, and the test fails at its deadline.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use popview::demo::{Mailbox, Server, ServerOptions};
use popview::pop3::TlsMode;
use popview::pop3::transport::ConnectOptions;
use popview::worker::api::{Event, Request};
use popview::worker::{self, WorkerConfig};

#[path = "support/hostile_html.rs"]
mod hostile_html;

const DEADLINE: Duration = Duration::from_secs(30);

/// A gate the emit hook waits at (with a deadline) before it delivers a
/// prepared message.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }

    fn wait(&self) {
        let (lock, cv) = &*self.0;
        let end = Instant::now() + DEADLINE;
        let mut open = lock.lock().unwrap();
        while !*open && Instant::now() < end {
            open = cv.wait_timeout(open, Duration::from_millis(50)).unwrap().0;
        }
    }
}

#[test]
fn marks_and_keepalives_go_on_while_a_message_is_prepared() {
    let heavy = hostile_html::message(hostile_html::Shape::Div, 300_000);
    let small = b"From: a@b.example\r\nSubject: small\r\n\r\nhello\r\n".to_vec();
    let server = Server::start(
        Mailbox::from_messages(vec![heavy, small]),
        ServerOptions::default(),
    )
    .unwrap();
    let mut cfg = WorkerConfig::new(
        ConnectOptions::new("127.0.0.1", server.addr().port(), TlsMode::None),
        "demo",
    );
    cfg.password = Some("demo".into());
    cfg.allow_cleartext = true;
    cfg.keepalive = Duration::from_millis(200);

    let gate = Gate::default();
    let held = gate.clone();
    let (tx, rx) = mpsc::channel();
    let (req_tx, req_rx) = mpsc::channel();
    let handle = worker::spawn(cfg, Box::new(support_mem()), req_rx, move |e| {
        if matches!(e, Event::Message { .. }) {
            held.wait();
        }
        tx.send(e).is_ok()
    });

    let next = |what: &str, pred: &dyn Fn(&Event) -> bool| -> Event {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(e) if pred(&e) => return e,
                Ok(_) => {}
                Err(_) => panic!("no {what} within {DEADLINE:?}"),
            }
        }
    };
    let Event::Listing { entries, .. } = next("listing", &|e| matches!(e, Event::Listing { .. }))
    else {
        unreachable!()
    };
    let (heavy_key, small_key) = (entries[0].key.clone(), entries[1].key.clone());
    req_tx
        .send(Request::Retrieve {
            ticket: 1,
            key: heavy_key.clone(),
        })
        .unwrap();
    // The RETR answer is in: the message is being prepared (held).
    next(
        "the whole message",
        &|e| matches!(e, Event::RetrieveProgress { bytes, total, .. } if bytes >= total && *total > 0),
    );
    req_tx.send(Request::Mark(small_key.clone())).unwrap();
    let settled = next(
        "the mark settled",
        &|e| matches!(e, Event::Marks { settled, .. } if *settled >= 1),
    );
    let Event::Marks { marked, .. } = settled else {
        unreachable!()
    };
    assert_eq!(marked, vec![small_key]);
    let end = Instant::now() + DEADLINE;
    let noop_after_retr = || {
        let log = server.log();
        let retr = log.iter().position(|l| l.line.starts_with("RETR"));
        retr.is_some_and(|r| log[r..].iter().any(|l| l.line == "NOOP"))
    };
    while !noop_after_retr() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let kept_alive = noop_after_retr();
    gate.open();
    let Event::Message { ticket, key, view } = next("the prepared message", &|e| {
        matches!(e, Event::Message { .. })
    }) else {
        unreachable!()
    };
    assert_eq!((ticket, key), (1, heavy_key));
    assert!(view.parse_note.is_some_and(|n| n.contains("nested")));
    assert!(kept_alive, "no NOOP while the message was prepared");
    req_tx.send(Request::Quit { commit: false }).unwrap();
    next("closed", &|e| matches!(e, Event::Closed { .. }));
    drop(req_tx);
    handle.join().unwrap();
}

fn support_mem() -> popview::worker::persist::Memory {
    popview::worker::persist::Memory::default()
}
