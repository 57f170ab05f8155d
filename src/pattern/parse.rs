//! The parser: characters to a [`Node`] tree, with errors that name the
//! column and what was expected.
//!
//! ```text
//! pattern := or?
//! or      := and ('|' and)*
//! and     := unary+                  (juxtaposition)
//! unary   := '!' unary | '(' or ')' | atom
//! atom    := '~' letter [argument] | word
//! ```

use super::atoms::{Flag, Node, Rx, Which, Word};
use super::dates::{ArgError, parse_date, parse_size};
use super::{MAX_PATTERN_LEN, Now, PatternError};

/// Parentheses and `!` nested deeper than this are refused (the parser
/// recurses once per level).
const MAX_DEPTH: usize = 64;

/// Regex atoms in one pattern at most (each compiles within its own size
/// limit; this bounds their sum).
pub(crate) const MAX_REGEXES: usize = 32;

const ATOMS: &str = "~f ~t ~c ~C ~s ~h ~i ~b ~z ~d ~A ~D ~T ~N ~= ~a ~V";

pub(crate) fn parse(src: &str, now: Now) -> Result<Node, PatternError> {
    if src.len() > MAX_PATTERN_LEN {
        return Err(PatternError {
            column: 0,
            message: format!(
                "the pattern is {} bytes long; at most {MAX_PATTERN_LEN} are accepted, shorten it",
                src.len()
            ),
        });
    }
    let mut p = Parser {
        src,
        chars: src.chars().collect(),
        pos: 0,
        now,
        depth: 0,
        regexes: 0,
    };
    p.skip_blanks();
    if p.pos == p.chars.len() {
        return Ok(Node::All);
    }
    let node = p.or()?;
    p.skip_blanks();
    match p.peek() {
        None => Ok(node),
        Some(')') => Err(p.error(
            p.pos,
            "unexpected ')'",
            "remove it or add the '(' it closes",
        )),
        Some(c) => Err(p.error(p.pos, &format!("unexpected '{c}'"), "remove it")),
    }
}

struct Parser<'a> {
    src: &'a str,
    chars: Vec<char>,
    pos: usize,
    now: Now,
    depth: usize,
    regexes: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// An error at `column`: `CONTEXT: WHAT at column N; FIX`, the context
    /// being the pattern itself when short, else the text around the column.
    fn error(&self, column: usize, what: &str, fix: &str) -> PatternError {
        let context = if self.chars.len() <= 40 {
            self.src.trim().to_string()
        } else {
            let from = column.saturating_sub(15);
            let to = (column + 15).min(self.chars.len());
            format!(
                "…{}…",
                self.chars[from..to].iter().collect::<String>().trim()
            )
        };
        let context = crate::sanitize::line(&context);
        PatternError {
            column,
            message: format!("{context}: {what} at column {column}; {fix}"),
        }
    }

    fn or(&mut self) -> Result<Node, PatternError> {
        let mut alts = vec![self.and()?];
        loop {
            self.skip_blanks();
            if self.peek() != Some('|') {
                break;
            }
            let bar = self.pos;
            self.pos += 1;
            self.skip_blanks();
            if matches!(self.peek(), None | Some(')' | '|')) {
                return Err(self.error(
                    bar,
                    "'|' needs a pattern after it",
                    "write e.g. ~f alice | ~f bob",
                ));
            }
            alts.push(self.and()?);
        }
        Ok(if alts.len() == 1 {
            alts.pop().unwrap_or(Node::All)
        } else {
            Node::Or(alts)
        })
    }

    fn and(&mut self) -> Result<Node, PatternError> {
        let mut all = Vec::new();
        loop {
            self.skip_blanks();
            match self.peek() {
                None | Some(')') => break,
                Some('|') if all.is_empty() => {
                    return Err(self.error(
                        self.pos,
                        "'|' needs a pattern before it",
                        "write e.g. ~f alice | ~f bob",
                    ));
                }
                Some('|') => break,
                _ => all.push(self.unary()?),
            }
        }
        match all.len() {
            0 => Err(self.error(
                self.pos,
                "expected a pattern",
                &format!("use one of {ATOMS} or a word"),
            )),
            1 => Ok(all.pop().unwrap_or(Node::All)),
            _ => Ok(Node::And(all)),
        }
    }

    fn deeper(&mut self, at: usize) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                at,
                &format!("nested more than {MAX_DEPTH} levels deep"),
                "simplify the pattern",
            ));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Node, PatternError> {
        let start = self.pos;
        match self.peek() {
            Some('!') => {
                self.pos += 1;
                self.skip_blanks();
                if matches!(self.peek(), None | Some(')' | '|')) {
                    return Err(self.error(
                        start,
                        "'!' needs a pattern after it",
                        "write e.g. !~s invoice",
                    ));
                }
                self.deeper(start)?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Node::Not(Box::new(inner)))
            }
            Some('(') => {
                self.pos += 1;
                self.skip_blanks();
                if self.peek() == Some(')') {
                    return Err(self.error(
                        start,
                        "empty parentheses",
                        "put a pattern inside or remove them",
                    ));
                }
                if self.peek().is_none() {
                    return Err(self.error(start, "missing ')' for this '('", "close it with ')'"));
                }
                self.deeper(start)?;
                let inner = self.or()?;
                self.depth -= 1;
                self.skip_blanks();
                if self.peek() != Some(')') {
                    return Err(self.error(start, "missing ')' for this '('", "close it with ')'"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some('~') => self.tilde(),
            _ => {
                let (text, _) = self.argument(false)?;
                Ok(Node::Word(Word::new(&text)))
            }
        }
    }

    fn tilde(&mut self) -> Result<Node, PatternError> {
        let start = self.pos;
        self.pos += 1;
        let Some(letter) = self.peek() else {
            return Err(self.error(
                start,
                "'~' needs a letter after it",
                &format!("use one of {ATOMS}"),
            ));
        };
        self.pos += 1;
        let flag = match letter {
            'A' => return Ok(Node::All),
            'D' => Some(Flag::Marked),
            'T' => Some(Flag::Tagged),
            'N' => Some(Flag::New),
            '=' => Some(Flag::Duplicate),
            'a' => Some(Flag::Attachments),
            'V' => Some(Flag::Hint),
            _ => None,
        };
        if let Some(f) = flag {
            return Ok(Node::Flag(f));
        }
        let which = match letter {
            'f' => Which::From,
            't' => Which::To,
            'c' => Which::Cc,
            'C' => Which::ToCc,
            's' => Which::Subject,
            'h' => Which::Header,
            'i' => Which::MessageId,
            'b' | 'z' | 'd' => Which::Subject, // replaced below
            _ => {
                return Err(self.error(
                    start,
                    &format!("unknown pattern '~{letter}'"),
                    &format!("use one of {ATOMS}"),
                ));
            }
        };
        let (what, example) = match letter {
            'z' => ("a size", "~z >1M"),
            'd' => ("a date", "~d <30d"),
            _ => ("a regular expression", "~f jenkins"),
        };
        self.skip_blanks();
        let arg_at = self.pos;
        if matches!(self.peek(), None | Some(')' | '|' | '~')) {
            return Err(self.error(
                arg_at,
                &format!("~{letter} needs {what} after it"),
                &format!("write e.g. {example} (quote an argument that starts with '~')"),
            ));
        }
        let (arg, offsets) = self.argument(true)?;
        let in_arg = |e: ArgError| {
            let col = offsets.get(e.at).copied().unwrap_or(self.pos);
            self.error(col, &e.what, e.fix)
        };
        match letter {
            'z' => {
                let (lo, hi) = parse_size(&arg).map_err(in_arg)?;
                Ok(Node::Size { text: arg, lo, hi })
            }
            'd' => {
                let (lo, hi) = parse_date(&arg, self.now).map_err(in_arg)?;
                Ok(Node::Date { text: arg, lo, hi })
            }
            _ => {
                self.regexes += 1;
                if self.regexes > MAX_REGEXES {
                    return Err(self.error(
                        start,
                        &format!("more than {MAX_REGEXES} regular expressions"),
                        "simplify the pattern (a bare word costs none)",
                    ));
                }
                let rx = Rx::new(&arg, letter == 'h').map_err(|e| {
                    self.error(
                        arg_at,
                        &format!("not a valid regular expression ({e})"),
                        "quote it, or put a backslash before special characters such as ( [ * +",
                    )
                })?;
                Ok(if letter == 'b' {
                    Node::Body(rx)
                } else {
                    Node::Text(which, rx)
                })
            }
        }
    }

    /// One argument or word: a quoted string, or a run of non-blank
    /// characters that ends before `|` or an unbalanced `)`. `keep_escapes`
    /// keeps a backslash outside quotes with the character it escapes (for
    /// regexes); else the backslash is dropped. Also returns, for each
    /// character of the argument, its column in the pattern (plus one for
    /// the end).
    fn argument(&mut self, keep_escapes: bool) -> Result<(String, Vec<usize>), PatternError> {
        let start = self.pos;
        let mut out = String::new();
        let mut cols = Vec::new();
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.pos += 1;
                loop {
                    let Some(c) = self.peek() else {
                        return Err(self.error(
                            start,
                            "unterminated quote",
                            &format!("close it with {q}"),
                        ));
                    };
                    let at = self.pos;
                    self.pos += 1;
                    if c == q {
                        break;
                    }
                    if q == '"' && c == '\\' && matches!(self.peek(), Some('"' | '\\')) {
                        cols.push(at);
                        out.push(self.peek().unwrap_or('\\'));
                        self.pos += 1;
                        continue;
                    }
                    cols.push(at);
                    out.push(c);
                }
            }
            _ => {
                let mut depth = 0usize;
                while let Some(c) = self.peek() {
                    if c.is_whitespace() || (depth == 0 && (c == '|' || c == ')')) {
                        break;
                    }
                    let at = self.pos;
                    self.pos += 1;
                    match c {
                        '\\' => {
                            if let Some(next) = self.peek() {
                                if keep_escapes {
                                    cols.push(at);
                                    out.push('\\');
                                }
                                cols.push(self.pos);
                                out.push(next);
                                self.pos += 1;
                            } else {
                                cols.push(at);
                                out.push('\\');
                            }
                            continue;
                        }
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    cols.push(at);
                    out.push(c);
                }
            }
        }
        cols.push(self.pos);
        Ok((out, cols))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Now = Now {
        unix: 1_796_299_200,
        offset_minutes: 0,
    };

    fn err(src: &str) -> PatternError {
        parse(src, NOW).unwrap_err()
    }

    #[test]
    fn the_issue_example() {
        assert_eq!(
            err("~z >1Q").message,
            "~z >1Q: unknown size unit 'Q' at column 5; use K or M"
        );
        assert_eq!(err("~z >1Q").column, 5);
    }

    #[test]
    fn structure() {
        let p = parse("~f a ~s b | !(~z >1M ~D)", NOW).unwrap();
        let Node::Or(alts) = &p else { panic!("{p:?}") };
        assert!(matches!(&alts[0], Node::And(v) if v.len() == 2));
        assert!(matches!(&alts[1], Node::Not(n) if matches!(**n, Node::And(_))));
        assert!(matches!(parse("", NOW).unwrap(), Node::All));
        assert!(matches!(parse("  ~A ", NOW).unwrap(), Node::All));
        assert!(matches!(parse("~s (a|b)", NOW).unwrap(), Node::Text(..)));
        assert!(matches!(parse("(~s a)", NOW).unwrap(), Node::Text(..)));
        assert!(matches!(parse("~s a|~s b", NOW).unwrap(), Node::Or(_)));
    }

    #[test]
    fn errors_name_the_column() {
        assert_eq!(err("~f").column, 2);
        assert_eq!(err("~Q x").column, 0);
        assert!(err("~Q x").message.contains("unknown pattern '~Q'"));
        assert_eq!(err("(~f a").column, 0);
        assert_eq!(err("~f a)").column, 4);
        assert_eq!(err("~s \"abc").column, 3);
        assert!(
            err("~s (")
                .message
                .contains("not a valid regular expression")
        );
        assert!(err("a |").message.contains("'|' needs a pattern after it"));
        assert!(err("| a").message.contains("'|' needs a pattern before it"));
        assert!(err("!").message.contains("'!' needs a pattern"));
        assert!(err("()").message.contains("empty parentheses"));
        assert_eq!(err("~d <3q").column, 5);
        assert!(err(&"(".repeat(100)).message.contains("nested"));
        assert!(err(&"a".repeat(5000)).message.contains("at most"));
        assert!(parse(&"~s a ".repeat(MAX_REGEXES), NOW).is_ok());
        let e = err(&"~s a ".repeat(MAX_REGEXES + 1));
        assert!(
            e.message.contains("more than 32 regular expressions"),
            "{e}"
        );
        assert_eq!(e.column, MAX_REGEXES * 5);
    }
}
