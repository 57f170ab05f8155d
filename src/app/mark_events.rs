//! The marks as the worker reports them: the whole set, a refusal, a mark
//! dropped at a new session, a commit's outcome.

use super::*;
use crate::worker::api::DroppedMark;

impl App {
    /// The worker refused a mark before sending anything.
    pub(super) fn on_mark_refused(&mut self, key: MsgKey, reason: &str) {
        if let Some(i) = self.rows.find(&key) {
            self.rows.rows[i].pending = None;
        }
        self.recount_marks();
        self.set_notice(clean_line(reason));
    }

    /// A mark from an earlier session no longer names its message.
    pub(super) fn on_mark_dropped(&mut self, d: &DroppedMark) {
        // Shown until dismissed: a mark the user made is gone.
        self.error = Some(ErrorNote {
            kind: None,
            message: clean_line(&d.describe()),
            advice: "nothing was deleted for it",
            fatal: false,
        });
    }

    /// The whole set of marks, and how many of the UI's writes it settles.
    pub(super) fn on_marks(&mut self, marked: Vec<MsgKey>, restored: bool, settled: u64) {
        let mut set = vec![false; self.rows.len()];
        for k in &marked {
            if let Some(i) = self.rows.find(k) {
                set[i] = true;
            }
        }
        for (row, m) in self.rows.rows.iter_mut().zip(set) {
            row.marked = m;
            // A write not settled yet is still queued behind this
            // report (a reconnect's replay, say): keep showing it.
            if row.pending_write <= settled {
                row.pending = None;
            }
        }
        let count = marked.len();
        self.worker_marks = marked;
        self.recount_marks();
        if restored && count > 0 {
            self.set_notice(format!(
                "{} deletion mark(s) restored from the last session: pending, not committed ({} undoes all)",
                count,
                self.opts.keymap.hint(Action::UnmarkAll)
            ));
        }
    }

    /// A commit finished.
    pub(super) fn on_committed(&mut self, deleted: usize, already_gone: &[String]) {
        let mut s = format!("deleted {deleted} message(s) on the server");
        if !already_gone.is_empty() {
            s.push_str(&format!(
                "; {} marked message(s) were already gone from the server",
                already_gone.len()
            ));
        }
        self.outcome = Some(s.clone());
        self.set_notice(s);
    }
}
