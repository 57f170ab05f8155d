//! Shared test support: a private Dovecot POP3 server, test certificates made
//! with the `openssl` CLI, a delaying/fault-injecting TCP proxy and raw POP3
//! baselines for benchmarks.
//!
//! Include it from an integration test with `mod support;` or from a bench
//! with `#[path = "../tests/support/mod.rs"] mod support;`. It depends only on
//! std and the package's (dev-)dependencies, except [`worker`], which drives
//! popview's worker thread.
#![allow(dead_code)]

pub mod bigmail;
pub mod certs;
pub mod cli;
pub mod cyrus;
pub mod dovecot;
pub mod introspect;
pub mod oauth_server;
pub mod protocol_suite;
pub mod proxy;
pub mod rawpop;
pub mod sasl_peer;
pub mod silent;
pub mod tmux;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the harness makes its temp dirs: `$PVD_TMPDIR` if set, else
/// `/dev/shm` when it is a writable directory (tmpfs: on this machine's
/// ext4 `/tmp`, creating a file costs ~1.2 ms, so seeding 2,000 Maildir
/// files took ~2.4 s there against ~0.1 s on tmpfs), else `/tmp`. Kept short
/// because Dovecot's unix socket paths must stay under ~100 bytes.
pub fn temp_root() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        if let Some(dir) = std::env::var_os("PVD_TMPDIR") {
            return PathBuf::from(dir);
        }
        let shm = PathBuf::from("/dev/shm");
        if shm.is_dir() && tempfile::tempdir_in(&shm).is_ok() {
            shm
        } else {
            PathBuf::from("/tmp")
        }
    })
    .clone()
}

/// The uid and gid of a system user, from `/etc/passwd`.
pub fn passwd_ids(user: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[0] == user).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

/// Two distinct free ports on 127.0.0.1 (both listeners are held at once).
pub fn two_free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let b = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// Checks `cond` every 5 ms until it holds or `within` has passed; returns
/// whether it held (checked once more at the deadline). For asserting on
/// something that happens on another thread or process: wait for the
/// condition itself, never a fixed sleep.
pub fn wait_until(within: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= end {
            return cond();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Connections to local TCP `port` (a listener's port) whose server side is
/// still open: established, half-closed by the peer but not yet by the
/// server, or waiting in the accept queue (Linux `/proc/net/tcp{,6}`).
/// Zero once the server has closed every connection it got, i.e. its
/// connection threads have read all they ever will: what they recorded
/// is final.
pub fn server_side_open(port: u16) -> usize {
    // TCP_ESTABLISHED, TCP_SYN_RECV, TCP_CLOSE_WAIT.
    tcp_sockets(|local, _, state| local == port && ["01", "03", "08"].contains(&state))
}

/// Client sockets connected to local TCP `port` that have not yet seen the
/// other side close (still established).
pub fn client_side_established(port: u16) -> usize {
    tcp_sockets(|_, remote, state| remote == port && state == "01")
}

/// Sockets in `/proc/net/tcp{,6}` for which `keep(local port, remote port,
/// state as two hex digits)` holds.
fn tcp_sockets(keep: impl Fn(u16, u16, &str) -> bool) -> usize {
    let port = |addr: &str| u16::from_str_radix(addr.rsplit(':').next().unwrap_or(""), 16).ok();
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|text| {
            text.lines()
                .skip(1)
                .filter(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.len() > 3
                        && match (port(f[1]), port(f[2])) {
                            (Some(local), Some(remote)) => keep(local, remote, f[3]),
                            _ => false,
                        }
                })
                .count()
        })
        .sum()
}

/// Waits (up to 20 s) until the server on `port` has closed every
/// connection it was given (see [`server_side_open`]); panics otherwise.
pub fn wait_server_closed(port: u16) {
    assert!(
        wait_until(std::time::Duration::from_secs(20), || server_side_open(
            port
        ) == 0),
        "the server on port {port} still holds {} connection(s)",
        server_side_open(port)
    );
}

/// Every `.rs` file under `dir`, recursively, in a stable (sorted) order.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for p in entries {
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}
