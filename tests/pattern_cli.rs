//! `popview list --match` and `popview delete --match [--dry-run]` as a
//! script sees them (the real binary, a fresh HOME per run): against
//! `--demo`, the in-process STLS server, and a real Dovecot, where an
//! independent session checks exactly the matched messages are gone.

mod support;

use popview::demo::Mailbox;
use popview::demo::server::{ServerOptions, normalize_crlf};
use support::cli::*;
use support::dovecot::{Dovecot, DovecotOptions};

/// A small mailbox: (from, subject, body bytes).
fn message(from: &str, subject: &str, body_len: usize) -> Vec<u8> {
    let mut m = format!(
        "From: {from}\r\nTo: alice@example.com\r\nSubject: {subject}\r\n\
         Date: Mon, 01 Jun 2026 10:00:00 +0000\r\nMessage-ID: <{}@x.example>\r\n\r\n",
        subject.len() * 7919 + body_len
    )
    .into_bytes();
    for i in 0..body_len / 64 {
        m.extend_from_slice(format!("{:<62}\r\n", format!("line {i}")).as_bytes());
    }
    m
}

fn mailbox() -> Vec<Vec<u8>> {
    vec![
        message("Jenkins <jenkins@ci.example>", "Build 1 failed", 1_000),
        message("Anna <anna@example.org>", "Holiday photos", 300_000),
        message("Jenkins <jenkins@ci.example>", "Build 2 failed", 2_000),
        message(
            "=?utf-8?Q?=C5=81ukasz_=C5=BB=C3=B3=C5=82=C4=87?= <lz@example.pl>",
            "Report",
            5_000,
        ),
        message("Jenkins <jenkins@ci.example>", "Build 3 fixed", 200_000),
    ]
}

/// How many demo messages are from this address.
fn demo_from(addr: &str) -> usize {
    Mailbox::demo()
        .messages()
        .iter()
        .filter(|(_, b)| popview::mail::summarize(b).from_addr == addr)
        .count()
}

#[test]
fn demo_list_match_filters_like_the_tui() {
    let sb = Sandbox::new();
    let okafor = demo_from("ben@okafor.example");
    assert!(okafor > 1);
    let r = sb
        .run(&["--demo", "list", "--match", "~f okafor"], &[])
        .ok();
    assert_eq!(r.lines().len(), okafor, "{}", r.out());
    assert!(r.lines().iter().all(|l| l.contains("ben@okafor.example")));
    // A bare word folds diacritics: "chloe" finds "Chloé".
    let r = sb
        .run(&["--demo", "list", "--match", "chloe", "--json"], &[])
        .ok();
    assert_eq!(
        r.lines().len(),
        demo_from("chloe.martin@example.fr"),
        "{}",
        r.out()
    );
    for l in r.lines() {
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["from"], "chloe.martin@example.fr");
    }
    // Sizes are LIST's.
    let demo = Mailbox::demo();
    let big = demo
        .messages()
        .iter()
        .filter(|(_, b)| normalize_crlf(b).len() > 10 * 1024)
        .count();
    assert!(big > 0 && big < 42);
    let r = sb.run(&["--demo", "list", "--match", "~z >10K"], &[]).ok();
    assert_eq!(r.lines().len(), big, "{}", r.out());
    let r = sb.run(&["--demo", "list", "--match", "!~z >10K"], &[]).ok();
    assert_eq!(r.lines().len(), 42 - big, "{}", r.out());
}

#[test]
fn a_bad_pattern_exits_2_and_says_where() {
    let sb = Sandbox::new();
    let trace = sb.home().join("trace.log");
    for cmd in [&["list"][..], &["delete"]] {
        let mut a = vec!["--demo"];
        a.extend_from_slice(cmd);
        a.extend(["--match", "~z >1Q", "--log", trace.to_str().unwrap()]);
        let r = sb.run(&a, &[]).code(2);
        assert!(
            r.stderr
                .contains("~z >1Q: unknown size unit 'Q' at column 5; use K or M"),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{}", r.out());
        // Refused before any session.
        let t = std::fs::read_to_string(&trace).unwrap_or_default();
        assert!(!t.contains("C: USER") && !t.contains("DELE"), "{t}");
    }
    // Names and --match together are refused.
    let r = sb
        .run(&["--demo", "delete", "1", "--match", "~A"], &[])
        .code(2);
    assert!(r.stderr.contains("not both"), "{}", r.stderr);
}

#[test]
fn demo_delete_match_dry_run_prints_what_would_go() {
    let sb = Sandbox::new();
    let trace = sb.home().join("trace.log");
    let r = sb
        .run(
            &[
                "--demo",
                "delete",
                "--match",
                "~f okafor",
                "--dry-run",
                "--log",
                trace.to_str().unwrap(),
            ],
            &[],
        )
        .ok();
    let lines = r.lines();
    let n = demo_from("ben@okafor.example");
    assert_eq!(lines.len(), n + 1, "{}", r.out());
    let demo = Mailbox::demo();
    let mut total = 0;
    for l in &lines[..n] {
        let f: Vec<&str> = l.split('\t').collect();
        assert!(f[0].starts_with("would delete "), "{l}");
        let n: usize = f[0]["would delete ".len()..].parse().unwrap();
        assert_eq!(f[1], demo.messages()[n - 1].0);
        let size = normalize_crlf(&demo.messages()[n - 1].1).len();
        assert_eq!(f[2], size.to_string());
        assert_eq!(f[3], "ben@okafor.example");
        total += size;
    }
    assert_eq!(
        lines[n],
        format!("would delete {n} message(s), {total} bytes")
    );
    let t = std::fs::read_to_string(&trace).expect("trace written");
    assert!(t.contains("C: UIDL"), "the session ran: {t}");
    assert!(!t.contains("DELE"), "a dry run sent DELE:\n{t}");
}

#[test]
fn stls_delete_match_deletes_exactly_the_matches() {
    let server = stls_server(Mailbox::from_messages(mailbox()));
    let before = server.mailbox_uids();
    let sb = Sandbox::new();
    let u = url(&server);
    let env = [("POPVIEW_PASSWORD", PW)];
    let run = |extra: &[&str]| {
        let mut a = vec!["delete", "--match"];
        a.extend_from_slice(extra);
        a.extend([u.as_str(), "--ca-file", ca()]);
        sb.run(&a, &env)
    };
    // Nothing matches: nothing deleted, exit 0.
    let r = run(&["~f nobody"]).ok();
    assert!(r.stdout.is_empty(), "{}", r.out());
    assert!(r.stderr.contains("no message matches"), "{}", r.stderr);
    settle(&server);
    assert_eq!(server.mailbox_uids(), before);
    // Jenkins's failures: 1 and 3.
    let r = run(&["~f jenkins ~s failed"]).ok();
    assert_eq!(
        r.out(),
        format!("deleted 1\t{}\ndeleted 3\t{}\n", before[0], before[2])
    );
    settle(&server);
    assert_eq!(
        server.mailbox_uids(),
        vec![before[1].clone(), before[3].clone(), before[4].clone()]
    );
}

/// SECURITY-CASES H46: without TOP there are no previews; a pattern that
/// matches them anyway (a negation) deletes nothing it could not check.
#[test]
fn delete_match_never_deletes_a_message_it_could_not_check() {
    let server = stls_server_with(
        Mailbox::from_messages(mailbox()),
        ServerOptions {
            top: false,
            ..ServerOptions::default()
        },
    );
    let before = server.mailbox_uids();
    let sb = Sandbox::new();
    let u = url(&server);
    let r = sb
        .run(
            &["delete", "--match", "!~f jenkins", &u, "--ca-file", ca()],
            &[("POPVIEW_PASSWORD", PW)],
        )
        .ok();
    assert!(r.stdout.is_empty(), "{}", r.out());
    assert!(
        r.stderr
            .contains("5 matching message(s) have no header preview"),
        "{}",
        r.stderr
    );
    settle(&server);
    assert_eq!(server.mailbox_uids(), before);
    assert!(
        !server.log().iter().any(|l| l.line.starts_with("DELE")),
        "{:?}",
        server.log()
    );
}

#[test]
fn dovecot_delete_match_then_an_independent_session_checks() {
    let d = Dovecot::start(DovecotOptions::with_messages(mailbox()));
    let sb = Sandbox::new();
    let pw_cmd = format!("printf %s {}", d.password);
    let ca = d.ca_pem.to_str().unwrap().to_string();
    let pop3s = format!("pop3s://{}@localhost:{}", d.user, d.tls_port);
    let run = |cmd: &[&str]| {
        let mut a = cmd.to_vec();
        a.extend([
            pop3s.as_str(),
            "--ca-file",
            &ca,
            "--password-command",
            &pw_cmd,
        ]);
        sb.run(&a, &[])
    };
    let uid = Dovecot::expected_uidl;
    // Over 100 KB, or from Łukasz (folded): 2, 4, 5.
    let pattern = "~z >100K | lukasz";
    let dry = run(&["delete", "--match", pattern, "--dry-run"]).ok();
    assert_eq!(dry.lines().len(), 4, "{}", dry.out());
    assert!(dry.lines()[3].starts_with("would delete 3 message(s), "));
    assert_eq!(d.uidls().len(), 5, "a dry run deleted something");
    let listed = run(&["list", "--match", pattern]).ok();
    assert_eq!(listed.lines().len(), 3, "{}", listed.out());
    let r = run(&["delete", "--match", pattern]).ok();
    assert_eq!(
        r.out(),
        format!(
            "deleted 2\t{}\ndeleted 4\t{}\ndeleted 5\t{}\n",
            uid(2),
            uid(4),
            uid(5)
        )
    );
    assert_eq!(d.uidls(), vec![uid(1), uid(3)]);
}

/// A warm `list --match` (every preview from the header cache, no TOP)
/// matches `~h` against the cached header blocks, which a command reads
/// only for such a pattern; a pattern without `~h` gives the same lines
/// as before.
#[test]
fn warm_list_match_reads_the_cached_header_blocks_for_h() {
    let mut messages = mailbox();
    // Jenkins's first failure is flagged as spam.
    let flagged = String::from_utf8(messages[0].clone()).unwrap().replacen(
        "Subject:",
        "X-Spam-Flag: YES\r\nSubject:",
        1,
    );
    messages[0] = flagged.into_bytes();
    let server = stls_server(Mailbox::from_messages(messages));
    let sb = Sandbox::new();
    let u = url(&server);
    let env = [("POPVIEW_PASSWORD", PW)];
    let list = |extra: &[&str]| {
        let mut a = vec!["list"];
        a.extend_from_slice(extra);
        a.extend([u.as_str(), "--ca-file", ca()]);
        sb.run(&a, &env).ok()
    };
    // Cold: previews fetched, the cache filled.
    let all = list(&[]);
    assert_eq!(all.lines().len(), 5, "{}", all.out());
    settle(&server);
    let conns = server.connections();
    let spam = list(&["--match", "~h '^X-Spam-Flag: YES'"]);
    assert_eq!(spam.lines(), vec![all.lines()[0].clone()], "{}", spam.out());
    let jenkins = list(&["--match", "~f jenkins"]);
    assert_eq!(
        jenkins.lines(),
        vec![
            all.lines()[0].clone(),
            all.lines()[2].clone(),
            all.lines()[4].clone()
        ]
    );
    settle(&server);
    assert_eq!(tops_since(&server, conns), 0, "{:?}", server.log());
}
