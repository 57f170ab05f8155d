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
//! Reading never fails: a missing file is empty state; a corrupt one is
//! renamed aside (`*.corrupt`) and read as empty. Losing the marks that way
//! is safe: it deletes nothing.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::mail::HeaderSummary;
use crate::sanitize;

/// Version of the files written here; a file of another version is ignored
/// (read as empty, left in place until the next save replaces it).
pub const FORMAT_VERSION: u32 = 1;
const HEADERS_FILE: &str = "headers.json";
const MARKS_FILE: &str = "marks.json";
const ACCOUNT_FILE: &str = "account.txt";
/// A state file bigger than this is treated as corrupt, not read into memory.
const MAX_FILE_BYTES: u64 = 1 << 30;
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
}

#[derive(Serialize)]
struct HeadersOut<'a> {
    version: u32,
    entries: &'a HashMap<String, HeaderSummary>,
}

#[derive(Deserialize)]
struct HeadersIn {
    version: u32,
    #[serde(default)]
    entries: HashMap<String, HeaderSummary>,
}

#[derive(Serialize)]
struct MarksOut<'a> {
    version: u32,
    uids: &'a [String],
}

#[derive(Deserialize)]
struct MarksIn {
    version: u32,
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
    crate::pop3::transport::hex(&digest[..16])
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
        };
        let label = format!("{}\n", sanitize::line(account_key));
        for dir in [&store.dir, &store.cache_dir] {
            create_private_dir(dir)?;
            remove_stale_temps(dir);
            let path = dir.join(ACCOUNT_FILE);
            if fs::read(&path).ok().as_deref() != Some(label.as_bytes()) {
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

    /// The directory holding the header cache.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// The cached summaries by UID. Missing, unreadable or corrupt cache:
    /// an empty map (a corrupt file is renamed aside first). Never panics.
    pub fn load_headers(&self) -> HashMap<String, HeaderSummary> {
        let path = self.cache_dir.join(HEADERS_FILE);
        match read_json::<HeadersIn>(&path) {
            Some(h) if h.version == FORMAT_VERSION => h.entries,
            _ => HashMap::new(),
        }
    }

    /// Replace the header cache with `map`, atomically. The cache keeps what
    /// it is given: dropping UIDs that left the server is the caller's job
    /// (e.g. keep only the UIDs of the current listing).
    pub fn save_headers(&self, map: &HashMap<String, HeaderSummary>) -> io::Result<()> {
        let out = HeadersOut {
            version: FORMAT_VERSION,
            entries: map,
        };
        write_atomic(&self.cache_dir.join(HEADERS_FILE), |w| {
            serde_json::to_writer(w, &out).map_err(io::Error::other)
        })
    }

    /// The UIDs marked for deletion and not yet committed, in the order
    /// saved. Missing or corrupt file: none (a corrupt file is renamed
    /// aside).
    pub fn load_marks(&self) -> Vec<String> {
        let path = self.dir.join(MARKS_FILE);
        match read_json::<MarksIn>(&path) {
            Some(m) if m.version == FORMAT_VERSION => m.uids,
            _ => Vec::new(),
        }
    }

    /// Replace the marks with `uids`, atomically; an empty list removes the
    /// file.
    pub fn save_marks(&self, uids: &[String]) -> io::Result<()> {
        let path = self.dir.join(MARKS_FILE);
        if uids.is_empty() {
            return match fs::remove_file(&path) {
                Ok(()) => sync_dir(&self.dir),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            };
        }
        let out = MarksOut {
            version: FORMAT_VERSION,
            uids,
        };
        write_atomic(&path, |w| {
            serde_json::to_writer(w, &out).map_err(io::Error::other)
        })
    }
}

/// Read and parse a state file. `None` when it is missing or unreadable,
/// or corrupt (then renamed aside), or of another version (left alone).
fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let too_big = fs::metadata(path).ok()?.len() > MAX_FILE_BYTES;
    let bytes = if too_big {
        Vec::new()
    } else {
        fs::read(path).ok()?
    };
    if !too_big {
        if let Ok(v) = serde_json::from_slice::<T>(&bytes) {
            return Some(v);
        }
        if serde_json::from_slice::<VersionOnly>(&bytes).is_ok_and(|v| v.version != FORMAT_VERSION)
        {
            return None; // another version: not ours to touch
        }
    }
    let mut aside = path.as_os_str().to_owned();
    aside.push(".corrupt");
    let _ = fs::rename(path, PathBuf::from(aside));
    None
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

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

/// Make a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
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
