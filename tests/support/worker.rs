//! Drives a popview worker thread from a test, as the UI would: requests in,
//! events out, every event kept for the failure message. Configurations for
//! a private [`Dovecot`] (direct POP3S, or through a [`Proxy`]) and on-disk
//! persistence in temp dirs.
//!
//! Unlike the rest of `support`, this module uses popview itself.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use popview::pop3::TlsMode;
use popview::pop3::transport::ConnectOptions;
use popview::worker::api::{Event, MsgKey, Request};
use popview::worker::persist::{OnDisk, Persist};
use popview::worker::{self, WorkerConfig};

use super::dovecot::Dovecot;
use super::proxy::Proxy;

/// How long [`Harness::wait`] waits for one event by default.
pub const WAIT: Duration = Duration::from_secs(20);

/// The account key the on-disk stores use.
pub const ACCOUNT: &str = "alice@localhost";

pub struct Harness {
    tx: Option<Sender<Request>>,
    rx: Option<Receiver<Event>>,
    /// Every event received so far, in order.
    pub seen: Vec<Event>,
    handle: Option<JoinHandle<()>>,
}

/// Fast retries so reconnect tests take milliseconds, not seconds.
fn tune(mut c: WorkerConfig, d: &Dovecot) -> WorkerConfig {
    c.connect.ca_file = Some(d.ca_pem.clone());
    c.connect.connect_timeout = Duration::from_secs(5);
    c.connect.io_timeout = Duration::from_secs(10);
    c.password = Some(d.password.clone().into());
    c.backoff = Duration::from_millis(50);
    c.max_backoff = Duration::from_millis(200);
    c
}

/// The in-process demo server on `port` (`demo`/`demo`, cleartext opted
/// in), with fast retries.
pub fn demo_config(port: u16) -> WorkerConfig {
    let mut c = WorkerConfig::new(
        ConnectOptions::new("127.0.0.1", port, TlsMode::None),
        "demo",
    );
    c.password = Some("demo".into());
    c.allow_cleartext = true;
    c.backoff = Duration::from_millis(50);
    c.max_backoff = Duration::from_millis(200);
    c
}

/// POP3S straight to Dovecot, verified against the test CA.
pub fn dovecot_config(d: &Dovecot) -> WorkerConfig {
    tune(
        WorkerConfig::new(
            ConnectOptions::new("localhost", d.tls_port, TlsMode::Implicit),
            &d.user,
        ),
        d,
    )
}

/// Through `proxy` with `mode` (the proxy must front the matching Dovecot
/// port: the TLS port for `Implicit`, the plain one otherwise). `TlsMode::None`
/// opts in to cleartext, so the proxy can read the commands.
pub fn proxied_config(d: &Dovecot, proxy: &Proxy, mode: TlsMode) -> WorkerConfig {
    let mut c = tune(
        WorkerConfig::new(
            ConnectOptions::new("localhost", proxy.port(), mode),
            &d.user,
        ),
        d,
    );
    if mode == TlsMode::None {
        c.allow_cleartext = true;
    }
    c
}

/// Temp dirs for an [`OnDisk`] store: split cache and data roots, like the
/// real XDG layout.
pub struct Dirs {
    _tmp: tempfile::TempDir,
    pub cache: PathBuf,
    pub data: PathBuf,
}

impl Dirs {
    pub fn new() -> Dirs {
        let tmp = tempfile::tempdir_in(super::temp_root()).expect("temp dir");
        let cache = tmp.path().join("cache");
        let data = tmp.path().join("data");
        Dirs {
            _tmp: tmp,
            cache,
            data,
        }
    }

    pub fn store(&self) -> popview::store::Store {
        popview::store::Store::open_split(&self.cache, &self.data, ACCOUNT).expect("open store")
    }

    pub fn persist(&self) -> Box<dyn Persist> {
        Box::new(OnDisk::new(self.store(), true, true))
    }

    /// The marks file as a fresh store reads it.
    pub fn marks(&self) -> Vec<String> {
        self.store().load_marks()
    }

    /// UIDs in the header cache file as a fresh store reads it.
    pub fn cached_uids(&self) -> Vec<String> {
        let mut v: Vec<String> = self.store().load_headers().into_keys().collect();
        v.sort();
        v
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }
}

impl Default for Dirs {
    fn default() -> Self {
        Dirs::new()
    }
}

impl Harness {
    pub fn start(cfg: WorkerConfig, persist: Box<dyn Persist>) -> Harness {
        let (tx, req_rx) = mpsc::channel();
        let (ev_tx, rx) = mpsc::channel();
        let handle = worker::spawn(cfg, persist, req_rx, move |e| ev_tx.send(e).is_ok());
        Harness {
            tx: Some(tx),
            rx: Some(rx),
            seen: Vec::new(),
            handle: Some(handle),
        }
    }

    /// Next event within `dur`, kept in `seen`; `None` on timeout or when
    /// the worker is gone.
    pub fn next(&mut self, dur: Duration) -> Option<Event> {
        let e = self.rx.as_ref()?.recv_timeout(dur).ok()?;
        self.seen.push(e.clone());
        Some(e)
    }

    /// Waits for an event matching `pred` (up to [`WAIT`]); panics with
    /// every event seen on timeout.
    pub fn wait(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        match self.try_wait(WAIT, &pred) {
            Some(e) => e,
            None => panic!(
                "timed out waiting for {what}; saw:\n{}",
                summary(&self.seen)
            ),
        }
    }

    /// Like [`Harness::wait`] but returns `None` on timeout.
    pub fn try_wait(&mut self, dur: Duration, pred: impl Fn(&Event) -> bool) -> Option<Event> {
        let end = Instant::now() + dur;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let e = self.next(left)?;
            if pred(&e) {
                return Some(e);
            }
        }
    }

    /// Collects events for `dur` (a quiet period check).
    pub fn idle(&mut self, dur: Duration) -> Vec<Event> {
        let end = Instant::now() + dur;
        let mut got = Vec::new();
        while let Some(e) = self.next(end.saturating_duration_since(Instant::now())) {
            got.push(e);
        }
        got
    }

    /// [`Harness::send`] that reports a worker gone instead of panicking.
    pub fn try_send(&self, r: Request) -> Result<(), ()> {
        match self.tx.as_ref() {
            Some(tx) => tx.send(r).map_err(|_| ()),
            None => Err(()),
        }
    }

    pub fn send(&self, r: Request) {
        self.tx
            .as_ref()
            .expect("request channel")
            .send(r)
            .expect("worker is gone");
    }

    /// The next full listing, whole, with the reason there are no UIDs.
    pub fn listing_entries(&mut self) -> (Vec<popview::worker::api::ListEntry>, Option<String>) {
        match self.wait("listing", |e| matches!(e, Event::Listing { .. })) {
            Event::Listing {
                entries,
                no_uidl_reason,
            } => (entries, no_uidl_reason),
            _ => unreachable!(),
        }
    }

    /// The next full listing, as keys.
    pub fn listing(&mut self) -> Vec<MsgKey> {
        match self.wait("listing", |e| matches!(e, Event::Listing { .. })) {
            Event::Listing { entries, .. } => entries.into_iter().map(|e| e.key).collect(),
            _ => unreachable!(),
        }
    }

    /// The next `Marks` event holding exactly these UIDs (any order).
    /// Wait until exactly `n` messages are marked.
    pub fn marks(&mut self, n: usize) -> Vec<MsgKey> {
        match self.wait(
            &format!("{n} marks"),
            |e| matches!(e, Event::Marks { marked, .. } if marked.len() == n),
        ) {
            Event::Marks { marked, .. } => marked,
            _ => unreachable!(),
        }
    }

    pub fn marks_exactly(&mut self, uids: &[&str]) -> Vec<MsgKey> {
        let mut want: Vec<String> = uids.iter().map(|s| s.to_string()).collect();
        want.sort();
        match self.wait(&format!("marks {want:?}"), |e| match e {
            Event::Marks { marked, .. } => uids_of(marked) == want,
            _ => false,
        }) {
            Event::Marks { marked, .. } => marked,
            _ => unreachable!(),
        }
    }

    pub fn previews_loaded(&mut self) {
        self.wait(
            "all previews",
            |e| matches!(e, Event::Progress { done, total, .. } if done == total),
        );
    }

    /// Sends `Quit`, waits for `Closed`, joins the thread; returns every event.
    pub fn quit(mut self, commit: bool) -> Vec<Event> {
        self.send(Request::Quit { commit });
        self.wait("closed", |e| matches!(e, Event::Closed { .. }));
        self.join();
        std::mem::take(&mut self.seen)
    }

    /// The UI dies: both channel ends dropped at once, no `Quit`. Waits for
    /// the worker thread to end.
    pub fn crash(mut self) -> Vec<Event> {
        self.tx = None;
        self.rx = None;
        self.join();
        std::mem::take(&mut self.seen)
    }

    fn join(&mut self) {
        if let Some(h) = self.handle.take() {
            // A worker that never ends fails the test through its timeout.
            let end = Instant::now() + WAIT;
            while !h.is_finished() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(h.is_finished(), "the worker thread did not end");
            h.join().expect("worker thread panicked");
        }
    }

    /// Previews received, those the cached list showed before connecting
    /// included (see [`Harness::count_session_previews`]).
    pub fn count_previews(&self) -> usize {
        self.seen
            .iter()
            .map(|e| match e {
                Event::Previews(v) => v.len(),
                _ => 0,
            })
            .sum()
    }

    /// Previews received since the last session's listing (not the cached
    /// list's, sent before connecting).
    pub fn count_session_previews(&self) -> usize {
        let from = self
            .seen
            .iter()
            .rposition(|e| matches!(e, Event::Listing { .. }))
            .unwrap_or(0);
        self.seen[from..]
            .iter()
            .map(|e| match e {
                Event::Previews(v) => v.len(),
                _ => 0,
            })
            .sum()
    }

    pub fn errors(&self) -> Vec<String> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                Event::Error(w) => Some(w.message.clone()),
                _ => None,
            })
            .collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // Never leave a worker holding a session: drop the channels so it
        // ends without QUIT.
        self.tx = None;
        self.rx = None;
    }
}

/// Sorted UIDs of keys.
pub fn uids_of(keys: &[MsgKey]) -> Vec<String> {
    let mut v: Vec<String> = keys.iter().filter_map(|k| k.uid.clone()).collect();
    v.sort();
    v
}

/// What the server holds now, by an independent POP3S session
/// ([`Dovecot::uidls`]), retried up to three times when that session itself
/// fails: on these machines a socket read with a timeout occasionally
/// returns EINTR in the middle of the TLS handshake, and the raw session
/// panics on it. The check is read-only, so retrying can't change what it
/// sees.
pub fn server_uidls(d: &Dovecot) -> Vec<String> {
    server_uidls_of(d, &d.user, &d.password)
}

/// [`server_uidls`] for another user.
pub fn server_uidls_of(d: &Dovecot, user: &str, password: &str) -> Vec<String> {
    let mut last = String::new();
    for _ in 0..3 {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| d.uidls_of(user, password)))
        {
            Ok(v) => return v,
            Err(p) => {
                last = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    panic!("the independent UIDL check failed three times; last: {last}");
}

/// One line per event, listings and previews shortened: readable in a
/// failure message.
pub fn summary(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        let line = match e {
            Event::Listing { entries, .. } => format!("Listing({} entries)", entries.len()),
            Event::Previews(v) => format!("Previews({})", v.len()),
            Event::Connected(i) => format!("Connected({:?}, {})", i.tls, i.auth_method),
            Event::Marks {
                marked, restored, ..
            } => {
                format!("Marks({:?}, restored {restored})", uids_of(marked))
            }
            Event::Message { ticket, key, view } => {
                format!(
                    "Message(ticket {ticket}, {key:?}, {} bytes)",
                    view.raw.len()
                )
            }
            Event::Peeked { ticket, key, .. } => format!("Peeked(ticket {ticket}, {key:?})"),
            other => format!("{other:?}"),
        };
        out.push_str("    ");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A logged-in POP3S session as the main user (another client), whose
/// connect and login are retried like [`server_uidls`]: a failed attempt
/// has sent no command yet.
pub fn other_client(
    d: &Dovecot,
) -> super::rawpop::Session<native_tls::TlsStream<super::rawpop::Tcp>> {
    for _ in 0..2 {
        if let Ok(s) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| d.pop3s_session()))
        {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    d.pop3s_session()
}

/// Holds the first command line a fake server receives that a test picks
/// (by default the first `TOP`) until released, so that requests the test
/// sends meanwhile reach a worker that is still waiting on that answer.
#[derive(Clone, Default)]
pub struct FirstTopGate(std::sync::Arc<(std::sync::Mutex<(bool, bool)>, std::sync::Condvar)>);

impl FirstTopGate {
    /// Server options whose hook holds the first `TOP` (at most 20 s).
    pub fn options(&self) -> popview::demo::server::ServerOptions {
        self.options_holding(|ctx| ctx.line.starts_with("TOP "))
    }

    /// Server options whose hook holds the first line `pick` chooses.
    pub fn options_holding(
        &self,
        pick: impl Fn(&popview::demo::server::Ctx<'_>) -> bool + Send + Sync + 'static,
    ) -> popview::demo::server::ServerOptions {
        let held = self.clone();
        popview::demo::server::ServerOptions {
            hook: Some(std::sync::Arc::new(move |ctx| {
                if pick(ctx) {
                    let (lock, cv) = &*held.0;
                    let mut g = lock.lock().unwrap();
                    if !g.0 {
                        // (entered, released): the first one enters and waits.
                        g.0 = true;
                        cv.notify_all();
                        let _ = cv.wait_timeout_while(g, Duration::from_secs(20), |g| !g.1);
                    }
                }
                popview::demo::server::Action::Normal
            })),
            ..Default::default()
        }
    }

    /// Waits (at most 20 s) until the held line reached the server.
    pub fn wait_entered(&self) {
        let (lock, cv) = &*self.0;
        let g = lock.lock().unwrap();
        let (g, _) = cv
            .wait_timeout_while(g, Duration::from_secs(20), |g| !g.0)
            .unwrap();
        assert!(g.0, "the held line never reached the server");
    }

    /// Lets the held line be answered.
    pub fn release(&self) {
        let (lock, cv) = &*self.0;
        lock.lock().unwrap().1 = true;
        cv.notify_all();
    }
}
