//! Authentication: USER/PASS, APOP and the SASL mechanisms (RFC 1939, 5034;
//! PLAIN, LOGIN, SCRAM-SHA-256, XOAUTH2 and OAUTHBEARER in [`super::sasl`]),
//! the choice among them, and the local checks made before anything is sent.

use base64::Engine;
use md5::{Digest, Md5};
use zeroize::Zeroizing;

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
    /// SASL LOGIN: the user name and password after two `+` prompts.
    Login,
    /// SCRAM-SHA-256 (RFC 7677): the password never crosses the wire and
    /// the server proves it knows it.
    ScramSha256,
    /// XOAUTH2: an OAuth 2.0 access token in the password's place.
    XOAuth2,
    /// OAUTHBEARER (RFC 7628): the same, standardised.
    OAuthBearer,
}

impl AuthMethod {
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Auto => "auto",
            AuthMethod::User => "USER/PASS",
            AuthMethod::Apop => "APOP",
            AuthMethod::Plain => "SASL PLAIN",
            AuthMethod::Login => "SASL LOGIN",
            AuthMethod::ScramSha256 => "SCRAM-SHA-256",
            AuthMethod::XOAuth2 => "XOAUTH2",
            AuthMethod::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The SASL mechanism name, for the SASL methods.
    pub fn mechanism(self) -> Option<&'static str> {
        match self {
            AuthMethod::Plain => Some("PLAIN"),
            AuthMethod::Login => Some("LOGIN"),
            AuthMethod::ScramSha256 => Some("SCRAM-SHA-256"),
            AuthMethod::XOAuth2 => Some("XOAUTH2"),
            AuthMethod::OAuthBearer => Some("OAUTHBEARER"),
            AuthMethod::Auto | AuthMethod::User | AuthMethod::Apop => None,
        }
    }

    /// The "password" is an OAuth 2.0 access token.
    pub fn is_oauth(self) -> bool {
        matches!(self, AuthMethod::XOAuth2 | AuthMethod::OAuthBearer)
    }

    /// The values of the `auth` setting and of `;auth=` in a URL, with
    /// the method each names. One table for both.
    pub const SETTING_VALUES: &[(&'static str, AuthMethod)] = &[
        ("auto", AuthMethod::Auto),
        ("user", AuthMethod::User),
        ("apop", AuthMethod::Apop),
        ("plain", AuthMethod::Plain),
        ("login", AuthMethod::Login),
        ("scram-sha-256", AuthMethod::ScramSha256),
        ("xoauth2", AuthMethod::XOAuth2),
        ("oauthbearer", AuthMethod::OAuthBearer),
    ];
}

/// Longest access token accepted (Microsoft's are a few KB; a token helper
/// printing more is broken).
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// A user name and password. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    /// Wiped from memory when dropped.
    pub password: Zeroizing<String>,
    /// The server's host and port as configured (OAUTHBEARER names them).
    pub server: Option<(String, u16)>,
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
            password: Zeroizing::new(password.into()),
            server: None,
        }
    }

    /// The same credentials for the server at `host`:`port`.
    pub fn at(mut self, host: impl Into<String>, port: u16) -> Self {
        self.server = Some((host.into(), port));
        self
    }

    /// Refuse credentials that would break the line protocol (SECURITY C12):
    /// CR, LF or NUL could smuggle extra commands.
    pub fn validate(&self) -> Result<()> {
        self.validate_for(AuthMethod::Auto)
    }

    /// [`Credentials::validate`] for `method`: an OAuth access token may be
    /// up to [`MAX_TOKEN_LEN`] bytes, a password 255.
    pub fn validate_for(&self, method: AuthMethod) -> Result<()> {
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
        if method.is_oauth() {
            if self.user.len() > 255 || self.password.len() > MAX_TOKEN_LEN {
                return Err(Error::local(format!(
                    "the user name is longer than 255 bytes or the access token longer than \
                     {} KiB; check what the token command prints",
                    MAX_TOKEN_LEN / 1024
                )));
            }
            if self.password.bytes().any(|b| !(0x20..0x7f).contains(&b)) {
                return Err(Error::local(
                    "the access token contains characters a bearer token can't have; \
                     check what the token command prints (only the token, on one line)",
                ));
            }
            return Ok(());
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

/// The SASL PLAIN message, `\0user\0password` (RFC 4616).
pub fn plain_message(creds: &Credentials) -> zeroize::Zeroizing<Vec<u8>> {
    let mut raw = Vec::with_capacity(creds.user.len() + creds.password.len() + 2);
    raw.push(0);
    raw.extend_from_slice(creds.user.as_bytes());
    raw.push(0);
    raw.extend_from_slice(creds.password.as_bytes());
    zeroize::Zeroizing::new(raw)
}

/// The SASL PLAIN initial response, base64 of [`plain_message`].
pub fn plain_initial_response(creds: &Credentials) -> String {
    base64::engine::general_purpose::STANDARD.encode(plain_message(creds).as_slice())
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
    let has = |m: AuthMethod| m.mechanism().is_some_and(|name| caps.has_sasl(name));
    let has_scram = has(AuthMethod::ScramSha256);
    let has_login = has(AuthMethod::Login);
    let offered = || {
        let mut v = Vec::new();
        if has_user {
            v.push("USER");
        }
        if has_apop {
            v.push("APOP");
        }
        for m in [
            AuthMethod::Plain,
            AuthMethod::Login,
            AuthMethod::ScramSha256,
            AuthMethod::XOAuth2,
            AuthMethod::OAuthBearer,
        ] {
            if has(m) {
                v.push(m.name());
            }
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
        // Asked for by name: tried when offered, or when the server doesn't
        // say what it offers (no CAPA).
        m @ (AuthMethod::Login
        | AuthMethod::ScramSha256
        | AuthMethod::XOAuth2
        | AuthMethod::OAuthBearer)
            if has(m) || !caps.known =>
        {
            Ok(m)
        }
        // Never an OAuth mechanism: a token is not a password.
        AuthMethod::Auto => {
            if has_scram {
                // The password never crosses the wire, and the server
                // proves it knows it: the best there is, TLS or not.
                Ok(AuthMethod::ScramSha256)
            } else if !secure && has_apop {
                // Without TLS (only when the user allowed cleartext), APOP
                // keeps the password itself off the wire.
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
            } else if has_login {
                Ok(AuthMethod::Login)
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
    fn auto_prefers_scram_and_never_picks_oauth() {
        let g = "POP3 ready <1.2@host>";
        let caps = Capabilities::parse(
            b"USER\r\nPIPELINING\r\nSASL PLAIN LOGIN SCRAM-SHA-256 XOAUTH2 OAUTHBEARER\r\n",
        );
        assert_eq!(
            choose(AuthMethod::Auto, &caps, g, true).unwrap(),
            AuthMethod::ScramSha256
        );
        assert_eq!(
            choose(AuthMethod::Auto, &caps, g, false).unwrap(),
            AuthMethod::ScramSha256
        );
        let oauth_only = Capabilities::parse(b"SASL XOAUTH2 OAUTHBEARER\r\n");
        assert!(choose(AuthMethod::Auto, &oauth_only, "ready", true).is_err());
        let login_only = Capabilities::parse(b"SASL LOGIN XOAUTH2\r\n");
        assert_eq!(
            choose(AuthMethod::Auto, &login_only, "ready", true).unwrap(),
            AuthMethod::Login
        );
        for m in [
            AuthMethod::Login,
            AuthMethod::ScramSha256,
            AuthMethod::XOAuth2,
            AuthMethod::OAuthBearer,
        ] {
            assert_eq!(choose(m, &caps, g, true).unwrap(), m);
            let e = choose(m, &Capabilities::parse(b"USER\r\n"), g, true).unwrap_err();
            assert!(e.message.contains(m.name()), "{}", e.message);
        }
        // No CAPA: asked for by name, tried.
        let unknown = Capabilities::default();
        assert_eq!(
            choose(AuthMethod::XOAuth2, &unknown, g, true).unwrap(),
            AuthMethod::XOAuth2
        );
    }

    #[test]
    fn tokens_may_be_long_but_not_multi_line() {
        let long = "a".repeat(10_000);
        assert!(Credentials::new("u", &long).validate().is_err());
        assert!(
            Credentials::new("u", &long)
                .validate_for(AuthMethod::XOAuth2)
                .is_ok()
        );
        for bad in ["a\nb", "a\u{1}b", "é"] {
            assert!(
                Credentials::new("u", bad)
                    .validate_for(AuthMethod::OAuthBearer)
                    .is_err()
            );
        }
        let huge = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(
            Credentials::new("u", &huge)
                .validate_for(AuthMethod::XOAuth2)
                .is_err()
        );
    }

    #[test]
    fn initial_response_length_rule() {
        assert!(fits_on_auth_line("PLAIN", &"A".repeat(200)));
        assert!(!fits_on_auth_line("PLAIN", &"A".repeat(243)));
        assert!(fits_on_auth_line("PLAIN", &"A".repeat(242)));
    }
}
