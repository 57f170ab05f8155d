//! popview: a full-screen terminal reader for POP3 mailboxes.
pub mod mail;
pub mod pop3;
pub mod sanitize;
pub mod worker;
pub mod action;
pub mod app;
pub mod keymap;
pub mod tui;
pub mod ui;
