//! The access token for a login: the refresh exchange (RFC 6749 section 6),
//! with the answer kept in memory until it expires.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::http::{self, Answer};
use super::{OAuthError, Settings};
use crate::password::Password;

/// An access token is used until this long before it expires.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Without `expires_in`, an access token is kept this long (RFC 6749 lets
/// the server leave it out; an hour is what the big providers give).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// A lifetime longer than this (a day) is not believed.
const MAX_LIFETIME: Duration = Duration::from_secs(86_400);

/// Whether a kept access token may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The kept one while it is valid, else a new one.
    Cached,
    /// Always a new one (the server rejected the last one).
    Fresh,
}

/// Access tokens kept in memory, per (token endpoint, client, vault).
static CACHE: Mutex<Option<HashMap<String, (Password, Instant)>>> = Mutex::new(None);

fn cache_key(s: &Settings) -> String {
    format!("{}\n{}\n{:?}", s.token_url, s.client_id, s.vault)
}

/// Forget the access token kept for `settings` (the server rejected it).
pub fn forget_cached(settings: &Settings) {
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(map) = cache.as_mut() {
        map.remove(&cache_key(settings));
    }
}

/// Where an account's access tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSource {
    pub settings: Settings,
    /// The account's name, for the advice in errors (`--account NAME`).
    pub account: Option<String>,
}

impl TokenSource {
    pub fn new(settings: Settings, account: Option<String>) -> Self {
        TokenSource { settings, account }
    }

    /// An access token can be had without asking anyone at the terminal:
    /// the refresh token is in a file (not a command's, which may ask for a
    /// passphrase) and there is no client secret command. Such a token can
    /// be fetched while the TUI owns the terminal.
    pub fn never_asks(&self) -> bool {
        matches!(
            self.settings.vault,
            crate::oauth::vault::Vault::Account(_) | crate::oauth::vault::Vault::File(_)
        ) && self.settings.client_secret_command.is_none()
    }

    /// An access token: the one kept in memory while it is valid (with
    /// [`Freshness::Cached`]), else one from the refresh exchange. A
    /// rotated refresh token is saved before this returns; a failed
    /// exchange leaves the stored refresh token as it was.
    pub fn access_token(&self, freshness: Freshness) -> Result<Password, OAuthError> {
        let key = cache_key(&self.settings);
        if freshness == Freshness::Cached {
            let cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((token, until)) = cache.as_ref().and_then(|m| m.get(&key))
                && Instant::now() < *until
            {
                tracing::debug!("oauth2: using the access token kept in memory");
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self.exchange()?;
        let until = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
        let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get_or_insert_with(HashMap::new)
            .insert(key, (token.clone(), until));
        Ok(token)
    }

    /// One refresh exchange: (access token, its lifetime).
    fn exchange(&self) -> Result<(Password, Duration), OAuthError> {
        let s = &self.settings;
        let refresh = s.vault.load()?.ok_or_else(|| OAuthError::NotAuthorized {
            account: self.account.clone(),
        })?;
        let secret = s.client_secret()?;
        let mut fields = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
            ("client_id", s.client_id.as_str()),
        ];
        if let Some(secret) = &secret {
            fields.push(("client_secret", secret.expose()));
        }
        if let Some(scope) = &s.scope {
            fields.push(("scope", scope.as_str()));
        }
        tracing::debug!("oauth2: refresh exchange with the token endpoint");
        let mut answer = http::post_form(&s.token_url, &fields, s.timeout)?;
        drop(fields);
        let (access, lifetime, rotated) = tokens(&mut answer, &s.token_url, self.account.as_ref())?;
        if let Some(new) = rotated
            && new != refresh
        {
            // Saved before the access token is used: a rotation lost here
            // would lock the user out at the next login.
            s.vault.save(&new)?;
            tracing::debug!("oauth2: the server rotated the refresh token; saved");
        }
        Ok((access, lifetime))
    }
}

/// The tokens of a token endpoint's answer: (access token, lifetime,
/// refresh token if one came). An error answer becomes its [`OAuthError`].
pub(super) fn tokens(
    answer: &mut Answer,
    url: &str,
    account: Option<&String>,
) -> Result<(Password, Duration, Option<Password>), OAuthError> {
    if let Some((code, description)) = http::refusal(answer) {
        return Err(OAuthError::Refused {
            code,
            description,
            account: account.cloned(),
        });
    }
    let status = answer.status;
    let garbage = |what: &str| OAuthError::Garbage {
        url: url.to_owned(),
        status,
        what: what.to_owned(),
    };
    if !(200..300).contains(&status) {
        return Err(garbage("JSON without error or access_token"));
    }
    if let Some(kind) = http::text(answer, "token_type")
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(garbage("a token that is not a Bearer token"));
    }
    let lifetime = http::number(answer, "expires_in")
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_LIFETIME)
        .min(MAX_LIFETIME);
    let Some(access) = http::take_text(answer, "access_token") else {
        return Err(garbage("JSON without access_token"));
    };
    let access = Password::new(access);
    if access.chars().any(|c| c.is_control() || c == ' ') {
        return Err(garbage("an access token with spaces or control characters"));
    }
    let refresh = http::take_text(answer, "refresh_token").map(Password::new);
    if refresh
        .as_ref()
        .is_some_and(|r| r.chars().any(|c| c.is_control() || c.is_whitespace()))
    {
        return Err(garbage("a refresh token with spaces or control characters"));
    }
    Ok((access, lifetime, refresh))
}
