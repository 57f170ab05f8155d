//! One blocking `POST` of a form to an OAuth2 endpoint, and its JSON answer.
//!
//! https only (plain http only to loopback, see [`super::check_url`]), no
//! redirects (a redirect could carry the form elsewhere), one deadline for
//! the whole request (connect, TLS, write, read), headers and status line
//! capped, the body capped at [`MAX_BODY`]. The request body and the answer
//! hold secrets: both are wiped when dropped.

use std::io::Read;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroizing;

use super::OAuthError;

/// More than this is not an OAuth2 answer.
pub const MAX_BODY: usize = 64 * 1024;
const MAX_HEADERS: usize = 16 * 1024;
const MAX_STATUS_LINE: usize = 1024;
/// `error_description` is shown cut to this many characters.
const DESCRIPTION_CHARS: usize = 300;

/// `application/x-www-form-urlencoded`: everything but the unreserved
/// characters is escaped.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A JSON object the server answered with, and the HTTP status.
pub struct Answer {
    pub status: u16,
    pub json: serde_json::Map<String, serde_json::Value>,
}

/// The form body, `k=v&k=v`, escaped; wiped when dropped.
pub fn form(fields: &[(&str, &str)]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(
        fields.iter().map(|(k, v)| k.len() + 3 * v.len() + 2).sum(),
    ));
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(utf8_percent_encode(k, FORM));
        out.push('=');
        out.extend(utf8_percent_encode(v, FORM));
    }
    out
}

/// POST `fields` to `url` and read a JSON object back. An RFC 6749 error
/// object (`{"error": ...}`) is returned as an [`Answer`] too (the caller
/// knows which errors mean "keep polling"); see [`refusal`].
pub fn post_form(
    url: &str,
    fields: &[(&str, &str)],
    timeout: Duration,
) -> Result<Answer, OAuthError> {
    super::check_url(url).map_err(|m| OAuthError::Network {
        url: crate::sanitize::line(url),
        message: m,
    })?;
    let network = |message: String| OAuthError::Network {
        url: url.to_owned(),
        message,
    };
    let body = form(fields);
    let request = minreq::post(url)
        .with_header("Content-Type", "application/x-www-form-urlencoded")
        .with_header("Accept", "application/json")
        .with_header("User-Agent", concat!("popview/", env!("CARGO_PKG_VERSION")))
        .with_body(body.as_bytes())
        .with_follow_redirects(false)
        .with_max_headers_size(MAX_HEADERS)
        .with_max_status_line_length(MAX_STATUS_LINE)
        .with_timeout(timeout.as_secs().max(1));
    drop(body);
    let mut response = request
        .send_lazy()
        .map_err(|e| network(describe_error(&e)))?;
    // What minreq makes of an answer without a status line.
    if response.reason_phrase == "Server did not provide a status line" {
        return Err(OAuthError::Garbage {
            url: url.to_owned(),
            status: 0,
            what: "something that is not HTTP".to_owned(),
        });
    }
    let status = response.status_code;
    let content_type = response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    let mut bytes = Zeroizing::new(Vec::with_capacity(4096));
    let limit = u64::try_from(MAX_BODY).unwrap_or(u64::MAX) + 1;
    (&mut response)
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| network(format!("reading the answer: {}", describe_io(&e))))?;
    let garbage = |what: &str| OAuthError::Garbage {
        url: url.to_owned(),
        status,
        what: what.to_owned(),
    };
    if bytes.len() > MAX_BODY {
        return Err(garbage(&format!("more than {} KiB", MAX_BODY / 1024)));
    }
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(json)) => Ok(Answer { status, json }),
        Ok(_) => Err(garbage("JSON that is not an object")),
        Err(_) if content_type.contains("html") || bytes.trim_ascii_start().starts_with(b"<") => {
            Err(garbage("an HTML page"))
        }
        Err(_) if bytes.is_empty() => Err(garbage("an empty body")),
        Err(_) => Err(garbage("something that is not JSON")),
    }
}

/// The RFC 6749 error in an answer, sanitized: (`error`, `error_description`).
pub fn refusal(answer: &Answer) -> Option<(String, Option<String>)> {
    let code = answer.json.get("error")?.as_str()?;
    let code = short(code, 80);
    let description = answer
        .json
        .get("error_description")
        .and_then(|d| d.as_str())
        .map(|d| short(d, DESCRIPTION_CHARS))
        .filter(|d| !d.is_empty());
    Some((code, description))
}

/// Untrusted text from a server, made safe for one line and shortened.
pub fn short(s: &str, max: usize) -> String {
    let clean = crate::sanitize::line(s);
    let clean = clean.trim();
    let mut out: String = clean.chars().take(max).collect();
    if clean.chars().count() > max {
        out.push('…');
    }
    out
}

/// A string field of the answer, if present and a string.
pub fn text<'a>(answer: &'a Answer, key: &str) -> Option<&'a str> {
    answer.json.get(key).and_then(|v| v.as_str())
}

/// A number field (some servers send `"3600"` as a string).
pub fn number(answer: &Answer, key: &str) -> Option<u64> {
    match answer.json.get(key)? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Move a string field out of the answer (a token: moved, not copied).
pub fn take_text(answer: &mut Answer, key: &str) -> Option<String> {
    match answer.json.remove(key)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

fn describe_error(e: &minreq::Error) -> String {
    match e {
        minreq::Error::IoError(io) => describe_io(io),
        other => short(&other.to_string(), 200),
    }
}

fn describe_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        TimedOut | WouldBlock => "no answer in time (the request's deadline passed)".to_owned(),
        ConnectionRefused => "connection refused".to_owned(),
        _ => short(&e.to_string(), 200),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_escape_everything_but_unreserved() {
        let f = form(&[
            ("scope", "https://mail.google.com/ offline_access"),
            ("a", "x&y=z"),
        ]);
        assert_eq!(
            f.as_str(),
            "scope=https%3A%2F%2Fmail.google.com%2F%20offline_access&a=x%26y%3Dz"
        );
    }

    #[test]
    fn server_text_is_sanitized_and_short() {
        assert_eq!(short("bad\x1b[31m thing\n", 80), "bad thing");
        assert_eq!(short(&"x".repeat(10), 4), "xxxx…");
    }
}
