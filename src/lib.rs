//! popview: a full-screen terminal reader for POP3 mailboxes.
//!
//! # How the threads talk
//!
//! ```text
//! input thread (crossterm keys, mouse, resize) --\
//! worker thread (owns the POP3 session) ----------+--> one mpsc<AppEvent> --> UI thread
//!   '-> parse thread (a user's reads: RETR/TOP k -/                          (Terminal + App)
//!       bytes -> MessageView -> app::prepare_in)  /
//! save threads (writing attachments) ------------/
//!        ^                                                                       |
//!        \------------- mpsc<Request> <-- Effect::Send of the Vec<Effect> from App::handle
//! ```
//!
//! - The **UI thread** ([`tui::run`]) owns the terminal and the [`app::App`]
//!   state. `App::handle(event)` is pure: it updates the state and returns
//!   every effect the event implies as data ([`app::Effect`]: a request for
//!   the worker, a file to save, a sort to run off the thread, a suspend, a
//!   redraw); the terminal loop is the only place that performs them.
//!   [`ui::draw`] only reads the state. The UI never touches the network, so
//!   it never blocks on it.
//! - The **worker thread** ([`worker::spawn`]) owns the POP3 session
//!   ([`pop3::Client`]). It streams `LIST`/`UIDL` and pipelined `TOP n 0`
//!   header previews as [`worker::Event`]s, serves `RETR`, `TOP n k`, `DELE`,
//!   `RSET` and `QUIT` requests, keeps the deletion marks by UID on disk
//!   ([`store`]) and replays them after a lost connection. Payloads are owned
//!   and parsed on the worker's side; the UI never parses MIME.
//! - The **parse thread** (`worker::run::Reads`, started with the worker,
//!   ended after it) receives the raw answer to a user's read and makes the
//!   [`mail::MessageView`] there, and its emit hook runs [`app::prepare_in`]
//!   (the sanitized [`app::Doc`], dated in the viewer's zone), so neither a
//!   6 MB message nor a hostile one (HTML is bounded by [`html`]) holds up
//!   the session: keepalives, marks and previews go on meanwhile, and the UI
//!   thread spends well under a millisecond on the result. Its answers keep
//!   their order among themselves, not against the worker's other events
//!   (tickets tell the UI which answer is current).
//! - Previews are asked for nearest to the screen first: newest first until
//!   the UI's `Request::Visible` says what it shows, then outward from
//!   there, with a bounded depth in flight so a new view is served within
//!   about two round trips. After `release_after` (`ui.release_after_secs`)
//!   without a user request, the worker ends the session deleting nothing
//!   (`RSET`, `QUIT`; `Event::Released`) and connects again at the user's
//!   next action.
//! - Every `Event::Marks` says how many of the UI's mark writes it settles;
//!   the UI shows a write as pending exactly until then. An idle session
//!   checks every two seconds that the server has not ended it.
//! - Reads are coalesced (a newer retrieve supersedes a queued older one,
//!   tickets let the UI drop stale answers); writes (mark, undo, undo all,
//!   commit, quit) are applied in order and never dropped.
//! - The worker's decisions (reconnects, backoff, marks, commits, cache
//!   hits) are `tracing` events, written only with `--debug-log FILE` or
//!   `POPVIEW_LOG` ([`debug_log`]), redacted like the wire trace.
//! - A thread ends when its `send` fails: the worker drops the session
//!   without `QUIT` (so nothing is deleted) when the UI is gone.
//!
//! # Layers
//!
//! Data flows one way: a module uses only modules of the layers below its
//! own, never one of its own layer or above (`tests/layers.rs` checks every
//! `crate::`/`super::` path in `src/`, and that sibling submodules form no
//! cycle; an exception would be listed there with its reason, and there is
//! none today).
//!
//! | layer | modules | uses today (any lower layer is allowed) |
//! |---|---|---|
//! | 9 start-up | [`setup`], [`debug_log`] | `setup`: `commands`, `cli`, `config`, `demo`, `worker`, `store`, `password`, `pop3`; `debug_log`: `commands` (its error), `cli`, `pop3` |
//! | 8 commands | [`commands`]: the scripting commands | `cli`, `app` (formats), `worker`, `password`, `store`, `pop3`, `mail`, `sanitize`, `pattern` |
//! | 7 terminal, arguments | [`tui`]: the terminal loop; [`cli`] | `tui`: `ui`, `app`, `worker`; `cli`: `install` |
//! | 6 view | [`ui`]: `draw(frame, &app)`, reads only | `app`, `layout`, `text`, `worker::api`, `action` |
//! | 5 state | [`app`]: pure state, `handle(event) -> effects` | `worker::api`, `layout`, `text`, `keymap`, `action`, `mail`, `pattern`, `pop3` (error kinds), `localbox` (a save's destination), `paths` |
//! | 4 settings | [`config`]: accounts, TLS policy, credentials, rules | `worker` (its config), `password`, `pop3`, `sanitize`, `oauth` (its settings), `pattern` (rules), `localbox` (`save_to`), `paths` |
//! | 3 session | [`worker`]: the thread that owns the POP3 session; [`oauth`]: OAuth2 tokens (device grant, refresh exchange) | `worker`: `store`, `bodycache`, `pop3`, `mail`, `sanitize`, `text`, `localbox` (the TUI's saves); `oauth`: `store` (the token file), `password`, `sanitize` |
//! | 2 below the session | [`store`], [`password`], [`layout`] (screen geometry), [`demo`], [`pattern`] (mutt's patterns), [`localbox`] (Maildir/mbox), [`bodycache`] (messages read, by UID and size) | `store`: `pop3`, `mail`, `sanitize`; `layout`: `text`; `demo`: `pop3`; `pattern`: `mail`, `sanitize`; `localbox`: `mail`; `bodycache`: `pop3`, `private_fs` |
//! | 1 pure adapters | [`pop3`], [`mail`], [`text`] (display width, cleaning), [`keymap`] | `sanitize`, `html` (`mail`), `action` (`keymap`) |
//! | 0 foundation | [`sanitize`], [`html`], [`action`], [`install`], [`mailcap`] (RFC 1524 viewers), [`private_fs`] (0700 dirs, 0600 files, durable renames), [`paths`] (the `~` rule) | nothing in the crate |
//!
//! - [`pop3`]: the protocol, no UI types, no threads; pure parsing in
//!   [`pop3::response`], a session over any stream in [`pop3::client`].
//! - [`worker`]: a thin loop around the protocol: retry policy, pipelining
//!   priorities, marks bookkeeping ([`worker::marks`], pure).
//! - [`mail`], [`html`], [`sanitize`], [`text`]: pure adapters: untrusted
//!   bytes to owned, terminal-safe text, measured and cut by display width;
//!   [`html`] within bounds of time and memory.
//! - [`app`], [`action`], [`keymap`], [`layout`], [`ui`], [`tui`]: state, key
//!   bindings, screen geometry (shared by the app's scrolling and mouse hits
//!   and the view), rendering, the terminal loop.
//! - [`config`], [`password`], [`cli`], [`setup`], [`commands`]: how a user
//!   reaches an account, and the scripting commands; [`install`] (below
//!   [`cli`], given its `clap::Command`): completions and the man page.
//! - [`bodycache`]: the optional cache of messages read (`cache_bodies`),
//!   by UID and size, least recently used evicted; the worker answers a
//!   cached read with no `RETR` (also offline) and keeps what it reads on
//!   its own thread (`popview-bodies`, which also sends the cached texts
//!   for `~b`).
//! - [`localbox`]: keeping messages locally (`popview save`): Maildir
//!   delivery, mboxrd appends under lock, the record of what was saved.
//! - [`demo`]: an in-process POP3 server over the sample mailbox in
//!   `assets/demo/` (`popview --demo`), also the tests' scripted peer.
//! - `main.rs` (the binary) sits on top of all of them: it wires the worker's
//!   parse thread to [`app::prepare_in`], so the worker never names the app.
//!
//! # Where a change goes
//!
//! - **A key action**: the variant, its name and help line in [`action`]
//!   (`Action::ALL` lists it), its default key in [`keymap`]; what it does
//!   in one `App` method in `src/app/` (routed from `app/input.rs` for the
//!   list, `app/reader_keys.rs` for the reader). The help screen, the
//!   `[keys]` config check and the README's key table follow from these
//!   (tests compare them).
//! - **A setting**: one row in `config/settings.rs` (key, section, kind,
//!   default, help): the "unknown key, did you mean" check, the README's
//!   table and `assets/config.example.toml` are checked against it; the
//!   value is read in one match arm (`config/parse/account.rs` `fields` for
//!   an account, `config/parse/mod.rs` for `[ui]`) into a field of
//!   `config::Account` or `config::UiConfig`.
//! - **A worker request**: the variant in `worker/api.rs`, one arm in
//!   `worker/run/mod.rs` (`take_request`: a read to coalesce, or a write
//!   queued in order as an `Op`), the work in `worker/run/ops.rs` or a file
//!   of its own under `worker/run/`; the app sends it as `Effect::Send`, and
//!   its answer is an `Event` routed by `app/worker_events.rs`.
//! - **A POP3 command**: the variant, its wire form and its redacted form
//!   in `pop3/command.rs`, its answer's shape in `pop3/response.rs` if new,
//!   a method on `pop3::Client`; byte-transcript tests in `tests/pop3_*.rs`.
//! - **An effect** (something the terminal loop does: run a process, write
//!   a file): the `app::Effect` variant and one arm in `tui`'s
//!   `Outside::dispatch`; its outcome comes back as an `AppEvent`.

pub mod action;
pub mod app;
pub mod bodycache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod debug_log;
pub mod demo;
pub mod html;
pub mod install;
pub mod keymap;
pub mod layout;
pub mod localbox;
pub mod mail;
pub mod mailcap;
pub mod oauth;
pub mod password;
pub mod paths;
pub mod pattern;
pub mod pop3;
pub mod private_fs;
pub mod sanitize;
pub mod setup;
pub mod store;
pub mod text;
pub mod tui;
pub mod ui;
pub mod worker;
