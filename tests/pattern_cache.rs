//! The header cache and the fields patterns need: an old cache (version 2,
//! summaries without Cc, Reply-To, the header block or
//! Authentication-Results) is fetched again rather than half-matched; a
//! current one round-trips them; a current one missing them loads with
//! empty fields, never a panic.

use std::collections::HashMap;

use popview::mail::{self, HeaderSummary};
use popview::pattern::{Candidate, MessageText, Now, Pattern};
use popview::store::{CachedHeader, HEADERS_VERSION, Store};

const NOW: Now = Now {
    unix: 1_796_299_200,
    offset_minutes: 0,
};

fn headers_file(s: &Store) -> std::path::PathBuf {
    s.cache_dir().join("headers.json")
}

#[test]
fn an_old_cache_is_fetched_again() {
    assert_eq!(HEADERS_VERSION, 3);
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let v2 = r#"{"version":2,"entries":{"a":{"size":10,"summary":{"from_name":"x","from_addr":"x@y.example","to":"","subject":"s","date":null,"message_id":"","has_attachments":false}}}}"#;
    std::fs::write(headers_file(&s), v2).unwrap();
    assert!(s.load_headers().is_empty());
}

#[test]
fn the_new_fields_round_trip_and_may_be_missing() {
    let root = tempfile::tempdir().unwrap();
    let s = Store::open(root.path(), "k").unwrap();
    let h = mail::summarize(
        b"From: A <a@shop.example>\r\nCc: c@cc.example\r\nReply-To: r@evil.example\r\n\
          Authentication-Results: mx; spf=fail\r\nX-Spam-Flag: YES\r\nSubject: s\r\n\r\n",
    );
    let map = HashMap::from([(
        "a".to_string(),
        CachedHeader {
            size: 10,
            summary: h.clone(),
        },
    )]);
    s.save_headers(&map).unwrap();
    let back = s.load_headers();
    assert_eq!(back["a"].summary, h);
    let text = MessageText::new(&back["a"].summary);
    let p = Pattern::parse("~c cc.example ~h '^X-Spam-Flag: YES' ~V", NOW).unwrap();
    assert!(p.matches(&Candidate {
        text: Some(&text),
        ..Candidate::default()
    }));

    // Version 3 without the new fields: loads, with them empty.
    let bare = format!(
        r#"{{"version":{HEADERS_VERSION},"entries":{{"a":{{"size":10,"summary":{{"from_name":"x","from_addr":"x@y.example","to":"","subject":"s","date":null,"message_id":"","has_attachments":false}}}}}}}}"#
    );
    std::fs::write(headers_file(&s), bare).unwrap();
    let back = s.load_headers();
    assert_eq!(
        back["a"].summary,
        HeaderSummary {
            from_name: "x".into(),
            from_addr: "x@y.example".into(),
            subject: "s".into(),
            ..HeaderSummary::default()
        }
    );
}
