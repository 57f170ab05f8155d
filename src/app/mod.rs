//! PURE application state: `App::handle(event) -> Vec<Effect>`.
//!
//! Nothing here blocks, touches the network or the disk. The terminal loop
//! (`crate::tui`) feeds every input — worker events, keys, mouse, resizes,
//! the clock, ticks — through [`App::handle`] and performs the [`Effect`]s
//! it returns, in order: requests to the worker, files to write and sorts
//! to run off the UI thread, a suspend, a redraw with
//! `crate::ui::draw(frame, &app)`, which only reads. The terminal loop is
//! the only place that performs an effect.
//!
//! The worker is the source of truth for marks: a mark the user asked for is
//! shown as pending (`d`/`u` in the mark column) until an `Event::Marks`
//! counts it as settled, and then shows what the worker reports.
//!
//! The update function is split by what it reacts to: `worker_events`,
//! `input` (list, help, filter, dialogs, mouse), `reader_keys` and
//! `marking`; `mod.rs` keeps the state, its accessors and the view.

mod accounts;
mod cached_bodies;
mod choices;
pub mod complete;
pub mod external;
pub mod format;
mod input;
pub mod line_edit;
pub mod list;
mod listing_events;
mod mark_events;
mod marking;
mod read_events;
pub mod reader;
mod reader_keys;
mod review;
mod save;
mod triage;
mod worker_events;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use crate::action::Action;
use crate::keymap::Keymap;
use crate::layout;
use crate::pop3::ErrorKind;
use crate::text::clean_line;
use crate::worker::api::{
    CertTrust, ConnectionInfo, Event, MsgKey, Request, Secret, Ticket, TlsState, WorkerError,
};

pub use accounts::AccountEntry;
pub use choices::{Answer, Choice};
pub use list::{MarkState, Row, RowInfo, SortDone, SortJob, SortKey};
pub use reader::{Content, Doc, DocLine, LineKind, PEEK_LINES, Reader, SaveJob};
pub use save::{MailboxAnswer, MailboxQuery, SavePrompt, SavePurpose, SaveRunning};
pub use triage::{
    BODY_CACHE_BYTES, BulkChange, BulkPlan, FilterJob, FilterVerdicts, PatternPrompt,
    PatternPurpose, RulesProposal,
};

/// Everything the UI thread reacts to, through one funnel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppEvent {
    Worker(Event),
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// About every 250 ms; expires notices and detects double clicks.
    Tick,
    /// The wall clock (Unix seconds), for "today" in the date column and
    /// the reconnect countdown; sent at start and with every tick.
    Clock(i64),
    /// What the filter (`filter_command`) said of the messages it was given.
    Filtered(triage::FilterVerdicts),
    /// The worker's channel closed (a send failed): nothing more can be
    /// sent, and quitting becomes immediate.
    WorkerGone(String),
    /// A save job finished (sent by the terminal loop).
    Saved(Result<PathBuf, String>),
    /// What the terminal loop found about a path typed at a save prompt.
    Mailbox(save::MailboxAnswer),
    /// A background sort finished (sent by the terminal loop).
    Sorted(SortDone),
    /// A pipe, viewer or browser the terminal loop ran has ended.
    External(external::ExternalDone),
    /// A message or a peek, already made into a [`Doc`] by [`prepare`] on
    /// the worker's side of the channel: sanitizing a 6 MB message takes
    /// over 100 ms, which the UI thread must not spend.
    Ready {
        ticket: Ticket,
        key: MsgKey,
        doc: Box<Doc>,
    },
}

/// What [`App::handle`] asks of the world, in the order to perform it. The
/// terminal loop answers `Save` with [`AppEvent::Saved`] and `Sort` with
/// [`AppEvent::Sorted`].
#[derive(Debug)]
pub enum Effect {
    /// Send this to the worker.
    Send(Request),
    /// Write a file, off the UI thread.
    Save(SaveJob),
    /// List a folder or look at a path typed at a save prompt; answered
    /// with [`AppEvent::Mailbox`].
    Mailbox(save::MailboxQuery),
    /// Sort a big list, off the UI thread.
    Sort(SortJob),
    /// Give the terminal back and stop like any job (Ctrl-Z); redraw all
    /// at the terminal's size when continued.
    Suspend,
    /// Draw the screen again.
    Redraw,
    /// Keep the pattern history (newest last) for the next start.
    SaveHistory(Vec<String>),
    /// Run mpop's filter on these messages' headers, off the UI thread;
    /// answered with [`AppEvent::Filtered`].
    Filter(triage::FilterJob),
    /// Hand the terminal over and run `sh -c` with the message on its
    /// standard input; answered with [`AppEvent::External`].
    Pipe(external::PipeJob),
    /// Open a part with the user's viewer (mailcap, else `xdg-open`);
    /// answered with [`AppEvent::External`].
    OpenPart(external::OpenJob),
    /// Open a URL the user confirmed (`$BROWSER`, else `xdg-open`);
    /// answered with [`AppEvent::External`].
    OpenUrl(String),
}

/// [`prepare_in`] with dates in UTC (the default [`AppOptions`] zone).
pub fn prepare(ev: Event) -> AppEvent {
    prepare_in(ev, 0)
}

/// Turns a worker event into the app event the UI thread receives, doing
/// the heavy part (a message's [`Doc`], its date in the viewer's zone
/// `utc_offset_minutes`, as [`AppOptions::utc_offset_minutes`]) on the
/// calling thread.
pub fn prepare_in(ev: Event, utc_offset_minutes: i32) -> AppEvent {
    match ev {
        Event::Message { ticket, key, view } | Event::Peeked { ticket, key, view } => {
            AppEvent::Ready {
                ticket,
                key,
                doc: Box::new(Doc::from_view_in(*view, utc_offset_minutes)),
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
    /// The account's own Authentication-Results id: only its verdicts
    /// count for the hints (`~V`, the `!` flag).
    pub authserv_id: Option<String>,
    /// The pattern prompts' history from earlier sessions, newest last.
    pub pattern_history: Vec<String>,
    /// Saved rules (`[rules.NAME]`): name and pattern; their matches are
    /// proposed after each listing, never marked unasked.
    pub rules: Vec<(String, String)>,
    /// mpop's filter (`filter_command`): run on each message's headers;
    /// its "delete" verdicts join the rules' proposal.
    pub filter_command: Option<String>,
    /// The configured accounts, for the accounts screen (`c`), read from
    /// disk before the app starts.
    pub accounts: Vec<AccountEntry>,
    /// The account's `save_to`: the first default of the save prompts.
    pub save_to: Option<crate::localbox::Destination>,
    /// Where the record of saved messages lives (`None`: not kept).
    pub saved_index_dir: Option<PathBuf>,
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
            authserv_id: None,
            pattern_history: Vec::new(),
            rules: Vec::new(),
            filter_command: None,
            accounts: Vec::new(),
            save_to: None,
            saved_index_dir: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    List,
    Reader,
    Help,
    /// Every marked message, to check before committing (`M`).
    Review,
    /// The configured accounts, to switch to another (`c`).
    Accounts,
}

/// A modal question on top of the screen. Every key it accepts is listed
/// by [`App::dialog_choices`], and the dialog's text is generated from that
/// list, so what it says and what it does can't drift apart.
#[derive(Clone, PartialEq, Eq)]
pub enum Dialog {
    /// Quit with marks pending: delete them, forget them, or leave them on
    /// disk for the next start.
    Quit(MarkSummary),
    /// Commit now (`$`): delete the marked messages on the server.
    Commit(MarkSummary),
    /// Undo every mark, when that drops more than one.
    UnmarkAll(MarkSummary),
    /// Open a message bigger than the threshold: download, peek or cancel.
    BigMessage { key: MsgKey, size: u64 },
    /// The server refused the credentials. The typed password lives only
    /// here and is moved into `Request::Password` on enter.
    Password { reason: String, input: String },
    /// A bulk change of marks (`D`, `U`, `;d`, `z`): how many messages,
    /// how much data, asked before it is applied.
    Bulk(BulkPlan),
    /// What the saved rules propose to mark: apply, show, or dismiss.
    Rules(RulesProposal),
}

/// What a deletion question is about: the marks, as the user can know them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkSummary {
    /// Marked messages the list shows.
    pub shown: usize,
    /// Their sizes as LIST reported them, summed.
    pub bytes: u64,
    /// Marks the list can't show (restored from disk while the server is
    /// away, or on a server without UIDL): what is known of each (its
    /// unique id, sanitized and shortened).
    pub unshown: Vec<String>,
    /// Why the list can't show them, in words.
    pub unshown_why: &'static str,
    /// Marks kept by unique id, which can stay on disk for the next start.
    pub keepable: usize,
}

impl MarkSummary {
    /// Every mark: shown and unshown.
    pub fn total(&self) -> usize {
        self.shown + self.unshown.len()
    }
}

impl std::fmt::Debug for Dialog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dialog::Quit(m) => f.debug_tuple("Quit").field(m).finish(),
            Dialog::Commit(m) => f.debug_tuple("Commit").field(m).finish(),
            Dialog::UnmarkAll(m) => f.debug_tuple("UnmarkAll").field(m).finish(),
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
            Dialog::Bulk(p) => f.debug_tuple("Bulk").field(p).finish(),
            Dialog::Rules(p) => f.debug_tuple("Rules").field(p).finish(),
        }
    }
}

/// Where the session stands, for the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnState {
    Starting,
    Connecting {
        attempt: u32,
    },
    /// Logged in: the listing is being taken in, and the previews the
    /// header cache has (until the progress of the rest says more).
    Listing,
    LoadingPreviews {
        done: usize,
        total: usize,
    },
    Idle,
    Reconnecting {
        attempt: u32,
        delay_secs: u64,
    },
    Released,
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
        ErrorKind::Tls => "nothing was sent without TLS: the message says what to change",
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
    /// The rows are the last session's, from the cache: no session has
    /// listed yet (see `Event::CachedListing`).
    cached_list: bool,
    info: Option<ConnectionInfo>,
    no_uidl: Option<String>,
    notice: Option<(String, u64)>,
    error: Option<ErrorNote>,
    /// Mark writes sent to the worker (see `Event::Marks::settled`).
    writes_sent: u64,
    marked_count: usize,
    /// The marks as the worker last reported them.
    worker_marks: Vec<MsgKey>,
    /// Reported marks the list has no row for (restored while offline, or
    /// on a server without UIDL).
    unshown_marks: Vec<MsgKey>,
    /// The worker waits for a password (its prompt's text), until one is
    /// sent: after the prompt was cancelled, `r` asks again.
    password_wanted: Option<String>,
    /// When the worker's next connection attempt is due (Unix seconds), for
    /// a countdown that counts down.
    reconnect_at: Option<i64>,
    last_click: Option<(usize, u64)>,
    closing_since: Option<u64>,
    worker_gone: bool,
    quit: bool,
    /// Effects decided below `handle` (a file to save, a suspend), returned
    /// by the same `handle` call after its requests.
    effects: Vec<Effect>,
    /// Requests a worker event implies (a download to cancel), returned by
    /// the same `handle` call.
    from_events: Vec<Request>,
    stale_dropped: u64,
    // ----- triage (see `triage`) -----
    prompt: Option<PatternPrompt>,
    pattern_history: Vec<String>,
    limit: Option<triage::Limit>,
    /// The rows' generation the limit's mask was computed at.
    limit_generation: Option<u64>,
    tag_prefix: bool,
    bulk_undo: Vec<BulkChange>,
    /// A listing came: the rules propose once its previews are in.
    rules_due: bool,
    /// The filter runs; the proposal waits for its verdicts.
    filter_running: bool,
    /// What the filter proposed for deletion, for the next proposal.
    filter_hits: Vec<MsgKey>,
    /// Texts of messages read in full this session, by UID, for `~b`.
    bodies: HashMap<String, Arc<str>>,
    body_order: VecDeque<String>,
    body_bytes: usize,
    /// How many rows carry each Message-ID, for `~=`.
    message_ids: HashMap<String, usize>,
    review_cursor: usize,
    review_offset: usize,
    /// Pipe, open and links (see `external`).
    external: external::External,
    /// The accounts screen's cursor.
    accounts_cursor: usize,
    /// The account chosen on the accounts screen: the session ends (asked
    /// like quitting when marks are pending) and the terminal loop's
    /// caller starts this one.
    switch_to: Option<String>,
    /// The save prompts and the running save (see `save`).
    save: save::SaveState,
}

impl App {
    pub fn new(opts: AppOptions) -> App {
        let pattern_history = line_edit::cleaned(opts.pattern_history.clone());
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
            cached_list: false,
            info: None,
            no_uidl: None,
            notice: None,
            error: None,
            writes_sent: 0,
            marked_count: 0,
            worker_marks: Vec::new(),
            unshown_marks: Vec::new(),
            password_wanted: None,
            reconnect_at: None,
            last_click: None,
            closing_since: None,
            worker_gone: false,
            quit: false,
            effects: Vec::new(),
            from_events: Vec::new(),
            stale_dropped: 0,
            prompt: None,
            pattern_history,
            limit: None,
            limit_generation: None,
            tag_prefix: false,
            bulk_undo: Vec::new(),
            rules_due: false,
            filter_running: false,
            filter_hits: Vec::new(),
            bodies: HashMap::new(),
            body_order: VecDeque::new(),
            body_bytes: 0,
            message_ids: HashMap::new(),
            review_cursor: 0,
            review_offset: 0,
            external: external::External::default(),
            accounts_cursor: 0,
            switch_to: None,
            save: save::SaveState::default(),
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
    /// The rows shown are the cached listing of the last session, not yet
    /// confirmed by the server.
    pub fn list_is_cached(&self) -> bool {
        self.cached_list
    }

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
    /// Marks the worker holds that the list has no row for.
    pub fn unshown_marks(&self) -> &[MsgKey] {
        &self.unshown_marks
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

    /// Set the wall clock (Unix seconds) used for "today" in the date
    /// column; whether the screen changes.
    fn set_now(&mut self, now: i64) -> bool {
        let changed = now / 60 != self.now / 60;
        self.now = now;
        changed
    }

    /// The worker's channel is closed: nothing more can be sent. Quitting
    /// becomes immediate.
    fn on_worker_gone(&mut self, reason: &str) {
        if self.worker_gone {
            return;
        }
        self.worker_gone = true;
        self.conn = ConnState::Offline;
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

    /// What the last commit did (for the line printed after the TUI ends).
    pub fn outcome(&self) -> Option<&str> {
        self.outcome.as_deref()
    }

    /// A sort is running in the background (the list shows the previous
    /// order meanwhile).
    pub fn sort_pending(&self) -> bool {
        self.sort_pending
    }

    // ----- the update function -----

    /// Take in one event; return what the world must do about it.
    pub fn handle(&mut self, ev: AppEvent) -> Vec<Effect> {
        let mut out = Vec::new();
        let is_preview = matches!(ev, AppEvent::Worker(Event::Previews(_)));
        let mut redraw = true;
        match ev {
            AppEvent::Worker(e) => {
                self.on_worker(e);
                out.append(&mut self.from_events);
            }
            AppEvent::Ready { ticket, key, doc } => self.on_ready(ticket, key, doc),
            AppEvent::Key(k) => {
                if k.kind != KeyEventKind::Release {
                    // The save prompt types every key (`m` and `|` too).
                    if self.save_prompt().is_some() && self.dialog.is_none() {
                        self.save_prompt_key(k, &mut out);
                    } else if !self.external_key(&k, &mut out) {
                        self.on_key(k, &mut out);
                    }
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
            AppEvent::Clock(now) => redraw = self.set_now(now),
            AppEvent::WorkerGone(reason) => self.on_worker_gone(&reason),
            AppEvent::Filtered(v) => self.on_filtered(v),
            AppEvent::Sorted(done) => {
                if self.rows.sorted(done) && self.sort_pending {
                    self.rebuild_view(true);
                } else {
                    redraw = false;
                }
            }
            AppEvent::External(done) => self.on_external(done),
            AppEvent::Mailbox(a) => self.on_mailbox_answer(a, &mut out),
            AppEvent::Saved(res) => match res {
                Ok(path) => self.set_notice(format!(
                    "saved to {}",
                    clean_line(&path.display().to_string())
                )),
                Err(e) => {
                    self.error = Some(ErrorNote {
                        kind: None,
                        message: format!("could not save: {}", clean_line(&e)),
                        advice: "check that the folder exists and is writable, and the free space",
                        fatal: false,
                    })
                }
            },
        }
        if self.view_dirty && !is_preview {
            self.rebuild_view(true);
        }
        self.pipe_when_ready(&mut out);
        self.forget_stale_switch();
        self.clamp_scroll();
        self.sync_visible(&mut out);
        let mut effects: Vec<Effect> = out.into_iter().map(Effect::Send).collect();
        effects.append(&mut self.effects);
        effects.extend(self.rows.take_sort_jobs().into_iter().map(Effect::Sort));
        if redraw {
            effects.push(Effect::Redraw);
        }
        effects
    }

    fn set_notice(&mut self, s: String) {
        self.notice = Some((s, self.ticks + NOTICE_TICKS));
    }

    fn on_tick(&mut self) -> bool {
        self.ticks += 1;
        let mut changed = false;
        // A proposal held back by a dialog or a prompt comes once they close.
        if self.rules_due && self.conn == ConnState::Idle && self.dialog.is_none() {
            self.propose_rules();
            changed |= self.dialog.is_some();
        }
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
        // The reconnect countdown counts down, from the deadline it was
        // given (the clock comes in through `set_now`).
        if let (Some(at), ConnState::Reconnecting { delay_secs, .. }) =
            (self.reconnect_at, &mut self.conn)
        {
            let left = u64::try_from(at.saturating_sub(self.now)).unwrap_or(0);
            if left != *delay_secs {
                *delay_secs = left;
                changed = true;
            }
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

    fn recount_marks(&mut self) {
        self.marked_count = self.rows.marked_count();
        let rows = &self.rows;
        self.unshown_marks = self
            .worker_marks
            .iter()
            .filter(|k| rows.find(k).is_none())
            .cloned()
            .collect();
        // A question about the marks always shows the marks as they are now.
        let fresh = match &self.dialog {
            Some(Dialog::Quit(_) | Dialog::Commit(_) | Dialog::UnmarkAll(_)) => {
                Some(self.mark_summary())
            }
            _ => None,
        };
        if let Some(m) = fresh {
            match &mut self.dialog {
                Some(Dialog::UnmarkAll(_)) if m.total() < 2 => self.dialog = None,
                Some(Dialog::Quit(_) | Dialog::Commit(_)) if m.total() == 0 => self.dialog = None,
                Some(Dialog::Quit(d) | Dialog::Commit(d) | Dialog::UnmarkAll(d)) => *d = m,
                _ => {}
            }
        }
    }

    /// Where `key` is in the list as shown, if it is.
    /// Where the list shows `key`, if it does (the limit and the filter
    /// may hide it).
    pub fn view_pos_of(&self, key: &MsgKey) -> Option<usize> {
        self.view_pos(key)
    }

    fn view_pos(&self, key: &MsgKey) -> Option<usize> {
        let i = self.rows.find(key)?;
        self.rows.view.iter().position(|&v| v == i)
    }

    /// After the view changed, put the cursor back on `keep` if it is still
    /// listed, else at the same position.
    /// (`pos` is `None` to fall back to the first row.)
    fn restore_cursor(&mut self, keep: Option<&MsgKey>, pos: Option<usize>) {
        let found = keep.and_then(|k| self.view_pos(k));
        let len = self.rows.view.len();
        self.cursor = found.unwrap_or(pos.unwrap_or(0).min(len.saturating_sub(1)));
        self.ensure_cursor_visible();
    }

    fn rebuild_view(&mut self, resort: bool) {
        self.refresh_limit();
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

    /// How many lines the status line wants at width `w`: all of an error.
    pub fn status_lines(&self, w: u16) -> u16 {
        match self.error() {
            Some(e) if !self.editing_filter() && self.prompt.is_none() => {
                u16::try_from(layout::error_lines(&e.message, e.advice, w).len())
                    .unwrap_or(u16::MAX)
            }
            _ => 1,
        }
    }

    fn regions(&self) -> layout::Regions {
        layout::layout(
            Rect::new(0, 0, self.size.0, self.size.1),
            self.tls_warning().is_some(),
            self.status_lines(self.size.0),
        )
    }

    /// Rows of the list that fit on screen.
    pub fn list_height(&self) -> usize {
        layout::list_rows(self.regions().body) as usize
    }

    /// Lines of a message the reader shows at once.
    fn body_height(&self) -> usize {
        layout::reader_rows(self.regions().body) as usize
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
}
