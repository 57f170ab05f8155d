//! Built-in OAuth2 for mailboxes that take only access tokens (Microsoft
//! 365 / Outlook.com, Gmail): the device authorization grant (RFC 8628)
//! behind `popview authorize`, and the refresh exchange (RFC 6749 section 6)
//! that turns the stored refresh token into an access token at login.
//!
//! - [`Settings`]: an account's `[accounts.NAME.oauth2]` table, validated by
//!   the config parser ([`check_url`] is the URL rule it uses).
//! - [`device`]: ask for a user code, then poll the token endpoint as the
//!   server says (`interval`, `slow_down`, `authorization_pending`), bounded
//!   by the code's expiry and a cancel flag (Ctrl-C).
//! - [`TokenSource`]: the access token for a login; kept in memory until it
//!   expires (less [`EXPIRY_MARGIN`]), fetched again on request
//!   ([`Freshness::Fresh`], after the server rejected it). A refresh token
//!   the server rotates is saved at once, atomically, before the new access
//!   token is used; a failed exchange leaves the stored one as it was.
//! - [`vault`]: where the refresh token lives: a 0600 file in the account's
//!   data directory (written like `marks.json`, see [`crate::store`]), or a
//!   pair of commands (`refresh_token_command` prints it,
//!   `refresh_token_store_command` takes a new one on stdin), as NeoMutt's
//!   and mpop's token helpers do.
//! - [`http`]: one blocking POST of a form, https only (plain http only to
//!   127.0.0.1 or localhost, for tests), no redirects, a deadline on the
//!   whole request, the answer capped at [`http::MAX_BODY`], JSON or a clear
//!   error. RFC 6749 errors (`error`, `error_description`) are shown
//!   sanitized.
//!
//! Tokens are secrets: they are held as [`Password`]s (wiped when dropped),
//! never printed, never logged, never in an error or a process argument.

pub mod device;
pub mod http;
mod refresh;
pub mod vault;

use std::path::PathBuf;
use std::time::Duration;

pub use refresh::{EXPIRY_MARGIN, Freshness, TokenSource, forget_cached};

use crate::password::{Password, PasswordError};

/// An account's `[accounts.NAME.oauth2]` table. Holds URLs and command
/// lines, never a secret, so the derived `Debug` is safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub token_url: String,
    pub device_authorization_url: String,
    pub client_id: String,
    /// Run like `password_command`; its output is the client secret.
    pub client_secret_command: Option<String>,
    /// Space-separated scopes; `None`: none sent (the server's default).
    pub scope: Option<String>,
    /// Where the refresh token is kept.
    pub vault: vault::Vault,
    /// A deadline for each HTTP request (the account's `timeout_secs`).
    pub timeout: Duration,
}

impl Settings {
    /// Settings with the refresh token in `file` and a 30 s deadline (for
    /// tests and tools; the config parser fills in the real place).
    pub fn new(
        token_url: impl Into<String>,
        device_authorization_url: impl Into<String>,
        client_id: impl Into<String>,
        file: PathBuf,
    ) -> Self {
        Settings {
            token_url: token_url.into(),
            device_authorization_url: device_authorization_url.into(),
            client_id: client_id.into(),
            client_secret_command: None,
            scope: None,
            vault: vault::Vault::File(file),
            timeout: Duration::from_secs(30),
        }
    }

    /// The client secret, from `client_secret_command`, if there is one.
    fn client_secret(&self) -> Result<Option<Password>, OAuthError> {
        match &self.client_secret_command {
            None => Ok(None),
            Some(cmd) => crate::password::run_command(cmd, crate::password::COMMAND_TIMEOUT)
                .map(Some)
                .map_err(|source| OAuthError::Command {
                    what: "client_secret_command",
                    source,
                }),
        }
    }
}

/// Why no token could be had. Never holds a token or a secret; what the
/// server said is sanitized and shortened.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The endpoint could not be reached, or did not answer in time.
    #[error("can't reach the OAuth2 endpoint {url}: {message}; check the URL and your network")]
    Network { url: String, message: String },
    /// An answer that is not an OAuth2 answer (HTML, garbage, too big).
    #[error(
        "the OAuth2 endpoint {url} answered {}{what}, not an OAuth2 answer; \
         check token_url and device_authorization_url in the config (the provider's \
         documentation gives them)",
        http_status(*.status)
    )]
    Garbage {
        url: String,
        /// The HTTP status; 0 when the answer was not HTTP at all.
        status: u16,
        /// "an HTML page", "more than 64 KiB", "JSON without access_token".
        what: String,
    },
    /// An RFC 6749 error answer (`error`, `error_description`).
    #[error("the OAuth2 server refused: {code}{}{}", describe(.description), advice(.code, .account))]
    Refused {
        code: String,
        description: Option<String>,
        /// The account to re-authorize, for the advice.
        account: Option<String>,
    },
    /// The user said no in the browser (`access_denied`).
    #[error("the authorization was denied in the browser; run popview authorize again to retry")]
    Denied,
    /// The user code expired before the user finished (`expired_token`, or
    /// `expires_in` passed).
    #[error(
        "the code expired before the authorization was finished; run popview authorize \
         again and enter the new code within its time"
    )]
    Expired,
    /// Ctrl-C.
    #[error("authorization cancelled; nothing was stored")]
    Cancelled,
    /// No refresh token is stored yet.
    #[error("no OAuth2 refresh token is stored for this account yet: run popview authorize{}", account_arg(.account))]
    NotAuthorized { account: Option<String> },
    /// A command of the `[oauth2]` table failed.
    #[error("{what}: {source}")]
    Command {
        what: &'static str,
        #[source]
        source: PasswordError,
    },
    /// `refresh_token_store_command` failed (the new refresh token is lost:
    /// the server may have retired the old one).
    #[error(
        "refresh_token_store_command {command:?} failed ({status}){}; the server's new refresh \
         token could not be saved: fix the command, then run popview authorize again",
        stderr_suffix(.stderr)
    )]
    StoreCommand {
        command: String,
        status: String,
        stderr: Option<String>,
    },
    /// The refresh token file could not be read or written.
    #[error("the OAuth2 refresh token file {path}: {message}")]
    File { path: PathBuf, message: String },
}

impl OAuthError {
    /// Whether the stored refresh token itself was refused (re-authorize).
    pub fn needs_authorize(&self) -> bool {
        matches!(self, OAuthError::NotAuthorized { .. })
            || matches!(self, OAuthError::Refused { code, .. } if code == "invalid_grant")
    }
}

fn http_status(status: u16) -> String {
    if status == 0 {
        String::new()
    } else {
        format!("HTTP {status} with ")
    }
}

fn describe(d: &Option<String>) -> String {
    d.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
}

fn stderr_suffix(s: &Option<String>) -> String {
    s.as_ref().map(|s| format!(": {s}")).unwrap_or_default()
}

fn account_arg(account: &Option<String>) -> String {
    account
        .as_ref()
        .map(|a| format!(" --account {a}"))
        .unwrap_or_default()
}

fn advice(code: &str, account: &Option<String>) -> String {
    match code {
        "invalid_grant" => format!(
            "; the refresh token is no longer valid: run popview authorize{}",
            account_arg(account)
        ),
        "invalid_client" | "unauthorized_client" => {
            "; check client_id (and client_secret_command) in the config".to_owned()
        }
        "invalid_scope" => "; check scope in the config".to_owned(),
        _ => String::new(),
    }
}

/// The URL rule for `token_url` and `device_authorization_url`: `https://`,
/// or `http://` to 127.0.0.1, `[::1]` or localhost (tests, local proxies).
/// Returns what is wrong.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("a URL can't contain spaces or control characters".to_owned());
    }
    let (rest, https) = if let Some(r) = url.strip_prefix("https://") {
        (r, true)
    } else if let Some(r) = url.strip_prefix("http://") {
        (r, false)
    } else {
        return Err(
            "expected an https:// URL, e.g. \"https://oauth2.googleapis.com/token\"".to_owned(),
        );
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    if authority.contains('@') {
        return Err("a user name or password in the URL is not allowed".to_owned());
    }
    if !https {
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.split(':').next().unwrap_or(""),
        };
        if !matches!(host, "127.0.0.1" | "::1" | "localhost") {
            return Err(
                "http:// would send the tokens unencrypted: use https:// (http:// is allowed \
                 only for 127.0.0.1 or localhost)"
                    .to_owned(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_except_loopback() {
        assert!(check_url("https://login.microsoftonline.com/common/oauth2/v2.0/token").is_ok());
        assert!(check_url("http://127.0.0.1:8080/token").is_ok());
        assert!(check_url("http://localhost/token").is_ok());
        assert!(check_url("http://[::1]:9/token").is_ok());
        for bad in [
            "http://example.com/token",
            "http://127.0.0.1.evil.com/token",
            "ftp://x/",
            "https://",
            "https://u:p@host/",
            "https://host/a b",
            "token",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_say_what_to_do_and_hold_no_secret() {
        let e = OAuthError::Refused {
            code: "invalid_grant".into(),
            description: Some("AADSTS70000: expired".into()),
            account: Some("work".into()),
        };
        let s = e.to_string();
        assert!(s.contains("invalid_grant (AADSTS70000: expired)"), "{s}");
        assert!(s.contains("popview authorize --account work"), "{s}");
        assert!(e.needs_authorize());
    }
}
