//! Styles as constants. `MONO` (NO_COLOR) carries every meaning with
//! modifiers and symbols only; `COLOR` adds colours on top of the same
//! modifiers, so nothing depends on colour alone.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug)]
pub struct Theme {
    pub title: Style,
    pub header: Style,
    pub warning: Style,
    pub column_header: Style,
    pub cursor: Style,
    pub marked: Style,
    pub pending: Style,
    pub loading: Style,
    pub error: Style,
    pub notice: Style,
    pub key: Style,
    pub hint: Style,
    pub gauge_done: Style,
    pub gauge_todo: Style,
    pub label: Style,
    pub note: Style,
    pub selected: Style,
    pub dialog: Style,
    pub danger: Style,
    pub good: Style,
}

const NONE: Style = Style::new();

pub const MONO: Theme = Theme {
    title: NONE.add_modifier(Modifier::BOLD),
    header: NONE,
    warning: NONE
        .add_modifier(Modifier::BOLD)
        .add_modifier(Modifier::REVERSED),
    column_header: NONE.add_modifier(Modifier::UNDERLINED),
    cursor: NONE.add_modifier(Modifier::REVERSED),
    marked: NONE
        .add_modifier(Modifier::CROSSED_OUT)
        .add_modifier(Modifier::DIM),
    pending: NONE.add_modifier(Modifier::ITALIC),
    loading: NONE.add_modifier(Modifier::DIM),
    error: NONE.add_modifier(Modifier::BOLD),
    notice: NONE,
    key: NONE.add_modifier(Modifier::BOLD),
    hint: NONE,
    gauge_done: NONE.add_modifier(Modifier::BOLD),
    gauge_todo: NONE.add_modifier(Modifier::DIM),
    label: NONE.add_modifier(Modifier::BOLD),
    note: NONE.add_modifier(Modifier::ITALIC),
    selected: NONE.add_modifier(Modifier::REVERSED),
    dialog: NONE,
    danger: NONE.add_modifier(Modifier::BOLD),
    good: NONE,
};

pub const COLOR: Theme = Theme {
    title: MONO.title.fg(Color::Cyan),
    header: NONE.bg(Color::DarkGray).fg(Color::White),
    warning: MONO.warning.fg(Color::Red),
    column_header: MONO.column_header.fg(Color::Gray),
    cursor: MONO.cursor,
    marked: MONO.marked.fg(Color::Red),
    pending: MONO.pending.fg(Color::Yellow),
    loading: MONO.loading,
    error: MONO.error.fg(Color::Red),
    notice: NONE.fg(Color::Cyan),
    key: MONO.key.fg(Color::Yellow),
    hint: NONE.fg(Color::Gray),
    gauge_done: MONO.gauge_done.fg(Color::Green),
    gauge_todo: MONO.gauge_todo,
    label: MONO.label.fg(Color::Cyan),
    note: MONO.note.fg(Color::Yellow),
    selected: MONO.selected,
    dialog: NONE.fg(Color::White),
    danger: MONO.danger.fg(Color::Red),
    good: NONE.fg(Color::Green),
};

pub fn theme(no_color: bool) -> &'static Theme {
    if no_color { &MONO } else { &COLOR }
}
