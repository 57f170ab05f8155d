//! PURE application state: `App::handle(event) -> Vec<Request>`.
//!
//! Nothing here blocks, touches the network or the disk. The terminal loop
//! (`crate::tui`) feeds every input — worker events, keys, mouse, resizes,
//! ticks — through [`App::handle`], sends the returned [`Request`]s to the
//! worker, runs [`App::take_save_jobs`] off-thread, and draws with
//! `crate::ui::draw(frame, &app)`, which only reads.
//!
//! The worker is the source of truth for marks: a mark the user asked for is
//! shown as pending (`d`/`u` in the mark column) until `Event::Marks` says
//! otherwise, and the display always converges to what the worker reports.

pub mod format;
pub mod list;
pub mod reader;

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use crate::action::Action;
use crate::keymap::Keymap;
use crate::pop3::ErrorKind;
use crate::ui::text::clean_line;
use crate::worker::api::{
    CertTrust, ConnectionInfo, Event, MsgKey, Request, Secret, Ticket, TlsState, WorkerError,
};

pub use list::{MarkState, Row, RowInfo, SortDone, SortJob, SortKey};
pub use reader::{Content, Doc, DocLine, LineKind, PEEK_LINES, Reader, SaveJob};

/// Everything the UI thread reacts to, through one funnel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppEvent {
    Worker(Event),
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// About every 250 ms; expires notices and detects double clicks.
    Tick,
    /// A save job finished (sent by the terminal loop).
    Saved(Result<PathBuf, String>),
    /// A background sort finished (sent by the terminal loop).
    Sorted(SortDone),
    /// A message or a peek, already made into a [`Doc`] by [`prepare`] on
    /// the worker's side of the channel: sanitizing a 6 MB message takes
    /// over 100 ms, which the UI thread must not spend.
    Ready {
        ticket: Ticket,
        key: MsgKey,
        doc: Box<Doc>,
    },
}

/// Turns a worker event into the app event the UI thread receives, doing
/// the heavy part (a message's [`Doc`]) on the calling thread.
pub fn prepare(ev: Event) -> AppEvent {
    match ev {
        Event::Message { ticket, key, view } | Event::Peeked { ticket, key, view } => {
            AppEvent::Ready {
                ticket,
                key,
                doc: Box::new(Doc::from_view(*view)),
            }
        }
        other => AppEvent::Worker(other),
    }
}

/// Settings the app starts with.
#[derive(Clone, Debug)]
pub struct AppOptions {
    /// Shown in the header (e.g. `alice@example.org`).
    pub account_label: String,
    pub keymap: Keymap,
    /// Messages above this many octets ask before downloading.
    pub big_message_threshold: u64,
    /// No foreground/background colours (NO_COLOR): meaning by symbols and
    /// modifiers only.
    pub no_color: bool,
    /// Where `s` saves attachments and messages.
    pub save_dir: PathBuf,
    /// The viewer's zone, minutes east of UTC, for the date column.
    pub utc_offset_minutes: i32,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            account_label: String::new(),
            keymap: Keymap::defaults(),
            big_message_threshold: 5 * 1024 * 1024,
            no_color: false,
            save_dir: PathBuf::from("."),
            utc_offset_minutes: 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    List,
    Reader,
    Help,
}

/// A modal question on top of the screen. Its keys are fixed and printed in
/// the dialog itself.
#[derive(Clone, PartialEq, Eq)]
pub enum Dialog {
    /// Quit with marks pending: `d` delete them now, `k` keep all, `esc` cancel.
    Quit { pending: usize },
    /// Open a message bigger than the threshold: `y`/`enter` download, `p`
    /// peek at the first lines, `esc` cancel.
    BigMessage { key: MsgKey, size: u64 },
    /// The server refused the credentials. The typed password lives only
    /// here and is moved into `Request::Password` on enter.
    Password { reason: String, input: String },
}

impl std::fmt::Debug for Dialog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dialog::Quit { pending } => f.debug_struct("Quit").field("pending", pending).finish(),
            Dialog::BigMessage { key, size } => f
                .debug_struct("BigMessage")
                .field("key", key)
                .field("size", size)
                .finish(),
            Dialog::Password { reason, input } => f
                .debug_struct("Password")
                .field("reason", reason)
                .field("typed_chars", &input.chars().count())
                .finish(),
        }
    }
}

/// Where the session stands, for the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnState {
    Starting,
    Connecting { attempt: u32 },
    LoadingPreviews { done: usize, total: usize },
    Idle,
    Reconnecting { attempt: u32, delay_secs: u64 },
    Offline,
    Closing,
}

/// An error in words, with what to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorNote {
    pub kind: Option<ErrorKind>,
    pub message: String,
    pub advice: &'static str,
    pub fatal: bool,
}

/// What to tell the user to do about an error kind.
pub fn advice(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Auth => "check the user name and password (or password_command) in the config",
        ErrorKind::InUse => "another mail client holds the mailbox: close it, then press r",
        ErrorKind::LoginDelay => "the server wants a pause between logins: popview retries later",
        ErrorKind::TempFailure => "a temporary server problem: popview retries; press r to try now",
        ErrorKind::PermFailure => "the server refuses for good: contact the mail provider",
        ErrorKind::Network => "check the network and the host/port: popview retries",
        ErrorKind::Timeout => "the server is slow or unreachable: popview retries",
        ErrorKind::Tls => {
            "the certificate was not accepted: check the host name, or pin its fingerprint"
        }
        ErrorKind::Protocol => "the server sent something unexpected: try again with r",
        ErrorKind::Refused => "the server refused this command",
        ErrorKind::Local => "a local problem, not the server: the message says what to do",
    }
}

const NOTICE_TICKS: u64 = 20; // about 5 s
const DOUBLE_CLICK_TICKS: u64 = 1; // same or next tick: < 500 ms
const SLOW_CLOSE_TICKS: u64 = 20;

/// The whole UI state.
#[derive(Debug)]
pub struct App {
    opts: AppOptions,
    now: i64,
    ticks: u64,
    /// The rows' generation at the previous tick (idle detection).
    generation_at_tick: u64,
    /// The chosen sort is being computed in the background.
    sort_pending: bool,
    /// What the last commit did, to report after the screen is gone.
    outcome: Option<String>,
    size: (u16, u16),
    screen: Screen,
    dialog: Option<Dialog>,
    rows: list::Rows,
    sort: SortKey,
    descending: bool,
    filter: String,
    editing_filter: bool,
    view_dirty: bool,
    cursor: usize,
    offset: usize,
    last_visible: Vec<MsgKey>,
    reader: Option<Reader>,
    next_ticket: Ticket,
    help_scroll: usize,
    conn: ConnState,
    info: Option<ConnectionInfo>,
    no_uidl: Option<String>,
    notice: Option<(String, u64)>,
    error: Option<ErrorNote>,
    /// Mark writes sent to the worker (see `Event::Marks::settled`).
    writes_sent: u64,
    marked_count: usize,
    last_click: Option<(usize, u64)>,
    closing_since: Option<u64>,
    worker_gone: bool,
    quit: bool,
    save_jobs: Vec<SaveJob>,
    redraw: bool,
    stale_dropped: u64,
}

impl App {
    pub fn new(opts: AppOptions) -> App {
        App {
            opts,
            now: 0,
            ticks: 0,
            generation_at_tick: u64::MAX,
            sort_pending: false,
            outcome: None,
            size: (80, 24),
            screen: Screen::List,
            dialog: None,
            rows: list::Rows::default(),
            sort: SortKey::Arrival,
            descending: true,
            filter: String::new(),
            editing_filter: false,
            view_dirty: false,
            cursor: 0,
            offset: 0,
            last_visible: Vec::new(),
            reader: None,
            next_ticket: 1,
            help_scroll: 0,
            conn: ConnState::Starting,
            info: None,
            no_uidl: None,
            notice: None,
            error: None,
            writes_sent: 0,
            marked_count: 0,
            last_click: None,
            closing_since: None,
            worker_gone: false,
            quit: false,
            save_jobs: Vec::new(),
            redraw: true,
            stale_dropped: 0,
        }
    }

    // ----- read access (for the view and for tests) -----

    pub fn should_quit(&self) -> bool {
        self.quit
    }
    pub fn options(&self) -> &AppOptions {
        &self.opts
    }
    pub fn keymap(&self) -> &Keymap {
        &self.opts.keymap
    }
    pub fn now(&self) -> i64 {
        self.now
    }
    pub fn screen(&self) -> Screen {
        self.screen
    }
    pub fn dialog(&self) -> Option<&Dialog> {
        self.dialog.as_ref()
    }
    pub fn reader(&self) -> Option<&Reader> {
        self.reader.as_ref()
    }
    pub fn conn_state(&self) -> &ConnState {
        &self.conn
    }
    pub fn connection(&self) -> Option<&ConnectionInfo> {
        self.info.as_ref()
    }
    pub fn no_uidl_reason(&self) -> Option<&str> {
        self.no_uidl.as_deref()
    }
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_ref().map(|(s, _)| s.as_str())
    }
    pub fn error(&self) -> Option<&ErrorNote> {
        self.error.as_ref()
    }
    pub fn filter(&self) -> &str {
        &self.filter
    }
    pub fn editing_filter(&self) -> bool {
        self.editing_filter
    }
    pub fn sort(&self) -> (SortKey, bool) {
        (self.sort, self.descending)
    }
    pub fn help_scroll(&self) -> usize {
        self.help_scroll
    }
    pub fn is_closing(&self) -> bool {
        self.closing_since.is_some()
    }
    pub fn worker_gone(&self) -> bool {
        self.worker_gone
    }
    /// How many retrieve/peek answers were dropped as stale.
    pub fn stale_dropped(&self) -> u64 {
        self.stale_dropped
    }
    /// Every message in the listing (server order).
    pub fn rows(&self) -> &[Row] {
        &self.rows.rows
    }
    pub fn row(&self, key: &MsgKey) -> Option<&Row> {
        self.rows.find(key).map(|i| &self.rows.rows[i])
    }
    pub fn mark_state(&self, key: &MsgKey) -> Option<MarkState> {
        self.row(key).map(Row::mark_state)
    }
    /// How many rows the list shows (after the filter).
    pub fn view_len(&self) -> usize {
        self.rows.view.len()
    }
    /// The row shown at view position `pos`.
    pub fn view_row(&self, pos: usize) -> Option<&Row> {
        self.rows.view.get(pos).map(|&i| &self.rows.rows[i])
    }
    /// The keys in list order (allocates; for tests and tools).
    pub fn view_keys(&self) -> Vec<MsgKey> {
        self.rows
            .view
            .iter()
            .map(|&i| self.rows.rows[i].key.clone())
            .collect()
    }
    pub fn cursor(&self) -> usize {
        self.cursor
    }
    pub fn cursor_key(&self) -> Option<&MsgKey> {
        self.view_row(self.cursor).map(|r| &r.key)
    }
    pub fn offset(&self) -> usize {
        self.offset
    }
    pub fn total_size(&self) -> u64 {
        self.rows.total_size
    }
    pub fn previews_loaded(&self) -> usize {
        self.rows.with_preview
    }
    /// Messages that will be deleted on commit (including marks being sent).
    pub fn marked_count(&self) -> usize {
        self.marked_count
    }
    /// The terminal size the app last heard of.
    pub fn size(&self) -> (u16, u16) {
        self.size
    }
    /// The loud warning the header must show, if the connection is unsafe.
    pub fn tls_warning(&self) -> Option<&'static str> {
        let info = self.info.as_ref()?;
        let loopback = ["127.", "localhost:", "[::1]:"]
            .iter()
            .any(|p| info.server.starts_with(p));
        match &info.tls {
            TlsState::None if loopback => Some(
                "no TLS: the server runs on this machine (loopback), so nothing crosses the network",
            ),
            TlsState::None => Some(
                "NOT ENCRYPTED (tls = none in the config): password and mail cross the network in clear text",
            ),
            TlsState::Implicit(d) | TlsState::StartTls(d) if d.trust == CertTrust::Unverified => {
                Some(
                    "CERTIFICATE NOT VERIFIED (switched off in the config): others may read your password and mail",
                )
            }
            _ => None,
        }
    }

    // ----- the clock and the outside world -----

    /// Set the wall clock (Unix seconds) used for "today" in the date column.
    pub fn set_now(&mut self, now: i64) {
        if now / 60 != self.now / 60 {
            self.redraw = true;
        }
        self.now = now;
    }

    /// The worker's channel is closed: nothing more can be sent. Quitting
    /// becomes immediate.
    pub fn set_worker_gone(&mut self, reason: &str) {
        if self.worker_gone {
            return;
        }
        self.worker_gone = true;
        self.conn = ConnState::Offline;
        self.redraw = true;
        if self.closing_since.is_some() {
            self.quit = true;
            return;
        }
        self.error = Some(ErrorNote {
            kind: None,
            message: format!("the mail worker stopped ({})", clean_line(reason)),
            advice: "press q to leave; nothing was deleted that was not committed",
            fatal: true,
        });
    }

    /// Files to write, taken by the terminal loop.
    pub fn take_save_jobs(&mut self) -> Vec<SaveJob> {
        std::mem::take(&mut self.save_jobs)
    }

    /// Sorts of a big list, for the terminal loop to run off this thread
    /// and hand back as [`AppEvent::Sorted`].
    pub fn take_sort_jobs(&mut self) -> Vec<SortJob> {
        self.rows.take_sort_jobs()
    }

    /// What the last commit did (for the line printed after the TUI ends).
    pub fn outcome(&self) -> Option<&str> {
        self.outcome.as_deref()
    }

    /// A sort is running in the background (the list shows the previous
    /// order meanwhile).
    pub fn sort_pending(&self) -> bool {
        self.sort_pending
    }

    /// Whether the screen must be drawn again; resets the flag.
    pub fn take_redraw(&mut self) -> bool {
        std::mem::take(&mut self.redraw)
    }

    // ----- the update function -----

    pub fn handle(&mut self, ev: AppEvent) -> Vec<Request> {
        let mut out = Vec::new();
        let is_preview = matches!(ev, AppEvent::Worker(Event::Previews(_)));
        let mut redraw = true;
        match ev {
            AppEvent::Worker(e) => self.on_worker(e),
            AppEvent::Ready { ticket, key, doc } => self.on_ready(ticket, key, doc),
            AppEvent::Key(k) => {
                if k.kind != KeyEventKind::Release {
                    self.on_key(k, &mut out);
                } else {
                    redraw = false;
                }
            }
            AppEvent::Mouse(m) => self.on_mouse(m, &mut out),
            AppEvent::Resize(w, h) => {
                self.size = (w, h);
                if let Some(r) = &mut self.reader {
                    r.layout(w as usize);
                }
            }
            AppEvent::Tick => redraw = self.on_tick(),
            AppEvent::Sorted(done) => {
                if self.rows.sorted(done) && self.sort_pending {
                    self.rebuild_view(true);
                } else {
                    redraw = false;
                }
            }
            AppEvent::Saved(res) => match res {
                Ok(path) => self.set_notice(format!(
                    "saved to {}",
                    clean_line(&path.display().to_string())
                )),
                Err(e) => {
                    self.error = Some(ErrorNote {
                        kind: None,
                        message: format!("could not save: {}", clean_line(&e)),
                        advice: "check save_dir in the config and the free space",
                        fatal: false,
                    })
                }
            },
        }
        if self.view_dirty && !is_preview {
            self.rebuild_view(true);
        }
        self.clamp_scroll();
        self.sync_visible(&mut out);
        if redraw {
            self.redraw = true;
        }
        out
    }

    fn set_notice(&mut self, s: String) {
        self.notice = Some((s, self.ticks + NOTICE_TICKS));
    }

    fn on_tick(&mut self) -> bool {
        self.ticks += 1;
        let mut changed = false;
        // Idle (no listing or preview since the last tick): prepare one more
        // sort order so a later `o` is a copy, not a sort of every row.
        let generation = self.rows.generation();
        if generation == self.generation_at_tick {
            self.rows.warm_one_order();
        }
        self.generation_at_tick = generation;
        if let Some((_, until)) = &self.notice
            && *until <= self.ticks
        {
            self.notice = None;
            changed = true;
        }
        if let Some(since) = self.closing_since
            && self.ticks - since == SLOW_CLOSE_TICKS
        {
            self.set_notice(
                "the server is slow to close the session: press q again to leave without waiting"
                    .to_string(),
            );
            changed = true;
        }
        changed || self.view_dirty
    }

    // ----- worker events -----

    /// A message or peek arrived. `Peeked` and `Message` share the shape;
    /// they are told apart by what the reader asked for.
    fn on_ready(&mut self, ticket: Ticket, key: MsgKey, doc: Box<Doc>) {
        match &mut self.reader {
            Some(r) if r.ticket == ticket && r.key == key => {
                let peek = matches!(r.content, Content::Loading { peek: true, .. });
                r.content = Content::Ready { doc, peek };
                r.scroll = 0;
                r.selected = 0;
                let w = self.size.0 as usize;
                r.layout(w);
            }
            _ => self.stale_dropped += 1,
        }
    }

    fn on_worker(&mut self, e: Event) {
        match e {
            Event::Connecting { attempt, .. } => {
                if self.closing_since.is_none() {
                    self.conn = ConnState::Connecting { attempt };
                }
            }
            Event::Connected(info) => {
                let mut info = *info;
                info.server = clean_line(&info.server);
                info.greeting = clean_line(&info.greeting);
                info.auth_method = clean_line(&info.auth_method);
                info.implementation = info.implementation.as_deref().map(clean_line);
                if let Some(e) = &self.error
                    && !e.fatal
                {
                    self.error = None;
                }
                self.info = Some(info);
                if self.closing_since.is_none() {
                    self.conn = ConnState::Idle;
                }
            }
            Event::Listing {
                entries,
                no_uidl_reason,
            } => {
                self.no_uidl = no_uidl_reason.as_deref().map(clean_line);
                let keep = self.cursor_key().cloned();
                let pos = self.cursor;
                let first = self.rows.is_empty();
                let new = self.rows.merge(entries);
                self.sort_pending = !self.rows.sort(self.sort, self.descending, &self.filter);
                self.view_dirty = false;
                self.restore_cursor(keep.as_ref(), Some(pos));
                self.recount_marks();
                if !first && new > 0 {
                    self.set_notice(format!(
                        "{new} new message{}",
                        if new == 1 { "" } else { "s" }
                    ));
                }
            }
            Event::Previews(batch) => {
                for (key, summary) in batch {
                    if let Some(i) = self.rows.find(&key) {
                        self.rows.set_info(i, RowInfo::from_summary(&summary));
                    }
                }
                if self.sort.needs_previews() || !self.filter.is_empty() {
                    self.view_dirty = true;
                }
            }
            Event::Progress { done, total, .. } => {
                if !matches!(
                    self.conn,
                    ConnState::Closing | ConnState::Reconnecting { .. }
                ) {
                    self.conn = if done < total {
                        ConnState::LoadingPreviews { done, total }
                    } else {
                        ConnState::Idle
                    };
                }
            }
            Event::RetrieveProgress {
                ticket,
                bytes,
                total,
            } => {
                if let Some(r) = &mut self.reader
                    && r.ticket == ticket
                    && let Content::Loading {
                        bytes: b, total: t, ..
                    } = &mut r.content
                {
                    *b = bytes;
                    *t = total;
                }
            }
            Event::Message { ticket, key, view } | Event::Peeked { ticket, key, view } => {
                self.on_ready(ticket, key, Box::new(Doc::from_view(*view)));
            }
            Event::ReadFailed {
                ticket,
                key,
                reason,
            } => match &self.reader {
                Some(r) if r.ticket == ticket && r.key == key => {
                    self.reader = None;
                    self.screen = Screen::List;
                    self.error = Some(ErrorNote {
                        kind: None,
                        message: clean_line(&reason),
                        advice: "the message was not opened",
                        fatal: false,
                    });
                }
                _ => self.stale_dropped += 1,
            },
            Event::MarkRefused { key, reason } => {
                if let Some(i) = self.rows.find(&key) {
                    self.rows.rows[i].pending = None;
                }
                self.recount_marks();
                self.set_notice(clean_line(&reason));
            }
            Event::Marks {
                marked,
                restored,
                settled,
            } => {
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
                self.recount_marks();
                if restored && !marked.is_empty() {
                    self.set_notice(format!(
                        "{} deletion mark(s) restored from the last session: pending, not committed ({} undoes all)",
                        marked.len(),
                        self.opts.keymap.hint(Action::UnmarkAll)
                    ));
                }
            }
            Event::Notice(s) => self.set_notice(clean_line(&s)),
            Event::Error(WorkerError {
                kind,
                message,
                fatal,
            }) => {
                self.error = Some(ErrorNote {
                    kind: Some(kind),
                    message: clean_line(&message),
                    advice: advice(kind),
                    fatal,
                });
                if fatal && self.closing_since.is_none() {
                    self.conn = ConnState::Offline;
                }
            }
            Event::PasswordNeeded { reason } => {
                self.dialog = Some(Dialog::Password {
                    reason: clean_line(&reason),
                    input: String::with_capacity(128),
                });
            }
            Event::Reconnecting {
                attempt,
                delay_secs,
                reason,
            } => {
                if self.closing_since.is_none() {
                    self.conn = ConnState::Reconnecting {
                        attempt,
                        delay_secs,
                    };
                }
                self.set_notice(format!("connection lost: {}", clean_line(&reason)));
            }
            Event::Reconnected { marks_reapplied } => {
                if self.closing_since.is_none() {
                    self.conn = ConnState::Idle;
                }
                if let Some(e) = &self.error
                    && !e.fatal
                {
                    self.error = None;
                }
                self.set_notice(format!(
                    "reconnected; {marks_reapplied} deletion mark(s) applied again"
                ));
            }
            Event::Committed {
                deleted,
                already_gone,
            } => {
                let mut s = format!("deleted {deleted} message(s) on the server");
                if !already_gone.is_empty() {
                    s.push_str(&format!("; {} were already gone", already_gone.len()));
                }
                self.outcome = Some(s.clone());
                self.set_notice(s);
            }
            Event::Closed { committed } => {
                self.conn = ConnState::Offline;
                if self.closing_since.is_some() {
                    self.quit = true;
                } else {
                    // The worker ended on its own: stay, explain, let q leave.
                    self.worker_gone = true;
                    self.error = Some(ErrorNote {
                        kind: None,
                        message: format!(
                            "the session ended{}",
                            if committed { " (marks committed)" } else { "" }
                        ),
                        advice: "press q to leave",
                        fatal: true,
                    });
                }
            }
        }
    }

    fn recount_marks(&mut self) {
        self.marked_count = self.rows.marked_count();
    }

    /// After the view changed, put the cursor back on `keep` if it is still
    /// listed, else at the same position.
    /// (`pos` is `None` to fall back to the first row.)
    fn restore_cursor(&mut self, keep: Option<&MsgKey>, pos: Option<usize>) {
        let found = keep.and_then(|k| {
            let i = self.rows.find(k)?;
            self.rows.view.iter().position(|&v| v == i)
        });
        let len = self.rows.view.len();
        self.cursor = found.unwrap_or(pos.unwrap_or(0).min(len.saturating_sub(1)));
        self.ensure_cursor_visible();
    }

    fn rebuild_view(&mut self, resort: bool) {
        let keep = self.cursor_key().cloned();
        let pos = self.cursor;
        if resort {
            self.sort_pending = !self.rows.sort(self.sort, self.descending, &self.filter);
        } else {
            self.rows.filter(&self.filter, false);
        }
        self.view_dirty = false;
        // A filter change that hides the current message starts at the top.
        self.restore_cursor(keep.as_ref(), resort.then_some(pos));
    }

    // ----- geometry -----

    fn regions(&self) -> crate::ui::Regions {
        crate::ui::layout(
            Rect::new(0, 0, self.size.0, self.size.1),
            self.tls_warning().is_some(),
            self.error.is_some(),
        )
    }

    /// Rows of the list that fit on screen.
    pub fn list_height(&self) -> usize {
        crate::ui::list_rows(self.regions().body) as usize
    }

    /// Lines of a message the reader shows at once.
    fn body_height(&self) -> usize {
        crate::ui::reader_rows(self.regions().body) as usize
    }

    fn ensure_cursor_visible(&mut self) {
        let h = self.list_height().max(1);
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + h {
            self.offset = self.cursor + 1 - h;
        }
    }

    fn clamp_scroll(&mut self) {
        let len = self.rows.view.len();
        if self.cursor >= len {
            self.cursor = len.saturating_sub(1);
        }
        let h = self.list_height().max(1);
        self.offset = self.offset.min(len.saturating_sub(h));
        self.ensure_cursor_visible();
        let bh = self.body_height();
        if let Some(r) = &mut self.reader {
            r.scroll = r.scroll.min(r.lines.len().saturating_sub(bh));
        }
    }

    /// Tell the worker which rows are on screen, when that set changed.
    fn sync_visible(&mut self, out: &mut Vec<Request>) {
        if self.closing_since.is_some() || self.worker_gone {
            return;
        }
        let h = self.list_height();
        let end = (self.offset + h).min(self.rows.view.len());
        let start = self.offset.min(end);
        let slice = &self.rows.view[start..end];
        let same = slice.len() == self.last_visible.len()
            && slice
                .iter()
                .zip(&self.last_visible)
                .all(|(&i, k)| self.rows.rows[i].key == *k);
        if same {
            return;
        }
        self.last_visible = slice
            .iter()
            .map(|&i| self.rows.rows[i].key.clone())
            .collect();
        if !self.last_visible.is_empty() {
            out.push(Request::Visible(self.last_visible.clone()));
        }
    }

    // ----- keys -----

    fn on_key(&mut self, k: KeyEvent, out: &mut Vec<Request>) {
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

    fn move_cursor(&mut self, delta: isize) {
        let len = self.rows.view.len();
        if len == 0 {
            return;
        }
        let c = self.cursor as isize + delta;
        self.cursor = c.clamp(0, len as isize - 1) as usize;
        self.ensure_cursor_visible();
    }

    fn list_action(&mut self, action: Action, out: &mut Vec<Request>) {
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
            Action::Help => {}
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

    fn mark(&mut self, key: &MsgKey, out: &mut Vec<Request>) {
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

    fn unmark(&mut self, key: &MsgKey, out: &mut Vec<Request>) {
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

    fn unmark_all(&mut self, out: &mut Vec<Request>) {
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

    fn commit(&mut self, out: &mut Vec<Request>) {
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

    fn send_quit(&mut self, commit: bool, out: &mut Vec<Request>) {
        if self.worker_gone {
            self.quit = true;
            return;
        }
        out.push(Request::Quit { commit });
        self.closing_since = Some(self.ticks);
        self.conn = ConnState::Closing;
        self.screen = Screen::List;
    }

    fn open_at_cursor(&mut self, out: &mut Vec<Request>) {
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

    fn start_retrieve(&mut self, key: MsgKey, size: u64, peek: bool, out: &mut Vec<Request>) {
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

    fn cancel_loading(&mut self, out: &mut Vec<Request>) {
        if let Some(r) = &self.reader
            && matches!(r.content, Content::Loading { .. })
        {
            out.push(Request::CancelRetrieve { ticket: r.ticket });
        }
    }

    fn close_reader(&mut self, out: &mut Vec<Request>) {
        self.cancel_loading(out);
        self.reader = None;
        self.screen = Screen::List;
    }

    fn reader_action(&mut self, action: Action, out: &mut Vec<Request>) {
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
                self.send_quit(false, out);
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
            Action::Save => match r.save_job(&self.opts.save_dir) {
                Some(job) => {
                    self.set_notice(format!("saving {}…", job.name));
                    self.save_jobs.push(job);
                }
                None => self.set_notice("the message is still loading".to_string()),
            },
            Action::NextMessage | Action::NextMatch => self.step_message(1, out),
            Action::PrevMessage | Action::PrevMatch => self.step_message(-1, out),
            Action::Mark => {
                let key = r.key.clone();
                self.mark(&key, out);
            }
            Action::Unmark => {
                let key = r.key.clone();
                self.unmark(&key, out);
            }
            Action::UnmarkAll => self.unmark_all(out),
            Action::Commit => self.commit(out),
            Action::CheckMail => {
                out.push(Request::CheckNewMail);
                self.set_notice("checking for new mail…".to_string());
            }
            Action::Filter | Action::Sort | Action::ReverseSort | Action::Help => {}
        }
    }

    /// Open the next/previous message of the list from the reader.
    fn step_message(&mut self, d: isize, out: &mut Vec<Request>) {
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

    fn help_action(&mut self, action: Action) {
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

    fn filter_key(&mut self, k: KeyEvent) {
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

    fn dialog_key(&mut self, k: KeyEvent, out: &mut Vec<Request>) {
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
                        advice: "press q to leave, or set password_command in the config",
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

    fn on_mouse(&mut self, m: MouseEvent, out: &mut Vec<Request>) {
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
