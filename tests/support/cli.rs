//! The real `popview` binary run as a script would run it: HOME and the XDG
//! dirs in a fresh temp dir per sandbox, stdin not a terminal, every run
//! killed (and the test failed) after [`RUN_LIMIT`]; and the in-process
//! server with STLS that most CLI tests talk to.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use popview::demo::{Mailbox, Server, ServerOptions, TlsMode};

use super::certs::TestPki;

pub const BIN: &str = env!("CARGO_BIN_EXE_popview");
pub const RUN_LIMIT: Duration = Duration::from_secs(60);
/// The in-process server's password: distinctive, so a leak can be found
/// anywhere (the user name `demo` appears in URLs and paths legitimately).
pub const PW: &str = "Pv-s3cret-Zq81";

/// A sandboxed HOME with the XDG dirs inside it.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    pub fn lines(&self) -> Vec<String> {
        self.out().lines().map(str::to_string).collect()
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success; {self:#?}");
        self
    }

    #[track_caller]
    pub fn code(self, want: i32) -> Run {
        assert_eq!(
            self.code,
            want,
            "expected exit code {want}; stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        );
        self
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::Builder::new()
                .prefix("pvcli")
                .tempdir_in(super::temp_root())
                .expect("sandbox dir"),
        }
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn cache_root(&self) -> PathBuf {
        self.home().join("xdg-cache")
    }

    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let h = self.home();
        let mut c = Command::new(BIN);
        c.args(args)
            .env("HOME", h)
            .env("XDG_CONFIG_HOME", h.join("xdg-config"))
            .env("XDG_CACHE_HOME", self.cache_root())
            .env("XDG_DATA_HOME", h.join("xdg-data"))
            .env_remove("POPVIEW_PASSWORD")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.run_watching(args, env, |_| {})
    }

    /// Run to completion; `watch(pid)` is called right after the spawn and
    /// then every 5 ms while the child runs.
    pub fn run_watching(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        mut watch: impl FnMut(u32),
    ) -> Run {
        let mut child = self.command(args, env).spawn().expect("spawn popview");
        let pid = child.id();
        let mut so = child.stdout.take().unwrap();
        let mut se = child.stderr.take().unwrap();
        let t_out = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = so.read_to_end(&mut b);
            b
        });
        let t_err = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = se.read_to_end(&mut b);
            b
        });
        let start = Instant::now();
        let status = loop {
            watch(pid);
            if let Some(st) = child.try_wait().expect("wait") {
                break st;
            }
            if start.elapsed() > RUN_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                let err = t_err.join().unwrap_or_default();
                panic!(
                    "popview {args:?} still running after {RUN_LIMIT:?}; killed. stderr:\n{}",
                    String::from_utf8_lossy(&err)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Run {
            code: status.code().unwrap_or(-1),
            stdout: t_out.join().unwrap(),
            stderr: String::from_utf8_lossy(&t_err.join().unwrap()).into_owned(),
        }
    }

    /// Every file under the sandbox.
    pub fn files(&self) -> Vec<PathBuf> {
        pub fn walk(d: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut v = Vec::new();
        walk(self.home(), &mut v);
        v
    }

    pub fn header_caches(&self) -> Vec<PathBuf> {
        self.files()
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n == "headers.log"))
            .collect()
    }
}

pub fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\t')
}

/// The in-process server with STLS (the test CA's `localhost` certificate)
/// and the single user `demo` / [`PW`].
pub fn stls_server(mailbox: Mailbox) -> Server {
    stls_server_with(mailbox, ServerOptions::default())
}

/// [`stls_server`] with other options (a hook, a greeting) from `opts`.
pub fn stls_server_with(mailbox: Mailbox, opts: ServerOptions) -> Server {
    Server::start(
        mailbox,
        ServerOptions {
            users: vec![("demo".into(), PW.into())],
            tls: Some(TlsMode::StartTls(TestPki::shared().valid.identity())),
            ..opts
        },
    )
    .expect("start server")
}

/// The demo server with implicit TLS (POP3S) and the shared test
/// certificate, user `demo` with [`PW`].
pub fn pop3s_server(mailbox: Mailbox) -> Server {
    Server::start(
        mailbox,
        ServerOptions {
            users: vec![("demo".into(), PW.into())],
            tls: Some(TlsMode::Implicit(TestPki::shared().valid.identity())),
            ..ServerOptions::default()
        },
    )
    .expect("start server")
}

pub fn url(s: &Server) -> String {
    format!("pop3://demo@localhost:{}", s.addr().port())
}

pub fn ca() -> &'static str {
    TestPki::shared().ca_pem.to_str().unwrap()
}

pub fn tops_since(s: &Server, first_conn: usize) -> usize {
    s.log()
        .iter()
        .filter(|l| l.conn >= first_conn && l.line.starts_with("TOP "))
        .count()
}

pub fn settle(s: &Server) {
    assert!(
        s.wait_unlocked(Duration::from_secs(10)),
        "maildrop stays locked"
    );
}
