//! `~b` over the body cache: the worker sends the text of the messages
//! kept by `cache_bodies` ([`Event::CachedBodies`](crate::worker::api::Event)),
//! and they join the bodies read in this session (same bound: the oldest
//! go first). No file is read here.

use super::*;

impl App {
    /// The texts of cached messages, most recently read first.
    pub(super) fn on_cached_bodies(&mut self, texts: Vec<(String, String)>) {
        // Oldest first, so the most recently read stay within the bound;
        // a body read in this session is newer than its cached copy.
        for (uid, text) in texts.into_iter().rev() {
            if self.bodies.contains_key(&uid) {
                continue;
            }
            self.remember_body(&MsgKey::new(0, Some(uid)), &text);
        }
    }
}
