//! Switching accounts inside the TUI, as a person does it: the real binary
//! in a private tmux server (120x40, HOME and XDG dirs sandboxed, a config
//! file written by the test) against two private Dovecot instances. Every
//! wait polls for text and dumps the screen when it times out.

mod support;

use std::time::Duration;

use support::dovecot::{Dovecot, DovecotOptions};
use support::tmux::{Popview, Tmux, start_popview};

const BIN: &str = env!("CARGO_BIN_EXE_popview");
const LONG: Duration = Duration::from_secs(15);
const SHORT: Duration = Duration::from_secs(5);

type Session = Popview;

/// Start popview with `args`, and `config` (if any) as the default config
/// file.
fn start(args: &[&str], config: Option<&str>, env: &[(&str, &str)]) -> Session {
    start_popview(BIN, args, config, env)
}

fn message(i: usize, subject: &str) -> Vec<u8> {
    format!(
        "From: Sender {i} <sender{i}@example.org>\r\n\
         To: alice@example.org\r\n\
         Subject: {subject}\r\n\
         Date: Mon, 2 Mar 2026 1{i}:00:00 +0000\r\n\
         Message-ID: <acct-{i}-{}@example.org>\r\n\
         \r\n\
         Body of {subject}.\r\n",
        subject.len()
    )
    .into_bytes()
}

fn server(subjects: &[&str]) -> Dovecot {
    Dovecot::start(DovecotOptions::with_messages(
        subjects
            .iter()
            .enumerate()
            .map(|(i, s)| message(i + 1, s))
            .collect(),
    ))
}

/// The list row showing `subject`, if visible.
fn row<'a>(screen: &'a str, subject: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(subject))
}

fn marked(screen: &str, subject: &str) -> bool {
    row(screen, subject).is_some_and(|l| l.starts_with('D'))
}

/// The accounts screen's line for the account `name`.
fn account_line<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen.lines().find(|l| {
        l.len() > 2 && l[l.char_indices().nth(2).map_or(0, |(i, _)| i)..].starts_with(name)
    })
}

fn exited(s: &Tmux, timeout: Duration) -> String {
    s.wait_until("popview to exit (EXIT=<code>)", timeout, |sc| {
        sc.lines()
            .any(|l| l.starts_with("EXIT=") && l.trim_end().len() > "EXIT=".len())
    })
}

fn account_table(name: &str, d: &Dovecot) -> String {
    format!(
        "[accounts.{name}]\nhost = \"localhost\"\nport = {}\ntls = \"implicit\"\n\
         username = \"{}\"\npassword_env = \"PV_TEST_PW\"\nca_file = \"{}\"\n\n",
        d.tls_port,
        d.user,
        d.ca_pem.display()
    )
}

/// Start on one account, `c`, choose the other, see its list; mark one
/// there; switching away asks like quitting does, `l` keeps the mark on
/// disk; new mail on the first account is counted as new; coming back
/// shows the kept mark restored; nothing is deleted on either server.
#[test]
fn switch_between_two_dovecot_accounts_keeping_marks() {
    let d1 = server(&["Alpha one", "Bravo one"]);
    let d2 = server(&["Xray two", "Yankee two", "Zulu two"]);
    assert_eq!(d1.password, d2.password, "one variable serves both");
    let before1 = d1.uidls();
    let before2 = d2.uidls();
    let config = format!(
        "{}{}",
        account_table("first", &d1),
        account_table("second", &d2)
    );
    let label1 = format!("{}@localhost:{}", d1.user, d1.tls_port);
    let label2 = format!("{}@localhost:{}", d2.user, d2.tls_port);
    let s = start(
        &["--account", "first"],
        Some(&config),
        &[("PV_TEST_PW", &d1.password)],
    );
    s.wait_all(&["Alpha one", "Bravo one", "2 msgs", &label1], LONG);

    // c: both accounts; the first is the one connected.
    s.send_keys(&["c"]);
    let screen = s.wait_all(&["Accounts: ", "● first", "second"], SHORT);
    let first = account_line(&screen, "first").unwrap();
    assert!(
        first.contains("connected") && first.contains("2 msgs"),
        "{screen}"
    );
    let second = account_line(&screen, "second").unwrap();
    assert!(second.contains(&label2), "{screen}");
    assert!(
        second.contains("messages unknown"),
        "never opened: {screen}"
    );

    // Enter on the second: no marks, so no question; its list comes.
    s.send_keys(&["j", "Enter"]);
    let screen = s.wait_until("the second account's list", LONG, |sc| {
        sc.contains(&label2)
            && sc.contains("3 msgs")
            && sc.contains("Yankee two")
            && !sc.contains("Accounts: ")
    });
    assert!(!screen.contains("Alpha one"), "{screen}");

    // Mark Yankee (the middle one of three, newest first).
    s.send_keys(&["j", "d"]);
    s.wait_until("Yankee marked", SHORT, |sc| {
        marked(sc, "Yankee two") && sc.contains("1 to delete")
    });
    // Mail arrives for the first account meanwhile.
    d1.add_messages(&[message(3, "Charlie new")]);

    // c: the first as last seen; switching there asks about the mark.
    s.send_keys(&["c"]);
    let screen = s.wait_all(&["Accounts: ", "● second"], SHORT);
    let first = account_line(&screen, "first").unwrap();
    assert!(first.contains("2 msgs (as last seen)"), "{screen}");
    let second = account_line(&screen, "second").unwrap();
    assert!(second.contains("1 mark pending"), "{screen}");
    s.send_keys(&["k", "Enter"]);
    let screen = s.wait_all(
        &[" Switch account ", "Marked for deletion: 1 message ("],
        SHORT,
    );
    // The quit question's answers, each ending in the switch (wrapped).
    assert!(
        screen.contains("leave the marks on disk for later, then")
            && screen.contains("delete the marked message now, then switch to first")
            && !screen.contains("then quit"),
        "{screen}"
    );
    s.send_keys(&["l"]);
    let screen = s.wait_until("the first account again, with its new mail", LONG, |sc| {
        sc.contains(&label1) && sc.contains("3 msgs") && sc.contains("Charlie new")
    });
    assert!(!screen.contains("Yankee two"), "{screen}");

    // c: the new message counts as new; the second keeps its mark on disk.
    s.send_keys(&["c"]);
    let screen = s.wait_all(&["Accounts: ", "● first"], SHORT);
    let first = account_line(&screen, "first").unwrap();
    assert!(first.contains("3 msgs, 1 new"), "{screen}");
    let second = account_line(&screen, "second").unwrap();
    assert!(
        second.contains("3 msgs (as last seen) · 1 mark pending"),
        "{screen}"
    );
    // Back to the second: the kept mark is restored, and the account's
    // lock was released by the session that left it (not read-only).
    s.send_keys(&["j", "Enter"]);
    let screen = s.wait_until("the second with Yankee marked again", LONG, |sc| {
        sc.contains(&label2) && marked(sc, "Yankee two") && sc.contains("1 to delete")
    });
    assert!(!screen.contains("marks are off"), "{screen}");
    s.send_keys(&["g", "j", "u"]);
    s.wait_until("the mark undone (marks work here)", SHORT, |sc| {
        row(sc, "Yankee two").is_some_and(|l| l.starts_with(' ')) && !sc.contains("to delete")
    });
    s.send_keys(&["k", "d"]);
    s.wait_until("Yankee marked again", SHORT, |sc| {
        marked(sc, "Yankee two") && sc.contains("1 to delete")
    });
    // Quit keeping the mark: nothing deleted anywhere.
    s.send_keys(&["q"]);
    s.wait_for(" Quit ", SHORT);
    s.send_keys(&["l"]);
    let screen = exited(&s, LONG);
    assert!(screen.contains("EXIT=0"), "{screen}");

    let mut want1 = before1.clone();
    want1.push(Dovecot::expected_uidl(3));
    assert_eq!(d1.uidls(), want1, "nothing deleted on the first server");
    assert_eq!(d2.uidls(), before2, "nothing deleted on the second server");
}

/// Started from a URL with no config file: `c` says there are no other
/// accounts and how to add them; the session goes on.
#[test]
fn url_without_config_says_there_are_no_other_accounts() {
    let d = server(&["Only message"]);
    let url = format!("pop3s://{}@localhost:{}", d.user, d.tls_port);
    let ca = d.ca_pem.display().to_string();
    let s = start(
        &[&url, "--ca-file", &ca],
        None,
        &[("POPVIEW_PASSWORD", &d.password)],
    );
    s.wait_all(&["Only message", "1 msg,"], LONG);
    s.send_keys(&["c"]);
    let screen = s.wait_for("no other accounts", SHORT);
    assert!(screen.contains("[accounts.NAME]"), "{screen}");
    assert!(!screen.contains("Accounts: "), "{screen}");
    s.send_keys(&["q"]);
    let screen = exited(&s, LONG);
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert_eq!(d.uidls().len(), 1);
}
