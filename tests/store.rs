//! `popview::store`: round trips, tolerance of corrupt files, hostile UIDs,
//! atomic replacement under concurrent saves, marks file lifecycle.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use popview::mail::{HeaderSummary, MailDate};
use popview::store::{CachedHeader, SavedMark, Store, default_roots};

fn summary(i: usize) -> HeaderSummary {
    HeaderSummary {
        from_name: format!("Sender {i}"),
        from_addr: format!("s{i}@example.org"),
        to: "bob@example.net".into(),
        subject: format!("Subject number {i} – ünïcödé 日本"),
        date: Some(MailDate {
            unix: 1_700_000_000 + i as i64,
            tz_offset_minutes: -300,
        }),
        message_id: format!("{i}@example.org"),
        has_attachments: i.is_multiple_of(3),
        ..HeaderSummary::default()
    }
}

fn entry(i: usize) -> CachedHeader {
    CachedHeader {
        size: 1000 + i as u64,
        summary: summary(i),
    }
}

fn map(n: usize, offset: usize) -> HashMap<String, CachedHeader> {
    (0..n)
        .map(|i| (format!("uid-{}", i + offset), entry(i + offset)))
        .collect()
}

/// Every file below `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn empty_store_loads_nothing() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "bob@pop.example.net:995").unwrap();
    assert!(s.load_headers().is_empty());
    assert!(s.load_marks().is_empty());
    assert_eq!(s.account(), "bob@pop.example.net:995");
}

#[test]
fn headers_round_trip() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "bob@pop.example.net:995").unwrap();
    let m = map(50, 0);
    s.save_headers(&m).unwrap();
    assert_eq!(s.load_headers(), m);
    // a second store on the same account sees the same state
    let s2 = Store::open(root.path(), "bob@pop.example.net:995").unwrap();
    assert_eq!(s2.load_headers(), m);
    // another account doesn't
    let other = Store::open(root.path(), "alice@pop.example.net:995").unwrap();
    assert!(other.load_headers().is_empty());
    // saving replaces, it doesn't merge
    let m2 = map(3, 1000);
    s.save_headers(&m2).unwrap();
    assert_eq!(s.load_headers(), m2);
}

#[test]
fn marks_round_trip_and_empty_removes_the_file() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let uids: Vec<String> = vec!["b".into(), "a".into(), "c".into()];
    s.save_marks(&uids).unwrap();
    assert_eq!(s.load_marks(), uids);
    let marks = s.data_dir().join("marks.json");
    assert!(marks.exists());
    s.save_marks(&[]).unwrap();
    assert!(!marks.exists());
    assert!(s.load_marks().is_empty());
    // removing when there is nothing is fine too
    s.save_marks(&[]).unwrap();
}

#[test]
fn layout_uses_a_hashed_account_dir_and_no_uid_in_file_names() {
    let root = tempfile::tempdir().unwrap();
    let key = "../../evil\u{1b}]0;x\u{7}@host:110";
    let s = Store::open(root.path(), key).unwrap();
    let weird: Vec<String> = vec!["../../x".into(), "/etc/passwd".into()];
    s.save_marks(&weird).unwrap();
    s.save_headers(&weird.iter().map(|u| (u.clone(), entry(1))).collect())
        .unwrap();
    let got = files(root.path());
    assert_eq!(got.len(), 4, "{got:?}");
    for f in &got {
        let parts: Vec<&str> = f.split('/').collect();
        assert_eq!(parts.len(), 3, "{f}");
        assert_eq!(parts[0], "accounts");
        assert_eq!(parts[1].len(), 32);
        assert!(
            parts[1]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(
            [
                "account.txt",
                "headers.log",
                "headers.blocks.log",
                "marks.json"
            ]
            .contains(&parts[2])
        );
    }
    let label = std::fs::read_to_string(s.data_dir().join("account.txt")).unwrap();
    assert_eq!(label, "../../evil@host:110\n");
}

#[test]
fn split_roots_keep_marks_out_of_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let s = Store::open_split(cache.path(), data.path(), "k").unwrap();
    s.save_headers(&map(2, 0)).unwrap();
    s.save_marks(&["u1".to_string()]).unwrap();
    assert!(s.cache_dir().starts_with(cache.path()));
    assert!(s.data_dir().starts_with(data.path()));
    assert!(s.cache_dir().join("headers.log").exists());
    assert!(!s.cache_dir().join("marks.json").exists());
    assert!(s.data_dir().join("marks.json").exists());
    // the OS wipes the cache: marks survive
    std::fs::remove_dir_all(cache.path()).unwrap();
    let s = Store::open_split(cache.path(), data.path(), "k").unwrap();
    assert!(s.load_headers().is_empty());
    assert_eq!(s.load_marks(), ["u1"]);
}

#[test]
fn default_roots_are_distinct() {
    // Only when the environment has a home directory.
    if let Some(r) = default_roots() {
        assert_ne!(r.cache, r.data);
        assert!(r.cache.to_string_lossy().contains("popview"));
        assert!(r.data.to_string_lossy().contains("popview"));
    }
}

/// UIDs that RFC 1939 allows (printable ASCII, path-like or not) round
/// trip; anything else in a file (empty, controls, escapes, non-ASCII,
/// over-long) is not a UID a server could send, so it is not read back,
/// and the user is told.
#[test]
fn weird_uids_round_trip_and_invalid_ones_are_not_read_back() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let valid: Vec<String> = [
        "../../x",
        "/abs/path",
        "..",
        "quote\"back\\slash",
        &"x".repeat(70),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let invalid: Vec<String> = [
        "",
        "with\nnewline",
        "nul\0inside",
        "esc\u{1b}[31m",
        "ünïcödé 日本 😀",
        "\u{202E}bidi",
        &"x".repeat(71),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let all: Vec<String> = valid.iter().chain(&invalid).cloned().collect();
    s.save_marks(&all).unwrap();
    assert_eq!(s.load_marks(), valid);
    let warnings = s.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("7 unusable marks"), "{warnings:?}");
    let m: HashMap<String, CachedHeader> = all
        .iter()
        .enumerate()
        .map(|(i, u)| (u.clone(), entry(i)))
        .collect();
    s.save_headers(&m).unwrap();
    let got = s.load_headers();
    let mut keys: Vec<&String> = got.keys().collect();
    keys.sort();
    let mut want: Vec<&String> = valid.iter().collect();
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(got[&valid[0]], m[&valid[0]]);
    assert_eq!(files(root.path()).len(), 4);
}

#[test]
fn corrupt_files_are_tolerated_and_moved_aside() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    s.save_headers(&map(5, 0)).unwrap();
    s.save_marks(&["a".to_string()]).unwrap();
    let headers = s.cache_dir().join("headers.log");
    let marks = s.data_dir().join("marks.json");
    // a damaged header (a truncated log keeps its whole records: see
    // tests/store_headers.rs), and garbage
    let mut full = std::fs::read(&headers).unwrap();
    full[0] ^= 0xff;
    std::fs::write(&headers, &full[..full.len() / 2]).unwrap();
    std::fs::write(&marks, b"\xff\xfe not json").unwrap();
    assert!(s.load_headers().is_empty());
    assert!(s.load_marks().is_empty());
    assert!(!headers.exists() && !marks.exists());
    assert_eq!(
        std::fs::read(s.cache_dir().join("headers.log.corrupt")).unwrap(),
        &full[..full.len() / 2]
    );
    assert!(s.data_dir().join("marks.json.corrupt").exists());
    // wrong shapes are corrupt too
    std::fs::write(&marks, br#"{"version":1,"uids":"nope"}"#).unwrap();
    assert!(s.load_marks().is_empty());
    // and saving works again afterwards
    s.save_headers(&map(2, 0)).unwrap();
    assert_eq!(s.load_headers().len(), 2);
}

#[test]
fn another_version_is_ignored_not_destroyed() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let marks = s.data_dir().join("marks.json");
    std::fs::write(&marks, br#"{"version":99,"uids":["a"],"new":true}"#).unwrap();
    assert!(s.load_marks().is_empty());
    assert!(marks.exists());
}

#[cfg(unix)]
#[test]
fn files_and_dirs_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    s.save_headers(&map(1, 0)).unwrap();
    s.save_marks(&["a".to_string()]).unwrap();
    for f in [
        "headers.log",
        "headers.blocks.log",
        "marks.json",
        "account.txt",
    ] {
        let mode = std::fs::metadata(s.data_dir().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let mode = std::fs::metadata(s.data_dir())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

/// Two writers replace the cache over and over while a reader keeps
/// loading it: every load of a log sees one complete version (never a
/// partial file, which would show up as an empty map and a `.corrupt`
/// file), and no temp file is left behind.
#[test]
fn concurrent_saves_never_expose_a_partial_file() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let a = map(2_000, 0);
    let b = map(1_500, 10_000);
    s.save_headers(&a).unwrap();
    let (a, b) = (Arc::new(a), Arc::new(b));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|m| {
            let s = s.clone();
            std::thread::spawn(move || {
                for _ in 0..15 {
                    s.save_headers(&m).unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let (s, a, b, stop) = (s.clone(), a.clone(), b.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut loads = 0;
            while !stop.load(Ordering::Relaxed) || loads == 0 {
                // Each log is replaced whole: one version of it or the
                // other. Merged, the two logs may come from different
                // versions: an entry is then left out (fetched again),
                // never shown half.
                let got = s.load_header_index();
                assert!(
                    got == *a || got == *b,
                    "partial read: {} entries",
                    got.len()
                );
                let merged = s.load_headers();
                assert!(
                    merged
                        .iter()
                        .all(|(k, v)| a.get(k) == Some(v) || b.get(k) == Some(v)),
                    "a half entry"
                );
                assert!(s.take_warnings().is_empty());
                loads += 1;
            }
            loads
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let loads = reader.join().unwrap();
    assert!(loads > 0);
    assert_eq!(
        files(root.path())
            .iter()
            .filter(|f| !f.ends_with("account.txt"))
            .collect::<Vec<_>>(),
        [
            "accounts/".to_string()
                + &s.cache_dir().file_name().unwrap().to_string_lossy()
                + "/headers.blocks.log",
            "accounts/".to_string()
                + &s.cache_dir().file_name().unwrap().to_string_lossy()
                + "/headers.log"
        ]
        .iter()
        .collect::<Vec<_>>()
    );
}

/// 100,000 entries: a round trip that keeps every entry (timing printed
/// with `--nocapture`).
#[test]
fn hundred_thousand_entries() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let m = map(100_000, 0);
    let t = std::time::Instant::now();
    s.save_headers(&m).unwrap();
    let saved = t.elapsed();
    let t = std::time::Instant::now();
    let got = s.load_headers();
    let loaded = t.elapsed();
    let size = std::fs::metadata(s.cache_dir().join("headers.log"))
        .unwrap()
        .len();
    println!("100k headers: save {saved:?}, load {loaded:?}, {size} bytes");
    assert_eq!(got.len(), 100_000);
    assert_eq!(got, m);
}

/// A version 1 marks file (UIDs only) is still read: its marks come back
/// with no size (the worker matches them by UID once and says so); the
/// next save writes version 2 with everything a mark knows.
#[test]
fn version_one_marks_are_migrated() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let path = s.data_dir().join("marks.json");
    std::fs::write(&path, br#"{"version":1,"uids":["a","b"]}"#).unwrap();
    let got = s.load_mark_records();
    assert_eq!(
        got,
        vec![SavedMark::uid_only("a"), SavedMark::uid_only("b")]
    );
    let v2 = vec![SavedMark {
        uid: "a".into(),
        size: Some(42),
        message_id: Some("m@x".into()),
        from: "f@x".into(),
        subject: "s".into(),
    }];
    s.save_mark_records(&v2).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r#""version":2"#), "{text}");
    assert_eq!(s.load_mark_records(), v2);
    assert!(s.take_warnings().is_empty());
}

/// Escape sequences and huge strings planted in the cache or the marks
/// file are sanitized and capped on load, like network previews.
#[test]
fn planted_escapes_and_huge_strings_are_sanitized_on_load() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let evil = "\u{1b}]0;pwned\u{7}\u{1b}[31mred\u{9b}2J\u{202e}x";
    let huge = "y".repeat(1 << 20);
    let mut h = entry(1);
    h.summary.subject = evil.into();
    h.summary.from_name = huge.clone();
    h.summary.message_id = evil.into();
    s.save_headers(&HashMap::from([("u1".to_string(), h)]))
        .unwrap();
    s.save_mark_records(&[SavedMark {
        uid: "u1".into(),
        size: Some(1),
        message_id: Some(evil.into()),
        from: huge.clone(),
        subject: evil.into(),
    }])
    .unwrap();
    let got = s.load_headers();
    let sum = &got["u1"].summary;
    let m = &s.load_mark_records()[0];
    for text in [
        &sum.subject,
        &sum.from_name,
        &sum.message_id,
        &m.subject,
        &m.from,
        m.message_id.as_ref().unwrap(),
    ] {
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() || ('\u{80}'..='\u{9f}').contains(&c) || c == '\u{202e}'),
            "{text:?}"
        );
        assert!(
            !text.contains("pwned"),
            "a whole OSC sequence is removed: {text:?}"
        );
        assert!(
            text.len() <= popview::mail::MAX_SUMMARY_FIELD,
            "{}",
            text.len()
        );
    }
    assert!(sum.subject.contains("red"));
}

/// Only regular files are read: a FIFO (which would block a plain open
/// forever), a symlink (even to a valid file) and a directory are set
/// aside as `*.corrupt` with a warning, and read as empty.
#[cfg(unix)]
#[test]
fn fifos_symlinks_and_directories_are_set_aside_never_read() {
    use std::os::unix::fs::FileTypeExt;
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let marks = s.data_dir().join("marks.json");
    let headers = s.cache_dir().join("headers.log");
    // A FIFO: mkfifo through the system tool (no unsafe here).
    let made = std::process::Command::new("mkfifo")
        .arg(&marks)
        .status()
        .unwrap();
    assert!(made.success());
    // A symlink to a perfectly good marks file elsewhere.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = Store::open(elsewhere.path(), "k").unwrap();
    other.save_headers(&map(2, 0)).unwrap();
    std::os::unix::fs::symlink(other.cache_dir().join("headers.log"), &headers).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let s2 = s.clone();
    std::thread::spawn(move || {
        let r = (s2.load_mark_records(), s2.load_headers());
        let _ = tx.send(r);
    });
    let (m, h) = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("loading blocked on a FIFO");
    assert!(m.is_empty() && h.is_empty());
    assert!(!marks.exists() && std::fs::symlink_metadata(&headers).is_err());
    assert!(
        std::fs::symlink_metadata(s.data_dir().join("marks.json.corrupt"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    let w = s.take_warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w.iter().any(|w| w.contains("FIFO")), "{w:?}");
    assert!(w.iter().any(|w| w.contains("symbolic link")), "{w:?}");
    // The target of the symlink was not touched.
    assert_eq!(other.load_headers().len(), 2);
    // A directory in the file's place.
    std::fs::create_dir(&marks).unwrap();
    assert!(s.load_mark_records().is_empty());
    assert!(s.take_warnings()[0].contains("directory"));
    // Saving works again afterwards.
    s.save_marks(&["a".to_string()]).unwrap();
    assert_eq!(s.load_marks(), ["a"]);
}

/// A file over the size cap is set aside without being read into memory.
#[test]
fn an_oversized_marks_file_is_set_aside() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let path = s.data_dir().join("marks.json");
    let f = std::fs::File::create(&path).unwrap();
    // Sparse: no disk space used.
    f.set_len(popview::store::MAX_MARKS_BYTES + 1).unwrap();
    drop(f);
    assert!(s.load_mark_records().is_empty());
    assert!(!path.exists());
    assert!(s.data_dir().join("marks.json.corrupt").exists());
    let w = s.take_warnings();
    assert!(w[0].contains("bigger than"), "{w:?}");
}

/// The account lock: one holder at a time (a second open of the lock
/// file, even in this process, is refused and names the holder's pid);
/// released when dropped. A lock file with garbage instead of a pid gives
/// no pid, never the garbage.
#[test]
fn the_account_lock_has_one_holder_and_names_its_pid() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let held = s.lock().expect("first lock");
    match s.lock() {
        Err(popview::store::LockError::Held(h)) => {
            assert_eq!(h.pid, Some(std::process::id()));
            assert!(h.to_string().contains(&std::process::id().to_string()));
        }
        other => panic!("second lock: {other:?}"),
    }
    drop(held);
    let again = s.lock().expect("free again");
    std::fs::write(s.data_dir().join("lock"), "\u{1b}[31m1234\n").unwrap();
    match s.lock() {
        Err(popview::store::LockError::Held(h)) => {
            assert_eq!(h.pid, None);
            assert_eq!(h.to_string(), "another popview has this account open");
        }
        other => panic!("{other:?}"),
    }
    drop(again);
}

/// A symlink in the lock's place is refused, not followed.
#[cfg(unix)]
#[test]
fn a_symlinked_lock_file_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let target = root.path().join("elsewhere");
    std::fs::write(&target, "keep me").unwrap();
    std::os::unix::fs::symlink(&target, s.data_dir().join("lock")).unwrap();
    assert!(matches!(s.lock(), Err(popview::store::LockError::Io(_))));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
}
