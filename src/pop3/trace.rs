//! The optional wire trace: what was sent and received, with secrets
//! redacted (commands by `Command::trace_form`, and the known secrets cut
//! out of every line by the client, see [`super::redact`]) and every
//! non-printable byte escaped, so a trace can't carry live escape sequences.
//! The `--log` file is private to the user (0600), like the cache.

use std::io::Write;
use std::path::Path;

use super::error::Error;
use super::response::preview;

pub struct Trace {
    out: Box<dyn Write + Send>,
}

impl Trace {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Trace { out }
    }

    /// Append to the file at `path`, opened by [`open_private_log`].
    pub fn open_file(path: &Path) -> Result<Trace, Error> {
        let file = open_private_log(path)?;
        Ok(Trace::new(Box::new(std::io::BufWriter::new(file))))
    }

    /// A command sent, already redacted.
    pub fn client(&mut self, redacted: &str) {
        let _ = writeln!(self.out, "C: {}", escape(redacted.as_bytes()));
        let _ = self.out.flush();
    }

    /// A status line received.
    pub fn server(&mut self, line: &[u8]) {
        let _ = writeln!(self.out, "S: {}", escape(line));
    }

    /// The data lines of a multi-line answer (not logged: mail content).
    pub fn server_data(&mut self, bytes: usize) {
        let _ = writeln!(self.out, "S: <{bytes} bytes of data>");
        let _ = self.out.flush();
    }

    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.out, "-- {}", escape(text.as_bytes()));
        let _ = self.out.flush();
    }
}

/// Open the log file at `path` for appending, created private (mode 0600):
/// the one rule for every log popview writes (the `--log` wire trace, the
/// `--debug-log` decisions). A regular file that exists with wider
/// permissions is made private before anything is written to it; something
/// else (a terminal, a pipe the user named) is written as it is.
pub fn open_private_log(path: &Path) -> Result<std::fs::File, Error> {
    let cant = |e: std::io::Error| {
        Error::local(format!("can't open the log file {}: {e}", path.display()))
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(path).map_err(cant)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = file.metadata().map_err(cant)?;
        if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| {
                    Error::local(format!(
                        "the log file {} can be read by others and can't be made private \
                         ({e}); choose another file",
                        path.display()
                    ))
                })?;
        }
    }
    Ok(file)
}

fn escape(bytes: &[u8]) -> String {
    let p = preview(bytes);
    // preview() quotes and shortens; traces want the whole line.
    if bytes.len() <= 80 {
        p[1..p.len() - 1].to_string()
    } else {
        bytes
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    (b as char).to_string()
                } else {
                    format!("\\x{b:02x}")
                }
            })
            .collect()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_log_file_is_created_private_and_an_open_one_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.log");
        let mut t = Trace::open_file(&new).unwrap();
        t.note("hello");
        drop(t);
        assert_eq!(mode(&new), 0o600);
        assert!(std::fs::read_to_string(&new).unwrap().contains("-- hello"));

        let old = dir.path().join("old.log");
        std::fs::write(&old, "before\n").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut t = Trace::open_file(&old).unwrap();
        t.note("after");
        drop(t);
        assert_eq!(mode(&old), 0o600);
        let text = std::fs::read_to_string(&old).unwrap();
        assert!(
            text.starts_with("before\n") && text.contains("-- after"),
            "{text}"
        );
    }
}
