//! TCP and TLS: implicit TLS (POP3S), the STLS upgrade, certificate policy
//! (system roots, an extra CA file, a SHA-256 pin, or an explicit opt-out),
//! and connect/read/write timeouts.
//!
//! A port mix-up is named within seconds: `pop3s://` at a plain port fails
//! the handshake on the clear-text greeting (`tls_failure`); `pop3://` at
//! an implicit-TLS port gets no greeting, and after
//! [`GREETING_PROBE_AFTER`] of silence a second connection tries a TLS
//! handshake to tell (`await_greeting`).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use native_tls::{Certificate, HandshakeError, Protocol, TlsConnector, TlsStream};
use sha2::{Digest, Sha256};

use super::client::Client;
use super::error::{Error, ErrorKind, Result};
use super::redact::Secrets;
use super::trace::Trace;
use super::uninterrupted::Uninterrupted;

/// The TCP socket under both plain and TLS streams; see [`Uninterrupted`].
pub type Tcp = Uninterrupted<TcpStream>;

/// A plain connection whose server has said nothing for this long is
/// checked for a TLS port (POP3 servers greet at once).
pub const GREETING_PROBE_AFTER: Duration = Duration::from_secs(2);
/// Most time the TLS check on a second connection may take.
const TLS_PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// TLS from the first byte (POP3S, port 995). The default (RFC 8314).
    #[default]
    Implicit,
    /// Plain TCP upgraded with STLS, which is required (port 110).
    StartTls,
    /// No TLS at all. Credentials still need `allow_cleartext`.
    None,
}

impl TlsMode {
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::Implicit => 995,
            TlsMode::StartTls | TlsMode::None => 110,
        }
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Extra trusted CA or certificate (PEM), in addition to the system roots.
    pub ca_file: Option<PathBuf>,
    /// Accept exactly the certificate with this SHA-256 (of its DER).
    pub pin_sha256: Option<[u8; 32]>,
    /// Skip certificate verification entirely (loudly flagged in the UI).
    pub accept_invalid_certs: bool,
    pub connect_timeout: Duration,
    pub io_timeout: Duration,
}

impl ConnectOptions {
    pub fn new(host: impl Into<String>, port: u16, tls: TlsMode) -> Self {
        ConnectOptions {
            host: host.into(),
            port,
            tls,
            ca_file: None,
            pin_sha256: None,
            accept_invalid_certs: false,
            connect_timeout: Duration::from_secs(15),
            io_timeout: Duration::from_secs(60),
        }
    }

    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// How the certificate came to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    Verified,
    Pinned,
    Unverified,
}

/// What the live connection's TLS looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    pub trust: Trust,
    /// SHA-256 of the server certificate's DER, lower-case hex.
    pub fingerprint_sha256: String,
}

/// The protection of a live connection, read from the connection itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    Plain,
    Implicit(TlsInfo),
    StartTls(TlsInfo),
}

/// A plain or TLS stream.
pub enum Stream {
    Plain(Tcp),
    Tls(Box<TlsStream<Tcp>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s.get_ref(),
            Stream::Tls(s) => s.get_ref().get_ref(),
        }
    }

    /// Reads and writes retried after EINTR on this connection so far.
    pub fn interruptions_retried(&self) -> u64 {
        match self {
            Stream::Plain(s) => s.retried(),
            Stream::Tls(s) => s.get_ref().retried(),
        }
    }

    /// Whether the server ended the session while nothing was asked of it.
    /// A POP3 server sends nothing unasked, so anything readable now (a
    /// close, a reset, an `-ERR` before an autologout or a shutdown) means
    /// the session is over; `None` while the connection looks alive. Never
    /// blocks. TLS records that carry no data (TLS 1.3 session tickets) are
    /// consumed and don't count.
    pub fn closed_while_idle(&mut self) -> Option<String> {
        if self.tcp().set_nonblocking(true).is_err() {
            return None;
        }
        let verdict = self.probe_idle();
        if let Err(e) = self.tcp().set_nonblocking(false) {
            return Some(format!("the connection can't be used any more ({e})"));
        }
        verdict
    }

    fn probe_idle(&mut self) -> Option<String> {
        match self.tcp().peek(&mut [0u8; 1]) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(e) => return Some(format!("the connection failed while idle ({e})")),
            Ok(0) => return Some("the server closed the idle connection".into()),
            Ok(_) => {}
        }
        let mut buf = [0u8; 512];
        let got = match self {
            Stream::Plain(s) => s.read(&mut buf),
            Stream::Tls(s) => s.read(&mut buf),
        };
        match got {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) => Some(format!("the connection failed while idle ({e})")),
            Ok(0) => Some("the server closed the idle connection".into()),
            Ok(n) => Some(said_unasked(&buf[..n])),
        }
    }

    /// Cut the connection now (both directions).
    pub fn shutdown(&self) {
        let _ = self.tcp().shutdown(std::net::Shutdown::Both);
    }
}

impl<T> Client<Stream, T> {
    /// Whether the server ended the session while nothing was asked of it
    /// (see [`Stream::closed_while_idle`]): bytes already buffered count
    /// too. What the server said is redacted like all its text.
    pub fn closed_while_idle(&mut self) -> Option<String> {
        let verdict = if self.unread_input().is_empty() {
            self.stream_mut().closed_while_idle()
        } else {
            Some(said_unasked(self.unread_input()))
        };
        verdict.map(|v| self.redact(&v))
    }
}

/// How to report bytes a server sent without being asked: its first line,
/// which is usually its reason (`-ERR Disconnected for inactivity.`).
pub fn said_unasked(bytes: &[u8]) -> String {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(first);
    let text: String = text.trim_end().chars().take(200).collect();
    format!("the server ended the idle session, saying: {text}")
}

/// A connected session in the authorization state, with its security.
pub struct Connection {
    pub client: Client<Stream>,
    pub security: Security,
}

/// Connect, secure the connection as `opts` says, and read the capabilities.
/// STLS is required in `StartTls` mode: if the server doesn't offer it or
/// refuses it, this fails before any credential is sent (SECURITY A1).
pub fn connect(opts: &ConnectOptions, trace: Option<Trace>) -> Result<Connection> {
    connect_as(opts, &Secrets::default(), trace)
}

/// [`connect`] for a session whose secrets are known: they are cut out of
/// everything the server says, from the greeting on (see [`super::redact`]).
pub fn connect_as(
    opts: &ConnectOptions,
    secrets: &Secrets,
    trace: Option<Trace>,
) -> Result<Connection> {
    let tcp = Uninterrupted::new(open_tcp(opts)?);
    let new_client =
        |stream, tls, trace| Client::new_redacting(stream, tls, trace, secrets.clone());
    match opts.tls {
        TlsMode::Implicit => {
            let (tls, info) = handshake(opts, tcp)?;
            let mut client = new_client(Stream::Tls(Box::new(tls)), true, trace)?;
            client.refresh_capabilities()?;
            Ok(Connection {
                client,
                security: Security::Implicit(info),
            })
        }
        TlsMode::StartTls => {
            await_greeting(opts, tcp.get_ref())?;
            let mut client = new_client(Stream::Plain(tcp), false, trace)?;
            let caps = client.refresh_capabilities()?;
            if !caps.stls {
                let why = if caps.known {
                    "the server does not offer STLS"
                } else {
                    "the server did not answer CAPA, so STLS can't be negotiated"
                };
                return Err(Error::new(
                    ErrorKind::Tls,
                    format!(
                        "{why}; popview requires TLS and will not send your password in cleartext. \
                         Use pop3s:// (port 995) if the server supports it"
                    ),
                ));
            }
            let (stream, parked) = client.start_tls()?;
            let Stream::Plain(tcp) = stream else {
                return Err(Error::local("internal: STLS over a TLS stream"));
            };
            let (tls, info) = handshake(opts, tcp)?;
            let client = parked.resume(Stream::Tls(Box::new(tls)))?;
            Ok(Connection {
                client,
                security: Security::StartTls(info),
            })
        }
        TlsMode::None => {
            await_greeting(opts, tcp.get_ref())?;
            let mut client = new_client(Stream::Plain(tcp), false, trace)?;
            client.refresh_capabilities()?;
            Ok(Connection {
                client,
                security: Security::Plain,
            })
        }
    }
}

/// On a plain connection, wait for the server's first byte. A POP3 server
/// greets at once; one silent for [`GREETING_PROBE_AFTER`] may be an
/// implicit-TLS port waiting for a ClientHello. A second connection tries
/// a TLS handshake (nothing else is sent on it) and, if the port answers
/// in TLS, the mix-up is named at once. Otherwise the wait goes on, within
/// the configured timeout in all.
fn await_greeting(opts: &ConnectOptions, tcp: &TcpStream) -> Result<()> {
    let started = std::time::Instant::now();
    let first = GREETING_PROBE_AFTER.min(opts.io_timeout);
    let silent = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    };
    match first_byte_within(tcp, first) {
        Err(e) if silent(&e) => {}
        Ok(()) => return Ok(()),
        Err(e) => return Err(Error::io(&e, "waiting for the greeting")),
    }
    if speaks_tls(opts) {
        return Err(Error::new(
            ErrorKind::Tls,
            format!(
                "port {port} of {host} speaks TLS from the first byte (POP3S) and sends no \
                 plain greeting: use pop3s://{host}:{port} (tls = \"implicit\"), or pop3:// \
                 with the STLS port (usually 110)",
                port = opts.port,
                host = opts.host
            ),
        ));
    }
    let left = opts.io_timeout.saturating_sub(started.elapsed());
    let result = if left.is_zero() {
        Err(io::Error::from(io::ErrorKind::TimedOut))
    } else {
        first_byte_within(tcp, left)
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if silent(&e) => Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "{} accepted the connection but sent no greeting in {} s: is it a POP3 port? \
                 (timeout_secs sets how long to wait)",
                opts.server(),
                started.elapsed().as_secs().max(1)
            ),
        )),
        Err(e) => Err(Error::io(&e, "waiting for the greeting")),
    }
}

/// Wait up to `wait` for the first byte (or the end) of the stream without
/// consuming it; the socket's own read timeout is restored after.
fn first_byte_within(tcp: &TcpStream, wait: Duration) -> io::Result<()> {
    let before = tcp.read_timeout()?;
    tcp.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
    let deadline = std::time::Instant::now() + wait;
    let result = loop {
        match tcp.peek(&mut [0u8; 1]) {
            // Data, or the end of the stream: the greeting read reports it.
            Ok(_) => break Ok(()),
            Err(e)
                if e.kind() == io::ErrorKind::Interrupted
                    && std::time::Instant::now() < deadline => {}
            Err(e) => break Err(e),
        }
    };
    tcp.set_read_timeout(before)?;
    result
}

/// Whether the server at `opts` answers a TLS handshake, on a connection
/// of its own, within [`TLS_PROBE_TIMEOUT`]. The certificate is not
/// checked (only the protocol matters) and nothing but the handshake is
/// sent.
fn speaks_tls(opts: &ConnectOptions) -> bool {
    let mut probe = opts.clone();
    probe.connect_timeout = opts.connect_timeout.min(TLS_PROBE_TIMEOUT);
    probe.io_timeout = TLS_PROBE_TIMEOUT;
    let Ok(tcp) = open_tcp(&probe) else {
        return false;
    };
    let mut builder = TlsConnector::builder();
    builder.danger_accept_invalid_certs(true);
    builder.danger_accept_invalid_hostnames(true);
    let Ok(connector) = builder.build() else {
        return false;
    };
    match connector.connect(&opts.host, Uninterrupted::new(tcp)) {
        Ok(tls) => {
            let _ = tls.get_ref().get_ref().shutdown(std::net::Shutdown::Both);
            true
        }
        // A TLS alert (an old protocol version, no shared cipher) is TLS too.
        Err(HandshakeError::Failure(e)) => e.to_string().to_ascii_lowercase().contains("alert"),
        Err(HandshakeError::WouldBlock(_)) => false,
    }
}

/// The SHA-256 fingerprint (lower-case hex) of the certificate the server
/// presents, read without trusting it, for telling the user what pinning
/// would trust after a failed verification. A connection of its own; no
/// credential is sent (only CAPA, and STLS where configured).
pub fn certificate_fingerprint(opts: &ConnectOptions) -> Result<String> {
    let mut probe = opts.clone();
    probe.pin_sha256 = None;
    probe.accept_invalid_certs = true;
    match connect(&probe, None)?.security {
        Security::Implicit(i) | Security::StartTls(i) => Ok(i.fingerprint_sha256),
        Security::Plain => Err(Error::local("the connection has no TLS certificate")),
    }
}

fn open_tcp(opts: &ConnectOptions) -> Result<TcpStream> {
    let addrs: Vec<_> = (opts.host.as_str(), opts.port)
        .to_socket_addrs()
        .map_err(|e| {
            Error::new(
                ErrorKind::Network,
                format!("can't resolve the host name \"{}\": {e}", opts.host),
            )
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, opts.connect_timeout) {
            Ok(tcp) => {
                let setup = tcp
                    .set_read_timeout(Some(opts.io_timeout))
                    .and_then(|()| tcp.set_write_timeout(Some(opts.io_timeout)))
                    .and_then(|()| tcp.set_nodelay(true));
                setup.map_err(|e| Error::io(&e, "setting up the connection"))?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => Error::io(&e, &format!("connecting to {}", opts.server())),
        None => Error::new(
            ErrorKind::Network,
            format!("the host name \"{}\" has no address", opts.host),
        ),
    })
}

fn connector(opts: &ConnectOptions) -> Result<TlsConnector> {
    let mut builder = TlsConnector::builder();
    builder.min_protocol_version(Some(Protocol::Tlsv12));
    if let Some(path) = &opts.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| Error::local(format!("can't read the CA file {}: {e}", path.display())))?;
        let certs = Certificate::stack_from_pem(&pem)
            .map_err(|e| Error::local(format!("bad certificate in {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(Error::local(format!(
                "the CA file {} holds no PEM certificate",
                path.display()
            )));
        }
        for cert in certs {
            builder.add_root_certificate(cert);
        }
    }
    if opts.pin_sha256.is_some() || opts.accept_invalid_certs {
        // With a pin, the fingerprint check after the handshake is the trust
        // decision (for self-signed servers); without one, the user opted out.
        builder.danger_accept_invalid_certs(true);
        builder.danger_accept_invalid_hostnames(true);
    }
    builder
        .build()
        .map_err(|e| Error::new(ErrorKind::Tls, format!("can't set up TLS: {e}")))
}

fn handshake(opts: &ConnectOptions, tcp: Tcp) -> Result<(TlsStream<Tcp>, TlsInfo)> {
    let connector = connector(opts)?;
    let tls = match connector.connect(&opts.host, tcp) {
        Ok(tls) => tls,
        Err(HandshakeError::WouldBlock(_)) => {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "the TLS handshake with {} did not complete in time",
                    opts.server()
                ),
            ));
        }
        Err(HandshakeError::Failure(e)) => return Err(tls_failure(opts, &e)),
    };
    let der = tls
        .peer_certificate()
        .ok()
        .flatten()
        .and_then(|c| c.to_der().ok())
        .ok_or_else(|| Error::new(ErrorKind::Tls, "the server presented no certificate"))?;
    let fingerprint: [u8; 32] = Sha256::digest(&der).into();
    let trust = match opts.pin_sha256 {
        Some(pin) if pin == fingerprint => Trust::Pinned,
        Some(pin) => {
            return Err(Error::new(
                ErrorKind::Tls,
                format!(
                    "the certificate of {} does not match the pinned fingerprint \
                     (pinned {}, server has {}); if the server's certificate really \
                     changed, update the pin",
                    opts.server(),
                    hex::encode(pin),
                    hex::encode(fingerprint)
                ),
            ));
        }
        None if opts.accept_invalid_certs => Trust::Unverified,
        None => Trust::Verified,
    };
    Ok((
        tls,
        TlsInfo {
            trust,
            fingerprint_sha256: hex::encode(fingerprint),
        },
    ))
}

fn tls_failure(opts: &ConnectOptions, e: &native_tls::Error) -> Error {
    let detail = e.to_string();
    let lower = detail.to_ascii_lowercase();
    let server = opts.server();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    // The cause and what to do come first, OpenSSL's words last: a status
    // line that cuts the message keeps the part a person needs.
    let message = if has(&["certificate", "verify"]) {
        format!(
            "can't verify the certificate of {server}: if you trust this server, add its CA \
             with --ca-file, or pin its SHA-256 fingerprint with cert_fingerprint in the \
             account (`popview serverinfo` prints the line) ({detail})"
        )
    } else if has(&["timed out", "temporarily unavailable"]) {
        return Error::new(
            ErrorKind::Timeout,
            format!("the TLS handshake with {server} timed out"),
        );
    } else if has(&[
        "unexpected eof",
        "connection reset",
        "broken pipe",
        "connection aborted",
        // EINTR: kept for a signal storm that outlasts the retries below
        // TLS (see `Uninterrupted`).
        "interrupted system call",
    ]) {
        // The connection dropped mid-handshake: a network failure, retried
        // like any other (on a new connection with a new handshake; nothing
        // was sent over this one).
        return Error::new(
            ErrorKind::Network,
            format!("the connection to {server} closed during the TLS handshake ({detail})"),
        );
    } else if has(&[
        "wrong version number",
        "packet length too long",
        "http request",
    ]) {
        // What a plain-text server's greeting looks like to a TLS client.
        format!(
            "port {port} of {host} does not speak TLS from the start (it greets in clear \
             text): use pop3://{host}:{port} (STLS), or pop3s:// with the POP3S port \
             (usually 995) ({detail})",
            port = opts.port,
            host = opts.host
        )
    } else if has(&["protocol", "version"]) {
        format!(
            "{server} offers only an old TLS version, and popview requires TLS 1.2 or newer \
             ({detail})"
        )
    } else {
        format!(
            "TLS with {server} failed: check that the port speaks TLS (995 for pop3s://, \
             110 with STLS for pop3://) ({detail})"
        )
    };
    Error::new(ErrorKind::Tls, message)
}

/// Parse a SHA-256 fingerprint written as 64 hex digits, with or without
/// `:` separators (as `openssl x509 -fingerprint -sha256` prints it).
pub fn parse_fingerprint(s: &str) -> Option<[u8; 32]> {
    let digits: String = s
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(&digits, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_with_and_without_colons() {
        let hexs = "AB".repeat(32);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(parse_fingerprint(&hexs), Some([0xab; 32]));
        assert_eq!(parse_fingerprint(&colons), Some([0xab; 32]));
        assert_eq!(parse_fingerprint("abcd"), None);
        assert_eq!(parse_fingerprint(&"zz".repeat(32)), None);
    }
}
