//! `popview delete`: mark the named messages, then commit with QUIT, and
//! say "deleted" only for what the server confirmed with `+OK` to QUIT.
//!
//! Two phases, each with its own way to fail:
//! 1. Marking: every DELE is sent and answered before anything else. A
//!    mark or DELE refused, or the connection lost, ends the command
//!    without QUIT, which deletes nothing (RFC 1939 section 6): "not
//!    deleted", [`exit::NOT_DELETED`].
//! 2. Committing: QUIT. `+OK` is the only confirmation ("deleted", exit
//!    0). An `-ERR` (RFC 1939 allows "some deleted messages not removed"),
//!    a lost answer or a lost connection leave it open whether the server
//!    removed them: "unknown", [`exit::UNKNOWN`]. This phase is never
//!    retried on a new connection.

use super::*;

/// What became of each message `delete` was asked to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// QUIT answered `+OK` with this message marked.
    Deleted,
    /// No QUIT was sent (or the message was never marked).
    NotDeleted,
    /// QUIT was sent without a confirmation.
    Unknown,
}

impl Outcome {
    /// The word a script reads at the start of each output line.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Deleted => "deleted",
            Outcome::NotDeleted => "not deleted",
            Outcome::Unknown => "unknown",
        }
    }
}

/// A `Request::Unmark` of a key no message has (number 0): it changes
/// nothing, but the worker takes it in turn after the pipe has drained, so
/// the event that settles it (`Marks`, or a `MarkRefused` of this key)
/// comes after every DELE's answer and any refusal.
fn barrier() -> MsgKey {
    MsgKey {
        number: 0,
        ..MsgKey::default()
    }
}

pub fn delete(
    cfg: WorkerConfig,
    persist: Box<dyn Persist>,
    targets: &[String],
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let engine = Engine::open(cfg, persist)?;
    // Resolve everything before touching anything.
    let (mut engine, entries) = engine.find_all(targets)?;
    if dry_run {
        for e in &entries {
            writeln!(out, "would delete {}", line_of(e)).map_err(io_err)?;
        }
        engine.finish(false)?;
        return Ok(());
    }
    if let Err(why) = mark_all(&mut engine, &entries) {
        engine.abandon();
        report(out, &entries, Outcome::NotDeleted)?;
        return Err(CmdError {
            code: exit::NOT_DELETED,
            message: format!("nothing was deleted: {}", why.message),
            ..why
        });
    }
    let (outcome, why) = commit(engine, entries.len());
    report(out, &entries, outcome)?;
    match (outcome, why) {
        (Outcome::Deleted, _) => Ok(()),
        (_, why) => Err(CmdError::new(
            exit::UNKNOWN,
            format!(
                "the server did not confirm the deletion ({why}): it may or may not have \
                 deleted the messages listed as unknown; `popview list` shows what is left"
            ),
        )),
    }
}

/// Phase 1: DELE every entry and wait until each answer is in. Any
/// refusal or failure is returned; nothing is committed then.
fn mark_all(engine: &mut Engine, entries: &[ListEntry]) -> Result<()> {
    for e in entries {
        engine.send(Request::Mark(e.key.clone()))?;
    }
    engine.send(Request::Unmark(barrier()))?;
    let writes = entries.len() as u64 + 1;
    let keys: Vec<&MsgKey> = entries.iter().map(|e| &e.key).collect();
    let mut marked: Vec<MsgKey> = Vec::new();
    let all_kept = |marked: &[MsgKey]| {
        if keys.iter().all(|k| marked.contains(k)) {
            Ok(())
        } else {
            Err(CmdError::new(
                exit::NOT_DELETED,
                "the server session did not keep every mark",
            ))
        }
    };
    engine
        .until(|_, ev| match ev {
            Event::MarkRefused { key, .. } if *key == barrier() => Some(all_kept(&marked)),
            Event::MarkRefused { reason, .. } => Some(Err(CmdError::new(
                exit::NOT_DELETED,
                sanitize::line(reason),
            ))),
            // A DELE refused (the only error a session without previews
            // reports and goes on).
            Event::Error(e) => Some(Err(CmdError::from_kind(e.kind, &e.message))),
            Event::Marks {
                marked: now,
                settled,
                ..
            } => {
                marked = now.clone();
                (*settled >= writes).then(|| all_kept(&marked))
            }
            _ => None,
        })
        .and_then(|r| r)
}

/// Phase 2: QUIT. Returns the outcome for every entry (one QUIT decides
/// for all of them) and, when not confirmed, why.
fn commit(mut engine: Engine, asked: usize) -> (Outcome, String) {
    if let Err(e) = engine.send(Request::Quit { commit: true }) {
        // The worker is gone before QUIT was asked: nothing was sent.
        return (Outcome::NotDeleted, e.message);
    }
    let mut confirmed = None;
    let closed = engine.until(|_, e| match e {
        Event::Committed {
            deleted,
            already_gone,
        } => {
            confirmed = Some((*deleted, already_gone.len()));
            None
        }
        Event::Closed { committed } => Some(*committed),
        _ => None,
    });
    if let Some(h) = engine.handle.take() {
        let _ = h.join();
    }
    match (closed, confirmed) {
        (Ok(true), Some((deleted, 0))) if deleted == asked => (Outcome::Deleted, String::new()),
        (Ok(_), Some((deleted, gone))) => (
            Outcome::Unknown,
            format!(
                "it confirmed {deleted} of {asked}, and {gone} had gone from the server already"
            ),
        ),
        (Ok(_), None) => (
            Outcome::Unknown,
            "the session ended without the server's answer to QUIT".into(),
        ),
        (Err(e), _) => (Outcome::Unknown, e.message),
    }
}

fn report(out: &mut dyn Write, entries: &[ListEntry], outcome: Outcome) -> Result<()> {
    for e in entries {
        writeln!(out, "{} {}", outcome.word(), line_of(e)).map_err(io_err)?;
    }
    Ok(())
}

/// `N<TAB>UID` (`-` without a UID), sanitized.
pub(super) fn line_of(e: &ListEntry) -> String {
    format!(
        "{}\t{}",
        e.key.number,
        sanitize::line(e.key.uid.as_deref().unwrap_or("-"))
    )
}
