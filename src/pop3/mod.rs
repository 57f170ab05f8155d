//! The POP3 protocol (RFC 1939, 2449, 2595, 3206, 5034): no UI types, no threads.
//!
//! - [`response`]: pure parsing of everything the server sends.
//! - [`command`]: commands, their wire and redacted forms.
//! - [`client`]: a session over any stream, with pipelining.
//! - [`auth`]: USER/PASS, APOP, the SASL methods and the choice among them.
//! - [`sasl`]: PLAIN, LOGIN, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER exchanges.
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
pub mod sasl;
pub mod trace;
pub mod transport;
pub mod uninterrupted;

pub use auth::{AuthMethod, Credentials};
pub use client::{Answer, Client, Reply, State};
pub use command::Command;
pub use error::{Error, ErrorKind, RespCode, Result};
pub use redact::Secrets;
pub use response::Capabilities;
pub use trace::{Trace, open_private_log};
pub use transport::{ConnectOptions, Connection, Security, TlsInfo, TlsMode, Trust};
pub use uninterrupted::Uninterrupted;

/// The protocol modules depend one way: `error` (with [`RespCode`]) is the
/// bottom, `response` parses on top of it, and `client` (generic over its
/// stream) never names `transport`, which builds clients over TCP and TLS.
#[cfg(test)]
mod layering {
    /// The `use` paths and qualified paths of a source file, comments cut.
    fn code(src: &str) -> String {
        src.lines()
            .map(|l| l.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn error_does_not_use_response() {
        assert!(!code(include_str!("error.rs")).contains("response"));
    }

    #[test]
    fn client_and_auth_do_not_use_transport() {
        for src in [
            include_str!("client/mod.rs"),
            include_str!("client/login.rs"),
            include_str!("client/commands.rs"),
            include_str!("auth.rs"),
            include_str!("sasl/mod.rs"),
            include_str!("sasl/scram.rs"),
            include_str!("sasl/oauth.rs"),
            include_str!("command.rs"),
            include_str!("response.rs"),
        ] {
            assert!(!code(src).contains("transport"));
        }
    }
}
