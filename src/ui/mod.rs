//! Rendering: `draw(frame, &app)` only reads the app. One function per
//! region; styles come from [`theme`]. Every string that came from the
//! network or a mail was cleaned when it entered the app state (see
//! [`text::clean_line`]); cells are padded and truncated by display width
//! here so columns stay aligned whatever the text.

pub mod text;
pub mod theme;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Margin, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Clear, Scrollbar, ScrollbarOrientation, ScrollbarState, StatefulWidget,
    Widget,
};

use crate::action::Action;
use crate::app::format::{human_size, list_date};
use crate::app::{App, ConnState, Content, Dialog, LineKind, MarkState, Screen};
use crate::worker::api::{CertTrust, TlsState};
use text::{fit, pad, pad_left, width, wrap};
use theme::Theme;

/// The screen's regions. Zero-height regions are skipped on small terminals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Regions {
    pub header: Rect,
    pub warning: Rect,
    pub body: Rect,
    pub status: Rect,
    pub hints: Rect,
}

/// Split the screen. Shared by the app (scrolling, mouse) and the view.
/// `warn`: a TLS warning line; `tall_status`: two status lines (an error).
pub fn layout(area: Rect, warn: bool, tall_status: bool) -> Regions {
    let h = area.height;
    let header_h = u16::from(h >= 3);
    let warning_h = u16::from(warn && h >= 5);
    let status_h = u16::from(h >= 4) + u16::from(tall_status && h >= 10);
    let hints_h = u16::from(h >= 7);
    let body_h = h - header_h - warning_h - status_h - hints_h;
    let mut y = area.y;
    let mut take = |n: u16| {
        let r = Rect::new(area.x, y, area.width, n);
        y += n;
        r
    };
    Regions {
        header: take(header_h),
        warning: take(warning_h),
        body: take(body_h),
        status: take(status_h),
        hints: take(hints_h),
    }
}

/// Rows used by the list's column header.
pub fn list_header_rows(body: Rect) -> u16 {
    u16::from(body.height >= 3)
}

/// Message rows that fit in the list.
pub fn list_rows(body: Rect) -> u16 {
    body.height - list_header_rows(body)
}

/// Lines of the message that fit in the reader (one line is its title).
pub fn reader_rows(body: Rect) -> u16 {
    body.height.saturating_sub(u16::from(body.height >= 2))
}

/// Draw the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    let t = theme::theme(app.options().no_color);
    let r = layout(area, app.tls_warning().is_some(), app.error().is_some());
    let buf = frame.buffer_mut();
    header(buf, r.header, app, t);
    warning(buf, r.warning, app, t);
    match app.screen() {
        Screen::List => list(buf, r.body, app, t),
        Screen::Reader => reader(buf, r.body, app, t),
        Screen::Help => help(buf, r.body, app, t),
    }
    status(buf, r.status, app, t);
    hints(buf, r.hints, app, t);
    if let Some(d) = app.dialog() {
        dialog(buf, area, app, d, t);
    }
}

fn put(buf: &mut Buffer, x: u16, y: u16, s: &str, max: u16, style: Style) -> u16 {
    if max == 0 {
        return x;
    }
    buf.set_stringn(x, y, s, max as usize, style).0
}

fn put_spans(buf: &mut Buffer, area: Rect, spans: &[(String, Style)]) {
    let mut x = area.x;
    for (s, style) in spans {
        let room = area.right().saturating_sub(x);
        if room == 0 {
            break;
        }
        x = put(buf, x, area.y, s, room, *style);
    }
}

pub fn tls_label(tls: &TlsState) -> String {
    let (how, d) = match tls {
        TlsState::None => return "NO TLS!".to_string(),
        TlsState::Implicit(d) => ("TLS", d),
        TlsState::StartTls(d) => ("STLS", d),
    };
    match d.trust {
        CertTrust::Verified => format!("{how} ✓verified"),
        CertTrust::Pinned => format!("{how} ✓pinned"),
        CertTrust::Unverified => format!("{how} UNVERIFIED!"),
    }
}

pub fn conn_label(c: &ConnState) -> String {
    match c {
        ConnState::Starting => "starting".to_string(),
        ConnState::Connecting { attempt } if *attempt > 1 => {
            format!("connecting (try {attempt})…")
        }
        ConnState::Connecting { .. } => "connecting…".to_string(),
        ConnState::LoadingPreviews { done, total } => format!("loading previews {done}/{total}"),
        ConnState::Idle => "idle".to_string(),
        ConnState::Reconnecting {
            attempt,
            delay_secs,
        } => format!("reconnecting in {delay_secs}s (try {attempt})"),
        ConnState::Offline => "offline".to_string(),
        ConnState::Closing => "closing…".to_string(),
    }
}

fn header(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    if area.height == 0 {
        return;
    }
    buf.set_style(area, t.header);
    // (text, style, priority): when the line is too narrow, the lowest
    // priority goes first; safety and counts stay.
    let mut segs: Vec<(String, Style, u8)> = Vec::new();
    let account = &app.options().account_label;
    if !account.is_empty() {
        segs.push((text::clean_line(account), t.header.patch(t.title), 2));
    }
    match app.connection() {
        Some(info) => {
            segs.push((info.server.clone(), t.header, 1));
            let tls_style = if app.tls_warning().is_some() {
                t.header.patch(t.warning)
            } else {
                t.header
            };
            segs.push((tls_label(&info.tls), tls_style, 9));
        }
        None => segs.push(("not connected".to_string(), t.header, 9)),
    }
    segs.push((conn_label(app.conn_state()), t.header, 8));
    segs.push((
        format!(
            "{} msg{}, {}",
            app.rows().len(),
            if app.rows().len() == 1 { "" } else { "s" },
            human_size(app.total_size())
        ),
        t.header,
        7,
    ));
    let marked = app.marked_count();
    if marked > 0 {
        segs.push((format!("{marked} to delete"), t.header.patch(t.danger), 9));
    }
    segs.push((format!("sort {}", app.sort_label()), t.header, 3));
    let total = |segs: &[(String, Style, u8)]| -> usize {
        1 + segs.iter().map(|(s, _, _)| width(s) + 3).sum::<usize>()
    };
    while total(&segs) > area.width as usize + 3 && segs.len() > 1 {
        let lowest = segs
            .iter()
            .enumerate()
            .min_by_key(|(i, (_, _, p))| (*p, usize::MAX - i))
            .map(|(i, _)| i)
            .unwrap_or(0);
        segs.remove(lowest);
    }
    let mut spans = vec![(" ".to_string(), t.header)];
    for (i, (s, st, _)) in segs.into_iter().enumerate() {
        if i > 0 {
            spans.push((" │ ".to_string(), t.header));
        }
        spans.push((s, st));
    }
    put_spans(buf, area, &spans);
}

fn warning(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    if area.height == 0 {
        return;
    }
    if let Some(w) = app.tls_warning() {
        buf.set_style(area, t.warning);
        put(
            buf,
            area.x,
            area.y,
            &format!(" ⚠ {w}"),
            area.width,
            t.warning,
        );
    }
}

/// Column widths of the list for a given width.
struct Columns {
    num: u16,
    date: u16,
    sender: u16,
    subject: u16,
    size: u16,
}

fn columns(w: u16, max_number_digits: u16) -> Columns {
    // "Da " + num + " " ... ; 1 column kept for the scrollbar.
    let mut rest = w.saturating_sub(1 + 3);
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

fn list(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let head = list_header_rows(area);
    let rows_area = Rect::new(area.x, area.y + head, area.width, area.height - head);
    let cols = columns(area.width, digits(app.rows().len()));
    let len = app.view_len();
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
        cell("D+".to_string(), 2, &mut x);
        cell(pad_left("#", cols.num as usize), cols.num, &mut x);
        cell(pad("Date", cols.date as usize), cols.date, &mut x);
        cell(pad("From", cols.sender as usize), cols.sender, &mut x);
        cell(pad("Subject", cols.subject as usize), cols.subject, &mut x);
        cell(pad_left("Size", cols.size as usize), cols.size, &mut x);
    }
    if len == 0 {
        let msg = if !app.filter().is_empty() {
            format!("no message matches \"{}\"", app.filter())
        } else if matches!(
            app.conn_state(),
            ConnState::Starting | ConnState::Connecting { .. }
        ) {
            "connecting…".to_string()
        } else {
            "no messages".to_string()
        };
        if rows_area.height > 0 {
            put(
                buf,
                rows_area.x + 1,
                rows_area.y,
                &fit(&msg, rows_area.width.saturating_sub(1) as usize),
                rows_area.width.saturating_sub(1),
                t.loading,
            );
        }
        return;
    }
    let h = rows_area.height as usize;
    let start = app.offset().min(len);
    let end = (start + h).min(len);
    let now = app.now();
    let tz = app.options().utc_offset_minutes;
    for (line, pos) in (start..end).enumerate() {
        let Some(row) = app.view_row(pos) else { break };
        let y = rows_area.y + line as u16;
        let state = row.mark_state();
        let mut style = match state {
            MarkState::Marked => t.marked,
            MarkState::Marking => t.marked.patch(t.pending),
            MarkState::Unmarking => t.pending,
            MarkState::None => Style::new(),
        };
        if pos == app.cursor() {
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
            att,
            right.saturating_sub(x + 1).min(1),
            style,
        );
        x = (x + 3).min(right);
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

fn reader(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
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

/// The help text, generated from the live keymap.
pub fn help_lines(app: &App) -> Vec<(String, bool)> {
    let km = app.keymap();
    let mut out = vec![(
        "Keys (your keymap; [keys] in the config changes them)".to_string(),
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
    for l in [
        "  quit with marks:  d delete them now · k keep every message · esc cancel",
        "  big message:      y/enter download · p peek at the first lines · esc cancel",
        "  password:         type (hidden) · enter sends · esc cancels the login",
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
    out
}

fn help(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
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

fn gauge(done: u64, total: u64, w: usize) -> (String, String) {
    let w = w.max(1);
    let filled = if total == 0 {
        0
    } else {
        ((done.min(total) as u128 * w as u128) / total as u128) as usize
    };
    ("█".repeat(filled), "·".repeat(w - filled))
}

fn status(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    // The gauge (right side) while previews or a download load.
    let progress: Option<(String, u64, u64)> = match (app.reader(), app.conn_state()) {
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
    let spans: Vec<(String, Style)> = if app.editing_filter() {
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
            let w = left.width as usize;
            put(
                buf,
                left.x,
                left.y,
                &fit(&format!("✗ {}", e.message), w),
                left.width,
                t.error,
            );
            put(
                buf,
                left.x,
                left.y + 1,
                &fit(&format!("  → {}", e.advice), w),
                left.width,
                Style::new(),
            );
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

fn hints(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    if area.height == 0 {
        return;
    }
    let list: &[(Action, &str)] = match app.screen() {
        Screen::List => &[
            (Action::Open, "open"),
            (Action::Mark, "mark"),
            (Action::Unmark, "undo"),
            (Action::Commit, "commit"),
            (Action::Filter, "filter"),
            (Action::Sort, "sort"),
            (Action::CheckMail, "new mail"),
            (Action::Help, "help"),
            (Action::Quit, "quit"),
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
    };
    let km = app.keymap();
    let mut spans = Vec::new();
    for (a, label) in list {
        spans.push((km.hint(*a), t.key));
        spans.push((format!(" {label}  "), t.hint));
    }
    put_spans(buf, area, &spans);
}

fn dialog(buf: &mut Buffer, area: Rect, app: &App, d: &Dialog, t: &Theme) {
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
