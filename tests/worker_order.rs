//! The order of the list's previews (issue 12 §1): the screen the user sees
//! first is fetched first (newest first, as popview starts), and a later
//! view (`G`, a page down, a limit) moves its rows to the front of what is
//! not yet sent, behind a bounded number of others.

mod support;

use popview::demo::{Mailbox, Server, ServerOptions};
use popview::worker::api::{Event, Request};
use support::worker::FirstTopGate;
use support::worker::Harness;

type Mem = popview::worker::persist::Memory;

/// The message numbers of the `TOP n 0` lines the server received, in order.
fn top_numbers(server: &Server) -> Vec<u32> {
    server
        .log()
        .iter()
        .filter_map(|l| {
            let rest = l.line.strip_prefix("TOP ")?.strip_suffix(" 0")?;
            rest.parse().ok()
        })
        .collect()
}

#[test]
fn the_newest_screen_is_the_first_tops_sent() {
    let n = 500;
    let server = Server::start(Mailbox::generated(n), ServerOptions::default()).unwrap();
    let mut h = Harness::start(
        support::worker::demo_config(server.addr().port()),
        Box::new(Mem::default()),
    );
    h.listing();
    h.previews_loaded();
    let tops = top_numbers(&server);
    let newest: Vec<u32> = (1..=n as u32).rev().take(60).collect();
    assert_eq!(tops[..60], newest[..], "the first TOPs: {:?}", &tops[..60]);
    let mut all = tops.clone();
    all.sort_unstable();
    all.dedup();
    assert_eq!((tops.len(), all.len()), (n, n), "each preview asked once");
    assert_eq!(h.count_previews(), n);
    h.quit(false);
}

#[test]
fn a_far_view_is_fetched_next_behind_a_bounded_few() {
    let n = 1500;
    // The server holds its first TOP until the test has sent the far view,
    // so that view reaches a worker with most of the fill still unsent.
    let gate = FirstTopGate::default();
    let opts = gate.options();
    let server = Server::start(Mailbox::generated(n), opts).unwrap();
    let mut h = Harness::start(
        support::worker::demo_config(server.addr().port()),
        Box::new(Mem::default()),
    );
    let keys = h.listing();
    gate.wait_entered();
    // A page far down (a jump, a limit): messages 700 to 729, as the UI
    // lists them (newest first); neither end of the listing.
    let far: Vec<_> = keys[699..729].iter().rev().cloned().collect();
    h.send(Request::Visible(far));
    gate.release();
    h.previews_loaded();
    let tops = top_numbers(&server);
    assert_eq!(tops.len(), n, "each preview asked once");
    let last_far = tops
        .iter()
        .rposition(|&m| (700..=729).contains(&m))
        .expect("the far rows were fetched");
    // In flight before the view came: at most the fill's first depth (400).
    assert!(
        last_far < 400 + 30 + 2,
        "the far view's rows came only at TOP #{last_far} of {n}: {:?}",
        &tops[..last_far.min(460)]
    );
    // Then the fill goes on from the far view outward, both ways, not
    // from where it was.
    let after: Vec<u32> = tops[last_far + 1..].iter().take(6).copied().collect();
    assert_eq!(after, [699, 730, 698, 731, 697, 732], "after the far view");
    assert!(
        !h.seen.iter().any(|e| matches!(e, Event::Error(_))),
        "{}",
        support::worker::summary(&h.seen)
    );
    h.quit(false);
}

/// The worker's guess before the UI speaks (newest first) is what the app
/// really shows first: the first `Visible` it sends after the listing names
/// the highest message numbers, newest on top.
#[test]
fn the_apps_first_screen_is_the_newest_as_the_worker_assumes() {
    use popview::app::{App, AppEvent, AppOptions};
    use popview::worker::api::{ListEntry, MsgKey};

    let mut app = App::new(AppOptions::default());
    app.handle(AppEvent::Resize(100, 30));
    let n = 500u32;
    let out = app.handle(AppEvent::Worker(Event::Listing {
        entries: (1..=n)
            .map(|i| ListEntry {
                key: MsgKey::new(i, Some(format!("u{i}"))),
                size: 100,
            })
            .collect(),
        no_uidl_reason: None,
    }));
    let mut out = out;
    out.extend(app.handle(AppEvent::Tick));
    let shown: Vec<u32> = out
        .iter()
        .find_map(|e| match e {
            popview::app::Effect::Send(Request::Visible(keys)) => {
                Some(keys.iter().map(|k| k.number).collect())
            }
            _ => None,
        })
        .expect("the app says which rows it shows");
    assert!(shown.len() >= 10, "{shown:?}");
    let newest: Vec<u32> = (1..=n).rev().take(shown.len()).collect();
    assert_eq!(shown, newest);
}
