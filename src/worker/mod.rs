//! The worker thread: owns the POP3 session and serves the UI's requests.

pub mod api;

pub use api::{Event, MsgKey, Request};
