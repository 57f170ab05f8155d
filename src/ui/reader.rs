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
        Content::Loading { peek, .. } => {
            loading(buf, body, app, r, *peek, t);
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

/// The loading screen: what is coming, a bar with the percent, bytes of
/// the total, the rate and the time left (once known), how to cancel.
fn loading(buf: &mut Buffer, body: Rect, app: &App, r: &crate::app::Reader, peek: bool, t: &Theme) {
    let Some(st) = r.loading_status(std::time::Instant::now()) else {
        return;
    };
    let what = if peek { "peeking at" } else { "downloading" };
    let w = body.width.saturating_sub(1);
    let x = body.x + 1;
    let row = |i: u16| (i < body.height).then_some(body.y + i);
    if let Some(y) = row(0) {
        let l = format!("{what} message {} ({})…", r.key.number, human_size(r.size));
        put(buf, x, y, &fit(&l, w as usize), w, t.loading);
    }
    if let Some(y) = row(1) {
        let pct = st.percent.map_or(String::new(), |p| format!(" {p:>3}%"));
        let bar_w = w.saturating_sub(width(&pct) as u16).min(40);
        let (done, rest) = super::status::gauge(st.bytes, st.total, usize::from(bar_w));
        let x = put(buf, x, y, &done, bar_w, t.gauge_done);
        let x = put(buf, x, y, &rest, bar_w, t.gauge_todo);
        put(buf, x, y, &pct, body.right().saturating_sub(x), t.loading);
    }
    if let Some(y) = row(2) {
        let mut l = format!("{} of {}", human_size(st.bytes), human_size(st.total));
        if let Some(rate) = st.rate {
            l.push_str(&format!(" · {}/s", human_size(rate as u64)));
        }
        if let Some(left) = st.left {
            l.push_str(&format!(" · {}", time_left(left)));
        }
        put(buf, x, y, &fit(&l, w as usize), w, t.loading);
    }
    if let Some(y) = row(3) {
        let l = format!("{} cancels", app.keymap().hint(Action::Back));
        put(buf, x, y, &fit(&l, w as usize), w, t.loading);
    }
}

/// "about 12 s left", "about 3 min left", "about 2 h left".
fn time_left(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..90 => format!("about {} s left", s.max(1)),
        90..5400 => format!("about {} min left", (s + 30) / 60),
        _ => format!("about {} h left", (s + 1800) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::time_left;
    use std::time::Duration;

    #[test]
    fn time_left_reads_naturally() {
        assert_eq!(time_left(Duration::from_millis(200)), "about 1 s left");
        assert_eq!(time_left(Duration::from_secs(42)), "about 42 s left");
        assert_eq!(time_left(Duration::from_secs(200)), "about 3 min left");
        assert_eq!(time_left(Duration::from_secs(7200)), "about 2 h left");
    }
}
