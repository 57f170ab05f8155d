//! A save into a local mailbox asked by the TUI (`s`, `C`, `;s`):
//! pipelined `RETR`s in the session the worker already holds, each message
//! kept with [`crate::localbox::Keeper`] (durable, recorded in the saved
//! journal so that saving again writes nothing twice) as it completes; a
//! message of [`STREAM_FROM`] or more is streamed into the
//! mailbox as it arrives, one at a time, as `popview save` does, so memory
//! does not grow with its size.
//!
//! The save is an exclusive op: the pipe is drained before it starts, and
//! the previews wait until it ends. While it runs, the user's requests are
//! taken in between messages (served after it); `Request::StopSave` (Esc)
//! stops it after the message being received. The worker marks nothing:
//! the outcome says which copies are durable and checked, and the UI marks
//! those through its usual mark path when the user asked to move them.

use std::cell::RefCell;
use std::ops::ControlFlow;

use super::*;
use crate::localbox::{Fate, Keeper, STREAM_FROM};

/// Most often a save's progress is reported while a message arrives.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

struct Item {
    key: MsgKey,
    uid: Option<String>,
    size: u64,
    fate: Fate,
}

/// The running count, shared by the progress and the per-message hooks.
struct Count {
    done: usize,
    bytes_done: u64,
    last_report: Option<Instant>,
    stop: bool,
}

impl Worker {
    /// `Request::StopSave` with no save running: the saves still queued are
    /// dropped, each answered as stopped before it began.
    pub(super) fn stop_queued_saves(&mut self) {
        let mut stopped = Vec::new();
        self.ops.retain(|op| match op {
            Op::Save(job) => {
                stopped.push((job.id, job.keys.len()));
                false
            }
            _ => true,
        });
        for (id, n) in stopped {
            self.send(Event::SaveDone(Box::new(SaveOutcome {
                id,
                not_reached: n,
                stopped: true,
                ..SaveOutcome::default()
            })));
        }
    }

    /// Without a session, a save at the front of the queue waits for one
    /// (true), unless the user quits: then it is dropped, answered as not
    /// started.
    pub(super) fn save_waits_offline(&mut self) -> bool {
        if !matches!(self.ops.front(), Some(Op::Save(_))) {
            return false;
        }
        if !self.ui_gone && !self.quit_queued() {
            return true;
        }
        if let Some(Op::Save(job)) = self.ops.pop_front() {
            self.send(Event::SaveDone(Box::new(SaveOutcome {
                id: job.id,
                not_reached: job.keys.len(),
                stopped: true,
                ..SaveOutcome::default()
            })));
        }
        false
    }

    /// Run one save in session `s` (the pipe is empty). `Err`: the
    /// connection was lost (the outcome was sent: what was not reached is
    /// counted, nothing of it was written).
    pub(super) fn run_save(&mut self, job: SaveRequest, s: &mut Session) -> Result<(), Error> {
        let mut out = SaveOutcome {
            id: job.id,
            ..SaveOutcome::default()
        };
        let mut keeper = match Keeper::open(job.dest.clone(), job.index_dir.as_deref()) {
            Ok(k) => k,
            Err(e) => {
                let why = sanitize::line(&e.0);
                out.failed = job.keys.into_iter().map(|k| (k, why.clone())).collect();
                self.send(Event::SaveDone(Box::new(out)));
                return Ok(());
            }
        };
        for w in keeper.take_warnings() {
            self.notice(w);
        }
        let mut items = Vec::new();
        for key in job.keys {
            let m = match s.listing.resolve(&key) {
                Some(m) => m.clone(),
                None if s.listing.is_stale(&key) => {
                    out.failed
                        .push((key, super::ops::stale_key("it was not saved")));
                    continue;
                }
                None => {
                    out.failed
                        .push((key, "that message is no longer on the server".into()));
                    continue;
                }
            };
            let fate = match m.uid.as_deref() {
                Some(uid) if keeper.already_saved(uid, m.size) => Fate::Before {
                    holds: keeper.copy_holds(uid, m.size),
                },
                // DELE was sent for it in this session: the server won't
                // send it (SECURITY E30).
                _ if self.marks.contains(&key) || self.marks.is_applied(m.number) => {
                    out.failed.push((
                        key,
                        "it is marked for deletion, so the server won't send it; undo the \
                         mark (u) and save again"
                            .into(),
                    ));
                    continue;
                }
                _ => Fate::Waiting,
            };
            items.push(Item {
                key,
                uid: m.uid,
                size: m.size,
                fate,
            });
        }
        // (number, LIST size, index in `items`), in the order asked.
        let wanted: Vec<(u32, u64, usize)> = items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.fate == Fate::Waiting)
            .filter_map(|(n, i)| Some((s.listing.resolve(&i.key)?.number, i.size, n)))
            .collect();
        let by_number: HashMap<u32, usize> = wanted.iter().map(|w| (w.0, w.2)).collect();
        let (id, total) = (job.id, wanted.len());
        let total_bytes: u64 = wanted.iter().map(|w| w.1).sum();
        info!(
            id,
            messages = total,
            bytes = total_bytes,
            "saving into a local mailbox"
        );
        let count = RefCell::new(Count {
            done: 0,
            bytes_done: 0,
            last_report: None,
            stop: false,
        });
        let worker = RefCell::new(&mut *self);
        let report = |receiving: u64, force: bool| {
            let mut c = count.borrow_mut();
            if !force && c.last_report.is_some_and(|t| t.elapsed() < PROGRESS_EVERY) {
                return;
            }
            c.last_report = Some(Instant::now());
            let ev = Event::SaveProgress {
                id,
                done: c.done,
                total,
                bytes: c.bytes_done + receiving,
                total_bytes,
            };
            drop(c);
            worker.borrow_mut().send(ev);
        };
        // A message is done: count it, report, take in the user's requests;
        // true when the save should stop.
        let message_done = |size: u64| {
            {
                let mut c = count.borrow_mut();
                c.done += 1;
                c.bytes_done += size;
            }
            report(0, true);
            let stop = worker.borrow_mut().save_should_stop();
            let mut c = count.borrow_mut();
            c.stop |= stop;
            c.stop
        };
        // Big messages are streamed into the mailbox one at a time (memory
        // stays small whatever the size); runs of the others are
        // pipelined, each kept whole as it completes.
        let plan: Vec<bool> = wanted.iter().map(|w| w.1 >= STREAM_FROM).collect();
        report(0, true);
        let mut at = 0;
        let result = loop {
            if at >= wanted.len() || count.borrow().stop {
                break Ok(());
            }
            if plan[at] {
                let (number, size, n) = wanted[at];
                at += 1;
                let uid = items[n].uid.clone();
                let kept = keeper.keep_streamed(uid.as_deref(), size, |sink| {
                    s.client
                        .retrieve_to(number, size, sink, &mut |bytes| report(bytes, false))
                });
                items[n].fate = match kept {
                    Ok(fate) => sanitized(fate),
                    Err(e) if !e.is_fatal_to_session() => Fate::Failed(sanitize::line(&e.message)),
                    Err(e) => break Err(e),
                };
                message_done(size);
                continue;
            }
            let run = plan[at..].iter().take_while(|big| !**big).count();
            let batch: Vec<(u32, u64)> = wanted[at..at + run].iter().map(|w| (w.0, w.1)).collect();
            at += run;
            let r = s.client.retrieve_each(
                &batch,
                &mut |bytes| report(bytes, false),
                |number, body| {
                    let Some(item) = by_number.get(&number).and_then(|&n| items.get_mut(n)) else {
                        return ControlFlow::Continue(());
                    };
                    item.fate = match body {
                        Ok(b) if b.truncated => Fate::Failed("the message was cut short".into()),
                        Ok(b) => keep(&mut keeper, item, b.data),
                        Err(e) => Fate::Failed(sanitize::line(&e.message)),
                    };
                    if message_done(item.size) {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
            );
            if let Err(e) = r {
                break Err(e);
            }
        };
        let stopped = count.borrow().stop;
        if let Err(e) = keeper.sync() {
            self.notice(e.0);
        }
        for w in keeper.take_warnings() {
            self.notice(w);
        }
        out.stopped = stopped;
        for it in items {
            match it.fate {
                Fate::Waiting => out.not_reached += 1,
                Fate::Before { holds } => {
                    if holds {
                        out.durable.push(it.key.clone());
                    }
                    out.before.push(it.key);
                }
                Fate::Now { checked } => {
                    out.bytes += it.size;
                    if checked {
                        out.durable.push(it.key.clone());
                    }
                    out.saved.push(it.key);
                }
                Fate::Failed(why) => out.failed.push((it.key, why)),
            }
        }
        info!(
            id,
            saved = out.saved.len(),
            before = out.before.len(),
            failed = out.failed.len(),
            not_reached = out.not_reached,
            stopped,
            "save done"
        );
        s.last_activity = Instant::now();
        self.send(Event::SaveDone(Box::new(out)));
        result
    }

    /// Between two messages of a save: take in what the user asked meanwhile
    /// (served after the save); true when the save should stop (Esc, a
    /// quit, the UI gone).
    fn save_should_stop(&mut self) -> bool {
        let mut stop = false;
        loop {
            match self.requests.try_recv() {
                Ok(Request::StopSave) => stop = true,
                Ok(r) => self.absorb(r),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.ui_gone = true;
                    break;
                }
            }
        }
        stop || self.ui_gone || self.quit_queued()
    }
}

/// Keep one message fetched whole.
fn keep(keeper: &mut Keeper, item: &Item, data: Vec<u8>) -> Fate {
    sanitized(Fate::of(keeper.keep(item.uid.as_deref(), item.size, data)))
}

/// A fate whose reason (from the disk, or the server) is fit to show.
fn sanitized(fate: Fate) -> Fate {
    match fate {
        Fate::Failed(why) => Fate::Failed(sanitize::line(&why)),
        fate => fate,
    }
}
