//! The demo POP3 server, driven over raw sockets (no popview client): RFC
//! semantics, the demo mailbox, pipelining, fault injection, TLS.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use popview::demo::server::{MAX_LINE, md5_hex};
use popview::demo::{
    Action, Ctx, Mailbox, Server, ServerOptions, SessionState, TlsMode, start_demo_server,
};
use popview::pop3::Uninterrupted;

const TIMEOUT: Duration = Duration::from_secs(20);

/// A minimal POP3 peer over any stream: reads lines and multi-line bodies.
struct Peer<S: Read + Write> {
    s: S,
    buf: Vec<u8>,
}

impl Peer<Uninterrupted<TcpStream>> {
    fn connect(server: &Server) -> Peer<Uninterrupted<TcpStream>> {
        let s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        Peer {
            s: Uninterrupted::new(s),
            buf: Vec::new(),
        }
    }
}

impl<S: Read + Write> Peer<S> {
    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
        self.s.flush().unwrap();
    }

    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.s.read(&mut chunk).unwrap();
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// One line including its CRLF.
    fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return String::from_utf8(line).unwrap();
            }
            assert!(self.fill() > 0, "EOF; buffered: {:?}", self.buf);
        }
    }

    fn cmd(&mut self, c: &str) -> String {
        self.send(format!("{c}\r\n").as_bytes());
        self.line()
    }

    /// The raw (still dot-stuffed) body of a multi-line answer, terminator
    /// excluded.
    fn body_raw(&mut self) -> Vec<u8> {
        let mut scanned = 0;
        loop {
            if self.buf.starts_with(b".\r\n") {
                self.buf.drain(..3);
                return Vec::new();
            }
            if let Some(i) = self.buf[scanned..]
                .windows(5)
                .position(|w| w == b"\r\n.\r\n")
            {
                let end = scanned + i;
                let body: Vec<u8> = self.buf.drain(..end + 5).collect();
                return body[..end + 2].to_vec();
            }
            scanned = self.buf.len().saturating_sub(4);
            assert!(self.fill() > 0, "EOF inside a multi-line answer");
        }
    }

    fn multi(&mut self, c: &str) -> (String, Vec<u8>) {
        let status = self.cmd(c);
        assert!(status.starts_with("+OK"), "{c}: {status}");
        let body = self.body_raw();
        (status, unstuff(&body))
    }

    fn lines(&mut self, c: &str) -> Vec<String> {
        let (_, body) = self.multi(c);
        String::from_utf8(body)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Exactly `n` bytes.
    fn exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill() > 0, "EOF after {:?}", self.buf);
        }
        self.buf.drain(..n).collect()
    }

    /// Everything until the server closes.
    fn until_eof(&mut self) -> Vec<u8> {
        while self.fill() > 0 {}
        std::mem::take(&mut self.buf)
    }

    fn login(&mut self) {
        self.login_with("demo");
    }

    fn login_with(&mut self, password: &str) {
        let greeting = self.line();
        assert!(greeting.starts_with("+OK"), "{greeting}");
        assert!(self.cmd("USER demo").starts_with("+OK"));
        let r = self.cmd(&format!("PASS {password}"));
        assert!(r.starts_with("+OK"), "{r}");
    }
}

fn unstuff(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for line in raw.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    out
}

fn start(mailbox: Mailbox, opts: ServerOptions) -> Server {
    Server::start(mailbox, opts).unwrap()
}

fn with_hook(hook: impl Fn(&Ctx<'_>) -> Action + Send + Sync + 'static) -> ServerOptions {
    ServerOptions {
        hook: Some(Arc::new(hook)),
        ..ServerOptions::default()
    }
}

fn timestamp(greeting: &str) -> String {
    let start = greeting.find('<').unwrap();
    let end = greeting.find('>').unwrap();
    greeting[start..=end].to_string()
}

fn plain_b64(authzid: &str, user: &str, pass: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{authzid}\0{user}\0{pass}"))
}

// ---------------------------------------------------------------- greeting, CAPA, auth

#[test]
fn greeting_and_capa_before_and_after_login() {
    let server = start(Mailbox::generated(3), ServerOptions::default());
    let mut p = Peer::connect(&server);
    let greeting = p.line();
    assert!(greeting.starts_with("+OK "), "{greeting}");
    let ts = timestamp(&greeting);
    let (pid, rest) = ts[1..ts.len() - 1].split_once('.').unwrap();
    assert_eq!(pid, std::process::id().to_string());
    let (clock, host) = rest.split_once('@').unwrap();
    assert!(clock.bytes().all(|b| b.is_ascii_digit()), "{ts}");
    assert_eq!(host, "popview.demo");

    let expected = [
        "TOP",
        "UIDL",
        "USER",
        "SASL PLAIN",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "IMPLEMENTATION popview-demo",
    ];
    assert_eq!(p.lines("CAPA"), expected);
    assert!(p.cmd("USER demo").starts_with("+OK"));
    assert!(p.cmd("PASS demo").starts_with("+OK"));
    assert_eq!(p.lines("CAPA"), expected);
    assert!(p.cmd("QUIT").starts_with("+OK"));

    // Optional capabilities and switched-off features.
    let server = start(
        Mailbox::generated(3),
        ServerOptions {
            login_delay: Some(900),
            expire: Some("0".into()),
            top: false,
            uidl: false,
            pipelining: false,
            user_command: false,
            ..ServerOptions::default()
        },
    );
    let mut p = Peer::connect(&server);
    p.line();
    assert_eq!(
        p.lines("CAPA"),
        [
            "SASL PLAIN",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "LOGIN-DELAY 900",
            "EXPIRE 0",
            "IMPLEMENTATION popview-demo"
        ]
    );
    assert_eq!(p.cmd("USER demo"), "-ERR unknown command\r\n");
    let r = p.cmd(&format!("AUTH PLAIN {}", plain_b64("", "demo", "demo")));
    assert!(r.starts_with("+OK"), "{r}");
    assert_eq!(p.cmd("TOP 1 0"), "-ERR unknown command\r\n");
    assert_eq!(p.cmd("UIDL"), "-ERR unknown command\r\n");
    assert!(p.cmd("RETR 1").starts_with("+OK"));

    // No CAPA at all.
    let server = start(
        Mailbox::generated(1),
        ServerOptions {
            capa: false,
            ..ServerOptions::default()
        },
    );
    let mut p = Peer::connect(&server);
    p.line();
    assert_eq!(p.cmd("CAPA"), "-ERR unknown command\r\n");
}

#[test]
fn user_pass() {
    let server = start(
        Mailbox::generated(2),
        ServerOptions {
            users: vec![
                ("demo".into(), "demo".into()),
                ("alice".into(), "pass with spaces".into()),
            ],
            ..ServerOptions::default()
        },
    );
    let mut p = Peer::connect(&server);
    p.line();
    assert_eq!(p.cmd("PASS demo"), "-ERR send USER first\r\n");
    assert!(p.cmd("STAT").starts_with("-ERR"));
    assert!(p.cmd("USER demo").starts_with("+OK"));
    assert!(p.cmd("PASS wrong").starts_with("-ERR [AUTH] "));
    // A failed PASS forgets the user.
    assert_eq!(p.cmd("PASS demo"), "-ERR send USER first\r\n");
    assert!(p.cmd("user alice").starts_with("+OK"));
    let r = p.cmd("pass pass with spaces");
    assert!(
        r.starts_with("+OK maildrop locked and ready, 2 messages"),
        "{r}"
    );
    assert!(p.cmd("USER demo").starts_with("-ERR"));
    assert!(p.cmd("QUIT").starts_with("+OK"));

    let log: Vec<String> = server.log().into_iter().map(|l| l.line).collect();
    assert_eq!(
        log,
        [
            "PASS demo",
            "STAT",
            "USER demo",
            "PASS wrong",
            "PASS demo",
            "user alice",
            "pass pass with spaces",
            "USER demo",
            "QUIT"
        ]
    );
    assert!(server.log().iter().all(|l| l.conn == 0));
}

#[test]
fn apop_right_and_wrong_digest() {
    let server = start(Mailbox::generated(2), ServerOptions::default());
    let mut p = Peer::connect(&server);
    let ts = timestamp(&p.line());
    let wrong = md5_hex(format!("{ts}nope").as_bytes());
    assert!(
        p.cmd(&format!("APOP demo {wrong}"))
            .starts_with("-ERR [AUTH] ")
    );
    let bad_user = md5_hex(format!("{ts}demo").as_bytes());
    assert!(
        p.cmd(&format!("APOP mallory {bad_user}"))
            .starts_with("-ERR [AUTH] ")
    );
    // The digest of another connection's timestamp is refused too.
    let mut q = Peer::connect(&server);
    let other_ts = timestamp(&q.line());
    assert_ne!(ts, other_ts);
    let replayed = md5_hex(format!("{other_ts}demo").as_bytes());
    assert!(
        p.cmd(&format!("APOP demo {replayed}"))
            .starts_with("-ERR [AUTH] ")
    );
    // Right digest, in upper case (hex is case-insensitive).
    let right = md5_hex(format!("{ts}demo").as_bytes()).to_uppercase();
    let r = p.cmd(&format!("APOP demo {right}"));
    assert!(r.starts_with("+OK"), "{r}");
    assert!(p.cmd("STAT").starts_with("+OK 2 "));

    // Without APOP the greeting has no timestamp and APOP is unknown.
    let server = start(
        Mailbox::generated(1),
        ServerOptions {
            apop: false,
            ..ServerOptions::default()
        },
    );
    let mut p = Peer::connect(&server);
    assert!(!p.line().contains('<'));
    assert_eq!(p.cmd("APOP demo 0123"), "-ERR unknown command\r\n");
}

#[test]
fn auth_plain_both_ways_and_cancel() {
    let server = start(Mailbox::generated(2), ServerOptions::default());
    let mut p = Peer::connect(&server);
    p.line();
    assert_eq!(p.lines("AUTH"), ["PLAIN"]);
    assert!(p.cmd("AUTH CRAM-MD5").starts_with("-ERR"));
    // Empty challenge, then cancel.
    assert_eq!(p.cmd("AUTH PLAIN"), "+ \r\n");
    assert_eq!(p.cmd("*"), "-ERR AUTH cancelled\r\n");
    // Empty challenge, wrong password, garbage, empty initial response.
    assert_eq!(p.cmd("AUTH PLAIN"), "+ \r\n");
    assert!(
        p.cmd(&plain_b64("", "demo", "bad"))
            .starts_with("-ERR [AUTH] ")
    );
    assert!(p.cmd("AUTH PLAIN !!notbase64!!").starts_with("-ERR"));
    assert!(p.cmd("AUTH PLAIN =").starts_with("-ERR [AUTH] "));
    // Another authorization identity is not allowed.
    assert!(
        p.cmd(&format!("AUTH PLAIN {}", plain_b64("root", "demo", "demo")))
            .starts_with("-ERR [AUTH] ")
    );
    // Empty challenge, then the right response.
    assert_eq!(p.cmd("AUTH PLAIN"), "+ \r\n");
    let r = p.cmd(&plain_b64("demo", "demo", "demo"));
    assert!(r.starts_with("+OK"), "{r}");
    assert!(p.cmd("QUIT").starts_with("+OK"));

    // With an initial response.
    let mut p = Peer::connect(&server);
    p.line();
    let r = p.cmd(&format!("AUTH PLAIN {}", plain_b64("", "demo", "demo")));
    assert!(r.starts_with("+OK"), "{r}");
    assert!(p.cmd("STAT").starts_with("+OK 2 "));

    // The SASL response line is logged verbatim like a command.
    let log: Vec<String> = server.log().into_iter().map(|l| l.line).collect();
    assert!(log.contains(&"*".to_string()));
    assert!(log.contains(&plain_b64("demo", "demo", "demo")));
}

// ---------------------------------------------------------------- the demo mailbox

#[test]
fn demo_mailbox_is_served_completely() {
    let server = start_demo_server().unwrap();
    let expected = Mailbox::demo();
    let files = Mailbox::demo_file_names();
    assert!(files.len() >= 34, "{}", files.len());
    assert_eq!(expected.len(), files.len() + 1);
    let served = server.messages();
    assert_eq!(served.len(), expected.len());
    assert!(served.last().unwrap().1.len() > 6 * 1024 * 1024);

    let mut p = Peer::connect(&server);
    p.login_with(popview::demo::DEMO_PASSWORD);
    let total: usize = served.iter().map(|(_, b)| b.len()).sum();
    assert_eq!(p.cmd("STAT"), format!("+OK {} {total}\r\n", served.len()));

    let list = p.lines("LIST");
    let uidl = p.lines("UIDL");
    assert_eq!(list.len(), served.len());
    for (i, (uid, bytes)) in served.iter().enumerate() {
        let n = i + 1;
        assert_eq!(list[i], format!("{n} {}", bytes.len()));
        assert_eq!(uidl[i], format!("{n} {uid}"));
        assert_eq!(
            p.cmd(&format!("LIST {n}")),
            format!("+OK {n} {}\r\n", bytes.len())
        );
        assert_eq!(p.cmd(&format!("UIDL {n}")), format!("+OK {n} {uid}\r\n"));
        // Sizes are CRLF sizes: no bare LF is served.
        assert!(!bytes.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
        assert_eq!(uid, &expected.messages()[i].0);
    }
    assert_eq!(
        server.mailbox_uids(),
        uidl.iter()
            .map(|l| l.split_once(' ').unwrap().1.to_string())
            .collect::<Vec<_>>()
    );
    assert!(
        p.cmd(&format!("LIST {}", served.len() + 1))
            .starts_with("-ERR")
    );
    assert!(p.cmd("LIST 0").starts_with("-ERR"));
    assert!(p.cmd("RETR x").starts_with("-ERR"));

    let parser = mail_parser::MessageParser::default();
    for (i, (_, bytes)) in served.iter().enumerate() {
        let n = i + 1;
        let (_, retr) = p.multi(&format!("RETR {n}"));
        assert_eq!(&retr, bytes, "RETR {n}");
        let msg = parser
            .parse(&retr)
            .unwrap_or_else(|| panic!("message {n} does not parse"));
        let subject = msg
            .subject()
            .unwrap_or_else(|| panic!("message {n} has no Subject"));
        assert!(!subject.is_empty());

        let sep = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let (_, top0) = p.multi(&format!("TOP {n} 0"));
        assert_eq!(&top0, &bytes[..sep], "TOP {n} 0");
        let (_, top2) = p.multi(&format!("TOP {n} 2"));
        let body_lines: Vec<&[u8]> = bytes[sep..]
            .split_inclusive(|&b| b == b'\n')
            .take(2)
            .collect();
        assert_eq!(
            top2,
            [&bytes[..sep], &body_lines.concat()].concat(),
            "TOP {n} 2"
        );
    }
    assert!(p.cmd("QUIT").starts_with("+OK"));
    // Reading deletes nothing.
    assert_eq!(server.messages().len(), expected.len());
}

#[test]
fn demo_assets_cover_the_required_cases() {
    let m = Mailbox::demo();
    let all: Vec<&[u8]> = m.messages().iter().map(|(_, b)| b.as_slice()).collect();
    let has = |needle: &[u8]| {
        all.iter()
            .any(|b| b.windows(needle.len()).any(|w| w == needle))
    };
    for needle in [
        &b"charset=ISO-8859-1"[..],
        b"Content-Transfer-Encoding: quoted-printable",
        b"charset=KOI8-R",
        b"charset=ISO-2022-JP",
        b"=?ISO-2022-JP?B?",
        b"=?UTF-8?B?",
        b"=?ISO-8859-1?Q?",
        b"Content-Type: text/html",
        b"multipart/alternative",
        b"application/pdf",
        b"image/png",
        b"text/calendar",
        b"text/csv",
        b"In-Reply-To: <plot14-",
        b"\x1b[31;1;5m",       // CSI colour
        b"\x1b[2A",            // cursor movement
        b"\x1b]0;",            // OSC 0 title
        b"\x1b]52;c;",         // OSC 52 clipboard
        b"\x1b]8;;https://",   // OSC 8 link
        "\u{202E}".as_bytes(), // bidi override
        "\u{200B}".as_bytes(), // zero-width space
        b"From: \"ceo@bank.example\" <attacker@evil.example>",
    ] {
        assert!(
            has(needle),
            "no demo message contains {:?}",
            String::from_utf8_lossy(needle)
        );
    }
    // The welcome message explains the keys.
    let parser = mail_parser::MessageParser::default();
    let welcome = all
        .iter()
        .filter_map(|b| parser.parse(*b))
        .find(|msg| msg.subject() == Some("Welcome to the popview demo"))
        .expect("a welcome message");
    let text = welcome.body_text(0).unwrap();
    for key in [
        "j / k", "Enter", "  d ", "  u ", "  U ", "  $ ", "  q ", "  x ", "  / ", "  o ", "  v ",
        "  h ", "  ? ",
    ] {
        assert!(text.contains(key), "welcome lacks {key:?}");
    }
    // The long thread.
    let thread = all
        .iter()
        .filter_map(|b| parser.parse(*b))
        .filter(|msg| {
            msg.subject()
                .is_some_and(|s| s.contains("Plot 14: who's in"))
        })
        .count();
    assert!(thread >= 8, "{thread}");
    // Decoded texts of the legacy charsets (mail-parser's default features).
    let subjects: Vec<String> = all
        .iter()
        .filter_map(|b| parser.parse(*b))
        .filter_map(|msg| msg.subject().map(str::to_owned))
        .collect();
    assert!(
        subjects
            .iter()
            .any(|s| s == "Einladung: Grünkohlessen bei Müllers am Samstag")
    );
    assert!(subjects.iter().any(|s| s == "Фотографии с дачи"));
    assert!(subjects.iter().any(|s| s == "周末去爬山吗？"));
    assert!(
        subjects
            .iter()
            .any(|s| s == "Vacances à Étretat : photos et récit")
    );
}

#[test]
fn dot_stuffing_on_retr_and_top() {
    let msg = b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmiddle . dot\r\n.".to_vec();
    let server = start(Mailbox::from_messages(vec![msg]), ServerOptions::default());
    let mut p = Peer::connect(&server);
    p.login();
    p.send(b"RETR 1\r\n");
    assert!(p.line().starts_with("+OK"));
    let raw = p.body_raw();
    assert_eq!(
        raw,
        b"Subject: dots\r\n\r\n..\r\n...\r\n..leading\r\nmiddle . dot\r\n..\r\n"
    );
    p.send(b"TOP 1 1\r\n");
    assert!(p.line().starts_with("+OK"));
    assert_eq!(p.body_raw(), b"Subject: dots\r\n\r\n..\r\n");

    // The demo's dotfiles message (stored with bare LF line ends).
    let server = start_demo_server().unwrap();
    let n = server
        .messages()
        .iter()
        .position(|(_, b)| b.windows(6).any(|w| w == b"\r\n.\r\nT"))
        .unwrap()
        + 1;
    let mut p = Peer::connect(&server);
    p.login_with(popview::demo::DEMO_PASSWORD);
    p.send(format!("RETR {n}\r\n").as_bytes());
    assert!(p.line().starts_with("+OK"));
    let raw = p.body_raw();
    let text = String::from_utf8(raw).unwrap();
    assert!(text.contains("\r\n...two-dots-at-the-start-of-this-line\r\n..\r\nThe line above"));
    assert!(text.contains("two dots.\r\n...\r\nAnd this line ends with a dot.\r\n"));
    assert!(text.contains("\r\n..bashrc\r\n..vimrc\r\n..config/"));
}

// ---------------------------------------------------------------- deletion semantics

#[test]
fn dele_then_quit_removes_exactly_that_message() {
    let server = start(Mailbox::generated(5), ServerOptions::default());
    let before = server.mailbox_uids();
    let mut p = Peer::connect(&server);
    p.login();
    assert_eq!(p.cmd("DELE 2"), "+OK message 2 marked for deletion\r\n");
    assert_eq!(p.cmd("DELE 2"), "-ERR message 2 already deleted\r\n");
    assert_eq!(p.cmd("RETR 2"), "-ERR message 2 already deleted\r\n");
    assert_eq!(p.cmd("TOP 2 0"), "-ERR message 2 already deleted\r\n");
    assert_eq!(p.cmd("LIST 2"), "-ERR message 2 already deleted\r\n");
    assert_eq!(p.cmd("UIDL 2"), "-ERR message 2 already deleted\r\n");
    assert!(p.cmd("STAT").starts_with("+OK 4 "));
    let list = p.lines("LIST");
    assert_eq!(
        list.iter()
            .map(|l| l.split(' ').next().unwrap())
            .collect::<Vec<_>>(),
        ["1", "3", "4", "5"]
    );
    let uidl = p.lines("UIDL");
    assert_eq!(uidl[1], format!("3 {}", before[2]));
    // Still there until QUIT.
    assert_eq!(server.mailbox_uids(), before);
    assert_eq!(
        p.cmd("QUIT"),
        "+OK popview-demo signing off (4 messages left)\r\n"
    );
    assert!(p.until_eof().is_empty());

    let mut expected = before.clone();
    expected.remove(1);
    assert_eq!(server.mailbox_uids(), expected);
    // A new session sees the messages renumbered.
    let mut p = Peer::connect(&server);
    p.login();
    assert_eq!(
        p.lines("UIDL"),
        expected
            .iter()
            .enumerate()
            .map(|(i, u)| format!("{} {u}", i + 1))
            .collect::<Vec<_>>()
    );
}

#[test]
fn dele_then_dropped_connection_removes_nothing() {
    let server = start(Mailbox::generated(3), ServerOptions::default());
    let before = server.mailbox_uids();
    let mut p = Peer::connect(&server);
    p.login();
    assert!(p.cmd("DELE 1").starts_with("+OK"));
    assert!(p.cmd("DELE 3").starts_with("+OK"));
    assert!(server.is_locked());
    drop(p);
    assert!(server.wait_unlocked(TIMEOUT));
    assert_eq!(server.mailbox_uids(), before);
    let mut p = Peer::connect(&server);
    p.login();
    assert!(p.cmd("STAT").starts_with("+OK 3 "));
}

#[test]
fn dele_rset_quit_removes_nothing() {
    let server = start(Mailbox::generated(3), ServerOptions::default());
    let before = server.mailbox_uids();
    let mut p = Peer::connect(&server);
    p.login();
    assert!(p.cmd("DELE 1").starts_with("+OK"));
    assert!(p.cmd("DELE 2").starts_with("+OK"));
    let size: usize = server.messages().iter().map(|(_, b)| b.len()).sum();
    assert_eq!(
        p.cmd("RSET"),
        format!("+OK maildrop has 3 messages ({size} octets)\r\n")
    );
    assert!(p.cmd("RETR 1").starts_with("+OK"));
    p.body_raw();
    assert!(p.cmd("QUIT").starts_with("+OK"));
    assert!(server.wait_unlocked(TIMEOUT));
    assert_eq!(server.mailbox_uids(), before);
}

#[test]
fn second_login_gets_in_use_until_the_first_session_ends() {
    let server = start(Mailbox::generated(2), ServerOptions::default());
    let mut a = Peer::connect(&server);
    a.login();
    let mut b = Peer::connect(&server);
    b.line();
    assert!(b.cmd("USER demo").starts_with("+OK"));
    assert!(b.cmd("PASS demo").starts_with("-ERR [IN-USE] "));
    // Wrong credentials are still [AUTH], not [IN-USE].
    assert!(b.cmd("USER demo").starts_with("+OK"));
    assert!(b.cmd("PASS bad").starts_with("-ERR [AUTH] "));
    assert!(b.cmd("STAT").starts_with("-ERR"));
    assert!(a.cmd("QUIT").starts_with("+OK"));
    assert!(server.wait_unlocked(TIMEOUT));
    let r = b.cmd(&format!("AUTH PLAIN {}", plain_b64("", "demo", "demo")));
    assert!(r.starts_with("+OK"), "{r}");
    assert_eq!(server.connections(), 2);
}

#[test]
fn new_mail_appears_in_the_next_session() {
    let server = start(Mailbox::generated(2), ServerOptions::default());
    let mut p = Peer::connect(&server);
    p.login();
    server.add_message("new-1", "Subject: new\n\nhello\n");
    assert!(p.cmd("STAT").starts_with("+OK 2 "));
    assert!(p.cmd("QUIT").starts_with("+OK"));
    assert_eq!(server.mailbox_uids().last().unwrap(), "new-1");
    let mut p = Peer::connect(&server);
    p.login();
    assert!(p.cmd("STAT").starts_with("+OK 3 "));
    assert_eq!(p.cmd("UIDL 3"), "+OK 3 new-1\r\n");
    let (_, body) = p.multi("RETR 3");
    assert_eq!(body, b"Subject: new\r\n\r\nhello\r\n");
}

#[test]
fn each_demo_server_starts_fresh() {
    let a = start_demo_server().unwrap();
    let b = start_demo_server().unwrap();
    let uids = a.mailbox_uids();
    let mut p = Peer::connect(&a);
    p.login_with(popview::demo::DEMO_PASSWORD);
    assert!(p.cmd("DELE 1").starts_with("+OK"));
    assert!(p.cmd("QUIT").starts_with("+OK"));
    assert_eq!(a.mailbox_uids().len(), uids.len() - 1);
    assert_eq!(b.mailbox_uids(), uids);
    drop(a);
    let c = start_demo_server().unwrap();
    assert_eq!(c.mailbox_uids(), uids);
    // The demo simulates a network round trip.
    let mut p = Peer::connect(&c);
    p.login_with(popview::demo::DEMO_PASSWORD);
    let started = Instant::now();
    assert_eq!(p.cmd("NOOP"), "+OK\r\n");
    assert!(started.elapsed() >= popview::demo::DEMO_LATENCY);
}

// ---------------------------------------------------------------- pipelining

#[test]
fn two_thousand_pipelined_tops_are_answered_in_order() {
    let n = 2000;
    let server = start(Mailbox::generated(n), ServerOptions::default());
    let mut p = Peer::connect(&server);
    p.line();
    let mut burst = String::from("USER demo\r\nPASS demo\r\n");
    for i in 1..=n {
        burst.push_str(&format!("TOP {i} 0\r\n"));
    }
    burst.push_str("QUIT\r\n");
    let started = Instant::now();
    p.send(burst.as_bytes());
    assert!(p.line().starts_with("+OK"));
    assert!(p.line().starts_with("+OK"));
    for i in 1..=n {
        let status = p.line();
        assert!(status.starts_with("+OK"), "TOP {i}: {status}");
        let headers = String::from_utf8(p.body_raw()).unwrap();
        assert!(
            headers.contains(&format!("Message-ID: <gen-{i}@generated.popview.demo>\r\n")),
            "answer {i} out of order: {headers}"
        );
        assert!(headers.ends_with("\r\n\r\n"));
    }
    assert!(p.line().starts_with("+OK popview-demo signing off"));
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(server.log().len(), n + 3);
}

// ---------------------------------------------------------------- fault injection

#[test]
fn hook_sees_every_line_with_its_context() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let server = start(
        Mailbox::generated(1),
        with_hook(move |ctx| {
            record.lock().unwrap().push((
                ctx.conn,
                ctx.index_in_conn,
                ctx.global_index,
                ctx.line.to_string(),
                ctx.state,
                ctx.tls,
            ));
            Action::Normal
        }),
    );
    let mut a = Peer::connect(&server);
    a.login();
    assert!(a.cmd("QUIT").starts_with("+OK"));
    let mut b = Peer::connect(&server);
    b.line();
    assert!(b.cmd("NOOP").starts_with("-ERR"));
    use SessionState::{Authorization as A, Transaction as T};
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (0, 0, 0, "USER demo".to_string(), A, false),
            (0, 1, 1, "PASS demo".to_string(), A, false),
            (0, 2, 2, "QUIT".to_string(), T, false),
            (1, 0, 3, "NOOP".to_string(), A, false),
        ]
    );
}

#[test]
fn hook_reply_and_reply_then_normal_send_exact_bytes() {
    let server = start(
        Mailbox::generated(3),
        with_hook(|ctx| match ctx.line {
            // Two answers in one write.
            "NOOP" => Action::Reply(b"+OK one\r\n+OK two\r\n".to_vec()),
            // No line end at all; the next answer follows directly.
            "RSET" => Action::Reply(b"+OK no line end".to_vec()),
            // An unsolicited line before the real answer.
            "STAT" => Action::ReplyThenNormal(b"+OK 99 99\r\n".to_vec()),
            // -ERR to DELE: nothing is marked.
            "DELE 1" => Action::Reply(b"-ERR [SYS/TEMP] try later\r\n".to_vec()),
            // -ERR to QUIT: nothing is deleted, the connection stays.
            "QUIT" if ctx.index_in_conn == 8 => Action::Reply(b"-ERR not now\r\n".to_vec()),
            _ => Action::Normal,
        }),
    );
    let mut p = Peer::connect(&server);
    p.login();
    p.send(b"NOOP\r\n");
    assert_eq!(p.exact(18), b"+OK one\r\n+OK two\r\n");
    p.send(b"RSET\r\nLIST 1\r\n");
    let size = server.messages()[0].1.len();
    let expected = format!("+OK no line end+OK 1 {size}\r\n");
    assert_eq!(p.exact(expected.len()), expected.as_bytes());
    p.send(b"STAT\r\n");
    let total: usize = server.messages().iter().map(|(_, b)| b.len()).sum();
    let expected = format!("+OK 99 99\r\n+OK 3 {total}\r\n");
    assert_eq!(p.exact(expected.len()), expected.as_bytes());
    assert_eq!(p.cmd("DELE 1"), "-ERR [SYS/TEMP] try later\r\n");
    assert!(p.cmd("DELE 2").starts_with("+OK"));
    assert_eq!(p.cmd("QUIT"), "-ERR not now\r\n");
    assert!(server.is_locked());
    assert_eq!(server.mailbox_uids().len(), 3);
    assert!(
        p.cmd("RETR 1").starts_with("+OK"),
        "DELE 1 was not executed"
    );
    p.body_raw();
    assert!(p.cmd("QUIT").starts_with("+OK"));
    assert_eq!(server.mailbox_uids().len(), 2);
}

#[test]
fn hook_split_writes_in_small_flushed_chunks() {
    let reply = b"+OK split into chunks of three bytes\r\n".to_vec();
    let r = reply.clone();
    let server = start(
        Mailbox::generated(1),
        with_hook(move |ctx| {
            if ctx.line == "NOOP" {
                Action::Split(r.clone(), 3)
            } else {
                Action::Normal
            }
        }),
    );
    let mut p = Peer::connect(&server);
    p.login();
    p.send(b"NOOP\r\n");
    let mut got = Vec::new();
    let mut reads = 0;
    while got.len() < reply.len() {
        let mut chunk = [0u8; 1024];
        let n = p.s.read(&mut chunk).unwrap();
        assert!(n > 0 && n <= reply.len() - got.len());
        got.extend_from_slice(&chunk[..n]);
        reads += 1;
    }
    assert_eq!(got, reply);
    assert!(reads >= 2, "the reply arrived in {reads} read(s)");
    assert_eq!(p.cmd("NOOP2"), "-ERR unknown command\r\n");
}

#[test]
fn hook_drop_closes_after_flushing_earlier_answers_and_deletes_nothing() {
    let server = start(
        Mailbox::generated(2),
        with_hook(|ctx| {
            if ctx.line == "QUIT" {
                Action::Drop
            } else {
                Action::Normal
            }
        }),
    );
    let before = server.mailbox_uids();
    let mut p = Peer::connect(&server);
    p.login();
    p.send(b"DELE 1\r\nNOOP\r\nQUIT\r\nNOOP\r\n");
    assert_eq!(
        p.until_eof(),
        b"+OK message 1 marked for deletion\r\n+OK\r\n".to_vec()
    );
    assert!(server.wait_unlocked(TIMEOUT));
    assert_eq!(server.mailbox_uids(), before);
    // Lines after the dropped one were never processed.
    assert_eq!(server.log().last().unwrap().line, "QUIT");
}

#[test]
fn hook_stall_delays_the_answer() {
    let server = start(
        Mailbox::generated(1),
        with_hook(|ctx| {
            if ctx.line == "NOOP" {
                Action::Stall(Duration::from_millis(400))
            } else {
                Action::Normal
            }
        }),
    );
    let mut p = Peer::connect(&server);
    p.login();
    p.s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let started = Instant::now();
    p.send(b"NOOP\r\n");
    let mut b = [0u8; 16];
    let err = p.s.read(&mut b).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    p.s.set_read_timeout(Some(TIMEOUT)).unwrap();
    assert_eq!(p.line(), "+OK\r\n");
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[test]
fn hook_reset_aborts_with_rst() {
    let server = start(
        Mailbox::generated(2),
        with_hook(|ctx| {
            if ctx.line == "NOOP" {
                Action::Reset
            } else {
                Action::Normal
            }
        }),
    );
    let before = server.mailbox_uids();
    let mut p = Peer::connect(&server);
    p.login();
    assert!(p.cmd("DELE 1").starts_with("+OK"));
    p.send(b"NOOP\r\n");
    let mut b = [0u8; 16];
    let err = p.s.read(&mut b).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    assert!(server.wait_unlocked(TIMEOUT));
    assert_eq!(server.mailbox_uids(), before);
}

#[test]
fn greeting_can_be_replaced_exactly() {
    let greeting = b"+OK \x1b[31;1;4mPOP3\x1b[0m ready <77.88@evil.example>\r\n".to_vec();
    let server = start(
        Mailbox::generated(1),
        ServerOptions {
            greeting: Some(greeting.clone()),
            ..ServerOptions::default()
        },
    );
    let mut p = Peer::connect(&server);
    assert_eq!(p.exact(greeting.len()), greeting);
    // APOP uses the timestamp of the greeting actually sent.
    let digest = md5_hex(b"<77.88@evil.example>demo");
    assert!(p.cmd(&format!("APOP demo {digest}")).starts_with("+OK"));

    // A greeting without a line end, and without timestamp: APOP is refused.
    let server = start(
        Mailbox::generated(1),
        ServerOptions {
            greeting: Some(b"+OK partial".to_vec()),
            ..ServerOptions::default()
        },
    );
    let mut p = Peer::connect(&server);
    p.send(b"APOP demo 00\r\n");
    let got = p.exact(11);
    assert_eq!(got, b"+OK partial");
    assert!(p.line().starts_with("-ERR APOP not available"));
}

#[test]
fn top_can_stream_the_whole_body() {
    let msg = b"Subject: s\r\n\r\nline 1\r\nline 2\r\nline 3\r\n".to_vec();
    let server = start(
        Mailbox::from_messages(vec![msg.clone()]),
        ServerOptions {
            top_streams_body: true,
            ..ServerOptions::default()
        },
    );
    let mut p = Peer::connect(&server);
    p.login();
    assert_eq!(p.multi("TOP 1 0").1, msg);
    assert!(p.cmd("TOP 1 x").starts_with("-ERR"));
    assert!(p.cmd("TOP 1").starts_with("-ERR"));
}

// ---------------------------------------------------------------- hostile input

#[test]
fn overlong_lines_are_refused_and_the_connection_closed() {
    let server = start(Mailbox::generated(1), ServerOptions::default());
    // Exactly at the limit: fine.
    let mut p = Peer::connect(&server);
    p.line();
    let mut ok = vec![b'A'; MAX_LINE];
    ok.extend_from_slice(b"\r\n");
    p.send(&ok);
    assert_eq!(p.line(), "-ERR unknown command\r\n");
    // One byte more, with a line end.
    let mut long = vec![b'A'; MAX_LINE + 1];
    long.extend_from_slice(b"\r\n");
    p.send(&long);
    assert_eq!(p.until_eof(), b"-ERR line too long\r\n");
    // An endless line without any line end.
    let mut p = Peer::connect(&server);
    p.line();
    p.send(&vec![b'B'; 100 * 1024]);
    assert_eq!(p.until_eof(), b"-ERR line too long\r\n");
}

#[test]
fn arbitrary_bytes_never_break_the_server() {
    let server = start(Mailbox::generated(3), ServerOptions::default());
    let mut seed: u64 = 0x1234_5678_9abc_def1;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..20 {
        let mut p = Peer::connect(&server);
        if round % 2 == 1 {
            p.login();
        } else {
            p.line();
        }
        let mut junk = Vec::new();
        for _ in 0..200 {
            let len = (next() % 40) as usize;
            for _ in 0..len {
                let b = (next() & 0xff) as u8;
                junk.push(if b == b'\n' { b'x' } else { b });
            }
            // Sprinkle real keywords with broken arguments in between.
            let kw = [
                "RETR ",
                "TOP ",
                "LIST ",
                "DELE ",
                "AUTH PLAIN ",
                "APOP ",
                "UIDL ",
                "USER ",
            ];
            if next() % 3 == 0 {
                junk.extend_from_slice(kw[(next() % kw.len() as u64) as usize].as_bytes());
            }
            junk.extend_from_slice(b"\r\n");
        }
        // Leave a possible SASL challenge with "*", then end cleanly.
        junk.extend_from_slice(b"*\r\nQUIT\r\n");
        p.send(&junk);
        let out = p.until_eof();
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains("signing off"),
            "round {round}: the session did not survive"
        );
        assert!(server.transcript(server.connections() - 1).ends_with(&junk));
    }
    // Non-UTF-8 is logged lossily and answered.
    let mut p = Peer::connect(&server);
    p.line();
    assert_eq!(p.cmd("\u{fffd}\u{1b}[2J"), "-ERR unknown command\r\n");
    p.send(b"\xff\xfe\x00RETR 1\r\n");
    assert_eq!(p.line(), "-ERR unknown command\r\n");
    let conn = server.connections() - 1;
    assert!(server.transcript(conn).ends_with(b"\xff\xfe\x00RETR 1\r\n"));
    assert_eq!(server.mailbox_uids().len(), 3);
}

// ---------------------------------------------------------------- shutdown

#[test]
fn shutdown_closes_stalled_and_idle_connections_promptly() {
    let mut server = start(
        Mailbox::generated(1),
        with_hook(|ctx| {
            if ctx.line == "NOOP" {
                Action::Stall(Duration::from_secs(3600))
            } else {
                Action::Normal
            }
        }),
    );
    let mut stalled = Peer::connect(&server);
    stalled.login();
    stalled.send(b"NOOP\r\n");
    let mut idle = Peer::connect(&server);
    idle.line();
    // Let the server reach the stall.
    let deadline = Instant::now() + TIMEOUT;
    while !server.log().iter().any(|l| l.line == "NOOP") {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    server.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(stalled.until_eof().is_empty());
    assert!(idle.until_eof().is_empty());
    assert!(TcpStream::connect(server.addr()).is_err());
    // Idempotent; Drop runs it again.
    server.shutdown();
}

// ---------------------------------------------------------------- TLS

struct Cert {
    _dir: tempfile::TempDir,
    identity: native_tls::Identity,
}

fn make_cert() -> Cert {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let cert = dir.path().join("cert.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl CLI is needed for the TLS tests");
    assert!(status.success());
    let identity = native_tls::Identity::from_pkcs8(
        &std::fs::read(&cert).unwrap(),
        &std::fs::read(&key).unwrap(),
    )
    .unwrap();
    Cert {
        _dir: dir,
        identity,
    }
}

fn tls_client(tcp: TcpStream) -> native_tls::TlsStream<Uninterrupted<TcpStream>> {
    // Only in this server test: the certificate is a throwaway self-signed one.
    let connector = native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    connector
        .connect("localhost", Uninterrupted::new(tcp))
        .unwrap()
}

#[test]
fn stls_upgrades_and_capa_no_longer_lists_stls() {
    let cert = make_cert();
    let server = start(
        Mailbox::generated(2),
        ServerOptions {
            tls: Some(TlsMode::StartTls(cert.identity.clone())),
            ..ServerOptions::default()
        },
    );
    let mut p = Peer::connect(&server);
    p.line();
    assert!(p.lines("CAPA").contains(&"STLS".to_string()));
    // Plaintext pipelined behind STLS is discarded by the server, never run
    // as a command over TLS.
    p.send(b"STLS\r\nUSER evil\r\n");
    assert_eq!(p.line(), "+OK Begin TLS negotiation\r\n");
    assert!(p.buf.is_empty());
    let mut t = Peer {
        s: tls_client(p.s.into_inner()),
        buf: Vec::new(),
    };
    let capa = t.lines("CAPA");
    assert!(!capa.contains(&"STLS".to_string()), "{capa:?}");
    assert!(capa.contains(&"SASL PLAIN".to_string()));
    assert_eq!(t.cmd("PASS demo"), "-ERR send USER first\r\n");
    assert_eq!(t.cmd("STLS"), "-ERR TLS is already active\r\n");
    assert!(t.cmd("USER demo").starts_with("+OK"));
    assert!(t.cmd("PASS demo").starts_with("+OK"));
    assert!(!t.lines("CAPA").contains(&"STLS".to_string()));
    let (_, body) = t.multi("RETR 1");
    assert_eq!(body, server.messages()[0].1);
    assert!(t.cmd("QUIT").starts_with("+OK"));

    let log: Vec<String> = server.log().into_iter().map(|l| l.line).collect();
    assert!(!log.contains(&"USER evil".to_string()), "{log:?}");
    // The transcript shows what arrived in plaintext, then the decrypted TLS part.
    let transcript = server.transcript(0);
    assert!(transcript.starts_with(b"CAPA\r\nSTLS\r\nUSER evil\r\nCAPA\r\nPASS demo\r\n"));

    // STLS after login is refused; CAPA after login does not offer it.
    let mut p = Peer::connect(&server);
    p.login();
    assert!(!p.lines("CAPA").contains(&"STLS".to_string()));
    assert!(p.cmd("STLS").starts_with("-ERR"));
}

#[test]
fn implicit_tls() {
    let cert = make_cert();
    let server = start(
        Mailbox::generated(2),
        ServerOptions {
            tls: Some(TlsMode::Implicit(cert.identity.clone())),
            ..ServerOptions::default()
        },
    );
    let tcp = TcpStream::connect(server.addr()).unwrap();
    tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut t = Peer {
        s: tls_client(tcp),
        buf: Vec::new(),
    };
    t.login();
    assert!(!t.lines("CAPA").contains(&"STLS".to_string()));
    assert!(t.cmd("STAT").starts_with("+OK 2 "));
    assert!(t.cmd("QUIT").starts_with("+OK"));

    // A plaintext client gets no greeting; the server stays usable.
    let mut plain = TcpStream::connect(server.addr()).unwrap();
    plain.write_all(b"CAPA\r\n").unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut out = Vec::new();
    // The failed handshake closes the connection (EOF or reset, not a timeout).
    if let Err(e) = plain.read_to_end(&mut out) {
        assert!(
            !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{e}"
        );
    }
    assert!(!out.starts_with(b"+OK"));
    let mut t = Peer {
        s: tls_client(TcpStream::connect(server.addr()).unwrap()),
        buf: Vec::new(),
    };
    t.login();
}

#[test]
fn hook_reply_then_stall_sends_then_goes_silent() {
    let server = start(
        Mailbox::generated(1),
        with_hook(|ctx| match ctx.line {
            "STLS" => {
                Action::ReplyThenStall(b"+OK Begin TLS\r\n".to_vec(), Duration::from_millis(600))
            }
            _ => Action::Normal,
        }),
    );
    let mut p = Peer::connect(&server);
    p.line();
    let started = Instant::now();
    assert_eq!(p.cmd("STLS"), "+OK Begin TLS\r\n");
    // A ClientHello-ish write gets no answer at all, then the server closes.
    p.send(b"\x16\x03\x01\x00\x05hello\r\nNOOP\r\n");
    p.s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut b = [0u8; 16];
    let err = p.s.read(&mut b).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    p.s.set_read_timeout(Some(TIMEOUT)).unwrap();
    assert!(p.until_eof().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(server.log().last().unwrap().line, "STLS");
}
