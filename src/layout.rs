//! Screen geometry shared by the app (scrolling, mouse hits) and the view
//! (`ui`): how the screen splits into regions, how many rows each region
//! gives its content, and how many lines an error takes in the status.
//! Pure functions of sizes and strings; no app state, no drawing.

use ratatui::layout::Rect;

use crate::text::wrap;

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
/// (an error wrapped in full, see [`error_lines`] and
/// `App::status_lines`); it gets them up to
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

/// An error in full: its message, then what to do, each wrapped to
/// `w` cells (a certificate error is long, and every word of it matters).
pub fn error_lines(message: &str, advice: &str, w: u16) -> Vec<String> {
    let w = usize::from(w.max(4));
    let mut lines = Vec::new();
    for (i, part) in wrap(message, w - 2).into_iter().enumerate() {
        lines.push(format!("{}{part}", if i == 0 { "✗ " } else { "  " }));
    }
    for (i, part) in wrap(advice, w - 4).into_iter().enumerate() {
        lines.push(format!("{}{part}", if i == 0 { "  → " } else { "    " }));
    }
    lines
}
