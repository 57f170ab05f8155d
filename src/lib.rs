//! popview: a full-screen terminal reader for POP3 mailboxes.
pub mod config;
pub mod demo;
pub mod mail;
pub mod password;
pub mod pop3;
pub mod sanitize;
pub mod store;
pub mod worker;
