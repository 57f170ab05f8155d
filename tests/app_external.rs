//! Pure tests of the app side of `|` (pipe), `m` (open with the viewer)
//! and `ctrl-b` (links): keys in, the exact effects out. No process runs.

#[path = "support/app.rs"]
mod app_support;
use app_support::{key, key_of};

use crossterm::event::{KeyCode, KeyModifiers};
use popview::app::external::{ExternalDone, OpenJob, PipeJob, links_of, openable};
use popview::app::{App, AppEvent, AppOptions, Effect, Screen};
use popview::mail::{HeaderSummary, view};
use popview::worker::api::{Event, ListEntry, MsgKey, Request};

const RAW: &[u8] = b"From: Alice <alice@example.org>\r\nSubject: hello\r\n\
Content-Type: text/plain\r\n\r\nSee https://example.org/a?b=1&c=2. And\r\n\
https://example.org/a?b=1&c=2 again, javascript:alert(1) never.\r\n\
.leading dot\r\n";

const HTML_RAW: &[u8] = b"From: a@example.org\r\nSubject: html\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n\
Content-Type: text/html\r\n\r\n<p>Go <a href=\"https://ex.org/x?a=1&amp;b=2\">to <b>the</b> site</a> \
<a href='file:///etc/passwd'>local</a> <a href=\"mailto:bob@ex.org\">Bob</a></p>\r\n\
--XX\r\nContent-Type: text/plain; name=\"../../.bashrc\"\r\n\
Content-Disposition: attachment; filename=\"../../.bashrc\"\r\n\r\nrm -rf ~\r\n--XX--\r\n";

fn ch(c: char) -> AppEvent {
    key(KeyCode::Char(c), KeyModifiers::NONE)
}
fn typed(app: &mut App, s: &str) -> Vec<Effect> {
    let mut out = Vec::new();
    for c in s.chars() {
        out.extend(app.handle(ch(c)));
    }
    out
}

/// An app listing message 1 (with a preview).
fn listed() -> App {
    let mut app = App::new(AppOptions::default());
    app.handle(AppEvent::Resize(100, 30));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: vec![ListEntry {
            key: key_of(1),
            size: 300,
        }],
        no_uidl_reason: None,
    }));
    app.handle(AppEvent::Worker(Event::Previews(vec![(
        key_of(1),
        HeaderSummary {
            subject: "hello".into(),
            ..Default::default()
        },
    )])));
    app
}

fn retrieve_ticket(effects: &[Effect]) -> Option<u64> {
    effects.iter().find_map(|e| match e {
        Effect::Send(Request::Retrieve { ticket, .. }) => Some(*ticket),
        _ => None,
    })
}

fn deliver(app: &mut App, ticket: u64, raw: &[u8]) -> Vec<Effect> {
    app.handle(popview::app::prepare(Event::Message {
        ticket,
        key: key_of(1),
        view: Box::new(view(raw.to_vec())),
    }))
}

/// Message 1 open in the reader with `raw`.
fn reading(raw: &[u8]) -> App {
    let mut app = listed();
    let effects = app.handle(key(KeyCode::Enter, KeyModifiers::NONE));
    let ticket = retrieve_ticket(&effects).expect("enter retrieves");
    deliver(&mut app, ticket, raw);
    assert_eq!(app.screen(), Screen::Reader);
    app
}

fn pipes(effects: Vec<Effect>) -> Vec<PipeJob> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Pipe(p) => Some(p),
            _ => None,
        })
        .collect()
}

#[test]
fn pipe_in_the_reader_gives_the_raw_bytes_and_the_command() {
    let mut app = reading(RAW);
    assert!(pipes(app.handle(ch('|'))).is_empty());
    assert!(app.pipe_prompt().is_some());
    typed(&mut app, "wc -c > '/tmp/x y'");
    let jobs = pipes(app.handle(key(KeyCode::Enter, KeyModifiers::NONE)));
    assert_eq!(
        jobs,
        vec![PipeJob {
            command: "wc -c > '/tmp/x y'".into(),
            data: RAW.to_vec(),
        }]
    );
    assert!(app.pipe_prompt().is_none());
}

#[test]
fn pipe_from_the_list_retrieves_first_then_pipes() {
    let mut app = listed();
    app.handle(ch('|'));
    typed(&mut app, "cat");
    let effects = app.handle(key(KeyCode::Enter, KeyModifiers::NONE));
    let ticket = retrieve_ticket(&effects).expect("the message is retrieved first");
    assert!(pipes(effects).is_empty(), "nothing to pipe yet");
    let jobs = pipes(deliver(&mut app, ticket, RAW));
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].data, RAW);
    // Once only.
    assert!(pipes(app.handle(AppEvent::Tick)).is_empty());
}

#[test]
fn esc_cancels_the_pipe_prompt_and_an_empty_command_runs_nothing() {
    let mut app = reading(RAW);
    app.handle(ch('|'));
    typed(&mut app, "cat");
    assert!(pipes(app.handle(key(KeyCode::Esc, KeyModifiers::NONE))).is_empty());
    assert!(app.pipe_prompt().is_none());
    assert_eq!(app.screen(), Screen::Reader, "esc only closed the prompt");
    app.handle(ch('|'));
    assert!(pipes(app.handle(key(KeyCode::Enter, KeyModifiers::NONE))).is_empty());
}

fn opens(effects: Vec<Effect>) -> Vec<OpenJob> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::OpenPart(p) => Some(p),
            _ => None,
        })
        .collect()
}

#[test]
fn open_gives_a_safe_name_for_a_hostile_attachment() {
    let mut app = reading(HTML_RAW);
    let doc = app.reader().unwrap().doc().unwrap();
    assert_eq!(doc.attachments.len(), 1, "{:?}", doc.attachments);
    let jobs = opens(app.handle(ch('m')));
    assert_eq!(jobs.len(), 1);
    let j = &jobs[0];
    assert!(!j.name.contains('/') && !j.name.starts_with('.'), "{j:?}");
    assert_eq!(j.mime, "text/plain");
    assert_eq!(j.data, b"rm -rf ~");
}

#[test]
fn open_on_the_message_line_gives_the_html_part() {
    let mut app = reading(HTML_RAW);
    app.handle(key(KeyCode::Tab, KeyModifiers::NONE)); // the whole message
    let jobs = opens(app.handle(ch('m')));
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].mime, "text/html");
    assert_eq!(jobs[0].name, "message-1.html");
    assert!(
        String::from_utf8_lossy(&jobs[0].data).contains("href=\"https://ex.org"),
        "{:?}",
        jobs[0]
    );
}

#[test]
fn open_without_html_gives_the_text() {
    let mut app = reading(RAW);
    let jobs = opens(app.handle(ch('m')));
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].mime, "text/plain");
    assert!(String::from_utf8_lossy(&jobs[0].data).contains("leading dot"));
}

#[test]
fn captured_output_is_shown_in_the_reader_and_esc_goes_back() {
    let mut app = reading(RAW);
    app.handle(AppEvent::External(ExternalDone::Output {
        title: "viewer".into(),
        text: "VIEWER SAID \x1b[31mhi\n".into(),
    }));
    assert!(app.showing_output());
    let r = app.reader().unwrap();
    let all: String = r.lines.iter().map(|l| l.text.clone() + "\n").collect();
    assert!(all.contains("VIEWER SAID"), "{all}");
    assert!(!all.contains('\x1b'), "controls are cleaned: {all:?}");
    app.handle(key(KeyCode::Esc, KeyModifiers::NONE));
    assert!(!app.showing_output());
    assert_eq!(app.screen(), Screen::Reader);
    assert_eq!(app.reader().unwrap().doc().unwrap().subject, "hello");
}

fn urls(effects: Vec<Effect>) -> Vec<String> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::OpenUrl(u) => Some(u),
            _ => None,
        })
        .collect()
}

#[test]
fn links_are_listed_deduplicated_and_opened_only_after_y() {
    let mut app = reading(RAW);
    app.handle(key(KeyCode::Char('b'), KeyModifiers::CONTROL));
    let menu = app.link_menu().expect("ctrl-b lists the links");
    let listed: Vec<&str> = menu.links.iter().map(|l| l.url.as_str()).collect();
    assert_eq!(listed, vec!["https://example.org/a?b=1&c=2"]);
    assert!(urls(app.handle(key(KeyCode::Enter, KeyModifiers::NONE))).is_empty());
    assert!(app.link_menu().unwrap().confirm, "enter shows it in full");
    // Any key but y goes back to the list without opening.
    assert!(urls(app.handle(ch('n'))).is_empty());
    assert!(!app.link_menu().unwrap().confirm);
    app.handle(key(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(
        urls(app.handle(ch('y'))),
        vec!["https://example.org/a?b=1&c=2".to_string()]
    );
    assert!(app.link_menu().is_none());
}

#[test]
fn html_links_keep_their_text_and_only_safe_schemes() {
    let app = reading(HTML_RAW);
    let doc = app.reader().unwrap().doc().unwrap();
    let got: Vec<(&str, &str)> = doc
        .links
        .iter()
        .map(|l| (l.url.as_str(), l.text.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("https://ex.org/x?a=1&b=2", "to the site"),
            ("mailto:bob@ex.org", "Bob")
        ]
    );
}

#[test]
fn hostile_urls_are_not_openable() {
    for bad in [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://a b",
        "https://x/'$(reboot)'",
        "https://x/\x1b]52;c;x\x07",
        "https://x/`id`",
        "mailto:",
        "",
    ] {
        assert!(!openable(bad), "{bad:?}");
    }
    assert!(openable("https://example.org/a?b=1&c=2#f"));
    assert!(openable("HTTP://EXAMPLE.ORG"));
    let long = format!("https://x/{}", "a".repeat(10_000));
    assert!(!openable(&long));
}

#[test]
fn link_scan_is_bounded_and_never_panics() {
    let body = "https://a.example/".repeat(100_000);
    let links = links_of(&body, Some(&"<a href=".repeat(50_000)));
    assert!(links.len() <= popview::app::external::MAX_LINKS);
    let odd = links_of(
        "x https://é.example/ü) (https://b.example/(c)) ε",
        Some("<a href=\"https://x"),
    );
    let got: Vec<&str> = odd.iter().map(|l| l.url.as_str()).collect();
    // Non-ASCII URLs are not offered; an unclosed quote ends the href.
    assert_eq!(got, vec!["https://x", "https://b.example/(c)"]);
}

#[test]
fn a_peek_is_neither_piped_nor_opened() {
    // Open as a peek: the big-message threshold is below the size.
    let mut app = App::new(AppOptions {
        big_message_threshold: 10,
        ..AppOptions::default()
    });
    app.handle(AppEvent::Resize(100, 30));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: vec![ListEntry {
            key: key_of(1),
            size: 300,
        }],
        no_uidl_reason: None,
    }));
    app.handle(key(KeyCode::Enter, KeyModifiers::NONE));
    let effects = app.handle(ch('p'));
    let ticket = effects
        .iter()
        .find_map(|e| match e {
            Effect::Send(Request::Peek { ticket, .. }) => Some(*ticket),
            _ => None,
        })
        .expect("p peeks");
    app.handle(popview::app::prepare(Event::Peeked {
        ticket,
        key: key_of(1),
        view: Box::new(view(RAW.to_vec())),
    }));
    app.handle(ch('|'));
    typed(&mut app, "cat");
    assert!(pipes(app.handle(key(KeyCode::Enter, KeyModifiers::NONE))).is_empty());
    assert!(
        app.notice().unwrap_or("").contains("peek"),
        "{:?}",
        app.notice()
    );
    assert!(opens(app.handle(ch('m'))).is_empty());
}

/// The retrieve request among effects: its ticket and key.
fn retrieve_of(effects: &[Effect]) -> Option<(u64, MsgKey)> {
    effects.iter().find_map(|e| match e {
        Effect::Send(Request::Retrieve { ticket, key }) => Some((*ticket, key.clone())),
        _ => None,
    })
}

#[test]
fn tagged_messages_are_retrieved_in_list_order_and_piped_together() {
    let mut app = App::new(AppOptions::default());
    app.handle(AppEvent::Resize(100, 30));
    app.handle(AppEvent::Worker(Event::Listing {
        entries: (1..=3)
            .map(|n| ListEntry {
                key: key_of(n),
                size: 100,
            })
            .collect(),
        no_uidl_reason: None,
    }));
    // Newest first: 3, 2, 1. Tag 3 and 1.
    assert_eq!(app.view_keys(), vec![key_of(3), key_of(2), key_of(1)]);
    app.handle(ch('t'));
    app.handle(ch('j'));
    app.handle(ch('t'));
    app.handle(ch(';'));
    app.handle(ch('|'));
    assert!(
        app.pipe_prompt().is_some(),
        ";| asks for the command: {:?}",
        app.notice()
    );
    typed(&mut app, "git am");
    let effects = app.handle(key(KeyCode::Enter, KeyModifiers::NONE));
    let (t1, k1) = retrieve_of(&effects).expect("the first tagged is retrieved");
    assert_eq!(k1, key_of(3));
    let raw = |n: u32| format!("Subject: m{n}\r\n\r\nbody {n}\r\n").into_bytes();
    let deliver_n = |app: &mut App, ticket, n: u32| {
        app.handle(popview::app::prepare(Event::Message {
            ticket,
            key: key_of(n),
            view: Box::new(view(raw(n))),
        }))
    };
    let effects = deliver_n(&mut app, t1, 3);
    assert!(pipes_of(&effects).is_empty());
    let (t2, k2) = retrieve_of(&effects).expect("then the next one");
    assert_eq!(k2, key_of(1));
    let jobs = pipes(deliver_n(&mut app, t2, 1));
    let mut want = raw(3);
    want.extend_from_slice(popview::app::external::PIPE_SEP);
    want.extend_from_slice(&raw(1));
    assert_eq!(
        jobs,
        vec![PipeJob {
            command: "git am".into(),
            data: want
        }]
    );
}

#[test]
fn leaving_the_reader_cancels_a_tagged_pipe() {
    let mut app = listed();
    app.handle(ch('t'));
    app.handle(ch(';'));
    app.handle(ch('|'));
    assert!(app.pipe_prompt().is_some());
    typed(&mut app, "cat");
    let effects = app.handle(key(KeyCode::Enter, KeyModifiers::NONE));
    let (ticket, _) = retrieve_of(&effects).unwrap();
    app.handle(key(KeyCode::Esc, KeyModifiers::NONE));
    assert_eq!(
        app.notice(),
        Some("the pipe of the tagged messages was cancelled")
    );
    assert!(pipes(deliver(&mut app, ticket, RAW)).is_empty());
}

fn pipes_of(effects: &[Effect]) -> Vec<&PipeJob> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Pipe(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// A message forwarding `inner` as a `message/rfc822` part.
fn forwarding(subject: &str, inner: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "From: fwd@example.org\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b-{subject}\"\r\n\r\n\
         --b-{subject}\r\nContent-Type: text/plain\r\n\r\nsee below ({subject})\r\n\
         --b-{subject}\r\nContent-Type: message/rfc822\r\n\r\n"
    )
    .into_bytes();
    m.extend_from_slice(inner);
    m.extend_from_slice(format!("\r\n--b-{subject}--\r\n").as_bytes());
    m
}

#[test]
fn forwarded_messages_are_shown_inline_with_their_headers_bounded_in_depth() {
    let innermost = b"From: Deep <deep@example.org>\r\nTo: x@example.org\r\n\
Subject: level-5 \x1b[31mred\r\n\r\ninnermost text\r\n";
    let mut m = innermost.to_vec();
    for level in (0..5).rev() {
        m = forwarding(&format!("level-{level}"), &m);
    }
    let app = reading(&m);
    let doc = app.reader().unwrap().doc().unwrap();
    assert_eq!(doc.subject, "level-0");
    let shown = doc.body.matches("Forwarded message").count();
    assert_eq!(
        shown,
        popview::app::reader::MAX_FORWARD_DEPTH,
        "{}",
        doc.body
    );
    for level in 1..=3 {
        assert!(
            doc.body.contains(&format!("Subject: level-{level}")),
            "{level}: {}",
            doc.body
        );
        assert!(doc.body.contains(&format!("see below (level-{level})")));
    }
    assert!(
        !doc.body.contains("level-4"),
        "deeper ones stay attachments"
    );
    assert!(!doc.body.contains('\x1b'));
    // The forwarded part is still in the list, to save or open.
    assert!(doc.attachments.iter().any(|a| a.mime == "message/rfc822"));
}

#[test]
fn pipe_over_a_viewers_output_pipes_the_message() {
    let mut app = reading(RAW);
    app.handle(AppEvent::External(ExternalDone::Output {
        title: "viewer".into(),
        text: "not the message".into(),
    }));
    assert!(app.showing_output());
    app.handle(ch('|'));
    typed(&mut app, "cat");
    let jobs = pipes(app.handle(key(KeyCode::Enter, KeyModifiers::NONE)));
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].data, RAW);
    assert!(!app.showing_output());
}
