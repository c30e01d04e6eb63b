//! Time zones: the server knows only UTC, the browser every IANA zone (`Intl.DateTimeFormat`),
//! so zone arithmetic happens there; the server renders UTC, which the page replaces with the
//! chosen zone once it is interactive. Also reads the dates and times people type. How they
//! are shown is `crate::format`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// `2026-11-25` → the date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// `2026-11-25 14:03` or `2026-11-25T14:03` (24-hour) → the wall-clock time.
pub fn parse_minutes(s: &str) -> Option<NaiveDateTime> {
    parse_wall(s)
        .filter(|(_, unit)| *unit == chrono::Duration::minutes(1))
        .map(|(t, _)| t)
}

/// A wall-clock time typed as `YYYY-MM-DD HH:MM`, `… HH:MM:SS` or `… HH:MM:SS.ffffff` (or with
/// `T`), and the unit it was typed to (a minute, a second, or exactly: zero), so that an end
/// can include the whole of its last minute or second.
pub fn parse_wall(s: &str) -> Option<(NaiveDateTime, chrono::Duration)> {
    let (date, time) = s.split_once(['T', ' '])?;
    let time = time.trim_start();
    let digits = |x: &str, n: usize| x.len() == n && x.bytes().all(|c| c.is_ascii_digit());
    let mut parts = time.splitn(3, ':');
    let (h, m) = (parts.next()?, parts.next()?);
    if !digits(h, 2) || !digits(m, 2) {
        return None;
    }
    let day = parse_date(date)?;
    let (sec, micros, unit) = match parts.next() {
        None => (0, 0, chrono::Duration::minutes(1)),
        Some(sec) => {
            let (whole, fraction) = match sec.split_once('.') {
                Some((w, f)) => (w, Some(f)),
                None => (sec, None),
            };
            if !digits(whole, 2) {
                return None;
            }
            match fraction {
                None => (whole.parse().ok()?, 0, chrono::Duration::seconds(1)),
                Some(f) if (1..=6).contains(&f.len()) && f.bytes().all(|c| c.is_ascii_digit()) => {
                    let micros: u32 = format!("{f:0<6}").parse().ok()?;
                    (whole.parse().ok()?, micros, chrono::Duration::zero())
                }
                Some(_) => return None,
            }
        }
    };
    let t = day.and_hms_micro_opt(h.parse().ok()?, m.parse().ok()?, sec, micros)?;
    Some((t, unit))
}

/// The instant a wall-clock time in `tz` names (UTC when `tz` is `None`).
pub fn from_wall_clock(wall: NaiveDateTime, tz: Option<&str>) -> Option<DateTime<Utc>> {
    let Some(tz) = tz else {
        return Some(wall.and_utc());
    };
    // The offset at the guess decides; a second pass settles the hours around DST changes.
    let guess = wall.and_utc();
    let first = offset_seconds(&guess, tz)?;
    let t = guess - chrono::Duration::seconds(first as i64);
    let second = offset_seconds(&t, tz)?;
    Some(guess - chrono::Duration::seconds(second as i64))
}

/// The wall-clock time of `t` in `tz`, for date inputs.
pub fn to_wall_clock(t: &DateTime<Utc>, tz: Option<&str>) -> NaiveDateTime {
    let seconds = tz.and_then(|tz| offset_seconds(t, tz)).unwrap_or(0);
    t.naive_utc() + chrono::Duration::seconds(seconds as i64)
}

/// The browser's own zone (`Europe/Berlin`), if it says.
pub fn browser_zone() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        browser::zone()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

/// Seconds east of UTC in `tz` at `t`; `None` for a zone unknown here (every zone but UTC on
/// the server).
pub fn offset_seconds(t: &DateTime<Utc>, tz: &str) -> Option<i32> {
    if tz == "UTC" {
        return Some(0);
    }
    #[cfg(feature = "hydrate")]
    {
        browser::offset_seconds(t, tz)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = t;
        None
    }
}

/// `GMT+01:00` / `GMT-03:30` / `GMT` → seconds east of UTC.
pub fn parse_gmt_offset(s: &str) -> Option<i32> {
    let rest = s.strip_prefix("GMT").or_else(|| s.strip_prefix("UTC"))?;
    if rest.is_empty() {
        return Some(0);
    }
    let (sign, rest) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' | 0xE2 => (-1, rest.trim_start_matches(['-', '\u{2212}'])),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    Some(sign * (h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60))
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::{cell::RefCell, collections::HashMap};

    use chrono::{DateTime, Utc};
    use js_sys::{Array, Date, Function, Object, Reflect};
    use wasm_bindgen::{JsCast, JsValue};

    thread_local! {
        static FORMATTERS: RefCell<HashMap<String, Option<JsValue>>> = RefCell::new(HashMap::new());
    }

    fn date_time_format() -> Option<Function> {
        let intl = Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
        Reflect::get(&intl, &"DateTimeFormat".into())
            .ok()?
            .dyn_into()
            .ok()
    }

    /// An `Intl.DateTimeFormat` that names the offset; `None` for a zone the browser rejects.
    fn formatter(tz: &str) -> Option<JsValue> {
        FORMATTERS.with(|cache| {
            cache
                .borrow_mut()
                .entry(tz.to_string())
                .or_insert_with(|| {
                    let options = Object::new();
                    Reflect::set(&options, &"timeZone".into(), &tz.into()).ok()?;
                    Reflect::set(&options, &"timeZoneName".into(), &"longOffset".into()).ok()?;
                    let args = Array::of2(&"en-US".into(), &options);
                    Reflect::construct(&date_time_format()?, &args).ok()
                })
                .clone()
        })
    }

    pub fn offset_seconds(t: &DateTime<Utc>, tz: &str) -> Option<i32> {
        let fmt = formatter(tz)?;
        let format_to_parts: Function = Reflect::get(&fmt, &"formatToParts".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let date = Date::new(&JsValue::from_f64(t.timestamp_millis() as f64));
        let parts: Array = format_to_parts.call1(&fmt, &date).ok()?.dyn_into().ok()?;
        parts.iter().find_map(|part| {
            let kind = Reflect::get(&part, &"type".into()).ok()?.as_string()?;
            if kind != "timeZoneName" {
                return None;
            }
            super::parse_gmt_offset(&Reflect::get(&part, &"value".into()).ok()?.as_string()?)
        })
    }

    pub fn zone() -> Option<String> {
        let fmt = Reflect::construct(&date_time_format()?, &Array::new()).ok()?;
        let resolved: Function = Reflect::get(&fmt, &"resolvedOptions".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let options = resolved.call0(&fmt).ok()?;
        Reflect::get(&options, &"timeZone".into()).ok()?.as_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_print() {
        let d = parse_date("2026-03-01").unwrap();
        assert_eq!(d, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("2026-3-01x"), None);
        assert_eq!(parse_date("+026-03-01"), None);
        let t = parse_minutes("2026-03-01T09:05").unwrap();
        assert_eq!(t, d.and_hms_opt(9, 5, 0).unwrap());
        assert_eq!(parse_minutes("2026-03-01T9:05"), None);
        assert_eq!(parse_minutes("2026-03-01"), None);
        let minute = chrono::Duration::minutes(1);
        assert_eq!(parse_wall("2026-03-01 09:05"), Some((t, minute)));
        let s = d.and_hms_opt(9, 5, 7).unwrap();
        assert_eq!(
            parse_wall("2026-03-01 09:05:07"),
            Some((s, chrono::Duration::seconds(1)))
        );
        let f = d.and_hms_micro_opt(9, 5, 7, 250_000).unwrap();
        assert_eq!(
            parse_wall("2026-03-01 09:05:07.25"),
            Some((f, chrono::Duration::zero()))
        );
        assert_eq!(parse_wall("2026-03-01 09:05:7"), None);
        assert_eq!(parse_wall("2026-03-01 09:05:07.1234567"), None);
        assert_eq!(parse_wall("2026-03-01 24:00"), None);
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_gmt_offset("GMT"), Some(0));
        assert_eq!(parse_gmt_offset("GMT+01:00"), Some(3600));
        assert_eq!(parse_gmt_offset("GMT-03:30"), Some(-12600));
        assert_eq!(parse_gmt_offset("GMT\u{2212}05:00"), Some(-18000));
        assert_eq!(parse_gmt_offset("CET"), None);
    }

    #[test]
    fn utc_wall_clock_is_the_instant() {
        let t = DateTime::parse_from_rfc3339("2026-11-25T14:03:07Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(from_wall_clock(t.naive_utc(), None), Some(t));
        assert_eq!(to_wall_clock(&t, Some("UTC")), t.naive_utc());
    }
}
