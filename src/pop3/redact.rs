//! The known secrets of a session (the password and the forms it takes on
//! the wire), cut out of server text before that text leaves the protocol
//! layer: in an error message, a greeting, a capability, a reply's text or
//! the wire trace. A server that echoes `-ERR bad password hunter2` must
//! not put the password on the screen, on stderr or in a log.
//!
//! Redaction is applied to the *text* of what the server said, after the
//! protocol has been parsed: a short password such as `OK` or `12` never
//! corrupts `+OK` or a STAT answer.

use std::borrow::Cow;

use base64::Engine as _;

use super::auth::Credentials;
use super::error::Error;

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Shortest prefix of a secret that is redacted where a shortened preview
/// (`"…hunt…"`) cut the secret off.
const MIN_CUT_PREFIX: usize = 3;

/// The secrets to cut out; `Debug` shows only how many there are.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// Longest first, so a secret inside a longer one is not left half.
    forms: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} redacted)", self.forms.len())
    }
}

impl Secrets {
    /// The password of `creds` and its wire forms: base64 of the password
    /// (SASL LOGIN) and the SASL PLAIN response (`\0user\0password`, and
    /// with the user as authorization id too).
    pub fn of(creds: &Credentials) -> Secrets {
        let mut s = Secrets::default();
        s.add_password(&creds.user, &creds.password);
        s
    }

    /// Add a password for `user` with its wire forms.
    pub fn add_password(&mut self, user: &str, password: &str) {
        if password.is_empty() {
            return;
        }
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        self.add(password);
        self.add(&b64(password.as_bytes()));
        self.add(&b64(format!("\0{user}\0{password}").as_bytes()));
        self.add(&b64(format!("{user}\0{user}\0{password}").as_bytes()));
    }

    /// Add one secret as it may appear in text (ignored when empty).
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() || self.forms.iter().any(|f| f == secret) {
            return;
        }
        self.forms.push(secret.to_string());
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    /// Every secret of `other` too.
    pub fn extend(&mut self, other: &Secrets) {
        for f in &other.forms {
            self.add(f);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// `text` with every secret replaced by [`REDACTED`], and a secret's
    /// start cut off by a shortened preview (`hunt…`) too.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.forms.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = Cow::Borrowed(text);
        for f in &self.forms {
            if out.contains(f.as_str()) {
                out = Cow::Owned(out.replace(f.as_str(), REDACTED));
            }
        }
        // Only a shortened preview ends in `…`.
        if !out.contains('…') {
            return out;
        }
        for f in &self.forms {
            let cuts = f
                .char_indices()
                .map(|(i, _)| i)
                .filter(|&i| i >= MIN_CUT_PREFIX);
            for end in cuts.rev() {
                let cut = format!("{}…", &f[..end]);
                if out.contains(&cut) {
                    out = Cow::Owned(out.replace(&cut, &format!("{REDACTED}…")));
                }
            }
        }
        out
    }

    /// [`Secrets::redact`] over bytes (a line as received). Bytes that are
    /// not UTF-8 are compared as they are.
    pub fn redact_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        if self.forms.is_empty() {
            return Cow::Borrowed(bytes);
        }
        let mut out: Cow<'a, [u8]> = Cow::Borrowed(bytes);
        for f in &self.forms {
            let f = f.as_bytes();
            if !out.windows(f.len()).any(|w| w == f) {
                continue;
            }
            let mut next = Vec::with_capacity(out.len());
            let mut i = 0;
            while i < out.len() {
                if out[i..].starts_with(f) {
                    next.extend_from_slice(REDACTED.as_bytes());
                    i += f.len();
                } else {
                    next.push(out[i]);
                    i += 1;
                }
            }
            out = Cow::Owned(next);
        }
        out
    }

    /// The same error with its message redacted.
    pub fn error(&self, e: Error) -> Error {
        if self.forms.is_empty() {
            return e;
        }
        let message = self.redact(&e.message).into_owned();
        Error { message, ..e }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::of(&Credentials::new("alice", "hunter2"))
    }

    #[test]
    fn the_password_and_its_wire_forms_are_cut() {
        let s = secrets();
        let plain = base64::engine::general_purpose::STANDARD.encode("\0alice\0hunter2");
        let b64 = base64::engine::general_purpose::STANDARD.encode("hunter2");
        for (text, want) in [
            ("-ERR bad password hunter2", "-ERR bad password <redacted>"),
            ("hunter2hunter2", "<redacted><redacted>"),
            (
                &format!("AUTH PLAIN {plain} rejected") as &str,
                "AUTH PLAIN <redacted> rejected",
            ),
            (&format!("login {b64}"), "login <redacted>"),
            ("nothing secret", "nothing secret"),
            ("hunter", "hunter"),
        ] {
            assert_eq!(s.redact(text), want, "{text:?}");
            assert_eq!(
                s.redact_bytes(text.as_bytes()).as_ref(),
                want.as_bytes(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_secret_cut_by_a_preview_is_cut_too() {
        let s = secrets();
        assert_eq!(s.redact("\"pw is hunt…\""), "\"pw is <redacted>…\"");
        assert_eq!(s.redact("\"pw is hu…\""), "\"pw is hu…\"");
    }

    #[test]
    fn errors_keep_their_kind_and_code() {
        let e = Error::new(super::super::ErrorKind::Auth, "no: hunter2");
        let r = secrets().error(e);
        assert_eq!(r.kind, super::super::ErrorKind::Auth);
        assert_eq!(r.message, "no: <redacted>");
    }

    #[test]
    fn nothing_known_changes_nothing_and_debug_hides_them() {
        let none = Secrets::default();
        assert!(matches!(none.redact("hunter2"), Cow::Borrowed(_)));
        assert!(!format!("{:?}", secrets()).contains("hunter2"));
        let mut s = Secrets::default();
        s.add("");
        assert!(s.is_empty());
    }
}
