//! Help, advice and error texts name only settings that exist.
//!
//! Every string literal in `src/` (outside comments and test modules) is
//! searched for setting names: a snake_case word written as `name = ...`,
//! after `[ui]`, `ui.` or `[accounts.X]`, or in a text that speaks of the
//! config or a setting. Each one is then given to the real config parser,
//! which must know it: a renamed or invented setting fails here.

mod support;

use std::path::Path;

/// The string literals of Rust source, comments skipped, up to the first
/// `#[cfg(test)]` (test modules hold deliberately wrong configs). A line
/// continuation (`\` + newline + indentation) is joined the way rustc does.
fn literals(src: &str) -> Vec<String> {
    let src = match src.find("#[cfg(test)]") {
        Some(i) => &src[..i],
        None => src,
    };
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            // A char literal ('"', '\'', 'x'); a lifetime has no closing quote.
            b'\'' => {
                if b.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else if let Some(c) = src[i + 1..].chars().next() {
                    let after = i + 1 + c.len_utf8();
                    i = if b.get(after) == Some(&b'\'') {
                        after + 1
                    } else {
                        i + 1
                    };
                } else {
                    i += 1;
                }
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let start = j + 1;
                let end = src[start..].find(&close).map_or(b.len(), |e| start + e);
                out.push(src[start..end].to_string());
                i = end + close.len();
            }
            b'"' => {
                let mut s = String::new();
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        match b.get(i + 1) {
                            Some(b'\n') => {
                                i += 2;
                                while i < b.len() && b[i].is_ascii_whitespace() {
                                    i += 1;
                                }
                                continue;
                            }
                            Some(b'n') => s.push('\n'),
                            Some(&c) => s.push(c as char),
                            None => {}
                        }
                        i += 2;
                        continue;
                    }
                    let c = src[i..].chars().next().unwrap();
                    s.push(c);
                    i += c.len_utf8();
                }
                i += 1;
                out.push(s);
            }
            _ => i += 1,
        }
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
}

/// Setting names a text mentions (see the module doc for the contexts).
fn setting_names(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let speaks_of_config = lower.contains("config") || lower.contains("setting");
    let mut names = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (start, c) = chars[k];
        let boundary = start == 0 || !is_word(text[..start].chars().next_back().unwrap_or(' '));
        if !(c.is_ascii_lowercase() && boundary) {
            k += 1;
            continue;
        }
        let mut end = start;
        while let Some(&(p, c)) = chars.get(k) {
            if !is_word(c) {
                break;
            }
            end = p + c.len_utf8();
            k += 1;
        }
        let word = &text[start..end];
        let before = text[..start].trim_end();
        let after = text[end..].trim_start();
        // TOML style `name = value` (MIME's `charset=x` has no spaces); a
        // key binding (`d = "mark"`) assigns an action, not a setting.
        let value = after.strip_prefix('=').map(str::trim_start);
        let binding = value
            .and_then(|v| v.strip_prefix('"'))
            .and_then(|v| v.split('"').next())
            .is_some_and(|v| v == "action" || popview::action::Action::from_name(v).is_some());
        let assigned =
            text[end..].starts_with(' ') && value.is_some_and(|v| !v.starts_with('=')) && !binding;
        let snake = word.contains('_') && !word.starts_with('_') && !word.ends_with('_');
        let sectioned = (before.ends_with("[ui]")
            || before.ends_with("ui.")
            || (before.ends_with(']') && before.contains("[accounts.")))
            && snake;
        if assigned || sectioned || (speaks_of_config && snake) {
            names.push(word.to_string());
        }
    }
    names
}

/// Tables a text names (`[ui]`, `[ui.keys]`, `[accounts.NAME]`), when it
/// speaks of the config.
fn table_names(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    if !(lower.contains("config") || lower.contains("setting")) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inner = &rest[..close];
        if inner.starts_with(|c: char| c.is_ascii_lowercase())
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        {
            out.push(inner.to_string());
        }
        rest = &rest[close..];
    }
    out
}

/// Whether the config parser knows the table `[name]`.
fn parser_knows_table(name: &str) -> bool {
    match popview::config::parse(&format!("[{name}]\n"), Path::new("probe.toml")) {
        Ok(_) => true,
        Err(e) => !e.to_string().contains("unknown key"),
    }
}

/// Whether the config parser knows `name` as a setting: at the top, in
/// `[ui]`, in an account or in a rule. A wrong value is fine; an unknown
/// key is not.
fn parser_knows(name: &str) -> bool {
    let docs = [
        format!("{name} = 1\n"),
        format!("[ui]\n{name} = 1\n"),
        format!("[accounts.a]\n{name} = 1\n"),
        format!("[rules.r]\n{name} = 1\n"),
        format!("[accounts.a]\nhost = \"h\"\nusername = \"u\"\n[accounts.a.oauth2]\n{name} = 1\n"),
    ];
    docs.iter().any(
        |doc| match popview::config::parse(doc, Path::new("probe.toml")) {
            Ok(_) => true,
            Err(e) => {
                let e = e.to_string();
                !(e.contains("unknown key") && e.contains(name))
            }
        },
    )
}

#[test]
fn every_setting_named_in_a_text_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    files.extend(support::rust_files(&root));
    let mut mentioned = std::collections::BTreeMap::<String, Vec<String>>::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        for lit in literals(&src) {
            for name in setting_names(&lit) {
                mentioned
                    .entry(name)
                    .or_default()
                    .push(f.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    let mut tables = std::collections::BTreeSet::new();
    for f in &files {
        for lit in literals(&std::fs::read_to_string(f).unwrap()) {
            tables.extend(table_names(&lit));
        }
    }
    let unknown: Vec<_> = tables.iter().filter(|t| !parser_knows_table(t)).collect();
    assert!(
        unknown.is_empty(),
        "texts in src/ name tables the config parser doesn't know: {unknown:?}"
    );
    assert!(tables.contains("ui.keys"), "{tables:?}");
    // The scan finds the settings the texts are known to name.
    for known in ["password_command", "cert_fingerprint", "tls"] {
        assert!(
            mentioned.contains_key(known),
            "{known} not found: {mentioned:?}"
        );
    }
    let unknown: Vec<_> = mentioned
        .iter()
        .filter(|(name, _)| !parser_knows(name))
        .collect();
    assert!(
        unknown.is_empty(),
        "texts in src/ name settings the config parser doesn't know: {unknown:?}"
    );
}

#[test]
fn the_scan_catches_a_renamed_setting_and_the_parser_check_bites() {
    let src = r##"
        // comment: "[ui] not_a_setting" is ignored
        fn f() {
            let a = "check save_dir in the config";
            let b = "set [ui] colours_on = true";
            let c = "password_commands = \"pass show\"";
            let d = 'x';
            let e = r#"ui.keep_alive_secs"#;
            let g = "half_page_down moves; boundary=x; e.g. d = \"mark\"";
            let h = "one [accounts.NAME] table; [ui] colors";
        }
        #[cfg(test)]
        mod tests { const T: &str = "[ui]\nnot_in_tests = 1"; }
    "##;
    let names: Vec<String> = literals(src)
        .iter()
        .flat_map(|l| setting_names(l))
        .collect();
    assert_eq!(
        names,
        [
            "save_dir",
            "colours_on",
            "password_commands",
            "keep_alive_secs"
        ]
    );
    for n in &names {
        assert!(!parser_knows(n), "{n} is not a setting");
    }
    for n in [
        "password_command",
        "keepalive_secs",
        "colors",
        "default_account",
    ] {
        assert!(parser_knows(n), "{n} is a setting");
    }
    let tables = table_names("[keys] in the config; [ui.keys]; [accounts.NAME]; [IN-USE]");
    assert_eq!(tables, ["keys", "ui.keys", "accounts.NAME"]);
    let known: Vec<bool> = tables.iter().map(|t| parser_knows_table(t)).collect();
    assert_eq!(known, [false, true, true]);
}
