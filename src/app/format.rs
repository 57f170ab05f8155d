//! Pure formatting of list cells: dates against an injected clock, sizes.
//! (The sender rule is `crate::mail::sender_label`.)

use chrono::{DateTime, Datelike, FixedOffset};

use crate::mail::MailDate;

/// THE date rule: a mail's time in the viewer's zone (`offset_minutes`
/// east of UTC, the same for the list and the reader, so the two never
/// disagree about the day). `None` for a time chrono can't represent.
pub fn in_zone(date: &MailDate, offset_minutes: i32) -> Option<DateTime<FixedOffset>> {
    zoned(date.unix, offset_minutes)
}

fn zoned(unix: i64, offset_minutes: i32) -> Option<DateTime<FixedOffset>> {
    let zone = FixedOffset::east_opt(offset_minutes.checked_mul(60)?)?;
    Some(DateTime::from_timestamp(unix, 0)?.with_timezone(&zone))
}

/// The list's date cell: `14:05` today, `12 Mar` this year, `2023-03-12`
/// before; all in the viewer's zone ([`in_zone`]); empty when the date
/// can't be represented.
pub fn list_date(date: &MailDate, now: i64, offset_minutes: i32) -> String {
    let (Some(t), Some(now)) = (in_zone(date, offset_minutes), zoned(now, offset_minutes)) else {
        return String::new();
    };
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M").to_string()
    } else if t.year() == now.year() {
        t.format("%e %b").to_string()
    } else {
        t.format("%Y-%m-%d").to_string()
    }
}

/// The reader's date: the same instant in the same zone as the list
/// ([`in_zone`]), with that zone's offset: `2024-03-12 15:05 +0100`.
pub fn full_date(date: &MailDate, offset_minutes: i32) -> String {
    in_zone(date, offset_minutes)
        .map(|t| t.format("%Y-%m-%d %H:%M %z").to_string())
        .unwrap_or_default()
}

/// RFC 3339 in the sender's own offset, for scripts (`list --json`);
/// `None` for a date no calendar library can represent.
pub fn rfc3339(date: &MailDate) -> Option<String> {
    Some(in_zone(date, date.tz_offset_minutes)?.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
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
        assert_eq!(full_date(&d, 60), "2024-03-12 15:05 +0100");
        assert_eq!(full_date(&d, 0), "2024-03-12 14:05 +0000");
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
        assert_eq!(list_date(&absurd, t, 0), "");
        assert_eq!(full_date(&absurd, 0), "");
        assert_eq!(full_date(&d, i32::MAX), "");
    }

    /// Across a zone boundary the list and the reader name the same day:
    /// 23:30 UTC on 12 March is 13 March for a viewer at +01:00 and 12
    /// March at -05:00, whatever the sender's own offset was.
    #[test]
    fn list_and_reader_agree_across_a_day_boundary() {
        let t = 1_710_286_200; // 2024-03-12 23:30:00 UTC
        for sender in [-600, 0, 330, 840] {
            let d = MailDate {
                unix: t,
                tz_offset_minutes: sender,
            };
            let later = t + 40 * 86_400;
            assert_eq!(list_date(&d, later, 60), "13 Mar");
            assert!(full_date(&d, 60).starts_with("2024-03-13 00:30"));
            assert_eq!(list_date(&d, later, -300), "12 Mar");
            assert!(full_date(&d, -300).starts_with("2024-03-12 18:30"));
            // the day the list shows is the day the reader shows
            for viewer in [-720, -300, 0, 60, 345, 780] {
                let list = list_date(&d, later, viewer);
                let full = full_date(&d, viewer);
                let day: u32 = full[8..10].parse().unwrap();
                assert_eq!(list, format!("{day:>2} Mar"), "viewer {viewer}: {full}");
            }
        }
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
