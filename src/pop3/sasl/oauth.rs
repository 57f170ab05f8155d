//! OAuth 2.0 bearer tokens over SASL: XOAUTH2 (Google, Microsoft) and
//! OAUTHBEARER (RFC 7628), and the failure challenge both send when the
//! token is rejected (`+ <base64 JSON>`).

use crate::sanitize;

/// Longest failure challenge decoded (the JSON is ~60 bytes in practice).
const MAX_FAILURE_JSON: usize = 8 * 1024;
/// Most characters of the server's status shown.
const MAX_STATUS_SHOWN: usize = 80;

/// `user=U^Aauth=Bearer T^A^A` (the XOAUTH2 initial response, not base64).
pub fn xoauth2_response(user: &str, token: &str) -> Vec<u8> {
    format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes()
}

/// `n,a=U,^Ahost=H^Aport=P^Aauth=Bearer T^A^A` (RFC 7628 section 3.1). A
/// `,` or `=` in the user name is escaped as RFC 5801 says.
pub fn oauthbearer_response(user: &str, host: &str, port: u16, token: &str) -> Vec<u8> {
    let user = user.replace('=', "=3D").replace(',', "=2C");
    format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01").into_bytes()
}

/// What the server's failure JSON says, as words: its `status`
/// (`invalid_token`, `401`), sanitized and shortened; `None` when the
/// challenge is not the JSON object it should be.
pub fn failure_status(challenge: &[u8]) -> Option<String> {
    if challenge.len() > MAX_FAILURE_JSON {
        return None;
    }
    // serde_json stops at 128 levels of nesting: bounded.
    let json: serde_json::Value = serde_json::from_slice(challenge).ok()?;
    let status = match json.as_object()?.get("status")? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let shown: String = sanitize::line(&status)
        .chars()
        .take(MAX_STATUS_SHOWN)
        .collect();
    (!shown.trim().is_empty()).then_some(shown)
}

/// The error text for a rejected token, with what to do next.
pub fn rejected_message(status: Option<&str>) -> String {
    let why = match status {
        Some(s) => format!("the token was rejected: {s}"),
        None => "the token was rejected (the server's reason could not be read)".to_string(),
    };
    format!(
        "{why} — run your token command again or re-authorize \
         (popview authorize --account NAME)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms_match_the_specs() {
        assert_eq!(
            xoauth2_response("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
            b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
        // RFC 7628 section 4.1.
        assert_eq!(
            oauthbearer_response("user@example.com", "server.example.com", 143, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        assert_eq!(
            oauthbearer_response("a,b=c", "h", 1, "t"),
            b"n,a=a=2Cb=3Dc,\x01host=h\x01port=1\x01auth=Bearer t\x01\x01"
        );
    }

    #[test]
    fn failure_json_is_read_strictly_and_shown_safely() {
        assert_eq!(
            failure_status(br#"{"status":"invalid_token"}"#).as_deref(),
            Some("invalid_token")
        );
        assert_eq!(
            failure_status(br#"{"status":"401","schemes":"bearer","scope":"mail"}"#).as_deref(),
            Some("401")
        );
        assert_eq!(failure_status(br#"{"status":400}"#).as_deref(), Some("400"));
        for bad in [
            &b"not json"[..],
            b"{}",
            b"[1]",
            br#"{"status":{"x":1}}"#,
            br#"{"status":""}"#,
            b"",
        ] {
            assert_eq!(failure_status(bad), None, "{bad:?}");
        }
        let hostile = br#"{"status":"\u001b[31mred\u0007"}"#;
        let s = failure_status(hostile).unwrap();
        assert!(!s.chars().any(char::is_control), "{s:?}");
        let long = format!(r#"{{"status":"{}"}}"#, "x".repeat(10_000));
        assert_eq!(failure_status(long.as_bytes()), None);
        let long = format!(r#"{{"status":"{}"}}"#, "x".repeat(1000));
        assert_eq!(failure_status(long.as_bytes()).unwrap().len(), 80);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(failure_status(deep.as_bytes()), None);
    }

    #[test]
    fn the_rejection_says_what_to_do() {
        let m = rejected_message(Some("invalid_token"));
        assert!(m.starts_with("the token was rejected: invalid_token"));
        assert!(m.contains("popview authorize --account"));
    }
}
