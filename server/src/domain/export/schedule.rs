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

impl Timing {
    pub fn new(cadence: &str, expression: Option<&str>, zone: &str) -> Result<Self, TimingError> {
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
        let timing = Timing {
            cadence,
            expression: expression.map(String::from),
            zone,
            cron,
        };
        // Occurs at all, and not too often (checked over the next few occurrences).
        let now = Utc::now();
        let mut at = timing
            .next_after(now)
            .ok_or_else(|| TimingError::Never(text.into()))?;
        for _ in 0..16 {
            let next = timing
                .next_after(at)
                .ok_or_else(|| TimingError::Never(text.into()))?;
            if next - at < SHORTEST {
                return Err(TimingError::TooOften(text.into()));
            }
            at = next;
        }
        Ok(timing)
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
        let t = Timing::new("monthly", None, "Europe/Berlin").unwrap();
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
        let t = Timing::new("daily", None, "Europe/Berlin").unwrap();
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
        let t = Timing::new("cron", Some("30 2 * * *"), "Europe/Berlin").unwrap();
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
            let t = Timing::new(cadence, expr, zone).unwrap();
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
        let t = Timing::new("daily", None, "UTC").unwrap();
        let starts = utc("2027-01-01T10:00:00Z");
        let now = utc("2027-01-04T01:00:00Z");
        let all = t.due(starts, None, now, 10);
        assert_eq!(all.len(), 3);
        let rest = t.due(starts, Some(all[0].end), now, 10);
        assert_eq!(rest, all[1..]);
        assert_eq!(t.due(starts, Some(all[2].end), now, 10), []);
        // A timing changed after a period ended at 00:00 to one at 06:00: the first period
        // of the new timing starts where the last planned one ended.
        let six = Timing::new("cron", Some("0 6 * * *"), "UTC").unwrap();
        let next = six.due(starts, Some(all[0].end), now, 10);
        assert_eq!(next[0].start, all[0].end);
        assert_eq!(next[0].end, utc("2027-01-02T06:00:00Z"));
        assert_eq!(t.last_complete(now), Some(all[2]));
        assert_eq!(t.due(starts, None, now, 2), all[..2]);
    }

    #[test]
    fn bad_timings_are_refused_with_how_to_fix_them() {
        let e = |c: &str, x: Option<&str>, z: &str| Timing::new(c, x, z).unwrap_err();
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
    }
}
