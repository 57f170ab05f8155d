//! Pure formatting of list cells: dates against an injected clock, sizes.
//! (The sender rule is `crate::mail::sender_label`.)

use crate::mail::MailDate;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01
/// (Howard Hinnant's civil_from_days).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parts of a local time: (year, month, day, hour, minute).
fn local_parts(unix: i64, offset_minutes: i32) -> (i64, u32, u32, u32, u32) {
    let t = unix + i64::from(offset_minutes) * 60;
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (y, m, d, (secs / 3600) as u32, ((secs % 3600) / 60) as u32)
}

/// The list's date cell: `14:05` today, `12 Mar` this year, `2023-03-12`
/// before; all in the viewer's zone (`offset_minutes` east of UTC).
pub fn list_date(date: &MailDate, now: i64, offset_minutes: i32) -> String {
    let (y, m, d, hh, mm) = local_parts(date.unix, offset_minutes);
    let (ny, nm, nd, _, _) = local_parts(now, offset_minutes);
    if (y, m, d) == (ny, nm, nd) {
        format!("{hh:02}:{mm:02}")
    } else if y == ny {
        format!("{d:>2} {}", MONTHS[(m - 1) as usize])
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// The reader's date: the sender's wall clock with its offset.
pub fn full_date(date: &MailDate) -> String {
    let (y, m, d, hh, mm) = local_parts(date.unix, date.tz_offset_minutes);
    let off = date.tz_offset_minutes;
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.unsigned_abs();
    format!(
        "{y:04}-{m:02}-{d:02} {hh:02}:{mm:02} {sign}{:02}{:02}",
        off / 60,
        off % 60
    )
}

/// RFC 3339 in the sender's own offset, for scripts (`list --json`);
/// `None` for a date no calendar library can represent.
pub fn rfc3339(date: &MailDate) -> Option<String> {
    let offset = chrono::FixedOffset::east_opt(date.tz_offset_minutes.checked_mul(60)?)?;
    let t = chrono::DateTime::from_timestamp(date.unix, 0)?;
    Some(
        t.with_timezone(&offset)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    )
}

/// `512`, `4.2K`, `42K`, `1.3M`, `2.0G`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["K", "M", "G", "T"];
    if n < 1024 {
        return n.to_string();
    }
    let mut v = n as f64 / 1024.0;
    let mut i = 0;
    while v >= 1023.95 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if v < 9.95 {
        format!("{v:.1}{}", UNITS[i])
    } else {
        format!("{:.0}{}", v, UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        // 2024-03-12 14:05:00 UTC
        let t = 1_710_252_300;
        let d = MailDate {
            unix: t,
            tz_offset_minutes: 60,
        };
        assert_eq!(list_date(&d, t + 3600, 0), "14:05");
        assert_eq!(list_date(&d, t + 40 * 86_400, 0), "12 Mar");
        assert_eq!(list_date(&d, t + 400 * 86_400, 0), "2024-03-12");
        // Zone moves it to the next day.
        assert_eq!(list_date(&d, t + 3600, 600), "00:05");
        assert_eq!(list_date(&d, t + 3600, -900), "11 Mar");
        assert_eq!(full_date(&d), "2024-03-12 15:05 +0100");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(rfc3339(&d).unwrap(), "2024-03-12T15:05:00+01:00");
        let west = MailDate {
            unix: t,
            tz_offset_minutes: -(4 * 60 + 30),
        };
        assert_eq!(rfc3339(&west).unwrap(), "2024-03-12T09:35:00-04:30");
        let absurd = MailDate {
            unix: i64::MAX / 2,
            tz_offset_minutes: 0,
        };
        assert_eq!(rfc3339(&absurd), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(512), "512");
        assert_eq!(human_size(4300), "4.2K");
        assert_eq!(human_size(43_000), "42K");
        assert_eq!(human_size(1_363_149), "1.3M");
        assert_eq!(human_size(1023 * 1024 + 1000), "1.0M");
    }
}
