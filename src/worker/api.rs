//! The channel contract between the UI thread and the worker thread.
//!
//! The UI sends [`Request`]s; the worker answers with [`Event`]s. Payloads are
//! owned (parsed on the worker), so nothing is shared between the threads.
//! Reads (retrieve, peek, visible rows) may be coalesced or superseded;
//! writes (mark, unmark, unmark all, commit, quit) are applied in order and
//! never dropped.

use crate::mail::{HeaderSummary, MessageView};
use crate::password::Password;
use crate::pop3::ErrorKind;

/// Identifies a retrieve/peek request so a newer one can supersede an older
/// one and the UI can drop stale answers.
pub type Ticket = u64;

/// A message as the UI knows it: its number in the listing the UI holds and,
/// when the server supports UIDL, its unique id. The worker resolves by UID
/// when there is one, so a key stays valid across reconnects and renumbering.
/// A key without UID is only a number, valid in the one listing it came
/// from: `generation` names that listing, and the worker refuses a write
/// with a key from an older one (a new login may give the number to
/// another message). The UI never makes keys up: it uses the ones the
/// worker's listing gave it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsgKey {
    pub number: u32,
    pub uid: Option<String>,
    /// The listing a key without UID came from (0 for a key with a UID: it
    /// doesn't depend on a listing).
    pub generation: u64,
}

impl MsgKey {
    /// A key with this number and UID (generation 0).
    pub fn new(number: u32, uid: Option<String>) -> MsgKey {
        MsgKey {
            number,
            uid,
            generation: 0,
        }
    }
}

/// A deletion mark that a new session found no longer names the message it
/// was made on (its UID now lists with another size or Message-ID, or it
/// could not be checked): dropped, not applied. Nothing was deleted for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedMark {
    /// The message the UID names in this session.
    pub key: MsgKey,
    /// What the mark remembered of the message it was made on (sanitized;
    /// empty when unknown).
    pub from: String,
    pub subject: String,
    /// Why, in words.
    pub reason: String,
}

impl DroppedMark {
    /// One line for the status bar or stderr: which message, and why.
    pub fn describe(&self) -> String {
        let uid = self.key.uid.as_deref().unwrap_or("-");
        let mut what = format!("unique id {}", crate::sanitize::line(uid));
        let about: Vec<&str> = [self.from.as_str(), self.subject.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        if !about.is_empty() {
            what.push_str(&format!(" ({})", crate::sanitize::line(&about.join(": "))));
        }
        format!(
            "deletion mark dropped, nothing deleted: the message marked as {what} {}; mark it \
             again if you still want it deleted",
            crate::sanitize::line(&self.reason)
        )
    }
}

/// One line of the server's listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    pub key: MsgKey,
    /// Size in octets as LIST reported it (a hint, never trusted for memory).
    pub size: u64,
}

/// A password on its way to the worker: `Debug` never shows it (a failing
/// `assert_eq!` on requests, a log line).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Password);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(Password::new(s))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(Password::from(s))
    }
}

/// Requests from the UI to the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// These rows are on screen now: fetch their previews first.
    Visible(Vec<MsgKey>),
    /// The UI has taken in one more [`Event::Listing`] (sent once for each,
    /// in order): the worker then knows which listing a key the UI sends
    /// was read from, and refuses a mark made on an older list whose UID
    /// now names another message (a reused UID, seen in the new listing
    /// before the UI showed it).
    ListingSeen,
    /// Retrieve a whole message (RETR). Supersedes any older queued retrieve.
    Retrieve { ticket: Ticket, key: MsgKey },
    /// Abandon a retrieve (the user pressed cancel or went back).
    CancelRetrieve { ticket: Ticket },
    /// Peek at the headers and the first `lines` body lines (TOP n k).
    Peek {
        ticket: Ticket,
        key: MsgKey,
        lines: u32,
    },
    /// Mark for deletion (DELE now, committed only on quit-with-commit).
    Mark(MsgKey),
    /// Undo the mark on one message (RSET, then DELE the other marks again).
    Unmark(MsgKey),
    /// Undo every mark (RSET).
    UnmarkAll,
    /// Look for new mail: a new listing, diffed by UIDL.
    CheckNewMail,
    /// Commit the marks now (QUIT) and open a fresh session.
    CommitNow,
    /// The password the user typed after [`Event::PasswordNeeded`].
    Password(Secret),
    /// End the session: `commit: true` sends QUIT (deleting marked messages);
    /// `commit: false` drops the marks (RSET, QUIT) and deletes nothing.
    Quit { commit: bool },
    /// End the session deleting nothing, but keep the marks (on disk, by
    /// UID) for the next start: RSET, QUIT, the intent untouched.
    QuitKeepMarks,
    /// Save these messages into a local mailbox (pipelined RETR, each copy
    /// durable before the next is reported); answered with
    /// [`Event::SaveProgress`] and one [`Event::SaveDone`].
    Save(SaveRequest),
    /// Stop the running (or queued) save after the message being received.
    StopSave,
}

/// A save into a local mailbox, as the UI asks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaveRequest {
    /// Names the answers to this save.
    pub id: u64,
    pub keys: Vec<MsgKey>,
    pub dest: crate::localbox::Destination,
    /// Where the record of saved messages lives (`None`: not kept).
    pub index_dir: Option<std::path::PathBuf>,
}

/// What a save did, message by message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SaveOutcome {
    pub id: u64,
    /// Saved now.
    pub saved: Vec<MsgKey>,
    /// Saved by an earlier save (the record says so): not written again.
    pub before: Vec<MsgKey>,
    /// Of `saved` and `before`: the copy is durable and checked (its size
    /// equals LIST's), so the message may be deleted from the server.
    pub durable: Vec<MsgKey>,
    /// Not saved, each with the reason (sanitized).
    pub failed: Vec<(MsgKey, String)>,
    /// Not reached: the user stopped the save, or the session ended.
    pub not_reached: usize,
    /// The user stopped it.
    pub stopped: bool,
    /// Bytes saved now (LIST sizes).
    pub bytes: u64,
}

/// How the live connection is protected. Comes from the connection itself,
/// never from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsState {
    /// No TLS at all (only when the user explicitly configured it).
    None,
    /// Implicit TLS (POP3S).
    Implicit(TlsDetails),
    /// Upgraded with STLS.
    StartTls(TlsDetails),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsDetails {
    /// How the certificate was trusted.
    pub trust: CertTrust,
    /// SHA-256 of the server certificate (DER), lower-case hex.
    pub fingerprint_sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertTrust {
    /// Verified against the system roots (and any extra CA file).
    Verified,
    /// Accepted because it matched the configured fingerprint pin.
    Pinned,
    /// Verification was switched off by the user: show a loud warning.
    Unverified,
}

/// What the worker learnt when it connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// `host:port`.
    pub server: String,
    pub tls: TlsState,
    /// The greeting text, sanitized.
    pub greeting: String,
    /// Capabilities as the server listed them (after login), sanitized.
    pub capabilities: Vec<String>,
    pub implementation: Option<String>,
    /// Seconds the server wants between logins (CAPA LOGIN-DELAY).
    pub login_delay: Option<u64>,
    /// Days the server keeps mail (CAPA EXPIRE); `Some(0)` means never kept.
    pub expire: Option<String>,
    pub pipelining: bool,
    pub has_top: bool,
    pub has_uidl: bool,
    /// The authentication method used.
    pub auth_method: String,
}

/// A failure the UI shows: its kind, words for a person, and whether the
/// worker has given up (`fatal`) or keeps trying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerError {
    pub kind: ErrorKind,
    pub message: String,
    pub fatal: bool,
}

/// Events from the worker to the UI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Connecting (or reconnecting) to the server.
    Connecting {
        server: String,
        attempt: u32,
    },
    Connected(Box<ConnectionInfo>),
    /// The full listing. Sent once after login and again after new mail or a
    /// reconnect; the UI merges by UID and keeps its place and marks.
    Listing {
        entries: Vec<ListEntry>,
        /// Why there is no UID (and so no cache, no mark persistence), if so.
        no_uidl_reason: Option<String>,
    },
    /// The listing as the last session saw it, from the cache, sent before
    /// the first connection so the list is drawn at once: shown as cached
    /// until the server's `Listing` replaces it (merged by UID: new
    /// messages appear, vanished ones leave). Every key has a UID; the UI
    /// does not count it as a listing it has seen (`Request::ListingSeen`),
    /// and marks made on it are kept by UID and checked at the session.
    CachedListing(Vec<ListEntry>),
    /// Messages of the listing just sent that no earlier listing or
    /// session had (no preview of them was cached): mutt's "new", for
    /// `~N`. Sent only when the header cache knew some messages (a first
    /// start can't tell new from old).
    Unseen(Vec<MsgKey>),
    /// Header previews, in batches as they arrive.
    Previews(Vec<(MsgKey, HeaderSummary)>),
    /// Preview loading progress.
    Progress {
        done: usize,
        total: usize,
        bytes: u64,
    },
    /// Download progress of a retrieve.
    RetrieveProgress {
        ticket: Ticket,
        bytes: u64,
        total: u64,
    },
    /// A retrieved message (RETR), parsed on the worker.
    Message {
        ticket: Ticket,
        key: MsgKey,
        view: Box<MessageView>,
    },
    /// The start of a message (TOP n k).
    Peeked {
        ticket: Ticket,
        key: MsgKey,
        view: Box<MessageView>,
    },
    /// The text of the messages in the body cache (`cache_bodies`), by
    /// UID, most recently read first (bounded, sanitized): what `~b`
    /// searches besides the messages read in this session.
    CachedBodies(Vec<(String, String)>),
    /// A retrieve or peek could not be served (the message is marked, gone,
    /// or the server refused): the UI stops waiting for that ticket.
    ReadFailed {
        ticket: Ticket,
        key: MsgKey,
        reason: String,
    },
    /// A mark was refused before anything was sent (the message is gone,
    /// or shares its UID with another): the UI drops its pending mark.
    MarkRefused {
        key: MsgKey,
        reason: String,
    },
    /// A mark from an earlier session was dropped at a new session: its UID
    /// no longer names the message it was made on. A `Marks` event follows.
    MarkDropped(DroppedMark),
    /// The set of messages marked for deletion changed (the whole set, by key).
    Marks {
        marked: Vec<MsgKey>,
        /// Marks restored from disk after a crash: pending, not committed.
        restored: bool,
        /// How many of the UI's `Mark`, `Unmark` and `UnmarkAll` requests,
        /// counted from the first, are settled in `marked` (applied, refused
        /// or found to change nothing). Writes after that are still queued,
        /// so the UI keeps showing them as pending.
        settled: u64,
    },
    /// How far a save has come: messages done of all, bytes received.
    SaveProgress {
        id: u64,
        done: usize,
        total: usize,
        bytes: u64,
        total_bytes: u64,
    },
    /// A save is over (finished, stopped or cut by the session's end).
    SaveDone(Box<SaveOutcome>),
    /// A transient, informative message for the status line (sanitized).
    Notice(String),
    Error(WorkerError),
    /// The server refused the credentials: ask for the password.
    PasswordNeeded {
        reason: String,
    },
    /// The connection dropped; the worker retries after `delay_secs`.
    Reconnecting {
        attempt: u32,
        delay_secs: u64,
        reason: String,
    },
    /// The session was let go after `release_after` without a request
    /// from the user: RSET, then QUIT, so nothing was deleted and the
    /// maildrop lock is free for other clients. The list and the marks
    /// stay (marks on disk by UID); the worker connects again by itself at
    /// the user's next action (open, mark, undo, commit, check, quit with
    /// commit) and re-applies the marks (`Connecting`, then `Reconnected`).
    Released,
    /// The worker is connected again and has re-applied the marks.
    Reconnected {
        marks_reapplied: usize,
    },
    /// A commit finished (QUIT answered +OK).
    Committed {
        deleted: usize,
        /// Marked messages that someone else deleted meanwhile (by UID).
        already_gone: Vec<String>,
    },
    /// The session is over; the worker thread ends after this.
    Closed {
        committed: bool,
    },
}
