//! One `[accounts.NAME]` table: every field checked, defaults filled in,
//! paths expanded, and the checks on names and environment variables.

use super::*;

/// An account's fields as written, each with where (for the checks that
/// name a key), before the checks that look at several at once.
struct Fields<'v, 'i> {
    host: Option<String>,
    port: Option<At<u16>>,
    tls: Option<At<TlsMode>>,
    cleartext: Option<At<bool>>,
    username: Option<String>,
    command: Option<At<String>>,
    env: Option<At<String>>,
    auth: AuthMethod,
    ca_file: Option<At<PathBuf>>,
    pin: Option<At<[u8; 32]>>,
    insecure: Option<At<bool>>,
    connect_timeout: Duration,
    timeout: Duration,
    cache: bool,
    cache_bodies: Option<u64>,
    authserv_id: Option<String>,
    filter_command: Option<String>,
    oauth2: Option<(String, &'v Value<'i>)>,
    save_to: Option<crate::localbox::Destination>,
}

impl Cx<'_> {
    /// One `[accounts.NAME]` table: its fields read and each checked
    /// (`fields`), combinations refused (`refuse_conflicts`), risky but
    /// allowed choices warned about (`warn_risky`), then the account.
    pub(super) fn account(
        &mut self,
        key: &str,
        name: &str,
        name_span: &Range<usize>,
        v: &Value<'_>,
        ui: &UiConfig,
    ) -> R<Account> {
        let f = self.fields(key, v)?;
        let missing = |field: &str, example: &str| {
            self.invalid(
                name_span,
                &join(key, field),
                None,
                format!("missing: every account needs it, e.g. {example}"),
            )
        };
        let host = f
            .host
            .clone()
            .ok_or_else(|| missing("host", "host = \"pop.example.com\""))?;
        let username = f
            .username
            .clone()
            .ok_or_else(|| missing("username", "username = \"me@example.com\""))?;
        self.refuse_conflicts(key, &f)?;
        let tls_mode = f.tls.as_ref().map_or(TlsMode::Implicit, |t| t.value);
        let port_num = f.port.as_ref().map_or(tls_mode.default_port(), |p| p.value);
        self.warn_risky(key, name_span, &f, tls_mode);

        // After the fields it depends on: the token's place is named by the
        // account key, the requests are bounded by timeout_secs.
        let oauth2 = match f.oauth2 {
            Some((key, v)) => {
                let account_key = format!("{username}@{host}:{port_num}");
                Some(self.oauth2(&key, v, &account_key, f.timeout)?)
            }
            None => None,
        };

        Ok(Account {
            name: name.to_owned(),
            host,
            port: port_num,
            tls: tls_mode,
            allow_cleartext_password: f.cleartext.as_ref().is_some_and(|c| c.value),
            username,
            password: f
                .command
                .map(|c| PasswordSource::Command(c.value))
                .or(f.env.map(|e| PasswordSource::Env(e.value))),
            auth: f.auth,
            ca_file: f.ca_file.map(|c| c.value),
            cert_fingerprint: f.pin.map(|p| p.value),
            accept_invalid_certs: f.insecure.is_some_and(|i| i.value),
            connect_timeout: f.connect_timeout,
            timeout: f.timeout,
            keepalive: ui.keepalive,
            check_mail: ui.check_mail,
            release_after: ui.release_after,
            cache: f.cache,
            cache_bodies: f.cache_bodies,
            authserv_id: f.authserv_id,
            filter_command: f.filter_command,
            oauth2,
            save_to: f.save_to,
        })
    }

    /// Reads every field of the table, each checked on its own.
    fn fields<'v, 'i>(&mut self, key: &str, v: &'v Value<'i>) -> R<Fields<'v, 'i>> {
        let table = self.table(key, v, "an account's settings")?;
        let mut f = Fields {
            host: None,
            port: None,
            tls: None,
            cleartext: None,
            username: None,
            command: None,
            env: None,
            auth: AuthMethod::Auto,
            ca_file: None,
            pin: None,
            insecure: None,
            connect_timeout: crate::config::DEFAULT_CONNECT_TIMEOUT,
            timeout: crate::config::DEFAULT_TIMEOUT,
            cache: settings::DEFAULT_CACHE,
            cache_bodies: None,
            authserv_id: None,
            filter_command: None,
            oauth2: None,
            save_to: None,
        };
        for (k, v) in entries(table) {
            let field = k.get_ref().as_ref();
            let key = join(key, field);
            self.known(Section::Account, &key, field, &k.span())?;
            match field {
                "host" => {
                    let s = self.string(&key, v, "host = \"pop.example.com\"")?;
                    f.host = Some(check_host(&s).map_err(|m| self.bad(&key, v, m))?);
                }
                "port" => {
                    let n = self.integer(&key, v, settings::PORT.kind.range(), "a port number")?;
                    f.port = Some(At::new(u16::try_from(n).unwrap_or(u16::MAX), v));
                }
                "tls" => {
                    f.tls = Some(At::new(
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
                "allow_cleartext_password" => {
                    f.cleartext = Some(At::new(self.boolean(&key, v)?, v))
                }
                "username" => {
                    let s = self.string(&key, v, "username = \"me@example.com\"")?;
                    check_username(&s).map_err(|m| self.bad(&key, v, m))?;
                    f.username = Some(s);
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
                    f.command = Some(At::new(s, v));
                }
                "password_env" => {
                    let s = self.string(&key, v, "password_env = \"WORK_PW\"")?;
                    check_env_name(&s).map_err(|m| self.bad(&key, v, m))?;
                    f.env = Some(At::new(s, v));
                }
                "auth" => {
                    f.auth = self.choice(&key, v, AuthMethod::SETTING_VALUES)?;
                }
                "save_to" => {
                    let s = self.string(&key, v, "save_to = \"maildir:~/Mail\"")?;
                    f.save_to = Some(
                        save_destination(&s, self.home, self.path)
                            .map_err(|m| self.bad(&key, v, m))?,
                    );
                }
                "ca_file" => {
                    let s = self.string(&key, v, "ca_file = \"~/certs/ca.pem\"")?;
                    let path =
                        expand_path(&s, self.home, self.path).map_err(|m| self.bad(&key, v, m))?;
                    f.ca_file = Some(At::new(path, v));
                }
                "cert_fingerprint" => {
                    let s = self.string(&key, v, "cert_fingerprint = \"AB:CD:...\"")?;
                    let digest = self.fingerprint(&key, v, &s)?;
                    f.pin = Some(At::new(digest, v));
                }
                "accept_invalid_certs" => f.insecure = Some(At::new(self.boolean(&key, v)?, v)),
                "connect_timeout_secs" => {
                    f.connect_timeout = self.secs(
                        &key,
                        v,
                        settings::CONNECT_TIMEOUT_SECS.kind.range(),
                        "seconds to wait for a connection",
                    )?;
                }
                "timeout_secs" => {
                    f.timeout = self.secs(
                        &key,
                        v,
                        settings::TIMEOUT_SECS.kind.range(),
                        "seconds to wait for the server",
                    )?;
                }
                "cache" => f.cache = self.boolean(&key, v)?,
                "cache_bodies" => f.cache_bodies = self.size_or_off(&key, v)?,
                "filter_command" => {
                    let s = self.string(&key, v, "filter_command = \"~/bin/spam-verdict\"")?;
                    f.filter_command = Some(s).filter(|s| !s.trim().is_empty());
                }
                "authserv_id" => {
                    let s = self.string(&key, v, "authserv_id = \"mx.example.com\"")?;
                    f.authserv_id = Some(s.trim().to_string()).filter(|s| !s.is_empty());
                }
                "oauth2" => f.oauth2 = Some((key, v)),
                _ => return Err(self.unknown_key(&key, field, &k.span(), ACCOUNT_KEYS)),
            }
        }

        Ok(f)
    }

    /// A SHA-256 certificate fingerprint, or an error that says how to get one.
    fn fingerprint(&self, key: &str, v: &Value<'_>, s: &str) -> R<[u8; 32]> {
        parse_fingerprint(s).ok_or_else(|| {
            let digits = s.chars().filter(char::is_ascii_hexdigit).count();
            self.bad(
                key,
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
        })
    }

    /// Combinations that can't be meant: an error naming the later key.
    fn refuse_conflicts(&self, key: &str, f: &Fields<'_, '_>) -> R<()> {
        if let (Some(c), Some(e)) = (&f.command, &f.env) {
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
        if f.pin.is_some()
            && let Some(i) = &f.insecure
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
        Ok(())
    }

    /// Allowed, but probably not what was meant: warnings.
    fn warn_risky(
        &mut self,
        key: &str,
        name_span: &Range<usize>,
        f: &Fields<'_, '_>,
        tls_mode: TlsMode,
    ) {
        let allow_cleartext = f.cleartext.as_ref().is_some_and(|c| c.value);
        let tls_key = join(key, "tls");
        match (tls_mode, &f.cleartext) {
            (TlsMode::None, _) if !allow_cleartext => {
                let span = f.tls.as_ref().map_or(name_span.clone(), |t| t.span.clone());
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
                ("ca_file", f.ca_file.as_ref().map(|a| a.span.clone())),
                ("cert_fingerprint", f.pin.as_ref().map(|a| a.span.clone())),
                (
                    "accept_invalid_certs",
                    f.insecure.as_ref().map(|a| a.span.clone()),
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
        if let Some(i) = &f.insecure
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
        if let Some(p) = &f.port {
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
    }
}

/// Account names are used with `--account` and in file names.
pub(super) fn check_account_name(name: &str) -> Result<(), String> {
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
pub(in crate::config) fn check_host(s: &str) -> Result<String, String> {
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

pub(in crate::config) fn check_username(s: &str) -> Result<(), String> {
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

pub(super) fn check_env_name(s: &str) -> Result<(), String> {
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
/// `save_to`: `maildir:PATH`, `mbox:PATH`, or a bare PATH: a Maildir when
/// it ends with `/` or is a directory, an mbox otherwise (`~` expanded).
fn save_destination(
    s: &str,
    home: Option<&Path>,
    config: &Path,
) -> Result<crate::localbox::Destination, String> {
    use crate::localbox::Destination;
    let (maildir, rest) = match s.split_once(':') {
        Some(("maildir", rest)) => (Some(true), rest),
        Some(("mbox", rest)) => (Some(false), rest),
        _ => (None, s),
    };
    let path = expand_path(rest, home, config)?;
    Ok(
        if maildir.unwrap_or_else(|| rest.ends_with('/') || path.is_dir()) {
            Destination::Maildir(path)
        } else {
            Destination::Mbox(path)
        },
    )
}

pub(super) fn expand_path(s: &str, home: Option<&Path>, config: &Path) -> Result<PathBuf, String> {
    if s.is_empty() {
        return Err("the path is empty".to_owned());
    }
    let path = crate::paths::expand_tilde(s, home)?;
    if path.is_relative() {
        let dir = config.parent().unwrap_or(Path::new(""));
        return Ok(dir.join(path));
    }
    Ok(path)
}
