//! The app side of running other programs: `|` pipes the message to a
//! shell command, `m` opens the selected attachment (or the HTML part) with
//! the user's viewer (mailcap), `ctrl-b` lists the message's links and
//! opens one with `$BROWSER` after the user saw it in full and said `y`.
//!
//! Pure like the rest of `app`: each of these becomes an [`Effect`]
//! ([`PipeJob`], [`OpenJob`], a checked URL) that the terminal loop
//! performs, handing the terminal over and taking it back; it answers with
//! [`AppEvent::External`]. A command's captured output (mailcap's
//! `copiousoutput`) is shown in the reader; Esc goes back to the message.
//!
//! What comes from the mail is untrusted: the pipe command is typed by the
//! user (never taken from the mail); an attachment is opened under a safe
//! base name ([`super::reader::safe_base_name`]) in a private directory
//! the terminal loop makes; a URL is opened only with the http, https or
//! mailto scheme, only printable characters without spaces, and is passed
//! to the shell single-quoted.

use super::line_edit::{Edit, LineEditor, remember};
use super::*;
use crate::mail::MessageView;

/// Most links listed for one message.
pub const MAX_LINKS: usize = 500;
/// Longest URL listed, in bytes.
pub const MAX_URL: usize = 4096;
/// Longest text kept beside a link, in characters.
const MAX_LINK_TEXT: usize = 80;
/// Messages larger than this are not searched for an HTML part (its links,
/// `m` on the message): the text body's links are still listed.
pub const MAX_HTML_SCAN: usize = crate::mail::MAX_HTML_SOURCE;

/// A link found in a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The URL as written (sanitized, without controls or spaces).
    pub url: String,
    /// The text beside it: an HTML link's text, or its line in the text.
    pub text: String,
}

/// The message (or the tagged messages, in order) for a shell command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipeJob {
    /// As the user typed it; run with `sh -c`.
    pub command: String,
    /// The raw bytes exactly as the server sent them (dot-unstuffed).
    pub data: Vec<u8>,
}

/// A part to open with the user's viewer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenJob {
    /// A safe base name (no path, no leading dot) for the temporary file.
    pub name: String,
    /// `type/subtype`, lower case, token characters only.
    pub mime: String,
    pub data: Vec<u8>,
}

/// What a command the terminal loop ran came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExternalDone {
    /// It ran; how it ended, in words (`exit status 0`).
    Finished { what: String, status: String },
    /// Its output, captured (mailcap's `copiousoutput`), to show.
    Output { title: String, text: String },
    /// It could not be run: why, and what to do.
    Failed(String),
}

/// The link list (`ctrl-b`), with the link waiting for `y`, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkMenu {
    pub links: Vec<Link>,
    pub cursor: usize,
    /// Enter was pressed: the full URL is shown and waits for `y`.
    pub confirm: bool,
}

/// The tagged messages on their way to one command (`;|`).
#[derive(Clone, Debug, Default)]
struct Batch {
    command: String,
    /// Still to retrieve, in list order.
    queue: VecDeque<(MsgKey, u64)>,
    /// Being retrieved.
    current: Option<MsgKey>,
    data: Vec<u8>,
    done: usize,
}

/// What goes between two messages piped together (mutt's `pipe_sep`).
pub const PIPE_SEP: &[u8] = b"\n";

/// The state of this module, kept in [`App`].
#[derive(Clone, Debug, Default)]
pub struct External {
    /// The pipe command being typed.
    prompt: Option<LineEditor>,
    history: Vec<String>,
    /// A command typed in the list for a message still being retrieved.
    pending: Option<(MsgKey, String)>,
    /// The prompt is for the tagged messages (`;|`).
    prompt_tagged: bool,
    /// `;|`: the tagged messages, retrieved one after the other.
    batch: Option<Batch>,
    links: Option<LinkMenu>,
    /// The message shown before a command's output replaced it.
    behind_output: Option<Reader>,
}

/// Whether `url` may be opened: http, https or mailto, printable ASCII
/// without spaces or quotes, bounded.
pub fn openable(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:"))
        && url.len() <= MAX_URL
        && url.len() > "mailto:".len()
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`'))
}

/// Where a URL in plain text ends: at whitespace, a quote or `<>`, less
/// the punctuation that usually closes a sentence or a bracket.
fn url_at(s: &str) -> &str {
    let end = s
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
        .unwrap_or(s.len());
    let mut u = &s[..end];
    while let Some(last) = u.chars().last() {
        let unbalanced = last == ')' && u.matches('(').count() < u.matches(')').count();
        if matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | ']' | '}') || unbalanced {
            u = &u[..u.len() - last.len_utf8()];
        } else {
            break;
        }
    }
    u
}

fn push_link(out: &mut Vec<Link>, url: &str, text: &str) {
    let url = url.trim();
    if !openable(url) || out.len() >= MAX_LINKS || out.iter().any(|l| l.url == url) {
        return;
    }
    let text: String = clean_line(text).chars().take(MAX_LINK_TEXT).collect();
    out.push(Link {
        url: url.to_string(),
        text: text.trim().to_string(),
    });
}

/// Every link of a message, deduplicated, in order: the HTML part's
/// `href`s with their texts first (when there is an HTML part), then the
/// URLs written in the text with their lines.
pub fn links_of(body: &str, html: Option<&str>) -> Vec<Link> {
    let mut out = Vec::new();
    if let Some(h) = html {
        html_links(h, &mut out);
    }
    for line in body.lines() {
        let mut rest = line;
        // Bounded: each turn moves past one scheme found in the line.
        while let Some(i) = ["http://", "https://", "mailto:"]
            .iter()
            .filter_map(|s| rest.to_ascii_lowercase().find(s))
            .min()
        {
            let url = url_at(&rest[i..]);
            push_link(&mut out, url, line);
            rest = &rest[i + url.len().max(1)..];
            if out.len() >= MAX_LINKS {
                return out;
            }
        }
    }
    out
}

/// `<a href="...">text</a>` in HTML source, entities `&amp;` decoded.
fn html_links(html: &str, out: &mut Vec<Link>) {
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("href=") {
        let start = from + i + "href=".len();
        let rest = &html[start..];
        let (url, used) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &rest[1..];
                let end = body.find(q).unwrap_or(body.len());
                (&body[..end], 1 + end)
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(rest.len());
                (&rest[..end], end)
            }
        };
        let after = start + used;
        // The link's text: up to `</a`, tags dropped.
        let tail = &html[after..];
        let tag_end = tail.find('>').map_or(tail.len(), |e| e + 1);
        let text_part = &tail[tag_end..];
        let close = text_part
            .to_ascii_lowercase()
            .find("</a")
            .unwrap_or(text_part.len().min(400));
        let mut text = String::new();
        let mut in_tag = false;
        for c in text_part[..close.min(text_part.len())].chars().take(2000) {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(if c.is_whitespace() { ' ' } else { c }),
                _ => {}
            }
        }
        let url = url.replace("&amp;", "&");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        push_link(out, &url, &text);
        if out.len() >= MAX_LINKS {
            return;
        }
        from = after.max(from + i + 1);
    }
}

impl App {
    /// The pipe command being typed, if the prompt is open.
    pub fn pipe_prompt(&self) -> Option<&LineEditor> {
        self.external.prompt.as_ref()
    }

    /// The link list, when it is open.
    pub fn link_menu(&self) -> Option<&LinkMenu> {
        self.external.links.as_ref()
    }

    /// The reader shows a command's output (Esc goes back to the message).
    pub fn showing_output(&self) -> bool {
        self.external.behind_output.is_some()
    }

    /// Keys for this module's prompt and menu, and Esc over a command's
    /// output; whether the key was taken.
    pub(super) fn external_key(&mut self, k: &KeyEvent, out: &mut Vec<Request>) -> bool {
        if self.dialog.is_some() {
            return false;
        }
        if let Some(editor) = &mut self.external.prompt {
            match editor.key(k) {
                Edit::Editing => {}
                Edit::Cancel => self.external.prompt = None,
                Edit::Submit(text) => {
                    self.external.prompt = None;
                    if !text.trim().is_empty() {
                        remember(&mut self.external.history, &text);
                        if std::mem::take(&mut self.external.prompt_tagged) {
                            self.pipe_tagged(text, out);
                        } else {
                            self.pipe_to(text, out);
                        }
                    }
                }
            }
            return true;
        }
        if self.external.links.is_some() {
            self.link_key(k);
            return true;
        }
        if self.editing_filter || self.prompt.is_some() {
            return false;
        }
        if self.tag_prefix {
            if self.opts.keymap.action_for(k) != Some(Action::Pipe) {
                return false;
            }
            self.tag_prefix = false;
            if self.tagged_count() == 0 {
                self.set_notice(format!(
                    "no message is tagged: {} tags one",
                    self.opts.keymap.hint(Action::ToggleTag)
                ));
            } else {
                self.external.prompt = Some(LineEditor::new(&self.external.history));
                self.external.prompt_tagged = true;
            }
            return true;
        }
        // Any other key on the output (next message...) leaves it for good.
        if self.external.behind_output.is_some()
            && self.reader.as_ref().is_none_or(|r| r.ticket != 0)
        {
            self.external.behind_output = None;
        }
        let action = self.opts.keymap.action_for(k);
        if self.screen == Screen::Reader
            && matches!(action, Some(Action::Back | Action::Quit))
            && let Some(r) = self.external.behind_output.take()
        {
            self.reader = Some(r);
            if let Some(r) = &mut self.reader {
                r.layout(self.size.0 as usize);
            }
            return true;
        }
        // Pipe, open and links act on the message, not on a viewer's output
        // shown in its place.
        if matches!(
            action,
            Some(Action::Pipe | Action::OpenPart | Action::Links)
        ) && let Some(r) = self.external.behind_output.take()
        {
            self.reader = Some(r);
            if let Some(r) = &mut self.reader {
                r.layout(self.size.0 as usize);
            }
        }
        match action {
            Some(Action::Pipe) if matches!(self.screen, Screen::List | Screen::Reader) => {
                self.external.prompt = Some(LineEditor::new(&self.external.history));
                self.external.prompt_tagged = false;
                true
            }
            Some(Action::OpenPart) if self.screen == Screen::Reader => {
                self.open_part();
                true
            }
            Some(Action::Links) if self.screen == Screen::Reader => {
                self.open_links();
                true
            }
            _ => false,
        }
    }

    /// The message shown (or, in the list, the one at the cursor, after
    /// retrieving it) to `command`.
    fn pipe_to(&mut self, command: String, out: &mut Vec<Request>) {
        if self.screen == Screen::List {
            let Some(row) = self.view_row(self.cursor) else {
                self.set_notice("no message to pipe".to_string());
                return;
            };
            // The list holds headers only: retrieve the message, pipe it
            // once it is here (see `pipe_when_ready`).
            let key = row.key.clone();
            self.external.pending = Some((key, command));
            self.open_at_cursor(out);
            self.pipe_pending();
            return;
        }
        let Some(r) = &self.reader else {
            return;
        };
        self.external.pending = Some((r.key.clone(), command));
        self.pipe_pending();
    }

    /// `;|`: retrieve the tagged messages one after the other (in list
    /// order), then pipe them together, [`PIPE_SEP`] between two.
    fn pipe_tagged(&mut self, command: String, out: &mut Vec<Request>) {
        let mut tagged: Vec<(usize, MsgKey, u64)> = self
            .rows
            .rows
            .iter()
            .filter(|r| r.tagged)
            .map(|r| {
                let pos = self.view_pos(&r.key).unwrap_or(usize::MAX);
                (pos, r.key.clone(), r.size)
            })
            .collect();
        tagged.sort_by_key(|(pos, _, _)| *pos);
        self.external.pending = None;
        self.external.batch = Some(Batch {
            command,
            queue: tagged.into_iter().map(|(_, k, s)| (k, s)).collect(),
            ..Batch::default()
        });
        self.batch_step(out);
    }

    /// The next tagged message: retrieve it, or pipe them all when none is
    /// left.
    fn batch_step(&mut self, out: &mut Vec<Request>) {
        let Some(b) = &mut self.external.batch else {
            return;
        };
        match b.queue.pop_front() {
            Some((key, size)) => {
                b.current = Some(key.clone());
                let n = b.done + b.queue.len() + 1;
                let i = b.done + 1;
                self.start_retrieve(key, size, false, out);
                self.set_notice(format!("retrieving {i} of {n} tagged messages to pipe…"));
            }
            None => {
                if let Some(b) = self.external.batch.take() {
                    self.effects.push(Effect::Pipe(PipeJob {
                        command: b.command,
                        data: b.data,
                    }));
                }
            }
        }
    }

    /// Called after every event: collect a tagged message that arrived,
    /// or pipe the pending command's message if the reader now holds all
    /// of it.
    pub(super) fn pipe_when_ready(&mut self, out: &mut Vec<Request>) {
        if let Some(b) = &self.external.batch {
            let state = match (&self.reader, &b.current) {
                (Some(r), Some(cur)) if reader::same_message(&r.key, cur) => {
                    r.doc().map(|d| d.raw_bytes().to_vec())
                }
                _ => {
                    self.external.batch = None;
                    self.set_notice("the pipe of the tagged messages was cancelled".to_string());
                    return;
                }
            };
            if let (Some(raw), Some(b)) = (state, &mut self.external.batch) {
                if !b.data.is_empty() {
                    b.data.extend_from_slice(PIPE_SEP);
                }
                b.data.extend_from_slice(&raw);
                b.done += 1;
                b.current = None;
                self.batch_step(out);
            }
            return;
        }
        self.pipe_pending();
    }

    /// Pipe the pending command's message if the reader now holds all of
    /// it.
    fn pipe_pending(&mut self) {
        let Some((key, _)) = &self.external.pending else {
            return;
        };
        let Some(r) = &self.reader else {
            // Closed (Esc, or a big message's question answered no).
            if self.dialog.is_none() {
                self.external.pending = None;
            }
            return;
        };
        if !reader::same_message(&r.key, key) {
            if self.dialog.is_none() {
                self.external.pending = None;
            }
            return;
        }
        if r.is_peek() {
            self.external.pending = None;
            self.set_notice(format!(
                "this is a peek (the first {PEEK_LINES} lines only), so nothing was piped: \
                 press {} to download the whole message first",
                self.opts.keymap.hint(Action::Open)
            ));
            return;
        }
        let Some(doc) = r.doc() else {
            return; // still loading
        };
        let data = doc.raw_bytes().to_vec();
        if let Some((_, command)) = self.external.pending.take() {
            self.effects.push(Effect::Pipe(PipeJob { command, data }));
        }
    }

    /// `m`: the selected attachment, or on the whole-message line the HTML
    /// part (else the text), to the viewer.
    fn open_part(&mut self) {
        let Some(r) = &self.reader else {
            return;
        };
        if r.is_peek() {
            self.set_notice(format!(
                "this is a peek (the first {PEEK_LINES} lines only): press {} to download it first",
                self.opts.keymap.hint(Action::Open)
            ));
            return;
        }
        let Some(doc) = r.doc() else {
            self.set_notice("the message is still loading".to_string());
            return;
        };
        let n = r.key.number;
        let job = match doc.attachments.get(r.selected) {
            Some(a) => match doc.attachment_data(r.selected) {
                Some(data) => OpenJob {
                    name: reader::safe_base_name(&a.name),
                    mime: a.mime.clone(),
                    data: data.into_owned(),
                },
                None => {
                    let why = reader::undecodable(&a.name);
                    self.set_notice(why);
                    return;
                }
            },
            None => match &doc.html {
                Some(h) => OpenJob {
                    name: format!("message-{n}.html"),
                    mime: "text/html".to_string(),
                    data: h.as_bytes().to_vec(),
                },
                None => OpenJob {
                    name: format!("message-{n}.txt"),
                    mime: "text/plain".to_string(),
                    data: doc.body.as_bytes().to_vec(),
                },
            },
        };
        self.set_notice(format!("opening {} ({})…", job.name, job.mime));
        self.effects.push(Effect::OpenPart(job));
    }

    fn open_links(&mut self) {
        let Some(doc) = self.reader.as_ref().and_then(|r| r.doc()) else {
            self.set_notice("the message is still loading".to_string());
            return;
        };
        if doc.links.is_empty() {
            self.set_notice("no links (http, https, mailto) in this message".to_string());
            return;
        }
        self.external.links = Some(LinkMenu {
            links: doc.links.clone(),
            cursor: 0,
            confirm: false,
        });
    }

    fn link_key(&mut self, k: &KeyEvent) {
        let Some(menu) = &mut self.external.links else {
            return;
        };
        if menu.confirm {
            if matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                let url = menu.links[menu.cursor.min(menu.links.len() - 1)]
                    .url
                    .clone();
                self.external.links = None;
                self.effects.push(Effect::OpenUrl(url));
            } else {
                menu.confirm = false;
            }
            return;
        }
        let last = menu.links.len().saturating_sub(1);
        match k.code {
            KeyCode::Esc | KeyCode::Char('q') => self.external.links = None,
            KeyCode::Down | KeyCode::Char('j') => menu.cursor = (menu.cursor + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => menu.cursor = menu.cursor.saturating_sub(1),
            KeyCode::Home | KeyCode::Char('g') => menu.cursor = 0,
            KeyCode::End | KeyCode::Char('G') => menu.cursor = last,
            KeyCode::Enter => menu.confirm = true,
            KeyCode::Char(c @ '1'..='9') => {
                let i = (c as usize) - ('1' as usize);
                if i <= last {
                    menu.cursor = i;
                    menu.confirm = true;
                }
            }
            _ => {}
        }
    }

    /// A command the terminal loop ran has ended.
    pub(super) fn on_external(&mut self, done: ExternalDone) {
        match done {
            ExternalDone::Finished { what, status } => {
                self.set_notice(format!("{}: {}", clean_line(&what), clean_line(&status)))
            }
            ExternalDone::Failed(why) => {
                self.error = Some(ErrorNote {
                    kind: None,
                    message: clean_line(&why),
                    advice: "check the command (and your mailcap: $MAILCAPS, ~/.mailcap, /etc/mailcap)",
                    fatal: false,
                })
            }
            ExternalDone::Output { title, text } => {
                let Some(current) = self.reader.take() else {
                    return;
                };
                let view = MessageView {
                    subject: title,
                    body: text.clone(),
                    raw: text.into_bytes(),
                    ..MessageView::default()
                };
                let mut r = Reader::loading(current.key.clone(), 0, current.size, false);
                r.content = Content::Ready {
                    doc: Box::new(Doc::from_view(view)),
                    peek: false,
                };
                r.layout(self.size.0 as usize);
                self.external.behind_output.get_or_insert(current);
                self.reader = Some(r);
                self.screen = Screen::Reader;
                self.set_notice(format!(
                    "output of the viewer: {} goes back to the message",
                    self.opts.keymap.hint(Action::Back)
                ));
            }
        }
    }
}
