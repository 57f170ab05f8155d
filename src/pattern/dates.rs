//! The arguments of `~z` (sizes) and `~d` (dates), parsed to inclusive
//! bounds. Dates are resolved against [`Now`] here, once.

use chrono::{Datelike, FixedOffset, Months, NaiveDate, TimeZone};

use super::Now;

/// What went wrong in an argument: the character offset inside it, what
/// was wrong, and what to write instead.
#[derive(Debug)]
pub(crate) struct ArgError {
    pub(crate) at: usize,
    pub(crate) what: String,
    pub(crate) fix: &'static str,
}

fn err(at: usize, what: impl Into<String>, fix: &'static str) -> ArgError {
    ArgError {
        at,
        what: what.into(),
        fix,
    }
}

pub(crate) type Bounds<T> = (Option<T>, Option<T>);

const SIZE_FIX: &str = "write e.g. >1M, <10K, 100K-1M, -1M or 1M- (K = 1024 bytes, M = 1024 K)";
const DATE_FIX: &str = "write e.g. <30d, >1y, 01/06/2024, 2024-01-01-2024-06-30 or 01/01/2024-";

/// Digits from `at`: the number and where it ends.
fn number(chars: &[char], at: usize) -> Option<(u64, usize)> {
    let mut end = at;
    let mut n: u64 = 0;
    while let Some(d) = chars.get(end).and_then(|c| c.to_digit(10)) {
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
        end += 1;
    }
    (end > at).then_some((n, end))
}

/// One size: digits and an optional unit, from `at`.
fn size(chars: &[char], at: usize) -> Result<(u64, usize), ArgError> {
    let (n, end) = match number(chars, at) {
        Some(v) => v,
        None if chars.get(at).is_some_and(|c| c.is_ascii_digit()) => {
            return Err(err(at, "size too large", SIZE_FIX));
        }
        None => {
            let what = match chars.get(at) {
                Some(c) => format!("expected a number, found '{c}'"),
                None => "expected a number".to_string(),
            };
            return Err(err(at, what, SIZE_FIX));
        }
    };
    let (mult, end) = match chars.get(end) {
        Some('k' | 'K') => (1024, end + 1),
        Some('m' | 'M') => (1024 * 1024, end + 1),
        Some(c) if c.is_alphabetic() => {
            return Err(err(end, format!("unknown size unit '{c}'"), "use K or M"));
        }
        _ => (1, end),
    };
    let n = n
        .checked_mul(mult)
        .ok_or_else(|| err(at, "size too large", SIZE_FIX))?;
    Ok((n, end))
}

fn at_end(chars: &[char], at: usize, fix: &'static str) -> Result<(), ArgError> {
    match chars.get(at) {
        None => Ok(()),
        Some(c) => Err(err(at, format!("unexpected '{c}'"), fix)),
    }
}

/// `>N`, `<N`, `N-M`, `-M`, `N-`, `N`; K and M units.
pub(crate) fn parse_size(arg: &str) -> Result<Bounds<u64>, ArgError> {
    let chars: Vec<char> = arg.chars().collect();
    match chars.first() {
        Some('<') => {
            let (n, end) = size(&chars, 1)?;
            at_end(&chars, end, SIZE_FIX)?;
            // Below zero bytes: nothing; (1, 0) is an empty range.
            Ok(match n.checked_sub(1) {
                Some(hi) => (None, Some(hi)),
                None => (Some(1), Some(0)),
            })
        }
        Some('>') => {
            let (n, end) = size(&chars, 1)?;
            at_end(&chars, end, SIZE_FIX)?;
            Ok((Some(n.saturating_add(1)), None))
        }
        Some('-') => {
            let (n, end) = size(&chars, 1)?;
            at_end(&chars, end, SIZE_FIX)?;
            Ok((None, Some(n)))
        }
        _ => {
            let (lo, end) = size(&chars, 0)?;
            if chars.get(end) != Some(&'-') {
                at_end(&chars, end, SIZE_FIX)?;
                return Ok((Some(lo), Some(lo)));
            }
            if end + 1 == chars.len() {
                return Ok((Some(lo), None));
            }
            let (hi, end2) = size(&chars, end + 1)?;
            at_end(&chars, end2, SIZE_FIX)?;
            if hi < lo {
                return Err(err(
                    end + 1,
                    "the range ends below its start",
                    "write the smaller size first",
                ));
            }
            Ok((Some(lo), Some(hi)))
        }
    }
}

fn zone(now: Now) -> FixedOffset {
    FixedOffset::east_opt(now.offset_minutes.saturating_mul(60))
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
}

/// The first second of `day` in the viewer's zone.
fn start_of(day: NaiveDate, now: Now) -> Option<i64> {
    zone(now)
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|t| t.timestamp())
}

/// The last second of `day` in the viewer's zone.
fn end_of(day: NaiveDate, now: Now) -> Option<i64> {
    start_of(day.succ_opt()?, now).map(|t| t - 1)
}

/// `n` units before now, as Unix seconds, as NeoMutt counts: for days,
/// weeks, months and years from the end of today (so `<3d` is "since the
/// start of the day three days ago"), for hours, minutes and seconds from
/// now; months and years by the calendar in the viewer's zone.
fn ago(now: Now, n: u64, unit: char) -> Option<i64> {
    let base = if matches!(unit, 'H' | 'M' | 'S') {
        now.unix
    } else {
        let today = zone(now).timestamp_opt(now.unix, 0).single()?.date_naive();
        end_of(today, now)?
    };
    let secs =
        |per: i64| -> Option<i64> { base.checked_sub(i64::try_from(n).ok()?.checked_mul(per)?) };
    match unit {
        'S' => secs(1),
        'M' => secs(60),
        'H' => secs(3600),
        'd' => secs(86_400),
        'w' => secs(7 * 86_400),
        'm' | 'y' => {
            let months = if unit == 'y' { n.checked_mul(12)? } else { n };
            let t = zone(now).timestamp_opt(base, 0).single()?;
            let t = t.checked_sub_months(Months::new(u32::try_from(months).ok()?))?;
            Some(t.timestamp())
        }
        _ => None,
    }
}

/// One calendar date from `at`: `dd/mm/yyyy`, `dd/mm/yy`, `dd/mm`, `dd`
/// (the missing parts from today), or `yyyy-mm-dd`.
fn date(chars: &[char], at: usize, now: Now) -> Result<(NaiveDate, usize), ArgError> {
    let today = zone(now)
        .timestamp_opt(now.unix, 0)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let Some((a, end)) = number(chars, at).filter(|(_, e)| e - at <= 4 || e - at == 8) else {
        let what = match chars.get(at) {
            Some(c) => format!("expected a date, found '{c}'"),
            None => "expected a date".to_string(),
        };
        return Err(err(at, what, DATE_FIX));
    };
    let bad = |what: &str| err(at, what.to_string(), DATE_FIX);
    let compact = number(chars, at).filter(|(_, e)| e - at == 8);
    let (y, m, d, end) = if let Some((ymd, end)) = compact {
        // yyyymmdd, as NeoMutt
        (ymd / 10_000, ymd / 100 % 100, ymd % 100, end)
    } else if end - at == 4 {
        // yyyy-mm-dd
        let two = |from: usize| -> Option<(u64, usize)> {
            (chars.get(from) == Some(&'-'))
                .then(|| number(chars, from + 1))
                .flatten()
                .filter(|(_, e)| e - (from + 1) == 2)
        };
        let (m, e1) = two(end).ok_or_else(|| bad("expected yyyy-mm-dd"))?;
        let (d, e2) = two(e1).ok_or_else(|| bad("expected yyyy-mm-dd"))?;
        (a, m, d, e2)
    } else if end - at > 2 {
        return Err(bad("expected a day (dd), dd/mm/yyyy or yyyy-mm-dd"));
    } else if chars.get(end) == Some(&'/') {
        let (m, e1) = number(chars, end + 1)
            .filter(|(_, e)| e - (end + 1) <= 2)
            .ok_or_else(|| err(end + 1, "expected a month after '/'", DATE_FIX))?;
        if chars.get(e1) == Some(&'/') {
            let (y, e2) = number(chars, e1 + 1)
                .filter(|(_, e)| matches!(e - (e1 + 1), 2 | 4))
                .ok_or_else(|| err(e1 + 1, "expected a year (yyyy) after '/'", DATE_FIX))?;
            // mutt: two digits mean 19yy from 70, else 20yy.
            let y = match e2 - (e1 + 1) {
                2 if y >= 70 => 1900 + y,
                2 => 2000 + y,
                _ => y,
            };
            (y, m, a, e2)
        } else {
            (today.year().max(0) as u64, m, a, e1)
        }
    } else {
        (today.year().max(0) as u64, u64::from(today.month()), a, end)
    };
    let day = i32::try_from(y)
        .ok()
        .zip(u32::try_from(m).ok())
        .zip(u32::try_from(d).ok())
        .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d))
        .ok_or_else(|| bad(&format!("no such date: day {d}, month {m}, year {y}")))?;
    Ok((day, end))
}

/// `<N u` (newer than), `>N u` (older than), `=N u` (that day), units
/// `S M H d w m y`; a calendar date (that whole day), `A-B`, `A-`, `-B`.
pub(crate) fn parse_date(arg: &str, now: Now) -> Result<Bounds<i64>, ArgError> {
    let chars: Vec<char> = arg.chars().collect();
    let out_of_range = |at: usize| err(at, "date out of range", DATE_FIX);
    match chars.first() {
        Some(&op @ ('<' | '>' | '=')) => {
            let (n, end) = number(&chars, 1).ok_or_else(|| {
                err(
                    1,
                    format!("expected a number after '{op}'"),
                    "write e.g. <30d (newer than 30 days) or >1y (older than a year)",
                )
            })?;
            let unit = match chars.get(end) {
                Some(&u @ ('S' | 'M' | 'H' | 'd' | 'w' | 'm' | 'y')) => u,
                Some(c) => {
                    return Err(err(
                        end,
                        format!("unknown date unit '{c}'"),
                        "use d (days), w (weeks), m (months) or y (years); H, M, S for hours, minutes, seconds",
                    ));
                }
                None => {
                    return Err(err(
                        end,
                        "missing a date unit",
                        "use d (days), w (weeks), m (months) or y (years)",
                    ));
                }
            };
            at_end(&chars, end + 1, DATE_FIX)?;
            let t = ago(now, n, unit).ok_or_else(|| out_of_range(1))?;
            Ok(match op {
                '<' => (Some(t), None),
                '>' => (None, Some(t)),
                _ => {
                    let day = zone(now)
                        .timestamp_opt(t, 0)
                        .single()
                        .map(|d| d.date_naive())
                        .ok_or_else(|| out_of_range(1))?;
                    (
                        Some(start_of(day, now).ok_or_else(|| out_of_range(1))?),
                        Some(end_of(day, now).ok_or_else(|| out_of_range(1))?),
                    )
                }
            })
        }
        Some('-') => {
            let (b, end) = date(&chars, 1, now)?;
            at_end(&chars, end, DATE_FIX)?;
            Ok((None, Some(end_of(b, now).ok_or_else(|| out_of_range(1))?)))
        }
        _ => {
            let (a, end) = date(&chars, 0, now)?;
            let lo = start_of(a, now).ok_or_else(|| out_of_range(0))?;
            if chars.get(end) != Some(&'-') {
                at_end(&chars, end, DATE_FIX)?;
                return Ok((
                    Some(lo),
                    Some(end_of(a, now).ok_or_else(|| out_of_range(0))?),
                ));
            }
            if end + 1 == chars.len() {
                return Ok((Some(lo), None));
            }
            let (b, end2) = date(&chars, end + 1, now)?;
            at_end(&chars, end2, DATE_FIX)?;
            // As mutt: a range written backwards is the same range.
            let (a, b) = if b < a { (b, a) } else { (a, b) };
            let lo = start_of(a, now).ok_or_else(|| out_of_range(0))?;
            let hi = end_of(b, now).ok_or_else(|| out_of_range(end + 1))?;
            Ok((Some(lo), Some(hi)))
        }
    }
}

/// Days are whole days in the viewer's zone: used by tests.
#[allow(dead_code)]
pub(crate) fn day_start(y: i32, m: u32, d: u32, now: Now) -> Option<i64> {
    start_of(NaiveDate::from_ymd_opt(y, m, d)?, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Now = Now {
        // 2026-12-03 12:00:00 UTC
        unix: 1_796_299_200,
        offset_minutes: 60,
    };

    #[test]
    fn sizes() {
        assert_eq!(parse_size(">1M").unwrap(), (Some(1_048_577), None));
        assert_eq!(parse_size("<10K").unwrap(), (None, Some(10_239)));
        assert_eq!(
            parse_size("100K-1M").unwrap(),
            (Some(102_400), Some(1_048_576))
        );
        assert_eq!(parse_size("-1M").unwrap(), (None, Some(1_048_576)));
        assert_eq!(parse_size("1M-").unwrap(), (Some(1_048_576), None));
        assert_eq!(parse_size("2048").unwrap(), (Some(2048), Some(2048)));
        let e = parse_size(">1Q").unwrap_err();
        assert_eq!((e.at, e.what.as_str()), (2, "unknown size unit 'Q'"));
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("1M-1K").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn dates() {
        // The end of today at +01:00: 2026-12-03 22:59:59 UTC.
        let today_end = NOW.unix + 11 * 3600 - 1;
        assert_eq!(
            parse_date("<30d", NOW).unwrap(),
            (Some(today_end - 30 * 86_400), None)
        );
        assert_eq!(
            parse_date(">1y", NOW).unwrap(),
            (None, Some(today_end - 365 * 86_400))
        );
        assert_eq!(
            parse_date("<2H", NOW).unwrap(),
            (Some(NOW.unix - 7200), None)
        );
        assert_eq!(
            parse_date("=1d", NOW).unwrap(),
            (Some(today_end - 2 * 86_400 + 1), Some(today_end - 86_400))
        );
        let jan1 = day_start(2024, 1, 1, NOW).unwrap();
        let jul1 = day_start(2024, 7, 1, NOW).unwrap();
        assert_eq!(
            parse_date("2024-01-01-2024-06-30", NOW).unwrap(),
            (Some(jan1), Some(jul1 - 1))
        );
        assert_eq!(
            parse_date("01/01/2024-30/06/2024", NOW).unwrap(),
            (Some(jan1), Some(jul1 - 1))
        );
        assert_eq!(parse_date("01/01/2024-", NOW).unwrap(), (Some(jan1), None));
        assert_eq!(
            parse_date("-30/06/2024", NOW).unwrap(),
            (None, Some(jul1 - 1))
        );
        assert_eq!(
            parse_date("01/01/24", NOW).unwrap(),
            (Some(jan1), Some(jan1 + 86_399))
        );
        // The zone: midnight at +01:00 is 23:00 UTC the day before.
        assert_eq!(jan1, 1_704_063_600);
        assert!(parse_date("31/02/2024", NOW).is_err());
        assert!(parse_date("<30q", NOW).is_err());
        assert!(parse_date("<30", NOW).is_err());
        assert_eq!(
            parse_date("2024-06-30-2024-01-01", NOW).unwrap(),
            (Some(jan1), Some(jul1 - 1))
        );
        assert_eq!(
            parse_date("20240101-20240630", NOW).unwrap(),
            (Some(jan1), Some(jul1 - 1))
        );
        assert!(parse_date("<99999999999999y", NOW).is_err());
    }
}
