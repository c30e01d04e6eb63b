//! A filter's time window as instants. Dates (`from=2026-11-01`) are local days in the filter's
//! time zone: PostgreSQL's zone database turns them into instants (`storage::query::snapshot`),
//! everything else is decided here.

use app::filter::{Filter, FilterError, TimeBound, TimeWindow};
use chrono::{DateTime, NaiveDateTime, Utc};

/// The time window as instants: `from` inclusive, `to` exclusive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// The local times to resolve in the filter's zone, in order: the start of the `from` day and
/// the end of the `to` day, for whichever of them is a date.
pub fn local_times(f: &Filter) -> Vec<NaiveDateTime> {
    let day_start = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight exists");
    match f.time {
        TimeWindow::Between { from, to } => [
            from.and_then(|b| match b {
                TimeBound::Date(d) => Some(day_start(d)),
                TimeBound::Instant(_) => None,
            }),
            to.and_then(|b| match b {
                TimeBound::Date(d) => Some(day_start(d + chrono::Days::new(1))),
                TimeBound::Instant(_) => None,
            }),
        ]
        .into_iter()
        .flatten()
        .collect(),
        _ => Vec::new(),
    }
}

/// The window at `now`, given [`local_times`] resolved to instants (in the same order).
pub fn bounds(
    f: &Filter,
    now: DateTime<Utc>,
    resolved: Vec<DateTime<Utc>>,
) -> Result<Bounds, FilterError> {
    let mut resolved = resolved.into_iter();
    let bounds = match f.time {
        TimeWindow::All => Bounds::default(),
        TimeWindow::Last(r) => Bounds {
            from: Some(now - r.duration()),
            to: None,
        },
        TimeWindow::Between { from, to } => {
            let mut pick = |b: Option<TimeBound>| match b {
                None => None,
                Some(TimeBound::Instant(t)) => Some(t),
                Some(TimeBound::Date(_)) => resolved.next(),
            };
            let from = pick(from);
            let to = pick(to);
            Bounds { from, to }
        }
    };
    if let (Some(a), Some(b)) = (bounds.from, bounds.to) {
        if a > b {
            return Err(FilterError::new("to", "the range ends before it starts"));
        }
    }
    Ok(bounds)
}

/// `resolved` as it stands at `now`: `last=` windows move with the clock, others are fixed.
pub fn moving(f: &Filter, resolved: Bounds, now: DateTime<Utc>) -> Bounds {
    match f.time {
        TimeWindow::Last(r) => Bounds {
            from: Some(now - r.duration()),
            to: None,
        },
        _ => resolved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_take_resolved_instants_and_instants_stay() {
        let f = Filter::parse("from=2026-11-01&to=2026-11-02T00:00:00Z").unwrap();
        let times = local_times(&f);
        assert_eq!(times.len(), 1);
        let start = "2026-10-31T23:00:00Z".parse().unwrap();
        let b = bounds(&f, Utc::now(), vec![start]).unwrap();
        assert_eq!(b.from, Some(start));
        assert_eq!(b.to, Some("2026-11-02T00:00:00Z".parse().unwrap()));
        // A day that starts, in its zone, after the instant the range ends.
        let f = Filter::parse("from=2026-11-02&to=2026-11-02T12:00:00Z").unwrap();
        let late_start = "2026-11-02T13:00:00Z".parse().unwrap();
        assert_eq!(
            bounds(&f, Utc::now(), vec![late_start]).unwrap_err().param,
            "to"
        );
    }
}
