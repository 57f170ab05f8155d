//! PURE: the save prompts' paths: `~` and `$HOME` expansion, and Tab
//! completion over a directory listing read elsewhere (the terminal loop
//! lists the folder; the app never touches the disk).
//!
//! A Maildir (a folder with `cur/`, `new/` and `tmp/`) completes as a
//! mailbox, like a file: no `/` is added, so a second Tab doesn't descend
//! into it.

use std::path::{Path, PathBuf};

/// What a folder entry is, as far as saving cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A folder that is not a Maildir.
    Dir,
    /// A folder with `cur/`, `new/` and `tmp/`.
    Maildir,
    /// Anything else (an mbox, a file).
    File,
}

/// One entry of the folder being completed in (its name as the file system
/// gave it, lossily made UTF-8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub kind: EntryKind,
}

/// What a typed path names, looked at by the terminal loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    Entry(EntryKind),
    /// Nothing there yet.
    Missing,
}

/// The most entries a listing hands in (a huge folder is cut).
pub const MAX_ENTRIES: usize = 5_000;

/// The typed `text` with a leading `$HOME`/`${HOME}` (as a shell would)
/// or `~` ([`crate::paths::expand_tilde`], the one `~` rule) replaced by
/// `home`. `Err`: it can't be (no home known, or `~user`).
pub fn expand(text: &str, home: Option<&Path>) -> Result<PathBuf, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("no path given".into());
    }
    // `$HOMEX` is another variable: taken literally.
    let home_var = text
        .strip_prefix("$HOME")
        .or_else(|| text.strip_prefix("${HOME}"))
        .filter(|rest| rest.is_empty() || rest.starts_with('/'));
    match home_var {
        Some(rest) => crate::paths::expand_tilde(&format!("~{rest}"), home),
        None => crate::paths::expand_tilde(text, home),
    }
}

/// `text` cut into the folder part (up to and including the last `/`) and
/// the start of a name being typed.
pub fn split(text: &str) -> (&str, &str) {
    match text.rfind('/') {
        Some(i) => text.split_at(i + 1),
        None => ("", text),
    }
}

/// The folder a listing for `text` must read (as typed, to be expanded):
/// `.` when no folder was typed.
pub fn folder_of(text: &str) -> &str {
    match split(text).0 {
        "" => ".",
        d => d,
    }
}

/// The result of one Tab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The line after the Tab.
    pub text: String,
    /// The names still possible when more than one is (sorted, folders
    /// with a `/`), to show.
    pub candidates: Vec<String>,
}

/// Complete `text` against `entries`, the listing of its folder. Hidden
/// entries are offered only when the name typed starts with a dot; a name
/// with control characters (a planted escape sequence; nobody types it)
/// never is.
pub fn complete(text: &str, entries: &[DirEntry]) -> Completion {
    let (dir, start) = split(text);
    let mut hits: Vec<&DirEntry> = entries
        .iter()
        .filter(|e| {
            e.name.starts_with(start)
                && (start.starts_with('.') || !e.name.starts_with('.'))
                && !e.name.chars().any(char::is_control)
        })
        .collect();
    hits.sort_by(|a, b| a.name.cmp(&b.name));
    let shown = |e: &DirEntry| match e.kind {
        EntryKind::Dir => format!("{}/", e.name),
        EntryKind::Maildir | EntryKind::File => e.name.clone(),
    };
    match hits.as_slice() {
        [] => Completion {
            text: text.to_string(),
            candidates: Vec::new(),
        },
        [one] => Completion {
            text: format!("{dir}{}", shown(one)),
            candidates: Vec::new(),
        },
        many => {
            let common = many.iter().skip(1).fold(many[0].name.as_str(), |acc, e| {
                let n = acc
                    .char_indices()
                    .zip(e.name.chars())
                    .take_while(|((_, a), b)| a == b)
                    .last()
                    .map_or(0, |((i, a), _)| i + a.len_utf8());
                &acc[..n]
            });
            Completion {
                text: format!(
                    "{dir}{}",
                    if common.len() > start.len() {
                        common
                    } else {
                        start
                    }
                ),
                candidates: many.iter().map(|e| shown(e)).collect(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, kind: EntryKind) -> DirEntry {
        DirEntry {
            name: name.into(),
            kind,
        }
    }

    #[test]
    fn home_is_expanded() {
        let h = Some(Path::new("/home/a"));
        assert_eq!(expand("~", h).unwrap(), PathBuf::from("/home/a"));
        assert_eq!(expand("~/Mail", h).unwrap(), PathBuf::from("/home/a/Mail"));
        assert_eq!(
            expand("$HOME/Mail", h).unwrap(),
            PathBuf::from("/home/a/Mail")
        );
        assert_eq!(expand("${HOME}/x", h).unwrap(), PathBuf::from("/home/a/x"));
        assert_eq!(expand("$HOMER/x", h).unwrap(), PathBuf::from("$HOMER/x"));
        assert_eq!(expand("/tmp/x", None).unwrap(), PathBuf::from("/tmp/x"));
        assert!(expand("~bob/x", h).is_err());
        assert!(expand("~/x", None).is_err());
        assert!(expand("  ", h).is_err());
    }

    #[test]
    fn one_match_completes_a_maildir_as_a_mailbox_and_a_folder_with_a_slash() {
        let entries = [
            e("inbox", EntryKind::Maildir),
            e("archive", EntryKind::Dir),
            e("mbox", EntryKind::File),
        ];
        assert_eq!(complete("~/Mail/in", &entries).text, "~/Mail/inbox");
        assert_eq!(complete("~/Mail/ar", &entries).text, "~/Mail/archive/");
        assert_eq!(complete("mb", &entries).text, "mbox");
        assert_eq!(complete("zz", &entries).text, "zz");
    }

    #[test]
    fn many_matches_complete_the_common_start_and_list_them() {
        let entries = [
            e("lists-rust", EntryKind::Maildir),
            e("lists-rs", EntryKind::Dir),
            e(".hidden", EntryKind::Dir),
        ];
        let c = complete("M/li", &entries);
        assert_eq!(c.text, "M/lists-r");
        assert_eq!(c.candidates, vec!["lists-rs/", "lists-rust"]);
        assert_eq!(complete("M/.h", &entries).text, "M/.hidden/");
        // Multibyte names split on characters.
        let entries = [e("été-a", EntryKind::File), e("été-b", EntryKind::File)];
        assert_eq!(complete("é", &entries).text, "été-");
        assert_eq!(folder_of("abc"), ".");
        assert_eq!(folder_of("~/Mail/x"), "~/Mail/");
        // A name carrying an escape sequence is never offered.
        let entries = [
            e("in\u{1b}[2Jbox", EntryKind::File),
            e("inner", EntryKind::File),
        ];
        assert_eq!(complete("in", &entries).text, "inner");
    }
}
