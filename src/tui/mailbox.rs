//! The save prompts' questions about the disk (the app never reads it):
//! list the folder of a path being completed, and say what a typed path
//! names (a Maildir, a file, a folder, nothing yet). `~` and `$HOME` are
//! expanded with [`crate::app::complete::expand`].

use std::path::{Path, PathBuf};

use crate::app::complete::{self, DirEntry, EntryKind, Found, MAX_ENTRIES};
use crate::app::{MailboxAnswer, MailboxQuery};

/// Answer one question (a few `stat`s and at most one folder listing:
/// quick enough for the UI thread on a local disk).
pub fn answer(q: MailboxQuery) -> MailboxAnswer {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    match q {
        MailboxQuery::List { text } => {
            let entries = complete::expand(complete::folder_of(&text), home.as_deref())
                .map(|dir| list(&dir))
                .unwrap_or_default();
            MailboxAnswer::Listing { text, entries }
        }
        MailboxQuery::Probe { text } => {
            let found = complete::expand(&text, home.as_deref()).and_then(|p| {
                let p = absolute(p);
                probe(&p).map(|f| (p, f))
            });
            MailboxAnswer::Probed { text, found }
        }
    }
}

/// A relative path is taken from the current folder.
fn absolute(p: PathBuf) -> PathBuf {
    if p.is_relative() {
        std::env::current_dir().map_or(p.clone(), |d| d.join(p))
    } else {
        p
    }
}

/// What `p` names (symlinks followed, as mutt does).
fn probe(p: &Path) -> Result<Found, String> {
    match std::fs::metadata(p) {
        Ok(m) => Ok(Found::Entry(kind_of(p, m.is_dir()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Found::Missing),
        Err(e) => Err(format!("can't use {}: {e}", p.display())),
    }
}

fn kind_of(p: &Path, is_dir: bool) -> EntryKind {
    if !is_dir {
        EntryKind::File
    } else if ["cur", "new", "tmp"].iter().all(|d| p.join(d).is_dir()) {
        EntryKind::Maildir
    } else {
        EntryKind::Dir
    }
}

/// The entries of `dir`, at most [`MAX_ENTRIES`]; nothing when it can't
/// be read.
fn list(dir: &Path) -> Vec<DirEntry> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .take(MAX_ENTRIES)
        .map(|e| {
            let path = e.path();
            let is_dir = std::fs::metadata(&path).is_ok_and(|m| m.is_dir());
            DirEntry {
                name: e.file_name().to_string_lossy().into_owned(),
                kind: kind_of(&path, is_dir),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_maildir_a_file_a_folder_and_nothing() {
        let d = tempfile::tempdir().unwrap();
        let md = d.path().join("inbox");
        for s in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(md.join(s)).unwrap();
        }
        std::fs::create_dir(d.path().join("plain")).unwrap();
        std::fs::write(d.path().join("mbox"), b"").unwrap();
        assert_eq!(probe(&md), Ok(Found::Entry(EntryKind::Maildir)));
        assert_eq!(
            probe(&d.path().join("plain")),
            Ok(Found::Entry(EntryKind::Dir))
        );
        assert_eq!(
            probe(&d.path().join("mbox")),
            Ok(Found::Entry(EntryKind::File))
        );
        assert_eq!(probe(&d.path().join("new")), Ok(Found::Missing));
        let mut names: Vec<(String, EntryKind)> = list(d.path())
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            names,
            vec![
                ("inbox".into(), EntryKind::Maildir),
                ("mbox".into(), EntryKind::File),
                ("plain".into(), EntryKind::Dir)
            ]
        );
        let text = format!("{}/in", d.path().display());
        let MailboxAnswer::Listing { entries, .. } =
            answer(MailboxQuery::List { text: text.clone() })
        else {
            panic!("a listing")
        };
        assert_eq!(
            complete::complete(&text, &entries).text,
            format!("{}/inbox", d.path().display())
        );
    }
}
