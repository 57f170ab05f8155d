//! Table-driven and property tests of the pure response parser.

use popview::pop3::response::*;
use popview::pop3::{ErrorKind, RespCode};
use proptest::prelude::*;

#[test]
fn status_lines() {
    type Want<'a> = Option<(bool, Option<RespCode>, &'a str)>;
    let cases: &[(&[u8], Want)] = &[
        (b"+OK", Some((true, None, ""))),
        (b"+OK ready", Some((true, None, "ready"))),
        (
            b"-ERR no such message",
            Some((false, None, "no such message")),
        ),
        (
            b"-ERR [IN-USE] locked",
            Some((false, Some(RespCode::InUse), "locked")),
        ),
        (
            b"-ERR [in-use] locked",
            Some((false, Some(RespCode::InUse), "locked")),
        ),
        (
            b"-ERR [SYS/TEMP] later",
            Some((false, Some(RespCode::SysTemp), "later")),
        ),
        (
            b"-ERR [sys/perm] never",
            Some((false, Some(RespCode::SysPerm), "never")),
        ),
        (
            b"-ERR [AUTH] bad",
            Some((false, Some(RespCode::Auth), "bad")),
        ),
        (
            b"-ERR [LOGIN-DELAY] wait",
            Some((false, Some(RespCode::LoginDelay), "wait")),
        ),
        (
            b"-ERR [X-FOO] odd",
            Some((false, Some(RespCode::Other("X-FOO".into())), "odd")),
        ),
        // Broken codes stay in the text, no panic.
        (b"-ERR [", Some((false, None, "["))),
        (b"-ERR [] x", Some((false, None, "[] x"))),
        (b"-ERR [\x1b[31m] x", Some((false, None, "[\u{1b}[31m] x"))),
        (b"+ok lower", Some((true, None, "lower"))),
        (b"+OKAY", None),
        (b"OK", None),
        (b"", None),
        (b"* BYE", None),
    ];
    for (line, want) in cases {
        let got = parse_status(line);
        match want {
            None => assert_eq!(
                got.unwrap_err().kind,
                ErrorKind::Protocol,
                "{:?}",
                String::from_utf8_lossy(line)
            ),
            Some((ok, code, text)) => {
                let s = got.unwrap();
                assert_eq!((s.ok, &s.code, s.text.as_str()), (*ok, code, *text));
            }
        }
    }
}

#[test]
fn numbers_are_checked() {
    assert_eq!(parse_stat("2 320").unwrap(), (2, 320));
    assert_eq!(parse_stat("  2   320 extra").unwrap(), (2, 320));
    assert_eq!(parse_stat("2 99999999999").unwrap(), (2, 99_999_999_999));
    for bad in [
        "",
        "2",
        "-1 5",
        "2 -5",
        "x y",
        "2 18446744073709551616",
        "4294967296 1",
    ] {
        assert!(parse_stat(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_scan_line(b"1 120").unwrap(), (1, 120));
    assert!(parse_scan_line(b"0 120").is_err());
    assert!(parse_scan_line(b"1").is_err());
    assert_eq!(
        parse_uidl_line(b"3 0000000a5f3c").unwrap(),
        (3, Some("0000000a5f3c".to_string()))
    );
    // Invalid UIDs keep the message but drop the UID.
    assert_eq!(
        parse_uidl_line(b"3 ").unwrap_err().kind,
        ErrorKind::Protocol
    );
    let long = format!("4 {}", "x".repeat(71));
    assert_eq!(parse_uidl_line(long.as_bytes()).unwrap(), (4, None));
    assert_eq!(parse_uidl_line(b"5 a\x1bb").unwrap(), (5, None));
    // Path-like UIDs are legal RFC 1939 UIDs; the store must encode them.
    assert_eq!(
        parse_uidl_line(b"6 ../../x").unwrap(),
        (6, Some("../../x".to_string()))
    );
}

#[test]
fn capabilities_are_typed() {
    let caps = Capabilities::parse(
        b"TOP\r\nUIDL\r\nUSER\r\nSASL PLAIN login\r\nSTLS\r\nPIPELINING\r\nRESP-CODES\r\n\
          AUTH-RESP-CODE\r\nLOGIN-DELAY 900\r\nEXPIRE 30\r\nIMPLEMENTATION Dovecot x\r\nUTF8 USER\r\n",
    );
    assert!(caps.known && caps.top && caps.uidl && caps.user && caps.stls);
    assert!(caps.pipelining && caps.resp_codes && caps.auth_resp_code && caps.utf8);
    assert_eq!(caps.sasl, vec!["PLAIN", "LOGIN"]);
    assert!(caps.has_sasl("plain"));
    assert_eq!(caps.login_delay, Some(900));
    assert_eq!(caps.expire.as_deref(), Some("30"));
    assert_eq!(caps.implementation.as_deref(), Some("Dovecot x"));
    let none = Capabilities::default();
    assert!(!none.known && !none.pipelining);
}

#[test]
fn apop_timestamps() {
    assert_eq!(
        apop_timestamp("POP3 ready <1896.697170952@dbc.mtview.ca.us>"),
        Some("<1896.697170952@dbc.mtview.ca.us>")
    );
    // Dovecot's contain '='.
    assert_eq!(
        apop_timestamp("Dovecot ready. <1a.2b=3@host>"),
        Some("<1a.2b=3@host>")
    );
    assert_eq!(apop_timestamp("ready <noatsign>"), None);
    assert_eq!(apop_timestamp("ready <a b@c>"), None);
    assert_eq!(apop_timestamp("ready <a\x1b@c>"), None);
    assert_eq!(apop_timestamp("ready"), None);
}

/// Run a whole multi-line response through a line buffer fed in the given
/// chunks; returns the body or the error kind.
fn collect(chunks: &[&[u8]], limits: BodyLimits) -> Result<Body, ErrorKind> {
    let mut buf = LineBuffer::new();
    let mut col = BodyCollector::new(limits);
    let max = usize::try_from(limits.max_total).unwrap_or(usize::MAX);
    for chunk in chunks {
        buf.extend(chunk);
        while let Some(line) = buf.next_line(max).map_err(|e| e.kind)? {
            if col.push_line(line.content, line.eol).map_err(|e| e.kind)? {
                return Ok(col.finish());
            }
        }
    }
    Err(ErrorKind::Network) // no terminator: truncated
}

#[test]
fn multi_line_bodies() {
    let lim = BodyLimits::message(None);
    let cases: &[(&[u8], &[u8])] = &[
        (b".\r\n", b""),
        (b"a\r\nb\r\n.\r\n", b"a\r\nb\r\n"),
        (b"..foo\r\n.\r\n", b".foo\r\n"),
        (b"..\r\n.\r\n", b".\r\n"),
        (b"...\r\n.\r\n", b"..\r\n"),
        (b"bare\nlf\n.\n", b"bare\nlf\n"),
        (b"lone\rcr\r\n.\r\n", b"lone\rcr\r\n"),
        (b"\xff\xfe 8bit\r\n.\r\n", b"\xff\xfe 8bit\r\n"),
        (b". not end\r\n.\r\n", b" not end\r\n"),
    ];
    for (wire, want) in cases {
        let body = collect(&[wire], lim).unwrap();
        assert_eq!(body.data, *want, "{:?}", String::from_utf8_lossy(wire));
    }
    // EOF before the terminator is not a complete message.
    assert!(collect(&[b"a\r\nb\r\n"], lim).is_err());
}

#[test]
fn long_data_lines_arrive_intact() {
    let line = vec![b'Q'; 100_000];
    let mut wire = line.clone();
    wire.extend_from_slice(b"\r\n.\r\n");
    let body = collect(&[&wire], BodyLimits::message(Some(100_002))).unwrap();
    assert_eq!(&body.data[..100_000], &line[..]);
}

#[test]
fn endless_responses_are_cut() {
    let lim = BodyLimits::message(Some(100));
    let junk = vec![b'x'; 2 * 1024 * 1024];
    assert_eq!(collect(&[&junk], lim).unwrap_err(), ErrorKind::Protocol);
    let many_lines = b"line\r\n".repeat(400_000);
    assert_eq!(
        collect(&[&many_lines], lim).unwrap_err(),
        ErrorKind::Protocol
    );
    // Status lines are capped hard.
    let mut buf = LineBuffer::new();
    buf.extend(&vec![b'+'; MAX_STATUS_LINE + 1]);
    assert!(buf.next_line(MAX_STATUS_LINE).is_err());
}

#[test]
fn top_that_streams_the_body_still_yields_headers() {
    let mut wire = b"Subject: hi\r\nFrom: a@b\r\n\r\n".to_vec();
    wire.extend(b"body line\r\n".repeat(10_000));
    wire.extend_from_slice(b".\r\n");
    let body = collect(&[&wire], BodyLimits::headers(Some(wire.len() as u64))).unwrap();
    assert_eq!(body.data, b"Subject: hi\r\nFrom: a@b\r\n\r\n");
    assert!(body.truncated);
}

fn split_points(len: usize, cuts: &[usize]) -> Vec<usize> {
    let mut v: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
    v.sort_unstable();
    v.dedup();
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes, any split into reads: no panic, the same result as one read,
    /// and the kept data never exceeds the limit.
    #[test]
    fn any_split_gives_the_same_result(
        data in proptest::collection::vec(
            prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), any::<u8>(), Just(b'a')], 0..600),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        headers_only in any::<bool>(),
        cap in 16u64..400,
    ) {
        let limits = BodyLimits { max_total: cap, headers_only, max_kept: cap / 2 };
        let whole = collect(&[&data], limits);
        let points = split_points(data.len(), &cuts);
        let mut chunks = Vec::new();
        let mut prev = 0;
        for p in points { chunks.push(&data[prev..p]); prev = p; }
        chunks.push(&data[prev..]);
        let split = collect(&chunks, limits);
        prop_assert_eq!(&whole, &split);
        if let Ok(body) = whole {
            prop_assert!(body.data.len() as u64 <= cap / 2);
        }
    }

    /// Dot-stuffing round-trips: stuff any lines, collect, get them back.
    #[test]
    fn dot_stuffing_round_trips(lines in proptest::collection::vec("[.a-z \t]{0,12}", 0..20)) {
        let mut wire = Vec::new();
        let mut want = Vec::new();
        for l in &lines {
            if l.starts_with('.') { wire.push(b'.'); }
            wire.extend_from_slice(l.as_bytes());
            wire.extend_from_slice(b"\r\n");
            want.extend_from_slice(l.as_bytes());
            want.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b".\r\n");
        let body = collect(&[&wire], BodyLimits::message(None)).unwrap();
        prop_assert_eq!(body.data, want);
    }

    /// Status and listing parsers never panic on any input.
    #[test]
    fn parsers_never_panic(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_status(&line);
        let _ = parse_scan_line(&line);
        let _ = parse_uidl_line(&line);
        let _ = parse_stat(&String::from_utf8_lossy(&line));
        let _ = Capabilities::parse(&line);
        let _ = apop_timestamp(&String::from_utf8_lossy(&line));
    }
}
