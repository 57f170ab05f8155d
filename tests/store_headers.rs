//! The header cache as two append-only logs (`popview::store::headers`):
//! round trip, an incremental write appends about one record and rewrites
//! nothing, a torn tail is ignored and the rest kept, damaged / other
//! version / planted files give an empty cache with a warning and no panic,
//! compaction keeps exactly the live entries, a `headers.json` of version 3
//! is migrated; and the last listing (round trip, hostile content).

use std::collections::HashMap;
use std::path::PathBuf;

use popview::mail::{HeaderSummary, MailDate};
use popview::store::{
    CachedHeader, HEADERS_BLOCKS_FILE, HEADERS_JSON_FILE, HEADERS_LOG_FILE, HEADERS_LOG_VERSION,
    LISTING_FILE, ListedMessage, Store, framed_log,
};

const INDEX_MAGIC: &[u8; 8] = b"PVHDRIX\0";
const LISTING_MAGIC: &[u8; 8] = b"PVLIST\0\0";

fn entry(i: usize) -> CachedHeader {
    CachedHeader {
        size: 1000 + i as u64,
        summary: HeaderSummary {
            from_name: format!("Sender {i}"),
            from_addr: format!("s{i}@example.org"),
            to: "bob@example.net".into(),
            subject: format!("Subject {i} – ünïcödé"),
            date: Some(MailDate {
                unix: 1_700_000_000 + i as i64,
                tz_offset_minutes: -300,
            }),
            message_id: format!("<{i}@example.org>"),
            has_attachments: i.is_multiple_of(3),
            cc: if i.is_multiple_of(2) {
                "c@x.example".into()
            } else {
                String::new()
            },
            reply_to: String::new(),
            headers: format!(
                "Received: from mx{i}.example.net by mail.example.com\nFrom: Sender {i} <s{i}@example.org>\nSubject: Subject {i}\nX-Spam-Flag: NO"
            ),
            auth_results: vec![format!(
                "mx.example.com; spf=pass smtp.mailfrom={i}.example"
            )],
        },
    }
}

fn map(n: usize, offset: usize) -> HashMap<String, CachedHeader> {
    (offset..offset + n)
        .map(|i| (format!("uid-{i}"), entry(i)))
        .collect()
}

fn store() -> (tempfile::TempDir, Store) {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    (root, s)
}

fn index(s: &Store) -> PathBuf {
    s.cache_dir().join(HEADERS_LOG_FILE)
}

fn blocks(s: &Store) -> PathBuf {
    s.cache_dir().join(HEADERS_BLOCKS_FILE)
}

fn len(p: &PathBuf) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

/// A fresh store on the same directory (nothing remembered in memory).
fn reopen(s: &Store) -> Store {
    let root = s.cache_dir().parent().unwrap().parent().unwrap();
    Store::open(root, "k").unwrap()
}

#[test]
fn entries_round_trip_with_their_blocks_and_the_index_loads_without_them() {
    let (_root, s) = store();
    let m = map(50, 0);
    let entries: Vec<(String, CachedHeader)> = m.clone().into_iter().collect();
    s.put_headers(&entries[..20]).unwrap();
    s.put_headers(&entries[20..]).unwrap();
    let s2 = reopen(&s);
    assert_eq!(s2.load_headers(), m);
    let idx = s2.load_header_index();
    assert_eq!(idx.len(), 50);
    assert!(idx.values().all(|c| c.summary.headers.is_empty()));
    assert_eq!(
        idx["uid-7"].summary.auth_results,
        m["uid-7"].summary.auth_results
    );
    let b = s2.load_header_blocks();
    assert_eq!(
        b["uid-7"],
        (m["uid-7"].size, m["uid-7"].summary.headers.clone())
    );
    assert!(s2.take_warnings().is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [index(&s), blocks(&s)] {
            assert_eq!(
                std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}

/// One new message at 2,000 cached entries appends one record to each log
/// (a few hundred bytes), and what was there is left as it was.
#[test]
fn an_incremental_write_appends_one_record_and_rewrites_nothing() {
    let (_root, s) = store();
    s.save_headers(&map(2_000, 0)).unwrap();
    let (i0, b0) = (
        std::fs::read(index(&s)).unwrap(),
        std::fs::read(blocks(&s)).unwrap(),
    );
    let s = reopen(&s);
    s.put_headers(&[("new".to_string(), entry(5_000))]).unwrap();
    let (i1, b1) = (
        std::fs::read(index(&s)).unwrap(),
        std::fs::read(blocks(&s)).unwrap(),
    );
    assert!(
        i1.starts_with(&i0) && b1.starts_with(&b0),
        "rewritten, not appended"
    );
    let grown = (i1.len() - i0.len(), b1.len() - b0.len());
    assert!((100..600).contains(&grown.0), "{grown:?}");
    assert!((100..600).contains(&grown.1), "{grown:?}");
    // Forgetting appends a small record too.
    s.forget_headers(&["uid-3".to_string()]).unwrap();
    let i2 = std::fs::read(index(&s)).unwrap();
    assert!(i2.starts_with(&i1) && i2.len() - i1.len() < 40);
    let got = reopen(&s).load_headers();
    assert_eq!(got.len(), 2_000);
    assert!(!got.contains_key("uid-3") && got["new"] == entry(5_000));
}

/// A power cut mid-append leaves a torn last record: it is ignored, every
/// record before it is kept, and the next append first cuts it off.
#[test]
fn a_torn_tail_is_ignored_and_the_rest_kept() {
    let (_root, s) = store();
    for i in 0..10 {
        s.put_headers(&[(format!("uid-{i}"), entry(i))]).unwrap();
    }
    for f in [index(&s), blocks(&s)] {
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..bytes.len() - 5]).unwrap();
    }
    let s = reopen(&s);
    let got = s.load_headers();
    assert_eq!(got, map(9, 0));
    assert!(s.take_warnings().is_empty(), "a torn tail is not a warning");
    s.put_headers(&[("uid-42".to_string(), entry(42))]).unwrap();
    let got = reopen(&s).load_headers();
    assert_eq!(got.len(), 10);
    assert_eq!(got["uid-42"], entry(42));
    assert!(!got.contains_key("uid-9"));
}

#[test]
fn a_damaged_file_is_set_aside_with_a_warning() {
    let (_root, s) = store();
    s.save_headers(&map(5, 0)).unwrap();
    std::fs::write(index(&s), b"\xff\xfe not a log at all").unwrap();
    let s = reopen(&s);
    assert!(s.load_headers().is_empty());
    let w = s.take_warnings();
    assert!(
        w.iter()
            .any(|w| w.contains("set aside") && w.contains("damaged")),
        "{w:?}"
    );
    assert!(s.cache_dir().join("headers.log.corrupt").exists());
    // Writing works again, into a fresh log.
    s.put_headers(&[("a".to_string(), entry(1))]).unwrap();
    assert_eq!(reopen(&s).load_header_index().len(), 1);
}

#[test]
fn another_version_is_an_empty_cache_fetched_again() {
    let (_root, s) = store();
    std::fs::write(
        index(&s),
        framed_log(INDEX_MAGIC, HEADERS_LOG_VERSION + 1, &[b"x"]),
    )
    .unwrap();
    assert!(s.load_headers().is_empty());
    let w = s.take_warnings();
    assert!(
        w.iter().any(|w| w.contains("another popview version")),
        "{w:?}"
    );
    assert!(!index(&s).exists());
    s.put_headers(&[("a".to_string(), entry(1))]).unwrap();
    assert_eq!(reopen(&s).load_headers().len(), 1);
}

/// A symlink planted in the log's place is never followed, neither to
/// read nor to append; a FIFO doesn't block.
#[cfg(unix)]
#[test]
fn a_planted_symlink_or_fifo_is_not_followed() {
    let (_root, s) = store();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("victim");
    std::fs::write(&target, b"precious").unwrap();
    // A fresh store: the load before the first append sets it aside and
    // the append writes a new regular file.
    std::os::unix::fs::symlink(&target, index(&s)).unwrap();
    s.put_headers(&[("a".to_string(), entry(1))]).unwrap();
    assert!(std::fs::symlink_metadata(index(&s)).unwrap().is_file());
    assert!(
        s.take_warnings()
            .iter()
            .any(|w| w.contains("symbolic link"))
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    // Planted after the store read the log: the append refuses it.
    std::fs::remove_file(index(&s)).unwrap();
    std::os::unix::fs::symlink(&target, index(&s)).unwrap();
    assert!(s.put_headers(&[("b".to_string(), entry(2))]).is_err());
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    // And a load doesn't follow it.
    let s = reopen(&s);
    assert!(s.load_header_index().is_empty());
    assert!(
        s.take_warnings()
            .iter()
            .any(|w| w.contains("symbolic link"))
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    // A FIFO.
    std::fs::remove_file(blocks(&s)).ok();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(blocks(&s))
            .status()
            .unwrap()
            .success()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let s2 = s.clone();
    std::thread::spawn(move || tx.send(s2.load_header_blocks().len()).unwrap());
    let n = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("blocked on a FIFO");
    assert_eq!(n, 0);
    assert!(s.take_warnings().iter().any(|w| w.contains("FIFO")));
}

/// Records with a right checksum but hostile content: an invalid UID or an
/// unreadable record is skipped with a warning, escape sequences are
/// removed, the good entries kept.
#[test]
fn hostile_records_are_skipped_or_resanitized() {
    let (_root, s) = store();
    fn put(uid: &str, subject: &str) -> Vec<u8> {
        let mut p = vec![1u8];
        let s = |p: &mut Vec<u8>, v: &str| {
            p.extend_from_slice(&(v.len() as u32).to_le_bytes());
            p.extend_from_slice(v.as_bytes());
        };
        s(&mut p, uid);
        p.extend_from_slice(&7u64.to_le_bytes());
        for f in ["n", "a@b.example", "", subject] {
            s(&mut p, f);
        }
        p.push(0); // no date
        s(&mut p, "<id@x>");
        p.push(0);
        s(&mut p, "");
        s(&mut p, "");
        p.extend_from_slice(&0u32.to_le_bytes());
        p
    }
    let good = put("ok", "\u{1b}]0;pwned\u{7}hello\u{1b}[31m red");
    let bad_uid = put("esc\u{1b}[2J", "x");
    let mut truncated = put("short", "x");
    truncated.pop();
    let mut huge_auth = put("auth", "x");
    let n = huge_auth.len();
    huge_auth[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
    let unknown_kind = [&[9u8][..], &put("k", "x")[1..]].concat();
    std::fs::write(
        index(&s),
        framed_log(
            INDEX_MAGIC,
            HEADERS_LOG_VERSION,
            &[&good, &bad_uid, &truncated, &huge_auth, &unknown_kind],
        ),
    )
    .unwrap();
    let got = s.load_header_index();
    assert_eq!(got.keys().collect::<Vec<_>>(), ["ok"]);
    assert_eq!(got["ok"].summary.subject, "hello red");
    let w = s.take_warnings();
    assert!(w.iter().any(|w| w.contains("4 unusable entries")), "{w:?}");
    // With no header block kept for it, the whole cache leaves it out
    // (its preview is fetched again, with the headers `~h` searches).
    assert!(s.load_headers().is_empty());
}

#[test]
fn compaction_keeps_exactly_the_live_entries() {
    let (_root, s) = store();
    let mut want = map(100, 0);
    let all: Vec<(String, CachedHeader)> = want.clone().into_iter().collect();
    s.put_headers(&all).unwrap();
    // Replace 50, forget 30.
    let replaced: Vec<(String, CachedHeader)> = (0..50)
        .map(|i| (format!("uid-{i}"), entry(i + 500)))
        .collect();
    s.put_headers(&replaced).unwrap();
    want.extend(replaced);
    let gone: Vec<String> = (60..90).map(|i| format!("uid-{i}")).collect();
    s.forget_headers(&gone).unwrap();
    for g in &gone {
        want.remove(g);
    }
    let before = len(&index(&s));
    s.compact_headers().unwrap();
    assert!(len(&index(&s)) < before);
    assert_eq!(reopen(&s).load_headers(), want);
    // Exactly the live records: the size of a cache written from `want`.
    let (_r2, other) = store();
    other.save_headers(&want).unwrap();
    assert_eq!(len(&index(&s)), len(&index(&other)));
    assert_eq!(len(&blocks(&s)), len(&blocks(&other)));
}

/// The same message fetched again and again (dead records pile up): the
/// log compacts itself and stays bounded.
#[test]
fn dead_records_are_compacted_by_themselves() {
    let (_root, s) = store();
    let mut e = entry(1);
    e.summary.headers = "X-Big: yes\n".repeat(900).trim_end().to_string(); // ~10 KB
    for _ in 0..400 {
        s.put_headers(&[("same".to_string(), e.clone())]).unwrap();
    }
    // 400 records of 10 KB written; at most a live one and 1 MB of slack.
    assert!(
        len(&blocks(&s)) < (1 << 20) + 3 * 10_000,
        "{}",
        len(&blocks(&s))
    );
    assert_eq!(reopen(&s).load_headers()["same"], e);
}

#[test]
fn a_version_3_json_cache_is_migrated_once_and_removed() {
    let (_root, s) = store();
    let m = map(30, 0);
    s.write_headers_json(&m).unwrap();
    let json = s.cache_dir().join(HEADERS_JSON_FILE);
    assert!(json.exists());
    assert_eq!(s.load_headers(), m);
    assert!(!json.exists());
    assert!(index(&s).exists() && blocks(&s).exists());
    assert_eq!(reopen(&s).load_headers(), m);
    // Another version of the JSON is just removed (fetched again).
    std::fs::write(&json, br#"{"version":2,"entries":{}}"#).unwrap();
    let s = reopen(&s);
    s.save_headers(&HashMap::new()).unwrap();
    assert!(s.load_headers().is_empty());
    assert!(!json.exists());
}

fn listing(n: u32) -> Vec<ListedMessage> {
    (1..=n)
        .map(|i| (i, format!("uid-{i}"), 100 + u64::from(i)))
        .collect()
}

#[cfg(unix)]
#[test]
fn the_last_listing_round_trips_and_is_not_rewritten_unchanged() {
    use std::os::unix::fs::MetadataExt;
    let (_root, s) = store();
    assert!(s.load_listing().is_empty());
    let l = listing(1_000);
    s.save_listing(&l).unwrap();
    let path = s.cache_dir().join(LISTING_FILE);
    let ino = std::fs::metadata(&path).unwrap().ino();
    s.save_listing(&l).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().ino(),
        ino,
        "rewritten unchanged"
    );
    let s2 = reopen(&s);
    assert_eq!(s2.load_listing(), l);
    s2.save_listing(&l).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().ino(),
        ino,
        "rewritten unchanged"
    );
    let l2 = listing(999);
    s2.save_listing(&l2).unwrap();
    assert_eq!(reopen(&s).load_listing(), l2);
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    // Invalid UIDs are left out when saving.
    s2.save_listing(&[(1, "ok".into(), 1), (2, "bad\u{1b}".into(), 2)])
        .unwrap();
    assert_eq!(reopen(&s).load_listing(), vec![(1, "ok".to_string(), 1)]);
}

#[test]
fn a_hostile_listing_is_read_as_empty_with_a_warning() {
    let (_root, s) = store();
    let path = s.cache_dir().join(LISTING_FILE);
    let entry = |p: &mut Vec<u8>, n: u32, uid: &str, size: u64| {
        p.extend_from_slice(&n.to_le_bytes());
        p.extend_from_slice(&(uid.len() as u32).to_le_bytes());
        p.extend_from_slice(uid.as_bytes());
        p.extend_from_slice(&size.to_le_bytes());
    };
    let payload = |count: u32, entries: &[(u32, &str)]| {
        let mut p = count.to_le_bytes().to_vec();
        for (n, uid) in entries {
            entry(&mut p, *n, uid, 1);
        }
        p
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "bad uid",
            framed_log(
                LISTING_MAGIC,
                1,
                &[&payload(2, &[(1, "a"), (2, "b\u{1b}[2J")])],
            ),
        ),
        (
            "numbers going back",
            framed_log(LISTING_MAGIC, 1, &[&payload(2, &[(2, "a"), (1, "b")])]),
        ),
        (
            "number zero",
            framed_log(LISTING_MAGIC, 1, &[&payload(1, &[(0, "a")])]),
        ),
        (
            "repeated uid",
            framed_log(LISTING_MAGIC, 1, &[&payload(2, &[(1, "a"), (2, "a")])]),
        ),
        (
            "huge count",
            framed_log(LISTING_MAGIC, 1, &[&payload(u32::MAX, &[(1, "a")])]),
        ),
        (
            "count beyond the entries",
            framed_log(LISTING_MAGIC, 1, &[&payload(3, &[(1, "a")])]),
        ),
        (
            "trailing bytes",
            framed_log(
                LISTING_MAGIC,
                1,
                &[&[payload(1, &[(1, "a")]), vec![0]].concat()],
            ),
        ),
        (
            "two records",
            framed_log(
                LISTING_MAGIC,
                1,
                &[&payload(1, &[(1, "a")]), &payload(1, &[(1, "a")])],
            ),
        ),
        (
            "other version",
            framed_log(LISTING_MAGIC, 2, &[&payload(1, &[(1, "a")])]),
        ),
        (
            "other magic",
            framed_log(b"PVHDRIX\0", 1, &[&payload(1, &[(1, "a")])]),
        ),
        (
            "torn",
            framed_log(LISTING_MAGIC, 1, &[&payload(2, &[(1, "a"), (2, "b")])])[..30].to_vec(),
        ),
        ("garbage", b"\x00\x01garbage".to_vec()),
    ];
    for (what, bytes) in cases {
        std::fs::write(&path, bytes).unwrap();
        assert!(s.load_listing().is_empty(), "{what}");
        let w = s.take_warnings();
        assert!(w.iter().any(|w| w.contains("set aside")), "{what}: {w:?}");
        assert!(!path.exists(), "{what}");
    }
    // And a sound one is read.
    std::fs::write(
        &path,
        framed_log(LISTING_MAGIC, 1, &[&payload(2, &[(1, "a"), (5, "b")])]),
    )
    .unwrap();
    assert_eq!(
        s.load_listing(),
        vec![(1, "a".to_string(), 1), (5, "b".to_string(), 1)]
    );
}
