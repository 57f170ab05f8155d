//! Header previews over a slow link, against a real Dovecot.
//!
//! One run measures, over a TCP proxy that delays each direction by 25 ms
//! (RTT about 50 ms), with N messages (default 2,000; `POPVIEW_BENCH_N`):
//! - popview's worker, cold: connect to the last preview delivered;
//! - popview's worker, warm: header cache full, no new mail;
//! - popview with mpop's window of 100 commands, for comparison;
//! - the lower bound: a raw client pipelining every `TOP n 0`, no parsing;
//! - one command at a time (NeoMutt, Thunderbird, Alpine), on the first
//!   `POPVIEW_BENCH_SERIAL` messages (default: all N), scaled to N;
//! - opening the last of 10,000 messages while their previews load
//!   (`POPVIEW_BENCH_OPEN`, 0 skips);
//! - resident memory of a 100,000-message listing with previews held as
//!   the UI holds them (`POPVIEW_BENCH_BIG`, default 100,000; 0 skips).
//!
//! - the rows on screen first: from the listing to the previews of the
//!   newest screenful (as the UI shows it at start), how many other
//!   previews came before them, and after a jump to the oldest rows (`G`)
//!   the time until those arrive, in round trips (`POPVIEW_BENCH_ONLY=screen`
//!   runs only this).
//!
//! Run: `cargo bench --bench previews` (`POPVIEW_BENCH_N=0` for memory only)

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::mpsc;

use std::time::{Duration, Instant};

use popview::mail::HeaderSummary;
use popview::pop3::TlsMode;
use popview::pop3::transport::ConnectOptions;
use popview::worker::api::{Event, MsgKey, Request};
use popview::worker::{self, WorkerConfig};
use support::dovecot::{Dovecot, DovecotOptions, generated_messages};
use support::proxy::Proxy;
use support::rawpop;

const ONE_WAY: Duration = Duration::from_millis(25);

type Mem = popview::worker::persist::Memory;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Run the worker until every preview is delivered. Returns the elapsed time
/// and the previews (as the UI would hold them).
fn popview_run(
    addr: std::net::SocketAddr,
    d: &Dovecot,
    persist: Mem,
    window: usize,
) -> (Duration, Vec<(MsgKey, HeaderSummary)>, usize) {
    let mut cfg = WorkerConfig::new(
        ConnectOptions::new("127.0.0.1", addr.port(), TlsMode::None),
        d.user.clone(),
    );
    cfg.password = Some(d.password.clone().into());
    cfg.allow_cleartext = true;
    cfg.pipeline_window = window;
    let (tx, req_rx) = mpsc::channel();
    let (ev_tx, rx) = mpsc::channel();
    let start = Instant::now();
    let handle = worker::spawn(cfg, Box::new(persist), req_rx, move |e| {
        ev_tx.send(e).is_ok()
    });
    let mut rows = Vec::new();
    let mut listed = 0;
    let elapsed = loop {
        match rx
            .recv_timeout(Duration::from_secs(300))
            .expect("worker event")
        {
            Event::Listing { entries, .. } => listed = entries.len(),
            Event::Previews(batch) => rows.extend(batch),
            Event::Progress { done, total, .. }
                if listed > 0 && done >= total && rows.len() >= listed =>
            {
                break start.elapsed();
            }
            Event::Error(e) if e.fatal => panic!("worker failed: {}", e.message),
            _ => {}
        }
    };
    quit_worker(&tx, &rx, handle);
    (elapsed, rows, listed)
}

fn main() {
    if let Ok(spec) = std::env::var("POPVIEW_BENCH_MEMORY_CHILD") {
        memory_child(&spec);
        return;
    }
    let n = env_usize("POPVIEW_BENCH_N", 2000);
    let serial_n = env_usize("POPVIEW_BENCH_SERIAL", n).min(n).max(1);
    let big = env_usize("POPVIEW_BENCH_BIG", 100_000);
    let rtt = ONE_WAY * 2;
    if std::env::var("POPVIEW_BENCH_ONLY").as_deref() == Ok("screen") {
        screen_first_report(n.max(1), rtt);
        return;
    }
    if n > 0 {
        eprintln!("starting Dovecot with {n} messages ...");
        let d = Dovecot::start(DovecotOptions::with_messages(generated_messages(n)));
        let proxy = Proxy::with_delay(d.plain_addr(), ONE_WAY);

        let lower = rawpop::raw_pipelined_top_all(proxy.addr(), &d.user, &d.password, n);
        let cache = Mem::default();
        let (cold, rows, listed) = popview_run(
            proxy.addr(),
            &d,
            cache.clone(),
            popview::pop3::client::PIPELINE_WINDOW,
        );
        assert_eq!((rows.len(), listed), (n, n), "every preview delivered");
        let (warm, rows_warm, _) = popview_run(
            proxy.addr(),
            &d,
            cache.clone(),
            popview::pop3::client::PIPELINE_WINDOW,
        );
        assert_eq!(rows_warm.len(), n);
        let (mpop_window, _, _) = popview_run(proxy.addr(), &d, Mem::default(), 100);
        eprintln!(
            "one command at a time over {serial_n} messages (about {} s) ...",
            (serial_n as u64 * 50) / 1000
        );
        let serial_part =
            rawpop::one_at_a_time_top_all(proxy.addr(), &d.user, &d.password, serial_n);
        let serial = serial_part.mul_f64(n as f64 / serial_n as f64);

        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "\nHeader previews of {n} messages from Dovecot over a {} ms RTT link (one run)\n",
            ms(rtt)
        );
        println!("| client | time | vs lower bound |");
        println!("|---|---:|---:|");
        println!(
            "| lower bound: raw client, all TOP pipelined, no parsing | {:.0} ms | 1.00x |",
            ms(lower)
        );
        println!(
            "| popview cold (window {}) | {:.0} ms | {:.2}x |",
            popview::pop3::client::PIPELINE_WINDOW,
            ms(cold),
            ms(cold) / ms(lower)
        );
        println!(
            "| popview cold, mpop's window of 100 | {:.0} ms | {:.2}x |",
            ms(mpop_window),
            ms(mpop_window) / ms(lower)
        );
        println!(
            "| one command at a time{} | {:.0} ms | {:.2}x |",
            if serial_n < n {
                format!(" (measured on {serial_n}, scaled)")
            } else {
                String::new()
            },
            ms(serial),
            ms(serial) / ms(lower)
        );
        println!(
            "| popview warm (cache, no new mail) | {:.0} ms | {:.1} RTT from connect |",
            ms(warm),
            ms(warm) / ms(rtt)
        );
        println!(
            "\npopview is {:.1}x faster than one at a time.",
            ms(serial) / ms(cold)
        );
        drop(proxy);
        drop(d);
    }

    let open_n = env_usize("POPVIEW_BENCH_OPEN", 10_000);
    if open_n > 0 {
        eprintln!(
            "starting Dovecot with {open_n} messages for the open-while-loading measurement ..."
        );
        let d = Dovecot::start(DovecotOptions::with_messages(generated_messages(open_n)));
        let (latency, done, total) = open_while_loading(&d);
        println!(
            "\nOpening the last of {open_n} messages while their previews load (loopback): \
             answered in {:.0} ms, with {done} of {total} previews delivered at that moment",
            latency.as_secs_f64() * 1000.0
        );
    }

    if big > 0 {
        eprintln!("starting Dovecot with {big} messages for the memory measurement ...");
        let d = Dovecot::start(DovecotOptions::with_messages(generated_messages(big)));
        // A fresh process, so the harness's copies of the messages don't
        // count: it runs the worker and feeds the real App, as the UI does.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .env(
                "POPVIEW_BENCH_MEMORY_CHILD",
                format!("{} {} {}", d.plain_addr(), d.user, d.password),
            )
            .output()
            .expect("memory child");
        assert!(
            out.status.success(),
            "memory child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

/// A server to measure against instead of a private Dovecot behind the
/// delaying proxy: `POPVIEW_BENCH_POP3S="HOST PORT CA_FILE USER PASSWORD RTT_MS"`
/// (implicit TLS; e.g. the harness's `netem-ns`, a packet-level wire).
fn external_server() -> Option<(WorkerConfig, Duration)> {
    let spec = std::env::var("POPVIEW_BENCH_POP3S").ok()?;
    let f: Vec<&str> = spec.split_whitespace().collect();
    let [host, port, ca, user, pass, rtt] = f[..] else {
        panic!("POPVIEW_BENCH_POP3S wants HOST PORT CA_FILE USER PASSWORD RTT_MS");
    };
    let mut connect = ConnectOptions::new(host, port.parse().expect("port"), TlsMode::Implicit);
    connect.ca_file = Some(ca.into());
    let mut cfg = WorkerConfig::new(connect, user);
    cfg.password = Some(pass.into());
    let rtt = Duration::from_secs_f64(rtt.parse::<f64>().expect("RTT in ms") / 1000.0);
    Some((cfg, rtt))
}

/// The rows-on-screen-first measurement (see the module doc), printed.
fn screen_first_report(n: usize, rtt: Duration) {
    let (r, n, rtt, link) = if let Some((cfg, rtt)) = external_server() {
        let r = screen_first_run(cfg, 40);
        let n = r.listed;
        (r, n, rtt, "the POPVIEW_BENCH_POP3S server (implicit TLS)")
    } else {
        eprintln!("starting Dovecot with {n} messages for the first-screen measurement ...");
        let d = Dovecot::start(DovecotOptions::with_messages(generated_messages(n)));
        let proxy = Proxy::with_delay(d.plain_addr(), ONE_WAY);
        let mut cfg = WorkerConfig::new(
            ConnectOptions::new("127.0.0.1", proxy.addr().port(), TlsMode::None),
            d.user.clone(),
        );
        cfg.password = Some(d.password.clone().into());
        cfg.allow_cleartext = true;
        (
            screen_first_run(cfg, 40),
            n,
            rtt,
            "Dovecot behind a delaying proxy",
        )
    };
    let rtts = |t: Duration| t.as_secs_f64() / rtt.as_secs_f64();
    println!(
        "\nThe rows on screen first: {n} messages from {link}, RTT {:.0} ms, a screen \
         of 40 rows (one run)\n",
        rtt.as_secs_f64() * 1000.0
    );
    println!("| measure | time | round trips |");
    println!("|---|---:|---:|");
    println!(
        "| listing -> newest screen's previews ({} other previews before them) | {:.0} ms | {:.1} |",
        r.others_before,
        r.screen.as_secs_f64() * 1000.0,
        rtts(r.screen)
    );
    println!(
        "| G (oldest screen asked) -> its previews ({} other previews between) | {:.0} ms | {:.1} |",
        r.others_between,
        r.far.as_secs_f64() * 1000.0,
        rtts(r.far)
    );
    println!(
        "| listing -> every preview | {:.0} ms | {:.1} |",
        r.all.as_secs_f64() * 1000.0,
        rtts(r.all)
    );
}

struct ScreenFirst {
    listed: usize,
    screen: Duration,
    others_before: usize,
    far: Duration,
    others_between: usize,
    all: Duration,
}

/// A UI that shows the newest `rows` messages (newest first, as popview
/// starts) and says so as soon as the listing arrives; once they are in,
/// the user presses `G` (the oldest `rows` asked).
fn screen_first_run(cfg: WorkerConfig, rows: usize) -> ScreenFirst {
    use std::collections::HashSet;
    let (tx, req_rx) = mpsc::channel();
    let (ev_tx, rx) = mpsc::channel();
    let handle = worker::spawn(cfg, Box::new(Mem::default()), req_rx, move |e| {
        ev_tx.send(e).is_ok()
    });
    let mut listed_at = None;
    let mut oldest: Vec<MsgKey> = Vec::new();
    let mut want: HashSet<MsgKey> = HashSet::new();
    let mut received: HashSet<MsgKey> = HashSet::new();
    let (mut screen, mut far) = (None, None);
    let (mut others_before, mut others_between) = (0, 0);
    let mut g_at = None;
    let (mut got, mut listed) = (0, 0);
    let all = loop {
        match rx
            .recv_timeout(Duration::from_secs(300))
            .expect("worker event")
        {
            Event::Listing { entries, .. } => {
                listed_at = Some(Instant::now());
                listed = entries.len();
                let keys: Vec<MsgKey> = entries.into_iter().map(|e| e.key).collect();
                let newest: Vec<MsgKey> = keys.iter().rev().take(rows).cloned().collect();
                oldest = keys.iter().take(rows).rev().cloned().collect();
                want = newest.iter().cloned().collect();
                tx.send(Request::Visible(newest)).unwrap();
            }
            Event::Previews(batch) => {
                got += batch.len();
                for (k, _) in batch {
                    received.insert(k.clone());
                    if !want.remove(&k) {
                        if screen.is_none() {
                            others_before += 1;
                        } else if far.is_none() && g_at.is_some() {
                            others_between += 1;
                        }
                    }
                }
                if want.is_empty() && screen.is_none() {
                    screen = Some(listed_at.expect("listed").elapsed());
                    // `G`: the oldest rows, unless they are already in.
                    want = oldest
                        .iter()
                        .filter(|k| !received.contains(*k))
                        .cloned()
                        .collect();
                    g_at = Some(Instant::now());
                    tx.send(Request::Visible(oldest.clone())).unwrap();
                }
                if let Some(g) = g_at
                    && want.is_empty()
                    && far.is_none()
                {
                    far = Some(g.elapsed());
                }
                if got >= listed && far.is_some() {
                    break listed_at.expect("listed").elapsed();
                }
            }
            Event::Error(e) if e.fatal => panic!("worker failed: {}", e.message),
            _ => {}
        }
    };
    quit_worker(&tx, &rx, handle);
    ScreenFirst {
        listed,
        screen: screen.expect("screen"),
        others_before,
        far: far.expect("far"),
        others_between,
        all,
    }
}

/// Ask for the last message as soon as the listing arrives, while every
/// `TOP n 0` is still to come; time until the message is delivered.
fn open_while_loading(d: &Dovecot) -> (Duration, usize, usize) {
    let mut cfg = WorkerConfig::new(
        ConnectOptions::new("127.0.0.1", d.plain_addr().port(), TlsMode::None),
        d.user.clone(),
    );
    cfg.password = Some(d.password.clone().into());
    cfg.allow_cleartext = true;
    let (tx, req_rx) = mpsc::channel();
    let (ev_tx, rx) = mpsc::channel();
    let handle = worker::spawn(cfg, Box::new(Mem::default()), req_rx, move |e| {
        ev_tx.send(e).is_ok()
    });
    let mut asked = None;
    let mut delivered = 0;
    let mut total = 0;
    let result = loop {
        match rx
            .recv_timeout(Duration::from_secs(120))
            .expect("worker event")
        {
            Event::Listing { entries, .. } => {
                total = entries.len();
                let last = entries.last().expect("messages").key.clone();
                tx.send(Request::Retrieve {
                    ticket: 1,
                    key: last,
                })
                .unwrap();
                asked = Some(Instant::now());
            }
            Event::Previews(batch) => delivered += batch.len(),
            Event::Message {
                ticket: 1, view, ..
            } => {
                assert!(!view.raw.is_empty());
                break (asked.expect("asked").elapsed(), delivered, total);
            }
            Event::Error(e) if e.fatal => panic!("worker failed: {}", e.message),
            _ => {}
        }
    };
    quit_worker(&tx, &rx, handle);
    result
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The child of the memory measurement: worker + App with every preview.
fn memory_child(spec: &str) {
    use popview::app::{App, AppEvent, AppOptions};
    let mut parts = spec.split(' ');
    let addr: std::net::SocketAddr = parts.next().unwrap().parse().unwrap();
    let (user, pass) = (parts.next().unwrap(), parts.next().unwrap());
    let mut cfg = WorkerConfig::new(
        ConnectOptions::new("127.0.0.1", addr.port(), TlsMode::None),
        user,
    );
    cfg.password = Some(pass.into());
    cfg.allow_cleartext = true;
    let (tx, req_rx) = mpsc::channel();
    let (ev_tx, rx) = mpsc::channel();
    let start = Instant::now();
    let handle = worker::spawn(cfg, Box::new(Mem::default()), req_rx, move |e| {
        ev_tx.send(e).is_ok()
    });
    let mut app = App::new(AppOptions::default());
    app.handle(AppEvent::Resize(120, 40));
    let mut listed = 0;
    loop {
        let ev = rx
            .recv_timeout(Duration::from_secs(600))
            .expect("worker event");
        let done = match &ev {
            Event::Listing { entries, .. } => {
                listed = entries.len();
                false
            }
            Event::Progress { done, total, .. } => listed > 0 && done >= total,
            Event::Error(e) if e.fatal => panic!("worker failed: {}", e.message),
            _ => false,
        };
        app.handle(AppEvent::Worker(ev));
        if done && app.previews_loaded() >= listed {
            break;
        }
    }
    let t = start.elapsed();
    app.handle(AppEvent::Tick);
    let rss = status_kib("VmRSS:");
    let peak = status_kib("VmHWM:");
    println!(
        "\n{listed} messages listed with every preview in the App (loopback, no delay) in {:.1} s: \
         resident memory {:.0} MB (peak {:.0} MB) for the whole process: worker, header cache and UI state",
        t.as_secs_f64(),
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    quit_worker(&tx, &rx, handle);
}

/// Quit without committing, wait for `Closed` (bounded), join the thread.
fn quit_worker(
    tx: &mpsc::Sender<Request>,
    rx: &mpsc::Receiver<Event>,
    handle: std::thread::JoinHandle<()>,
) {
    tx.send(Request::Quit { commit: false }).unwrap();
    while let Ok(ev) = rx.recv_timeout(Duration::from_secs(60)) {
        if matches!(ev, Event::Closed { .. }) {
            break;
        }
    }
    handle.join().unwrap();
}
