//! The body cache (`cache_bodies`) through the worker, against the
//! in-process POP3 server: a second open sends no RETR, a cached message
//! reads with the server down, a UID whose size changed is fetched again,
//! a marked message is still refused, off writes nothing, and a new
//! session sends the cached texts that `~b` then finds.

mod support;

use std::path::Path;

use popview::app::{App, AppEvent, AppOptions};
use popview::demo::{Mailbox, Server, ServerOptions};
use popview::worker::api::{Event, ListEntry, MsgKey, Request};
use popview::worker::persist::{OnDisk, Persist};
use support::worker::{Dirs, Harness, demo_config};

const CAP: u64 = 1 << 20;

fn message(word: &str) -> Vec<u8> {
    format!(
        "From: Ann <ann@example.com>\r\nTo: bob@example.com\r\nSubject: note\r\n\
         Message-ID: <{word}@example.com>\r\n\r\nThe body says {word} and more.\r\n"
    )
    .into_bytes()
}

fn persist(dirs: &Dirs, bodies: Option<u64>) -> Box<dyn Persist> {
    let mut d = OnDisk::new(dirs.store(), true, true);
    d.bodies = bodies;
    Box::new(d)
}

fn retrs(server: &Server) -> usize {
    server
        .log()
        .iter()
        .filter(|l| l.line.starts_with("RETR "))
        .count()
}

/// Opens `key` with `ticket`; the raw bytes of the answer.
fn open(h: &mut Harness, ticket: u64, key: &MsgKey) -> Vec<u8> {
    h.send(Request::Retrieve {
        ticket,
        key: key.clone(),
    });
    match h.wait(
        "the message",
        |e| matches!(e, Event::Message { ticket: t, .. } | Event::ReadFailed { ticket: t, .. } if *t == ticket),
    ) {
        Event::Message { view, .. } => view.raw,
        other => panic!("not read: {other:?}"),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir` (bounded walk).
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten().take(10_000) {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_second_open_sends_no_retr_and_the_cache_serves_a_new_worker_with_the_server_down() {
    let server = Server::start(
        Mailbox::from_messages(vec![message("aardvark"), message("zebrafish")]),
        ServerOptions::default(),
    )
    .unwrap();
    let port = server.addr().port();
    let dirs = Dirs::new();
    let mut h = Harness::start(demo_config(port), persist(&dirs, Some(CAP)));
    let keys = h.listing();
    let first = open(&mut h, 1, &keys[1]);
    assert!(contains(&first, b"zebrafish"));
    assert_eq!(retrs(&server), 1);
    // Again, in the same session: from the cache.
    let again = open(&mut h, 2, &keys[1]);
    assert_eq!(again, first);
    assert_eq!(retrs(&server), 1, "the second open sent a RETR");
    h.quit(false);

    // The server goes away; a new worker reads the message anyway.
    drop(server);
    let mut cfg = demo_config(port);
    cfg.max_attempts = 2;
    let mut h = Harness::start(cfg, persist(&dirs, Some(CAP)));
    let offline = open(&mut h, 3, &keys[1]);
    assert_eq!(offline, first);
    // ... and `~b` finds its word in the new session: the worker sends the
    // cached texts, the app matches them.
    let is_texts = |e: &Event| matches!(e, Event::CachedBodies(_));
    let texts = match h.seen.iter().find(|e| is_texts(e)).cloned() {
        Some(e) => e,
        None => h.wait("cached texts", is_texts),
    };
    let Event::CachedBodies(texts) = texts else {
        unreachable!()
    };
    assert!(
        texts
            .iter()
            .any(|(uid, t)| Some(uid) == keys[1].uid.as_ref() && t.contains("zebrafish")),
        "{texts:?}"
    );
    // A message never read is not in the cache: not served offline. The
    // answer to a later (cached) open shows the first was taken in.
    h.send(Request::Retrieve {
        ticket: 4,
        key: keys[0].clone(),
    });
    assert_eq!(open(&mut h, 5, &keys[1]), first);
    let seen = h.crash();
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::Message { ticket: 4, .. })),
        "a message never read was shown offline"
    );

    let mut app = App::new(AppOptions {
        account_label: "alice".into(),
        big_message_threshold: u64::MAX,
        ..Default::default()
    });
    app.handle(AppEvent::Resize(100, 30));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: keys
            .iter()
            .map(|k| ListEntry {
                key: k.clone(),
                size: 100,
            })
            .collect(),
        no_uidl_reason: None,
    }));
    limit(&mut app, "~b zebrafish");
    assert_eq!(app.view_len(), 0, "nothing matches before the texts come");
    app.handle(AppEvent::Worker(Event::CachedBodies(texts)));
    limit(&mut app, "~b zebrafish");
    assert_eq!(app.view_len(), 1);
    assert_eq!(app.cursor_key(), Some(&keys[1]));
}

fn limit(app: &mut App, pattern: &str) {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let key = |c: KeyCode| AppEvent::Key(KeyEvent::new(c, KeyModifiers::NONE));
    app.handle(key(KeyCode::Char('l')));
    for c in pattern.chars() {
        app.handle(key(KeyCode::Char(c)));
    }
    app.handle(key(KeyCode::Enter));
    app.handle(AppEvent::Tick);
    assert_eq!(app.limit_text(), Some(pattern));
}

#[test]
fn a_uid_whose_size_changed_is_fetched_again() {
    let uid = "fixed-uid-1".to_string();
    let dirs = Dirs::new();
    let old = message("aardvark");
    let server = Server::start(
        Mailbox::from_pairs(vec![(uid.clone(), old.clone())]),
        ServerOptions::default(),
    )
    .unwrap();
    let mut h = Harness::start(demo_config(server.addr().port()), persist(&dirs, Some(CAP)));
    let keys = h.listing();
    assert!(contains(&open(&mut h, 1, &keys[0]), b"aardvark"));
    h.quit(false);
    drop(server);

    // The same UID, now another message of another size.
    let new = message("platypus-longer-word");
    assert_ne!(new.len(), old.len());
    let server = Server::start(
        Mailbox::from_pairs(vec![(uid.clone(), new)]),
        ServerOptions::default(),
    )
    .unwrap();
    let mut h = Harness::start(demo_config(server.addr().port()), persist(&dirs, Some(CAP)));
    let keys = h.listing();
    let got = open(&mut h, 2, &keys[0]);
    assert!(contains(&got, b"platypus"), "the old message was shown");
    assert_eq!(retrs(&server), 1);
    h.quit(false);
}

#[test]
fn a_marked_message_is_refused_even_when_cached() {
    let server = Server::start(
        Mailbox::from_messages(vec![message("aardvark")]),
        ServerOptions::default(),
    )
    .unwrap();
    let dirs = Dirs::new();
    let mut h = Harness::start(demo_config(server.addr().port()), persist(&dirs, Some(CAP)));
    let keys = h.listing();
    open(&mut h, 1, &keys[0]);
    h.send(Request::Mark(keys[0].clone()));
    h.marks(1);
    h.send(Request::Retrieve {
        ticket: 2,
        key: keys[0].clone(),
    });
    let ev = h.wait("an answer", |e| {
        matches!(
            e,
            Event::Message { ticket: 2, .. } | Event::ReadFailed { ticket: 2, .. }
        )
    });
    match ev {
        Event::ReadFailed { reason, .. } => assert!(reason.contains("marked"), "{reason}"),
        other => panic!("a marked message was shown: {other:?}"),
    }
    h.quit(false);
}

#[test]
fn off_writes_nothing_of_a_body_and_keeps_reading_from_the_server() {
    let server = Server::start(
        Mailbox::from_messages(vec![message("quokka")]),
        ServerOptions::default(),
    )
    .unwrap();
    let dirs = Dirs::new();
    let mut h = Harness::start(demo_config(server.addr().port()), persist(&dirs, None));
    let keys = h.listing();
    assert!(contains(&open(&mut h, 1, &keys[0]), b"quokka"));
    assert!(contains(&open(&mut h, 2, &keys[0]), b"quokka"));
    assert_eq!(retrs(&server), 2, "off: every open is a RETR");
    h.quit(false);
    let root = dirs.data_dir().parent().unwrap().to_path_buf();
    let files = files_under(&root);
    assert!(!files.is_empty(), "the walk found the state files");
    for f in files {
        assert!(
            !f.components().any(|c| c.as_os_str() == "bodies"),
            "a body cache dir was made while off: {}",
            f.display()
        );
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            !contains(&bytes, b"quokka and more"),
            "{} holds the body",
            f.display()
        );
    }
}

#[test]
fn a_cached_open_while_released_stays_released() {
    let server = Server::start(
        Mailbox::from_messages(vec![message("aardvark"), message("zebrafish")]),
        ServerOptions::default(),
    )
    .unwrap();
    let dirs = Dirs::new();
    let mut cfg = demo_config(server.addr().port());
    cfg.release_after = Some(std::time::Duration::from_millis(300));
    let mut h = Harness::start(cfg, persist(&dirs, Some(CAP)));
    let keys = h.listing();
    let first = open(&mut h, 1, &keys[0]);
    h.wait("released", |e| matches!(e, Event::Released));
    let at = h.seen.len();
    assert_eq!(open(&mut h, 2, &keys[0]), first);
    // A second one: had the first counted as an action, the worker would
    // have been connecting (told before it took this one in).
    assert_eq!(open(&mut h, 3, &keys[0]), first);
    assert!(
        !h.seen[at..]
            .iter()
            .any(|e| matches!(e, Event::Connecting { .. })),
        "a cached read ended the release: {}",
        support::worker::summary(&h.seen[at..])
    );
    assert_eq!(server.connections(), 1);
    assert_eq!(retrs(&server), 1);
    // An uncached one needs the server: connects again.
    let other = open(&mut h, 4, &keys[1]);
    assert!(contains(&other, b"zebrafish"));
    assert_eq!(server.connections(), 2);
    h.quit(false);
}

#[test]
fn a_damaged_cache_file_is_never_shown_the_message_comes_from_the_server() {
    let server = Server::start(
        Mailbox::from_messages(vec![message("aardvark")]),
        ServerOptions::default(),
    )
    .unwrap();
    let dirs = Dirs::new();
    let mut h = Harness::start(demo_config(server.addr().port()), persist(&dirs, Some(CAP)));
    let keys = h.listing();
    let first = open(&mut h, 1, &keys[0]);
    h.quit(false);
    // Someone rewrites the cached copy: same length, other words.
    let dir = popview::bodycache::dir_in(dirs.store().cache_dir());
    let files = files_under(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let bytes = std::fs::read(&files[0]).unwrap();
    let forged: Vec<u8> = String::from_utf8(bytes)
        .unwrap()
        .replace("aardvark", "PAY-HERE")
        .into_bytes();
    std::fs::write(&files[0], forged).unwrap();

    let mut h = Harness::start(demo_config(server.addr().port()), persist(&dirs, Some(CAP)));
    let keys = h.listing();
    let got = open(&mut h, 2, &keys[0]);
    assert_eq!(got, first, "the forged copy was shown");
    assert_eq!(retrs(&server), 2, "fetched again from the server");
    let seen = h.quit(false);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Notice(n) if n.contains("removed, not shown"))),
        "no warning: {}",
        support::worker::summary(&seen)
    );
}
