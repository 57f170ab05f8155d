//! `popview authorize --account NAME`: the OAuth2 device authorization
//! grant for an account with an `[oauth2]` table. Prints where to go and the
//! code to enter (on stdout, so it works over SSH with the browser on
//! another device), polls until the user has finished, and stores the
//! refresh token (see [`crate::oauth::vault`]). Never prints a token.
//! Ctrl-C stops it cleanly: nothing is stored.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::CmdError;
use crate::cli::exit;
use crate::config::Account;
use crate::oauth::{self, OAuthError, device};

/// The exit code for an OAuth2 failure: the network's, a refusal's
/// (authentication), a cancel's (130, as a shell gives for Ctrl-C).
pub fn exit_code(e: &OAuthError) -> i32 {
    match e {
        OAuthError::Network { .. } => exit::NETWORK,
        OAuthError::Garbage { .. } => exit::SERVER,
        OAuthError::File { .. } | OAuthError::StoreCommand { .. } => exit::INTERNAL,
        OAuthError::Cancelled => 130,
        OAuthError::Refused { .. }
        | OAuthError::Denied
        | OAuthError::Expired
        | OAuthError::NotAuthorized { .. }
        | OAuthError::Command { .. } => exit::AUTH,
    }
}

/// Run the device grant for `account`, printing the instructions to `out`.
pub fn authorize(account: &Account, out: &mut dyn Write) -> Result<(), CmdError> {
    let Some(settings) = &account.oauth2 else {
        return Err(CmdError::new(
            exit::USAGE,
            format!(
                "the account {:?} has no [accounts.{}.oauth2] table: add one with token_url, \
                 device_authorization_url and client_id (see the README: Microsoft 365, Gmail)",
                account.name, account.name
            ),
        ));
    };
    let cancel = Arc::new(AtomicBool::new(false));
    // Ctrl-C sets the flag; polling stops within 100 ms.
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&cancel))
            .map_err(|e| CmdError::new(exit::INTERNAL, format!("can't watch for Ctrl-C: {e}")))?;
    }
    run(settings, &account.name, &cancel, out)
        .map_err(|e| CmdError::new(exit_code(&e), e.to_string()))
}

/// The grant itself, with the cancel flag given (for tests).
pub fn run(
    settings: &oauth::Settings,
    name: &str,
    cancel: &AtomicBool,
    out: &mut dyn Write,
) -> Result<(), OAuthError> {
    let pending = device::start(settings)?;
    let minutes = pending.expires_in.as_secs().div_ceil(60);
    let mut say = |text: String| {
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    };
    say(format!("To let popview read the account {name}:"));
    say(format!(
        "  1. open {} in a browser (on this or any other device)",
        pending.verification_uri
    ));
    say(format!("  2. enter the code: {}", pending.user_code));
    if let Some(complete) = &pending.verification_uri_complete {
        say(format!("  (or open {complete}, which has the code in it)"));
    }
    say(format!(
        "Waiting for you to finish (the code works for {minutes} min; Ctrl-C to cancel)..."
    ));
    let granted = device::poll(settings, &pending, cancel, &mut |p| {
        if let device::Progress::SlowDown(every) = p {
            tracing::debug!("oauth2: slow_down, polling every {} s", every.as_secs());
        }
    })?;
    settings.vault.save(&granted.refresh_token)?;
    let place = match settings.vault.path() {
        Ok(Some(path)) => format!("in {}", path.display()),
        _ => "with refresh_token_store_command".to_owned(),
    };
    say(format!(
        "Authorized. The refresh token is stored {place}; popview uses it at each login."
    ));
    Ok(())
}
