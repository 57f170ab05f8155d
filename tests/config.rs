//! The configuration file, URL accounts and password sources.
//!
//! Fixtures: every `tests/configs/valid/*.toml` loads without warnings; every
//! `tests/configs/invalid/*.toml` fails with the text in its `.err` file
//! (one substring per line; a line starting with `!` must NOT appear; `#`
//! starts a comment).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use popview::config::{
    self, ACCOUNT_KEYS, Account, Config, ConfigError, EXAMPLE, MINIMAL, RULE_KEYS, UI_KEYS,
    account_from_url, first_run_message, parse_size,
};
use popview::password::{
    self, PasswordError, PasswordSource, PromptStep, prompt_key, resolve_with, run_command,
};
use popview::pop3::{AuthMethod, TlsMode};

fn fixtures(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs")
        .join(kind)
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn valid(name: &str) -> Config {
    let path = fixtures("valid").join(format!("{name}.toml"));
    config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse_err(text: &str) -> String {
    match config::parse(text, Path::new("test.toml")) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn parse_ok(text: &str) -> Config {
    config::parse(text, Path::new("/cfg/test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

const SECRET: &str = "hunter2-secret";

// ---------------------------------------------------------------- fixtures

#[test]
fn every_valid_fixture_loads_without_warnings() {
    let files = toml_files(&fixtures("valid"));
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "full",
        "minimal",
        "none_cleartext",
        "pinned",
        "several",
        "starttls",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "missing fixture {expected}"
        );
    }
    for path in files {
        let cfg = config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            cfg.warnings().is_empty(),
            "{}: {:?}",
            path.display(),
            cfg.warnings()
        );
        assert!(!cfg.accounts.is_empty(), "{}", path.display());
        cfg.account(None)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn every_invalid_fixture_fails_with_its_message() {
    let dir = fixtures("invalid");
    let files = toml_files(&dir);
    assert!(files.len() >= 20, "only {} invalid fixtures", files.len());
    for path in files {
        let err_path = path.with_extension("err");
        let expected = std::fs::read_to_string(&err_path)
            .unwrap_or_else(|e| panic!("{}: {e}", err_path.display()));
        let err = match config::load(&path) {
            Ok(c) => panic!("{} loaded: {c:?}", path.display()),
            Err(e) => e,
        };
        let shown = err.to_string();
        let debug = format!("{err:?}");
        let mut checks = 0;
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            if line.starts_with('#') {
                continue;
            }
            checks += 1;
            if let Some(absent) = line.strip_prefix('!') {
                assert!(
                    !shown.contains(absent) && !debug.contains(absent),
                    "{}: the error shows {absent:?}:\n{shown}\n{debug}",
                    path.display()
                );
            } else {
                assert!(
                    shown.contains(line),
                    "{}: expected {line:?} in:\n{shown}",
                    path.display()
                );
            }
        }
        assert!(checks > 0, "{}: nothing checked", err_path.display());
        // The file is named in every error.
        assert!(
            shown.contains(&*path.file_name().unwrap().to_string_lossy()),
            "{shown}"
        );
    }
    // And no .err without its .toml.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "err") {
            assert!(p.with_extension("toml").exists(), "{}", p.display());
        }
    }
}

#[test]
fn minimal_fills_every_default() {
    let cfg = valid("minimal");
    assert_eq!(cfg.default_account, None);
    assert_eq!(cfg.ui.big_message_threshold, 5 * 1024 * 1024);
    assert_eq!(cfg.ui.keepalive, Duration::from_secs(120));
    assert!(cfg.ui.colors);
    assert!(cfg.ui.keys.is_empty());
    let a = cfg.account(None).unwrap();
    assert_eq!(a.name, "mail");
    assert_eq!(a.host, "pop.example.com");
    assert_eq!(a.port, 995);
    assert_eq!(a.tls, TlsMode::Implicit);
    assert!(!a.allow_cleartext_password);
    assert_eq!(a.username, "me@example.com");
    assert_eq!(a.password, None);
    assert_eq!(a.auth, AuthMethod::Auto);
    assert_eq!(a.ca_file, None);
    assert_eq!(a.cert_fingerprint, None);
    assert!(!a.accept_invalid_certs);
    assert_eq!(a.connect_timeout, Duration::from_secs(15));
    assert_eq!(a.timeout, Duration::from_secs(60));
    assert_eq!(a.keepalive, Duration::from_secs(120));
    assert!(a.cache);
    assert_eq!(
        a,
        &Account::new(
            "mail",
            "pop.example.com",
            TlsMode::Implicit,
            "me@example.com"
        )
    );
}

#[test]
fn full_reads_every_key() {
    let path = fixtures("valid").join("full.toml");
    let cfg = valid("full");
    assert_eq!(cfg.path, path);
    assert_eq!(cfg.default_account.as_deref(), Some("work"));
    assert_eq!(cfg.ui.big_message_threshold, 512 * 1024);
    assert_eq!(cfg.ui.keepalive, Duration::from_secs(300));
    assert!(!cfg.ui.colors);
    assert!(!cfg.ui.colors_enabled());
    assert_eq!(
        cfg.ui.keys.iter().collect::<Vec<_>>(),
        [
            (&"ctrl-r".to_owned(), &"refresh".to_owned()),
            (&"d".to_owned(), &"mark".to_owned())
        ]
    );
    let a = cfg.account(None).unwrap();
    assert_eq!(a.port, 1995);
    assert_eq!(
        a.password,
        Some(PasswordSource::Command("pass show mail/work".into()))
    );
    assert_eq!(a.auth, AuthMethod::Plain);
    assert_eq!(
        a.ca_file.as_deref(),
        Some(fixtures("valid").join("certs/ca.pem").as_path())
    );
    let mut pin = [0u8; 32];
    for (i, b) in pin.iter_mut().enumerate() {
        *b = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ][i % 16];
    }
    assert_eq!(a.cert_fingerprint, Some(pin));
    assert_eq!(a.connect_timeout, Duration::from_secs(5));
    assert_eq!(a.timeout, Duration::from_secs(30));
    assert_eq!(a.keepalive, Duration::from_secs(300));
    assert!(!a.cache);

    let opts = a.connect_options();
    assert_eq!(opts.host, "pop.example.com");
    assert_eq!(opts.port, 1995);
    assert_eq!(opts.tls, TlsMode::Implicit);
    assert_eq!(opts.ca_file, a.ca_file);
    assert_eq!(opts.pin_sha256, Some(pin));
    assert!(!opts.accept_invalid_certs);
    assert_eq!(opts.connect_timeout, Duration::from_secs(5));
    assert_eq!(opts.io_timeout, Duration::from_secs(30));

    let w = a.worker_config(Some("pw".into()));
    assert_eq!(w.user, "me@example.com");
    assert_eq!(w.password.as_deref(), Some("pw"));
    assert_eq!(w.auth, AuthMethod::Plain);
    assert!(!w.allow_cleartext);
    assert_eq!(w.keepalive, Duration::from_secs(300));
    assert_eq!(w.connect.port, 1995);
    assert_eq!(w.connect.pin_sha256, Some(pin));
    assert!(a.worker_config(None).password.is_none());
}

#[test]
fn several_accounts_pick_by_name_or_default() {
    let cfg = valid("several");
    assert_eq!(cfg.accounts.len(), 3);
    assert_eq!(cfg.account(None).unwrap().name, "work");
    let home = cfg.account(Some("home")).unwrap();
    assert_eq!(home.auth, AuthMethod::Apop);
    let old = cfg.account(Some("old-isp.2019")).unwrap();
    assert_eq!(old.host, "192.0.2.7");
    assert_eq!(
        cfg.account(Some("work")).unwrap().password,
        Some(PasswordSource::Env("WORK_PW".into()))
    );
    let err = cfg.account(Some("wrok")).unwrap_err().to_string();
    assert!(err.contains("no account named \"wrok\""), "{err}");
    assert!(
        err.contains("the accounts are: \"home\", \"old-isp.2019\", \"work\""),
        "{err}"
    );
}

#[test]
fn several_accounts_without_default_say_how_to_choose() {
    let cfg = parse_ok(
        "[accounts.b]\nhost = \"b.example\"\nusername = \"u\"\n\
         [accounts.a]\nhost = \"a.example\"\nusername = \"u\"\n",
    );
    let err = cfg.account(None).unwrap_err();
    assert!(matches!(err, ConfigError::Account(_)));
    let err = err.to_string();
    assert!(err.contains("several accounts (\"a\", \"b\")"), "{err}");
    assert!(err.contains("--account NAME"), "{err}");
    assert!(err.contains("default_account"), "{err}");
    assert_eq!(cfg.account(Some("b")).unwrap().host, "b.example");
}

#[test]
fn no_accounts_loads_but_choosing_one_explains() {
    let cfg = parse_ok("[ui]\ncolors = false\n");
    let err = cfg.account(None).unwrap_err().to_string();
    assert!(err.contains("has no accounts"), "{err}");
    assert!(err.contains("[accounts.NAME]"), "{err}");
    let cfg = parse_ok("");
    assert!(cfg.accounts.is_empty());
    assert_eq!(cfg.ui, config::UiConfig::default());
}

#[test]
fn starttls_defaults_to_port_110() {
    let a = valid("starttls").account(None).unwrap().clone();
    assert_eq!(a.tls, TlsMode::StartTls);
    assert_eq!(a.port, 110);
    assert_eq!(a.auth, AuthMethod::User);
    assert_eq!(a.connect_options().tls, TlsMode::StartTls);
}

#[test]
fn pinned_accepts_lower_case_without_colons_and_ipv6() {
    let a = valid("pinned").account(None).unwrap().clone();
    assert_eq!(a.cert_fingerprint, Some([0xab; 32]));
    assert_eq!(a.host, "::1");
    assert_eq!(a.connect_options().server(), "[::1]:995");
}

#[test]
fn none_with_cleartext_allowed_reaches_the_worker() {
    let a = valid("none_cleartext").account(None).unwrap().clone();
    assert_eq!(a.tls, TlsMode::None);
    assert_eq!(a.port, 1110);
    assert!(a.allow_cleartext_password);
    assert!(a.worker_config(None).allow_cleartext);
}

// ---------------------------------------------------------------- warnings

#[test]
fn tls_none_without_cleartext_is_allowed_with_a_warning() {
    let cfg = parse_ok("[accounts.lab]\nhost = \"lab\"\nusername = \"u\"\ntls = \"none\"\n");
    let a = cfg.account(None).unwrap();
    assert_eq!(a.port, 110);
    assert!(!a.worker_config(Some("pw".into())).allow_cleartext);
    assert_eq!(cfg.warnings().len(), 1, "{:?}", cfg.warnings());
    let w = &cfg.warnings()[0];
    assert!(w.starts_with("accounts.lab.tls (line 4):"), "{w}");
    assert!(w.contains("refuse to send your password"), "{w}");
    assert!(w.contains("allow_cleartext_password = true"), "{w}");

    // Explicitly false is the same.
    let cfg = parse_ok(
        "[accounts.lab]\nhost = \"lab\"\nusername = \"u\"\ntls = \"none\"\n\
         allow_cleartext_password = false\n",
    );
    assert_eq!(cfg.warnings().len(), 1);
}

#[test]
fn cleartext_with_tls_is_a_harmless_no_op() {
    let cfg =
        parse_ok("[accounts.w]\nhost = \"h\"\nusername = \"u\"\nallow_cleartext_password = true\n");
    let a = cfg.account(None).unwrap();
    assert!(
        !a.worker_config(None).allow_cleartext,
        "must not weaken a TLS account"
    );
    assert_eq!(cfg.warnings().len(), 1, "{:?}", cfg.warnings());
    let w = &cfg.warnings()[0];
    assert!(
        w.starts_with("accounts.w.allow_cleartext_password (line 4): has no effect"),
        "{w}"
    );
}

#[test]
fn risky_but_valid_settings_warn() {
    let cfg = parse_ok(
        "[ui]\nkeepalive_secs = 900\n\
         [accounts.w]\nhost = \"h\"\nusername = \"u\"\naccept_invalid_certs = true\nport = 110\n",
    );
    let all = cfg.warnings().join("\n");
    assert_eq!(cfg.warnings().len(), 3, "{all}");
    assert!(
        all.contains("ui.keepalive_secs (line 2): servers may log out"),
        "{all}"
    );
    assert!(
        all.contains("accounts.w.accept_invalid_certs (line 6): certificates are not checked"),
        "{all}"
    );
    assert!(
        all.contains("accounts.w.port (line 7): 110 is the port for tls = \"starttls\""),
        "{all}"
    );
    let a = cfg.account(None).unwrap();
    assert!(a.accept_invalid_certs);
    assert!(a.connect_options().accept_invalid_certs);

    let cfg = parse_ok(
        "[accounts.w]\nhost = \"h\"\nusername = \"u\"\ntls = \"none\"\n\
         allow_cleartext_password = true\ncert_fingerprint = \"{}\"\n"
            .replace("{}", &"ab".repeat(32))
            .as_str(),
    );
    let all = cfg.warnings().join("\n");
    assert!(
        all.contains("accounts.w.cert_fingerprint (line 6): has no effect with tls = \"none\""),
        "{all}"
    );
}

// ---------------------------------------------------------------- values

#[test]
fn errors_quote_the_value_safely() {
    // A control character in a value is shown escaped, never raw.
    let err = parse_err("[accounts.w]\nhost = \"h\"\nusername = \"u\"\ntls = \"\\u001b[31m\"\n");
    assert!(!err.contains('\x1b'), "{err:?}");
    assert!(err.contains("accounts.w.tls = \"\\u{1b}[31m\""), "{err}");
    // A key that needs quotes is quoted in the path.
    let err = parse_err("[accounts.\"my work\"]\nhost = \"h\"\nusername = \"u\"\n");
    assert!(
        err.contains("line 1: accounts.\"my work\": an account name"),
        "{err}"
    );
    // A whole table where a value belongs.
    let err = parse_err("[accounts.w]\nhost = \"h\"\nusername = \"u\"\n[accounts.w.tls]\nx = 1\n");
    assert!(
        err.contains(
            "accounts.w.tls = { ... }: expected one of \"implicit\", \"starttls\", \"none\""
        ),
        "{err}"
    );
    // Accounts must be tables.
    let err = parse_err("accounts = \"work\"\n");
    assert!(
        err.contains("line 1: accounts = \"work\": expected a table"),
        "{err}"
    );
}

#[test]
fn sizes_take_bytes_or_binary_suffixes() {
    for (text, want) in [
        ("0", Some(0)),
        ("1048576", Some(1 << 20)),
        ("5M", Some(5 << 20)),
        ("5m", Some(5 << 20)),
        ("5 MB", Some(5 << 20)),
        ("5MiB", Some(5 << 20)),
        ("512K", Some(512 << 10)),
        ("2G", Some(2 << 30)),
        ("10B", Some(10)),
        ("5Q", None),
        ("M", None),
        ("", None),
        ("-5M", None),
        ("5.5M", None),
        ("99999999999999999999G", None),
        ("18014398509481984G", None),
    ] {
        assert_eq!(parse_size(text), want, "{text:?}");
    }
    let cfg = parse_ok("[ui]\nbig_message_threshold = 1000\n");
    assert_eq!(cfg.ui.big_message_threshold, 1000);
    let err = parse_err("[ui]\nbig_message_threshold = 0\n");
    assert!(
        err.contains("ui.big_message_threshold = 0: must be more than 0"),
        "{err}"
    );
    let err = parse_err("[ui]\nbig_message_threshold = -1\n");
    assert!(
        err.contains("ui.big_message_threshold = -1: expected a size"),
        "{err}"
    );
}

#[test]
fn ca_file_expands_the_home_directory() {
    let cfg =
        parse_ok("[accounts.w]\nhost = \"h\"\nusername = \"u\"\nca_file = \"~/certs/ca.pem\"\n");
    let home = directories::BaseDirs::new().unwrap().home_dir().to_owned();
    assert_eq!(
        cfg.account(None).unwrap().ca_file,
        Some(home.join("certs/ca.pem"))
    );
    let cfg = parse_ok("[accounts.w]\nhost = \"h\"\nusername = \"u\"\nca_file = \"ca.pem\"\n");
    assert_eq!(
        cfg.account(None).unwrap().ca_file,
        Some(PathBuf::from("/cfg/ca.pem"))
    );
}

#[test]
fn missing_file_is_recognisable_for_the_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let err = config::load(&path).unwrap_err();
    assert!(err.is_not_found());
    assert!(err.to_string().contains(&*path.to_string_lossy()));
    std::fs::write(&path, b"\xff\xfe").unwrap();
    let err = config::load(&path).unwrap_err();
    assert!(!err.is_not_found());
    assert!(matches!(err, ConfigError::Read { .. }));
}

#[test]
fn default_path_is_config_toml_in_the_config_dir() {
    let path = config::default_path().expect("a home directory in tests");
    assert_eq!(path.file_name().unwrap(), "config.toml");
    assert!(
        path.to_string_lossy().contains("popview"),
        "{}",
        path.display()
    );
}

// ---------------------------------------------------------------- example and first run

#[test]
fn the_example_is_valid_and_documents_every_key() {
    let cfg =
        config::parse(EXAMPLE, Path::new("config.example.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(cfg.warnings().is_empty(), "{:?}", cfg.warnings());
    assert_eq!(cfg.accounts.len(), 2);
    assert_eq!(cfg.account(None).unwrap().name, "work");
    let home = cfg.account(Some("home")).unwrap();
    assert_eq!(home.tls, TlsMode::StartTls);
    assert_eq!(home.port, 110);
    // Every key appears (set or commented out) with a comment above it.
    for key in ACCOUNT_KEYS
        .iter()
        .chain(UI_KEYS)
        .chain(RULE_KEYS)
        .chain(["default_account"].iter())
    {
        let lines: Vec<&str> = EXAMPLE.lines().collect();
        let at = lines
            .iter()
            .position(|l| {
                let l = l.trim_start_matches(['#', ' ']);
                l.starts_with(&format!("{key} =")) || (*key == "keys" && l == "[ui.keys]")
            })
            .unwrap_or_else(|| panic!("{key} is not in the example"));
        assert!(
            lines[..at].last().is_some_and(|l| l.starts_with('#')),
            "{key} has no comment above it"
        );
    }
    // The commented-out values are valid too.
    let uncommented: String = EXAMPLE
        .lines()
        .map(
            |l| match l.strip_prefix("# ").and_then(|r| r.split_once(" = ")) {
                Some((key, _))
                    if key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        && key != "password_env" =>
                {
                    &l[2..]
                }
                _ => l,
            },
        )
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .replace("accept_invalid_certs = false\n", "");
    let cfg = config::parse(&uncommented, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let home = cfg.account(Some("home")).unwrap();
    assert!(home.cert_fingerprint.is_some());
    assert!(home.ca_file.is_some());
    assert_eq!(cfg.ui.keys.get("d").map(String::as_str), Some("mark"));
    assert_eq!(cfg.ui.check_mail, Some(Duration::from_secs(300)));
    assert_eq!(home.check_mail, Some(Duration::from_secs(300)));
    assert_eq!(
        home.worker_config(None).check_mail,
        Some(Duration::from_secs(300))
    );
}

/// The periodic check is off unless set, and each check is a login, so
/// it can't be set below a minute.
#[test]
fn check_mail_is_off_by_default_and_at_least_a_minute() {
    let cfg = config::parse(MINIMAL, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.ui.check_mail, None);
    let e = config::parse(
        &format!("{MINIMAL}\n[ui]\ncheck_mail_secs = 30\n"),
        Path::new("x.toml"),
    )
    .expect_err("30 s accepted");
    let msg = e.to_string();
    assert!(msg.contains("ui.check_mail_secs"), "{msg}");
    assert!(msg.contains("30"), "{msg}");
}

#[test]
fn first_run_message_says_where_and_how() {
    let path = Path::new("/home/me/.config/popview/config.toml");
    let msg = first_run_message(path);
    assert!(
        msg.contains("/home/me/.config/popview/config.toml"),
        "{msg}"
    );
    assert!(msg.contains("assets/config.example.toml"), "{msg}");
    assert!(msg.contains("popview --demo"), "{msg}");
    assert!(msg.contains("host = \"pop.example.com\""), "{msg}");
    assert!(msg.contains("password_command"), "{msg}");
    let cfg = parse_ok(MINIMAL);
    assert!(cfg.warnings().is_empty());
    assert_eq!(cfg.account(None).unwrap().host, "pop.example.com");
}

// ---------------------------------------------------------------- URLs

#[test]
fn urls_that_work() {
    for (url, host, port, tls, user) in [
        (
            "pop3s://me@pop.example.com",
            "pop.example.com",
            995,
            TlsMode::Implicit,
            "me",
        ),
        (
            "pop3://me@pop.example.com",
            "pop.example.com",
            110,
            TlsMode::StartTls,
            "me",
        ),
        (
            "pop3s://me@pop.example.com:1995",
            "pop.example.com",
            1995,
            TlsMode::Implicit,
            "me",
        ),
        (
            "pop3://me@pop.example.com:2110/",
            "pop.example.com",
            2110,
            TlsMode::StartTls,
            "me",
        ),
        (
            "POP3S://me@Pop.Example.com",
            "Pop.Example.com",
            995,
            TlsMode::Implicit,
            "me",
        ),
        (
            "pop3s://me%40example.com@pop.example.com",
            "pop.example.com",
            995,
            TlsMode::Implicit,
            "me@example.com",
        ),
        (
            "pop3s://me@example.com@pop.example.com",
            "pop.example.com",
            995,
            TlsMode::Implicit,
            "me@example.com",
        ),
        (
            "pop3s://j%C3%B6rg@[::1]:995",
            "::1",
            995,
            TlsMode::Implicit,
            "jörg",
        ),
        (
            "pop3://me@[2001:db8::1]",
            "2001:db8::1",
            110,
            TlsMode::StartTls,
            "me",
        ),
        (
            "pop3s://me@192.0.2.1:9995",
            "192.0.2.1",
            9995,
            TlsMode::Implicit,
            "me",
        ),
        ("  pop3s://me@h  ", "h", 995, TlsMode::Implicit, "me"),
    ] {
        let a = account_from_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(
            (a.host.as_str(), a.port, a.tls, a.username.as_str()),
            (host, port, tls, user),
            "{url}"
        );
        assert!(!a.allow_cleartext_password);
        assert_eq!(a.password, None);
        assert!(!a.name.is_empty());
    }
    let a = account_from_url("pop3s://me@[::1]:1995").unwrap();
    assert_eq!(a.name, "me@[::1]:1995");
    assert_eq!(a.connect_options().server(), "[::1]:1995");
}

#[test]
fn urls_that_dont() {
    for (url, why) in [
        (
            "pop3s://me:hunter2-secret@pop.example.com",
            "holds a password",
        ),
        ("pop3s://me:@pop.example.com", "holds a password"),
        ("imap://me@pop.example.com", "POP3 only, not \"imap\""),
        ("pops://me@pop.example.com", "the scheme is pop3s"),
        ("pop.example.com", "has no scheme"),
        ("pop3s://pop.example.com", "no user name"),
        ("pop3s://@pop.example.com", "the user name is empty"),
        ("pop3s://me@", "the host is missing"),
        ("pop3s://me@:995", "the host name is empty"),
        (
            "pop3s://me@host:0",
            "the port \"0\" is not a number from 1 to 65535",
        ),
        ("pop3s://me@host:70000", "the port \"70000\""),
        ("pop3s://me@host:+99", "the port \"+99\""),
        ("pop3s://me@host:", "the port \"\""),
        ("pop3s://me@host/INBOX", "nothing may follow"),
        ("pop3s://me@host?tls=none", "nothing may follow"),
        ("pop3s://me@::1", "must be in brackets"),
        ("pop3s://me@[::1", "no closing"),
        ("pop3s://me@[nope]:995", "is not an IPv6 address"),
        ("pop3s://me%4@host", "two hex digits"),
        ("pop3s://me%0D%0AQUIT@host", "control character"),
        ("pop3s://me@ho st", "not a valid host name"),
    ] {
        let err = account_from_url(url).expect_err(url);
        assert!(matches!(err, ConfigError::Url(_)));
        let err = err.to_string();
        assert!(err.contains(why), "{url}: expected {why:?} in {err}");
        assert!(err.contains("pop3s://USER@HOST[:PORT]"), "{url}: {err}");
        assert!(err.contains("pop3://USER@HOST[:PORT]"), "{url}: {err}");
        assert!(!err.contains(SECRET), "{url}: {err}");
    }
    // Even with another fault first, a password is never echoed.
    let err = account_from_url("pops://me:hunter2-secret@host").unwrap_err();
    assert!(!format!("{err} {err:?}").contains(SECRET), "{err}");
}

// ---------------------------------------------------------------- secrets

#[test]
fn debug_output_never_shows_secrets() {
    let err = parse_err(&format!(
        "[accounts.w]\nhost = \"h\"\nusername = \"u\"\npassword = \"{SECRET}\"\n"
    ));
    assert!(!err.contains(SECRET));
    let e = config::parse(
        &format!("[accounts.w]\npasswd = \"{SECRET}\"\n"),
        Path::new("x.toml"),
    )
    .unwrap_err();
    assert!(!format!("{e} {e:?}").contains(SECRET));
    let e = config::parse(&format!("password = \"{SECRET}\"\n"), Path::new("x.toml")).unwrap_err();
    assert!(
        e.to_string()
            .contains("line 1: password: popview does not read passwords"),
        "{e}"
    );
    assert!(!format!("{e} {e:?}").contains(SECRET));
    let e = config::parse(
        &format!("[accounts.w]\ntoken = {SECRET}\n"),
        Path::new("x.toml"),
    )
    .unwrap_err();
    assert!(!format!("{e} {e:?}").contains(SECRET), "{e}");

    // A command that prints the password and then fails.
    let cmd = format!("echo {SECRET}; echo oops >&2; exit 1");
    let e = run_command(&cmd, Duration::from_secs(10)).unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("oops"), "{shown}");
    assert!(
        !shown.replace(&format!("{cmd:?}"), "").contains(SECRET),
        "stdout leaked: {shown}"
    );
    // A command that prints several lines.
    let cmd = format!("printf '{SECRET}\\nuser: me\\n'");
    let e = run_command(&cmd, Duration::from_secs(10)).unwrap_err();
    assert!(matches!(e, PasswordError::MultiLine { .. }));
    let shown = format!("{e} {e:?}").replace(&format!("{cmd:?}"), "");
    assert!(
        !shown.contains(SECRET) && !shown.contains("user: me"),
        "{shown}"
    );

    // The structures this module builds.
    let cfg = valid("full");
    assert!(!format!("{cfg:?}").contains(SECRET));
    let env = |_: &str| Some(OsString::from(SECRET));
    let got = resolve_with(
        &[PasswordSource::Env("X".into())],
        &env,
        Duration::from_secs(1),
    )
    .unwrap();
    assert_eq!(got.as_deref(), Some(SECRET));
}

// ---------------------------------------------------------------- passwords

const T: Duration = Duration::from_secs(10);

#[test]
fn command_output_is_the_password_less_one_newline() {
    assert_eq!(run_command("echo s3cret", T).unwrap(), "s3cret");
    assert_eq!(run_command("printf 's3cret'", T).unwrap(), "s3cret");
    assert_eq!(run_command("printf 's3cret\\r\\n'", T).unwrap(), "s3cret");
    assert_eq!(run_command("printf ' sp ace \\n'", T).unwrap(), " sp ace ");
    assert_eq!(run_command("printf 'p\\tw\\n'", T).unwrap(), "p\tw");
    // Only one newline goes; a second is a second (empty) line.
    let e = run_command("printf 's3cret\\n\\n'", T).unwrap_err();
    assert!(matches!(e, PasswordError::MultiLine { .. }), "{e}");
    assert!(e.to_string().contains("head -n 1"), "{e}");
}

#[test]
fn command_failures_name_the_command_and_the_exit_code() {
    let e = run_command(
        "echo 'gpg: decryption failed: No secret key' >&2; echo more >&2; exit 2",
        T,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, PasswordError::Failed { .. }));
    assert!(
        msg.contains("the password command \"echo 'gpg: decryption failed"),
        "{msg}"
    );
    // Only the first line of stderr.
    assert!(
        msg.ends_with("(exit code 2): gpg: decryption failed: No secret key"),
        "{msg}"
    );

    // stderr is sanitized.
    let e = run_command("printf '\\033]0;pwned\\007bad\\n' >&2; exit 1", T).unwrap_err();
    let msg = e.to_string();
    assert!(!msg.chars().any(|c| c.is_control()), "{msg:?}");
    assert!(msg.ends_with("failed (exit code 1): bad"), "{msg:?}");

    // Without stderr.
    let e = run_command("exit 7", T).unwrap_err();
    assert!(e.to_string().ends_with("failed (exit code 7)"), "{e}");

    // Killed by a signal.
    let e = run_command("kill -9 $$", T).unwrap_err();
    assert!(e.to_string().contains("killed by signal 9"), "{e}");

    // A command that doesn't exist.
    let e = run_command("/nonexistent/pw-helper", T).unwrap_err();
    assert!(e.to_string().contains("exit code 127"), "{e}");
}

#[test]
fn command_that_hangs_is_killed_at_the_timeout() {
    let start = Instant::now();
    let e = run_command("sleep 5", Duration::from_millis(300)).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(e, PasswordError::TimedOut { .. }), "{e}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(
        e.to_string()
            .contains("\"sleep 5\" did not finish within 0.3 s"),
        "{e}"
    );

    // A background process holding the output open doesn't hang us either.
    let start = Instant::now();
    let e = run_command("sleep 5 & echo pw", Duration::from_millis(300)).unwrap_err();
    assert!(matches!(e, PasswordError::TimedOut { .. }), "{e}");
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn command_reads_no_input() {
    // stdin is closed: `cat` ends at once instead of waiting for a terminal.
    let start = Instant::now();
    let e = run_command("cat", T).unwrap_err();
    assert!(matches!(e, PasswordError::Empty { .. }), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn empty_or_odd_output_is_an_error() {
    let e = run_command("true", T).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the password command \"true\" gave an empty password"
    );
    let e = run_command("echo", T).unwrap_err();
    assert!(matches!(e, PasswordError::Empty { .. }), "{e}");
    let e = run_command("printf '\\377\\n'", T).unwrap_err();
    assert!(matches!(e, PasswordError::NotUtf8 { .. }), "{e}");
    let e = run_command("head -c 100000 /dev/zero | tr '\\0' x", T).unwrap_err();
    assert!(matches!(e, PasswordError::TooLong { .. }), "{e}");
}

#[test]
fn sources_follow_the_contract_order() {
    let account = PasswordSource::Env("WORK_PW".into());
    assert_eq!(
        password::sources(Some("cli-cmd"), Some(&account)),
        [
            PasswordSource::Command("cli-cmd".into()),
            PasswordSource::Env("WORK_PW".into()),
            PasswordSource::Env("POPVIEW_PASSWORD".into()),
            PasswordSource::Prompt,
        ]
    );
    assert_eq!(
        password::sources(None, None),
        [
            PasswordSource::Env("POPVIEW_PASSWORD".into()),
            PasswordSource::Prompt
        ]
    );
    let a = valid("full");
    let a = a.account(None).unwrap();
    assert_eq!(
        a.password_sources(None)[0],
        PasswordSource::Command("pass show mail/work".into())
    );
}

#[test]
fn resolve_takes_the_first_source_that_answers() {
    let env = |name: &str| match name {
        "WORK_PW" => Some(OsString::from("from-work-env")),
        "POPVIEW_PASSWORD" => Some(OsString::from("from-popview-env")),
        "EMPTY" => Some(OsString::new()),
        _ => None,
    };
    let get = |sources: &[PasswordSource]| resolve_with(sources, &env, T);

    let all = password::sources(
        Some("echo from-cli"),
        Some(&PasswordSource::Env("WORK_PW".into())),
    );
    assert_eq!(get(&all).unwrap().as_deref(), Some("from-cli"));
    let no_cli = password::sources(None, Some(&PasswordSource::Env("WORK_PW".into())));
    assert_eq!(get(&no_cli).unwrap().as_deref(), Some("from-work-env"));
    let unset = password::sources(None, Some(&PasswordSource::Env("UNSET".into())));
    assert_eq!(get(&unset).unwrap().as_deref(), Some("from-popview-env"));
    // Nothing set: the caller prompts.
    let nothing = |_: &str| None;
    assert_eq!(
        resolve_with(&password::sources(None, None), &nothing, T).unwrap(),
        None
    );
    assert_eq!(resolve_with(&[], &nothing, T).unwrap(), None);
    // A failing command is final: no silent fallback to another source.
    assert!(get(&password::sources(Some("exit 1"), None)).is_err());
    // An empty variable is an error, naming the variable.
    let e = get(&[PasswordSource::Env("EMPTY".into())]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the environment variable EMPTY gave an empty password"
    );
    // Prompt stops the search.
    assert_eq!(
        get(&[
            PasswordSource::Prompt,
            PasswordSource::Env("WORK_PW".into())
        ])
        .unwrap(),
        None
    );
}

fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

#[test]
fn prompt_keys_edit_finish_and_cancel() {
    let none = KeyModifiers::NONE;
    let ctrl = KeyModifiers::CONTROL;
    let mut buf = String::new();
    for c in "pässw".chars() {
        assert_eq!(
            prompt_key(&mut buf, &key(KeyCode::Char(c), none)),
            PromptStep::Continue
        );
    }
    assert_eq!(
        prompt_key(&mut buf, &key(KeyCode::Char('D'), KeyModifiers::SHIFT)),
        PromptStep::Continue
    );
    assert_eq!(buf, "pässwD");
    prompt_key(&mut buf, &key(KeyCode::Backspace, none));
    prompt_key(&mut buf, &key(KeyCode::Char('h'), ctrl));
    assert_eq!(buf, "päss");
    // Alt and unknown control combinations are ignored; key releases too.
    prompt_key(&mut buf, &key(KeyCode::Char('x'), KeyModifiers::ALT));
    prompt_key(&mut buf, &key(KeyCode::Char('x'), ctrl));
    prompt_key(&mut buf, &key(KeyCode::Left, none));
    let mut release = key(KeyCode::Char('r'), none);
    release.kind = KeyEventKind::Release;
    prompt_key(&mut buf, &release);
    assert_eq!(buf, "päss");
    // Ctrl-D on a non-empty line does nothing.
    assert_eq!(
        prompt_key(&mut buf, &key(KeyCode::Char('d'), ctrl)),
        PromptStep::Continue
    );
    assert_eq!(
        prompt_key(&mut buf, &key(KeyCode::Enter, none)),
        PromptStep::Done
    );
    assert_eq!(buf, "päss");

    prompt_key(&mut buf, &key(KeyCode::Char('u'), ctrl));
    assert_eq!(buf, "");
    assert_eq!(
        prompt_key(&mut buf, &key(KeyCode::Char('d'), ctrl)),
        PromptStep::Cancel
    );
    assert_eq!(
        prompt_key(&mut buf, &key(KeyCode::Char('c'), ctrl)),
        PromptStep::Cancel
    );
    assert_eq!(
        prompt_key(&mut buf, &key(KeyCode::Esc, none)),
        PromptStep::Cancel
    );
    assert_eq!(
        prompt_key(&mut buf, &key(KeyCode::Char('m'), ctrl)),
        PromptStep::Done
    );
}

/// A one-off `pop3s://` account follows the config file's `[ui]`
/// keepalive, like a configured account does.
#[test]
fn a_url_account_follows_the_files_keepalive() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[ui]\nkeepalive_secs = 45\n").unwrap();
    let cli = popview::cli::Cli::try_parse_from([
        OsString::from("popview"),
        OsString::from("--no-cache"),
        OsString::from("--config"),
        path.clone().into_os_string(),
        OsString::from("pop3s://me@pop.example.org"),
    ])
    .unwrap();
    let target = popview::setup::resolve(&cli, false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(target.worker.keepalive, Duration::from_secs(45));
    assert_eq!(target.worker.connect.host, "pop.example.org");
}

#[test]
fn rules_are_read_and_a_bad_pattern_names_its_key() {
    let ok = "[accounts.a]\nhost = \"h\"\nusername = \"u\"\n\
              [rules.ci]\npattern = \"~f jenkins ~d >30d\"\naction = \"mark\"\n";
    let cfg = config::parse(ok, Path::new("/c.toml")).unwrap();
    assert_eq!(cfg.rules.len(), 1);
    assert_eq!(cfg.rules[0].name, "ci");
    let bad = "[rules.ci]\npattern = \"~z >1Q\"\n";
    let e = config::parse(bad, Path::new("/c.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("rules.ci.pattern") && e.contains("'Q'"), "{e}");
    let missing = "[rules.ci]\naction = \"mark\"\n";
    let e = config::parse(missing, Path::new("/c.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("rules.ci.pattern") && e.contains("missing"),
        "{e}"
    );
    let action = "[rules.ci]\npattern = \"~A\"\naction = \"delete\"\n";
    let e = config::parse(action, Path::new("/c.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("rules.ci.action") && e.contains("\"mark\""),
        "{e}"
    );
}
