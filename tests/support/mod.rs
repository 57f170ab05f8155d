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
pub mod cyrus;
pub mod dovecot;
pub mod proxy;
pub mod rawpop;
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
