//! The parsed pattern as a tree, how each node matches, and how it is
//! written back (Display).

use std::fmt;

use regex::{Regex, RegexBuilder};

use super::Candidate;
use super::text::{Field, fold};

/// One node of a parsed pattern.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    /// `~A`, or the empty pattern.
    All,
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Flag(Flag),
    /// A regex over a header field.
    Text(Which, Rx),
    /// `~b`: the body, when known.
    Body(Rx),
    /// `~z`: the LIST size, inclusive bounds; `text` as written.
    Size {
        text: String,
        lo: Option<u64>,
        hi: Option<u64>,
    },
    /// `~d`: the Date, inclusive bounds in Unix seconds; `text` as written.
    Date {
        text: String,
        lo: Option<i64>,
        hi: Option<i64>,
    },
    /// A bare word: From (name, address) or Subject contains it, folded.
    Word(Word),
}

/// The atoms without an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flag {
    Marked,
    Tagged,
    New,
    Duplicate,
    Attachments,
    Hint,
}

/// The header fields a regex atom looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    From,
    To,
    Cc,
    ToCc,
    Subject,
    Header,
    MessageId,
}

impl Which {
    pub(crate) fn letter(self) -> char {
        match self {
            Which::From => 'f',
            Which::To => 't',
            Which::Cc => 'c',
            Which::ToCc => 'C',
            Which::Subject => 's',
            Which::Header => 'h',
            Which::MessageId => 'i',
        }
    }
}

impl Flag {
    pub(crate) fn letter(self) -> char {
        match self {
            Flag::Marked => 'D',
            Flag::Tagged => 'T',
            Flag::New => 'N',
            Flag::Duplicate => '=',
            Flag::Attachments => 'a',
            Flag::Hint => 'V',
        }
    }
}

/// Compiled size of one regex at most (bytes of the compiled program).
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Lazy DFA cache of one regex at most.
pub(crate) const REGEX_DFA_LIMIT: usize = 2 << 20;
/// Nesting of one regex at most.
pub(crate) const REGEX_NEST_LIMIT: u32 = 64;

/// A compiled regex with mutt's smart case.
#[derive(Clone, Debug)]
pub(crate) struct Rx {
    /// As written (after quoting).
    pub(crate) src: String,
    /// No upper-case letter in `src`: case (and diacritics, on the short
    /// fields) are ignored.
    pub(crate) ignore_case: bool,
    re: Regex,
    /// The same regex without the case flag, for lower-case texts: the
    /// faster search when case is ignored.
    lower: Regex,
    /// A regex without special characters is a plain substring search
    /// (the common case: `~f jenkins`), lower-cased when case is ignored.
    literal: Option<memchr::memmem::Finder<'static>>,
}

impl PartialEq for Rx {
    fn eq(&self, other: &Rx) -> bool {
        self.src == other.src && self.ignore_case == other.ignore_case
    }
}

impl Rx {
    /// Compile `src`; `multi_line` makes `^`/`$` match at line ends (for
    /// the header block). The error is the regex crate's, on one line.
    pub(crate) fn new(src: &str, multi_line: bool) -> Result<Rx, String> {
        let ignore_case = smart_case_ignores(src);
        let build = |ci: bool| {
            RegexBuilder::new(src)
                .case_insensitive(ci)
                .multi_line(multi_line)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_DFA_LIMIT)
                .nest_limit(REGEX_NEST_LIMIT)
                .build()
                .map_err(|e| one_line(&e.to_string()))
        };
        let re = build(ignore_case)?;
        let lower = if ignore_case {
            build(false)?
        } else {
            re.clone()
        };
        let literal = src.chars().all(|c| !is_special(c)).then(|| {
            let needle = if ignore_case {
                src.to_lowercase()
            } else {
                src.to_string()
            };
            memchr::memmem::Finder::new(needle.as_bytes()).into_owned()
        });
        Ok(Rx {
            src: src.to_string(),
            ignore_case,
            re,
            lower,
            literal,
        })
    }

    /// A long text (the header block, the body, the Message-ID).
    fn is_match(&self, s: &str) -> bool {
        match &self.literal {
            Some(f) if !self.ignore_case => f.find(s.as_bytes()).is_some(),
            _ => self.re.is_match(s),
        }
    }

    /// Case-sensitive search (of a lower-case text, when case is ignored).
    fn exact(&self, s: &str) -> bool {
        match &self.literal {
            Some(f) => f.find(s.as_bytes()).is_some(),
            None => self.lower.is_match(s),
        }
    }

    /// A short field: the text, or (ignoring case) its lower-case and
    /// folded forms.
    fn field(&self, f: &Field) -> bool {
        self.fields(f, &f.searchable)
    }

    /// `f` (one or more fields whose lower-case and folded texts are
    /// `searchable`, one per line): a plain word that ignores case is one
    /// search of `searchable` (it has no white space, so it can't match
    /// across lines).
    fn fields(&self, f: &Field, searchable: &str) -> bool {
        match (&self.literal, self.ignore_case) {
            (Some(l), true) => l.find(searchable.as_bytes()).is_some(),
            (_, false) => self.exact(&f.text),
            (None, true) => self.exact(f.lower()) || f.folded().is_some_and(|s| self.exact(s)),
        }
    }
}

/// A character with a meaning in a regex (or possibly one: `#`, `&`,
/// `-`, `~` are special in some places), or white space.
fn is_special(c: char) -> bool {
    c.is_whitespace() || "\\.+*?()|[]{}^$#&-~".contains(c)
}

/// mutt's smart case: a regex without an upper-case letter ignores case.
/// The letter after a backslash is a class or an escape (`\S`, `\W`), not
/// text, so it doesn't count.
pub(crate) fn smart_case_ignores(src: &str) -> bool {
    let mut escaped = false;
    for c in src.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
        } else if c.is_uppercase() {
            return false;
        }
    }
    true
}

/// The regex crate's multi-line error message, as one line.
fn one_line(s: &str) -> String {
    let last = s
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| l.trim_start().trim_start_matches("error:").trim())
        .unwrap_or_else(|| s.lines().last().unwrap_or(s).trim());
    last.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A bare word, as written and folded.
#[derive(Clone, Debug)]
pub(crate) struct Word {
    pub(crate) src: String,
    /// The folded word, ready to search for.
    finder: memchr::memmem::Finder<'static>,
}

impl PartialEq for Word {
    fn eq(&self, other: &Word) -> bool {
        self.src == other.src
    }
}

impl Word {
    pub(crate) fn new(src: &str) -> Word {
        Word {
            src: src.to_string(),
            finder: memchr::memmem::Finder::new(fold(src).as_bytes()).into_owned(),
        }
    }
}

impl Node {
    /// Does any atom search the header block (`~h`)?
    pub(crate) fn reads_header_block(&self) -> bool {
        match self {
            Node::And(v) | Node::Or(v) => v.iter().any(Node::reads_header_block),
            Node::Not(n) => n.reads_header_block(),
            Node::Text(which, _) => *which == Which::Header,
            Node::All
            | Node::Flag(_)
            | Node::Body(_)
            | Node::Size { .. }
            | Node::Date { .. }
            | Node::Word(_) => false,
        }
    }

    pub(crate) fn matches(&self, c: &Candidate<'_>) -> bool {
        match self {
            Node::All => true,
            Node::And(v) => v.iter().all(|n| n.matches(c)),
            Node::Or(v) => v.iter().any(|n| n.matches(c)),
            Node::Not(n) => !n.matches(c),
            Node::Flag(f) => match f {
                Flag::Marked => c.marked,
                Flag::Tagged => c.tagged,
                Flag::New => c.new,
                Flag::Duplicate => c.duplicate,
                Flag::Attachments => c.text.is_some_and(|t| t.has_attachments),
                Flag::Hint => c.text.is_some_and(|t| t.hints.any()),
            },
            Node::Text(which, rx) => {
                let Some(t) = c.text else {
                    return false;
                };
                match which {
                    Which::From if rx.literal.is_some() && rx.ignore_case => {
                        rx.fields(&t.from_name, &t.from_searchable)
                    }
                    Which::From => rx.field(&t.from_name) || rx.field(&t.from_addr),
                    Which::To => rx.field(&t.to),
                    Which::Cc => rx.field(&t.cc),
                    Which::ToCc => rx.field(&t.to) || rx.field(&t.cc),
                    Which::Subject => rx.field(&t.subject),
                    Which::Header => rx.is_match(&t.headers),
                    Which::MessageId => rx.is_match(&t.message_id),
                }
            }
            Node::Body(rx) => c.body.is_some_and(|b| rx.is_match(b)),
            Node::Size { lo, hi, .. } => {
                lo.is_none_or(|lo| c.size >= lo) && hi.is_none_or(|hi| c.size <= hi)
            }
            Node::Date { lo, hi, .. } => c
                .text
                .and_then(|t| t.date)
                .is_some_and(|d| lo.is_none_or(|lo| d >= lo) && hi.is_none_or(|hi| d <= hi)),
            Node::Word(w) => c.text.is_some_and(|t| t.contains_word(&w.finder)),
        }
    }
}

/// An argument written back so that it reads as exactly `s`: single
/// quotes (literal) when it has none, else double quotes with `\` and `"`
/// escaped.
pub(crate) fn quote(s: &str) -> String {
    if !s.contains('\'') {
        return format!("'{s}'");
    }
    let mut out = String::from("\"");
    for ch in s.chars() {
        if ch == '\\' || ch == '"' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::All => f.write_str("~A"),
            Node::And(v) | Node::Or(v) => {
                let sep = if matches!(self, Node::And(_)) {
                    " "
                } else {
                    " | "
                };
                f.write_str("(")?;
                for (i, n) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    n.fmt(f)?;
                }
                f.write_str(")")
            }
            Node::Not(n) => write!(f, "!{n}"),
            Node::Flag(flag) => write!(f, "~{}", flag.letter()),
            Node::Text(which, rx) => write!(f, "~{} {}", which.letter(), quote(&rx.src)),
            Node::Body(rx) => write!(f, "~b {}", quote(&rx.src)),
            Node::Size { text, .. } => write!(f, "~z {}", quote(text)),
            Node::Date { text, .. } => write!(f, "~d {}", quote(text)),
            Node::Word(w) => f.write_str(&quote(&w.src)),
        }
    }
}
