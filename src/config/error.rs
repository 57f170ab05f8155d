//! Configuration errors: each names the file, the line and the key path,
//! quotes the bad value (never a secret) and says what is allowed.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum ConfigError {
    /// The file can't be read (missing, unreadable, not UTF-8).
    Read { path: PathBuf, source: io::Error },
    /// The file is not valid TOML.
    Syntax {
        path: PathBuf,
        /// 1-based.
        line: usize,
        /// 1-based, in characters.
        column: usize,
        message: String,
        /// The offending line with a caret under the column, unless the line
        /// may hold a secret.
        snippet: Option<String>,
    },
    /// Valid TOML, but a key or value popview can't accept.
    Invalid {
        path: PathBuf,
        /// 1-based line of the key or value at fault.
        line: usize,
        /// The key path, e.g. `accounts.work.tls`.
        key: String,
        /// The value as written (TOML-quoted), when it is safe to show.
        value: Option<String>,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// No account, or not the one asked for.
    Account(String),
    /// A `pop3s://` or `pop3://` URL that can't be used.
    Url(String),
}

impl ConfigError {
    /// The config file does not exist (the caller shows
    /// [`super::first_run_message`]).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ConfigError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// The key path at fault, for `Invalid`.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The 1-based line at fault, for `Syntax` and `Invalid`.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Syntax { line, .. } | ConfigError::Invalid { line, .. } => Some(*line),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(f, "can't read the config file {}: {source}", path.display())
            }
            ConfigError::Syntax {
                path,
                line,
                column,
                message,
                snippet,
            } => {
                write!(
                    f,
                    "{}: TOML syntax error at line {line}, column {column}: {message}",
                    path.display()
                )?;
                if let Some(snippet) = snippet {
                    write!(f, "\n{snippet}")?;
                }
                Ok(())
            }
            ConfigError::Invalid {
                path,
                line,
                key,
                value,
                message,
            } => {
                write!(f, "{}, line {line}: {key}", path.display())?;
                if let Some(value) = value {
                    write!(f, " = {value}")?;
                }
                write!(f, ": {message}")
            }
            ConfigError::Account(message) | ConfigError::Url(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}
