//! Whole-screen snapshots over ratatui's `TestBackend` (fixed clock, fixed
//! sizes), plus cell-style checks where a style carries meaning.
//!
//! Update with `INSTA_UPDATE=always cargo test --test ui_snapshots`, then
//! read every changed `.snap` before committing; CI (`CI=true`) fails on a
//! mismatch.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use popview::app::{App, AppEvent, AppOptions};
use popview::mail::{Attachment, HeaderSummary, MailDate, MessageView};
use popview::pop3::ErrorKind;
use popview::text::width;
use popview::worker::api::{
    CertTrust, ConnectionInfo, Event, ListEntry, MsgKey, TlsDetails, TlsState, WorkerError,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

const NOW: i64 = 1_710_252_300; // 2024-03-12 14:05 UTC

fn key_of(n: u32) -> MsgKey {
    MsgKey {
        number: n,
        uid: Some(format!("u{n}")),
        generation: 0,
    }
}

fn k(c: char) -> AppEvent {
    AppEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(c: KeyCode) -> AppEvent {
    AppEvent::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn info(trust: CertTrust) -> Event {
    Event::Connected(Box::new(ConnectionInfo {
        server: "pop.example.org:995".into(),
        tls: TlsState::Implicit(TlsDetails {
            trust,
            fingerprint_sha256: "ab".repeat(32),
        }),
        greeting: "+OK ready".into(),
        capabilities: vec!["TOP".into(), "UIDL".into()],
        implementation: None,
        login_delay: None,
        expire: None,
        pipelining: true,
        has_top: true,
        has_uidl: true,
        auth_method: "PLAIN".into(),
    }))
}

fn app_with(no_color: bool, w: u16, h: u16) -> App {
    let mut app = App::new(AppOptions {
        account_label: "alice@example.org".into(),
        no_color,
        big_message_threshold: 5 * 1024 * 1024,
        ..Default::default()
    });
    app.handle(AppEvent::Clock(NOW));
    app.handle(AppEvent::Resize(w, h));
    app
}

const SENDERS: [(&str, &str); 6] = [
    ("Alice Example", "alice@example.org"),
    ("", "bob@example.net"),
    ("Carol Smith", "carol@example.com"),
    ("support@bank.example", "phisher@evil.example"),
    ("Dave", "dave@example.org"),
    (
        "Eve Longname-With-A-Very-Long-Display-Name",
        "eve@example.org",
    ),
];

fn summary(i: u32) -> HeaderSummary {
    let (name, addr) = SENDERS[i as usize % SENDERS.len()];
    // Today, this year, and older dates.
    let unix = match i % 3 {
        0 => NOW - 600 * i64::from(i),
        1 => NOW - 86_400 * 20 * i64::from(i),
        _ => NOW - 86_400 * 400,
    };
    HeaderSummary {
        from_name: name.into(),
        from_addr: addr.into(),
        to: "alice@example.org".into(),
        subject: format!("Subject number {i} about the quarterly report"),
        date: Some(MailDate {
            unix,
            tz_offset_minutes: 60,
        }),
        message_id: format!("<{i}@example>"),
        has_attachments: i.is_multiple_of(4),
        ..HeaderSummary::default()
    }
}

/// Connected, `n` messages, previews for those in `previews` (from the
/// header cache: no more to fetch).
fn mailbox(app: &mut App, n: u32, previews: impl Iterator<Item = u32>) {
    app.handle(AppEvent::Worker(info(CertTrust::Verified)));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: (1..=n)
            .map(|i| ListEntry {
                key: key_of(i),
                size: [512, 4300, 1_363_149, 20_000, 87][i as usize % 5],
            })
            .collect(),
        no_uidl_reason: None,
    }));
    cached_previews(app, previews.map(|i| (key_of(i), summary(i))).collect());
    app.handle(AppEvent::Tick);
}

/// Previews as from the header cache, with the progress that follows
/// them: nothing left to fetch.
fn cached_previews(app: &mut App, batch: Vec<(MsgKey, HeaderSummary)>) {
    app.handle(AppEvent::Worker(Event::Previews(batch)));
    app.handle(AppEvent::Worker(Event::Progress {
        done: 0,
        total: 0,
        bytes: 0,
    }));
}

fn draw(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| popview::ui::draw(f, app)).unwrap();
    t
}

fn buffer_text(buf: &Buffer) -> String {
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

/// Every cell is free of control, bidi and invisible characters.
fn assert_clean(buf: &Buffer) {
    for cell in buf.content() {
        for c in cell.symbol().chars() {
            assert!(
                !c.is_control()
                    && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}'..='\u{200F}' | '\u{061C}' | '\u{FEFF}'),
                "unsafe char {c:?} in the buffer"
            );
        }
    }
}

fn message() -> MessageView {
    MessageView {
        from: "Alice Example <alice@example.org>".into(),
        to: "bob@example.net, carol@example.com".into(),
        cc: "dave@example.org".into(),
        date: Some(MailDate {
            unix: NOW - 3600,
            tz_offset_minutes: 120,
        }),
        date_text: "Tue, 12 Mar 2024 15:05:00 +0200".into(),
        subject: "Quarterly report: numbers and next steps".into(),
        headers: vec![
            ("Return-Path".into(), "<alice@example.org>".into()),
            ("Received".into(), "from mx.example.org by pop.example.org with ESMTPS id 123; Tue, 12 Mar 2024 13:05:01 +0000".into()),
            ("From".into(), "Alice Example <alice@example.org>".into()),
            ("To".into(), "bob@example.net, carol@example.com".into()),
            ("Subject".into(), "Quarterly report: numbers and next steps".into()),
            ("Message-ID".into(), "<42@example.org>".into()),
            ("MIME-Version".into(), "1.0".into()),
        ],
        body: "Hi Bob,\n\nhere are the numbers for the quarter. The totals went up by twelve percent, which is more than we planned for, mostly thanks to the new customers in the north.\n\nSee the attached PDF for details.\n\nAlice".into(),
        body_from_html: false,
        html: None,
        attachments: vec![Attachment::held(
            "report-q1.pdf".into(),
            "application/pdf".into(),
            vec![0; 48_000],
        )],
        raw: b"Return-Path: <alice@example.org>\r\nFrom: Alice Example <alice@example.org>\r\nSubject: =?utf-8?q?Quarterly_report?=\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHi Bob, red?\r\n--b--\r\n".to_vec(),
        parse_note: None,
    }
}

fn reader_app() -> App {
    let mut app = app_with(false, 100, 30);
    mailbox(&mut app, 12, 1..=12);
    app.handle(code(KeyCode::Enter));
    app.handle(AppEvent::Worker(Event::Message {
        ticket: 1,
        key: key_of(12),
        view: Box::new(message()),
    }));
    app
}

#[test]
fn loading() {
    let mut app = app_with(false, 100, 30);
    app.handle(AppEvent::Worker(Event::Connecting {
        server: "pop.example.org:995".into(),
        attempt: 1,
    }));
    let t = draw(&app, 100, 30);
    assert!(buffer_text(t.backend().buffer()).contains("connecting…"));
    mailbox(&mut app, 8, [8, 7].into_iter());
    app.handle(AppEvent::Worker(Event::Progress {
        done: 2,
        total: 8,
        bytes: 2048,
    }));
    let t = draw(&app, 100, 30);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn list_with_previews() {
    let mut app = app_with(false, 100, 30);
    mailbox(&mut app, 40, 1..=40);
    app.handle(k('j'));
    let t = draw(&app, 100, 30);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn marks_and_their_styles() {
    for no_color in [false, true] {
        let mut app = app_with(no_color, 100, 30);
        mailbox(&mut app, 12, 1..=12);
        // Confirmed marks on 12 and 11; 10 being marked; 9 being unmarked.
        app.handle(AppEvent::Worker(Event::Marks {
            marked: vec![key_of(12), key_of(11), key_of(9)],
            restored: false,
            settled: 0,
        }));
        app.handle(k('j'));
        app.handle(k('j'));
        app.handle(k('d')); // 10, pending
        app.handle(k('u')); // 9, pending unmark
        let t = draw(&app, 100, 30);
        let buf = t.backend().buffer();
        if !no_color {
            insta::assert_snapshot!(t.backend());
        }
        // Row of message 12 is y=2, 11 y=3, 10 y=4, 9 y=5, 8 y=6 (the
        // cursor: u moves on, like d).
        assert_eq!(buf[(0, 2)].symbol(), "D");
        assert_eq!(buf[(0, 3)].symbol(), "D");
        assert_eq!(buf[(0, 4)].symbol(), "d");
        assert_eq!(buf[(0, 5)].symbol(), "u");
        assert_eq!(buf[(0, 6)].symbol(), " ");
        for x in [0, 10, 40, 90] {
            let m = buf[(x, 2)].modifier;
            assert!(
                m.contains(Modifier::CROSSED_OUT) && m.contains(Modifier::DIM),
                "marked row must be struck through and dim at x={x}: {m:?}"
            );
            assert!(!buf[(x, 6)].modifier.contains(Modifier::CROSSED_OUT));
        }
        assert!(buf[(20, 6)].modifier.contains(Modifier::REVERSED), "cursor");
        if no_color {
            assert!(
                buf.content()
                    .iter()
                    .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
            );
        } else {
            assert_eq!(buf[(20, 2)].fg, Color::Red);
        }
        assert!(buffer_text(buf).contains("3 to delete"));
    }
}

#[test]
fn reader() {
    let app = reader_app();
    let t = draw(&app, 100, 30);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn raw_view() {
    let mut app = reader_app();
    app.handle(k('v'));
    let t = draw(&app, 100, 30);
    assert_clean(t.backend().buffer());
    insta::assert_snapshot!(t.backend());
}

#[test]
fn full_headers() {
    let mut app = reader_app();
    app.handle(k('h'));
    let t = draw(&app, 100, 30);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn help() {
    let mut app = app_with(false, 100, 30);
    mailbox(&mut app, 3, 1..=3);
    app.handle(k('?'));
    let t = draw(&app, 100, 30);
    let text = buffer_text(t.backend().buffer());
    // Generated from the keymap: every action is listed.
    for a in popview::action::Action::ALL.iter().take(20) {
        assert!(text.contains(a.name()), "{a} missing from help");
    }
    insta::assert_snapshot!(t.backend());
}

/// The help lists every setting with its default, from the one table the
/// config parser uses, so a new setting can't be missing from it.
#[test]
fn help_lists_every_setting_from_the_table() {
    let app = app_with(false, 100, 30);
    let lines: Vec<String> = popview::ui::help_lines(&app)
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    for s in popview::config::settings::SETTINGS {
        let line = lines
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{} ", s.path())))
            .unwrap_or_else(|| panic!("{} missing from help", s.path()));
        assert!(line.contains(&s.default.text()), "{line}");
        assert!(line.contains(s.help), "{line}");
    }
}

#[test]
fn quit_dialog() {
    let mut app = app_with(false, 100, 30);
    mailbox(&mut app, 6, 1..=6);
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![key_of(6), key_of(2)],
        restored: false,
        settled: 0,
    }));
    app.handle(k('q'));
    let t = draw(&app, 100, 30);
    assert_lists_every_choice(&app, &t);
    insta::assert_snapshot!(t.backend());
}

/// The dialog on screen names every key it accepts, with what it does: the
/// text comes from the same table as the key handling.
fn assert_lists_every_choice(app: &App, t: &Terminal<TestBackend>) {
    let text = buffer_text(t.backend().buffer());
    let choices = app.dialog_choices();
    assert!(!choices.is_empty(), "no dialog open");
    for c in choices {
        let keys = c.keys.join("/");
        // The label may wrap: its first words are on the key's line.
        let first: String = c.label.split(' ').take(3).collect::<Vec<_>>().join(" ");
        assert!(
            text.lines()
                .any(|l| l.contains(&format!("{keys}  ")) && l.contains(&first)),
            "{keys} ({first}) is not on screen:\n{text}"
        );
    }
}

#[test]
fn commit_dialog_names_count_and_size() {
    let mut app = app_with(false, 100, 30);
    mailbox(&mut app, 6, 1..=6);
    app.handle(AppEvent::Worker(Event::Marks {
        marked: vec![key_of(6), key_of(2)],
        restored: false,
        settled: 0,
    }));
    app.handle(k('$'));
    let t = draw(&app, 100, 30);
    let text = buffer_text(t.backend().buffer());
    // Sizes 20_000 + 1_363_149 from LIST, through the one size formatter.
    let size = popview::app::format::human_size(1_383_149);
    assert!(
        text.contains(&format!("Delete 2 messages ({size}) on the server now?")),
        "{text}"
    );
    assert_lists_every_choice(&app, &t);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn quit_dialog_names_marks_the_list_cannot_show() {
    let mut app = app_with(false, 100, 30);
    app.handle(AppEvent::Worker(Event::Marks {
        marked: ["0001aa", "0002bb", "0003cc", "0004dd"]
            .iter()
            .map(|u| MsgKey {
                number: 0,
                uid: Some(u.to_string()),
                generation: 0,
            })
            .collect(),
        restored: true,
        settled: 0,
    }));
    app.handle(k('q'));
    let t = draw(&app, 100, 30);
    let text = buffer_text(t.backend().buffer());
    for want in ["4 marks the list can't show", "0001aa", "0003cc", "more."] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    assert_lists_every_choice(&app, &t);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn a_long_certificate_error_is_shown_in_full_wrapped() {
    let message = "TLS handshake with pop.example.org:995 failed: the certificate is not \
                   trusted (self-signed certificate in certificate chain); its SHA-256 \
                   fingerprint is 3f:9a:11:be:0c:77:d2:45:aa:19:e0:5b:c4:88:71:2d:6e:f0:\
                   13:9c:b7:42:5a:e8:01:dd:6b:39:c2:7e:90:4f; if you trust it, set \
                   cert_fingerprint to that value in the account; nothing was sent";
    for w in [60u16, 80, 120] {
        let mut app = app_with(false, w, 24);
        app.handle(AppEvent::Worker(Event::Error(WorkerError {
            kind: ErrorKind::Tls,
            message: message.into(),
            fatal: true,
        })));
        let t = draw(&app, w, 24);
        let text = buffer_text(t.backend().buffer());
        // Every character is on screen, in order (a word longer than the
        // line is broken, never cut at the edge).
        let squeeze = |s: &str| s.split_whitespace().collect::<String>();
        let from = text
            .find("✗ TLS")
            .unwrap_or_else(|| panic!("{w}: no error on screen:\n{text}"));
        let shown = squeeze(&text[from..]);
        assert!(
            shown.starts_with(&format!("✗{}→", squeeze(message))),
            "{w}:\n{text}"
        );
        assert!(!text.contains('…'), "{w}: something was cut:\n{text}");
        if w == 80 {
            insta::assert_snapshot!(t.backend());
        }
    }
}

#[test]
fn big_message_dialog() {
    let mut app = app_with(false, 100, 30);
    app.handle(AppEvent::Worker(info(CertTrust::Pinned)));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: vec![ListEntry {
            key: key_of(1),
            size: 48_500_000,
        }],
        no_uidl_reason: None,
    }));
    cached_previews(&mut app, vec![(key_of(1), summary(1))]);
    app.handle(code(KeyCode::Enter));
    let t = draw(&app, 100, 30);
    insta::assert_snapshot!("big_message_dialog", t.backend());
    // Then the download with its gauge.
    app.handle(k('y'));
    app.handle(AppEvent::Worker(Event::RetrieveProgress {
        ticket: 1,
        bytes: 12_000_000,
        total: 48_500_000,
    }));
    let t = draw(&app, 100, 30);
    insta::assert_snapshot!("big_message_download", t.backend());
}

#[test]
fn error_and_unverified_tls() {
    let mut app = app_with(false, 100, 30);
    app.handle(AppEvent::Worker(info(CertTrust::Unverified)));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: vec![],
        no_uidl_reason: None,
    }));
    app.handle(AppEvent::Worker(Event::Error(WorkerError {
        kind: ErrorKind::Auth,
        message: "the server refused the login for alice".into(),
        fatal: true,
    })));
    let t = draw(&app, 100, 30);
    let buf = t.backend().buffer();
    assert!(
        buf[(3, 1)].modifier.contains(Modifier::REVERSED),
        "loud warning"
    );
    insta::assert_snapshot!(t.backend());
}

#[test]
fn password_prompt() {
    let mut app = app_with(true, 60, 14);
    mailbox(&mut app, 2, 1..=2);
    app.handle(AppEvent::Worker(Event::PasswordNeeded {
        reason: "pop.example.org refused the password for alice".into(),
    }));
    for c in "hunter2".chars() {
        app.handle(k(c));
    }
    let t = draw(&app, 60, 14);
    assert!(!buffer_text(t.backend().buffer()).contains("hunter2"));
    insta::assert_snapshot!(t.backend());
}

#[test]
fn filter_editing() {
    let mut app = app_with(false, 100, 14);
    mailbox(&mut app, 12, 1..=12);
    app.handle(k('/'));
    for c in "carol".chars() {
        app.handle(k(c));
    }
    let t = draw(&app, 100, 14);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn small_40x10() {
    let mut app = app_with(false, 40, 10);
    mailbox(&mut app, 30, 1..=30);
    let t = draw(&app, 40, 10);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn tiny_terminals_never_panic() {
    let mut app = app_with(false, 10, 3);
    mailbox(&mut app, 30, 1..=30);
    let t = draw(&app, 10, 3);
    insta::assert_snapshot!("tiny_10x3", t.backend());
    for (w, h) in [
        (0, 0),
        (1, 1),
        (0, 5),
        (5, 0),
        (2, 2),
        (10, 3),
        (15, 4),
        (20, 6),
        (40, 10),
    ] {
        app.handle(AppEvent::Resize(w, h));
        for ev in [k('j'), code(KeyCode::PageDown), k('?'), k('?'), k('G')] {
            app.handle(ev);
            draw(&app, w, h);
        }
        // Reader and dialogs at that size too.
        let mut r = reader_app();
        r.handle(AppEvent::Resize(w, h));
        draw(&r, w, h);
        r.handle(k('q'));
        r.handle(k('d'));
        r.handle(k('q'));
        draw(&r, w, h);
    }
}

#[test]
fn hostile_subject() {
    let mut app = app_with(false, 100, 14);
    app.handle(AppEvent::Worker(info(CertTrust::Verified)));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: (1..=6)
            .map(|i| ListEntry {
                key: key_of(i),
                size: 2000 * u64::from(i),
            })
            .collect(),
        no_uidl_reason: None,
    }));
    let subjects = [
        "plain ascii subject",
        "\u{1b}]0;pwned\u{7}title \u{1b}[2J\u{1b}[31mred",
        "invoice \u{202E}fdp.exe\u{202C} \u{200B}hidden",
        "日本語の件名です、とても長い件名がここに続きます",
        "emoji 🎉🎉 party 👩\u{200D}👩\u{200D}👧 family",
        "cafe\u{301} combining e\u{301}e\u{301}e\u{301} marks\r\nInjected: header",
    ];
    let batch = subjects
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let n = i as u32 + 1;
            (
                key_of(n),
                HeaderSummary {
                    from_name: [
                        "张伟",
                        "😀 Smile",
                        "e\u{301}milie",
                        "a\u{1b}[1mb",
                        "x@y.z",
                        "Bob",
                    ][i]
                        .into(),
                    from_addr: "real@sender.example".into(),
                    subject: (*s).into(),
                    date: Some(MailDate {
                        unix: NOW - 60,
                        tz_offset_minutes: 0,
                    }),
                    ..Default::default()
                },
            )
        })
        .collect();
    cached_previews(&mut app, batch);
    let t = draw(&app, 100, 14);
    let buf = t.backend().buffer();
    assert_clean(buf);
    let text = buffer_text(buf);
    assert!(
        !text.contains("x@y.z"),
        "display name with @ must show the address"
    );
    // Columns stay aligned: every row's size column ends at the same cell
    // and every row's total width is the screen width.
    for y in 2..8u16 {
        let mut row = String::new();
        let mut x = 0;
        while x < 100 {
            let sym = buf[(x, y)].symbol();
            row.push_str(sym);
            x += width(sym).max(1) as u16;
        }
        assert_eq!(width(&row), 100, "row {y}: {row}");
        let size_cell: String = (94..99).map(|x| buf[(x, y)].symbol()).collect();
        assert!(
            size_cell.trim_end().ends_with('K'),
            "row {y}: size column {size_cell:?}"
        );
    }
    insta::assert_snapshot!(t.backend());
}

/// A server that can't be reached at all is told as such, not as a lost
/// connection: the list says nothing was loaded yet. Once connected, a
/// drop is a lost connection.
#[test]
fn never_connected_versus_connection_lost() {
    let mut app = app_with(false, 100, 30);
    let refused = |attempt| {
        AppEvent::Worker(Event::Reconnecting {
            attempt,
            delay_secs: 2,
            reason: "connection refused while connecting to pop.example.org:995".into(),
        })
    };
    app.handle(refused(1));
    let text = buffer_text(draw(&app, 100, 30).backend().buffer());
    assert!(text.contains("can't connect: connection refused"), "{text}");
    assert!(text.contains("not connected yet"), "{text}");
    assert!(!text.contains("connection lost"), "{text}");

    app.handle(AppEvent::Worker(info(CertTrust::Verified)));
    mailbox(&mut app, 3, 1..=3);
    app.handle(refused(1));
    let text = buffer_text(draw(&app, 100, 30).backend().buffer());
    assert!(
        text.contains("connection lost: connection refused"),
        "{text}"
    );
    assert!(!text.contains("not connected yet"), "{text}");
}
