//! Opening, reading and leaving a message: retrieve and peek requests,
//! the big-message confirmation, scrolling, saving, next and previous.

use super::*;

impl App {
    pub(super) fn open_at_cursor(&mut self, out: &mut Vec<Request>) {
        let Some(row) = self.view_row(self.cursor) else {
            return;
        };
        let (key, size) = (row.key.clone(), row.size);
        if size > self.opts.big_message_threshold {
            self.dialog = Some(Dialog::BigMessage { key, size });
        } else {
            self.start_retrieve(key, size, false, out);
        }
    }

    pub(super) fn start_retrieve(
        &mut self,
        key: MsgKey,
        size: u64,
        peek: bool,
        out: &mut Vec<Request>,
    ) {
        self.cancel_loading(out);
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        out.push(if peek {
            Request::Peek {
                ticket,
                key: key.clone(),
                lines: PEEK_LINES,
            }
        } else {
            Request::Retrieve {
                ticket,
                key: key.clone(),
            }
        });
        let mut r = Reader::loading(key, ticket, size, peek);
        r.layout(self.size.0 as usize);
        self.reader = Some(r);
        self.screen = Screen::Reader;
    }

    pub(super) fn cancel_loading(&mut self, out: &mut Vec<Request>) {
        if let Some(r) = &self.reader
            && matches!(r.content, Content::Loading { .. })
        {
            out.push(Request::CancelRetrieve { ticket: r.ticket });
        }
    }

    pub(super) fn close_reader(&mut self, out: &mut Vec<Request>) {
        self.cancel_loading(out);
        self.reader = None;
        self.screen = Screen::List;
    }

    pub(super) fn reader_action(&mut self, action: Action, out: &mut Vec<Request>) {
        let bh = self.body_height().max(1);
        let Some(r) = &mut self.reader else {
            self.screen = Screen::List;
            return;
        };
        let max = r.lines.len().saturating_sub(bh);
        let scroll = |r: &mut Reader, d: isize| {
            r.scroll = (r.scroll as isize + d).clamp(0, max as isize) as usize;
        };
        match action {
            Action::Down => scroll(r, 1),
            Action::Up => scroll(r, -1),
            Action::PageDown => scroll(r, bh as isize),
            Action::PageUp => scroll(r, -(bh as isize)),
            Action::HalfPageDown => scroll(r, (bh / 2).max(1) as isize),
            Action::HalfPageUp => scroll(r, -((bh / 2).max(1) as isize)),
            Action::Top => r.scroll = 0,
            Action::Bottom => r.scroll = max,
            Action::Back | Action::Quit => {
                let loading = matches!(r.content, Content::Loading { .. });
                self.close_reader(out);
                if loading {
                    self.set_notice("download cancelled".to_string());
                }
            }
            Action::QuitDiscard => {
                self.close_reader(out);
                self.send_quit(Request::Quit { commit: false }, out);
            }
            Action::Open => {
                // A peek: fetch the whole message now.
                if r.is_peek() && matches!(r.content, Content::Ready { .. }) {
                    let (key, size) = (r.key.clone(), r.size);
                    self.start_retrieve(key, size, false, out);
                }
            }
            Action::Raw | Action::FullHeaders => {
                if r.doc().is_some() {
                    if action == Action::Raw {
                        r.raw = !r.raw;
                    } else {
                        r.full_headers = !r.full_headers;
                        r.raw = false;
                    }
                    r.scroll = 0;
                    r.relayout();
                }
            }
            Action::NextAttachment => {
                let n = r.targets();
                if n > 0 {
                    r.selected = (r.selected + 1) % n;
                    r.relayout();
                }
            }
            // A peek holds only the first lines: saving it would write a
            // cut-off file under the attachment's real name.
            Action::Save | Action::Copy if !r.attachment_selected() => {
                let purpose = if action == Action::Copy {
                    SavePurpose::Copy
                } else {
                    SavePurpose::Move
                };
                let key = r.key.clone();
                self.ask_save(purpose, vec![key]);
            }
            Action::Copy => {
                let key = r.key.clone();
                self.ask_save(SavePurpose::Copy, vec![key]);
            }
            Action::Save if r.is_peek() => self.set_notice(format!(
                "this is a peek (the first {PEEK_LINES} lines only), so nothing was saved: \
                 press {} to download the whole message, then {} to save",
                self.opts.keymap.hint(Action::Open),
                self.opts.keymap.hint(Action::Save)
            )),
            Action::Save => match r.save_job(&self.opts.save_dir) {
                Ok(job) => self.ask_save_attachment(job),
                Err(why) => self.set_notice(why),
            },
            Action::NextMessage | Action::NextMatch => self.step_message(1, out),
            Action::PrevMessage | Action::PrevMatch => self.step_message(-1, out),
            // Like mutt's pager: mark and undo both act on the message
            // shown, then go on to the next one.
            Action::Mark | Action::Unmark => {
                let key = r.key.clone();
                if action == Action::Mark {
                    self.mark(&key, out);
                } else {
                    self.unmark(&key, out);
                }
                self.step_message(1, out);
            }
            Action::UnmarkAll => self.unmark_all(out),
            Action::Commit => self.commit(),
            Action::CheckMail => self.check_mail(out),
            Action::ToggleTag => {
                if let Some(i) = self.rows.find(&r.key) {
                    let row = &mut self.rows.rows[i];
                    row.tagged = !row.tagged;
                    let word = if row.tagged { "tagged" } else { "untagged" };
                    self.set_notice(word.to_string());
                }
            }
            // The pattern commands act on the list, from here too.
            Action::MarkPattern
            | Action::UnmarkPattern
            | Action::Limit
            | Action::TagPattern
            | Action::UntagPattern
            | Action::TagPrefix
            | Action::UndoBulk
            | Action::Review => self.list_action(action, out),
            Action::Filter
            | Action::Sort
            | Action::ReverseSort
            | Action::Help
            | Action::Suspend
            | Action::Accounts => {}
            // Taken by `external` before this match.
            Action::Pipe | Action::OpenPart | Action::Links => {}
        }
    }

    /// Open the next/previous message of the list from the reader.
    pub(super) fn step_message(&mut self, d: isize, out: &mut Vec<Request>) {
        // From the message shown, wherever the list cursor is.
        if let Some(pos) = self.reader.as_ref().and_then(|r| self.view_pos(&r.key)) {
            self.cursor = pos;
        }
        let len = self.rows.view.len();
        let target = self.cursor as isize + d;
        if len == 0 || target < 0 || target >= len as isize {
            self.set_notice(if d > 0 {
                "this is the last message".to_string()
            } else {
                "this is the first message".to_string()
            });
            return;
        }
        self.cursor = target as usize;
        self.ensure_cursor_visible();
        self.open_at_cursor(out);
    }
}
