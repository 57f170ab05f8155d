//! `popview save` against a real Dovecot: every message saved into a
//! Maildir and an mbox equals what the server sends (dot lines, a 10 KB
//! line, `From ` lines in a body, a message without a final newline); a
//! second run saves nothing; a run cut in the middle (the connection, or
//! the process killed) resumes without duplicates; `--delete` never deletes a message that failed to save (a
//! real write failure: a file size limit) and deletes nothing when the
//! connection is cut before QUIT; two popviews appending to one mbox at
//! once don't interleave.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use popview::cli::exit;
use support::cli::*;
use support::dovecot::{Dovecot, DovecotOptions, ExtraUser, generated_messages};
use support::proxy::{CutRule, Proxy};

/// Messages that test the edges of saving, after some ordinary ones.
fn corpus() -> Vec<Vec<u8>> {
    let mut m = generated_messages(8);
    m.push(
        b"From: dots@example.org\r\nSubject: dot lines\r\n\r\n.\r\n..\r\n.leading dot\r\n. \r\n\
          ...\r\nend\r\n"
            .to_vec(),
    );
    let mut long = b"From: long@example.org\r\nSubject: a 10 KB line\r\n\r\n".to_vec();
    long.extend(std::iter::repeat_n(b'x', 10 * 1024));
    long.extend_from_slice(b"\r\n.\r\n");
    m.push(long);
    m.push(
        b"From: from@example.org\r\nSubject: From lines\r\n\r\nFrom here\r\n>From there\r\n\
          >>From far\r\nFromage\r\n\r\nFrom after a blank line\r\n"
            .to_vec(),
    );
    m.push(b"From: nl@example.org\r\nSubject: no final newline\r\n\r\nlast line".to_vec());
    m
}

/// A config file with account `t` over POP3S, trusting the test CA.
fn config(sb: &Sandbox, d: &Dovecot, name: &str, user: &str) -> String {
    let path = sb.home().join(format!("config-{name}.toml"));
    fs::write(
        &path,
        format!(
            "[accounts.{name}]\nhost = \"localhost\"\nport = {}\ntls = \"implicit\"\n\
             username = \"{user}\"\npassword_env = \"PV_TEST_PW\"\nca_file = \"{}\"\n",
            d.tls_port,
            d.ca_pem.display()
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// A cleartext config through `port` (a cutting proxy can read it).
fn plain_config(sb: &Sandbox, d: &Dovecot, port: u16) -> String {
    let path = sb.home().join(format!("plain-{port}.toml"));
    fs::write(
        &path,
        format!(
            "[accounts.t]\nhost = \"localhost\"\nport = {port}\ntls = \"none\"\n\
             username = \"{}\"\npassword_env = \"PV_TEST_PW\"\n\
             allow_cleartext_password = true\n",
            d.user
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// Every message as the server sends it (an independent session), in LF
/// form, by UIDL.
fn server_messages(d: &Dovecot) -> BTreeMap<String, Vec<u8>> {
    let mut s = d.pop3s_session();
    let uids = s.uidl();
    let mut out = BTreeMap::new();
    for (i, uid) in uids.into_iter().enumerate() {
        let lines = s.multi(&format!("RETR {}", i + 1));
        let mut m = Vec::new();
        for l in lines {
            m.extend_from_slice(l.as_bytes());
            m.push(b'\n');
        }
        out.insert(uid, m);
    }
    s.quit();
    out
}

/// The files of a Maildir's `new/` and `cur/`.
fn maildir_files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for sub in ["new", "cur"] {
        for e in fs::read_dir(root.join(sub)).unwrap().flatten() {
            v.push((
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            ));
        }
    }
    v
}

/// The messages of an mbox as mutt reads them: split at `From ` lines
/// after a blank line (or at the start), one `>` taken off `>+From `
/// lines, the blank line before the next `From ` dropped.
fn mbox_messages(path: &Path) -> Vec<Vec<u8>> {
    let data = fs::read(path).unwrap();
    let mut msgs: Vec<Vec<u8>> = Vec::new();
    let mut previous_blank = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if previous_blank && line.starts_with(b"From ") {
            if let Some(last) = msgs.last_mut() {
                assert!(last.ends_with(b"\n\n"), "a blank line before each From");
                last.pop();
            }
            msgs.push(Vec::new());
            previous_blank = false;
            continue;
        }
        previous_blank = line == b"\n";
        let last = msgs.last_mut().expect("the mbox starts with a From line");
        let gts = line.iter().take_while(|&&b| b == b'>').count();
        if gts > 0 && line[gts..].starts_with(b"From ") {
            last.extend_from_slice(&line[1..]);
        } else {
            last.extend_from_slice(line);
        }
    }
    if let Some(last) = msgs.last_mut() {
        assert!(
            last.ends_with(b"\n\n"),
            "the last message ends with a blank line"
        );
        last.pop();
    }
    msgs
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

#[test]
fn dovecot_saves_every_message_as_sent_into_a_maildir_and_an_mbox_once() {
    let d = Dovecot::start(DovecotOptions::with_messages(corpus()));
    let server = server_messages(&d);
    let want: Vec<Vec<u8>> = server.values().cloned().collect();
    let sb = Sandbox::new();
    let cfg = config(&sb, &d, "t", &d.user);
    let env = [("PV_TEST_PW", d.password.as_str())];
    let maildir = sb.home().join("Mail");
    let mbox = sb.home().join("mbox");

    let r = sb
        .run(
            &[
                "save",
                "--maildir",
                maildir.to_str().unwrap(),
                "--config",
                &cfg,
            ],
            &env,
        )
        .ok();
    assert!(
        r.out()
            .starts_with(&format!("saved {} messages (", want.len())),
        "{}",
        r.out()
    );
    let files = maildir_files(&maildir);
    for (name, bytes) in &files {
        assert!(name.ends_with(&format!(",S={}", bytes.len())), "{name}");
    }
    let got = sorted(files.into_iter().map(|(_, b)| b).collect());
    assert_eq!(
        got,
        sorted(want.clone()),
        "the Maildir holds what the server sent"
    );

    // Again, to the account's save_to (the same Maildir): nothing new.
    let with_default = sb.home().join("with-save-to.toml");
    let mut text = fs::read_to_string(&cfg).unwrap();
    text.push_str("save_to = \"maildir:~/Mail\"\n");
    fs::write(&with_default, text).unwrap();
    let r = sb
        .run(&["save", "--config", with_default.to_str().unwrap()], &env)
        .ok();
    assert!(
        r.out().contains(&format!(
            "saved 0 messages (0 B) into the Maildir {}; {} saved before",
            maildir.display(),
            want.len()
        )),
        "{}",
        r.out()
    );
    assert_eq!(maildir_files(&maildir).len(), want.len());

    // mbox: in server order, mboxrd-quoted, nothing twice.
    sb.run(
        &["save", "--mbox", mbox.to_str().unwrap(), "--config", &cfg],
        &env,
    )
    .ok();
    let text = String::from_utf8_lossy(&fs::read(&mbox).unwrap()).into_owned();
    assert!(
        text.contains("\n>From here\n>>From there\n>>>From far\nFromage\n\n>From after"),
        "{text}"
    );
    assert!(text.starts_with("From dots@example.org ") || text.starts_with("From "));
    assert_eq!(
        mbox_messages(&mbox),
        want,
        "the mbox holds what the server sent"
    );
    let before = fs::read(&mbox).unwrap();
    sb.run(
        &["save", "--mbox", mbox.to_str().unwrap(), "--config", &cfg],
        &env,
    )
    .ok();
    assert_eq!(
        fs::read(&mbox).unwrap(),
        before,
        "a second run appends nothing"
    );
    // The record of what was saved is private.
    let records: Vec<PathBuf> = sb
        .files()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    for r in records {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&r).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(
        d.uidls().len(),
        want.len(),
        "nothing deleted without --delete"
    );
}

#[test]
fn dovecot_a_save_cut_in_the_middle_resumes_without_duplicates() {
    let d = Dovecot::start(DovecotOptions::with_messages(generated_messages(30)));
    let server = server_messages(&d);
    let total: usize = server.values().map(Vec::len).sum();
    let proxy = Proxy::start(format!("127.0.0.1:{}", d.plain_port).parse().unwrap());
    let sb = Sandbox::new();
    let cfg = plain_config(&sb, &d, proxy.port());
    let env = [("PV_TEST_PW", d.password.as_str())];
    let maildir = sb.home().join("Mail");
    let args = [
        "save",
        "--maildir",
        maildir.to_str().unwrap(),
        "--config",
        &cfg,
    ];
    proxy.cut_after_server_bytes((total / 2) as u64);
    let r = sb.run(&args, &env).code(exit::NETWORK);
    assert!(
        r.stderr.contains(" not saved (run the same"),
        "{}",
        r.stderr
    );
    let first = maildir_files(&maildir).len();
    assert!(first > 0 && first < 30, "cut in the middle: {first} saved");
    assert!(!proxy.cut_pending());
    let r = sb.run(&args, &env).ok();
    assert!(
        r.out()
            .starts_with(&format!("saved {} message", 30 - first)),
        "{}",
        r.out()
    );
    let got = sorted(
        maildir_files(&maildir)
            .into_iter()
            .map(|(_, b)| b)
            .collect(),
    );
    assert_eq!(
        got,
        sorted(server.into_values().collect()),
        "each message once"
    );
}

/// `sb`'s popview under `sh`, with a file size limit of about 75-150 KB
/// (`ulimit -f 150`: 512- or 1024-byte blocks) and SIGXFSZ ignored, so a
/// bigger write fails with EFBIG: a real write failure, even for root.
fn run_size_limited(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Run {
    let base = sb.command(args, env);
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("trap '' XFSZ; ulimit -f 150; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let o = c.output().unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: o.stdout,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn dovecot_delete_never_deletes_a_message_that_was_not_saved() {
    let mut msgs = generated_messages(5);
    let mut big = b"From: big@example.org\r\nSubject: too big to write\r\n\r\n".to_vec();
    for _ in 0..4000 {
        big.extend_from_slice(&[b'y'; 62]);
        big.extend_from_slice(b"\r\n");
    }
    msgs.insert(2, big);
    let d = Dovecot::start(DovecotOptions::with_messages(msgs));
    let uids = d.uidls();
    let sb = Sandbox::new();
    let cfg = config(&sb, &d, "t", &d.user);
    let env = [("PV_TEST_PW", d.password.as_str())];
    let maildir = sb.home().join("Mail");
    let r = run_size_limited(
        &sb,
        &[
            "save",
            "--maildir",
            maildir.to_str().unwrap(),
            "--delete",
            "--config",
            &cfg,
        ],
        &env,
    );
    let r = r.code(exit::NOT_SAVED);
    let out = r.out();
    assert!(
        out.contains(&format!("not saved 3\t{}\t", uids[2])),
        "{out}"
    );
    assert!(
        out.contains(&format!("not deleted 3\t{}\n", uids[2])),
        "{out}"
    );
    for (i, u) in uids.iter().enumerate().filter(|(i, _)| *i != 2) {
        assert!(out.contains(&format!("deleted {}\t{u}\n", i + 1)), "{out}");
    }
    assert_eq!(
        d.uidls(),
        vec![uids[2].clone()],
        "only the unsaved message is left"
    );
    assert_eq!(maildir_files(&maildir).len(), 5);
    assert_eq!(
        fs::read_dir(maildir.join("tmp")).unwrap().count(),
        0,
        "no temp left"
    );
}

#[test]
fn dovecot_a_cut_before_quit_deletes_nothing_and_a_rerun_moves_without_duplicates() {
    let d = Dovecot::start(DovecotOptions::with_messages(generated_messages(6)));
    let uids = d.uidls();
    let proxy = Proxy::start(format!("127.0.0.1:{}", d.plain_port).parse().unwrap());
    let sb = Sandbox::new();
    let cfg = plain_config(&sb, &d, proxy.port());
    let env = [("PV_TEST_PW", d.password.as_str())];
    let mbox = sb.home().join("mbox");
    let args = [
        "save",
        "--mbox",
        mbox.to_str().unwrap(),
        "--delete",
        "--config",
        &cfg,
    ];
    proxy.cut_on(CutRule::after_client_sends("DELE ", 0));
    let r = sb.run(&args, &env).code(exit::NOT_DELETED);
    assert!(r.stderr.contains("nothing was deleted"), "{}", r.stderr);
    assert_eq!(r.out().matches("not deleted ").count(), 6, "{}", r.out());
    assert_eq!(d.uidls(), uids, "Dovecot kept every message");
    assert_eq!(mbox_messages(&mbox).len(), 6);
    // Again: the copies are there, so now they go; nothing saved twice.
    let r = sb.run(&args, &env).ok();
    let deleted = r
        .lines()
        .iter()
        .filter(|l| l.starts_with("deleted "))
        .count();
    assert_eq!(deleted, 6, "{}", r.out());
    assert!(
        r.out()
            .contains("6 saved before; 6 deleted from the server"),
        "{}",
        r.out()
    );
    assert!(d.uidls().is_empty());
    assert_eq!(mbox_messages(&mbox).len(), 6);
}

#[test]
fn dovecot_two_savers_appending_to_one_mbox_do_not_interleave() {
    let other: Vec<Vec<u8>> = generated_messages(40).split_off(20);
    let d = Dovecot::start(DovecotOptions {
        extra_users: vec![ExtraUser {
            name: "bob".into(),
            password: "pv-Bob-Pass2".into(),
            messages: other.clone(),
        }],
        ..DovecotOptions::with_messages(generated_messages(20))
    });
    let sb = Sandbox::new();
    let mbox = sb.home().join("shared-mbox");
    let a = config(&sb, &d, "alice", &d.user);
    let b = config(&sb, &d, "bob", "bob");
    let spawn = |cfg: &str, pw: &str| {
        sb.command(
            &["save", "--mbox", mbox.to_str().unwrap(), "--config", cfg],
            &[("PV_TEST_PW", pw)],
        )
        .spawn()
        .unwrap()
    };
    let pa = spawn(&a, &d.password);
    let pb = spawn(&b, "pv-Bob-Pass2");
    for p in [pa, pb] {
        let o = p.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let mut want: Vec<Vec<u8>> = server_messages(&d).into_values().collect();
    want.extend(other.iter().map(|m| popview::localbox::lf_bytes(m)));
    assert_eq!(sorted(mbox_messages(&mbox)), sorted(want));
    assert!(
        !sb.home().join("shared-mbox.lock").exists(),
        "the dotlock is gone"
    );
}

#[test]
fn demo_save_takes_message_names_and_needs_a_destination() {
    let sb = Sandbox::new();
    let mbox = sb.home().join("picked");
    let m = mbox.to_str().unwrap();
    let r = sb
        .run(&["save", "--demo", "2", "#3", "2", "--mbox", m], &[])
        .ok();
    assert!(r.out().starts_with("saved 2 messages ("), "{}", r.out());
    assert_eq!(mbox_messages(&mbox).len(), 2);
    let r = sb.run(&["save", "--demo"], &[]).code(exit::USAGE);
    assert!(
        r.stderr.contains("--maildir DIR or --mbox FILE"),
        "{}",
        r.stderr
    );
    sb.run(&["save", "--demo", "--mbox", m, "--maildir", m], &[])
        .code(exit::USAGE);
    // A quoted `~` is put in, by the config's rule: `~/…` is home, and a
    // `~user/…` is refused with what to write (never a folder named so).
    sb.run(&["save", "--demo", "2", "--mbox", "~/tilde.mbox"], &[])
        .ok();
    assert_eq!(mbox_messages(&sb.home().join("tilde.mbox")).len(), 1);
    let r = sb
        .run(&["save", "--demo", "2", "--maildir", "~nobody/Mail"], &[])
        .code(exit::USAGE);
    assert!(r.stderr.contains("write the full path"), "{}", r.stderr);
    let r = sb
        .run(&["save", "--demo", "999", "--mbox", m], &[])
        .code(exit::SERVER);
    assert!(r.stderr.contains("no message \"999\""), "{}", r.stderr);
    assert_eq!(
        mbox_messages(&mbox).len(),
        2,
        "nothing saved for a bad name"
    );
    // Nothing of the demo is recorded on disk.
    assert!(
        !sb.files()
            .iter()
            .any(|p| p.to_string_lossy().contains("saved"))
    );
}

/// On a terminal (`script` gives popview a pty for stdout and stderr) a
/// progress line with messages, bytes, rate and time left is drawn and
/// then cleared for the summary; into a pipe only the summary is printed.
#[test]
fn demo_a_terminal_gets_a_progress_line_and_a_pipe_only_the_summary() {
    let sb = Sandbox::new();
    let m = sb.home().join("M");
    let inner = format!(
        "{} save --demo --maildir {}",
        support::tmux::sh_quote(BIN),
        support::tmux::sh_quote(m.to_str().unwrap())
    );
    let base = sb.command(&[], &[]);
    let mut c = Command::new("script");
    c.args(["-q", "-e", "-c", &inner, "/dev/null"])
        .stdin(Stdio::null());
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let o = c.output().expect("script(1) from util-linux");
    assert!(o.status.success(), "{o:?}");
    let screen = String::from_utf8_lossy(&o.stdout);
    assert!(
        screen.contains("\r\x1b[Ksaving 42/42, 6.5 MB of 6.5 MB, "),
        "{screen:?}"
    );
    assert!(screen.contains(" s left"), "{screen:?}");
    assert!(screen.contains("/s, "), "{screen:?}");
    assert!(
        screen.contains("\r\x1b[Ksaved 42 messages (6.5 MB)"),
        "{screen:?}"
    );

    let r = sb
        .run(
            &[
                "save",
                "--demo",
                "--maildir",
                sb.home().join("M2").to_str().unwrap(),
            ],
            &[],
        )
        .ok();
    assert_eq!(r.lines().len(), 1, "{}", r.out());
    assert!(
        r.out().starts_with("saved 42 messages (6.5 MB)"),
        "{}",
        r.out()
    );
    assert_eq!(r.stderr, "", "nothing but the summary");
}

/// A server without UIDL: messages are recognised by their content, so a
/// second run saves nothing again (and says why every message is
/// downloaded again).
#[test]
fn without_uidl_a_second_save_recognises_messages_by_content() {
    use popview::demo::{Mailbox, ServerOptions};
    let server = stls_server_with(
        Mailbox::generated(12),
        ServerOptions {
            uidl: false,
            ..ServerOptions::default()
        },
    );
    let sb = Sandbox::new();
    let env = [("POPVIEW_PASSWORD", PW)];
    let u = url(&server);
    for (i, dest) in [["--maildir", "M"], ["--mbox", "box"]].iter().enumerate() {
        let path = sb.home().join(dest[1]);
        let args = [
            "save",
            dest[0],
            path.to_str().unwrap(),
            &u,
            "--ca-file",
            ca(),
        ];
        let r = sb.run(&args, &env).ok();
        assert!(r.out().starts_with("saved 12 messages"), "{}", r.out());
        assert!(
            r.stderr.contains("recognised by their content"),
            "{}",
            r.stderr
        );
        settle(&server);
        let r = sb.run(&args, &env).ok();
        assert!(r.out().contains("saved 0 messages (0 B)"), "{}", r.out());
        assert!(r.out().contains("; 12 saved before"), "{}", r.out());
        settle(&server);
        let n = if i == 0 {
            maildir_files(&path).len()
        } else {
            mbox_messages(&path).len()
        };
        assert_eq!(n, 12, "{dest:?}: nothing twice");
    }
}

/// popview killed (SIGKILL) in the middle of a save: the next run saves
/// exactly the rest; no message twice, no temp file left.
#[test]
fn dovecot_a_killed_save_resumes_without_duplicates() {
    let n = 1500;
    let d = Dovecot::start(DovecotOptions::with_messages(generated_messages(n)));
    let server = server_messages(&d);
    let sb = Sandbox::new();
    let cfg = config(&sb, &d, "t", &d.user);
    let env = [("PV_TEST_PW", d.password.as_str())];
    let maildir = sb.home().join("Mail");
    let args = [
        "save",
        "--maildir",
        maildir.to_str().unwrap(),
        "--config",
        &cfg,
    ];
    let mut child = sb.command(&args, &env).spawn().unwrap();
    let started = support::wait_until(std::time::Duration::from_secs(60), || {
        fs::read_dir(maildir.join("new")).is_ok_and(|d| d.count() >= 5)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(started, "the save never got going");
    let first = maildir_files(&maildir).len();
    assert!(first < n, "killed in the middle ({first} of {n} saved)");
    let r = sb.run(&args, &env).ok();
    assert!(
        r.out().starts_with(&format!("saved {} message", n - first)),
        "{}",
        r.out()
    );
    let got = sorted(
        maildir_files(&maildir)
            .into_iter()
            .map(|(_, b)| b)
            .collect(),
    );
    assert_eq!(
        got,
        sorted(server.into_values().collect()),
        "each message once"
    );
    assert_eq!(fs::read_dir(maildir.join("tmp")).unwrap().count(), 0);
}
