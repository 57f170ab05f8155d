//! Appending to an mbox in the mboxrd convention, as mutt reads it: each
//! message starts with `From SENDER DATE` (the envelope sender from
//! `Return-Path:`, else the From address; the date from `Date:` in UTC,
//! else now, in `asctime` form), every line that matches `>*From ` gets
//! one more `>` (so `From ` becomes `>From ` and `>From ` becomes
//! `>>From `, and a reader removes exactly one), and a blank line ends it.
//!
//! Locking, as mutt and the Debian MDAs do, all three held for the whole
//! append: a dotlock file `FILE.lock` (created exclusively; one older than
//! [`STALE_DOTLOCK`] is taken as left by a crash and removed; skipped when
//! the directory is not writable), a POSIX `fcntl` write lock (what mutt
//! uses), and a `flock` (what procmail and Postfix use on Linux). Waiting
//! for them is bounded by [`LOCK_WAIT`]. The append is fsynced; a write
//! that fails is cut off again (the file is truncated back to where it
//! was), so a failed append leaves no half message.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rustix::fs::{FlockOperation, fcntl_lock};

/// How long an append waits for the locks.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);
/// A dotlock older than this was left by a writer that died.
pub const STALE_DOTLOCK: Duration = Duration::from_secs(300);
/// Pause between tries of a held lock.
const LOCK_RETRY: Duration = Duration::from_millis(50);
/// Biggest mbox read when scanning (the index-lost recovery).
const MAX_SCAN: u64 = 8 << 30;

/// `path` may be appended to: it is missing (and will be created) or a
/// regular file.
pub fn check_target(path: &Path) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(io::Error::other("it is not a regular file")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if parent.is_dir() {
                Ok(())
            } else {
                Err(io::Error::other(format!(
                    "the directory {} does not exist",
                    parent.display()
                )))
            }
        }
        Err(e) => Err(e),
    }
}

/// The file's length, when it can be read.
pub fn len(path: &Path) -> Option<u64> {
    fs::metadata(path).ok().map(|m| m.len())
}

/// The envelope sender for the `From ` line: `Return-Path:`'s address,
/// else the From address, else `MAILER-DAEMON`; one word of printable
/// ASCII.
pub fn envelope_sender(lf: &[u8]) -> String {
    let from_return_path = header_value(lf, "return-path").map(|v| {
        let v = v.trim();
        let v = v.strip_prefix('<').unwrap_or(v);
        v.split('>').next().unwrap_or_default().to_string()
    });
    let addr = from_return_path
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| crate::mail::summarize(lf).from_addr);
    let word: String = addr
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(256)
        .collect();
    if word.is_empty() {
        "MAILER-DAEMON".to_string()
    } else {
        word
    }
}

/// The `From ` line's date: the message's `Date:` in UTC, else now, as
/// `asctime` writes it (`Thu Dec  3 03:36:22 2026`).
pub fn envelope_date(lf: &[u8]) -> String {
    let unix = crate::mail::summarize(lf).date.map(|d| d.unix);
    let when = unix
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .unwrap_or_else(chrono::Utc::now);
    when.format("%a %b %e %H:%M:%S %Y").to_string()
}

/// The first value of header `name` (lower case), unfolded, when the
/// header block has it.
fn header_value(lf: &[u8], name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in lf.split(|&b| b == b'\n') {
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(v) = value.as_mut() {
                v.push_str(&String::from_utf8_lossy(line));
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if let Some((k, v)) = text.split_once(':')
            && k.trim().eq_ignore_ascii_case(name)
        {
            value = Some(v.to_string());
        }
    }
    value
}

/// One message in mboxrd form: the `From ` line, the quoted lines, the
/// blank line that ends it.
pub fn mboxrd(sender: &str, date: &str, lf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lf.len() + lf.len() / 50 + 80);
    // Writing to a Vec can't fail.
    let _ = write_mboxrd(&mut out, b"", sender, date, lf);
    out
}

trait GtStrip {
    fn trim_ascii_start_matches_gt(&self) -> &[u8];
}

impl GtStrip for [u8] {
    fn trim_ascii_start_matches_gt(&self) -> &[u8] {
        let n = self.iter().take_while(|&&b| b == b'>').count();
        &self[n..]
    }
}

fn is_from_line(line: &[u8]) -> bool {
    line.starts_with(b"From ")
}

/// The locks held during an append; released on drop.
struct Locked {
    file: File,
    dotlock: Option<PathBuf>,
}

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = fcntl_lock(&self.file, FlockOperation::Unlock);
        let _ = self.file.unlock();
        if let Some(d) = self.dotlock.take() {
            let _ = fs::remove_file(d);
        }
    }
}

fn dotlock_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".lock");
    PathBuf::from(s)
}

/// Take the dotlock: `Ok(None)` when the directory doesn't let us (then
/// the kernel locks alone protect the append).
fn take_dotlock(path: &Path, until: Instant) -> io::Result<Option<PathBuf>> {
    let lock = dotlock_path(path);
    loop {
        match super::files::new_private_file().open(&lock) {
            Ok(mut f) => {
                let _ = writeln!(f, "{}", std::process::id());
                return Ok(Some(lock));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let stale = fs::symlink_metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > STALE_DOTLOCK);
                if stale {
                    let _ = fs::remove_file(&lock);
                    continue;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok(None),
            Err(e) => return Err(e),
        }
        if Instant::now() >= until {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is held by another program; try again later, or remove it if no \
                     mail program is running",
                    lock.display()
                ),
            ));
        }
        std::thread::sleep(LOCK_RETRY);
    }
}

fn lock(path: &Path) -> io::Result<Locked> {
    let until = Instant::now() + LOCK_WAIT;
    let dotlock = take_dotlock(path, until)?;
    let mut opts = OpenOptions::new();
    opts.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NONBLOCK);
    }
    let opened = opts.open(path).and_then(|file| {
        if file.metadata()?.is_file() {
            Ok(file)
        } else {
            Err(io::Error::other("it is not a regular file"))
        }
    });
    let file = match opened {
        Ok(f) => f,
        Err(e) => {
            if let Some(d) = dotlock {
                let _ = fs::remove_file(d);
            }
            return Err(e);
        }
    };
    // From here on, dropping `locked` releases whatever was taken.
    let locked = Locked { file, dotlock };
    loop {
        match fcntl_lock(&locked.file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::ACCESS => {}
            Err(e) => return Err(e.into()),
        }
        if Instant::now() >= until {
            return Err(busy(path));
        }
        std::thread::sleep(LOCK_RETRY);
    }
    loop {
        match locked.file.try_lock() {
            Ok(()) => break,
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
        if Instant::now() >= until {
            return Err(busy(path));
        }
        std::thread::sleep(LOCK_RETRY);
    }
    Ok(locked)
}

fn busy(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!(
            "another program kept {} locked for {} s; try again when it is done",
            path.display(),
            LOCK_WAIT.as_secs()
        ),
    )
}

/// Append one message (`lf`: LF line ends) to the mbox at `path` under
/// the locks, fsynced. `before_write(offset, len, sha256)` runs once the
/// locks are held, with where the bytes will go, how many there are and
/// their digest (an error there stops the append). The mboxrd form is
/// written as it is made, never held whole. Returns the offset of the
/// message's `From ` line.
pub fn append(
    path: &Path,
    sender: &str,
    date: &str,
    lf: &[u8],
    before_write: impl FnOnce(u64, u64, &str) -> io::Result<()>,
) -> io::Result<u64> {
    let mut a = Appending::start(path, sender, date)?;
    let mut digest = Digesting::default();
    write_mboxrd(&mut digest, a.separator(), sender, date, lf)?;
    let (len, sha256) = digest.finish();
    before_write(a.offset(), len, &sha256)?;
    for line in lf.split_inclusive(|&b| b == b'\n') {
        a.line(line.strip_suffix(b"\n").unwrap_or(line))?;
    }
    if lf.is_empty() {
        a.line(b"")?;
    }
    let (written, _) = a.sync()?;
    if written != len {
        return Err(io::Error::other(format!(
            "{written} bytes were appended, {len} expected"
        )));
    }
    Ok(a.commit())
}

/// One message being appended as it arrives: the locks are held from
/// [`Appending::start`] until it is committed or dropped; dropped before
/// [`Appending::commit`] (a failure, an abort), the file is cut back to
/// its length before the message, under the same locks, so no part of
/// the message is left.
pub struct Appending {
    locked: Locked,
    /// The file's length before the message.
    offset: u64,
    separator: &'static [u8],
    buf: Vec<u8>,
    digest: Digesting,
    committed: bool,
}

/// Written to the file in pieces this big.
const APPEND_BUF: usize = 64 * 1024;

impl Appending {
    /// Take the locks and write (buffered) the separator and the `From `
    /// line.
    pub fn start(path: &Path, sender: &str, date: &str) -> io::Result<Appending> {
        let locked = lock(path)?;
        let offset = locked.file.metadata()?.len();
        // Messages are separated by a blank line: add one when the file
        // doesn't end with one (written by another program).
        let ending = tail(&locked.file, offset)?;
        let separator: &'static [u8] = match (offset, ending) {
            (0, _) | (_, [b'\n', b'\n']) => b"",
            (_, [_, b'\n']) => b"\n",
            _ => b"\n\n",
        };
        let mut a = Appending {
            locked,
            offset,
            separator,
            buf: Vec::with_capacity(APPEND_BUF),
            digest: Digesting::default(),
            committed: false,
        };
        a.put(separator)?;
        a.put(format!("From {sender} {date}\n").as_bytes())?;
        Ok(a)
    }

    /// The file's length before the message (what the record of saved
    /// messages keeps).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Where the message's `From ` line is.
    pub fn from_at(&self) -> u64 {
        self.offset + self.separator.len() as u64
    }

    /// The length and digest of what [`Appending::start`] wrote (the
    /// separator and the `From ` line): how the start of this append is
    /// recognised after a crash ([`cut_back_partial`]).
    pub fn head(&self) -> (u64, String) {
        self.digest.clone().finish()
    }

    fn separator(&self) -> &'static [u8] {
        self.separator
    }

    /// One line of the message, without its line end: quoted (mboxrd)
    /// and ended with LF.
    pub fn line(&mut self, content: &[u8]) -> io::Result<()> {
        if is_from_line(content.trim_ascii_start_matches_gt()) {
            self.put(b">")?;
        }
        self.put(content)?;
        self.put(b"\n")
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.digest.write_all(bytes)?;
        if self.buf.len() + bytes.len() > APPEND_BUF {
            self.flush()?;
        }
        if bytes.len() >= APPEND_BUF {
            return (&self.locked.file).write_all(bytes);
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        (&self.locked.file).write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// End the message (the blank line), write it out, fsync, and check
    /// the file grew by exactly what was written. Returns how many bytes
    /// were appended and their digest. Still locked: the caller records
    /// it, then [`Appending::commit`]s.
    pub fn sync(&mut self) -> io::Result<(u64, String)> {
        self.put(b"\n")?;
        self.flush()?;
        self.locked.file.sync_all()?;
        let (len, sha256) = std::mem::take(&mut self.digest).finish();
        let end = self.locked.file.metadata()?.len();
        if end != self.offset + len {
            return Err(io::Error::other(format!(
                "the file grew to {end} bytes, {} expected",
                self.offset + len
            )));
        }
        Ok((len, sha256))
    }

    /// Keep what was written and release the locks. Returns where the
    /// `From ` line is.
    pub fn commit(mut self) -> u64 {
        self.committed = true;
        self.from_at()
    }
}

impl Drop for Appending {
    fn drop(&mut self) {
        if !self.committed {
            // Take the partial message out again (the locks are ours).
            let _ = self.locked.file.set_len(self.offset);
            let _ = self.locked.file.sync_all();
        }
    }
}

/// The separator, then the message in mboxrd form (see [`mboxrd`]).
fn write_mboxrd(
    w: &mut impl Write,
    separator: &[u8],
    sender: &str,
    date: &str,
    lf: &[u8],
) -> io::Result<()> {
    w.write_all(separator)?;
    writeln!(w, "From {sender} {date}")?;
    for line in lf.split_inclusive(|&b| b == b'\n') {
        if is_from_line(line.trim_ascii_start_matches_gt()) {
            w.write_all(b">")?;
        }
        w.write_all(line)?;
    }
    if lf.last() != Some(&b'\n') {
        w.write_all(b"\n")?;
    }
    w.write_all(b"\n")
}

/// Counts and digests what is written to it.
#[derive(Default, Clone)]
struct Digesting {
    len: u64,
    hash: sha2::Sha256,
}

impl Digesting {
    fn finish(self) -> (u64, String) {
        use sha2::Digest;
        (self.len, hex::encode(self.hash.finalize()))
    }
}

impl Write for Digesting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use sha2::Digest;
        self.hash.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The last two bytes before `len` (zeros when the file is shorter).
fn tail(mut file: &File, len: u64) -> io::Result<[u8; 2]> {
    let mut t = [0u8; 2];
    if len >= 2 {
        file.seek(SeekFrom::Start(len - 2))?;
        file.read_exact(&mut t)?;
    } else if len == 1 {
        file.seek(SeekFrom::Start(0))?;
        file.read_exact(&mut t[1..])?;
    }
    Ok(t)
}

/// Remove the dotlock of `path` when it was left by popview process `pid`
/// that died while appending (it holds exactly that pid, as
/// [`take_dotlock`] writes it, and no such process runs): otherwise every
/// mail program would wait [`STALE_DOTLOCK`] for it.
pub fn remove_dotlock_of(path: &Path, pid: u32) {
    let lock = dotlock_path(path);
    let Ok(text) = fs::read_to_string(&lock) else {
        return;
    };
    let alive = Path::new("/proc").join(pid.to_string()).exists();
    if pid != 0 && !alive && text == format!("{pid}\n") {
        let _ = fs::remove_file(&lock);
    }
}

/// After a crash part way through an append that began at `offset` with
/// `head` bytes of digest `sha256` (see [`Appending::head`]): when the
/// file still starts that append there and holds nothing after it (no
/// other message start: the append was the last thing written), cut it
/// back to `offset`, under the locks. Returns whether it was cut.
pub fn cut_back_partial(path: &Path, offset: u64, head: u64, sha256: &str) -> io::Result<bool> {
    if len(path).is_none_or(|l| l <= offset) || !holds_at(path, offset, head, sha256) {
        return Ok(false);
    }
    let locked = lock(path)?;
    // Looked at again under the locks: another writer may have come.
    let end = locked.file.metadata()?.len();
    if end <= offset || !holds_at(path, offset, head, sha256) {
        return Ok(false);
    }
    let mut f = &locked.file;
    f.seek(SeekFrom::Start(offset + head))?;
    let mut reader = BufReader::with_capacity(64 * 1024, f.take(end - offset - head));
    let mut line = Vec::new();
    let mut previous_blank = false;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if previous_blank && line.starts_with(b"From ") {
            // Another message after it: not ours to cut.
            return Ok(false);
        }
        previous_blank = line == b"\n";
    }
    locked.file.set_len(offset)?;
    locked.file.sync_all()?;
    Ok(true)
}

/// The `len` bytes at `offset` in `path` have this digest: an append that
/// was recorded as about to happen did happen.
pub fn holds_at(path: &Path, offset: u64, len: u64, sha256: &str) -> bool {
    let read = || -> io::Result<Vec<u8>> {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::new();
        f.take(len).read_to_end(&mut buf)?;
        Ok(buf)
    };
    matches!(read(), Ok(b) if b.len() as u64 == len && super::digest(&b) == sha256)
}

/// The digest ([`super::digest`]) of every message in the mbox, unquoted
/// as a reader sees it.
pub fn digests(path: &Path) -> io::Result<HashSet<String>> {
    let mut out = HashSet::new();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    let mut reader = BufReader::new(file.take(MAX_SCAN));
    let mut current: Option<Vec<u8>> = None;
    let mut previous_blank = true;
    let mut line = Vec::new();
    let mut finish = |m: Option<Vec<u8>>| {
        if let Some(mut m) = m {
            // The blank line that ends a message is not part of it.
            if m.ends_with(b"\n\n") {
                m.pop();
            }
            out.insert(super::digest(&m));
        }
    };
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if previous_blank && line.starts_with(b"From ") {
            finish(current.take());
            current = Some(Vec::new());
            previous_blank = false;
            continue;
        }
        previous_blank = line == b"\n";
        if let Some(m) = current.as_mut() {
            let unquoted =
                if line.starts_with(b">") && is_from_line(line.trim_ascii_start_matches_gt()) {
                    &line[1..]
                } else {
                    &line[..]
                };
            m.extend_from_slice(unquoted);
        }
    }
    finish(current.take());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mboxrd_quotes_from_lines_one_level_more() {
        let m = mboxrd(
            "a@b",
            "Thu Dec  3 03:36:22 2026",
            b"Subject: x\n\nFrom here\n>From there\n>>From far\nFromage\n From not\n",
        );
        assert_eq!(
            String::from_utf8(m).unwrap(),
            "From a@b Thu Dec  3 03:36:22 2026\nSubject: x\n\n>From here\n>>From there\n\
             >>>From far\nFromage\n From not\n\n"
        );
    }

    #[test]
    fn sender_and_date() {
        let m = b"Return-Path: <bounce@x.org>\nFrom: A <a@b.c>\nDate: Thu, 3 Dec 2026 04:36:22 +0100\n\nb\n";
        assert_eq!(envelope_sender(m), "bounce@x.org");
        assert_eq!(envelope_date(m), "Thu Dec  3 03:36:22 2026");
        assert_eq!(envelope_sender(b"From: A <a@b.c>\n\nb\n"), "a@b.c");
        assert_eq!(envelope_sender(b"Return-Path: <>\n\nb\n"), "MAILER-DAEMON");
        assert_eq!(envelope_sender(b"\n\nb\n"), "MAILER-DAEMON");
    }

    #[test]
    fn append_separates_and_scan_recognises() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("box");
        fs::write(
            &p,
            "From x Thu Dec  3 03:36:22 2026\nSubject: old\n\nno blank after\n",
        )
        .unwrap();
        let one = b"Subject: 1\n\nFrom me\n>From you\n".to_vec();
        let two = b"Subject: 2\n\nends with blank\n\n".to_vec();
        let at = append(
            &p,
            "a@b",
            "Thu Dec  3 03:36:22 2026",
            &one,
            |_, _, _| Ok(()),
        )
        .unwrap();
        append(
            &p,
            "a@b",
            "Thu Dec  3 03:36:22 2026",
            &two,
            |_, _, _| Ok(()),
        )
        .unwrap();
        let text = fs::read_to_string(&p).unwrap();
        assert!(text.contains("no blank after\n\nFrom a@b"), "{text}");
        assert_eq!(&text.as_bytes()[at as usize..at as usize + 5], b"From ");
        let found = digests(&p).unwrap();
        assert!(found.contains(&super::super::digest(&one)));
        assert!(found.contains(&super::super::digest(&two)));
        assert!(!dotlock_path(&p).exists());
    }

    /// A crash's part is cut only when it is still there, ours, and last.
    #[test]
    fn a_partial_append_is_cut_back_only_when_it_is_last() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("box");
        let before = "From x Thu Dec  3 03:36:22 2026\nSubject: old\n\nbody\n\n";
        let head = "From a@b Thu Dec  3 03:36:22 2026\n";
        let sha = super::super::digest(head.as_bytes());
        let at = before.len() as u64;
        let n = head.len() as u64;
        for (after, cut) in [
            ("Subject: cut\n\n>From half", true),
            (
                "Subject: cut\n\nhalf\n\nFrom other Thu Dec  3 03:36:22 2026\n\nx\n\n",
                false,
            ),
        ] {
            fs::write(&p, format!("{before}{head}{after}")).unwrap();
            assert_eq!(cut_back_partial(&p, at, n, &sha).unwrap(), cut, "{after:?}");
            let want = if cut {
                before.to_string()
            } else {
                format!("{before}{head}{after}")
            };
            assert_eq!(fs::read_to_string(&p).unwrap(), want);
        }
        fs::write(
            &p,
            format!("{before}From other Thu Dec  3 03:36:22 2026\n\nx\n"),
        )
        .unwrap();
        assert!(!cut_back_partial(&p, at, n, &sha).unwrap(), "not ours");
        assert!(!dotlock_path(&p).exists());
    }

    #[test]
    fn a_refused_record_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("box");
        let r = append(&p, "a", "d", b"x\n", |_, _, _| Err(io::Error::other("no")));
        assert!(r.is_err());
        assert_eq!(fs::metadata(&p).unwrap().len(), 0);
        assert!(!dotlock_path(&p).exists());
    }
}
