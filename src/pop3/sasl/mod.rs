//! The SASL mechanisms (RFC 4422) as pure state machines, one exchange
//! each: PLAIN (RFC 4616), LOGIN, SCRAM-SHA-256 ([`scram`]), XOAUTH2 and
//! OAUTHBEARER ([`oauth`]). They see decoded challenges and return raw
//! responses; the POP3 framing (`AUTH`, `+ `, base64, `*`) is the client's
//! (`client/login.rs`).

pub mod oauth;
pub mod scram;

use zeroize::Zeroizing;

use super::auth::{AuthMethod, Credentials};
use super::error::{Error, ErrorKind, Result};

/// What the mechanism is in the middle of.
enum State {
    Plain,
    /// How many prompts were answered (user name, then password).
    Login(u8),
    Scram(Box<scram::Scram>),
    /// `Some` once the server sent its failure challenge (its status, if
    /// it could be read).
    OAuth(Option<Option<String>>),
}

/// One SASL exchange for one login.
pub struct Sasl {
    method: AuthMethod,
    /// Sent on the AUTH line, or after the first empty challenge.
    initial: Option<Zeroizing<Vec<u8>>>,
    initial_sent: bool,
    user: String,
    password: Zeroizing<String>,
    state: State,
}

impl Sasl {
    /// Start an exchange for `method` (a SASL one). The credentials'
    /// `server` (host, port) goes into OAUTHBEARER's response when known.
    pub fn new(method: AuthMethod, creds: &Credentials) -> Result<Sasl> {
        let password = creds.password.clone();
        let (initial, state) = match method {
            AuthMethod::Plain => (Some(super::auth::plain_message(creds)), State::Plain),
            AuthMethod::Login => (None, State::Login(0)),
            AuthMethod::ScramSha256 => {
                let s = scram::Scram::new(&creds.user, &creds.password)?;
                (
                    Some(Zeroizing::new(s.client_first())),
                    State::Scram(Box::new(s)),
                )
            }
            AuthMethod::XOAuth2 => (
                Some(Zeroizing::new(oauth::xoauth2_response(
                    &creds.user,
                    &creds.password,
                ))),
                State::OAuth(None),
            ),
            AuthMethod::OAuthBearer => {
                let response = match &creds.server {
                    Some((host, port)) => {
                        oauth::oauthbearer_response(&creds.user, host, *port, &creds.password)
                    }
                    None => format!(
                        "n,a={},\x01auth=Bearer {}\x01\x01",
                        creds.user.replace('=', "=3D").replace(',', "=2C"),
                        creds.password.as_str()
                    )
                    .into_bytes(),
                };
                (Some(Zeroizing::new(response)), State::OAuth(None))
            }
            AuthMethod::Auto | AuthMethod::User | AuthMethod::Apop => {
                return Err(Error::local(format!(
                    "internal: {} is not a SASL mechanism",
                    method.name()
                )));
            }
        };
        Ok(Sasl {
            method,
            initial,
            initial_sent: false,
            user: creds.user.clone(),
            password,
            state,
        })
    }

    /// The mechanism's name on the AUTH line.
    pub fn mechanism(&self) -> &'static str {
        self.method.mechanism().unwrap_or("PLAIN")
    }

    /// The initial response to put on the AUTH line, if the mechanism has
    /// one and may send it there: never for XOAUTH2 (Microsoft refuses it),
    /// and only when the line stays within 255 octets (RFC 5034); otherwise
    /// it follows the server's first, empty, challenge.
    pub fn initial_on_auth_line(&mut self, fits: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
        let initial = self.initial.as_ref()?;
        if self.method == AuthMethod::XOAuth2 || !fits(initial) {
            return None;
        }
        self.initial_sent = true;
        Some(initial.to_vec())
    }

    /// The response to a (decoded) challenge, or why the exchange must be
    /// cancelled.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if !self.initial_sent
            && let Some(initial) = &self.initial
        {
            // The empty challenge that asks for the initial response.
            if !challenge.is_empty() {
                return Err(Error::protocol(
                    "the server sent a challenge where an empty one was expected",
                ));
            }
            self.initial_sent = true;
            return Ok(initial.clone());
        }
        match &mut self.state {
            State::Plain => Err(Error::protocol(
                "the server sent a challenge PLAIN does not expect",
            )),
            State::Login(n) => {
                *n += 1;
                match n {
                    1 => Ok(Zeroizing::new(self.user.as_bytes().to_vec())),
                    2 => Ok(Zeroizing::new(self.password.as_bytes().to_vec())),
                    _ => Err(Error::protocol(
                        "the server asked for more than a user name and a password in LOGIN",
                    )),
                }
            }
            State::Scram(s) => {
                if s.verified() {
                    return Err(Error::protocol(
                        "the server sent a challenge after the SCRAM exchange ended",
                    ));
                }
                let first_step_done = s.verify_pending();
                if first_step_done {
                    s.verify(challenge)?;
                    Ok(Zeroizing::new(Vec::new()))
                } else {
                    Ok(Zeroizing::new(s.client_final(challenge)?))
                }
            }
            State::OAuth(failure) => {
                if failure.is_some() {
                    return Err(Error::protocol(
                        "the server sent a second challenge after rejecting the token",
                    ));
                }
                *failure = Some(oauth::failure_status(challenge));
                // The answer that lets the server say `-ERR`.
                Ok(Zeroizing::new(if self.method == AuthMethod::OAuthBearer {
                    vec![1]
                } else {
                    Vec::new()
                }))
            }
        }
    }

    /// The server said `+OK` (with `text`): for SCRAM, the server must
    /// have proven it knows the password, in a challenge or in this text.
    pub fn succeeded(&mut self, text: &str) -> Result<()> {
        if let State::Scram(s) = &mut self.state
            && !s.verified()
        {
            use base64::Engine as _;
            let data = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .unwrap_or_default();
            return s.verify(&data);
        }
        if let State::OAuth(Some(_)) = self.state {
            return Err(Error::protocol(
                "the server accepted a token it had just rejected",
            ));
        }
        Ok(())
    }

    /// The server said `-ERR`: for a token, the failure in words (the
    /// server's status from its challenge, or its `-ERR` text); otherwise
    /// `refusal` as it is.
    pub fn refused(&self, refusal: Error, server_text: &str) -> Error {
        match &self.state {
            State::OAuth(failure) if refusal.kind == ErrorKind::Auth => {
                let text = crate::sanitize::line(server_text);
                let status = match failure {
                    Some(Some(s)) => Some(s.clone()),
                    _ if text.trim().is_empty() => None,
                    _ => Some(text.chars().take(120).collect()),
                };
                Error::new(ErrorKind::Auth, oauth::rejected_message(status.as_deref()))
                    .with_code(refusal.code)
            }
            _ => refusal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_answers_two_prompts_then_refuses_a_third() {
        let mut s = Sasl::new(AuthMethod::Login, &Credentials::new("u", "p")).unwrap();
        assert!(s.initial_on_auth_line(|_| true).is_none());
        assert_eq!(s.respond(b"Username:").unwrap().as_slice(), b"u");
        assert_eq!(s.respond(b"Password:").unwrap().as_slice(), b"p");
        assert!(s.respond(b"More:").is_err());
    }

    #[test]
    fn xoauth2_never_goes_on_the_auth_line() {
        let mut s = Sasl::new(AuthMethod::XOAuth2, &Credentials::new("u", "t")).unwrap();
        assert!(s.initial_on_auth_line(|_| true).is_none());
        assert!(s.respond(b"not empty").is_err());
        let mut s = Sasl::new(AuthMethod::XOAuth2, &Credentials::new("u", "t")).unwrap();
        assert_eq!(
            s.respond(b"").unwrap().as_slice(),
            b"user=u\x01auth=Bearer t\x01\x01"
        );
        assert_eq!(s.respond(br#"{"status":"401"}"#).unwrap().as_slice(), b"");
        assert!(s.respond(b"{}").is_err(), "one failure challenge only");
        let e = s.refused(Error::new(ErrorKind::Auth, "x"), "Authentication failed.");
        assert!(
            e.message.starts_with("the token was rejected: 401"),
            "{}",
            e.message
        );
        assert!(s.succeeded("").is_err());
    }

    #[test]
    fn oauthbearer_answers_a_failure_with_ctrl_a() {
        let creds = Credentials::new("u", "t").at("h", 995);
        let mut s = Sasl::new(AuthMethod::OAuthBearer, &creds).unwrap();
        let ir = s.initial_on_auth_line(|_| true).unwrap();
        assert_eq!(ir, b"n,a=u,\x01host=h\x01port=995\x01auth=Bearer t\x01\x01");
        assert_eq!(
            s.respond(br#"{"status":"invalid_token"}"#)
                .unwrap()
                .as_slice(),
            b"\x01"
        );
        let e = s.refused(Error::new(ErrorKind::Auth, "x"), "");
        assert!(e.message.contains("invalid_token"));
    }

    #[test]
    fn a_long_initial_response_waits_for_the_empty_challenge() {
        let creds = Credentials::new("u", "t".repeat(300)).at("h", 995);
        let mut s = Sasl::new(AuthMethod::OAuthBearer, &creds).unwrap();
        assert!(s.initial_on_auth_line(|ir| ir.len() < 200).is_none());
        assert!(s.respond(b"").unwrap().starts_with(b"n,a=u,"));
    }

    #[test]
    fn scram_without_proof_is_refused_on_ok() {
        let mut s = Sasl::new(AuthMethod::ScramSha256, &Credentials::new("u", "p")).unwrap();
        assert!(s.initial_on_auth_line(|_| true).is_some());
        let e = s.succeeded("Logged in.").unwrap_err();
        assert!(e.message.contains("possible impostor") || e.message.contains("skipped"));
    }
}
