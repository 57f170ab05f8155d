//! Maildir delivery as <https://cr.yp.to/proto/maildir.html> requires:
//! write the message into `tmp/` under a unique name, fsync it, rename it
//! into `new/`, fsync `new/`. Names are `TIME.MUSECPPIDRRANDQN.HOST,S=SIZE`
//! (`S=` is the stored size, as Dovecot and mutt read it); `/` and `:` in
//! the host name are written `\057` and `\072`.

use std::collections::HashSet;
use std::fs;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::files;

/// Most files looked at when scanning a Maildir (the index-lost recovery).
const MAX_SCAN: usize = 1_000_000;
/// Biggest file read when scanning.
const MAX_SCAN_FILE: u64 = 1 << 30;

static DELIVERIES: AtomicU64 = AtomicU64::new(0);

/// An opened Maildir.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    host: String,
    /// The base names (before `:`) in `cur/`, read once: where readers
    /// move messages, which popview never does.
    cur: std::sync::OnceLock<HashSet<String>>,
}

impl Maildir {
    /// Open `root`, creating it and `cur/ new/ tmp/` (0700) where missing.
    pub fn create(root: &Path) -> io::Result<Maildir> {
        for sub in ["cur", "new", "tmp"] {
            files::create_private_dir(&root.join(sub))?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
            host: host_part(&host_name()),
            cur: std::sync::OnceLock::new(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A name no other delivery uses: time, microseconds, pid, a random
    /// number and a per-process counter, the host; then `,S=size`.
    pub fn unique_name(&self, size: u64) -> String {
        sized(&self.unique_base(), size)
    }

    /// [`Self::unique_name`] before the size is known (the name in
    /// `tmp/` of a streamed delivery).
    pub fn unique_base(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = DELIVERIES.fetch_add(1, Ordering::Relaxed);
        let mut h = RandomState::new().build_hasher();
        h.write_u64(n);
        format!(
            "{}.M{}P{}R{:016x}Q{n}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            h.finish(),
            self.host
        )
    }

    /// Deliver `bytes` under `name`: `tmp/name` (0600, created new, never
    /// through a symlink), fsynced, renamed into `new/`, `new/` fsynced.
    /// On failure the temp file is removed and nothing is in `new/`.
    pub fn deliver(&self, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        let mut d = self.begin(name)?;
        d.write(bytes)?;
        d.sync()?;
        d.commit(name)
    }

    /// Start a delivery written as it arrives: `tmp/base` is created
    /// (0600, new, never through a symlink). Dropped before
    /// [`Delivery::commit`], the temp file is removed.
    pub fn begin(&self, base: &str) -> io::Result<Delivery> {
        let tmp = self.root.join("tmp").join(base);
        let file = files::new_private_file().open(&tmp)?;
        Ok(Delivery {
            root: self.root.clone(),
            tmp,
            file: Some(io::BufWriter::with_capacity(64 * 1024, file)),
            written: 0,
        })
    }

    /// The message delivered as `name` is in `new/`, or in `cur/` (where
    /// a reader moves it, adding `:2,FLAGS`; `cur/` is listed once per
    /// run, so checking every message costs one directory read).
    pub fn holds(&self, name: &str) -> bool {
        if self.root.join("new").join(name).is_file() || self.root.join("cur").join(name).is_file()
        {
            return true;
        }
        let cur = self.cur.get_or_init(|| {
            let Ok(entries) = fs::read_dir(self.root.join("cur")) else {
                return HashSet::new();
            };
            entries
                .flatten()
                .take(MAX_SCAN)
                .map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    match n.split_once(':') {
                        Some((base, _)) => base.to_string(),
                        None => n,
                    }
                })
                .collect()
        });
        cur.contains(name)
    }

    /// Remove `tmp/name` (or `tmp/` of its name before the size was
    /// known), left by a delivery that stopped.
    pub fn remove_temp(&self, name: &str) {
        let _ = fs::remove_file(self.root.join("tmp").join(name));
        if let Some((base, _)) = name.rsplit_once(",S=") {
            let _ = fs::remove_file(self.root.join("tmp").join(base));
        }
    }

    /// The digest ([`super::digest`]) of every message in `new/` and `cur/`.
    pub fn digests(&self) -> io::Result<HashSet<String>> {
        let mut out = HashSet::new();
        for sub in ["new", "cur"] {
            for e in fs::read_dir(self.root.join(sub))?.flatten().take(MAX_SCAN) {
                let Ok(meta) = fs::symlink_metadata(e.path()) else {
                    continue;
                };
                if !meta.is_file() || meta.len() > MAX_SCAN_FILE {
                    continue;
                }
                let mut bytes = Vec::new();
                if fs::File::open(e.path())
                    .and_then(|f| f.take(MAX_SCAN_FILE).read_to_end(&mut bytes))
                    .is_ok()
                {
                    out.insert(super::digest(&bytes));
                }
            }
        }
        Ok(out)
    }
}

/// `base` with the stored size, `,S=size`, as Dovecot and mutt read it.
pub fn sized(base: &str, size: u64) -> String {
    format!("{base},S={size}")
}

/// A delivery in progress: the message written into `tmp/` as it
/// arrives. [`Delivery::sync`] makes it durable and checks its size,
/// [`Delivery::commit`] moves it into `new/`; dropped before that, the
/// temp file is removed (nothing is left behind).
pub struct Delivery {
    root: PathBuf,
    tmp: PathBuf,
    file: Option<io::BufWriter<fs::File>>,
    written: u64,
}

impl Delivery {
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("the delivery was already synced"))?;
        f.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flush, fsync, and check the temp file holds every byte written.
    pub fn sync(&mut self) -> io::Result<()> {
        let Some(w) = self.file.take() else {
            return Ok(());
        };
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        let len = f.metadata()?.len();
        if len != self.written {
            return Err(io::Error::other(format!(
                "{} holds {len} bytes, {} were written",
                self.tmp.display(),
                self.written
            )));
        }
        Ok(())
    }

    /// Move the synced file into `new/` as `name` (refused when that
    /// exists), fsync `new/` and check the size there.
    pub fn commit(mut self, name: &str) -> io::Result<PathBuf> {
        self.sync()?;
        let new = self.root.join("new").join(name);
        if fs::symlink_metadata(&new).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists already", new.display()),
            ));
        }
        fs::rename(&self.tmp, &new)?;
        // Renamed: nothing in tmp/ to remove any more.
        self.tmp = PathBuf::new();
        files::sync_dir(&self.root.join("new"))?;
        let len = fs::metadata(&new)?.len();
        if len != self.written {
            return Err(io::Error::other(format!(
                "{} holds {len} bytes, {} were written",
                new.display(),
                self.written
            )));
        }
        Ok(new)
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.file = None;
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// The machine's name, `localhost` when unknown.
fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The host as a Maildir name may hold it: `/` as `\057`, `:` as `\072`,
/// anything but printable ASCII dropped.
fn host_part(host: &str) -> String {
    let mut out = String::new();
    for c in host.chars().take(255) {
        match c {
            '/' => out.push_str("\\057"),
            ':' => out.push_str("\\072"),
            ',' => out.push_str("\\054"),
            c if c.is_ascii_graphic() => out.push(c),
            _ => {}
        }
    }
    if out.is_empty() {
        out.push_str("localhost");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_private_dirs_and_delivers_into_new() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("Mail");
        let md = Maildir::create(&root).unwrap();
        for sub in ["cur", "new", "tmp"] {
            let mode = fs::metadata(root.join(sub)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{sub}");
        }
        let name = md.unique_name(3);
        assert!(name.ends_with(",S=3"), "{name}");
        assert!(!name.contains(':') && !name.contains('/'), "{name}");
        let p = md.deliver(&name, b"ab\n").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"ab\n");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
        assert!(md.holds(&name));
        // A reader moves it to cur/ with flags: still held.
        fs::rename(&p, root.join("cur").join(format!("{name}:2,S"))).unwrap();
        assert!(md.holds(&name));
        assert!(!md.holds("other"));
        assert_ne!(md.unique_name(3), md.unique_name(3));
    }

    #[test]
    fn a_failed_delivery_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let md = Maildir::create(d.path()).unwrap();
        fs::set_permissions(d.path().join("new"), fs::Permissions::from_mode(0o500)).unwrap();
        let name = md.unique_name(2);
        let r = md.deliver(&name, b"a\n");
        fs::set_permissions(d.path().join("new"), fs::Permissions::from_mode(0o700)).unwrap();
        // root can write anyway; then the delivery simply worked.
        if r.is_err() {
            assert_eq!(fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
            assert!(!md.holds(&name));
        } else {
            assert!(md.holds(&name));
        }
    }

    #[test]
    fn host_names_are_made_safe() {
        assert_eq!(host_part("a/b:c,d"), "a\\057b\\072c\\054d");
        assert_eq!(host_part("\u{7}"), "localhost");
    }
}
