//! A 52 MB message (a base64 attachment, dot lines) from a real Dovecot:
//! the worker hands over exactly the bytes the server holds, and
//! `popview show --raw` writes them out exactly, with a peak resident
//! memory far below the message's size (it streams).
//!
//! The peak is read by `/usr/bin/time` (Debian package `time`, installed by
//! `.ci/test`); memory, unlike time, does not depend on the machine's load.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use popview::worker::api::{Event, Request};
use support::dovecot::{Dovecot, DovecotOptions};
use support::worker::Harness;

const SIZE: usize = 52 * 1000 * 1000;

/// Headers, a text part with dot lines, a base64 attachment in 76-column
/// lines up to `size` bytes.
fn big_message(size: usize) -> Vec<u8> {
    let mut m = b"From: Big <big@example.org>\r\nTo: me@example.org\r\nSubject: big\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
Content-Type: text/plain\r\n\r\nAttached.\r\n.\r\n..\r\n.dot\r\n--b1\r\n\
Content-Type: application/octet-stream; name=\"big.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x: u32 = 7;
    while m.len() + 90 < size {
        for _ in 0..76 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            m.push(alphabet[(x >> 16) as usize % 64]);
        }
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b"--b1--\r\n");
    m
}

/// The one message file in the Maildir, as Dovecot holds it.
fn stored(maildir: &Path) -> Vec<u8> {
    let files: Vec<PathBuf> = ["cur", "new"]
        .iter()
        .flat_map(|d| std::fs::read_dir(maildir.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read(&files[0]).unwrap()
}

#[test]
fn a_52_mb_message_arrives_byte_exact_and_show_raw_streams_it() {
    let msg = big_message(SIZE);
    let d = Dovecot::start(DovecotOptions::with_messages(vec![msg.clone()]));
    let held = stored(&d.maildir);
    assert_eq!(held, msg, "seeded as is");

    // The worker (as the TUI uses it).
    let mut h = Harness::start(
        support::worker::dovecot_config(&d),
        Box::new(popview::worker::persist::Memory::default()),
    );
    let keys = h.listing();
    h.send(Request::Retrieve {
        ticket: 1,
        key: keys[0].clone(),
    });
    let view = match h.wait("the message", |e| matches!(e, Event::Message { .. })) {
        Event::Message { view, .. } => view,
        _ => unreachable!(),
    };
    assert!(
        view.raw == held,
        "the worker's bytes differ from the server's"
    );
    assert_eq!(view.attachments.len(), 1);
    let lines = (held.len() - 400) / 78;
    let decoded = view.attachments[0].data(&view.raw).expect("decodes").len();
    assert!(decoded >= lines * 57, "decoded attachment: {decoded} bytes");
    assert_eq!(view.attachments[0].size, decoded as u64, "the size listed");
    drop(view);
    h.quit(false);

    // show --raw, under /usr/bin/time for its peak RSS.
    let sb = support::cli::Sandbox::new();
    let cfg = sb.home().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[accounts.t]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             username = \"{}\"\npassword_env = \"PV_TEST_PW\"\nallow_cleartext_password = true\n",
            d.plain_port, d.user
        ),
    )
    .unwrap();
    let c = sb.command(
        &["show", "--raw", "1", "--config", cfg.to_str().unwrap()],
        &[("PV_TEST_PW", d.password.as_str())],
    );
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("PEAK %M")
        .arg(c.get_program())
        .args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    let out = timed
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("/usr/bin/time (Debian package `time`: run .ci/test)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "show --raw failed: {err}");
    assert!(
        out.stdout == held,
        "show --raw bytes differ from the server's"
    );
    let peak_kib: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("PEAK "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in: {err}"));
    // The whole process, binary and TLS library included: far below the
    // 52 MB it wrote (the old path held the message three times: ~200 MB).
    assert!(
        peak_kib < 40 * 1024,
        "show --raw peaked at {} MB for a {} MB message",
        peak_kib / 1024,
        SIZE / 1_000_000
    );
}
