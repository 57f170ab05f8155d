//! popview: a full-screen terminal reader for POP3 mailboxes.
pub mod action;
pub mod app;
pub mod keymap;
pub mod mail;
pub mod pop3;
pub mod sanitize;
pub mod tui;
pub mod ui;
pub mod worker;
