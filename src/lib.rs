//! popview: a full-screen terminal reader for POP3 mailboxes.
pub mod demo;
pub mod mail;
pub mod pop3;
pub mod sanitize;
pub mod store;
pub mod worker;
