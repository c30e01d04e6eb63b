//! `trailkeep-bench query`, second table: what the console asks besides the page, per filter of
//! the query benchmark. Each read is the function behind its server function (the volume chart,
//! Top values, the user picker's first page counted under the other filters, the quick count
//! above the table), hot cache: the chart and the count `runs` times after 3 warm-up runs, Top
//! values and the picker (seconds each at 10M without a filter) 3 times after one. The chart's
//! first read is timed on its own: the memos are emptied first, so a filter no rollup keeps
//! builds its memo in it (migrations/0036_volume_memos.sql) and the timed runs read it; Top
//! values' warm-up run builds theirs (0037_top_memos.sql).

use std::{future::Future, time::Instant};

use app::filter::Filter;
use sqlx::PgPool;
use trailkeep::storage::query as q;

/// What the console passes: Top values' length, the user picker's page, the count line's cap.
const TOP_VALUES: i64 = app::api::TOP_VALUES;
const USER_PAGE: i64 = app::api::USER_PAGE;
const COUNT_CAP: i64 = app::api::COUNT_CAP;

/// p50 and p95 of `runs` timed calls of `read` (after `warm` untimed ones), in milliseconds.
async fn time<F, Fut>(warm: usize, runs: usize, mut read: F) -> Result<(f64, f64), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut timings = Vec::with_capacity(runs);
    for i in 0..runs + warm {
        let started = Instant::now();
        read().await?;
        if i >= warm {
            timings.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    timings.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p50 = timings[timings.len() / 2];
    let p95 = timings[(timings.len() * 95 / 100).min(timings.len() - 1)];
    Ok((p50, p95))
}

/// Prints one row per case: p50/p95 of the chart, Top values, the user picker and the count.
/// With `chart_only`, Top values and the picker are left out (the columns read "-").
pub async fn console_reads(
    pool: &PgPool,
    cases: &[(&str, String)],
    runs: usize,
    chart_only: bool,
) -> Result<(), String> {
    println!(
        "\nthe console's other reads, per filter: p50 / p95 ms (chart and count: {runs} timed \
         runs after 3 warm-up runs; top values and user picker: 3 after 1)"
    );
    println!(
        "| filter | chart buckets | chart, first read | chart | top values | user picker | count (cap {COUNT_CAP}) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for memos in ["DELETE FROM volume_memos", "DELETE FROM top_memos"] {
        sqlx::query(memos)
            .execute(pool)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut worst: Vec<(f64, String)> = Vec::new();
    for (name, query) in cases {
        let filter = Filter::parse(query).map_err(|e| e.to_string())?;
        let others = Filter {
            users: Vec::new(),
            ..filter.clone()
        };
        let started = Instant::now();
        let buckets = q::volume(pool, &filter)
            .await
            .map_err(|e| format!("{e:?}"))?
            .map_or(0, |v| v.buckets.len());
        let first = started.elapsed().as_secs_f64() * 1000.0;
        let chart = time(3, runs, || async {
            q::volume(pool, &filter)
                .await
                .map(drop)
                .map_err(|e| format!("{e:?}"))
        })
        .await?;
        let (top, users) = if chart_only {
            ((f64::NAN, f64::NAN), (f64::NAN, f64::NAN))
        } else {
            let top = time(1, 3, || async {
                q::top_values(pool, &filter, TOP_VALUES)
                    .await
                    .map(drop)
                    .map_err(|e| format!("{e:?}"))
            })
            .await?;
            let users = time(1, 3, || async {
                q::actor_facet_page(pool, "", &others, USER_PAGE, 0)
                    .await
                    .map(drop)
                    .map_err(|e| format!("{e:?}"))
            })
            .await?;
            (top, users)
        };
        let count = time(3, runs, || async {
            q::count_through(pool, &filter, Some(COUNT_CAP), None)
                .await
                .map(drop)
                .map_err(|e| format!("{e:?}"))
        })
        .await?;
        let cell = |(p50, p95): (f64, f64)| {
            if p50.is_nan() {
                "-".to_string()
            } else {
                format!("{p50:.1} / {p95:.1}")
            }
        };
        println!(
            "| {name} (`{query}`) | {buckets} | {first:.1} | {} | {} | {} | {} |",
            cell(chart),
            cell(top),
            cell(users),
            cell(count)
        );
        for (what, (_, p95)) in [
            ("chart", chart),
            ("top values", top),
            ("user picker", users),
        ] {
            if !p95.is_nan() {
                worst.push((p95, format!("{what} of `{query}`")));
            }
        }
    }
    worst.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
    if let Some((p95, what)) = worst.first() {
        println!("\nslowest of these: {what}, p95 {p95:.1} ms");
    }
    Ok(())
}

/// `--top-only`: per filter, Top values as the console reads them (the fields no rollup keeps
/// from the filter's memo, migrations/0037_top_memos.sql) against the baseline of the same
/// fields counted in one pass over the matching entries on every read (no memo). The memos
/// are emptied first, so each filter's first read builds its memo (timed on its own); then 3
/// timed runs of each, alternated so both see the same cache, after one of each. The two
/// answers must be equal (where the window does not move with the clock).
pub async fn top_values_against_no_memo(
    pool: &PgPool,
    cases: &[(&str, String)],
) -> Result<(), String> {
    println!(
        "\ntop values ({TOP_VALUES} per field), p50 / slowest ms: from the memo against every \
         read counting the matches (3 timed runs of each, alternated, after one of each; the \
         memo built by the first read, timed on its own)"
    );
    println!(
        "| filter | memo rows | first read (builds) | no memo (before) | memo | ratio of p50 |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    sqlx::query("DELETE FROM top_memos")
        .execute(pool)
        .await
        .map_err(|e| e.to_string())?;
    for (name, query) in cases {
        let filter = Filter::parse(query).map_err(|e| e.to_string())?;
        let started = Instant::now();
        q::top_values(pool, &filter, TOP_VALUES)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let first = started.elapsed().as_secs_f64() * 1000.0;
        let kept: Option<(i64, bool)> =
            sqlx::query_as("SELECT kept_rows, too_many FROM top_memos WHERE key = $1")
                .bind(&trailkeep::domain::query::top_memo::top_memo_key(&filter)[..])
                .fetch_optional(pool)
                .await
                .map_err(|e| e.to_string())?;
        let kept = match kept {
            None => "none".to_string(),
            Some((_, true)) => "too many".to_string(),
            Some((rows, false)) => rows.to_string(),
        };
        let (mut before, mut after) = (Vec::new(), Vec::new());
        for i in 0..4 {
            let started = Instant::now();
            let old = q::top_values_without_memo(pool, &filter, TOP_VALUES)
                .await
                .map_err(|e| format!("{e:?}"))?;
            let old_ms = started.elapsed().as_secs_f64() * 1000.0;
            let started = Instant::now();
            let new = q::top_values(pool, &filter, TOP_VALUES)
                .await
                .map_err(|e| format!("{e:?}"))?;
            let new_ms = started.elapsed().as_secs_f64() * 1000.0;
            // A window back from now moves between the two reads: only fixed windows compare.
            let fixed = !matches!(filter.time, app::filter::TimeWindow::Last(_));
            if fixed && old != new {
                return Err(format!("top values of `{query}` differ: {old:?} / {new:?}"));
            }
            if i > 0 {
                before.push(old_ms);
                after.push(new_ms);
            }
        }
        let stats = |mut v: Vec<f64>| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            (v[v.len() / 2], v[v.len() - 1])
        };
        let ((b50, b95), (a50, a95)) = (stats(before), stats(after));
        println!(
            "| {name} (`{query}`) | {kept} | {first:.1} | {b50:.1} / {b95:.1} | {a50:.1} / {a95:.1} | {:.2} |",
            a50 / b50
        );
    }
    Ok(())
}
