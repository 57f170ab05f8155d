//! The strict walk over the TOML document: every key checked against the
//! keys allowed where it stands, every value against what it may be, with
//! the span of each kept for the line number in errors and warnings.
//!
//! (Not serde: a derived `Deserialize` can be just as strict, but its errors
//! know neither the key path nor the value, and we want both in every one.)

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{ACCOUNT_KEYS, Account, Config, ConfigError, TOP_KEYS, UI_KEYS, UiConfig};
use crate::password::PasswordSource;
use crate::pop3::transport::parse_fingerprint;
use crate::pop3::{AuthMethod, TlsMode};

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

fn syntax_error(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    let pos = e.span().map_or(0, |s| s.start);
    let (line, column) = position(text, pos);
    let source_line = text.split('\n').nth(line - 1).unwrap_or("");
    let source_line = source_line.strip_suffix('\r').unwrap_or(source_line);
    let snippet = if may_hold_secret(source_line) {
        Some(format!(
            "  {line} | (not shown: this line may hold a password)"
        ))
    } else {
        let shown = crate::sanitize::line(source_line);
        let gutter = " ".repeat(line.to_string().len());
        let caret_at = column.saturating_sub(1).min(shown.chars().count());
        let mut snippet = format!("  {line} | {shown}\n  {gutter} | {}^", " ".repeat(caret_at));
        if let Some(fixed) = quoted_suggestion(&shown) {
            snippet.push_str(&format!("\n  text values need quotes: {fixed}"));
        }
        Some(snippet)
    };
    ConfigError::Syntax {
        path: path.to_owned(),
        line,
        column,
        message: e.message().to_owned(),
        snippet,
    }
}

/// `key = bare-word` (a string without quotes) -> `key = "bare-word"`.
fn quoted_suggestion(line: &str) -> Option<String> {
    let (key, value) = line.split_once('=')?;
    let (key, value) = (key.trim(), value.trim());
    let word = |s: &str, extra: &[char]| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-') || extra.contains(&c))
    };
    let literal = matches!(value, "true" | "false" | "inf" | "nan")
        || value.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
    (word(key, &[]) && word(value, &['.', '@', '/', ':']) && !literal)
        .then(|| format!("{key} = \"{value}\""))
}

/// A line whose key mentions a password or secret is never echoed.
fn may_hold_secret(line: &str) -> bool {
    let key = line.split('=').next().unwrap_or(line).to_ascii_lowercase();
    ["pass", "secret", "token"].iter().any(|w| key.contains(w))
}

/// 1-based line and column (in characters) of a byte offset.
fn position(text: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// A key as it would be written in a dotted path: bare if it can be.
fn key_segment(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        key_segment(name)
    } else {
        format!("{parent}.{}", key_segment(name))
    }
}

/// A value as written (strings quoted and escaped), shortened.
fn render(v: &DeValue<'_>) -> String {
    let full = match v {
        DeValue::String(s) => format!("{:?}", s.as_ref()),
        DeValue::Integer(i) => i.to_string(),
        DeValue::Float(f) => f.as_str().to_owned(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        DeValue::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|x| render(x.get_ref()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DeValue::Table(_) => "{ ... }".to_owned(),
    };
    const MAX: usize = 100;
    if full.chars().count() > MAX {
        let mut cut: String = full.chars().take(MAX).collect();
        cut.push('…');
        cut
    } else {
        full
    }
}

/// "a string", "an integer"...: what was found where something else was expected.
fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn int_value(v: &DeValue<'_>) -> Option<i64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

fn suggest<'a>(wrong: &str, options: &[&'a str]) -> Option<&'a str> {
    let wrong = wrong.to_lowercase();
    options
        .iter()
        .map(|o| (distance(&wrong, o), *o))
        .filter(|(d, o)| *d <= 2.max(o.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o)
}

fn quoted_list(options: &[&str]) -> String {
    options
        .iter()
        .map(|o| format!("\"{o}\""))
        .collect::<Vec<_>>()
        .join(", ")
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
        for (k, v) in entries(doc) {
            let name = k.get_ref().as_ref();
            let key = join("", name);
            match name {
                "default_account" => {
                    let name = self.string(&key, v, "default_account = \"work\"")?;
                    default_account = Some(At::new(name, v));
                }
                "ui" => ui = self.ui(&key, v)?,
                "accounts" => accounts_value = Some(v),
                _ if PASSWORD_KEYS.contains(&name) => {
                    return Err(self.password_key(&key, &k.span()));
                }
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
            warnings: std::mem::take(&mut self.warnings),
        })
    }

    fn ui(&mut self, key: &str, v: &Value<'_>) -> R<UiConfig> {
        let table = self.table(key, v, "[ui]")?;
        let mut ui = UiConfig::default();
        for (k, v) in entries(table) {
            let name = k.get_ref().as_ref();
            let key = join(key, name);
            match name {
                "big_message_threshold" => ui.big_message_threshold = self.size(&key, v)?,
                "keepalive_secs" => {
                    ui.keepalive = self.secs(&key, v, 10..3601, "seconds between keepalives")?;
                    if ui.keepalive >= Duration::from_secs(600) {
                        self.warn(
                            &v.span(),
                            &key,
                            "servers may log out a session idle for 10 minutes (RFC 1939), \
                             so a keepalive of 10 minutes or more may come too late",
                        );
                    }
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

    fn account(
        &mut self,
        key: &str,
        name: &str,
        name_span: &Range<usize>,
        v: &Value<'_>,
        ui: &UiConfig,
    ) -> R<Account> {
        let table = self.table(key, v, "an account's settings")?;
        let mut host = None;
        let mut port: Option<At<u16>> = None;
        let mut tls: Option<At<TlsMode>> = None;
        let mut cleartext: Option<At<bool>> = None;
        let mut username = None;
        let mut command: Option<At<String>> = None;
        let mut env: Option<At<String>> = None;
        let mut auth = AuthMethod::Auto;
        let mut ca_file: Option<At<PathBuf>> = None;
        let mut pin: Option<At<[u8; 32]>> = None;
        let mut insecure: Option<At<bool>> = None;
        let mut connect_timeout = super::DEFAULT_CONNECT_TIMEOUT;
        let mut timeout = super::DEFAULT_TIMEOUT;
        let mut cache = true;

        for (k, v) in entries(table) {
            let field = k.get_ref().as_ref();
            let key = join(key, field);
            match field {
                "host" => {
                    let s = self.string(&key, v, "host = \"pop.example.com\"")?;
                    host = Some(check_host(&s).map_err(|m| self.bad(&key, v, m))?);
                }
                "port" => {
                    let n = self.integer(&key, v, 1..65536, "a port number")?;
                    port = Some(At::new(u16::try_from(n).unwrap_or(u16::MAX), v));
                }
                "tls" => {
                    tls = Some(At::new(
                        self.choice(
                            &key,
                            v,
                            &[
                                ("implicit", TlsMode::Implicit),
                                ("starttls", TlsMode::StartTls),
                                ("none", TlsMode::None),
                            ],
                        )?,
                        v,
                    ));
                }
                "allow_cleartext_password" => cleartext = Some(At::new(self.boolean(&key, v)?, v)),
                "username" => {
                    let s = self.string(&key, v, "username = \"me@example.com\"")?;
                    check_username(&s).map_err(|m| self.bad(&key, v, m))?;
                    username = Some(s);
                }
                "password_command" => {
                    let s = self.string(&key, v, "password_command = \"pass show mail/work\"")?;
                    if s.trim().is_empty() {
                        return Err(self.bad(
                            &key,
                            v,
                            "expected a command that prints the password, e.g. \"pass show mail/work\"",
                        ));
                    }
                    command = Some(At::new(s, v));
                }
                "password_env" => {
                    let s = self.string(&key, v, "password_env = \"WORK_PW\"")?;
                    check_env_name(&s).map_err(|m| self.bad(&key, v, m))?;
                    env = Some(At::new(s, v));
                }
                "auth" => {
                    auth = self.choice(
                        &key,
                        v,
                        &[
                            ("auto", AuthMethod::Auto),
                            ("user", AuthMethod::User),
                            ("apop", AuthMethod::Apop),
                            ("plain", AuthMethod::Plain),
                        ],
                    )?;
                }
                "ca_file" => {
                    let s = self.string(&key, v, "ca_file = \"~/certs/ca.pem\"")?;
                    let path =
                        expand_path(&s, self.home, self.path).map_err(|m| self.bad(&key, v, m))?;
                    ca_file = Some(At::new(path, v));
                }
                "cert_fingerprint" => {
                    let s = self.string(&key, v, "cert_fingerprint = \"AB:CD:...\"")?;
                    let digest = parse_fingerprint(&s).ok_or_else(|| {
                        let digits = s.chars().filter(char::is_ascii_hexdigit).count();
                        self.bad(
                            &key,
                            v,
                            format!(
                                "expected a SHA-256 fingerprint: 64 hex digits, colons optional \
                                 (found {digits} hex digits{}); get it with \
                                 `openssl x509 -noout -fingerprint -sha256 -in CERT.pem`",
                                if s.chars()
                                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c.is_whitespace())
                                {
                                    ""
                                } else {
                                    " and other characters"
                                }
                            ),
                        )
                    })?;
                    pin = Some(At::new(digest, v));
                }
                "accept_invalid_certs" => insecure = Some(At::new(self.boolean(&key, v)?, v)),
                "connect_timeout_secs" => {
                    connect_timeout =
                        self.secs(&key, v, 1..601, "seconds to wait for a connection")?;
                }
                "timeout_secs" => {
                    timeout = self.secs(&key, v, 1..3601, "seconds to wait for the server")?;
                }
                "cache" => cache = self.boolean(&key, v)?,
                _ if PASSWORD_KEYS.contains(&field) => {
                    return Err(self.password_key(&key, &k.span()));
                }
                _ => return Err(self.unknown_key(&key, field, &k.span(), ACCOUNT_KEYS)),
            }
        }

        let missing = |field: &str, example: &str| {
            self.invalid(
                name_span,
                &join(key, field),
                None,
                format!("missing: every account needs it, e.g. {example}"),
            )
        };
        let host = host.ok_or_else(|| missing("host", "host = \"pop.example.com\""))?;
        let username =
            username.ok_or_else(|| missing("username", "username = \"me@example.com\""))?;

        if let (Some(c), Some(e)) = (&command, &env) {
            let (later, which) = if c.span.start > e.span.start {
                (c, "password_command")
            } else {
                (e, "password_env")
            };
            return Err(self.invalid(
                &later.span,
                &join(key, which),
                None,
                "password_command and password_env are both set: keep only one",
            ));
        }
        if pin.is_some()
            && let Some(i) = &insecure
            && i.value
        {
            return Err(self.invalid(
                &i.span,
                &join(key, "accept_invalid_certs"),
                Some("true".to_owned()),
                "conflicts with cert_fingerprint: pick one. The pin already trusts exactly that \
                 certificate, so remove accept_invalid_certs (recommended), or remove \
                 cert_fingerprint to accept any certificate",
            ));
        }

        let tls_mode = tls.as_ref().map_or(TlsMode::Implicit, |t| t.value);
        let port_num = port.as_ref().map_or(tls_mode.default_port(), |p| p.value);
        let allow_cleartext = cleartext.as_ref().is_some_and(|c| c.value);

        // Warnings: allowed, but probably not what was meant.
        let tls_key = join(key, "tls");
        match (tls_mode, &cleartext) {
            (TlsMode::None, _) if !allow_cleartext => {
                let span = tls.as_ref().map_or(name_span.clone(), |t| t.span.clone());
                self.warn(
                    &span,
                    &tls_key,
                    "tls = \"none\" without allow_cleartext_password = true: popview will connect \
                     without encryption and will refuse to send your password. Set \
                     allow_cleartext_password = true only for a trusted network (e.g. localhost), \
                     or use tls = \"starttls\" or \"implicit\"",
                );
            }
            (TlsMode::Implicit | TlsMode::StartTls, Some(c)) if c.value => {
                self.warn(
                    &c.span,
                    &join(key, "allow_cleartext_password"),
                    "has no effect: this account uses TLS, so the password is never sent in cleartext",
                );
            }
            _ => {}
        }
        if tls_mode == TlsMode::None {
            for (field, span) in [
                ("ca_file", ca_file.as_ref().map(|a| a.span.clone())),
                ("cert_fingerprint", pin.as_ref().map(|a| a.span.clone())),
                (
                    "accept_invalid_certs",
                    insecure.as_ref().map(|a| a.span.clone()),
                ),
            ] {
                if let Some(span) = span {
                    self.warn(
                        &span,
                        &join(key, field),
                        "has no effect with tls = \"none\" (there is no certificate to check)",
                    );
                }
            }
        }
        if let Some(i) = &insecure
            && i.value
            && tls_mode != TlsMode::None
        {
            self.warn(
                &i.span,
                &join(key, "accept_invalid_certs"),
                "certificates are not checked: anyone on the network path can read your password \
                 and mail. Prefer cert_fingerprint to trust exactly one certificate",
            );
        }
        if let Some(p) = &port {
            let clash = match (tls_mode, p.value) {
                (TlsMode::Implicit, 110) => {
                    Some("110 is the port for tls = \"starttls\" or \"none\"")
                }
                (TlsMode::StartTls | TlsMode::None, 995) => {
                    Some("995 is the port for tls = \"implicit\" (POP3S)")
                }
                _ => None,
            };
            if let Some(why) = clash {
                self.warn(
                    &p.span,
                    &join(key, "port"),
                    format!("{why}; the connection will probably fail"),
                );
            }
        }

        Ok(Account {
            name: name.to_owned(),
            host,
            port: port_num,
            tls: tls_mode,
            allow_cleartext_password: allow_cleartext,
            username,
            password: command
                .map(|c| PasswordSource::Command(c.value))
                .or(env.map(|e| PasswordSource::Env(e.value))),
            auth,
            ca_file: ca_file.map(|c| c.value),
            cert_fingerprint: pin.map(|p| p.value),
            accept_invalid_certs: insecure.is_some_and(|i| i.value),
            connect_timeout,
            timeout,
            keepalive: ui.keepalive,
            cache,
        })
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

/// Account names are used with `--account` and in file names.
fn check_account_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(
            "an account name may hold letters, digits, \"-\", \"_\" and \".\" (not first); it is \
             used with --account and in file names"
                .to_owned(),
        )
    }
}

/// A host name, IPv4 address, or IPv6 address (brackets optional); returns
/// it without brackets.
pub(super) fn check_host(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("the host name is empty".to_owned());
    }
    if s.contains("://") {
        return Err("give only the server's name, e.g. \"pop.example.com\" \
                    (the kind of connection goes in tls, the port in port)"
            .to_owned());
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(|_| inner.to_owned())
            .map_err(|_| "is not a valid IPv6 address".to_owned());
    }
    if s.parse::<Ipv6Addr>().is_ok() {
        return Ok(s.to_owned());
    }
    if s.contains(':') {
        return Err(
            "a host name can't contain \":\"; the port goes in port = N, and an IPv6 \
                    address in brackets, e.g. \"[2001:db8::1]\""
                .to_owned(),
        );
    }
    let valid = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        && !s.starts_with(['-', '.']);
    if valid {
        Ok(s.to_owned())
    } else {
        Err(
            "is not a valid host name: expected letters, digits, \"-\" and \".\", e.g. \
             \"pop.example.com\", or an IP address"
                .to_owned(),
        )
    }
}

pub(super) fn check_username(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("the user name is empty".to_owned());
    }
    if s.chars().any(char::is_control) {
        return Err(
            "the user name contains a control character (line break, tab, NUL...)".to_owned(),
        );
    }
    if s.len() > 255 {
        return Err("the user name is longer than 255 bytes; POP3 can't carry it".to_owned());
    }
    Ok(())
}

fn check_env_name(s: &str) -> Result<(), String> {
    if let Some(bare) = s.strip_prefix('$') {
        return Err(format!(
            "give the variable's name without \"$\", e.g. password_env = {bare:?}"
        ));
    }
    let mut chars = s.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(
            "expected an environment variable name: letters, digits and \"_\", \
             e.g. \"WORK_PW\""
                .to_owned(),
        )
    }
}

/// Expand a leading `~` and anchor a relative path at the config file's
/// directory.
fn expand_path(s: &str, home: Option<&Path>, config: &Path) -> Result<PathBuf, String> {
    if s.is_empty() {
        return Err("the path is empty".to_owned());
    }
    let path = if s == "~" || s.starts_with("~/") {
        let home = home.ok_or("\"~\" can't be expanded: no home directory is known")?;
        home.join(s.trim_start_matches('~').trim_start_matches('/'))
    } else if s.starts_with('~') {
        return Err("only \"~/\" is expanded (not \"~user/\"); write the full path".to_owned());
    } else {
        PathBuf::from(s)
    };
    if path.is_relative() {
        let dir = config.parent().unwrap_or(Path::new(""));
        return Ok(dir.join(path));
    }
    Ok(path)
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
