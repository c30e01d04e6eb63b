//! How values read on screen and in reports, each in one place: numbers (`1,204`), sizes
//! (`14.2 KB`), durations (`5 min`), dates and times (`2026-11-25 14:03:07 UTC`, written by
//! hand, not with chrono's strftime machinery: the browser bundle stays smaller, and these are
//! the only shapes the console uses) and JSON values as one line. Formatting never fails and
//! never depends on the reader's locale.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Timelike, Utc};

use crate::time_zone::{offset_seconds, to_wall_clock};

/// `1204` → `1,204`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// `512 bytes`, `14.2 KB`, `3.4 MB`: a size people read at a glance.
pub fn size_words(bytes: u64) -> String {
    let tenths = |unit: u64| {
        let t = bytes * 10 / unit;
        format!("{}.{}", t / 10, t % 10)
    };
    match bytes {
        0..=999 => format!("{bytes} bytes"),
        1_000..=999_999 => format!("{} KB", tenths(1_000)),
        _ => format!("{} MB", tenths(1_000_000)),
    }
}

/// `90 s`, `12 min`, `3 h 5 min`, `2 days 4 h`: a duration as people say it.
pub fn duration_words(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    match s {
        0..=119 => format!("{s} s"),
        120..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        86_400..=172_799 => format!("1 day {} h", s % 86_400 / 3600),
        _ => format!("{} days {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// `2026-11-25`
pub fn date_string(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// `2026-11-25 14:03` (`sep` between date and time; `T` for date inputs).
pub fn minutes_string(t: NaiveDateTime, sep: char) -> String {
    format!(
        "{}{sep}{:02}:{:02}",
        date_string(t.date()),
        t.hour(),
        t.minute()
    )
}

/// A wall-clock time at the precision it has: `2026-11-25 14:03`, `… 14:03:07`,
/// `… 14:03:07.250` (milliseconds) or `… 14:03:07.250001` (microseconds).
pub fn wall_string(t: NaiveDateTime) -> String {
    let micros = t.nanosecond() / 1_000;
    match (t.second(), micros) {
        (0, 0) => minutes_string(t, ' '),
        (_, 0) => seconds_string(t),
        (_, m) if m % 1_000 == 0 => format!("{}.{:03}", seconds_string(t), m / 1_000),
        (_, m) => format!("{}.{m:06}", seconds_string(t)),
    }
}

/// `2026-11-25 14:03:07`
pub fn seconds_string(t: NaiveDateTime) -> String {
    format!("{}:{:02}", minutes_string(t, ' '), t.second())
}

/// `2026-11-25 14:03:07 UTC`
pub fn format_utc(t: &DateTime<Utc>) -> String {
    format!("{} UTC", seconds_string(t.naive_utc()))
}

/// `2026-11-25 15:03:07 UTC+01:00` in `tz`, or UTC when there is none or it is unknown here.
pub fn format_in(t: &DateTime<Utc>, tz: Option<&str>) -> String {
    match tz.and_then(|tz| offset_seconds(t, tz)) {
        Some(0) | None => format_utc(t),
        Some(seconds) => {
            let offset = FixedOffset::east_opt(seconds).expect("offsets are within a day");
            format!(
                "{} UTC{}",
                seconds_string(t.with_timezone(&offset).naive_local()),
                offset
            )
        }
    }
}

/// `2026-11-25 15:03:07` in `tz` (UTC when there is none or it is unknown here), without
/// the zone: for the table, whose header names it.
pub fn format_wall(t: &DateTime<Utc>, tz: Option<&str>) -> String {
    seconds_string(to_wall_clock(t, tz))
}

/// A JSON value as one readable line (strings without quotes).
pub fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// The time now, in the browser as on the server (chrono's clock does not run in the browser).
pub fn now() -> DateTime<Utc> {
    #[cfg(target_arch = "wasm32")]
    {
        DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Utc::now()
    }
}

/// `2026-11-25 14:03 UTC`: to the minute, for lists of things made by people.
pub fn minutes_utc(t: &DateTime<Utc>) -> String {
    format!("{} UTC", minutes_string(t.naive_utc(), ' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_sizes() {
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(-1_000_000), "-1,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(size_words(512), "512 bytes");
        assert_eq!(size_words(14_250), "14.2 KB");
        assert_eq!(size_words(3_456_789), "3.4 MB");
    }

    #[test]
    fn durations_as_people_say_them() {
        assert_eq!(duration_words(301), "5 min");
        assert_eq!(duration_words(-7_200), "2 h 0 min");
        assert_eq!(duration_words(90_000), "1 day 1 h");
        assert_eq!(duration_words(200_000), "2 days 7 h");
    }

    #[test]
    fn dates_print() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert_eq!(date_string(d), "2026-03-01");
        let t = d.and_hms_opt(9, 5, 0).unwrap();
        assert_eq!(minutes_string(t, 'T'), "2026-03-01T09:05");
        assert_eq!(seconds_string(t), "2026-03-01 09:05:00");
    }

    #[test]
    fn utc_formats_without_a_zone() {
        let t = DateTime::parse_from_rfc3339("2026-11-25T14:03:07Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_utc(&t), "2026-11-25 14:03:07 UTC");
        assert_eq!(format_in(&t, None), "2026-11-25 14:03:07 UTC");
        assert_eq!(format_in(&t, Some("UTC")), "2026-11-25 14:03:07 UTC");
    }
}
