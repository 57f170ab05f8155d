//! One big message (52 MB: a text part and a base64 attachment) from a
//! private Dovecot, measured as a user meets it:
//! - a raw client: `RETR`, dot-unstuff, count, nothing kept (the lower
//!   bound of the download time);
//! - popview's worker: `Retrieve` to the message prepared as the TUI shows
//!   it (`Event::Message`, then the reader's `Doc`, as the parse thread
//!   makes it);
//!   and of that, `mail::view` and the `Doc` alone (no network);
//! - popview's worker saving it into a Maildir (the TUI's `s`/`C`);
//! - `popview show --raw N > /dev/null` and `popview save N --maildir DIR`
//!   and `--mbox FILE` (both streamed: their memory stays small).
//!
//! Each case runs in a child process (this binary again, or popview under
//! `/usr/bin/time`) so its peak resident memory (`VmHWM`) is its own; the
//! in-process cases report the peak minus the child's baseline. Times are
//! ratios to the raw client's (from `RETR` sent to its end; the worker's
//! from `Retrieve` to the `Doc`; the commands' whole runs, login included),
//! memory to the message size.
//!
//! Run: `cargo bench --bench bigmessage` (`POPVIEW_BENCH_MB=52` sets the
//! size, `POPVIEW_BENCH_RUNS=3` how many times each case runs: the best
//! time and the largest peak are kept).

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use popview::pop3::TlsMode;
use popview::pop3::transport::ConnectOptions;
use popview::worker::api::{Event, Request};
use popview::worker::{self, WorkerConfig};
use support::dovecot::{Dovecot, DovecotOptions};

const CHILD: &str = "POPVIEW_BIGMSG_CHILD";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A message of about `mb` MB: headers, a short text part (with lines that
/// need dot-stuffing) and a base64 attachment in 76-column lines.
fn big_message(mb: usize) -> Vec<u8> {
    let mut m = b"From: Big Sender <big@example.org>\r\nTo: me@example.org\r\n\
Subject: the big one\r\nDate: Thu, 3 Dec 2026 03:36:22 +0000\r\n\
Message-ID: <big@example.org>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nThe attachment follows.\r\n\
.a line starting with a dot\r\n..two dots\r\n.\r\n--b1\r\n\
Content-Type: application/octet-stream; name=\"big.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"big.bin\"\r\n\r\n"
        .to_vec();
    let target = mb * 1000 * 1000;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x: u32 = 12345;
    while m.len() + 80 < target {
        for _ in 0..76 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            m.push(alphabet[(x >> 16) as usize % 64]);
        }
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b"--b1--\r\n");
    m
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

/// The raw client: RETR 1 over plain TCP, lines dot-unstuffed and counted;
/// the bytes and the time from RETR sent to the last line.
fn raw_retr(port: u16, user: &str, pass: &str) -> (u64, Duration) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::with_capacity(64 * 1024, s);
    let mut line = Vec::new();
    let status = |r: &mut BufReader<TcpStream>, line: &mut Vec<u8>| {
        line.clear();
        r.read_until(b'\n', line).unwrap();
        assert!(
            line.starts_with(b"+OK"),
            "{}",
            String::from_utf8_lossy(line)
        );
    };
    status(&mut r, &mut line);
    write!(w, "USER {user}\r\n").unwrap();
    status(&mut r, &mut line);
    write!(w, "PASS {pass}\r\n").unwrap();
    status(&mut r, &mut line);
    let t = Instant::now();
    w.write_all(b"RETR 1\r\n").unwrap();
    status(&mut r, &mut line);
    let mut bytes = 0u64;
    loop {
        line.clear();
        assert!(r.read_until(b'\n', &mut line).unwrap() > 0, "closed");
        if line == b".\r\n" {
            break;
        }
        let stuffed = usize::from(line.first() == Some(&b'.'));
        bytes += (line.len() - stuffed) as u64;
    }
    let took = t.elapsed();
    w.write_all(b"QUIT\r\n").unwrap();
    (bytes, took)
}

/// popview's worker: Retrieve of message 1 to its `Doc`; the bytes and the
/// time from the request to the `Doc`.
fn worker_retr(port: u16, user: &str, pass: &str) -> (u64, Duration) {
    let mut cfg = WorkerConfig::new(ConnectOptions::new("127.0.0.1", port, TlsMode::None), user);
    cfg.password = Some(pass.into());
    cfg.allow_cleartext = true;
    let (tx, req_rx) = mpsc::channel();
    let (ev_tx, rx) = mpsc::channel();
    // As the TUI does: the Doc is made on the parse thread.
    let handle = worker::spawn(
        cfg,
        Box::new(popview::worker::persist::Memory::default()),
        req_rx,
        move |e| ev_tx.send(popview::app::prepare(e)).is_ok(),
    );
    let mut t = Instant::now();
    let size = loop {
        match rx.recv_timeout(Duration::from_secs(300)).expect("event") {
            popview::app::AppEvent::Worker(Event::Listing { entries, .. }) => {
                let key = entries[0].key.clone();
                t = Instant::now();
                tx.send(Request::Retrieve { ticket: 1, key }).unwrap();
            }
            popview::app::AppEvent::Ready { ticket: 1, doc, .. } => {
                break (doc.raw_len, t.elapsed());
            }
            popview::app::AppEvent::Worker(Event::Error(e)) if e.fatal => {
                panic!("worker: {}", e.message)
            }
            _ => {}
        }
    };
    tx.send(Request::Quit { commit: false }).unwrap();
    while let Ok(ev) = rx.recv_timeout(Duration::from_secs(60)) {
        if matches!(ev, popview::app::AppEvent::Worker(Event::Closed { .. })) {
            break;
        }
    }
    handle.join().unwrap();
    size
}

/// popview's worker saving message 1 into a fresh Maildir (the TUI's `C`):
/// the message's LIST size and the time from the request to its outcome.
fn worker_save(port: u16, user: &str, pass: &str) -> (u64, Duration) {
    let mut cfg = WorkerConfig::new(ConnectOptions::new("127.0.0.1", port, TlsMode::None), user);
    cfg.password = Some(pass.into());
    cfg.allow_cleartext = true;
    let dir = std::env::temp_dir().join(format!("popview-bench-save-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (tx, req_rx) = mpsc::channel();
    let (ev_tx, rx) = mpsc::channel();
    let handle = worker::spawn(
        cfg,
        Box::new(popview::worker::persist::Memory::default()),
        req_rx,
        move |e| ev_tx.send(e).is_ok(),
    );
    let mut t = Instant::now();
    let mut size = 0;
    loop {
        match rx.recv_timeout(Duration::from_secs(300)).expect("event") {
            Event::Listing { entries, .. } => {
                size = entries[0].size;
                t = Instant::now();
                tx.send(Request::Save(popview::worker::api::SaveRequest {
                    id: 1,
                    keys: vec![entries[0].key.clone()],
                    dest: popview::localbox::Destination::Maildir(dir.join("Mail")),
                    index_dir: None,
                }))
                .unwrap();
            }
            Event::SaveDone(o) => {
                assert_eq!(o.saved.len(), 1, "{o:?}");
                break;
            }
            Event::Error(e) if e.fatal => panic!("worker: {}", e.message),
            _ => {}
        }
    }
    let took = t.elapsed();
    tx.send(Request::Quit { commit: false }).unwrap();
    while let Ok(ev) = rx.recv_timeout(Duration::from_secs(60)) {
        if matches!(ev, Event::Closed { .. }) {
            break;
        }
    }
    handle.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (size, took)
}

/// In a child: run one case, print `secs peak_kib bytes`.
fn child(spec: &str) {
    let mut p = spec.split(' ');
    let (case, port) = (p.next().unwrap(), p.next().unwrap().parse().unwrap());
    let (user, pass) = (p.next().unwrap(), p.next().unwrap());
    let base = status_kib("VmHWM:");
    let (bytes, took) = match case {
        "raw" => raw_retr(port, user, pass),
        "worker" => worker_retr(port, user, pass),
        "worker-save" => worker_save(port, user, pass),
        "parse" => {
            // The same message, no network: mail::view and the Doc.
            let msg = big_message(env_usize("POPVIEW_BENCH_MB", 52));
            let base = status_kib("VmHWM:");
            let t = Instant::now();
            let n = msg.len() as u64;
            let ev = Event::Message {
                ticket: 1,
                key: popview::worker::api::MsgKey {
                    number: 1,
                    uid: None,
                    generation: 0,
                },
                view: Box::new(popview::mail::view(msg)),
            };
            drop(popview::app::prepare(ev));
            let secs = t.elapsed().as_secs_f64();
            let peak = status_kib("VmHWM:").saturating_sub(base);
            println!("RESULT {secs} {peak} {n}");
            return;
        }
        other => panic!("unknown case {other}"),
    };
    let secs = took.as_secs_f64();
    let peak = status_kib("VmHWM:").saturating_sub(base);
    println!("RESULT {secs} {peak} {bytes}");
}

fn run_child(case: &str, d: &Dovecot) -> (f64, u64, u64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(
            CHILD,
            format!("{case} {} {} {}", d.plain_port, d.user, d.password),
        )
        .output()
        .expect("child");
    assert!(
        out.status.success(),
        "{case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("result line");
    let mut f = line.split(' ');
    (
        f.next().unwrap().parse().unwrap(),
        f.next().unwrap().parse().unwrap(),
        f.next().unwrap().parse().unwrap(),
    )
}

/// popview itself under `/usr/bin/time`: wall time and peak RSS (KiB).
fn run_cli(sb: &support::cli::Sandbox, cfg: &str, pass: &str, args: &[&str]) -> (f64, u64) {
    let mut all = args.to_vec();
    all.extend(["--config", cfg]);
    let c = sb.command(&all, &[("PV_TEST_PW", pass)]);
    let program = c.get_program().to_owned();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("PEAK %M")
        .arg(program)
        .args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    let t = Instant::now();
    let out = timed
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("/usr/bin/time (Debian package `time`)");
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "popview {args:?}: {err}");
    let peak = err
        .lines()
        .find_map(|l| l.strip_prefix("PEAK "))
        .and_then(|v| v.trim().parse().ok())
        .expect("peak line");
    (secs, peak)
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        child(&spec);
        return;
    }
    let mb = env_usize("POPVIEW_BENCH_MB", 52);
    let runs = env_usize("POPVIEW_BENCH_RUNS", 3).max(1);
    let msg = big_message(mb);
    let size = msg.len() as f64;
    let d = Dovecot::start(DovecotOptions::with_messages(vec![msg]));
    let sb = support::cli::Sandbox::new();
    let cfg = sb.home().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[accounts.t]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             username = \"{}\"\npassword_env = \"PV_TEST_PW\"\nallow_cleartext_password = true\n",
            d.plain_port, d.user
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let best = |f: &mut dyn FnMut() -> (f64, u64)| {
        (0..runs)
            .map(|_| f())
            .fold((f64::MAX, 0u64), |(t, m), (t2, m2)| (t.min(t2), m.max(m2)))
    };
    let raw = best(&mut || {
        let (t, m, b) = run_child("raw", &d);
        assert!(b as f64 > size * 0.99, "raw client got {b} bytes");
        (t, m)
    });
    let work = best(&mut || {
        let (t, m, b) = run_child("worker", &d);
        assert!(b as f64 > size * 0.99, "worker got {b} bytes");
        (t, m)
    });
    let parse = best(&mut || {
        let (t, m, _) = run_child("parse", &d);
        (t, m)
    });
    let tui_save = best(&mut || {
        let (t, m, b) = run_child("worker-save", &d);
        assert!(b as f64 > size * 0.99, "the worker saved {b} bytes");
        (t, m)
    });
    let show = best(&mut || run_cli(&sb, &cfg, &d.password, &["show", "--raw", "1"]));
    let save = best(&mut || {
        let dir = sb.home().join(format!("Mail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(sb.home().join("xdg-data"));
        let r = run_cli(
            &sb,
            &cfg,
            &d.password,
            &["save", "1", "--maildir", dir.to_str().unwrap()],
        );
        let _ = std::fs::remove_dir_all(&dir);
        r
    });
    let save_mbox = best(&mut || {
        let file = sb.home().join(format!("mbox-{}", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_dir_all(sb.home().join("xdg-data"));
        let r = run_cli(
            &sb,
            &cfg,
            &d.password,
            &["save", "1", "--mbox", file.to_str().unwrap()],
        );
        let _ = std::fs::remove_file(&file);
        r
    });
    let mbs = size / 1e6;
    println!(
        "\nOne message of {mbs:.1} MB from Dovecot over loopback (best time / largest peak of {runs} runs)\n"
    );
    println!(
        "{:<34} {:>8} {:>9} {:>10} {:>9}",
        "case", "time", "x raw", "peak RSS", "x size"
    );
    let row = |name: &str, (t, kib): (f64, u64), note: &str| {
        let mb = kib as f64 * 1024.0 / 1e6;
        println!(
            "{name:<34} {t:>7.2}s {:>8.2}x {mb:>8.1}MB {:>8.2}x{note}",
            t / raw.0,
            mb / mbs
        );
    };
    row(
        "raw client (RETR, unstuff, count)",
        raw,
        "  (above baseline)",
    );
    row("worker Retrieve -> reader Doc", work, "  (above baseline)");
    row(
        "  of which mail::view + Doc",
        parse,
        "  (above the message held)",
    );
    row(
        "worker Save (the TUI's C) Maildir",
        tui_save,
        "  (above baseline)",
    );
    row("popview show --raw 1 >/dev/null", show, "  (whole process)");
    row("popview save 1 --maildir", save, "  (whole process)");
    row("popview save 1 --mbox", save_mbox, "  (whole process)");
}
