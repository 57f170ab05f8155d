//! The user's marks: shown as pending at once, sent to the worker, and
//! settled when an `Event::Marks` counts them; commit and quit, each asked
//! first (see `choices`).

use super::*;

impl App {
    pub(super) fn mark(&mut self, key: &MsgKey, out: &mut Vec<Request>) {
        if self.mark_quietly(key, out) {
            self.recount_marks();
        }
    }

    pub(super) fn unmark(&mut self, key: &MsgKey, out: &mut Vec<Request>) {
        match self.rows.find(key) {
            Some(i) if !self.rows.rows[i].mark_state().is_marked() => {
                self.set_notice("this message is not marked".to_string());
            }
            _ => {
                if self.unmark_quietly(key, out) {
                    self.recount_marks();
                }
            }
        }
    }

    /// Mark one message without counting the marks again (a bulk change
    /// counts once at its end); whether it was marked now.
    pub(super) fn mark_quietly(&mut self, key: &MsgKey, out: &mut Vec<Request>) -> bool {
        let Some(i) = self.rows.find(key) else {
            return false;
        };
        let row = &mut self.rows.rows[i];
        if row.mark_state().is_marked() {
            return false;
        }
        self.writes_sent += 1;
        row.pending = Some(true);
        row.pending_write = self.writes_sent;
        out.push(Request::Mark(row.key.clone()));
        true
    }

    /// Undo one mark without counting the marks again; whether it was
    /// marked.
    pub(super) fn unmark_quietly(&mut self, key: &MsgKey, out: &mut Vec<Request>) -> bool {
        let Some(i) = self.rows.find(key) else {
            return false;
        };
        let row = &mut self.rows.rows[i];
        if !row.mark_state().is_marked() {
            return false;
        }
        self.writes_sent += 1;
        row.pending = Some(false);
        row.pending_write = self.writes_sent;
        out.push(Request::Unmark(row.key.clone()));
        true
    }

    /// Undo every mark: asked first when that drops more than one.
    pub(super) fn unmark_all(&mut self, out: &mut Vec<Request>) {
        let m = self.mark_summary();
        match m.total() {
            0 => self.set_notice("no marks to undo".to_string()),
            1 => self.unmark_all_confirmed(out),
            _ => self.dialog = Some(Dialog::UnmarkAll(m)),
        }
    }

    pub(super) fn unmark_all_confirmed(&mut self, out: &mut Vec<Request>) {
        self.writes_sent += 1;
        for row in &mut self.rows.rows {
            if row.mark_state().is_marked() {
                row.pending = Some(false);
                row.pending_write = self.writes_sent;
            }
        }
        out.push(Request::UnmarkAll);
        self.recount_marks();
        self.set_notice("undoing every mark…".to_string());
    }

    /// Commit now (`$`): always asked first, naming what will be deleted.
    pub(super) fn commit(&mut self) {
        let m = self.mark_summary();
        if m.total() == 0 {
            self.set_notice("nothing to commit: no message is marked".to_string());
            return;
        }
        self.dialog = Some(Dialog::Commit(m));
    }

    pub(super) fn commit_confirmed(&mut self, m: &MarkSummary, out: &mut Vec<Request>) {
        out.push(Request::CommitNow);
        self.set_notice(format!("deleting {} on the server…", App::marks_phrase(m)));
    }

    /// Quit from the list: asked first when any mark is pending, shown in
    /// the list or not (a mark is never dropped without saying so).
    pub(super) fn quit(&mut self, out: &mut Vec<Request>) {
        let m = self.mark_summary();
        if m.total() > 0 {
            self.dialog = Some(Dialog::Quit(m));
        } else {
            self.send_quit(Request::Quit { commit: false }, out);
        }
    }

    /// End the session with `req` (one of the quit requests).
    pub(super) fn send_quit(&mut self, req: Request, out: &mut Vec<Request>) {
        if self.worker_gone {
            self.quit = true;
            return;
        }
        out.push(req);
        self.closing_since = Some(self.ticks);
        self.conn = ConnState::Closing;
        self.screen = Screen::List;
    }
}
