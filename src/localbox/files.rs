//! The file operations a durable local mailbox needs: private directories,
//! fsync of a directory after a rename, and a stable name for a
//! destination.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Create `dir` (and its parents) with mode 0700 where missing.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Make a rename or a new file in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Options for a new private file (0600) that must not exist yet and is
/// never reached through a symlink.
pub fn new_private_file() -> OpenOptions {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    opts
}

/// The absolute, symlink-free form of `path` (whose last component need
/// not exist yet): two spellings of one destination share one index.
pub fn identity(path: &Path) -> io::Result<PathBuf> {
    if let Ok(p) = fs::canonicalize(path) {
        return Ok(p);
    }
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("the path has no file name"))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(fs::canonicalize(parent)?.join(name))
}

/// `~/x` with the home directory put in (as a shell would); other paths
/// as they are.
pub fn expand_home(path: &Path) -> PathBuf {
    let Ok(rest) = path.strip_prefix("~") else {
        return path.to_path_buf();
    };
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_of_a_new_file_is_absolute() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x").join("..").join("box");
        fs::create_dir(d.path().join("x")).unwrap();
        let id = identity(&p).unwrap();
        assert!(id.is_absolute());
        assert_eq!(id, fs::canonicalize(d.path()).unwrap().join("box"));
    }

    #[test]
    fn home_is_expanded_only_at_the_start() {
        assert_eq!(expand_home(Path::new("/a/~/b")), PathBuf::from("/a/~/b"));
        if let Some(h) = std::env::var_os("HOME") {
            assert_eq!(
                expand_home(Path::new("~/Mail")),
                PathBuf::from(h).join("Mail")
            );
        }
    }
}
