//! A big message as mail-parser needs to see it to show it: the raw bytes
//! without the middle of their long runs of base64 lines, so the parser
//! walks the structure (headers, boundaries, text parts) without decoding a
//! 40 MB attachment that the reader only lists. The attachment is decoded
//! from the one raw copy when the user saves or opens it
//! ([`super::attachment`]).
//!
//! Why the parse of the skeleton is the parse of the raw message, part for
//! part: a cut removes whole lines made only of the 64 base64 letters
//! (`A-Z a-z 0-9 + /`, no `=`), a multiple of 4 letters in all, from inside
//! a run, keeping the run's first and last line. mail-parser's base64
//! decoder turns each of those letters into output and nothing else (a
//! boundary line starts with `-`, a header line has a `:`, padding is `=`),
//! so inside a base64 body the decoder ends where it would have ended and
//! only its output is shorter, by exactly 3 bytes per 4 letters cut. A cut
//! counts only when the parse shows it inside such a body (see
//! `claimed` in the parent module); any other cut is put back and the
//! skeleton made again, and failing that the raw message is parsed whole.

/// Cuts shorter than this are not made (the parse of a small attachment
/// costs little).
pub const MIN_CUT: usize = 64 * 1024;
/// A skeleton is made only when the cuts remove at least this much ...
const MIN_TOTAL: usize = 1024 * 1024;
/// ... and at least half of the message (else the copy would cost more
/// than the decoding it saves).
const MIN_SHARE_DIVISOR: usize = 2;

/// Bytes `raw[start..end]` left out of the skeleton: whole lines, `letters`
/// base64 letters among them (a multiple of 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    pub start: usize,
    pub end: usize,
    pub letters: usize,
}

/// The raw message without some of its bytes, and where they were.
#[derive(Debug, Default)]
pub struct Skeleton {
    pub bytes: Vec<u8>,
    /// For each cut in order: its place in `bytes` (the first byte after
    /// it) and the cut itself.
    pub cuts: Vec<(usize, Cut)>,
}

/// True for the 64 letters of base64 (not `=`).
#[inline(always)]
fn is_letter(b: u8) -> bool {
    let lower = b | 0x20;
    (lower.wrapping_sub(b'a') < 26) | (b.wrapping_sub(b'0') < 10) | (b == b'+') | (b == b'/')
}

/// A line of base64 letters only (without its `\n` and an `\r` before
/// it), not empty.
fn letters_only(line: &[u8]) -> bool {
    // No early exit: a branch-free fold over a short line is vectorized.
    !line.is_empty() && line.iter().fold(true, |ok, &b| ok & is_letter(b))
}

/// The cuts that could be made in `raw`: inside each run of letter-only
/// lines, everything but its first and last line, cut back to a multiple
/// of 4 letters, when that is at least [`MIN_CUT`] bytes (see [`worth`]).
pub fn plan(raw: &[u8]) -> Vec<Cut> {
    let mut cuts = Vec::new();
    let mut run: Option<Run> = None;
    let mut start = 0;
    // Inside a run the lines are usually as long as the one before: the
    // next line end is looked for there first (a letter-only line there
    // has no other line end in it), else searched for.
    let mut guess: Option<usize> = None;
    while start < raw.len() {
        let guessed = guess
            .map(|len| start + len)
            .filter(|&nl| raw.get(nl) == Some(&b'\n'))
            .filter(|&nl| letters_only(strip_cr(&raw[start..nl])));
        let nl = match guessed {
            Some(nl) => nl,
            None => match memchr::memchr(b'\n', &raw[start..]) {
                Some(i) => start + i,
                None => break,
            },
        };
        let end = nl + 1;
        let line = strip_cr(&raw[start..nl]);
        if guessed.is_some() || letters_only(line) {
            guess = Some(nl - start);
            match &mut run {
                Some(r) => r.push(start, end, line.len()),
                None => run = Some(Run::after(end)),
            }
        } else {
            guess = None;
            if let Some(r) = run.take() {
                cuts.extend(r.cut());
            }
        }
        start = end;
    }
    cuts.extend(run.and_then(Run::cut));
    cuts
}

/// A line without the `\r` before its `\n`.
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A run of letter-only lines being read, in constant memory: where the
/// lines after its first one start, and the longest stretch of them, up to
/// the line before the last one read, that holds a multiple of 4 letters.
struct Run {
    /// Where the second line starts.
    from: usize,
    /// The end and letter count of the best stretch so far.
    best: (usize, usize),
    /// The last line read (it stays if the run ends after it): its end and
    /// the letters up to it.
    last: Option<(usize, usize)>,
}

impl Run {
    fn after(first_line_end: usize) -> Run {
        Run {
            from: first_line_end,
            best: (first_line_end, 0),
            last: None,
        }
    }

    fn push(&mut self, start: usize, end: usize, letters: usize) {
        let before = match self.last {
            Some((end, total)) => {
                if total % 4 == 0 {
                    self.best = (end, total);
                }
                total
            }
            None => 0,
        };
        debug_assert!(self.last.is_none_or(|l| l.0 == start));
        self.last = Some((end, before + letters));
    }

    /// The cut of this run, if it is long enough.
    fn cut(self) -> Option<Cut> {
        let (end, letters) = self.best;
        (end - self.from >= MIN_CUT).then_some(Cut {
            start: self.from,
            end,
            letters,
        })
    }
}

/// Whether making a skeleton of a message of `len` bytes without `cuts`
/// is worth it: they remove at least [`MIN_TOTAL`] bytes and half the
/// message.
pub fn worth(len: usize, cuts: &[Cut]) -> bool {
    let total: usize = cuts.iter().map(|c| c.end - c.start).sum();
    total >= MIN_TOTAL && total >= len / MIN_SHARE_DIVISOR
}

impl Skeleton {
    /// `raw` without `cuts` (in order, not overlapping, inside `raw`).
    pub fn make(raw: &[u8], cuts: &[Cut]) -> Skeleton {
        let removed: usize = cuts.iter().map(|c| c.end - c.start).sum();
        let mut bytes = Vec::with_capacity(raw.len().saturating_sub(removed));
        let mut placed = Vec::with_capacity(cuts.len());
        let mut from = 0;
        for c in cuts {
            bytes.extend_from_slice(raw.get(from..c.start).unwrap_or_default());
            placed.push((bytes.len(), *c));
            from = c.end;
        }
        bytes.extend_from_slice(raw.get(from..).unwrap_or_default());
        Skeleton {
            bytes,
            cuts: placed,
        }
    }

    /// Where offset `at` of the skeleton is in the raw message.
    pub fn to_raw(&self, at: usize) -> usize {
        self.cuts
            .iter()
            .take_while(|(place, _)| *place <= at)
            .map(|(_, c)| c.end - c.start)
            .sum::<usize>()
            + at
    }

    /// The cuts strictly inside `start..end` of the skeleton, by index.
    pub fn cuts_inside(&self, start: usize, end: usize) -> impl Iterator<Item = usize> + '_ {
        self.cuts
            .iter()
            .enumerate()
            .filter(move |(_, (place, _))| start < *place && *place < end)
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(lines: usize, width: usize) -> Vec<u8> {
        let mut b = Vec::new();
        for i in 0..lines {
            for j in 0..width {
                b.push(b"ABCDabcd0123+/"[(i + j) % 14]);
            }
            b.extend_from_slice(b"\r\n");
        }
        b
    }

    /// `plan` without the guess of the next line end.
    fn plan_line_by_line(raw: &[u8]) -> Vec<Cut> {
        let mut cuts = Vec::new();
        let mut run: Option<Run> = None;
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', raw) {
            let line = strip_cr(&raw[start..nl]);
            if letters_only(line) {
                match &mut run {
                    Some(r) => r.push(start, nl + 1, line.len()),
                    None => run = Some(Run::after(nl + 1)),
                }
            } else if let Some(r) = run.take() {
                cuts.extend(r.cut());
            }
            start = nl + 1;
        }
        cuts.extend(run.and_then(Run::cut));
        cuts
    }

    #[test]
    fn guessing_line_ends_finds_the_same_cuts() {
        let mut x: u32 = 99;
        let mut next = |n: u32| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) % n
        };
        let mut total = 0;
        for _ in 0..10 {
            let mut raw = Vec::new();
            while raw.len() < 1_500_000 {
                let kind = next(2000);
                let len = match kind {
                    0 => 0,
                    1..=3 => 3,
                    4..=9 => 75,
                    _ => 76,
                };
                for _ in 0..len {
                    raw.push(b"QUJDabcd0123+/"[next(14) as usize]);
                }
                if kind == 10 {
                    // a character that ends a run, somewhere in the line
                    let at = raw.len() - next(76) as usize - 1;
                    raw[at] = b"-=\r: "[next(5) as usize];
                }
                raw.extend_from_slice(if next(2) == 0 { b"\r\n" } else { b"\n" });
            }
            raw.truncate(raw.len() - next(3) as usize);
            let cuts = plan(&raw);
            assert_eq!(cuts, plan_line_by_line(&raw));
            total += cuts.len();
        }
        assert!(total > 10, "the inputs have runs to cut: {total}");
    }

    #[test]
    fn letters_are_the_64_of_base64() {
        let all: Vec<u8> = (0..=255u8).filter(|b| is_letter(*b)).collect();
        assert_eq!(all.len(), 64);
        assert!(!is_letter(b'='));
        assert!(!is_letter(b'-'));
        assert!(!letters_only(b""));
        assert!(letters_only(b"QUJD"));
        assert!(!letters_only(b"QUJD="));
    }

    #[test]
    fn a_long_run_keeps_its_ends_and_cuts_whole_groups() {
        let mut raw = b"Header: x\r\n\r\n".to_vec();
        let head = raw.len();
        raw.extend(body(30_000, 75)); // 75 letters a line: 4 lines per cut group
        let tail = raw.len();
        raw.extend_from_slice(b"--b--\r\n");
        let cuts = plan(&raw);
        assert_eq!(cuts.len(), 1);
        assert!(worth(raw.len(), &cuts));
        let c = cuts[0];
        assert_eq!(c.start, head + 77, "the first line stays");
        assert!(c.end < tail - 77 + 1, "the last line stays");
        assert_eq!(c.letters % 4, 0);
        assert_eq!(c.letters, (c.end - c.start) / 77 * 75);
        let s = Skeleton::make(&raw, &cuts);
        assert_eq!(s.bytes.len(), raw.len() - (c.end - c.start));
        assert_eq!(s.to_raw(0), 0);
        assert_eq!(s.to_raw(c.start), c.end);
        assert_eq!(s.to_raw(s.bytes.len()), raw.len());
        assert_eq!(s.cuts_inside(head, s.bytes.len()).count(), 1);
        assert_eq!(s.cuts_inside(c.start, s.bytes.len()).count(), 0);
    }

    #[test]
    fn small_runs_and_odd_lines_are_not_cut() {
        // Under a megabyte in all: not worth it.
        let mut raw = b"A: b\r\n\r\n".to_vec();
        raw.extend(body(1000, 76));
        let cuts = plan(&raw);
        assert_eq!(cuts.len(), 1);
        assert!(!worth(raw.len(), &cuts));
        // A line with `=` or `-` ends a run.
        let mut raw = body(20_000, 76);
        raw.extend_from_slice(b"QQ==\r\n");
        raw.extend(body(20_000, 76));
        let cuts = plan(&raw);
        assert_eq!(cuts.len(), 2);
        assert!(worth(raw.len(), &cuts));
        for c in cuts {
            assert!(!raw[c.start..c.end].contains(&b'='));
        }
        // Under half the message: not worth it.
        let mut raw = vec![b' '; 3_000_000];
        raw.extend(body(20_000, 76));
        assert!(!worth(raw.len(), &plan(&raw)));
    }
}
