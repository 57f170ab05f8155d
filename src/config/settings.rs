//! Every setting of `config.toml` in one table: where it goes, what it
//! holds, its default, what is allowed, and one line of help.
//!
//! This is the one place a default is written. The parser takes its
//! defaults, ranges and allowed keys from here ([`DEFAULT_KEEPALIVE`],
//! [`UI_KEYS`], ...); tests check that the parser accepts exactly these
//! keys, that `assets/config.example.toml` shows every setting with these
//! defaults, and that the README's settings table lists every one of them
//! with the same default. A help screen can list [`SETTINGS`] as it is.
//!
//! Adding a setting: a `const` here and its entry in [`SETTINGS`], a match
//! arm in `parse` (top and `[ui]` in `parse/mod.rs`, an account's in
//! `parse/account.rs`), a field in [`super::UiConfig`] or
//! [`super::Account`], a commented line in the example and a README row.

use std::time::Duration;

/// The table a setting is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The top of the file.
    Top,
    /// `[ui]`.
    Ui,
    /// `[accounts.NAME]`.
    Account,
    /// `[rules.NAME]`: a saved pattern whose marks are proposed.
    Rule,
    /// `[accounts.NAME.oauth2]`: built-in OAuth2 authorization.
    OAuth2,
}

impl Section {
    /// The key path of a setting in this table: `ui.colors`,
    /// `accounts.NAME.host`.
    pub fn path(self, key: &str) -> String {
        match self {
            Section::Top => key.to_owned(),
            Section::Ui => format!("ui.{key}"),
            Section::Account => format!("accounts.NAME.{key}"),
            Section::Rule => format!("rules.NAME.{key}"),
            Section::OAuth2 => format!("accounts.NAME.oauth2.{key}"),
        }
    }

    const fn index(self) -> u8 {
        match self {
            Section::Top => 0,
            Section::Ui => 1,
            Section::Account => 2,
            Section::Rule => 3,
            Section::OAuth2 => 4,
        }
    }
}

/// What a setting holds, and the values allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string in quotes.
    Text,
    /// A path in quotes; `~/` is the home directory.
    Path,
    Bool,
    /// A whole number from `min` to `max`.
    Int {
        min: i64,
        max: i64,
    },
    /// Seconds, a whole number from `min` to `max`.
    Secs {
        min: i64,
        max: i64,
    },
    /// Bytes, or a number with a K, M or G suffix.
    Size,
    /// One of these strings.
    Choice(&'static [&'static str]),
    /// A SHA-256 fingerprint: 64 hex digits, colons optional.
    Fingerprint,
    /// A table of `key = "action"` lines.
    Keys,
    /// An `https://` URL (`http://` only for 127.0.0.1 or localhost).
    Url,
}

impl Kind {
    /// The parser's range for an integer (end exclusive).
    pub const fn range(self) -> std::ops::Range<i64> {
        match self {
            Kind::Int { min, max } | Kind::Secs { min, max } => min..max + 1,
            _ => 0..0,
        }
    }

    /// What is allowed, in words (for help and docs).
    pub fn allowed(self) -> String {
        match self {
            Kind::Text => "a string".to_owned(),
            Kind::Path => "a path (\"~/\" is the home directory)".to_owned(),
            Kind::Bool => "true or false".to_owned(),
            Kind::Int { min, max } => format!("{min} to {max}"),
            Kind::Secs { min, max } => format!("{min} to {max} seconds"),
            Kind::Size => "bytes, or with K, M or G (\"512K\", \"5M\")".to_owned(),
            Kind::Choice(options) => options
                .iter()
                .map(|o| format!("\"{o}\""))
                .collect::<Vec<_>>()
                .join(", "),
            Kind::Fingerprint => "64 hex digits, colons optional".to_owned(),
            Kind::Keys => "key = \"action\" lines".to_owned(),
            Kind::Url => "an https:// URL".to_owned(),
        }
    }
}

/// A setting's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// Every account must set it.
    Required,
    /// Unset unless written; what happens then, in words.
    Unset(&'static str),
    Bool(bool),
    Secs(u64),
    /// Bytes.
    Size(u64),
    Choice(&'static str),
}

impl DefaultValue {
    /// The default as it would be written in the file (`120`, `"5M"`,
    /// `true`), if it is a value.
    pub fn toml(self) -> Option<String> {
        match self {
            DefaultValue::Required | DefaultValue::Unset(_) => None,
            DefaultValue::Bool(b) => Some(b.to_string()),
            DefaultValue::Secs(n) => Some(n.to_string()),
            DefaultValue::Size(n) => Some(format!("\"{}\"", size_text(n))),
            DefaultValue::Choice(c) => Some(format!("\"{c}\"")),
        }
    }

    /// The default in words: the value as written, "required", or what
    /// happens when it is unset.
    pub fn text(self) -> String {
        match self {
            DefaultValue::Required => "required".to_owned(),
            DefaultValue::Unset(what) => what.to_owned(),
            other => other.toml().unwrap_or_default(),
        }
    }

    const fn secs(self) -> u64 {
        match self {
            DefaultValue::Secs(n) => n,
            _ => panic!("not a duration"),
        }
    }
}

/// A size in the shortest exact form: `5M`, `512K`, `1000`.
fn size_text(n: u64) -> String {
    for (shift, suffix) in [(30, "G"), (20, "M"), (10, "K")] {
        if n != 0 && n.is_multiple_of(1 << shift) {
            return format!("{}{suffix}", n >> shift);
        }
    }
    n.to_string()
}

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub section: Section,
    pub key: &'static str,
    pub kind: Kind,
    pub default: DefaultValue,
    /// One line for a help screen.
    pub help: &'static str,
}

impl Setting {
    /// `ui.keepalive_secs`, `accounts.NAME.host`.
    pub fn path(&self) -> String {
        self.section.path(self.key)
    }
}

use Section::{Account, OAuth2, Rule, Top, Ui};

pub const DEFAULT_ACCOUNT: Setting = Setting {
    section: Top,
    key: "default_account",
    kind: Kind::Text,
    default: DefaultValue::Unset("the only account"),
    help: "the account used without --account",
};
pub const BIG_MESSAGE_THRESHOLD: Setting = Setting {
    section: Ui,
    key: "big_message_threshold",
    kind: Kind::Size,
    default: DefaultValue::Size(5 * 1024 * 1024),
    help: "messages at least this large ask before downloading",
};
pub const KEEPALIVE_SECS: Setting = Setting {
    section: Ui,
    key: "keepalive_secs",
    kind: Kind::Secs { min: 10, max: 3600 },
    default: DefaultValue::Secs(120),
    help: "send a NOOP after this many idle seconds",
};
pub const CHECK_MAIL_SECS: Setting = Setting {
    section: Ui,
    key: "check_mail_secs",
    kind: Kind::Secs {
        min: 60,
        max: 86_400,
    },
    default: DefaultValue::Unset("off"),
    help: "look for new mail this often, with a new login (r and F5 always work)",
};
pub const RELEASE_AFTER_SECS: Setting = Setting {
    section: Ui,
    key: "release_after_secs",
    kind: Kind::Secs {
        min: 0,
        max: 86_400,
    },
    default: DefaultValue::Secs(300),
    help: "let go of the server after this many idle seconds (nothing deleted, marks kept), \
           so other mail clients get in; 0 keeps the session",
};
pub const COLORS: Setting = Setting {
    section: Ui,
    key: "colors",
    kind: Kind::Bool,
    default: DefaultValue::Bool(true),
    help: "colours on or off (NO_COLOR also turns them off)",
};
pub const KEYS: Setting = Setting {
    section: Ui,
    key: "keys",
    kind: Kind::Keys,
    default: DefaultValue::Unset("none"),
    help: "key bindings that replace the defaults; \"none\" unbinds",
};
pub const HOST: Setting = Setting {
    section: Account,
    key: "host",
    kind: Kind::Text,
    default: DefaultValue::Required,
    help: "the server's host name or IP address",
};
pub const PORT: Setting = Setting {
    section: Account,
    key: "port",
    kind: Kind::Int { min: 1, max: 65535 },
    default: DefaultValue::Unset("995 for implicit, 110 otherwise"),
    help: "the server's port",
};
pub const TLS: Setting = Setting {
    section: Account,
    key: "tls",
    kind: Kind::Choice(&["implicit", "starttls", "none"]),
    default: DefaultValue::Choice("implicit"),
    help: "TLS from the first byte, a plain connection upgraded with STLS, or none",
};
pub const USERNAME: Setting = Setting {
    section: Account,
    key: "username",
    kind: Kind::Text,
    default: DefaultValue::Required,
    help: "the login name",
};
pub const PASSWORD_COMMAND: Setting = Setting {
    section: Account,
    key: "password_command",
    kind: Kind::Text,
    default: DefaultValue::Unset(""),
    help: "a command that prints the password (sh -c, 30 s limit)",
};
pub const PASSWORD_ENV: Setting = Setting {
    section: Account,
    key: "password_env",
    kind: Kind::Text,
    default: DefaultValue::Unset(""),
    help: "an environment variable that holds the password",
};
pub const AUTH: Setting = Setting {
    section: Account,
    key: "auth",
    kind: Kind::Choice(&[
        "auto",
        "user",
        "apop",
        "plain",
        "login",
        "scram-sha-256",
        "xoauth2",
        "oauthbearer",
    ]),
    default: DefaultValue::Choice("auto"),
    help: "how to log in: the best offered (never OAuth), USER/PASS, APOP, SASL PLAIN, LOGIN, \
           SCRAM-SHA-256, or an OAuth2 token (xoauth2, oauthbearer) from the password sources",
};
pub const ALLOW_CLEARTEXT_PASSWORD: Setting = Setting {
    section: Account,
    key: "allow_cleartext_password",
    kind: Kind::Bool,
    default: DefaultValue::Bool(false),
    help: "with tls = \"none\" only: allow sending the password unencrypted",
};
pub const CA_FILE: Setting = Setting {
    section: Account,
    key: "ca_file",
    kind: Kind::Path,
    default: DefaultValue::Unset(""),
    help: "an extra CA or certificate (PEM) to trust",
};
pub const CERT_FINGERPRINT: Setting = Setting {
    section: Account,
    key: "cert_fingerprint",
    kind: Kind::Fingerprint,
    default: DefaultValue::Unset(""),
    help: "trust exactly the certificate with this SHA-256",
};
pub const ACCEPT_INVALID_CERTS: Setting = Setting {
    section: Account,
    key: "accept_invalid_certs",
    kind: Kind::Bool,
    default: DefaultValue::Bool(false),
    help: "skip certificate checks (a warning stays on screen)",
};
pub const CONNECT_TIMEOUT_SECS: Setting = Setting {
    section: Account,
    key: "connect_timeout_secs",
    kind: Kind::Secs { min: 1, max: 600 },
    default: DefaultValue::Secs(15),
    help: "seconds to wait for the connection to open",
};
pub const TIMEOUT_SECS: Setting = Setting {
    section: Account,
    key: "timeout_secs",
    kind: Kind::Secs { min: 1, max: 3600 },
    default: DefaultValue::Secs(60),
    help: "seconds to wait for any answer from the server",
};
pub const CACHE: Setting = Setting {
    section: Account,
    key: "cache",
    kind: Kind::Bool,
    default: DefaultValue::Bool(true),
    help: "keep header previews on disk (marks are always kept)",
};
pub const CACHE_BODIES: Setting = Setting {
    section: Account,
    key: "cache_bodies",
    kind: Kind::Size,
    default: DefaultValue::Unset("off"),
    help: "keep messages read on disk up to this size (\"200M\"; least recently read go first): \
           reopening costs no download, and they can be read offline and searched with ~b; \
           0 or \"off\" keeps none",
};
pub const AUTHSERV_ID: Setting = Setting {
    section: Account,
    key: "authserv_id",
    kind: Kind::Text,
    default: DefaultValue::Unset(""),
    help: "your provider's Authentication-Results id: only its DKIM/SPF/DMARC verdicts count for the ! hint and ~V",
};
pub const RULE_PATTERN: Setting = Setting {
    section: Rule,
    key: "pattern",
    kind: Kind::Text,
    default: DefaultValue::Required,
    help: "a mutt pattern (~f, ~s, ~z, ~d...); its matches are proposed at start and after new mail",
};
pub const RULE_ACTION: Setting = Setting {
    section: Rule,
    key: "action",
    kind: Kind::Choice(&["mark"]),
    default: DefaultValue::Choice("mark"),
    help: "what is proposed for the matches: mark them for deletion (never applied unasked)",
};
pub const OAUTH2_TOKEN_URL: Setting = Setting {
    section: OAuth2,
    key: "token_url",
    kind: Kind::Url,
    default: DefaultValue::Required,
    help: "the OAuth2 token endpoint",
};
pub const OAUTH2_DEVICE_AUTHORIZATION_URL: Setting = Setting {
    section: OAuth2,
    key: "device_authorization_url",
    kind: Kind::Url,
    default: DefaultValue::Required,
    help: "the device authorization endpoint (popview authorize)",
};
pub const OAUTH2_CLIENT_ID: Setting = Setting {
    section: OAuth2,
    key: "client_id",
    kind: Kind::Text,
    default: DefaultValue::Required,
    help: "the client id you registered with the mail provider",
};
pub const OAUTH2_CLIENT_SECRET_COMMAND: Setting = Setting {
    section: OAuth2,
    key: "client_secret_command",
    kind: Kind::Text,
    default: DefaultValue::Unset("none"),
    help: "a command that prints the client secret, if the provider gave one",
};
pub const OAUTH2_SCOPE: Setting = Setting {
    section: OAuth2,
    key: "scope",
    kind: Kind::Text,
    default: DefaultValue::Unset("the server's default"),
    help: "the scopes to ask for, separated by spaces",
};
pub const OAUTH2_REFRESH_TOKEN_COMMAND: Setting = Setting {
    section: OAuth2,
    key: "refresh_token_command",
    kind: Kind::Text,
    default: DefaultValue::Unset("a 0600 file in popview's data dir"),
    help: "a command that prints the stored refresh token",
};
pub const OAUTH2_REFRESH_TOKEN_STORE_COMMAND: Setting = Setting {
    section: OAuth2,
    key: "refresh_token_store_command",
    kind: Kind::Text,
    default: DefaultValue::Unset("a 0600 file in popview's data dir"),
    help: "a command that stores a new refresh token given on its stdin",
};
pub const FILTER_COMMAND: Setting = Setting {
    section: Account,
    key: "filter_command",
    kind: Kind::Text,
    default: DefaultValue::Unset("none"),
    help: "mpop's filter: gets each message's headers on stdin; exit 1 proposes it for deletion (0 keep, 2 skip)",
};
pub const SAVE_TO: Setting = Setting {
    section: Account,
    key: "save_to",
    kind: Kind::Path,
    default: DefaultValue::Unset(""),
    help: "where `popview save` keeps mail without --maildir/--mbox: maildir:PATH or mbox:PATH",
};

/// Every setting, in the order of the README and the example file.
pub const SETTINGS: &[Setting] = &[
    DEFAULT_ACCOUNT,
    BIG_MESSAGE_THRESHOLD,
    KEEPALIVE_SECS,
    CHECK_MAIL_SECS,
    RELEASE_AFTER_SECS,
    COLORS,
    KEYS,
    HOST,
    PORT,
    TLS,
    USERNAME,
    PASSWORD_COMMAND,
    PASSWORD_ENV,
    AUTH,
    ALLOW_CLEARTEXT_PASSWORD,
    CA_FILE,
    CERT_FINGERPRINT,
    ACCEPT_INVALID_CERTS,
    CONNECT_TIMEOUT_SECS,
    TIMEOUT_SECS,
    CACHE,
    CACHE_BODIES,
    AUTHSERV_ID,
    FILTER_COMMAND,
    SAVE_TO,
    RULE_PATTERN,
    RULE_ACTION,
    OAUTH2_TOKEN_URL,
    OAUTH2_DEVICE_AUTHORIZATION_URL,
    OAUTH2_CLIENT_ID,
    OAUTH2_CLIENT_SECRET_COMMAND,
    OAUTH2_SCOPE,
    OAUTH2_REFRESH_TOKEN_COMMAND,
    OAUTH2_REFRESH_TOKEN_STORE_COMMAND,
];

/// The setting at `section` called `key`.
pub fn lookup(section: Section, key: &str) -> Option<&'static Setting> {
    SETTINGS
        .iter()
        .find(|s| s.section == section && s.key == key)
}

/// Default for `ui.big_message_threshold`: 5 MiB.
pub const DEFAULT_BIG_MESSAGE: u64 = match BIG_MESSAGE_THRESHOLD.default {
    DefaultValue::Size(n) => n,
    _ => panic!("not a size"),
};
/// Default for `ui.keepalive_secs`.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(KEEPALIVE_SECS.default.secs());
/// Default for `ui.release_after_secs` (0 would mean: keep the session).
pub const DEFAULT_RELEASE_AFTER: Duration = Duration::from_secs(RELEASE_AFTER_SECS.default.secs());
/// Default for `connect_timeout_secs`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration =
    Duration::from_secs(CONNECT_TIMEOUT_SECS.default.secs());
/// Default for `timeout_secs`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(TIMEOUT_SECS.default.secs());
/// Default for `colors`.
pub const DEFAULT_COLORS: bool = matches!(COLORS.default, DefaultValue::Bool(true));
/// Default for `cache`.
pub const DEFAULT_CACHE: bool = matches!(CACHE.default, DefaultValue::Bool(true));

const fn count(section: Section) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < SETTINGS.len() {
        if SETTINGS[i].section.index() == section.index() {
            n += 1;
        }
        i += 1;
    }
    n
}

const fn keys<const N: usize>(section: Section) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut n) = (0, 0);
    while i < SETTINGS.len() {
        if SETTINGS[i].section.index() == section.index() {
            out[n] = SETTINGS[i].key;
            n += 1;
        }
        i += 1;
    }
    out
}

const TOP_N: usize = count(Top) + 3;
const TOP_ARRAY: [&str; TOP_N] = {
    // The settings at the top, then the two tables.
    let settings: [&str; count(Top)] = keys(Top);
    let mut out = [""; TOP_N];
    let mut i = 0;
    while i < settings.len() {
        out[i] = settings[i];
        i += 1;
    }
    out[i] = "ui";
    out[i + 1] = "accounts";
    out[i + 2] = "rules";
    out
};
const UI_ARRAY: [&str; count(Ui)] = keys(Ui);
const RULE_ARRAY: [&str; count(Rule)] = keys(Rule);
const ACCOUNT_N: usize = count(Account) + 1;
const ACCOUNT_ARRAY: [&str; ACCOUNT_N] = {
    // The settings of an account, then its `[oauth2]` table.
    let settings: [&str; count(Account)] = keys(Account);
    let mut out = [""; ACCOUNT_N];
    let mut i = 0;
    while i < settings.len() {
        out[i] = settings[i];
        i += 1;
    }
    out[i] = "oauth2";
    out
};
const OAUTH2_ARRAY: [&str; count(OAuth2)] = keys(OAuth2);

/// The keys allowed at the top of the file.
pub const TOP_KEYS: &[&str] = &TOP_ARRAY;
/// The keys allowed in `[ui]`.
pub const UI_KEYS: &[&str] = &UI_ARRAY;
/// The keys allowed in `[accounts.NAME]`.
pub const ACCOUNT_KEYS: &[&str] = &ACCOUNT_ARRAY;
/// The keys allowed in `[rules.NAME]`.
pub const RULE_KEYS: &[&str] = &RULE_ARRAY;
/// The keys allowed in `[accounts.NAME.oauth2]`.
pub const OAUTH2_KEYS: &[&str] = &OAUTH2_ARRAY;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_derived_per_section_and_unique() {
        assert_eq!(TOP_KEYS, ["default_account", "ui", "accounts", "rules"]);
        assert_eq!(RULE_KEYS, ["pattern", "action"]);
        assert_eq!(
            UI_KEYS,
            [
                "big_message_threshold",
                "keepalive_secs",
                "check_mail_secs",
                "release_after_secs",
                "colors",
                "keys"
            ]
        );
        assert_eq!(ACCOUNT_KEYS.len(), 19);
        assert_eq!(ACCOUNT_KEYS.last(), Some(&"oauth2"));
        assert_eq!(OAUTH2_KEYS.len(), 7);
        for s in SETTINGS {
            let same = SETTINGS
                .iter()
                .filter(|t| t.section == s.section && t.key == s.key)
                .count();
            assert_eq!(same, 1, "{} is in the table twice", s.path());
        }
    }

    #[test]
    fn defaults_read_as_written() {
        assert_eq!(DEFAULT_BIG_MESSAGE, 5 * 1024 * 1024);
        assert_eq!(
            BIG_MESSAGE_THRESHOLD.default.toml().as_deref(),
            Some("\"5M\"")
        );
        assert_eq!(size_text(512 * 1024), "512K");
        assert_eq!(size_text(1000), "1000");
        assert_eq!(DEFAULT_KEEPALIVE, Duration::from_secs(120));
        assert_eq!(KEEPALIVE_SECS.kind.range(), 10..3601);
        assert_eq!(TLS.default.text(), "\"implicit\"");
        assert_eq!(HOST.default.text(), "required");
        assert_eq!(CHECK_MAIL_SECS.default.text(), "off");
    }
}
