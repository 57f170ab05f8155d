//! Keeping messages locally: deliver them into a Maildir ([`maildir`]) or
//! append them to an mbox ([`mbox`]), durably, and remember what was saved
//! ([`saved`]) so that saving again never makes a duplicate.
//!
//! The caller (`popview save`, later the TUI, from a thread of its own:
//! every call does file I/O and fsyncs) hands a [`Keeper`] one message at a
//! time: its UID, its LIST size and the bytes the server sent
//! (dot-unstuffed, CRLF line ends), and gets back a [`Kept`]: where it
//! went, and whether the copy is *checked* (its size, counted with CRLF
//! line ends as the server counts, equals the LIST size). Only a checked
//! copy may be deleted from the server.
//!
//! A big message is kept as it arrives instead ([`Keeper::begin`] gives a
//! [`Saving`]: `write` each piece, then `finish`; dropped, it leaves
//! nothing behind), so memory does not grow with the message; `keep` is
//! that same writer handed the whole message.
//!
//! Both formats store LF line ends (what mutt, Dovecot and procmail
//! expect on Unix); a message without a final newline gets one.
//!
//! Crash safety, per message: the index records "about to write NAME"
//! (fsynced) before the write, and "done" after the copy is durable (the
//! file fsynced, the Maildir rename and the directory fsynced, or the mbox
//! append fsynced). An entry still "about to" at the next start is
//! settled by looking at the destination: the Maildir file in `new/` or
//! `cur/`, or the exact bytes at the recorded mbox offset. A streamed copy
//! records its intent twice: before the first byte (the Maildir temp name,
//! the mbox offset and `From ` line), and once durable and checked, before
//! it is made visible, with exactly where it went ([`saving`]).

pub mod files;
pub mod lines;
pub mod maildir;
pub mod mbox;
pub mod saved;
pub mod saving;

pub use saving::Saving;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use saved::{Entry, Index, Where};

/// Where messages are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Maildir(PathBuf),
    Mbox(PathBuf),
}

impl Destination {
    pub fn path(&self) -> &Path {
        match self {
            Destination::Maildir(p) | Destination::Mbox(p) => p,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Destination::Maildir(_) => "maildir",
            Destination::Mbox(_) => "mbox",
        }
    }
}

/// A failure to keep messages locally, in words for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LocalError(pub String);

impl LocalError {
    fn io(what: &str, path: &Path, e: &std::io::Error) -> LocalError {
        LocalError(format!("{what} {}: {e}", path.display()))
    }
}

/// Messages this big (LIST size) or bigger are streamed when saved
/// ([`Keeper::keep_streamed`]), one `RETR` at a time, so memory stays small
/// whatever the size; smaller ones are fetched whole, pipelined (many small
/// messages would otherwise pay a round trip each).
pub const STREAM_FROM: u64 = 1024 * 1024;

/// What became of one message of a save: the one vocabulary of
/// `popview save` and of the TUI's saves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Not retrieved yet (the session ended first).
    Waiting,
    /// Recorded by an earlier save; `holds`: its copy is still there, checked.
    Before {
        holds: bool,
    },
    /// Saved now; `checked`: its size equals LIST's.
    Now {
        checked: bool,
    },
    Failed(String),
}

impl Fate {
    /// The fate of a message handed to a [`Keeper`] (`keep`, or a
    /// [`Saving`]'s `finish`).
    pub fn of(kept: Result<Kept, LocalError>) -> Fate {
        match kept {
            Ok(k) if k.already_there => Fate::Before { holds: k.checked },
            Ok(k) => Fate::Now { checked: k.checked },
            Err(e) => Fate::Failed(e.0),
        }
    }
}

/// What became of one message handed to [`Keeper::keep`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The Maildir file name, or `mbox@OFFSET`.
    pub name: String,
    /// Bytes of the message as stored (LF line ends, before mbox quoting).
    pub bytes: u64,
    /// The stored size, counted with CRLF line ends, equals the LIST size.
    pub checked: bool,
    /// Not written again: the destination holds it already (found while
    /// recovering from an unreadable index).
    pub already_there: bool,
}

/// The message as it is stored: CRLF line ends made LF, a final newline
/// added when missing. A lone CR is kept.
pub fn lf_bytes(raw: &[u8]) -> Vec<u8> {
    to_lf(raw.to_vec())
}

/// [`lf_bytes`] in place: no second copy of a big message.
pub fn to_lf(mut v: Vec<u8>) -> Vec<u8> {
    let mut w = 0;
    for r in 0..v.len() {
        if v[r] == b'\r' && v.get(r + 1) == Some(&b'\n') {
            continue;
        }
        v[w] = v[r];
        w += 1;
    }
    v.truncate(w);
    if v.last() != Some(&b'\n') {
        v.push(b'\n');
    }
    v
}

/// The size of LF-ended bytes as a POP3 server counts it (every line end
/// as CRLF).
pub fn crlf_size(lf: &[u8]) -> u64 {
    lf.len() as u64 + memchr::memchr_iter(b'\n', lf).count() as u64
}

/// Whether a stored copy of `lf` accounts for a message LIST said was
/// `listed` octets. The server counts CRLF line ends; a message stored
/// without a final line end is counted without it (and gets one here).
pub fn size_matches(lf: &[u8], listed: u64) -> bool {
    crlf_size_matches(crlf_size(lf), listed)
}

/// [`size_matches`] for a stored copy whose CRLF size is `crlf`.
pub fn crlf_size_matches(crlf: u64, listed: u64) -> bool {
    crlf == listed || crlf == listed.saturating_add(2)
}

/// SHA-256 of the stored form, lower-case hex: how a message is recognised
/// in the destination when the index can't say.
pub fn digest(lf: &[u8]) -> String {
    hex::encode(Sha256::digest(lf))
}

/// Delivers messages into one destination and keeps its index. Holds the
/// index lock (one saver per account and destination) until dropped.
pub struct Keeper {
    dest: Destination,
    maildir: Option<maildir::Maildir>,
    index: Index,
    /// Digests of the messages found in the destination, when the index
    /// was unreadable: a message whose digest is here is not saved again.
    found: Option<std::collections::HashSet<String>>,
    warnings: Vec<String>,
    /// Test hook: stop after the durable write, before recording it (as a
    /// crash there would).
    crash_after_write: bool,
}

impl Keeper {
    /// Open `dest` (a Maildir's `cur/ new/ tmp/` are created, 0700, when
    /// missing) and its index in `index_dir` (`None`: remember nothing,
    /// for `--demo`). Refuses when another popview is saving into the
    /// same destination for the same account.
    pub fn open(dest: Destination, index_dir: Option<&Path>) -> Result<Keeper, LocalError> {
        let maildir = match &dest {
            Destination::Maildir(p) => Some(
                maildir::Maildir::create(p)
                    .map_err(|e| LocalError::io("can't create the Maildir", p, &e))?,
            ),
            Destination::Mbox(p) => {
                mbox::check_target(p).map_err(|e| LocalError::io("can't use the mbox", p, &e))?;
                None
            }
        };
        let id = files::identity(dest.path())
            .map_err(|e| LocalError::io("can't resolve", dest.path(), &e))?;
        let (index, loaded) = match index_dir {
            Some(dir) => Index::open(dir, dest.kind(), &id)?,
            None => (Index::memory(), saved::Loaded::Fresh),
        };
        let mut k = Keeper {
            dest,
            maildir,
            index,
            found: None,
            warnings: Vec::new(),
            crash_after_write: false,
        };
        if let saved::Loaded::Unreadable(why) = loaded {
            let found = k.scan_destination()?;
            k.warnings.push(format!(
                "the record of what was saved into {} was unreadable ({why}); it was set \
                 aside, and the {} messages already there are recognised by content instead",
                k.dest.path().display(),
                found.len()
            ));
            k.found = Some(found);
        }
        k.settle_pending()?;
        Ok(k)
    }

    /// Warnings for the user since the last call (each once).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    pub fn destination(&self) -> &Destination {
        &self.dest
    }

    /// Make the record of what was saved durable (also done when the
    /// keeper is dropped).
    pub fn sync(&mut self) -> Result<(), LocalError> {
        self.index.sync()
    }

    /// The message with this UID and LIST size was saved here before.
    pub fn already_saved(&self, uid: &str, size: u64) -> bool {
        self.index.is_done(uid, size)
    }

    /// A copy of this message saved before is still where it was put and
    /// was checked: it may be deleted from the server.
    pub fn copy_holds(&self, uid: &str, size: u64) -> bool {
        let Some(e) = self.index.done(uid, size) else {
            return false;
        };
        e.checked && self.holds(&e.place)
    }

    /// The destination holds what `place` records.
    fn holds(&self, place: &Where) -> bool {
        match (place, &self.maildir) {
            (Where::File(name), Some(md)) => md.holds(name),
            (
                Where::Mbox {
                    offset,
                    len,
                    sha256,
                },
                _,
            ) => mbox::holds_at(self.dest.path(), *offset, *len, sha256),
            (Where::Found, _) => true,
            _ => false,
        }
    }

    #[doc(hidden)]
    pub fn set_crash_after_write(&mut self, on: bool) {
        self.crash_after_write = on;
    }

    /// Keep one message: `raw` as the server sent it (dot-unstuffed),
    /// `size` its LIST size, `uid` its UIDL (`None`, from a server without
    /// UIDL: remembered by its content). Returns once the copy is durable
    /// and recorded; a message recorded before is not written again
    /// ([`Kept::already_there`]).
    pub fn keep(
        &mut self,
        uid: Option<&str>,
        size: u64,
        raw: impl Into<Vec<u8>>,
    ) -> Result<Kept, LocalError> {
        let raw = raw.into();
        let mut measure = lines::ToLf::default();
        let mut none = |_: &[u8]| Ok(());
        let _ = measure.push(&raw, &mut none);
        let _ = measure.finish(&mut none);
        let crlf = measure.crlf_size();
        let checked = crlf_size_matches(crlf, size);
        let bytes = measure.len();
        let d = measure.digest();
        // Without a UID a message is known by its content (a key no UID
        // can have: UIDs are at most 70 characters).
        let by_content = format!("sha256:{d}");
        let uid = uid.unwrap_or(&by_content);
        if self.index.is_done(uid, size) {
            return Ok(Kept {
                name: "already there".into(),
                bytes,
                checked: self.copy_holds(uid, size),
                already_there: true,
            });
        }
        if let Some(found) = &self.found
            && found.contains(&d)
        {
            self.index
                .record_done(Entry::new(uid, size, Where::Found, d, checked))?;
            return Ok(Kept {
                name: "already there".into(),
                bytes,
                checked,
                already_there: true,
            });
        }
        let mut saving = self.begin(uid, size)?;
        saving.write(&raw)?;
        saving.finish()
    }

    /// Entries left "about to write" by a run that stopped: done when the
    /// destination holds the copy, forgotten (saved again) otherwise.
    fn settle_pending(&mut self) -> Result<(), LocalError> {
        let pending = self.index.pending();
        for e in pending {
            if self.holds(&e.place) {
                self.index.record_done(e)?;
            } else {
                if let (Where::File(name), Some(md)) = (&e.place, &self.maildir) {
                    md.remove_temp(name);
                }
                // An append cut part way (the process killed) is taken
                // out again when nothing was appended after it.
                let cut = match &e.place {
                    Where::MboxStart {
                        offset,
                        head,
                        sha256,
                        pid,
                    } => {
                        mbox::remove_dotlock_of(self.dest.path(), *pid);
                        mbox::cut_back_partial(self.dest.path(), *offset, *head, sha256)
                            .unwrap_or(false)
                    }
                    _ => false,
                };
                if let Where::Mbox { offset, .. } | Where::MboxStart { offset, .. } = &e.place
                    && !cut
                    && mbox::len(self.dest.path()).is_some_and(|l| l > *offset)
                {
                    self.warnings.push(format!(
                        "an earlier save into {} stopped while appending at byte {offset}; \
                         the mbox may hold part of a message there: check it",
                        self.dest.path().display()
                    ));
                }
                self.index.forget(&e)?;
            }
        }
        Ok(())
    }

    /// Digests of every message in the destination (when the index is lost).
    fn scan_destination(&self) -> Result<std::collections::HashSet<String>, LocalError> {
        let path = self.dest.path();
        let msgs = match (&self.dest, &self.maildir) {
            (Destination::Maildir(_), Some(md)) => md.digests(),
            _ => mbox::digests(path),
        };
        msgs.map_err(|e| LocalError::io("can't read", path, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lf_bytes_converts_and_terminates() {
        assert_eq!(lf_bytes(b"a\r\nb\r\n"), b"a\nb\n");
        assert_eq!(lf_bytes(b"a\r\nb"), b"a\nb\n");
        assert_eq!(lf_bytes(b"a\rb\n"), b"a\rb\n");
        assert_eq!(lf_bytes(b""), b"\n");
    }

    /// A keeper can work on a thread of its own (the TUI's save thread).
    #[test]
    fn a_keeper_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<Keeper>();
    }

    #[test]
    fn sizes_count_crlf() {
        let lf = lf_bytes(b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(crlf_size(&lf), 20);
        assert!(size_matches(&lf, 20));
        assert!(!size_matches(&lf, 19));
        assert!(!size_matches(&lf, 21));
        // Stored without a final newline: LIST doesn't count the one added.
        assert!(size_matches(&lf_bytes(b"a\r\nb"), 4));
    }
}
