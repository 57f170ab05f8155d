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
        if self.prompt.is_some() {
            self.prompt_key(k, out);
            return;
        }
        if self.save_prompt().is_some() {
            self.save_prompt_key(k, out);
            return;
        }
        let action = self.opts.keymap.action_for(&k);
        if std::mem::take(&mut self.tag_prefix) {
            match action {
                Some(Action::Back) | None => self.set_notice("; cancelled".to_string()),
                Some(a @ (Action::Save | Action::Copy)) => self.save_tagged(a),
                Some(a) => self.on_tagged(a),
            }
            return;
        }
        let Some(action) = action else {
            return;
        };
        // Esc in the list stops a running save (in the reader it goes back).
        if action == Action::Back && self.screen == Screen::List && self.stop_save_key(out) {
            return;
        }
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
            self.effects.push(Effect::Suspend);
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
        if action == Action::Accounts {
            self.toggle_accounts();
            return;
        }
        match self.screen {
            Screen::List => self.list_action(action, out),
            Screen::Reader => self.reader_action(action, out),
            Screen::Help => self.help_action(action),
            Screen::Review => self.review_action(action, out),
            Screen::Accounts => self.accounts_action(action, out),
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
                // Like mutt: undo moves on, as mark does.
                if let Some(key) = self.cursor_key().cloned() {
                    self.unmark(&key, out);
                    self.move_cursor(1);
                }
            }
            Action::UnmarkAll => self.unmark_all(out),
            Action::MarkPattern => self.open_prompt(PatternPurpose::Mark),
            Action::UnmarkPattern => self.open_prompt(PatternPurpose::Unmark),
            Action::Limit => self.open_prompt(PatternPurpose::Limit),
            Action::TagPattern => self.open_prompt(PatternPurpose::Tag),
            Action::UntagPattern => self.open_prompt(PatternPurpose::Untag),
            Action::ToggleTag => self.toggle_tag(),
            Action::TagPrefix => {
                self.tag_prefix = true;
                self.set_notice(format!(
                    "{} tagged: the next command applies to them (esc cancels)",
                    self.tagged_count()
                ));
            }
            Action::UndoBulk => self.undo_bulk(),
            Action::Review => self.open_review(),
            Action::Commit => self.commit(),
            Action::Quit => self.quit(out),
            Action::QuitDiscard => self.send_quit(Request::Quit { commit: false }, out),
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
            Action::CheckMail => self.check_mail(out),
            // Taken by `external` before this match.
            Action::Pipe => {}
            Action::Save | Action::Copy => {
                let purpose = if action == Action::Copy {
                    SavePurpose::Copy
                } else {
                    SavePurpose::Move
                };
                let keys = self.cursor_key().cloned().into_iter().collect();
                self.ask_save(purpose, keys);
            }
            Action::NextAttachment
            | Action::OpenPart
            | Action::Links
            | Action::Raw
            | Action::FullHeaders
            | Action::NextMessage
            | Action::PrevMessage => {
                self.set_notice(format!(
                    "open a message first ({})",
                    self.opts.keymap.hint(Action::Open)
                ));
            }
            Action::Help | Action::Suspend | Action::Accounts => {}
        }
    }

    /// `r`: look for new mail; while the worker waits for a password the
    /// user cancelled, ask for it again instead.
    pub(super) fn check_mail(&mut self, out: &mut Vec<Request>) {
        if let Some(reason) = self.password_wanted.clone() {
            self.error = None;
            self.dialog = Some(Dialog::Password {
                reason,
                input: String::with_capacity(128),
            });
            return;
        }
        out.push(Request::CheckNewMail);
        self.set_notice("checking for new mail…".to_string());
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
                Screen::Review => {
                    for _ in 0..3 {
                        self.review_action(Action::Down, out);
                    }
                }
                Screen::Accounts => self.accounts_action(Action::Down, out),
            },
            MouseEventKind::ScrollUp => match self.screen {
                Screen::List => self.move_cursor(-3),
                Screen::Reader => {
                    for _ in 0..3 {
                        self.reader_action(Action::Up, out);
                    }
                }
                Screen::Help => self.help_scroll = self.help_scroll.saturating_sub(3),
                Screen::Review => {
                    for _ in 0..3 {
                        self.review_action(Action::Up, out);
                    }
                }
                Screen::Accounts => self.accounts_action(Action::Up, out),
            },
            MouseEventKind::Down(MouseButton::Left) if self.screen == Screen::List => {
                let body = self.regions().body;
                let first = body.y + crate::layout::list_header_rows(body);
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
