//! Date range: presets, or a custom start/end typed as `YYYY-MM-DD` (the whole day),
//! `YYYY-MM-DD HH:MM` (24-hour, the form the table shows) or with seconds, read in the zone the
//! table shows (UTC or the `tz` of the URL). An end includes all of its day, minute or second.
//! The button says the range chosen; a preset closes the dropdown.

use leptos::prelude::*;

use crate::chips::{inclusive_end, window_label};
use crate::chunks::Chunk;
use crate::components::{panel_once_opened, track_open};
use crate::console_state::ConsoleNav;
use crate::filter::{RelativeRange, TimeBound, TimeWindow};
use crate::format::{date_string, wall_string};
use crate::hydration::Hydrated;
use crate::time_zone::{from_wall_clock, parse_date, parse_wall, to_wall_clock};

/// A bound as the custom range's input shows it in `tz`: `2026-11-25 14:03`, a whole day
/// `2026-11-25`, and an end as the last minute or second it includes (as typed).
fn input_value(b: Option<TimeBound>, tz: Option<&str>, end: bool) -> String {
    match b {
        None => String::new(),
        Some(TimeBound::Date(d)) => date_string(d),
        Some(TimeBound::Instant(t)) if end => match inclusive_end(&t) {
            Some(last) => wall_string(to_wall_clock(&last, tz)),
            None => wall_string(to_wall_clock(&t, tz)),
        },
        Some(TimeBound::Instant(t)) => wall_string(to_wall_clock(&t, tz)),
    }
}

/// A calendar period: this or last month or quarter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Calendar {
    ThisMonth,
    LastMonth,
    ThisQuarter,
    LastQuarter,
}

impl Calendar {
    const ALL: [Calendar; 4] = [
        Calendar::ThisMonth,
        Calendar::LastMonth,
        Calendar::ThisQuarter,
        Calendar::LastQuarter,
    ];

    fn label(self) -> &'static str {
        match self {
            Calendar::ThisMonth => "This month",
            Calendar::LastMonth => "Last month",
            Calendar::ThisQuarter => "This quarter",
            Calendar::LastQuarter => "Last quarter",
        }
    }

    /// The whole days of the period around `today` (in the zone shown): a month or quarter
    /// that has not ended yet ends today.
    fn window(self, today: chrono::NaiveDate) -> TimeWindow {
        use chrono::{Datelike, Months, NaiveDate};
        let month_start = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("a month");
        let quarter_start =
            NaiveDate::from_ymd_opt(today.year(), (today.month() - 1) / 3 * 3 + 1, 1)
                .expect("a quarter");
        let day_before = |d: NaiveDate| d.pred_opt().expect("a day before");
        let (from, to) = match self {
            Calendar::ThisMonth => (month_start, today),
            Calendar::LastMonth => (month_start - Months::new(1), day_before(month_start)),
            Calendar::ThisQuarter => (quarter_start, today),
            Calendar::LastQuarter => (quarter_start - Months::new(3), day_before(quarter_start)),
        };
        TimeWindow::Between {
            from: Some(TimeBound::Date(from)),
            to: Some(TimeBound::Date(to)),
        }
    }
}

/// Closes the picker holding the element an event came from.
fn close_picker(ev: &leptos::ev::MouseEvent) {
    use wasm_bindgen::JsCast;
    let details = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|el| el.closest("details").ok().flatten());
    if let Some(details) = details {
        crate::components::focus_summary_of(&details, true);
        let _ = details.remove_attribute("open");
    }
}

/// What was typed as a bound: a plain date is the whole day (in the filter's zone), a time is
/// that minute or second; an end includes all of its minute or second.
fn parse_input(
    value: &str,
    tz: Option<&str>,
    what: &str,
    end: bool,
) -> Result<Option<TimeBound>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if let Some(day) = parse_date(value) {
        return Ok(Some(TimeBound::Date(day)));
    }
    let (wall, unit) = parse_wall(value).ok_or_else(|| {
        format!(
            "The {what} is not a date or a date and time: write it as 2026-11-25, \
             2026-11-25 14:03 or 2026-11-25 14:03:07 (24-hour)."
        )
    })?;
    let t = from_wall_clock(wall, tz)
        .ok_or_else(|| format!("The {what} cannot be read in this time zone."))?;
    Ok(Some(TimeBound::Instant(if end { t + unit } else { t })))
}

#[component]
pub fn TimeRangePicker() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let Hydrated(hydrated) = expect_context::<Hydrated>();
    let open = RwSignal::new(false);
    let label = move || {
        let f = nav.filter();
        let zone = if hydrated.get() { f.tz.clone() } else { None };
        window_label(&f.time, zone.as_deref())
    };
    view! {
        <details class="picker" on:toggle=track_open(open)>
            <summary data-testid="time-picker">
                "Date range: " <span class="picker-value">{label}</span>
            </summary>
            {panel_once_opened(open, "picker-panel time-panel", |open| Box::pin(time_panel(open)))}
        </details>
    }
}

#[wasm_split_helpers::wasm_split(time_panel, fallible)]
fn time_panel(_open: RwSignal<bool>) -> Chunk {
    Ok(view! { <TimePanel/> }.into_any())
}

#[component]
fn TimePanel() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let start = RwSignal::new(String::new());
    let end = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    // The inputs follow the URL (and its zone).
    Effect::new(move |_| {
        let f = nav.filter();
        let (from, to) = match f.time {
            TimeWindow::Between { from, to } => (from, to),
            _ => (None, None),
        };
        start.set(input_value(from, f.tz.as_deref(), false));
        end.set(input_value(to, f.tz.as_deref(), true));
    });
    let preset = move |ev: leptos::ev::MouseEvent, w: TimeWindow| {
        problem.set(None);
        close_picker(&ev);
        nav.update_filter(|f| f.time = w);
    };
    let apply = move |ev: leptos::ev::MouseEvent| {
        let tz = nav.filter_untracked().tz;
        let from = parse_input(&start.get_untracked(), tz.as_deref(), "start", false);
        let to = parse_input(&end.get_untracked(), tz.as_deref(), "end", true);
        match (from, to) {
            (Err(m), _) | (_, Err(m)) => problem.set(Some(m)),
            (Ok(None), Ok(None)) => problem.set(Some("Enter a start, an end, or both.".into())),
            (Ok(Some(TimeBound::Instant(a))), Ok(Some(TimeBound::Instant(b)))) if a >= b => {
                problem.set(Some("The end must be after the start.".into()))
            }
            (Ok(Some(TimeBound::Date(a))), Ok(Some(TimeBound::Date(b)))) if a > b => {
                problem.set(Some("The end must not be before the start.".into()))
            }
            (Ok(from), Ok(to)) => {
                problem.set(None);
                close_picker(&ev);
                nav.update_filter(|f| f.time = TimeWindow::Between { from, to });
            }
        }
    };
    let zone_label = move || nav.filter().tz.unwrap_or_else(|| "UTC".into());
    view! {
        <div class="presets" role="group" aria-label="Presets">
            {RelativeRange::ALL.into_iter().map(|r| view! {
                <button type="button"
                    aria-pressed=move || (nav.filter().time == TimeWindow::Last(r)).to_string()
                    on:click=move |ev| preset(ev, TimeWindow::Last(r))>{r.label()}</button>
            }).collect_view()}
            <button type="button"
                aria-pressed=move || (nav.filter().time == TimeWindow::All).to_string()
                on:click=move |ev| preset(ev, TimeWindow::All)>"All time"</button>
        </div>
        <div class="presets" role="group" aria-label="Calendar periods">
            {Calendar::ALL.into_iter().map(|c| {
                // Today in the zone the table shows (the browser knows the offsets).
                let window = move || {
                    let tz = nav.filter().tz;
                    let now = chrono::DateTime::from_timestamp_millis(js_now_millis()).unwrap_or_default();
                    c.window(to_wall_clock(&now, tz.as_deref()).date())
                };
                view! {
                    <button type="button" data-testid=format!("preset-{}", c.label().to_lowercase().replace(' ', "-"))
                        aria-pressed=move || (nav.filter().time == window()).to_string()
                        on:click=move |ev| preset(ev, window())>{c.label()}</button>
                }
            }).collect_view()}
        </div>
        <fieldset class="custom-range">
            <legend>"Custom range (" {zone_label} ")"</legend>
            <label>
                <span class="control-label">"Start"</span>
                <input type="text" data-testid="range-start" inputmode="numeric"
                    placeholder="YYYY-MM-DD or YYYY-MM-DD HH:MM" autocomplete="off"
                    prop:value=move || start.get()
                    on:input=move |ev| start.set(event_target_value(&ev))/>
            </label>
            <input type="date" class="calendar" aria-label="Pick the start day on a calendar"
                data-testid="calendar-start"
                on:change=move |ev| start.set(event_target_value(&ev))/>
            <label>
                <span class="control-label">"End"</span>
                <input type="text" data-testid="range-end" inputmode="numeric"
                    placeholder="YYYY-MM-DD or YYYY-MM-DD HH:MM" autocomplete="off"
                    prop:value=move || end.get()
                    on:input=move |ev| end.set(event_target_value(&ev))/>
            </label>
            <input type="date" class="calendar" aria-label="Pick the end day on a calendar"
                data-testid="calendar-end"
                on:change=move |ev| end.set(event_target_value(&ev))/>
            <button type="button" class="primary" data-testid="range-apply" on:click=apply>"Apply"</button>
            {move || problem.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
        </fieldset>
    }
}

/// The browser's clock, in milliseconds (0 on the server, which never draws this panel).
fn js_now_millis() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        chrono::Utc::now().timestamp_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_periods_are_whole_days() {
        let d = |s: &str| parse_date(s).unwrap();
        let window = |c: Calendar, today: &str| match c.window(d(today)) {
            TimeWindow::Between {
                from: Some(TimeBound::Date(a)),
                to: Some(TimeBound::Date(b)),
            } => (a.to_string(), b.to_string()),
            other => panic!("{other:?}"),
        };
        let t = "2026-11-25";
        assert_eq!(
            window(Calendar::ThisMonth, t),
            ("2026-11-01".into(), "2026-11-25".into())
        );
        assert_eq!(
            window(Calendar::LastMonth, t),
            ("2026-10-01".into(), "2026-10-31".into())
        );
        assert_eq!(
            window(Calendar::ThisQuarter, t),
            ("2026-10-01".into(), "2026-11-25".into())
        );
        assert_eq!(
            window(Calendar::LastQuarter, t),
            ("2026-07-01".into(), "2026-09-30".into())
        );
        // Across a year, and a leap February.
        assert_eq!(
            window(Calendar::LastMonth, "2028-03-10"),
            ("2028-02-01".into(), "2028-02-29".into())
        );
        assert_eq!(
            window(Calendar::LastQuarter, "2027-02-01"),
            ("2026-10-01".into(), "2026-12-31".into())
        );
        assert_eq!(
            window(Calendar::LastMonth, "2027-01-31"),
            ("2026-12-01".into(), "2026-12-31".into())
        );
    }

    #[test]
    fn custom_inputs_read_in_utc() {
        let b = parse_input("2026-11-25 14:03", None, "start", false)
            .unwrap()
            .unwrap();
        assert_eq!(b.to_string(), "2026-11-25T14:03:00Z");
        assert_eq!(input_value(Some(b), None, false), "2026-11-25 14:03");
        // The form a datetime-local input or a pasted ISO time uses is read too.
        assert_eq!(
            parse_input("2026-11-25T14:03", None, "start", false).unwrap(),
            Some(b)
        );
        assert!(parse_input("yesterday", None, "start", false).is_err());
        assert_eq!(parse_input("  ", None, "end", true), Ok(None));
    }

    #[test]
    fn an_end_includes_its_whole_day_minute_or_second() {
        let day = parse_input("2026-11-25", None, "end", true)
            .unwrap()
            .unwrap();
        assert_eq!(day, TimeBound::Date(parse_date("2026-11-25").unwrap()));
        assert_eq!(input_value(Some(day), None, true), "2026-11-25");
        let minute = parse_input("2026-11-25 23:59", None, "end", true)
            .unwrap()
            .unwrap();
        assert_eq!(minute.to_string(), "2026-11-26T00:00:00Z");
        assert_eq!(input_value(Some(minute), None, true), "2026-11-25 23:59");
        let second = parse_input("2026-11-25 23:59:30", None, "end", true)
            .unwrap()
            .unwrap();
        assert_eq!(second.to_string(), "2026-11-25T23:59:31Z");
        assert_eq!(input_value(Some(second), None, true), "2026-11-25 23:59:30");
        // A start is the instant typed.
        let start = parse_input("2026-11-25 23:59:30", None, "start", false)
            .unwrap()
            .unwrap();
        assert_eq!(start.to_string(), "2026-11-25T23:59:30Z");
    }
}
