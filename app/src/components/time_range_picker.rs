//! Date range: presets, or a custom start/end typed as `YYYY-MM-DD HH:MM` (24-hour, the form
//! the table shows) and read in the zone the table shows (UTC or the `tz` of the URL). The
//! button says the range chosen; a preset closes the dropdown.

use leptos::prelude::*;

use crate::chips::window_label;
use crate::chunks::Chunk;
use crate::components::{panel_once_opened, track_open};
use crate::console_state::ConsoleNav;
use crate::filter::{RelativeRange, TimeBound, TimeWindow};
use crate::format::{date_string, minutes_string};
use crate::hydration::Hydrated;
use crate::time_zone::{from_wall_clock, parse_minutes, to_wall_clock};

/// A bound as the custom range's input shows it in `tz`: `2026-11-25 14:03`.
fn input_value(b: Option<TimeBound>, tz: Option<&str>) -> String {
    match b {
        None => String::new(),
        Some(TimeBound::Date(d)) => format!("{} 00:00", date_string(d)),
        Some(TimeBound::Instant(t)) => minutes_string(to_wall_clock(&t, tz), ' '),
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
        let _ = details.remove_attribute("open");
    }
}

fn parse_input(value: &str, tz: Option<&str>, what: &str) -> Result<Option<TimeBound>, String> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let wall = parse_minutes(value.trim()).ok_or_else(|| {
        format!("The {what} is not a date and time: write it as 2026-11-25 14:03 (24-hour).")
    })?;
    from_wall_clock(wall, tz)
        .map(|t| Some(TimeBound::Instant(t)))
        .ok_or_else(|| format!("The {what} cannot be read in this time zone."))
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
        start.set(input_value(from, f.tz.as_deref()));
        // A date `to` covers its whole day: show the end of it.
        end.set(match to {
            Some(TimeBound::Date(d)) => format!("{} 23:59", date_string(d)),
            other => input_value(other, f.tz.as_deref()),
        });
    });
    let preset = move |ev: leptos::ev::MouseEvent, w: TimeWindow| {
        problem.set(None);
        close_picker(&ev);
        nav.update_filter(|f| f.time = w);
    };
    let apply = move |ev: leptos::ev::MouseEvent| {
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
        <fieldset class="custom-range">
            <legend>"Custom range (" {zone_label} ")"</legend>
            <label>
                <span class="control-label">"Start"</span>
                <input type="text" data-testid="range-start" inputmode="numeric"
                    placeholder="YYYY-MM-DD HH:MM" autocomplete="off"
                    prop:value=move || start.get()
                    on:input=move |ev| start.set(event_target_value(&ev))/>
            </label>
            <label>
                <span class="control-label">"End"</span>
                <input type="text" data-testid="range-end" inputmode="numeric"
                    placeholder="YYYY-MM-DD HH:MM" autocomplete="off"
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
        let b = parse_input("2026-11-25 14:03", None, "start")
            .unwrap()
            .unwrap();
        assert_eq!(b.to_string(), "2026-11-25T14:03:00Z");
        assert_eq!(input_value(Some(b), None), "2026-11-25 14:03");
        // The form a datetime-local input or a pasted ISO time uses is read too.
        assert_eq!(
            parse_input("2026-11-25T14:03", None, "start").unwrap(),
            Some(b)
        );
        assert!(parse_input("yesterday", None, "start").is_err());
        assert_eq!(parse_input("  ", None, "end"), Ok(None));
    }
}
