//! Replays every file kept in `tests/fixtures/fuzz/<target>/` through the same
//! checks the fuzz targets run (`fuzz/src/checks.rs`), so each crash the
//! fuzzers found stays fixed in the normal `cargo test`. The seed corpora
//! (`tests/fixtures/mail/*.eml`, `assets/demo/*.eml`) are replayed too.

#[path = "../fuzz/src/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = root().join("tests/fixtures/fuzz").join(target);
    let list = files(&dir);
    for path in &list {
        let data = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "regression file {} fails again",
            path.display()
        );
    }
    list.len()
}

#[test]
fn response_reader_regressions() {
    let n = replay("response_reader", checks::response_reader);
    assert!(n > 0, "no regression files for response_reader");
}

#[test]
fn mail_render_regressions() {
    let n = replay("mail_render", checks::mail_render);
    assert!(n > 0, "no regression files for mail_render");
}

#[test]
fn client_session_regressions() {
    let n = replay("client_session", checks::client_session);
    assert!(n > 0, "no regression files for client_session");
}

#[test]
fn mail_render_seed_corpus() {
    let mut n = 0;
    for dir in ["tests/fixtures/mail", "assets/demo"] {
        for path in files(&root().join(dir)) {
            if path.extension().is_some_and(|e| e == "eml") {
                checks::mail_render(&std::fs::read(&path).unwrap());
                n += 1;
            }
        }
    }
    assert!(n >= 10, "seed corpus too small: {n}");
}

/// The body of a RETR, framed by the server the way the demo server does it,
/// read back by the checks: bytes in, same bytes out.
#[test]
fn response_reader_round_trips_a_stuffed_body() {
    use popview::pop3::response::BodyLimits;
    let body = b"From: a@b\r\n\r\n.leading dot\r\n..\r\nlast\r\n";
    let mut script = b"+OK 5 octets\r\n".to_vec();
    for line in body.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b".") {
            script.push(b'.');
        }
        script.extend_from_slice(line);
    }
    script.extend_from_slice(b".\r\n");
    for chunk in [1, 2, 3, 7, script.len()] {
        match checks::read_response(&script, chunk, BodyLimits::message(None), true) {
            checks::Outcome::Body {
                data, truncated, ..
            } => {
                assert_eq!(data, body, "chunk {chunk}");
                assert!(!truncated);
            }
            other => panic!("chunk {chunk}: {other:?}"),
        }
    }
}

#[test]
fn html_time_regressions() {
    let n = replay("html_time", checks::html_time);
    assert!(n > 0, "no regression files for html_time");
}
