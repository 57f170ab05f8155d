//! The optional body cache (`cache_bodies = "200M"`): messages read in full
//! kept on disk, so opening one again costs no `RETR`, and messages read
//! before can be read while the server is unreachable.
//!
//! Layout: one private file per message under the account's cache
//! directory, `<cache root>/accounts/<32 hex>/bodies/<32 hex>`, named by a
//! hash of (UID, LIST size), never by the UID (SECURITY D23). A UID that
//! lists with another size is another message, so another file. Each file
//! starts with a header that names what it holds:
//!
//! ```text
//! popview body 1\n
//! <uid>\n
//! <LIST size>\n
//! <byte count of the message>\n
//! <SHA-256 of the message, hex>\n
//! <the message as the server sent it (dot-unstuffed)>
//! ```
//!
//! Written atomically (a temp file, `sync_all`, rename) with the modes of
//! [`crate::private_fs`]. Read as untrusted input: only a regular file (a
//! planted symlink or FIFO is refused without blocking), within the cap,
//! and only when its header names the UID and size asked for and its
//! length and checksum match; anything else is removed and a warning says
//! so ([`BodyCache::take_warnings`]): never shown as the message.
//!
//! Least recently used goes first: the last use of a file is its
//! modification time (set again on every hit), so the index is the
//! directory itself, read once when the cache is opened, and kept in
//! memory after that. After each put the oldest files are removed until the
//! total is within the cap.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::pop3::response::valid_uid;
use crate::private_fs::{create_private_dir, new_private_file, sync_dir};

/// The first line of every cache file.
const MAGIC: &[u8] = b"popview body 1\n";
/// Most bytes a header takes (magic, a UID of at most 70 bytes, three
/// numbers and a 64-digit hash, with their line ends).
const MAX_HEADER: u64 = 256;
/// At most this many files are taken in when the directory is read.
const MAX_FILES: usize = 1 << 20;
/// Temp files older than this are left over from a crash.
const STALE_TEMP: Duration = Duration::from_secs(3600);
/// Temp files start with this.
const TEMP_PREFIX: &str = ".tmp.";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The directory the bodies of the account whose cache directory is
/// `account_cache_dir` (`Store::cache_dir`) live in.
pub fn dir_in(account_cache_dir: &Path) -> PathBuf {
    account_cache_dir.join("bodies")
}

/// The file name of (UID, size): 32 hex digits of a SHA-256.
pub fn file_name(uid: &str, size: u64) -> String {
    let mut h = Sha256::new();
    h.update(b"popview body\0");
    h.update(uid.as_bytes());
    h.update(b"\0");
    h.update(size.to_string().as_bytes());
    let d = h.finalize();
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// One file the cache holds.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Bytes on disk.
    bytes: u64,
    /// Last use: the file's mtime, then a counter for uses within this run
    /// (the clock may not tick between two uses).
    last: (SystemTime, u64),
}

/// The body cache of one account.
#[derive(Debug)]
pub struct BodyCache {
    dir: PathBuf,
    cap: u64,
    entries: HashMap<String, Entry>,
    total: u64,
    clock: u64,
    warnings: Vec<String>,
}

impl BodyCache {
    /// Opens (creating, 0700) the cache in `dir`, holding at most `cap`
    /// bytes. Reads the directory once: regular files named as this
    /// module names them are the cache; temp files a crash left are
    /// removed; if the cap went down, the oldest files go now.
    pub fn open(dir: &Path, cap: u64) -> io::Result<BodyCache> {
        create_private_dir(dir)?;
        let mut c = BodyCache {
            dir: dir.to_path_buf(),
            cap,
            entries: HashMap::new(),
            total: 0,
            clock: 0,
            warnings: Vec::new(),
        };
        let now = SystemTime::now();
        for entry in fs::read_dir(dir)?.flatten().take(MAX_FILES) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            if name.starts_with(TEMP_PREFIX) {
                let stale = meta
                    .modified()
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age > STALE_TEMP);
                if stale {
                    let _ = fs::remove_file(entry.path());
                }
                continue;
            }
            if !is_cache_name(&name) || !meta.is_file() {
                continue;
            }
            let last = (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), 0);
            c.total += meta.len();
            c.entries.insert(
                name,
                Entry {
                    bytes: meta.len(),
                    last,
                },
            );
        }
        c.evict();
        Ok(c)
    }

    /// The cap in bytes.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// Bytes the cache holds now.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// How many messages the cache holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether (UID, size) is cached (as far as this cache knows: a file
    /// is checked only when it is read).
    pub fn contains(&self, uid: &str, size: u64) -> bool {
        self.entries.contains_key(&file_name(uid, size))
    }

    /// What was set aside since the last call, in words for the user.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The message cached for (UID, size), if its file checks out; a hit
    /// makes it the most recently used. A file that doesn't check out is
    /// removed, with a warning.
    pub fn get(&mut self, uid: &str, size: u64) -> Option<Vec<u8>> {
        if !valid_uid(uid.as_bytes()) {
            return None;
        }
        let name = file_name(uid, size);
        let path = self.dir.join(&name);
        match read_checked(&path, self.cap + MAX_HEADER, Some((uid, size))) {
            Ok(Some((_, body, file))) => {
                let now = SystemTime::now();
                let _ = file.set_modified(now);
                let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
                self.used(name, bytes, now);
                Some(body)
            }
            Ok(None) => {
                self.forget(&name);
                None
            }
            Err(why) => {
                self.drop_file(&name, &why);
                None
            }
        }
    }

    /// The file `name` (`bytes` long) was just read or written: the most
    /// recently used.
    fn used(&mut self, name: String, bytes: u64, now: SystemTime) {
        self.clock += 1;
        self.forget(&name);
        self.total += bytes;
        self.entries.insert(
            name,
            Entry {
                bytes,
                last: (now, self.clock),
            },
        );
    }

    /// Keeps `body`, the message listed as (UID, size), then evicts the
    /// least recently used files until the total is within the cap. A
    /// message bigger than the whole cap, or without a valid UID, is not
    /// kept.
    pub fn put(&mut self, uid: &str, size: u64, body: &[u8]) -> io::Result<()> {
        if !valid_uid(uid.as_bytes()) {
            return Ok(());
        }
        let header = header(uid, size, body);
        let bytes = (header.len() + body.len()) as u64;
        if bytes > self.cap {
            return Ok(());
        }
        let name = file_name(uid, size);
        write_atomic(&self.dir, &name, &[&header, body])?;
        self.used(name, bytes, SystemTime::now());
        self.evict();
        Ok(())
    }

    /// The names of the cached files, most recently used first, at most
    /// `max` (for [`BodyCache::read_name`]).
    pub fn names_by_use(&self, max: usize) -> Vec<String> {
        let mut names: Vec<(&String, &Entry)> = self.entries.iter().collect();
        names.sort_by_key(|(_, e)| std::cmp::Reverse(e.last));
        names
            .into_iter()
            .take(max)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The UID and the message in the file `name`, if it checks out (it
    /// is not marked as used); a file that doesn't is removed, with a
    /// warning. For `~b` over what was read before.
    pub fn read_name(&mut self, name: &str) -> Option<(String, Vec<u8>)> {
        if !is_cache_name(name) {
            return None;
        }
        let path = self.dir.join(name);
        match read_checked(&path, self.cap + MAX_HEADER, None) {
            Ok(Some((h, body, _))) if file_name(&h.uid, h.size) == name => Some((h.uid, body)),
            Ok(Some(_)) => {
                self.drop_file(name, "its header names another message");
                None
            }
            Ok(None) => {
                self.forget(name);
                None
            }
            Err(why) => {
                self.drop_file(name, &why);
                None
            }
        }
    }

    fn forget(&mut self, name: &str) {
        if let Some(e) = self.entries.remove(name) {
            self.total = self.total.saturating_sub(e.bytes);
        }
    }

    fn drop_file(&mut self, name: &str, why: &str) {
        self.forget(name);
        let path = self.dir.join(name);
        let _ = fs::remove_file(&path);
        self.warnings.push(format!(
            "a body cache file was removed, not shown ({why}): {}; the message is fetched \
             from the server again",
            path.display()
        ));
    }

    /// Remove the least recently used files until the total fits the cap.
    fn evict(&mut self) {
        if self.total <= self.cap {
            return;
        }
        let mut order: Vec<(String, Entry)> =
            self.entries.iter().map(|(n, e)| (n.clone(), *e)).collect();
        order.sort_by_key(|(_, e)| e.last);
        for (name, _) in order {
            if self.total <= self.cap {
                break;
            }
            let _ = fs::remove_file(self.dir.join(&name));
            self.forget(&name);
        }
    }
}

/// 32 lower-case hex digits.
fn is_cache_name(name: &str) -> bool {
    name.len() == 32
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn header(uid: &str, size: u64, body: &[u8]) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(
        format!(
            "{uid}\n{size}\n{}\n{}\n",
            body.len(),
            hex(&Sha256::digest(body))
        )
        .as_bytes(),
    );
    h
}

/// A parsed header.
struct Header {
    uid: String,
    size: u64,
    len: u64,
    sum: String,
    /// Bytes the header takes.
    taken: usize,
}

fn parse_header(bytes: &[u8]) -> Option<Header> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let mut lines = rest.splitn(5, |&b| b == b'\n');
    let mut field = || std::str::from_utf8(lines.next()?).ok();
    let uid = field()?.to_string();
    let size = field()?.parse().ok()?;
    let len = field()?.parse().ok()?;
    let sum = field()?.to_string();
    let ok =
        valid_uid(uid.as_bytes()) && sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit());
    let taken = MAGIC.len() + uid.len() + sum.len() + 4 + size_digits(size) + size_digits(len);
    ok.then_some(Header {
        uid,
        size,
        len,
        sum,
        taken,
    })
}

fn size_digits(n: u64) -> usize {
    n.to_string().len()
}

/// The message in the file at `path`, checked: `Ok(None)` when there is no
/// such file; `Err(why)` when it is not a regular file, too big, or its
/// header, length or checksum don't match (`want`: the UID and size it
/// must name). The header and the open file come back too (to mark the use).
fn read_checked(
    path: &Path,
    cap: u64,
    want: Option<(&str, u64)>,
) -> Result<Option<(Header, Vec<u8>, File)>, String> {
    let (file, meta) = match crate::private_fs::open_regular(path) {
        Ok(Some(opened)) => opened,
        Ok(None) => return Ok(None),
        Err(crate::private_fs::Unfit::Set(why)) => return Err(why),
        Err(crate::private_fs::Unfit::Io(e)) => return Err(e.to_string()),
    };
    let len = meta.len();
    if len > cap {
        return Err("it is bigger than the cache".into());
    }
    let mut bytes = Vec::with_capacity(len as usize);
    (&file)
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    let h = parse_header(&bytes).ok_or("its header is damaged")?;
    if let Some((uid, size)) = want
        && (h.uid != uid || h.size != size)
    {
        return Err("its header names another message".into());
    }
    let body = bytes.get(h.taken..).ok_or("it is cut short")?;
    if body.len() as u64 != h.len {
        return Err("its length doesn't match its header (cut short or grown)".into());
    }
    if hex(&Sha256::digest(body)) != h.sum.to_ascii_lowercase() {
        return Err("its content doesn't match its checksum".into());
    }
    let body = body.to_vec();
    Ok(Some((h, body, file)))
}

/// Writes `parts` to `dir/name` atomically: a private temp file, synced,
/// renamed over the target, the directory synced.
fn write_atomic(dir: &Path, name: &str, parts: &[&[u8]]) -> io::Result<()> {
    let temp = dir.join(format!(
        "{TEMP_PREFIX}{}.{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = new_private_file().open(&temp)?;
        for p in parts {
            f.write_all(p)?;
        }
        f.sync_all()?;
        drop(f);
        fs::rename(&temp, dir.join(name))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_hashes_of_uid_and_size() {
        let a = file_name("../../etc/passwd", 10);
        assert!(is_cache_name(&a));
        assert_ne!(a, file_name("../../etc/passwd", 11));
        assert_ne!(file_name("ab", 1), file_name("a", 21));
    }

    #[test]
    fn put_then_get_round_trips_and_headers_parse() {
        let d = tempfile::tempdir().unwrap();
        let mut c = BodyCache::open(&d.path().join("b"), 1 << 20).unwrap();
        let body = b"Subject: hi\r\n\r\n.dot line\r\n";
        c.put("uid-1", 42, body).unwrap();
        assert_eq!(c.get("uid-1", 42).as_deref(), Some(&body[..]));
        assert_eq!(c.get("uid-1", 43), None, "another size is another message");
        assert_eq!(c.get("uid-2", 42), None);
        let h = parse_header(&header("u", 7, b"x")).unwrap();
        assert_eq!((h.uid.as_str(), h.size, h.len), ("u", 7, 1));
        assert!(c.take_warnings().is_empty());
        // A reopened cache knows it.
        let c2 = BodyCache::open(&d.path().join("b"), 1 << 20).unwrap();
        assert!(c2.contains("uid-1", 42));
        assert_eq!(c2.total_bytes(), c.total_bytes());
    }

    #[test]
    fn an_invalid_uid_is_never_kept() {
        let d = tempfile::tempdir().unwrap();
        let mut c = BodyCache::open(d.path(), 1 << 20).unwrap();
        c.put("a b", 1, b"x").unwrap();
        c.put("", 1, b"x").unwrap();
        assert!(c.is_empty());
    }
}
