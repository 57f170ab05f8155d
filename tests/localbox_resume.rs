//! `localbox::Keeper` across interruptions: a stop right after the durable
//! write (before it was recorded) is settled without a duplicate, a
//! recorded intent whose write never happened is saved again, an
//! unreadable record makes it recognise saved messages by content (and
//! say so), and an mbox append waits for another program's lock.

mod support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use popview::localbox::{Destination, Keeper, mbox};

const M1: &[u8] = b"From: a@example.org\r\nSubject: one\r\n\r\nbody one\r\n";
const M2: &[u8] = b"From: b@example.org\r\nSubject: two\r\n\r\nFrom the start\r\n";

fn size(m: &[u8]) -> u64 {
    m.len() as u64
}

fn count_messages(dest: &Destination) -> usize {
    match dest {
        Destination::Maildir(p) => ["new", "cur"]
            .iter()
            .map(|s| fs::read_dir(p.join(s)).unwrap().count())
            .sum(),
        Destination::Mbox(p) => fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("From "))
            .count(),
    }
}

fn both(dir: &Path) -> [Destination; 2] {
    [
        Destination::Maildir(dir.join("Mail")),
        Destination::Mbox(dir.join("mbox")),
    ]
}

#[test]
fn a_stop_after_the_write_is_settled_without_a_duplicate() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    for dest in both(d.path()) {
        {
            let mut k = Keeper::open(dest.clone(), Some(&state)).unwrap();
            let kept = k.keep(Some("u1"), size(M1), M1).unwrap();
            assert!(kept.checked);
            k.set_crash_after_write(true);
            assert!(k.keep(Some("u2"), size(M2), M2).is_err());
            // Dropped here as if the process had died.
        }
        assert_eq!(count_messages(&dest), 2);
        let k = Keeper::open(dest.clone(), Some(&state)).unwrap();
        assert!(k.already_saved("u1", size(M1)));
        assert!(
            k.already_saved("u2", size(M2)),
            "{dest:?}: the write was found"
        );
        assert!(k.copy_holds("u2", size(M2)));
        assert!(
            !k.already_saved("u2", size(M2) + 1),
            "another size is another message"
        );
        assert_eq!(count_messages(&dest), 2);
    }
}

/// The journal of `state` (there is one destination per test).
fn journal(state: &Path) -> PathBuf {
    fs::read_dir(state.join("saved"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap()
}

#[test]
fn an_intent_whose_write_never_happened_is_saved_again() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    let dest = Destination::Maildir(d.path().join("Mail"));
    drop(Keeper::open(dest.clone(), Some(&state)).unwrap());
    // What a run that died between the record and the write leaves: the
    // intent, and perhaps a temp file.
    let name = "1.M1P1R0Q0.host,S=10";
    fs::write(d.path().join("Mail/tmp").join(name), "half").unwrap();
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(journal(&state))
        .unwrap();
    writeln!(
        f,
        r#"{{"op":"pending","uid":"u1","size":{},"place":{{"file":"{name}"}},"sha256":"x"}}"#,
        size(M1)
    )
    .unwrap();
    drop(f);
    let mut k = Keeper::open(dest.clone(), Some(&state)).unwrap();
    assert!(!k.already_saved("u1", size(M1)));
    assert!(
        !d.path().join("Mail/tmp").join(name).exists(),
        "the temp file is removed"
    );
    k.keep(Some("u1"), size(M1), M1).unwrap();
    assert_eq!(count_messages(&dest), 1);
}

#[test]
fn an_unreadable_record_is_said_and_saved_messages_are_recognised_by_content() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    for (i, dest) in both(d.path()).into_iter().enumerate() {
        let state = state.join(i.to_string());
        {
            let mut k = Keeper::open(dest.clone(), Some(&state)).unwrap();
            k.keep(Some("u1"), size(M1), M1).unwrap();
        }
        fs::write(journal(&state), "not json at all\n{}\n").unwrap();
        let mut k = Keeper::open(dest.clone(), Some(&state)).unwrap();
        let w = k.take_warnings();
        assert!(w.iter().any(|w| w.contains("unreadable")), "{w:?}");
        assert!(!k.already_saved("u1", size(M1)));
        let again = k.keep(Some("u1"), size(M1), M1).unwrap();
        assert!(again.already_there, "{dest:?}");
        let new = k.keep(Some("u2"), size(M2), M2).unwrap();
        assert!(!new.already_there);
        assert_eq!(count_messages(&dest), 2, "{dest:?}: no duplicate");
        drop(k);
        let k = Keeper::open(dest.clone(), Some(&state)).unwrap();
        assert!(k.already_saved("u1", size(M1)) && k.already_saved("u2", size(M2)));
    }
}

#[test]
fn a_size_that_differs_from_list_is_saved_but_not_checked() {
    let d = tempfile::tempdir().unwrap();
    let mut k = Keeper::open(Destination::Maildir(d.path().join("M")), None).unwrap();
    let kept = k.keep(Some("u"), size(M1) - 1, M1).unwrap();
    assert!(!kept.checked);
    assert!(
        !k.copy_holds("u", size(M1) - 1),
        "an unchecked copy may not be deleted"
    );
}

#[test]
fn an_mbox_append_waits_for_another_programs_lock() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("mbox");
    fs::write(&path, "").unwrap();
    // flock(1) holds the lock while writing a message in two halves.
    let mut child = Command::new("flock")
        .arg("-x")
        .arg(&path)
        .arg("-c")
        .arg(format!(
            "printf 'From x Thu Dec  3 03:36:22 2026\\nSubject: other\\n' >> '{p}'; \
             sleep 0.5; printf '\\nhalf two\\n\\n' >> '{p}'",
            p = path.display()
        ))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        support::wait_until(Duration::from_secs(10), || fs::metadata(&path)
            .is_ok_and(|m| m.len() > 0)),
        "the other writer started"
    );
    mbox::append(
        &path,
        "a@b",
        "Thu Dec  3 03:36:22 2026",
        b"Subject: mine\n\nx\n",
        |_, _, _| Ok(()),
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "From x Thu Dec  3 03:36:22 2026\nSubject: other\n\nhalf two\n\n\
         From a@b Thu Dec  3 03:36:22 2026\nSubject: mine\n\nx\n\n"
    );
}

#[test]
fn a_stale_dotlock_is_taken_over_and_removed() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("mbox");
    let lock = d.path().join("mbox.lock");
    let f = fs::File::create(&lock).unwrap();
    f.set_modified(SystemTime::now() - mbox::STALE_DOTLOCK - Duration::from_secs(60))
        .unwrap();
    drop(f);
    mbox::append(&path, "a", "Thu Dec  3 03:36:22 2026", b"x\n", |_, _, _| {
        Ok(())
    })
    .unwrap();
    assert!(!lock.exists());
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "From a Thu Dec  3 03:36:22 2026\nx\n\n"
    );
}
