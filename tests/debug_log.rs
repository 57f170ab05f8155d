//! The opt-in debug log (`--debug-log FILE` or `POPVIEW_LOG=FILE`) through
//! the real binary, as tracing's subscriber is one per process: the file is
//! private (0600), holds the worker's decisions (connect, session opened,
//! mark applied, commit confirmed, header cache), never the password even
//! when the server echoes it, and nothing is written without the option.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use popview::cli::exit;
use popview::demo::{Action, Mailbox, ServerOptions, SessionState};
use support::cli::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn sasl_plain_form() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("\0demo\0{PW}"))
}

#[track_caller]
fn assert_no_secret(log: &str) {
    assert!(!log.contains(PW), "password in the debug log:\n{log}");
    assert!(
        !log.contains(&sasl_plain_form()),
        "SASL PLAIN in the debug log:\n{log}"
    );
}

#[test]
fn popview_log_holds_the_decisions_of_a_delete_privately() {
    let server = stls_server(Mailbox::generated(3));
    let uids = server.mailbox_uids();
    let sb = Sandbox::new();
    let log = sb.home().join("debug.log");
    let u = url(&server);
    let r = sb
        .run(
            &["delete", "2", &u, "--ca-file", ca()],
            &[
                ("POPVIEW_PASSWORD", PW),
                ("POPVIEW_LOG", log.to_str().unwrap()),
            ],
        )
        .ok();
    settle(&server);
    assert_eq!(r.out(), format!("deleted 2\t{}\n", uids[1]));
    assert_eq!(mode(&log), 0o600);
    let text = std::fs::read_to_string(&log).unwrap();
    for want in [
        "connecting",
        "attempt=1",
        "session opened",
        "messages=3",
        "has_uidl=true",
        "header cache",
        "mark applied",
        "number=2",
        &format!("uid={}", uids[1]),
        "commit sent",
        "commit confirmed",
        "deleted=1",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    assert_no_secret(&text);
    // Never the terminal.
    assert!(!r.stderr.contains("session opened"), "{}", r.stderr);

    // Appended, and `--debug-log` says the same as the variable: a second
    // list finds its previews in the cache the first one wrote.
    let mut before = text.len();
    for _ in 0..2 {
        before = std::fs::read_to_string(&log).unwrap().len();
        sb.run(
            &[
                "list",
                &u,
                "--ca-file",
                ca(),
                "--debug-log",
                log.to_str().unwrap(),
            ],
            &[("POPVIEW_PASSWORD", PW)],
        )
        .ok();
        settle(&server);
    }
    let all = std::fs::read_to_string(&log).unwrap();
    assert!(all.starts_with(&text), "not appended:\n{all}");
    let last = &all[before..];
    for want in [
        "session opened",
        "messages=2",
        "header cache",
        "hits=2",
        "misses=0",
    ] {
        assert!(last.contains(want), "{want:?} not in:\n{last}");
    }
    assert!(all.contains("preview batch"), "{all}");
    assert_no_secret(&all);
    assert_eq!(mode(&log), 0o600);
}

#[test]
fn a_password_the_server_echoes_never_reaches_the_debug_log() {
    // The first session's DELE is refused with the password in the text;
    // the QUIT of the next is answered the same way.
    let echo = format!("-ERR [SYS/TEMP] no, {PW} and {}\r\n", sasl_plain_form()).into_bytes();
    let server = stls_server_with(
        Mailbox::generated(3),
        ServerOptions {
            hook: Some(Arc::new(move |ctx| {
                let line = ctx.line.to_ascii_uppercase();
                let verb = if ctx.conn == 0 { "DELE" } else { "QUIT" };
                if ctx.state == SessionState::Transaction && line.starts_with(verb) {
                    Action::Reply(echo.clone())
                } else {
                    Action::Normal
                }
            })),
            ..ServerOptions::default()
        },
    );
    let sb = Sandbox::new();
    let log = sb.home().join("debug.log");
    let u = url(&server);
    let env = [
        ("POPVIEW_PASSWORD", PW),
        ("POPVIEW_LOG", log.to_str().unwrap()),
    ];
    sb.run(&["delete", "1", &u, "--ca-file", ca()], &env)
        .code(exit::NOT_DELETED);
    settle(&server);
    sb.run(&["delete", "1", &u, "--ca-file", ca()], &env)
        .code(exit::UNKNOWN);
    settle(&server);
    // The server did echo it (so the check below can fail).
    let text = std::fs::read_to_string(&log).unwrap();
    for want in ["mark refused", "commit unknown", "<redacted>"] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    assert_no_secret(&text);
    assert_eq!(mode(&log), 0o600);
}

#[test]
fn without_the_option_or_the_variable_nothing_is_written() {
    let server = stls_server(Mailbox::generated(2));
    let sb = Sandbox::new();
    let u = url(&server);
    // An empty variable is no file either.
    for env in [&[][..], &[("POPVIEW_LOG", "")]] {
        let out = sb
            .command(
                &["list", &u, "--ca-file", ca()],
                &[("POPVIEW_PASSWORD", PW)],
            )
            .env_remove("POPVIEW_LOG")
            .envs(env.iter().copied())
            .current_dir(sb.home())
            .output()
            .expect("run popview");
        assert!(out.status.success(), "{out:?}");
        settle(&server);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("session opened"), "{stderr}");
    }
    for f in sb.files() {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(
            !text.contains("session opened") && !text.contains("connecting"),
            "a debug log at {}",
            f.display()
        );
        assert!(
            f.file_name().is_some_and(|n| n != "debug.log"),
            "{}",
            f.display()
        );
    }
}

#[test]
fn a_lost_session_and_the_retry_are_logged() {
    // The first connection is cut at LIST; the command tries again.
    let server = stls_server_with(
        Mailbox::generated(2),
        ServerOptions {
            hook: Some(Arc::new(|ctx| {
                let list = ctx.line.to_ascii_uppercase().starts_with("LIST");
                if ctx.conn == 0 && ctx.state == SessionState::Transaction && list {
                    Action::Drop
                } else {
                    Action::Normal
                }
            })),
            ..ServerOptions::default()
        },
    );
    let sb = Sandbox::new();
    let log = sb.home().join("debug.log");
    let u = url(&server);
    sb.run(
        &["list", &u, "--ca-file", ca()],
        &[
            ("POPVIEW_PASSWORD", PW),
            ("POPVIEW_LOG", log.to_str().unwrap()),
        ],
    )
    .ok();
    settle(&server);
    let text = std::fs::read_to_string(&log).unwrap();
    for want in [
        "session lost or connection failed",
        "kind=Network",
        "backoff before a new attempt",
        "attempt=2",
        "session opened",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    assert_eq!(text.matches(": connecting attempt=").count(), 2, "{text}");
    assert_no_secret(&text);
}
