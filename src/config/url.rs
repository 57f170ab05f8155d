//! One-off accounts from a URL: `pop3s://user@host[:port]` (implicit TLS,
//! port 995) or `pop3://user@host[:port]` (STLS required, port 110), with
//! an optional `;auth=MECH` after the user name (RFC 2384:
//! `pop3s://me;auth=xoauth2@host`).

use std::net::Ipv6Addr;

use super::parse::{check_host, check_username};
use super::{Account, ConfigError};
use crate::pop3::{AuthMethod, TlsMode};

const FORMS: &str = "expected pop3s://USER@HOST[:PORT] (TLS, port 995 by default) or \
                     pop3://USER@HOST[:PORT] (plain connection upgraded with STLS, which is \
                     required; port 110 by default); an \"@\" in the user name is written %40, \
                     and an auth method may follow it: pop3s://USER;auth=xoauth2@HOST";

/// An account from a URL. The user name may be percent-encoded
/// (`me%40example.com`); an IPv6 host goes in brackets (`[::1]:995`). A
/// password in the URL is refused (it would be seen in the process list and
/// the shell history).
pub fn account_from_url(url: &str) -> Result<Account, ConfigError> {
    let url = url.trim();
    let shown = redact(url);
    let err = |why: &str| ConfigError::Url(format!("can't use the URL {shown:?}: {why}; {FORMS}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| err("it has no scheme"))?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "pop3s" => TlsMode::Implicit,
        "pop3" => TlsMode::StartTls,
        "pops" => return Err(err("the scheme is pop3s, not pops")),
        _ => return Err(err(&format!("popview reads POP3 only, not {scheme:?}"))),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let Some((userinfo, hostport)) = rest.rsplit_once('@') else {
        return Err(err("it has no user name before the host"));
    };
    if userinfo.contains(':') {
        // Don't quote the URL: it holds the password.
        return Err(ConfigError::Url(format!(
            "the URL holds a password (after the \":\" in the user part); popview does not take \
             passwords in URLs, where the process list and the shell history would keep them. \
             Leave it out: popview asks for it, or give it with --password-command or the \
             POPVIEW_PASSWORD environment variable; {FORMS}"
        )));
    }
    if let Some(c) = hostport.chars().find(|c| matches!(c, '/' | '?' | '#')) {
        return Err(err(&format!(
            "nothing may follow the host and port (found {c:?})"
        )));
    }
    let (userinfo, auth) = match userinfo.split_once(';') {
        Some((user, params)) => (user, Some(auth_param(params).map_err(|why| err(&why))?)),
        None => (userinfo, None),
    };
    let user = percent_decode(userinfo).map_err(|why| err(&why))?;
    check_username(&user).map_err(|why| err(&why))?;

    let (host, port) = split_host_port(hostport).map_err(|why| err(&why))?;
    let host = check_host(&host).map_err(|why| err(&format!("host {host:?} {why}")))?;
    let mut account = Account::new(String::new(), host, tls, user);
    if let Some(port) = port {
        account.port = port;
    }
    if let Some(auth) = auth {
        account.auth = auth;
    }
    account.name = format!(
        "{}@{}",
        account.username,
        account.connect_options().server()
    );
    Ok(account)
}

/// The method named by `auth=VALUE` (RFC 2384): `*` is any, `+APOP` is
/// APOP, otherwise one of the `auth` setting's values (a SASL mechanism
/// name), matched without regard to case.
fn auth_param(params: &str) -> Result<AuthMethod, String> {
    let (_, value) = params
        .split_once('=')
        .filter(|(k, _)| k.eq_ignore_ascii_case("auth"))
        .ok_or_else(|| format!("only \";auth=METHOD\" may follow the user name, not {params:?}"))?;
    match value {
        "*" => return Ok(AuthMethod::Auto),
        v if v.eq_ignore_ascii_case("+apop") => return Ok(AuthMethod::Apop),
        _ => {}
    }
    AuthMethod::SETTING_VALUES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value))
        .map(|(_, m)| *m)
        .ok_or_else(|| {
            let names: Vec<&str> = AuthMethod::SETTING_VALUES.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown auth method {value:?} (expected one of {}, or * or +APOP)",
                names.join(", ")
            )
        })
}

fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    if s.is_empty() {
        return Err("the host is missing".to_owned());
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inner, after) = rest
            .split_once(']')
            .ok_or("the IPv6 address has no closing \"]\"")?;
        inner
            .parse::<Ipv6Addr>()
            .map_err(|_| format!("{inner:?} is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {p:?} after the IPv6 address"))?,
            ),
        };
        (inner.to_owned(), port)
    } else if s.matches(':').count() > 1 {
        return Err(
            "an IPv6 address must be in brackets, e.g. pop3s://me@[2001:db8::1]:995".to_owned(),
        );
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (s.to_owned(), None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            let n = p
                .parse::<u16>()
                .ok()
                .filter(|n| *n != 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("the port {p:?} is not a number from 1 to 65535"))?;
            Some(n)
        }
    };
    Ok((host, port))
}

/// Strict percent-decoding: every `%` must start a `%XX` escape (the
/// `percent-encoding` crate would pass a stray `%` through), and the result
/// must be UTF-8.
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let stray = bytes.iter().enumerate().any(|(i, b)| {
        *b == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if stray {
        return Err("a \"%\" in the user name must be followed by two hex digits".to_owned());
    }
    percent_encoding::percent_decode(bytes)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| "the decoded user name is not valid UTF-8".to_owned())
}

/// The URL with any password replaced by `***`, for error messages.
fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    if let Some(at) = url[start..].rfind('@') {
        let userinfo = &url[start..start + at];
        if let Some(colon) = userinfo.find(':') {
            return format!(
                "{}{}:***{}",
                &url[..start],
                &userinfo[..colon],
                &url[start + at..]
            );
        }
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_follows_the_user_name_as_rfc2384_writes_it() {
        let a = account_from_url("pop3s://me%40outlook.com;auth=xoauth2@outlook.office365.com")
            .unwrap();
        assert_eq!(a.username, "me@outlook.com");
        assert_eq!(a.auth, AuthMethod::XOAuth2);
        assert_eq!(a.host, "outlook.office365.com");
        for (v, m) in [
            ("OAUTHBEARER", AuthMethod::OAuthBearer),
            ("SCRAM-SHA-256", AuthMethod::ScramSha256),
            ("login", AuthMethod::Login),
            ("*", AuthMethod::Auto),
            ("+APOP", AuthMethod::Apop),
        ] {
            let a = account_from_url(&format!("pop3s://me;AUTH={v}@h")).unwrap();
            assert_eq!(a.auth, m, "{v}");
        }
        assert_eq!(
            account_from_url("pop3s://me@h").unwrap().auth,
            AuthMethod::Auto
        );
        for bad in [
            "pop3s://me;auth=cram-md5@h",
            "pop3s://me;x=1@h",
            "pop3s://me;auth@h",
        ] {
            let e = account_from_url(bad).unwrap_err().to_string();
            assert!(e.contains("auth"), "{bad}: {e}");
        }
    }

    #[test]
    fn redaction_hides_only_the_password() {
        assert_eq!(redact("pops://me:pw@host"), "pops://me:***@host");
        assert_eq!(redact("me:pw@host:1"), "me:***@host:1");
        assert_eq!(redact("pop3s://me@host:995"), "pop3s://me@host:995");
        assert_eq!(redact("pop3s://host:995"), "pop3s://host:995");
    }

    #[test]
    fn percent_decoding_is_strict() {
        assert_eq!(
            percent_decode("me%40example.com").as_deref(),
            Ok("me@example.com")
        );
        assert_eq!(percent_decode("%C3%A9").as_deref(), Ok("é"));
        assert!(percent_decode("%+1").is_err());
        assert!(percent_decode("%4").is_err());
        assert!(percent_decode("%FF").is_err());
        // A stray "%" anywhere, even next to a good escape, is refused.
        assert!(percent_decode("me%").is_err());
        assert!(percent_decode("%%41").is_err());
        assert!(percent_decode("%41%").is_err());
        assert_eq!(percent_decode("plain").as_deref(), Ok("plain"));
    }
}
