//! Private files on disk, the one way popview makes them: directories
//! 0700, new files 0600 that must not exist yet and are never reached
//! through a symlink, and a directory fsynced after a rename so it lasts.
//! Used by the account state (`store`), saved mail (`localbox`) and the
//! OAuth2 token file (`oauth`).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn directories_and_files_are_private_and_a_symlink_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("a").join("b");
        create_private_dir(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let f = dir.join("f");
        new_private_file().open(&f).unwrap();
        let mode = fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(new_private_file().open(&f).is_err(), "never overwrites");
        let link = dir.join("link");
        std::os::unix::fs::symlink(d.path().join("elsewhere"), &link).unwrap();
        assert!(new_private_file().open(&link).is_err(), "never follows");
        sync_dir(&dir).unwrap();
    }
}
