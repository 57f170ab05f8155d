//! `|` (pipe), `m` (open with a mailcap viewer) and `ctrl-b` (links) as a
//! person uses them: the real binary on the demo mailbox in a private tmux
//! server, keys in, screen text and written files out. Every wait polls
//! with a deadline and dumps the screen when it times out.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::tmux::{Popview, Tmux, sh_quote, start_popview};

const BIN: &str = env!("CARGO_BIN_EXE_popview");
const LONG: Duration = Duration::from_secs(15);
const SHORT: Duration = Duration::from_secs(5);
const WELCOME: &str = "Welcome to the popview demo";

type Session = Popview;

/// `popview --demo` sandboxed (HOME, XDG dirs), with `env` added.
fn start(env: &[(&str, String)]) -> Session {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start_popview(BIN, &["--demo"], None, &env)
}

/// Wait until `path` holds something; its bytes.
fn wait_file(s: &Tmux, path: &Path, timeout: Duration) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(b) = std::fs::read(path)
            && !b.is_empty()
        {
            return b;
        }
        assert!(
            Instant::now() < deadline,
            "{} was not written; screen:\n{}",
            path.display(),
            s.capture()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The demo file as the demo server sends it: line ends as CRLF.
fn served(name: &str) -> Vec<u8> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/demo")
        .join(name);
    let bytes = std::fs::read(file).unwrap();
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 20);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Open the welcome message (second row, newest first).
fn open_welcome(s: &Tmux) {
    s.wait_all(&[WELCOME, "q quit"], LONG);
    s.send_keys(&["j", "Enter"]);
    s.wait_for("This mailbox is served by a small POP3 server", SHORT);
}

#[test]
fn pipe_hands_over_the_raw_message_and_waits_for_a_key() {
    let s = start(&[]);
    let out: PathBuf = s.home.path().join("count");
    open_welcome(&s);
    s.send_keys(&["|"]);
    s.wait_for("Pipe to command:", SHORT);
    s.type_text(&format!(
        "wc -c > {}; echo piped-ok",
        sh_quote(&out.display().to_string())
    ));
    s.send_keys(&["Enter"]);
    // The command's output on the plain terminal, then the key prompt.
    s.wait_all(&["piped-ok", "exit status 0", "Press any key"], LONG);
    let count = String::from_utf8(wait_file(&s, &out, SHORT)).unwrap();
    assert_eq!(
        count.trim().parse::<usize>().unwrap(),
        served("41-welcome.eml").len(),
        "the raw bytes, exactly as served"
    );
    s.send_keys(&["x"]);
    // Taken back and drawn again, with the status.
    s.wait_all(
        &[
            "This mailbox is served by a small POP3 server",
            "exit status 0",
        ],
        SHORT,
    );
}

#[test]
fn a_failing_pipe_shows_its_status() {
    let s = start(&[]);
    open_welcome(&s);
    s.send_keys(&["|"]);
    s.wait_for("Pipe to command:", SHORT);
    s.type_text("cat >/dev/null; exit 3");
    s.send_keys(&["Enter"]);
    s.wait_all(&["exit status 3", "Press any key"], LONG);
    s.send_keys(&["Enter"]);
    s.wait_all(&["This mailbox is served", "exit status 3"], SHORT);
}

#[test]
fn a_copiousoutput_viewer_is_shown_in_the_reader() {
    let home = tempfile::Builder::new()
        .prefix("pvmc")
        .tempdir_in(support::temp_root())
        .unwrap();
    let mailcap = home.path().join("mailcap");
    std::fs::write(
        &mailcap,
        "# the test's viewer\ntext/plain; sed 's/^/viewed> /' %s; copiousoutput\n",
    )
    .unwrap();
    let s = start(&[("MAILCAPS", mailcap.display().to_string())]);
    open_welcome(&s);
    s.send_keys(&["m"]);
    s.wait_all(
        &[
            "viewed> This mailbox is served by a small POP3 server",
            "goes back",
        ],
        LONG,
    );
    s.send_keys(&["Escape"]);
    s.wait_until("the message again", SHORT, |sc| {
        sc.contains("This mailbox is served") && !sc.contains("viewed>")
    });
    // The private temporary folder is gone once the viewer ended.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name().to_string_lossy().starts_with("popview-")
                && std::fs::read_dir(e.path())
                    .map(|mut d| {
                        d.any(|f| {
                            f.is_ok_and(|f| f.file_name().to_string_lossy() == "message-41.txt")
                        })
                    })
                    .unwrap_or(false)
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_link_is_shown_in_full_and_opened_only_after_y() {
    let dir = tempfile::Builder::new()
        .prefix("pvbr")
        .tempdir_in(support::temp_root())
        .unwrap();
    let record = dir.path().join("opened");
    let script = dir.path().join("browser");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > {}\n",
            sh_quote(&record.display().to_string())
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let s = start(&[("BROWSER", script.display().to_string())]);
    s.wait_all(&[WELCOME, "q quit"], LONG);
    s.send_keys(&["/"]);
    s.type_text("order #10482");
    s.send_keys(&["Enter"]);
    s.wait_until("the list filtered", SHORT, |sc| {
        sc.contains("Your order #10482") && !sc.contains(WELCOME)
    });
    s.send_keys(&["Enter"]);
    s.wait_for("Subject: Your order #10482 has shipped", SHORT);
    s.send_keys(&["C-b"]);
    s.wait_all(&["Links", "https://track.parcel.example/P8812Z0044"], SHORT);
    s.send_keys(&["Enter"]);
    s.wait_all(
        &["Open this link?", "https://track.parcel.example/P8812Z0044"],
        SHORT,
    );
    assert!(!record.exists(), "nothing is opened before y");
    s.send_keys(&["y"]);
    let got = wait_file(&s, &record, LONG);
    assert_eq!(
        String::from_utf8(got).unwrap(),
        "https://track.parcel.example/P8812Z0044"
    );
    s.wait_for("Subject: Your order #10482 has shipped", SHORT);
}
