//! The reader: one retrieved (or peeked) message, laid out as wrapped lines
//! for the current width. Layout happens in `handle` (open, resize, toggle),
//! never in `view`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::mail::MessageView;
use crate::text::{clean_line, clean_text, width, wrap};
use crate::worker::api::{MsgKey, Ticket};

use super::format::{full_date, human_size};

/// How many body lines a peek asks for.
pub const PEEK_LINES: u32 = 200;

/// An attachment as the reader lists it (sanitized), with its content for
/// saving: decoded, or still encoded in the message (a big one is decoded
/// only when it is saved or opened, see [`Doc::attachment_data`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentInfo {
    pub name: String,
    pub mime: String,
    /// The decoded size.
    pub size: u64,
    content: crate::mail::Content,
}

/// A message ready to show; every string sanitized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doc {
    pub from: String,
    pub to: String,
    pub cc: String,
    pub date: String,
    pub subject: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub body_from_html: bool,
    pub attachments: Vec<AttachmentInfo>,
    pub raw_len: u64,
    raw: Vec<u8>,
    pub parse_note: Option<String>,
    /// The HTML part's source, when there is one (for `m`; see
    /// [`crate::mail::MessageView::html`]).
    pub html: Option<String>,
    /// The message's links, deduplicated, with the text beside each.
    pub links: Vec<super::external::Link>,
}

impl Doc {
    /// The message exactly as the server sent it (dot-unstuffed).
    pub fn raw_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The decoded content of attachment `i`, decoded now when it was left
    /// encoded in the message. `None` when there is no such attachment or
    /// the message doesn't hold it where the parse found it.
    pub fn attachment_data(&self, i: usize) -> Option<Cow<'_, [u8]>> {
        self.attachments.get(i)?.content.bytes(&self.raw)
    }

    /// The raw text line by line, for the raw view (`v`): indentation and
    /// spacing stay (a folded header's tab is shown as spaces), controls
    /// go. Made when shown, not kept: a second copy of a 50 MB message
    /// would double what opening it costs.
    pub fn raw_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.raw.split(|b| *b == b'\n').map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            clean_text(&String::from_utf8_lossy(l))
        })
    }

    /// The message with its date in UTC (see [`Doc::from_view_in`]).
    pub fn from_view(v: MessageView) -> Doc {
        Doc::from_view_in(v, 0)
    }

    /// The message, its date shown in the viewer's zone (`utc_offset_minutes`
    /// east of UTC, as the list shows it).
    pub fn from_view_in(v: MessageView, utc_offset_minutes: i32) -> Doc {
        let date = match v.date.map(|d| full_date(&d, utc_offset_minutes)) {
            Some(d) if !d.is_empty() => d,
            _ => clean_line(&v.date_text),
        };
        let mut body_text = v.body.clone();
        let mut budget = MAX_FORWARDED;
        forwarded_inline(&mut body_text, &v, utc_offset_minutes, 1, &mut budget);
        let links = super::external::links_of(&body_text, v.html.as_deref());
        Doc {
            html: v.html,
            links,
            from: clean_line(&v.from),
            to: clean_line(&v.to),
            cc: clean_line(&v.cc),
            date,
            subject: clean_line(&v.subject),
            headers: v
                .headers
                .iter()
                .map(|(n, val)| (clean_line(n), clean_line(val)))
                .collect(),
            body: clean_text(&body_text),
            body_from_html: v.body_from_html,
            attachments: v
                .attachments
                .into_iter()
                .map(|a| AttachmentInfo {
                    name: clean_line(&a.name),
                    mime: clean_line(&a.mime),
                    size: a.size,
                    content: a.content,
                })
                .collect(),
            raw_len: v.raw.len() as u64,
            raw: v.raw,
            parse_note: v.parse_note.as_deref().map(clean_line),
        }
    }
}

/// Forwarded messages (`message/rfc822` parts) shown inline: at most this
/// many in one message ...
pub const MAX_FORWARDED: usize = 20;
/// ... nested at most this deep.
pub const MAX_FORWARD_DEPTH: usize = 3;

/// Append each forwarded message of `v` (a `message/rfc822` attachment) to
/// `body`, with its own headers, and those it forwards in turn, within
/// [`MAX_FORWARD_DEPTH`] and `budget` messages. The parts stay in the
/// attachment list (to save or open).
fn forwarded_inline(
    body: &mut String,
    v: &MessageView,
    utc_offset_minutes: i32,
    depth: usize,
    budget: &mut usize,
) {
    if depth > MAX_FORWARD_DEPTH {
        return;
    }
    for a in &v.attachments {
        if !matches!(a.mime.as_str(), "message/rfc822" | "message/global") {
            continue;
        }
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        // A forwarded message is held decoded (never left encoded).
        let Some(data) = a.data(&v.raw) else {
            continue;
        };
        let inner = crate::mail::view(data.into_owned());
        let date = match inner
            .date
            .as_ref()
            .map(|d| full_date(d, utc_offset_minutes))
        {
            Some(d) if !d.is_empty() => d,
            _ => inner.date_text.clone(),
        };
        let bar = "-".repeat(10);
        body.push_str(&format!(
            "\n\n{bar} Forwarded message {bar}\nFrom: {}\nTo: {}\n",
            inner.from, inner.to
        ));
        if !inner.cc.is_empty() {
            body.push_str(&format!("Cc: {}\n", inner.cc));
        }
        body.push_str(&format!("Date: {date}\nSubject: {}\n\n", inner.subject));
        body.push_str(&inner.body);
        forwarded_inline(body, &inner, utc_offset_minutes, depth + 1, budget);
    }
}

#[derive(Clone, Debug)]
pub enum Content {
    Loading { bytes: u64, total: u64, peek: bool },
    Ready { doc: Box<Doc>, peek: bool },
}

/// What a line of the laid-out message is, for styling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// A header: the first `label` bytes of the text are the name.
    Header {
        label: usize,
    },
    Body,
    Attachment {
        selected: bool,
    },
    Note,
    Rule,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocLine {
    pub kind: LineKind,
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct Reader {
    pub key: MsgKey,
    pub ticket: Ticket,
    /// The LIST size.
    pub size: u64,
    pub content: Content,
    pub raw: bool,
    pub full_headers: bool,
    pub scroll: usize,
    /// Save target: `0..attachments` or `attachments` for the whole message.
    pub selected: usize,
    pub lines: Vec<DocLine>,
    laid_out_width: usize,
    /// When the download was asked for (for its rate and time left).
    loading_since: Instant,
}

/// The loading screen's numbers (see [`Reader::loading_status`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadingStatus {
    pub bytes: u64,
    pub total: u64,
    /// Whole percent of the LIST size, at most 100; `None` without a size.
    pub percent: Option<u64>,
    /// Bytes per second so far, once it means something.
    pub rate: Option<f64>,
    /// The rest at that rate.
    pub left: Option<Duration>,
}

/// No rate is shown before the download has run this long (the first
/// bytes say little about the link).
pub const RATE_AFTER: Duration = Duration::from_millis(500);

impl Reader {
    pub fn loading(key: MsgKey, ticket: Ticket, size: u64, peek: bool) -> Reader {
        Reader {
            key,
            ticket,
            size,
            content: Content::Loading {
                bytes: 0,
                total: size,
                peek,
            },
            raw: false,
            full_headers: false,
            scroll: 0,
            selected: 0,
            lines: Vec::new(),
            laid_out_width: 0,
            loading_since: Instant::now(),
        }
    }

    /// While loading: how far, how fast and how long still, at `now`.
    pub fn loading_status(&self, now: Instant) -> Option<LoadingStatus> {
        let Content::Loading { bytes, total, .. } = self.content else {
            return None;
        };
        let percent =
            (total > 0).then(|| (u128::from(bytes.min(total)) * 100 / u128::from(total)) as u64);
        let elapsed = now.saturating_duration_since(self.loading_since);
        let rate =
            (elapsed >= RATE_AFTER && bytes > 0).then(|| bytes as f64 / elapsed.as_secs_f64());
        let left = rate
            .filter(|_| total > bytes)
            .map(|r| Duration::from_secs_f64(((total - bytes) as f64 / r).min(1e7)));
        Some(LoadingStatus {
            bytes,
            total,
            percent,
            rate,
            left,
        })
    }

    pub fn doc(&self) -> Option<&Doc> {
        match &self.content {
            Content::Ready { doc, .. } => Some(doc),
            Content::Loading { .. } => None,
        }
    }

    pub fn is_peek(&self) -> bool {
        matches!(
            self.content,
            Content::Ready { peek: true, .. } | Content::Loading { peek: true, .. }
        )
    }

    /// An attachment (not the whole message) is the save target.
    pub fn attachment_selected(&self) -> bool {
        self.doc()
            .is_some_and(|d| self.selected < d.attachments.len())
    }

    /// Save targets: every attachment, then the whole message.
    pub fn targets(&self) -> usize {
        self.doc().map_or(0, |d| d.attachments.len() + 1)
    }

    /// Lay the message out for `w` cells.
    pub fn layout(&mut self, w: usize) {
        self.laid_out_width = w;
        let w = w.max(1);
        let mut lines = Vec::new();
        let Some(doc) = self.doc() else {
            self.lines = lines;
            return;
        };
        if self.raw {
            for l in doc.raw_lines() {
                // A line of at most `w` bytes is at most `w` cells wide
                // (no character is wider than its UTF-8 bytes): no wrapping
                // to work out, which is most lines of a big message.
                if l.len() <= w {
                    lines.push(DocLine {
                        kind: LineKind::Body,
                        text: l,
                    });
                    continue;
                }
                for part in wrap(&l, w) {
                    lines.push(DocLine {
                        kind: LineKind::Body,
                        text: part,
                    });
                }
            }
            self.lines = lines;
            return;
        }
        let header = |lines: &mut Vec<DocLine>, name: &str, value: &str| {
            let label = format!("{name}: ");
            let lw = width(&label).min(w.saturating_sub(1));
            let indent = " ".repeat(lw);
            for (i, part) in wrap(value, w.saturating_sub(lw).max(1))
                .into_iter()
                .enumerate()
            {
                let text = if i == 0 {
                    format!("{label}{part}")
                } else {
                    format!("{indent}{part}")
                };
                lines.push(DocLine {
                    kind: LineKind::Header {
                        label: if i == 0 { label.len() } else { 0 },
                    },
                    text,
                });
            }
        };
        if self.full_headers {
            for (n, v) in &doc.headers {
                header(&mut lines, n, v);
            }
        } else {
            header(&mut lines, "From", &doc.from);
            header(&mut lines, "To", &doc.to);
            if !doc.cc.is_empty() {
                header(&mut lines, "Cc", &doc.cc);
            }
            header(&mut lines, "Date", &doc.date);
            header(&mut lines, "Subject", &doc.subject);
        }
        let note = |lines: &mut Vec<DocLine>, text: String| {
            for part in wrap(&text, w) {
                lines.push(DocLine {
                    kind: LineKind::Note,
                    text: part,
                });
            }
        };
        if self.is_peek() {
            note(
                &mut lines,
                format!("Peek: headers and the first {PEEK_LINES} body lines only."),
            );
        }
        if let Some(n) = &doc.parse_note {
            note(&mut lines, format!("Note: {n}"));
        }
        if doc.body_from_html {
            note(&mut lines, "(converted from HTML)".to_string());
        }
        if !doc.attachments.is_empty() {
            for (i, a) in doc.attachments.iter().enumerate() {
                let text = format!(
                    "{} [{}] {} ({}, {})",
                    if i == self.selected { '>' } else { ' ' },
                    i + 1,
                    a.name,
                    a.mime,
                    human_size(a.size)
                );
                lines.push(DocLine {
                    kind: LineKind::Attachment {
                        selected: i == self.selected,
                    },
                    text: crate::text::fit(&text, w),
                });
            }
            let i = doc.attachments.len();
            lines.push(DocLine {
                kind: LineKind::Attachment {
                    selected: i == self.selected,
                },
                text: crate::text::fit(
                    &format!(
                        "{} [{}] the whole message as .eml ({})",
                        if i == self.selected { '>' } else { ' ' },
                        i + 1,
                        human_size(doc.raw_len)
                    ),
                    w,
                ),
            });
        }
        lines.push(DocLine {
            kind: LineKind::Rule,
            text: "─".repeat(w),
        });
        for part in wrap(&doc.body, w) {
            lines.push(DocLine {
                kind: LineKind::Body,
                text: part,
            });
        }
        self.lines = lines;
    }

    pub fn relayout(&mut self) {
        let w = self.laid_out_width;
        self.layout(w);
    }

    /// A save job for the selected target (an attachment left encoded is
    /// decoded here); none while loading, and none from a peek (its
    /// attachments and source are cut off). `Err` says why.
    pub fn save_job(&self, dir: &Path) -> Result<SaveJob, String> {
        let doc = match self.doc() {
            Some(doc) if !self.is_peek() => doc,
            _ => return Err("the message is still loading".to_string()),
        };
        let (name, data) = match doc.attachments.get(self.selected) {
            Some(a) => (
                a.name.clone(),
                doc.attachment_data(self.selected)
                    .ok_or_else(|| undecodable(&a.name))?
                    .into_owned(),
            ),
            None => (format!("message-{}.eml", self.key.number), doc.raw.clone()),
        };
        Ok(SaveJob {
            dir: dir.to_path_buf(),
            name: safe_base_name(&name),
            data,
        })
    }
}

/// What the reader says when an attachment left encoded can't be decoded
/// from the message it came from.
pub fn undecodable(name: &str) -> String {
    format!(
        "{name} could not be decoded from the message: save the whole message \
         (on the last line of the attachment list) and open it in another mail program"
    )
}

/// Whether two keys name the same message: by UID when the first has one
/// (numbers shift between sessions), else by number.
pub fn same_message(a: &MsgKey, b: &MsgKey) -> bool {
    match &a.uid {
        Some(_) => a.uid == b.uid,
        None => a == b,
    }
}

/// A file to write; run by the terminal loop off the UI state (the app
/// itself never touches the disk).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaveJob {
    pub dir: PathBuf,
    /// A safe base name (no path separators, no leading dots).
    pub name: String,
    pub data: Vec<u8>,
}

impl SaveJob {
    /// Write into `dir` without overwriting: `name`, else `name-1`, `name-2`...
    /// The file is created private (0600 on Unix): a saved mail is as
    /// personal as the mailbox.
    pub fn write(&self) -> Result<PathBuf, String> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let (stem, ext) = match self.name.rfind('.') {
            Some(i) if i > 0 => (&self.name[..i], &self.name[i..]),
            _ => (self.name.as_str(), ""),
        };
        for n in 0..1000 {
            let name = if n == 0 {
                self.name.clone()
            } else {
                format!("{stem}-{n}{ext}")
            };
            let path = self.dir.join(name);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&path) {
                Ok(mut f) => {
                    f.write_all(&self.data)
                        .and_then(|_| f.sync_all())
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    return Ok(path);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
            }
        }
        Err(format!(
            "too many files named like {} in {}",
            self.name,
            self.dir.display()
        ))
    }
}

/// A base name that stays inside the save directory: the last path
/// component, no controls, no leading dots, at most 120 characters.
pub fn safe_base_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = clean_line(base)
        .chars()
        .filter(|c| !matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|'))
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let short: String = trimmed.chars().take(120).collect();
    if short.is_empty() {
        "attachment".to_string()
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_raw_view_keeps_indentation_and_drops_controls() {
        let v = MessageView {
            raw: b"Received: from a\r\n\tby b  (x)\r\nSubject: \x1b]0;t\x07hi\r\n".to_vec(),
            ..MessageView::default()
        };
        let d = Doc::from_view(v);
        let raw_lines: Vec<String> = d.raw_lines().collect();
        assert_eq!(raw_lines[0], "Received: from a");
        assert!(
            raw_lines[1].starts_with("        by b  (x)"),
            "{:?}",
            raw_lines[1]
        );
        assert_eq!(raw_lines[2], "Subject: hi");
    }

    use super::*;

    #[test]
    fn loading_status_gives_percent_then_rate_and_time_left() {
        let key = MsgKey {
            number: 1,
            uid: None,
            generation: 0,
        };
        let mut r = Reader::loading(key, 1, 40_000_000, false);
        let t0 = r.loading_since;
        let st = r.loading_status(t0).unwrap();
        assert_eq!((st.percent, st.rate, st.left), (Some(0), None, None));
        r.content = Content::Loading {
            bytes: 10_000_000,
            total: 40_000_000,
            peek: false,
        };
        // Too early for a rate.
        let st = r.loading_status(t0 + Duration::from_millis(100)).unwrap();
        assert_eq!((st.percent, st.rate), (Some(25), None));
        // 10 MB in 2 s: 5 MB/s, 30 MB left: 6 s.
        let st = r.loading_status(t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(st.rate, Some(5_000_000.0));
        assert_eq!(st.left, Some(Duration::from_secs(6)));
        // A server sending more than it listed: 100 %, nothing left.
        r.content = Content::Loading {
            bytes: 50_000_000,
            total: 40_000_000,
            peek: false,
        };
        let st = r.loading_status(t0 + Duration::from_secs(2)).unwrap();
        assert_eq!((st.percent, st.left), (Some(100), None));
        // No size: no percent, never a division by zero.
        r.content = Content::Loading {
            bytes: 5,
            total: 0,
            peek: false,
        };
        assert_eq!(
            r.loading_status(t0 + Duration::from_secs(2))
                .unwrap()
                .percent,
            None
        );
    }

    #[test]
    fn raw_lines_never_overflow_the_width() {
        let raw =
            "Subject: 日本語のメール 🎉🎉🎉 café\r\nab\r\n\r\n\u{65e5}\u{672c}x\r\n".repeat(3);
        let v = MessageView {
            raw: raw.into_bytes(),
            ..MessageView::default()
        };
        let key = MsgKey {
            number: 1,
            uid: None,
            generation: 0,
        };
        let mut r = Reader::loading(key, 1, 1, false);
        r.content = Content::Ready {
            doc: Box::new(Doc::from_view(v)),
            peek: false,
        };
        r.raw = true;
        // From 2 cells: a wide character can't be split below that.
        for w in 2..40 {
            r.layout(w);
            for l in &r.lines {
                assert!(width(&l.text) <= w, "{w}: {:?}", l.text);
            }
        }
    }

    #[test]
    fn base_names_stay_inside() {
        assert_eq!(safe_base_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_base_name("..\\..\\x.exe"), "x.exe");
        assert_eq!(safe_base_name(".."), "attachment");
        assert_eq!(safe_base_name(".bashrc"), "bashrc");
        assert_eq!(safe_base_name("a\u{7}b\u{202E}.pdf"), "ab.pdf");
        assert_eq!(safe_base_name("dir/"), "attachment");
    }

    #[test]
    fn save_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let job = SaveJob {
            dir: dir.path().to_path_buf(),
            name: "a.txt".into(),
            data: b"one".to_vec(),
        };
        let p1 = job.write().unwrap();
        let p2 = job.write().unwrap();
        assert_eq!(p1, dir.path().join("a.txt"));
        assert_eq!(p2, dir.path().join("a-1.txt"));
        assert_eq!(std::fs::read(&p2).unwrap(), b"one");
    }

    #[cfg(unix)]
    #[test]
    fn saved_files_are_private_whatever_the_umask_allows() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let job = SaveJob {
            dir: dir.path().to_path_buf(),
            name: "secret.pdf".into(),
            data: b"x".to_vec(),
        };
        for _ in 0..2 {
            let p = job.write().unwrap();
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }

    #[test]
    fn a_peek_gives_no_save_job() {
        let v = MessageView {
            raw: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
            ..MessageView::default()
        };
        let key = MsgKey {
            number: 1,
            uid: None,
            generation: 0,
        };
        let mut r = Reader::loading(key, 1, 1, true);
        r.content = Content::Ready {
            doc: Box::new(Doc::from_view(v.clone())),
            peek: true,
        };
        assert!(r.save_job(Path::new(".")).is_err());
        r.content = Content::Ready {
            doc: Box::new(Doc::from_view(v)),
            peek: false,
        };
        assert!(r.save_job(Path::new(".")).is_ok());
    }
}
