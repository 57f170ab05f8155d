//! An account's `[accounts.NAME.oauth2]` table: the endpoints, the client,
//! and where the refresh token is kept (see [`crate::oauth`]).

use super::*;
use crate::oauth::{self, vault::Vault};

/// Keys that would hold a secret in the file, refused with an explanation.
const SECRET_KEYS: &[&str] = &["client_secret", "refresh_token", "access_token", "token"];

impl Cx<'_> {
    /// `account_key` (`user@host:port`) names the account's data directory,
    /// where the refresh token is kept by default; `timeout` bounds each
    /// request.
    pub(super) fn oauth2(
        &mut self,
        key: &str,
        v: &Value<'_>,
        account_key: &str,
        timeout: Duration,
    ) -> R<oauth::Settings> {
        let table = self.table(key, v, "the OAuth2 settings")?;
        let mut token_url = None;
        let mut device_url = None;
        let mut client_id = None;
        let mut secret_command = None;
        let mut scope = None;
        let mut get: Option<At<String>> = None;
        let mut store: Option<At<String>> = None;
        for (k, v) in entries(table) {
            let field = k.get_ref().as_ref();
            let key = join(key, field);
            if SECRET_KEYS.contains(&field) {
                // The value is a secret: never quote it.
                return Err(self.invalid(
                    &k.span(),
                    &key,
                    None,
                    "popview does not read OAuth2 secrets from the config file: give the client \
                     secret with client_secret_command, and let popview authorize store the \
                     refresh token (or use refresh_token_command)",
                ));
            }
            self.known(Section::OAuth2, &key, field, &k.span())?;
            match field {
                "token_url" => token_url = Some(self.url(&key, v)?),
                "device_authorization_url" => device_url = Some(self.url(&key, v)?),
                "client_id" => {
                    let s = self.string(&key, v, "client_id = \"0123-abcd\"")?;
                    if s.trim().is_empty() || s.chars().any(char::is_control) {
                        return Err(self.bad(
                            &key,
                            v,
                            "expected the client id you registered with your mail provider",
                        ));
                    }
                    client_id = Some(s);
                }
                "client_secret_command" => {
                    secret_command = Some(self.command(&key, v, "pass show oauth/client")?);
                }
                "scope" => {
                    let s = self.string(&key, v, "scope = \"https://mail.google.com/\"")?;
                    if s.chars().any(char::is_control) {
                        return Err(self.bad(
                            &key,
                            v,
                            "scopes are separated by spaces, on one line",
                        ));
                    }
                    scope = Some(s).filter(|s| !s.trim().is_empty());
                }
                "refresh_token_command" => {
                    get = Some(At::new(self.command(&key, v, "pass show oauth/work")?, v));
                }
                "refresh_token_store_command" => {
                    let cmd = self.command(&key, v, "pass insert -m -f oauth/work")?;
                    store = Some(At::new(cmd, v));
                }
                _ => return Err(self.unknown_key(&key, field, &k.span(), OAUTH2_KEYS)),
            }
        }
        let missing = |field: &str, example: &str| {
            self.invalid(
                &v.span(),
                &join(key, field),
                None,
                format!("missing: the [oauth2] table needs it, e.g. {example}"),
            )
        };
        let token_url = token_url.ok_or_else(|| {
            missing(
                "token_url",
                "token_url = \"https://oauth2.googleapis.com/token\"",
            )
        })?;
        let device_url = device_url.ok_or_else(|| {
            missing(
                "device_authorization_url",
                "device_authorization_url = \"https://oauth2.googleapis.com/device/code\"",
            )
        })?;
        let client_id =
            client_id.ok_or_else(|| missing("client_id", "client_id = \"0123-abcd\""))?;
        let vault = match (get, store) {
            (None, None) => Vault::Account(account_key.to_owned()),
            (Some(get), Some(store)) => Vault::Commands {
                get: get.value,
                store: store.value,
            },
            (Some(one), None) | (None, Some(one)) => {
                return Err(self.invalid(
                    &one.span,
                    key,
                    None,
                    "refresh_token_command and refresh_token_store_command go together: the \
                     server may hand out a new refresh token at any login, and popview must be \
                     able to store it. Set both, or neither (popview then keeps the token in a \
                     0600 file in its data directory)",
                ));
            }
        };
        Ok(oauth::Settings {
            token_url,
            device_authorization_url: device_url,
            client_id,
            client_secret_command: secret_command,
            scope,
            vault,
            timeout,
        })
    }

    fn url(&self, key: &str, v: &Value<'_>) -> R<String> {
        let s = self.string(
            key,
            v,
            "token_url = \"https://oauth2.googleapis.com/token\"",
        )?;
        oauth::check_url(&s).map_err(|m| self.bad(key, v, m))?;
        Ok(s)
    }

    fn command(&self, key: &str, v: &Value<'_>, example: &str) -> R<String> {
        let s = self.string(key, v, &format!("\"{example}\""))?;
        if s.trim().is_empty() {
            return Err(self.bad(key, v, format!("expected a command, e.g. \"{example}\"")));
        }
        Ok(s)
    }
}
