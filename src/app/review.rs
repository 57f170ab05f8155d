//! The review of what will be deleted (`M`, and `r` in the quit and
//! commit questions): every marked message, shown or hidden by a limit or
//! the filter, in the list's sort order, with their count and total size;
//! marks can be undone there before committing. Marks the list has no row
//! for are counted and named at the top (see [`App::mark_summary`]).

use super::*;

impl App {
    /// Open the review of the marks.
    pub(super) fn open_review(&mut self) {
        self.review_cursor = 0;
        self.review_offset = 0;
        self.screen = Screen::Review;
    }

    /// The marked rows, in the list's sort order (every row, not only the
    /// ones the limit or the filter shows).
    pub fn review_rows(&self) -> Vec<&Row> {
        self.rows
            .order()
            .into_iter()
            .map(|i| &self.rows.rows[i])
            .filter(|r| r.mark_state().is_marked())
            .collect()
    }

    pub fn review_cursor(&self) -> usize {
        self.review_cursor
    }

    pub fn review_offset(&self) -> usize {
        self.review_offset
    }

    /// Rows of the review that fit under its two lines of summary.
    fn review_height(&self) -> usize {
        self.list_height().saturating_sub(2).max(1)
    }

    pub(super) fn review_action(&mut self, action: Action, out: &mut Vec<Request>) {
        let len = self.review_rows().len();
        let page = self.review_height() as isize;
        let step = |app: &mut App, d: isize| {
            if len > 0 {
                let c = (app.review_cursor as isize + d).clamp(0, len as isize - 1);
                app.review_cursor = c as usize;
            }
        };
        match action {
            Action::Down => step(self, 1),
            Action::Up => step(self, -1),
            Action::PageDown | Action::HalfPageDown => step(self, page),
            Action::PageUp | Action::HalfPageUp => step(self, -page),
            Action::Top => step(self, isize::MIN / 2),
            Action::Bottom => step(self, isize::MAX / 2),
            Action::Unmark | Action::Mark => {
                // Here `d` and `u` both take the mark back: every row is
                // marked, and the review is where marks are undone.
                let key = self
                    .review_rows()
                    .get(self.review_cursor)
                    .map(|r| r.key.clone());
                if let Some(key) = key {
                    self.unmark(&key, out);
                }
            }
            Action::Back | Action::Quit | Action::Review => {
                self.screen = if self.reader.is_some() {
                    Screen::Reader
                } else {
                    Screen::List
                };
            }
            Action::Open => {
                // Show it in the list (lifting a limit or filter that hides it).
                let key = self
                    .review_rows()
                    .get(self.review_cursor)
                    .map(|r| r.key.clone());
                if let Some(key) = key {
                    if self.view_pos(&key).is_none() {
                        self.filter.clear();
                        self.limit = None;
                        self.rows.set_limit(None);
                        self.rebuild_view(false);
                    }
                    if let Some(pos) = self.view_pos(&key) {
                        self.cursor = pos;
                        self.ensure_cursor_visible();
                    }
                    self.screen = Screen::List;
                }
            }
            Action::Sort | Action::ReverseSort | Action::UnmarkAll | Action::Commit => {
                self.list_action(action, out)
            }
            Action::UnmarkPattern | Action::UndoBulk | Action::CheckMail => {
                self.list_action(action, out)
            }
            _ => self.set_notice(format!(
                "reviewing the marks: {} undoes one, {} commits, {} goes back",
                self.opts.keymap.hint(Action::Unmark),
                self.opts.keymap.hint(Action::Commit),
                self.opts.keymap.hint(Action::Back)
            )),
        }
        self.clamp_review();
    }

    /// Keep the review's cursor on a row and on screen.
    pub(super) fn clamp_review(&mut self) {
        let len = self.review_rows().len();
        self.review_cursor = self.review_cursor.min(len.saturating_sub(1));
        let h = self.review_height();
        if self.review_cursor < self.review_offset {
            self.review_offset = self.review_cursor;
        } else if self.review_cursor >= self.review_offset + h {
            self.review_offset = self.review_cursor + 1 - h;
        }
        self.review_offset = self.review_offset.min(len.saturating_sub(h));
    }
}
