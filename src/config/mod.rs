//! The configuration: accounts, their TLS policy and password source, and a
//! few UI settings, read from `config.toml` (or given as a one-off URL).
//!
//! Reading is strict: an unknown key is an error, and every error names the
//! file, the line and the key path (`accounts.work.tls`), quotes the bad value
//! and says what is allowed. Passwords are never read from the file: an
//! account names a command or an environment variable instead (see
//! [`crate::password`]).
//!
//! - [`load`] / [`parse`]: the file to a [`Config`], plus [`Config::warnings`].
//! - [`Config::account`]: the account to use (by name, the default, or the
//!   only one).
//! - [`account_from_url`]: `pop3s://user@host[:port]` or `pop3://user@host[:port]`.
//! - [`Account::connect_options`], [`Account::worker_config`]: what the
//!   transport and the worker need.
//! - [`first_run_message`], [`EXAMPLE`]: for a first start without a file.
//! - [`settings::SETTINGS`]: every key with its default, allowed values and
//!   help, the one place a default is written.

mod error;
mod parse;
pub mod settings;
mod url;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::ConfigError;
pub use parse::parse_size;
pub use settings::{
    ACCOUNT_KEYS, DEFAULT_BIG_MESSAGE, DEFAULT_CONNECT_TIMEOUT, DEFAULT_KEEPALIVE, DEFAULT_TIMEOUT,
    OAUTH2_KEYS, RULE_KEYS, SETTINGS, Setting, TOP_KEYS, UI_KEYS,
};
pub use url::account_from_url;

use crate::password::{Password, PasswordSource};
use crate::pop3::{AuthMethod, ConnectOptions, TlsMode};
use crate::worker::WorkerConfig;

/// The documented example configuration (`assets/config.example.toml`).
pub const EXAMPLE: &str = include_str!("../../assets/config.example.toml");

/// A whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where it was read from (named in errors).
    pub path: PathBuf,
    /// Validated: names an account in `accounts`.
    pub default_account: Option<String>,
    pub ui: UiConfig,
    pub accounts: BTreeMap<String, Account>,
    /// `[rules.NAME]`, in the file's order.
    pub rules: Vec<Rule>,
    warnings: Vec<String>,
}

/// A saved pattern whose matches are proposed for marking (`[rules.NAME]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    /// Checked to parse when the file was read.
    pub pattern: String,
}

impl Default for Config {
    /// No accounts, default UI settings (for a run with a URL and no file).
    fn default() -> Self {
        Config {
            path: PathBuf::new(),
            default_account: None,
            ui: UiConfig::default(),
            accounts: BTreeMap::new(),
            rules: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// The `[ui]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiConfig {
    /// Messages at least this large (bytes) are fetched only on request.
    pub big_message_threshold: u64,
    /// NOOP after this long idle.
    pub keepalive: Duration,
    /// Look for new mail this often (a new session); `None`: only on `r`.
    pub check_mail: Option<Duration>,
    /// Let go of an idle session after this long; `None`: keep it.
    pub release_after: Option<Duration>,
    /// As written; see [`UiConfig::colors_enabled`] for `NO_COLOR`.
    pub colors: bool,
    /// Key string -> action name, as written (the UI validates both).
    pub keys: BTreeMap<String, String>,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            big_message_threshold: DEFAULT_BIG_MESSAGE,
            keepalive: DEFAULT_KEEPALIVE,
            check_mail: None,
            release_after: Some(settings::DEFAULT_RELEASE_AFTER),
            colors: settings::DEFAULT_COLORS,
            keys: BTreeMap::new(),
        }
    }
}

impl UiConfig {
    /// Colours are on unless `colors = false` or `NO_COLOR` is set to a
    /// non-empty value (<https://no-color.org>).
    pub fn colors_enabled(&self) -> bool {
        self.colors_enabled_with(std::env::var_os("NO_COLOR").as_deref())
    }

    /// [`UiConfig::colors_enabled`] with the value of `NO_COLOR` given.
    pub fn colors_enabled_with(&self, no_color: Option<&OsStr>) -> bool {
        self.colors && no_color.is_none_or(OsStr::is_empty)
    }
}

/// One POP3 account, validated and with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The name under `[accounts.NAME]` (`user@host:port` for a URL).
    pub name: String,
    /// A host name or IP address (IPv6 without brackets).
    pub host: String,
    /// As written, or the default for `tls` (995 implicit, 110 otherwise).
    pub port: u16,
    pub tls: TlsMode,
    /// Only ever true if written so; only has an effect with `tls = "none"`.
    pub allow_cleartext_password: bool,
    pub username: String,
    /// `password_command` or `password_env`; `None`: environment, then prompt.
    pub password: Option<PasswordSource>,
    pub auth: AuthMethod,
    /// With `~` expanded; a relative path is relative to the config file.
    pub ca_file: Option<PathBuf>,
    /// SHA-256 of the server certificate's DER.
    pub cert_fingerprint: Option<[u8; 32]>,
    pub accept_invalid_certs: bool,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// From `ui.keepalive_secs`.
    pub keepalive: Duration,
    /// From `ui.check_mail_secs`.
    pub check_mail: Option<Duration>,
    /// From `ui.release_after_secs`.
    pub release_after: Option<Duration>,
    /// Keep header previews and marks on disk.
    pub cache: bool,
    /// `cache_bodies`: keep messages read on disk, up to this many bytes
    /// (see [`crate::bodycache`]); `None`: off.
    pub cache_bodies: Option<u64>,
    /// The provider's Authentication-Results id (`authserv_id`).
    pub authserv_id: Option<String>,
    /// mpop's filter (`filter_command`): its "delete" verdicts join the
    /// rules' proposal.
    pub filter_command: Option<String>,
    /// `[accounts.NAME.oauth2]`: built-in OAuth2 (see [`crate::oauth`]).
    pub oauth2: Option<crate::oauth::Settings>,
    /// `save_to`: where `popview save` keeps mail by default.
    pub save_to: Option<crate::localbox::Destination>,
}

impl Account {
    /// An account with every optional setting at its default.
    pub fn new(
        name: impl Into<String>,
        host: impl Into<String>,
        tls: TlsMode,
        username: impl Into<String>,
    ) -> Self {
        Account {
            name: name.into(),
            host: host.into(),
            port: tls.default_port(),
            tls,
            allow_cleartext_password: false,
            username: username.into(),
            password: None,
            auth: AuthMethod::Auto,
            ca_file: None,
            cert_fingerprint: None,
            accept_invalid_certs: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            keepalive: DEFAULT_KEEPALIVE,
            check_mail: None,
            release_after: Some(settings::DEFAULT_RELEASE_AFTER),
            cache: settings::DEFAULT_CACHE,
            cache_bodies: None,
            authserv_id: None,
            filter_command: None,
            oauth2: None,
            save_to: None,
        }
    }

    /// Where and how to connect.
    pub fn connect_options(&self) -> ConnectOptions {
        let mut opts = ConnectOptions::new(self.host.clone(), self.port, self.tls);
        opts.ca_file = self.ca_file.clone();
        opts.pin_sha256 = self.cert_fingerprint;
        opts.accept_invalid_certs = self.accept_invalid_certs;
        opts.connect_timeout = self.connect_timeout;
        opts.io_timeout = self.timeout;
        opts
    }

    /// What the worker needs. `password`: from [`crate::password::resolve`]
    /// or a prompt; `None` makes the worker ask the UI.
    ///
    /// `allow_cleartext` is passed on only with `tls = "none"`, so that the
    /// flag can never weaken a TLS account.
    ///
    /// The worker keeps the password as a plain `String`: it is moved there
    /// ([`Password::into_string`]), not copied.
    pub fn worker_config(&self, password: Option<Password>) -> WorkerConfig {
        let mut cfg = WorkerConfig::new(self.connect_options(), self.username.clone());
        cfg.password = password;
        cfg.auth = self.auth;
        cfg.allow_cleartext = self.tls == TlsMode::None && self.allow_cleartext_password;
        cfg.keepalive = self.keepalive;
        cfg.check_mail = self.check_mail;
        cfg.release_after = self.release_after;
        cfg
    }

    /// The password sources in the contract order (see [`crate::password`]).
    pub fn password_sources(&self, cli_command: Option<&str>) -> Vec<PasswordSource> {
        crate::password::sources(cli_command, self.password.as_ref())
    }
}

impl Config {
    /// Things that are allowed but probably not what was meant (shown once
    /// at start).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The account called `name`, or with no name the `default_account`, or
    /// the only account.
    pub fn account(&self, name: Option<&str>) -> Result<&Account, ConfigError> {
        let file = self.path.display();
        let names = || {
            self.accounts
                .keys()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(name) = name {
            return self.accounts.get(name).ok_or_else(|| {
                ConfigError::Account(if self.accounts.is_empty() {
                    format!("there is no account named {name:?}: {file} has no accounts")
                } else {
                    format!(
                        "there is no account named {name:?} in {file}; the accounts are: {}",
                        names()
                    )
                })
            });
        }
        if let Some(default) = &self.default_account {
            return self.accounts.get(default).ok_or_else(|| {
                ConfigError::Account(format!(
                    "default_account = {default:?} names no account in {file}; the accounts are: {}",
                    names()
                ))
            });
        }
        let mut all = self.accounts.values();
        match (all.next(), all.next()) {
            (Some(only), None) => Ok(only),
            (None, _) => Err(ConfigError::Account(format!(
                "{file} has no accounts: add an [accounts.NAME] table with at least host and \
                 username (see the example configuration), or give a pop3s://USER@HOST URL"
            ))),
            (Some(_), Some(_)) => Err(ConfigError::Account(format!(
                "{file} has several accounts ({}) and none is the default: choose one with \
                 --account NAME, or set default_account = \"NAME\" at the top of the file",
                names()
            ))),
        }
    }
}

/// `config.toml` in the platform's configuration directory
/// (`~/.config/popview/config.toml` on Linux); `None` without a home directory.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "popview").map(|d| d.config_dir().join("config.toml"))
}

/// Read and validate the configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path)
}

/// Validate configuration text; `path` is named in errors and anchors a
/// relative `ca_file`.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let home = directories::BaseDirs::new().map(|d| d.home_dir().to_owned());
    parse::parse(text, path, home.as_deref())
}

/// The smallest useful configuration, shown in [`first_run_message`].
pub const MINIMAL: &str = r#"[accounts.mail]
host = "pop.example.com"
username = "me@example.com"
"#;

/// What to tell someone who starts popview without a configuration file at
/// `path`.
pub fn first_run_message(path: &Path) -> String {
    let minimal: String = MINIMAL.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "popview has no configuration file yet. It looks for one at:\n\
         \n    {}\n\n\
         Create that file to set up your accounts. The smallest one that works is:\n\
         \n{minimal}\n\
         popview then asks for the password when it connects; to fetch it from a password \
         manager instead, add password_command = \"pass show mail\" (or password_env = \"VAR\").\n\
         \n\
         A commented example with every setting and two accounts is assets/config.example.toml \
         in popview's sources.\n\
         \n\
         To look around first, without an account:  popview --demo\n",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_disables_colors_only_when_non_empty() {
        let ui = UiConfig::default();
        assert!(ui.colors_enabled_with(None));
        assert!(ui.colors_enabled_with(Some(OsStr::new(""))));
        assert!(!ui.colors_enabled_with(Some(OsStr::new("1"))));
        let off = UiConfig {
            colors: false,
            ..UiConfig::default()
        };
        assert!(!off.colors_enabled_with(None));
    }
}
