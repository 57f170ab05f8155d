//! What keeping a message locally costs, without the network: 2,000
//! messages of about 6 KB each through `localbox::Keeper` into a Maildir
//! and an mbox (each write fsynced, each recorded before and after in the
//! journal), then a second pass that finds every one saved already.
//!
//! Run: `cargo bench --bench localbox [-- DIR]`. DIR is where the
//! mailboxes are written (default: a temp dir; fsync costs depend on the
//! file system, so measure where your mail lives).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use popview::localbox::{Destination, Keeper};

const N: usize = 2000;

fn message(i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender {i} <s{i}@example.org>\r\nTo: me@example.org\r\nSubject: message {i}\r\n\
         Date: Thu, 3 Dec 2026 03:36:22 +0000\r\nMessage-ID: <{i}@example.org>\r\n\r\n"
    )
    .into_bytes();
    for l in 0..80 {
        m.extend_from_slice(
            format!("line {l} of message {i}: the quick brown fox jumps over the lazy dog\r\n")
                .as_bytes(),
        );
    }
    m.extend_from_slice(b"From the end\r\n");
    m
}

fn run(dest: Destination, state: &std::path::Path, msgs: &[Vec<u8>]) -> (Duration, Duration) {
    let mut k = Keeper::open(dest.clone(), Some(state)).expect("open");
    let t = Instant::now();
    for (i, m) in msgs.iter().enumerate() {
        let kept = k
            .keep(Some(&format!("uid{i}")), m.len() as u64, m.as_slice())
            .expect("keep");
        assert!(kept.checked);
    }
    let first = t.elapsed();
    drop(k);
    let t = Instant::now();
    let k = Keeper::open(dest, Some(state)).expect("reopen");
    for (i, m) in msgs.iter().enumerate() {
        assert!(k.already_saved(&format!("uid{i}"), m.len() as u64));
    }
    (first, t.elapsed())
}

fn main() {
    let arg = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let tmp = match &arg {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let root: PathBuf = tmp.path().to_path_buf();
    let msgs: Vec<Vec<u8>> = (0..N).map(message).collect();
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    println!(
        "{N} messages, {:.1} MB, in {}",
        bytes as f64 / 1e6,
        root.display()
    );
    for (name, dest) in [
        ("maildir", Destination::Maildir(root.join("Mail"))),
        ("mbox", Destination::Mbox(root.join("mbox"))),
    ] {
        let (first, again) = run(dest, &root.join(format!("state-{name}")), &msgs);
        println!(
            "{name:8} save {:>8.1} ms ({:.0} msg/s, {:.1} MB/s, {:.0} us/msg)   reopen+check all {:>6.1} ms",
            first.as_secs_f64() * 1e3,
            N as f64 / first.as_secs_f64(),
            bytes as f64 / 1e6 / first.as_secs_f64(),
            first.as_secs_f64() * 1e6 / N as f64,
            again.as_secs_f64() * 1e3
        );
    }
}
