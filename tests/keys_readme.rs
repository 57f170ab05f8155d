//! The README's key table names every action's default key, so a new key
//! action can't be left out of it (the help screen is generated from the
//! keymap; the README is checked against it here).

use popview::action::Action;
use popview::keymap::Keymap;

const README: &str = include_str!("../README.md");

/// The rows of the `### Keys` table, as written.
fn key_table() -> Vec<&'static str> {
    let start = README.find("### Keys").expect("README has a Keys section");
    README[start..]
        .lines()
        .skip_while(|l| !l.starts_with("| keys"))
        .take_while(|l| l.starts_with('|'))
        .collect()
}

/// How the README writes a key string of the keymap: `ctrl-b` as
/// `Ctrl-b`, `tab` as `Tab`, `|` escaped in a table cell.
fn written(key: &str) -> String {
    let key = match key.strip_prefix("ctrl-") {
        Some(rest) => format!("Ctrl-{rest}"),
        None => key.to_string(),
    };
    let key = match key.as_str() {
        "tab" => "Tab".to_string(),
        "enter" => "Enter".to_string(),
        "esc" => "Esc".to_string(),
        "pgup" => "PgUp".to_string(),
        "pgdn" => "PgDn".to_string(),
        "home" => "Home".to_string(),
        "end" => "End".to_string(),
        "|" => "\\|".to_string(),
        _ => key,
    };
    format!("`{key}`")
}

#[test]
fn every_action_has_its_default_key_in_the_readme_key_table() {
    let rows = key_table();
    assert!(rows.len() > 10, "the key table was not found: {rows:?}");
    let keymap = Keymap::defaults();
    let mut missing = Vec::new();
    for action in Action::ALL {
        let keys = keymap.keys_for(action);
        if keys.is_empty() {
            continue; // unbound by default: only in the help and the config
        }
        let shown = keys
            .iter()
            .any(|k| rows.iter().any(|row| row.contains(&written(k))));
        if !shown {
            missing.push(format!("{} ({})", action.name(), keys.join(", ")));
        }
    }
    assert!(
        missing.is_empty(),
        "actions whose default keys the README's key table does not show: {missing:?}"
    );
}
