//! PURE parsing of what a POP3 server sends: status lines with RFC 2449
//! response codes, multi-line bodies (terminator, dot-unstuffing, caps), and
//! the payload lines of STAT, LIST, UIDL and CAPA.
//!
//! Nothing here does I/O: bytes go in, typed values or a protocol error come
//! out, so every rule can be tested with byte tables and property tests.

use super::error::{Error, RespCode, Result};

/// Longest status line accepted (RFC 1939 allows 512 octets; we are lenient
/// but bounded, so an endless line can't exhaust memory).
pub const MAX_STATUS_LINE: usize = 8 * 1024;
/// Longest line accepted inside a LIST/UIDL/CAPA listing.
pub const MAX_LISTING_LINE: usize = 4 * 1024;
/// Longest single line accepted inside a TOP or RETR answer, whatever the
/// LIST size says: the LIST size is the server's claim, so it can't be what
/// bounds the line buffer (a base64 attachment sent as one line is legal and
/// far below this; RFC 5322 itself says 998).
pub const MAX_DATA_LINE: usize = 64 * 1024 * 1024;
/// Longest UID RFC 1939 allows.
pub const MAX_UID_LEN: usize = 70;

/// A parsed status line: `+OK` or `-ERR`, an optional code, and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub ok: bool,
    pub code: Option<RespCode>,
    /// The text after the indicator (and code), lossily decoded. Untrusted:
    /// sanitize before showing it.
    pub text: String,
}

/// Parse a status line (without its line end).
pub fn parse_status(line: &[u8]) -> Result<Status> {
    let (ok, rest) = if let Some(rest) = strip_prefix_ci(line, b"+OK") {
        (true, rest)
    } else if let Some(rest) = strip_prefix_ci(line, b"-ERR") {
        (false, rest)
    } else {
        return Err(Error::protocol(format!(
            "the server sent something that is not a POP3 status line: {}",
            preview(line)
        )));
    };
    let rest = match rest.first() {
        None => rest,
        Some(b' ' | b'\t') => &rest[1..],
        Some(_) => {
            return Err(Error::protocol(format!(
                "malformed status line: {}",
                preview(line)
            )));
        }
    };
    let (code, text) = split_code(rest);
    Ok(Status {
        ok,
        code,
        text: String::from_utf8_lossy(text).trim().to_string(),
    })
}

/// A SASL continuation line (`+ base64`), RFC 5034. Returns the payload.
pub fn parse_continuation(line: &[u8]) -> Option<&[u8]> {
    match line {
        [b'+'] => Some(b""),
        [b'+', b' ', rest @ ..] => Some(rest),
        _ => None,
    }
}

/// `[CODE] text` -> code and the remaining text. A broken code (`[` with no
/// `]`, or non-printable content) is left in the text, never a panic.
fn split_code(rest: &[u8]) -> (Option<RespCode>, &[u8]) {
    if rest.first() != Some(&b'[') {
        return (None, rest);
    }
    let Some(end) = rest.iter().position(|&b| b == b']') else {
        return (None, rest);
    };
    let inner = &rest[1..end];
    let valid = !inner.is_empty()
        && inner.len() <= 64
        && inner
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'_' | b'.'));
    if !valid {
        return (None, rest);
    }
    let inner = std::str::from_utf8(inner).expect("checked ASCII");
    let text = &rest[end + 1..];
    let text = text.strip_prefix(b" ").unwrap_or(text);
    (Some(RespCode::parse(inner)), text)
}

fn strip_prefix_ci<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&line[prefix.len()..])
    } else {
        None
    }
}

/// A short, printable rendering of untrusted bytes for error messages.
pub fn preview(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(80) {
        if b.is_ascii_graphic() || b == b' ' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    if bytes.len() > 80 {
        out.push('…');
    }
    format!("\"{out}\"")
}

/// Parse a decimal number with checks: digits only, no overflow.
pub fn parse_u64(token: &[u8]) -> Option<u64> {
    if token.is_empty() || token.len() > 20 || !token.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(token).ok()?.parse().ok()
}

fn parse_u32(token: &[u8]) -> Option<u32> {
    parse_u64(token).and_then(|n| u32::try_from(n).ok())
}

fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| *b == b' ' || *b == b'\t')
        .filter(|t| !t.is_empty())
}

/// `+OK nn mm` of STAT: message count and total size.
pub fn parse_stat(text: &str) -> Result<(u32, u64)> {
    let mut t = tokens(text.as_bytes());
    match (t.next().and_then(parse_u32), t.next().and_then(parse_u64)) {
        (Some(n), Some(size)) => Ok((n, size)),
        _ => Err(Error::protocol(format!(
            "the server's STAT answer is not \"count size\": {}",
            preview(text.as_bytes())
        ))),
    }
}

/// One scan listing line `n size` (LIST, or the text of `+OK n size`).
pub fn parse_scan_line(line: &[u8]) -> Result<(u32, u64)> {
    let mut t = tokens(line);
    match (t.next().and_then(parse_u32), t.next().and_then(parse_u64)) {
        (Some(n), Some(size)) if n > 0 => Ok((n, size)),
        _ => Err(Error::protocol(format!(
            "bad LIST line from the server: {}",
            preview(line)
        ))),
    }
}

/// One unique-id listing line `n uid` (UIDL, or the text of `+OK n uid`).
/// The UID itself is validated by [`valid_uid`]; an invalid one is returned
/// as `None` so the message stays usable without persistence.
pub fn parse_uidl_line(line: &[u8]) -> Result<(u32, Option<String>)> {
    let mut t = tokens(line);
    let n = t.next().and_then(parse_u32).filter(|n| *n > 0);
    let uid = t.next();
    match (n, uid) {
        (Some(n), Some(uid)) => Ok((n, valid_uid(uid).then(|| uid_string(uid)))),
        _ => Err(Error::protocol(format!(
            "bad UIDL line from the server: {}",
            preview(line)
        ))),
    }
}

/// RFC 1939: a UID is 1 to 70 characters in the range 0x21 to 0x7E.
pub fn valid_uid(uid: &[u8]) -> bool {
    !uid.is_empty() && uid.len() <= MAX_UID_LEN && uid.iter().all(|b| (0x21..=0x7e).contains(b))
}

fn uid_string(uid: &[u8]) -> String {
    // valid_uid guarantees ASCII.
    String::from_utf8_lossy(uid).into_owned()
}

/// Where the body collector is, for `TOP n 0` header extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Headers,
    Body,
}

/// Limits for one multi-line response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Bytes the server may send before we call it a protocol violation.
    pub max_total: u64,
    /// Keep only the header section (for `TOP n 0`): anything after the
    /// blank line is read and discarded.
    pub headers_only: bool,
    /// Most bytes kept in memory (headers-only mode cuts here).
    pub max_kept: u64,
}

/// Slack over the LIST size a RETR/TOP response may use before we stop
/// trusting the server (LIST sizes are hints; some servers count LF ends).
pub const SIZE_SLACK: u64 = 1024 * 1024;
/// Most bytes reserved up front for a message body from its LIST size: the
/// size is the server's claim, so a lie costs at most this much address
/// space (a bigger message grows the buffer as it arrives).
pub const MAX_PRESIZE: u64 = 256 * 1024 * 1024;
/// Cap for a multi-line response whose size we can't predict.
pub const DEFAULT_MAX_BODY: u64 = 512 * 1024 * 1024;
/// No response may exceed this, whatever LIST said.
pub const HARD_MAX_BODY: u64 = 1024 * 1024 * 1024;
/// Longest line kept while reading a `TOP n 0` (a line longer than this in
/// the headers, or in a body the server streams anyway, is a violation).
pub const MAX_HEADER_LINE: usize = 4 * 1024 * 1024;
/// Longest LOGIN-DELAY honoured (an hour): larger values are clamped.
pub const MAX_LOGIN_DELAY: u64 = 3600;
/// Most header bytes kept from a `TOP n 0`.
pub const MAX_HEADER_BYTES: u64 = 256 * 1024;

impl BodyLimits {
    /// For a whole message of `list_size` octets (or unknown).
    pub fn message(list_size: Option<u64>) -> Self {
        // LIST sizes are hints from an untrusted server: half again plus a
        // megabyte of slack, and never more than the hard cap whatever it
        // claims.
        let max_total = match list_size {
            Some(size) => size
                .saturating_add(size / 2)
                .saturating_add(SIZE_SLACK)
                .min(HARD_MAX_BODY),
            None => DEFAULT_MAX_BODY,
        };
        BodyLimits {
            max_total,
            headers_only: false,
            max_kept: max_total,
        }
    }

    /// For a whole message handed on line by line as it arrives
    /// ([`Client::retrieve_into`](super::Client::retrieve_into)): the same
    /// bounds on what the server may send, nothing kept.
    pub fn streamed(list_size: Option<u64>) -> Self {
        BodyLimits {
            max_kept: 0,
            ..BodyLimits::message(list_size)
        }
    }

    /// For `TOP n 0`: headers only, cut at [`MAX_HEADER_BYTES`].
    pub fn headers(list_size: Option<u64>) -> Self {
        BodyLimits {
            headers_only: true,
            max_kept: MAX_HEADER_BYTES,
            ..BodyLimits::message(list_size)
        }
    }

    /// For LIST/UIDL/CAPA listings: `lines_hint` lines of modest length.
    pub fn listing(lines_hint: Option<u64>) -> Self {
        let max_total = match lines_hint {
            Some(n) => n.saturating_mul(96).saturating_add(64 * 1024),
            None => 64 * 1024 * 1024,
        };
        BodyLimits {
            max_total,
            headers_only: false,
            max_kept: max_total,
        }
    }
}

/// Accumulates a multi-line response line by line: stops at the `.` line,
/// removes dot-stuffing, keeps each line's own line end (so a raw view shows
/// the message as sent), enforces the limits.
#[derive(Debug, Clone)]
pub struct BodyCollector {
    limits: BodyLimits,
    data: Vec<u8>,
    seen: u64,
    section: Section,
    truncated: bool,
    done: bool,
}

/// A finished multi-line response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body {
    pub data: Vec<u8>,
    /// Some data was dropped (headers-only mode, or the keep cap).
    pub truncated: bool,
}

impl BodyCollector {
    pub fn new(limits: BodyLimits) -> Self {
        Self::expecting(limits, 0)
    }

    /// A collector whose buffer is sized once for `expected` bytes (the
    /// LIST size) instead of growing while a big message arrives. The
    /// unstuffed body is at most the LIST size when the server counts
    /// right; whatever it claims, no more than the keep cap or
    /// [`MAX_PRESIZE`] is reserved.
    pub fn expecting(limits: BodyLimits, expected: u64) -> Self {
        let presize = expected.min(limits.max_kept).min(MAX_PRESIZE);
        BodyCollector {
            limits,
            data: Vec::with_capacity(usize::try_from(presize).unwrap_or(0)),
            seen: 0,
            section: Section::Headers,
            truncated: false,
            done: false,
        }
    }

    /// Bytes received so far for this response.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Feed one line: `line` without its end, `eol` the end it had (`\r\n`
    /// or `\n`). Returns true once the terminating `.` line has been seen.
    pub fn push_line(&mut self, line: &[u8], eol: &[u8]) -> Result<bool> {
        let Some(content) = self.accept_line(line, eol)? else {
            return Ok(true);
        };
        if self.limits.headers_only && self.section == Section::Body {
            self.truncated = true;
            return Ok(false);
        }
        let added = (content.len() + eol.len()) as u64;
        if self.data.len() as u64 + added > self.limits.max_kept {
            self.truncated = true;
            if self.limits.headers_only {
                // Headers beyond the cap: stop keeping, still read to the end.
                self.section = Section::Body;
            }
            return Ok(false);
        }
        self.data.extend_from_slice(content);
        self.data.extend_from_slice(eol);
        if content.is_empty() && self.section == Section::Headers {
            self.section = Section::Body;
        }
        Ok(false)
    }

    /// Count one line against the limits and undo its dot-stuffing:
    /// `None` for the terminating `.` line, else the line's content as
    /// the message has it. Nothing is kept: for answers passed on as they
    /// arrive (see [`BodyLimits::streamed`]).
    pub fn accept_line<'a>(&mut self, line: &'a [u8], eol: &[u8]) -> Result<Option<&'a [u8]>> {
        debug_assert!(!self.done, "line pushed after the terminator");
        self.seen = self
            .seen
            .saturating_add(line.len() as u64 + eol.len() as u64);
        let content = match line.first() {
            Some(b'.') if line.len() == 1 => {
                self.done = true;
                return Ok(None);
            }
            Some(b'.') => &line[1..],
            _ => line,
        };
        if self.seen > self.limits.max_total {
            return Err(Error::protocol(format!(
                "the server sent more than {} bytes for one response; closing the connection",
                self.limits.max_total
            )));
        }
        Ok(Some(content))
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn finish(self) -> Body {
        Body {
            data: self.data,
            truncated: self.truncated,
        }
    }
}

/// Split a collected listing body into its lines (line ends removed).
pub fn body_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
}

/// An input buffer that hands out complete lines, accepting `\r\n` and bare
/// `\n` as line ends (a lone `\r` is data, not a line end).
#[derive(Debug, Default, Clone)]
pub struct LineBuffer {
    buf: Vec<u8>,
    start: usize,
    /// How far past `start` we already looked for `\n`.
    scanned: usize,
}

/// A complete line borrowed from the buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Line<'a> {
    pub content: &'a [u8],
    pub eol: &'a [u8],
}

impl LineBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Append bytes read from the network.
    pub fn extend(&mut self, data: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            self.scanned = 0;
        } else if self.start > 64 * 1024 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes received but not yet handed out as lines.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The next complete line, if one is buffered. A line longer than `max`
    /// (complete or not) is a protocol error.
    pub fn next_line(&mut self, max: usize) -> Result<Option<Line<'_>>> {
        let pending = &self.buf[self.start..];
        let found = memchr::memchr(b'\n', &pending[self.scanned..]).map(|i| i + self.scanned);
        let Some(nl) = found else {
            self.scanned = pending.len();
            if pending.len() > max {
                return Err(Error::protocol(format!(
                    "the server sent a line longer than {max} bytes; closing the connection"
                )));
            }
            return Ok(None);
        };
        if nl > max {
            return Err(Error::protocol(format!(
                "the server sent a line longer than {max} bytes; closing the connection"
            )));
        }
        let begin = self.start;
        self.start += nl + 1;
        self.scanned = 0;
        let raw = &self.buf[begin..begin + nl + 1];
        let content_len = if nl > 0 && raw[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        Ok(Some(Line {
            content: &raw[..content_len],
            eol: &raw[content_len..],
        }))
    }
}

/// Capabilities from CAPA (RFC 2449), typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The server answered CAPA at all.
    pub known: bool,
    pub top: bool,
    pub uidl: bool,
    pub user: bool,
    pub stls: bool,
    pub pipelining: bool,
    pub resp_codes: bool,
    pub auth_resp_code: bool,
    pub utf8: bool,
    /// SASL mechanisms, upper-cased.
    pub sasl: Vec<String>,
    /// LOGIN-DELAY in seconds (the value given for the current state).
    pub login_delay: Option<u64>,
    /// EXPIRE as given: a number of days, `NEVER`, or with `USER`.
    pub expire: Option<String>,
    pub implementation: Option<String>,
    /// Every capability line as sent (lossily decoded; sanitize to show).
    pub raw: Vec<String>,
}

impl Capabilities {
    /// Parse the lines of a CAPA response body.
    pub fn parse(body: &[u8]) -> Capabilities {
        let mut caps = Capabilities {
            known: true,
            ..Capabilities::default()
        };
        for line in body_lines(body) {
            let text = String::from_utf8_lossy(line).trim().to_string();
            let mut words = text.split_ascii_whitespace();
            let Some(name) = words.next() else { continue };
            match name.to_ascii_uppercase().as_str() {
                "TOP" => caps.top = true,
                "UIDL" => caps.uidl = true,
                "USER" => caps.user = true,
                "STLS" => caps.stls = true,
                "PIPELINING" => caps.pipelining = true,
                "RESP-CODES" => caps.resp_codes = true,
                "AUTH-RESP-CODE" => caps.auth_resp_code = true,
                "UTF8" => caps.utf8 = true,
                "SASL" => caps.sasl.extend(
                    words
                        .filter(|m| valid_sasl_name(m))
                        .map(|m| m.to_ascii_uppercase())
                        .take(64),
                ),
                "LOGIN-DELAY" => {
                    caps.login_delay = words
                        .next()
                        .and_then(|w| parse_u64(w.as_bytes()))
                        .map(|d| d.min(MAX_LOGIN_DELAY))
                }
                "EXPIRE" => caps.expire = Some(words.collect::<Vec<_>>().join(" ")),
                "IMPLEMENTATION" => caps.implementation = Some(words.collect::<Vec<_>>().join(" ")),
                _ => {}
            }
            if caps.raw.len() < 256 {
                caps.raw.push(text);
            }
        }
        caps
    }

    pub fn has_sasl(&self, mechanism: &str) -> bool {
        self.sasl.iter().any(|m| m.eq_ignore_ascii_case(mechanism))
    }
}

/// RFC 4422 section 3.1: a mechanism name is 1 to 20 characters from
/// `A-Z 0-9 - _` (accepted in any case). Anything else in a CAPA `SASL` line
/// is dropped, so server bytes never reach a message as a "mechanism".
fn valid_sasl_name(m: &str) -> bool {
    (1..=20).contains(&m.len())
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The APOP timestamp of a greeting (`<...@...>`, RFC 1939 section 7), if a
/// well-formed one is present: printable ASCII, bounded, with an `@`.
pub fn apop_timestamp(greeting_text: &str) -> Option<&str> {
    let start = greeting_text.find('<')?;
    let end = start + greeting_text[start..].find('>')?;
    let stamp = &greeting_text[start..=end];
    let inner = &stamp[1..stamp.len() - 1];
    let ok = stamp.len() <= 256
        && inner.contains('@')
        && inner
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'<');
    ok.then_some(stamp)
}
