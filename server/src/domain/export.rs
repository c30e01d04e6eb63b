//! Exports: exactly the entries a filter matches, in its order, as CSV, JSON or NDJSON. Each
//! format is written page by page (see `infra::http::export`), so memory stays flat.
//!
//! Exports carry proofs (format version 2): they are cut against the latest signed checkpoint
//! when they start, and each JSON or NDJSON entry carries its `inclusion_proof` in that
//! checkpoint's tree (`null` for an entry appended after it). JSON names the checkpoint in its
//! head, NDJSON in a trailer line; CSV and PDF name it in a footer. `domain::export_check` is
//! what `trailkeep verify-export` checks them with.

use std::borrow::Cow;

use app::model::AuditEntry;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::window::Bounds;

/// The shape of JSON and NDJSON exports: 2 since they carry proofs, 3 since they state the
/// period their filter resolved to (`from`, `to`: what `verify-export` checks entries against).
pub const FORMAT_VERSION: u64 = 3;

/// The members of a JSON export's head, an NDJSON export's trailer, and the top level of a
/// JSON export, each exactly: `verify-export` refuses any other.
pub const HEAD_KEYS: &[&str] = &[
    "format_version",
    "generated_at",
    "filter",
    "from",
    "to",
    "generated_by",
    "checkpoint",
];
pub const TRAILER_KEYS: &[&str] = &[
    "format_version",
    "filter",
    "from",
    "to",
    "checkpoint",
    "count",
    "proven",
];
pub const JSON_KEYS: &[&str] = &["export", "entries", "count", "proven"];

/// An entry as a proven export writes it: the API's entry and its inclusion proof (hex hashes,
/// leaf to root), `null` when it is newer than the export's checkpoint.
#[derive(serde::Serialize)]
pub struct ProvenEntry<'a> {
    #[serde(flatten)]
    pub entry: &'a AuditEntry,
    pub inclusion_proof: Option<Vec<String>>,
}

/// The checkpoint an export is cut against: its signed note (`None` before the first is signed)
/// and how many entries it covers (the entries with a smaller `seq` carry proofs).
#[derive(Clone, Debug, Default)]
pub struct Cut {
    pub note: Option<String>,
    pub size: u64,
    /// The id of the key that signed it (named in footers).
    pub key_id: u32,
}

impl Cut {
    /// The checkpoint in words, for the footers of CSV and PDF exports.
    pub fn footer(&self) -> String {
        if let Some(note) = &self.note {
            crate::domain::checkpoint::describe(note, self.key_id)
        } else {
            "checkpoint: none signed yet when this export was made".into()
        }
    }
}

/// The CSV footer record: the checkpoint, in the first cell (`#` first, so tools that skip
/// comment lines skip it), the other cells empty.
pub fn csv_footer(cut: &Cut) -> [String; 17] {
    let mut record: [String; 17] = Default::default();
    record[0] = format!("# Trailkeep {}", cut.footer());
    record
}

/// The last line of an NDJSON export.
pub fn ndjson_trailer(
    filter: &str,
    period: &(Option<String>, Option<String>),
    cut: &Cut,
    count: i64,
    proven: i64,
) -> serde_json::Value {
    serde_json::json!({"trailer": {
        "format_version": FORMAT_VERSION,
        "filter": filter,
        "from": period.0,
        "to": period.1,
        "checkpoint": cut.note,
        "count": count,
        "proven": proven,
    }})
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Ndjson,
    /// The human-readable report (`domain::report`).
    Pdf,
}

impl Format {
    pub const NAMES: &'static str = "csv, json, ndjson, pdf";

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "ndjson" => Some(Format::Ndjson),
            "pdf" => Some(Format::Pdf),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Pdf => "pdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Pdf => "application/pdf",
        }
    }
}

/// The CSV header, in column order.
pub const CSV_COLUMNS: [&str; 17] = [
    "timestamp",
    "actor_type",
    "actor_id",
    "actor_name",
    "actor_email",
    "action",
    "resource_type",
    "resource_id",
    "ip",
    "status",
    "user_agent",
    "details",
    "seq",
    "id",
    "leaf_hash",
    "source",
    "source_name",
];

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
/// leading `'`, which spreadsheets show as text (OWASP "CSV injection").
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// Timestamps as the JSON API writes them.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Timestamps in CSV: always six fractional digits (the log's precision), so the column
/// sorts as text and every row has the same shape.
pub fn csv_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The period an export's head states: its filter's window as the query applied it, each end
/// `None` when open (an export of everything holds entries dated in the future too).
pub fn stated_period(bounds: &Bounds) -> (Option<String>, Option<String>) {
    (
        bounds.from.as_ref().map(timestamp),
        bounds.to.as_ref().map(timestamp),
    )
}

/// The period an export covers, resolved to instants at its snapshot (`range=7d` becomes the
/// seven days before the snapshot): `from` inclusive (`None`: from the first entry), `to`
/// exclusive (the snapshot's time when the filter leaves it open).
pub fn resolved_period(bounds: &Bounds, now: DateTime<Utc>) -> (Option<String>, String) {
    (
        bounds.from.as_ref().map(timestamp),
        timestamp(&bounds.to.unwrap_or(now)),
    )
}

/// One CSV record, cells neutralised.
pub fn csv_record(e: &AuditEntry) -> [String; 17] {
    let text = |s: &str| neutralise(s).into_owned();
    let opt = |s: &Option<String>| s.as_deref().map(text).unwrap_or_default();
    [
        csv_timestamp(&e.occurred_at),
        e.actor.kind.as_str().to_string(),
        text(&e.actor.id),
        opt(&e.actor.name),
        opt(&e.actor.email),
        text(&e.action),
        e.resource
            .as_ref()
            .map(|r| text(&r.kind))
            .unwrap_or_default(),
        e.resource.as_ref().map(|r| text(&r.id)).unwrap_or_default(),
        opt(&e.ip),
        e.status.as_str().to_string(),
        opt(&e.user_agent),
        text(&e.details.to_string()),
        e.seq.to_string(),
        e.id.to_string(),
        e.leaf_hash.clone(),
        e.source.map(|s| s.to_string()).unwrap_or_default(),
        opt(&e.source_name),
    ]
}

/// The last instant a period includes (its end bound is exclusive), or `now` when open.
pub fn last_instant(bounds: &Bounds, now: DateTime<Utc>) -> DateTime<Utc> {
    bounds
        .to
        .map(|t| t - chrono::Duration::nanoseconds(1))
        .unwrap_or(now)
}

/// `trailkeep-audit-<from>_<to>-<n>.<ext>`: the period as UTC dates (`start` when open) and
/// the number of entries. Only `[0-9a-z_-.]`, so it is safe in any header and file system.
pub fn file_name(bounds: &Bounds, now: DateTime<Utc>, n: i64, format: Format) -> String {
    let from = bounds
        .from
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "start".into());
    let to = last_instant(bounds, now).format("%Y-%m-%d");
    format!("trailkeep-audit-{from}_{to}-{n}.{}", format.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_other_text_is_kept() {
        for formula in ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(formula), format!("'{formula}"));
        }
        for plain in ["admin@company.com", "config.updated", "", "'quoted", "a=b"] {
            assert_eq!(neutralise(plain), plain);
        }
    }

    #[test]
    fn csv_timestamps_have_a_fixed_shape() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            csv_timestamp(&t("2026-11-25T10:00:00Z")),
            "2026-11-25T10:00:00.000000Z"
        );
        assert_eq!(
            csv_timestamp(&t("2026-11-25T10:00:00.5Z")),
            "2026-11-25T10:00:00.500000Z"
        );
    }

    #[test]
    fn file_names_say_the_period_and_count() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let now = t("2026-11-26T10:00:00Z");
        let bounds = Bounds {
            from: Some(t("2026-11-01T00:00:00Z")),
            // `to=2026-11-25` ends before the next day.
            to: Some(t("2026-11-26T00:00:00Z")),
        };
        assert_eq!(
            file_name(&bounds, now, 1204, Format::Csv),
            "trailkeep-audit-2026-11-01_2026-11-25-1204.csv"
        );
        assert_eq!(
            file_name(&Bounds::default(), now, 0, Format::Ndjson),
            "trailkeep-audit-start_2026-11-26-0.ndjson"
        );
    }
}
