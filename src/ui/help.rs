//! The help screen, generated from the live keymap.

use super::*;

/// The help text, generated from the live keymap.
pub fn help_lines(app: &App) -> Vec<(String, bool)> {
    let km = app.keymap();
    let mut out = vec![(
        "Keys (your keymap; [ui.keys] in the config changes them)".to_string(),
        true,
    )];
    for (action, keys) in km.help_table() {
        let keys = if keys.is_empty() {
            "(unbound)".to_string()
        } else {
            keys.join(" ")
        };
        out.push((
            format!(
                "  {} {} {}",
                pad(&keys, 14),
                pad(action.name(), 15),
                action.description()
            ),
            false,
        ));
    }
    out.push((String::new(), false));
    out.push(("Dialogs and prompts (fixed keys)".to_string(), true));
    // From the tables the dialogs themselves take their keys from.
    for (what, choices) in App::help_choices() {
        out.push((format!("  {what}:"), false));
        for c in choices {
            out.push((
                format!("    {} {}", pad(&c.keys.join("/"), 8), c.label),
                false,
            ));
        }
    }
    for l in [
        "  password:         type (hidden), then enter",
        "  filter (/):       type to filter · enter keeps it · esc clears it",
        "  mouse:            wheel scrolls · click selects · double-click opens",
    ] {
        out.push((l.to_string(), false));
    }
    out.push((String::new(), false));
    out.push(("The list".to_string(), true));
    for l in [
        "  D  marked for deletion (struck through); deleted only on commit or quit",
        "  d  mark being sent to the server · u  undo being sent",
        "  +  has attachments · …loading  preview not fetched yet",
        "  dates: 14:05 today · 12 Mar this year · 2023-03-12 before",
    ] {
        out.push((l.to_string(), false));
    }
    out.push((String::new(), false));
    out.push((
        "Settings (config.toml; the defaults shown)".to_string(),
        true,
    ));
    // From the one table the parser takes its keys and defaults from.
    for s in crate::config::settings::SETTINGS {
        out.push((
            // Padded, never cut: a default is shown whole.
            format!("  {:<34} = {:<10}  {}", s.path(), s.default.text(), s.help),
            false,
        ));
    }
    out
}

pub(super) fn help(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    let lines = help_lines(app);
    let scroll = app.help_scroll().min(lines.len().saturating_sub(1));
    for (i, (l, bold)) in lines
        .iter()
        .skip(scroll)
        .take(area.height as usize)
        .enumerate()
    {
        let st = if *bold { t.title } else { Style::new() };
        put(buf, area.x, area.y + i as u16, l, area.width, st);
    }
}
