//! Where an account's refresh token is kept.
//!
//! - [`Vault::File`] (the default): `oauth2-refresh-token` in the
//!   account's data directory (`~/.local/share/popview/accounts/<hash>/`,
//!   next to `marks.json`), 0600 in a 0700 directory, written atomically
//!   the way the marks are ([`crate::store::write_private`]) and read the
//!   way popview reads its own files: a regular file only, size capped.
//! - [`Vault::Commands`]: `refresh_token_command` prints the token (run
//!   like `password_command`), `refresh_token_store_command` is given a new
//!   one on its stdin (e.g. `pass insert -m -f mail/oauth`, `secret-tool
//!   store ...`). The two go together, so that a token the server rotates
//!   is never lost.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::OAuthError;
use crate::password::{self, Password};

/// The file name in the account's data directory.
pub const FILE_NAME: &str = "oauth2-refresh-token";
/// A refresh token file bigger than this is not read.
const MAX_FILE: u64 = 16 * 1024;

/// Where the refresh token is kept. Holds a path or command lines, never
/// the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vault {
    /// The default: the file in the data directory of the account with
    /// this key (`user@host:port`), under [`crate::store::default_roots`].
    Account(String),
    /// This file.
    File(PathBuf),
    Commands {
        get: String,
        store: String,
    },
}

impl Vault {
    /// The file in the data directory of the account `account_key`
    /// (`user@host:port`), as [`crate::store::Store`] lays it out.
    pub fn file_for(data_root: &Path, account_key: &str) -> PathBuf {
        crate::store::Store::data_dir_for(data_root, account_key).join(FILE_NAME)
    }

    /// The file this vault keeps the token in, if it is a file.
    pub fn path(&self) -> Result<Option<PathBuf>, OAuthError> {
        match self {
            Vault::Account(key) => {
                let roots = crate::store::default_roots().ok_or_else(|| OAuthError::File {
                    path: PathBuf::from(FILE_NAME),
                    message: "no home directory is known for popview's data directory; set HOME"
                        .to_owned(),
                })?;
                Ok(Some(Vault::file_for(&roots.data, key)))
            }
            Vault::File(path) => Ok(Some(path.clone())),
            Vault::Commands { .. } => Ok(None),
        }
    }

    /// The stored refresh token; `Ok(None)` when none is stored yet.
    pub fn load(&self) -> Result<Option<Password>, OAuthError> {
        match self {
            Vault::Account(_) | Vault::File(_) => {
                let path = self.path()?.unwrap_or_default();
                let path = &path;
                let bytes =
                    crate::store::read_private(path, MAX_FILE).map_err(|e| OAuthError::File {
                        path: path.to_owned(),
                        message: format!("{e}; remove it and run popview authorize again"),
                    })?;
                let Some(bytes) = bytes else { return Ok(None) };
                let bytes = zeroize::Zeroizing::new(bytes);
                let text = std::str::from_utf8(&bytes).map_err(|_| OAuthError::File {
                    path: path.to_owned(),
                    message: "it is not text; remove it and run popview authorize again".into(),
                })?;
                let token = text.trim();
                if token.is_empty() {
                    return Ok(None);
                }
                Ok(Some(Password::from(token)))
            }
            Vault::Commands { get, .. } => password::run_command(get, password::COMMAND_TIMEOUT)
                .map(Some)
                .map_err(|source| OAuthError::Command {
                    what: "refresh_token_command",
                    source,
                }),
        }
    }

    /// Keep `token` (replacing the old one): durable when this returns.
    pub fn save(&self, token: &Password) -> Result<(), OAuthError> {
        match self {
            Vault::Account(_) | Vault::File(_) => {
                let path = self.path()?.unwrap_or_default();
                let path = &path;
                if let Some(dir) = path.parent() {
                    crate::store::create_private_dir(dir).map_err(|e| OAuthError::File {
                        path: path.to_owned(),
                        message: format!("can't create its directory: {e}"),
                    })?;
                }
                let mut line = zeroize::Zeroizing::new(String::with_capacity(token.len() + 1));
                line.push_str(token.expose());
                line.push('\n');
                crate::store::write_private(path, line.as_bytes()).map_err(|e| OAuthError::File {
                    path: path.to_owned(),
                    message: format!("can't write it: {e}"),
                })
            }
            Vault::Commands { store, .. } => store_with_command(store, token),
        }
    }
}

/// Run `command` with `sh -c`, the token and a newline on its stdin;
/// killed after [`password::COMMAND_TIMEOUT`].
fn store_with_command(command: &str, token: &Password) -> Result<(), OAuthError> {
    let failed = |status: String, stderr: Option<String>| OAuthError::StoreCommand {
        command: command.to_owned(),
        status,
        stderr,
    };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("can't run it: {e}"), None))?;
    // Written on a thread: a command that doesn't read must not hang us.
    if let Some(mut stdin) = child.stdin.take() {
        let mut line = zeroize::Zeroizing::new(String::with_capacity(token.len() + 1));
        line.push_str(token.expose());
        line.push('\n');
        thread::spawn(move || {
            let _ = stdin.write_all(line.as_bytes());
        });
    }
    let stderr = child.stderr.take().map(|mut s| {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = (&mut s).take(8 * 1024).read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
        rx
    });
    let deadline = Instant::now() + password::COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed("did not finish within 30 s".into(), None));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!("can't wait for it: {e}"), None));
            }
        }
    };
    if status.success() {
        return Ok(());
    }
    let err = stderr
        .and_then(|rx| rx.recv_timeout(Duration::from_secs(1)).ok())
        .and_then(|b| {
            String::from_utf8_lossy(&b)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(|l| super::http::short(l, 200))
        });
    let how = match status.code() {
        Some(c) => format!("exit code {c}"),
        None => "killed by a signal".to_owned(),
    };
    Err(failed(how, err))
}
