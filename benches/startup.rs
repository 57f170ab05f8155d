//! Startup as a person sees it, over a link that keeps TCP's behaviour.
//!
//! A user-space wire (`support/wire.rs`: two TUN devices, every IP packet
//! delayed by RTT/2 each way) joins this host to a private network
//! namespace. A private Dovecot with N generated messages listens on the
//! host's end (implicit TLS); the release popview runs inside the namespace
//! in a private tmux (120x40), its screen polled every 5 ms. Measured, in
//! round trips (time / RTT) and seconds:
//! - cold first screen: program start → the first row with a sender and
//!   subject on screen (empty cache);
//! - warm first screen: the same at a second start (header cache full);
//! - all previews: program start (cold) → the header says `idle`;
//! - keys while previews stream: `j` → the cursor row moved on screen
//!   (median of 5, during the cold load);
//! - `r` (check for new mail) with one new message: key → "1 new message"
//!   (a second session beside the first: login and listing, then a swap);
//! - warm `popview list` against mpop's STAT/LIST/UIDL-only run, same
//!   wire, same server (median of 3 each).
//!
//! Run (root, `/dev/net/tun`, `ip`, Dovecot, tmux; mpop if installed):
//! `cargo bench --bench startup`. Selection:
//! `POPVIEW_BENCH_N=2000,30000` (default), `POPVIEW_BENCH_RTT=50,300` (ms,
//! default), `POPVIEW_BENCH_ONLY=cold,warm,check,list` (default all: `cold`
//! includes all previews and the keys), `POPVIEW_BENCH_QUICK=1` (N=200,
//! RTT=50), `POPVIEW_BENCH_DEADLINE=600` (seconds one screen may take; a
//! cell then says "did not appear within …").

#[path = "../tests/support/mod.rs"]
mod support;
#[path = "support/wire.rs"]
mod wire;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::certs::TestPki;
use support::dovecot::{Dovecot, DovecotOptions, generated_messages};
use support::tmux::{Tmux, sh_quote};
use wire::{Wire, run_with_deadline};

const BIN: &str = env!("CARGO_BIN_EXE_popview");
/// How often the screen is looked at.
const POLL: Duration = Duration::from_millis(5);
/// `j` presses measured during the cold load.
const KEYS: usize = 5;
/// One key may take this long to move the cursor.
const KEY_DEADLINE: Duration = Duration::from_secs(10);

fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .split(',')
            .filter_map(|s| s.trim().replace('_', "").parse().ok())
            .collect(),
        _ => default.to_vec(),
    }
}

fn only(what: &str) -> bool {
    match std::env::var("POPVIEW_BENCH_ONLY") {
        Ok(v) if !v.trim().is_empty() => v.split(',').any(|s| s.trim() == what),
        _ => true,
    }
}

/// A measured time, or why there is none.
#[derive(Clone)]
enum Cell {
    Time(Duration),
    /// A time, with what went wrong on the way.
    Noted(Duration, String),
    Missing(String),
    Skipped,
}

impl Cell {
    fn show(&self, rtt: Duration) -> String {
        match self {
            Cell::Time(d) => format!(
                "{:.1} RT, {:.2} s",
                d.as_secs_f64() / rtt.as_secs_f64().max(1e-6),
                d.as_secs_f64()
            ),
            Cell::Noted(d, why) => format!("{} ({why})", Cell::Time(*d).show(rtt)),
            Cell::Missing(why) => why.clone(),
            Cell::Skipped => "-".to_string(),
        }
    }
}

struct Row {
    n: usize,
    rtt: Duration,
    cold: Cell,
    warm: Cell,
    previews: Cell,
    keys: String,
    check: Cell,
    list: String,
}

/// The home of one popview "user": config, cache and data dirs kept between
/// its cold and warm starts.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(wire: &Wire, d: &Dovecot) -> Home {
        let dir = tempfile::Builder::new()
            .prefix("pvstartup")
            .tempdir_in(support::temp_root())
            .expect("temp home");
        let cfg = dir.path().join("config").join("popview");
        std::fs::create_dir_all(&cfg).expect("config dir");
        let pin = TestPki::shared().valid.sha256_fingerprint_hex();
        std::fs::write(
            cfg.join("config.toml"),
            format!(
                "[accounts.bench]\nhost = \"{}\"\nport = {}\ntls = \"implicit\"\n\
                 username = \"{}\"\npassword_env = \"PV_TEST_PW\"\ncert_fingerprint = \"{pin}\"\n",
                wire.host_addr, d.tls_port, d.user
            ),
        )
        .expect("write config");
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `env …` arguments: a clean environment with this home.
    fn env(&self, d: &Dovecot) -> Vec<String> {
        let h = self.path().display();
        vec![
            "env".into(),
            "-i".into(),
            format!("PATH={}", std::env::var("PATH").unwrap_or_default()),
            format!("HOME={h}"),
            format!("XDG_CONFIG_HOME={h}/config"),
            format!("XDG_CACHE_HOME={h}/cache"),
            format!("XDG_DATA_HOME={h}/data"),
            "TERM=xterm-256color".into(),
            "LANG=C.UTF-8".into(),
            format!("PV_TEST_PW={}", d.password),
        ]
        .into_iter()
        // The worker's decisions, timed (`POPVIEW_BENCH_LOG=FILE`): where a
        // start spends its time.
        .chain(std::env::var("POPVIEW_BENCH_LOG").map(|f| format!("POPVIEW_LOG={f}")))
        .collect()
    }
}

/// popview's TUI in the namespace, in a private tmux; `started` is taken
/// just before tmux is asked to start it.
fn start_tui(wire: &Wire, home: &Home, d: &Dovecot) -> (Tmux, Instant) {
    let mut cmd = format!("exec ip netns exec {} ", sh_quote(&wire.netns));
    for a in home.env(d) {
        cmd.push_str(&sh_quote(&a));
        cmd.push(' ');
    }
    let inner = format!("{}; echo EXIT=$?; exec sleep 600", sh_quote(BIN));
    cmd.push_str(&format!("sh -c {}", sh_quote(&inner)));
    let started = Instant::now();
    (Tmux::start(&cmd, 120, 40), started)
}

/// A list row with a preview: generated subjects end in `#<number>`.
fn has_preview_row(screen: &str) -> bool {
    screen.lines().skip(1).any(|l| {
        l.match_indices('#')
            .any(|(i, _)| l[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
    })
}

/// The header bar (connection state: `loading previews …`, `idle`).
fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or("")
}

/// Every preview in: the header says `idle`, and the rows on screen have
/// their previews (between the listing and the first previews the header
/// may say `idle` for a moment, over rows still `…loading`).
fn all_loaded(screen: &str) -> bool {
    header(screen).contains("idle") && has_preview_row(screen) && !screen.contains("…loading")
}

/// popview's pane, remembering when the header first said `idle` in any
/// look at it (so a measurement that polls for something else, such as the
/// keys, does not delay the "all previews" time).
struct Pane {
    tmux: Tmux,
    started: Instant,
    idle_at: std::cell::Cell<Option<Duration>>,
    /// The first sign of trouble seen (a reconnect, an error line).
    trouble: std::cell::RefCell<Option<String>>,
}

impl Pane {
    fn new((tmux, started): (Tmux, Instant)) -> Pane {
        Pane {
            tmux,
            started,
            idle_at: std::cell::Cell::new(None),
            trouble: std::cell::RefCell::new(None),
        }
    }

    fn seen(&self, screen: &str) {
        if self.trouble.borrow().is_none() {
            let h = header(screen);
            let sign = if h.contains("reconnecting") || h.contains("(try ") {
                Some("reconnected")
            } else if screen.contains('✗') {
                Some("error shown")
            } else {
                None
            };
            if let Some(sign) = sign {
                eprintln!(
                    "startup: {sign} at {:?}; the screen:\n{screen}",
                    self.started.elapsed()
                );
                *self.trouble.borrow_mut() = Some(sign.to_string());
            }
        }
        if self.idle_at.get().is_none() && all_loaded(screen) {
            self.idle_at.set(Some(self.started.elapsed()));
            if std::env::var_os("POPVIEW_BENCH_DEBUG").is_some() {
                eprintln!("startup: idle at {:?}:\n{screen}", self.started.elapsed());
            }
        }
    }

    fn capture(&self) -> String {
        let s = self.tmux.capture();
        self.seen(&s);
        s
    }

    fn capture_escapes(&self) -> String {
        let s = self.tmux.capture_escapes();
        self.seen(&s);
        s
    }

    /// Poll until `pred` holds for the screen or `deadline` (from the
    /// program's start) passes; the time from the start, or a "did not
    /// appear" cell.
    fn until(&self, deadline: Duration, what: &str, pred: impl Fn(&str) -> bool) -> Cell {
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return Cell::Time(self.started.elapsed());
            }
            if self.started.elapsed() >= deadline {
                eprintln!(
                    "startup: {what} did not appear within {deadline:?}; the screen:\n{screen}"
                );
                return Cell::Missing(format!("no {what} within {}s", deadline.as_secs()));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The time all previews were in: when `idle` was first seen, or now
    /// if it shows within the deadline.
    fn all_previews(&self, deadline: Duration) -> Cell {
        let cell = match self.idle_at.get() {
            Some(t) => Cell::Time(t),
            None => self.until(deadline, "idle", all_loaded),
        };
        match (cell, self.trouble.borrow().as_ref()) {
            (Cell::Time(t), Some(why)) => Cell::Noted(t, why.clone()),
            (cell, _) => cell,
        }
    }

    /// The screen line of the cursor (reverse video) among the list rows.
    fn cursor_line(&self) -> Option<usize> {
        let screen = self.capture_escapes();
        cursor_line_in(&screen)
    }

    /// Quit popview (`q`) and wait for its shell's `EXIT=` (bounded).
    fn quit(&self) {
        self.tmux.send_keys(&["q"]);
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            if self.tmux.capture().contains("EXIT=") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "startup: popview did not exit within 30 s after q; the screen:\n{}",
            self.tmux.capture()
        );
    }

    /// The key latencies (median and max) of `j` presses, as soon as the
    /// first screen is there (while previews stream, if they still do).
    fn keys(&self) -> String {
        let mut times = Vec::new();
        let mut streaming = 0;
        for _ in 0..KEYS {
            let Some(before) = self.cursor_line() else {
                eprintln!(
                    "startup: no cursor row; the screen:\n{}",
                    self.capture_escapes()
                );
                return "no cursor row found".into();
            };
            if header(&self.capture()).contains("loading previews") {
                streaming += 1;
            }
            let t = Instant::now();
            self.tmux.send_keys(&["j"]);
            loop {
                if self.cursor_line().is_some_and(|l| l != before) {
                    times.push(t.elapsed());
                    break;
                }
                if t.elapsed() > KEY_DEADLINE {
                    eprintln!(
                        "startup: the cursor stayed on line {before}; the screen:\n{}",
                        self.capture_escapes().replace('\x1b', "^[")
                    );
                    return format!("cursor did not move within {}s", KEY_DEADLINE.as_secs());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        times.sort();
        format!(
            "{} ms med, {} ms max ({streaming}/{KEYS} while loading)",
            times[times.len() / 2].as_millis(),
            times[times.len() - 1].as_millis()
        )
    }
}

/// The screen line of the cursor among the list rows of a
/// `capture-pane -e` screen: the first row whose first character is drawn
/// in reverse video (tmux writes an SGR change only where the style
/// changes, so the state is carried across lines).
fn cursor_line_in(screen: &str) -> Option<usize> {
    let mut reversed = false;
    for (i, line) in screen.lines().enumerate() {
        let mut rest = line;
        let mut first_char_reversed = None;
        while !rest.is_empty() {
            if let Some(seq) = rest.strip_prefix("\x1b[") {
                let end = seq
                    .find(|c: char| c.is_ascii_alphabetic())
                    .unwrap_or(seq.len());
                if seq[end..].starts_with('m') {
                    reversed = sgr_reverse(&seq[..end], reversed);
                }
                rest = seq.get(end + 1..).unwrap_or("");
                continue;
            }
            let c = rest.chars().next().unwrap_or(' ');
            if first_char_reversed.is_none() {
                first_char_reversed = Some(reversed);
            }
            rest = &rest[c.len_utf8()..];
        }
        let row = line.contains('#') || line.contains("…loading");
        if i > 0 && row && first_char_reversed == Some(true) {
            return Some(i);
        }
    }
    None
}

/// Whether reverse video is on after the SGR parameters `params`.
fn sgr_reverse(params: &str, mut on: bool) -> bool {
    let mut it = params.split(';');
    while let Some(p) = it.next() {
        match p {
            "" | "0" | "27" => on = false,
            "7" => on = true,
            // Extended colours: 38;5;N, 38;2;R;G;B (and 48, 58).
            "38" | "48" | "58" => match it.next() {
                Some("5") => {
                    it.next();
                }
                Some("2") => {
                    it.next();
                    it.next();
                    it.next();
                }
                _ => {}
            },
            _ => {}
        }
    }
    on
}

/// `r` with one new message on the server: the key → "1 new message" on
/// screen (a second session is opened beside the first, logged in and
/// listed, then swapped in).
fn check_new_mail(pane: &Pane, d: &Dovecot, deadline: Duration) -> Cell {
    d.add_messages(&generated_messages(1));
    let t = Instant::now();
    pane.tmux.send_keys(&["r"]);
    loop {
        let screen = pane.capture();
        if screen.contains("new message") {
            return match pane.trouble.borrow().as_ref() {
                Some(why) => Cell::Noted(t.elapsed(), why.clone()),
                None => Cell::Time(t.elapsed()),
            };
        }
        if t.elapsed() >= deadline {
            eprintln!("startup: no \"new message\" after r within {deadline:?}:\n{screen}");
            return Cell::Missing(format!("no new mail within {}s", deadline.as_secs()));
        }
        std::thread::sleep(POLL);
    }
}

/// Median wall time of `runs` runs of `argv` in the namespace.
fn median_run(
    wire: &Wire,
    argv: &[String],
    runs: usize,
    deadline: Duration,
) -> Result<Duration, String> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let t = Instant::now();
        run_with_deadline(wire.exec(&args), deadline)?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn list_vs_mpop(wire: &Wire, home: &Home, d: &Dovecot, n: usize, deadline: Duration) -> String {
    let mut argv = home.env(d);
    argv.extend([
        BIN.into(),
        "list".into(),
        "--account".into(),
        "bench".into(),
    ]);
    // One run to be sure the cache is full, then the measured ones.
    let pv = run_with_deadline(
        wire.exec(&argv.iter().map(String::as_str).collect::<Vec<_>>()),
        deadline,
    )
    .and_then(|out| {
        let lines = out.lines().count();
        if lines < n {
            Err(format!(
                "popview list printed {lines} lines for {n} messages"
            ))
        } else {
            Ok(())
        }
    })
    .and_then(|()| median_run(wire, &argv, 3, deadline));
    let pv = match pv {
        Ok(t) => format!("{:.2} s", t.as_secs_f64()),
        Err(e) => {
            eprintln!("startup: popview list: {e}");
            "popview list failed".into()
        }
    };
    let mpop = if Command::new("mpop").arg("--version").output().is_ok() {
        let tmp = home.path().join("mpop");
        let _ = std::fs::create_dir_all(&tmp);
        let pin = TestPki::shared().valid.sha256_fingerprint_hex();
        let pin: Vec<String> = pin
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).to_uppercase())
            .collect();
        let argv: Vec<String> = vec![
            "env".into(),
            format!("HOME={}", tmp.display()),
            "mpop".into(),
            "-C".into(),
            "/dev/null".into(),
            format!("--host={}", wire.host_addr),
            format!("--port={}", d.tls_port),
            format!("--user={}", d.user),
            format!("--passwordeval=echo {}", d.password),
            "--auth=user".into(),
            "--only-new=off".into(),
            "--keep=on".into(),
            "--received-header=off".into(),
            format!("--delivery=mbox,{}", tmp.join("mbox").display()),
            format!("--uidls-file={}", tmp.join("uidls").display()),
            "--tls=on".into(),
            "--tls-starttls=off".into(),
            format!("--tls-fingerprint={}", pin.join(":")),
            "--skipsize=0".into(),
            "-q".into(),
        ];
        match median_run(wire, &argv, 3, deadline) {
            Ok(t) => format!("{:.2} s", t.as_secs_f64()),
            Err(e) => {
                eprintln!("startup: mpop: {e}");
                "mpop failed".into()
            }
        }
    } else {
        "mpop not installed".into()
    };
    format!("{pv} vs mpop {mpop}")
}

fn measure(wire: &Wire, d: &Dovecot, n: usize, rtt: Duration, deadline: Duration) -> Row {
    let home = Home::new(wire, d);
    let mut row = Row {
        n,
        rtt,
        cold: Cell::Skipped,
        warm: Cell::Skipped,
        previews: Cell::Skipped,
        keys: "-".into(),
        check: Cell::Skipped,
        list: "-".into(),
    };
    let want_warm = only("warm") || only("list") || only("check");
    if only("cold") || want_warm {
        // The cold start also fills the cache for the warm runs.
        let pane = Pane::new(start_tui(wire, &home, d));
        let first = pane.until(deadline, "first screen", has_preview_row);
        if only("cold") {
            if matches!(first, Cell::Time(_)) {
                row.keys = pane.keys();
            }
            row.cold = first;
            row.previews = pane.all_previews(deadline);
        } else {
            let _ = pane.all_previews(deadline);
        }
        pane.quit();
    }
    if only("warm") || only("check") {
        let pane = Pane::new(start_tui(wire, &home, d));
        let first = pane.until(deadline, "first screen", has_preview_row);
        let all = pane.all_previews(deadline);
        if only("warm") {
            row.warm = match (all, first) {
                (Cell::Noted(_, why), Cell::Time(t)) => Cell::Noted(t, why),
                (_, first) => first,
            };
        }
        if only("check") {
            row.check = check_new_mail(&pane, d, deadline);
        }
        pane.quit();
    }
    if only("list") {
        row.list = list_vs_mpop(wire, &home, d, n, deadline);
    }
    row
}

fn dovecot_for(wire: &Wire, n: usize) -> Dovecot {
    let t = Instant::now();
    let mut opts = DovecotOptions::with_messages(generated_messages(n));
    // The wire's host end too (a later `listen` replaces the first).
    opts.extra_config = format!("listen = 127.0.0.1, {}\n", wire.host_addr);
    let d = Dovecot::start(opts);
    eprintln!(
        "startup: Dovecot with {n} messages ready in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    d
}

fn main() {
    let quick = std::env::var("POPVIEW_BENCH_QUICK").is_ok_and(|v| v == "1");
    let ns = env_list(
        "POPVIEW_BENCH_N",
        if quick { &[200] } else { &[2_000, 30_000] },
    );
    let rtts = env_list("POPVIEW_BENCH_RTT", if quick { &[50] } else { &[50, 300] });
    let deadline = Duration::from_secs(env_list("POPVIEW_BENCH_DEADLINE", &[600])[0]);
    let wire = match Wire::up(Duration::from_millis(rtts[0] / 2), 0) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("startup: can't set up the wire: {e}");
            std::process::exit(1);
        }
    };
    let mut rows = Vec::new();
    for &n in &ns {
        let d = dovecot_for(&wire, n as usize);
        for &rtt_ms in &rtts {
            wire.set_one_way(Duration::from_micros(rtt_ms * 500));
            let rtt = match wire.tcp_rtt(d.plain_port, 5) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("startup: the wire does not carry TCP: {e}");
                    // `exit` runs no destructors: tear down first.
                    drop(d);
                    drop(wire);
                    std::process::exit(1);
                }
            };
            eprintln!(
                "startup: N={n}, wire {} <-> {} (netns {}), {:?} each way, \
                 RTT measured (TCP connect) {:.1} ms",
                wire.host_addr,
                wire.ns_addr,
                wire.netns,
                wire.one_way(),
                rtt.as_secs_f64() * 1e3
            );
            let row = measure(&wire, &d, n as usize, rtt, deadline);
            print_rows(std::slice::from_ref(&row));
            rows.push(row);
        }
    }
    println!("\nAll runs:");
    print_rows(&rows);
    eprintln!(
        "startup: wire forwarded {} packets, dropped {}",
        wire.stats
            .forwarded
            .load(std::sync::atomic::Ordering::Relaxed),
        wire.stats
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    );
}

fn print_rows(rows: &[Row]) {
    println!(
        "| N | RTT | cold first screen | warm first screen | all previews (cold) | key → cursor moved | r → new mail shown | warm list vs mpop |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {:.0} ms | {} | {} | {} | {} | {} | {} |",
            r.n,
            r.rtt.as_secs_f64() * 1e3,
            r.cold.show(r.rtt),
            r.warm.show(r.rtt),
            r.previews.show(r.rtt),
            r.keys,
            r.check.show(r.rtt),
            r.list
        );
    }
}
