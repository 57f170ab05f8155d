//! How a mistake in the file is told: the line and column, the key path,
//! the bad value quoted, and a close match or a quoted form to suggest.

use super::*;

pub(super) fn syntax_error(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    let pos = e.span().map_or(0, |s| s.start);
    let (line, column) = position(text, pos);
    let source_line = text.split('\n').nth(line - 1).unwrap_or("");
    let source_line = source_line.strip_suffix('\r').unwrap_or(source_line);
    let snippet = if may_hold_secret(source_line) {
        Some(format!(
            "  {line} | (not shown: this line may hold a password)"
        ))
    } else {
        let shown = crate::sanitize::line(source_line);
        let gutter = " ".repeat(line.to_string().len());
        let caret_at = column.saturating_sub(1).min(shown.chars().count());
        let mut snippet = format!("  {line} | {shown}\n  {gutter} | {}^", " ".repeat(caret_at));
        if let Some(fixed) = quoted_suggestion(&shown) {
            snippet.push_str(&format!("\n  text values need quotes: {fixed}"));
        }
        Some(snippet)
    };
    ConfigError::Syntax {
        path: path.to_owned(),
        line,
        column,
        message: e.message().to_owned(),
        snippet,
    }
}

/// `key = bare-word` (a string without quotes) -> `key = "bare-word"`.
pub(super) fn quoted_suggestion(line: &str) -> Option<String> {
    let (key, value) = line.split_once('=')?;
    let (key, value) = (key.trim(), value.trim());
    let word = |s: &str, extra: &[char]| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-') || extra.contains(&c))
    };
    let literal = matches!(value, "true" | "false" | "inf" | "nan")
        || value.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
    (word(key, &[]) && word(value, &['.', '@', '/', ':']) && !literal)
        .then(|| format!("{key} = \"{value}\""))
}

/// A line whose key mentions a password or secret is never echoed.
pub(super) fn may_hold_secret(line: &str) -> bool {
    let key = line.split('=').next().unwrap_or(line).to_ascii_lowercase();
    ["pass", "secret", "token"].iter().any(|w| key.contains(w))
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn position(text: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// A key as it would be written in a dotted path: bare if it can be.
pub(super) fn key_segment(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

pub(super) fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        key_segment(name)
    } else {
        format!("{parent}.{}", key_segment(name))
    }
}

/// A value as written (strings quoted and escaped), shortened.
pub(super) fn render(v: &DeValue<'_>) -> String {
    let full = match v {
        DeValue::String(s) => format!("{:?}", s.as_ref()),
        DeValue::Integer(i) => i.to_string(),
        DeValue::Float(f) => f.as_str().to_owned(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        DeValue::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|x| render(x.get_ref()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DeValue::Table(_) => "{ ... }".to_owned(),
    };
    const MAX: usize = 100;
    if full.chars().count() > MAX {
        let mut cut: String = full.chars().take(MAX).collect();
        cut.push('…');
        cut
    } else {
        full
    }
}

/// "a string", "an integer"...: what was found where something else was expected.
pub(super) fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

pub(super) fn int_value(v: &DeValue<'_>) -> Option<i64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

/// The closest option to a misspelt word, for "did you mean" (Levenshtein
/// distance, at most 2 or a quarter of the option's length).
pub(super) fn suggest<'a>(wrong: &str, options: &[&'a str]) -> Option<&'a str> {
    let wrong = wrong.to_lowercase();
    options
        .iter()
        .map(|o| (strsim::levenshtein(&wrong, o), *o))
        .filter(|(d, o)| *d <= 2.max(o.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o)
}

pub(super) fn quoted_list(options: &[&str]) -> String {
    options
        .iter()
        .map(|o| format!("\"{o}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
