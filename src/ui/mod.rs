//! Rendering: `draw(frame, &app)` only reads the app. One function per
//! region, one file per kind of region (`bars`, `list`, `reader`, `help`,
//! `status`, `dialog`); styles come from [`theme`]. Every string that came from the
//! network or a mail was cleaned when it entered the app state (see
//! [`text::clean_line`]); cells are padded and truncated by display width
//! here so columns stay aligned whatever the text.

mod bars;
mod dialog;
mod help;
mod list;
mod reader;
mod status;
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
use crate::app::{App, ConnState, Content, Dialog, LineKind, MarkState, MarkSummary, Screen};
use crate::worker::api::{CertTrust, TlsState};
use text::{fit, pad, pad_left, width, wrap};
use theme::Theme;

pub use bars::{conn_label, tls_label};
use bars::{header, warning};
use dialog::dialog;
use help::help;
pub use help::help_lines;
use list::list;
use reader::reader;
pub use status::{error_lines, status_lines};
use status::{hints, status};

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
/// `warn`: a TLS warning line; `status_lines`: the lines the status wants
/// (an error wrapped in full, see [`status_lines`]); it gets them up to
/// about half of what the screen has to spare.
pub fn layout(area: Rect, warn: bool, status_lines: u16) -> Regions {
    let h = area.height;
    let header_h = u16::from(h >= 3);
    let warning_h = u16::from(warn && h >= 5);
    let spare = if h >= 10 { (h - 6) / 2 } else { 0 };
    let status_h = u16::from(h >= 4) * (1 + status_lines.saturating_sub(1).min(spare));
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
    let r = layout(
        area,
        app.tls_warning().is_some(),
        status_lines(app, area.width),
    );
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
