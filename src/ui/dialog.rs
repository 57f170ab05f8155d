//! Dialogs drawn over the screen: quit with marks pending, the password,
//! the big-message confirmation.

use super::*;

pub(super) fn dialog(buf: &mut Buffer, area: Rect, app: &App, d: &Dialog, t: &Theme) {
    let (title, body): (&str, Vec<(String, Style)>) = match d {
        Dialog::Quit { pending } => (
            " Quit ",
            vec![
                (
                    format!(
                        "{pending} message{} marked for deletion.",
                        if *pending == 1 { " is" } else { "s are" }
                    ),
                    t.danger,
                ),
                (String::new(), Style::new()),
                (format!("d  delete {pending} now and quit"), Style::new()),
                (
                    "k  keep every message (forget the marks) and quit".to_string(),
                    Style::new(),
                ),
                ("esc  cancel".to_string(), Style::new()),
            ],
        ),
        Dialog::BigMessage { key, size } => (
            " Big message ",
            vec![
                (
                    format!(
                        "Message {} is {} (limit {}).",
                        key.number,
                        human_size(*size),
                        human_size(app.options().big_message_threshold)
                    ),
                    t.label,
                ),
                (String::new(), Style::new()),
                ("y/enter  download it all".to_string(), Style::new()),
                (
                    format!(
                        "p  peek: headers and the first {} lines",
                        crate::app::PEEK_LINES
                    ),
                    Style::new(),
                ),
                ("esc  cancel".to_string(), Style::new()),
            ],
        ),
        Dialog::Password { reason, input } => (
            " Password ",
            vec![
                (reason.clone(), t.error),
                (String::new(), Style::new()),
                (
                    format!("Password: {}▏", "*".repeat(input.chars().count().min(64))),
                    Style::new(),
                ),
                (String::new(), Style::new()),
                ("enter  log in · esc  cancel".to_string(), t.hint),
            ],
        ),
    };
    let inner_w = area.width.saturating_sub(4).clamp(0, 60);
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
