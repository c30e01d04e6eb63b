//! The month view of the Exports page: each UTC month from the log's first entry to now, the
//! seq range recorded in it (found by binary search on seq, as a period is), and the
//! unfiltered bundles that hold its entries — whole, in part, or not at all
//! (`domain::export::months` decides on seqs) — and whether its entries are still in the
//! database or were dropped by retention (`archived_months`).

use app::exports::{ArchiveCopy, ArchiveMonth};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::export::months::{coverage, months as month_list};
use crate::service::archive::{first_recorded_at_or_after, ArchiveError};
use crate::storage::entries;
use crate::storage::exports as stored;

/// The months, newest first.
pub async fn months(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<ArchiveMonth>, ArchiveError> {
    let mut conn = pool.acquire().await?;
    let size = entries::count_all(&mut *conn).await?;
    let Some(first) = stored::first_recorded_at(&mut *conn).await? else {
        return Ok(Vec::new());
    };
    let list = month_list(first, now);
    let mut bounds = Vec::with_capacity(list.len() + 1);
    for (start, _) in &list {
        bounds.push(first_recorded_at_or_after(&mut conn, *start, size).await?);
    }
    bounds.push(size);
    let archives = stored::archives_between(&mut *conn, 0, size).await?;
    let dropped = crate::storage::retention::archived(&mut *conn).await?;
    let mut out: Vec<ArchiveMonth> = list
        .iter()
        .enumerate()
        .map(|(i, (start, end))| {
            let (first_seq, end_seq) = (bounds[i], bounds[i + 1]);
            let holding: Vec<_> = archives
                .iter()
                .filter(|r| {
                    r.first_seq.unwrap_or(0) < end_seq && r.end_seq.unwrap_or(0) > first_seq
                })
                .collect();
            let ranges: Vec<(i64, i64)> = holding
                .iter()
                .map(|r| (r.first_seq.unwrap_or(0), r.end_seq.unwrap_or(0)))
                .collect();
            ArchiveMonth {
                start: *start,
                end: *end,
                first_seq,
                end_seq,
                entries: end_seq - first_seq,
                archived: coverage(first_seq, end_seq, &ranges).as_str().to_string(),
                online: !dropped.iter().any(|d| d.month == *start),
                archives: holding
                    .into_iter()
                    .map(|r| ArchiveCopy {
                        run_id: r.id,
                        destination: r.destination.clone().unwrap_or_default(),
                        location: r.object_key.clone().unwrap_or_default(),
                        version: r.object_version.clone(),
                        first_seq: r.first_seq.unwrap_or(0),
                        end_seq: r.end_seq.unwrap_or(0),
                    })
                    .collect(),
            }
        })
        .collect();
    out.reverse();
    Ok(out)
}
