//! The scripting commands (`list`, `show`, `delete`, `serverinfo`) as a
//! script sees them: the real binary, HOME and the XDG dirs in a fresh temp
//! dir per run, stdin not a terminal, every run killed (and the test failed)
//! after 60 s. Against `--demo`, the in-process server with STLS and a real
//! Dovecot; exit codes per failure kind; the password never leaks.

mod support;

use std::time::{Duration, Instant};

use popview::demo::Mailbox;
use popview::demo::server::normalize_crlf;
use support::cli::*;
use support::dovecot::{Dovecot, DovecotOptions, generated_messages};

// ---------------------------------------------------------------- --demo

#[test]
fn demo_list_is_one_clean_line_per_message() {
    let sb = Sandbox::new();
    let r = sb.run(&["--demo", "list"], &[]).ok();
    let lines = r.lines();
    assert_eq!(lines.len(), 42, "{}", r.out());
    let demo = Mailbox::demo();
    for (i, l) in lines.iter().enumerate() {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f.len(), 6, "number, uid, size, date, from, subject: {l:?}");
        assert_eq!(f[0], (i + 1).to_string());
        assert_eq!(f[1], demo.messages()[i].0);
        assert!(!has_control(l), "control character in {l:?}");
    }
    let hostile = lines
        .iter()
        .find(|l| l.contains("SUSPENDED"))
        .expect("the hostile subject is listed");
    assert!(
        !hostile.contains('\u{1b}') && !hostile.contains('\u{7}'),
        "{hostile:?}"
    );
    assert!(r.out().contains("\tWelcome to the popview demo\n"));
}

#[test]
fn demo_list_json_has_the_contract_fields() {
    let sb = Sandbox::new();
    let r = sb.run(&["list", "--json", "--demo"], &[]).ok();
    let demo = Mailbox::demo();
    let objs: Vec<serde_json::Value> = r
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(objs.len(), 42);
    for (i, o) in objs.iter().enumerate() {
        for k in [
            "number",
            "uid",
            "size",
            "date",
            "from",
            "from_name",
            "subject",
        ] {
            assert!(o.get(k).is_some(), "no {k:?} in {o}");
        }
        assert_eq!(o["number"], i as u64 + 1);
        assert_eq!(o["uid"], demo.messages()[i].0.as_str());
        assert_eq!(
            o["size"],
            normalize_crlf(&demo.messages()[i].1).len() as u64,
            "LIST size is the CRLF size"
        );
        match &o["date"] {
            serde_json::Value::Null => {}
            serde_json::Value::String(d) => {
                chrono::DateTime::parse_from_rfc3339(d)
                    .unwrap_or_else(|e| panic!("date {d:?} is not RFC 3339: {e}"));
            }
            other => panic!("date is {other}"),
        }
        for k in ["from", "from_name", "subject"] {
            let s = o[k]
                .as_str()
                .unwrap_or_else(|| panic!("{k} not a string: {o}"));
            assert!(!has_control(s), "control character in {k} of {o}");
        }
    }
    let w = &objs[40];
    assert_eq!(w["subject"], "Welcome to the popview demo");
    assert_eq!(w["date"], "2026-11-21T18:00:00+01:00");
    assert_eq!(w["from"], "demo@popview.demo");
    assert_eq!(w["from_name"], "popview demo");
    // RFC 2047 decoded (36-hostile-encoded.eml is base64 + Q encoded words).
    let enc = objs[35]["subject"].as_str().unwrap();
    assert!(enc.starts_with("Password expires TODAY"), "{enc:?}");
    assert!(!enc.contains("=?UTF-8?"), "{enc:?}");
}

#[test]
fn demo_show_prints_the_welcome_text() {
    let sb = Sandbox::new();
    let out = sb.run(&["--demo", "show", "41"], &[]).ok().out();
    assert!(
        out.contains("Subject: Welcome to the popview demo\n"),
        "{out}"
    );
    assert!(
        out.contains("From: popview demo <demo@popview.demo>"),
        "{out}"
    );
    assert!(out.contains("\nWelcome to popview!\n"), "{out}");
    assert!(
        out.contains("This mailbox is served by a small POP3 server that runs inside popview"),
        "{out}"
    );
    assert!(!out.contains('\r'), "sanitized text has no CR");
}

#[test]
fn demo_show_raw_by_uid_is_the_exact_bytes_served() {
    let demo = Mailbox::demo();
    let sb = Sandbox::new();
    // 7: lines starting with dots (dot-stuffed on the wire); 35: raw escape
    // sequences, which --raw must pass through untouched.
    for n in [7usize, 35] {
        let (uid, bytes) = &demo.messages()[n - 1];
        let r = sb.run(&["--demo", "show", uid, "--raw"], &[]).ok();
        let want = normalize_crlf(bytes);
        assert!(
            r.stdout == want,
            "message {n} ({uid}): {} bytes out, {} expected; stderr {}",
            r.stdout.len(),
            want.len(),
            r.stderr
        );
    }
}

#[test]
fn demo_delete_dry_run_sends_no_dele() {
    let sb = Sandbox::new();
    let trace = sb.home().join("trace.log");
    let r = sb
        .run(
            &[
                "--demo",
                "delete",
                "3",
                "--dry-run",
                "--log",
                trace.to_str().unwrap(),
            ],
            &[],
        )
        .ok();
    let uid = Mailbox::demo().messages()[2].0.clone();
    assert_eq!(r.out(), format!("would delete 3\t{uid}\n"));
    let t = std::fs::read_to_string(&trace).expect("trace written");
    assert!(t.contains("C: UIDL"), "the session ran: {t}");
    assert!(!t.contains("DELE"), "a dry run sent DELE:\n{t}");
    assert!(t.contains("C: QUIT"), "{t}");
}

#[test]
fn demo_serverinfo_and_show_999() {
    let sb = Sandbox::new();
    let out = sb.run(&["--demo", "serverinfo"], &[]).ok().out();
    for want in [
        "Greeting:",
        "popview-demo POP3 server ready",
        "TLS:            none (cleartext)",
        "Capabilities:",
        "PIPELINING",
        "Pipelining:     yes",
        "Implementation: popview-demo",
        "Login delay:",
        "Expire:",
        "Messages:       42",
    ] {
        assert!(out.contains(want), "{want:?} missing:\n{out}");
    }
    let r = sb.run(&["--demo", "show", "999"], &[]).code(5);
    assert!(r.stderr.contains("no message \"999\""), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

// ------------------------------------------- the in-process server + STLS

#[test]
fn stls_list_cache_no_cache_and_delete() {
    let server = stls_server(Mailbox::generated(5));
    let before = server.mailbox_uids();
    let sb = Sandbox::new();
    let u = url(&server);
    let env = [("POPVIEW_PASSWORD", PW)];
    let args = |cmd: &'static [&'static str]| {
        let mut a: Vec<&str> = cmd.to_vec();
        a.extend([u.as_str(), "--ca-file", ca()]);
        a
    };

    // First list: previews fetched with TOP, over STLS.
    let first = sb.run(&args(&["list"]), &env).ok();
    assert_eq!(first.lines().len(), 5, "{}", first.out());
    for (l, uid) in first.lines().iter().zip(&before) {
        assert_eq!(l.split('\t').nth(1), Some(uid.as_str()));
    }
    assert_eq!(tops_since(&server, 0), 5);
    let log = server.log();
    let stls = log
        .iter()
        .position(|l| l.line == "STLS")
        .expect("STLS sent");
    let auth = log
        .iter()
        .position(|l| l.line.starts_with("AUTH") || l.line.starts_with("USER"))
        .expect("logged in");
    assert!(stls < auth, "credentials before STLS: {log:?}");
    let caches = sb.header_caches();
    assert_eq!(caches.len(), 1, "{:?}", sb.files());
    assert!(
        caches[0].starts_with(sb.cache_root().join("popview")),
        "cache outside XDG_CACHE_HOME: {caches:?}"
    );
    settle(&server);

    // Second list: the same output from the cache, no TOP at all.
    let conns = server.connections();
    let second = sb.run(&args(&["list"]), &env).ok();
    assert_eq!(second.out(), first.out());
    assert!(server.connections() > conns, "a second session ran");
    assert_eq!(tops_since(&server, conns), 0, "{:?}", server.log());
    settle(&server);

    // --no-cache: doesn't read the cache (TOPs again) ...
    let conns = server.connections();
    let mut a = args(&["list"]);
    a.push("--no-cache");
    let third = sb.run(&a, &env).ok();
    assert_eq!(third.out(), first.out());
    assert_eq!(tops_since(&server, conns), 5);
    settle(&server);
    // ... and doesn't write one.
    let fresh = Sandbox::new();
    fresh.run(&a, &env).ok();
    assert!(
        fresh.header_caches().is_empty(),
        "{:?}",
        fresh.header_caches()
    );
    settle(&server);

    // delete 1 2: prints what it deleted; exactly those are gone.
    let r = sb.run(&args(&["delete", "1", "2"]), &env).ok();
    assert_eq!(
        r.out(),
        format!("deleted 1\t{}\ndeleted 2\t{}\n", before[0], before[1])
    );
    settle(&server);
    assert_eq!(server.mailbox_uids(), before[2..].to_vec());
}

#[test]
fn delete_with_an_unknown_uidl_deletes_nothing() {
    let server = stls_server(Mailbox::generated(3));
    let before = server.mailbox_uids();
    let sb = Sandbox::new();
    let u = url(&server);
    let r = sb
        .run(
            &["delete", "1", "nosuchuid", &u, "--ca-file", ca()],
            &[("POPVIEW_PASSWORD", PW)],
        )
        .code(5);
    assert!(r.stderr.contains("nosuchuid"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.out());
    settle(&server);
    assert_eq!(server.mailbox_uids(), before);
    assert!(
        !server.log().iter().any(|l| l.line.starts_with("DELE")),
        "{:?}",
        server.log()
    );
}

#[test]
fn the_password_never_leaks() {
    let server = stls_server(Mailbox::generated(3));
    let sb = Sandbox::new();
    // The password lives in a file outside the sandbox; the command that
    // reads it doesn't contain it.
    let secret_dir = tempfile::tempdir_in(support::temp_root()).unwrap();
    let pw_file = secret_dir.path().join("pw");
    std::fs::write(&pw_file, PW).unwrap();
    let pw_cmd = format!("cat {}", pw_file.display());
    let trace = sb.home().join("trace.log");
    let u = url(&server);
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("\0demo\0{PW}"))
    };
    let mut runs = Vec::new();
    let mut cmdlines = Vec::new();
    for cmd in [&["list"][..], &["show", "2"], &["delete", "3"]] {
        let mut a: Vec<&str> = cmd.to_vec();
        a.extend([
            u.as_str(),
            "--ca-file",
            ca(),
            "--password-command",
            &pw_cmd,
            "--log",
            trace.to_str().unwrap(),
        ]);
        let r = sb
            .run_watching(&a, &[], |pid| {
                if let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline"))
                    && !c.is_empty()
                {
                    cmdlines.push(c);
                }
            })
            .ok();
        runs.push(r);
        settle(&server);
    }
    assert!(!cmdlines.is_empty(), "never saw popview's command line");
    for c in &cmdlines {
        let c = String::from_utf8_lossy(c);
        assert!(c.contains("--password-command"), "{c:?}");
        assert!(!c.contains(PW), "password on the command line: {c:?}");
    }
    let t = std::fs::read_to_string(&trace).expect("trace written");
    assert!(
        t.contains("C: PASS <redacted>") || t.contains("C: AUTH PLAIN <redacted>"),
        "{t}"
    );
    assert_eq!(server.mailbox_uids().len(), 2, "the delete ran");
    // The server did receive the credential (so the checks below can fail).
    assert!(
        server
            .log()
            .iter()
            .any(|l| l.line.contains(PW) || l.line.contains(&b64)),
        "{:?}",
        server.log()
    );
    for r in &runs {
        let out = String::from_utf8_lossy(&r.stdout);
        for s in [PW, b64.as_str()] {
            assert!(!out.contains(s) && !r.stderr.contains(s), "{r:#?}");
        }
    }
    let files = sb.files();
    assert!(
        files.iter().any(|p| p.ends_with("headers.log")),
        "{files:?}"
    );
    assert!(files.contains(&trace));
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(PW) && !text.contains(&b64),
            "password in {}",
            f.display()
        );
    }
}

// ------------------------------------------------------------ exit codes

#[test]
fn wrong_password_exits_3() {
    let server = stls_server(Mailbox::generated(2));
    let sb = Sandbox::new();
    let u = url(&server);
    let r = sb
        .run(
            &["list", &u, "--ca-file", ca()],
            &[("POPVIEW_PASSWORD", "not-the-password")],
        )
        .code(3);
    assert!(r.stdout.is_empty());
    assert!(!r.stderr.contains("not-the-password"), "{}", r.stderr);
}

#[test]
fn no_password_source_exits_3_without_a_terminal() {
    let server = stls_server(Mailbox::generated(2));
    let sb = Sandbox::new();
    let u = url(&server);
    let r = sb.run(&["list", &u, "--ca-file", ca()], &[]).code(3);
    assert!(r.stderr.contains("POPVIEW_PASSWORD"), "{}", r.stderr);
}

#[test]
fn connection_refused_exits_4() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sb = Sandbox::new();
    let u = format!("pop3s://demo@127.0.0.1:{port}");
    let t = Instant::now();
    let r = sb.run(&["list", &u], &[("POPVIEW_PASSWORD", PW)]).code(4);
    assert!(!r.stderr.is_empty());
    eprintln!("connection refused took {:?}: {}", t.elapsed(), r.stderr);
}

#[test]
fn unknown_ca_exits_4_and_suggests_ca_file() {
    let server = pop3s_server(Mailbox::generated(1));
    let sb = Sandbox::new();
    let u = format!("pop3s://demo@localhost:{}", server.addr().port());
    let r = sb.run(&["list", &u], &[("POPVIEW_PASSWORD", PW)]).code(4);
    assert!(r.stderr.contains("--ca-file"), "{}", r.stderr);
    // And nothing was sent over the unverified connection.
    assert!(
        !server.log().iter().any(|l| l.line.contains(PW)),
        "{:?}",
        server.log()
    );
}

#[test]
fn bad_config_exits_2_and_quotes_the_key() {
    let sb = Sandbox::new();
    let cfg = sb.home().join("bad.toml");
    std::fs::write(
        &cfg,
        "[accounts.work]\nhost = \"pop.example.com\"\nusername = \"me\"\ntls = \"startls\"\n",
    )
    .unwrap();
    let r = sb
        .run(&["list", "--config", cfg.to_str().unwrap()], &[])
        .code(2);
    assert!(
        r.stderr.contains("accounts.work.tls = \"startls\""),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("\"starttls\""), "{}", r.stderr);
}

#[test]
fn no_config_and_no_url_exits_2_pointing_at_demo() {
    let sb = Sandbox::new();
    for args in [&["list"][..], &["serverinfo"], &[]] {
        let r = sb.run(args, &[]).code(2);
        assert!(r.stderr.contains("no configuration file"), "{}", r.stderr);
        assert!(r.stderr.contains("popview --demo"), "{}", r.stderr);
        let expected_path = sb.home().join("xdg-config/popview/config.toml");
        assert!(
            r.stderr.contains(expected_path.to_str().unwrap()),
            "the message names the sandboxed config path: {}",
            r.stderr
        );
    }
}

// --------------------------------------------------------------- Dovecot

#[test]
fn dovecot_list_show_serverinfo_stls_delete() {
    let msgs = generated_messages(4);
    let d = Dovecot::start(DovecotOptions::with_messages(msgs.clone()));
    let sb = Sandbox::new();
    let pw_cmd = format!("printf %s {}", d.password);
    let ca = d.ca_pem.to_str().unwrap().to_string();
    let pop3s = format!("pop3s://{}@localhost:{}", d.user, d.tls_port);
    let stls = format!("pop3://{}@localhost:{}", d.user, d.plain_port);
    let run = |cmd: &[&str], url: &str| {
        let mut a = cmd.to_vec();
        a.extend([url, "--ca-file", &ca, "--password-command", &pw_cmd]);
        sb.run(&a, &[])
    };

    let r = run(&["list", "--json"], &pop3s).ok();
    let uids: Vec<String> = r
        .lines()
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["uid"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(uids, Dovecot::expected_uidls(4));

    let raw = run(&["show", "2", "--raw"], &pop3s).ok();
    assert!(raw.stdout == msgs[1], "show 2 --raw differs from message 2");

    let info = run(&["serverinfo"], &pop3s).ok().out();
    assert!(
        info.contains("implicit TLS, certificate verified"),
        "{info}"
    );
    assert!(info.contains("Dovecot"), "{info}");

    // STLS on the plain port.
    let r = run(&["list"], &stls).ok();
    assert_eq!(r.lines().len(), 4, "{}", r.out());
    let info = run(&["serverinfo"], &stls).ok().out();
    assert!(info.contains("STLS, certificate verified"), "{info}");

    // Delete by number and by UIDL; an independent session checks.
    let u3 = Dovecot::expected_uidl(3);
    let r = run(&["delete", "1", &u3], &pop3s).ok();
    assert_eq!(
        r.out(),
        format!(
            "deleted 1\t{}\ndeleted 3\t{u3}\n",
            Dovecot::expected_uidl(1)
        )
    );
    assert_eq!(
        d.uidls(),
        vec![Dovecot::expected_uidl(2), Dovecot::expected_uidl(4)]
    );
}

/// A TUI session that was killed left marks on disk: the scripting commands
/// must neither commit them (`delete X` deletes X only) nor forget them.
#[test]
fn scripting_commands_leave_pending_tui_marks_alone() {
    let server = stls_server(Mailbox::generated(3));
    let before = server.mailbox_uids();
    let sb = Sandbox::new();
    let key = format!("demo@localhost:{}", server.addr().port());
    let store = popview::store::Store::open_split(
        &sb.cache_root().join("popview"),
        &sb.home().join("xdg-data").join("popview"),
        &key,
    )
    .unwrap();
    store.save_marks(std::slice::from_ref(&before[1])).unwrap();
    let u = url(&server);
    let env = [("POPVIEW_PASSWORD", PW)];
    sb.run(&["list", &u, "--ca-file", ca()], &env).ok();
    settle(&server);
    let r = sb.run(&["delete", "1", &u, "--ca-file", ca()], &env).ok();
    assert_eq!(r.lines().len(), 1, "{}", r.out());
    settle(&server);
    assert_eq!(
        server.mailbox_uids(),
        before[1..].to_vec(),
        "only message 1 went"
    );
    assert_eq!(
        store.load_marks(),
        vec![before[1].clone()],
        "the TUI's mark is still pending"
    );
}

/// `3` can be a message number and, on some servers, another message's
/// UIDL: a guess could delete the wrong message, so it is refused, and
/// `#3` / `uid:3` say which.
#[test]
fn a_number_that_is_also_another_uidl_must_be_made_explicit() {
    let msgs = Mailbox::generated(3).into_messages();
    let pairs = vec![
        ("3".to_string(), msgs[0].1.clone()),
        ("x".to_string(), msgs[1].1.clone()),
        ("y".to_string(), msgs[2].1.clone()),
    ];
    let server = stls_server(Mailbox::from_pairs(pairs));
    let sb = Sandbox::new();
    let u = url(&server);
    let env = [("POPVIEW_PASSWORD", PW)];
    let r = sb
        .run(&["delete", "3", &u, "--ca-file", ca()], &env)
        .code(2);
    assert!(
        r.stderr.contains("#3") && r.stderr.contains("uid:3"),
        "{}",
        r.stderr
    );
    settle(&server);
    assert_eq!(server.mailbox_uids(), vec!["3", "x", "y"]);
    sb.run(&["delete", "#3", &u, "--ca-file", ca()], &env).ok();
    settle(&server);
    assert_eq!(server.mailbox_uids(), vec!["3", "x"]);
    sb.run(&["delete", "uid:3", &u, "--ca-file", ca()], &env)
        .ok();
    settle(&server);
    assert_eq!(server.mailbox_uids(), vec!["x"]);
}

/// A mark the worker refuses (a UID shared by two messages) ends `delete`
/// at once with the reason and exit 6: nothing is deleted, and every
/// target is reported "not deleted".
#[test]
fn delete_of_a_message_that_cannot_be_marked_fails_fast() {
    let msgs = Mailbox::generated(3).into_messages();
    let pairs = vec![
        ("d".to_string(), msgs[0].1.clone()),
        ("d".to_string(), msgs[1].1.clone()),
        ("z".to_string(), msgs[2].1.clone()),
    ];
    let server = stls_server(Mailbox::from_pairs(pairs));
    let sb = Sandbox::new();
    let u = url(&server);
    let t = std::time::Instant::now();
    let r = sb
        .run(
            &["delete", "#1", "#3", &u, "--ca-file", ca()],
            &[("POPVIEW_PASSWORD", PW)],
        )
        .code(6);
    assert!(r.stderr.contains("unique id"), "{}", r.stderr);
    // A UID shared by two messages is no UID at all.
    assert_eq!(r.out(), "not deleted 1\t-\nnot deleted 3\tz\n");
    assert!(t.elapsed() < Duration::from_secs(20), "no long wait");
    settle(&server);
    assert_eq!(server.mailbox_uids(), vec!["d", "d", "z"]);
}
