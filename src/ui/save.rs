//! The save prompt on the status line, and a running save's gauge.

use super::*;
use crate::app::{SavePrompt, SaveRunning};

/// The gauge of a running save: messages done of all, and bytes.
pub(super) fn progress(app: &App) -> Option<(String, u64, u64)> {
    let r: &SaveRunning = app.save_running()?;
    let label = format!(
        "{} {}/{} {}",
        if r.stopping { "stopping" } else { "saving" },
        r.done,
        r.total,
        human_size(r.bytes)
    );
    Some(if r.total_bytes > 0 {
        (label, r.bytes, r.total_bytes)
    } else {
        (label, r.done as u64, r.total as u64)
    })
}

/// The prompt: its question, the line with the cursor (the end of a long
/// line stays in view), then the create question, the error, or the
/// completions.
pub(super) fn prompt_spans(p: &SavePrompt, w: u16, t: &Theme) -> Vec<(String, Style)> {
    if let Some(path) = &p.create {
        return vec![
            (
                format!(
                    "Create mailbox {}? ",
                    text::clean_line(&path.display().to_string())
                ),
                t.key,
            ),
            (
                "(Maildir: m / mbox: b / cancel: any other key)".into(),
                t.hint,
            ),
        ];
    }
    let mut spans = super::prompt::editor_spans(p.purpose.question(), &p.editor, w, t);
    if let Some(e) = &p.error {
        spans.push((format!("  ✗ {e}"), t.error));
    } else if !p.candidates.is_empty() {
        spans.push((format!("  {}", p.candidates.join("  ")), t.hint));
    } else if p.probing {
        spans.push(("  …".to_string(), t.hint));
    } else {
        spans.push((
            "  enter saves · tab completes · esc cancels".to_string(),
            t.hint,
        ));
    }
    spans
}
