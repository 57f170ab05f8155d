//! `popview::mail` over the `.eml` fixtures in `tests/fixtures/mail/`: exact
//! decoded values, and no string of any summary or view carrying a
//! character a terminal could act on.

use std::path::{Path, PathBuf};

use popview::mail::{self, HeaderSummary, MailDate, MessageView};
use popview::sanitize::is_forbidden;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
}

fn load(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The header block only, as `TOP n 0` returns it.
fn top0(raw: &[u8]) -> Vec<u8> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |i| i + 4);
    raw[..end].to_vec()
}

fn summary(name: &str) -> HeaderSummary {
    let s = mail::summarize(&top0(&load(name)));
    assert_summary_clean(&s);
    s
}

fn view(name: &str) -> MessageView {
    let raw = load(name);
    let v = mail::view(raw.clone());
    assert_eq!(v.raw, raw, "raw must be the input unchanged");
    assert_view_clean(&v);
    v
}

fn assert_line_clean(what: &str, s: &str) {
    for c in s.chars() {
        assert!(!is_forbidden(c), "{what}: forbidden {c:?} in {s:?}");
    }
}

fn assert_text_clean(what: &str, s: &str) {
    for c in s.chars().filter(|&c| c != '\n') {
        assert!(!is_forbidden(c), "{what}: forbidden {c:?} in {s:?}");
    }
}

fn assert_summary_clean(s: &HeaderSummary) {
    for (what, v) in [
        ("from_name", &s.from_name),
        ("from_addr", &s.from_addr),
        ("to", &s.to),
        ("subject", &s.subject),
        ("message_id", &s.message_id),
    ] {
        assert_line_clean(what, v);
    }
    assert_line_clean("sender", &s.sender());
    assert_line_clean("sender_with_address", &s.sender_with_address());
}

fn assert_view_clean(v: &MessageView) {
    for (what, s) in [
        ("from", &v.from),
        ("to", &v.to),
        ("cc", &v.cc),
        ("date_text", &v.date_text),
        ("subject", &v.subject),
    ] {
        assert_line_clean(what, s);
    }
    for (name, value) in &v.headers {
        assert_line_clean("header name", name);
        assert_line_clean("header value", value);
    }
    assert_text_clean("body", &v.body);
    for a in &v.attachments {
        assert_line_clean("attachment name", &a.name);
        assert_line_clean("attachment mime", &a.mime);
        assert!(
            !a.name.contains(['/', '\\']) && !a.name.starts_with('.') && !a.name.is_empty(),
            "unsafe attachment name {:?}",
            a.name
        );
    }
    if let Some(n) = &v.parse_note {
        assert_line_clean("parse_note", n);
    }
}

#[test]
fn every_fixture_is_clean() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixture_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "eml") {
            let raw = std::fs::read(&path).unwrap();
            assert_summary_clean(&mail::summarize(&raw));
            assert_summary_clean(&mail::summarize(&top0(&raw)));
            assert_view_clean(&mail::view(raw));
            n += 1;
        }
    }
    assert!(n >= 18, "only {n} fixtures found");
}

#[test]
fn plain_ascii() {
    let s = summary("plain_ascii.eml");
    assert_eq!(s.from_name, "Alice Example");
    assert_eq!(s.from_addr, "alice@example.org");
    assert_eq!(s.sender(), "Alice Example");
    assert_eq!(s.sender_with_address(), "Alice Example <alice@example.org>");
    assert_eq!(s.to, "Bob <bob@example.net>, carol@example.net");
    assert_eq!(s.subject, "Lunch on Friday?");
    assert_eq!(s.message_id, "20250304091455.1234@example.org");
    // 2025-03-04 09:14:55 +0100 = 08:14:55 UTC
    assert_eq!(
        s.date,
        Some(MailDate {
            unix: 1_741_076_095,
            tz_offset_minutes: 60
        })
    );
    assert!(!s.has_attachments);

    let v = view("plain_ascii.eml");
    assert_eq!(v.from, "Alice Example <alice@example.org>");
    assert_eq!(v.subject, "Lunch on Friday?");
    assert_eq!(v.date_text, "Tue, 04 Mar 2025 09:14:55 +0100");
    assert_eq!(v.date, s.date);
    // tab expanded to the next multiple of 8 columns, CRLF gone
    assert_eq!(
        v.body,
        "Hi Bob,\n\nAre you free for lunch on Friday?       The usual place.\n\n-- \nAlice\n"
    );
    assert!(!v.body_from_html);
    assert!(v.attachments.is_empty());
    assert_eq!(v.parse_note, None);
    let names: Vec<&str> = v.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Return-Path",
            "Received",
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "MIME-Version",
            "Content-Type"
        ]
    );
    // folded value unfolded into one line
    assert_eq!(
        v.headers[1].1,
        "from mx.example.org (mx.example.org [192.0.2.10]) by pop.example.net \
         with ESMTPS id 4Zx9 for <bob@example.net>; Tue, 04 Mar 2025 09:15:02 +0100"
    );
}

#[test]
fn rfc2047_q_utf8() {
    let s = summary("subject_q_utf8.eml");
    assert_eq!(s.subject, "Grüße aus München – Café");
    assert_eq!(s.from_name, "Jürgen Müller");
    assert_eq!(s.sender(), "Jürgen Müller");
    assert_eq!(
        s.date,
        Some(MailDate {
            unix: 1_741_217_400,
            tz_offset_minutes: -300
        })
    );
    assert_eq!(view("subject_q_utf8.eml").body, "Servus!\n");
}

#[test]
fn rfc2047_b_latin1() {
    let s = summary("subject_b_latin1.eml");
    assert_eq!(s.subject, "Réunion à l'hôtel");
    assert_eq!(s.from_name, "François Lefèvre");
    assert_eq!(view("subject_b_latin1.eml").body, "Voilà, à bientôt.\n");
}

#[test]
fn rfc2047_iso2022jp() {
    let s = summary("subject_iso2022jp.eml");
    assert_eq!(s.subject, "会議の件");
    assert_eq!(s.from_name, "山田太郎");
    assert_eq!(s.date.map(|d| d.tz_offset_minutes), Some(540));
    assert_eq!(
        view("subject_iso2022jp.eml").body,
        "よろしくお願いします。\n"
    );
}

#[test]
fn rfc2047_koi8r() {
    let s = summary("subject_koi8r.eml");
    assert_eq!(s.subject, "Привет, мир");
    assert_eq!(s.from_name, "Иван Петров");
    assert_eq!(view("subject_koi8r.eml").body, "Как дела?\n");
}

#[test]
fn undeclared_8bit_body_is_read_as_windows_1252() {
    let s = summary("body_8bit_undeclared.eml");
    assert_eq!(s.sender(), "legacy@example.com");
    let v = view("body_8bit_undeclared.eml");
    assert_eq!(v.body, "Café crème, naïve à la carte.\nSecond line.\n");
    assert!(v.parse_note.unwrap().contains("Windows-1252"));
}

#[test]
fn quoted_printable_and_base64_bodies() {
    assert_eq!(
        view("quoted_printable.eml").body,
        "Ceci est un texte assez long pour être coupé par l'encodage quoted-printable, \
         avec des accents: é è à ù, et un égal = ici.\n"
    );
    assert_eq!(
        view("base64_text.eml").body,
        "Hello from base64 – naïve café ☕\nSecond line.\n"
    );
}

#[test]
fn html_only_is_converted() {
    let v = view("html_only.eml");
    assert!(v.body_from_html);
    assert!(v.body.contains("Spring sale"), "{}", v.body);
    assert!(v.body.contains("50%"));
    assert!(v.body.contains("https://shop.example/sale"));
    assert!(
        !v.body.contains("<p>") && !v.body.contains("alert(1)") && !v.body.contains("color: red")
    );
    assert!(v.body.lines().all(|l| popview::text::width(l) <= 100));
}

#[test]
fn alternative_prefers_plain_text() {
    let v = view("alternative.eml");
    assert_eq!(v.body, "The plain text version.\n");
    assert!(!v.body_from_html);
    assert!(v.attachments.is_empty());
    assert!(!summary("alternative.eml").has_attachments);
}

#[test]
fn mixed_with_hostile_attachment_names() {
    assert!(summary("mixed_attachments.eml").has_attachments);
    let v = view("mixed_attachments.eml");
    assert_eq!(v.body, "Please find the report and a picture attached.\n");
    let got: Vec<(&str, &str)> = v
        .attachments
        .iter()
        .map(|a| (a.name.as_str(), a.mime.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("report.pdf", "application/pdf"),
            ("passwd", "image/png"),
            ("evil.sh", "application/x-sh"),
            ("attachment-4.bin", "application/octet-stream"),
            ("hidden notes.txt", "text/plain"),
        ]
    );
    assert!(
        v.attachments[0]
            .data(&v.raw)
            .unwrap()
            .starts_with(b"%PDF-1.4")
    );
    assert!(
        v.attachments[1]
            .data(&v.raw)
            .unwrap()
            .starts_with(b"\x89PNG\r\n\x1a\n")
    );
    assert_eq!(
        &*v.attachments[2].data(&v.raw).unwrap(),
        b"#!/bin/sh\necho pwned\n"
    );
    assert_eq!(&*v.attachments[3].data(&v.raw).unwrap(), &[0, 1, 2, 3]);
    assert_eq!(&*v.attachments[4].data(&v.raw).unwrap(), b"secret notes");
}

#[test]
fn escape_sequences_in_headers_and_body() {
    let s = summary("subject_escapes.eml");
    assert_eq!(s.subject, "Cleared clip link fdp.exe zerowidth raw c1");
    assert_eq!(s.from_name, "Red Team");
    assert_eq!(s.message_id, "esc@example.com");
    let v = view("subject_escapes.eml");
    assert_eq!(v.subject, s.subject);
    assert_eq!(
        v.body,
        "Body with blink and  a query\nand an OSC 52:  done.\n"
    );
}

#[test]
fn display_name_spoofing_an_address() {
    let s = summary("spoof_display_name.eml");
    assert_eq!(s.from_name, "security@paypal.com");
    assert_eq!(s.from_addr, "attacker@evil.example");
    assert_eq!(s.sender(), "attacker@evil.example");
    assert_eq!(
        s.sender_with_address(),
        "attacker@evil.example (\"security@paypal.com\")"
    );

    // the same trick with an encoded word: decoded in the name only
    let s = summary("spoof_encoded_name.eml");
    assert_eq!(s.from_name, "ceo@bank.example");
    assert_eq!(s.from_addr, "mallory@evil.example");
    assert_eq!(s.sender(), "mallory@evil.example");
    assert_eq!(
        view("spoof_encoded_name.eml").from,
        "mallory@evil.example (\"ceo@bank.example\")"
    );
}

#[test]
fn encoded_word_is_never_decoded_inside_the_address() {
    let raw = b"From: Real Name <=?utf-8?q?ceo=40bank.example?=@evil.example>\r\n\r\n";
    let s = mail::summarize(raw);
    assert!(!s.from_addr.contains("ceo@bank.example"), "{s:?}");
    assert!(
        s.sender().contains("evil.example") || s.sender() == "Real Name",
        "{s:?}"
    );
    // an address-like name without any address is flagged, not trusted
    let s = mail::summarize(b"From: =?utf-8?q?ceo=40bank.example?=\r\n\r\n");
    assert_eq!(s.from_addr, "");
    assert_eq!(s.sender(), "ceo@bank.example (no address)");
}

#[test]
fn sender_rules() {
    let h = |name: &str, addr: &str| HeaderSummary {
        from_name: name.into(),
        from_addr: addr.into(),
        ..HeaderSummary::default()
    };
    assert_eq!(h("", "a@b.example").sender(), "a@b.example");
    assert_eq!(h("Ann", "a@b.example").sender(), "Ann");
    assert_eq!(
        h("Ann", "a@b.example").sender_with_address(),
        "Ann <a@b.example>"
    );
    assert_eq!(h("x＠bank.example", "a@b.example").sender(), "a@b.example");
    assert_eq!(h("paypal.com", "a@b.example").sender(), "a@b.example");
    assert_eq!(h("https://bank", "a@b.example").sender(), "a@b.example");
    assert_eq!(h("Dr. Who", "a@b.example").sender(), "Dr. Who");
    assert_eq!(h("Ann", "").sender(), "Ann");
    assert_eq!(h("", "").sender(), "");
    assert_eq!(h("", "a@b.example").sender_with_address(), "a@b.example");
}

#[test]
fn encoded_nul_does_not_truncate() {
    let s = summary("encoded_nul.eml");
    assert_eq!(s.subject, "beforeafter");
    assert_eq!(s.from_name, "NulName");
    assert_eq!(view("encoded_nul.eml").subject, "beforeafter");
}

#[test]
fn c1_controls_from_a_legacy_charset() {
    let s = summary("c1_latin2.eml");
    assert_eq!(s.subject, "Příliš žluťoučký");
    assert_eq!(s.from_name, "Zdenek K");
    assert_eq!(view("c1_latin2.eml").body, "žluťoučký kůň.\n");
}

#[test]
fn broken_mime_still_shows_what_is_there() {
    let s = summary("broken_mime.eml");
    assert!(s.has_attachments);
    let v = view("broken_mime.eml");
    assert_eq!(
        v.body,
        "The text part is here but the boundary is never closed."
    );
    assert_eq!(v.attachments.len(), 1);
    assert_eq!(v.attachments[0].name, "cut.bin");
    assert_eq!(
        &*v.attachments[0].data(&v.raw).unwrap(),
        &[0, 1, 2, 3, 4, 5]
    );
}

#[test]
fn header_line_without_colon() {
    let s = summary("header_no_colon.eml");
    assert_eq!(s.subject, "After the odd line");
    assert_eq!(s.from_name, "Odd");
    let v = view("header_no_colon.eml");
    assert_eq!(v.body, "Body after odd headers.\n");
    assert!(
        v.headers
            .iter()
            .any(|(n, v)| n == "Subject" && v == "After the odd line")
    );
}

#[test]
fn top_with_body_lines_and_bare_lf() {
    // TOP n 3 answers carry body lines; bare LF line ends are accepted
    let raw = b"From: A <a@x.example>\nSubject: hi\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nbody";
    let s = mail::summarize(raw);
    assert_eq!(s.subject, "hi");
    assert!(s.has_attachments);
    assert!(mail::summarize(b"Content-Type: application/pdf\r\n\r\n").has_attachments);
    assert!(!mail::summarize(b"Content-Type: text/plain\r\n\r\n").has_attachments);
}

#[test]
fn garbage_input_gives_empty_summary_and_raw_view() {
    let s = mail::summarize(b"");
    assert_eq!(s, HeaderSummary::default());
    let v = mail::view(b"\x1b[2J\x00\xff not a message at all".to_vec());
    assert_view_clean(&v);
    assert!(v.body.contains("not a message at all"), "{v:?}");
}

#[test]
fn deep_nesting_200_levels() {
    let mut msg = String::from("From: deep@example.com\r\nSubject: deep\r\n");
    for i in 0..200 {
        msg.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    msg.push_str("Content-Type: text/plain\r\n\r\ninnermost text\r\n");
    for i in (0..200).rev() {
        msg.push_str(&format!("--b{i}--\r\n"));
    }
    let v = mail::view(msg.clone().into_bytes());
    assert_view_clean(&v);
    assert_eq!(v.subject, "deep");
    assert!(v.body.contains("innermost text"), "{:?}", v.body);
    assert!(mail::summarize(msg.as_bytes()).has_attachments);
}

#[test]
fn part_bomb_is_bounded() {
    let mut msg = String::from(
        "From: bomb@example.com\r\nSubject: bomb\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n",
    );
    for _ in 0..25_000 {
        msg.push_str("--x\r\n\r\na\r\n");
    }
    msg.push_str("--x--\r\n");
    let t = std::time::Instant::now();
    let v = mail::view(msg.into_bytes());
    assert!(t.elapsed().as_secs() < 20);
    assert_view_clean(&v);
    assert_eq!(v.subject, "bomb");
    assert!(v.attachments.is_empty());
    assert!(
        v.parse_note
            .as_deref()
            .unwrap()
            .contains("10000 MIME parts")
    );
}

#[test]
fn huge_subject_and_many_headers() {
    let mut msg = format!("Subject: {}\x1b]0;x\r\n", "long ".repeat(200_000));
    for i in 0..1_500 {
        msg.push_str(&format!("X-Filler-{i}: {i}\r\n"));
    }
    msg.push_str("\r\nbody\r\n");
    let s = mail::summarize(msg.as_bytes());
    assert!(s.subject.len() <= mail::MAX_SUMMARY_FIELD);
    assert!(s.subject.starts_with("long long") && s.subject.ends_with('…'));
    let v = mail::view(msg.into_bytes());
    assert_view_clean(&v);
    assert_eq!(v.headers.len(), mail::MAX_HEADERS);
    assert!(v.headers[0].1.len() <= mail::MAX_HEADER_VALUE + 4);
    assert!(v.subject.len() <= mail::MAX_HEADER_VALUE);
    let note = v.parse_note.unwrap();
    assert!(note.contains("first 1000 of 1501 headers"), "{note}");
    assert!(note.contains("shortened"), "{note}");
    assert_eq!(v.body, "body\n");
}

#[test]
fn save_name_stays_inside_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\win.ini", "win.ini"),
        ("\x1b]0;pwn\x07evil.sh", "evil.sh"),
        ("..", "attachment"),
        ("", "attachment"),
        ("/", "attachment"),
        (".bashrc", "bashrc"),
        ("C:secret.txt", "C_secret.txt"),
        ("a\u{202E}fdp.exe", "afdp.exe"),
    ];
    for (name, want) in cases {
        let p = mail::save_name_in(d, name);
        assert_eq!(p, d.join(want), "{name:?}");
        assert_eq!(p.parent(), Some(d));
    }
    // taken names get a counter, before the extension
    std::fs::write(d.join("report.pdf"), b"1").unwrap();
    assert_eq!(
        mail::save_name_in(d, "report.pdf"),
        d.join("report (1).pdf")
    );
    std::fs::write(d.join("report (1).pdf"), b"2").unwrap();
    assert_eq!(
        mail::save_name_in(d, "../report.pdf"),
        d.join("report (2).pdf")
    );
    std::fs::write(d.join("attachment"), b"3").unwrap();
    assert_eq!(mail::save_name_in(d, ""), d.join("attachment (1)"));
    // very long names are bounded and keep their extension
    let long = format!("{}.pdf", "x".repeat(5000));
    let p = mail::save_name_in(d, &long);
    let base = p.file_name().unwrap().to_str().unwrap();
    assert!(base.len() <= 200 && base.ends_with(".pdf"), "{base}");
}

/// A dangling symlink counts as taken: never write through it.
#[cfg(unix)]
#[test]
fn save_name_does_not_follow_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink("/nonexistent/target", d.join("a.txt")).unwrap();
    assert_eq!(mail::save_name_in(d, "a.txt"), d.join("a (1).txt"));
}
