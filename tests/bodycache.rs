//! The body cache on disk (`popview::bodycache`): least recently used
//! evicted under the cap, private files named by a hash, and files that
//! don't check out (planted, cut, grown, swapped, damaged) never returned.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use popview::bodycache::{BodyCache, file_name};

fn body(n: usize, fill: u8) -> Vec<u8> {
    let mut b = b"Subject: x\r\n\r\n".to_vec();
    b.resize(n, fill);
    b
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

fn on_disk(dir: &Path) -> u64 {
    cache_files(dir)
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum()
}

#[test]
fn least_recently_used_goes_first_and_the_total_stays_under_the_cap() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("bodies");
    let cap = 10_000;
    let mut c = BodyCache::open(&dir, cap).unwrap();
    for i in 0..4 {
        c.put(&format!("u{i}"), 3000, &body(3000, b'a' + i as u8))
            .unwrap();
    }
    // Four of ~3.1 KB don't fit in 10 KB: the first went.
    assert!(c.total_bytes() <= cap);
    assert!(on_disk(&dir) <= cap);
    assert_eq!(c.get("u0", 3000), None, "the oldest was evicted");
    // Use u1, then add one more: u2 (now the oldest) goes, u1 stays.
    assert!(c.get("u1", 3000).is_some());
    c.put("u4", 3000, &body(3000, b'e')).unwrap();
    assert!(c.get("u1", 3000).is_some(), "a recent use was evicted");
    assert_eq!(c.get("u2", 3000), None, "the least recently used stayed");
    assert!(c.get("u3", 3000).is_some());
    assert!(c.get("u4", 3000).is_some());
    assert_eq!(cache_files(&dir).len(), 3);
    assert!(on_disk(&dir) <= cap);
    assert_eq!(on_disk(&dir), c.total_bytes());

    // A reopened cache knows the order from the files (last use = mtime)
    // and a lower cap evicts the oldest at once.
    let set = |name: &str, secs: u64| {
        let f = fs::File::options()
            .write(true)
            .open(dir.join(file_name(name, 3000)))
            .unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .unwrap();
    };
    set("u1", 1_000_000);
    set("u3", 3_000_000);
    set("u4", 2_000_000);
    let mut c = BodyCache::open(&dir, 7000).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c.get("u1", 3000), None, "the oldest by mtime stayed");
    assert!(c.get("u3", 3000).is_some() && c.get("u4", 3000).is_some());
}

#[test]
fn a_message_bigger_than_the_cap_is_not_kept() {
    let d = tempfile::tempdir().unwrap();
    let mut c = BodyCache::open(d.path(), 1000).unwrap();
    c.put("big", 5000, &body(5000, b'x')).unwrap();
    assert!(c.is_empty());
    assert!(cache_files(d.path()).is_empty());
}

#[cfg(unix)]
#[test]
fn files_are_private_and_named_by_a_hash_never_by_the_uid() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("bodies");
    let mut c = BodyCache::open(&dir, 1 << 20).unwrap();
    c.put("../../etc/x", 10, b"hello").unwrap();
    c.put("uid.with.dots", 10, b"hello").unwrap();
    let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let files = cache_files(&dir);
    assert_eq!(files.len(), 2);
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name.len(), 32, "{name}");
        assert!(name.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
        let mode = fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(!d.path().join("etc").exists());
}

/// A cache holding one good message for (uid, 100); its file's path.
fn one(dir: &Path) -> (BodyCache, PathBuf) {
    let mut c = BodyCache::open(dir, 1 << 20).unwrap();
    c.put("uid-1", 100, &body(100, b'k')).unwrap();
    (c, dir.join(file_name("uid-1", 100)))
}

fn assert_refused(c: &mut BodyCache, path: &Path, what: &str) {
    assert_eq!(c.get("uid-1", 100), None, "{what} was returned");
    let w = c.take_warnings();
    assert_eq!(w.len(), 1, "{what}: {w:?}");
    assert!(w[0].contains("removed, not shown"), "{what}: {w:?}");
    assert!(
        fs::symlink_metadata(path).is_err(),
        "{what} was left in place"
    );
    // Asked again: a plain miss, no second warning.
    assert_eq!(c.get("uid-1", 100), None);
    assert!(c.take_warnings().is_empty());
}

#[test]
fn a_cut_grown_or_damaged_file_is_never_shown() {
    let good = {
        let d = tempfile::tempdir().unwrap();
        let (_, p) = one(d.path());
        fs::read(p).unwrap()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a cut file", good[..good.len() - 10].to_vec()),
        ("a grown file", [good.clone(), b"extra".to_vec()].concat()),
        ("a flipped byte", {
            let mut b = good.clone();
            let n = b.len() - 5;
            b[n] ^= 1;
            b
        }),
        ("a damaged header", {
            let mut b = good.clone();
            b[3] = b'X';
            b
        }),
        ("an empty file", Vec::new()),
        ("garbage", vec![0xff; 300]),
    ];
    for (what, bytes) in cases {
        let d = tempfile::tempdir().unwrap();
        let (mut c, path) = one(d.path());
        fs::write(&path, &bytes).unwrap();
        assert_refused(&mut c, &path, what);
    }
}

#[test]
fn a_file_naming_another_message_is_never_shown() {
    // Another message's file put under this one's name (a swap, or a
    // planted copy): its header names another UID.
    let d = tempfile::tempdir().unwrap();
    let (mut c, path) = one(d.path());
    c.put("uid-2", 100, &body(100, b'z')).unwrap();
    fs::copy(d.path().join(file_name("uid-2", 100)), &path).unwrap();
    assert_refused(&mut c, &path, "another message's file");
    assert!(c.get("uid-2", 100).is_some(), "the other one is fine");
}

#[test]
fn a_file_over_the_cap_is_never_read() {
    let d = tempfile::tempdir().unwrap();
    let (mut c, path) = one(d.path());
    fs::write(&path, vec![b'a'; (1 << 20) + 4096]).unwrap();
    assert_refused(&mut c, &path, "an oversized file");
}

#[cfg(unix)]
#[test]
fn a_planted_symlink_or_fifo_is_refused_without_blocking() {
    let d = tempfile::tempdir().unwrap();
    let (mut c, path) = one(d.path());
    // A symlink to a good copy elsewhere: still refused (never followed).
    let elsewhere = d.path().join("elsewhere");
    fs::copy(&path, &elsewhere).unwrap();
    fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    assert_refused(&mut c, &path, "a symlink");
    assert!(elsewhere.exists(), "the link's target was touched");

    let (mut c, path) = one(d.path());
    fs::remove_file(&path).unwrap();
    // mkfifo through the system tool (no unsafe here).
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo");
    // On its own thread, so a blocking open fails the test by its timeout
    // instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let got = c.get("uid-1", 100);
        let _ = tx.send((got, c.take_warnings()));
    });
    let (got, warnings) = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("reading a FIFO blocked");
    assert_eq!(got, None);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn texts_for_search_skip_what_does_not_check_out() {
    let d = tempfile::tempdir().unwrap();
    let (mut c, path) = one(d.path());
    c.put("uid-2", 7, b"Subject: y\r\n\r\nwombat\r\n").unwrap();
    fs::write(&path, b"popview body 1\nuid-1\n100\n3\nnot a sum\nabc").unwrap();
    let names = c.names_by_use(10);
    assert_eq!(names.len(), 2);
    assert_eq!(names[0], file_name("uid-2", 7), "most recently used first");
    let read: Vec<(String, Vec<u8>)> = names.iter().filter_map(|n| c.read_name(n)).collect();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].0, "uid-2");
    assert_eq!(c.take_warnings().len(), 1);
}
