//! `popview authorize --account NAME` run as a process against a scripted
//! authorization server on 127.0.0.1 (`support::oauth_server`): the device
//! authorization grant (RFC 8628) with `authorization_pending`,
//! `slow_down`, `access_denied`, `expired_token` and the code's expiry,
//! Ctrl-C, a server that answers garbage or hangs; the refresh token stored
//! 0600 in the account's data directory (or handed to
//! `refresh_token_store_command`) and never printed. Then a login with the
//! stored token (the access token sent as the password, so this runs
//! without an OAuth SASL mechanism).

mod support;

use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use popview::cli::exit;
use popview::demo::Mailbox;
use support::cli::*;
use support::oauth_server::{OAuthServer, Reply, device_code, error, tokens};

const DEVICE: &str = "/devicecode";
const TOKEN: &str = "/token";
const REFRESH: &str = "Rt-7c1d-secret-refresh";
const ACCESS: &str = "At-99ab-secret-access";

/// A config with the account `work` (at `port`, STLS with the test CA) and
/// its `[oauth2]` table at `server`, plus `extra` lines in that table.
fn config(
    sb: &Sandbox,
    server: &OAuthServer,
    port: u16,
    account_extra: &str,
    extra: &str,
) -> String {
    let path = sb.home().join("config.toml");
    let ca = support::certs::TestPki::shared().ca_pem.clone();
    std::fs::write(
        &path,
        format!(
            "[accounts.work]\nhost = \"localhost\"\nport = {port}\ntls = \"starttls\"\n\
             username = \"demo\"\nca_file = {:?}\n{account_extra}\n\
             [accounts.work.oauth2]\ntoken_url = {:?}\ndevice_authorization_url = {:?}\n\
             client_id = \"client-1\"\nscope = \"https://mail.google.com/\"\n{extra}\n",
            ca.display().to_string(),
            server.url(TOKEN),
            server.url(DEVICE),
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

/// The stored refresh token files under the sandbox.
fn token_files(sb: &Sandbox) -> Vec<PathBuf> {
    sb.files()
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "oauth2-refresh-token"))
        .collect()
}

#[track_caller]
fn no_token_shown(r: &Run) {
    for t in [REFRESH, ACCESS, "dev-code-1"] {
        assert!(
            !r.out().contains(t) && !r.stderr.contains(t),
            "{t} shown: {r:#?}"
        );
    }
}

#[test]
fn authorize_prints_the_code_polls_and_stores_the_token_privately() {
    let server = OAuthServer::start();
    server.script(DEVICE, vec![device_code("dev-code-1", "WDJB-MJHT", 1, 600)]);
    server.script(
        TOKEN,
        vec![
            error("authorization_pending"),
            error("authorization_pending"),
            tokens(ACCESS, Some(REFRESH), 3600),
        ],
    );
    let sb = Sandbox::new();
    let cfg = config(&sb, &server, 1, "", "");
    let r = sb
        .run(&["authorize", "--account", "work", "--config", &cfg], &[])
        .ok();
    let out = r.out();
    assert!(out.contains("enter the code: WDJB-MJHT"), "{out}");
    assert!(
        out.contains("open https://login.example.test/device in a browser"),
        "{out}"
    );
    assert!(
        out.contains("https://login.example.test/device?code=WDJB-MJHT"),
        "{out}"
    );
    assert!(out.contains("Authorized."), "{out}");
    no_token_shown(&r);
    // The device request, then three polls of the token endpoint.
    let dev = server.seen_at(DEVICE);
    assert_eq!(dev.len(), 1);
    assert_eq!(dev[0].form["client_id"], "client-1");
    assert_eq!(dev[0].form["scope"], "https://mail.google.com/");
    let polls = server.seen_at(TOKEN);
    assert_eq!(polls.len(), 3);
    for p in &polls {
        assert_eq!(
            p.form["grant_type"],
            "urn:ietf:params:oauth:grant-type:device_code"
        );
        assert_eq!(p.form["device_code"], "dev-code-1");
        assert_eq!(p.form["client_id"], "client-1");
    }
    // Polled no faster than the interval (1 s).
    for w in polls.windows(2) {
        assert!(w[1].at - w[0].at >= Duration::from_millis(950), "{polls:?}");
    }
    // Stored: 0600, in the account's data directory, the token and a newline.
    let files = token_files(&sb);
    assert_eq!(files.len(), 1, "{files:?}");
    let f = &files[0];
    assert!(f.starts_with(sb.home().join("xdg-data")), "{f:?}");
    assert_eq!(std::fs::read_to_string(f).unwrap(), format!("{REFRESH}\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let dir = f.parent().unwrap();
        assert_eq!(
            std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}

#[test]
fn slow_down_adds_five_seconds_to_the_interval() {
    let server = OAuthServer::start();
    server.script(DEVICE, vec![device_code("dev-code-1", "SLOW-DOWN", 1, 600)]);
    server.script(
        TOKEN,
        vec![error("slow_down"), tokens(ACCESS, Some(REFRESH), 3600)],
    );
    let sb = Sandbox::new();
    let cfg = config(&sb, &server, 1, "", "");
    sb.run(&["authorize", "--account", "work", "--config", &cfg], &[])
        .ok();
    let polls = server.seen_at(TOKEN);
    assert_eq!(polls.len(), 2);
    let gap = polls[1].at - polls[0].at;
    assert!(gap >= Duration::from_millis(5950), "{gap:?}");
    assert_eq!(token_files(&sb).len(), 1);
}

#[test]
fn denied_and_expired_fail_with_advice_and_store_nothing() {
    for (answer, words) in [
        ("access_denied", "denied in the browser"),
        ("expired_token", "the code expired"),
    ] {
        let server = OAuthServer::start();
        server.script(DEVICE, vec![device_code("dev-code-1", "ABCD-EFGH", 1, 600)]);
        server.script(TOKEN, vec![error("authorization_pending"), error(answer)]);
        let sb = Sandbox::new();
        let cfg = config(&sb, &server, 1, "", "");
        let r = sb
            .run(&["authorize", "--account", "work", "--config", &cfg], &[])
            .code(exit::AUTH);
        assert!(r.stderr.contains(words), "{answer}: {}", r.stderr);
        assert!(
            r.stderr.contains("run popview authorize again"),
            "{}",
            r.stderr
        );
        assert!(token_files(&sb).is_empty());
        assert_eq!(server.seen_at(TOKEN).len(), 2);
    }
}

#[test]
fn polling_stops_when_the_code_expires() {
    let server = OAuthServer::start();
    server.script(DEVICE, vec![device_code("dev-code-1", "ABCD-EFGH", 1, 3)]);
    server.script(TOKEN, vec![error("authorization_pending")]);
    let sb = Sandbox::new();
    let cfg = config(&sb, &server, 1, "", "");
    let t = Instant::now();
    let r = sb
        .run(&["authorize", "--account", "work", "--config", &cfg], &[])
        .code(exit::AUTH);
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert!(r.stderr.contains("the code expired"), "{}", r.stderr);
    assert!(r.out().contains("the code works for 1 min"), "{}", r.out());
    let polls = server.seen_at(TOKEN).len();
    assert!((1..=3).contains(&polls), "{polls}");
    assert!(token_files(&sb).is_empty());
}

#[test]
fn ctrl_c_stops_cleanly_and_stores_nothing() {
    let server = OAuthServer::start();
    server.script(DEVICE, vec![device_code("dev-code-1", "CTRL-CCCC", 1, 600)]);
    server.script(TOKEN, vec![error("authorization_pending")]);
    let sb = Sandbox::new();
    let cfg = config(&sb, &server, 1, "", "");
    let mut child = sb
        .command(&["authorize", "--account", "work", "--config", &cfg], &[])
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut all = Vec::new();
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            let _ = tx.send(String::from_utf8_lossy(&all).into_owned());
        }
    });
    // Wait for the code, then for a poll, then Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while !seen.contains("CTRL-CCCC") || server.seen_at(TOKEN).is_empty() {
        assert!(Instant::now() < deadline, "no code printed: {seen}");
        if let Ok(s) = rx.recv_timeout(Duration::from_millis(50)) {
            seen = s;
        }
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let t = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "still running after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(code, Some(130), "{err}");
    assert!(
        err.contains("authorization cancelled; nothing was stored"),
        "{err}"
    );
    assert!(token_files(&sb).is_empty());
}

#[test]
fn garbage_html_and_a_hang_get_clear_errors() {
    for (reply, code, words) in [
        (Reply::Html, exit::SERVER, "an HTML page"),
        (
            Reply::Raw(b"\x00\x01\x02garbage".to_vec()),
            exit::SERVER,
            "answered something that is not HTTP, not an OAuth2 answer",
        ),
        (Reply::Json(404, "{}".into()), exit::SERVER, "HTTP 404"),
        (Reply::Huge(1 << 20), exit::SERVER, "more than 64 KiB"),
        (Reply::Hang, exit::NETWORK, "no answer in time"),
    ] {
        let server = OAuthServer::start();
        server.script(DEVICE, vec![reply.clone()]);
        let sb = Sandbox::new();
        let cfg = config(&sb, &server, 1, "timeout_secs = 2", "");
        let t = Instant::now();
        let r = sb
            .run(&["authorize", "--account", "work", "--config", &cfg], &[])
            .code(code);
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{reply:?}: {:?}",
            t.elapsed()
        );
        assert!(r.stderr.contains(words), "{reply:?}: {}", r.stderr);
        assert!(!has_control(&r.stderr.replace('\n', " ")), "{:?}", r.stderr);
        assert!(token_files(&sb).is_empty());
    }
}

#[test]
fn an_account_without_an_oauth2_table_is_told_how_to_add_one() {
    let sb = Sandbox::new();
    let path = sb.home().join("config.toml");
    std::fs::write(&path, "[accounts.home]\nhost = \"h\"\nusername = \"u\"\n").unwrap();
    let r = sb
        .run(
            &[
                "authorize",
                "--account",
                "home",
                "--config",
                path.to_str().unwrap(),
            ],
            &[],
        )
        .code(exit::USAGE);
    assert!(r.stderr.contains("[accounts.home.oauth2]"), "{}", r.stderr);
}

#[test]
fn the_store_command_gets_the_token_and_login_uses_the_refreshed_one() {
    let server = OAuthServer::start();
    server.script(DEVICE, vec![device_code("dev-code-1", "WDJB-MJHT", 1, 600)]);
    server.script(TOKEN, vec![tokens(ACCESS, Some(REFRESH), 3600)]);
    let pop = stls_server(Mailbox::generated(2));
    let sb = Sandbox::new();
    let kept = sb.home().join("kept-token");
    let cfg = config(
        &sb,
        &server,
        pop.addr().port(),
        "",
        &format!(
            "refresh_token_command = \"cat {0}\"\nrefresh_token_store_command = \"cat > {0}\"\n",
            kept.display()
        ),
    );
    let r = sb
        .run(&["authorize", "--account", "work", "--config", &cfg], &[])
        .ok();
    no_token_shown(&r);
    assert!(
        r.out().contains("with refresh_token_store_command"),
        "{}",
        r.out()
    );
    assert_eq!(
        std::fs::read_to_string(&kept).unwrap(),
        format!("{REFRESH}\n")
    );
    assert!(token_files(&sb).is_empty());
    // Login: the refresh exchange gives the access token, which this test
    // server takes as the password; the rotated refresh token is stored.
    server.script(TOKEN, vec![tokens(PW, Some("Rt-rotated-2"), 3600)]);
    let log = sb.home().join("debug.log");
    let r = sb
        .run(
            &["list", "--account", "work", "--config", &cfg],
            &[("POPVIEW_LOG", log.to_str().unwrap())],
        )
        .ok();
    assert_eq!(r.lines().len(), 2, "{r:#?}");
    no_token_shown(&r);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("oauth2: refresh exchange"), "{logged}");
    for t in [REFRESH, PW, "Rt-rotated-2"] {
        assert!(!logged.contains(t), "{t} logged");
    }
    let last = server.seen_at(TOKEN).pop().unwrap();
    assert_eq!(last.form["grant_type"], "refresh_token");
    assert_eq!(last.form["refresh_token"], REFRESH);
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "Rt-rotated-2\n");
    // A refused refresh token: exit 3, with what to do.
    server.script(TOKEN, vec![error("invalid_grant")]);
    let r = sb
        .run(&["list", "--account", "work", "--config", &cfg], &[])
        .code(exit::AUTH);
    assert!(
        r.stderr.contains("invalid_grant") && r.stderr.contains("popview authorize --account work"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "Rt-rotated-2\n");
}
