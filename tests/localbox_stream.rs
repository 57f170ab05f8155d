//! `localbox::Keeper::begin` (a message kept as it arrives): whatever the
//! pieces, the Maildir file and the mbox bytes equal what `keep` (the
//! whole message) writes; a header section past the bound still gets its
//! envelope; an abort part way leaves the mbox byte for byte as it was and
//! nothing in the Maildir, and the message is not recorded as saved.

use std::fs;
use std::path::Path;

use popview::localbox::{Destination, Keeper, lf_bytes, mbox, saving::MAX_HEADER_SECTION};

fn message(body_lines: usize) -> Vec<u8> {
    let mut m = b"Return-Path: <r@example.org>\r\nFrom: A <a@example.org>\r\n\
Date: Thu, 3 Dec 2026 04:36:22 +0100\r\nSubject: s\r\n\r\n"
        .to_vec();
    for i in 0..body_lines {
        match i % 4 {
            0 => m.extend_from_slice(b"From the body\r\n"),
            1 => m.extend_from_slice(b">From quoted\r\n"),
            2 => m.extend_from_slice(b"a lone\rCR\r\n"),
            _ => m.extend_from_slice(format!("line {i}\r\n").as_bytes()),
        }
    }
    m.extend_from_slice(b"no final newline");
    m
}

/// Keep `raw` streamed in pieces of `cut` bytes.
fn stream(k: &mut Keeper, uid: &str, raw: &[u8], cut: usize) {
    let mut s = k.begin(uid, raw.len() as u64).unwrap();
    for piece in raw.chunks(cut) {
        s.write(piece).unwrap();
    }
    let kept = s.finish().unwrap();
    assert!(kept.checked && !kept.already_there);
}

fn only_file(dir: &Path) -> Vec<u8> {
    let files: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "{dir:?}");
    fs::read(files[0].path()).unwrap()
}

#[test]
fn pieces_of_any_size_store_what_the_whole_message_stores() {
    let d = tempfile::tempdir().unwrap();
    let raw = message(200);
    for cut in [1, 2, 3, 7, 64, 1000, raw.len()] {
        let whole = Destination::Mbox(d.path().join(format!("whole-{cut}")));
        let streamed = Destination::Mbox(d.path().join(format!("streamed-{cut}")));
        Keeper::open(whole.clone(), None)
            .unwrap()
            .keep(Some("u"), raw.len() as u64, raw.clone())
            .unwrap();
        stream(
            &mut Keeper::open(streamed.clone(), None).unwrap(),
            "u",
            &raw,
            cut,
        );
        assert_eq!(
            fs::read(streamed.path()).unwrap(),
            fs::read(whole.path()).unwrap(),
            "mbox, pieces of {cut}"
        );
        let md = d.path().join(format!("Mail-{cut}"));
        stream(
            &mut Keeper::open(Destination::Maildir(md.clone()), None).unwrap(),
            "u",
            &raw,
            cut,
        );
        assert_eq!(
            only_file(&md.join("new")),
            lf_bytes(&raw),
            "Maildir, pieces of {cut}"
        );
        assert_eq!(fs::read_dir(md.join("tmp")).unwrap().count(), 0);
    }
}

#[test]
fn a_header_section_past_the_bound_still_gets_its_envelope() {
    let d = tempfile::tempdir().unwrap();
    let mut raw = b"From: A <a@example.org>\r\n".to_vec();
    while raw.len() < MAX_HEADER_SECTION + 10_000 {
        raw.extend_from_slice(b"X-Filler: 0123456789012345678901234567890123456789\r\n");
    }
    raw.extend_from_slice(b"\r\nFrom the body\r\n");
    let p = d.path().join("box");
    stream(
        &mut Keeper::open(Destination::Mbox(p.clone()), None).unwrap(),
        "u",
        &raw,
        4096,
    );
    let lf = lf_bytes(&raw);
    let text = fs::read(&p).unwrap();
    assert!(text.starts_with(b"From a@example.org "), "the sender seen");
    // The rest as the whole message has it (the date is now: not compared).
    let body_at = text.iter().position(|&b| b == b'\n').unwrap() + 1;
    let whole = mbox::mboxrd("x", "d", &lf);
    let whole_at = whole.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert!(text[body_at..] == whole[whole_at..], "the quoted message");
}

#[test]
fn an_abort_part_way_leaves_nothing_and_records_nothing() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    let raw = message(20_000);
    let first = message(3);
    for dest in [
        Destination::Mbox(d.path().join("box")),
        Destination::Maildir(d.path().join("Mail")),
    ] {
        let mut k = Keeper::open(dest.clone(), Some(&state)).unwrap();
        k.keep(Some("first"), first.len() as u64, first.clone())
            .unwrap();
        let before_mbox = fs::read(dest.path()).ok();
        {
            let mut s = k.begin("big", raw.len() as u64).unwrap();
            for piece in raw[..raw.len() / 2].chunks(4096) {
                s.write(piece).unwrap();
            }
            if let Destination::Mbox(p) = &dest {
                assert!(
                    fs::metadata(p).unwrap().len() > before_mbox.as_ref().unwrap().len() as u64,
                    "written as it arrives"
                );
            }
            s.abort();
        }
        match &dest {
            Destination::Mbox(p) => {
                assert!(
                    fs::read(p).ok() == before_mbox,
                    "the mbox is exactly as before"
                );
                assert!(!Path::new(&format!("{}.lock", p.display())).exists());
            }
            Destination::Maildir(p) => {
                assert_eq!(fs::read_dir(p.join("new")).unwrap().count(), 1);
                assert_eq!(fs::read_dir(p.join("tmp")).unwrap().count(), 0);
            }
        }
        assert!(!k.already_saved("big", raw.len() as u64));
        drop(k);
        let k = Keeper::open(dest.clone(), Some(&state)).unwrap();
        assert!(k.already_saved("first", first.len() as u64));
        assert!(!k.already_saved("big", raw.len() as u64), "{dest:?}");
    }
}
