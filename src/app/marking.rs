//! The user's marks: shown as pending at once, sent to the worker, and
//! settled when an `Event::Marks` counts them; commit and quit.

use super::*;

impl App {
    pub(super) fn mark(&mut self, key: &MsgKey, out: &mut Vec<Request>) {
        let Some(i) = self.rows.find(key) else { return };
        let row = &mut self.rows.rows[i];
        if row.mark_state().is_marked() {
            return;
        }
        self.writes_sent += 1;
        row.pending = Some(true);
        row.pending_write = self.writes_sent;
        out.push(Request::Mark(row.key.clone()));
        self.recount_marks();
    }

    pub(super) fn unmark(&mut self, key: &MsgKey, out: &mut Vec<Request>) {
        let Some(i) = self.rows.find(key) else { return };
        let row = &mut self.rows.rows[i];
        if !row.mark_state().is_marked() {
            self.set_notice("this message is not marked".to_string());
            return;
        }
        self.writes_sent += 1;
        row.pending = Some(false);
        row.pending_write = self.writes_sent;
        out.push(Request::Unmark(row.key.clone()));
        self.recount_marks();
    }

    pub(super) fn unmark_all(&mut self, out: &mut Vec<Request>) {
        if self.marked_count == 0 {
            self.set_notice("no marks to undo".to_string());
            return;
        }
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

    pub(super) fn commit(&mut self, out: &mut Vec<Request>) {
        if self.marked_count == 0 {
            self.set_notice("nothing to commit: no message is marked".to_string());
            return;
        }
        out.push(Request::CommitNow);
        self.set_notice(format!(
            "deleting {} message(s) on the server…",
            self.marked_count
        ));
    }

    pub(super) fn send_quit(&mut self, commit: bool, out: &mut Vec<Request>) {
        if self.worker_gone {
            self.quit = true;
            return;
        }
        out.push(Request::Quit { commit });
        self.closing_since = Some(self.ticks);
        self.conn = ConnState::Closing;
        self.screen = Screen::List;
    }
}
