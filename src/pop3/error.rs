//! Errors of the protocol layer, each with a kind the UI can act on.

use std::fmt;

/// What went wrong, in the terms the user (or the worker's retry logic) acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The server refused the credentials (`[AUTH]` or a plain `-ERR` to PASS/APOP/AUTH).
    Auth,
    /// Another client holds the maildrop lock (`[IN-USE]`).
    InUse,
    /// The server wants a pause between logins (`[LOGIN-DELAY]`).
    LoginDelay,
    /// A temporary server-side failure (`[SYS/TEMP]`): retrying later may work.
    TempFailure,
    /// A permanent server-side failure (`[SYS/PERM]`): retrying will not help.
    PermFailure,
    /// Connecting, reading or writing failed (refused, reset, closed).
    Network,
    /// The peer did not answer in time.
    Timeout,
    /// The TLS handshake or certificate verification failed.
    Tls,
    /// The server broke the protocol (malformed, oversized or unsolicited data).
    Protocol,
    /// The server answered `-ERR` to a command (see the code and text).
    Refused,
    /// Refused locally before anything was sent: security policy, bad input, wrong state.
    Local,
}

/// A protocol-layer error: a kind, a message a person understands, and the
/// server's response code when there was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub code: Option<RespCode>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            code: None,
        }
    }

    pub fn with_code(mut self, code: Option<RespCode>) -> Self {
        self.code = code;
        self
    }

    /// The same error (kind and response code) told in the caller's
    /// terms: `reword` gets the original message and returns the new one.
    pub fn reword(self, reword: impl FnOnce(&str) -> String) -> Self {
        Error {
            message: reword(&self.message),
            ..self
        }
    }

    pub fn protocol(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, message)
    }

    pub fn local(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Local, message)
    }

    /// True when the connection can no longer be used and must be dropped
    /// (transport, TLS or framing failures). Refusals by the server and local
    /// refusals leave the session usable.
    pub fn is_fatal_to_session(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Tls | ErrorKind::Protocol
        )
    }

    /// Map an I/O error to a kind; `during` says what we were doing.
    pub fn io(err: &std::io::Error, during: &str) -> Self {
        use std::io::ErrorKind as K;
        let kind = match err.kind() {
            K::TimedOut | K::WouldBlock => ErrorKind::Timeout,
            _ => ErrorKind::Network,
        };
        let message = match kind {
            ErrorKind::Timeout => format!("the server did not answer in time while {during}"),
            _ => match err.kind() {
                K::UnexpectedEof => format!("the server closed the connection while {during}"),
                K::ConnectionRefused => {
                    format!("connection refused while {during}: is the host and port right?")
                }
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                    format!("the connection was cut while {during}")
                }
                _ => format!("network error while {during}: {err}"),
            },
        };
        Error::new(kind, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An extended response code (RFC 2449 section 8, RFC 3206).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RespCode {
    /// `[IN-USE]`: another session holds the maildrop lock.
    InUse,
    /// `[LOGIN-DELAY]`: logged in too soon after the previous login.
    LoginDelay,
    /// `[SYS/TEMP]`: temporary system failure.
    SysTemp,
    /// `[SYS/PERM]`: permanent system failure.
    SysPerm,
    /// `[AUTH]`: the credentials are wrong.
    Auth,
    /// `[UTF8]` (RFC 6856).
    Utf8,
    /// Any other code, upper-cased, as text (printable ASCII only).
    Other(String),
}

impl RespCode {
    /// The code between the brackets, matched case-insensitively.
    pub(super) fn parse(inner: &str) -> RespCode {
        match inner.to_ascii_uppercase().as_str() {
            "IN-USE" => RespCode::InUse,
            "LOGIN-DELAY" => RespCode::LoginDelay,
            "SYS/TEMP" => RespCode::SysTemp,
            "SYS/PERM" => RespCode::SysPerm,
            "AUTH" => RespCode::Auth,
            "UTF8" => RespCode::Utf8,
            other => RespCode::Other(other.to_string()),
        }
    }
}
