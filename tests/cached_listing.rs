//! The first screen before the network answers (issue 12 §2), against the
//! in-process server: the last session's listing and its previews reach
//! the UI before any connection, and a mark made on that cached list
//! deletes the message it was made on, by UID, even when the numbers
//! shifted meanwhile; a mark on a message gone from the server deletes
//! nothing.

mod support;

use popview::demo::{Mailbox, Server, ServerOptions};
use popview::worker::api::{Event, MsgKey, Request};
use support::worker::{FirstTopGate, Harness};

type Mem = popview::worker::persist::Memory;

/// A first session over `server` that lists, loads the previews and quits:
/// what it leaves in `mem` is the next start's cache.
fn first_session(server: &Server, mem: &Mem) {
    let mut h = Harness::start(
        support::worker::demo_config(server.addr().port()),
        Box::new(mem.clone()),
    );
    h.listing();
    h.previews_loaded();
    h.quit(false);
}

#[test]
fn the_last_listing_and_its_previews_come_before_any_connection() {
    let server = Server::start(Mailbox::generated(5), ServerOptions::default()).unwrap();
    let mem = Mem::default();
    first_session(&server, &mem);
    let kept = mem.state().listing;
    assert_eq!(
        kept.iter()
            .map(|(_, uid, _)| uid.clone())
            .collect::<Vec<_>>(),
        server.mailbox_uids(),
        "the session's listing is kept, in order"
    );

    let mut h = Harness::start(
        support::worker::demo_config(server.addr().port()),
        Box::new(mem.clone()),
    );
    let first = h.wait("an event", |_| true);
    let Event::CachedListing(entries) = first else {
        panic!("the first event is the cached listing, not {first:?}");
    };
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.key.number, e.key.uid.clone().unwrap(), e.size))
            .collect::<Vec<_>>(),
        kept
    );
    let second = h.wait("an event", |_| true);
    let Event::Previews(previews) = second else {
        panic!("the cached previews follow, not {second:?}");
    };
    assert_eq!(previews.len(), 5, "every cached preview, before connecting");
    let third = h.wait("an event", |_| true);
    assert!(
        matches!(third, Event::Connecting { .. }),
        "then the connection starts: {third:?}"
    );
    h.listing();
    h.quit(false);
}

#[test]
fn a_mark_on_the_cached_list_names_its_message_by_uid_after_numbers_shifted() {
    // The server's line of the first session's UIDL is held on the second
    // connection (the second start's session), so the marks below reach
    // the worker while it shows only the cached list.
    let gate = FirstTopGate::default();
    let opts = gate.options_holding(|ctx| ctx.conn == 1 && ctx.line.starts_with("UIDL"));
    let server = Server::start(Mailbox::generated(5), opts).unwrap();
    let uids = server.mailbox_uids();
    let mem = Mem::default();
    first_session(&server, &mem);
    // As the next start finds it: one more message before the others (since
    // deleted elsewhere), so every cached number is one too high.
    {
        let mut state = mem.0.lock().unwrap();
        let mut shifted = vec![(1, "gone-since".to_string(), 700)];
        shifted.extend(
            state
                .listing
                .iter()
                .map(|(n, uid, size)| (n + 1, uid.clone(), *size)),
        );
        state.listing = shifted;
    }
    let mut h = Harness::start(
        support::worker::demo_config(server.addr().port()),
        Box::new(mem.clone()),
    );
    let ev = h.wait("cached listing", |e| matches!(e, Event::CachedListing(_)));
    let Event::CachedListing(entries) = ev else {
        unreachable!()
    };
    let key = |uid: &str| -> MsgKey {
        entries
            .iter()
            .find(|e| e.key.uid.as_deref() == Some(uid))
            .unwrap()
            .key
            .clone()
    };
    let third = key(&uids[2]);
    assert_eq!(third.number, 4, "the cached number, one too high now");
    gate.wait_entered();
    h.send(Request::Mark(third));
    h.send(Request::Mark(key("gone-since")));
    gate.release();
    h.listing();
    let marks = h.wait(
        "the marks of the session",
        |e| matches!(e, Event::Marks { marked, .. } if !marked.is_empty()),
    );
    let Event::Marks { marked, .. } = marks else {
        unreachable!()
    };
    assert_eq!(
        marked
            .iter()
            .map(|k| (k.number, k.uid.clone().unwrap()))
            .collect::<Vec<_>>(),
        vec![(3, uids[2].clone())],
        "the mark follows its UID to its number in this session; the gone one is not kept"
    );
    h.quit(true);
    let deles: Vec<String> = server
        .lines(1)
        .into_iter()
        .filter(|l| l.starts_with("DELE"))
        .collect();
    assert_eq!(deles, vec!["DELE 3".to_string()]);
}

#[test]
fn with_the_server_unreachable_a_mark_on_the_cached_list_is_kept_by_uid() {
    let server = Server::start(Mailbox::generated(3), ServerOptions::default()).unwrap();
    let port = server.addr().port();
    let uids = server.mailbox_uids();
    let mem = Mem::default();
    first_session(&server, &mem);
    drop(server); // nothing listens there now
    let mut h = Harness::start(support::worker::demo_config(port), Box::new(mem.clone()));
    let ev = h.wait("cached listing", |e| matches!(e, Event::CachedListing(_)));
    let Event::CachedListing(entries) = ev else {
        unreachable!()
    };
    let second = entries[1].clone();
    h.send(Request::Mark(second.key.clone()));
    let marks = h.wait(
        "the mark kept offline",
        |e| matches!(e, Event::Marks { marked, .. } if !marked.is_empty()),
    );
    let Event::Marks { marked, .. } = marks else {
        unreachable!()
    };
    assert_eq!(marked, vec![second.key.clone()]);
    // The UI goes away (a crash, a closed terminal): what is on disk stays.
    h.crash();
    let saved = mem.state().marks;
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(
        (saved[0].uid.as_str(), saved[0].size),
        (uids[1].as_str(), Some(second.size)),
        "kept on disk by UID with the size it was listed with"
    );
}

#[test]
fn a_committed_deletion_never_comes_back_in_the_next_starts_cached_list() {
    let server = Server::start(Mailbox::generated(5), ServerOptions::default()).unwrap();
    let uids = server.mailbox_uids();
    let mem = Mem::default();
    let mut h = Harness::start(
        support::worker::demo_config(server.addr().port()),
        Box::new(mem.clone()),
    );
    let keys = h.listing();
    h.previews_loaded();
    h.send(Request::Mark(keys[1].clone()));
    h.marks(1);
    h.quit(true);
    assert_eq!(server.mailbox_uids().len(), 4);
    let kept = mem.state().listing;
    let want: Vec<(u32, String)> = [0, 2, 3, 4]
        .iter()
        .zip(1u32..)
        .map(|(&i, n)| (n, uids[i].clone()))
        .collect();
    assert_eq!(
        kept.iter()
            .map(|(n, uid, _)| (*n, uid.clone()))
            .collect::<Vec<_>>(),
        want,
        "the deleted message is left out, the others numbered as the server will"
    );
}
