//! The TUI's save into a local mailbox, in the worker, against a real
//! private Dovecot: the bytes kept equal the server's (dot lines, a 10 KB
//! line), a second save writes nothing twice, a message the server refuses
//! is reported failed and not counted durable (so the app never marks it),
//! and a stop ends the save early.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use popview::localbox::{Destination, lf_bytes};
use popview::worker::api::{Event, MsgKey, Request, SaveOutcome, SaveRequest};
use popview::worker::persist::Memory;

use support::dovecot::{Dovecot, DovecotOptions, generated_messages};
use support::worker::{Harness, dovecot_config};

fn messages(n: usize) -> Vec<Vec<u8>> {
    let mut msgs = generated_messages(n);
    // Dot-stuffed lines and a 10 KB line.
    msgs.push(
        format!(
            "From: a@example.org\r\nSubject: dots\r\n\r\n.\r\n..two\r\n.three\r\n{}\r\nend\r\n",
            "x".repeat(10_000)
        )
        .into_bytes(),
    );
    msgs
}

fn start(msgs: &[Vec<u8>], window: Option<usize>) -> (Dovecot, Harness, Vec<MsgKey>) {
    let d = Dovecot::start(DovecotOptions::with_messages(msgs.to_vec()));
    let mut cfg = dovecot_config(&d);
    cfg.previews = false;
    if let Some(w) = window {
        cfg.pipeline_window = w;
    }
    let mut h = Harness::start(cfg, Box::new(Memory::default()));
    let keys = h.listing();
    (d, h, keys)
}

fn save(h: &mut Harness, id: u64, keys: &[MsgKey], dest: &Destination, idx: &Path) -> SaveOutcome {
    h.send(Request::Save(SaveRequest {
        id,
        keys: keys.to_vec(),
        dest: dest.clone(),
        index_dir: Some(idx.to_path_buf()),
    }));
    match h.wait(
        "the save's outcome",
        |e| matches!(e, Event::SaveDone(o) if o.id == id),
    ) {
        Event::SaveDone(o) => *o,
        _ => unreachable!(),
    }
}

/// Every file of the Maildir's `new/` and `cur/`.
fn maildir_contents(dir: &Path) -> BTreeSet<Vec<u8>> {
    ["new", "cur"]
        .iter()
        .flat_map(|s| std::fs::read_dir(dir.join(s)).unwrap())
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

#[test]
fn saved_bytes_equal_the_servers_and_a_second_save_writes_nothing() {
    let msgs = messages(8);
    let (_d, mut h, keys) = start(&msgs, None);
    assert_eq!(keys.len(), msgs.len());
    let tmp = tempfile::tempdir().unwrap();
    let dest = Destination::Maildir(tmp.path().join("inbox"));
    let idx = tmp.path().join("idx");
    let o = save(&mut h, 1, &keys, &dest, &idx);
    assert!(o.failed.is_empty(), "{o:?}");
    assert_eq!(o.saved.len(), msgs.len());
    assert_eq!(o.durable.len(), msgs.len(), "every copy checked");
    assert!(!o.stopped);
    let want: BTreeSet<Vec<u8>> = msgs.iter().map(|m| lf_bytes(m)).collect();
    assert_eq!(maildir_contents(dest.path()), want);
    // Progress came, the last one with every message done.
    let last = h
        .seen
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::SaveProgress {
                done, total, bytes, ..
            } => Some((*done, *total, *bytes)),
            _ => None,
        })
        .expect("progress");
    assert_eq!((last.0, last.1), (msgs.len(), msgs.len()));
    assert!(last.2 > 10_000);
    // Again: nothing written twice, everything said to be there before
    // (and still durable, so a move can mark them).
    let o = save(&mut h, 2, &keys, &dest, &idx);
    assert!(o.saved.is_empty(), "{o:?}");
    assert_eq!(o.before.len(), msgs.len());
    assert_eq!(o.durable.len(), msgs.len());
    assert_eq!(maildir_contents(dest.path()).len(), msgs.len());
    // And into an mbox, the same bytes in From_-quoted form.
    let mbox = Destination::Mbox(tmp.path().join("box.mbox"));
    let o = save(&mut h, 3, &keys[..2], &mbox, &idx);
    assert_eq!(o.saved.len(), 2, "{o:?}");
    let text = std::fs::read(mbox.path()).unwrap();
    assert!(text.windows(5).filter(|w| w == b"From ").count() >= 2);
    h.quit(false);
}

#[test]
fn a_message_the_server_refuses_fails_alone_and_is_not_durable() {
    let msgs = messages(5);
    let (d, mut h, keys) = start(&msgs, None);
    // Message 3 vanishes from the server's Maildir after the listing.
    let prefix = format!("{}.M{:08}", 1_700_000_000 + 3, 3);
    let cur = d.maildir.join("cur");
    for e in std::fs::read_dir(&cur).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let dest = Destination::Maildir(tmp.path().join("inbox"));
    let o = save(&mut h, 7, &keys, &dest, &tmp.path().join("idx"));
    let failed: Vec<u32> = o.failed.iter().map(|(k, _)| k.number).collect();
    assert_eq!(failed, vec![3], "{o:?}");
    assert!(!o.failed[0].1.is_empty());
    let durable: BTreeSet<u32> = o.durable.iter().map(|k| k.number).collect();
    assert_eq!(durable, [1, 2, 4, 5, 6].into_iter().collect());
    assert_eq!(maildir_contents(dest.path()).len(), msgs.len() - 1);
    // A key the server no longer lists fails too, with words.
    let ghost = MsgKey::new(99, Some("no-such-uid".into()));
    let o = save(&mut h, 8, &[ghost], &dest, &tmp.path().join("idx"));
    assert_eq!(o.failed.len(), 1);
    assert!(o.failed[0].1.contains("no longer on the server"), "{o:?}");
    // A message marked in this session (DELE sent) can't be retrieved: said
    // so, with what to do. Message 1 was saved above: it is there before.
    h.send(Request::Mark(keys[0].clone()));
    h.send(Request::Mark(keys[5].clone()));
    h.marks(2);
    let o = save(
        &mut h,
        9,
        &[keys[0].clone()],
        &dest,
        &tmp.path().join("idx"),
    );
    assert_eq!(o.before, vec![keys[0].clone()], "{o:?}");
    let other = tempfile::tempdir().unwrap();
    let o = save(
        &mut h,
        10,
        &[keys[5].clone()],
        &Destination::Maildir(other.path().join("m")),
        &tmp.path().join("idx"),
    );
    assert_eq!(o.failed.len(), 1, "{o:?}");
    assert!(o.failed[0].1.contains("marked for deletion"), "{o:?}");
    h.quit(false);
}

#[test]
fn a_stop_ends_the_save_early() {
    let msgs = generated_messages(120);
    let (_d, mut h, keys) = start(&msgs, Some(2));
    let tmp = tempfile::tempdir().unwrap();
    let dest = Destination::Maildir(tmp.path().join("inbox"));
    h.send(Request::Save(SaveRequest {
        id: 1,
        keys: keys.clone(),
        dest: dest.clone(),
        index_dir: None,
    }));
    // Once the first message is in, stop.
    h.wait(
        "progress",
        |e| matches!(e, Event::SaveProgress { done, .. } if *done >= 1),
    );
    h.send(Request::StopSave);
    let o = match h.wait("the outcome", |e| matches!(e, Event::SaveDone(_))) {
        Event::SaveDone(o) => *o,
        _ => unreachable!(),
    };
    assert!(o.stopped, "{o:?}");
    assert!(o.not_reached > 0, "{o:?}");
    assert_eq!(o.saved.len() + o.not_reached, msgs.len());
    assert_eq!(maildir_contents(dest.path()).len(), o.saved.len());
    // The session goes on: a read after the save is served.
    h.send(Request::Retrieve {
        ticket: 5,
        key: keys[0].clone(),
    });
    h.wait("the message", |e| {
        matches!(e, Event::Message { ticket: 5, .. })
    });
    h.quit(false);
}
