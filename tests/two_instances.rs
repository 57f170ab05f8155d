//! Two popviews on one account, as two real processes against a private
//! Dovecot: the TUI (in tmux) holds the account lock; `popview delete`
//! beside it exits 8 and deletes nothing; a second TUI opens read-only
//! (browse and read; marks refused; it never adopts or writes the first
//! one's marks). The marks file after each step is what the user chose.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::dovecot::{Dovecot, DovecotOptions};
use support::tmux::{Tmux, sh_quote};

const BIN: &str = env!("CARGO_BIN_EXE_popview");
const LONG: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_secs(8);

fn message(i: usize, subject: &str) -> Vec<u8> {
    format!(
        "From: Sender {i} <s{i}@example.org>\r\nTo: alice@example.org\r\n\
         Subject: {subject}\r\nDate: Mon, 2 Mar 2026 1{i}:00:00 +0000\r\n\
         Message-ID: <two-{i}@example.org>\r\n\r\nBody {i}\r\n"
    )
    .into_bytes()
}

/// The environment every process of the test shares: one HOME, so one
/// account state directory.
fn env_of(home: &Path, d: &Dovecot) -> Vec<(String, String)> {
    let h = home.display().to_string();
    vec![
        ("HOME".into(), h.clone()),
        ("XDG_CONFIG_HOME".into(), format!("{h}/config")),
        ("XDG_CACHE_HOME".into(), format!("{h}/cache")),
        ("XDG_DATA_HOME".into(), format!("{h}/data")),
        ("POPVIEW_PASSWORD".into(), d.password.clone()),
        ("TERM".into(), "xterm-256color".into()),
    ]
}

/// The TUI in tmux; the shell prints `EXIT=<code>` after it.
fn tui(home: &Path, d: &Dovecot, url: &str) -> Tmux {
    let mut inner = sh_quote(BIN);
    for a in [url, "--ca-file", &d.ca_pem.display().to_string()] {
        inner.push(' ');
        inner.push_str(&sh_quote(a));
    }
    inner.push_str("; echo EXIT=$?; exec sleep 600");
    let mut cmd = "exec env -u NO_COLOR".to_string();
    for (k, v) in env_of(home, d) {
        cmd.push_str(&format!(" {k}={}", sh_quote(&v)));
    }
    cmd.push_str(&format!(" sh -c {}", sh_quote(&inner)));
    Tmux::start(&cmd, 120, 30)
}

/// The marks file as a fresh store reads it (UIDs).
fn marks(home: &Path, d: &Dovecot) -> Vec<String> {
    let key = format!("{}@localhost:{}", d.user, d.tls_port);
    popview::store::Store::open_split(
        &home.join("cache").join("popview"),
        &home.join("data").join("popview"),
        &key,
    )
    .unwrap()
    .load_marks()
}

fn marked(screen: &str, subject: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains(subject) && l.starts_with('D'))
}

fn exited(t: &Tmux) -> String {
    t.wait_until("popview to exit", LONG, |sc| {
        sc.lines()
            .any(|l| l.starts_with("EXIT=") && l.trim_end().len() > "EXIT=".len())
    })
}

#[test]
fn a_second_popview_is_read_only_and_delete_beside_it_exits_8() {
    let subjects = ["Alpha one", "Bravo two", "Charlie three"];
    let msgs = subjects
        .iter()
        .enumerate()
        .map(|(i, s)| message(i + 1, s))
        .collect();
    let d = Dovecot::start(DovecotOptions::with_messages(msgs));
    let before = d.uidls();
    let home_dir = tempfile::Builder::new()
        .prefix("pv2i")
        .tempdir_in(support::temp_root())
        .unwrap();
    let home: PathBuf = home_dir.path().to_path_buf();
    let url = format!("pop3s://{}@localhost:{}", d.user, d.tls_port);

    // 1. The first TUI marks Alpha (message 1, at the bottom: newest first).
    let a = tui(&home, &d, &url);
    a.wait_until("the list", LONG, |sc| {
        subjects.iter().all(|s| sc.contains(s))
    });
    a.send_keys(&["G", "d"]);
    a.wait_until("Alpha marked", SHORT, |sc| marked(sc, "Alpha one"));
    assert_eq!(marks(&home, &d), vec![before[0].clone()]);

    // 2. `popview delete` beside it: exit 8, nothing deleted, marks intact.
    let out = Command::new(BIN)
        .args([
            "delete",
            "2",
            &url,
            "--ca-file",
            &d.ca_pem.display().to_string(),
        ])
        .env_clear()
        .envs(env_of(&home, &d))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(stderr.contains("another popview (pid "), "{stderr}");
    assert_eq!(d.uidls(), before, "nothing deleted");
    assert_eq!(marks(&home, &d), vec![before[0].clone()]);

    // 3. A second TUI: read-only; it neither adopts nor writes the marks.
    let b = tui(&home, &d, &url);
    let screen = b.wait_until("the second list, read only", LONG, |sc| {
        subjects.iter().all(|s| sc.contains(s)) && sc.contains("marks are off here")
    });
    assert!(
        !marked(&screen, "Alpha one"),
        "adopted the other's mark:\n{screen}"
    );
    assert!(!screen.contains("restored"), "{screen}");
    b.send_keys(&["G", "k", "d"]);
    b.wait_until("the mark refused", SHORT, |sc| {
        sc.contains("nothing was marked") && !marked(sc, "Bravo two")
    });
    b.send_keys(&["q"]);
    let screen = exited(&b);
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert_eq!(
        marks(&home, &d),
        vec![before[0].clone()],
        "the second TUI left the file alone"
    );

    // 4. The first undoes its mark and quits: the undo stays undone.
    a.send_keys(&["G", "u"]);
    a.wait_until("Alpha unmarked", SHORT, |sc| !marked(sc, "Alpha one"));
    assert!(marks(&home, &d).is_empty());
    a.send_keys(&["q"]);
    let screen = exited(&a);
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        marks(&home, &d).is_empty(),
        "the undone mark is not resurrected"
    );
    assert_eq!(d.uidls(), before);

    // 5. With the lock free, `delete` works.
    let out = Command::new(BIN)
        .args([
            "delete",
            "2",
            &url,
            "--ca-file",
            &d.ca_pem.display().to_string(),
        ])
        .env_clear()
        .envs(env_of(&home, &d))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(d.uidls(), vec![before[0].clone(), before[2].clone()]);
}
