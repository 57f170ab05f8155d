//! The TUI as a person uses it: the real binary in a private tmux server
//! (120x40, TERM=xterm-256color, HOME and XDG dirs sandboxed), keys in,
//! screen text out. Every wait polls for text and dumps the screen when it
//! times out. Each test has its own tmux socket and temp dir, so they run in
//! parallel.
//!
//! Escape is always sent on its own and followed by a wait: a key sent right
//! after it in the same burst is read as Alt+key.

mod support;

use std::time::Duration;

use support::dovecot::{Dovecot, DovecotOptions, generated_messages};
use support::tmux::{Popview, Tmux, sh_quote, start_popview};

const BIN: &str = env!("CARGO_BIN_EXE_popview");
const LONG: Duration = Duration::from_secs(15);
const SHORT: Duration = Duration::from_secs(5);
const WELCOME: &str = "Welcome to the popview demo";

/// A sandboxed popview in tmux (see `support::tmux::popview`).
type Session = Popview;

fn start(args: &[&str], env: &[(&str, &str)]) -> Session {
    start_popview(BIN, args, None, env)
}

/// The list row showing `subject`, if visible.
fn row<'a>(screen: &'a str, subject: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(subject))
}

fn marked(screen: &str, subject: &str) -> bool {
    row(screen, subject).is_some_and(|l| l.starts_with('D'))
}

fn unmarked(screen: &str, subject: &str) -> bool {
    row(screen, subject).is_some_and(|l| l.starts_with(' '))
}

/// Wait for the `EXIT=<code>` line the shell prints after popview.
fn exited(s: &Tmux, timeout: Duration) -> String {
    s.wait_until("popview to exit (EXIT=<code>)", timeout, |sc| {
        sc.lines()
            .any(|l| l.starts_with("EXIT=") && l.trim_end().len() > "EXIT=".len())
    })
}

fn alive(screen: &str) -> bool {
    !screen.contains("EXIT=")
}

/// Colour SGR parameters (30-38, 40-48, 90-97, 100-107; not 39/49, the
/// defaults) in `capture-pane -e` output.
fn colour_sgrs(s: &str) -> Vec<String> {
    let mut found = Vec::new();
    for seq in s.split("\x1b[").skip(1) {
        let Some(end) = seq.find(|c: char| !(c.is_ascii_digit() || c == ';' || c == ':')) else {
            continue;
        };
        if !seq[end..].starts_with('m') {
            continue;
        }
        let params = &seq[..end];
        let colour = params.split([';', ':']).any(|p| {
            matches!(
                p.parse::<u32>(),
                Ok(30..=38 | 40..=48 | 90..=97 | 100..=107)
            )
        });
        if colour {
            found.push(params.to_string());
        }
    }
    found
}

#[test]
fn demo_read_mark_undo_quit_and_delete() {
    let s = start(&["--demo"], &[]);
    // Newest first: 42 (the big one) is selected, the welcome is next.
    s.wait_all(&[WELCOME, "Sensor archive 2026", "q quit"], LONG);
    s.send_keys(&["j", "Enter"]);
    s.wait_all(
        &[
            "This mailbox is served by a small POP3 server",
            "#41",
            "Subject: Welcome to the popview demo",
        ],
        SHORT,
    );
    s.send_keys(&["Escape"]);
    s.wait_until("the list again", SHORT, |sc| {
        sc.contains("Compost bins: done!") && !sc.contains("This mailbox is served")
    });

    // d marks 41 (and moves down); k back; u undoes (and moves down too).
    s.send_keys(&["d"]);
    s.wait_until("41 marked", SHORT, |sc| {
        marked(sc, WELCOME) && sc.contains("1 to delete")
    });
    s.send_keys(&["k", "u"]);
    s.wait_until("41 unmarked", SHORT, |sc| {
        unmarked(sc, WELCOME) && !sc.contains("to delete")
    });

    // Two marks, quit: the dialog counts them; y deletes and exits (d,
    // the mark key, never means "delete now" there).
    s.send_keys(&["k", "d", "d"]);
    let screen = s.wait_until("two marked", SHORT, |sc| {
        marked(sc, WELCOME) && marked(sc, "Compost bins: done!") && sc.contains("2 to delete")
    });
    assert!(unmarked(&screen, "Sensor archive 2026"), "{screen}");
    s.send_keys(&["q"]);
    s.wait_for("Marked for deletion: 2 messages (", SHORT);
    s.send_keys(&["d"]);
    s.wait_for("y    delete the 2 marked messages now, then quit", SHORT);
    s.send_keys(&["y"]);
    let screen = exited(&s, LONG);
    assert!(screen.contains("EXIT=0"), "{screen}");
    // The terminal is restored: the primary screen, not the TUI's.
    assert!(!screen.contains(WELCOME), "{screen}");
    assert!(!screen.contains("to delete"), "{screen}");
}

/// `$` asks first, naming how many messages and how much; `n` sends
/// nothing, `y` deletes them on the server and the session goes on.
#[test]
fn demo_commit_now_asks_first() {
    let s = start(&["--demo"], &[]);
    s.wait_all(&[WELCOME, "Sensor archive 2026", "42 msgs", "q quit"], LONG);
    s.send_keys(&["j", "d", "d"]);
    s.wait_until("two marked", SHORT, |sc| {
        marked(sc, WELCOME) && marked(sc, "Compost bins: done!") && sc.contains("2 to delete")
    });
    s.send_keys(&["$"]);
    let screen = s.wait_all(
        &["Delete 2 messages (", "on the server now?", "n/esc"],
        SHORT,
    );
    assert!(screen.contains("42 msgs"), "{screen}");
    s.send_keys(&["n"]);
    let screen = s.wait_until("the question gone", SHORT, |sc| !sc.contains("server now?"));
    assert!(
        marked(&screen, WELCOME) && screen.contains("2 to delete"),
        "{screen}"
    );
    // Esc cancels too (sent on its own, then a wait).
    s.send_keys(&["$"]);
    s.wait_for("on the server now?", SHORT);
    s.send_keys(&["Escape"]);
    s.wait_until("the question gone", SHORT, |sc| !sc.contains("server now?"));
    s.send_keys(&["$"]);
    s.wait_for("on the server now?", SHORT);
    s.send_keys(&["y"]);
    let screen = s.wait_until("deleted, the session renewed", LONG, |sc| {
        sc.contains("40 msgs") && !sc.contains("to delete")
    });
    assert!(row(&screen, WELCOME).is_none(), "{screen}");
    assert!(row(&screen, "Compost bins: done!").is_none(), "{screen}");
    // Nothing is marked any more: q leaves without asking.
    s.send_keys(&["q"]);
    let screen = exited(&s, LONG);
    assert!(screen.contains("EXIT=0"), "{screen}");
}

/// Ctrl-Z hands the terminal back to the shell like any job (the shell
/// reports it stopped, on its own screen), `fg` brings popview back fully
/// redrawn with the session alive, and it still reads, marks and quits.
#[test]
fn ctrl_z_suspends_to_the_shell_and_fg_resumes() {
    let home = tempfile::Builder::new()
        .prefix("pvtmux")
        .tempdir_in(support::temp_root())
        .unwrap();
    let h = home.path().display().to_string();
    // An interactive shell, so there is job control to stop and resume us.
    let s = Tmux::start(
        &format!(
            "exec env -u POPVIEW_PASSWORD -u NO_COLOR HOME={h} XDG_CONFIG_HOME={h}/config \
             XDG_CACHE_HOME={h}/cache XDG_DATA_HOME={h}/data TERM=xterm-256color PS1='$ ' \
             bash --norc --noprofile -i"
        ),
        120,
        40,
    );
    s.wait_until("the shell's prompt", SHORT, |sc| {
        sc.lines().any(|l| l.trim_end() == "$")
    });
    s.type_text(&format!("{} --demo", sh_quote(BIN)));
    s.send_keys(&["Enter"]);
    s.wait_all(&[WELCOME, "q quit"], LONG);
    s.send_keys(&["C-z"]);
    s.wait_until("the shell's job report", SHORT, |sc| {
        sc.contains("Stopped") && !sc.contains(WELCOME)
    });
    s.type_text("fg");
    s.send_keys(&["Enter"]);
    let screen = s.wait_until("popview redrawn", LONG, |sc| {
        sc.contains(WELCOME) && sc.contains("q quit") && !sc.contains("Stopped")
    });
    assert!(
        screen.contains("idle"),
        "the session is not idle:\n{screen}"
    );
    s.send_keys(&["j", "Enter"]);
    s.wait_for("This mailbox is served by a small POP3 server", SHORT);
    s.send_keys(&["Escape"]);
    s.wait_until("the list again", SHORT, |sc| {
        sc.contains("Compost bins: done!") && !sc.contains("This mailbox is served")
    });
    s.send_keys(&["x"]);
    // `fg` returns popview's exit status.
    s.wait_until("the shell again", LONG, |sc| !sc.contains(WELCOME));
    s.type_text("echo EXIT=$?");
    s.send_keys(&["Enter"]);
    let screen = exited(&s, LONG);
    assert!(screen.contains("EXIT=0"), "{screen}");
}

#[test]
fn demo_filter_help_raw_and_headers() {
    let s = start(&["--demo"], &[]);
    s.wait_for(WELCOME, LONG);

    s.send_keys(&["/"]);
    s.type_text("plot 14");
    s.wait_until("the list narrowed to Plot 14", SHORT, |sc| {
        sc.contains("11 matches")
            && sc.contains("Plot 14: who's in for next season?")
            && !sc.contains(WELCOME)
            && !sc.contains("Compost bins")
    });
    s.send_keys(&["Escape"]);
    s.wait_until("the filter cleared", SHORT, |sc| {
        sc.contains(WELCOME) && !sc.contains("matches")
    });

    s.send_keys(&["?"]);
    // Action names and keys straight from the keymap.
    s.wait_all(
        &[
            "Keys (your keymap",
            "quit_discard",
            "full_headers",
            "next_attachment",
            "ctrl-d",
        ],
        SHORT,
    );
    s.send_keys(&["Escape"]);
    s.wait_until("help closed", SHORT, |sc| {
        sc.contains(WELCOME) && !sc.contains("Keys (your keymap")
    });

    // The cursor is still on 42; open 41.
    s.send_keys(&["g", "j", "Enter"]);
    // Sent at 18:00 +0100; shown in the viewer's zone, as the list does.
    let date = popview::app::format::full_date(
        &popview::mail::MailDate {
            unix: 1_795_280_400, // 2026-11-21 17:00 UTC
            tz_offset_minutes: 60,
        },
        chrono::Local::now().offset().local_minus_utc() / 60,
    );
    s.wait_until("41 open, headers short", SHORT, |sc| {
        sc.contains("Welcome to popview!")
            && sc.contains(&format!("Date: {date}"))
            && !sc.contains("Message-ID:")
    });

    s.send_keys(&["h"]);
    s.wait_all(
        &[
            "[all headers]",
            "Return-Path: <demo@popview.demo>",
            "Message-ID: <welcome@popview.demo>",
            "Content-Transfer-Encoding: 8bit",
        ],
        SHORT,
    );
    s.send_keys(&["h"]);
    s.wait_until("headers toggled off", SHORT, |sc| {
        !sc.contains("Message-ID:") && sc.contains("Welcome to popview!")
    });

    s.send_keys(&["v"]);
    s.wait_all(
        &[
            "[raw]",
            "Date: Sat, 21 Nov 2026 18:00:00 +0100",
            "Message-ID: <welcome@popview.demo>",
            "MIME-Version: 1.0",
        ],
        SHORT,
    );
    s.send_keys(&["v"]);
    s.wait_until("raw toggled off", SHORT, |sc| {
        !sc.contains("[raw]") && sc.contains(&format!("Date: {date}"))
    });
    assert!(alive(&s.capture()));
}

#[test]
fn resize_small_and_back_keeps_running() {
    let s = start(&["--demo"], &[]);
    s.wait_for(WELCOME, LONG);
    s.resize(40, 10);
    s.wait_until("a 40x10 rendering", SHORT, |sc| {
        let lines: Vec<&str> = sc.lines().collect();
        alive(sc)
            && lines.len() <= 10
            && lines.iter().all(|l| unicode_width_le(l, 40))
            && sc.contains("42 msgs")
            && sc.contains("Welcome to the pop")
    });
    // Keys still work while small.
    s.send_keys(&["j"]);
    s.resize(120, 40);
    let screen = s.wait_until("the full list again", SHORT, |sc| {
        sc.contains(WELCOME) && sc.contains("Compost bins: done!") && sc.contains("q quit")
    });
    assert!(alive(&screen), "{screen}");
    s.send_keys(&["q"]);
    let screen = exited(&s, SHORT);
    assert!(screen.contains("EXIT=0"), "{screen}");
}

/// Rough: no captured line wider than `w` characters (the demo's visible
/// text at 40 columns is mostly narrow).
fn unicode_width_le(line: &str, w: usize) -> bool {
    line.chars().count() <= w
}

#[test]
fn no_color_means_no_colour_sequences() {
    let plain = start(&["--demo"], &[("NO_COLOR", "1")]);
    let coloured = start(&["--demo"], &[]);
    plain.wait_all(&[WELCOME, "q quit"], LONG);
    coloured.wait_all(&[WELCOME, "q quit"], LONG);
    let with = colour_sgrs(&coloured.capture_escapes());
    assert!(!with.is_empty(), "no colour even without NO_COLOR");
    let esc = plain.capture_escapes();
    let without = colour_sgrs(&esc);
    assert!(without.is_empty(), "colour with NO_COLOR=1: {without:?}");
    // Still something styled (the selection), just not coloured.
    assert!(esc.contains("\x1b["), "{esc:?}");
}

#[test]
fn hostile_subjects_leave_no_escapes_on_screen() {
    let s = start(&["--demo"], &[]);
    s.wait_all(
        &["Your account is SUSPENDED", "Password expires TODAY"],
        LONG,
    );
    let check = |what: &str| {
        let esc = s.capture_escapes();
        assert!(!esc.contains("\x1b]"), "OSC in the {what}: {esc:?}");
        assert!(!esc.contains("[2J"), "[2J leftover in the {what}: {esc:?}");
        assert!(!esc.contains("[6n"), "[6n leftover in the {what}: {esc:?}");
        let title = s.pane_title();
        assert!(
            !title.contains("unread") && !title.contains("all messages read"),
            "the pane title was set by mail: {title:?}"
        );
    };
    check("list");
    // Open it: the body is hostile too.
    s.send_keys(&["/"]);
    s.type_text("SUSPENDED");
    s.wait_for(" 1 match  enter keeps", SHORT);
    s.send_keys(&["Enter"]);
    s.wait_for("filter \"SUSPENDED\": 1 of 42", SHORT);
    s.send_keys(&["Enter"]);
    s.wait_for("Dear customer,", SHORT);
    check("reader");
}

#[test]
fn big_message_asks_first_and_cancel_works() {
    let s = start(&["--demo"], &[]);
    s.wait_for(WELCOME, LONG);
    // 42, the 6 MB message, is selected first.
    s.send_keys(&["Enter"]);
    s.wait_all(
        &[" Big message ", "Message 42 is 6.4M", "n/esc    cancel"],
        SHORT,
    );
    s.send_keys(&["Escape"]);
    let screen = s.wait_until("the dialog gone", SHORT, |sc| {
        !sc.contains("Big message") && sc.contains(WELCOME)
    });
    assert!(!screen.contains("line 1/"), "a reader opened: {screen}");
    // Nothing is being downloaded: the list is idle and still usable.
    s.send_keys(&["j", "Enter"]);
    s.wait_for("Welcome to popview!", SHORT);
}

#[test]
fn dovecot_password_dialog_then_list() {
    let d = Dovecot::start(DovecotOptions::with_messages(generated_messages(3)));
    let url = format!("pop3s://{}@localhost:{}", d.user, d.tls_port);
    let ca = d.ca_pem.display().to_string();
    let s = start(&[&url, "--ca-file", &ca], &[]);
    s.wait_all(&[" Password ", "Password: "], LONG);
    s.type_text(&d.password);
    let screen = s.wait_for(&"*".repeat(d.password.len()), SHORT);
    assert!(
        !screen.contains(&d.password),
        "the password is echoed:\n{screen}"
    );
    s.send_keys(&["Enter"]);
    let screen = s.wait_until("the list", LONG, |sc| {
        sc.contains("3 msgs") && sc.contains("#3") && !sc.contains(" Password ")
    });
    assert!(!screen.contains(&d.password), "{screen}");
    s.send_keys(&["q"]);
    let screen = exited(&s, SHORT);
    assert!(screen.contains("EXIT=0"), "{screen}");
}

fn named_message(i: usize, subject: &str) -> Vec<u8> {
    format!(
        "From: Sender {i} <sender{i}@example.org>\r\n\
         To: alice@example.org\r\n\
         Subject: {subject}\r\n\
         Date: Mon, 2 Mar 2026 1{i}:00:00 +0000\r\n\
         Message-ID: <e2e-{i}@example.org>\r\n\
         \r\n\
         Body of {subject}: line one.\r\n"
    )
    .into_bytes()
}

/// The whole flow against Dovecot, as a person would: open, navigate,
/// filter, read, mark, undo one, undo all, mark again, quit committing; an
/// independent session then finds exactly the marked messages gone.
#[test]
fn dovecot_full_flow_then_independent_check() {
    let subjects = [
        "Alpha report",
        "Bravo notes",
        "Charlie plan",
        "Delta memo",
        "Echo update",
    ];
    let msgs = subjects
        .iter()
        .enumerate()
        .map(|(i, s)| named_message(i + 1, s))
        .collect();
    let d = Dovecot::start(DovecotOptions::with_messages(msgs));
    let before = d.uidls();
    let url = format!("pop3s://{}@localhost:{}", d.user, d.tls_port);
    let ca = d.ca_pem.display().to_string();
    let s = start(
        &[&url, "--ca-file", &ca],
        &[("POPVIEW_PASSWORD", &d.password)],
    );
    s.wait_until("the list with every preview", LONG, |sc| {
        subjects.iter().all(|sub| sc.contains(sub)) && sc.contains("5 msgs")
    });

    // Filter, read, back.
    s.send_keys(&["/"]);
    s.type_text("bravo");
    s.wait_until("the filter narrowed to Bravo", SHORT, |sc| {
        sc.contains("Bravo notes") && !sc.contains("Alpha report") && !sc.contains("Echo update")
    });
    s.send_keys(&["Enter"]);
    s.wait_for("Bravo notes", SHORT);
    s.send_keys(&["Enter"]);
    s.wait_for("Body of Bravo notes: line one.", LONG);
    s.send_keys(&["Escape"]);
    s.wait_until("back to the list", SHORT, |sc| {
        !sc.contains("Body of Bravo")
    });
    s.send_keys(&["Escape"]);
    s.wait_until("the filter cleared", SHORT, |sc| {
        subjects.iter().all(|sub| sc.contains(sub))
    });

    // Newest first: Alpha (message 1) is at the bottom.
    s.send_keys(&["G", "d"]);
    s.wait_until("Alpha marked", SHORT, |sc| marked(sc, "Alpha report"));
    s.send_keys(&["G", "u"]);
    s.wait_until("Alpha unmarked", SHORT, |sc| {
        unmarked(sc, "Alpha report") && !sc.contains("to delete")
    });
    s.send_keys(&["G", "d", "G", "k", "d"]);
    s.wait_until("Alpha and Bravo marked", SHORT, |sc| {
        marked(sc, "Alpha report") && marked(sc, "Bravo notes") && sc.contains("2 to delete")
    });
    // U with an empty pattern: every mark; two marks: asked first.
    s.send_keys(&["U", "Enter"]);
    s.wait_for("yes: undo all 2 marks", SHORT);
    s.send_keys(&["y"]);
    s.wait_until("every mark undone", SHORT, |sc| {
        unmarked(sc, "Alpha report") && unmarked(sc, "Bravo notes") && !sc.contains("to delete")
    });
    // Mark again: Alpha and Charlie.
    s.send_keys(&["G", "d", "G", "k", "k", "d"]);
    s.wait_until("Alpha and Charlie marked", SHORT, |sc| {
        marked(sc, "Alpha report")
            && marked(sc, "Charlie plan")
            && unmarked(sc, "Bravo notes")
            && sc.contains("2 to delete")
    });
    s.send_keys(&["q"]);
    s.wait_for("Marked for deletion: 2 messages (", SHORT);
    s.send_keys(&["d"]);
    s.wait_for("y    delete the 2 marked messages now, then quit", SHORT);
    s.send_keys(&["y"]);
    let screen = exited(&s, LONG);
    assert!(screen.contains("EXIT=0"), "{screen}");

    let want: Vec<String> = [1, 3, 4].iter().map(|&i| before[i].clone()).collect();
    assert_eq!(d.uidls(), want, "exactly Alpha and Charlie are gone");
}

/// One message of the triage mailbox: `from`, and a body that makes it
/// about `size` octets.
fn sized_message(i: usize, from: &str, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: {from}\r\n\
         To: alice@example.org\r\n\
         Subject: Triage message {i}\r\n\
         Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n\
         Message-ID: <triage-{i}@example.org>\r\n\
         \r\n"
    )
    .into_bytes();
    let line = format!("{}\r\n", "x".repeat(76));
    while m.len() + line.len() <= size {
        m.extend_from_slice(line.as_bytes());
    }
    m
}

/// Issue 13's acceptance, as a new user would do it in tmux against Dovecot
/// with 2,000 messages: delete one sender's messages and everything over
/// 1 MB, but keep what is over 3 MB (`D`, `D`, `U`, `$`), in no more keys
/// than NeoMutt's 30 plus one confirmation per bulk change; an independent
/// session then finds exactly those messages gone.
#[test]
fn dovecot_triage_in_neomutt_keystrokes_then_independent_check() {
    const MB: usize = 1024 * 1024;
    let mut msgs = Vec::new();
    // (from jenkins, size) for 2,000 messages: 95 from Jenkins, 20 over
    // 1 MB of which 6 over 3 MB; two of Jenkins' are big ones.
    for i in 0..2000 {
        let jenkins = i % 21 == 0 && i / 21 < 95;
        let size = match i {
            _ if i % 97 == 5 && i < 97 * 20 => {
                if i % 3 == 0 {
                    3 * MB + MB / 2
                } else {
                    MB + MB / 2
                }
            }
            _ => 2_000,
        };
        let from = if jenkins {
            "Jenkins CI <jenkins@ci.example.org>".to_string()
        } else {
            format!("Person {} <p{}@example.org>", i % 50, i % 50)
        };
        msgs.push((jenkins, size, sized_message(i, &from, size)));
    }
    let d = Dovecot::start(DovecotOptions::with_messages(
        msgs.iter().map(|m| m.2.clone()).collect(),
    ));
    let before = d.uidls();
    assert_eq!(before.len(), 2000);
    // What must go: Jenkins' or over 1 MB, and not over 3 MB (sizes as
    // LIST gives them, which is what ~z compares).
    let lsize = |m: &[u8]| support::dovecot::virtual_size(m);
    let gone: Vec<usize> = (0..2000)
        .filter(|&i| {
            let s = lsize(&msgs[i].2);
            (msgs[i].0 || s > MB) && s <= 3 * MB
        })
        .collect();
    assert!(gone.len() > 95, "the corpus has both kinds");
    let url = format!("pop3s://{}@localhost:{}", d.user, d.tls_port);
    let ca = d.ca_pem.display().to_string();
    let s = start(
        &[&url, "--ca-file", &ca],
        &[("POPVIEW_PASSWORD", &d.password)],
    );
    s.wait_until("the list with every preview", LONG, |sc| {
        sc.contains("2000 msgs") && !sc.contains("previews ") && sc.contains("Triage message 1999")
    });
    let mut keys = 0;
    let mut press = |s: &Session, k: &str| {
        keys += 1;
        s.send_keys(&[k]);
    };
    let mut typed = 0;
    let mut type_text = |s: &Session, t: &str| {
        typed += t.chars().count();
        s.type_text(t);
    };
    let count =
        |f: &dyn Fn(bool, usize) -> bool| msgs.iter().filter(|m| f(m.0, lsize(&m.2))).count();
    let questions = [
        format!("Mark {} messages", count(&|j, _| j)),
        format!("Mark {} messages", count(&|j, s| !j && s > MB)),
        format!("Undo the marks on {} messages", count(&|_, s| s > 3 * MB)),
    ];
    for ((cmd, pattern), question) in [("D", "~f jenkins"), ("D", "~z >1M"), ("U", "~z >3M")]
        .into_iter()
        .zip(&questions)
    {
        press(&s, cmd);
        s.wait_for("matching: ", SHORT);
        type_text(&s, pattern);
        press(&s, "Enter");
        s.wait_for(question, LONG);
        press(&s, "y");
        s.wait_until("the question answered", SHORT, |sc| {
            !sc.contains(" Bulk change ")
        });
    }
    let want_marks = format!("{} to delete", gone.len());
    s.wait_for(&want_marks, LONG);
    press(&s, "$");
    s.wait_for(&format!("Delete {} messages", gone.len()), SHORT);
    press(&s, "y");
    s.wait_until("the commit done", LONG, |sc| {
        sc.contains(&format!("{} msgs", 2000 - gone.len())) && !sc.contains("to delete")
    });
    let total = keys + typed;
    assert!(
        total <= 30 + 3,
        "{total} keystrokes: more than NeoMutt's 30 plus one confirmation per bulk change"
    );
    let want: Vec<String> = (0..2000)
        .filter(|i| !gone.contains(i))
        .map(|i| before[i].clone())
        .collect();
    assert_eq!(d.uidls(), want, "exactly the chosen messages are gone");
    s.send_keys(&["q"]);
    let screen = exited(&s, LONG);
    assert!(screen.contains("EXIT=0"), "{screen}");
}
