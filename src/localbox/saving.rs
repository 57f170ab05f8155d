//! One message kept as it arrives ([`Keeper::begin`]): the raw pieces go
//! through [`ToLf`] into a Maildir temp file, or (after the header
//! section, which gives the mbox envelope) into an mbox append under its
//! locks. Memory holds one line (and, for an mbox, the header section,
//! at most [`MAX_HEADER_SECTION`]), whatever the message's size.
//!
//! The record of saved messages is as strict as for a whole message: an
//! intent is recorded (fsynced) before the first byte is written; once
//! the copy is durable and its size checked, the intent is recorded again
//! with where exactly it went (the Maildir name with its size, the mbox
//! bytes' length and digest) before it is made visible (the rename into
//! `new/`, the mbox unlocked); "done" last. A failure or an abort part
//! way leaves nothing: the temp file is removed, the mbox cut back to its
//! length before the message, the intent forgotten.

use std::io;

use super::lines::ToLf;
use super::saved::{Entry, Where};
use super::{Destination, Keeper, Kept, LocalError, maildir, mbox};

/// The most of an mbox message's header section held to find its
/// envelope sender and date; past it, they are taken from what was seen.
pub const MAX_HEADER_SECTION: usize = 256 * 1024;

/// A message being kept; see the module doc. Dropped without
/// [`Saving::finish`], it is aborted.
pub struct Saving<'k> {
    keeper: &'k mut Keeper,
    uid: String,
    size: u64,
    lf: ToLf,
    to: To,
    /// The intent recorded before writing (forgotten on abort).
    intent: Option<Entry>,
    failed: Option<String>,
}

enum To {
    Maildir {
        base: String,
        delivery: maildir::Delivery,
    },
    /// The header section, until its end gives the envelope.
    MboxHeaders {
        head: Vec<u8>,
    },
    Mbox(mbox::Appending),
    Done,
}

impl Keeper {
    /// Start keeping the message with key `uid` (its UIDL) and LIST size
    /// `size`, written as it arrives ([`Saving::write`]). The caller
    /// checks [`Keeper::already_saved`] first.
    pub fn begin(&mut self, uid: &str, size: u64) -> Result<Saving<'_>, LocalError> {
        let (to, intent) = match (&self.dest, &self.maildir) {
            (Destination::Maildir(root), Some(md)) => {
                let base = md.unique_base();
                let intent = Entry::new(uid, size, Where::File(base.clone()), String::new(), false);
                self.index.record_pending(&intent)?;
                let delivery = md
                    .begin(&base)
                    .map_err(|e| LocalError::io("can't deliver into the Maildir", root, &e));
                let delivery = match delivery {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = self.index.forget(&intent);
                        return Err(e);
                    }
                };
                (To::Maildir { base, delivery }, Some(intent))
            }
            (Destination::Mbox(_), _) => (To::MboxHeaders { head: Vec::new() }, None),
            (Destination::Maildir(root), None) => {
                return Err(LocalError(format!(
                    "internal: the Maildir {} was not opened",
                    root.display()
                )));
            }
        };
        Ok(Saving {
            keeper: self,
            uid: uid.to_string(),
            size,
            lf: ToLf::default(),
            to,
            intent,
            failed: None,
        })
    }
}

impl Keeper {
    /// Keep the message with key `uid` (its UIDL; `None` from a server
    /// without UIDL) and LIST size `size` as `fill` hands it over, piece by
    /// piece (dot-unstuffed, as the server sent it): the one way `popview
    /// save` and the TUI's saves stream a big message. A local failure (the
    /// disk) fails this message only, and the rest of it is still taken
    /// (and dropped) so the source can go on; an error of `fill` itself is
    /// given back, with nothing of the message left. The caller checks
    /// [`Keeper::already_saved`] first when there is a UID.
    pub fn keep_streamed<E>(
        &mut self,
        uid: Option<&str>,
        size: u64,
        fill: impl FnOnce(&mut dyn FnMut(&[u8])) -> Result<(), E>,
    ) -> Result<super::Fate, E> {
        match uid {
            Some(uid) => self.stream_as(uid, size, fill),
            None => self.stream_by_content(size, fill),
        }
    }

    fn stream_as<E>(
        &mut self,
        uid: &str,
        size: u64,
        fill: impl FnOnce(&mut dyn FnMut(&[u8])) -> Result<(), E>,
    ) -> Result<super::Fate, E> {
        let mut saving = match self.begin(uid, size) {
            Ok(s) => s,
            Err(e) => return Ok(super::Fate::Failed(e.0)),
        };
        let mut local: Option<String> = None;
        fill(&mut |piece| {
            if local.is_none()
                && let Err(e) = saving.write(piece)
            {
                local = Some(e.0);
            }
        })?;
        Ok(match local {
            // Dropping `saving` takes out what was written.
            Some(why) => super::Fate::Failed(why),
            None => super::Fate::of(saving.finish()),
        })
    }

    /// A message without a UID is known by the digest of its content
    /// (as [`Keeper::keep`] does), which is known only at its end, and the
    /// record must name a message before any of it is written: so it goes
    /// first into an unnamed temporary file (beside the destination, gone
    /// by itself whatever happens), then from there as a message with that
    /// key. Memory stays small; the disk holds it twice for a moment.
    fn stream_by_content<E>(
        &mut self,
        size: u64,
        fill: impl FnOnce(&mut dyn FnMut(&[u8])) -> Result<(), E>,
    ) -> Result<super::Fate, E> {
        use std::io::{Read, Seek, Write};
        let beside = self.dest.path().display().to_string();
        let failed = |what: &str, e: io::Error| {
            super::Fate::Failed(format!(
                "can't {what} a temporary copy of the message beside {beside}: {e}"
            ))
        };
        let mut spool = match self.spool() {
            Ok(f) => io::BufWriter::with_capacity(64 * 1024, f),
            Err(e) => return Ok(failed("make", e)),
        };
        let mut measure = ToLf::default();
        let mut local: Option<io::Error> = None;
        fill(&mut |piece| {
            if local.is_none()
                && let Err(e) = spool
                    .write_all(piece)
                    .and_then(|()| measure.push(piece, &mut |_| Ok(())))
            {
                local = Some(e);
            }
        })?;
        let spooled = match local {
            Some(e) => Err(e),
            None => measure
                .finish(&mut |_| Ok(()))
                .and_then(|()| spool.into_inner().map_err(|e| e.into_error())),
        };
        let mut file = match spooled {
            Ok(f) => f,
            Err(e) => return Ok(failed("write", e)),
        };
        let key = format!("sha256:{}", measure.digest());
        if self.index.is_done(&key, size) {
            return Ok(super::Fate::Before {
                holds: self.copy_holds(&key, size),
            });
        }
        if let Err(e) = file.rewind() {
            return Ok(failed("read", e));
        }
        let kept = self.stream_as(&key, size, |sink| {
            let mut buf = vec![0; 64 * 1024];
            loop {
                match file.read(&mut buf)? {
                    0 => return Ok(()),
                    n => sink(&buf[..n]),
                }
            }
        });
        Ok(kept.unwrap_or_else(|e| failed("read", e)))
    }

    /// An unnamed temporary file (removed by the system when closed) on
    /// the destination's side: the Maildir's `tmp/`, else the mbox's
    /// folder, else the system's temporary folder.
    fn spool(&self) -> io::Result<std::fs::File> {
        let dest = self.dest.path();
        let near = match &self.dest {
            Destination::Maildir(root) => Some(root.join("tmp")),
            Destination::Mbox(p) => p.parent().map(|d| d.to_path_buf()),
        };
        near.into_iter()
            .map(|dir| match dir.as_os_str().is_empty() {
                true => std::path::PathBuf::from("."),
                false => dir,
            })
            .chain([std::env::temp_dir()])
            .find_map(|dir| tempfile::tempfile_in(dir).ok())
            .ok_or_else(|| {
                io::Error::other(format!("no folder to write it in near {}", dest.display()))
            })
    }
}

impl Saving<'_> {
    /// The next piece of the message as the server sent it (dot-unstuffed,
    /// CRLF line ends; pieces of any size). After an error the message is
    /// not kept (further writes fail; drop or abort it).
    pub fn write(&mut self, piece: &[u8]) -> Result<(), LocalError> {
        if let Some(why) = &self.failed {
            return Err(LocalError(why.clone()));
        }
        let r = self.feed(Some(piece));
        self.fail_on(r)
    }

    /// `piece`, line by line, into the mailbox; `None`: what is left of
    /// the last line, at the end.
    fn feed(&mut self, piece: Option<&[u8]>) -> io::Result<()> {
        let Saving {
            keeper,
            uid,
            size,
            lf,
            to,
            intent,
            ..
        } = self;
        let mut store = |line: &[u8]| stored_line(keeper, uid, *size, to, intent, line);
        match piece {
            Some(piece) => lf.push(piece, &mut store),
            None => lf.finish(&mut store),
        }
    }

    fn fail_on(&mut self, r: io::Result<()>) -> Result<(), LocalError> {
        r.map_err(|e| {
            let e = self.error(&e);
            self.failed = Some(e.0.clone());
            e
        })
    }

    fn error(&self, e: &io::Error) -> LocalError {
        let path = self.keeper.dest.path();
        match self.keeper.dest {
            Destination::Maildir(_) => LocalError::io("can't deliver into the Maildir", path, e),
            Destination::Mbox(_) => LocalError::io("can't append to the mbox", path, e),
        }
    }

    /// The message is complete: make the copy durable, check it, record
    /// it. Returns once it is recorded.
    pub fn finish(mut self) -> Result<Kept, LocalError> {
        if let Some(why) = &self.failed {
            return Err(LocalError(why.clone()));
        }
        let r = self.feed(None);
        self.fail_on(r)?;
        // A message whose header section never ended: the envelope from
        // what there is.
        if let To::MboxHeaders { .. } = self.to {
            let r = start_mbox(
                self.keeper,
                &self.uid,
                self.size,
                &mut self.to,
                &mut self.intent,
            );
            self.fail_on(r)?;
        }
        let bytes = self.lf.len();
        let d = self.lf.digest();
        let listed = self.size;
        let crlf = self.lf.crlf_size();
        let checked = super::crlf_size_matches(crlf, listed);
        if let Some(found) = &self.keeper.found
            && found.contains(&d)
        {
            // Already in the destination (recognised by content): the
            // copy just written is taken out again (dropped).
            self.to = To::Done;
            self.forget_intent();
            let e = Entry::new(&self.uid, listed, Where::Found, d, checked);
            self.keeper.index.record_done(e)?;
            return Ok(Kept {
                name: "already there".into(),
                bytes,
                checked,
                already_there: true,
            });
        }
        let to = std::mem::replace(&mut self.to, To::Done);
        let (entry, name) = match to {
            To::Maildir { base, mut delivery } => {
                let r = delivery.sync();
                self.fail_on(r)?;
                let name = maildir::sized(&base, bytes);
                let entry = Entry::new(&self.uid, listed, Where::File(name.clone()), d, checked);
                self.keeper.index.record_pending(&entry)?;
                self.intent = Some(entry.clone());
                if let Err(e) = delivery.commit(&name) {
                    // It may be in new/ already: the intent stays, and
                    // the next run settles it by looking.
                    self.intent = None;
                    return Err(self.error(&e));
                }
                (entry, name)
            }
            To::Mbox(mut a) => {
                let r = a.sync();
                let (len, sha256) = match r {
                    Ok(v) => v,
                    Err(e) => return Err(self.error(&e)),
                };
                let place = Where::Mbox {
                    offset: a.offset(),
                    len,
                    sha256,
                };
                let entry = Entry::new(&self.uid, listed, place, d, checked);
                self.keeper.index.record_pending(&entry)?;
                self.intent = Some(entry.clone());
                let from_at = a.commit();
                (entry, format!("mbox@{from_at}"))
            }
            To::MboxHeaders { .. } | To::Done => {
                return Err(LocalError("internal: the message was not started".into()));
            }
        };
        // Visible now: an intent left from here on is settled by finding it.
        self.intent = None;
        if self.keeper.crash_after_write {
            return Err(LocalError("stopped after the write (test)".into()));
        }
        self.keeper.index.record_done(entry)?;
        Ok(Kept {
            name,
            bytes,
            checked,
            already_there: false,
        })
    }

    /// Give up: nothing of the message is left (the temp file removed, the
    /// mbox cut back), and the intent is forgotten.
    pub fn abort(self) {}

    fn forget_intent(&mut self) {
        if let Some(e) = self.intent.take() {
            let _ = self.keeper.index.forget(&e);
        }
    }
}

impl Drop for Saving<'_> {
    fn drop(&mut self) {
        // Remove the copy (the temp file, the mbox cut back) before the
        // intent goes, so a crash in between still finds it recorded.
        self.to = To::Done;
        self.forget_intent();
    }
}

/// One stored line to wherever it goes.
fn stored_line(
    keeper: &mut Keeper,
    uid: &str,
    size: u64,
    to: &mut To,
    intent: &mut Option<Entry>,
    line: &[u8],
) -> io::Result<()> {
    match to {
        To::Maildir { delivery, .. } => {
            delivery.write(line)?;
            delivery.write(b"\n")
        }
        To::Mbox(a) => a.line(line),
        To::MboxHeaders { head } => {
            head.extend_from_slice(line);
            head.push(b'\n');
            if line.is_empty() || head.len() >= MAX_HEADER_SECTION {
                start_mbox(keeper, uid, size, to, intent)?;
            }
            Ok(())
        }
        To::Done => Err(io::Error::other("internal: the message was finished")),
    }
}

/// Take the mbox's locks, record the intent at its offset and write the
/// envelope and the held header section.
fn start_mbox(
    keeper: &mut Keeper,
    uid: &str,
    size: u64,
    to: &mut To,
    intent: &mut Option<Entry>,
) -> io::Result<()> {
    let To::MboxHeaders { head } = to else {
        return Ok(());
    };
    let head = std::mem::take(head);
    let sender = mbox::envelope_sender(&head);
    let date = mbox::envelope_date(&head);
    let mut a = mbox::Appending::start(keeper.dest.path(), &sender, &date)?;
    // The length and digest are known only once it is written: the intent
    // says where it starts and how (to take a part left by a crash out).
    let (head_len, sha256) = a.head();
    let e = Entry::new(
        uid,
        size,
        Where::MboxStart {
            offset: a.offset(),
            head: head_len,
            sha256,
            pid: std::process::id(),
        },
        String::new(),
        false,
    );
    keeper
        .index
        .record_pending(&e)
        .map_err(|e| io::Error::other(e.0))?;
    *intent = Some(e);
    for line in head.split_inclusive(|&b| b == b'\n') {
        a.line(line.strip_suffix(b"\n").unwrap_or(line))?;
    }
    *to = To::Mbox(a);
    Ok(())
}
