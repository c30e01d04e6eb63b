//! The most frequent values under a filter (the console's "Top values"): per field, the values
//! with their exact counts, most first, and how many distinct values the field has there. A
//! field whose hourly rollup keeps the filter is summed from it; the others are counted
//! together in one grouped read. Every read is in one read-only snapshot, each statement under
//! the read pool's statement timeout.
//!
//! The fields no rollup keeps (all four, for a search) read the whole UTC days of their window
//! from the filter's memo (migrations/0037_top_memos.sql, [`super::top_memo`]): the counts per
//! day and value of every matching entry below a seq, counted once, plus the entries appended
//! since and the partial days at the window's edges, counted from the log in the same
//! snapshot. Without a memo, a window open at its start (the whole log, up to its end) first
//! counts every matching entry by day, answers from those counts and keeps them as the memo
//! once the snapshot is over ([`TopMemoPolicy::worth_building`]). Counts of more rows than [`TopMemoPolicy::most_rows`] keep a memo that
//! says so (the fields are then counted from the log on every read, in one pass over the
//! matching entries); counts the server stops at its statement timeout keep nothing, and the
//! next read tries again. Every [`MemoPolicy::refresh_after`] entries the memo is brought up
//! to the head.
//!
//! [`MemoPolicy::refresh_after`]: crate::domain::query::volume::MemoPolicy

use app::filter::Filter;
use app::model::{TopField, TopValue, TopValues};
use chrono::{DateTime, Utc};
use sqlx::{Acquire, PgPool, Postgres, QueryBuilder, Row};

use super::conditions::{push_conditions, reuse_plan};
use super::error::QueryError;
use super::snapshot::{self, resolve_bounds};
use super::top_fields::{grouped_value_and_label, place, push_grouped_from_log};
use super::top_memo::{self as memo_rows, DayCount, TopMemo};
use crate::domain::query::top_memo::{days_within, memo_fields, top_memo_key, TopMemoPolicy};
use crate::domain::query::volume::{hours_within, Rollup};
use crate::domain::query::window::Bounds;
use crate::storage::pools::{acquire, READS};

/// `SELECT value, label, n` of `field` from the log's entries matching `f` below `head` in
/// `from..to` (where set), grouped by value.
fn push_from_log(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    field: TopField,
    head: i64,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) {
    qb.push(format!(
        "SELECT {}, count(*) AS n FROM audit_entries WHERE seq < ",
        grouped_value_and_label(field)
    ))
    .push_bind(head);
    push_conditions(qb, f, &Bounds { from, to });
    qb.push(" GROUP BY 1");
}

/// The same from `rollup`'s whole `hours` (no time bound of the filter applies
/// inside them: the window holds them whole).
fn push_from_rollup(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    field: TopField,
    rollup: Rollup,
    hours: Bounds,
) {
    qb.push(format!(
        "SELECT {}, sum(entries)::bigint AS n FROM ",
        grouped_value_and_label(field)
    ))
    .push(rollup.table())
    .push(" WHERE true");
    if let Some(start) = hours.from {
        qb.push(" AND hour >= ").push_bind(start);
    }
    if let Some(end) = hours.to {
        qb.push(" AND hour < ").push_bind(end);
    }
    push_conditions(qb, f, &Bounds::default());
    qb.push(" GROUP BY 1");
}

/// The hourly rollup of `field` and the whole hours of the window to read from it, when it
/// keeps every field `f` names and the window holds a whole hour.
fn rollup_hours(f: &Filter, field: TopField, bounds: &Bounds) -> Option<(Rollup, Bounds)> {
    Some(Rollup::holding(field))
        .filter(|r| r.keeps(f))
        .zip(hours_within(bounds.from, bounds.to))
}

/// `SELECT value, label, n` rows whose sums per value are `field`'s exact counts under `f` (its
/// window `bounds`) below `head`: from the field's hourly rollup over the window's whole hours
/// when it keeps every field the filter names, and from the log at the window's partial edges;
/// otherwise from the log alone. Read it in one snapshot, so that the rollups and the log agree.
pub(super) fn push_field_counts(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    field: TopField,
    head: i64,
    bounds: &Bounds,
) {
    match rollup_hours(f, field, bounds) {
        Some((rollup, hours)) => {
            push_from_rollup(qb, f, field, rollup, hours);
            if let Some(start) = hours
                .from
                .filter(|&s| bounds.from.is_some_and(|from| from < s))
            {
                qb.push(" UNION ALL ");
                push_from_log(qb, f, field, head, bounds.from, Some(start));
            }
            if let Some(end) = hours.to.filter(|&e| bounds.to.is_some_and(|to| e < to)) {
                qb.push(" UNION ALL ");
                push_from_log(qb, f, field, head, Some(end), bounds.to);
            }
        }
        None => push_from_log(qb, f, field, head, bounds.from, bounds.to),
    }
}

/// Where the fields no rollup keeps read the whole days of their window.
enum Memoised {
    /// A memo kept, to which the entries appended since are added: from the log, or from
    /// `since`, their counts made in this snapshot to bring it up to the head afterwards.
    Kept {
        memo: TopMemo,
        since: Option<Vec<DayCount>>,
    },
    /// Counts of the whole log made in this snapshot, to be kept afterwards.
    Built(Vec<DayCount>),
}

/// What Top values leave to do with the memo once their snapshot is over.
enum MemoWrite {
    /// Keep counts made in the snapshot (`None`: too many to keep).
    Store {
        archived: i64,
        below_seq: i64,
        counts: Option<Vec<DayCount>>,
    },
    /// Add the counts of the entries from `from_seq` to `below_seq` (`None`: too many).
    Advance {
        from_seq: i64,
        below_seq: i64,
        counts: Option<Vec<DayCount>>,
    },
}

/// The day counts of `fields` among the entries matching `f` with seq in `seqs` (`Some(None)`:
/// more rows than a memo keeps), or `None` when the server stopped counting them (memo work:
/// the read goes on without it, in the same snapshot).
async fn count_days(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    f: &Filter,
    fields: &[TopField],
    seqs: std::ops::Range<i64>,
    policy: &TopMemoPolicy,
) -> Result<Option<Option<Vec<DayCount>>>, QueryError> {
    let mut savepoint = (&mut *tx).begin().await?;
    let counts =
        memo_rows::counts_from_log(&mut savepoint, f, fields, seqs, policy.most_rows()).await;
    snapshot::best_effort(savepoint, counts, "a top values memo").await
}

/// Writes what a read left to do with its memo. Top values are answered whatever becomes of
/// it: a memo not kept is counted again by the next read.
async fn keep_memo(pool: &PgPool, key: &[u8; 32], write: MemoWrite, policy: &TopMemoPolicy) {
    let written = match &write {
        MemoWrite::Store {
            archived,
            below_seq,
            counts,
        } => memo_rows::store(pool, key, *archived, *below_seq, counts.as_deref(), policy).await,
        MemoWrite::Advance {
            from_seq,
            below_seq,
            counts,
        } => memo_rows::advance(pool, key, *from_seq, *below_seq, counts.as_deref(), policy).await,
    };
    if let Err(e) = written {
        tracing::warn!(error = %e, "the top values memo was not kept; it is counted again");
    }
}

/// The `limit` most frequent values of every field under `f` (ties by value).
///
/// A field whose hourly rollup keeps the filter is summed from it ([`push_field_counts`]); the
/// others are counted together: from their memo's whole days and the log's rest when there is
/// one, else in one pass over the matching entries. One read-only snapshot holds every
/// statement.
pub async fn top_values(
    pool: &PgPool,
    f: &Filter,
    limit: i64,
) -> Result<Vec<TopValues>, QueryError> {
    top_values_with(pool, f, limit, Some(&TopMemoPolicy::DEFAULT)).await
}

/// [`top_values`] without a memo: every field no rollup keeps counted from the log on each
/// read. The benchmark's baseline, built only with the `bench` feature, never into the product
/// binary.
#[cfg(feature = "bench")]
pub async fn top_values_without_memo(
    pool: &PgPool,
    f: &Filter,
    limit: i64,
) -> Result<Vec<TopValues>, QueryError> {
    top_values_with(pool, f, limit, None).await
}

/// [`top_values`] under a memo policy of the caller's (`None`: no memo is read or kept; tests
/// bring a memo up to date sooner, or keep fewer).
pub async fn top_values_with(
    pool: &PgPool,
    f: &Filter,
    limit: i64,
    policy: Option<&TopMemoPolicy>,
) -> Result<Vec<TopValues>, QueryError> {
    let mut conn = acquire(pool, &READS).await?;
    let mut tx = crate::storage::read_only_snapshot(&mut *conn).await?;
    let (head, now) = snapshot::snapshot(&mut tx).await?;
    let bounds = resolve_bounds(&mut tx, f, now).await?;
    let mut out: Vec<TopValues> = TopField::ALL
        .into_iter()
        .map(|field| TopValues {
            field,
            values: Vec::new(),
            distinct: 0,
        })
        .collect();
    let (summed, counted): (Vec<TopField>, Vec<TopField>) = TopField::ALL
        .into_iter()
        .partition(|&field| rollup_hours(f, field, &bounds).is_some());
    for field in summed {
        // `count(*) OVER ()` runs over the groups, before the limit: the number of values.
        let mut qb = QueryBuilder::new(format!(
            "SELECT {} AS field, value, max(label) AS label, sum(n)::bigint AS n, \
             count(*) OVER () AS distinct_values FROM (",
            place(field)
        ));
        push_field_counts(&mut qb, f, field, head, &bounds);
        qb.push(") AS parts WHERE value IS NOT NULL GROUP BY value ORDER BY n DESC, value LIMIT ")
            .push_bind(limit);
        let rows = qb
            .build()
            .persistent(reuse_plan(f))
            .fetch_all(&mut *tx)
            .await?;
        fill(&mut out, rows)?;
    }
    let mut write = None;
    let key = top_memo_key(f);
    if !counted.is_empty() {
        // The memo answers whole days, so only where the window holds one (and then the fields
        // counted here are exactly those no rollup keeps, the memo's).
        let days = days_within(bounds.from, bounds.to);
        let mut memoised = None;
        let mut archived = 0;
        if let (Some(policy), Some(_)) = (policy, &days) {
            debug_assert_eq!(counted, memo_fields(f));
            archived = snapshot::archived(&mut tx).await?;
            match memo_rows::read(&mut tx, &key, archived).await? {
                Some(memo) if memo.too_many => {}
                Some(memo) => {
                    let mut since = None;
                    if head - memo.below_seq >= policy.memo.refresh_after {
                        let seqs = memo.below_seq..head;
                        match count_days(&mut tx, f, &counted, seqs, policy).await? {
                            Some(Some(counts)) => since = Some(counts),
                            Some(None) => {
                                write = Some(MemoWrite::Advance {
                                    from_seq: memo.below_seq,
                                    below_seq: head,
                                    counts: None,
                                })
                            }
                            None => {}
                        }
                    }
                    memoised = Some(Memoised::Kept { memo, since });
                }
                None if policy.worth_building(&bounds) => {
                    // Best effort: counts the server stops (its statement timeout) leave the
                    // fields counted from the log, and the next read tries again; too many to
                    // keep leave a memo that says so.
                    match count_days(&mut tx, f, &counted, 0..head, policy).await? {
                        Some(Some(counts)) => memoised = Some(Memoised::Built(counts)),
                        Some(None) => {
                            write = Some(MemoWrite::Store {
                                archived,
                                below_seq: head,
                                counts: None,
                            })
                        }
                        None => {}
                    }
                }
                None => {}
            }
        }
        let mut qb = QueryBuilder::new("");
        push_ranked(&mut qb, limit, |qb| {
            push_counted(qb, f, &counted, head, &bounds, &key, days, &memoised)
        });
        let persistent = reuse_plan(f) && memoised.is_none();
        let rows = qb
            .build()
            .persistent(persistent)
            .fetch_all(&mut *tx)
            .await?;
        fill(&mut out, rows)?;
        // Counts made in this snapshot are kept once it is over.
        match memoised {
            Some(Memoised::Built(counts)) => {
                write = Some(MemoWrite::Store {
                    archived,
                    below_seq: head,
                    counts: Some(counts),
                })
            }
            Some(Memoised::Kept {
                memo,
                since: Some(counts),
            }) => {
                write = Some(MemoWrite::Advance {
                    from_seq: memo.below_seq,
                    below_seq: head,
                    counts: Some(counts),
                })
            }
            _ => {}
        }
    }
    tx.commit().await?;
    drop(conn);
    if let (Some(write), Some(policy)) = (write, policy) {
        keep_memo(pool, &key, write, policy).await;
    }
    Ok(out)
}

/// `SELECT field, value, label, n` rows whose sums per field and value are the exact counts of
/// `fields` under `f` (its window `bounds`) below `head`: the whole `days` of the window from
/// the memo (kept, or counted in this snapshot) and the entries appended after a kept memo
/// (counted in this snapshot, or from the log), the window's partial days from the log;
/// without a memo, all from the log.
#[allow(clippy::too_many_arguments)]
fn push_counted(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    fields: &[TopField],
    head: i64,
    bounds: &Bounds,
    key: &[u8; 32],
    days: Option<Bounds>,
    memoised: &Option<Memoised>,
) {
    let (Some(memoised), Some(days)) = (memoised, days) else {
        push_grouped_from_log(qb, f, fields, 0..head, bounds, false);
        return;
    };
    let mut since = 0..0;
    match memoised {
        Memoised::Kept {
            memo,
            since: counts,
        } => {
            memo_rows::push_kept(qb, key, &days);
            match counts {
                Some(counts) => {
                    qb.push(" UNION ALL ");
                    memo_rows::push_built(qb, counts, &days);
                }
                None => since = memo.below_seq..head,
            }
        }
        Memoised::Built(counts) => memo_rows::push_built(qb, counts, &days),
    }
    let mut from_log = Vec::new();
    if let (Some(from), Some(start)) = (bounds.from, days.from) {
        from_log.push((
            0..head,
            Bounds {
                from: Some(from),
                to: Some(start),
            },
        ));
    }
    if let (Some(end), Some(to)) = (days.to, bounds.to) {
        from_log.push((
            0..head,
            Bounds {
                from: Some(end),
                to: Some(to),
            },
        ));
    }
    from_log.push((since, days));
    for (seqs, window) in from_log {
        let empty = window.from.zip(window.to).is_some_and(|(a, b)| a >= b);
        if !seqs.is_empty() && !empty {
            qb.push(" UNION ALL ");
            push_grouped_from_log(qb, f, fields, seqs, &window, false);
        }
    }
}

/// `SELECT field, value, label, n, distinct_values` of the `limit` most frequent values of each
/// field among the `field, value, label, n` rows `parts` pushes (summed per field and value),
/// most first, ties by value; `label` is the largest, or the value where it is NULL.
fn push_ranked<'a>(
    qb: &mut QueryBuilder<'a, Postgres>,
    limit: i64,
    parts: impl FnOnce(&mut QueryBuilder<'a, Postgres>),
) {
    qb.push(
        "SELECT field, value, coalesce(label, value) AS label, n, distinct_values FROM ( \
           SELECT field, value, label, n, count(*) OVER (PARTITION BY field) AS distinct_values, \
                  row_number() OVER (PARTITION BY field ORDER BY n DESC, value) AS rank \
           FROM ( \
             SELECT field, value, max(label) AS label, sum(n)::bigint AS n FROM (",
    );
    parts(qb);
    qb.push(") AS parts GROUP BY 1, 2) AS counts) AS ranked WHERE rank <= ")
        .push_bind(limit)
        .push(" ORDER BY field, rank");
}

/// Adds `field, value, label, n, distinct_values` rows (most first) to the lists of `out`,
/// each to the field at its [`place`].
fn fill(out: &mut [TopValues], rows: Vec<sqlx::postgres::PgRow>) -> Result<(), sqlx::Error> {
    for row in rows {
        let i: i32 = row.try_get("field")?;
        let top = &mut out[i as usize];
        top.distinct = row.try_get("distinct_values")?;
        top.values.push(TopValue {
            value: row.try_get("value")?,
            label: row.try_get("label")?,
            count: row.try_get("n")?,
        });
    }
    Ok(())
}
