//! POP3 commands: their wire form, their redacted trace form, and the state
//! they belong to.

use super::response::BodyLimits;

/// One POP3 command.
#[derive(Clone, PartialEq, Eq)]
pub enum Command {
    Capa,
    Stls,
    User(String),
    /// The password, wiped from memory when the command is dropped.
    Pass(zeroize::Zeroizing<String>),
    Apop {
        user: String,
        digest: String,
    },
    /// `AUTH mechanism [initial-response]`.
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
    /// A SASL response line (after a `+ ` challenge).
    SaslResponse(String),
    Stat,
    List(Option<u32>),
    Uidl(Option<u32>),
    /// `TOP msg lines`; `size` is the LIST size, a hint for the limits.
    Top {
        msg: u32,
        lines: u32,
        size: Option<u64>,
    },
    Retr {
        msg: u32,
        size: Option<u64>,
    },
    Dele(u32),
    Noop,
    Rset,
    Quit,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.trace_form())
    }
}

/// Which session states a command is allowed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    Authorization,
    Transaction,
    Both,
}

impl Command {
    /// The bytes sent, CRLF included.
    pub fn wire(&self) -> Vec<u8> {
        let s = match self {
            Command::Capa => "CAPA".to_string(),
            Command::Stls => "STLS".to_string(),
            Command::User(u) => format!("USER {u}"),
            Command::Pass(p) => format!("PASS {}", p.as_str()),
            Command::Apop { user, digest } => format!("APOP {user} {digest}"),
            Command::Auth {
                mechanism,
                initial: Some(ir),
            } => format!("AUTH {mechanism} {ir}"),
            Command::Auth {
                mechanism,
                initial: None,
            } => format!("AUTH {mechanism}"),
            Command::SaslResponse(r) => r.clone(),
            Command::Stat => "STAT".to_string(),
            Command::List(None) => "LIST".to_string(),
            Command::List(Some(n)) => format!("LIST {n}"),
            Command::Uidl(None) => "UIDL".to_string(),
            Command::Uidl(Some(n)) => format!("UIDL {n}"),
            Command::Top { msg, lines, .. } => format!("TOP {msg} {lines}"),
            Command::Retr { msg, .. } => format!("RETR {msg}"),
            Command::Dele(n) => format!("DELE {n}"),
            Command::Noop => "NOOP".to_string(),
            Command::Rset => "RSET".to_string(),
            Command::Quit => "QUIT".to_string(),
        };
        let mut v = s.into_bytes();
        v.extend_from_slice(b"\r\n");
        v
    }

    /// The form written to the wire trace: secrets redacted.
    pub fn trace_form(&self) -> String {
        match self {
            Command::Pass(_) => "PASS <redacted>".to_string(),
            Command::Apop { user, .. } => format!("APOP {user} <redacted>"),
            Command::Auth {
                mechanism,
                initial: Some(_),
            } => format!("AUTH {mechanism} <redacted>"),
            Command::SaslResponse(_) => "<redacted SASL response>".to_string(),
            other => {
                let w = other.wire();
                String::from_utf8_lossy(&w[..w.len() - 2]).into_owned()
            }
        }
    }

    /// The command's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } | Command::SaslResponse(_) => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Top { .. } => "TOP",
            Command::Retr { .. } => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
        }
    }

    pub fn allowed(&self) -> Allowed {
        match self {
            Command::Capa | Command::Quit => Allowed::Both,
            Command::Stls
            | Command::User(_)
            | Command::Pass(_)
            | Command::Apop { .. }
            | Command::Auth { .. }
            | Command::SaslResponse(_) => Allowed::Authorization,
            _ => Allowed::Transaction,
        }
    }

    /// The limits for the multi-line answer, or `None` for a one-line answer.
    pub fn multi_line(&self) -> Option<BodyLimits> {
        match self {
            Command::Capa => Some(BodyLimits::listing(Some(64))),
            Command::List(None) | Command::Uidl(None) => Some(BodyLimits::listing(None)),
            Command::Top { lines: 0, size, .. } => Some(BodyLimits::headers(*size)),
            Command::Top { size, .. } | Command::Retr { size, .. } => {
                Some(BodyLimits::message(*size))
            }
            _ => None,
        }
    }

    /// A failed answer to this command means the credentials were refused.
    pub fn is_authentication(&self) -> bool {
        matches!(
            self,
            Command::Pass(_)
                | Command::Apop { .. }
                | Command::Auth { .. }
                | Command::SaslResponse(_)
        )
    }
}
