//! The POP3 protocol (RFC 1939, 2449, 2595, 3206, 5034): no UI types, no threads.
//!
//! - [`response`]: pure parsing of everything the server sends.
//! - [`command`]: commands, their wire and redacted forms.
//! - [`client`]: a session over any stream, with pipelining.
//! - [`auth`]: USER/PASS, APOP, SASL PLAIN and the choice among them.
//! - [`transport`]: TCP, implicit TLS, STLS, certificate policy, timeouts.
//! - [`trace`]: the redacted wire trace.
//! - [`redact`]: known secrets cut out of server text before it leaves.
//! - [`uninterrupted`]: EINTR retried below TLS.

pub mod auth;
pub mod client;
pub mod command;
pub mod error;
pub mod redact;
pub mod response;
pub mod trace;
pub mod transport;
pub mod uninterrupted;

pub use auth::{AuthMethod, Credentials};
pub use client::{Answer, Client, Reply, State};
pub use command::Command;
pub use error::{Error, ErrorKind, Result};
pub use redact::Secrets;
pub use response::{Capabilities, RespCode};
pub use trace::{Trace, open_private_log};
pub use transport::{ConnectOptions, Connection, Security, TlsInfo, TlsMode, Trust};
pub use uninterrupted::Uninterrupted;
