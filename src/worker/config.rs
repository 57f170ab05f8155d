//! What the worker needs to know to open and keep a session.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::password::Password;
use crate::pop3::{AuthMethod, ConnectOptions};

#[derive(Clone)]
pub struct WorkerConfig {
    pub connect: ConnectOptions,
    pub user: String,
    /// `None`: ask the UI ([`super::Event::PasswordNeeded`]).
    pub password: Option<Password>,
    /// Runs the password source again: an OAuth access token the server
    /// rejected is fetched once more (tokens expire) before giving up.
    pub refetch_password: Option<Refetch>,
    /// Fetches the password (an access token) on another thread while the
    /// cached list is drawn and the connection opens; the login waits for
    /// it. For a source that never asks at the terminal (the built-in
    /// OAuth2 exchange: round trips to the identity provider).
    pub password_first: Option<Refetch>,
    pub auth: AuthMethod,
    /// Allow credentials over a connection without TLS (explicit opt-in).
    pub allow_cleartext: bool,
    /// NOOP after this long idle (RFC 1939 servers log out after 10 min).
    pub keepalive: Duration,
    /// Look for new mail this often while idle (a new session, as `r`
    /// does); `None`: only when asked.
    pub check_mail: Option<Duration>,
    /// Write a redacted wire trace here.
    pub trace: Option<PathBuf>,
    /// Connection attempts before giving up (first connect and each outage).
    pub max_attempts: u32,
    /// Fetch `TOP n 0` previews for every message (the TUI and `list` do).
    pub previews: bool,
    /// First retry delay; doubles up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Most commands in flight when the server pipelines.
    pub pipeline_window: usize,
    /// End the session (RSET, QUIT: nothing deleted, marks kept) after this
    /// long without a request from the user, so the maildrop lock is free
    /// for other clients; connect again at the user's next action. `None`
    /// keeps the session.
    pub release_after: Option<Duration>,
    /// Show the last listing and its cached previews before connecting
    /// (`Event::CachedListing`): the TUI's first screen. The commands,
    /// which wait for the server's listing anyway, turn it off.
    pub show_cached: bool,
    /// Read the cached header blocks (`~h`, nine tenths of the cache's
    /// bytes). Off for a command that never looks at them: its previews
    /// come from the list's fields, without a block.
    pub header_blocks: bool,
}

impl WorkerConfig {
    pub fn new(connect: ConnectOptions, user: impl Into<String>) -> Self {
        WorkerConfig {
            connect,
            user: user.into(),
            password: None,
            refetch_password: None,
            password_first: None,
            auth: AuthMethod::Auto,
            allow_cleartext: false,
            keepalive: Duration::from_secs(120),
            check_mail: None,
            trace: None,
            max_attempts: 8,
            previews: true,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            pipeline_window: crate::pop3::client::PIPELINE_WINDOW,
            release_after: None,
            show_cached: true,
            header_blocks: true,
        }
    }
}

/// How to get the password (an access token) again: the password sources
/// run once more. `Err` says why not, without the secret.
#[derive(Clone)]
pub struct Refetch(pub Arc<dyn Fn() -> Result<Password, String> + Send + Sync>);

impl std::fmt::Debug for Refetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Refetch")
    }
}

impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("connect", &self.connect)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("auth", &self.auth)
            .field("allow_cleartext", &self.allow_cleartext)
            .field("keepalive", &self.keepalive)
            .field("check_mail", &self.check_mail)
            .field("trace", &self.trace)
            .field("max_attempts", &self.max_attempts)
            .field("previews", &self.previews)
            .field("pipeline_window", &self.pipeline_window)
            .field("release_after", &self.release_after)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pop3::TlsMode;

    #[test]
    fn debug_never_shows_the_password() {
        let mut c = WorkerConfig::new(ConnectOptions::new("h", 995, TlsMode::Implicit), "u");
        c.password = Some("hunter2".into());
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
