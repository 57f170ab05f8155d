//! Saving from the TUI end to end: the real binary in tmux against a
//! private Dovecot. `s`, a path typed with Tab completing it, Enter: the
//! notice, the mark on the row, and the message in the Maildir on disk
//! byte for byte; `C` into a new mbox asks Maildir or mbox first and marks
//! nothing; quitting without committing leaves the server as it was.

mod support;

use std::time::Duration;

use popview::localbox::lf_bytes;
use support::dovecot::{Dovecot, DovecotOptions};
use support::tmux::start_popview;

const BIN: &str = env!("CARGO_BIN_EXE_popview");
const LONG: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_secs(8);

fn message(i: usize, subject: &str) -> Vec<u8> {
    format!(
        "From: Sender {i} <sender{i}@example.org>\r\n\
         To: alice@example.org\r\n\
         Subject: {subject}\r\n\
         Date: Mon, 2 Mar 2026 1{i}:00:00 +0000\r\n\
         Message-ID: <save-{i}@example.org>\r\n\
         \r\n\
         Body of {subject}.\r\n..a dot line\r\n"
    )
    .into_bytes()
}

/// The screen line showing `subject`.
fn row<'a>(screen: &'a str, subject: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(subject))
        .unwrap_or_else(|| panic!("no row for {subject}:\n{screen}"))
}

fn files_in(dir: &std::path::Path) -> Vec<Vec<u8>> {
    ["new", "cur"]
        .iter()
        .flat_map(|s| std::fs::read_dir(dir.join(s)).unwrap())
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

#[test]
fn save_with_tab_completion_marks_and_writes_the_maildir() {
    let subjects = ["Alpha report", "Bravo notes", "Charlie plan"];
    let msgs: Vec<Vec<u8>> = subjects
        .iter()
        .enumerate()
        .map(|(i, s)| message(i + 1, s))
        .collect();
    let d = Dovecot::start(DovecotOptions::with_messages(msgs.clone()));
    let before = d.uidls();
    let url = format!("pop3s://{}@localhost:{}", d.user, d.tls_port);
    let ca = d.ca_pem.display().to_string();
    let s = start_popview(
        BIN,
        &[&url, "--ca-file", &ca],
        None,
        &[("POPVIEW_PASSWORD", &d.password)],
    );
    // An existing Maildir in the sandbox's HOME, to complete to.
    let inbox = s.home.path().join("Mail").join("inbox");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(inbox.join(sub)).unwrap();
    }
    s.wait_until("the list", LONG, |sc| {
        subjects.iter().all(|sub| sc.contains(sub)) && sc.contains("3 msgs")
    });
    // The cursor is on the newest: Charlie plan.
    s.send_keys(&["s"]);
    s.wait_for("Save to mailbox: ", SHORT);
    s.type_text("~/Mail/in");
    s.send_keys(&["Tab"]);
    s.wait_for("Save to mailbox: ~/Mail/inbox▏", SHORT);
    s.send_keys(&["Enter"]);
    let screen = s.wait_for("saved 1 to ~/Mail/inbox", LONG);
    assert!(screen.contains("marked for deletion"), "{screen}");
    let line = row(&screen, "Charlie plan");
    assert!(
        line.trim_start().starts_with('d') || line.trim_start().starts_with('D'),
        "the saved message shows its mark:\n{screen}"
    );
    assert_eq!(files_in(&inbox), vec![lf_bytes(&msgs[2])]);

    // The cursor went on to the next message (as mutt's does): C copies
    // it into a new mbox, asked which kind first; no mark.
    s.send_keys(&["C"]);
    s.wait_for("Copy to mailbox: ~/Mail/inbox", SHORT);
    s.send_keys(&["C-u"]);
    s.type_text("~/Mail/copies");
    s.send_keys(&["Enter"]);
    s.wait_for("(Maildir: m / mbox: b", SHORT);
    s.send_keys(&["b"]);
    let screen = s.wait_for("saved 1 to ~/Mail/copies", LONG);
    assert!(!screen.contains("marked for deletion"), "{screen}");
    let mbox = std::fs::read(s.home.path().join("Mail").join("copies")).unwrap();
    assert!(mbox.starts_with(b"From "), "an mbox");
    assert!(
        String::from_utf8_lossy(&mbox).contains("Subject: Bravo notes"),
        "the second message"
    );
    // Leave without deleting: the server still has every message.
    s.send_keys(&["x"]);
    s.wait_for("EXIT=", LONG);
    assert_eq!(d.uidls(), before);
}

/// A write that fails for one message (the file size limit, as a full
/// disk would): `;s` on three tagged messages saves and marks the other
/// two, and leaves that one unmarked with the reason on screen.
#[test]
fn a_failed_write_leaves_that_message_unmarked() {
    let mut big = message(2, "Big one");
    big.extend(
        std::iter::repeat_n(
            b"0123456789abcdefghijklmnopqrstuvwxyz012345678\r\n" as &[u8],
            900,
        )
        .flatten(),
    );
    let msgs = vec![message(1, "Small one"), big, message(3, "Small two")];
    let d = Dovecot::start(DovecotOptions::with_messages(msgs.clone()));
    let before = d.uidls();
    let url = format!("pop3s://{}@localhost:{}", d.user, d.tls_port);
    let ca = d.ca_pem.display().to_string();
    // Files popview writes are limited to 20 KB (ulimit -f counts 512-byte
    // blocks); SIGXFSZ ignored, so the write fails with EFBIG instead.
    let script = format!(
        "trap '' XFSZ; ulimit -f 40; exec {} {} --ca-file {}",
        support::tmux::sh_quote(BIN),
        support::tmux::sh_quote(&url),
        support::tmux::sh_quote(&ca)
    );
    let s = start_popview(
        "sh",
        &["-c", &script],
        None,
        &[("POPVIEW_PASSWORD", &d.password)],
    );
    let inbox = s.home.path().join("Mail").join("inbox");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(inbox.join(sub)).unwrap();
    }
    s.wait_until("the list", LONG, |sc| {
        ["Small one", "Big one", "Small two"]
            .iter()
            .all(|sub| sc.contains(sub))
    });
    s.send_keys(&["t", "t", "t"]);
    // `;` alone ends a tmux command: escaped.
    s.send_keys(&["\\;", "s"]);
    s.wait_for("Save to mailbox: ", SHORT);
    s.type_text("~/Mail/inbox");
    s.send_keys(&["Enter"]);
    let screen = s.wait_for("saved ", LONG);
    assert!(screen.contains("saved 2 to ~/Mail/inbox"), "{screen}");
    assert!(screen.contains("2 marked for deletion"), "{screen}");
    assert!(screen.contains("1 failed"), "{screen}");
    assert!(screen.to_lowercase().contains("too large"), "{screen}");
    let flag = |subject: &str| row(&screen, subject).trim_start().chars().next();
    assert!(matches!(flag("Small one"), Some('d' | 'D')), "{screen}");
    assert!(matches!(flag("Small two"), Some('d' | 'D')), "{screen}");
    assert!(!matches!(flag("Big one"), Some('d' | 'D')), "{screen}");
    let mut on_disk = files_in(&inbox);
    on_disk.sort();
    let mut want = vec![lf_bytes(&msgs[0]), lf_bytes(&msgs[2])];
    want.sort();
    assert_eq!(on_disk, want);
    s.send_keys(&["x"]);
    s.wait_for("EXIT=", LONG);
    assert_eq!(d.uidls(), before);
}
