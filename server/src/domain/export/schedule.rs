//! When a scheduled export runs and what it covers. Every period is closed-open and follows
//! the one before it without a gap: period k is `[occurrence k, occurrence k+1)` of the
//! schedule's cadence in its zone, so no instant lies in two periods and none in none. A
//! period is due once it has ended. Occurrences are croner's (its documented DST rules: a
//! time in a spring-forward gap runs right after the gap, one in a fall-back overlap once).
//!
//! Periods are of `recorded_at` (when Trailkeep committed the entry), not of `occurred_at`:
//! an entry that arrives late still lands in exactly one period, the one it was recorded in,
//! instead of in one that was already exported.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde::{Deserialize, Serialize};

/// How often a schedule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    /// Each day from midnight to midnight in the zone.
    Daily,
    /// Monday 00:00 to Monday 00:00.
    Weekly,
    /// The 1st 00:00 to the next 1st 00:00.
    Monthly,
    /// Between consecutive occurrences of a 5-field cron expression.
    Cron,
}

impl Cadence {
    pub const ALL: [Cadence; 4] = [
        Cadence::Daily,
        Cadence::Weekly,
        Cadence::Monthly,
        Cadence::Cron,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
            Cadence::Monthly => "monthly",
            Cadence::Cron => "cron",
        }
    }

    pub fn parse(s: &str) -> Option<Cadence> {
        Cadence::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The expression of a named cadence.
    fn expression(self) -> Option<&'static str> {
        match self {
            Cadence::Daily => Some("0 0 * * *"),
            Cadence::Weekly => Some("0 0 * * 1"),
            Cadence::Monthly => Some("0 0 1 * *"),
            Cadence::Cron => None,
        }
    }
}

/// Why a schedule's timing is refused, in words that say how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    #[error("the cadence {0:?} is not one of daily, weekly, monthly or cron")]
    Cadence(String),
    #[error("a cron cadence needs a 5-field expression (minute hour day-of-month month day-of-week), such as \"0 6 * * 1-5\"")]
    NoExpression,
    #[error("only a cron cadence takes an expression: choose cron, or leave the expression out")]
    UnwantedExpression,
    #[error("the cron expression {expression:?} is not 5 fields (minute hour day-of-month month day-of-week): {why}")]
    Expression { expression: String, why: String },
    #[error("the cron expression is {0} characters long; a schedule keeps at most 100: use ranges (1-5) or steps (*/15) instead of long lists")]
    TooLong(usize),
    #[error("the cron expression {0:?} never occurs")]
    Never(String),
    #[error("the cron expression {0:?} runs more often than every 5 minutes: a period that short makes too many objects; choose a longer one")]
    TooOften(String),
    #[error("the time zone {0:?} is not an IANA zone name, such as Europe/Berlin or UTC")]
    Zone(String),
}

/// The shortest period a cron cadence may have.
const SHORTEST: chrono::Duration = chrono::Duration::minutes(5);

/// A schedule's timing, checked: its cadence, expression and zone.
#[derive(Clone, Debug)]
pub struct Timing {
    pub cadence: Cadence,
    /// The user's expression of a cron cadence, as given.
    pub expression: Option<String>,
    pub zone: Tz,
    cron: Cron,
}

/// The longest cron expression a schedule keeps (the table's CHECK and [`TimingError::TooLong`]
/// say the same).
const LONGEST_EXPRESSION: usize = 100;

/// How far ahead a new timing's occurrences are checked against [`SHORTEST`]: a year and a
/// month, so both of the zone's clock changes and every day a day-of-month or weekday field
/// names are seen.
const CHECKED_AHEAD: chrono::Duration = chrono::Duration::days(400);

impl Timing {
    /// A timing as a schedule is saved with it: parsed, and refused when it never occurs or
    /// occurs twice within [`SHORTEST`] anywhere in the next [`CHECKED_AHEAD`] after `now`
    /// (clock changes included: a spring-forward gap can bring two occurrences together).
    pub fn new(
        cadence: &str,
        expression: Option<&str>,
        zone: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, TimingError> {
        let timing = Self::stored(cadence, expression, zone)?;
        let text = || timing.text().to_string();
        let mut at = timing
            .next_after(now)
            .ok_or_else(|| TimingError::Never(text()))?;
        // At least 16 gaps after the first occurrence (which may be years away: 29 February),
        // then on to the end of the window: each accepted gap moves on by 5 minutes or more,
        // so at most 115,200 steps.
        for checked in 0.. {
            if checked >= 16 && at > now + CHECKED_AHEAD {
                break;
            }
            let next = timing
                .next_after(at)
                .ok_or_else(|| TimingError::Never(text()))?;
            if next - at < SHORTEST {
                return Err(TimingError::TooOften(text()));
            }
            at = next;
        }
        Ok(timing)
    }

    /// A timing as stored with a schedule (checked by [`Timing::new`] when it was saved):
    /// parsed only, so that whether it runs never depends on the day it is read.
    pub fn stored(
        cadence: &str,
        expression: Option<&str>,
        zone: &str,
    ) -> Result<Self, TimingError> {
        let cadence =
            Cadence::parse(cadence).ok_or_else(|| TimingError::Cadence(cadence.into()))?;
        let zone: Tz = zone
            .parse()
            .map_err(|_| TimingError::Zone(zone.to_string()))?;
        let expression = expression.map(str::trim).filter(|e| !e.is_empty());
        let text = match (cadence.expression(), expression) {
            (Some(named), None) => named,
            (Some(_), Some(_)) => return Err(TimingError::UnwantedExpression),
            (None, None) => return Err(TimingError::NoExpression),
            (None, Some(e)) => e,
        };
        let length = text.chars().count();
        if length > LONGEST_EXPRESSION {
            return Err(TimingError::TooLong(length));
        }
        if text.split_whitespace().count() != 5 || text.contains('@') {
            return Err(TimingError::Expression {
                expression: text.into(),
                why: "it needs exactly five fields separated by spaces".into(),
            });
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(text)
            .map_err(|e| TimingError::Expression {
                expression: text.into(),
                why: e.to_string(),
            })?;
        Ok(Timing {
            cadence,
            expression: expression.map(String::from),
            zone,
            cron,
        })
    }

    /// The expression the timing follows: the user's, or its cadence's.
    fn text(&self) -> &str {
        self.expression
            .as_deref()
            .or(self.cadence.expression())
            .unwrap_or_default()
    }

    /// The first occurrence strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.zone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|o| o.with_timezone(&Utc))
    }

    /// The last occurrence at or before `t`.
    pub fn at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.zone);
        self.cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|o| o.with_timezone(&Utc))
    }

    /// The period that holds `t`.
    pub fn period_holding(&self, t: DateTime<Utc>) -> Option<Period> {
        let start = self.at_or_before(t)?;
        let end = self.next_after(start)?;
        Some(Period { start, end })
    }

    /// The periods that have ended by `now`, in order, at most `limit` of them: from the end
    /// of the last period already planned (`planned_until`), else from the one holding
    /// `starts_at` (the one in progress when the schedule was created). After the timing was
    /// changed, the first period runs from where the last planned one ended to the new
    /// timing's next occurrence: no instant is left out.
    pub fn due(
        &self,
        starts_at: DateTime<Utc>,
        planned_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Vec<Period> {
        let mut out = Vec::new();
        let mut start = match planned_until {
            Some(end) => Some(end),
            None => self.period_holding(starts_at).map(|p| p.start),
        };
        while let Some(s) = start {
            if out.len() >= limit {
                break;
            }
            let Some(end) = self.next_after(s) else { break };
            if end > now {
                break;
            }
            out.push(Period { start: s, end });
            start = Some(end);
        }
        out
    }

    /// The newest period that has ended by `now` ("run now").
    pub fn last_complete(&self, now: DateTime<Utc>) -> Option<Period> {
        let current = self.period_holding(now)?;
        let start = self.at_or_before(current.start - chrono::Duration::microseconds(1))?;
        Some(Period {
            start,
            end: current.start,
        })
    }

    /// `period` is one of this schedule's periods (a manual run of a past one).
    pub fn is_period(&self, period: Period) -> bool {
        self.period_holding(period.start) == Some(period)
    }
}

/// A closed-open span of recording time: `start <= recorded_at < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Period {
    pub fn holds(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn monthly_in_berlin_follows_the_zone_across_summer_time() {
        let t = Timing::new("monthly", None, "Europe/Berlin", saved()).unwrap();
        let periods = t.due(
            utc("2027-02-10T12:00:00Z"),
            None,
            utc("2027-05-01T00:00:00Z"),
            10,
        );
        let starts: Vec<String> = periods.iter().map(|p| p.start.to_rfc3339()).collect();
        // February starts at 23:00 UTC (CET), April at 22:00 UTC (CEST); April is still running.
        assert_eq!(
            starts,
            [
                "2027-01-31T23:00:00+00:00",
                "2027-02-28T23:00:00+00:00",
                "2027-03-31T22:00:00+00:00"
            ]
        );
        assert_eq!(periods[2].end, utc("2027-04-30T22:00:00Z"));
        for pair in periods.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "no gap, no overlap");
        }
    }

    #[test]
    fn daily_periods_on_the_change_days_are_23_and_25_hours() {
        let t = Timing::new("daily", None, "Europe/Berlin", saved()).unwrap();
        let spring = t.period_holding(utc("2027-03-28T12:00:00Z")).unwrap();
        assert_eq!(spring.start, utc("2027-03-27T23:00:00Z"));
        assert_eq!(spring.end - spring.start, chrono::Duration::hours(23));
        let autumn = t.period_holding(utc("2027-10-31T12:00:00Z")).unwrap();
        assert_eq!(autumn.start, utc("2027-10-30T22:00:00Z"));
        assert_eq!(autumn.end - autumn.start, chrono::Duration::hours(25));
    }

    #[test]
    fn a_time_in_the_gap_runs_right_after_it_and_one_in_the_overlap_once() {
        // 02:30 does not exist on 2027-03-28 in Berlin: it runs at 03:00 local (01:00 UTC).
        let t = Timing::new("cron", Some("30 2 * * *"), "Europe/Berlin", saved()).unwrap();
        let after = t.next_after(utc("2027-03-27T12:00:00Z")).unwrap();
        assert_eq!(after, utc("2027-03-28T01:00:00Z"));
        // 02:30 happens twice on 2027-10-31: once.
        let first = t.next_after(utc("2027-10-30T12:00:00Z")).unwrap();
        let second = t.next_after(first).unwrap();
        assert_eq!(first, utc("2027-10-31T00:30:00Z"));
        assert_eq!(second, utc("2027-11-01T01:30:00Z"));
    }

    #[test]
    fn periods_tile_time_whatever_the_cadence() {
        for (cadence, expr, zone) in [
            ("daily", None, "America/New_York"),
            ("weekly", None, "Australia/Lord_Howe"),
            ("cron", Some("15 */6 * * *"), "Europe/Berlin"),
            ("cron", Some("0 1 * * 0"), "Asia/Kolkata"),
        ] {
            let t = Timing::new(cadence, expr, zone, saved()).unwrap();
            let from = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
            let periods = t.due(from, None, from + chrono::Duration::days(400), 2000);
            assert!(periods.len() > 50, "{cadence} {zone}");
            assert!(periods[0].holds(from));
            for pair in periods.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "{cadence} {zone}");
                assert!(pair[0].start < pair[0].end);
            }
            // Every instant is in the period that holds it.
            for p in &periods {
                assert_eq!(t.period_holding(p.start), Some(*p));
                assert_eq!(
                    t.period_holding(p.end - chrono::Duration::microseconds(1)),
                    Some(*p)
                );
                assert!(t.is_period(*p));
            }
        }
    }

    #[test]
    fn catching_up_resumes_after_the_last_planned_period() {
        let t = Timing::new("daily", None, "UTC", saved()).unwrap();
        let starts = utc("2027-01-01T10:00:00Z");
        let now = utc("2027-01-04T01:00:00Z");
        let all = t.due(starts, None, now, 10);
        assert_eq!(all.len(), 3);
        let rest = t.due(starts, Some(all[0].end), now, 10);
        assert_eq!(rest, all[1..]);
        assert_eq!(t.due(starts, Some(all[2].end), now, 10), []);
        // A timing changed after a period ended at 00:00 to one at 06:00: the first period
        // of the new timing starts where the last planned one ended.
        let six = Timing::new("cron", Some("0 6 * * *"), "UTC", saved()).unwrap();
        let next = six.due(starts, Some(all[0].end), now, 10);
        assert_eq!(next[0].start, all[0].end);
        assert_eq!(next[0].end, utc("2027-01-02T06:00:00Z"));
        assert_eq!(t.last_complete(now), Some(all[2]));
        assert_eq!(t.due(starts, None, now, 2), all[..2]);
    }

    #[test]
    fn bad_timings_are_refused_with_how_to_fix_them() {
        let e = |c: &str, x: Option<&str>, z: &str| Timing::new(c, x, z, saved()).unwrap_err();
        assert_eq!(
            e("hourly", None, "UTC"),
            TimingError::Cadence("hourly".into())
        );
        assert_eq!(e("cron", None, "UTC"), TimingError::NoExpression);
        assert_eq!(
            e("daily", Some("0 0 * * *"), "UTC"),
            TimingError::UnwantedExpression
        );
        assert!(matches!(
            e("cron", Some("0 0 * *"), "UTC"),
            TimingError::Expression { .. }
        ));
        assert!(matches!(
            e("cron", Some("0 0 0 * * *"), "UTC"),
            TimingError::Expression { .. }
        ));
        assert!(matches!(
            e("cron", Some("61 0 * * *"), "UTC"),
            TimingError::Expression { .. }
        ));
        assert_eq!(
            e("cron", Some("* * * * *"), "UTC"),
            TimingError::TooOften("* * * * *".into())
        );
        assert_eq!(
            e("daily", None, "Mars/Olympus"),
            TimingError::Zone("Mars/Olympus".into())
        );
        assert!(e("cron", Some("0 0 31 2 *"), "UTC")
            .to_string()
            .contains("never"));
        let long = format!("0 0 * * {}", ["1"; 60].join(","));
        assert_eq!(e("cron", Some(&long), "UTC"), TimingError::TooLong(127));
    }

    /// The clock of a save in the tests: a fixed day, months before any clock change.
    fn saved() -> DateTime<Utc> {
        utc("2027-01-05T15:00:00Z")
    }

    #[test]
    fn a_timing_too_often_anywhere_in_the_next_year_is_refused_whenever_it_is_saved() {
        // Two minutes apart once a year, on the night summer time starts (01:58 CET, then
        // 03:00 CEST), and three minutes apart once a day (23:57, then 00:00): refused
        // months before either, and whatever the hour of the save.
        for (expression, zone) in [
            ("0,58 1,3 * * *", "Europe/Berlin"),
            ("0,57 0,2,4,6,8,10,12,14,16,18,20,23 * * *", "UTC"),
        ] {
            for hour in [1, 15] {
                let at = saved() + chrono::Duration::hours(hour - 15);
                assert_eq!(
                    Timing::new("cron", Some(expression), zone, at).unwrap_err(),
                    TimingError::TooOften(expression.into()),
                    "{expression} saved at {at}"
                );
                // As stored, the same timing is read back on any day: it runs as saved.
                assert!(Timing::stored("cron", Some(expression), zone).is_ok());
            }
        }
        // Every five minutes, and a timing whose first occurrence is years away, pass.
        for expression in ["*/5 * * * *", "0 12 29 2 *"] {
            assert!(Timing::new("cron", Some(expression), "Europe/Berlin", saved()).is_ok());
        }
        // Every minute, but only on 29 February (the next in 2028): refused all the same.
        assert!(matches!(
            Timing::new("cron", Some("* * 29 2 *"), "UTC", saved()),
            Err(TimingError::TooOften(_))
        ));
    }
}
