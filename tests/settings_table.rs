//! The settings table (`popview::config::settings`) is the one place a
//! default is written: the parser accepts exactly its keys with its ranges
//! and defaults, and the example file and the README show every setting with
//! the table's default. The copies of defaults in layers below `config`
//! (the worker, the transport, the app) are checked against it here.

use std::path::Path;

use popview::config::settings::{Kind, SETTINGS, Section, Setting};
use popview::config::{
    self, ACCOUNT_KEYS, Account, Config, DEFAULT_BIG_MESSAGE, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_KEEPALIVE, DEFAULT_TIMEOUT, EXAMPLE, OAUTH2_KEYS, TOP_KEYS, UI_KEYS,
};
use popview::pop3::{ConnectOptions, TlsMode};
use popview::worker::WorkerConfig;

const README: &str = include_str!("../README.md");
const PARSER_SOURCES: &[(&str, &str)] = &[
    (
        "src/config/parse/mod.rs",
        include_str!("../src/config/parse/mod.rs"),
    ),
    (
        "src/config/parse/account.rs",
        include_str!("../src/config/parse/account.rs"),
    ),
    (
        "src/config/parse/oauth2.rs",
        include_str!("../src/config/parse/oauth2.rs"),
    ),
];

/// A file with one account `a`, and `line` written where `setting` goes.
fn config_with(setting: &Setting, line: &str) -> String {
    match setting.section {
        Section::Top => format!("{line}\n[accounts.a]\nhost = \"h\"\nusername = \"u\"\n"),
        Section::Ui => format!("[ui]\n{line}\n[accounts.a]\nhost = \"h\"\nusername = \"u\"\n"),
        Section::Account => {
            let mut text = "[accounts.a]\n".to_owned();
            for (key, default) in [("host", "host = \"h\""), ("username", "username = \"u\"")] {
                if setting.key != key {
                    text.push_str(default);
                    text.push('\n');
                }
            }
            text.push_str(line);
            text.push('\n');
            text
        }
        Section::Rule => {
            let mut text = "[accounts.a]\nhost = \"h\"\nusername = \"u\"\n[rules.r]\n".to_owned();
            if setting.key != "pattern" {
                text.push_str("pattern = \"~f jenkins\"\n");
            }
            text.push_str(line);
            text.push('\n');
            text
        }
        Section::OAuth2 => {
            let mut text =
                "[accounts.a]\nhost = \"h\"\nusername = \"u\"\n[accounts.a.oauth2]\n".to_owned();
            for (key, default) in [
                ("token_url", "token_url = \"https://x/t\""),
                (
                    "device_authorization_url",
                    "device_authorization_url = \"https://x/d\"",
                ),
                ("client_id", "client_id = \"c\""),
                ("refresh_token_command", "refresh_token_command = \"cat t\""),
                (
                    "refresh_token_store_command",
                    "refresh_token_store_command = \"cat > t\"",
                ),
            ] {
                if setting.key != key {
                    text.push_str(default);
                    text.push('\n');
                }
            }
            text.push_str(line);
            text.push('\n');
            text
        }
    }
}

fn parse(text: &str) -> Result<Config, config::ConfigError> {
    config::parse(text, Path::new("/etc/popview/config.toml"))
}

/// Values of each kind the parser must accept (as TOML).
fn samples(setting: &Setting) -> Vec<String> {
    match setting.kind {
        Kind::Text => vec!["\"a\"".to_owned()],
        Kind::Path => vec!["\"/etc/ssl/ca.pem\"".to_owned()],
        Kind::Bool => vec!["true".to_owned(), "false".to_owned()],
        Kind::Int { min, max } | Kind::Secs { min, max } => {
            vec![min.to_string(), max.to_string()]
        }
        Kind::Size => vec!["\"512K\"".to_owned(), "1048576".to_owned()],
        Kind::Choice(options) => options.iter().map(|o| format!("\"{o}\"")).collect(),
        Kind::Fingerprint => vec![format!("\"{}\"", "ab".repeat(32))],
        Kind::Keys => vec!["{ d = \"mark\" }".to_owned()],
        Kind::Url => vec![
            "\"https://login.example.com/token\"".to_owned(),
            "\"http://127.0.0.1:8080/token\"".to_owned(),
        ],
    }
}

#[test]
fn the_parser_accepts_every_setting_in_the_table_with_every_allowed_value() {
    for s in SETTINGS {
        for value in samples(s) {
            let text = config_with(s, &format!("{} = {value}", s.key));
            if let Err(e) = parse(&text) {
                panic!("{} = {value} is refused: {e}\n{text}", s.path());
            }
        }
    }
}

#[test]
fn ranges_end_where_the_table_says() {
    for s in SETTINGS {
        if let Kind::Int { min, max } | Kind::Secs { min, max } = s.kind {
            for outside in [min - 1, max + 1] {
                let text = config_with(s, &format!("{} = {outside}", s.key));
                let e = parse(&text).expect_err(&format!("{} = {outside}", s.path()));
                assert!(
                    e.to_string().contains(&format!("from {min} to {max}")),
                    "{e}"
                );
            }
        }
    }
}

#[test]
fn a_choice_allows_exactly_the_tables_options() {
    for s in SETTINGS {
        if let Kind::Choice(_) = s.kind {
            let text = config_with(s, &format!("{} = \"zzz\"", s.key));
            let e = parse(&text).unwrap_err().to_string();
            assert!(
                e.contains(&format!("expected one of {}", s.kind.allowed())),
                "{}: {e}",
                s.path()
            );
        }
    }
}

#[test]
fn writing_a_default_changes_nothing() {
    for s in SETTINGS {
        let Some(value) = s.default.toml() else {
            continue;
        };
        let without = parse(&config_with(s, "")).unwrap();
        let with = parse(&config_with(s, &format!("{} = {value}", s.key)))
            .unwrap_or_else(|e| panic!("{}: {e}", s.path()));
        assert_eq!(with, without, "{} = {value} is not the default", s.path());
    }
}

#[test]
fn the_parser_accepts_no_key_the_table_does_not_list() {
    // Every match arm on a key name in the parser names a setting (or one
    // of the two tables at the top).
    let mut arms = 0;
    for (file, source) in PARSER_SOURCES {
        for line in source.lines() {
            let line = line.trim_start();
            let Some(rest) = line.strip_prefix('"') else {
                continue;
            };
            let Some((name, after)) = rest.split_once('"') else {
                continue;
            };
            if !after.starts_with(" =>") {
                continue;
            }
            arms += 1;
            assert!(
                TOP_KEYS.contains(&name)
                    || UI_KEYS.contains(&name)
                    || ACCOUNT_KEYS.contains(&name)
                    || OAUTH2_KEYS.contains(&name),
                "{file} matches on {name:?}, which is not in the settings table"
            );
        }
    }
    assert!(arms >= SETTINGS.len(), "found only {arms} match arms");
    // A key in the wrong table is refused, naming the allowed keys.
    let e = parse("[ui]\nhost = \"h\"\n").unwrap_err().to_string();
    assert!(e.contains("unknown key"), "{e}");
    assert!(e.contains(&UI_KEYS.join(", ")), "{e}");
    let e = parse("[accounts.a]\nhost = \"h\"\nusername = \"u\"\ncolors = true\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains(&ACCOUNT_KEYS.join(", ")), "{e}");
}

/// `key = value` on a line, commented out or not.
fn example_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let l = l.trim_start_matches(['#', ' ']);
        l.strip_prefix(key)?
            .trim_start()
            .strip_prefix('=')
            .map(str::trim)
    })
}

#[test]
fn the_example_shows_every_setting_with_the_tables_default() {
    parse(EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    for s in SETTINGS {
        if s.kind == Kind::Keys {
            assert!(EXAMPLE.contains("[ui.keys]"), "no [ui.keys] in the example");
            continue;
        }
        let value = example_value(EXAMPLE, s.key)
            .unwrap_or_else(|| panic!("{} is not in the example", s.path()));
        if let Some(default) = s.default.toml() {
            // The first time a setting is shown, it shows the default, and
            // the comment above gives a range as the table has it.
            assert_eq!(value, default, "{} in the example", s.path());
            if let Kind::Secs { min, max } = s.kind {
                let lines: Vec<&str> = EXAMPLE.lines().collect();
                let at = lines
                    .iter()
                    .position(|l| l.starts_with(&format!("{} =", s.key)))
                    .unwrap();
                let comment: Vec<&str> = lines[..at]
                    .iter()
                    .rev()
                    .take_while(|l| l.starts_with('#'))
                    .copied()
                    .collect();
                assert!(
                    comment
                        .iter()
                        .any(|l| l.contains(&format!("{min} to {max}"))),
                    "the example should say {min} to {max} above {}",
                    s.key
                );
            }
        }
    }
}

/// The README's settings table: (setting path, meaning, default).
fn readme_rows() -> Vec<(String, String, String)> {
    let start = README
        .find("| setting | meaning | default |")
        .expect("the README has a settings table");
    README[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let unquote = |s: &str| s.trim_matches('`').to_owned();
            (
                unquote(cells[0]),
                cells[1..cells.len() - 1].join("|"),
                unquote(cells[cells.len() - 1]),
            )
        })
        .collect()
}

#[test]
fn the_readme_lists_every_setting_with_the_tables_default() {
    let rows = readme_rows();
    for s in SETTINGS {
        let (_, meaning, default) = rows
            .iter()
            .find(|(path, _, _)| *path == s.path())
            .unwrap_or_else(|| panic!("{} is not in the README's settings table", s.path()));
        assert_eq!(*default, s.default.text(), "{} in the README", s.path());
        if let Kind::Secs { min, max } = s.kind {
            assert!(
                meaning.contains(&format!("{min} to {max}")),
                "{}: the README should say {min} to {max}: {meaning}",
                s.path()
            );
        }
    }
    for (path, _, _) in &rows {
        assert!(
            SETTINGS.iter().any(|s| s.path() == *path),
            "the README lists {path}, which is not a setting"
        );
    }
    assert_eq!(rows.len(), SETTINGS.len());
}

#[test]
fn every_setting_has_help_and_says_what_is_allowed() {
    for s in SETTINGS {
        assert!(!s.help.is_empty(), "{} has no help", s.path());
        assert!(!s.kind.allowed().is_empty());
    }
}

#[test]
fn defaults_elsewhere_match_the_table() {
    // Copies in layers that can't import `config`.
    let connect = ConnectOptions::new("h", 995, TlsMode::Implicit);
    assert_eq!(connect.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(connect.io_timeout, DEFAULT_TIMEOUT);
    assert_eq!(WorkerConfig::new(connect, "u").keepalive, DEFAULT_KEEPALIVE);
    assert_eq!(
        popview::app::AppOptions::default().big_message_threshold,
        DEFAULT_BIG_MESSAGE
    );
    // A one-off account (from a URL) has the file's defaults.
    let from_file = parse("[accounts.a]\nhost = \"h\"\nusername = \"u\"\n").unwrap();
    let parsed = from_file.account(None).unwrap();
    let built = Account::new("a", "h", TlsMode::Implicit, "u");
    assert_eq!(*parsed, built);
}
