//! The POP3 state machine of one connection: authorization, the
//! transaction commands, and the maildrop updated at QUIT.

use std::io;

use base64::Engine as _;

use super::*;

/// Where a session's answers go: the connection (`conn::Conn`) in the
/// server, so that the session knows nothing of sockets and TLS.
pub(super) trait Out {
    /// Queues `bytes` to be sent (flushed before the next read).
    fn send(&mut self, bytes: &[u8]) -> io::Result<()>;
}

pub(super) enum Flow {
    Continue,
    Close,
    StartTls,
}

pub(super) enum State {
    Authorization {
        user: Option<String>,
    },
    /// `AUTH PLAIN` sent the empty challenge; the next line is the response.
    SaslPlain,
    Transaction(Vec<SessionMsg>),
}

pub(super) struct SessionMsg {
    id: u64,
    uid: String,
    data: Arc<[u8]>,
    deleted: bool,
}

pub(super) struct Session<'a> {
    shared: &'a Shared,
    conn: usize,
    state: State,
    pub(super) tls_active: bool,
    /// The APOP timestamp of the greeting, `<...>` included.
    timestamp: Option<String>,
    holds_lock: bool,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        self.release_lock();
    }
}

pub(super) const CRLF: &[u8] = b"\r\n";

impl<'a> Session<'a> {
    pub(super) fn new(shared: &'a Shared, conn: usize) -> Session<'a> {
        Session {
            shared,
            conn,
            state: State::Authorization { user: None },
            tls_active: false,
            timestamp: None,
            holds_lock: false,
        }
    }

    pub(super) fn public_state(&self) -> SessionState {
        match self.state {
            State::Transaction(_) => SessionState::Transaction,
            _ => SessionState::Authorization,
        }
    }

    pub(super) fn greeting(&mut self) -> Vec<u8> {
        if let Some(g) = &self.shared.opts.greeting {
            self.timestamp = extract_timestamp(g);
            return g.clone();
        }
        if !self.shared.opts.apop {
            return b"+OK popview-demo POP3 server ready\r\n".to_vec();
        }
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            + self.conn as u128;
        let ts = format!("<{}.{clock}@popview.demo>", std::process::id());
        let g = format!("+OK popview-demo POP3 server ready {ts}\r\n");
        self.timestamp = Some(ts);
        g.into_bytes()
    }

    pub(super) fn release_lock(&mut self) {
        if self.holds_lock {
            self.holds_lock = false;
            let mut md = lock(&self.shared.maildrop);
            if md.locked_by == Some(self.conn) {
                md.locked_by = None;
            }
            drop(md);
            self.shared.unlocked.notify_all();
        }
    }

    pub(super) fn handle(&mut self, line: &[u8], io: &mut dyn Out) -> io::Result<Flow> {
        if matches!(self.state, State::SaslPlain) {
            self.state = State::Authorization { user: None };
            let reply = if line == b"*" {
                b"-ERR AUTH cancelled\r\n".to_vec()
            } else {
                self.sasl_plain_response(line)
            };
            io.send(&reply)?;
            return Ok(Flow::Continue);
        }
        let (keyword, rest) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &line[line.len()..]),
        };
        let keyword = keyword.to_ascii_uppercase();
        let args: Vec<&[u8]> = rest
            .split(|&b| b == b' ')
            .filter(|a| !a.is_empty())
            .collect();
        if matches!(self.state, State::Transaction(_)) {
            self.transaction(&keyword, &args, io)
        } else {
            self.authorization(&keyword, rest, &args, io)
        }
    }

    pub(super) fn capa(&self) -> Vec<u8> {
        let o = &self.shared.opts;
        let mut s = String::from("+OK Capability list follows\r\n");
        if o.top {
            s.push_str("TOP\r\n");
        }
        if o.uidl {
            s.push_str("UIDL\r\n");
        }
        if o.user_command {
            s.push_str("USER\r\n");
        }
        if o.sasl_plain {
            s.push_str("SASL PLAIN\r\n");
        }
        s.push_str("RESP-CODES\r\nAUTH-RESP-CODE\r\n");
        if o.pipelining {
            s.push_str("PIPELINING\r\n");
        }
        if matches!(o.tls, Some(TlsMode::StartTls(_)))
            && !self.tls_active
            && !matches!(self.state, State::Transaction(_))
        {
            s.push_str("STLS\r\n");
        }
        if let Some(d) = o.login_delay {
            s.push_str(&format!("LOGIN-DELAY {d}\r\n"));
        }
        if let Some(e) = &o.expire {
            s.push_str(&format!("EXPIRE {e}\r\n"));
        }
        s.push_str("IMPLEMENTATION popview-demo\r\n.\r\n");
        s.into_bytes()
    }

    pub(super) fn authorization(
        &mut self,
        keyword: &[u8],
        rest: &[u8],
        args: &[&[u8]],
        io: &mut dyn Out,
    ) -> io::Result<Flow> {
        let o = &self.shared.opts;
        let reply: Vec<u8> = match keyword {
            b"CAPA" if o.capa => self.capa(),
            b"QUIT" => {
                io.send(b"+OK popview-demo POP3 server signing off\r\n")?;
                return Ok(Flow::Close);
            }
            b"USER" if o.user_command => match args {
                [name] => {
                    self.state = State::Authorization {
                        user: Some(String::from_utf8_lossy(name).into_owned()),
                    };
                    b"+OK send PASS\r\n".to_vec()
                }
                _ => b"-ERR usage: USER name\r\n".to_vec(),
            },
            b"PASS" if o.user_command => {
                let user = match &mut self.state {
                    State::Authorization { user } => user.take(),
                    _ => None,
                };
                match user {
                    None => b"-ERR send USER first\r\n".to_vec(),
                    // RFC 1939: the password is everything after "PASS ".
                    Some(user) => self.login(&user, |pw| pw.as_bytes() == rest),
                }
            }
            b"APOP" if o.apop => match (args, self.timestamp.clone()) {
                ([name, digest], Some(ts)) => {
                    let name = String::from_utf8_lossy(name).into_owned();
                    let digest = digest.to_vec();
                    self.login(&name, |pw| {
                        let expected = md5_hex(format!("{ts}{pw}").as_bytes());
                        expected.as_bytes().eq_ignore_ascii_case(&digest)
                    })
                }
                (_, None) => b"-ERR APOP not available: no timestamp in the greeting\r\n".to_vec(),
                _ => b"-ERR usage: APOP name digest\r\n".to_vec(),
            },
            b"AUTH" if o.sasl_plain => match args {
                [] => b"+OK supported mechanisms\r\nPLAIN\r\n.\r\n".to_vec(),
                [mech] if mech.eq_ignore_ascii_case(b"PLAIN") => {
                    self.state = State::SaslPlain;
                    b"+ \r\n".to_vec()
                }
                [mech, initial] if mech.eq_ignore_ascii_case(b"PLAIN") => {
                    if *initial == b"=" {
                        self.sasl_plain_response(b"")
                    } else {
                        self.sasl_plain_response(initial)
                    }
                }
                [_] | [_, _] => b"-ERR [AUTH] unsupported SASL mechanism\r\n".to_vec(),
                _ => b"-ERR usage: AUTH mechanism [initial-response]\r\n".to_vec(),
            },
            b"STLS" if matches!(o.tls, Some(TlsMode::StartTls(_))) => {
                if self.tls_active {
                    b"-ERR TLS is already active\r\n".to_vec()
                } else if !args.is_empty() {
                    b"-ERR usage: STLS\r\n".to_vec()
                } else {
                    io.send(b"+OK Begin TLS negotiation\r\n")?;
                    // RFC 2595: everything known before TLS is forgotten.
                    self.state = State::Authorization { user: None };
                    return Ok(Flow::StartTls);
                }
            }
            b"STAT" | b"LIST" | b"UIDL" | b"TOP" | b"RETR" | b"DELE" | b"NOOP" | b"RSET" => {
                b"-ERR not logged in\r\n".to_vec()
            }
            _ => b"-ERR unknown command\r\n".to_vec(),
        };
        io.send(&reply)?;
        Ok(Flow::Continue)
    }

    /// Answer a SASL PLAIN response: base64 of
    /// `authzid NUL authcid NUL passwd`.
    pub(super) fn sasl_plain_response(&mut self, b64: &[u8]) -> Vec<u8> {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            return b"-ERR [AUTH] malformed base64 in AUTH PLAIN response\r\n".to_vec();
        };
        let parts: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
        let [authzid, authcid, passwd] = parts[..] else {
            return b"-ERR [AUTH] malformed AUTH PLAIN response\r\n".to_vec();
        };
        if !authzid.is_empty() && authzid != authcid {
            return b"-ERR [AUTH] authorization identity not permitted\r\n".to_vec();
        }
        let user = String::from_utf8_lossy(authcid).into_owned();
        let passwd = passwd.to_vec();
        self.login(&user, |pw| pw.as_bytes() == passwd.as_slice())
    }

    /// Check the credentials, take the maildrop lock, enter TRANSACTION.
    pub(super) fn login(&mut self, user: &str, password_ok: impl Fn(&str) -> bool) -> Vec<u8> {
        self.state = State::Authorization { user: None };
        let known = self
            .shared
            .opts
            .users
            .iter()
            .any(|(u, pw)| u == user && password_ok(pw));
        if !known {
            return b"-ERR [AUTH] invalid user name or password\r\n".to_vec();
        }
        let mut md = lock(&self.shared.maildrop);
        if self.shared.opts.lock_maildrop {
            if md.locked_by.is_some() {
                return b"-ERR [IN-USE] maildrop is locked by another session\r\n".to_vec();
            }
            md.locked_by = Some(self.conn);
            self.holds_lock = true;
        }
        let msgs: Vec<SessionMsg> = md
            .entries
            .iter()
            .map(|e| SessionMsg {
                id: e.id,
                uid: e.uid.clone(),
                data: Arc::clone(&e.data),
                deleted: false,
            })
            .collect();
        drop(md);
        lock(&self.shared.logins).push(msgs.iter().map(|m| (m.id, m.uid.clone())).collect());
        let total: usize = msgs.iter().map(|m| m.data.len()).sum();
        let reply = format!(
            "+OK maildrop locked and ready, {} messages ({} octets)\r\n",
            msgs.len(),
            total
        );
        self.state = State::Transaction(msgs);
        reply.into_bytes()
    }

    pub(super) fn transaction(
        &mut self,
        keyword: &[u8],
        args: &[&[u8]],
        io: &mut dyn Out,
    ) -> io::Result<Flow> {
        let opts = &self.shared.opts;
        let capa = self.capa();
        let State::Transaction(msgs) = &mut self.state else {
            return Ok(Flow::Continue);
        };
        let live = |msgs: &[SessionMsg]| {
            msgs.iter()
                .filter(|m| !m.deleted)
                .fold((0usize, 0usize), |(n, size), m| {
                    (n + 1, size + m.data.len())
                })
        };
        match (keyword, args) {
            (b"CAPA", []) if opts.capa => io.send(&capa)?,
            (b"STAT", []) => {
                let (n, size) = live(msgs);
                io.send(format!("+OK {n} {size}\r\n").as_bytes())?;
            }
            (b"LIST", []) => {
                let (n, size) = live(msgs);
                let mut s = format!("+OK {n} messages ({size} octets)\r\n");
                for (i, m) in msgs.iter().enumerate().filter(|(_, m)| !m.deleted) {
                    s.push_str(&format!("{} {}\r\n", i + 1, m.data.len()));
                }
                s.push_str(".\r\n");
                io.send(s.as_bytes())?;
            }
            (b"UIDL", []) if opts.uidl => {
                let mut s = String::from("+OK unique-id listing follows\r\n");
                for (i, m) in msgs.iter().enumerate().filter(|(_, m)| !m.deleted) {
                    s.push_str(&format!("{} {}\r\n", i + 1, m.uid));
                }
                s.push_str(".\r\n");
                io.send(s.as_bytes())?;
            }
            (b"LIST", [n]) => match find(msgs, n) {
                Ok(i) => io.send(format!("+OK {} {}\r\n", i + 1, msgs[i].data.len()).as_bytes())?,
                Err(e) => io.send(&e)?,
            },
            (b"UIDL", [n]) if opts.uidl => match find(msgs, n) {
                Ok(i) => io.send(format!("+OK {} {}\r\n", i + 1, msgs[i].uid).as_bytes())?,
                Err(e) => io.send(&e)?,
            },
            (b"RETR", [n]) => match find(msgs, n) {
                Ok(i) => {
                    let data = Arc::clone(&msgs[i].data);
                    io.send(format!("+OK {} octets\r\n", data.len()).as_bytes())?;
                    send_stuffed(io, &data)?;
                    io.send(b".\r\n")?;
                }
                Err(e) => io.send(&e)?,
            },
            (b"TOP", [n, k]) if opts.top => match (find(msgs, n), parse_num(k)) {
                (Err(e), _) => io.send(&e)?,
                (Ok(_), None) => io.send(b"-ERR invalid line count\r\n")?,
                (Ok(i), Some(k)) => {
                    let data = Arc::clone(&msgs[i].data);
                    io.send(b"+OK top of message follows\r\n")?;
                    if opts.top_streams_body {
                        send_stuffed(io, &data)?;
                    } else {
                        send_stuffed(io, top_part(&data, k))?;
                    }
                    io.send(b".\r\n")?;
                }
            },
            (b"DELE", [n]) => match find(msgs, n) {
                Ok(i) => {
                    msgs[i].deleted = true;
                    io.send(format!("+OK message {} marked for deletion\r\n", i + 1).as_bytes())?;
                }
                Err(e) => io.send(&e)?,
            },
            (b"NOOP", []) => io.send(b"+OK\r\n")?,
            (b"RSET", []) => {
                for m in msgs.iter_mut() {
                    m.deleted = false;
                }
                let (n, size) = live(msgs);
                io.send(format!("+OK maildrop has {n} messages ({size} octets)\r\n").as_bytes())?;
            }
            (b"QUIT", []) => {
                // The UPDATE state.
                let gone: Vec<u64> = msgs.iter().filter(|m| m.deleted).map(|m| m.id).collect();
                let left = {
                    let mut md = lock(&self.shared.maildrop);
                    md.entries.retain(|e| !gone.contains(&e.id));
                    md.entries.len()
                };
                self.release_lock();
                io.send(
                    format!("+OK popview-demo signing off ({left} messages left)\r\n").as_bytes(),
                )?;
                return Ok(Flow::Close);
            }
            (
                b"STAT" | b"LIST" | b"UIDL" | b"TOP" | b"RETR" | b"DELE" | b"NOOP" | b"RSET"
                | b"QUIT" | b"CAPA",
                _,
            ) if known_in_transaction(keyword, opts) => io.send(b"-ERR wrong arguments\r\n")?,
            (b"USER" | b"PASS" | b"APOP" | b"AUTH" | b"STLS", _) => {
                io.send(b"-ERR already logged in\r\n")?;
            }
            _ => io.send(b"-ERR unknown command\r\n")?,
        }
        Ok(Flow::Continue)
    }
}

pub(super) fn known_in_transaction(keyword: &[u8], opts: &ServerOptions) -> bool {
    match keyword {
        b"UIDL" => opts.uidl,
        b"TOP" => opts.top,
        b"CAPA" => opts.capa,
        _ => true,
    }
}

/// Message index for a message-number argument, or the `-ERR` line.
pub(super) fn find(msgs: &[SessionMsg], arg: &[u8]) -> Result<usize, Vec<u8>> {
    let Some(n) = parse_num(arg) else {
        return Err(b"-ERR invalid message number\r\n".to_vec());
    };
    let Some(i) = n.checked_sub(1).and_then(|i| usize::try_from(i).ok()) else {
        return Err(b"-ERR no such message\r\n".to_vec());
    };
    match msgs.get(i) {
        None => Err(b"-ERR no such message\r\n".to_vec()),
        Some(m) if m.deleted => Err(format!("-ERR message {n} already deleted\r\n").into_bytes()),
        Some(_) => Ok(i),
    }
}

pub(super) fn parse_num(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() || arg.len() > 19 || !arg.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(arg).ok()?.parse().ok()
}

/// The header block (with its terminating blank line) and the first `k`
/// body lines of a CRLF-normalised message.
pub(super) fn top_part(data: &[u8], k: u64) -> &[u8] {
    let Some(sep) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
        return data;
    };
    let body_start = sep + 4;
    let mut end = body_start;
    let mut lines = 0;
    while lines < k && end < data.len() {
        match data[end..].iter().position(|&b| b == b'\n') {
            Some(i) => end += i + 1,
            None => end = data.len(),
        }
        lines += 1;
    }
    &data[..end]
}

/// Write CRLF-normalised `data` with dot-stuffing (RFC 1939 section 3).
pub(super) fn send_stuffed(io: &mut dyn Out, data: &[u8]) -> io::Result<()> {
    let mut start = 0;
    while start < data.len() {
        let end = data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| start + i + 1);
        if data[start] == b'.' {
            io.send(b".")?;
        }
        io.send(&data[start..end])?;
        start = end;
    }
    if !data.is_empty() && !data.ends_with(CRLF) {
        io.send(CRLF)?;
    }
    Ok(())
}

/// Bare LF becomes CRLF; a non-empty message ends with CRLF.
pub fn normalize_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32 + 2);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The first `<...>` of a greeting, as APOP's timestamp.
pub(super) fn extract_timestamp(greeting: &[u8]) -> Option<String> {
    let start = greeting.iter().position(|&b| b == b'<')?;
    let len = greeting[start..].iter().position(|&b| b == b'>')?;
    let ts = &greeting[start..=start + len];
    std::str::from_utf8(ts).ok().map(str::to_owned)
}

/// Lower-case hex MD5, as APOP wants it.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_line_ends() {
        assert_eq!(normalize_crlf(b"a\nb\r\nc"), b"a\r\nb\r\nc\r\n");
        assert_eq!(normalize_crlf(b""), b"");
        assert_eq!(normalize_crlf(b"lone\rcr\n"), b"lone\rcr\r\n");
    }

    #[test]
    fn top_counts_body_lines() {
        let m = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        assert_eq!(top_part(m, 0), b"A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(top_part(m, 2), b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
        assert_eq!(top_part(m, 99), &m[..]);
        assert_eq!(top_part(b"A: 1\r\n", 3), b"A: 1\r\n");
    }

    #[test]
    fn md5_matches_rfc_1939_example() {
        assert_eq!(
            md5_hex(b"<1896.697170952@dbc.mtview.ca.us>tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn numbers_are_checked() {
        assert_eq!(parse_num(b"12"), Some(12));
        assert_eq!(parse_num(b""), None);
        assert_eq!(parse_num(b"-1"), None);
        assert_eq!(parse_num(b"99999999999999999999"), None);
        assert_eq!(
            extract_timestamp(b"+OK hi <a.b@c> x"),
            Some("<a.b@c>".into())
        );
        assert_eq!(extract_timestamp(b"+OK hi <a.b@c"), None);
    }
}
