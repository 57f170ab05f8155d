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

/// Why a file of popview's own is not read.
pub enum Unfit {
    /// It is not what popview wrote (a symlink, a FIFO, a device, too big,
    /// replaced while opened): set it aside, for this reason.
    Set(String),
    /// It could not be read (e.g. permission denied): leave it.
    Io(io::Error),
}

/// Opens `path` for reading if it is a regular file, with the metadata of
/// the open file; `Ok(None)` when it doesn't exist. Never follows a symlink
/// and never blocks on a FIFO: `lstat` first, then the open refuses a
/// symlink (`O_NOFOLLOW`) and doesn't wait (`O_NONBLOCK`), and the opened
/// file must be the regular file `lstat` saw. The one way popview opens
/// its own files to read them (state, cache, bodies).
pub fn open_regular(path: &Path) -> Result<Option<(fs::File, fs::Metadata)>, Unfit> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Unfit::Io(e)),
    };
    if !meta.is_file() {
        return Err(Unfit::Set(kind(&meta).to_string()));
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
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
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
    Ok(Some((file, opened)))
}

/// What a file that is not regular is, in words.
fn kind(m: &fs::Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_symlink() {
        "it is a symbolic link"
    } else if t.is_dir() {
        "it is a directory"
    } else {
        "it is not a regular file (a FIFO, socket or device)"
    }
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
