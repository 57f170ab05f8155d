//! On-disk state of one account, keyed by UIDL: the header cache and the
//! pending deletion marks.
//!
//! Layout (one directory per account, named by a hash of the account key,
//! so nothing the user or the server chose ever becomes a path):
//!
//! ```text
//! <cache root>/accounts/<32 hex>/headers.log         header cache: the list's fields
//! <cache root>/accounts/<32 hex>/headers.blocks.log  header cache: header blocks (`~h`)
//! <cache root>/accounts/<32 hex>/listing.bin         the last listing (number, UID, size)
//! <cache root>/accounts/<32 hex>/account.txt         the account key, for humans
//! <data root>/accounts/<32 hex>/marks.json      pending deletion marks (precious)
//! <data root>/accounts/<32 hex>/account.txt
//! ```
//!
//! UIDs only ever appear inside file contents (JSON strings), never in file
//! names, so a path-like UID (`../../x`) can't touch the layout
//! (SECURITY-CASES D23).
//!
//! The cache may be wiped by the OS; the marks are precious. The header
//! cache is two append-only logs (see [`headers`] for their format and why);
//! the files are split by what they hold: [`headers`], [`listing`],
//! [`marks`], and the safe read and write helpers in `files`.
//!
//! Every whole-file write is atomic, as mpop does it: a temporary file in the same
//! directory, `sync_all`, `rename` over the target, then an fsync of the
//! directory. A reader sees the old file or the new one, never a partial
//! one, and a crash leaves one of the two. Files are created 0600 and
//! directories 0700 on unix.
//!
//! Reading never fails, and treats these files as untrusted input, like
//! network data (a file can be planted or damaged): only a regular file is
//! read (never a symlink, FIFO or device: opened with `O_NOFOLLOW |
//! O_NONBLOCK` and checked again on the open file), within a size cap; every
//! string field is sanitized and capped as a network preview is; entry
//! counts are capped; UIDs must be valid RFC 1939 UIDs. A missing file is
//! empty state; anything else is renamed aside (`*.corrupt`), read as
//! empty, and a warning says so ([`Store::take_warnings`]). Losing the
//! marks that way is safe: it deletes nothing. An append to a header log
//! goes to a regular private file only (`O_NOFOLLOW`, created 0600).
//!
//! # The marks file (version 2)
//!
//! A mark names one message: with its UID it keeps what the listing said
//! when it was made (the LIST size) and the Message-ID once a preview of
//! that message was known, plus sender and subject to tell the user which
//! message a mark was, should it be dropped. A version 1 file (UIDs only,
//! written by popview before 2 existed) is still read: its marks come back
//! with no size ([`SavedMark::size`] `None`), and the worker says they are
//! matched by UID only (see `worker::marks`). The next save writes
//! version 2.
//!
//! # The account lock
//!
//! `<data root>/accounts/<32 hex>/lock` is held (an advisory exclusive
//! lock, `flock`) by the one popview that may change this account's marks;
//! it holds its pid, for the message another instance shows. See
//! [`Store::lock`].

mod files;
pub mod headers;
pub mod listing;
mod log;
pub mod marks;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::sanitize;
use files::{TEMP_COUNTER, Unfit, read_regular, remove_stale_temps, write_atomic};

pub use crate::private_fs::create_private_dir;
pub use files::{read_private, write_private};
pub use headers::{
    CachedBlock, CachedHeader, HEADERS_BLOCKS_FILE, HEADERS_JSON_FILE, HEADERS_LOG_FILE,
    HEADERS_LOG_VERSION, HEADERS_VERSION, MAX_HEADERS_BYTES, merge_blocks,
};
pub use listing::{LISTING_FILE, ListedMessage};
pub use marks::{MARKS_VERSION, MAX_HISTORY_BYTES, MAX_MARKS_BYTES, SavedMark};

const ACCOUNT_FILE: &str = "account.txt";
const LOCK_FILE: &str = "lock";
/// At most this many cache entries or marks are read from a file.
pub const MAX_ENTRIES: usize = 1 << 20;
/// The files whose crash-left temporaries are removed when a store opens.
const TEMP_OWNERS: [&str; 7] = [
    HEADERS_JSON_FILE,
    HEADERS_LOG_FILE,
    HEADERS_BLOCKS_FILE,
    LISTING_FILE,
    marks::MARKS_FILE,
    ACCOUNT_FILE,
    "patterns.json",
];

/// The two roots: the cache (the OS may wipe it) and the local data
/// directory (kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roots {
    pub cache: PathBuf,
    pub data: PathBuf,
}

/// The platform directories of popview (`ProjectDirs::from("", "", "popview")`):
/// on Linux `~/.cache/popview` and `~/.local/share/popview`. `None` when no
/// home directory is known.
pub fn default_roots() -> Option<Roots> {
    let dirs = directories::ProjectDirs::from("", "", "popview")?;
    Some(Roots {
        cache: dirs.cache_dir().to_path_buf(),
        data: dirs.data_local_dir().to_path_buf(),
    })
}

/// The state of one account.
#[derive(Clone, Debug)]
pub struct Store {
    /// Where the marks live (data root).
    dir: PathBuf,
    /// Where the header cache lives (cache root; may equal `dir`).
    cache_dir: PathBuf,
    /// The account key as given (e.g. `user@host:995`).
    account: String,
    /// What loading set aside, for the user (see [`Store::take_warnings`]).
    warnings: Arc<Mutex<Vec<String>>>,
    /// What this store knows of its header logs and last listing.
    logs: Arc<Mutex<headers::Logs>>,
}

/// Only the version, to tell "another version" from "corrupt".
#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

/// The directory name of an account: the first 16 bytes of the SHA-256 of
/// its key, in lower-case hex.
fn account_dir_name(account_key: &str) -> String {
    let digest = Sha256::digest(account_key.as_bytes());
    hex::encode(&digest[..16])
}

/// The account is held by another popview (see [`Store::lock`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The holder's pid as its lock file says (untrusted: digits only).
    pub pid: Option<u32>,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "another popview (pid {pid}) has this account open"),
            None => f.write_str("another popview has this account open"),
        }
    }
}

/// Why [`Store::lock`] failed.
#[derive(Debug)]
pub enum LockError {
    Held(Held),
    Io(io::Error),
}

/// The account lock, held until dropped (or the process ends).
#[derive(Debug)]
pub struct AccountLock {
    _file: File,
}

impl Store {
    /// A store with the cache and the marks under one root.
    pub fn open(root: &Path, account_key: &str) -> io::Result<Store> {
        Store::open_split(root, root, account_key)
    }

    /// A store with the header cache under `cache_root` and the marks under
    /// `data_root` (see [`default_roots`]). Creates the directories.
    pub fn open_split(cache_root: &Path, data_root: &Path, account_key: &str) -> io::Result<Store> {
        let name = account_dir_name(account_key);
        let store = Store {
            dir: data_root.join("accounts").join(&name),
            cache_dir: cache_root.join("accounts").join(&name),
            account: account_key.to_string(),
            warnings: Arc::default(),
            logs: Arc::default(),
        };
        let label = format!("{}\n", sanitize::line(account_key));
        for dir in [&store.dir, &store.cache_dir] {
            create_private_dir(dir)?;
            remove_stale_temps(dir, &TEMP_OWNERS);
            let path = dir.join(ACCOUNT_FILE);
            let same = matches!(
                read_regular(&path, 4096),
                Ok(Some(b)) if b == label.as_bytes()
            );
            if !same {
                write_atomic(&path, |w| w.write_all(label.as_bytes()))?;
            }
        }
        Ok(store)
    }

    /// The account key this store belongs to.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The directory holding the marks.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// Where [`Store::open_split`] puts the data directory of `account_key`
    /// under `data_root` (without creating it).
    pub fn data_dir_for(data_root: &Path, account_key: &str) -> PathBuf {
        data_root
            .join("accounts")
            .join(account_dir_name(account_key))
    }

    /// The directory holding the header cache.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// What loading set aside since the last call, in words for the user
    /// (sanitized). Each file set aside is named once.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn warn(&self, w: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sanitize::line(&w));
    }

    /// Take the account lock: held by the one popview that may change this
    /// account's marks (the TUI, `popview delete`). Never blocks: when
    /// another process holds it, [`LockError::Held`] names its pid. The
    /// lock file must be a regular file (not a symlink); the lock is an
    /// advisory `flock`, released when the [`AccountLock`] is dropped or the
    /// process ends (even by a crash).
    pub fn lock(&self) -> Result<AccountLock, LockError> {
        let path = self.dir.join(LOCK_FILE);
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        }
        let mut file = opts.open(&path).map_err(|e| {
            LockError::Io(io::Error::new(
                e.kind(),
                format!(
                    "can't open the account lock {} ({e}); if it is a symlink or not a \
                     regular file, remove it",
                    path.display()
                ),
            ))
        })?;
        let meta = file.metadata().map_err(LockError::Io)?;
        if !meta.is_file() {
            return Err(LockError::Io(io::Error::other(format!(
                "the account lock {} is not a regular file; remove it",
                path.display()
            ))));
        }
        match file.try_lock() {
            Ok(()) => {
                // Ours now: say who holds it.
                let _ = file.set_len(0);
                let _ = file.write_all(format!("{}\n", std::process::id()).as_bytes());
                let _ = file.sync_all();
                Ok(AccountLock { _file: file })
            }
            Err(fs::TryLockError::WouldBlock) => {
                let mut buf = Vec::new();
                let _ = (&mut file).take(32).read_to_end(&mut buf);
                Err(LockError::Held(Held {
                    pid: parse_pid(&buf),
                }))
            }
            Err(fs::TryLockError::Error(e)) => Err(LockError::Io(e)),
        }
    }

    /// Read and parse a state file. `None` when it is missing or unreadable,
    /// or set aside (not a regular file, too big, corrupt: renamed to
    /// `*.corrupt`, with a warning), or of a newer version (left alone).
    fn read_json<T: for<'de> Deserialize<'de>>(&self, path: &Path, cap: u64) -> Option<T> {
        let why = match read_regular(path, cap) {
            Ok(None) => return None,
            Ok(Some(bytes)) => {
                if let Ok(v) = serde_json::from_slice::<T>(&bytes) {
                    return Some(v);
                }
                match serde_json::from_slice::<VersionOnly>(&bytes) {
                    Ok(v) if v.version > MARKS_VERSION.max(HEADERS_VERSION) => {
                        self.warn(format!(
                            "{} was written by a newer popview (version {}); it is ignored",
                            path.display(),
                            v.version
                        ));
                        return None;
                    }
                    _ => "it is damaged".to_string(),
                }
            }
            Err(Unfit::Io(e)) => {
                self.warn(format!("can't read {}: {e}", path.display()));
                return None;
            }
            Err(Unfit::Set(why)) => why,
        };
        self.set_aside(path, &why);
        None
    }

    /// Move an unfit state file aside (`*.corrupt`), with a warning naming
    /// `why`.
    fn set_aside(&self, path: &Path, why: &str) {
        let aside = |suffix: String| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            PathBuf::from(p)
        };
        // `*.corrupt`, or a unique name when that one can't be replaced
        // (a directory can't replace a file, nor a file a directory).
        let moved = [
            aside(".corrupt".into()),
            aside(format!(
                ".corrupt.{}.{}",
                std::process::id(),
                TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
            )),
        ]
        .into_iter()
        .find(|to| fs::rename(path, to).is_ok());
        match moved {
            Some(to) => self.warn(format!(
                "{} was set aside as {} because {why}; it was read as empty",
                path.display(),
                to.display()
            )),
            None => self.warn(format!(
                "{} is not read because {why}, and it could not be moved aside: remove it",
                path.display()
            )),
        }
    }
}

/// A log file as the header cache and the last listing are kept: the
/// header of `magic` and `version`, then each payload framed (length,
/// checksum). For tests that plant hostile files with right checksums.
#[doc(hidden)]
pub fn framed_log(magic: &[u8; 8], version: u32, payloads: &[&[u8]]) -> Vec<u8> {
    let mut out = log::file_header(magic, version).to_vec();
    for p in payloads {
        log::frame(&mut out, p);
    }
    out
}

/// The pid in a lock file: ASCII digits (surrounding whitespace allowed),
/// anything else is not believed.
fn parse_pid(bytes: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_dir_name_is_hex_of_sha256() {
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(account_dir_name("abc"), "ba7816bf8f01cfea414140de5dae2223");
        assert_eq!(account_dir_name("../../etc").len(), 32);
    }
}
