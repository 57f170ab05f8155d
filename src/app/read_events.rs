//! The user's reads as the worker answers them: download progress, the
//! message (or peek) ready, or why it could not be read.

use super::reader::same_message;
use super::*;

impl App {
    /// A message or peek arrived. `Peeked` and `Message` share the shape;
    /// they are told apart by what the reader asked for.
    pub(super) fn on_ready(&mut self, ticket: Ticket, key: MsgKey, doc: Box<Doc>) {
        let read_in_full = match &mut self.reader {
            Some(r) if r.ticket == ticket && same_message(&r.key, &key) => {
                let peek = matches!(r.content, Content::Loading { peek: true, .. });
                let body = (!peek).then(|| doc.body.clone());
                r.content = Content::Ready { doc, peek };
                r.scroll = 0;
                r.selected = 0;
                let w = self.size.0 as usize;
                r.layout(w);
                body
            }
            _ => {
                self.stale_dropped += 1;
                None
            }
        };
        if let Some(body) = read_in_full {
            // Read: no longer new; its text is kept for `~b`.
            if let Some(i) = self.rows.find(&key) {
                self.rows.rows[i].new = false;
            }
            self.remember_body(&key, &body);
        }
    }

    /// Download progress of the open reader's message.
    pub(super) fn on_retrieve_progress(&mut self, ticket: Ticket, bytes: u64, total: u64) {
        if let Some(r) = &mut self.reader
            && r.ticket == ticket
            && let Content::Loading {
                bytes: b, total: t, ..
            } = &mut r.content
        {
            *b = bytes;
            *t = total;
        }
    }

    /// A read could not be served: the reader waiting for it closes with why.
    pub(super) fn on_read_failed(&mut self, ticket: Ticket, key: MsgKey, reason: &str) {
        match &self.reader {
            Some(r) if r.ticket == ticket && same_message(&r.key, &key) => {
                self.reader = None;
                self.screen = Screen::List;
                self.error = Some(ErrorNote {
                    kind: None,
                    message: clean_line(reason),
                    advice: "the message was not opened",
                    fatal: false,
                });
            }
            _ => self.stale_dropped += 1,
        }
    }
}
