//! The checks behind the fuzz targets, shared with `tests/fuzz_regressions.rs`
//! (which includes this file with `#[path]`), so a crash file kept in
//! `tests/fixtures/fuzz/` is replayed through exactly the same code by the
//! normal `cargo test`.
//!
//! Depends only on `popview`, `ratatui` and `crossterm`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use popview::app::{App, AppEvent, AppOptions, Effect};
use popview::pop3::response::{
    BodyCollector, BodyLimits, Capabilities, LineBuffer, MAX_STATUS_LINE, MAX_UID_LEN,
    apop_timestamp, body_lines, parse_continuation, parse_scan_line, parse_stat, parse_status,
    parse_uidl_line, valid_uid,
};
use popview::pop3::{Error, ErrorKind};
use popview::sanitize::is_forbidden;
use popview::worker::api::{
    CertTrust, ConnectionInfo, Event, ListEntry, MsgKey, Request, TlsDetails, TlsState,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// How one response read from the script ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The status line never completed.
    NoStatus,
    /// The status line was rejected (too long, or not `+OK`/`-ERR`).
    BadStatus(Error),
    /// A `-ERR`, or a `+OK` read as a one-line answer.
    OneLine(popview::pop3::response::Status),
    /// The multi-line body broke a limit.
    BodyError(Error),
    /// EOF before the terminating `.` line: never a complete body.
    Truncated { seen: u64 },
    /// A complete multi-line body, and what the listing parsers made of it.
    Body {
        data: Vec<u8>,
        truncated: bool,
        scan: Vec<Result<(u32, u64), Error>>,
        uidl: Vec<Result<(u32, Option<String>), Error>>,
        caps: Capabilities,
    },
}

fn assert_printable_error(e: &Error) {
    assert!(
        e.message.chars().all(|c| !is_forbidden(c)),
        "an error message carries a control character: {:?}",
        e.message
    );
    assert_eq!(
        e.kind,
        ErrorKind::Protocol,
        "framing errors are protocol errors: {e:?}"
    );
}

/// Read one response (status line, then a multi-line body when `+OK` and
/// `multi`) from `script` delivered in reads of `chunk` bytes.
pub fn read_response(script: &[u8], chunk: usize, limits: BodyLimits, multi: bool) -> Outcome {
    let max_line = 2048usize;
    let mut input = LineBuffer::new();
    let mut reads = script.chunks(chunk.max(1));
    let status_line = loop {
        match input.next_line(MAX_STATUS_LINE) {
            Ok(Some(line)) => break line.content.to_vec(),
            Ok(None) => match reads.next() {
                Some(c) => input.extend(c),
                None => return Outcome::NoStatus,
            },
            Err(e) => {
                assert_printable_error(&e);
                return Outcome::BadStatus(e);
            }
        }
        assert!(
            input.pending().len() <= MAX_STATUS_LINE + chunk,
            "the line buffer holds more than one over-long line"
        );
    };
    let status = match parse_status(&status_line) {
        Ok(s) => s,
        Err(e) => {
            assert_printable_error(&e);
            return Outcome::BadStatus(e);
        }
    };
    // Things a client derives from any status text: none may panic.
    let _ = parse_stat(&status.text).map_err(|e| assert_printable_error(&e));
    let _ = parse_scan_line(status.text.as_bytes()).map_err(|e| assert_printable_error(&e));
    if let Ok((_, Some(uid))) = parse_uidl_line(status.text.as_bytes()) {
        assert!(valid_uid(uid.as_bytes()) && uid.len() <= MAX_UID_LEN);
    }
    let _ = parse_continuation(&status_line);
    if let Some(stamp) = apop_timestamp(&status.text) {
        assert!(stamp.starts_with('<') && stamp.ends_with('>') && stamp.contains('@'));
        assert!(stamp.len() <= 256 && stamp.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    }
    if !status.ok || !multi {
        return Outcome::OneLine(status);
    }
    let mut collector = BodyCollector::new(limits);
    loop {
        match input.next_line(max_line) {
            Ok(Some(line)) => match collector.push_line(line.content, line.eol) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    assert_printable_error(&e);
                    assert!(collector.seen() > limits.max_total);
                    return Outcome::BodyError(e);
                }
            },
            Ok(None) => match reads.next() {
                Some(c) => input.extend(c),
                None => {
                    return Outcome::Truncated {
                        seen: collector.seen(),
                    };
                }
            },
            Err(e) => {
                assert_printable_error(&e);
                return Outcome::BodyError(e);
            }
        }
        assert!(input.pending().len() <= max_line + chunk);
    }
    assert!(collector.is_done());
    let body = collector.finish();
    assert!(
        body.data.len() as u64 <= limits.max_kept,
        "kept {} bytes, cap {}",
        body.data.len(),
        limits.max_kept
    );
    let scan: Vec<_> = body_lines(&body.data).map(parse_scan_line).collect();
    let uidl: Vec<_> = body_lines(&body.data).map(parse_uidl_line).collect();
    for r in &scan {
        match r {
            Ok((n, _)) => assert!(*n > 0, "message number 0 accepted"),
            Err(e) => assert_printable_error(e),
        }
    }
    for r in &uidl {
        match r {
            Ok((n, uid)) => {
                assert!(*n > 0, "message number 0 accepted");
                if let Some(uid) = uid {
                    assert!(valid_uid(uid.as_bytes()), "invalid UID {uid:?} accepted");
                }
            }
            Err(e) => assert_printable_error(e),
        }
    }
    let caps = Capabilities::parse(&body.data);
    assert!(caps.known && caps.raw.len() <= 256);
    Outcome::Body {
        data: body.data,
        truncated: body.truncated,
        scan,
        uidl,
        caps,
    }
}

/// Target (a): arbitrary server bytes through the response layer. The first
/// three bytes choose the read size and the limits; the result must not
/// depend on how the bytes were split into reads.
pub fn response_reader(data: &[u8]) {
    let [chunk, flags, size, script @ ..] = data else {
        return;
    };
    let max_total = 64 + u64::from(*size) * 16;
    let max_kept = (max_total / 2).max(1);
    let limits = BodyLimits {
        max_total,
        headers_only: flags & 1 == 1,
        max_kept,
    };
    let multi = flags & 2 == 0;
    let chunk = usize::from(*chunk % 64) + 1;
    let whole = read_response(script, script.len().max(1), limits, multi);
    let split = read_response(script, chunk, limits, multi);
    assert_eq!(
        whole, split,
        "the result depends on how the reads were split"
    );
    let bytewise = read_response(script, 1, limits, multi);
    assert_eq!(whole, bytewise, "one byte at a time gives another result");
    // The real limits must hold too (no panic, bounded).
    let _ = read_response(
        script,
        chunk,
        BodyLimits::headers(Some(u64::from(*size))),
        true,
    );
    let _ = read_response(script, chunk, BodyLimits::message(None), true);
    let _ = read_response(
        script,
        chunk,
        BodyLimits::listing(Some(u64::from(*flags))),
        true,
    );
}

const NOW: i64 = 1_710_252_300;

fn key(c: char) -> AppEvent {
    AppEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn check_cells(term: &Terminal<TestBackend>, what: &str) {
    for cell in term.backend().buffer().content() {
        for c in cell.symbol().chars() {
            assert!(
                !is_forbidden(c),
                "{what}: forbidden char {c:?} (U+{:04X}) in a rendered cell",
                c as u32
            );
        }
    }
}

fn draw(app: &App, w: u16, h: u16, what: &str) {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    t.draw(|f| popview::ui::draw(f, app)).expect("draw");
    check_cells(&t, what);
}

fn check_str(s: &str, what: &str) {
    assert!(
        s.chars().all(|c| !is_forbidden(c)),
        "{what} carries a forbidden char: {s:?}"
    );
}

/// Target (b): message bytes through `mail::summarize` and `mail::view`, into
/// the app as the worker would send them, rendered on the list and the
/// reader screens (text, raw and full-header views). No panic, and no cell
/// holds a character `sanitize::is_forbidden` rejects.
pub fn mail_render(data: &[u8]) {
    let summary = popview::mail::summarize(data);
    for (field, what) in [
        (&summary.from_name, "from_name"),
        (&summary.from_addr, "from_addr"),
        (&summary.to, "to"),
        (&summary.subject, "subject"),
        (&summary.message_id, "message_id"),
    ] {
        check_str(field, what);
    }
    let view = popview::mail::view(data.to_vec());
    let (w, h) = match data.first() {
        Some(b) => (20 + u16::from(*b % 100), 8 + u16::from(*b % 23)),
        None => (80, 24),
    };
    let mut app = App::new(AppOptions {
        account_label: "fuzz@example.org".into(),
        big_message_threshold: u64::MAX,
        ..Default::default()
    });
    app.handle(AppEvent::Clock(NOW));
    app.handle(AppEvent::Resize(w, h));
    app.handle(AppEvent::Worker(Event::Connected(Box::new(
        ConnectionInfo {
            server: "pop.example.org:995".into(),
            tls: TlsState::Implicit(TlsDetails {
                trust: CertTrust::Verified,
                fingerprint_sha256: "ab".repeat(32),
            }),
            greeting: "POP3 ready".into(),
            capabilities: vec!["TOP".into(), "UIDL".into()],
            implementation: None,
            login_delay: None,
            expire: None,
            pipelining: true,
            has_top: true,
            has_uidl: true,
            auth_method: "PLAIN".into(),
        },
    ))));
    let k = MsgKey {
        number: 1,
        uid: Some("u1".into()),
        generation: 0,
    };
    app.handle(AppEvent::Worker(Event::Listing {
        entries: vec![ListEntry {
            key: k.clone(),
            size: data.len() as u64,
        }],
        no_uidl_reason: None,
    }));
    app.handle(AppEvent::Worker(Event::Previews(vec![(
        k.clone(),
        summary,
    )])));
    app.handle(AppEvent::Tick);
    draw(&app, w, h, "list");
    let effects = app.handle(AppEvent::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    let ticket = effects
        .iter()
        .find_map(|e| match e {
            Effect::Send(Request::Retrieve { ticket, .. }) => Some(*ticket),
            _ => None,
        })
        .expect("Enter on the only row retrieves it");
    app.handle(AppEvent::Worker(Event::Message {
        ticket,
        key: k,
        view: Box::new(view),
    }));
    draw(&app, w, h, "reader");
    app.handle(key('h'));
    draw(&app, w, h, "reader, full headers");
    app.handle(key('h'));
    app.handle(key('v'));
    draw(&app, w, h, "reader, raw");
}

/// A peer that answers each command line the client writes with the next
/// canned reply (the first is the greeting), in reads of `chunk` bytes.
pub struct Canned {
    replies: std::collections::VecDeque<Vec<u8>>,
    readable: std::collections::VecDeque<u8>,
    chunk: usize,
}

impl Canned {
    pub fn new(mut replies: std::collections::VecDeque<Vec<u8>>, chunk: usize) -> Canned {
        let readable = replies
            .pop_front()
            .unwrap_or_default()
            .into_iter()
            .collect();
        Canned {
            replies,
            readable,
            chunk: chunk.max(1),
        }
    }
}

impl std::io::Read for Canned {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.readable.len());
        for b in buf.iter_mut().take(n) {
            *b = self.readable.pop_front().unwrap_or(0);
        }
        Ok(n)
    }
}

impl std::io::Write for Canned {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for _ in buf.iter().filter(|b| **b == b'\n') {
            if let Some(r) = self.replies.pop_front() {
                self.readable.extend(r);
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Target (c): a whole client session (greeting, CAPA, login by any method,
/// STAT, LIST, UIDL, TOP, RETR, a pipelined batch, QUIT) against replies cut
/// from the input at each `|~|`. No panic; every body within its caps; every
/// error message printable.
pub fn client_session(data: &[u8]) {
    use popview::pop3::client::State;
    use popview::pop3::{AuthMethod, Client, Command, Credentials, Reply};
    let [chunk, method, rest @ ..] = data else {
        return;
    };
    let mut replies = std::collections::VecDeque::new();
    let mut start = 0;
    let mut i = 0;
    while i + 3 <= rest.len() {
        if &rest[i..i + 3] == b"|~|" {
            replies.push_back(rest[start..i].to_vec());
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    replies.push_back(rest[start..].to_vec());
    let total = rest.len() as u64;
    let method = match method % 4 {
        0 => AuthMethod::Auto,
        1 => AuthMethod::User,
        2 => AuthMethod::Apop,
        _ => AuthMethod::Plain,
    };
    let check_err = |e: &popview::pop3::Error| {
        assert!(
            e.message.chars().all(|c| !is_forbidden(c)),
            "error message with a control char: {:?}",
            e.message
        );
    };
    let mut c = match Client::new(Canned::new(replies, usize::from(*chunk) + 1), true, None) {
        Ok(c) => c,
        Err(e) => return check_err(&e),
    };
    if let Err(e) = c.refresh_capabilities() {
        check_err(&e);
    }
    let pw = if data.len().is_multiple_of(2) {
        "p".repeat(200)
    } else {
        "pw".into()
    };
    if c.state() != State::Closed
        && let Err(e) = c.login(&Credentials::new("u", pw), method, false)
    {
        check_err(&e);
    }
    let check_reply = |cmd: &Command, r: &Reply| match r {
        Reply::Body(b) => {
            let l = cmd
                .multi_line()
                .expect("a body answers a multi-line command");
            assert!(b.data.len() as u64 <= l.max_kept && b.data.len() as u64 <= total);
        }
        Reply::ScanListing(v) => assert!(v.iter().all(|(n, _)| *n > 0)),
        Reply::UidListing(v) => assert!(
            v.iter()
                .all(|(n, u)| *n > 0 && u.as_ref().is_none_or(|u| valid_uid(u.as_bytes())))
        ),
        _ => {}
    };
    let cmds = [
        Command::Stat,
        Command::List(None),
        Command::Uidl(None),
        Command::Uidl(Some(1)),
        Command::Top {
            msg: 1,
            lines: 0,
            size: Some(10),
        },
        Command::Retr {
            msg: 1,
            size: Some(10),
        },
    ];
    for cmd in cmds {
        if c.state() != State::Transaction {
            return;
        }
        match c.execute(cmd.clone()) {
            Ok(r) => check_reply(&cmd, &r),
            Err(e) => check_err(&e),
        }
    }
    if c.state() != State::Transaction {
        return;
    }
    c.set_window(8);
    let batch = (1..=6).map(|n| Command::Top {
        msg: n,
        lines: 0,
        size: None,
    });
    let res = c.pipeline(batch, |a| {
        match &a.result {
            Ok(r) => check_reply(&a.command, r),
            Err(e) => check_err(e),
        }
        Ok(())
    });
    if let Err(e) = res {
        check_err(&e);
    }
    if c.state() == State::Transaction
        && let Err(e) = c.quit()
    {
        check_err(&e);
    }
}

/// The most one HTML input may take in `html_time` (a fuzz build is
/// instrumented, so this is well above what a release build needs).
pub const HTML_TIME_LIMIT: std::time::Duration = std::time::Duration::from_millis(1500);

/// HTML (lossy UTF-8) through `popview::html::to_text`: finishes within
/// [`HTML_TIME_LIMIT`], and a fallback always says why.
pub fn html_time(data: &[u8]) {
    let html = String::from_utf8_lossy(data);
    let start = std::time::Instant::now();
    let r = popview::html::to_text(&html, 100);
    let took = start.elapsed();
    assert!(
        took <= HTML_TIME_LIMIT,
        "rendering {} bytes of HTML took {took:?}",
        data.len()
    );
    if let Some(note) = &r.note {
        assert!(note.starts_with("This HTML part "), "{note}");
    }
}
