//! The TUI's save (the worker's `Request::Save`, `s`/`C`) of a message of
//! `STREAM_FROM` or more streams it into the mailbox as it arrives, as
//! `popview save` does: the Maildir file and the mbox bytes are exactly
//! what saving the whole message gives (small messages around it still
//! pipelined), the first half of a message is on disk while the second
//! is still on its way (so the message is not held whole), and a
//! connection dropped part way leaves nothing of it.

mod support;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use popview::demo::{Action, Mailbox, Server, ServerOptions};
use popview::localbox::{Destination, STREAM_FROM, lf_bytes, mbox};
use popview::worker::api::{Event, MsgKey, Request, SaveOutcome, SaveRequest};
use popview::worker::persist::Memory;
use support::bigmail::{big, half_answer, new_files, same_bytes, small};
use support::worker::{Harness, demo_config};

/// `small(1)`, `big(STREAM_FROM + 400_000)`, `small(3)`; while `armed`, a RETR of message 2
/// gets half of it, then silence for `stall`, then the connection closes.
fn server(armed: Arc<AtomicBool>, stall: Duration) -> Server {
    let b = big(STREAM_FROM + 400_000);
    let cut = half_answer(&b, b.len() / 2);
    Server::start(
        Mailbox::from_messages(vec![small(1), b, small(3)]),
        ServerOptions {
            hook: Some(Arc::new(move |ctx| {
                if armed.load(Ordering::SeqCst) && ctx.line == "RETR 2" {
                    Action::ReplyThenStall(cut.clone(), stall)
                } else {
                    Action::Normal
                }
            })),
            ..ServerOptions::default()
        },
    )
    .expect("start server")
}

/// A worker on `s`, its listing's keys.
fn listed(s: &Server) -> (Harness, Vec<MsgKey>) {
    let mut h = Harness::start(demo_config(s.addr().port()), Box::new(Memory::default()));
    let keys = match h.wait("the listing", |e| matches!(e, Event::Listing { .. })) {
        Event::Listing { entries, .. } => entries.into_iter().map(|e| e.key).collect(),
        _ => unreachable!(),
    };
    (h, keys)
}

fn save(h: &mut Harness, keys: &[MsgKey], dest: Destination) -> SaveOutcome {
    h.send(Request::Save(SaveRequest {
        id: 1,
        keys: keys.to_vec(),
        dest,
        index_dir: None,
    }));
    match h.wait("the save's outcome", |e| matches!(e, Event::SaveDone(_))) {
        Event::SaveDone(o) => *o,
        _ => unreachable!(),
    }
}

fn tmp_sizes(root: &Path) -> Vec<u64> {
    fs::read_dir(root.join("tmp"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_big_message_is_saved_byte_for_byte_as_a_whole_one_would_be() {
    let s = server(Arc::new(AtomicBool::new(false)), Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let (mut h, keys) = listed(&s);
    let md = dir.path().join("Mail");
    let o = save(&mut h, &keys, Destination::Maildir(md.clone()));
    assert_eq!(o.saved.len(), 3, "{o:?}");
    assert_eq!(o.durable.len(), 3, "every copy checked: {o:?}");
    let mut want: Vec<Vec<u8>> = [small(1), big(STREAM_FROM + 400_000), small(3)]
        .iter()
        .map(|m| lf_bytes(m))
        .collect();
    want.sort();
    assert!(new_files(&md) == want, "the Maildir files are the messages");
    assert!(tmp_sizes(&md).is_empty());

    let path = dir.path().join("box");
    let o = save(&mut h, &keys, Destination::Mbox(path.clone()));
    assert_eq!(o.saved.len(), 3, "{o:?}");
    // In the order asked (the listing's, newest first).
    let mut want = Vec::new();
    for k in &keys {
        let m = [small(1), big(STREAM_FROM + 400_000), small(3)][k.number as usize - 1].clone();
        let lf = lf_bytes(&m);
        want.extend_from_slice(&mbox::mboxrd(
            &mbox::envelope_sender(&lf),
            &mbox::envelope_date(&lf),
            &lf,
        ));
    }
    same_bytes(&fs::read(&path).unwrap(), &want);
    h.send(Request::Quit { commit: false });
}

#[test]
fn half_a_big_message_is_on_disk_before_the_rest_arrives_and_a_cut_leaves_nothing() {
    let armed = Arc::new(AtomicBool::new(true));
    let s = server(armed.clone(), Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();
    let (mut h, keys) = listed(&s);
    let md = dir.path().join("Mail");
    let two: Vec<MsgKey> = keys.iter().filter(|k| k.number == 2).cloned().collect();
    h.send(Request::Save(SaveRequest {
        id: 1,
        keys: two.clone(),
        dest: Destination::Maildir(md.clone()),
        index_dir: None,
    }));
    // Streamed: the first half is written while the server is silent.
    let half = lf_bytes(&big(STREAM_FROM + 400_000)).len() as u64 / 3;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !tmp_sizes(&md).iter().any(|&n| n >= half) {
        assert!(
            Instant::now() < deadline,
            "no part of the message in tmp/: {:?}",
            tmp_sizes(&md)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = match h.wait("the save's outcome", |e| matches!(e, Event::SaveDone(_))) {
        Event::SaveDone(o) => *o,
        _ => unreachable!(),
    };
    assert!(o.saved.is_empty() && o.durable.is_empty(), "{o:?}");
    assert_eq!(o.failed.len() + o.not_reached, 1, "{o:?}");
    assert!(new_files(&md).is_empty(), "nothing delivered");
    assert!(tmp_sizes(&md).is_empty(), "the part written is taken out");

    // The mbox is left byte for byte as it was.
    armed.store(false, Ordering::SeqCst);
    let path = dir.path().join("box");
    let one: Vec<MsgKey> = keys.iter().filter(|k| k.number == 1).cloned().collect();
    let o = save(&mut h, &one, Destination::Mbox(path.clone()));
    assert_eq!(o.saved.len(), 1, "{o:?}");
    let before = fs::read(&path).unwrap();
    armed.store(true, Ordering::SeqCst);
    let o = save(&mut h, &two, Destination::Mbox(path.clone()));
    assert!(o.saved.is_empty(), "{o:?}");
    same_bytes(&fs::read(&path).unwrap(), &before);
    h.send(Request::Quit { commit: false });
}

/// A message of about `mb` MB of text lines.
fn sized(mb: usize) -> Vec<u8> {
    let mut m = b"From: Huge <huge@example.org>\r\nSubject: huge\r\n\
Date: Thu, 3 Dec 2026 04:36:22 +0100\r\n\r\n"
        .to_vec();
    let mut i = 0u64;
    while m.len() < mb * 1_000_000 {
        i += 1;
        m.extend_from_slice(format!("line {i} {}\r\n", "y".repeat(90)).as_bytes());
    }
    m
}

/// The highest `VmHWM` of process `pid` seen so far, in KiB.
fn hwm_kib(pid: u32) -> Option<u64> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn without_uidl_a_big_message_is_streamed_too_and_recognised_by_its_content() {
    use support::cli::{PW, Sandbox, ca, settle, stls_server_with, url};
    let huge = sized(32);
    let s = stls_server_with(
        Mailbox::from_messages(vec![small(1), huge.clone(), small(3)]),
        ServerOptions {
            uidl: false,
            ..ServerOptions::default()
        },
    );
    let sb = Sandbox::new();
    let md = sb.home().join("Mail");
    let u = url(&s);
    let args = [
        "save",
        "--maildir",
        md.to_str().unwrap(),
        &u,
        "--ca-file",
        ca(),
    ];
    let mut peak = 0;
    let r = sb
        .run_watching(&args, &[("POPVIEW_PASSWORD", PW)], |pid| {
            peak = peak.max(hwm_kib(pid).unwrap_or(0));
        })
        .ok();
    settle(&s);
    assert!(r.out().starts_with("saved 3 messages"), "{}", r.out());
    let mut want: Vec<Vec<u8>> = [small(1), huge.clone(), small(3)]
        .iter()
        .map(|m| lf_bytes(m))
        .collect();
    want.sort();
    assert!(new_files(&md) == want, "the Maildir files are the messages");
    assert!(tmp_sizes(&md).is_empty());
    // The whole process (about 20 MB for a debug build, whatever the
    // message's size) stays under the message's size: holding it can't.
    assert!(peak > 0, "the process's memory was read");
    assert!(
        peak < 30 * 1000 * 1000 / 1024,
        "popview save peaked at {} MB for a 32 MB message",
        peak / 1024
    );
    // Known by content: not saved twice.
    let r = sb.run(&args, &[("POPVIEW_PASSWORD", PW)]).ok();
    settle(&s);
    assert!(r.out().contains("3 saved before"), "{}", r.out());
    assert_eq!(new_files(&md).len(), 3);

    // The TUI's save too, into an mbox, then again (recognised).
    let (mut h, keys) = {
        let mut cfg = demo_config(s.addr().port());
        cfg.connect.tls = popview::pop3::TlsMode::StartTls;
        cfg.connect.ca_file = Some(ca().into());
        cfg.connect.host = "localhost".into();
        cfg.password = Some(PW.into());
        cfg.allow_cleartext = false;
        let mut h = Harness::start(cfg, Box::new(Memory::default()));
        let keys = match h.wait("the listing", |e| matches!(e, Event::Listing { .. })) {
            Event::Listing { entries, .. } => {
                entries.into_iter().map(|e| e.key).collect::<Vec<_>>()
            }
            _ => unreachable!(),
        };
        (h, keys)
    };
    let path = sb.home().join("box");
    let index = sb.home().join("index");
    let save_to_box = |h: &mut Harness| {
        h.send(Request::Save(SaveRequest {
            id: 1,
            keys: keys.clone(),
            dest: Destination::Mbox(path.clone()),
            index_dir: Some(index.clone()),
        }));
        match h.wait("the save's outcome", |e| matches!(e, Event::SaveDone(_))) {
            Event::SaveDone(o) => *o,
            _ => unreachable!(),
        }
    };
    let o = save_to_box(&mut h);
    assert_eq!(o.saved.len(), 3, "{o:?}");
    let held = fs::read(&path).unwrap();
    let lf = lf_bytes(&huge);
    let one = mbox::mboxrd(&mbox::envelope_sender(&lf), &mbox::envelope_date(&lf), &lf);
    assert!(
        held.windows(one.len()).any(|w| w == one),
        "the mbox holds the big message as a whole save writes it"
    );
    let o = save_to_box(&mut h);
    assert_eq!((o.saved.len(), o.before.len()), (0, 3), "{o:?}");
    same_bytes(&fs::read(&path).unwrap(), &held);
    h.send(Request::Quit { commit: false });
}
