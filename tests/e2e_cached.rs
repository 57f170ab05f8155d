//! The list as last seen, drawn before the server answers (issue 12 §2),
//! as a person sees it: the real binary in tmux against a private Dovecot;
//! the second start finds the server gone and still shows the list from
//! the cache, marked as cached, and keeps a mark made there for the next
//! session.

mod support;

use std::time::Duration;

use support::dovecot::{Dovecot, DovecotOptions};
use support::tmux::{start_popview, start_popview_in};

const BIN: &str = env!("CARGO_BIN_EXE_popview");
const LONG: Duration = Duration::from_secs(15);
const SHORT: Duration = Duration::from_secs(5);

fn message(i: usize, subject: &str) -> Vec<u8> {
    format!(
        "From: Sender {i} <sender{i}@example.org>\r\nTo: alice@example.org\r\n\
         Subject: {subject}\r\nDate: Mon, 2 Mar 2026 1{i}:00:00 +0000\r\n\
         Message-ID: <cached-{i}@example.org>\r\n\r\nBody of {subject}.\r\n"
    )
    .into_bytes()
}

#[test]
fn a_second_start_shows_the_cached_list_with_the_server_down() {
    let d = Dovecot::start(DovecotOptions::with_messages(vec![
        message(1, "Alpha cached"),
        message(2, "Bravo cached"),
        message(3, "Charlie cached"),
    ]));
    let config = format!(
        "[accounts.home]\nhost = \"localhost\"\nport = {}\ntls = \"implicit\"\n\
         username = \"{}\"\npassword_env = \"PV_TEST_PW\"\nca_file = \"{}\"\n",
        d.tls_port,
        d.user,
        d.ca_pem.display()
    );
    let pw = d.password.clone();
    let env = [("PV_TEST_PW", pw.as_str())];
    let first = start_popview(BIN, &[], Some(&config), &env);
    first.wait_until("the list, loaded", LONG, |sc| {
        sc.contains("Charlie cached") && sc.contains("idle")
    });
    first.send_keys(&["x"]);
    first.wait_until("popview to exit", LONG, |sc| sc.contains("EXIT=0"));
    let support::tmux::Popview { tmux, home } = first;
    drop(tmux);
    drop(d); // the server is gone

    let second = start_popview_in(home, BIN, &[], Some(&config), &env);
    let screen = second.wait_until("the cached list", SHORT, |sc| {
        sc.contains("Alpha cached") && sc.contains("Charlie cached")
    });
    let header = screen.lines().next().unwrap_or("");
    assert!(header.contains("cached · "), "{screen}");
    assert!(header.contains("3 msgs"), "{screen}");
    // Newest first: Charlie is on the first row; mark it.
    second.send_keys(&["d"]);
    let screen = second.wait_until("the mark kept offline", SHORT, |sc| {
        sc.lines()
            .any(|l| l.contains("Charlie cached") && l.starts_with('D'))
            && sc.contains("1 to delete")
    });
    assert!(!screen.contains("nothing was marked"), "{screen}");
    // Quit keeping the mark for the next session.
    second.send_keys(&["q"]);
    second.wait_for(" Quit ", SHORT);
    second.send_keys(&["l"]);
    // No session was had: not a success for a script (exit 4, network),
    // and it says nothing was deleted.
    let screen = second.wait_until("popview to exit", LONG, |sc| sc.contains("EXIT="));
    assert!(
        screen.contains("EXIT=4") && screen.contains("nothing was read or deleted"),
        "{screen}"
    );
    let marks = std::fs::read_dir(second.home.path().join("data/popview/accounts"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path().join("marks.json"))
        .find(|p| p.exists())
        .expect("a marks file");
    let text = std::fs::read_to_string(marks).unwrap();
    assert!(text.contains(&Dovecot::expected_uidl(3)), "{text}");
}
