//! The record of what was saved into one destination for one account, by
//! UID and LIST size: a private journal (`0600`, in the account's data
//! directory), one JSON object a line, fsynced after every line.
//!
//! ```text
//! {"popview_saved":1,"kind":"maildir","dest":"/home/me/Mail"}
//! {"op":"pending","uid":"...","size":1234,"place":{"file":"NAME"},"sha256":"...","checked":true}
//! {"op":"done",...}
//! ```
//!
//! "pending" is written before a message is written, "done" once its copy
//! is durable; [`super::Keeper`] settles a pending entry left by a run that
//! stopped. On open the journal is rewritten atomically (temp file, fsync,
//! rename, fsync of the directory) with only the live entries. The file is
//! our own but untrusted: it must be a regular file, is read up to a cap,
//! and anything that does not parse (but a torn last line, which a crash
//! mid-append leaves) makes the whole record unreadable: it is set aside
//! and the caller recognises saved messages by content instead.
//!
//! One saver at a time: a `flock` on `NAME.lock` is held while the index
//! is open.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::LocalError;
use super::files;

/// The journal's format version.
pub const VERSION: u32 = 1;
/// A journal bigger than this is not read.
const MAX_BYTES: u64 = 512 << 20;
/// How long opening waits for the lock before saying another saver has it.
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
/// Most entries kept.
const MAX_ENTRIES: usize = 1 << 22;

/// Where a saved message went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Where {
    /// A Maildir file name (in `new/`, or moved by a reader to `cur/`).
    File(String),
    /// The bytes appended to an mbox (the separator, `From ` line, quoted
    /// message and blank line) and their digest.
    Mbox {
        offset: u64,
        len: u64,
        sha256: String,
    },
    /// Found in the destination by content (after the record was lost).
    Found,
    /// An mbox append begun (an intent only, never "done"): its first
    /// `head` bytes at `offset` (the separator and the `From ` line) have
    /// this digest; the rest is known once it is written.
    #[serde(rename = "mbox-start")]
    MboxStart {
        offset: u64,
        head: u64,
        sha256: String,
        /// The process appending (whose dotlock a crash leaves behind).
        #[serde(default)]
        pid: u32,
    },
}

/// One message saved (or about to be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub uid: String,
    pub size: u64,
    pub place: Where,
    /// [`super::digest`] of the stored message.
    pub sha256: String,
    /// The stored size matched the LIST size ([`super::size_matches`]).
    #[serde(default)]
    pub checked: bool,
}

impl Entry {
    pub fn new(uid: &str, size: u64, place: Where, sha256: String, checked: bool) -> Entry {
        Entry {
            uid: uid.to_string(),
            size,
            place,
            sha256,
            checked,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Op {
    Pending,
    Done,
    Forget,
}

#[derive(Serialize, Deserialize)]
struct Line {
    op: Op,
    #[serde(flatten)]
    entry: Entry,
}

#[derive(Serialize, Deserialize)]
struct Header {
    popview_saved: u32,
    kind: String,
    dest: String,
}

/// How opening found the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// None yet (or `--demo`).
    Fresh,
    Read,
    /// It could not be used (why); set aside.
    Unreadable(String),
}

/// The live entries by (UID, LIST size).
type Entries = HashMap<(String, u64), (Op, Entry)>;

/// The open journal, with the lock.
pub struct Index {
    path: Option<PathBuf>,
    file: Option<File>,
    _lock: Option<File>,
    entries: Entries,
}

impl Index {
    /// An index that remembers for this run only.
    pub fn memory() -> Index {
        Index {
            path: None,
            file: None,
            _lock: None,
            entries: HashMap::new(),
        }
    }

    /// Open (and lock) the journal of destination `dest` (of `kind`) in
    /// `dir/saved/`.
    pub fn open(dir: &Path, kind: &str, dest: &Path) -> Result<(Index, Loaded), LocalError> {
        let dir = dir.join("saved");
        files::create_private_dir(&dir)
            .map_err(|e| LocalError::io("can't create the directory", &dir, &e))?;
        let dest_text = dest.to_string_lossy().into_owned();
        let key = hex::encode(&Sha256::digest(format!("{kind}\0{dest_text}"))[..16]);
        let path = dir.join(format!("{kind}-{key}.jsonl"));
        let lock = take_lock(&dir.join(format!("{kind}-{key}.lock")), dest)?;
        let header = Header {
            popview_saved: VERSION,
            kind: kind.to_string(),
            dest: dest_text,
        };
        let (entries, loaded) = match read_regular(&path) {
            Ok(None) => (HashMap::new(), Loaded::Fresh),
            Ok(Some(bytes)) => match parse(&bytes, &header) {
                Ok(e) => (e, Loaded::Read),
                Err(why) => (HashMap::new(), Loaded::Unreadable(why)),
            },
            Err(why) => (HashMap::new(), Loaded::Unreadable(why)),
        };
        if let Loaded::Unreadable(_) = &loaded
            && fs::symlink_metadata(&path).is_ok()
        {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let aside = dir.join(format!("{kind}-{key}.jsonl.unreadable-{secs}"));
            fs::rename(&path, &aside)
                .map_err(|e| LocalError::io("can't set aside the unreadable", &path, &e))?;
        }
        let mut index = Index {
            path: Some(path.clone()),
            file: None,
            _lock: Some(lock),
            entries,
        };
        index
            .compact(&header)
            .map_err(|e| LocalError::io("can't write", &path, &e))?;
        Ok((index, loaded))
    }

    /// Rewrite the journal with the live entries only, atomically, and
    /// open it for appending.
    fn compact(&mut self, header: &Header) -> io::Result<()> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let temp = dir.join(format!(
            ".{}.tmp.{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        let _ = fs::remove_file(&temp);
        let result = (|| {
            let mut w = BufWriter::new(files::new_private_file().open(&temp)?);
            serde_json::to_writer(&mut w, header)?;
            w.write_all(b"\n")?;
            for (op, e) in self.entries.values() {
                serde_json::to_writer(
                    &mut w,
                    &Line {
                        op: *op,
                        entry: e.clone(),
                    },
                )?;
                w.write_all(b"\n")?;
            }
            let f = w.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            drop(f);
            fs::rename(&temp, &path)?;
            files::sync_dir(dir)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result?;
        let mut opts = OpenOptions::new();
        opts.append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.custom_flags(libc::O_NOFOLLOW);
        }
        self.file = Some(opts.open(&path)?);
        Ok(())
    }

    /// Append one line; `sync`: fsync it before returning.
    fn append(&mut self, op: Op, entry: Entry, sync: bool) -> Result<(), LocalError> {
        if self.entries.len() >= MAX_ENTRIES && op != Op::Forget {
            return Err(LocalError(format!(
                "the record of saved messages is full ({MAX_ENTRIES} entries)"
            )));
        }
        if let Some(f) = self.file.as_mut() {
            let mut line = serde_json::to_vec(&Line {
                op,
                entry: entry.clone(),
            })
            .map_err(|e| LocalError(format!("internal: {e}")))?;
            line.push(b'\n');
            let path = self.path.clone().unwrap_or_default();
            f.write_all(&line)
                .and_then(|()| if sync { f.sync_data() } else { Ok(()) })
                .map_err(|e| LocalError::io("can't write", &path, &e))?;
        }
        let key = (entry.uid.clone(), entry.size);
        match op {
            Op::Forget => {
                self.entries.remove(&key);
            }
            _ => {
                self.entries.insert(key, (op, entry));
            }
        }
        Ok(())
    }

    /// Record that `entry` is about to be written (fsynced: a copy must
    /// never exist that no record points to).
    pub fn record_pending(&mut self, entry: &Entry) -> Result<(), LocalError> {
        self.append(Op::Pending, entry.clone(), true)
    }

    /// Record that `entry`'s copy is durable. Not fsynced on its own: if
    /// it is lost, the "pending" line before it is settled by looking at
    /// the destination (see [`super::Keeper`]); [`Index::sync`] makes it
    /// durable.
    pub fn record_done(&mut self, entry: Entry) -> Result<(), LocalError> {
        self.append(Op::Done, entry, false)
    }

    /// Drop a pending entry whose write never happened.
    pub fn forget(&mut self, entry: &Entry) -> Result<(), LocalError> {
        self.append(Op::Forget, entry.clone(), true)
    }

    /// Make every line written so far durable.
    pub fn sync(&mut self) -> Result<(), LocalError> {
        if let Some(f) = self.file.as_mut() {
            let path = self.path.clone().unwrap_or_default();
            f.sync_data()
                .map_err(|e| LocalError::io("can't write", &path, &e))?;
        }
        Ok(())
    }

    pub fn is_done(&self, uid: &str, size: u64) -> bool {
        matches!(
            self.entries.get(&(uid.to_string(), size)),
            Some((Op::Done, _))
        )
    }

    /// The entry recorded as done for this message.
    pub fn done(&self, uid: &str, size: u64) -> Option<&Entry> {
        match self.entries.get(&(uid.to_string(), size)) {
            Some((Op::Done, e)) => Some(e),
            _ => None,
        }
    }

    /// Entries recorded as about to be written and never confirmed.
    pub fn pending(&self) -> Vec<Entry> {
        self.entries
            .values()
            .filter(|(op, _)| *op == Op::Pending)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// How many messages are recorded as saved.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

fn take_lock(path: &Path, dest: &Path) -> Result<File, LocalError> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let f = opts
        .open(path)
        .map_err(|e| LocalError::io("can't open the lock", path, &e))?;
    // A short wait: a child process forked by this one may hold a copy of
    // a just-closed lock until it runs its program.
    let until = std::time::Instant::now() + LOCK_GRACE;
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(LocalError(format!(
                    "another popview is saving this account's mail into {}; wait until it \
                     is done",
                    dest.display()
                )));
            }
            Err(fs::TryLockError::Error(e)) => return Err(LocalError::io("can't lock", path, &e)),
        }
    }
}

/// The journal's bytes; `Ok(None)` when there is none; `Err(why)` when it
/// is not a regular file or is too big.
fn read_regular(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > MAX_BYTES {
        return Err(format!("it is bigger than {} MB", MAX_BYTES >> 20));
    }
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let mut bytes = Vec::new();
    opts.open(path)
        .and_then(|f| f.take(MAX_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    Ok(Some(bytes))
}

/// The live entries of a journal; `Err(why)` when it can't be trusted.
fn parse(bytes: &[u8], want: &Header) -> Result<Entries, String> {
    let mut lines = bytes.split_inclusive(|&b| b == b'\n');
    let first = lines.next().ok_or("it is empty")?;
    let header: Header =
        serde_json::from_slice(first).map_err(|_| "its first line is not a popview record")?;
    if header.popview_saved != VERSION {
        return Err(format!(
            "it was written by another version of popview (format {})",
            header.popview_saved
        ));
    }
    if header.kind != want.kind || header.dest != want.dest {
        return Err("it belongs to another destination".into());
    }
    let mut entries = HashMap::new();
    for line in lines {
        let complete = line.ends_with(b"\n");
        match serde_json::from_slice::<Line>(line) {
            Ok(l) => {
                let key = (l.entry.uid.clone(), l.entry.size);
                match l.op {
                    Op::Forget => {
                        entries.remove(&key);
                    }
                    op => {
                        if entries.len() >= MAX_ENTRIES {
                            return Err("it has too many entries".into());
                        }
                        entries.insert(key, (op, l.entry));
                    }
                }
            }
            // A line cut by a crash in the middle of its write.
            Err(_) if !complete => {}
            Err(e) => return Err(format!("a line does not parse ({e})")),
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn entry(uid: &str) -> Entry {
        Entry::new(uid, 10, Where::File(format!("n-{uid}")), "d".into(), true)
    }

    #[test]
    fn remembers_across_opens_and_compacts() {
        let d = tempfile::tempdir().unwrap();
        let dest = Path::new("/x/Mail");
        {
            let (mut ix, loaded) = Index::open(d.path(), "maildir", dest).unwrap();
            assert_eq!(loaded, Loaded::Fresh);
            ix.record_pending(&entry("a")).unwrap();
            ix.record_done(entry("a")).unwrap();
            ix.record_pending(&entry("b")).unwrap();
            ix.record_pending(&entry("c")).unwrap();
            ix.forget(&entry("c")).unwrap();
            // A second saver is refused while this one holds the lock.
            assert!(Index::open(d.path(), "maildir", dest).is_err());
        }
        let (ix, loaded) = Index::open(d.path(), "maildir", dest).unwrap();
        assert_eq!(loaded, Loaded::Read);
        assert!(ix.is_done("a", 10));
        assert!(!ix.is_done("a", 11));
        assert_eq!(ix.pending(), vec![entry("b")]);
        assert_eq!(ix.len(), 2);
        let file = fs::read_dir(d.path().join("saved"))
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".jsonl"))
            .unwrap();
        let meta = file.metadata().unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_to_string(file.path()).unwrap().lines().count(), 3);
        // Another destination has its own record.
        let (other, _) = Index::open(d.path(), "maildir", Path::new("/y")).unwrap();
        assert!(other.is_empty());
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_garbage_is_set_aside() {
        let d = tempfile::tempdir().unwrap();
        let dest = Path::new("/x/box");
        let path = {
            let (mut ix, _) = Index::open(d.path(), "mbox", dest).unwrap();
            ix.record_done(entry("a")).unwrap();
            ix.path.clone().unwrap()
        };
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"op\":\"done\",\"ui").unwrap();
        drop(f);
        let (ix, loaded) = Index::open(d.path(), "mbox", dest).unwrap();
        assert_eq!(loaded, Loaded::Read);
        assert!(ix.is_done("a", 10));
        drop(ix);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"garbage\n{}\n").unwrap();
        drop(f);
        let (ix, loaded) = Index::open(d.path(), "mbox", dest).unwrap();
        assert!(matches!(loaded, Loaded::Unreadable(_)), "{loaded:?}");
        assert!(ix.is_empty());
        let aside = fs::read_dir(d.path().join("saved"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".unreadable-"));
        assert!(aside);
    }

    #[test]
    fn a_symlinked_record_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let dest = Path::new("/x/box");
        let path = {
            let (ix, _) = Index::open(d.path(), "mbox", dest).unwrap();
            ix.path.clone().unwrap()
        };
        let target = d.path().join("elsewhere");
        fs::write(&target, "keep me").unwrap();
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let (_ix, loaded) = Index::open(d.path(), "mbox", dest).unwrap();
        assert!(matches!(loaded, Loaded::Unreadable(_)));
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep me");
    }
}
