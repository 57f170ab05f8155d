//! popview: a full-screen terminal reader for POP3 mailboxes.
pub mod action;
pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod keymap;
pub mod mail;
pub mod password;
pub mod pop3;
pub mod sanitize;
pub mod setup;
pub mod store;
pub mod tui;
pub mod ui;
pub mod worker;
