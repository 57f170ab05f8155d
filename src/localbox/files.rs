//! The file operations a durable local mailbox needs: private directories
//! and files and fsync of a directory after a rename (the one rule in
//! `private_fs`), and a stable name for a destination.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use crate::private_fs::{create_private_dir, new_private_file, sync_dir};

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
}
