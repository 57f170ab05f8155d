//! The line being edited at a prompt (pattern, pipe, save), drawn the same
//! way for each on the status line.

use super::*;

/// A prompt's question and its line being edited, with the cursor; the
/// start of a line too long is cut so the cursor stays in view. The one
/// rendering of every line editor on the status line.
pub(super) fn editor_spans(
    question: &str,
    e: &crate::app::line_edit::LineEditor,
    w: u16,
    t: &Theme,
) -> Vec<(String, Style)> {
    let text = e.text();
    let (before, after) = text
        .char_indices()
        .nth(e.cursor())
        .map_or((text.as_str(), ""), |(i, _)| text.split_at(i));
    let room = usize::from(w).saturating_sub(width(question) + 2).max(8);
    let mut shown = before.to_string();
    while width(&shown) > room.saturating_sub(1) {
        shown.remove(0);
    }
    vec![
        (question.to_string(), t.key),
        (shown, Style::new()),
        ("▏".to_string(), t.key),
        (after.to_string(), Style::new()),
    ]
}
