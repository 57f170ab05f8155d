//! PURE: RFC 1524 mailcap files, parsed and searched.
//!
//! A mailcap line is `type/subtype; view-command; flag; name=value ...`.
//! popview uses the view command and the fields `copiousoutput` (run it,
//! capture its output, show it in the reader), `needsterminal` (hand the
//! terminal over), and `test=` (a command run first; the entry is skipped
//! when it fails). Type wildcards (`text/*`, a bare `text`) match any
//! subtype. Entries are tried in file order, files in search-path order
//! ([`search_path`]: `$MAILCAPS`, else `~/.mailcap`, `/etc/mailcap`).
//!
//! The safety rule, in one place ([`expand`]): the only text of a mail that
//! ever reaches the shell is the file's path, which popview chose itself
//! (a private temp dir and a safe base name), and it goes in single-quoted
//! (`'` becomes `'\''`). `%t` (the MIME type) is quoted the same way. An
//! entry asking for anything else of the mail (`%{charset}` and other
//! parameters, `%n`, `%F`) is skipped, never filled in; a command without
//! `%s` reads the file on its standard input (`< 'file'`).

use std::path::{Path, PathBuf};

/// Longest mailcap file read, in bytes (a mailcap is a few KB).
pub const MAX_FILE: usize = 1024 * 1024;
/// Most entries kept from all files together.
pub const MAX_ENTRIES: usize = 10_000;

/// One mailcap entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// `type/subtype` in lower case (`text/*` for a wildcard).
    pub mime: String,
    /// The view command, escapes (`\;`) resolved.
    pub command: String,
    pub copiousoutput: bool,
    pub needsterminal: bool,
    /// The `test=` command, if any.
    pub test: Option<String>,
}

/// Where the mailcap files are, in the order they are searched: each entry
/// of `mailcaps` (`$MAILCAPS`, colon-separated) when it is set, else
/// `~/.mailcap` (when `home` is known) and `/etc/mailcap`.
pub fn search_path(mailcaps: Option<&str>, home: Option<&Path>) -> Vec<PathBuf> {
    match mailcaps {
        Some(list) if !list.trim().is_empty() => list
            .split(':')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect(),
        _ => {
            let mut v = Vec::new();
            if let Some(h) = home {
                v.push(h.join(".mailcap"));
            }
            v.push(PathBuf::from("/etc/mailcap"));
            v
        }
    }
}

/// Parse one mailcap file's text. Comments (`#`), blank lines and lines
/// without a type or a command are skipped; a backslash at the end of a
/// line continues it.
pub fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        if let Some(stripped) = line.strip_suffix('\\') {
            logical.push_str(stripped);
            continue;
        }
        logical.push_str(line);
        let full = std::mem::take(&mut logical);
        if let Some(e) = parse_line(&full) {
            out.push(e);
            if out.len() >= MAX_ENTRIES {
                return out;
            }
        }
    }
    if let Some(e) = parse_line(&logical) {
        out.push(e);
    }
    out
}

/// Split at unescaped `;`, resolving `\;` and `\\` (other escapes stay as
/// written: a `\%` keeps its meaning for [`expand`]).
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(';') => out.last_mut().unwrap_or(&mut String::new()).push(';'),
                Some(other) => {
                    if let Some(last) = out.last_mut() {
                        last.push('\\');
                        last.push(other);
                    }
                }
                None => {}
            },
            ';' => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

fn parse_line(line: &str) -> Option<Entry> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let f = fields(t);
    let mime = f.first()?.trim().to_ascii_lowercase();
    let mime = if mime.contains('/') {
        mime
    } else {
        format!("{mime}/*")
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+*".contains(c))
    };
    let (ty, sub) = mime.split_once('/')?;
    if !valid(ty) || !valid(sub) {
        return None;
    }
    let command = f.get(1)?.trim().to_string();
    if command.is_empty() {
        return None;
    }
    let mut e = Entry {
        mime,
        command,
        ..Entry::default()
    };
    for field in f.iter().skip(2) {
        let field = field.trim();
        let (name, value) = match field.split_once('=') {
            Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (field.to_ascii_lowercase(), None),
        };
        match (name.as_str(), value) {
            ("copiousoutput", None) => e.copiousoutput = true,
            ("needsterminal", None) => e.needsterminal = true,
            ("test", Some(v)) if !v.is_empty() => e.test = Some(v.to_string()),
            _ => {}
        }
    }
    Some(e)
}

/// Whether an entry's type matches `mime` (`type/subtype`, any case).
pub fn matches(entry_mime: &str, mime: &str) -> bool {
    let mime = mime.to_ascii_lowercase();
    let (et, es) = entry_mime.split_once('/').unwrap_or((entry_mime, "*"));
    let (mt, ms) = mime.split_once('/').unwrap_or((&mime, ""));
    et == mt && (es == "*" || es == ms)
}

/// Quote `s` for `sh`: single quotes, an embedded `'` closed, escaped and
/// reopened. Nothing inside single quotes is special to the shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The entry's command with `%s` (the file) and `%t` (the type) filled in,
/// quoted by [`shell_quote`]; `%%` is a percent sign. `None` when the
/// command asks for anything else (`%{name}`, `%n`, `%F`): those would put
/// text of the mail into the shell. A command without `%s` reads the file
/// on its standard input.
pub fn expand(command: &str, file: &Path, mime: &str) -> Option<String> {
    let path = file.to_str()?;
    let mut out = String::new();
    let mut saw_file = false;
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '%' => match chars.next() {
                Some('s') => {
                    out.push_str(&shell_quote(path));
                    saw_file = true;
                }
                Some('t') => out.push_str(&shell_quote(mime)),
                Some('%') => out.push('%'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    if !saw_file {
        out = format!("{out} < {}", shell_quote(path));
    }
    Some(out)
}

/// The first entry for `mime` whose test passes (`test` runs a test
/// command, already expanded, and says whether it exited 0), with its
/// command expanded for `file`. Entries whose command or test can't be
/// expanded safely are skipped.
pub fn lookup<'a>(
    entries: &'a [Entry],
    mime: &str,
    file: &Path,
    mut test: impl FnMut(&str) -> bool,
) -> Option<(&'a Entry, String)> {
    for e in entries.iter().filter(|e| matches(&e.mime, mime)) {
        let Some(cmd) = expand(&e.command, file, mime) else {
            continue;
        };
        if let Some(t) = &e.test {
            // A test's `%s` needs no stdin redirection: only `%t` is
            // common there; either way it is expanded as safely.
            match expand(t, file, mime) {
                Some(tc) if test(&tc) => {}
                _ => continue,
            }
        }
        return Some((e, cmd));
    }
    None
}
