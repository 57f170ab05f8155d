//! `popview save` of a big message (over `STREAM_FROM`), streamed into the
//! destination line by line: the Maildir file and the mbox bytes are
//! exactly what saving the whole message gives (dot lines, `From ` lines,
//! no final newline), and a connection dropped part way through the
//! message leaves the mbox byte for byte as it was and no file in the
//! Maildir's `new/` or `tmp/`; the message is not recorded as saved, so
//! the next run saves it (once).

mod support;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use popview::demo::{Action, Mailbox, Server, ServerOptions};
use popview::localbox::{lf_bytes, mbox};
use support::bigmail::{big, half_answer, new_files, same_bytes, small};
use support::cli::*;

/// `popview save` streams messages from this size on (`STREAM_FROM`).
const STREAM_FROM: u64 = 1024 * 1024;

/// A server holding `small(1)`, `big(STREAM_FROM + 200_000)`, `small(3)`; while `armed`, a
/// RETR of message 2 gets half of it and then the connection is closed.
fn server(armed: Arc<AtomicBool>) -> Server {
    stalling_server(armed, Duration::from_millis(200))
}

/// [`server`], silent for `stall` after the half message.
fn stalling_server(armed: Arc<AtomicBool>, stall: Duration) -> Server {
    let b = big(STREAM_FROM + 200_000);
    let cut = half_answer(&b, b.len() / 2);
    stls_server_with(
        Mailbox::from_messages(vec![small(1), b, small(3)]),
        ServerOptions {
            hook: Some(Arc::new(move |ctx| {
                if armed.load(Ordering::SeqCst) && ctx.line == "RETR 2" {
                    Action::ReplyThenStall(cut.clone(), stall)
                } else {
                    Action::Normal
                }
            })),
            ..ServerOptions::default()
        },
    )
}

fn save(sb: &Sandbox, s: &Server, dest: &[&str]) -> Run {
    let u = url(s);
    let mut args = vec!["save"];
    args.extend_from_slice(dest);
    args.extend_from_slice(&[&u, "--ca-file", ca()]);
    let r = sb.run(&args, &[("POPVIEW_PASSWORD", PW)]);
    settle(s);
    r
}

fn tmp_count(root: &Path) -> usize {
    fs::read_dir(root.join("tmp")).unwrap().count()
}

/// The mbox bytes saving these whole messages in this order gives.
fn mbox_of(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        let lf = lf_bytes(m);
        out.extend_from_slice(&mbox::mboxrd(
            &mbox::envelope_sender(&lf),
            &mbox::envelope_date(&lf),
            &lf,
        ));
    }
    out
}

/// The destination holds `small(1)`, the big message and `small(3)`, each
/// once and whole (an mbox in that order), and the Maildir no temp file.
#[track_caller]
fn holds_the_three(is_mbox: bool, path: &Path, md: &Path) {
    let three = [small(1), big(STREAM_FROM + 200_000), small(3)];
    if is_mbox {
        same_bytes(&fs::read(path).unwrap(), &mbox_of(&three));
    } else {
        let mut want: Vec<Vec<u8>> = three.iter().map(|m| lf_bytes(m)).collect();
        want.sort();
        assert!(new_files(md) == want, "each message once");
        assert_eq!(tmp_count(md), 0, "the temp file was removed");
    }
}

#[test]
fn a_big_message_is_streamed_byte_for_byte_as_a_whole_one_would_be() {
    let s = server(Arc::new(AtomicBool::new(false)));
    let sb = Sandbox::new();
    let md = sb.home().join("Mail");
    let r = save(&sb, &s, &["--maildir", md.to_str().unwrap()]).ok();
    assert!(r.out().starts_with("saved 3 messages"), "{}", r.out());
    let mut want: Vec<Vec<u8>> = [small(1), big(STREAM_FROM + 200_000), small(3)]
        .iter()
        .map(|m| lf_bytes(m))
        .collect();
    want.sort();
    assert!(new_files(&md) == want, "the Maildir files are the messages");
    let name_of_big = fs::read_dir(md.join("new"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| {
            n.ends_with(&format!(
                ",S={}",
                lf_bytes(&big(STREAM_FROM + 200_000)).len()
            ))
        });
    assert!(name_of_big.is_some(), "S= is the stored size");
    assert_eq!(tmp_count(&md), 0);

    let path = sb.home().join("box");
    let r = save(&sb, &s, &["--mbox", path.to_str().unwrap()]).ok();
    assert!(r.out().starts_with("saved 3 messages"), "{}", r.out());
    // The streamed mbox append equals the whole-message one.
    same_bytes(
        &fs::read(&path).unwrap(),
        &mbox_of(&[small(1), big(STREAM_FROM + 200_000), small(3)]),
    );
    let r = save(&sb, &s, &["--mbox", path.to_str().unwrap()]).ok();
    assert!(r.out().contains("; 3 saved before"), "{}", r.out());
}

#[test]
fn a_connection_dropped_part_way_leaves_the_destination_as_it_was() {
    let armed = Arc::new(AtomicBool::new(false));
    let s = server(armed.clone());
    let sb = Sandbox::new();
    let md = sb.home().join("Mail");
    let path = sb.home().join("box");
    for dest in [
        ["--maildir", md.to_str().unwrap()],
        ["--mbox", path.to_str().unwrap()],
    ] {
        let is_mbox = dest[0] == "--mbox";
        // Message 1 saved first: the destination holds something to keep.
        armed.store(false, Ordering::SeqCst);
        let one = [dest[0], dest[1], "1"];
        save(&sb, &s, &one).ok();
        let before_mbox = is_mbox.then(|| fs::read(&path).unwrap());
        let before_md = (!is_mbox).then(|| new_files(&md));

        armed.store(true, Ordering::SeqCst);
        let r = save(&sb, &s, &dest);
        assert_ne!(r.code, 0, "{dest:?}: a lost connection fails: {r:#?}");
        assert!(
            r.stderr.contains("run the same command again"),
            "{}",
            r.stderr
        );
        if is_mbox {
            let (now, before) = (fs::read(&path).unwrap(), before_mbox.unwrap());
            assert!(
                now == before,
                "the mbox is exactly as before the cut message ({} bytes, {} before)",
                now.len(),
                before.len()
            );
            assert!(!Path::new(&format!("{}.lock", path.display())).exists());
        } else {
            assert!(new_files(&md) == before_md.unwrap(), "nothing new in new/");
            assert_eq!(tmp_count(&md), 0, "nothing left in tmp/");
        }

        // Not recorded as saved: the next run saves 2 and 3, once.
        armed.store(false, Ordering::SeqCst);
        let r = save(&sb, &s, &dest).ok();
        assert!(r.out().starts_with("saved 2 messages"), "{}", r.out());
        assert!(r.out().contains("; 1 saved before"), "{}", r.out());
        holds_the_three(is_mbox, &path, &md);
    }
}

/// popview killed (SIGKILL) while a big message is being appended: the
/// next run takes the part written out of the mbox (nothing was appended
/// after it) and the temp file out of the Maildir, then saves the message
/// once; the mbox ends up exactly as if nothing had happened.
#[test]
fn a_save_killed_part_way_through_a_big_message_leaves_no_part_of_it() {
    let armed = Arc::new(AtomicBool::new(false));
    let s = stalling_server(armed.clone(), Duration::from_secs(2));
    let sb = Sandbox::new();
    let md = sb.home().join("Mail");
    let path = sb.home().join("box");
    for dest in [
        ["--mbox", path.to_str().unwrap()],
        ["--maildir", md.to_str().unwrap()],
    ] {
        let is_mbox = dest[0] == "--mbox";
        armed.store(false, Ordering::SeqCst);
        save(&sb, &s, &[dest[0], dest[1], "1"]).ok();
        let before = if is_mbox {
            fs::metadata(&path).unwrap().len()
        } else {
            0
        };
        armed.store(true, Ordering::SeqCst);
        let u = url(&s);
        let mut killed = false;
        let r = sb.run_watching(
            &["save", dest[0], dest[1], &u, "--ca-file", ca()],
            &[("POPVIEW_PASSWORD", PW)],
            |pid| {
                let part_written = if is_mbox {
                    fs::metadata(&path).is_ok_and(|m| m.len() > before + 100_000)
                } else {
                    fs::read_dir(md.join("tmp")).is_ok_and(|d| {
                        d.flatten()
                            .any(|e| e.metadata().is_ok_and(|m| m.len() > 100_000))
                    })
                };
                if part_written && !killed {
                    killed = std::process::Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status()
                        .is_ok_and(|st| st.success());
                }
            },
        );
        assert!(killed, "{dest:?}: the part written was seen: {r:#?}");
        settle(&s);
        if is_mbox {
            assert!(
                fs::metadata(&path).unwrap().len() > before,
                "a part is there"
            );
        }

        armed.store(false, Ordering::SeqCst);
        let r = save(&sb, &s, &dest).ok();
        assert!(r.out().starts_with("saved 2 messages"), "{}", r.out());
        assert!(!r.stderr.contains("part of a message"), "{}", r.stderr);
        holds_the_three(is_mbox, &path, &md);
    }
}
