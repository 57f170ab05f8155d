//! `popview delete` through the real binary against the in-process server:
//! a name that could mean two messages is refused (exit 2, both shown) in
//! every form, and "deleted" is printed (exit 0) only for what QUIT
//! confirmed; a refused mark or DELE, or a connection lost before QUIT, is
//! "not deleted" (exit 6); a refused or unanswered QUIT is "unknown" (exit
//! 7). Never retried on a new connection.

mod support;

use std::sync::Arc;

use popview::cli::exit;
use popview::demo::{Action, Ctx, Mailbox, Server, ServerOptions, SessionState};
use support::cli::*;

fn env() -> [(&'static str, &'static str); 1] {
    [("POPVIEW_PASSWORD", PW)]
}

/// A mailbox whose UIDs are the given strings.
fn mailbox(uids: &[&str]) -> Mailbox {
    let msgs = Mailbox::generated(uids.len()).into_messages();
    Mailbox::from_pairs(
        uids.iter()
            .zip(msgs)
            .map(|(u, (_, bytes))| (u.to_string(), bytes))
            .collect(),
    )
}

fn delete(sb: &Sandbox, server: &Server, names: &[&str]) -> Run {
    let u = url(server);
    let mut a = vec!["delete"];
    a.extend_from_slice(names);
    a.extend([u.as_str(), "--ca-file", ca()]);
    let r = sb.run(&a, &env());
    settle(server);
    r
}

fn commands_sent(server: &Server, verb: &str) -> usize {
    server
        .log()
        .iter()
        .filter(|l| l.line.to_ascii_uppercase().starts_with(verb))
        .count()
}

/// UIDs may hold `#` and `:`: `3` is message 3 and UID `3`, `#1` is
/// message 1 and UID `#1`, `uid:x` is UID `x` and UID `uid:x`. Each is
/// refused with both candidates, by `delete` and by `show`; nothing is
/// marked; the names the refusal suggests pick exactly one message.
#[test]
fn every_ambiguous_form_is_refused_and_the_suggested_names_work() {
    let server = stls_server(mailbox(&["3", "#1", "uid:x", "x"]));
    let sb = Sandbox::new();
    for (name, a, b) in [
        ("3", "#1 uid \"3\"", "#3 uid \"uid:x\""),
        ("#1", "#1 uid \"3\"", "#2 uid \"#1\""),
        ("uid:x", "#3 uid \"uid:x\"", "#4 uid \"x\""),
    ] {
        let r = delete(&sb, &server, &[name]).code(exit::USAGE);
        assert!(r.stdout.is_empty(), "{name}: {}", r.out());
        for want in [a, b, "refusing to guess", "name it alone with"] {
            assert!(r.stderr.contains(want), "{name}: {want:?} in {}", r.stderr);
        }
    }
    // One ambiguous name among good ones refuses the whole command.
    delete(&sb, &server, &["2", "3"]).code(exit::USAGE);
    // `show` follows the same rule.
    let u = url(&server);
    let r = sb.run(&["show", "#1", &u, "--ca-file", ca()], &env());
    let r = r.code(exit::USAGE);
    assert!(r.stderr.contains("#2 uid \"#1\""), "{}", r.stderr);
    settle(&server);
    assert_eq!(commands_sent(&server, "DELE"), 0, "{:?}", server.log());
    assert_eq!(server.mailbox_uids(), ["3", "#1", "uid:x", "x"]);

    // The names the refusals suggested: exactly those messages go.
    let r = delete(&sb, &server, &["uid:uid:x", "#2"]).ok();
    assert_eq!(r.out(), "deleted 3\tuid:x\ndeleted 2\t#1\n");
    assert_eq!(server.mailbox_uids(), ["3", "x"]);
}

fn hooked(uids: &[&str], hook: impl Fn(&Ctx<'_>) -> Action + Send + Sync + 'static) -> Server {
    stls_server_with(
        mailbox(uids),
        ServerOptions {
            hook: Some(Arc::new(hook)),
            ..ServerOptions::default()
        },
    )
}

fn in_transaction(ctx: &Ctx<'_>, verb: &str) -> bool {
    ctx.state == SessionState::Transaction && ctx.line.to_ascii_uppercase().starts_with(verb)
}

/// One session, no QUIT: what "not deleted" promises.
#[track_caller]
fn assert_nothing_committed(server: &Server, uids: &[&str]) {
    assert_eq!(server.connections(), 1, "never retried: {:?}", server.log());
    assert_eq!(commands_sent(server, "QUIT"), 0, "{:?}", server.log());
    assert_eq!(server.mailbox_uids(), uids);
}

#[test]
fn a_refused_dele_deletes_nothing_and_exits_6() {
    let server = hooked(&["a", "b", "c"], |ctx| {
        if in_transaction(ctx, "DELE 2") {
            Action::Reply(b"-ERR [SYS/TEMP] can't mark that one now\r\n".to_vec())
        } else {
            Action::Normal
        }
    });
    let sb = Sandbox::new();
    let r = delete(&sb, &server, &["1", "2"]).code(exit::NOT_DELETED);
    assert_eq!(r.out(), "not deleted 1\ta\nnot deleted 2\tb\n");
    assert!(r.stderr.contains("nothing was deleted"), "{}", r.stderr);
    assert!(r.stderr.contains("can't mark that one now"), "{}", r.stderr);
    assert_eq!(commands_sent(&server, "DELE"), 2, "{:?}", server.log());
    assert_nothing_committed(&server, &["a", "b", "c"]);
}

#[test]
fn a_connection_lost_before_quit_deletes_nothing_and_exits_6() {
    let server = hooked(&["a", "b", "c"], |ctx| {
        if in_transaction(ctx, "DELE") {
            Action::Drop
        } else {
            Action::Normal
        }
    });
    let sb = Sandbox::new();
    let r = delete(&sb, &server, &["3"]).code(exit::NOT_DELETED);
    assert_eq!(r.out(), "not deleted 3\tc\n");
    assert!(r.stderr.contains("nothing was deleted"), "{}", r.stderr);
    assert_nothing_committed(&server, &["a", "b", "c"]);
}

/// RFC 1939 lets `-ERR` to QUIT mean "some deleted messages not removed":
/// whether any went is unknown.
#[test]
fn a_refused_quit_is_unknown_and_exits_7() {
    let server = hooked(&["a", "b", "c"], |ctx| {
        if in_transaction(ctx, "QUIT") {
            Action::Reply(b"-ERR some deleted messages not removed\r\n".to_vec())
        } else {
            Action::Normal
        }
    });
    let sb = Sandbox::new();
    let r = delete(&sb, &server, &["1", "#3"]).code(exit::UNKNOWN);
    assert_eq!(r.out(), "unknown 1\ta\nunknown 3\tc\n");
    assert!(r.stderr.contains("may or may not"), "{}", r.stderr);
    assert!(
        r.stderr.contains("some deleted messages not removed"),
        "{}",
        r.stderr
    );
    assert_eq!(server.connections(), 1, "never retried: {:?}", server.log());
}

/// QUIT sent, no answer: the server may have deleted or not. The command
/// says so and does not log in again to find out.
#[test]
fn a_connection_lost_after_quit_is_unknown_and_exits_7() {
    let server = hooked(&["a", "b", "c"], |ctx| {
        if in_transaction(ctx, "QUIT") {
            Action::Drop
        } else {
            Action::Normal
        }
    });
    let sb = Sandbox::new();
    let r = delete(&sb, &server, &["b"]).code(exit::UNKNOWN);
    assert_eq!(r.out(), "unknown 2\tb\n");
    assert!(r.stderr.contains("may or may not"), "{}", r.stderr);
    assert!(!r.out().contains("deleted 2"), "{}", r.out());
    assert_eq!(commands_sent(&server, "QUIT"), 1, "{:?}", server.log());
    assert_eq!(server.connections(), 1, "never retried: {:?}", server.log());
}

/// The confirmed path, for contrast: QUIT `+OK`, "deleted", exit 0.
#[test]
fn a_confirmed_quit_is_deleted_and_exits_0() {
    let server = stls_server(mailbox(&["a", "b", "c"]));
    let sb = Sandbox::new();
    let r = delete(&sb, &server, &["uid:c", "1"]).ok();
    assert_eq!(r.out(), "deleted 3\tc\ndeleted 1\ta\n");
    assert_eq!(server.mailbox_uids(), ["b"]);
}

/// `--help` documents the exit codes a script reads, 6 and 7 included.
#[test]
fn help_documents_the_delete_exit_codes() {
    let sb = Sandbox::new();
    let r = sb.run(&["--help"], &[]).ok();
    let help = r.out().split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "6 nothing was deleted",
        "7 unknown (QUIT got no +OK",
        "deleted, not deleted or unknown",
    ] {
        assert!(help.contains(want), "{want:?} in {help}");
    }
}
