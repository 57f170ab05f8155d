//! Authentication: USER/PASS, APOP and SASL PLAIN (RFC 1939, 5034, 4616),
//! the choice among them, and the local checks made before anything is sent.

use base64::Engine;
use md5::{Digest, Md5};

use super::error::{Error, Result};
use super::response::{Capabilities, apop_timestamp};

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// The best method the server offers.
    #[default]
    Auto,
    User,
    Apop,
    Plain,
}

impl AuthMethod {
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Auto => "auto",
            AuthMethod::User => "USER/PASS",
            AuthMethod::Apop => "APOP",
            AuthMethod::Plain => "SASL PLAIN",
        }
    }
}

/// A user name and password. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    /// Refuse credentials that would break the line protocol (SECURITY C12):
    /// CR, LF or NUL could smuggle extra commands.
    pub fn validate(&self) -> Result<()> {
        let bad = |s: &str| s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0));
        if self.user.is_empty() {
            return Err(Error::local("the user name is empty"));
        }
        if bad(&self.user) {
            return Err(Error::local(
                "the user name contains a line break or NUL character; nothing was sent",
            ));
        }
        if bad(&self.password) {
            return Err(Error::local(
                "the password contains a line break or NUL character; nothing was sent",
            ));
        }
        if self.user.len() > 255 || self.password.len() > 255 {
            return Err(Error::local(
                "the user name or password is longer than 255 bytes; POP3 can't carry it",
            ));
        }
        Ok(())
    }
}

/// The APOP digest: lower-case hex MD5 of the greeting timestamp followed by
/// the password (RFC 1939 section 7).
pub fn apop_digest(timestamp: &str, password: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(timestamp.as_bytes());
    md5.update(password.as_bytes());
    hex::encode(md5.finalize())
}

/// The SASL PLAIN initial response, base64 of `\0user\0password` (RFC 4616).
pub fn plain_initial_response(creds: &Credentials) -> String {
    let mut raw = Vec::with_capacity(creds.user.len() + creds.password.len() + 2);
    raw.push(0);
    raw.extend_from_slice(creds.user.as_bytes());
    raw.push(0);
    raw.extend_from_slice(creds.password.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// RFC 5034 section 4: the initial response may go on the AUTH line only if
/// the whole command stays within 255 octets.
pub fn fits_on_auth_line(mechanism: &str, initial: &str) -> bool {
    "AUTH ".len() + mechanism.len() + 1 + initial.len() + 2 <= 255
}

/// Pick the method to use from what the server offers after TLS.
/// `secure` is true when the connection is protected by TLS.
pub fn choose(
    wanted: AuthMethod,
    caps: &Capabilities,
    greeting_text: &str,
    secure: bool,
) -> Result<AuthMethod> {
    let has_apop = apop_timestamp(greeting_text).is_some();
    // Without CAPA we can't know; USER is mandatory-to-try in RFC 1939.
    let has_user = caps.user || !caps.known;
    let has_plain = caps.has_sasl("PLAIN");
    let offered = || {
        let mut v = Vec::new();
        if has_user {
            v.push("USER");
        }
        if has_apop {
            v.push("APOP");
        }
        if has_plain {
            v.push("SASL PLAIN");
        }
        if v.is_empty() {
            "nothing popview supports".to_string()
        } else {
            v.join(", ")
        }
    };
    let refuse = |m: AuthMethod| {
        Err(Error::local(format!(
            "the server does not offer {} (it offers: {}); choose another authentication method",
            m.name(),
            offered()
        )))
    };
    match wanted {
        AuthMethod::User if has_user => Ok(AuthMethod::User),
        AuthMethod::Apop if has_apop => Ok(AuthMethod::Apop),
        AuthMethod::Plain if has_plain || !caps.known => Ok(AuthMethod::Plain),
        AuthMethod::Auto => {
            // Without TLS (only when the user allowed cleartext), APOP keeps
            // the password itself off the wire.
            if !secure && has_apop {
                Ok(AuthMethod::Apop)
            } else if has_user && caps.pipelining {
                // Over TLS both send the password as is; USER/PASS can share
                // one write with the first commands of the session, while a
                // SASL exchange must finish before anything follows it.
                Ok(AuthMethod::User)
            } else if has_plain {
                Ok(AuthMethod::Plain)
            } else if has_user {
                Ok(AuthMethod::User)
            } else if has_apop {
                Ok(AuthMethod::Apop)
            } else {
                Err(Error::local(format!(
                    "the server offers no authentication method popview supports (it lists SASL: {})",
                    if caps.sasl.is_empty() {
                        "none".to_string()
                    } else {
                        caps.sasl.join(" ")
                    }
                )))
            }
        }
        other => refuse(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apop_digest_matches_rfc1939_example() {
        // RFC 1939 section 7.
        assert_eq!(
            apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn plain_response_matches_rfc4616_shape() {
        let r = plain_initial_response(&Credentials::new("tim", "tanstaaftanstaaf"));
        assert_eq!(r, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    }

    #[test]
    fn credentials_with_line_breaks_are_refused() {
        for (u, p) in [("a\r\nDELE 1", "x"), ("a", "x\ny"), ("a\0", "x"), ("", "x")] {
            assert!(Credentials::new(u, p).validate().is_err(), "{u:?} {p:?}");
        }
        assert!(Credentials::new("a", "ok pass").validate().is_ok());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let s = format!("{:?}", Credentials::new("u", "hunter2"));
        assert!(!s.contains("hunter2"));
    }

    #[test]
    fn auto_prefers_plain_with_tls_and_apop_without() {
        let caps = Capabilities::parse(b"USER\r\nSASL PLAIN LOGIN\r\n");
        let g = "POP3 ready <1.2@host>";
        let piped = Capabilities::parse(b"USER\r\nPIPELINING\r\nSASL PLAIN\r\n");
        assert_eq!(
            choose(AuthMethod::Auto, &piped, g, true).unwrap(),
            AuthMethod::User,
            "USER/PASS pipelines with the listing"
        );
        assert_eq!(
            choose(AuthMethod::Auto, &caps, g, true).unwrap(),
            AuthMethod::Plain
        );
        assert_eq!(
            choose(AuthMethod::Auto, &caps, g, false).unwrap(),
            AuthMethod::Apop
        );
        let caps = Capabilities::parse(b"USER\r\n");
        assert_eq!(
            choose(AuthMethod::Auto, &caps, "ready", true).unwrap(),
            AuthMethod::User
        );
        let caps = Capabilities::parse(b"TOP\r\n");
        assert!(choose(AuthMethod::Auto, &caps, "ready", true).is_err());
        assert!(choose(AuthMethod::Apop, &caps, "ready <bad>", true).is_err());
    }

    #[test]
    fn initial_response_length_rule() {
        assert!(fits_on_auth_line("PLAIN", &"A".repeat(200)));
        assert!(!fits_on_auth_line("PLAIN", &"A".repeat(243)));
        assert!(fits_on_auth_line("PLAIN", &"A".repeat(242)));
    }
}
