//! `Request::QuitKeepMarks` (the quit dialog's `l`): the session ends
//! deleting nothing, and the marks stay on disk for the next start, online
//! and offline; a plain discard (`n`) still forgets them.

mod support;

use std::time::Duration;

use popview::demo::{Mailbox, Server, ServerOptions};
use popview::worker::WorkerConfig;
use popview::worker::api::{Event, Request};
use support::worker::{Harness, uids_of};

type Mem = popview::worker::persist::Memory;

fn config_for_port(port: u16) -> WorkerConfig {
    support::worker::demo_config(port)
}

fn closed(h: &mut Harness) -> Event {
    h.wait("closed", |e| matches!(e, Event::Closed { .. }))
}

#[test]
fn keep_marks_online_deletes_nothing_and_the_next_start_restores_them() {
    let server = Server::start(Mailbox::generated(4), ServerOptions::default()).unwrap();
    let before = server.mailbox_uids();
    let persist = Mem::default();
    let mut h = Harness::start(
        config_for_port(server.addr().port()),
        Box::new(persist.clone()),
    );
    let keys = h.listing();
    h.send(Request::Mark(keys[0].clone()));
    h.send(Request::Mark(keys[2].clone()));
    let marked = h.marks(2);
    h.send(Request::QuitKeepMarks);
    assert_eq!(closed(&mut h), Event::Closed { committed: false });
    drop(h);
    assert!(server.wait_unlocked(Duration::from_secs(5)));
    assert_eq!(server.mailbox_uids(), before, "nothing deleted");
    let mut on_disk = persist.state().marked_uids();
    on_disk.sort();
    assert_eq!(on_disk, uids_of(&marked), "the marks stay on disk");
    // The next start shows them again, restored and pending.
    let mut h = Harness::start(
        config_for_port(server.addr().port()),
        Box::new(persist.clone()),
    );
    let ev = h.wait("restored marks", |e| {
        matches!(e, Event::Marks { restored: true, .. })
    });
    let Event::Marks { marked: again, .. } = ev else {
        unreachable!()
    };
    assert_eq!(uids_of(&again), uids_of(&marked));
    h.send(Request::Quit { commit: false });
    closed(&mut h);
    assert!(persist.state().marks.is_empty(), "n forgets them");
    assert_eq!(server.mailbox_uids(), before);
}

#[test]
fn keep_marks_offline_leaves_restored_marks_on_disk() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for (req, kept) in [
        (Request::QuitKeepMarks, true),
        (Request::Quit { commit: false }, false),
    ] {
        let persist = Mem::default();
        persist.0.lock().unwrap().marks = vec![
            popview::store::SavedMark::uid_only("u-1"),
            popview::store::SavedMark::uid_only("u-2"),
        ];
        let mut h = Harness::start(config_for_port(port), Box::new(persist.clone()));
        h.wait("restored marks", |e| {
            matches!(e, Event::Marks { restored: true, .. })
        });
        h.wait("a failed connect", |e| {
            matches!(e, Event::Reconnecting { .. })
        });
        h.send(req.clone());
        assert_eq!(closed(&mut h), Event::Closed { committed: false });
        let marks = persist.state().marked_uids();
        if kept {
            assert_eq!(marks, ["u-1", "u-2"], "{req:?}");
        } else {
            assert!(marks.is_empty(), "{req:?}: {marks:?}");
        }
    }
}
