//! The review of the marks (`M`): two lines saying how many messages and
//! how much data a commit would delete (and the marks the list can't
//! show), then every marked message in the list's table.

use super::list::{Table, table};
use super::*;

pub(super) fn review(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let m = app.mark_summary();
    let rows = app.review_rows();
    let hidden = rows
        .iter()
        .filter(|r| app.view_pos_of(&r.key).is_none())
        .count();
    let mut first = if m.total() == 0 {
        "Nothing is marked for deletion.".to_string()
    } else {
        format!("Marked for deletion: {}.", App::marks_phrase(&m))
    };
    if hidden > 0 {
        first.push_str(&format!(
            " {hidden} of them hidden from the list by the limit or the filter."
        ));
    }
    let km = app.keymap();
    let second = format!(
        "{} undoes a mark · {} deletes them now (asks) · {} sorts · {} goes back",
        km.hint(Action::Unmark),
        km.hint(Action::Commit),
        km.hint(Action::Sort),
        km.hint(Action::Back)
    );
    let w = area.width as usize;
    put(buf, area.x, area.y, &fit(&first, w), area.width, t.danger);
    if area.height > 1 {
        put(
            buf,
            area.x,
            area.y + 1,
            &fit(&second, w),
            area.width,
            t.hint,
        );
    }
    if area.height <= 2 {
        return;
    }
    let empty = if m.unshown.is_empty() {
        "no marked message: press esc to go back".to_string()
    } else {
        format!(
            "the marks can't be shown here ({}): {}",
            m.unshown_why,
            App::unshown_named(&m)
        )
    };
    let body = Rect::new(area.x, area.y + 2, area.width, area.height - 2);
    table(
        buf,
        body,
        app,
        t,
        &Table {
            len: rows.len(),
            row_at: &|pos| rows.get(pos).copied(),
            cursor: app.review_cursor(),
            offset: app.review_offset(),
            empty: &empty,
        },
    );
}
