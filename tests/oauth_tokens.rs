//! The access token for a login, against a scripted authorization server
//! on 127.0.0.1 (`support::oauth_server`): the refresh exchange, a rotated
//! refresh token saved before the access token is handed out, a failed
//! exchange that keeps the old refresh token, the token kept in memory
//! until it expires, and a server that answers garbage, a huge body or
//! nothing. Also the `[accounts.NAME.oauth2]` table's checks.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use popview::oauth::vault::Vault;
use popview::oauth::{Freshness, OAuthError, Settings, TokenSource, forget_cached};
use support::oauth_server::{OAuthServer, Reply, error_with, tokens};

const TOKEN: &str = "/token";

fn source(server: &OAuthServer, file: PathBuf) -> TokenSource {
    let mut s = Settings::new(server.url(TOKEN), server.url("/device"), "client-1", file);
    s.scope = Some("https://outlook.office.com/POP.AccessAsUser.All offline_access".into());
    s.timeout = Duration::from_secs(2);
    TokenSource::new(s, Some("work".into()))
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir_in(support::temp_root()).unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn the_refresh_exchange_sends_the_grant_and_saves_a_rotated_token_first() {
    let server = OAuthServer::start();
    server.script(TOKEN, vec![tokens("at-1", Some("rt-2"), 3600)]);
    let d = dir();
    let file = d.path().join("rt");
    std::fs::write(&file, "rt-1\n").unwrap();
    let src = source(&server, file.clone());
    let at = src.access_token(Freshness::Fresh).unwrap();
    assert_eq!(at, "at-1");
    // The rotated token is on disk, whole, by the time the access token is.
    assert_eq!(read(&file), "rt-2\n");
    let seen = server.seen_at(TOKEN);
    assert_eq!(seen.len(), 1);
    let f = &seen[0].form;
    assert_eq!(f["grant_type"], "refresh_token");
    assert_eq!(f["refresh_token"], "rt-1");
    assert_eq!(f["client_id"], "client-1");
    assert_eq!(
        f["scope"],
        "https://outlook.office.com/POP.AccessAsUser.All offline_access"
    );
    // The next exchange uses the rotated token.
    server.script(TOKEN, vec![tokens("at-2", None, 3600)]);
    assert_eq!(src.access_token(Freshness::Fresh).unwrap(), "at-2");
    assert_eq!(server.seen_at(TOKEN)[1].form["refresh_token"], "rt-2");
    // No rotation: the file is left as it was.
    assert_eq!(read(&file), "rt-2\n");
}

#[cfg(unix)]
#[test]
fn a_rotated_token_file_is_private_and_replaced_atomically() {
    use std::os::unix::fs::PermissionsExt;
    let server = OAuthServer::start();
    server.script(TOKEN, vec![tokens("at-1", Some("rt-new"), 3600)]);
    let d = dir();
    let file = d.path().join("sub").join("rt");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "rt-old\n").unwrap();
    source(&server, file.clone())
        .access_token(Freshness::Fresh)
        .unwrap();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // No temp file left behind.
    let names: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["rt"], "{names:?}");
}

#[test]
fn a_rotation_that_cant_be_saved_hands_out_no_access_token() {
    let server = OAuthServer::start();
    server.script(TOKEN, vec![tokens("at-1", Some("rt-2"), 3600)]);
    let d = dir();
    let got = d.path().join("got");
    let mut src = source(&server, d.path().join("unused"));
    src.settings.vault = Vault::Commands {
        get: "echo rt-1".into(),
        store: format!("cat > {}; echo 'keyring locked' >&2; exit 3", got.display()),
    };
    let e = src.access_token(Freshness::Fresh).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, OAuthError::StoreCommand { .. }), "{e:?}");
    assert!(
        msg.contains("exit code 3") && msg.contains("keyring locked"),
        "{msg}"
    );
    assert!(msg.contains("popview authorize"), "{msg}");
    assert!(!msg.contains("rt-2") && !msg.contains("at-1"), "{msg}");
    // The command was given the token on stdin.
    assert_eq!(read(&got), "rt-2\n");
    // With a store command that works, the token goes there.
    src.settings.vault = Vault::Commands {
        get: "echo rt-1".into(),
        store: format!("cat > {}", got.display()),
    };
    server.script(TOKEN, vec![tokens("at-3", Some("rt-3"), 3600)]);
    assert_eq!(src.access_token(Freshness::Fresh).unwrap(), "at-3");
    assert_eq!(read(&got), "rt-3\n");
}

#[test]
fn a_failed_exchange_keeps_the_old_refresh_token_and_says_what_to_do() {
    let server = OAuthServer::start();
    server.script(
        TOKEN,
        vec![error_with(
            "invalid_grant",
            "AADSTS70008: The refresh token has expired\u{1b}[2J",
        )],
    );
    let d = dir();
    let file = d.path().join("rt");
    std::fs::write(&file, "rt-1\n").unwrap();
    let src = source(&server, file.clone());
    let e = src.access_token(Freshness::Fresh).unwrap_err();
    assert!(e.needs_authorize(), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("invalid_grant (AADSTS70008: The refresh token has expired")
            && msg.contains("popview authorize --account work"),
        "{msg}"
    );
    assert!(!msg.contains('\u{1b}'), "sanitized: {msg:?}");
    assert_eq!(read(&file), "rt-1\n");
    // Garbage, an HTML page, a huge body, a 500 without JSON: the same.
    for (reply, words) in [
        (
            Reply::Raw(b"HTTP/1.1 200 OK\r\n\r\n\x00\xff garbage".to_vec()),
            "not JSON",
        ),
        (Reply::Html, "an HTML page"),
        (Reply::Huge(200_000), "more than 64 KiB"),
        (
            Reply::Json(200, "{\"token_type\":\"Bearer\"}".into()),
            "without access_token",
        ),
        (Reply::Json(200, "[1,2]".into()), "not an object"),
    ] {
        server.script(TOKEN, vec![reply]);
        let e = src.access_token(Freshness::Fresh).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, OAuthError::Garbage { .. }), "{e:?}");
        assert!(
            msg.contains(words) && msg.contains("check token_url"),
            "{msg}"
        );
        assert_eq!(read(&file), "rt-1\n");
    }
}

#[test]
fn a_server_that_hangs_is_given_up_at_the_deadline() {
    let server = OAuthServer::start();
    server.script(TOKEN, vec![Reply::Hang]);
    let d = dir();
    let file = d.path().join("rt");
    std::fs::write(&file, "rt-1\n").unwrap();
    let src = source(&server, file.clone());
    let t = Instant::now();
    let e = src.access_token(Freshness::Fresh).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(matches!(e, OAuthError::Network { .. }), "{e:?}");
    assert!(e.to_string().contains("no answer in time"), "{e}");
    assert_eq!(read(&file), "rt-1\n");
    // Nobody listening: a network error too.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut src = src;
    src.settings.token_url = format!("http://127.0.0.1:{gone}/token");
    let e = src.access_token(Freshness::Fresh).unwrap_err();
    assert!(matches!(e, OAuthError::Network { .. }), "{e:?}");
}

#[test]
fn a_redirect_is_not_followed() {
    let server = OAuthServer::start();
    let elsewhere = server.url("/elsewhere");
    server.script(
        TOKEN,
        vec![Reply::Raw(
            format!("HTTP/1.1 302 Found\r\nLocation: {elsewhere}\r\nContent-Length: 0\r\n\r\n")
                .into_bytes(),
        )],
    );
    server.script("/elsewhere", vec![tokens("at-1", Some("rt-2"), 3600)]);
    let d = dir();
    let file = d.path().join("rt");
    std::fs::write(&file, "rt-1\n").unwrap();
    let e = source(&server, file.clone())
        .access_token(Freshness::Fresh)
        .unwrap_err();
    assert!(e.to_string().contains("HTTP 302"), "{e}");
    assert!(server.seen_at("/elsewhere").is_empty());
    assert_eq!(read(&file), "rt-1\n");
}

#[test]
fn the_access_token_is_kept_until_it_nearly_expires() {
    let server = OAuthServer::start();
    server.script(TOKEN, vec![tokens("at-1", None, 3600)]);
    let d = dir();
    let file = d.path().join("rt");
    std::fs::write(&file, "rt-1\n").unwrap();
    let src = source(&server, file.clone());
    assert_eq!(src.access_token(Freshness::Cached).unwrap(), "at-1");
    // A second login within the hour: no request.
    server.script(TOKEN, vec![tokens("at-2", None, 3600)]);
    assert_eq!(src.access_token(Freshness::Cached).unwrap(), "at-1");
    assert_eq!(server.seen_at(TOKEN).len(), 1);
    // After a rejection: a new one.
    assert_eq!(src.access_token(Freshness::Fresh).unwrap(), "at-2");
    assert_eq!(server.seen_at(TOKEN).len(), 2);
    server.script(TOKEN, vec![tokens("at-3", None, 3600)]);
    forget_cached(&src.settings);
    assert_eq!(src.access_token(Freshness::Cached).unwrap(), "at-3");
    assert_eq!(server.seen_at(TOKEN).len(), 3);
    // A token that expires within the margin is not kept.
    let other = dir();
    let file2 = other.path().join("rt");
    std::fs::write(&file2, "rt-9\n").unwrap();
    let short = source(&server, file2);
    server.script(TOKEN, vec![tokens("at-4", None, 30)]);
    short.access_token(Freshness::Cached).unwrap();
    short.access_token(Freshness::Cached).unwrap();
    assert_eq!(server.seen_at(TOKEN).len(), 5);
}

#[test]
fn without_a_stored_token_the_error_says_run_authorize() {
    let server = OAuthServer::start();
    let d = dir();
    let src = source(&server, d.path().join("none"));
    let e = src.access_token(Freshness::Cached).unwrap_err();
    assert!(e.needs_authorize());
    assert_eq!(
        e.to_string(),
        "no OAuth2 refresh token is stored for this account yet: run popview authorize --account work"
    );
    assert!(server.seen().is_empty());
    // A directory or a symlink where the file should be: not read.
    std::fs::create_dir(d.path().join("none")).unwrap();
    let e = src.access_token(Freshness::Cached).unwrap_err();
    assert!(matches!(e, OAuthError::File { .. }), "{e:?}");
}

// ---- the [accounts.NAME.oauth2] table ----

fn parse(oauth: &str) -> Result<popview::config::Config, popview::config::ConfigError> {
    let text = format!(
        "[accounts.work]\nhost = \"outlook.office365.com\"\nusername = \"me@example.com\"\n\
         auth = \"auto\"\n\n[accounts.work.oauth2]\n{oauth}"
    );
    popview::config::parse(&text, Path::new("/etc/popview/config.toml"))
}

const GOOD: &str = "token_url = \"https://login.microsoftonline.com/common/oauth2/v2.0/token\"\n\
    device_authorization_url = \"https://login.microsoftonline.com/common/oauth2/v2.0/devicecode\"\n\
    client_id = \"0123-abcd\"\n";

#[test]
fn the_oauth2_table_is_read_with_the_account_key_as_the_tokens_place() {
    let cfg = parse(&format!(
        "{GOOD}scope = \"a b\"\nclient_secret_command = \"pass show c\"\n"
    ))
    .unwrap();
    let o = cfg.accounts["work"].oauth2.clone().unwrap();
    assert_eq!(o.client_id, "0123-abcd");
    assert_eq!(o.scope.as_deref(), Some("a b"));
    assert_eq!(o.client_secret_command.as_deref(), Some("pass show c"));
    assert_eq!(
        o.vault,
        Vault::Account("me@example.com@outlook.office365.com:995".into())
    );
    assert_eq!(o.timeout, Duration::from_secs(60));
    let cfg = parse(&format!(
        "{GOOD}refresh_token_command = \"pass show rt\"\n\
         refresh_token_store_command = \"pass insert -m -f rt\"\n"
    ))
    .unwrap();
    assert_eq!(
        cfg.accounts["work"].oauth2.as_ref().unwrap().vault,
        Vault::Commands {
            get: "pass show rt".into(),
            store: "pass insert -m -f rt".into()
        }
    );
    // No table: no OAuth2.
    let plain = popview::config::parse(
        "[accounts.a]\nhost = \"h\"\nusername = \"u\"\n",
        Path::new("c.toml"),
    )
    .unwrap();
    assert_eq!(plain.accounts["a"].oauth2, None);
}

#[test]
fn oauth2_errors_name_the_key_and_never_quote_a_secret() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "token_url = \"http://login.example.com/token\"\ndevice_authorization_url = \"https://x/d\"\nclient_id = \"c\"\n",
            "accounts.work.oauth2.token_url = \"http://login.example.com/token\"",
            "use https://",
        ),
        (
            "token_url = \"https://x/t\"\nclient_id = \"c\"\n",
            "accounts.work.oauth2.device_authorization_url",
            "missing",
        ),
        (
            "token_url = \"https://x/t\"\ndevice_authorization_url = \"https://x/d\"\n",
            "accounts.work.oauth2.client_id",
            "missing",
        ),
        (
            &format!("{GOOD}refresh_token_command = \"pass show rt\"\n"),
            "accounts.work.oauth2",
            "go together",
        ),
        (
            &format!("{GOOD}client_secret = \"S3cr3t-xyz\"\n"),
            "accounts.work.oauth2.client_secret",
            "client_secret_command",
        ),
        (
            &format!("{GOOD}refresh_token = \"S3cr3t-xyz\"\n"),
            "accounts.work.oauth2.refresh_token",
            "popview authorize",
        ),
        (
            &format!("{GOOD}scopes = \"x\"\n"),
            "accounts.work.oauth2.scopes",
            "did you mean \"scope\"",
        ),
    ];
    for (table, key, words) in cases {
        let e = parse(table).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains(words), "{table}\n=> {e}");
        assert!(!e.contains("S3cr3t"), "{e}");
    }
}
