//! Saving from the TUI, mutt's way: `s` saves the message (or `;s` the
//! tagged ones) into a local mailbox and marks the originals for deletion,
//! `C` copies without marking; in the reader, `s` on a selected attachment
//! asks where to write it.
//!
//! The prompt ("Save to mailbox:", "Copy to mailbox:", "Save attachment
//! to:") starts with a default: the last mailbox used, else the account's
//! `save_to`; for an attachment, the download folder and its safe name.
//! Tab completes paths ([`super::complete`] over a listing the terminal
//! loop reads: [`Effect::Mailbox`]); Enter has the terminal loop look at
//! the path (`~`, `$HOME` expanded): an existing Maildir or file is used as
//! it is, a new one is asked about ("Create mailbox X? (Maildir: m / mbox:
//! b / cancel)", unless it is the configured `save_to`, whose kind is
//! known).
//!
//! One rule for what is saved into a mailbox: the message as the server
//! sends it now (a `RETR` in the worker), never the reader's bytes, so a
//! peek can be saved whole and every copy is checked against LIST's size.
//! The worker writes and reports; the messages whose copies are durable
//! and checked are then marked through the same path as `d` (pending
//! marks, undone with `u` or `z`, deleted only on commit), and only when
//! the user asked to move them. A failed save never marks.

use std::path::{Path, PathBuf};

use super::complete::{self, DirEntry, EntryKind, Found};
use super::line_edit::{Edit, LineEditor};
use super::*;
use crate::localbox::Destination;
use crate::worker::api::{SaveOutcome, SaveRequest};

/// What the prompt is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SavePurpose {
    /// `s`: save, then mark the originals for deletion.
    Move,
    /// `C`: save only.
    Copy,
    /// The reader's `s` on an attachment: write a file.
    Attachment,
}

impl SavePurpose {
    pub fn question(self) -> &'static str {
        match self {
            SavePurpose::Move => "Save to mailbox: ",
            SavePurpose::Copy => "Copy to mailbox: ",
            SavePurpose::Attachment => "Save attachment to: ",
        }
    }
}

/// The save prompt on the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavePrompt {
    pub purpose: SavePurpose,
    pub editor: LineEditor,
    /// The messages to save (mailbox purposes).
    keys: Vec<MsgKey>,
    /// The attachment to write (its data, and its safe name).
    attachment: Option<SaveJob>,
    /// The line as first offered.
    default_text: String,
    /// The path is being looked at (Enter was pressed).
    pub probing: bool,
    /// A new mailbox: which kind to create (asked with m / b).
    pub create: Option<PathBuf>,
    /// Why the last Enter was refused, until the next key.
    pub error: Option<String>,
    /// The names a Tab found possible, when more than one.
    pub candidates: Vec<String>,
}

/// A save the worker runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaveRunning {
    pub id: u64,
    pub purpose: SavePurpose,
    /// The mailbox, as typed.
    pub label: String,
    pub done: usize,
    pub total: usize,
    pub bytes: u64,
    pub total_bytes: u64,
    pub stopping: bool,
}

/// The app's save state.
#[derive(Clone, Debug, Default)]
pub struct SaveState {
    prompt: Option<SavePrompt>,
    running: Option<SaveRunning>,
    next_id: u64,
    /// The mailbox last saved into, as typed: the next default.
    last: Option<String>,
}

/// A question for the terminal loop about a typed path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailboxQuery {
    /// List the folder of `text` ([`complete::folder_of`]) for a Tab.
    List { text: String },
    /// What `text` names.
    Probe { text: String },
}

/// The terminal loop's answer to a [`MailboxQuery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailboxAnswer {
    Listing {
        text: String,
        entries: Vec<DirEntry>,
    },
    Probed {
        text: String,
        /// The path expanded, and what is there; or why it can't be used.
        found: Result<(PathBuf, Found), String>,
    },
}

/// `path` shortened for a line (sanitized).
fn shown(path: &Path) -> String {
    clean_line(&path.display().to_string())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl App {
    /// The save prompt, when open.
    pub fn save_prompt(&self) -> Option<&SavePrompt> {
        self.save.prompt.as_ref()
    }

    /// The save the worker runs, if any.
    pub fn save_running(&self) -> Option<&SaveRunning> {
        self.save.running.as_ref()
    }

    /// The line a mailbox prompt starts with.
    fn default_mailbox(&self) -> String {
        self.save
            .last
            .clone()
            .or_else(|| {
                self.opts
                    .save_to
                    .as_ref()
                    .map(|d| d.path().display().to_string())
            })
            .unwrap_or_default()
    }

    /// `s` / `C` on `keys` (the message under the cursor, the one read, or
    /// the tagged ones).
    pub(super) fn ask_save(&mut self, purpose: SavePurpose, keys: Vec<MsgKey>) {
        if keys.is_empty() {
            self.set_notice("no message to save".to_string());
            return;
        }
        if self.save.running.is_some() {
            self.set_notice(format!(
                "a save is running: wait for it, or {} stops it",
                self.opts.keymap.hint(Action::Back)
            ));
            return;
        }
        let text = self.default_mailbox();
        self.open_save_prompt(purpose, keys, None, text);
    }

    /// The reader's `s` on an attachment: where to write it.
    pub(super) fn ask_save_attachment(&mut self, job: SaveJob) {
        let text = job.dir.join(&job.name).display().to_string();
        self.open_save_prompt(SavePurpose::Attachment, Vec::new(), Some(job), text);
    }

    fn open_save_prompt(
        &mut self,
        purpose: SavePurpose,
        keys: Vec<MsgKey>,
        attachment: Option<SaveJob>,
        text: String,
    ) {
        // The prompt takes the status line.
        self.error = None;
        let mut editor = LineEditor::new(&[]);
        set_text(&mut editor, &text);
        self.save.prompt = Some(SavePrompt {
            purpose,
            editor,
            keys,
            attachment,
            default_text: text,
            probing: false,
            create: None,
            error: None,
            candidates: Vec::new(),
        });
    }

    /// `;s` / `;C`: the tagged messages.
    pub(super) fn save_tagged(&mut self, action: Action) {
        let keys: Vec<MsgKey> = self
            .rows
            .rows
            .iter()
            .filter(|r| r.tagged)
            .map(|r| r.key.clone())
            .collect();
        if keys.is_empty() {
            self.set_notice(format!(
                "no message is tagged: {} tags one, {} tags by pattern",
                self.opts.keymap.hint(Action::ToggleTag),
                self.opts.keymap.hint(Action::TagPattern)
            ));
            return;
        }
        let purpose = if action == Action::Copy {
            SavePurpose::Copy
        } else {
            SavePurpose::Move
        };
        self.ask_save(purpose, keys);
    }

    /// Esc in the list while a save runs: stop it after the message being
    /// received.
    /// Whether the key was taken.
    pub(super) fn stop_save_key(&mut self, out: &mut Vec<Request>) -> bool {
        let Some(run) = &mut self.save.running else {
            return false;
        };
        if !run.stopping {
            run.stopping = true;
            out.push(Request::StopSave);
        }
        self.set_notice("stopping the save after the message being received…".to_string());
        true
    }

    /// A key while the save prompt is open.
    pub(super) fn save_prompt_key(&mut self, k: KeyEvent, out: &mut Vec<Request>) {
        let Some(p) = &mut self.save.prompt else {
            return;
        };
        p.error = None;
        if let Some(path) = p.create.clone() {
            let dest = match k.code {
                KeyCode::Char('m') => Some(Destination::Maildir(path)),
                KeyCode::Char('b') => Some(Destination::Mbox(path)),
                _ => None,
            };
            match dest {
                Some(d) => self.start_save(d, out),
                None => {
                    self.save.prompt = None;
                    self.set_notice("nothing saved".to_string());
                }
            }
            return;
        }
        if k.code == KeyCode::Tab {
            p.candidates.clear();
            self.effects.push(Effect::Mailbox(MailboxQuery::List {
                text: p.editor.text(),
            }));
            return;
        }
        match p.editor.key(&k) {
            Edit::Editing => p.candidates.clear(),
            Edit::Cancel => {
                self.save.prompt = None;
                self.set_notice("nothing saved".to_string());
            }
            Edit::Submit(text) => {
                // The attachment's default is the download folder and the
                // safe name: no need to look.
                if p.purpose == SavePurpose::Attachment
                    && text == p.default_text
                    && let Some(job) = p.attachment.take()
                {
                    self.save.prompt = None;
                    self.write_attachment(job);
                    return;
                }
                if text.trim().is_empty() {
                    p.error = Some("type where to save".into());
                    return;
                }
                p.probing = true;
                self.effects
                    .push(Effect::Mailbox(MailboxQuery::Probe { text }));
            }
        }
    }

    /// The terminal loop's answer about a path.
    pub(super) fn on_mailbox_answer(&mut self, a: MailboxAnswer, out: &mut Vec<Request>) {
        let Some(p) = &mut self.save.prompt else {
            return;
        };
        match a {
            MailboxAnswer::Listing { text, entries } => {
                if text != p.editor.text() {
                    return; // typed on meanwhile
                }
                let c = complete::complete(&text, &entries);
                if c.text == text && c.candidates.is_empty() {
                    p.error = Some("no match".into());
                }
                set_text(&mut p.editor, &c.text);
                p.candidates = c.candidates.iter().map(|n| clean_line(n)).collect();
            }
            MailboxAnswer::Probed { text, found } => {
                if !p.probing || text != p.editor.text() {
                    return;
                }
                p.probing = false;
                let (path, found) = match found {
                    Ok(f) => f,
                    Err(e) => {
                        p.error = Some(clean_line(&e));
                        return;
                    }
                };
                if p.purpose == SavePurpose::Attachment {
                    self.attachment_to(path, found);
                    return;
                }
                match found {
                    Found::Entry(EntryKind::Maildir) => {
                        self.start_save(Destination::Maildir(path), out)
                    }
                    Found::Entry(EntryKind::File) => self.start_save(Destination::Mbox(path), out),
                    Found::Entry(EntryKind::Dir) => {
                        p.error = Some(format!(
                            "{} is a folder, not a Maildir (no cur/ new/ tmp/): add a mailbox \
                             name, or Tab to look inside",
                            shown(&path)
                        ));
                    }
                    Found::Missing => {
                        // The configured save_to says which kind it is.
                        let configured = self
                            .opts
                            .save_to
                            .clone()
                            .filter(|d| d.path() == path && text == p.default_text);
                        match configured {
                            Some(d) => self.start_save(d, out),
                            None => p.create = Some(path),
                        }
                    }
                }
            }
        }
    }

    /// The attachment's path was looked at: a folder takes the attachment's
    /// name; a file that exists is not overwritten (the job picks a free
    /// name beside it, as always: [`SaveJob::write`]).
    fn attachment_to(&mut self, path: PathBuf, found: Found) {
        let Some(mut job) = self.save.prompt.take().and_then(|p| p.attachment) else {
            return;
        };
        match found {
            Found::Entry(EntryKind::Dir | EntryKind::Maildir) => job.dir = path,
            Found::Entry(EntryKind::File) | Found::Missing => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                job.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                job.name = reader::safe_base_name(&name);
            }
        }
        self.write_attachment(job);
    }

    fn write_attachment(&mut self, job: SaveJob) {
        self.set_notice(format!("saving {}…", job.name));
        self.effects.push(Effect::Save(job));
    }

    /// Send the save to the worker.
    fn start_save(&mut self, dest: Destination, out: &mut Vec<Request>) {
        let Some(p) = self.save.prompt.take() else {
            return;
        };
        self.save.next_id += 1;
        let id = self.save.next_id;
        // Like mutt: the list goes on to the next message.
        if self.screen == Screen::List && p.keys.len() == 1 && self.cursor_key() == p.keys.first() {
            self.move_cursor(1);
        }
        let label = p.editor.text().trim().to_string();
        let n = p.keys.len();
        self.save.last = Some(label.clone());
        out.push(Request::Save(SaveRequest {
            id,
            keys: p.keys,
            dest,
            index_dir: self.opts.saved_index_dir.clone(),
        }));
        self.save.running = Some(SaveRunning {
            id,
            purpose: p.purpose,
            label: clean_line(&label),
            done: 0,
            total: n,
            bytes: 0,
            total_bytes: 0,
            stopping: false,
        });
        self.set_notice(format!(
            "saving {n} message{} to {}… ({} stops)",
            plural(n),
            clean_line(&label),
            self.opts.keymap.hint(Action::Back)
        ));
    }

    /// The worker's `SaveProgress` and `SaveDone`.
    pub(super) fn on_save_event(&mut self, e: Event) {
        match e {
            Event::SaveProgress {
                id,
                done,
                total,
                bytes,
                total_bytes,
            } => {
                if let Some(r) = &mut self.save.running
                    && r.id == id
                {
                    (r.done, r.total, r.bytes, r.total_bytes) = (done, total, bytes, total_bytes);
                }
            }
            Event::SaveDone(o) => self.on_save_done(*o),
            _ => {}
        }
    }

    fn on_save_done(&mut self, o: SaveOutcome) {
        let Some(run) = self.save.running.take_if(|r| r.id == o.id) else {
            return;
        };
        let mut line = format!("saved {} to {}", o.saved.len(), run.label);
        if o.bytes > 0 {
            line.push_str(&format!(" ({})", format::human_size(o.bytes)));
        }
        if !o.before.is_empty() {
            line.push_str(&format!(
                "; {} saved there before, not saved again",
                o.before.len()
            ));
        }
        if run.purpose == SavePurpose::Move {
            let mut out = Vec::new();
            let marked: Vec<MsgKey> = o
                .durable
                .iter()
                .filter(|k| self.mark_quietly(k, &mut out))
                .cloned()
                .collect();
            self.from_events.append(&mut out);
            if !marked.is_empty() {
                self.recount_marks();
                line.push_str(&format!(
                    "; {} marked for deletion ({} undoes, deleted only on commit)",
                    marked.len(),
                    self.opts.keymap.hint(Action::UndoBulk)
                ));
                self.bulk_undo.push(BulkChange {
                    marked,
                    unmarked: Vec::new(),
                });
            }
        }
        if o.stopped || o.not_reached > 0 {
            line.push_str(&format!(
                "; {} not saved ({})",
                o.not_reached,
                if o.stopped {
                    "stopped"
                } else {
                    "the connection was lost"
                }
            ));
        }
        if o.failed.is_empty() {
            self.set_notice(line);
            return;
        }
        let (_, why) = &o.failed[0];
        line.push_str(&format!("; {} failed: {}", o.failed.len(), clean_line(why)));
        self.error = Some(ErrorNote {
            kind: None,
            message: line,
            advice: "what failed stays on the server, unmarked: fix the cause and save again \
                     (what was saved is not saved twice)",
            fatal: false,
        });
    }
}

/// Put `text` in the editor, the cursor at its end.
fn set_text(editor: &mut LineEditor, text: &str) {
    // Ctrl-A, Ctrl-K: clear; then type it (the editor's own caps apply).
    let ctrl = |c| KeyEvent::new(KeyCode::Char(c), crossterm::event::KeyModifiers::CONTROL);
    editor.key(&ctrl('a'));
    editor.key(&ctrl('k'));
    for c in text.chars().filter(|c| !c.is_control()) {
        editor.key(&KeyEvent::from(KeyCode::Char(c)));
    }
}
