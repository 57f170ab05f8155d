//! Running the programs the app asks for (`|` pipe, `m` open, links): the
//! processes, their temporary files and their limits. The terminal loop
//! (`super::run`) hands the terminal over around the foreground ones.
//!
//! - A pipe runs `sh -c COMMAND` with the raw message on its standard
//!   input, in the foreground, then waits for a key (like mutt's
//!   `wait_key`) so its output can be read.
//! - A part to open is written privately (0600) into a private temporary
//!   directory (0700) under a safe base name ([`crate::mail::save_name_in`]),
//!   and opened with the first mailcap entry for its type whose `test=`
//!   passes ([`crate::mailcap`]), else `xdg-open`. A `copiousoutput`
//!   entry runs off the UI thread with its output captured (at most
//!   [`MAX_OUTPUT`] bytes, at most [`MAX_RUN`]); any other runs in the
//!   foreground. The directory is removed when the viewer ends, except
//!   after `xdg-open`, which returns before the program it starts has read
//!   the file: then it is removed when popview ends.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::app::external::{ExternalDone, OpenJob, PipeJob, openable};
use crate::app::{FilterJob, FilterVerdicts};
use crate::mailcap;

/// Most bytes of a viewer's output shown (the rest is dropped).
pub const MAX_OUTPUT: usize = 1024 * 1024;
/// Longest a `copiousoutput` viewer may run.
pub const MAX_RUN: Duration = Duration::from_secs(10);
/// Longest a mailcap `test=` command may run (it fails after that).
pub const MAX_TEST: Duration = Duration::from_secs(5);
/// How often a bounded wait looks at the child.
const POLL: Duration = Duration::from_millis(20);

fn sh(command: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(command);
    c
}

/// How a process ended, in words.
pub fn status_words(s: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            return format!("killed by signal {sig}");
        }
    }
    match s.code() {
        Some(c) => format!("exit status {c}"),
        None => "ended".to_string(),
    }
}

/// Wait for `child` until `limit`; kill it after. `None` when killed.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Longest mpop's filter may take on one message before it counts as
/// failed (and is stopped).
pub const MAX_FILTER_ONE: Duration = Duration::from_secs(10);
/// Longest the filter may take on the whole mailbox; what is left after
/// that proposes nothing.
pub const MAX_FILTER_ALL: Duration = Duration::from_secs(300);

/// mpop's filter, off the UI thread: `sh -c COMMAND` once per message with
/// its header block on standard input (its output is discarded); exit 1
/// proposes it for deletion, 0 keeps it, 2 skips it, anything else (or a
/// filter that hangs) is a failure that proposes nothing for it.
pub fn filter(job: &FilterJob) -> FilterVerdicts {
    let started = Instant::now();
    let mut out = FilterVerdicts::default();
    let mut failures = 0usize;
    for (key, headers) in &job.messages {
        if started.elapsed() > MAX_FILTER_ALL {
            out.error.get_or_insert_with(|| {
                format!(
                    "stopped after {} s; the rest proposes nothing",
                    MAX_FILTER_ALL.as_secs()
                )
            });
            break;
        }
        let verdict = filter_one(&job.command, headers);
        match verdict {
            Ok(Some(1)) => out.delete.push(key.clone()),
            Ok(Some(0 | 2)) => {}
            Ok(other) => {
                failures += 1;
                out.error.get_or_insert_with(|| match other {
                    Some(c) => {
                        format!("exited {c} (mpop's filter answers 0 keep, 1 delete, 2 skip)")
                    }
                    None => format!("gave no answer within {} s", MAX_FILTER_ONE.as_secs()),
                });
            }
            Err(e) => {
                failures += 1;
                out.error
                    .get_or_insert_with(|| format!("can't run it: {e}"));
            }
        }
    }
    if failures > 1
        && let Some(e) = &mut out.error
    {
        e.push_str(&format!(" ({failures} messages)"));
    }
    out
}

/// One message through the filter: its exit code (`None`: stopped).
fn filter_one(command: &str, headers: &str) -> std::io::Result<Option<i32>> {
    let mut child = sh(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        // A filter that reads nothing closes the pipe: not an error.
        let _ = stdin.write_all(headers.as_bytes());
        let _ = stdin.write_all(b"\n");
    }
    Ok(wait_bounded(&mut child, MAX_FILTER_ONE).and_then(|s| s.code()))
}

/// Runs in the foreground (the terminal is handed over): `sh -c` with
/// the message on standard input.
pub fn pipe(job: &PipeJob) -> ExternalDone {
    let what = format!("| {}", job.command);
    let mut child = match sh(&job.command).stdin(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => return ExternalDone::Failed(format!("cannot run sh: {e}")),
    };
    // Written from a thread: a command that reads nothing (or little)
    // must not block us while it waits for its own output to drain.
    let writer = child.stdin.take().map(|mut stdin| {
        let data = job.data.clone();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        })
    });
    let status = child.wait();
    if let Some(w) = writer {
        let _ = w.join();
    }
    match status {
        Ok(s) => ExternalDone::Finished {
            what,
            status: status_words(s),
        },
        Err(e) => ExternalDone::Failed(format!("{what}: {e}")),
    }
}

/// The mailcap entries of every file on the search path: regular files
/// only, at most [`mailcap::MAX_FILE`] bytes each.
fn entries() -> Vec<mailcap::Entry> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let list = std::env::var("MAILCAPS").ok();
    let mut out = Vec::new();
    for path in mailcap::search_path(list.as_deref(), home.as_deref()) {
        let regular = std::fs::metadata(&path).is_ok_and(|m| m.is_file());
        if !regular {
            continue;
        }
        let Ok(f) = std::fs::File::open(&path) else {
            continue;
        };
        let mut bytes = Vec::new();
        if f.take(mailcap::MAX_FILE as u64)
            .read_to_end(&mut bytes)
            .is_err()
        {
            continue;
        }
        out.extend(mailcap::parse(&String::from_utf8_lossy(&bytes)));
        if out.len() >= mailcap::MAX_ENTRIES {
            break;
        }
    }
    out
}

/// A mailcap `test=`: exit 0 within [`MAX_TEST`], no terminal.
fn test_passes(command: &str) -> bool {
    let child = sh(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(mut c) => wait_bounded(&mut c, MAX_TEST).is_some_and(|s| s.success()),
        Err(_) => false,
    }
}

/// How to open a part, decided with its file written.
pub enum OpenPlan {
    /// Run off the UI thread, its output captured and shown.
    Capture {
        title: String,
        command: String,
        dir: tempfile::TempDir,
    },
    /// Run in the foreground (the terminal handed over). `keep`: the
    /// directory outlives the command (`xdg-open`).
    Foreground {
        what: String,
        command: String,
        dir: tempfile::TempDir,
        keep: bool,
    },
    Failed(String),
}

/// Write the part privately and choose its viewer.
pub fn plan_open(job: &OpenJob) -> OpenPlan {
    let mut builder = tempfile::Builder::new();
    builder.prefix("popview-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    let dir = match builder.tempdir() {
        Ok(d) => d,
        Err(e) => return OpenPlan::Failed(format!("cannot make a temporary folder: {e}")),
    };
    let path = crate::mail::save_name_in(dir.path(), &job.name);
    if let Err(e) = write_private(&path, &job.data) {
        return OpenPlan::Failed(format!("cannot write {}: {e}", path.display()));
    }
    let entries = entries();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match mailcap::lookup(&entries, &job.mime, &path, test_passes) {
        Some((e, command)) if e.copiousoutput => OpenPlan::Capture {
            title: format!("{name} ({}) through: {}", job.mime, e.command),
            command,
            dir,
        },
        Some((e, command)) => OpenPlan::Foreground {
            what: e.command.clone(),
            command,
            dir,
            keep: false,
        },
        None => {
            let Some(p) = path.to_str() else {
                return OpenPlan::Failed("the temporary path is not UTF-8".to_string());
            };
            OpenPlan::Foreground {
                what: format!("xdg-open {name}"),
                command: format!("xdg-open {}", mailcap::shell_quote(p)),
                dir,
                keep: true,
            }
        }
    }
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// Read at most `cap` bytes of `r`, then drain and drop the rest.
fn read_capped(r: impl Read, cap: usize) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let mut r = r.take(cap as u64 + 1);
    let _ = r.read_to_end(&mut buf);
    let cut = buf.len() > cap;
    buf.truncate(cap);
    // Let the writer finish (or get EPIPE once we drop it).
    let _ = std::io::copy(&mut r.into_inner(), &mut std::io::sink());
    (buf, cut)
}

/// Run a `copiousoutput` viewer: its standard output (then its errors),
/// capped at [`MAX_OUTPUT`], stopped after [`MAX_RUN`].
pub fn capture(title: String, command: &str) -> ExternalDone {
    capture_within(title, command, MAX_RUN, MAX_OUTPUT)
}

fn capture_within(title: String, command: &str, limit: Duration, cap: usize) -> ExternalDone {
    let child = sh(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return ExternalDone::Failed(format!("cannot run sh: {e}")),
    };
    let out = child
        .stdout
        .take()
        .map(|o| std::thread::spawn(move || read_capped(o, cap)));
    let err = child
        .stderr
        .take()
        .map(|e| std::thread::spawn(move || read_capped(e, 64 * 1024)));
    let status = wait_bounded(&mut child, limit);
    let (mut text, cut) = out
        .and_then(|h| h.join().ok())
        .map(|(b, c)| (String::from_utf8_lossy(&b).into_owned(), c))
        .unwrap_or_default();
    if let Some((e, _)) = err.and_then(|h| h.join().ok())
        && !e.is_empty()
    {
        text.push_str("\n[the viewer's errors]\n");
        text.push_str(&String::from_utf8_lossy(&e));
    }
    if cut {
        text.push_str(&format!("\n[output cut at {} KB]", cap / 1024));
    }
    match status {
        None => text.push_str(&format!(
            "\n[the viewer was stopped after {} ms]",
            limit.as_millis()
        )),
        Some(s) if !s.success() => text.push_str(&format!("\n[{}]", status_words(s))),
        Some(_) => {}
    }
    ExternalDone::Output { title, text }
}

/// Run `command` in the foreground (the terminal is handed over).
pub fn foreground(what: &str, command: &str) -> ExternalDone {
    match sh(command).status() {
        Ok(s) => ExternalDone::Finished {
            what: what.to_string(),
            status: status_words(s),
        },
        Err(e) => ExternalDone::Failed(format!("cannot run {what}: {e}")),
    }
}

/// The command that opens `url`: `$BROWSER` (the first of a
/// colon-separated list; `%s` replaced, else the URL appended), else
/// `xdg-open`. The URL never enters the command's text: it is `sh`'s
/// first argument, referred to as `"$1"` (run it with [`run_url`]).
/// `None` for a URL that must not be opened.
pub fn url_command(url: &str, browser: Option<&str>) -> Option<String> {
    if !openable(url) {
        return None;
    }
    let browser = browser
        .and_then(|b| b.split(':').find(|s| !s.trim().is_empty()))
        .map(str::trim);
    Some(match browser {
        Some(b) if b.contains("%s") => b.replace("%s", "\"$1\""),
        Some(b) => format!("{b} \"$1\""),
        None => "xdg-open \"$1\"".to_string(),
    })
}

/// Open `url` in the foreground (the terminal is handed over).
pub fn run_url(url: &str) -> ExternalDone {
    let browser = std::env::var("BROWSER").ok();
    let Some(command) = url_command(url, browser.as_deref()) else {
        return ExternalDone::Failed("only http, https and mailto links are opened".to_string());
    };
    match sh(&command).arg("sh").arg(url).status() {
        Ok(s) => ExternalDone::Finished {
            what: "opening the link".to_string(),
            status: status_words(s),
        },
        Err(e) => ExternalDone::Failed(format!("cannot run the browser: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use crate::worker::api::MsgKey;

    #[test]
    fn the_filter_answers_like_mpops_and_failures_propose_nothing() {
        let key = |n| MsgKey::new(n, Some(format!("u{n}")));
        let job = FilterJob {
            // 1 (delete) for Jenkins, 2 (skip) for "skip", 7 (a failure)
            // for "broken", 0 (keep) for the rest.
            command: "h=$(cat); case \"$h\" in *Jenkins*) exit 1;; *skip*) exit 2;; \
                      *broken*) exit 7;; esac; exit 0"
                .to_string(),
            messages: vec![
                (key(1), "From: Jenkins <ci@x>\nSubject: build".to_string()),
                (key(2), "From: Ann <a@x>\nSubject: hello".to_string()),
                (key(3), "From: Bob <b@x>\nSubject: skip me".to_string()),
                (key(4), "From: Eve <e@x>\nSubject: broken".to_string()),
            ],
        };
        let v = filter(&job);
        assert_eq!(v.delete, vec![key(1)]);
        let e = v.error.expect("the failure is reported");
        assert!(e.contains("exited 7"), "{e}");
    }

    use super::*;

    fn output(d: ExternalDone) -> String {
        match d {
            ExternalDone::Output { text, .. } => text,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn captured_output_is_capped() {
        let t = output(capture_within(
            "t".into(),
            "head -c 100000 /dev/zero | tr '\\0' a",
            Duration::from_secs(10),
            1024,
        ));
        assert!(t.starts_with(&"a".repeat(1024)), "{}", &t[..40]);
        assert!(!t.contains(&"a".repeat(1025)));
        assert!(t.contains("[output cut at 1 KB]"), "{t}");
    }

    #[test]
    fn a_viewer_that_never_ends_is_stopped() {
        let started = Instant::now();
        let t = output(capture_within(
            "t".into(),
            "echo before; exec sleep 30",
            Duration::from_millis(300),
            1024,
        ));
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(
            t.contains("before") && t.contains("stopped after 300 ms"),
            "{t}"
        );
    }

    #[test]
    fn a_url_is_an_argument_never_part_of_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let canary = dir.path().join("pwned");
        let url = format!("https://x/;touch${{IFS}}{}", canary.display());
        assert!(openable(&url));
        // $BROWSER is a colon-separated list: the first one is used.
        let cmd = url_command(&url, Some("printf %s:ignored")).unwrap();
        assert_eq!(cmd, "printf \"$1\"");
        let out = sh(&url_command(&url, Some("printf %s")).unwrap())
            .arg("sh")
            .arg(&url)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), url);
        assert!(!canary.exists());
        assert_eq!(url_command("javascript:alert(1)", None), None);
        assert_eq!(url_command("https://a", None).unwrap(), "xdg-open \"$1\"");
        assert_eq!(
            url_command("https://a", Some(":w3m:lynx")).unwrap(),
            "w3m \"$1\""
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_part_is_written_privately_under_a_safe_name() {
        use std::os::unix::fs::PermissionsExt;
        let job = OpenJob {
            name: "../../.bashrc".into(),
            mime: "application/x-unknown-to-any-mailcap".into(),
            data: b"rm -rf ~".to_vec(),
        };
        match plan_open(&job) {
            OpenPlan::Foreground {
                command, dir, keep, ..
            } => {
                assert!(keep, "xdg-open returns before the viewer reads the file");
                let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o700);
                let files: Vec<_> = std::fs::read_dir(dir.path())
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                assert_eq!(files.len(), 1);
                let f = &files[0];
                assert_eq!(f.file_name().unwrap(), "bashrc");
                let mode = std::fs::metadata(f).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
                assert_eq!(std::fs::read(f).unwrap(), b"rm -rf ~");
                assert_eq!(
                    command,
                    format!("xdg-open {}", mailcap::shell_quote(f.to_str().unwrap()))
                );
            }
            OpenPlan::Capture { .. } => panic!("no mailcap entry expected"),
            OpenPlan::Failed(why) => panic!("{why}"),
        }
    }
}
