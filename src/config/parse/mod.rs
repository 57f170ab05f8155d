//! The strict walk over the TOML document: every key checked against the
//! keys allowed where it stands, every value against what it may be, with
//! the span of each kept for the line number in errors and warnings.
//!
//! (Not serde: a derived `Deserialize` can be just as strict, but its errors
//! know neither the key path nor the value, and we want both in every one.)
//!
//! This file walks the document and `[ui]`; `account` checks one account's
//! table; `diagnostics` words the errors.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::settings::OAUTH2_KEYS;
use super::settings::{self, Section};
use super::{ACCOUNT_KEYS, Account, Config, ConfigError, RULE_KEYS, TOP_KEYS, UI_KEYS, UiConfig};
use crate::password::PasswordSource;
use crate::pop3::transport::parse_fingerprint;
use crate::pop3::{AuthMethod, TlsMode};

mod account;
mod diagnostics;
mod oauth2;
mod rules;

use account::*;
pub(super) use account::{check_host, check_username};
use diagnostics::*;

type Value<'i> = Spanned<DeValue<'i>>;

/// Keys that would hold a password in the file, refused with an explanation.
const PASSWORD_KEYS: &[&str] = &["password", "passwd", "pass"];

pub(super) fn parse(text: &str, path: &Path, home: Option<&Path>) -> Result<Config, ConfigError> {
    let doc = DeTable::parse(text).map_err(|e| syntax_error(text, path, &e))?;
    let mut cx = Cx {
        text,
        path,
        home,
        warnings: Vec::new(),
    };
    cx.document(doc.get_ref())
}

/// The entries of a table in the order they appear in the file.
fn entries<'t, 'i>(
    table: &'t DeTable<'i>,
) -> Vec<(&'t Spanned<std::borrow::Cow<'i, str>>, &'t Value<'i>)> {
    let mut all: Vec<_> = table.iter().collect();
    all.sort_by_key(|(k, _)| k.span().start);
    all
}

/// A value checked so far, with where it was written.
struct At<T> {
    value: T,
    span: Range<usize>,
}

impl<T> At<T> {
    fn new(value: T, v: &Value<'_>) -> Self {
        At {
            value,
            span: v.span(),
        }
    }
}

struct Cx<'a> {
    text: &'a str,
    path: &'a Path,
    home: Option<&'a Path>,
    warnings: Vec<String>,
}

type R<T> = Result<T, ConfigError>;

impl Cx<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        position(self.text, span.start).0
    }

    fn invalid(
        &self,
        span: &Range<usize>,
        key: &str,
        value: Option<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: self.line(span),
            key: key.to_owned(),
            value,
            message: message.into(),
        }
    }

    /// An error about a value, quoting it.
    fn bad(&self, key: &str, v: &Value<'_>, message: impl Into<String>) -> ConfigError {
        self.invalid(&v.span(), key, Some(render(v.get_ref())), message)
    }

    fn warn(&mut self, span: &Range<usize>, key: &str, message: impl AsRef<str>) {
        let line = self.line(span);
        self.warnings
            .push(format!("{key} (line {line}): {}", message.as_ref()));
    }

    fn unknown_key(
        &self,
        key: &str,
        name: &str,
        span: &Range<usize>,
        allowed: &[&str],
    ) -> ConfigError {
        let hint = match suggest(name, allowed) {
            Some(s) => format!(" (did you mean \"{s}\"?)"),
            None => String::new(),
        };
        // The value is not quoted: a mistyped key may hold a secret.
        self.invalid(
            span,
            key,
            None,
            format!(
                "unknown key{hint}; the keys allowed here are: {}",
                allowed.join(", ")
            ),
        )
    }

    /// Refuse a key that is not in the settings table for `section` (a
    /// password key at the top or in an account with its own explanation),
    /// before any match arm can accept it: the parser accepts no key the
    /// table doesn't list.
    fn known(&self, section: Section, key: &str, name: &str, span: &Range<usize>) -> R<()> {
        if section != Section::Ui && PASSWORD_KEYS.contains(&name) {
            return Err(self.password_key(key, span));
        }
        let allowed = match section {
            Section::Top => TOP_KEYS,
            Section::Ui => UI_KEYS,
            Section::Account => ACCOUNT_KEYS,
            Section::Rule => RULE_KEYS,
            Section::OAuth2 => OAUTH2_KEYS,
        };
        if allowed.contains(&name) {
            Ok(())
        } else {
            Err(self.unknown_key(key, name, span, allowed))
        }
    }

    fn table<'t, 'i>(&self, key: &str, v: &'t Value<'i>, what: &str) -> R<&'t DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Ok(t),
            other => Err(self.bad(
                key,
                v,
                format!("expected a table ({what}), found {}", kind(other)),
            )),
        }
    }

    fn string(&self, key: &str, v: &Value<'_>, example: &str) -> R<String> {
        match v.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            other => Err(self.bad(
                key,
                v,
                format!(
                    "expected a string in quotes, e.g. {example}; found {}",
                    kind(other)
                ),
            )),
        }
    }

    fn boolean(&self, key: &str, v: &Value<'_>) -> R<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Ok(*b),
            _ => Err(self.bad(key, v, "expected true or false (without quotes)")),
        }
    }

    fn integer(&self, key: &str, v: &Value<'_>, range: Range<i64>, what: &str) -> R<i64> {
        let expected = format!(
            "expected {what}: a whole number from {} to {}",
            range.start,
            range.end - 1
        );
        match int_value(v.get_ref()) {
            Some(n) if range.contains(&n) => Ok(n),
            Some(_) => Err(self.bad(key, v, expected)),
            None if matches!(v.get_ref(), DeValue::Integer(_)) => Err(self.bad(key, v, expected)),
            None => Err(self.bad(
                key,
                v,
                format!("{expected}, without quotes; found {}", kind(v.get_ref())),
            )),
        }
    }

    fn secs(&self, key: &str, v: &Value<'_>, range: Range<i64>, what: &str) -> R<Duration> {
        let n = self.integer(key, v, range, what)?;
        Ok(Duration::from_secs(n.unsigned_abs()))
    }

    fn choice<T: Copy>(&self, key: &str, v: &Value<'_>, options: &[(&str, T)]) -> R<T> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let expected = format!("expected one of {}", quoted_list(&names));
        let DeValue::String(s) = v.get_ref() else {
            return Err(self.bad(key, v, format!("{expected} (in quotes)")));
        };
        if let Some((_, t)) = options.iter().find(|(n, _)| *n == s.as_ref()) {
            return Ok(*t);
        }
        let hint = match suggest(s, &names) {
            Some(n) => format!(" (did you mean \"{n}\"?)"),
            None => String::new(),
        };
        Err(self.bad(key, v, format!("{expected}{hint}")))
    }

    fn document(&mut self, doc: &DeTable<'_>) -> R<Config> {
        let mut default_account: Option<At<String>> = None;
        let mut ui = UiConfig::default();
        let mut accounts_value = None;
        let mut rules = Vec::new();
        for (k, v) in entries(doc) {
            let name = k.get_ref().as_ref();
            let key = join("", name);
            self.known(Section::Top, &key, name, &k.span())?;
            match name {
                "default_account" => {
                    let name = self.string(&key, v, "default_account = \"work\"")?;
                    default_account = Some(At::new(name, v));
                }
                "ui" => ui = self.ui(&key, v)?,
                "accounts" => accounts_value = Some(v),
                "rules" => rules = self.rules(&key, v)?,
                _ => return Err(self.unknown_key(&key, name, &k.span(), TOP_KEYS)),
            }
        }
        let mut accounts = BTreeMap::new();
        if let Some(v) = accounts_value {
            let table = self.table("accounts", v, "one [accounts.NAME] table per account")?;
            for (k, v) in entries(table) {
                let name = k.get_ref().as_ref();
                let key = join("accounts", name);
                check_account_name(name).map_err(|m| self.invalid(&k.span(), &key, None, m))?;
                let account = self.account(&key, name, &k.span(), v, &ui)?;
                accounts.insert(name.to_owned(), account);
            }
        }
        if let Some(d) = &default_account
            && !accounts.contains_key(&d.value)
        {
            let names: Vec<&str> = accounts.keys().map(String::as_str).collect();
            let message = if names.is_empty() {
                "no account has that name; there are no [accounts.NAME] tables".to_owned()
            } else {
                let hint = match suggest(&d.value, &names) {
                    Some(n) => format!(" (did you mean \"{n}\"?)"),
                    None => String::new(),
                };
                format!(
                    "no account has that name{hint}; the accounts are: {}",
                    quoted_list(&names)
                )
            };
            return Err(self.invalid(
                &d.span,
                "default_account",
                Some(format!("{:?}", d.value)),
                message,
            ));
        }
        Ok(Config {
            path: self.path.to_owned(),
            default_account: default_account.map(|d| d.value),
            ui,
            accounts,
            rules,
            warnings: std::mem::take(&mut self.warnings),
        })
    }

    fn ui(&mut self, key: &str, v: &Value<'_>) -> R<UiConfig> {
        let table = self.table(key, v, "[ui]")?;
        let mut ui = UiConfig::default();
        for (k, v) in entries(table) {
            let name = k.get_ref().as_ref();
            let key = join(key, name);
            self.known(Section::Ui, &key, name, &k.span())?;
            match name {
                "big_message_threshold" => ui.big_message_threshold = self.size(&key, v)?,
                "keepalive_secs" => {
                    ui.keepalive = self.secs(
                        &key,
                        v,
                        settings::KEEPALIVE_SECS.kind.range(),
                        "seconds between keepalives",
                    )?;
                    if ui.keepalive >= Duration::from_secs(600) {
                        self.warn(
                            &v.span(),
                            &key,
                            "servers may log out a session idle for 10 minutes (RFC 1939), \
                             so a keepalive of 10 minutes or more may come too late",
                        );
                    }
                }
                "check_mail_secs" => {
                    // Each check is a new login: not more often than a minute.
                    let every = self.secs(
                        &key,
                        v,
                        settings::CHECK_MAIL_SECS.kind.range(),
                        "seconds between checks",
                    )?;
                    ui.check_mail = Some(every);
                }
                "release_after_secs" => {
                    let after = self.secs(
                        &key,
                        v,
                        settings::RELEASE_AFTER_SECS.kind.range(),
                        "idle seconds before letting go of the session",
                    )?;
                    ui.release_after = (!after.is_zero()).then_some(after);
                }
                "colors" => ui.colors = self.boolean(&key, v)?,
                "keys" => ui.keys = self.keys(&key, v)?,
                _ => return Err(self.unknown_key(&key, name, &k.span(), UI_KEYS)),
            }
        }
        Ok(ui)
    }

    fn size(&self, key: &str, v: &Value<'_>) -> R<u64> {
        let expected = "expected a size in bytes, or with a K, M or G suffix \
                        (binary: 1K = 1024), e.g. \"5M\", \"512K\" or 1048576";
        let n = match v.get_ref() {
            DeValue::String(s) => parse_size(s),
            DeValue::Integer(_) => int_value(v.get_ref()).and_then(|n| u64::try_from(n).ok()),
            _ => None,
        };
        match n {
            Some(0) => Err(self.bad(key, v, "must be more than 0 bytes")),
            Some(n) => Ok(n),
            None => Err(self.bad(key, v, expected)),
        }
    }

    /// A size that may be off: `0`, `"0"`, `"off"` or `false` is `None`.
    pub(super) fn size_or_off(&self, key: &str, v: &Value<'_>) -> R<Option<u64>> {
        let off = match v.get_ref() {
            DeValue::String(s) => {
                let s = s.trim();
                s.eq_ignore_ascii_case("off") || parse_size(s) == Some(0)
            }
            DeValue::Integer(_) => int_value(v.get_ref()) == Some(0),
            DeValue::Boolean(b) => !*b,
            _ => false,
        };
        if off {
            return Ok(None);
        }
        self.size(key, v).map(Some).map_err(|_| {
            self.bad(
                key,
                v,
                "expected a size in bytes, or with a K, M or G suffix (binary: 1K = 1024), \
                 e.g. \"200M\", or \"off\"",
            )
        })
    }

    fn keys(&self, key: &str, v: &Value<'_>) -> R<BTreeMap<String, String>> {
        let table = self.table(key, v, "key = \"action\" lines, e.g. d = \"mark\"")?;
        let mut out = BTreeMap::new();
        for (k, v) in entries(table) {
            let name = k.get_ref().as_ref();
            let key = join(key, name);
            if name.is_empty() {
                return Err(self.invalid(&k.span(), &key, None, "the key string is empty"));
            }
            let action = self.string(&key, v, "d = \"mark\"")?;
            if action.trim().is_empty() {
                return Err(self.bad(&key, v, "expected an action name, e.g. \"mark\""));
            }
            out.insert(name.to_owned(), action);
        }
        Ok(out)
    }

    fn password_key(&self, key: &str, span: &Range<usize>) -> ConfigError {
        // The value is a password: never quote it.
        self.invalid(
            span,
            key,
            None,
            "popview does not read passwords from the config file (it would sit in plain text \
             on disk and in backups). Use password_command = \"pass show mail/work\" (any \
             command that prints the password) or password_env = \"VARIABLE\", or leave both \
             out to be asked when connecting",
        )
    }
}

/// A size: digits, then optionally K, M or G (binary multiples; `KB`, `KiB`
/// and lower case accepted too), spaces allowed before the suffix.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(digits_end);
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let shift = match suffix.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_in_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, 6), (2, 1));
        // After "bé " (é is two bytes): column 4.
        assert_eq!(position(text, 10), (2, 4));
        assert_eq!(position(text, 999), (3, 1));
    }

    #[test]
    fn key_segments_are_quoted_when_not_bare() {
        assert_eq!(join("accounts", "work"), "accounts.work");
        assert_eq!(join("accounts", "my work"), "accounts.\"my work\"");
        assert_eq!(join("ui.keys", "<"), "ui.keys.\"<\"");
    }

    #[test]
    fn paths_expand_tilde_and_anchor_relative_paths() {
        let home = Path::new("/home/u");
        let cfg = Path::new("/etc/popview/config.toml");
        assert_eq!(
            expand_path("~/certs/ca.pem", Some(home), cfg),
            Ok(PathBuf::from("/home/u/certs/ca.pem"))
        );
        assert_eq!(
            expand_path("~", Some(home), cfg),
            Ok(PathBuf::from("/home/u"))
        );
        assert_eq!(
            expand_path("certs/ca.pem", Some(home), cfg),
            Ok(PathBuf::from("/etc/popview/certs/ca.pem"))
        );
        assert_eq!(
            expand_path("/abs/ca.pem", None, cfg),
            Ok(PathBuf::from("/abs/ca.pem"))
        );
        assert!(expand_path("~/x", None, cfg).is_err());
        assert!(expand_path("~bob/x", Some(home), cfg).is_err());
    }

    #[test]
    fn bare_words_get_a_quoted_suggestion() {
        assert_eq!(
            quoted_suggestion("host = pop.example.com").as_deref(),
            Some("host = \"pop.example.com\"")
        );
        assert_eq!(quoted_suggestion("port = 995"), None);
        assert_eq!(quoted_suggestion("cache = true"), None);
        assert_eq!(quoted_suggestion("[accounts.work"), None);
        assert_eq!(quoted_suggestion("tls = \"implicit"), None);
    }

    #[test]
    fn suggestions_are_close_matches_only() {
        assert_eq!(
            suggest("startls", &["implicit", "starttls", "none"]),
            Some("starttls")
        );
        assert_eq!(suggest("usename", ACCOUNT_KEYS), Some("username"));
        assert_eq!(suggest("zzzzzz", &["implicit", "starttls", "none"]), None);
    }
}
