//! The dialogs' answers: one table per dialog of the keys it accepts and
//! what each does. The key handling below and the text the dialog draws
//! (`crate::ui`) both come from [`App::dialog_choices`], so a dialog never
//! accepts a key it doesn't show, nor shows one it doesn't accept.

use crate::app::format::human_size;
use crate::keymap::Key;
use crate::text::fit;

use super::*;

/// What a dialog answer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Quit: delete the marked messages, then end the session.
    DeleteAndQuit,
    /// Quit: delete nothing, forget the marks.
    ForgetAndQuit,
    /// Quit: delete nothing, keep the marks on disk for the next start.
    KeepMarksAndQuit,
    /// Yes to the question (commit now, undo all, log in).
    Confirm,
    /// Big message: download it whole.
    Download,
    /// Big message: peek at its start.
    Peek,
    /// Close the dialog and review the marks (`M`).
    Review,
    /// Close the dialog; nothing happens.
    Cancel,
}

/// One line of a dialog: the keys that give this answer, and what it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// Key names as the keymap writes them (`y`, `enter`, `esc`).
    pub keys: &'static [&'static str],
    pub answer: Answer,
    pub label: String,
}

impl Choice {
    fn new(keys: &'static [&'static str], answer: Answer, label: impl Into<String>) -> Choice {
        Choice {
            keys,
            answer,
            label: label.into(),
        }
    }

    /// Whether key `k` gives this answer (letters in either case).
    fn accepts(&self, k: &KeyEvent) -> bool {
        let name = Key::from_event(k).to_string();
        self.keys
            .iter()
            .any(|&n| n == name || (name.chars().count() == 1 && n == name.to_lowercase()))
    }
}

/// "the marked message" / "the 3 marked messages".
fn the_marked(n: usize) -> String {
    match n {
        0 => "the marked messages".to_string(),
        1 => "the marked message".to_string(),
        n => format!("the {n} marked messages"),
    }
}

/// Most unique ids of unshown marks a dialog names.
const UNSHOWN_NAMED: usize = 3;
/// Widest unique id a dialog names (they can be 70 characters long).
const UID_WIDTH: usize = 24;

impl App {
    /// The marks as a deletion question describes them.
    pub fn mark_summary(&self) -> MarkSummary {
        let mut shown = 0;
        let mut bytes = 0u64;
        let mut keepable = 0;
        for r in &self.rows.rows {
            if r.mark_state().is_marked() {
                shown += 1;
                bytes = bytes.saturating_add(r.size);
                keepable += usize::from(r.key.uid.is_some());
            }
        }
        let unshown: Vec<String> = self
            .unshown_marks
            .iter()
            .map(|k| match &k.uid {
                Some(u) => fit(&clean_line(u), UID_WIDTH).trim_end().to_string(),
                None => format!("#{}", k.number),
            })
            .collect();
        keepable += self
            .unshown_marks
            .iter()
            .filter(|k| k.uid.is_some())
            .count();
        let unshown_why = if self.info.is_none() {
            "restored from the last session; the server has not been reached yet"
        } else if self.no_uidl.is_some() {
            "restored from the last session; this server gives no unique ids, so they can't be matched to its messages"
        } else {
            "not in the server's listing"
        };
        MarkSummary {
            shown,
            bytes,
            unshown,
            unshown_why,
            keepable,
        }
    }

    /// The unique ids of unshown marks, as a dialog names them.
    pub fn unshown_named(m: &MarkSummary) -> String {
        let mut s = m
            .unshown
            .iter()
            .take(UNSHOWN_NAMED)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if m.unshown.len() > UNSHOWN_NAMED {
            s.push_str(&format!(" and {} more", m.unshown.len() - UNSHOWN_NAMED));
        }
        s
    }

    /// Every key the open dialog accepts, and what each does.
    pub fn dialog_choices(&self) -> Vec<Choice> {
        let mut v = self.dialog.as_ref().map_or_else(Vec::new, choices_for);
        if let (Some(Dialog::Quit(_)), Some(to)) = (&self.dialog, &self.switch_to) {
            super::accounts::switch_labels(&mut v, to);
        }
        v
    }

    /// Each kind of dialog with its keys, for the help screen (the same
    /// tables the dialogs use, about marks in general).
    pub fn help_choices() -> Vec<(&'static str, Vec<Choice>)> {
        let marks = MarkSummary {
            shown: 0,
            bytes: 0,
            unshown: Vec::new(),
            unshown_why: "",
            keepable: 0,
        };
        let big = Dialog::BigMessage {
            key: MsgKey::default(),
            size: 0,
        };
        let password = Dialog::Password {
            reason: String::new(),
            input: String::new(),
        };
        vec![
            ("quit with marks", choices_for(&Dialog::Quit(marks.clone()))),
            ("commit now", choices_for(&Dialog::Commit(marks.clone()))),
            ("undo all marks", choices_for(&Dialog::UnmarkAll(marks))),
            (
                "bulk change (D, U, ;, z)",
                choices_for(&Dialog::Bulk(BulkPlan {
                    change: BulkChange::default(),
                    mark_bytes: 0,
                    unmark_bytes: 0,
                    source: String::new(),
                    is_undo: false,
                })),
            ),
            ("big message", choices_for(&big)),
            ("password", choices_for(&password)),
        ]
    }
}

/// The keys dialog `d` accepts, and what each does.
fn choices_for(d: &Dialog) -> Vec<Choice> {
    {
        match d {
            Dialog::Quit(m) => {
                let total = m.total();
                let mut v = vec![Choice::new(
                    &["y"],
                    Answer::DeleteAndQuit,
                    format!("delete {} now, then quit", the_marked(total)),
                )];
                v.push(Choice::new(
                    &["n"],
                    Answer::ForgetAndQuit,
                    "delete nothing and forget the marks, then quit",
                ));
                if m.keepable == total {
                    v.push(Choice::new(
                        &["l"],
                        Answer::KeepMarksAndQuit,
                        "delete nothing, leave the marks on disk for later, then quit",
                    ));
                } else if m.keepable > 0 {
                    v.push(Choice::new(
                        &["l"],
                        Answer::KeepMarksAndQuit,
                        format!(
                            "delete nothing, leave the {} mark(s) with a unique id for later \
                             and forget the other {}, then quit",
                            m.keepable,
                            total - m.keepable
                        ),
                    ));
                }
                v.push(Choice::new(
                    &["r"],
                    Answer::Review,
                    "review the marked messages first",
                ));
                v.push(Choice::new(&["esc"], Answer::Cancel, "cancel: stay"));
                v
            }
            Dialog::Commit(m) => vec![
                Choice::new(
                    &["y"],
                    Answer::Confirm,
                    format!("yes: delete {} on the server now", the_marked(m.total())),
                ),
                Choice::new(&["r"], Answer::Review, "review the marked messages first"),
                Choice::new(
                    &["n", "esc"],
                    Answer::Cancel,
                    "no: keep the marks, delete nothing",
                ),
            ],
            Dialog::UnmarkAll(m) => vec![
                Choice::new(
                    &["y"],
                    Answer::Confirm,
                    match m.total() {
                        0 => "yes: undo all the marks".to_string(),
                        n => format!("yes: undo all {n} marks"),
                    },
                ),
                Choice::new(&["n", "esc"], Answer::Cancel, "no: keep the marks"),
            ],
            Dialog::BigMessage { .. } => vec![
                Choice::new(&["y", "enter"], Answer::Download, "download it all"),
                Choice::new(
                    &["p"],
                    Answer::Peek,
                    format!("peek: headers and the first {PEEK_LINES} lines"),
                ),
                Choice::new(&["n", "esc"], Answer::Cancel, "cancel"),
            ],
            Dialog::Password { .. } => vec![
                Choice::new(&["enter"], Answer::Confirm, "log in"),
                Choice::new(&["esc"], Answer::Cancel, "cancel"),
            ],
            Dialog::Rules(r) => vec![
                Choice::new(
                    &["y"],
                    Answer::Confirm,
                    format!(
                        "apply: mark {} for deletion (deleted only on commit; z undoes)",
                        r.plan.change.marked.len()
                    ),
                ),
                Choice::new(&["v"], Answer::Review, "show them in the list (a limit)"),
                Choice::new(&["n", "esc"], Answer::Cancel, "dismiss: mark nothing"),
            ],
            Dialog::Bulk(p) => vec![
                Choice::new(
                    &["y"],
                    Answer::Confirm,
                    match (p.change.marked.len(), p.change.unmarked.len()) {
                        (m, 0) => format!("yes: mark {m} for deletion (deleted only on commit)"),
                        (0, u) => format!("yes: undo {u} mark{}", if u == 1 { "" } else { "s" }),
                        (m, u) => format!("yes: mark {m} and undo {u}"),
                    },
                ),
                Choice::new(&["n", "esc"], Answer::Cancel, "no: change nothing"),
            ],
        }
    }
}

impl App {
    /// A one-line description of the marks for a question: "3 messages
    /// (1.2 MB)", plus the unshown ones.
    pub fn marks_phrase(m: &MarkSummary) -> String {
        let mut s = match m.shown {
            0 => String::new(),
            1 => format!("1 message ({})", human_size(m.bytes)),
            n => format!("{n} messages ({})", human_size(m.bytes)),
        };
        if !m.unshown.is_empty() {
            if !s.is_empty() {
                s.push_str(" and ");
            }
            s.push_str(&format!(
                "{} mark{} the list can't show (size unknown)",
                m.unshown.len(),
                if m.unshown.len() == 1 { "" } else { "s" }
            ));
        }
        s
    }

    pub(super) fn dialog_key(&mut self, k: KeyEvent, out: &mut Vec<Request>) {
        let answer = self
            .dialog_choices()
            .into_iter()
            .find(|c| c.accepts(&k))
            .map(|c| c.answer);
        let Some(dialog) = self.dialog.take() else {
            return;
        };
        match (dialog, answer) {
            (Dialog::Password { reason, input }, None) => self.password_typing(reason, input, k),
            (Dialog::Password { input, .. }, Some(a)) => self.password_answer(input, a, out),
            (d, None) => self.dialog = Some(d),
            (Dialog::BigMessage { .. }, Some(Answer::Cancel)) => self.big_message_cancelled(),
            (_, Some(Answer::Cancel)) => {}
            (Dialog::Quit(_), Some(Answer::DeleteAndQuit)) => {
                self.send_quit(Request::Quit { commit: true }, out)
            }
            (Dialog::Quit(_), Some(Answer::ForgetAndQuit)) => {
                self.send_quit(Request::Quit { commit: false }, out)
            }
            (Dialog::Quit(_), Some(Answer::KeepMarksAndQuit)) => {
                self.send_quit(Request::QuitKeepMarks, out)
            }
            (Dialog::Commit(m), Some(Answer::Confirm)) => self.commit_confirmed(&m, out),
            (Dialog::UnmarkAll(_), Some(Answer::Confirm)) => self.unmark_all_confirmed(out),
            (Dialog::Bulk(plan), Some(Answer::Confirm)) => self.bulk_confirmed(plan, out),
            (Dialog::Rules(r), Some(Answer::Confirm)) => self.bulk_confirmed(r.plan, out),
            (Dialog::Rules(r), Some(Answer::Review)) => self.show_proposal(r),
            (Dialog::Quit(_) | Dialog::Commit(_), Some(Answer::Review)) => self.open_review(),
            (Dialog::BigMessage { key, size }, Some(a @ (Answer::Download | Answer::Peek))) => {
                self.start_retrieve(key, size, a == Answer::Peek, out)
            }
            // Every table above pairs its dialog with its own answers.
            (d, Some(_)) => self.dialog = Some(d),
        }
    }

    fn big_message_cancelled(&mut self) {
        // Asked for from the reader (next/previous): nothing to show there.
        if self.screen == Screen::Reader && self.reader.as_ref().is_none_or(|r| r.doc().is_none()) {
            let mut ignored = Vec::new();
            self.close_reader(&mut ignored);
        }
    }

    fn password_typing(&mut self, reason: String, mut input: String, k: KeyEvent) {
        match k.code {
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Char(c) if !c.is_control() => input.push(c),
            _ => {}
        }
        self.dialog = Some(Dialog::Password { reason, input });
    }

    fn password_answer(&mut self, input: String, a: Answer, out: &mut Vec<Request>) {
        if a == Answer::Confirm {
            self.password_wanted = None;
            out.push(Request::Password(Secret::from(input)));
            return;
        }
        // Overwrite what was typed before dropping it.
        let mut bytes = input.into_bytes();
        bytes.fill(0);
        drop(bytes);
        self.error = Some(ErrorNote {
            kind: Some(ErrorKind::Auth),
            message: "login cancelled: no password given".to_string(),
            advice: PASSWORD_AGAIN_ADVICE,
            fatal: true,
        });
        self.conn = ConnState::Offline;
    }
}

/// What to do after the password prompt was cancelled.
pub(super) const PASSWORD_AGAIN_ADVICE: &str =
    "press r to enter the password again, q to leave; or set password_command in the config";
