//! One period of a schedule made into the file people download — CSV, JSON, NDJSON or a PDF
//! report — for a schedule that writes one of those instead of an archive bundle. The period
//! is located exactly as a bundle's (`Archiver::locate`: the seqs recorded in it, after every
//! append that could land in it has committed), so consecutive periods hold every entry once.
//! The file holds the entries of that seq range that match the schedule's filter, in `seq`
//! order, each with its inclusion proof in a signed checkpoint that covers the period.
//!
//! What states the period: JSON's head (`recorded`: the instants and seqs, which
//! `verify-export` checks every entry against, and, with no filter, that every seq is there);
//! CSV and NDJSON hold entries only, so the same statement (with the checkpoint and count) is
//! stored beside them as `<name>.head.json`, which `verify-export` reads from there; the
//! PDF's cover. A PDF
//! holds at most [`report::MAX_ENTRIES`]: a period with more fails its run for good, saying
//! which formats have no limit. Memory stays flat: pages are written to the work file as they
//! are read. The file's bytes depend only on the log and the run (its `generated_at` is when
//! the run was asked for), so a run tried again writes the same bytes.

use std::io::Write;
use std::path::Path;

use app::filter::Filter;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::export::format::{self as export, ExportHead, Format, Recorded, Trailer};
use crate::domain::export::report;
use crate::domain::export::schedule::Period;
use crate::domain::integrity::checkpoint::Checkpoint;
use crate::service::acting::Acting;
use crate::service::archive::{
    ArchiveError, Archiver, Built, Covered, Hashing, Located, Pages, WorkFile,
};
use crate::service::export::{epilogue, filter_words, prologue, write_page};
use crate::storage::{self, query};

/// A run of a schedule that writes a file: what the file is of.
pub struct FileRun<'a> {
    pub schedule_name: &'a str,
    /// The schedule's IANA zone: the PDF states the period and its generation in it.
    pub zone: &'a str,
    pub filter: &'a Filter,
    pub format: Format,
    pub period: Period,
    pub run: Uuid,
    /// When the run was asked for (planned, or "run now"): the file's `generated_at`.
    pub requested_at: DateTime<Utc>,
}

/// The checkpoint a file is cut against, with its signed note.
struct Against<'a> {
    checkpoint: &'a Checkpoint,
    note: &'a str,
}

impl Archiver {
    /// Writes `r`'s file into a work file (`now`: the database's clock).
    pub async fn build_file(
        &self,
        r: FileRun<'_>,
        now: DateTime<Utc>,
    ) -> Result<Built, ArchiveError> {
        let Located {
            first, end, after, ..
        } = self.locate(r.period, now).await?;
        let (checkpoint, note) = self.covering(end as u64).await?;
        let against = Against {
            checkpoint: &checkpoint,
            note: &note,
        };
        let (_, out_path) = self.work_files(r.run, r.format.as_str())?;
        // Deleted on failure, and if this future is dropped before it ends (a lost lease).
        let out = WorkFile::new(out_path.clone());
        let written = match r.format {
            Format::Pdf => self.pdf(&r, (first, end), &against, &out_path).await,
            _ => self.entries(&r, (first, end), &against, &out_path).await,
        };
        let (count, bytes, sha256) = written?;
        out.keep();
        Ok(Built {
            path: out_path,
            covered: Covered {
                period: r.period,
                first_seq: first as u64,
                end_seq: end as u64,
                count,
                checkpoint_size: checkpoint.size,
                chain_hash_after: after,
            },
            bytes,
            sha256,
            head_beside: matches!(r.format, Format::Csv | Format::Ndjson).then(|| Trailer {
                format_version: export::FORMAT_VERSION,
                filter: r.filter.to_query_string(),
                from: None,
                to: None,
                checkpoint: Some(note),
                count,
                proven: count,
                recorded: Some(recorded(&r.period, first, end)),
            }),
        })
    }

    /// CSV, JSON or NDJSON: `(entries, bytes, sha256)`.
    async fn entries(
        &self,
        r: &FileRun<'_>,
        (first, end): (i64, i64),
        against: &Against<'_>,
        out_path: &Path,
    ) -> Result<(u64, u64, app::integrity::Hash), ArchiveError> {
        let size = against.checkpoint.size;
        let head = ExportHead {
            format_version: export::FORMAT_VERSION,
            generated_at: export::timestamp(&r.requested_at),
            filter: r.filter.to_query_string(),
            from: None,
            to: None,
            generated_by: Acting::scheduler().label(),
            checkpoint: Some(against.note.to_string()),
            archived: Vec::new(),
            recorded: Some(recorded(&r.period, first, end)),
        };
        let mut out = Hashing::create_new(out_path)?;
        out.write_all(&prologue(r.format, &head))?;
        let mut count = 0u64;
        let mut pages = Pages::new(&self.reads, r.filter, (first, end));
        while let Some((page, proofs)) = pages.next_proven(size).await? {
            out.write_all(&write_page(r.format, &page, &proofs, size, count == 0))?;
            count += page.len() as u64;
        }
        out.write_all(&epilogue(r.format, count, count))?;
        let (_, bytes, sha) = out.finish()?;
        Ok((count, bytes, sha))
    }

    /// The PDF report: its cover states the period in the schedule's zone.
    async fn pdf(
        &self,
        r: &FileRun<'_>,
        (first, end): (i64, i64),
        against: &Against<'_>,
        out_path: &Path,
    ) -> Result<(u64, u64, app::integrity::Hash), ArchiveError> {
        let count = query::range_count(&self.reads, r.filter, first, end).await?;
        if count > report::MAX_ENTRIES {
            return Err(ArchiveError::Refused(format!(
                "a PDF report holds at most {} entries and this period has {} matching the \
                 filter: make the schedule's periods shorter, narrow its filter, or write CSV, \
                 JSON or NDJSON, which have no limit",
                app::format::thousands(report::MAX_ENTRIES),
                app::format::thousands(count)
            )));
        }
        let walls = query::wall_clocks(
            &self.reads,
            &[r.period.start, r.period.end, r.requested_at],
            r.zone,
        )
        .await?;
        let [start, end_wall, requested] = walls[..] else {
            return Err(ArchiveError::Log(
                "the period's wall-clock times could not be read".into(),
            ));
        };
        let period = report::period_words(
            &report::PeriodWalls {
                from: Some(start),
                to: Some(end_wall),
                now: requested,
            },
            r.zone,
        );
        let site = storage::settings::load(&self.reads)
            .await?
            .map(|s| s.site_name)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "Trailkeep".into());
        let cover = report::Cover {
            site,
            filters: filter_words(&self.reads, r.filter).await?,
            period: format!("{period}, as recorded by Trailkeep"),
            generated_at: format!("{} ({})", report::moment_words(requested), r.zone),
            generated_by: format!(
                "{} (schedule “{}”)",
                Acting::scheduler().label(),
                r.schedule_name
            ),
            count,
            checkpoint: export::Cut {
                note: Some(against.note.to_string()),
                size: against.checkpoint.size,
                key_id: self.log_key.id(),
            }
            .footer(),
            archived: None,
        };
        let mut out = Hashing::create_new(out_path)?;
        let mut doc = report::Report::new(&cover).map_err(ArchiveError::Refused)?;
        let mut rows = 0u64;
        let mut pages = Pages::new(&self.reads, r.filter, (first, end));
        while let Some(page) = pages.next().await? {
            rows += page.len() as u64;
            // Rendering is CPU work: off the runtime's threads, a page at a time.
            let (back, bytes) = tokio::task::spawn_blocking(move || {
                doc.add(&page);
                let bytes = doc.take();
                (doc, bytes)
            })
            .await
            .map_err(|e| ArchiveError::Refused(format!("rendering the report failed: {e}")))?;
            doc = back;
            out.write_all(&bytes)?;
        }
        let last = tokio::task::spawn_blocking(move || doc.finish())
            .await
            .map_err(|e| ArchiveError::Refused(format!("rendering the report failed: {e}")))?
            .map_err(ArchiveError::Refused)?;
        out.write_all(&last)?;
        let (_, bytes, sha) = out.finish()?;
        Ok((rows, bytes, sha))
    }
}

/// The period as a file states it.
fn recorded(period: &Period, first: i64, end: i64) -> Recorded {
    Recorded {
        from: export::timestamp(&period.start),
        to: export::timestamp(&period.end),
        first_seq: first as u64,
        end_seq: end as u64,
    }
}
