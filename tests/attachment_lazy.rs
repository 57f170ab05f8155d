//! Big attachments are left encoded in the raw message when a message is
//! opened and decoded when they are saved or opened: the bytes must be the
//! ones the eager parse gives (`mail::view_decoding_all`, the view as it
//! was before), for base64, quoted-printable, 7bit and 8bit bodies, nested
//! multiparts, a forwarded message with an attachment inside, a
//! single-part message, and the odd cases (LF line ends, padding inside a
//! run, a boundary that doesn't start a line, a message cut short). And
//! everything else in the view stays the same, for these and for every
//! message of the corpus.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use popview::app::{App, AppEvent, AppOptions, Doc, Effect};
use popview::mail::{self, Content, MessageView};
use popview::worker::api::{Event, ListEntry, MsgKey};

/// Pseudo-random bytes, all 256 values.
fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}

fn base64_lines(data: &[u8], width: usize, eol: &str) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(width) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push_str(eol);
    }
    out
}

/// Quoted-printable with soft line breaks, every byte outside printable
/// ASCII (and `=`) as `=XX`.
fn quoted_printable(data: &[u8]) -> String {
    let mut out = String::new();
    let mut col = 0;
    for &b in data {
        let piece = if (33..=126).contains(&b) && b != b'=' {
            (b as char).to_string()
        } else {
            format!("={b:02X}")
        };
        if col + piece.len() > 75 {
            out.push_str("=\r\n");
            col = 0;
        }
        col += piece.len();
        out.push_str(&piece);
    }
    out.push_str("\r\n");
    out
}

fn part(headers: &str, body: &str) -> String {
    format!("{headers}\r\n\r\n{body}")
}

fn multipart(kind: &str, boundary: &str, parts: &[String]) -> String {
    let mut out = String::new();
    for p in parts {
        out.push_str(&format!("--{boundary}\r\n{p}\r\n"));
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    format!("Content-Type: multipart/{kind}; boundary=\"{boundary}\"\r\n\r\n{out}")
}

fn message(body_part: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: big\r\n\
         Date: Thu, 3 Dec 2026 03:36:22 +0000\r\nMIME-Version: 1.0\r\n{body_part}"
    )
    .into_bytes()
}

fn text_part() -> String {
    part(
        "Content-Type: text/plain; charset=utf-8",
        "Here it is.\r\n.a dot line\r\n",
    )
}

fn base64_part(mime: &str, name: &str, data: &[u8]) -> String {
    part(
        &format!(
            "Content-Type: {mime}; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=\"{name}\""
        ),
        &base64_lines(data, 76, "\r\n"),
    )
}

/// The view with big attachments left encoded and the eager one agree on
/// everything, attachments compared by their decoded bytes (and through
/// the reader's `Doc` too). Returns how many attachments were left
/// encoded.
fn same_as_eager(raw: &[u8]) -> usize {
    let lazy = mail::view(raw.to_vec());
    let eager = mail::view_decoding_all(raw.to_vec());
    let strip = |v: &MessageView| MessageView {
        attachments: Vec::new(),
        ..v.clone()
    };
    assert_eq!(
        strip(&lazy),
        strip(&eager),
        "everything but the attachments"
    );
    assert_eq!(lazy.attachments.len(), eager.attachments.len());
    let mut encoded = 0;
    for (l, e) in lazy.attachments.iter().zip(&eager.attachments) {
        assert_eq!((&l.name, &l.mime), (&e.name, &e.mime));
        let want = e.data(&eager.raw).expect("eager data");
        assert!(matches!(e.content, Content::Held(_)));
        let got = l.data(&lazy.raw).expect("decodes from the raw message");
        assert!(got == want, "{}: the decoded bytes differ", l.name);
        assert_eq!(l.size, want.len() as u64, "{}: the size listed", l.name);
        encoded += usize::from(matches!(l.content, Content::Encoded(_)));
    }
    let doc = Doc::from_view(lazy);
    let eager_doc = Doc::from_view(eager);
    assert_eq!(doc.body, eager_doc.body);
    for i in 0..doc.attachments.len() {
        assert_eq!(doc.attachment_data(i), eager_doc.attachment_data(i));
        assert_eq!(doc.attachments[i].size, eager_doc.attachments[i].size);
    }
    assert!(doc.attachment_data(doc.attachments.len()).is_none());
    encoded
}

#[test]
fn base64_attachments_are_left_encoded_and_decode_to_the_same_bytes() {
    let pdf = noise(2_000_000, 1);
    let raw = message(&multipart(
        "mixed",
        "b1",
        &[text_part(), base64_part("application/pdf", "big.pdf", &pdf)],
    ));
    assert_eq!(same_as_eager(&raw), 1);
    let v = mail::view(raw);
    assert_eq!(v.body, "Here it is.\n.a dot line\n");
    assert!(v.attachments[0].data(&v.raw).unwrap().as_ref() == &pdf[..]);
    // Odd lengths: the size is exact, whatever the padding.
    for n in [1_500_001, 1_500_002] {
        let data = noise(n, 2);
        let raw = message(&multipart(
            "mixed",
            "b1",
            &[text_part(), base64_part("image/png", "x.png", &data)],
        ));
        assert_eq!(same_as_eager(&raw), 1);
    }
}

#[test]
fn odd_line_shapes_decode_to_the_same_bytes() {
    let data = noise(1_600_000, 3);
    // LF line ends, 75 letters a line (not a multiple of 4).
    let body = base64_lines(&data, 75, "\n");
    let raw = format!(
        "From: a@example.org\nSubject: lf\nContent-Type: multipart/mixed; boundary=\"z\"\n\n\
         --z\nContent-Type: text/plain\n\nhi\n--z\nContent-Type: application/zip\n\
         Content-Transfer-Encoding: base64\n\n{body}--z--\n"
    );
    assert_eq!(same_as_eager(raw.as_bytes()), 1);
    // Two base64 texts one after the other (padding inside the body).
    let mut body = base64_lines(&noise(900_001, 4), 76, "\r\n");
    body.push_str(&base64_lines(&noise(900_002, 5), 76, "\r\n"));
    let raw = message(&multipart(
        "mixed",
        "b",
        &[
            text_part(),
            part(
                "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64",
                &body,
            ),
        ],
    ));
    assert_eq!(same_as_eager(&raw), 1);
    // The boundary right after the last letters, not on a line of its own.
    let body = base64_lines(&noise(1_200_000, 6), 76, "\r\n");
    let raw = format!(
        "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\n\
         --q\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {}--q--\r\n",
        body.trim_end()
    );
    same_as_eager(raw.as_bytes());
}

#[test]
fn quoted_printable_7bit_and_8bit_bodies_decode_to_the_same_bytes() {
    let qp = noise(300_000, 7);
    let seven: String = (0..200_000u32)
        .map(|i| {
            if i % 70 == 69 {
                '\n'
            } else {
                (b'a' + (i % 26) as u8) as char
            }
        })
        .collect::<String>()
        .replace('\n', "\r\n");
    let eight: Vec<u8> = noise(300_000, 8)
        .into_iter()
        .map(|b| {
            if b == b'\r' || b == b'\n' || b == b'-' {
                b'x'
            } else {
                b
            }
        })
        .collect();
    let mut raw = message(&multipart(
        "mixed",
        "m8",
        &[
            text_part(),
            part(
                "Content-Type: application/octet-stream; name=\"qp.bin\"\r\n\
                 Content-Transfer-Encoding: quoted-printable",
                &quoted_printable(&qp),
            ),
            part(
                "Content-Type: application/octet-stream; name=\"seven.bin\"\r\n\
                 Content-Transfer-Encoding: 7bit",
                &seven,
            ),
            part(
                "Content-Type: application/octet-stream; name=\"eight.bin\"\r\n\
                 Content-Transfer-Encoding: 8bit",
                "@@EIGHT@@\r\n",
            ),
        ],
    ));
    let at = raw.windows(9).position(|w| w == b"@@EIGHT@@").unwrap();
    raw.splice(at..at + 9, eight.iter().copied());
    assert_eq!(same_as_eager(&raw), 3);
    let v = mail::view(raw);
    let eight_body = [&eight[..], b"\r\n"].concat();
    assert!(v.attachments[2].data(&v.raw).unwrap().as_ref() == &eight_body[..]);
}

#[test]
fn nested_multiparts_and_a_single_part_message() {
    let raw = message(&multipart(
        "mixed",
        "outer",
        &[
            multipart(
                "alternative",
                "alt",
                &[
                    text_part(),
                    part("Content-Type: text/html", "<p>Here <b>it</b> is.</p>\r\n"),
                ],
            ),
            multipart(
                "mixed",
                "inner",
                &[
                    base64_part("image/png", "a.png", &noise(1_000_000, 9)),
                    base64_part("application/zip", "b.zip", &noise(1_300_000, 10)),
                ],
            ),
            multipart(
                "related",
                "rel",
                &[
                    part("Content-Type: text/html", "<img src=cid:c>\r\n"),
                    part(
                        "Content-Type: image/jpeg\r\nContent-ID: <c>\r\n\
                         Content-Transfer-Encoding: base64",
                        &base64_lines(&noise(700_000, 11), 76, "\r\n"),
                    ),
                ],
            ),
        ],
    ));
    assert_eq!(same_as_eager(&raw), 3);
    // A message that is one base64 PDF.
    let raw = message(&part(
        "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64",
        &base64_lines(&noise(2_000_000, 12), 76, "\r\n"),
    ));
    assert_eq!(same_as_eager(&raw), 1);
}

#[test]
fn a_forwarded_message_with_an_attachment_inside_stays_whole() {
    let inner = String::from_utf8(message(&multipart(
        "mixed",
        "in",
        &[
            text_part(),
            base64_part("application/pdf", "inner.pdf", &noise(1_000_000, 13)),
        ],
    )))
    .unwrap();
    // Alone, and beside a big attachment of the outer message (its cuts
    // are kept, the forwarded one's put back).
    for beside in [None, Some(noise(3_000_000, 14))] {
        let mut parts = vec![text_part(), part("Content-Type: message/rfc822", &inner)];
        if let Some(b) = &beside {
            parts.push(base64_part("application/zip", "outer.zip", b));
        }
        let raw = message(&multipart("mixed", "out", &parts));
        let encoded = same_as_eager(&raw);
        assert_eq!(encoded, usize::from(beside.is_some()));
        let v = mail::view(raw);
        let fwd = v.attachments[0].data(&v.raw).unwrap().into_owned();
        assert!(fwd.starts_with(b"From: Alice"));
        assert!(matches!(v.attachments[0].content, Content::Held(_)));
        // The attachment inside the forwarded message, saved from it.
        let nested = mail::view(fwd.clone());
        let eager = mail::view_decoding_all(fwd);
        assert_eq!(
            nested.attachments[0].data(&nested.raw),
            eager.attachments[0].data(&eager.raw)
        );
    }
}

#[test]
fn text_parts_in_base64_and_broken_messages_are_decoded_as_before() {
    // A long base64 text part: shown, so decoded (its cuts are put back).
    let text = "All work and no play makes Jack a dull boy.\n".repeat(40_000);
    let raw = message(&multipart(
        "mixed",
        "t",
        &[
            part(
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64",
                &base64_lines(text.as_bytes(), 76, "\r\n"),
            ),
            base64_part("application/pdf", "x.pdf", &noise(200_000, 15)),
        ],
    ));
    assert_eq!(same_as_eager(&raw), 1);
    assert_eq!(mail::view(raw).body, text);
    // Cut short: the closing boundary never comes.
    let mut raw = message(&multipart(
        "mixed",
        "cut",
        &[
            text_part(),
            base64_part("application/pdf", "cut.pdf", &noise(1_500_000, 16)),
        ],
    ));
    raw.truncate(raw.len() - 1000);
    same_as_eager(&raw);
    // Garbage in the middle of a base64 body.
    let mut raw = message(&multipart(
        "mixed",
        "g",
        &[
            text_part(),
            base64_part("application/pdf", "g.pdf", &noise(1_500_000, 17)),
        ],
    ));
    let mid = raw.len() / 2;
    let line = mid + raw[mid..].iter().position(|b| *b == b'\n').unwrap() + 1;
    raw.splice(line..line, b"!!!\r\n".iter().copied());
    same_as_eager(&raw);
}

#[test]
fn every_corpus_message_gives_the_same_view() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let raw = std::fs::read(&path).unwrap();
        same_as_eager(&raw);
        n += 1;
    }
    assert!(n >= 10, "the corpus is in {}", dir.display());
}

fn key(n: u32) -> MsgKey {
    MsgKey::new(n, Some(format!("uid-{n}")))
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.handle(AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

#[test]
fn the_reader_saves_and_opens_the_decoded_bytes() {
    let pdf = noise(2_000_000, 18);
    let raw = message(&multipart(
        "mixed",
        "s",
        &[text_part(), base64_part("application/pdf", "big.pdf", &pdf)],
    ));
    let mut app = App::new(AppOptions {
        save_dir: PathBuf::from("/dl"),
        ..Default::default()
    });
    app.handle(AppEvent::Resize(100, 30));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: vec![ListEntry {
            key: key(1),
            size: 100,
        }],
        no_uidl_reason: None,
    }));
    press(&mut app, KeyCode::Enter);
    let ticket = app.reader().expect("the reader").ticket;
    app.handle(popview::app::prepare(Event::Message {
        ticket,
        key: key(1),
        view: Box::new(mail::view(raw)),
    }));
    let doc = app.reader().unwrap().doc().expect("the message shown");
    assert_eq!(doc.attachments[0].size, pdf.len() as u64);
    // `s`: saved, decoded.
    press(&mut app, KeyCode::Char('s'));
    let prompt = app.save_prompt().expect("the save prompt");
    assert_eq!(prompt.editor.text(), "/dl/big.pdf");
    // Enter on the default (the download folder) saves at once.
    let jobs: Vec<_> = press(&mut app, KeyCode::Enter)
        .into_iter()
        .filter_map(|e| match e {
            Effect::Save(j) => Some(j),
            _ => None,
        })
        .collect();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].dir.to_str(), jobs[0].name.as_str()),
        (Some("/dl"), "big.pdf")
    );
    assert!(jobs[0].data == pdf, "the saved bytes");
    // `m`: to the viewer, decoded.
    let opened: Vec<_> = press(&mut app, KeyCode::Char('m'))
        .into_iter()
        .filter_map(|e| match e {
            Effect::OpenPart(j) => Some(j),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 1, "{:?} {:?}", app.notice(), app.screen());
    assert!(opened[0].data == pdf, "the opened bytes");
}

/// Broken variants of a message with big attachments (cut anywhere, a
/// byte changed to one that matters to MIME or base64, a line taken out):
/// whatever the parse makes of them, the view is the eager one.
#[test]
fn broken_variants_give_the_same_view() {
    let raw = message(&multipart(
        "mixed",
        "v",
        &[
            text_part(),
            base64_part("application/pdf", "a.pdf", &noise(700_000, 19)),
            multipart(
                "mixed",
                "w",
                &[base64_part("image/png", "b.png", &noise(500_000, 20))],
            ),
        ],
    ));
    let mut x: u64 = 7;
    let mut next = |n: usize| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as usize % n
    };
    let mut lazy_seen = 0;
    for round in 0..36 {
        let mut v = raw.clone();
        match round % 3 {
            0 => v.truncate(next(v.len())),
            1 => {
                let at = next(v.len());
                v[at] = b"-=\n:\r .\x80"[next(8)];
            }
            _ => {
                let at = next(v.len());
                let start = v[..at]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1);
                let end = v[at..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(v.len(), |i| at + i + 1);
                v.drain(start..end);
            }
        }
        lazy_seen += same_as_eager(&v);
    }
    assert!(
        lazy_seen > 0,
        "some variants still leave attachments encoded"
    );
}

/// The HTML part's source (for `m` and the links) comes from the same
/// parse, without decoding the attachment beside it; a long base64 HTML
/// part is decoded whole.
#[test]
fn the_html_source_comes_from_the_same_parse() {
    let html = format!(
        "<p>Hi <a href=\"https://example.org/x\">x</a></p>{}",
        "<br>\n".repeat(120_000)
    );
    let raw = message(&multipart(
        "mixed",
        "h",
        &[
            multipart(
                "alternative",
                "a",
                &[
                    text_part(),
                    part(
                        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64",
                        &base64_lines(html.as_bytes(), 76, "\r\n"),
                    ),
                ],
            ),
            base64_part("application/pdf", "p.pdf", &noise(3_000_000, 21)),
        ],
    ));
    assert_eq!(same_as_eager(&raw), 1);
    let doc = Doc::from_view(mail::view(raw));
    assert_eq!(doc.html.as_deref(), Some(html.as_str()));
    assert!(doc.links.iter().any(|l| l.url == "https://example.org/x"));
    // Over the cap: no HTML source kept.
    let big = message(&multipart(
        "mixed",
        "h",
        &[
            part("Content-Type: text/html", "<p>big</p>\r\n"),
            base64_part("application/pdf", "p.pdf", &noise(7_000_000, 22)),
        ],
    ));
    assert!(big.len() > mail::MAX_HTML_SOURCE);
    assert_eq!(mail::view(big).html, None);
}
