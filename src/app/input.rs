//! Keys and the mouse on the list, the help screen, the filter and the
//! dialogs. The reader's keys are in `reader_keys`, marking in `marking`.

use super::*;

impl App {
    pub(super) fn on_key(&mut self, k: KeyEvent, out: &mut Vec<Request>) {
        if self.dialog.is_some() {
            self.dialog_key(k, out);
            return;
        }
        if self.editing_filter {
            self.filter_key(k);
            return;
        }
        let Some(action) = self.opts.keymap.action_for(&k) else {
            return;
        };
        self.act(action, out);
    }

    /// Run one action on the current screen.
    pub fn act(&mut self, action: Action, out: &mut Vec<Request>) {
        // Leaving must always work, whatever the worker does.
        if matches!(action, Action::Quit | Action::QuitDiscard)
            && (self.worker_gone || self.closing_since.is_some())
            && self.screen == Screen::List
        {
            self.quit = true;
            return;
        }
        if action == Action::Suspend {
            // The terminal loop stops the process and restores the screen.
            self.suspend = true;
            return;
        }
        if action == Action::Help {
            self.screen = if self.screen == Screen::Help {
                if self.reader.is_some() {
                    Screen::Reader
                } else {
                    Screen::List
                }
            } else {
                self.help_scroll = 0;
                Screen::Help
            };
            return;
        }
        match self.screen {
            Screen::List => self.list_action(action, out),
            Screen::Reader => self.reader_action(action, out),
            Screen::Help => self.help_action(action),
        }
    }

    pub(super) fn move_cursor(&mut self, delta: isize) {
        let len = self.rows.view.len();
        if len == 0 {
            return;
        }
        let c = self.cursor as isize + delta;
        self.cursor = c.clamp(0, len as isize - 1) as usize;
        self.ensure_cursor_visible();
    }

    pub(super) fn list_action(&mut self, action: Action, out: &mut Vec<Request>) {
        let page = self.list_height().max(1) as isize;
        match action {
            Action::Down => self.move_cursor(1),
            Action::Up => self.move_cursor(-1),
            Action::PageDown => {
                self.move_cursor(page);
                self.offset = self.offset.saturating_add(page as usize);
            }
            Action::PageUp => {
                self.move_cursor(-page);
                self.offset = self.offset.saturating_sub(page as usize);
            }
            Action::HalfPageDown => self.move_cursor((page / 2).max(1)),
            Action::HalfPageUp => self.move_cursor(-(page / 2).max(1)),
            Action::Top => self.move_cursor(isize::MIN / 2),
            Action::Bottom => self.move_cursor(isize::MAX / 2),
            Action::NextMatch | Action::PrevMatch => {
                if self.filter.is_empty() {
                    self.set_notice(format!(
                        "no filter: press {} and type to filter",
                        self.opts.keymap.hint(Action::Filter)
                    ));
                } else {
                    self.move_cursor(if action == Action::NextMatch { 1 } else { -1 });
                }
            }
            Action::Open => self.open_at_cursor(out),
            Action::Back => {
                if !self.filter.is_empty() {
                    self.filter.clear();
                    self.rebuild_view(false);
                } else {
                    self.error = None;
                    self.notice = None;
                }
            }
            Action::Mark => {
                if let Some(key) = self.cursor_key().cloned() {
                    self.mark(&key, out);
                    self.move_cursor(1);
                }
            }
            Action::Unmark => {
                if let Some(key) = self.cursor_key().cloned() {
                    self.unmark(&key, out);
                }
            }
            Action::UnmarkAll => self.unmark_all(out),
            Action::Commit => self.commit(out),
            Action::Quit => {
                if self.marked_count > 0 {
                    self.dialog = Some(Dialog::Quit {
                        pending: self.marked_count,
                    });
                } else {
                    self.send_quit(false, out);
                }
            }
            Action::QuitDiscard => self.send_quit(false, out),
            Action::Filter => {
                self.editing_filter = true;
                self.filter.clear();
                self.rebuild_view(false);
            }
            Action::Sort => {
                self.sort = self.sort.next();
                self.descending = self.sort.default_descending();
                self.rebuild_view(true);
                self.set_notice(format!("sorted by {}", self.sort_label()));
            }
            Action::ReverseSort => {
                self.descending = !self.descending;
                self.rebuild_view(true);
                self.set_notice(format!("sorted by {}", self.sort_label()));
            }
            Action::CheckMail => {
                out.push(Request::CheckNewMail);
                self.set_notice("checking for new mail…".to_string());
            }
            Action::Save
            | Action::NextAttachment
            | Action::Raw
            | Action::FullHeaders
            | Action::NextMessage
            | Action::PrevMessage => {
                self.set_notice(format!(
                    "open a message first ({})",
                    self.opts.keymap.hint(Action::Open)
                ));
            }
            Action::Help | Action::Suspend => {}
        }
    }

    /// `date ↓`: the sort for the header.
    pub fn sort_label(&self) -> String {
        format!(
            "{} {}{}",
            self.sort.name(),
            if self.descending { '↓' } else { '↑' },
            if self.sort_pending {
                " (sorting…)"
            } else {
                ""
            }
        )
    }

    pub(super) fn help_action(&mut self, action: Action) {
        match action {
            Action::Down => self.help_scroll += 1,
            Action::Up => self.help_scroll = self.help_scroll.saturating_sub(1),
            Action::PageDown | Action::HalfPageDown => self.help_scroll += 10,
            Action::PageUp | Action::HalfPageUp => {
                self.help_scroll = self.help_scroll.saturating_sub(10)
            }
            Action::Top => self.help_scroll = 0,
            Action::Back | Action::Quit => {
                self.screen = if self.reader.is_some() {
                    Screen::Reader
                } else {
                    Screen::List
                };
            }
            _ => {}
        }
    }

    pub(super) fn filter_key(&mut self, k: KeyEvent) {
        use crossterm::event::KeyModifiers;
        match k.code {
            KeyCode::Enter => self.editing_filter = false,
            KeyCode::Esc => {
                self.editing_filter = false;
                self.filter.clear();
                self.rebuild_view(false);
            }
            KeyCode::Backspace => {
                if self.filter.pop().is_none() {
                    self.editing_filter = false;
                }
                self.rebuild_view(false);
            }
            KeyCode::Char(c)
                if !k
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
                    && !c.is_control() =>
            {
                self.filter.push(c);
                self.rebuild_view(false);
            }
            _ => {}
        }
    }

    pub(super) fn dialog_key(&mut self, k: KeyEvent, out: &mut Vec<Request>) {
        let Some(dialog) = self.dialog.take() else {
            return;
        };
        let ch = match k.code {
            KeyCode::Char(c) => Some(c.to_ascii_lowercase()),
            _ => None,
        };
        match dialog {
            Dialog::Quit { pending } => match (k.code, ch) {
                (_, Some('d')) | (_, Some('y')) => self.send_quit(true, out),
                (_, Some('k')) | (_, Some('n')) => self.send_quit(false, out),
                (KeyCode::Esc, _) | (_, Some('c')) => {}
                _ => self.dialog = Some(Dialog::Quit { pending }),
            },
            Dialog::BigMessage { key, size } => match (k.code, ch) {
                (KeyCode::Enter, _) | (_, Some('y')) | (_, Some('d')) => {
                    self.start_retrieve(key, size, false, out)
                }
                (_, Some('p')) => self.start_retrieve(key, size, true, out),
                (KeyCode::Esc, _) | (_, Some('n')) | (_, Some('c')) => {
                    if self.screen == Screen::Reader
                        && self.reader.as_ref().is_none_or(|r| r.doc().is_none())
                    {
                        self.close_reader(out);
                    }
                }
                _ => self.dialog = Some(Dialog::BigMessage { key, size }),
            },
            Dialog::Password { reason, mut input } => match k.code {
                KeyCode::Enter => out.push(Request::Password(Secret(input))),
                KeyCode::Esc => {
                    // Overwrite what was typed before dropping it.
                    let mut bytes = input.into_bytes();
                    bytes.fill(0);
                    drop(bytes);
                    self.error = Some(ErrorNote {
                        kind: Some(ErrorKind::Auth),
                        message: "login cancelled: no password given".to_string(),
                        advice: "press r to enter it again, q to leave (or set password_command in the config)",
                        fatal: true,
                    });
                    self.conn = ConnState::Offline;
                }
                KeyCode::Backspace => {
                    input.pop();
                    self.dialog = Some(Dialog::Password { reason, input });
                }
                KeyCode::Char(c) if !c.is_control() => {
                    input.push(c);
                    self.dialog = Some(Dialog::Password { reason, input });
                }
                _ => self.dialog = Some(Dialog::Password { reason, input }),
            },
        }
    }

    // ----- mouse -----

    pub(super) fn on_mouse(&mut self, m: MouseEvent, out: &mut Vec<Request>) {
        if self.dialog.is_some() {
            return;
        }
        match m.kind {
            MouseEventKind::ScrollDown => match self.screen {
                Screen::List => self.move_cursor(3),
                Screen::Reader => {
                    for _ in 0..3 {
                        self.reader_action(Action::Down, out);
                    }
                }
                Screen::Help => self.help_scroll += 3,
            },
            MouseEventKind::ScrollUp => match self.screen {
                Screen::List => self.move_cursor(-3),
                Screen::Reader => {
                    for _ in 0..3 {
                        self.reader_action(Action::Up, out);
                    }
                }
                Screen::Help => self.help_scroll = self.help_scroll.saturating_sub(3),
            },
            MouseEventKind::Down(MouseButton::Left) if self.screen == Screen::List => {
                let body = self.regions().body;
                let first = body.y + crate::ui::list_header_rows(body);
                if m.row < first || m.row >= body.bottom() || m.column >= body.right() {
                    return;
                }
                let pos = self.offset + (m.row - first) as usize;
                if pos >= self.rows.view.len() {
                    return;
                }
                let double = matches!(self.last_click, Some((p, t))
                    if p == pos && self.ticks - t <= DOUBLE_CLICK_TICKS);
                self.cursor = pos;
                if double {
                    self.last_click = None;
                    self.open_at_cursor(out);
                } else {
                    self.last_click = Some((pos, self.ticks));
                }
            }
            _ => {}
        }
    }
}
