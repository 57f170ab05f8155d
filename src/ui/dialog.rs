//! Dialogs drawn over the screen: quit with marks pending, commit now,
//! undo all, the password, the big-message confirmation. The keys each
//! dialog lists come from `App::dialog_choices`, which also handles them.

use super::*;

/// The line about marks the list can't show, if any.
fn unshown_line(m: &MarkSummary) -> Option<String> {
    if m.unshown.is_empty() {
        return None;
    }
    Some(format!(
        "Not in the list ({}): {}.",
        m.unshown_why,
        App::unshown_named(m)
    ))
}

pub(super) fn dialog(buf: &mut Buffer, area: Rect, app: &App, d: &Dialog, t: &Theme) {
    let blank = || (String::new(), Style::new());
    let inner_w = area.width.saturating_sub(4).clamp(0, 60);
    let (title, mut body): (&str, Vec<(String, Style)>) = match d {
        Dialog::Quit(m) => {
            let mut v = vec![(
                format!("Marked for deletion: {}.", App::marks_phrase(m)),
                t.danger,
            )];
            v.extend(unshown_line(m).map(|l| (l, t.label)));
            let title = match app.switch_to() {
                Some(_) => " Switch account ",
                None => " Quit ",
            };
            (title, v)
        }
        Dialog::Commit(m) => {
            let mut v = vec![
                (
                    format!("Delete {} on the server now?", App::marks_phrase(m)),
                    t.danger,
                ),
                ("This can't be undone.".to_string(), Style::new()),
            ];
            v.extend(unshown_line(m).map(|l| (l, t.label)));
            (" Delete now ", v)
        }
        Dialog::UnmarkAll(m) => (
            " Undo all marks ",
            vec![(
                format!(
                    "Undo the marks on {}? Nothing is deleted either way.",
                    App::marks_phrase(m)
                ),
                t.label,
            )],
        ),
        Dialog::BigMessage { key, size } => (
            " Big message ",
            vec![(
                format!(
                    "Message {} is {} (limit {}).",
                    key.number,
                    human_size(*size),
                    human_size(app.options().big_message_threshold)
                ),
                t.label,
            )],
        ),
        Dialog::Rules(r) => {
            let mut v = vec![(
                format!(
                    "Your rules propose to mark {} message{} ({}) for deletion:",
                    r.plan.change.marked.len(),
                    if r.plan.change.marked.len() == 1 {
                        ""
                    } else {
                        "s"
                    },
                    human_size(r.plan.mark_bytes)
                ),
                t.danger,
            )];
            for (name, n) in &r.per_rule {
                v.push((format!("  {name}: {n}"), t.label));
            }
            v.push((
                "Nothing is marked until you apply it.".to_string(),
                Style::new(),
            ));
            (" Rules ", v)
        }
        Dialog::Bulk(p) => {
            let mut v = Vec::new();
            let n = |k: usize| format!("{k} message{}", if k == 1 { "" } else { "s" });
            if !p.change.marked.is_empty() {
                v.push((
                    format!(
                        "Mark {} ({}) for deletion? ({})",
                        n(p.change.marked.len()),
                        human_size(p.mark_bytes),
                        p.source
                    ),
                    t.danger,
                ));
                v.push((
                    "They are deleted only on commit; z undoes this.".to_string(),
                    t.label,
                ));
            }
            if !p.change.unmarked.is_empty() {
                v.push((
                    format!(
                        "Undo the marks on {} ({})? ({})",
                        n(p.change.unmarked.len()),
                        human_size(p.unmark_bytes),
                        p.source
                    ),
                    t.label,
                ));
            }
            (" Bulk change ", v)
        }
        Dialog::Password { reason, input } => (
            " Password ",
            vec![
                (reason.clone(), t.error),
                blank(),
                (
                    format!("Password: {}▏", "*".repeat(input.chars().count().min(64))),
                    Style::new(),
                ),
            ],
        ),
    };
    // The keys, from the same table that handles them.
    let choices = app.dialog_choices();
    body.push(blank());
    if matches!(d, Dialog::Password { .. }) {
        let line = choices
            .iter()
            .map(|c| format!("{}  {}", c.keys.join("/"), c.label))
            .collect::<Vec<_>>()
            .join(" · ");
        body.push((line, t.hint));
    } else {
        let key_w = choices
            .iter()
            .map(|c| width(&c.keys.join("/")))
            .max()
            .unwrap_or(0);
        // Labels wrap under themselves, not under the keys.
        let label_w = usize::from(inner_w).saturating_sub(key_w + 2).max(8);
        for c in &choices {
            for (i, part) in wrap(&c.label, label_w).into_iter().enumerate() {
                let keys = if i == 0 {
                    c.keys.join("/")
                } else {
                    String::new()
                };
                body.push((format!("{}  {part}", pad(&keys, key_w)), Style::new()));
            }
        }
    }
    let mut lines: Vec<(String, Style)> = Vec::new();
    for (l, st) in body {
        for part in wrap(&l, inner_w.max(1) as usize) {
            lines.push((part, st));
        }
    }
    let w = (inner_w + 4).min(area.width);
    let h = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(rect, buf);
    Block::bordered()
        .border_type(BorderType::Plain)
        .title(Line::from(Span::styled(title, t.title)))
        .style(t.dialog)
        .render(rect, buf);
    let inner = rect.inner(Margin::new(2, 1));
    for (i, (l, st)) in lines.iter().take(inner.height as usize).enumerate() {
        put(buf, inner.x, inner.y + i as u16, l, inner.width, *st);
    }
}
