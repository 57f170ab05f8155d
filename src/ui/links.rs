//! The link list (`ctrl-b`) drawn over the reader: each link numbered,
//! its URL and the text beside it; Enter (or its number) shows the whole
//! URL, wrapped, and asks before anything is opened.

use super::*;
use crate::app::external::LinkMenu;

pub(super) fn links(buf: &mut Buffer, area: Rect, m: &LinkMenu, t: &Theme) {
    if area.width < 8 || area.height < 5 || m.links.is_empty() {
        return;
    }
    let w = area.width.saturating_sub(4).max(4);
    let h = area.height.saturating_sub(2).max(3);
    let rect = Rect::new(area.x + (area.width - w) / 2, area.y + 1, w, h);
    Clear.render(rect, buf);
    let title = if m.confirm {
        " Open this link? "
    } else {
        " Links "
    };
    Block::bordered()
        .border_type(BorderType::Plain)
        .title(Line::from(Span::styled(title, t.title)))
        .style(t.dialog)
        .render(rect, buf);
    let inner = rect.inner(Margin::new(1, 1));
    let iw = usize::from(inner.width.max(1));
    let rows = usize::from(inner.height);
    let mut lines: Vec<(String, Style)> = Vec::new();
    let cursor = m.cursor.min(m.links.len() - 1);
    if m.confirm {
        let link = &m.links[cursor];
        // In full: every character of the URL is shown before it is opened.
        for part in wrap(&link.url, iw) {
            lines.push((part, t.key));
        }
        if !link.text.is_empty() {
            lines.push((String::new(), Style::new()));
            for part in wrap(&link.text, iw) {
                lines.push((part, t.label));
            }
        }
        lines.push((String::new(), Style::new()));
        lines.push((
            "y  open it with $BROWSER (else xdg-open) · any other key: back to the list"
                .to_string(),
            t.hint,
        ));
    } else {
        let list_rows = rows.saturating_sub(1).max(1);
        let start = cursor.saturating_sub(list_rows - 1);
        for (i, l) in m.links.iter().enumerate().skip(start).take(list_rows) {
            let text = if l.text.is_empty() || l.text == l.url {
                format!("{:>3} {}", i + 1, l.url)
            } else {
                format!("{:>3} {}  — {}", i + 1, l.url, l.text)
            };
            let style = if i == cursor { t.cursor } else { Style::new() };
            lines.push((pad(&fit(&text, iw), iw), style));
        }
        lines.push((
            "enter shows the whole link and asks · 1-9 · j/k · esc closes".to_string(),
            t.hint,
        ));
    }
    for (i, (l, st)) in lines.iter().take(rows).enumerate() {
        put(buf, inner.x, inner.y + i as u16, l, inner.width, *st);
    }
}
