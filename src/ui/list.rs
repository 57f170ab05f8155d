//! The message table: flags (mark; tag, hint or new; attachment), number,
//! date, sender, subject and size, with a scrollbar; only visible rows are
//! drawn. The review of the marks (`M`) draws its rows with the same table.

use super::*;

/// Column widths of the list for a given width.
struct Columns {
    num: u16,
    date: u16,
    sender: u16,
    subject: u16,
    size: u16,
}

fn columns(w: u16, max_number_digits: u16) -> Columns {
    // "D*+ " + num + " " ... ; 1 column kept for the scrollbar.
    let mut rest = w.saturating_sub(1 + 4);
    let num = max_number_digits.max(2).min(rest);
    rest = rest.saturating_sub(num + 1);
    let (date, size) = if rest >= 36 { (10, 5) } else { (0, 0) };
    rest = rest.saturating_sub(if date > 0 { date + 1 } else { 0 });
    rest = rest.saturating_sub(if size > 0 { size + 1 } else { 0 });
    let sender = if rest >= 24 {
        (rest * 3 / 10).clamp(12, 28)
    } else {
        0
    };
    rest = rest.saturating_sub(if sender > 0 { sender + 1 } else { 0 });
    Columns {
        num,
        date,
        sender,
        subject: rest,
        size,
    }
}

fn digits(n: usize) -> u16 {
    n.max(1).ilog10() as u16 + 1
}

pub(super) fn list(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    let empty = if !app.filter().is_empty() {
        format!("no message matches \"{}\"", app.filter())
    } else if let Some(limit) = app.limit_text() {
        format!("no message matches the limit \"{limit}\"")
    } else if matches!(
        app.conn_state(),
        ConnState::Starting | ConnState::Connecting { .. }
    ) {
        "connecting…".to_string()
    } else if app.conn_state() == &ConnState::Listing {
        "listing…".to_string()
    } else if app.connection().is_none() {
        "not connected yet: no messages to show".to_string()
    } else {
        "no messages".to_string()
    };
    let rows = Table {
        len: app.view_len(),
        row_at: &|pos| app.view_row(pos),
        cursor: app.cursor(),
        offset: app.offset(),
        empty: &empty,
    };
    table(buf, area, app, t, &rows);
}

/// What [`table`] draws: `len` rows, the one at a position, where the
/// cursor and the first row shown are, and what to say when there is none.
pub(super) struct Table<'a> {
    pub len: usize,
    pub row_at: &'a dyn Fn(usize) -> Option<&'a Row>,
    pub cursor: usize,
    pub offset: usize,
    pub empty: &'a str,
}

pub(super) fn table(buf: &mut Buffer, area: Rect, app: &App, t: &Theme, rows: &Table<'_>) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let head = list_header_rows(area);
    let rows_area = Rect::new(area.x, area.y + head, area.width, area.height - head);
    let cols = columns(area.width, digits(app.rows().len()));
    let len = rows.len;
    if head > 0 {
        let y = area.y;
        let hstyle = t.column_header;
        buf.set_style(Rect::new(area.x, y, area.width, 1), hstyle);
        let mut x = area.x;
        let mut cell = |s: String, w: u16, x: &mut u16| {
            if w > 0 {
                put(buf, *x, y, &s, w, hstyle);
                *x += w + 1;
            }
        };
        cell("D*+".to_string(), 3, &mut x);
        cell(pad_left("#", cols.num as usize), cols.num, &mut x);
        cell(pad("Date", cols.date as usize), cols.date, &mut x);
        cell(pad("From", cols.sender as usize), cols.sender, &mut x);
        cell(pad("Subject", cols.subject as usize), cols.subject, &mut x);
        cell(pad_left("Size", cols.size as usize), cols.size, &mut x);
    }
    if len == 0 {
        let msg = rows.empty;
        if rows_area.height > 0 {
            put(
                buf,
                rows_area.x + 1,
                rows_area.y,
                &fit(msg, rows_area.width.saturating_sub(1) as usize),
                rows_area.width.saturating_sub(1),
                t.loading,
            );
        }
        return;
    }
    let h = rows_area.height as usize;
    let start = rows.offset.min(len);
    let end = (start + h).min(len);
    let now = app.now();
    let tz = app.options().utc_offset_minutes;
    for (line, pos) in (start..end).enumerate() {
        let Some(row) = (rows.row_at)(pos) else {
            break;
        };
        let y = rows_area.y + line as u16;
        let state = row.mark_state();
        let mut style = match state {
            MarkState::Marked => t.marked,
            MarkState::Marking => t.marked.patch(t.pending),
            MarkState::Unmarking => t.pending,
            MarkState::None => Style::new(),
        };
        if pos == rows.cursor {
            style = style.patch(t.cursor);
        }
        let row_rect = Rect::new(area.x, y, area.width.saturating_sub(1), 1);
        buf.set_style(row_rect, style);
        let mark = match state {
            MarkState::Marked => "D",
            MarkState::Marking => "d",
            MarkState::Unmarking => "u",
            MarkState::None => " ",
        };
        let info = row.info.as_ref();
        let att = if info.is_some_and(|i| i.has_attachments) {
            "+"
        } else {
            " "
        };
        // One column for what matters most of: tagged, a warning hint
        // (failed authentication, a spoofed name), new.
        let (flag, flag_style) = if row.tagged {
            ("*", style.patch(t.key))
        } else if info.is_some_and(|i| i.text.hints().any()) {
            ("!", style.patch(t.danger))
        } else if row.new {
            ("N", style.patch(t.notice))
        } else {
            (" ", style)
        };
        let mut x = area.x;
        let right = row_rect.right();
        let mark_style = if state == MarkState::None {
            style
        } else {
            style.patch(t.danger)
        };
        put(buf, x, y, mark, right.saturating_sub(x).min(1), mark_style);
        put(
            buf,
            x + 1,
            y,
            flag,
            right.saturating_sub(x + 1).min(1),
            flag_style,
        );
        put(
            buf,
            x + 2,
            y,
            att,
            right.saturating_sub(x + 2).min(1),
            style,
        );
        x = (x + 4).min(right);
        let mut cell = |s: &str, w: u16, st: Style, x: &mut u16| {
            if w > 0 && *x < right {
                put(buf, *x, y, s, w.min(right - *x), st);
                *x = (*x + w + 1).min(right);
            }
        };
        cell(
            &pad_left(&row.key.number.to_string(), cols.num as usize),
            cols.num,
            style,
            &mut x,
        );
        match info {
            Some(i) => {
                let date = i
                    .date
                    .as_ref()
                    .map(|d| list_date(d, now, tz))
                    .unwrap_or_default();
                cell(&pad(&date, cols.date as usize), cols.date, style, &mut x);
                cell(
                    &pad(&i.sender, cols.sender as usize),
                    cols.sender,
                    style,
                    &mut x,
                );
                cell(
                    &pad(&i.subject, cols.subject as usize),
                    cols.subject,
                    style,
                    &mut x,
                );
            }
            None => {
                let lstyle = style.patch(t.loading);
                cell(&pad("", cols.date as usize), cols.date, lstyle, &mut x);
                if cols.sender > 0 {
                    cell(
                        &pad("…loading", cols.sender as usize),
                        cols.sender,
                        lstyle,
                        &mut x,
                    );
                    cell(
                        &pad("", cols.subject as usize),
                        cols.subject,
                        lstyle,
                        &mut x,
                    );
                } else {
                    cell(
                        &pad("…loading", cols.subject as usize),
                        cols.subject,
                        lstyle,
                        &mut x,
                    );
                }
            }
        }
        cell(
            &pad_left(&human_size(row.size), cols.size as usize),
            cols.size,
            style,
            &mut x,
        );
    }
    if len > h && rows_area.height > 0 {
        let mut state = ScrollbarState::new(len.saturating_sub(h)).position(start);
        Scrollbar::new(ScrollbarOrientation::VerticalRight)
            .begin_symbol(None)
            .end_symbol(None)
            .render(rows_area, buf, &mut state);
    }
}
