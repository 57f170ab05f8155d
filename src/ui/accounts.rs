//! The accounts screen (`c`): a line of keys, then one line per configured
//! account: `●` for the one connected, its name, `user@host:port`, its
//! messages (live, or as last seen), the new ones when known, and the
//! marks pending.

use super::*;
use crate::app::AccountEntry;

/// "1 msg", "3 msgs", as the header counts them.
fn msgs(n: usize) -> String {
    format!("{n} msg{}", if n == 1 { "" } else { "s" })
}

/// One account's line, without the cursor's style.
fn account_line(app: &App, a: &AccountEntry, name_w: usize, label_w: usize) -> String {
    let c = app.account_counts(a);
    let mut s = format!(
        "{} {} {}  ",
        if a.current { '●' } else { ' ' },
        pad(&text::clean_line(&a.name), name_w),
        pad(&text::clean_line(&a.label), label_w),
    );
    s.push_str(if a.current {
        "connected  "
    } else {
        "           "
    });
    match (c.messages, a.current) {
        (Some(n), true) => s.push_str(&msgs(n)),
        (Some(n), false) => s.push_str(&format!("{} (as last seen)", msgs(n))),
        (None, _) => s.push_str("messages unknown"),
    }
    if let Some(n) = c.new {
        s.push_str(&format!(", {n} new"));
    }
    match c.marks {
        0 => {}
        1 => s.push_str(" · 1 mark pending"),
        n => s.push_str(&format!(" · {n} marks pending")),
    }
    s
}

pub(super) fn accounts(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let km = app.keymap();
    let w = area.width as usize;
    let first = format!(
        "Accounts: {} switches to the one selected (the session here ends; pending marks are asked about) · {} goes back",
        km.hint(Action::Open),
        km.hint(Action::Back)
    );
    put(buf, area.x, area.y, &fit(&first, w), area.width, t.hint);
    let list = app.accounts();
    let name_w = list
        .iter()
        .map(|a| width(&text::clean_line(&a.name)))
        .max()
        .unwrap_or(0)
        .min(20);
    let label_w = list
        .iter()
        .map(|a| width(&text::clean_line(&a.label)))
        .max()
        .unwrap_or(0)
        .min(40);
    let rows = area.height.saturating_sub(2) as usize;
    // Keep the cursor on screen (a long list of accounts scrolls).
    let start = app.accounts_cursor().saturating_sub(rows.saturating_sub(1));
    for (i, a) in list.iter().enumerate().skip(start).take(rows) {
        let y = area.y + 2 + (i - start) as u16;
        let mut style = if a.current { t.good } else { Style::new() };
        if i == app.accounts_cursor() {
            style = style.patch(t.cursor);
        }
        let line = pad(&account_line(app, a, name_w, label_w), w);
        put(buf, area.x, y, &fit(&line, w), area.width, style);
    }
    if list.len() == 1 && rows > 2 {
        let y = area.y + 3;
        put(
            buf,
            area.x,
            y,
            &fit(
                "This is the only account in the config: add [accounts.NAME] tables to switch between them.",
                w,
            ),
            area.width,
            t.hint,
        );
    }
}
