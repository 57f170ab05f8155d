//! The worker thread: owns the POP3 session and serves the UI's requests.
//!
//! - [`api`]: the channel contract (requests in, events out).
//! - [`run`]: the loop: connect with a retry policy, pipeline previews and
//!   the user's reads, apply marks in order, commit only on request.
//! - [`listing`], [`marks`]: pure bookkeeping, unit tested.
//! - [`persist`]: the on-disk header cache and marks, behind a trait.

pub mod api;
pub mod config;
pub mod listing;
pub mod marks;
pub mod persist;
pub mod run;

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub use api::{Event, MsgKey, Request};
pub use config::WorkerConfig;
pub use persist::Persist;

/// Start the worker thread. `emit` delivers events to the UI and returns
/// false once the UI is gone (the worker then ends without committing).
pub fn spawn(
    cfg: WorkerConfig,
    persist: Box<dyn Persist>,
    requests: Receiver<Request>,
    emit: impl FnMut(Event) -> bool + Send + 'static,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("popview-worker".into())
        .spawn(move || {
            // Shared so that, if the worker panics, the UI still hears why.
            let emit = Arc::new(Mutex::new(emit));
            let inner = Arc::clone(&emit);
            let forward: run::Emit = Box::new(move |ev| match inner.lock() {
                Ok(mut f) => f(ev),
                Err(_) => false,
            });
            let worker = run::Worker::new(cfg, persist, requests, forward);
            let result = std::panic::catch_unwind(AssertUnwindSafe(move || worker.run()));
            if result.is_err() {
                let mut f = match emit.lock() {
                    Ok(f) => f,
                    Err(poisoned) => poisoned.into_inner(),
                };
                f(Event::Error(api::WorkerError {
                    kind: crate::pop3::ErrorKind::Local,
                    message: "internal error in the worker: the connection was dropped \
                              without committing; pending marks are kept on disk for the \
                              next start"
                        .into(),
                    fatal: true,
                }));
                f(Event::Closed { committed: false });
            }
        })
        .expect("spawning the worker thread")
}
