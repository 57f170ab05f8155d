//! The RETR answer path, kept (`execute`) and streamed
//! (`Client::retrieve_into`), over a peer that hands its answer out in
//! reads of every size from 1 byte up: a `..` line, a lone `.` inside a
//! line, a CRLF and the terminator all land on a read edge somewhere, and
//! the message must come out byte for byte the same. Plus: a refusal while
//! streaming leaves the session usable, a sink that fails ends it, and the
//! LIST-size bound holds while streaming.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use popview::pop3::{AuthMethod, Client, Command, Credentials, ErrorKind, Reply, State};

/// How the peer answers one command line.
type Answers = Box<dyn Fn(&str) -> Vec<u8>>;

/// Answers each command line with `answer(line)`; reads give at most
/// `step` bytes.
struct Peer {
    answer: Answers,
    step: usize,
    pending: Vec<u8>,
    readable: VecDeque<u8>,
}

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.step).min(self.readable.len());
        for b in buf.iter_mut().take(n) {
            *b = self.readable.pop_front().unwrap();
        }
        Ok(n)
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(i) = self.pending.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.pending.drain(..i + 2).collect();
            let line = String::from_utf8_lossy(&line[..i]).into_owned();
            self.readable.extend((self.answer)(&line));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The message as the server holds it: dot lines, a lone dot inside a
/// line, a bare LF line end, an empty line, a CR inside a line.
const MESSAGE: &[u8] = b"Subject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\nmid . dot\r\n\
bare lf\nlone\rcr\r\n\r\n...three\r\nlast line\r\n";

/// `MESSAGE` dot-stuffed as a server sends it, with the terminator.
fn stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = b"+OK message follows\r\n".to_vec();
    let mut at_start = true;
    for &b in message {
        if at_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_start = b == b'\n';
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn session(step: usize, answer: Answers) -> Client<Peer> {
    let peer = Peer {
        answer,
        step: 64,
        pending: Vec::new(),
        readable: b"+OK hi\r\n".iter().copied().collect(),
    };
    let mut c = Client::new(peer, true, None).unwrap();
    c.login(
        &Credentials::new("u", "pw-Secret-9"),
        AuthMethod::User,
        false,
    )
    .unwrap();
    c.stream_mut().step = step;
    c
}

fn answer(line: &str) -> Vec<u8> {
    match line {
        "CAPA" => b"+OK\r\nUSER\r\n.\r\n".to_vec(),
        "USER u" | "PASS pw-Secret-9" | "NOOP" => b"+OK\r\n".to_vec(),
        "RETR 1" => stuffed(MESSAGE),
        "RETR 2" => b"-ERR no such message\r\n".to_vec(),
        other => panic!("unexpected command {other:?}"),
    }
}

#[test]
fn every_read_split_gives_the_same_bytes_kept_and_streamed() {
    let wire = stuffed(MESSAGE).len();
    for step in 1..=wire + 1 {
        let mut c = session(step, Box::new(answer));
        let kept = match c
            .execute(Command::Retr {
                msg: 1,
                size: Some(MESSAGE.len() as u64),
            })
            .unwrap()
        {
            Reply::Body(b) => b.data,
            other => panic!("{other:?}"),
        };
        assert_eq!(kept, MESSAGE, "kept, reads of {step}");

        let mut out = Vec::new();
        let mut last_progress = 0;
        let n = c
            .retrieve_into(
                1,
                Some(MESSAGE.len() as u64),
                &mut |piece| {
                    out.extend_from_slice(piece);
                    Ok(())
                },
                &mut |bytes| last_progress = bytes,
            )
            .unwrap();
        assert_eq!(out, MESSAGE, "streamed, reads of {step}");
        assert_eq!(n, MESSAGE.len() as u64);
        assert!(last_progress >= MESSAGE.len() as u64, "final progress");
        // In step afterwards: the next command gets its own answer.
        c.noop().unwrap();
    }
}

#[test]
fn a_refusal_while_streaming_leaves_the_session_usable() {
    let mut c = session(5, Box::new(answer));
    let mut out = Vec::new();
    let e = c
        .retrieve_into(
            2,
            Some(10),
            &mut |p| {
                out.extend_from_slice(p);
                Ok(())
            },
            &mut |_| {},
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused);
    assert!(out.is_empty());
    assert_eq!(c.state(), State::Transaction);
    c.noop().unwrap();
}

#[test]
fn a_failing_sink_ends_the_session() {
    let mut c = session(7, Box::new(answer));
    let mut calls = 0;
    let e = c
        .retrieve_into(
            1,
            Some(MESSAGE.len() as u64),
            &mut |_| {
                calls += 1;
                if calls == 3 {
                    Err(io::Error::new(io::ErrorKind::BrokenPipe, "pipe closed"))
                } else {
                    Ok(())
                }
            },
            &mut |_| {},
        )
        .unwrap_err();
    assert_eq!(calls, 3, "nothing handed on after the failure");
    assert!(e.message.contains("pipe closed"), "{}", e.message);
    assert_eq!(
        c.state(),
        State::Closed,
        "the rest was not read: out of step"
    );
}

#[test]
fn streaming_keeps_the_list_size_bound() {
    // LIST says 10 bytes; the server sends far more than 10 + half + 1 MB.
    let flood = |line: &str| match line {
        "CAPA" => b"+OK\r\nUSER\r\n.\r\n".to_vec(),
        "USER u" | "PASS pw-Secret-9" => b"+OK\r\n".to_vec(),
        _ => {
            let mut a = b"+OK\r\n".to_vec();
            for _ in 0..40_000 {
                a.extend_from_slice(&[b'x'; 62]);
                a.extend_from_slice(b"\r\n");
            }
            a.extend_from_slice(b".\r\n");
            a
        }
    };
    let mut c = session(64 * 1024, Box::new(flood));
    let mut handed = 0u64;
    let e = c
        .retrieve_into(
            1,
            Some(10),
            &mut |p| {
                handed += p.len() as u64;
                Ok(())
            },
            &mut |_| {},
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{}", e.message);
    assert!(
        handed <= 10 + 5 + 1024 * 1024,
        "stopped at the bound: {handed}"
    );
    assert_eq!(c.state(), State::Closed);
}
