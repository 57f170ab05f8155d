//! Messages for the streamed saves' tests (`popview save`, the TUI's save):
//! small ones, a big one with every line shape that dot-stuffing and
//! mboxrd quoting care about, and a server's RETR answer cut part way;
//! what a Maildir holds, and a byte comparison that says where it differs.

use std::fs;
use std::path::Path;

/// A small message, `n` in its sender and subject.
pub fn small(n: usize) -> Vec<u8> {
    format!(
        "From: s{n}@example.org\r\nSubject: small {n}\r\n\
         Date: Thu, 3 Dec 2026 04:36:22 +0100\r\n\r\nFrom the small one\r\n"
    )
    .into_bytes()
}

/// A message of at least `size` bytes: dot lines, `From ` lines at every
/// quoting depth, a header section with Return-Path, and no final newline.
pub fn big(size: u64) -> Vec<u8> {
    let mut m = b"Return-Path: <bounce@example.org>\r\nFrom: Big <big@example.org>\r\n\
Subject: big\r\nDate: Thu, 3 Dec 2026 04:36:22 +0100\r\n\r\n.a dot line\r\n"
        .to_vec();
    let mut i = 0u64;
    while (m.len() as u64) < size {
        i += 1;
        match i % 5 {
            0 => m.extend_from_slice(b"From me, a line to quote\r\n"),
            1 => m.extend_from_slice(b">>From deeper\r\n"),
            2 => m.extend_from_slice(b".\r\n"),
            _ => m.extend_from_slice(format!("line {i} {}\r\n", "x".repeat(70)).as_bytes()),
        }
    }
    m.extend_from_slice(b"the end, no newline");
    m
}

/// The server's RETR answer for `msg`, dot-stuffed, cut after `keep` bytes.
pub fn half_answer(msg: &[u8], keep: usize) -> Vec<u8> {
    let mut out = b"+OK message follows\r\n".to_vec();
    for line in msg.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.truncate(keep);
    out
}

/// The messages in the Maildir `root`'s `new/`, sorted.
pub fn new_files(root: &Path) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = fs::read_dir(root.join("new"))
        .unwrap()
        .flatten()
        .map(|e| fs::read(e.path()).unwrap())
        .collect();
    v.sort();
    v
}

/// Equal bytes; on a difference, where it starts (not megabytes of bytes).
#[track_caller]
pub fn same_bytes(got: &[u8], want: &[u8]) {
    if got != want {
        let at = got.iter().zip(want).take_while(|(a, b)| a == b).count();
        panic!(
            "{} bytes, {} wanted; they differ from byte {at}: {:?}",
            got.len(),
            want.len(),
            String::from_utf8_lossy(&got[at..got.len().min(at + 80)])
        );
    }
}
