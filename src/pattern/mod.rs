//! mutt's pattern language, pure: parse a pattern once ([`Pattern::parse`]),
//! then test it against many messages ([`Pattern::matches`]).
//!
//! | atom | matches |
//! |---|---|
//! | `~f RE` | From: the display name or the address |
//! | `~t RE`, `~c RE`, `~C RE` | To, Cc, To or Cc |
//! | `~s RE` | Subject |
//! | `~h RE` | any header line, `Name: value` unfolded (`^` and `$` work per line) |
//! | `~i RE` | Message-ID |
//! | `~b RE` | the body, only of messages already downloaded or cached |
//! | `~z SIZE` | the size LIST reported: `>1M`, `<10K`, `100K-1M`, `-1M`, `1M-`, `2048` (K = 1024, M = 1024²) |
//! | `~d DATE` | the Date header: `<30d` (newer), `>1y` (older), `=2d` (that day), units `S M H d w m y` (days and longer count from the end of today, as NeoMutt); `dd/mm/yyyy`, `dd/mm`, `dd`, `yyyy-mm-dd`, `yyyymmdd`, ranges `A-B` (either order), open ends `A-`, `-B` |
//! | `~A` | every message |
//! | `~D` | marked for deletion |
//! | `~T` | tagged |
//! | `~N` | new since the last session |
//! | `~=` | a duplicate Message-ID |
//! | `~a` | likely has attachments |
//! | `~V` | an authentication or spoofing hint ([`Hints`]) |
//! | `word` | a bare word: From (name and address) or Subject contains it, case and diacritics ignored |
//!
//! Operators: juxtaposition is *and*, `|` is *or* (binds looser), `!`
//! negates the next atom or group, parentheses group. An argument is a run
//! of non-blank characters (parentheses inside it must balance) or a
//! quoted string: `"..."` (a backslash escapes the next character) or
//! `'...'` (literal). A backslash outside quotes keeps the next character
//! in the argument (`~s a\ b`). In a regular expression the backslash
//! stays (`~f okafor\.example`); in a bare word it is removed.
//!
//! Regular expressions are Rust's `regex` syntax, with mutt's smart case: a
//! regex with no upper-case letter ignores case (and then also matches the
//! diacritic-folded text of From, To, Cc and Subject: `~f lukasz` finds
//! "Łukasz"); one with an upper-case letter is case-sensitive. Each regex
//! is compiled with size limits (and a pattern holds at most 32 of them,
//! is at most 4 KB long and nested at most 64 deep), so a hostile pattern
//! fails to compile instead of using unbounded memory; matching is linear
//! time. A regex without special characters runs as a substring search.
//!
//! Dates: relative dates and calendar dates are resolved by
//! [`Pattern::parse`] against the given [`Now`] (calendar dates in the
//! viewer's zone, a range's end inclusive of its whole day), so matching
//! does no clock reads. A message with no (valid) Date never matches `~d`.
//!
//! Messages whose header preview has not arrived yet
//! ([`Candidate::text`] is `None`) match no header atom; `~z`, `~D`, `~T`,
//! `~N`, `~=`, `~A` don't need the preview.
//!
//! Errors ([`PatternError`]) give the column (characters from 0, so it is
//! the line editor's cursor position) and what was expected.

mod atoms;
mod dates;
mod parse;
mod text;

use std::fmt;

pub use text::{Hints, MessageText, fold};

use atoms::Node;

/// "Now" and the viewer's zone, to resolve relative and calendar dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Seconds since the Unix epoch, UTC.
    pub unix: i64,
    /// The viewer's offset from UTC in minutes (east positive).
    pub offset_minutes: i32,
}

impl Now {
    /// The system clock and the local zone.
    pub fn system() -> Now {
        let now = chrono::Local::now();
        Now {
            unix: now.timestamp(),
            offset_minutes: now.offset().local_minus_utc() / 60,
        }
    }
}

/// A parsed pattern. Parse once, match many.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    root: Node,
}

/// What a pattern is tested against: one message as the app (or a script)
/// knows it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Candidate<'a> {
    /// `None`: the preview has not arrived yet (header atoms don't match;
    /// `~z`, `~D`, `~A` and the other flags do).
    pub text: Option<&'a MessageText>,
    /// The size as LIST reported.
    pub size: u64,
    /// Marked for deletion (`~D`).
    pub marked: bool,
    /// Tagged (`~T`).
    pub tagged: bool,
    /// New since the last session (`~N`).
    pub new: bool,
    /// Its Message-ID is another message's too (`~=`).
    pub duplicate: bool,
    /// Body text already downloaded or cached (`~b`); `None` never matches.
    pub body: Option<&'a str>,
}

/// A pattern that could not be parsed: where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    /// Characters from the start of the pattern, from 0.
    pub column: usize,
    /// The whole explanation, e.g. `~z >1Q: unknown size unit 'Q' at
    /// column 5; use K or M`.
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PatternError {}

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 4096;

impl Pattern {
    /// Parse `src`. Relative dates (`<30d`) and calendar dates
    /// (`dd/mm/yyyy`) are resolved here against `now`, so matching is
    /// time-free. Never panics.
    pub fn parse(src: &str, now: Now) -> Result<Pattern, PatternError> {
        parse::parse(src, now).map(|root| Pattern { root })
    }

    /// Does the message match?
    pub fn matches(&self, c: &Candidate<'_>) -> bool {
        self.root.matches(c)
    }

    /// Does it search the header block (`~h`)? Without it, the list's
    /// fields are enough to match.
    pub fn reads_header_block(&self) -> bool {
        self.root.reads_header_block()
    }

    /// The pattern matches every message without looking: empty, or `~A`.
    pub fn is_all(&self) -> bool {
        matches!(self.root, Node::All)
    }
}

/// The pattern written back in its normal form (explicit parentheses and
/// operators, arguments quoted); it parses, with the same [`Now`], to an
/// equal pattern.
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}
