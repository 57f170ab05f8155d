//! A small tmux driver for end-to-end tests of the TUI: one private tmux
//! server per [`Tmux`] (its own `-L` socket, no user config), keys in, screen
//! text out, waits that poll for text instead of sleeping, and a screen dump
//! in every timeout panic. The server is killed on drop.
//!
//! tmux is required: the constructor panics when it is missing (the tests
//! never skip silently).

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often the waits look at the screen.
const POLL: Duration = Duration::from_millis(50);

/// A private tmux server with one session running one command.
pub struct Tmux {
    socket: String,
}

/// Quote `s` for `sh` (single quotes; embedded ones closed and escaped).
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Tmux {
    /// Start `shell_command` (run by tmux through `sh -c`) in a detached
    /// session of `width` x `height` cells.
    pub fn start(shell_command: &str, width: u16, height: u16) -> Tmux {
        static N: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "pv-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let t = Tmux { socket };
        let out = match t
            .command()
            .args(["new-session", "-d", "-s", "pv", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .arg(shell_command)
            .output()
        {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("tmux is required: apt-get install tmux")
            }
            Err(e) => panic!("can't run tmux: {e}"),
        };
        check(&out, "new-session");
        t
    }

    fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-f", "/dev/null", "-L", &self.socket]);
        c
    }

    fn tmux(&self, args: &[&str]) -> Output {
        let out = self
            .command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("can't run tmux {args:?}: {e}"));
        check(&out, &args.join(" "));
        out
    }

    /// Send keys in tmux's `send-keys` syntax (`"j"`, `"Enter"`, `"Escape"`).
    pub fn send_keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "pv"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Type `text` literally (`send-keys -l`).
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "pv", "-l", text]);
    }

    /// The visible screen as plain text.
    pub fn capture(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", "pv"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The visible screen with its SGR attributes as escape sequences
    /// (`capture-pane -e`).
    pub fn capture_escapes(&self) -> String {
        let out = self.tmux(&["capture-pane", "-e", "-p", "-t", "pv"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The pane's title (what an OSC 0/2 sequence would have set).
    pub fn pane_title(&self) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", "pv", "#{pane_title}"]);
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// Wait until the screen contains `text`; return that screen. Panics
    /// with the screen after `timeout`.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> String {
        self.wait_until(&format!("{text:?} on screen"), timeout, |s| {
            s.contains(text)
        })
    }

    /// Wait until the screen contains every one of `texts` at once (one
    /// capture can catch a half-drawn frame, so check them together).
    pub fn wait_all(&self, texts: &[&str], timeout: Duration) -> String {
        self.wait_until(&format!("all of {texts:?} on screen"), timeout, |s| {
            texts.iter().all(|t| s.contains(t))
        })
    }

    /// Wait until `pred` holds for the screen; return that screen.
    pub fn wait_until(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + timeout;
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return screen;
            }
            if Instant::now() >= end {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; the screen:\n\
                     ----------\n{screen}----------"
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Resize the window (and so the pane) to `width` x `height`.
    pub fn resize(&self, width: u16, height: u16) {
        self.tmux(&[
            "resize-window",
            "-t",
            "0",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "tmux {what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// popview run by a test in tmux (120x40): its own HOME and XDG dirs in a
/// temp dir (kept while this lives), the shell printing `EXIT=<code>`
/// after it and staying, so the screen after the exit can be read.
pub struct Popview {
    pub tmux: Tmux,
    pub home: tempfile::TempDir,
}

impl std::ops::Deref for Popview {
    type Target = Tmux;
    fn deref(&self) -> &Tmux {
        &self.tmux
    }
}

/// Start `bin` (the test's `CARGO_BIN_EXE_popview`) with `args`, sandboxed;
/// `config`, if given, is its default config file
/// (`$XDG_CONFIG_HOME/popview/config.toml`); `env` is added to a clean
/// environment (no POPVIEW_PASSWORD, NO_COLOR, MAILCAPS or BROWSER from the
/// caller's).
pub fn start_popview(
    bin: &str,
    args: &[&str],
    config: Option<&str>,
    env: &[(&str, &str)],
) -> Popview {
    let home = tempfile::Builder::new()
        .prefix("pvtmux")
        .tempdir_in(super::temp_root())
        .unwrap();
    start_popview_in(home, bin, args, config, env)
}

/// As [`start_popview`], in a home an earlier run used (its cache and
/// state kept: a second start).
pub fn start_popview_in(
    home: tempfile::TempDir,
    bin: &str,
    args: &[&str],
    config: Option<&str>,
    env: &[(&str, &str)],
) -> Popview {
    let h = home.path().display().to_string();
    if let Some(text) = config {
        let dir = home.path().join("config").join("popview");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), text).unwrap();
    }
    let mut inner = sh_quote(bin);
    for a in args {
        inner.push(' ');
        inner.push_str(&sh_quote(a));
    }
    inner.push_str("; echo EXIT=$?; exec sleep 600");
    let mut cmd = format!(
        "exec env -u POPVIEW_PASSWORD -u NO_COLOR -u MAILCAPS -u BROWSER HOME={h} \
         XDG_CONFIG_HOME={h}/config XDG_CACHE_HOME={h}/cache XDG_DATA_HOME={h}/data \
         TERM=xterm-256color"
    );
    for (k, v) in env {
        cmd.push_str(&format!(" {k}={}", sh_quote(v)));
    }
    cmd.push_str(&format!(" sh -c {}", sh_quote(&inner)));
    Popview {
        tmux: Tmux::start(&cmd, 120, 40),
        home,
    }
}
