//! Shared test support: a private Dovecot POP3 server, test certificates made
//! with the `openssl` CLI, a delaying/fault-injecting TCP proxy and raw POP3
//! baselines for benchmarks.
//!
//! Include it from an integration test with `mod support;` or from a bench
//! with `#[path = "../tests/support/mod.rs"] mod support;`. It depends only on
//! std and the package's (dev-)dependencies, except [`worker`], which drives
//! popview's worker thread.
#![allow(dead_code)]

pub mod certs;
pub mod cli;
pub mod cyrus;
pub mod dovecot;
pub mod proxy;
pub mod rawpop;
pub mod silent;
pub mod tmux;
pub mod worker;

use std::path::PathBuf;
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
