//! The reader: a laid-out message (headers, body, attachments) or its
//! raw source, with a progress gauge while it loads.

use super::*;

pub(super) fn reader(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let Some(r) = app.reader() else { return };
    let title_h = area.height - reader_rows(area);
    if title_h > 0 {
        let mut spans = vec![(format!(" #{} ", r.key.number), t.title)];
        spans.push((human_size(r.size), Style::new()));
        match app.mark_state(&r.key) {
            Some(s) if s.is_marked() => {
                spans.push(("  D MARKED FOR DELETION".to_string(), t.danger))
            }
            _ => {}
        }
        if r.raw {
            spans.push(("  [raw]".to_string(), t.note));
        }
        if r.full_headers {
            spans.push(("  [all headers]".to_string(), t.note));
        }
        if r.is_peek() {
            spans.push(("  [peek]".to_string(), t.note));
        }
        if !r.lines.is_empty() {
            spans.push((
                format!(
                    "  line {}/{}",
                    (r.scroll + 1).min(r.lines.len()),
                    r.lines.len()
                ),
                t.hint,
            ));
        }
        put_spans(buf, Rect::new(area.x, area.y, area.width, 1), &spans);
    }
    let body = Rect::new(area.x, area.y + title_h, area.width, area.height - title_h);
    match &r.content {
        Content::Loading { bytes, total, peek } => {
            let what = if *peek { "peeking at" } else { "downloading" };
            let lines = [
                format!("{what} message {} ({})…", r.key.number, human_size(r.size)),
                format!("{} of {}", human_size(*bytes), human_size(*total)),
                format!("{} cancels", app.keymap().hint(Action::Back)),
            ];
            for (i, l) in lines.iter().enumerate() {
                if (i as u16) < body.height {
                    put(
                        buf,
                        body.x + 1,
                        body.y + i as u16,
                        &fit(l, body.width.saturating_sub(1) as usize),
                        body.width.saturating_sub(1),
                        t.loading,
                    );
                }
            }
        }
        Content::Ready { .. } => {
            for (i, line) in r
                .lines
                .iter()
                .skip(r.scroll)
                .take(body.height as usize)
                .enumerate()
            {
                let y = body.y + i as u16;
                match line.kind {
                    LineKind::Header { label } => {
                        let split = if line.text.is_char_boundary(label) {
                            label
                        } else {
                            0
                        };
                        let (name, value) = line.text.split_at(split);
                        let x = put(buf, body.x, y, name, body.width, t.label);
                        put(
                            buf,
                            x,
                            y,
                            value,
                            body.right().saturating_sub(x),
                            Style::new(),
                        );
                    }
                    LineKind::Body => {
                        put(buf, body.x, y, &line.text, body.width, Style::new());
                    }
                    LineKind::Attachment { selected } => {
                        let st = if selected { t.selected } else { Style::new() };
                        put(buf, body.x, y, &line.text, body.width, st);
                    }
                    LineKind::Note => {
                        put(buf, body.x, y, &line.text, body.width, t.note);
                    }
                    LineKind::Rule => {
                        put(buf, body.x, y, &line.text, body.width, t.hint);
                    }
                }
            }
        }
    }
}
