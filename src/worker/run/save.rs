//! A save into a local mailbox asked by the TUI (`s`, `C`, `;s`):
//! pipelined `RETR`s in the session the worker already holds, each message
//! kept with [`crate::localbox::Keeper`] (durable, recorded in the saved
//! journal so that saving again writes nothing twice) as it completes.
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
use crate::localbox::{Fate, Keeper};

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
        let wanted: Vec<(u32, u64)> = items
            .iter()
            .filter(|i| i.fate == Fate::Waiting)
            .filter_map(|i| Some((s.listing.resolve(&i.key)?.number, i.size)))
            .collect();
        let by_number: HashMap<u32, usize> = items
            .iter()
            .enumerate()
            .filter_map(|(n, i)| Some((s.listing.resolve(&i.key)?.number, n)))
            .collect();
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
        report(0, true);
        let result = s.client.retrieve_each(
            &wanted,
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
                {
                    let mut c = count.borrow_mut();
                    c.done += 1;
                    c.bytes_done += item.size;
                }
                report(0, true);
                let stop = worker.borrow_mut().save_should_stop();
                let mut c = count.borrow_mut();
                c.stop |= stop;
                if c.stop {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
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

/// Keep one message: the one place a save of the TUI writes locally.
fn keep(keeper: &mut Keeper, item: &Item, data: Vec<u8>) -> Fate {
    match Fate::of(keeper.keep(item.uid.as_deref(), item.size, data)) {
        Fate::Failed(why) => Fate::Failed(sanitize::line(&why)),
        fate => fate,
    }
}
