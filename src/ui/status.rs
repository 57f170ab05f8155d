//! The status line (progress, notices, errors with advice) and the key
//! hints for the current screen.

use super::*;

pub(super) fn gauge(done: u64, total: u64, w: usize) -> (String, String) {
    let w = w.max(1);
    let filled = if total == 0 {
        0
    } else {
        ((done.min(total) as u128 * w as u128) / total as u128) as usize
    };
    ("█".repeat(filled), "·".repeat(w - filled))
}

pub(super) fn status(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    // The gauge (right side) while previews or a download load.
    let error_block = app.error().is_some()
        && area.height >= 2
        && !app.editing_filter()
        && app.prompt().is_none();
    let progress: Option<(String, u64, u64)> = match (app.reader(), app.conn_state()) {
        _ if error_block => None,
        (Some(r), _) if app.screen() == Screen::Reader => match &r.content {
            Content::Loading { bytes, total, .. } => Some((
                format!("{}/{}", human_size(*bytes), human_size(*total)),
                *bytes,
                *total,
            )),
            _ => None,
        },
        (_, ConnState::LoadingPreviews { done, total }) => Some((
            format!("previews {done}/{total}"),
            *done as u64,
            *total as u64,
        )),
        _ => None,
    };
    let progress = match progress {
        None if !error_block => super::save::progress(app),
        p => p,
    };
    let mut right_w = 0u16;
    if let Some((label, done, total)) = progress {
        let bar_w = (area.width / 5).clamp(0, 20);
        let label_w = width(&label) as u16;
        if area.width >= label_w + bar_w + 12 {
            right_w = label_w + bar_w + 2;
            let x = area.right() - right_w;
            let (d, rest) = gauge(done, total, bar_w as usize);
            let x = put(buf, x, area.y, &format!("{label} "), label_w + 1, t.hint);
            let x = put(buf, x, area.y, &d, bar_w, t.gauge_done);
            put(buf, x, area.y, &rest, bar_w, t.gauge_todo);
        }
    }
    let left = Rect::new(area.x, area.y, area.width - right_w, 1);
    let spans: Vec<(String, Style)> = if let Some(e) = app.pipe_prompt() {
        pipe_spans(e, left.width, t)
    } else if let Some(p) = app.save_prompt() {
        super::save::prompt_spans(p, left.width, t)
    } else if let Some(p) = app.prompt() {
        prompt_spans(p, left.width, t)
    } else if app.editing_filter() {
        vec![
            ("/".to_string(), t.key),
            (app.filter().to_string(), Style::new()),
            ("▏".to_string(), t.key),
            (
                format!(
                    "  {} match{}  enter keeps · esc clears",
                    app.view_len(),
                    if app.view_len() == 1 { "" } else { "es" }
                ),
                t.hint,
            ),
        ]
    } else if let Some(e) = app.error() {
        if area.height >= 2 {
            // Wrapped in full, at the width the region was sized for (no
            // gauge then: the header still shows the progress).
            let lines = error_lines(&e.message, e.advice, area.width);
            let rows = usize::from(area.height);
            let cut = lines.len() > rows;
            let advice_from = wrap(&e.message, usize::from(area.width.max(4)) - 2).len();
            let w = usize::from(area.width);
            for (i, l) in lines.iter().take(rows).enumerate() {
                let text = if cut && i + 1 == rows {
                    // Too small a screen for all of it: say so.
                    fit(&format!("{}…", l.trim_end()), w)
                } else {
                    fit(l, w)
                };
                let style = if i < advice_from {
                    t.error
                } else {
                    Style::new()
                };
                put(buf, area.x, area.y + i as u16, &text, area.width, style);
            }
            return;
        }
        vec![
            ("✗ ".to_string(), t.error),
            (e.message.clone(), t.error),
            (format!(" — {}", e.advice), Style::new()),
        ]
    } else if app.is_closing() {
        vec![(
            format!(
                "closing the session… ({} again leaves without waiting)",
                app.keymap().hint(Action::Quit)
            ),
            t.notice,
        )]
    } else if let Some(n) = app.notice() {
        vec![(n.to_string(), t.notice)]
    } else if !app.filter().is_empty() {
        vec![(
            format!(
                "filter \"{}\": {} of {} ({} clears)",
                app.filter(),
                app.view_len(),
                app.rows().len(),
                app.keymap().hint(Action::Back)
            ),
            t.hint,
        )]
    } else if let Some(limit) = app.limit_text() {
        vec![(
            format!(
                "limit \"{limit}\": {} of {} shown ({} then enter shows all)",
                app.view_len(),
                app.rows().len(),
                app.keymap().hint(Action::Limit)
            ),
            t.hint,
        )]
    } else if let Some(reason) = app.no_uidl_reason() {
        vec![(
            format!("no UIDL ({reason}): marks are not kept across sessions"),
            t.hint,
        )]
    } else {
        Vec::new()
    };
    put_spans(buf, left, &spans);
}

/// The pipe prompt (`|`): the command typed so far, its end in view.
fn pipe_spans(e: &crate::app::line_edit::LineEditor, w: u16, t: &Theme) -> Vec<(String, Style)> {
    let mut spans = super::prompt::editor_spans("Pipe to command: ", e, w, t);
    spans.push(("  enter runs (sh -c) · esc cancels".to_string(), t.hint));
    spans
}

/// The pattern prompt: its question, the line with the cursor (the end
/// of a long line stays in view), and the parser's error, if any.
fn prompt_spans(p: &PatternPrompt, w: u16, t: &Theme) -> Vec<(String, Style)> {
    let mut spans = super::prompt::editor_spans(p.purpose.prompt(), &p.editor, w, t);
    match &p.error {
        Some(e) => spans.push((format!("  ✗ {e}"), t.error)),
        None => spans.push((
            "  enter applies · esc cancels · ↑ history".to_string(),
            t.hint,
        )),
    }
    spans
}

pub(super) fn hints(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    if area.height == 0 {
        return;
    }
    let list: &[(Action, &str)] = match app.screen() {
        Screen::List => &[
            (Action::Open, "open"),
            (Action::Mark, "mark"),
            (Action::Unmark, "undo"),
            (Action::MarkPattern, "mark many"),
            (Action::Limit, "limit"),
            (Action::Review, "review"),
            (Action::Commit, "commit"),
            (Action::Filter, "filter"),
            (Action::Sort, "sort"),
            (Action::Help, "help"),
            (Action::Quit, "quit"),
            (Action::Accounts, "accounts"),
        ],
        Screen::Review => &[
            (Action::Unmark, "undo mark"),
            (Action::Commit, "commit"),
            (Action::Open, "show in list"),
            (Action::Sort, "sort"),
            (Action::Back, "back"),
        ],
        Screen::Reader => &[
            (Action::Back, "back"),
            (Action::NextMessage, "next"),
            (Action::PrevMessage, "prev"),
            (Action::Mark, "mark"),
            (Action::Save, "save"),
            (Action::NextAttachment, "choose"),
            (Action::Raw, "raw"),
            (Action::FullHeaders, "headers"),
            (Action::Help, "help"),
        ],
        Screen::Help => &[(Action::Back, "back"), (Action::Down, "scroll")],
        Screen::Accounts => &[
            (Action::Open, "switch"),
            (Action::Down, "down"),
            (Action::Up, "up"),
            (Action::Back, "back"),
        ],
    };
    let km = app.keymap();
    let mut spans = Vec::new();
    for (a, label) in list {
        spans.push((km.hint(*a), t.key));
        spans.push((format!(" {label}  "), t.hint));
    }
    put_spans(buf, area, &spans);
}
