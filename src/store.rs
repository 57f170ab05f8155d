//! On-disk state of one account, keyed by UIDL: the header cache and the
//! pending deletion marks.
//!
//! Layout (one directory per account, named by a hash of the account key,
//! so nothing the user or the server chose ever becomes a path):
//!
//! ```text
//! <cache root>/accounts/<32 hex>/headers.json   header cache (may be wiped by the OS)
//! <cache root>/accounts/<32 hex>/account.txt    the account key, for humans
//! <data root>/accounts/<32 hex>/marks.json      pending deletion marks (precious)
//! <data root>/accounts/<32 hex>/account.txt
//! ```
//!
//! UIDs only ever appear inside file contents (JSON strings), never in file
//! names, so a path-like UID (`../../x`) can't touch the layout
//! (SECURITY-CASES D23).
//!
//! Every write is atomic, as mpop does it: a temporary file in the same
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
//! marks that way is safe: it deletes nothing.
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

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::mail::{self, HeaderSummary};
use crate::pop3::response::valid_uid;
use crate::sanitize;

/// Version of the marks file written here. Version 1 is still read
/// (migrated); a newer one is ignored (read as empty, left in place until
/// the next save replaces it).
pub const MARKS_VERSION: u32 = 2;
/// Version of the header cache written here (2: each entry keeps the LIST
/// size it was fetched for; 3: summaries carry Cc, Reply-To, the header
/// block and Authentication-Results for patterns, so an older cache is
/// fetched again rather than half-matched). Any other version is ignored:
/// it is a cache.
pub const HEADERS_VERSION: u32 = 3;
const HEADERS_FILE: &str = "headers.json";
const MARKS_FILE: &str = "marks.json";
const ACCOUNT_FILE: &str = "account.txt";
const LOCK_FILE: &str = "lock";
/// A header cache bigger than this is set aside, not read into memory
/// (100,000 entries take about 40 MB).
pub const MAX_HEADERS_BYTES: u64 = 256 << 20;
/// A marks file bigger than this is set aside.
pub const MAX_MARKS_BYTES: u64 = 64 << 20;
/// The pattern history file is refused above this size (it holds at most
/// a hundred short lines).
pub const MAX_HISTORY_BYTES: u64 = 1 << 20;
/// The pattern prompts' history, in the account's data directory.
const HISTORY_FILE: &str = "patterns.json";
/// At most this many cache entries or marks are read from a file.
pub const MAX_ENTRIES: usize = 1 << 20;
/// Temporary files older than this are left over from a crash and removed
/// when a store is opened.
const STALE_TEMP: Duration = Duration::from_secs(3600);

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
}

/// One cached preview, with the LIST size of the message it was fetched
/// for: a listing that shows another size under that UID is another
/// message, and the preview is fetched again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedHeader {
    pub size: u64,
    pub summary: HeaderSummary,
}

/// One deletion mark as kept on disk: the message it names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedMark {
    pub uid: String,
    /// The LIST size when the mark was made; `None` only for marks migrated
    /// from a version 1 file (matched by UID only, and the user is told).
    #[serde(default)]
    pub size: Option<u64>,
    /// The Message-ID of the marked message, when a preview was known.
    #[serde(default)]
    pub message_id: Option<String>,
    /// Sender and subject, to tell the user which message a dropped mark was.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub subject: String,
}

impl SavedMark {
    /// A mark that knows only its UID (as a version 1 file kept it).
    pub fn uid_only(uid: impl Into<String>) -> SavedMark {
        SavedMark {
            uid: uid.into(),
            ..SavedMark::default()
        }
    }
}

#[derive(Serialize)]
struct HeadersOut<'a> {
    version: u32,
    entries: &'a HashMap<String, CachedHeader>,
}

#[derive(Deserialize)]
struct HeadersIn {
    version: u32,
    #[serde(default)]
    entries: HashMap<String, CachedHeader>,
}

#[derive(Serialize)]
struct MarksOut<'a> {
    version: u32,
    marks: &'a [SavedMark],
}

#[derive(Deserialize)]
struct MarksIn {
    version: u32,
    /// Version 2.
    #[serde(default)]
    marks: Vec<SavedMark>,
    /// Version 1: UIDs only.
    #[serde(default)]
    uids: Vec<String>,
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
        };
        let label = format!("{}\n", sanitize::line(account_key));
        for dir in [&store.dir, &store.cache_dir] {
            create_private_dir(dir)?;
            remove_stale_temps(dir);
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

    /// The cached summaries by UID, each with the LIST size it was fetched
    /// for. Missing, unreadable, corrupt or not a regular file: an empty
    /// map (set aside with a warning, see the module doc). Never panics.
    pub fn load_headers(&self) -> HashMap<String, CachedHeader> {
        let path = self.cache_dir.join(HEADERS_FILE);
        let Some(h) = self.read_json::<HeadersIn>(&path, MAX_HEADERS_BYTES) else {
            return HashMap::new();
        };
        if h.version != HEADERS_VERSION {
            return HashMap::new(); // an old cache: fetched again
        }
        let total = h.entries.len();
        let map: HashMap<String, CachedHeader> = h
            .entries
            .into_iter()
            .filter(|(uid, _)| valid_uid(uid.as_bytes()))
            .take(MAX_ENTRIES)
            .map(|(uid, c)| {
                (
                    uid,
                    CachedHeader {
                        size: c.size,
                        summary: mail::resanitize(c.summary),
                    },
                )
            })
            .collect();
        if map.len() < total {
            self.warn(format!(
                "the header cache {} had {} unusable entries (invalid unique ids, or more \
                 than {MAX_ENTRIES}); they are fetched again",
                path.display(),
                total - map.len()
            ));
        }
        map
    }

    /// Replace the header cache with `map`, atomically. The cache keeps what
    /// it is given: dropping UIDs that left the server is the caller's job
    /// (e.g. keep only the UIDs of the current listing).
    pub fn save_headers(&self, map: &HashMap<String, CachedHeader>) -> io::Result<()> {
        let out = HeadersOut {
            version: HEADERS_VERSION,
            entries: map,
        };
        write_atomic(&self.cache_dir.join(HEADERS_FILE), |w| {
            serde_json::to_writer(w, &out).map_err(io::Error::other)
        })
    }

    /// The marks not yet committed, in the order saved, each with what the
    /// listing said when it was made (a version 1 file gives UIDs only:
    /// `size` `None`). Missing, corrupt or not a regular file: none (set
    /// aside with a warning). Strings are sanitized and capped, invalid
    /// UIDs and duplicates dropped.
    pub fn load_mark_records(&self) -> Vec<SavedMark> {
        let path = self.dir.join(MARKS_FILE);
        let Some(m) = self.read_json::<MarksIn>(&path, MAX_MARKS_BYTES) else {
            return Vec::new();
        };
        let raw: Vec<SavedMark> = match m.version {
            1 => m.uids.into_iter().map(SavedMark::uid_only).collect(),
            MARKS_VERSION => m.marks,
            _ => return Vec::new(),
        };
        let total = raw.len();
        let mut seen = std::collections::HashSet::new();
        let marks: Vec<SavedMark> = raw
            .into_iter()
            .filter(|m| valid_uid(m.uid.as_bytes()) && seen.insert(m.uid.clone()))
            .take(MAX_ENTRIES)
            .map(|m| SavedMark {
                message_id: m
                    .message_id
                    .as_deref()
                    .map(mail::resanitize_field)
                    .filter(|id| !id.is_empty()),
                from: mail::resanitize_field(&m.from),
                subject: mail::resanitize_field(&m.subject),
                ..m
            })
            .collect();
        if marks.len() < total {
            self.warn(format!(
                "the marks file {} had {} unusable marks (invalid or repeated unique ids, \
                 or more than {MAX_ENTRIES}); they were dropped, nothing is deleted for them",
                path.display(),
                total - marks.len()
            ));
        }
        marks
    }

    /// The UIDs of [`Store::load_mark_records`] (for humans and tests).
    pub fn load_marks(&self) -> Vec<String> {
        self.load_mark_records()
            .into_iter()
            .map(|m| m.uid)
            .collect()
    }

    /// Replace the marks with `marks`, atomically; none removes the file.
    pub fn save_mark_records(&self, marks: &[SavedMark]) -> io::Result<()> {
        let path = self.dir.join(MARKS_FILE);
        if marks.is_empty() {
            return match fs::remove_file(&path) {
                Ok(()) => sync_dir(&self.dir),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            };
        }
        let out = MarksOut {
            version: MARKS_VERSION,
            marks,
        };
        write_atomic(&path, |w| {
            serde_json::to_writer(w, &out).map_err(io::Error::other)
        })
    }

    /// The pattern prompts' history, newest last: a JSON list of strings
    /// (none when the file is missing, unfit or not a list of strings;
    /// cleaning and bounding is the prompt's own rule).
    pub fn load_pattern_history(&self) -> Vec<String> {
        let path = self.dir.join(HISTORY_FILE);
        self.read_json::<Vec<String>>(&path, MAX_HISTORY_BYTES)
            .unwrap_or_default()
    }

    /// Replace the pattern history, atomically.
    pub fn save_pattern_history(&self, history: &[String]) -> io::Result<()> {
        let path = self.dir.join(HISTORY_FILE);
        write_atomic(&path, |w| {
            serde_json::to_writer(w, history).map_err(io::Error::other)
        })
    }

    /// Save marks that know only their UIDs (as a version 1 file did: they
    /// come back matched by UID only, and the user is told).
    pub fn save_marks(&self, uids: &[String]) -> io::Result<()> {
        let marks: Vec<SavedMark> = uids.iter().map(SavedMark::uid_only).collect();
        self.save_mark_records(&marks)
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
        None
    }
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

/// Why a state file is not read.
enum Unfit {
    /// Set it aside, for this reason.
    Set(String),
    /// Leave it (e.g. permission denied).
    Io(io::Error),
}

/// The bytes of `path` if it is a regular file of at most `cap` bytes;
/// `Ok(None)` when it doesn't exist. Never follows a symlink and never
/// blocks on a FIFO: the open itself refuses a symlink (`O_NOFOLLOW`) and
/// doesn't wait (`O_NONBLOCK`), and the opened file must be the regular
/// file `lstat` saw.
fn read_regular(path: &Path, cap: u64) -> Result<Option<Vec<u8>>, Unfit> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Unfit::Io(e)),
    };
    let kind = |m: &fs::Metadata| {
        let t = m.file_type();
        if t.is_symlink() {
            "it is a symbolic link"
        } else if t.is_dir() {
            "it is a directory"
        } else {
            "it is not a regular file (a FIFO, socket or device)"
        }
    };
    if !meta.is_file() {
        return Err(Unfit::Set(kind(&meta).to_string()));
    }
    let too_big = || format!("it is bigger than {} MB", cap >> 20);
    if meta.len() > cap {
        return Err(Unfit::Set(too_big()));
    }
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // ELOOP: it became a symlink after the lstat.
        Err(e) if e.raw_os_error() == Some(libc_eloop()) => {
            return Err(Unfit::Set("it is a symbolic link".to_string()));
        }
        Err(e) => return Err(Unfit::Io(e)),
    };
    let opened = file.metadata().map_err(Unfit::Io)?;
    if !opened.is_file() {
        return Err(Unfit::Set(kind(&opened).to_string()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
            return Err(Unfit::Set("it was replaced while being opened".to_string()));
        }
    }
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(Unfit::Io)?;
    if bytes.len() as u64 > cap {
        return Err(Unfit::Set(too_big()));
    }
    Ok(Some(bytes))
}

#[cfg(unix)]
fn libc_eloop() -> i32 {
    libc::ELOOP
}

#[cfg(not(unix))]
fn libc_eloop() -> i32 {
    -1
}

pub use crate::private_fs::create_private_dir;
use crate::private_fs::sync_dir;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.tmp.")
}

/// Write `target` atomically: temp file in the same directory (unique per
/// process and call, created 0600), `sync_all`, rename over `target`, fsync
/// the directory. On any error the temp file is removed and `target` is
/// untouched.
fn write_atomic(
    target: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| io::Error::other("a state file needs a parent directory"))?;
    let temp = dir.join(format!(
        "{}{}.{}",
        temp_prefix(target),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut w = BufWriter::new(opts.open(&temp)?);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, target)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Write a small private file (an OAuth2 refresh token) the way the marks
/// are written: atomically, 0600, durable when this returns. The bytes go
/// straight to the file, not through a buffer that would keep a copy.
pub fn write_private(target: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(target, |w| w.get_mut().write_all(bytes))
}

/// Read a small private file the way popview's own files are read: a
/// regular file only (never a symlink, FIFO or device), at most `cap`
/// bytes; `Ok(None)` when it doesn't exist.
pub fn read_private(path: &Path, cap: u64) -> io::Result<Option<Vec<u8>>> {
    read_regular(path, cap).map_err(|e| match e {
        Unfit::Set(why) => io::Error::other(why),
        Unfit::Io(e) => e,
    })
}

/// Remove temp files a crashed writer left behind (older than an hour, so
/// a live writer's file is never touched).
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten().take(10_000) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = [HEADERS_FILE, MARKS_FILE, ACCOUNT_FILE]
            .iter()
            .any(|f| name.starts_with(&format!(".{f}.tmp.")));
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_TEMP);
        if ours && stale {
            let _ = fs::remove_file(entry.path());
        }
    }
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
