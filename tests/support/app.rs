//! What the pure app tests share: keys as a terminal sends them, message
//! keys, a listing, and the requests among an event's effects. Included
//! with `#[path = "support/app.rs"] mod app_support;` (light: no servers).
#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use popview::app::{AppEvent, Effect};
use popview::worker::api::{Event, ListEntry, MsgKey, Request};

/// The tests' fixed clock: 2024-03-12 14:05 UTC.
pub const NOW: i64 = 1_710_252_300;

/// Message `n` of the first listing, with UID `uid-n`.
pub fn key_of(n: u32) -> MsgKey {
    MsgKey {
        number: n,
        uid: Some(format!("uid-{n}")),
        generation: 0,
    }
}

/// A character key as a terminal sends it (upper case with SHIFT).
pub fn k(c: char) -> AppEvent {
    let mods = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    AppEvent::Key(KeyEvent::new(KeyCode::Char(c), mods))
}

/// A key without modifiers (Enter, Esc, arrows…).
pub fn code(c: KeyCode) -> AppEvent {
    AppEvent::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// A key with modifiers (ctrl-b…).
pub fn key(c: KeyCode, m: KeyModifiers) -> AppEvent {
    AppEvent::Key(KeyEvent::new(c, m))
}

/// The worker's listing of messages `(number, size)`, keyed by [`key_of`].
pub fn listing(ns: &[(u32, u64)]) -> AppEvent {
    AppEvent::Worker(Event::Listing {
        entries: ns
            .iter()
            .map(|&(n, size)| ListEntry {
                key: key_of(n),
                size,
            })
            .collect(),
        no_uidl_reason: None,
    })
}

/// The requests among an event's effects, in order.
pub trait Requests {
    fn requests(self) -> Vec<Request>;
}

impl Requests for Vec<Effect> {
    fn requests(self) -> Vec<Request> {
        requests(self)
    }
}

/// The requests among `effects`, in order.
pub fn requests(effects: Vec<Effect>) -> Vec<Request> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Send(r) => Some(r),
            _ => None,
        })
        .collect()
}
