//! Display-width helpers: everything the UI puts in a cell is measured,
//! truncated and padded here, on grapheme boundaries, with the same width
//! rule ratatui's buffer uses ([`CellWidth`]), so columns stay aligned with
//! CJK, emoji and combining marks.
//!
//! `clean_line`/`clean_text` run the shared sanitizer and then drop, as
//! defence in depth, any bidi or invisible formatting character that may
//! still be there.

use ratatui::buffer::CellWidth;
use unicode_segmentation::UnicodeSegmentation;

/// Bidi controls, invisible and control characters (SECURITY-CASES F32).
fn is_hidden(c: char) -> bool {
    crate::sanitize::is_forbidden(c)
}

/// A one-line field from the network or a mail, safe for a cell.
pub fn clean_line(s: &str) -> String {
    let s = crate::sanitize::line(s);
    if s.chars().any(is_hidden) {
        s.chars().filter(|c| !is_hidden(*c)).collect()
    } else {
        s
    }
}

/// Multi-line text from the network or a mail (keeps `\n`).
pub fn clean_text(s: &str) -> String {
    let s = crate::sanitize::text(s);
    if s.chars().any(|c| c != '\n' && is_hidden(c)) {
        s.chars().filter(|c| *c == '\n' || !is_hidden(*c)).collect()
    } else {
        s
    }
}

fn gwidth(g: &str) -> usize {
    if g.contains(char::is_control) {
        0
    } else {
        g.cell_width() as usize
    }
}

/// Display width in terminal cells.
pub fn width(s: &str) -> usize {
    if s.is_ascii() {
        return s.bytes().filter(|b| !b.is_ascii_control()).count();
    }
    s.graphemes(true).map(gwidth).sum()
}

/// At most `w` cells: truncated on a grapheme boundary with `…` when longer.
pub fn fit(s: &str, w: usize) -> String {
    if width(s) <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for g in s.graphemes(true) {
        let gw = gwidth(g);
        if used + gw > w - 1 {
            break;
        }
        out.push_str(g);
        used += gw;
    }
    out.push('…');
    out
}

/// Exactly `w` cells: [`fit`], then padded with spaces on the right.
pub fn pad(s: &str, w: usize) -> String {
    let mut out = fit(s, w);
    let used = width(&out);
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(used)));
    out
}

/// Exactly `w` cells, right-aligned.
pub fn pad_left(s: &str, w: usize) -> String {
    let f = fit(s, w);
    let used = width(&f);
    let mut out: String = std::iter::repeat_n(' ', w.saturating_sub(used)).collect();
    out.push_str(&f);
    out
}

/// Word-wrap `text` (lines split on `\n`) to `w` cells; words longer than a
/// line are broken between graphemes.
pub fn wrap(text: &str, w: usize) -> Vec<String> {
    let w = w.max(1);
    let mut out = Vec::new();
    for line in text.split('\n') {
        if width(line) <= w {
            out.push(line.to_string());
            continue;
        }
        let mut cur = String::new();
        let mut cw = 0;
        for word in line.split_inclusive(' ') {
            let bare = word.trim_end_matches(' ');
            let ww = width(bare);
            if cw > 0 && cw + ww > w {
                out.push(cur.trim_end().to_string());
                cur.clear();
                cw = 0;
            }
            if ww > w {
                for g in word.graphemes(true) {
                    let gw = gwidth(g);
                    if cw + gw > w && cw > 0 {
                        out.push(std::mem::take(&mut cur));
                        cw = 0;
                    }
                    cur.push_str(g);
                    cw += gw;
                }
            } else {
                cur.push_str(word);
                cw += width(word);
            }
        }
        out.push(cur.trim_end().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_fit() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("日本"), 4);
        assert_eq!(width("e\u{301}"), 1);
        assert_eq!(fit("日本語", 5), "日本…");
        assert_eq!(width(&fit("日本語", 4)), 3);
        assert_eq!(pad("日本語", 4), "日… ");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad_left("ab", 4), "  ab");
        assert_eq!(fit("abc", 0), "");
        assert_eq!(fit("🎉🎉🎉", 3), "🎉…");
    }

    #[test]
    fn wrap_by_width() {
        assert_eq!(wrap("aaa bbb ccc", 7), vec!["aaa bbb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("日本語日本語", 5), vec!["日本", "語日", "本語"]);
        assert_eq!(wrap("a\n\nb", 3), vec!["a", "", "b"]);
        for l in wrap("x 日本語日本語 yyyyyyy zz", 3) {
            assert!(width(&l) <= 3, "{l}");
        }
    }

    #[test]
    fn hidden_removed() {
        assert_eq!(clean_line("a\u{202E}b\u{200B}c\u{1b}"), "abc");
        assert_eq!(clean_text("a\u{2066}\nb"), "a\nb");
    }
}

#[cfg(test)]
mod width_tables {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("日本"), 4);
        assert_eq!(width("e\u{301}"), 1);
        assert_eq!(width(""), 0);
    }

    #[test]
    fn fit_table() {
        let cases: &[(&str, usize, &str)] = &[
            ("hello", 0, ""),
            ("hello", 5, "hello"),
            ("hello", 10, "hello"),
            ("hello world", 5, "hell…"),
            ("hello", 1, "…"),
            // a wide character is never split
            ("日本語", 4, "日…"),
            ("日本語", 3, "日…"),
            ("日本語", 2, "…"),
            ("日本語", 6, "日本語"),
            // graphemes stay whole: e + combining acute, flags
            ("e\u{301}e\u{301}e\u{301}", 2, "e\u{301}…"),
            ("🇫🇷🇩🇪🇮🇹", 5, "🇫🇷🇩🇪…"),
        ];
        for (s, w, want) in cases {
            let got = fit(s, *w);
            assert_eq!(&got, want, "fit({s:?}, {w})");
            assert!(width(&got) <= *w);
        }
    }

    #[test]
    fn pad_table() {
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("abcdef", 4), "abc…");
        assert_eq!(pad("日本語", 5), "日本…");
        assert_eq!(pad("日本語", 4), "日… ");
        assert_eq!(pad("x", 0), "");
        for w in 0..8 {
            assert_eq!(width(&pad("日本語abc", w)), w);
        }
    }
}
