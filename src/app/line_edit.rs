//! A one-line editor for the prompts (patterns, limits): readline's keys,
//! and Up/Down through the history of earlier entries. Pure: keys in, a
//! verdict out.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Most entries a history keeps (the oldest go first).
pub const HISTORY_MAX: usize = 100;
/// Longest line a prompt takes, in characters (a pattern is short; a paste
/// of a whole mail is not a pattern).
pub const LINE_MAX: usize = 1_000;

/// What a key did to the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// The line or the cursor changed (or nothing did).
    Editing,
    /// Enter: the line as typed.
    Submit(String),
    /// Esc, or Backspace on an empty line.
    Cancel,
}

/// The text being typed, the cursor in it, and where Up/Down stand in the
/// history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineEditor {
    chars: Vec<char>,
    /// Cursor position, in characters (0..=len).
    cursor: usize,
    /// Earlier entries, oldest first.
    history: Vec<String>,
    /// Index into `history` while browsing it; `None` at the line typed.
    browsing: Option<usize>,
    /// The line typed before browsing began, given back by Down at the end.
    typed: String,
}

impl LineEditor {
    pub fn new(history: &[String]) -> LineEditor {
        LineEditor {
            history: history.to_vec(),
            ..LineEditor::default()
        }
    }

    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The cursor, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    fn set(&mut self, s: &str) {
        self.chars = s.chars().take(LINE_MAX).collect();
        self.cursor = self.chars.len();
    }

    /// Take one key.
    pub fn key(&mut self, k: &KeyEvent) -> Edit {
        let Some(op) = op_of(k) else {
            return Edit::Editing;
        };
        match op {
            Op::Submit => return Edit::Submit(self.text()),
            Op::Cancel => return Edit::Cancel,
            Op::DeleteBack if self.chars.is_empty() => return Edit::Cancel,
            Op::DeleteBack if self.cursor > 0 => {
                self.cursor -= 1;
                self.chars.remove(self.cursor);
            }
            Op::DeleteForward if self.cursor < self.chars.len() => {
                self.chars.remove(self.cursor);
            }
            Op::DeleteBack | Op::DeleteForward => {}
            Op::Left => self.cursor = self.cursor.saturating_sub(1),
            Op::Right => self.cursor = (self.cursor + 1).min(self.chars.len()),
            Op::Home => self.cursor = 0,
            Op::End => self.cursor = self.chars.len(),
            Op::KillToStart => {
                self.chars.drain(..self.cursor);
                self.cursor = 0;
            }
            Op::KillToEnd => self.chars.truncate(self.cursor),
            Op::KillWord => {
                let mut start = self.cursor;
                while start > 0 && self.chars[start - 1].is_whitespace() {
                    start -= 1;
                }
                while start > 0 && !self.chars[start - 1].is_whitespace() {
                    start -= 1;
                }
                self.chars.drain(start..self.cursor);
                self.cursor = start;
            }
            Op::Older => self.older(),
            Op::Newer => self.newer(),
            Op::Insert(c) if self.chars.len() < LINE_MAX => {
                self.chars.insert(self.cursor, c);
                self.cursor += 1;
            }
            Op::Insert(_) => {}
        }
        Edit::Editing
    }

    fn older(&mut self) {
        let next = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.typed = self.text();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(i) => i - 1,
        };
        self.browsing = Some(next);
        let entry = self.history[next].clone();
        self.set(&entry);
    }

    fn newer(&mut self) {
        match self.browsing {
            None => {}
            Some(i) if i + 1 < self.history.len() => {
                self.browsing = Some(i + 1);
                let entry = self.history[i + 1].clone();
                self.set(&entry);
            }
            Some(_) => {
                self.browsing = None;
                let typed = std::mem::take(&mut self.typed);
                self.set(&typed);
            }
        }
    }
}

/// What a key asks of the line (readline's keys and their plain twins).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Submit,
    Cancel,
    DeleteBack,
    DeleteForward,
    Left,
    Right,
    Home,
    End,
    /// Ctrl-U.
    KillToStart,
    /// Ctrl-K.
    KillToEnd,
    /// Ctrl-W: the word before the cursor, and the blanks after it.
    KillWord,
    Older,
    Newer,
    Insert(char),
}

fn op_of(k: &KeyEvent) -> Option<Op> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    let alt = k.modifiers.contains(KeyModifiers::ALT);
    Some(match k.code {
        KeyCode::Enter => Op::Submit,
        KeyCode::Esc => Op::Cancel,
        KeyCode::Backspace => Op::DeleteBack,
        KeyCode::Delete => Op::DeleteForward,
        KeyCode::Left => Op::Left,
        KeyCode::Right => Op::Right,
        KeyCode::Home => Op::Home,
        KeyCode::End => Op::End,
        KeyCode::Up => Op::Older,
        KeyCode::Down => Op::Newer,
        KeyCode::Char(c) if ctrl => match c {
            'g' => Op::Cancel,
            'h' => Op::DeleteBack,
            'd' => Op::DeleteForward,
            'b' => Op::Left,
            'f' => Op::Right,
            'a' => Op::Home,
            'e' => Op::End,
            'u' => Op::KillToStart,
            'k' => Op::KillToEnd,
            'w' => Op::KillWord,
            'p' => Op::Older,
            'n' => Op::Newer,
            _ => return None,
        },
        KeyCode::Char(c) if !alt && !c.is_control() => Op::Insert(c),
        _ => return None,
    })
}

/// `history` with `entry` added as the newest (an earlier equal entry
/// moves up, blanks are not kept), at most [`HISTORY_MAX`] long.
pub fn remember(history: &mut Vec<String>, entry: &str) {
    let entry = entry.trim();
    if entry.is_empty() {
        return;
    }
    history.retain(|e| e != entry);
    history.push(entry.chars().take(LINE_MAX).collect());
    if history.len() > HISTORY_MAX {
        let extra = history.len() - HISTORY_MAX;
        history.drain(..extra);
    }
}

/// A history read from disk (untrusted): each entry made one clean line
/// and bounded, blanks dropped, the newest [`HISTORY_MAX`] kept.
pub fn cleaned(history: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for entry in history {
        remember(&mut out, &crate::text::clean_line(&entry));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }
    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }
    fn typed(e: &mut LineEditor, s: &str) {
        for c in s.chars() {
            assert_eq!(e.key(&key(KeyCode::Char(c))), Edit::Editing);
        }
    }

    #[test]
    fn readline_keys_move_and_kill() {
        let mut e = LineEditor::new(&[]);
        typed(&mut e, "~f jenkins ~z >1M");
        e.key(&ctrl('w'));
        assert_eq!(e.text(), "~f jenkins ~z ");
        e.key(&ctrl('w'));
        assert_eq!(e.text(), "~f jenkins ");
        e.key(&ctrl('a'));
        assert_eq!(e.cursor(), 0);
        e.key(&key(KeyCode::Right));
        e.key(&key(KeyCode::Right));
        typed(&mut e, "!");
        assert_eq!(e.text(), "~f! jenkins ");
        e.key(&key(KeyCode::Backspace));
        e.key(&key(KeyCode::End));
        typed(&mut e, "x");
        assert_eq!(e.text(), "~f jenkins x");
        e.key(&key(KeyCode::Left));
        e.key(&ctrl('u'));
        assert_eq!((e.text().as_str(), e.cursor()), ("x", 0));
        e.key(&ctrl('k'));
        assert_eq!(e.text(), "");
        assert_eq!(e.key(&key(KeyCode::Backspace)), Edit::Cancel);
    }

    #[test]
    fn history_goes_back_and_returns_to_the_typed_line() {
        let h = vec!["~f a".to_string(), "~s b".to_string()];
        let mut e = LineEditor::new(&h);
        typed(&mut e, "draft");
        e.key(&key(KeyCode::Up));
        assert_eq!(e.text(), "~s b");
        e.key(&key(KeyCode::Up));
        assert_eq!(e.text(), "~f a");
        e.key(&key(KeyCode::Up));
        assert_eq!(e.text(), "~f a", "the oldest stays");
        e.key(&key(KeyCode::Down));
        e.key(&key(KeyCode::Down));
        assert_eq!(e.text(), "draft");
        assert_eq!(e.key(&key(KeyCode::Enter)), Edit::Submit("draft".into()));
    }

    #[test]
    fn remember_moves_repeats_up_and_is_bounded() {
        let mut h = Vec::new();
        for i in 0..HISTORY_MAX + 5 {
            remember(&mut h, &format!("~z >{i}K"));
        }
        remember(&mut h, "~z >10K");
        remember(&mut h, "   ");
        assert_eq!(h.len(), HISTORY_MAX);
        assert_eq!(h.last().unwrap(), "~z >10K");
        assert_eq!(h.iter().filter(|e| *e == "~z >10K").count(), 1);
    }

    #[test]
    fn a_history_from_disk_is_cleaned_and_bounded() {
        let from_disk = vec![
            "~f a\u{1b}[31m".to_string(),
            String::new(),
            "x".repeat(LINE_MAX * 2),
        ];
        let h = cleaned(from_disk);
        assert_eq!(h.len(), 2);
        assert!(!h[0].contains('\u{1b}'), "{:?}", h[0]);
        assert_eq!(h[1].chars().count(), LINE_MAX);
    }

    #[test]
    fn a_long_paste_is_cut_at_the_limit() {
        let mut e = LineEditor::new(&[]);
        typed(&mut e, &"a".repeat(LINE_MAX + 10));
        assert_eq!(e.text().chars().count(), LINE_MAX);
    }
}
