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
use std::thread::JoinHandle;

pub use api::{Event, MsgKey, Request};
pub use config::{Refetch, WorkerConfig};
pub use persist::Persist;

/// Start the worker thread. `emit` delivers events to the UI and returns
/// false once the UI is gone (the worker then ends without committing). It
/// is called from the worker thread and, for the user's reads (which are
/// prepared off the session thread, see [`run::Reads`]), from the parse
/// thread: each thread has its own clone.
pub fn spawn(
    cfg: WorkerConfig,
    mut persist: Box<dyn Persist>,
    requests: Receiver<Request>,
    emit: impl FnMut(Event) -> bool + Send + Clone + 'static,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("popview-worker".into())
        .spawn(move || {
            // A clone of its own, so that, if the worker panics, the UI
            // still hears why.
            let mut on_panic = emit.clone();
            let reads = run::Reads::spawn(emit.clone());
            let bodies = run::Bodies::start(persist.body_cache(), emit.clone());
            let worker = run::Worker::new(cfg, persist, requests, Box::new(emit))
                .with_reads(reads)
                .with_bodies(bodies);
            let result = std::panic::catch_unwind(AssertUnwindSafe(move || worker.run()));
            if result.is_err() {
                on_panic(Event::Error(api::WorkerError {
                    kind: crate::pop3::ErrorKind::Local,
                    message: "internal error in the worker: the connection was dropped \
                              without committing; pending marks are kept on disk for the \
                              next start"
                        .into(),
                    fatal: true,
                }));
                on_panic(Event::Closed { committed: false });
            }
        })
        .expect("spawning the worker thread")
}
