//! The parse thread: a user's read (the raw answer to `RETR` or `TOP n k`)
//! becomes a [`MessageView`](crate::mail::MessageView) here, and passes the
//! worker's `emit` hook (where the UI makes its `Doc`) here too, never on
//! the session thread: keepalives, marks and previews go on while a big or
//! hostile message is prepared. Answers leave in the order the reads
//! arrived; a panic while preparing one becomes a `ReadFailed` for it.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;

use super::Worker;
use crate::mail;
use crate::worker::api::{Event, MsgKey, Ticket};

/// One read to prepare.
struct Job {
    ticket: Ticket,
    key: MsgKey,
    raw: Vec<u8>,
    peek: bool,
}

/// The handle the worker keeps: a queue into the parse thread, which ends
/// (after the reads already queued) when this is dropped.
pub struct Reads {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Reads {
    /// Starts the parse thread, which hands each prepared read to `emit`
    /// and ends when `emit` says the UI is gone.
    pub fn spawn(mut emit: impl FnMut(Event) -> bool + Send + 'static) -> Reads {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("popview-parse".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    let (ticket, key) = (job.ticket, job.key.clone());
                    let delivered = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        let view = Box::new(mail::view(job.raw));
                        let (ticket, key) = (job.ticket, job.key);
                        emit(if job.peek {
                            Event::Peeked { ticket, key, view }
                        } else {
                            Event::Message { ticket, key, view }
                        })
                    }));
                    let alive = match delivered {
                        Ok(alive) => alive,
                        Err(_) => emit(Event::ReadFailed {
                            ticket,
                            key,
                            reason: "internal error while preparing the message; \
                                     try `v` for the raw text or save it with `s`"
                                .into(),
                        }),
                    };
                    if !alive {
                        break;
                    }
                }
            })
            .ok();
        Reads {
            jobs: thread.as_ref().map(|_| tx),
            thread,
        }
    }

    /// Queues a read; gives it back when the parse thread is gone.
    fn submit(&self, job: Job) -> Result<(), Job> {
        match &self.jobs {
            Some(tx) => tx.send(job).map_err(|e| e.0),
            None => Err(job),
        }
    }
}

impl Drop for Reads {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Worker {
    /// Prepares the user's reads on `reads`' thread from now on.
    pub(in crate::worker) fn with_reads(mut self, reads: Reads) -> Worker {
        self.reads = Some(reads);
        self
    }

    /// The answer to a user's read: to the parse thread, or, without one,
    /// prepared here.
    pub(super) fn deliver_read(&mut self, ticket: Ticket, key: MsgKey, raw: Vec<u8>, peek: bool) {
        let job = Job {
            ticket,
            key,
            raw,
            peek,
        };
        let job = match &self.reads {
            Some(r) => match r.submit(job) {
                Ok(()) => return,
                Err(job) => job,
            },
            None => job,
        };
        let view = Box::new(mail::view(job.raw));
        let (ticket, key) = (job.ticket, job.key);
        self.send(if job.peek {
            Event::Peeked { ticket, key, view }
        } else {
            Event::Message { ticket, key, view }
        });
    }
}
