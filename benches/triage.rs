//! Triage at scale, in one run (`cargo bench --bench triage`):
//! - the app: `D` with a pattern over N rows (the prompt's Enter: parse,
//!   match every row, the question), then `y` (N/2 `Mark` requests);
//! - the worker against the in-process server with N messages: a bulk mark
//!   of N/2 messages (pipelined DELE) until the worker has settled every
//!   one, with the count of `Marks` reports and of DELE commands sent; then
//!   a bulk undo of N/4 of them (one RSET, the others marked again).
//!
//! N is 100,000 by default (`POPVIEW_BENCH_N`). Times are wall clock on
//! this machine: compare within one run.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use popview::app::{App, AppEvent, AppOptions, Effect};
use popview::demo::{Mailbox, Server, ServerOptions};
use popview::mail::{HeaderSummary, MailDate};
use popview::pop3::TlsMode;
use popview::pop3::transport::ConnectOptions;
use popview::worker::api::{Event, ListEntry, MsgKey, Request};
use popview::worker::{self, WorkerConfig};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn key(c: KeyCode) -> AppEvent {
    let mods = match c {
        KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    AppEvent::Key(KeyEvent::new(c, mods))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// An app holding `n` rows with previews; every other message is from
/// "Jenkins".
fn app_with(n: u32) -> App {
    let mut app = App::new(AppOptions {
        big_message_threshold: u64::MAX,
        ..Default::default()
    });
    app.handle(AppEvent::Clock(1_710_252_300));
    app.handle(AppEvent::Resize(120, 40));
    let key_of = |i: u32| MsgKey {
        number: i,
        uid: Some(format!("{i:08x}")),
        generation: 0,
    };
    app.handle(AppEvent::Worker(Event::Listing {
        entries: (1..=n)
            .map(|i| ListEntry {
                key: key_of(i),
                size: 1000 + u64::from(i),
            })
            .collect(),
        no_uidl_reason: None,
    }));
    let batch = (1..=n)
        .map(|i| {
            let name = if i % 2 == 0 {
                "Jenkins CI"
            } else {
                "Łukasz Żółć"
            };
            (
                key_of(i),
                HeaderSummary {
                    from_name: name.into(),
                    from_addr: format!("user{}@example.org", i % 97),
                    subject: format!("Build {i} of the nightly pipeline"),
                    date: Some(MailDate {
                        unix: 1_700_000_000 + i64::from(i) * 60,
                        tz_offset_minutes: 0,
                    }),
                    ..Default::default()
                },
            )
        })
        .collect();
    app.handle(AppEvent::Worker(Event::Previews(batch)));
    app.handle(AppEvent::Tick);
    app
}

fn bench_app(n: u32) {
    let mut app = app_with(n);
    app.handle(key(KeyCode::Char('D')));
    for c in "~f jenkins".chars() {
        app.handle(key(KeyCode::Char(c)));
    }
    let t = Instant::now();
    app.handle(key(KeyCode::Enter));
    let ask = t.elapsed();
    let t = Instant::now();
    let marks = app
        .handle(key(KeyCode::Char('y')))
        .into_iter()
        .filter(|e| matches!(e, Effect::Send(Request::Mark(_))))
        .count();
    let apply = t.elapsed();
    println!(
        "app, {n} rows: D ~f jenkins enter (match all, ask) {}; y ({marks} marks sent) {}",
        ms(ask),
        ms(apply)
    );
}

fn bench_worker(n: usize) {
    let server = Server::start(Mailbox::generated(n), ServerOptions::default()).unwrap();
    let mut cfg = WorkerConfig::new(
        ConnectOptions::new("127.0.0.1", server.addr().port(), TlsMode::None),
        "demo",
    );
    // The password of `ServerOptions::default()`.
    cfg.password = Some("demo".into());
    cfg.allow_cleartext = true;
    cfg.previews = false;
    let (tx, req_rx) = mpsc::channel();
    let (ev_tx, rx) = mpsc::channel();
    let handle = worker::spawn(
        cfg,
        Box::new(popview::worker::persist::Memory::default()),
        req_rx,
        move |e| ev_tx.send(e).is_ok(),
    );
    let wait = |what: &str, pred: &dyn Fn(&Event) -> bool| -> (Event, usize) {
        let mut reports = 0;
        loop {
            let e = rx
                .recv_timeout(Duration::from_secs(600))
                .unwrap_or_else(|_| panic!("no {what}"));
            if matches!(e, Event::Marks { .. }) {
                reports += 1;
            }
            if pred(&e) {
                return (e, reports);
            }
        }
    };
    let (listing, _) = wait("listing", &|e| matches!(e, Event::Listing { .. }));
    let Event::Listing { entries, .. } = listing else {
        unreachable!()
    };
    let half = n / 2;
    let t = Instant::now();
    for e in &entries[..half] {
        tx.send(Request::Mark(e.key.clone())).unwrap();
    }
    let want = half as u64;
    let (_, reports) = wait(
        "the marks settled",
        &|e| matches!(e, Event::Marks { settled, .. } if *settled == want),
    );
    let mark = t.elapsed();
    let deles = server
        .log()
        .iter()
        .filter(|l| l.line.starts_with("DELE "))
        .count();
    println!(
        "worker, {n} messages: bulk mark of {half} (pipelined DELE) {}; {deles} DELEs, {reports} Marks reports",
        ms(mark)
    );
    let quarter = n / 4;
    let t = Instant::now();
    for e in &entries[..quarter] {
        tx.send(Request::Unmark(e.key.clone())).unwrap();
    }
    let want = (half + quarter) as u64;
    let (_, reports) = wait(
        "the undos settled",
        &|e| matches!(e, Event::Marks { settled, .. } if *settled == want),
    );
    let undo = t.elapsed();
    let rsets = server.log().iter().filter(|l| l.line == "RSET").count();
    println!(
        "worker, {n} messages: bulk undo of {quarter} {}; {rsets} RSET, {reports} Marks reports",
        ms(undo)
    );
    tx.send(Request::Quit { commit: false }).unwrap();
    drop(tx);
    let _ = handle.join();
}

fn main() {
    let n = env_usize("POPVIEW_BENCH_N", 100_000);
    bench_app(n as u32);
    bench_worker(n);
}
