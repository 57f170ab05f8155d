//! The protocol engine against a real Dovecot: the shared protocol suite
//! (`tests/support/protocol_suite.rs`, also run against Cyrus in
//! `tests/cyrus_interop.rs`): every command over STLS and POP3S, APOP, SASL
//! PLAIN and USER, pipelined TOP over 1,200 messages, certificate policy,
//! no password in the clear, and the deletion semantics checked by an
//! independent session.

mod support;

use support::dovecot::Dovecot;

protocol_suite!(Dovecot);
