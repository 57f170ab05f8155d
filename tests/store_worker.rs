//! The worker and the on-disk header cache: previews fetched once are
//! appended to the logs, a session that changes nothing writes nothing, a
//! commit appends only what it removed, and each listing is kept as the
//! last listing (not rewritten when unchanged).

mod support;

use popview::demo::{Mailbox, Server, ServerOptions};
use popview::store::{HEADERS_BLOCKS_FILE, HEADERS_LOG_FILE, LISTING_FILE, Store};
use popview::worker::api::Request;
use popview::worker::persist::OnDisk;
use support::worker::Harness;

fn bytes(s: &Store, f: &str) -> Vec<u8> {
    std::fs::read(s.cache_dir().join(f)).unwrap_or_default()
}

#[cfg(unix)]
fn inode(s: &Store, f: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(s.cache_dir().join(f)).unwrap().ino()
}

#[cfg(unix)]
#[test]
fn the_worker_writes_only_what_changed() {
    let server = Server::start(Mailbox::generated(30), ServerOptions::default()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path(), "k").unwrap();
    let cfg = || support::worker::demo_config(server.addr().port());
    let start = || Harness::start(cfg(), Box::new(OnDisk::new(store.clone(), true, true)));

    // First session: 30 previews fetched, appended; the listing kept.
    let mut h = start();
    h.listing();
    h.previews_loaded();
    h.quit(false);
    let fresh = || Store::open(root.path(), "k").unwrap();
    assert_eq!(fresh().load_headers().len(), 30);
    let uids = server.mailbox_uids();
    let listing = fresh().load_listing();
    assert_eq!(
        listing
            .iter()
            .map(|(_, u, _)| u.clone())
            .collect::<Vec<_>>(),
        uids
    );
    assert_eq!(
        listing.iter().map(|l| l.0).collect::<Vec<_>>(),
        (1..=30).collect::<Vec<u32>>()
    );
    let (index, blocks) = (
        bytes(&store, HEADERS_LOG_FILE),
        bytes(&store, HEADERS_BLOCKS_FILE),
    );
    let listing_inode = inode(&store, LISTING_FILE);

    // Second session, nothing changed: nothing written.
    let mut h = start();
    let keys = h.listing();
    h.previews_loaded();
    assert_eq!(bytes(&store, HEADERS_LOG_FILE), index);
    assert_eq!(bytes(&store, HEADERS_BLOCKS_FILE), blocks);
    assert_eq!(
        inode(&store, LISTING_FILE),
        listing_inode,
        "an unchanged listing is rewritten"
    );
    // Delete one: the logs grow by a FORGET record, nothing is rewritten.
    h.send(Request::Mark(keys[0].clone()));
    h.marks(1);
    h.quit(true);
    assert_eq!(server.mailbox_uids().len(), 29);
    let after = bytes(&store, HEADERS_LOG_FILE);
    assert!(after.starts_with(&index), "the index log was rewritten");
    assert!(
        after.len() > index.len() && after.len() - index.len() < 64,
        "{}",
        after.len() - index.len()
    );
    assert_eq!(fresh().load_headers().len(), 29);

    // Third session: the new listing replaces the kept one.
    let mut h = start();
    h.listing();
    h.previews_loaded();
    h.quit(false);
    assert_eq!(fresh().load_listing().len(), 29);
}

/// The header blocks come from their own log, read while the session
/// opens: the previews of a warm start carry them (for `~h`), and when
/// that log is lost, the previews are fetched again rather than shown
/// without their headers.
#[test]
fn warm_previews_carry_their_header_blocks_and_a_lost_blocks_log_refetches() {
    use popview::worker::api::Event;
    let server = Server::start(Mailbox::generated(12), ServerOptions::default()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path(), "k").unwrap();
    let start = || {
        let s = Store::open(root.path(), "k").unwrap();
        let cfg = support::worker::demo_config(server.addr().port());
        Harness::start(cfg, Box::new(OnDisk::new(s, true, true)))
    };
    // The session's previews (the cached list's, shown before connecting,
    // have no blocks yet; the session sends them again with theirs).
    let previews = |events: &[Event]| {
        let from = events
            .iter()
            .position(|e| matches!(e, Event::Listing { .. }))
            .unwrap_or(0);
        let mut v: Vec<(String, String)> = events[from..]
            .iter()
            .flat_map(|e| match e {
                Event::Previews(p) => p.clone(),
                _ => Vec::new(),
            })
            .map(|(k, s)| (k.uid.unwrap_or_default(), s.headers))
            .collect();
        v.sort();
        v
    };
    let tops = || {
        server
            .log()
            .iter()
            .filter(|l| l.line.starts_with("TOP "))
            .count()
    };
    let mut h = start();
    h.listing();
    h.previews_loaded();
    let cold = previews(&h.quit(false));
    assert_eq!(cold.len(), 12);
    assert!(
        cold.iter().all(|(_, block)| block.contains("Subject: ")),
        "{cold:?}"
    );
    let fetched = tops();

    let mut h = start();
    h.listing();
    h.previews_loaded();
    assert_eq!(
        previews(&h.quit(false)),
        cold,
        "warm previews lost their blocks"
    );
    assert_eq!(tops(), fetched, "a warm start fetched previews");

    std::fs::remove_file(store.cache_dir().join(HEADERS_BLOCKS_FILE)).unwrap();
    let mut h = start();
    h.listing();
    h.previews_loaded();
    assert_eq!(
        previews(&h.quit(false)),
        cold,
        "previews without their blocks"
    );
    assert_eq!(
        tops(),
        fetched + 12,
        "previews without blocks are fetched again"
    );
    let back = Store::open(root.path(), "k").unwrap().load_headers();
    assert_eq!(back.len(), 12);
}
