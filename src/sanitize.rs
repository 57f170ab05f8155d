//! PURE: untrusted text (from the network or a mail) to text that is safe to
//! put on a terminal (SECURITY-CASES F32, F35).
//!
//! What goes:
//! - C0 controls (tab expanded, newline kept only by [`text`]), DEL, C1
//!   (U+0080 to U+009F, however they arrived: UTF-8 or a legacy charset);
//! - whole escape sequences, including unterminated ones: CSI (`ESC [` or
//!   U+009B, up to its final byte), OSC (`ESC ]` or U+009D; OSC 0/2/8/52 ...),
//!   DCS (`ESC P`, U+0090), SOS (`ESC X`, U+0098), PM (`ESC ^`, U+009E) and
//!   APC (`ESC _`, U+009F) up to BEL or ST (`ESC \`, U+009C), `ESC` with
//!   intermediates (`ESC ( B`, `ESC # 8`) and two-character escapes (`ESC c`).
//!   A sequence ends at a line break (`\n`, U+2028, U+2029) whether or not
//!   it was terminated, and the break and what follows are kept: an
//!   unterminated sequence can't swallow the rest of a body. One still open
//!   at the end of the input is dropped with its payload;
//! - bidi controls, invisible characters and every other character of
//!   general category Cf (see [`is_format_or_invisible`]).
//!
//! The work is one pass over the input with constant work per character, so
//! a 1 MB subject costs a few milliseconds and never blows up.
//!
//! Measuring and cutting by display width is the job of
//! [`crate::text`], with the same rule ratatui's buffer uses.

use unicode_width::UnicodeWidthChar;

const ESC: char = '\u{1b}';
const BEL: char = '\u{07}';
const CAN: char = '\u{18}';
const SUB: char = '\u{1a}';
/// 8-bit String Terminator.
const ST8: char = '\u{9c}';
/// Tab stops in [`text`] every this many columns.
const TAB_STOP: usize = 8;

/// A one-line field (subject, sender, status text): no controls, no escape
/// sequences, no bidi or invisible characters; newlines and tabs become
/// spaces, runs of whitespace collapse to one space, and the ends are trimmed.
pub fn line(s: &str) -> String {
    let mut out = LineOut {
        out: String::with_capacity(s.len().min(4096)),
        pending_space: false,
    };
    scrub(s, &mut out);
    out.out
}

/// Multi-line text (a message body): like [`line()`] but keeps `\n`, expands
/// tabs to the next multiple of 8 columns and keeps spaces as they are.
/// `\r\n` becomes `\n`; a lone `\r` is removed.
pub fn text(s: &str) -> String {
    let mut out = TextOut {
        out: String::with_capacity(s.len()),
        column: 0,
    };
    scrub(s, &mut out);
    out.out
}

/// Bytes of unknown encoding (server text, a raw header) as one safe line:
/// lossy UTF-8, then [`line()`].
pub fn bytes_line(b: &[u8]) -> String {
    line(&String::from_utf8_lossy(b))
}

/// Characters of general category Cf (format controls: bidi controls,
/// zero-width characters, soft hyphen, BOM, tags ...), plus a few other
/// characters that render as nothing (Hangul fillers, invisible Khmer
/// vowels), so they can't hide or reorder text. Unicode 16.
pub fn is_format_or_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// A character [`line()`] and [`text`] never let through (besides `\n`, which
/// [`text`] keeps): controls (C0, DEL, C1), format and invisible characters.
pub fn is_forbidden(c: char) -> bool {
    c.is_control() || is_format_or_invisible(c)
}

/// Where the scanner is inside a possible escape sequence.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    /// After ESC.
    Esc,
    /// After ESC and one or more intermediates (0x20..=0x2F).
    EscIntermediate,
    /// Inside a control sequence (CSI), waiting for its final byte.
    Csi,
    /// Inside a control string (OSC, DCS, SOS, PM, APC), waiting for BEL/ST.
    Str,
    /// Inside a control string, just after an ESC (maybe `ESC \`).
    StrEsc,
}

/// Receives the characters that survive the escape-sequence scanner.
trait Sink {
    fn put(&mut self, c: char);
}

struct LineOut {
    out: String,
    pending_space: bool,
}

impl Sink for LineOut {
    fn put(&mut self, c: char) {
        if c.is_whitespace() {
            self.pending_space = !self.out.is_empty();
            return;
        }
        if is_forbidden(c) {
            return;
        }
        if self.pending_space {
            self.out.push(' ');
            self.pending_space = false;
        }
        self.out.push(c);
    }
}

struct TextOut {
    out: String,
    column: usize,
}

impl Sink for TextOut {
    fn put(&mut self, c: char) {
        match c {
            '\n' | '\u{2028}' | '\u{2029}' => {
                self.out.push('\n');
                self.column = 0;
            }
            '\t' => {
                let n = TAB_STOP - self.column % TAB_STOP;
                self.out.extend(std::iter::repeat_n(' ', n));
                self.column += n;
            }
            c if is_forbidden(c) => {}
            c => {
                self.out.push(c);
                self.column += c.width().unwrap_or(0);
            }
        }
    }
}

/// The escape-sequence scanner shared by [`line`] and [`text`]: hands every
/// character outside a sequence to `sink` (which drops remaining controls).
fn scrub(s: &str, sink: &mut impl Sink) {
    let mut state = State::Normal;
    for c in s.chars() {
        if state != State::Normal && is_line_break(c) {
            // An unterminated sequence ends here; the break is kept.
            state = State::Normal;
        }
        // Each character is looked at once, or twice when it ends one
        // sequence and must be read again as the start of what follows.
        let mut again = true;
        while again {
            again = false;
            state = match state {
                State::Normal => normal(c, sink),
                State::Esc => match c {
                    '[' => State::Csi,
                    ']' | 'P' | 'X' | '^' | '_' => State::Str,
                    '\u{20}'..='\u{2f}' => State::EscIntermediate,
                    '\u{30}'..='\u{7e}' => State::Normal, // two-character escape
                    CAN | SUB => State::Normal,
                    // ESC followed by anything else: drop the ESC only.
                    _ => {
                        again = true;
                        State::Normal
                    }
                },
                State::EscIntermediate => match c {
                    '\u{20}'..='\u{2f}' => State::EscIntermediate,
                    '\u{30}'..='\u{7e}' | CAN | SUB => State::Normal,
                    _ => {
                        again = true;
                        State::Normal
                    }
                },
                State::Csi => match c {
                    // parameters and intermediates
                    '\u{20}'..='\u{3f}' => State::Csi,
                    // the final byte ends it; CAN/SUB cancel it
                    '\u{40}'..='\u{7e}' | CAN | SUB => State::Normal,
                    // a terminal executes C0 controls inside CSI: we drop them
                    '\u{00}'..='\u{1f}' | '\u{7f}' if c != ESC => State::Csi,
                    // ESC, C1 or a non-ASCII character: the CSI is broken;
                    // read the character again on its own.
                    _ => {
                        again = true;
                        State::Normal
                    }
                },
                State::Str => match c {
                    BEL | ST8 | CAN | SUB => State::Normal,
                    ESC => State::StrEsc,
                    _ => State::Str,
                },
                State::StrEsc => match c {
                    '\\' => State::Normal,
                    // ESC ends the string and starts something new.
                    _ => {
                        again = true;
                        State::Esc
                    }
                },
            };
        }
    }
    // Whatever sequence is still open at the end is dropped with its payload.
}

/// The characters [`text`] keeps as line breaks; each ends any escape
/// sequence still open.
pub fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\u{2028}' | '\u{2029}')
}

fn normal(c: char, sink: &mut impl Sink) -> State {
    match c {
        ESC => State::Esc,
        '\u{9b}' => State::Csi,
        '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => State::Str,
        '\r' => State::Normal,
        c => {
            sink.put(c);
            State::Normal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_clean(out: &str, keep_newline: bool) {
        for c in out.chars() {
            assert!(
                !(is_forbidden(c) && !(keep_newline && c == '\n')),
                "forbidden char {c:?} in {out:?}"
            );
        }
    }

    #[test]
    fn line_table() {
        let cases: &[(&str, &str)] = &[
            ("plain subject", "plain subject"),
            ("  lots   of\t\tspace  ", "lots of space"),
            ("two\nlines", "two lines"),
            ("crlf\r\nline", "crlf line"),
            ("lone\rcr", "lonecr"),
            ("bell\x07 nul\0 bs\x08 ff\x0c vt\x0b", "bell nul bs ff vt"),
            ("del\x7f", "del"),
            // CSI: colours, cursor moves, private modes, with intermediates
            ("\x1b[31;1;4mred\x1b[0m", "red"),
            ("a\x1b[2Jb\x1b[Hc", "abc"),
            ("x\x1b[?1049hy\x1b[?25l", "xy"),
            ("p\x1b[1 qq", "pq"),
            // a terminal query that types into stdin (DA, DSR, DECRQSS)
            ("q\x1b[cq\x1b[6n", "qq"),
            ("\x1bP$qm\x1b\\ok", "ok"),
            // OSC 0/2 (title), 8 (hyperlink), 52 (clipboard), BEL or ST ended
            ("\x1b]0;pwned\x07title", "title"),
            ("\x1b]2;pwned\x1b\\title", "title"),
            (
                "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\ here",
                "click here",
            ),
            ("\x1b]52;c;cm0gLXJmIH4K\x07copy", "copy"),
            // DCS, SOS, PM, APC
            ("a\x1bPq#0;2;0;0;0#0~~@@vv@@~~$\x1b\\b", "ab"),
            ("a\x1bXsos payload\x1b\\b", "ab"),
            ("a\x1b^pm payload\x1b\\b", "ab"),
            ("a\x1b_Gf=100;AAAA\x1b\\b", "ab"),
            // two-character escapes and ESC with intermediates
            ("a\x1bcb\x1b7c\x1b8d", "abcd"),
            ("a\x1b(Bb\x1b#8c\x1b%Gd", "abcd"),
            // 8-bit C1 forms with their payloads
            ("a\u{9b}31mb", "ab"),
            ("a\u{9d}0;title\u{9c}b", "ab"),
            ("a\u{9d}52;c;AAAA\x07b", "ab"),
            ("a\u{90}payload\u{9c}b", "ab"),
            ("a\u{98}sos\u{9c}b\u{9e}pm\u{9c}c\u{9f}apc\u{9c}d", "abcd"),
            ("c1\u{85}\u{8d}\u{9c}", "c1"),
            // unterminated sequences swallow the rest of the line only
            ("safe\x1b]0;never ends", "safe"),
            ("a\x1b]8;;http://x\nreal text", "a real text"),
            ("a\x1b[31\nnext line", "a next line"),
            ("a\x1bP payload\u{2028}b", "a b"),
            ("safe\x1bPnever ends", "safe"),
            ("safe\u{9d}never ends", "safe"),
            ("safe\x1b[12;34", "safe"),
            ("safe\x1b", "safe"),
            ("safe\x1b(", "safe"),
            // broken sequences: the ESC goes, the text after stays
            ("a\x1b\x1b[31mb", "ab"),
            ("a\x1b[31é", "aé"),
            ("a\x1b[3\x1b]0;t\x07b", "ab"),
            ("a\x1b]0;t\x1b[31mb", "ab"),
            ("a\x1b[1\x18b", "ab"),
            ("a\x1b]0;t\x1ab", "ab"),
            // controls inside a CSI are dropped, the CSI continues; a line
            // break ends it
            ("a\x1b[3\x081mb", "ab"),
            ("a\x1b[3\n1mb", "a 1mb"),
            // bidi controls
            (
                "\u{202E}gpj.exe\u{202C} \u{2066}x\u{2069}\u{200E}\u{200F}\u{061C}",
                "gpj.exe x",
            ),
            ("\u{202A}\u{202B}\u{202D}\u{2067}\u{2068}ok", "ok"),
            // invisible characters
            (
                "pay\u{200B}pal\u{200C}\u{200D}\u{2060}\u{FEFF}\u{00AD}.com",
                "paypal.com",
            ),
            ("a\u{2061}\u{2062}\u{2063}\u{2064}\u{180E}b", "ab"),
            ("tag\u{E0001}\u{E0041}s", "tags"),
            ("hangul\u{3164}\u{115F}filler", "hangulfiller"),
            // other whitespace collapses too
            ("a\u{00A0}\u{2003} b\u{2028}c", "a b c"),
            // ordinary non-ASCII is untouched
            ("Grüße, 日本語, Привет 👋🏽", "Grüße, 日本語, Привет 👋🏽"),
        ];
        for (input, want) in cases {
            let got = line(input);
            assert_eq!(&got, want, "line({input:?})");
            assert_clean(&got, false);
        }
    }

    #[test]
    fn text_table() {
        let cases: &[(&str, &str)] = &[
            ("one\ntwo\r\nthree\n", "one\ntwo\nthree\n"),
            ("keep  inner   spaces ", "keep  inner   spaces "),
            ("\tx", "        x"),
            ("ab\tx", "ab      x"),
            ("12345678\tx", "12345678        x"),
            ("a\n\tb", "a\n        b"),
            // tab stops count display columns, not bytes
            ("日本\tx", "日本    x"),
            ("lone\rcr\x08\x0c\x0b\x07\0", "lonecr"),
            ("\x1b[1mbold\x1b[0m\nnext", "bold\nnext"),
            ("a\x1b]52;c;AAAA\x07b\nc", "ab\nc"),
            ("a\u{202E}b\u{200B}c", "abc"),
            ("para\u{2029}graph", "para\ngraph"),
            (
                "open\x1b]8;;http://x\n\nrest of the body",
                "open\n\nrest of the body",
            ),
            ("a\x1b]8;;http://x\nreal text", "a\nreal text"),
            ("a\x1b[31\nnext line", "a\nnext line"),
            ("lone\x1b\nnext", "lone\nnext"),
            ("osc\x1b]0;t\r\nnext", "osc\nnext"),
            ("str esc\x1bP\x1b\nnext", "str esc\nnext"),
            ("terminated\x1b]0;t\x07\nnext", "terminated\nnext"),
        ];
        for (input, want) in cases {
            let got = text(input);
            assert_eq!(&got, want, "text({input:?})");
            assert_clean(&got, true);
        }
    }

    /// C1 controls arrive through 8-bit legacy charsets: ISO 8859-x decodes
    /// bytes 0x80..=0x9F to U+0080..=U+009F, and 0x9B is a whole CSI.
    #[test]
    fn c1_via_latin1_decode() {
        let latin1: &[u8] = b"Caf\xe9 \x9b31mred\x9b0m \x9d0;title\x9c ok\x85";
        let decoded: String = latin1.iter().map(|&b| char::from(b)).collect();
        assert_eq!(line(&decoded), "Café red ok");
        assert_eq!(text(&decoded), "Café red  ok");
    }

    #[test]
    fn bytes_line_is_lossy_then_line() {
        assert_eq!(
            bytes_line(b"+OK \x1b[31mPOP3\x1b[0m ready\r\n"),
            "+OK POP3 ready"
        );
        assert_eq!(
            bytes_line(b"bad \xff\xfe utf8"),
            "bad \u{FFFD}\u{FFFD} utf8"
        );
    }

    #[test]
    fn huge_unterminated_input_is_linear() {
        let mut s = String::from("start");
        s.push_str("\x1b]52;c;");
        s.push_str(&"A".repeat(1 << 20));
        assert_eq!(line(&s), "start");
        let many = "\x1b[".repeat(1 << 18) + "x";
        let t = std::time::Instant::now();
        assert_eq!(line(&many), "");
        let esc_only = "\x1b".repeat(1 << 18);
        assert_eq!(text(&esc_only), "");
        assert!(t.elapsed().as_secs() < 5);
    }
}
