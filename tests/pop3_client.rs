//! Client tests over an in-memory scripted stream: the exact bytes written
//! and the parsed results, including pipelined batches and STLS rules.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use popview::pop3::client::{MAX_BYTES_AHEAD, PIPELINE_WINDOW, State};
use popview::pop3::{AuthMethod, Client, Command, Credentials, ErrorKind, Reply, Trace};

/// A peer that answers only what was asked: each step waits until the
/// client has written `expect`, then makes `reply` readable.
struct Scripted {
    steps: VecDeque<(Vec<u8>, Vec<u8>)>,
    written: Vec<u8>,
    matched: usize,
    readable: VecDeque<u8>,
    /// Most bytes handed out per read (1 = byte by byte).
    chunk: usize,
    /// How many write calls the client made.
    writes: usize,
}

impl Scripted {
    fn new(greeting: &[u8], steps: &[(&[u8], &[u8])]) -> Self {
        let mut s = Scripted {
            steps: steps
                .iter()
                .map(|(e, r)| (e.to_vec(), r.to_vec()))
                .collect(),
            written: Vec::new(),
            matched: 0,
            readable: greeting.iter().copied().collect(),
            chunk: usize::MAX,
            writes: 0,
        };
        s.advance();
        s
    }

    fn chunked(mut self, n: usize) -> Self {
        self.chunk = n;
        self
    }

    fn advance(&mut self) {
        while let Some((expect, _)) = self.steps.front() {
            let have = &self.written[self.matched..];
            if have.len() >= expect.len() {
                assert_eq!(
                    String::from_utf8_lossy(&have[..expect.len()]),
                    String::from_utf8_lossy(expect),
                    "the client wrote something other than the script expects"
                );
                self.matched += expect.len();
                let (_, reply) = self.steps.pop_front().unwrap();
                self.readable.extend(reply);
            } else {
                assert!(
                    expect.starts_with(have),
                    "the client wrote {:?}, the script expects {:?}",
                    String::from_utf8_lossy(have),
                    String::from_utf8_lossy(expect)
                );
                break;
            }
        }
    }
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.readable.len());
        for b in buf.iter_mut().take(n) {
            *b = self.readable.pop_front().unwrap();
        }
        Ok(n) // 0 = EOF: the client waited for an answer nobody scripted
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes += 1;
        self.written.extend_from_slice(buf);
        self.advance();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const CAPA: &[u8] =
    b"+OK\r\nTOP\r\nUIDL\r\nUSER\r\nPIPELINING\r\nSASL PLAIN\r\nRESP-CODES\r\n.\r\n";

fn logged_in(steps: &[(&[u8], &[u8])]) -> Client<Scripted> {
    let mut all: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", CAPA),
        (b"USER u\r\n", b"+OK\r\n"),
        (b"PASS p\r\n", b"+OK logged in\r\n"),
        (b"CAPA\r\n", CAPA),
    ];
    all.extend_from_slice(steps);
    let mut c = Client::new(Scripted::new(b"+OK ready\r\n", &all), true, None).unwrap();
    c.refresh_capabilities().unwrap();
    let m = c
        .login(&Credentials::new("u", "p"), AuthMethod::User, false)
        .unwrap();
    assert_eq!(m, AuthMethod::User);
    c
}

#[test]
fn every_transaction_command_on_the_wire() {
    let mut c = logged_in(&[
        (b"STAT\r\n", b"+OK 2 320\r\n"),
        (b"LIST\r\n", b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"),
        (b"LIST 2\r\n", b"+OK 2 200\r\n"),
        (
            b"UIDL\r\n",
            b"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n",
        ),
        (b"UIDL 1\r\n", b"+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n"),
        (b"TOP 1 0\r\n", b"+OK\r\nSubject: a\r\n\r\n.\r\n"),
        (
            b"RETR 2\r\n",
            b"+OK 200 octets\r\nSubject: b\r\n\r\n..dot\r\nbody\r\n.\r\n",
        ),
        (b"DELE 1\r\n", b"+OK message 1 deleted\r\n"),
        (b"NOOP\r\n", b"+OK\r\n"),
        (b"RSET\r\n", b"+OK\r\n"),
        (b"QUIT\r\n", b"+OK bye\r\n"),
    ]);
    assert_eq!(c.state(), State::Transaction);
    assert_eq!(c.stat().unwrap(), (2, 320));
    assert_eq!(c.list().unwrap(), vec![(1, 120), (2, 200)]);
    assert_eq!(c.list_one(2).unwrap(), (2, 200));
    assert_eq!(
        c.uidl().unwrap(),
        vec![
            (1, Some("whqtswO00WBw418f9t5JxYwZ".into())),
            (2, Some("QhdPYR:00WBw1Ph7x7".into()))
        ]
    );
    assert_eq!(c.uidl_one(1).unwrap().0, 1);
    assert_eq!(c.top(1, 0).unwrap().data, b"Subject: a\r\n\r\n");
    assert_eq!(
        c.retr(2).unwrap().data,
        b"Subject: b\r\n\r\n.dot\r\nbody\r\n"
    );
    c.dele(1).unwrap();
    c.noop().unwrap();
    c.rset().unwrap();
    c.quit().unwrap();
    assert_eq!(c.state(), State::Closed);
    assert!(c.stat().is_err(), "nothing is sent after QUIT");
}

#[test]
fn commands_are_refused_in_the_wrong_state() {
    let mut c = Client::new(Scripted::new(b"+OK hi\r\n", &[]), true, None).unwrap();
    for cmd in [
        Command::Stat,
        Command::Dele(1),
        Command::Retr { msg: 1, size: None },
    ] {
        let e = c.submit(cmd).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Local);
    }
    let mut c = logged_in(&[]);
    let e = c.submit(Command::User("x".into())).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Local);
}

#[test]
fn pipelined_top_batch_answers_in_order_and_window_is_bounded() {
    let n = 2500u32;
    let mut steps: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for i in 1..=n {
        steps.push((
            format!("TOP {i} 0\r\n").into_bytes(),
            format!("+OK\r\nSubject: m{i}\r\n\r\n.\r\n").into_bytes(),
        ));
    }
    let refs: Vec<(&[u8], &[u8])> = steps
        .iter()
        .map(|(a, b)| (a.as_slice(), b.as_slice()))
        .collect();
    let mut c = logged_in(&refs);
    assert_eq!(c.window(), PIPELINE_WINDOW);
    // An unbounded window: the bytes-ahead bound is what limits.
    c.set_window(usize::MAX);
    // Drive the window by hand to watch how many commands are in flight.
    let mut next = 1u32;
    let mut got = Vec::new();
    let mut max_in_flight = 0;
    while got.len() < n as usize {
        while next <= n && c.can_submit() {
            c.submit(Command::Top {
                msg: next,
                lines: 0,
                size: Some(100),
            })
            .unwrap();
            next += 1;
        }
        max_in_flight = max_in_flight.max(c.in_flight());
        let answer = c.recv().unwrap();
        let Ok(Reply::Body(b)) = answer.result else {
            panic!("bad answer")
        };
        got.push(String::from_utf8(b.data).unwrap());
    }
    for (i, h) in got.iter().enumerate() {
        assert_eq!(h, &format!("Subject: m{}\r\n\r\n", i + 1));
    }
    assert!(max_in_flight > 1000, "commands were pipelined deeply");
    // The shortest command here, "TOP n 0\r\n", is 9 bytes: the count in
    // flight can't exceed the byte bound over that, plus the one that crossed it.
    assert!(
        max_in_flight <= MAX_BYTES_AHEAD / 9 + 1,
        "bytes ahead bounded: {max_in_flight} in flight"
    );
}

#[test]
fn pipeline_helper_keeps_order() {
    let mut steps: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for i in 1..=120u32 {
        steps.push((
            format!("RETR {i}\r\n").into_bytes(),
            format!("+OK\r\nX: {i}\r\n\r\nbody\r\n.\r\n").into_bytes(),
        ));
    }
    let refs: Vec<(&[u8], &[u8])> = steps
        .iter()
        .map(|(a, b)| (a.as_slice(), b.as_slice()))
        .collect();
    let mut c = logged_in(&refs);
    let mut seen = Vec::new();
    c.pipeline(
        (1..=120).map(|msg| Command::Retr { msg, size: None }),
        |a| {
            let Command::Retr { msg, .. } = a.command else {
                panic!()
            };
            let Ok(Reply::Body(b)) = a.result else {
                panic!()
            };
            assert_eq!(b.data, format!("X: {msg}\r\n\r\nbody\r\n").into_bytes());
            seen.push(msg);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen, (1..=120).collect::<Vec<_>>());
}

#[test]
fn window_is_one_without_pipelining_capability() {
    let capa_nopipe: &[u8] = b"+OK\r\nTOP\r\nUSER\r\n.\r\n";
    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", capa_nopipe),
        (b"USER u\r\n", b"+OK\r\n"),
        (b"PASS p\r\n", b"+OK\r\n"),
        (b"CAPA\r\n", capa_nopipe),
        (b"TOP 1 0\r\n", b"+OK\r\nA: 1\r\n\r\n.\r\n"),
        (b"TOP 2 0\r\n", b"+OK\r\nA: 2\r\n\r\n.\r\n"),
    ];
    let mut c = Client::new(Scripted::new(b"+OK\r\n", &steps), true, None).unwrap();
    c.refresh_capabilities().unwrap();
    c.login(&Credentials::new("u", "p"), AuthMethod::Auto, false)
        .unwrap();
    assert_eq!(c.window(), 1);
    c.submit(Command::Top {
        msg: 1,
        lines: 0,
        size: None,
    })
    .unwrap();
    assert!(!c.can_submit());
    assert!(
        c.submit(Command::Top {
            msg: 2,
            lines: 0,
            size: None
        })
        .is_err()
    );
    let mut n = 0;
    c.recv().unwrap();
    c.pipeline(
        [Command::Top {
            msg: 2,
            lines: 0,
            size: None,
        }],
        |_| {
            n += 1;
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn refusals_in_a_batch_are_per_command() {
    let mut c = logged_in(&[
        (b"DELE 1\r\n", b"+OK\r\n"),
        (b"DELE 9\r\n", b"-ERR no such message\r\n"),
        (b"DELE 2\r\n", b"+OK\r\n"),
    ]);
    let mut results = Vec::new();
    c.pipeline(
        [Command::Dele(1), Command::Dele(9), Command::Dele(2)],
        |a| {
            results.push(a.result.map_err(|e| e.kind).map(drop));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(results, vec![Ok(()), Err(ErrorKind::Refused), Ok(())]);
    assert_eq!(c.state(), State::Transaction);
}

#[test]
fn byte_by_byte_delivery_gives_the_same_answers() {
    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", CAPA),
        (b"USER u\r\n", b"+OK\r\n"),
        (b"PASS p\r\n", b"+OK\r\n"),
        (b"CAPA\r\n", CAPA),
        (b"RETR 1\r\n", b"+OK\r\nX: y\r\n\r\n..\r\n.\r\n"),
    ];
    let mut c = Client::new(Scripted::new(b"+OK\r\n", &steps).chunked(1), true, None).unwrap();
    c.refresh_capabilities().unwrap();
    c.login(&Credentials::new("u", "p"), AuthMethod::User, false)
        .unwrap();
    assert_eq!(c.retr(1).unwrap().data, b"X: y\r\n\r\n.\r\n");
}

#[test]
fn response_codes_become_error_kinds() {
    for (reply, kind) in [
        (&b"-ERR [IN-USE] locked\r\n"[..], ErrorKind::InUse),
        (b"-ERR [LOGIN-DELAY] wait\r\n", ErrorKind::LoginDelay),
        (b"-ERR [SYS/TEMP] later\r\n", ErrorKind::TempFailure),
        (b"-ERR [SYS/PERM] no\r\n", ErrorKind::PermFailure),
        (b"-ERR [AUTH] bad\r\n", ErrorKind::Auth),
        (b"-ERR wrong\r\n", ErrorKind::Auth),
    ] {
        let steps: Vec<(&[u8], &[u8])> = vec![
            (b"CAPA\r\n", CAPA),
            (b"USER u\r\n", b"+OK\r\n"),
            (b"PASS p\r\n", reply),
        ];
        let mut c = Client::new(Scripted::new(b"+OK\r\n", &steps), true, None).unwrap();
        c.refresh_capabilities().unwrap();
        let e = c
            .login(&Credentials::new("u", "p"), AuthMethod::User, false)
            .unwrap_err();
        assert_eq!(e.kind, kind, "{}", e.message);
        assert_eq!(c.state(), State::Authorization);
    }
}

#[test]
fn no_credentials_without_tls_unless_allowed() {
    let steps: Vec<(&[u8], &[u8])> = vec![(b"CAPA\r\n", CAPA)];
    let mut c = Client::new(Scripted::new(b"+OK\r\n", &steps), false, None).unwrap();
    c.refresh_capabilities().unwrap();
    let e = c
        .login(&Credentials::new("u", "p"), AuthMethod::Auto, false)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls);
    // Nothing but CAPA was written (the scripted peer would have panicked on
    // anything else, and it has no further steps).
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn cleartext_when_allowed_prefers_apop() {
    let greeting = b"+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n";
    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", b"+OK\r\nUSER\r\nTOP\r\n.\r\n"),
        (
            b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
            b"+OK maildrop has 1 message\r\n",
        ),
        (b"CAPA\r\n", b"-ERR not now\r\n"),
    ];
    let mut c = Client::new(Scripted::new(greeting, &steps), false, None).unwrap();
    c.refresh_capabilities().unwrap();
    let m = c
        .login(
            &Credentials::new("mrose", "tanstaaf"),
            AuthMethod::Auto,
            true,
        )
        .unwrap();
    assert_eq!(m, AuthMethod::Apop);
    assert_eq!(c.state(), State::Transaction);
    assert!(
        c.capabilities().top,
        "pre-login CAPA kept when the second CAPA fails"
    );
}

#[test]
fn sasl_plain_initial_response_on_the_line_or_after_challenge() {
    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", CAPA),
        (b"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", b"+OK\r\n"),
        (b"CAPA\r\n", CAPA),
    ];
    let mut c = Client::new(Scripted::new(b"+OK\r\n", &steps), true, None).unwrap();
    c.refresh_capabilities().unwrap();
    assert_eq!(
        c.login(
            &Credentials::new("tim", "tanstaaftanstaaf"),
            AuthMethod::Plain,
            false
        )
        .unwrap(),
        AuthMethod::Plain
    );
    // A long password pushes the AUTH line past 255 octets.
    let user = "u".repeat(100);
    let pass = "p".repeat(100);
    let ir = popview::pop3::auth::plain_initial_response(&Credentials::new(&user, &pass));
    let ir_line = format!("{ir}\r\n");
    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", CAPA),
        (b"AUTH PLAIN\r\n", b"+ \r\n"),
        (ir_line.as_bytes(), b"+OK\r\n"),
        (b"CAPA\r\n", CAPA),
    ];
    let mut c = Client::new(Scripted::new(b"+OK\r\n", &steps), true, None).unwrap();
    c.refresh_capabilities().unwrap();
    c.login(&Credentials::new(&user, &pass), AuthMethod::Plain, false)
        .unwrap();
    assert_eq!(c.state(), State::Transaction);
    c.submit(Command::Noop).unwrap();
    assert_eq!(c.in_flight(), 1);
}

#[test]
fn sasl_garbage_challenge_is_cancelled() {
    let user = "u".repeat(100);
    let pass = "p".repeat(100);
    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", CAPA),
        (b"AUTH PLAIN\r\n", b"+ !!notbase64\r\n"),
        (b"*\r\n", b"-ERR cancelled\r\n"),
    ];
    let mut c = Client::new(Scripted::new(b"+OK\r\n", &steps), true, None).unwrap();
    c.refresh_capabilities().unwrap();
    let e = c
        .login(&Credentials::new(&user, &pass), AuthMethod::Plain, false)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
}

#[test]
fn stls_injection_is_detected() {
    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", b"+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
        (b"STLS\r\n", b"+OK Begin TLS\r\n+OK\r\nPLAIN\r\n.\r\n"),
    ];
    let mut c = Client::new(Scripted::new(b"+OK\r\n", &steps), false, None).unwrap();
    c.refresh_capabilities().unwrap();
    let Err(e) = c.start_tls() else {
        panic!("injection accepted")
    };
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains("injection"), "{}", e.message);
}

#[test]
fn stls_refused_is_a_tls_error_and_capabilities_reset_after_upgrade() {
    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", b"+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
        (b"STLS\r\n", b"-ERR not today\r\n"),
    ];
    let mut c = Client::new(Scripted::new(b"+OK\r\n", &steps), false, None).unwrap();
    c.refresh_capabilities().unwrap();
    let Err(e) = c.start_tls() else { panic!() };
    assert_eq!(e.kind, ErrorKind::Tls);

    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", b"+OK\r\nSTLS\r\nUSER\r\nPIPELINING\r\n.\r\n"),
        (b"STLS\r\n", b"+OK go\r\n"),
    ];
    let c = Client::new(Scripted::new(b"+OK\r\n", &steps), false, None).unwrap();
    let mut c = c;
    c.refresh_capabilities().unwrap();
    let (_plain, parked) = c.start_tls().unwrap();
    // The "TLS" stream: a fresh script that answers CAPA without STLS.
    let tls = Scripted::new(b"", &[(b"CAPA\r\n", b"+OK\r\nUSER\r\n.\r\n")]);
    let c2 = parked.resume(tls).unwrap();
    assert!(c2.is_tls());
    assert!(!c2.capabilities().stls && !c2.capabilities().pipelining);
    let Err(e) = c2.start_tls() else { panic!() };
    assert_eq!(e.kind, ErrorKind::Local, "STLS is never sent twice");
}

#[test]
fn unsolicited_lines_are_not_taken_as_answers() {
    // A fake listing sent right after the greeting, before any command.
    let mut c = Client::new(
        Scripted::new(b"+OK hi\r\n+OK 1 messages\r\n1 999\r\n.\r\n", &[]),
        true,
        None,
    )
    .unwrap();
    let e = c.submit(Command::Capa).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn eof_mid_body_is_an_error_not_a_short_message() {
    let mut c = logged_in(&[(b"RETR 1\r\n", b"+OK\r\nSubject: x\r\n\r\npartial")]);
    let e = c.retr(1).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network);
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn trace_redacts_secrets() {
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let log = Shared::default();
    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", b"+OK\r\nUSER\r\n.\r\n"),
        (b"USER u\r\n", b"+OK\r\n"),
        (b"PASS hunter2\r\n", b"+OK \x1b[31mred\r\n"),
        (b"CAPA\r\n", b"+OK\r\nUSER\r\n.\r\n"),
    ];
    let mut c = Client::new(
        Scripted::new(b"+OK\r\n", &steps),
        true,
        Some(Trace::new(Box::new(log.clone()))),
    )
    .unwrap();
    c.refresh_capabilities().unwrap();
    c.login(&Credentials::new("u", "hunter2"), AuthMethod::User, false)
        .unwrap();
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("C: PASS <redacted>"), "{text}");
    assert!(!text.contains("hunter2"));
    assert!(
        !text.contains('\x1b'),
        "escape sequences escaped in the trace"
    );
    assert!(text.contains("\\x1b[31mred"));
}

#[test]
fn login_and_listing_share_one_write_when_pipelining() {
    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", CAPA),
        (b"USER u\r\n", b"+OK\r\n"),
        (b"PASS p\r\n", b"+OK\r\n"),
        (b"CAPA\r\n", CAPA),
        (b"LIST\r\n", b"+OK\r\n1 10\r\n.\r\n"),
        (b"UIDL\r\n", b"+OK\r\n1 a\r\n.\r\n"),
    ];
    let mut c = Client::new(Scripted::new(b"+OK\r\n", &steps), true, None).unwrap();
    c.refresh_capabilities().unwrap();
    let before = c.stream().writes;
    let (m, answers) = c
        .login_then(
            &Credentials::new("u", "p"),
            AuthMethod::User,
            false,
            vec![Command::Capa, Command::List(None), Command::Uidl(None)],
        )
        .unwrap();
    assert_eq!(m, AuthMethod::User);
    assert_eq!(
        c.stream().writes - before,
        1,
        "one write for the whole login"
    );
    assert_eq!(c.state(), State::Transaction);
    assert_eq!(answers.len(), 3);
    assert!(matches!(answers[1].result, Ok(Reply::ScanListing(ref v)) if v == &[(1, 10)]));
}

#[test]
fn a_failed_pipelined_login_drains_the_follow_ups() {
    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"CAPA\r\n", CAPA),
        (b"USER u\r\n", b"+OK\r\n"),
        (b"PASS p\r\n", b"-ERR [AUTH] no\r\n"),
        (b"LIST\r\n", b"-ERR not logged in\r\n"),
        (b"NOOP\r\n", b"-ERR not logged in\r\n"),
    ];
    let mut c = Client::new(Scripted::new(b"+OK\r\n", &steps), true, None).unwrap();
    c.refresh_capabilities().unwrap();
    let e = c
        .login_then(
            &Credentials::new("u", "p"),
            AuthMethod::User,
            false,
            vec![Command::List(None), Command::Noop],
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(c.state(), State::Authorization);
    assert_eq!(
        c.in_flight(),
        0,
        "every answer was read: the stream is in sync"
    );
}

/// Each command submitted with a tag gets its tag back with its answer (a
/// refusal too); untagged ones come back without; a command the connection
/// cut off before its answer keeps its tag in flight for `take_tags`.
#[test]
fn tags_come_back_with_their_answers() {
    let steps: Vec<(&[u8], &[u8])> = vec![
        (b"TOP 1 0\r\n", b"+OK\r\nSubject: a\r\n\r\n.\r\n"),
        (b"DELE 2\r\n", b"-ERR no\r\n"),
        (b"NOOP\r\n", b"+OK\r\n"),
        (b"RETR 3\r\n", b"+OK\r\nSubject: c\r\n\r\nhalf a bo"),
    ];
    let c = logged_in(&steps);
    let mut c: Client<Scripted, &str> = c.with_tags().unwrap();
    let top = Command::Top {
        msg: 1,
        lines: 0,
        size: None,
    };
    c.submit_tagged(top, "preview 1").unwrap();
    c.submit_tagged(Command::Dele(2), "mark 2").unwrap();
    c.submit(Command::Noop).unwrap();
    let retr = Command::Retr { msg: 3, size: None };
    c.submit_tagged(retr, "read 3").unwrap();
    assert_eq!(c.next_tag(), Some(&"preview 1"));
    let a = c.recv().unwrap();
    assert!(matches!(a.command, Command::Top { msg: 1, .. }));
    assert_eq!(a.tag, Some("preview 1"));
    let a = c.recv().unwrap();
    assert_eq!((a.tag, a.result.is_err()), (Some("mark 2"), true));
    assert_eq!(c.recv().unwrap().tag, None);
    assert_eq!(c.next_tag(), Some(&"read 3"));
    let e = c.recv().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network);
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.take_tags(), vec!["read 3"]);
}

#[test]
fn tags_change_only_with_nothing_in_flight() {
    let mut c = logged_in(&[]);
    c.submit(Command::Noop).unwrap();
    assert!(c.with_tags::<u8>().is_err());
}
