//! Reading and writing popview's own files the safe way: a read takes a
//! regular file only (never a symlink, FIFO or device) within a size cap;
//! a write is atomic (temp file, `sync_all`, rename, directory fsync) or an
//! append to a private file (0600) that is never reached through a symlink.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::private_fs::sync_dir;

/// Temporary files older than this are left over from a crash and removed
/// when a store is opened.
const STALE_TEMP: Duration = Duration::from_secs(3600);

pub(super) static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

pub(super) use crate::private_fs::Unfit;

/// The bytes of `path` if it is a regular file of at most `cap` bytes;
/// `Ok(None)` when it doesn't exist. Never follows a symlink and never
/// blocks on a FIFO: the open itself refuses a symlink (`O_NOFOLLOW`) and
/// doesn't wait (`O_NONBLOCK`), and the opened file must be the regular
/// file `lstat` saw.
pub(super) fn read_regular(path: &Path, cap: u64) -> Result<Option<Vec<u8>>, Unfit> {
    let Some((file, opened)) = crate::private_fs::open_regular(path)? else {
        return Ok(None);
    };
    let too_big = || Unfit::Set(format!("it is bigger than {} MB", cap >> 20));
    if opened.len() > cap {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(opened.len().min(cap) as usize + 1);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(Unfit::Io)?;
    if bytes.len() as u64 > cap {
        return Err(too_big());
    }
    Ok(Some(bytes))
}

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
pub(super) fn write_atomic(
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

/// Append `bytes` to the private file `target`, durable when this returns
/// (`sync_data`). A missing (or empty) file is created 0600 and starts with
/// `header`; the file is never reached through a symlink nor blocks on a
/// FIFO, and must be a regular file of at least `header.len()` bytes.
/// Returns the file's length after the append.
pub(super) fn append_private(target: &Path, header: &[u8], bytes: &[u8]) -> io::Result<u64> {
    let mut opts = OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let mut file = opts.open(target)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file; remove it",
            target.display()
        )));
    }
    let len = meta.len();
    if len == 0 {
        let mut all = Vec::with_capacity(header.len() + bytes.len());
        all.extend_from_slice(header);
        all.extend_from_slice(bytes);
        file.write_all(&all)?;
        file.sync_all()?;
        if let Some(dir) = target.parent() {
            sync_dir(dir)?;
        }
        return Ok(all.len() as u64);
    }
    if len < header.len() as u64 {
        return Err(io::Error::other(format!(
            "{} is damaged (shorter than its header); it is set aside when next read",
            target.display()
        )));
    }
    file.write_all(bytes)?;
    file.sync_data()?;
    Ok(len + bytes.len() as u64)
}

/// Cut the private file `target` back to `len` bytes if it is still
/// `expected` bytes long (a torn last record found by a read, that no one
/// has written after since). Never follows a symlink.
pub(super) fn truncate_if(target: &Path, expected: u64, len: u64) -> io::Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = opts.open(target)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.len() == expected && len < expected {
        file.set_len(len)?;
        file.sync_data()?;
    }
    Ok(())
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

/// Remove temp files a crashed writer left behind for one of `names`
/// (older than an hour, so a live writer's file is never touched).
pub(super) fn remove_stale_temps(dir: &Path, names: &[&str]) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten().take(10_000) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = names
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
