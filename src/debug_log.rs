//! The opt-in debug log: the worker's decisions (connection attempts,
//! sessions opened and lost, the backoff chosen, marks applied, refused or
//! dropped, commits, header cache hits) as `tracing` events, written to the
//! file named by `--debug-log FILE` or `POPVIEW_LOG=FILE`.
//!
//! Off by default: without either, no subscriber is installed and the
//! events cost a disabled-callsite check. The file is opened by the same
//! rule as the `--log` wire trace ([`crate::pop3::open_private_log`]:
//! created 0600, appended), never the terminal. The events carry numbers,
//! UIDs and error kinds; any server text in them is sanitized and has the
//! session's secrets cut out; never a password, a message's content, its
//! subject or its sender.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::cli::exit;
use crate::commands::CmdError;

/// The environment variable naming the debug log when `--debug-log` doesn't.
pub const ENV: &str = "POPVIEW_LOG";

/// Where the debug log goes: the option, else a non-empty `POPVIEW_LOG`.
pub fn path(option: Option<&Path>) -> Option<PathBuf> {
    option.map(Path::to_path_buf).or_else(|| {
        std::env::var_os(ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// Install the process's subscriber writing to the debug log, if one is
/// asked for ([`path`]); otherwise do nothing at all.
pub fn init(option: Option<&Path>) -> Result<(), CmdError> {
    let Some(path) = path(option) else {
        return Ok(());
    };
    let file =
        crate::pop3::open_private_log(&path).map_err(|e| CmdError::new(exit::USAGE, e.message))?;
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(Mutex::new(file))
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| CmdError::new(exit::INTERNAL, format!("debug log: {e}")))
}
