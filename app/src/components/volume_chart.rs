//! The volume chart above the table: entries over time under the filter on screen, stacked by
//! status, one bar per bucket (a minute to a year, chosen by the server from the window). Drag
//! across bars, or click one, to set the range to them. Counted exactly (the bars add up to
//! the count); while Live is on it is asked again at most every [`LIVE_EVERY`]. Its space is
//! kept while it loads, so the table below never jumps. A chart the server stopped at its
//! statement timeout (text matched by millions of entries) says so in that space.

use std::time::Duration;

use leptos::prelude::*;

use crate::api::volume_over_time;
use crate::console_state::ConsoleNav;
use crate::error::ConsoleError;
use crate::filter::{CanonicalFilter, TimeBound, TimeWindow};
use crate::format::{format_wall, thousands};
use crate::hydration::Hydrated;
use crate::live_feed::LiveFeed;
use crate::model::Volume;

/// How often a live chart is asked again while entries arrive.
const LIVE_EVERY: Duration = Duration::from_secs(5);

/// `refresh`: bumped by the page's Refresh button, which asks the chart again too.
#[component]
pub fn VolumeChart(refresh: RwSignal<u32>) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let feed = expect_context::<LiveFeed>();
    let filter = Memo::new(move |_| {
        nav.query
            .with(|q| q.filter.as_ref().ok().map(CanonicalFilter::from))
    });
    // Live arrivals ask again, at most every LIVE_EVERY.
    let tick = RwSignal::new(0u32);
    let pending = StoredValue::new(false);
    Effect::new(move |_| {
        let received = feed.received.get();
        if received == 0 || pending.get_value() {
            return;
        }
        pending.set_value(true);
        set_timeout(
            move || {
                pending.set_value(false);
                tick.update(|t| *t += 1);
            },
            LIVE_EVERY,
        );
    });
    let chart = LocalResource::new(move || {
        let asked = filter.get();
        tick.track();
        refresh.track();
        async move {
            match asked {
                Some(f) => volume_over_time(f).await,
                None => Ok(None),
            }
        }
    });
    // The last answer stays drawn while the next one is asked; an answer that failed takes the
    // bars away (they were another filter's), and one the server stopped says so.
    let shown = RwSignal::new(None::<Volume>);
    let stopped = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(answer) = chart.get() {
            stopped.set(matches!(answer, Err(ConsoleError::TooSlow)));
            shown.set(answer.ok().flatten());
        }
    });
    view! {
        <div class="volume-chart" data-testid="volume-chart">
            {move || shown.get().filter(|v| v.buckets.iter().any(|b| b.total() > 0)).map(|v| view! { <Bars volume=v/> })}
            {move || stopped.get().then(|| view! {
                <p class="volume-stopped" role="status" data-testid="volume-stopped">
                    "The chart of this filter ran longer than the server allows and was stopped. \
                     Narrow the time range or the search to see it; the entries below are listed as usual."
                </p>
            })}
        </div>
    }
}

/// A bucket's span in words, in the zone the table shows.
fn bucket_words(v: &Volume, i: usize, zone: Option<&str>) -> String {
    let b = &v.buckets[i];
    let end = b.start + chrono::Duration::seconds(v.bucket_seconds);
    format!(
        "{} – {}: {} succeeded, {} failed",
        format_wall(&b.start, zone),
        format_wall(&end, zone),
        thousands(b.success),
        thousands(b.failure)
    )
}

#[component]
fn Bars(volume: Volume) -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let Hydrated(hydrated) = expect_context::<Hydrated>();
    let zone = Memo::new(move |_| hydrated.get().then(|| nav.filter().tz).flatten());
    let n = volume.buckets.len().max(1);
    let max = volume
        .buckets
        .iter()
        .map(|b| b.total())
        .max()
        .unwrap_or(1)
        .max(1);
    let total: i64 = volume.buckets.iter().map(|b| b.total()).sum();
    let area = NodeRef::<leptos::html::Div>::new();
    // The buckets under a drag: where it started, where it is.
    let drag = RwSignal::new(None::<(usize, usize)>);
    // The chart's drawing takes no pointer events (CSS): every event's target is the area
    // itself, so `offset_x` is measured from its left edge.
    let index_at = move |offset_x: i32| -> usize {
        let width = area
            .get_untracked()
            .map_or(1, |el| el.client_width())
            .max(1);
        let x = f64::from(offset_x) / f64::from(width);
        ((x * n as f64).floor().max(0.0) as usize).min(n - 1)
    };
    // The bar under the pointer, read out below the chart.
    let hovered = RwSignal::new(None::<usize>);
    let v = StoredValue::new(volume.clone());
    let select = move |a: usize, b: usize| {
        if let Some((from, to)) = v.with_value(|v| v.range_of(a, b)) {
            nav.update_filter(|f| {
                f.time = TimeWindow::Between {
                    from: Some(TimeBound::Instant(from)),
                    to: Some(TimeBound::Instant(to)),
                }
            });
        }
    };
    let label = format!(
        "Entries over time: {} in {} bars; drag across bars, or click one, to show only that time",
        thousands(total),
        n
    );
    let bars = volume
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let x = i as f64 * 10.0;
            let hs = b.success as f64 / max as f64 * 96.0;
            let hf = b.failure as f64 / max as f64 * 96.0;
            view! {
                <g class="bar" data-start=b.start.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                    data-success=b.success.to_string() data-failure=b.failure.to_string()
                    class:hovered=move || hovered.get() == Some(i)>
                    <rect class="hit" x=x y="0" width="10" height="100"></rect>
                    <rect class="success" x=x + 1.0 y=100.0 - hs width="8" height=hs></rect>
                    <rect class="failure" x=x + 1.0 y=100.0 - hs - hf width="8" height=hf></rect>
                </g>
            }
        })
        .collect_view();
    let first = volume.buckets.first().map(|b| b.start);
    let last = volume
        .buckets
        .last()
        .map(|b| b.start + chrono::Duration::seconds(volume.bucket_seconds));
    view! {
        <div class="volume-area" node_ref=area role="img" aria-label=label
            on:pointerdown=move |ev| {
                let i = index_at(ev.offset_x());
                drag.set(Some((i, i)));
                if let Some(el) = area.get_untracked() {
                    let _ = el.set_pointer_capture(ev.pointer_id());
                }
            }
            on:pointermove=move |ev| {
                let i = index_at(ev.offset_x());
                hovered.set(Some(i));
                if let Some((a, _)) = drag.get_untracked() {
                    drag.set(Some((a, i)));
                }
            }
            on:pointerleave=move |_| hovered.set(None)
            on:pointerup=move |_| {
                if let Some((a, b)) = drag.get_untracked() {
                    drag.set(None);
                    select(a, b);
                }
            }
            on:pointercancel=move |_| drag.set(None)
        >
            <svg viewBox=format!("0 0 {} 100", n * 10) preserveAspectRatio="none" aria-hidden="true">
                {bars}
                {move || drag.get().map(|(a, b)| {
                    let (lo, hi) = (a.min(b), a.max(b));
                    view! { <rect class="selection" x=lo as f64 * 10.0 y="0" width=(hi - lo + 1) as f64 * 10.0 height="100"></rect> }
                })}
            </svg>
        </div>
        <div class="volume-axis" aria-hidden="true">
            <span>{move || first.map(|t| format_wall(&t, zone.get().as_deref()))}</span>
            <span class="volume-readout" data-testid="volume-readout">{move || match hovered.get() {
                Some(i) => v.with_value(|v| bucket_words(v, i, zone.get().as_deref())),
                None => String::new(),
            }}</span>
            <span class="volume-legend"><span class="key success"></span>"Success "<span class="key failure"></span>"Failed"</span>
            <span>{move || last.map(|t| format_wall(&t, zone.get().as_deref()))}</span>
        </div>
    }
}
