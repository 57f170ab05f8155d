//! Shared test support: a private Dovecot POP3 server, test certificates made
//! with the `openssl` CLI, a delaying/fault-injecting TCP proxy and raw POP3
//! baselines for benchmarks.
//!
//! Include it from an integration test with `mod support;` or from a bench
//! with `#[path = "../tests/support/mod.rs"] mod support;`. It depends only on
//! std and the package's (dev-)dependencies, never on popview itself.
#![allow(dead_code)]

pub mod certs;
pub mod dovecot;
pub mod proxy;
pub mod rawpop;
