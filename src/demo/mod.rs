//! The embedded demo: a real POP3 server inside popview, serving a sample
//! mailbox (`popview --demo`), and the scripted peer of the tests.
//!
//! - [`server`]: the POP3 server on `127.0.0.1:0` (RFC 1939/2449/2595/5034
//!   semantics, optional TLS, fault injection through a hook).
//! - [`mailbox`]: the messages it starts with. The sample mailbox is
//!   `assets/demo/*.eml`, embedded at compile time by `build.rs`, plus one
//!   large (> 6 MB) message generated in code so the repository stays small.
//!
//! ```no_run
//! let server = popview::demo::start_demo_server()?;
//! println!("connect to {} as demo/demo", server.addr());
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod mailbox;
pub mod server;

use std::io;
use std::time::Duration;

pub use mailbox::Mailbox;
pub use server::{Action, Ctx, Hook, LogLine, Server, ServerOptions, SessionState, TlsMode};

/// The demo account's user name.
pub const DEMO_USER: &str = "demo";
/// The demo account's password (not a word the server says: known
/// passwords are cut out of what a server says).
pub const DEMO_PASSWORD: &str = "demo-password";
/// The round-trip delay the demo server simulates.
pub const DEMO_LATENCY: Duration = Duration::from_millis(2);

/// The options of `popview --demo`: user `demo`, every capability
/// (no TLS: the demo has no certificate), a small simulated latency.
pub fn demo_options() -> ServerOptions {
    ServerOptions {
        users: vec![(DEMO_USER.to_string(), DEMO_PASSWORD.to_string())],
        latency: Some(DEMO_LATENCY),
        ..ServerOptions::default()
    }
}

/// Start a demo server on `127.0.0.1:0` with a fresh copy of the sample
/// mailbox (every call starts from the same messages; deletions of one run
/// never reach the next). Stops when the returned [`Server`] is dropped.
pub fn start_demo_server() -> io::Result<Server> {
    Server::start(Mailbox::demo(), demo_options())
}
