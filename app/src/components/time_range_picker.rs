//! Date range: presets, or a custom start/end read in the zone the table shows (UTC or the
//! `tz` of the URL).

use leptos::prelude::*;

use crate::chunks::Chunk;
use crate::components::{panel_once_opened, track_open};
use crate::console_state::ConsoleNav;
use crate::filter::{RelativeRange, TimeBound, TimeWindow};
use crate::time_zone::{
    date_string, from_wall_clock, minutes_string, parse_minutes, to_wall_clock,
};

fn window_label(w: &TimeWindow) -> String {
    match w {
        TimeWindow::All => "All time".into(),
        TimeWindow::Last(r) => r.label().into(),
        TimeWindow::Between { .. } => "Custom range".into(),
    }
}

/// A bound as the value of a `datetime-local` input in `tz`.
fn input_value(b: Option<TimeBound>, tz: Option<&str>) -> String {
    match b {
        None => String::new(),
        Some(TimeBound::Date(d)) => format!("{}T00:00", date_string(d)),
        Some(TimeBound::Instant(t)) => minutes_string(to_wall_clock(&t, tz), 'T'),
    }
}

fn parse_input(value: &str, tz: Option<&str>, what: &str) -> Result<Option<TimeBound>, String> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let wall =
        parse_minutes(value.trim()).ok_or_else(|| format!("The {what} is not a date and time."))?;
    from_wall_clock(wall, tz)
        .map(|t| Some(TimeBound::Instant(t)))
        .ok_or_else(|| format!("The {what} cannot be read in this time zone."))
}

#[component]
pub fn TimeRangePicker() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let open = RwSignal::new(false);
    view! {
        <details class="picker" on:toggle=track_open(open)>
            <summary data-testid="time-picker">
                "Date range: " {move || window_label(&nav.filter().time)}
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
        start.set(input_value(from, f.tz.as_deref()));
        // A date `to` covers its whole day: show the end of it.
        end.set(match to {
            Some(TimeBound::Date(d)) => format!("{}T23:59", date_string(d)),
            other => input_value(other, f.tz.as_deref()),
        });
    });
    let preset = move |w: TimeWindow| {
        problem.set(None);
        nav.update_filter(|f| f.time = w);
    };
    let apply = move |_| {
        let tz = nav.filter_untracked().tz;
        let from = parse_input(&start.get_untracked(), tz.as_deref(), "start");
        let to = parse_input(&end.get_untracked(), tz.as_deref(), "end");
        match (from, to) {
            (Err(m), _) | (_, Err(m)) => problem.set(Some(m)),
            (Ok(None), Ok(None)) => problem.set(Some("Enter a start, an end, or both.".into())),
            (Ok(Some(TimeBound::Instant(a))), Ok(Some(TimeBound::Instant(b)))) if a >= b => {
                problem.set(Some("The end must be after the start.".into()))
            }
            (Ok(from), Ok(to)) => {
                problem.set(None);
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
                    on:click=move |_| preset(TimeWindow::Last(r))>{r.label()}</button>
            }).collect_view()}
            <button type="button"
                aria-pressed=move || (nav.filter().time == TimeWindow::All).to_string()
                on:click=move |_| preset(TimeWindow::All)>"All time"</button>
        </div>
        <fieldset class="custom-range">
            <legend>"Custom range (" {zone_label} ")"</legend>
            <label>
                <span class="control-label">"Start"</span>
                <input type="datetime-local" data-testid="range-start"
                    prop:value=move || start.get()
                    on:input=move |ev| start.set(event_target_value(&ev))/>
            </label>
            <label>
                <span class="control-label">"End"</span>
                <input type="datetime-local" data-testid="range-end"
                    prop:value=move || end.get()
                    on:input=move |ev| end.set(event_target_value(&ev))/>
            </label>
            <button type="button" class="primary" data-testid="range-apply" on:click=apply>"Apply"</button>
            {move || problem.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_inputs_read_in_utc() {
        let b = parse_input("2026-11-25T14:03", None, "start")
            .unwrap()
            .unwrap();
        assert_eq!(b.to_string(), "2026-11-25T14:03:00Z");
        assert_eq!(input_value(Some(b), None), "2026-11-25T14:03");
        assert!(parse_input("yesterday", None, "start").is_err());
        assert_eq!(parse_input("  ", None, "end"), Ok(None));
    }
}
