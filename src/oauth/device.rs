//! The device authorization grant (RFC 8628): popview asks for a user code,
//! the user enters it in a browser anywhere (so it works over SSH), and
//! popview polls the token endpoint until the user has finished.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::http;
use super::{OAuthError, Settings};
use crate::password::Password;

/// `interval` when the server gives none (RFC 8628 section 3.2).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// What `slow_down` adds to the interval (RFC 8628 section 3.5).
const SLOW_DOWN: Duration = Duration::from_secs(5);
/// Polling is never more often than this, nor less often than the cap.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// `expires_in` when the server gives none, and the most believed.
const DEFAULT_EXPIRY: Duration = Duration::from_secs(600);
const MAX_EXPIRY: Duration = Duration::from_secs(3600);

/// What the user must do, from the device authorization endpoint. The
/// texts are sanitized (one line each); the device code is a secret.
#[derive(Debug)]
pub struct Pending {
    pub user_code: String,
    pub verification_uri: String,
    /// The URL with the code in it, when the server gives one.
    pub verification_uri_complete: Option<String>,
    /// When the code stops working.
    pub expires_in: Duration,
    device_code: Password,
    interval: Duration,
}

/// How polling goes, for the caller to show (never a token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The user has not finished yet.
    Pending,
    /// The server asked to poll less often: the new interval.
    SlowDown(Duration),
}

/// What a finished grant gives.
pub struct Granted {
    pub refresh_token: Password,
    pub access_token: Password,
    pub expires_in: Duration,
}

impl std::fmt::Debug for Granted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Granted(<redacted>)")
    }
}

/// Step 1: ask the device authorization endpoint for a user code.
pub fn start(settings: &Settings) -> Result<Pending, OAuthError> {
    let secret = settings.client_secret()?;
    let mut fields = vec![("client_id", settings.client_id.as_str())];
    if let Some(scope) = &settings.scope {
        fields.push(("scope", scope.as_str()));
    }
    if let Some(secret) = &secret {
        fields.push(("client_secret", secret.expose()));
    }
    let url = &settings.device_authorization_url;
    let mut answer = http::post_form(url, &fields, settings.timeout)?;
    if let Some((code, description)) = http::refusal(&answer) {
        return Err(OAuthError::Refused {
            code,
            description,
            account: None,
        });
    }
    let garbage = |what: &str, status| OAuthError::Garbage {
        url: url.clone(),
        status,
        what: what.to_owned(),
    };
    let status = answer.status;
    if !(200..300).contains(&status) {
        return Err(garbage("JSON without error or device_code", status));
    }
    let line = |a: &http::Answer, key: &str| {
        http::text(a, key)
            .map(|s| http::short(s, 500))
            .filter(|s| !s.is_empty())
    };
    let user_code =
        line(&answer, "user_code").ok_or_else(|| garbage("JSON without user_code", status))?;
    // Google says verification_url (an older draft's name).
    let verification_uri = line(&answer, "verification_uri")
        .or_else(|| line(&answer, "verification_url"))
        .ok_or_else(|| garbage("JSON without verification_uri", status))?;
    let verification_uri_complete = line(&answer, "verification_uri_complete");
    let expires_in = http::number(&answer, "expires_in")
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_EXPIRY)
        .min(MAX_EXPIRY);
    let interval = http::number(&answer, "interval")
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_INTERVAL)
        .clamp(MIN_INTERVAL, MAX_INTERVAL);
    let device_code = http::take_text(&mut answer, "device_code")
        .map(Password::new)
        .ok_or_else(|| garbage("JSON without device_code", status))?;
    Ok(Pending {
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_in,
        device_code,
        interval,
    })
}

/// Step 2: poll the token endpoint until the user has finished, the code
/// expires, or `cancel` is set (checked at least every 100 ms while
/// waiting). `progress` is told about each pending answer.
pub fn poll(
    settings: &Settings,
    pending: &Pending,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Granted, OAuthError> {
    let deadline = Instant::now() + pending.expires_in;
    let mut interval = pending.interval;
    let secret = settings.client_secret()?;
    loop {
        wait(interval, deadline, cancel)?;
        let mut fields = vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", pending.device_code.expose()),
            ("client_id", settings.client_id.as_str()),
        ];
        if let Some(secret) = &secret {
            fields.push(("client_secret", secret.expose()));
        }
        let mut answer = http::post_form(&settings.token_url, &fields, settings.timeout)?;
        if cancel.load(Ordering::SeqCst) {
            return Err(OAuthError::Cancelled);
        }
        if let Some((code, _)) = http::refusal(&answer) {
            match code.as_str() {
                "authorization_pending" => {
                    progress(Progress::Pending);
                    continue;
                }
                "slow_down" => {
                    interval = (interval + SLOW_DOWN).min(MAX_INTERVAL);
                    progress(Progress::SlowDown(interval));
                    continue;
                }
                "access_denied" => return Err(OAuthError::Denied),
                "expired_token" => return Err(OAuthError::Expired),
                _ => {}
            }
        }
        let (access_token, expires_in, refresh) =
            super::refresh::tokens(&mut answer, &settings.token_url, None)?;
        let refresh_token = refresh.ok_or_else(|| OAuthError::Garbage {
            url: settings.token_url.clone(),
            status: answer.status,
            what: "tokens without a refresh_token (for Microsoft, add offline_access to \
                   scope)"
                .to_owned(),
        })?;
        return Ok(Granted {
            refresh_token,
            access_token,
            expires_in,
        });
    }
}

/// Sleep `interval`, in steps, unless cancelled; past the deadline the code
/// has expired.
fn wait(interval: Duration, deadline: Instant, cancel: &AtomicBool) -> Result<(), OAuthError> {
    let until = Instant::now() + interval;
    if until >= deadline {
        // Sleep out what is left of the code's life, then stop.
        sleep_until(deadline, cancel)?;
        return Err(OAuthError::Expired);
    }
    sleep_until(until, cancel)
}

fn sleep_until(until: Instant, cancel: &AtomicBool) -> Result<(), OAuthError> {
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(OAuthError::Cancelled);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}
