//! Rendering: `draw(frame, &app)` only reads the app. One function per
//! region, one file per kind of region (`bars`, `list`, `reader`, `help`,
//! `status`, `dialog`); styles come from [`theme`]. Every string that came from the
//! network or a mail was cleaned when it entered the app state (see
//! [`text::clean_line`]); cells are padded and truncated by display width
//! here so columns stay aligned whatever the text.

mod accounts;
mod bars;
mod dialog;
mod help;
mod links;
mod list;
mod prompt;
mod reader;
mod review;
mod save;
mod status;
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
use crate::app::{
    App, ConnState, Content, Dialog, LineKind, MarkState, MarkSummary, PatternPrompt, Row, Screen,
};
use crate::layout::{error_lines, layout, list_header_rows, reader_rows};
use crate::text::{self, fit, pad, pad_left, width, wrap};
use crate::worker::api::{CertTrust, TlsState};
use theme::Theme;

use accounts::accounts;
pub use bars::{conn_label, tls_label};
use bars::{header, warning};
use dialog::dialog;
use help::help;
pub use help::help_lines;
use list::list;
use reader::reader;
use review::review;
use status::{hints, status};

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
        app.status_lines(area.width),
    );
    let buf = frame.buffer_mut();
    header(buf, r.header, app, t);
    warning(buf, r.warning, app, t);
    match app.screen() {
        Screen::List => list(buf, r.body, app, t),
        Screen::Reader => reader(buf, r.body, app, t),
        Screen::Help => help(buf, r.body, app, t),
        Screen::Review => review(buf, r.body, app, t),
        Screen::Accounts => accounts(buf, r.body, app, t),
    }
    status(buf, r.status, app, t);
    hints(buf, r.hints, app, t);
    if let Some(m) = app.link_menu() {
        links::links(buf, r.body, m, t);
    }
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
