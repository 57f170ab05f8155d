//! `Client::retrieve_each` over an in-memory peer: the RETRs go out
//! pipelined (many in one write, refilled as answers arrive), each message
//! is handed over dot-unstuffed as it completes, a refusal is handed over
//! and the session goes on, and a break stops further RETRs.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::ops::ControlFlow;

use popview::pop3::{AuthMethod, Client, Credentials, ErrorKind};

/// A peer that answers each complete command line it is sent, in order,
/// with `answer(line)`.
struct Peer {
    answer: fn(&str) -> Vec<u8>,
    pending: Vec<u8>,
    readable: VecDeque<u8>,
    /// Every write call's bytes.
    writes: Vec<Vec<u8>>,
}

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Small reads: answers arrive in pieces.
        let n = buf.len().min(7).min(self.readable.len());
        for b in buf.iter_mut().take(n) {
            *b = self.readable.pop_front().unwrap();
        }
        Ok(n)
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes.push(buf.to_vec());
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

fn answer(line: &str) -> Vec<u8> {
    match line {
        "CAPA" => b"+OK\r\nUSER\r\nPIPELINING\r\nUIDL\r\n.\r\n".to_vec(),
        "USER u" | "PASS p" => b"+OK\r\n".to_vec(),
        "RETR 2" => b"-ERR no such message\r\n".to_vec(),
        l => {
            let n: u32 = l.strip_prefix("RETR ").unwrap().parse().unwrap();
            format!("+OK\r\nSubject: {n}\r\n\r\n..dot\r\n.\r\n").into_bytes()
        }
    }
}

fn session() -> Client<Peer> {
    let peer = Peer {
        answer,
        pending: Vec::new(),
        readable: b"+OK hi\r\n".iter().copied().collect(),
        writes: Vec::new(),
    };
    let mut c = Client::new(peer, true, None).unwrap();
    c.refresh_capabilities().unwrap();
    c.login(&Credentials::new("u", "p"), AuthMethod::User, false)
        .unwrap();
    c.stream_mut().writes.clear();
    c
}

#[test]
fn retrs_are_pipelined_and_each_answer_handed_over() {
    let mut c = session();
    let msgs: Vec<(u32, u64)> = (1..=300).map(|n| (n, 30)).collect();
    let mut got = Vec::new();
    c.retrieve_each(&msgs, &mut |_| {}, |n, body| {
        got.push((n, body.map(|b| b.data)));
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(got.len(), 300);
    assert_eq!(got[0], (1, Ok(b"Subject: 1\r\n\r\n.dot\r\n".to_vec())));
    let refused = got[1].1.as_ref().unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Refused);
    assert_eq!(got[299].0, 300);
    // All 300 commands went out in the first write: one round trip.
    let first = String::from_utf8(c.stream_mut().writes[0].clone()).unwrap();
    assert_eq!(first.matches("RETR ").count(), 300, "{first}");
    assert!(first.starts_with("RETR 1\r\nRETR 2\r\n"));
}

#[test]
fn a_break_stops_further_retrs_and_drains_those_sent() {
    let mut c = session();
    c.set_window(4);
    let msgs: Vec<(u32, u64)> = (1..=20).map(|n| (n, 30)).collect();
    let mut got = Vec::new();
    c.retrieve_each(&msgs, &mut |_| {}, |n, _| {
        got.push(n);
        if n == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    // The window was refilled after 1 and 2 (5, 6); 4..=6 were in flight
    // when 3 broke: they are still read, and nothing more is sent.
    assert_eq!(got, vec![1, 2, 3, 4, 5, 6]);
    let sent: String = c
        .stream_mut()
        .writes
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    assert_eq!(sent.matches("RETR ").count(), 6, "{sent}");
    assert_eq!(c.in_flight(), 0);
}
