//! The pattern language on real header blocks (through `mail::summarize`,
//! as the app gets them): every atom, the operators, smart case, folding,
//! and errors.

use popview::mail::{self, HeaderSummary};
use popview::pattern::{Candidate, MessageText, Now, Pattern};

/// 2026-12-03 12:00:00 UTC, viewer at UTC+1.
const NOW: Now = Now {
    unix: 1_796_299_200,
    offset_minutes: 60,
};

fn summary(headers: &str) -> HeaderSummary {
    mail::summarize(format!("{headers}\r\n").as_bytes())
}

const PLAIN: &str =
    "From: =?utf-8?Q?=C5=81ukasz_=C5=BB=C3=B3=C5=82=C4=87?= <lukasz@okafor.example>\r
To: Bob <bob@example.net>\r
Cc: Carol <carol@cc.example>\r
Subject: Quarterly report from =?utf-8?Q?Z=C3=BCrich?=\r
Date: Tue, 01 Dec 2026 10:00:00 +0000\r
Message-ID: <abc123@okafor.example>\r
X-Spam-Flag: YES\r
Received: from a\r
 (folded continuation) by b\r
Content-Type: multipart/mixed; boundary=x\r
";

const JENKINS: &str = "From: Jenkins <jenkins@ci.example>\r
To: dev@example.net\r
Subject: Build #42 FAILED\r
Date: Mon, 01 Jan 2024 09:00:00 +0000\r
Message-ID: <build42@ci.example>\r
";

const SPOOF: &str = "From: \"security@paypal.com\" <x@evil.example>\r
Reply-To: money@elsewhere.example\r
Authentication-Results: mx.provider.example; dkim=fail header.d=paypal.com; spf=pass\r
Subject: Your account\r
";

struct Msg {
    text: MessageText,
    size: u64,
    marked: bool,
}

fn msg(headers: &str, size: u64) -> Msg {
    Msg {
        text: MessageText::new(&summary(headers)),
        size,
        marked: false,
    }
}

fn hit(p: &str, m: &Msg) -> bool {
    let p = Pattern::parse(p, NOW).unwrap_or_else(|e| panic!("{p}: {e}"));
    p.matches(&Candidate {
        text: Some(&m.text),
        size: m.size,
        marked: m.marked,
        ..Candidate::default()
    })
}

#[test]
fn header_atoms() {
    let m = msg(PLAIN, 2_000_000);
    for yes in [
        "~f okafor",
        "~f lukasz",
        "~f 'Łukasz'",
        "~t bob@example",
        "~c carol",
        "~C carol",
        "~C bob",
        "~s quarterly",
        "~s zurich",
        "~h '^X-Spam-Flag: YES'",
        "~h 'folded continuation'",
        "~i abc123",
        "~a",
        "~z >1M",
        "~z 1M-2M",
        "~d 01/12/2026",
        "~d 2026-12-01",
        "~d <30d",
        "~d 2026-11-01-2026-12-31",
    ] {
        assert!(hit(yes, &m), "{yes} should match");
    }
    for no in [
        "~f jenkins",
        "~t carol",
        "~c bob",
        "~s Zurich",
        "~s QUARTERLY",
        "~h '^X-Spam-Flag: NO'",
        "~z <1M",
        "~d >1y",
        "~d 02/12/2026",
        "~D",
        "~N",
        "~T",
        "~=",
        "~V",
        "~b anything",
    ] {
        assert!(!hit(no, &m), "{no} should not match");
    }
}

#[test]
fn bare_words_fold_diacritics_and_case() {
    let m = msg(PLAIN, 10);
    for yes in [
        "lukasz",
        "ŁUKASZ",
        "zolc",
        "zurich",
        "ZÜRICH",
        "okafor.example",
        "\"report from\"",
    ] {
        assert!(hit(yes, &m), "{yes}");
    }
    // To is not searched by a bare word, nor are regexes.
    assert!(!hit("bob", &m));
    assert!(!hit("okafor.exampl.", &m));
}

#[test]
fn smart_case() {
    let m = msg(JENKINS, 10);
    assert!(hit("~s failed", &m));
    assert!(hit("~s FAILED", &m));
    assert!(!hit("~s Failed", &m));
    // An escape's letter is not upper-case text.
    assert!(hit("~s build\\S*", &m));
}

#[test]
fn operators() {
    let m = msg(JENKINS, 10);
    assert!(hit("~f jenkins ~s build", &m));
    assert!(!hit("~f jenkins ~s deploy", &m));
    assert!(hit("~f jenkins ~s deploy | ~z 10", &m));
    assert!(hit("~s deploy | ~f jenkins", &m));
    assert!(!hit("!~f jenkins", &m));
    assert!(hit("!(~f jenkins ~s deploy)", &m));
    assert!(!hit("!(~f jenkins | ~s deploy)", &m));
    assert!(hit("~s 'deploy|build'", &m));
    assert!(hit("~s (deploy|build)", &m));
    assert!(hit("~d >1y", &m));
    assert!(hit("~d 01/01/2024", &m));
    assert!(!hit("~d 2024-01-02-", &m));
}

#[test]
fn hints() {
    let m = msg(SPOOF, 10);
    assert!(hit("~V", &m));
    let h = m.text.hints();
    assert!(h.auth_failed && h.name_mismatch && h.reply_to_elsewhere);
    // Only the account's own provider's results count when it is known.
    let other = MessageText::with_authserv(&summary(SPOOF), Some("other.example"));
    assert!(!other.hints().auth_failed);
    let own = MessageText::with_authserv(&summary(SPOOF), Some("MX.provider.example"));
    assert!(own.hints().auth_failed);
    assert!(!hit("~V", &msg(JENKINS, 10)));
}

#[test]
fn without_preview_only_flags_and_size_match() {
    let c = Candidate {
        text: None,
        size: 5000,
        marked: true,
        tagged: true,
        new: true,
        duplicate: true,
        body: Some("hello body"),
    };
    let m = |p: &str| Pattern::parse(p, NOW).unwrap().matches(&c);
    for yes in ["~A", "", "~D", "~T", "~N", "~=", "~z 5000", "~b hello"] {
        assert!(m(yes), "{yes}");
    }
    for no in ["~f .", "~s .", "~h .", "~d <100y", "x", "~a", "~V", "!~D"] {
        assert!(!m(no), "{no}");
    }
}

#[test]
fn no_date_never_matches_a_date() {
    let m = msg("From: a@b.example\r\nSubject: no date\r\n", 1);
    assert!(!hit("~d <100y", &m));
    assert!(!hit("~d >1d", &m));
    assert!(!hit("~d 01/01/1970-", &m));
}

#[test]
fn is_all() {
    for all in ["", "  ", "~A", " ~A "] {
        assert!(Pattern::parse(all, NOW).unwrap().is_all(), "{all:?}");
    }
    for not in ["~D", "~A ~D", "!~A", "x"] {
        assert!(!Pattern::parse(not, NOW).unwrap().is_all(), "{not:?}");
    }
}

#[test]
fn errors_say_where_and_what() {
    let e = Pattern::parse("~z >1Q", NOW).unwrap_err();
    assert_eq!(
        e.to_string(),
        "~z >1Q: unknown size unit 'Q' at column 5; use K or M"
    );
    let e = Pattern::parse("~f jenkins ~x", NOW).unwrap_err();
    assert_eq!(e.column, 11);
    assert!(e.message.contains("use one of"), "{e}");
    let e = Pattern::parse("~d 31/02/2024", NOW).unwrap_err();
    assert!(e.message.contains("no such date"), "{e}");
    // A hostile regex is refused by the size limit, not compiled.
    let e = Pattern::parse("~s '(a{1000}){1000}'", NOW).unwrap_err();
    assert!(e.message.contains("not a valid regular expression"), "{e}");
}

#[test]
fn display_reparses_to_an_equal_pattern() {
    for src in [
        "~f jenkins ~s 'a b' | !(~z >1M ~d <30d)",
        "lukasz \"it's\" ~h '^X-Spam: \\\\'",
        "~i \"a'b\\\"c\" ~= ~V ~a ~N ~T ~D",
        "",
    ] {
        let p = Pattern::parse(src, NOW).unwrap();
        let again =
            Pattern::parse(&p.to_string(), NOW).unwrap_or_else(|e| panic!("{src} -> {p}: {e}"));
        assert_eq!(p, again, "{src} -> {p}");
    }
}

#[test]
fn summaries_carry_what_patterns_need_bounded_and_sanitized() {
    let h = summary(PLAIN);
    assert_eq!(h.cc, "Carol <carol@cc.example>");
    assert!(
        h.headers
            .contains("\nReceived: from a (folded continuation) by b\n"),
        "{}",
        h.headers
    );
    let s = summary(SPOOF);
    assert_eq!(s.reply_to, "money@elsewhere.example");
    assert_eq!(s.auth_results.len(), 1);
    // A hostile header block: escapes removed, sizes capped.
    let mut hostile = String::from("Subject: x\r\nX-Evil: \x1b]52;c;AAAA\x07ok\x1b[2J\r\n");
    for i in 0..2000 {
        hostile.push_str(&format!(
            "Authentication-Results: mx{i}; dkim=pass {}\r\n",
            "y".repeat(100)
        ));
    }
    let h = summary(&hostile);
    assert!(h.headers.len() <= mail::MAX_HEADER_BLOCK);
    assert!(h.headers.contains("X-Evil: ok"), "{}", &h.headers[..200]);
    assert!(!h.headers.contains('\x1b') && !h.headers.contains('\x07'));
    assert_eq!(h.auth_results.len(), mail::MAX_AUTH_RESULTS);
    // The same caps and sanitizing when read back from popview's own cache.
    let planted = HeaderSummary {
        headers: format!("A: \x1b[31mred\nB: {}", "z".repeat(100_000)),
        auth_results: vec!["mx; dkim=fail\x1b[0m".to_string(); 100],
        cc: "\u{202e}cc".into(),
        ..HeaderSummary::default()
    };
    let back = mail::resanitize(planted);
    assert!(
        back.headers.starts_with("A: red\nB: zzz"),
        "{}",
        &back.headers[..20]
    );
    assert!(back.headers.len() <= mail::MAX_HEADER_BLOCK);
    assert_eq!(back.auth_results.len(), mail::MAX_AUTH_RESULTS);
    assert_eq!(back.auth_results[0], "mx; dkim=fail");
    assert_eq!(back.cc, "cc");
}

/// Whether a pattern needs the header blocks (`~h`) anywhere in it: a
/// command whose pattern doesn't skips reading them from the cache.
#[test]
fn which_patterns_read_the_header_block() {
    let reads = |p: &str| {
        Pattern::parse(p, Now::system())
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .reads_header_block()
    };
    for yes in [
        "~h spam",
        "~f a ~h b",
        "~f a | !~h b",
        "!(~s x (~z <1K | ~h 'X-Spam'))",
    ] {
        assert!(reads(yes), "{yes}");
    }
    for no in [
        "",
        "~A",
        "~f h",
        "~s '~h'",
        "h",
        "~b x",
        "~z >1M ~d <3d ~D ~T ~N",
    ] {
        assert!(!reads(no), "{no}");
    }
}
