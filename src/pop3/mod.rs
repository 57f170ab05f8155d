//! The POP3 protocol (RFC 1939, 2449, 2595, 3206, 5034): no UI types, no threads.

pub mod error;
pub mod response;

pub use error::{Error, ErrorKind, Result};
pub use response::RespCode;
