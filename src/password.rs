//! Where the password comes from: a command, an environment variable, or
//! the user at the terminal.
//!
//! The order is a contract ([`sources`]):
//! 1. `--password-command` on the command line,
//! 2. the account's `password_command` or `password_env`,
//! 3. the `POPVIEW_PASSWORD` environment variable,
//! 4. otherwise nothing: the caller asks the user ([`prompt_password`], or a
//!    dialog in the TUI).
//!
//! Passwords never appear in an error, in `Debug` output, or on the screen:
//! a failing command is reported by its exit code and the first line of its
//! stderr, never by what it printed on stdout.
//!
//! A password read here is a [`Password`]: its memory is wiped (`zeroize`)
//! when it is dropped, and so are the buffers it was read through (the
//! command's stdout, the prompt's line), on success and on every error.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::terminal;
use zeroize::Zeroizing;

/// The environment variable read after the account's own sources.
pub const ENV_VAR: &str = "POPVIEW_PASSWORD";

/// How long a password command may run before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// More output than this is not a password.
const MAX_STDOUT: usize = 64 * 1024;
/// Only the first line of stderr is shown; keep a little more for context.
const MAX_STDERR: usize = 8 * 1024;
/// The stderr line shown in an error is cut to this many characters.
const STDERR_LINE_CHARS: usize = 200;

/// A password: wiped from memory when dropped, `<redacted>` in `Debug`.
/// Reads as a `&str` ([`Password::expose`] or deref).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Zeroizing<String>);

impl Password {
    pub fn new(password: String) -> Self {
        Password(Zeroizing::new(password))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Password {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Password::new(s)
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Self {
        Password::new(s.to_owned())
    }
}

impl PartialEq<str> for Password {
    fn eq(&self, other: &str) -> bool {
        self.expose() == other
    }
}

impl PartialEq<&str> for Password {
    fn eq(&self, other: &&str) -> bool {
        self.expose() == *other
    }
}

/// One place a password may come from.
///
/// `Command` and `Env` hold a command line and a variable *name*, never a
/// password, so the derived `Debug` is safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// Run with `sh -c`; the password is its stdout, less one trailing newline.
    Command(String),
    /// Read this environment variable; skipped when it isn't set.
    Env(String),
    /// Stop here: the caller asks the user.
    Prompt,
}

/// Why no password could be had. Never holds the password or the command's
/// stdout.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("can't run the password command {command:?}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: io::Error,
    },
    #[error("the password command {command:?} failed ({status}){}", stderr_suffix(.stderr))]
    Failed {
        command: String,
        /// "exit code 1", "killed by signal 9".
        status: String,
        /// The first non-blank line of stderr, sanitized and shortened.
        stderr: Option<String>,
    },
    #[error(
        "the password command {command:?} did not finish within {} s and was stopped; \
         if it waits for input (a passphrase, a touch), unlock it first and try again",
        .timeout.as_secs_f32()
    )]
    TimedOut { command: String, timeout: Duration },
    #[error(
        "the password command {command:?} printed more than one line; popview uses all of its \
             output as the password, so make it print only the password (e.g. add `| head -n 1`)"
    )]
    MultiLine { command: String },
    #[error("the password command {command:?} printed more than {} KiB; that is not a password", MAX_STDOUT / 1024)]
    TooLong { command: String },
    #[error("{origin} gave an empty password")]
    Empty {
        /// "the password command \"...\"" or "the environment variable X".
        origin: String,
    },
    #[error("{origin} gave a password that is not valid UTF-8")]
    NotUtf8 { origin: String },
    #[error("waiting for the password command {command:?}: {source}")]
    Wait {
        command: String,
        #[source]
        source: io::Error,
    },
}

fn stderr_suffix(stderr: &Option<String>) -> String {
    match stderr {
        Some(line) => format!(": {line}"),
        None => String::new(),
    }
}

/// The sources in the contract order: the command given on the command line,
/// then the account's own source, then [`ENV_VAR`], then [`PasswordSource::Prompt`].
pub fn sources(cli_command: Option<&str>, account: Option<&PasswordSource>) -> Vec<PasswordSource> {
    let mut out = Vec::with_capacity(4);
    if let Some(cmd) = cli_command {
        out.push(PasswordSource::Command(cmd.to_owned()));
    }
    if let Some(src) = account {
        out.push(src.clone());
    }
    out.push(PasswordSource::Env(ENV_VAR.to_owned()));
    out.push(PasswordSource::Prompt);
    out
}

/// Try the sources in order. The first command that is present is run and
/// its answer (or failure) is final; an environment variable that isn't set
/// is skipped; `Prompt`, or the end of the list, gives `Ok(None)`: the
/// caller asks the user.
pub fn resolve(sources: &[PasswordSource]) -> Result<Option<Password>, PasswordError> {
    resolve_with(sources, &|name| std::env::var_os(name), COMMAND_TIMEOUT)
}

/// [`resolve`] with the environment and the command timeout given (for tests
/// and for callers that sandbox the environment).
pub fn resolve_with(
    sources: &[PasswordSource],
    env: &dyn Fn(&str) -> Option<OsString>,
    timeout: Duration,
) -> Result<Option<Password>, PasswordError> {
    for source in sources {
        match source {
            PasswordSource::Command(cmd) => return run_command(cmd, timeout).map(Some),
            PasswordSource::Env(name) => {
                let Some(value) = env(name) else { continue };
                let origin = || format!("the environment variable {name}");
                let value = Password::new(
                    value
                        .into_string()
                        .map_err(|_| PasswordError::NotUtf8 { origin: origin() })?,
                );
                if value.is_empty() {
                    return Err(PasswordError::Empty { origin: origin() });
                }
                return Ok(Some(value));
            }
            PasswordSource::Prompt => return Ok(None),
        }
    }
    Ok(None)
}

/// Run `command` with `sh -c` (stdin closed, stdout and stderr captured) and
/// return its stdout less one trailing newline. Killed after `timeout`.
///
/// The command stays in popview's process group so that a pinentry on the
/// terminal keeps working; a grandchild that outlives a killed `sh` is not
/// chased (popview stops waiting for it all the same).
pub fn run_command(command: &str, timeout: Duration) -> Result<Password, PasswordError> {
    let origin = || format!("the password command {command:?}");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| PasswordError::Spawn {
            command: command.to_owned(),
            source,
        })?;
    let deadline = Instant::now() + timeout;
    let stdout = child
        .stdout
        .take()
        .map(|s| read_in_background(s, MAX_STDOUT));
    let stderr = child
        .stderr
        .take()
        .map(|s| read_in_background(s, MAX_STDERR));

    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(source) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PasswordError::Wait {
                    command: command.to_owned(),
                    source,
                });
            }
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(PasswordError::TimedOut {
                command: command.to_owned(),
                timeout,
            });
        }
        thread::sleep(Duration::from_millis(5));
    };

    // Something the command started in the background may still hold the
    // pipes open: wait for the output no longer than the deadline.
    let collect = |rx: Option<mpsc::Receiver<Captured>>| -> Result<Captured, PasswordError> {
        let Some(rx) = rx else {
            return Ok(Captured::default());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        rx.recv_timeout(left.max(Duration::from_millis(50)))
            .map_err(|_| PasswordError::TimedOut {
                command: command.to_owned(),
                timeout,
            })
    };
    let mut out = collect(stdout)?;
    // Checked first: popview closing the pipe makes the command fail.
    if out.truncated {
        return Err(PasswordError::TooLong {
            command: command.to_owned(),
        });
    }
    if !status.success() {
        let err_out = collect(stderr)?;
        return Err(PasswordError::Failed {
            command: command.to_owned(),
            status: describe_status(status),
            stderr: first_line(&err_out.bytes),
        });
    }
    // Checked on the borrowed bytes, so that the buffer is moved (never
    // copied) into the password and wiped on every path.
    if std::str::from_utf8(&out.bytes).is_err() {
        return Err(PasswordError::NotUtf8 { origin: origin() });
    }
    let mut text =
        Password::new(String::from_utf8(std::mem::take(&mut *out.bytes)).unwrap_or_default());
    let len = strip_one_newline(&text).len();
    text.0.truncate(len);
    if text.is_empty() {
        return Err(PasswordError::Empty { origin: origin() });
    }
    if text.contains(['\n', '\r']) {
        return Err(PasswordError::MultiLine {
            command: command.to_owned(),
        });
    }
    Ok(text)
}

/// What a pipe gave; wiped when dropped (stdout holds the password).
#[derive(Default)]
struct Captured {
    bytes: Zeroizing<Vec<u8>>,
    truncated: bool,
}

/// Read up to `cap` bytes on a thread; more than that marks the capture as
/// truncated and closes the pipe (the writer then gets SIGPIPE).
fn read_in_background(stream: impl Read + Send + 'static, cap: usize) -> mpsc::Receiver<Captured> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        // Room for any real password up front: a buffer that grows leaves
        // unwiped copies behind in the memory it gives back.
        let mut bytes = Zeroizing::new(Vec::with_capacity(1024));
        let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
        // A read error keeps what arrived: it is still worth showing.
        let _ = stream.take(limit).read_to_end(&mut bytes);
        let truncated = bytes.len() > cap;
        bytes.truncate(cap);
        let _ = tx.send(Captured { bytes, truncated });
    });
    rx
}

fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}

/// The first non-blank line, without control characters, at most
/// [`STDERR_LINE_CHARS`] characters.
fn first_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let clean = crate::sanitize::line(line);
    let clean = clean.trim();
    if clean.is_empty() {
        return None;
    }
    let mut out: String = clean.chars().take(STDERR_LINE_CHARS).collect();
    if clean.chars().count() > STDERR_LINE_CHARS {
        out.push('…');
    }
    Some(out)
}

/// Remove one trailing `\n` (or `\r\n`), nothing more.
fn strip_one_newline(s: &str) -> &str {
    s.strip_suffix("\r\n")
        .or_else(|| s.strip_suffix('\n'))
        .unwrap_or(s)
}

/// What a key press does to the password being typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptStep {
    Continue,
    Done,
    Cancel,
}

/// Apply one key press to the password being typed (pure, so it can be
/// tested without a terminal). Enter finishes; Ctrl-C, Esc, or Ctrl-D on an
/// empty line cancels; Backspace and Ctrl-H delete a character; Ctrl-U
/// clears; other control combinations are ignored.
pub fn prompt_key(buf: &mut String, key: &KeyEvent) -> PromptStep {
    if key.kind == KeyEventKind::Release {
        return PromptStep::Continue;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    match key.code {
        KeyCode::Enter => PromptStep::Done,
        KeyCode::Esc => PromptStep::Cancel,
        KeyCode::Backspace => {
            buf.pop();
            PromptStep::Continue
        }
        KeyCode::Char(c) if ctrl => match c.to_ascii_lowercase() {
            'c' => PromptStep::Cancel,
            'd' if buf.is_empty() => PromptStep::Cancel,
            'u' => {
                buf.clear();
                PromptStep::Continue
            }
            'h' => {
                buf.pop();
                PromptStep::Continue
            }
            'j' | 'm' => PromptStep::Done,
            _ => PromptStep::Continue,
        },
        KeyCode::Char(_) if alt => PromptStep::Continue,
        KeyCode::Char('\r' | '\n') => PromptStep::Done,
        KeyCode::Char(c) if !c.is_control() => {
            buf.push(c);
            PromptStep::Continue
        }
        _ => PromptStep::Continue,
    }
}

/// Ask for a password on the terminal (stdin, or `/dev/tty` when stdin is
/// not a terminal), without echo. The prompt goes to stderr. The terminal's
/// mode is restored on every path, including errors. Cancelling (Ctrl-C, Esc)
/// gives an `Interrupted` error.
pub fn prompt_password(prompt: &str) -> io::Result<Password> {
    let mut err = io::stderr();
    write!(err, "{prompt}")?;
    err.flush()?;
    let guard = RawMode::enable()?;
    // Wiped when dropped (a cancelled entry, an error); room up front so
    // that typing doesn't leave unwiped copies in reallocated memory.
    let mut buf = Zeroizing::new(String::with_capacity(256));
    let step = loop {
        match event::read()? {
            Event::Key(key) => match prompt_key(&mut buf, &key) {
                PromptStep::Continue => {}
                step => break step,
            },
            Event::Paste(text) => buf.extend(text.chars().filter(|c| !c.is_control())),
            _ => {}
        }
    };
    drop(guard);
    writeln!(err)?;
    match step {
        // Moved out, not copied: the `Password` is the only copy.
        PromptStep::Done => Ok(Password::new(std::mem::take(&mut *buf))),
        _ => Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "password entry cancelled",
        )),
    }
}

/// Raw mode for the life of the value, unless it was already on.
struct RawMode {
    was_raw: bool,
}

impl RawMode {
    fn enable() -> io::Result<RawMode> {
        let was_raw = terminal::is_raw_mode_enabled()?;
        if !was_raw {
            terminal::enable_raw_mode()?;
        }
        Ok(RawMode { was_raw })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if !self.was_raw {
            let _ = terminal::disable_raw_mode();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_reads_as_str_and_never_shows_in_debug() {
        let p = Password::from("hunter2");
        assert_eq!(p, "hunter2");
        assert_eq!(p.expose(), "hunter2");
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
        assert!(!format!("{:?}", Some(p.clone())).contains("hunter2"));
    }

    #[test]
    fn command_output_becomes_the_password_in_place() {
        let p = run_command("printf 'pw\\n'", Duration::from_secs(10)).unwrap();
        assert_eq!(p, "pw");
        // The buffer the output was read into (reserved up front), not a copy.
        assert!(p.0.capacity() >= 1024);
    }

    #[test]
    fn one_newline_is_stripped() {
        assert_eq!(strip_one_newline("pw\n"), "pw");
        assert_eq!(strip_one_newline("pw\r\n"), "pw");
        assert_eq!(strip_one_newline("pw\n\n"), "pw\n");
        assert_eq!(strip_one_newline("pw "), "pw ");
        assert_eq!(strip_one_newline("pw"), "pw");
    }

    #[test]
    fn stderr_first_line_is_sanitized_and_short() {
        assert_eq!(
            first_line(b"\n  \ngpg: \x1b[31mdecryption failed\nsecond").as_deref(),
            Some("gpg: decryption failed")
        );
        assert_eq!(first_line(b"\n\n"), None);
        let long = "x".repeat(500);
        let got = first_line(long.as_bytes()).unwrap();
        assert_eq!(got.chars().count(), STDERR_LINE_CHARS + 1);
        assert!(got.ends_with('…'));
    }
}
