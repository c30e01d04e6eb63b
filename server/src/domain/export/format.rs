//! Exports: exactly the entries a filter matches, in its order, as CSV, JSON or NDJSON. Each
//! format is written page by page (see `infra::http::export`), so memory stays flat.
//!
//! Exports carry proofs: they are cut against the latest signed checkpoint when they start, and
//! every entry of every format carries its `inclusion_proof` in that checkpoint's tree and the
//! `checkpoint_size` it leads to (both empty for an entry appended after it). Every CSV record
//! and every NDJSON line is an entry (format version 4), so spreadsheets, pandas, Splunk and
//! Elastic import them as they are; the signed checkpoint travels beside them (the API serves
//! it by size, the console offers it as `<export>.checkpoint`). JSON names the checkpoint, the
//! filter and the period in its head; the PDF in its footer. `domain::export::check` is what
//! `trailkeep verify-export` checks them with.

use std::borrow::Cow;

use app::integrity::{to_hex, Proof};
use app::model::AuditEntry;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::query::window::Bounds;

/// The shape of exports: 2 since they carry proofs, 3 since JSON and NDJSON state the period
/// their filter resolved to (`from`, `to`: what `verify-export` checks entries against), 4
/// since every entry carries `checkpoint_size` and CSV and NDJSON hold entries only (no footer
/// record, no trailer line).
pub const FORMAT_VERSION: u64 = 4;

/// The head of a JSON export: what it is and what it is cut against. Written by the export,
/// documented in the OpenAPI document and read back by `verify-export` from this one type
/// (which refuses any member it does not name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportHead {
    /// 3: entries carry inclusion proofs, and the head states the period.
    pub format_version: u64,
    pub generated_at: String,
    /// The filter in its canonical form.
    pub filter: String,
    /// The period the filter resolved to when the export started (`range=7d`: from seven days
    /// before it): the first instant it includes, null when open. (Absent in version 2.)
    #[serde(default)]
    pub from: Option<String>,
    /// The instant the period ends before (exclusive), null when open.
    #[serde(default)]
    pub to: Option<String>,
    /// The user or key that asked for it.
    pub generated_by: String,
    /// The latest signed checkpoint when the export started (a C2SP signed note), which the
    /// proofs lead to; null before the first was signed.
    pub checkpoint: Option<String>,
    /// Months of the period that retention moved out of the database: their entries are not
    /// in this export but in the archive bundle named (absent when there are none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archived: Vec<app::model::ArchivedPart>,
    /// A scheduled export's period (absent from downloads): the entries recorded in it, in
    /// `seq` order rather than the filter's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Recorded>,
}

/// The period of a scheduled export, on the server's clock: every entry matching its filter
/// that was recorded from `from` (inclusive) to `to` (exclusive), which are the seqs
/// `first_seq` to `end_seq` (exclusive), in `seq` order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    pub from: String,
    pub to: String,
    pub first_seq: u64,
    pub end_seq: u64,
}

/// The archived months of an export in words: "2027-01 (3 entries, seqs 0–2) in
/// s3://bucket/key; …", for a header, a PDF cover and the record of the export.
pub fn archived_words(parts: &[app::model::ArchivedPart]) -> String {
    parts
        .iter()
        .map(|p| {
            format!(
                "{} ({} entries, seqs {}-{}) in {}",
                p.month,
                p.end_seq - p.first_seq,
                p.first_seq,
                p.end_seq - 1,
                p.location
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The longest `x-trailkeep-archived` header an export sends: proxies refuse responses whose
/// headers outgrow a few kilobytes (nginx's default buffer is 4 KB).
pub const ARCHIVED_HEADER_MAX: usize = 1024;

/// The `x-trailkeep-archived` header: [`archived_words`] while it fits in
/// [`ARCHIVED_HEADER_MAX`], else the months, their span and their entries (each bundle is
/// named in the JSON head, on the PDF cover and on the Exports page).
pub fn archived_header(parts: &[app::model::ArchivedPart]) -> String {
    let words = archived_words(parts);
    if words.len() <= ARCHIVED_HEADER_MAX {
        return words;
    }
    let entries: i64 = parts.iter().map(|p| p.end_seq - p.first_seq).sum();
    format!(
        "{} months from {} to {} ({entries} entries); each bundle is named on the Exports page",
        parts.len(),
        parts.first().map_or("", |p| p.month.as_str()),
        parts.last().map_or("", |p| p.month.as_str()),
    )
}

/// The last line of an NDJSON export of format version 2 or 3, `{"trailer": {…}}`: what the
/// export is, what it is cut against, and how many entries it holds. Read by `verify-export`
/// for those files; version 4 writes none (every line is an entry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    pub format_version: u64,
    pub filter: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    pub checkpoint: Option<String>,
    pub count: u64,
    /// How many entries carry a proof (the others are newer than the checkpoint).
    pub proven: u64,
    /// A scheduled CSV or NDJSON file's period (its head, stored beside it as
    /// `<name>.head.json`): then its entries are in `seq` order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Recorded>,
}

/// The NDJSON trailer line's one member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailerLine {
    pub trailer: Trailer,
}

/// What an export states about itself, as the checker reads it: the head of a JSON export,
/// the trailer of an older NDJSON one, or, for CSV and NDJSON of version 4, what the auditor
/// says beside the file (the checkpoint, and the filter and count if they know them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stated {
    pub format_version: u64,
    /// The filter in its canonical form; `None` when nothing states it (then neither the
    /// filter, the period nor completeness can be checked).
    pub filter: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub checkpoint: Option<String>,
    /// A scheduled export's recorded period (then the entries are in `seq` order).
    pub recorded: Option<Recorded>,
}

impl From<&ExportHead> for Stated {
    fn from(h: &ExportHead) -> Self {
        Stated {
            format_version: h.format_version,
            filter: Some(h.filter.clone()),
            from: h.from.clone(),
            to: h.to.clone(),
            checkpoint: h.checkpoint.clone(),
            recorded: h.recorded.clone(),
        }
    }
}

impl From<&Trailer> for Stated {
    fn from(t: &Trailer) -> Self {
        Stated {
            format_version: t.format_version,
            filter: Some(t.filter.clone()),
            from: t.from.clone(),
            to: t.to.clone(),
            checkpoint: t.checkpoint.clone(),
            recorded: t.recorded.clone(),
        }
    }
}

/// `format=json`: what the export is, every entry with its inclusion proof, and their counts,
/// in this order. (`format=ndjson`: one [`ProvenEntry`] per line, then a [`TrailerLine`].)
/// The writer streams it member by member; `verify-export` reads it back the same way.
#[derive(Serialize, ToSchema)]
pub struct JsonExport<'a> {
    pub export: ExportHead,
    pub entries: Vec<ProvenEntry<'a>>,
    pub count: u64,
    /// How many entries carry a proof (the others are newer than the checkpoint).
    pub proven: u64,
}

/// The members of [`JsonExport`], in order: `verify-export` refuses any other.
pub const JSON_KEYS: &[&str] = &["export", "entries", "count", "proven"];

/// An exported entry: the API's entry, its inclusion proof in the checkpoint's tree (leaf to
/// root) and the size of that checkpoint, both `null` for an entry appended after it.
#[derive(Serialize, ToSchema)]
pub struct ProvenEntry<'a> {
    #[serde(flatten)]
    pub entry: &'a AuditEntry,
    pub inclusion_proof: Option<&'a Proof>,
    pub checkpoint_size: Option<u64>,
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
            crate::domain::integrity::checkpoint::describe(note, self.key_id)
        } else {
            "checkpoint: none signed yet when this export was made".into()
        }
    }
}

/// An export's format: `format=csv|json|ndjson|pdf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Json,
    Ndjson,
    /// The human-readable report (`domain::export::report`).
    Pdf,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Pdf => "pdf",
        }
    }

    /// The format named `name` (`csv`, `json`, `ndjson`, `pdf`), as a schedule stores it.
    pub fn named(name: &str) -> Option<Format> {
        [Format::Csv, Format::Json, Format::Ndjson, Format::Pdf]
            .into_iter()
            .find(|f| f.as_str() == name)
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

/// The CSV header, in column order: every field of the entry (what its leaf hash covers, so a
/// CSV export verifies as JSON does), its proof (hashes in hex, leaf to root, separated by
/// spaces) and the size of the checkpoint the proof leads to.
pub const CSV_COLUMNS: [&str; 21] = [
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
    "recorded_at",
    "form",
    "inclusion_proof",
    "checkpoint_size",
];

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
/// leading `'`, which spreadsheets show as text (OWASP "CSV injection"); so does a cell that
/// starts with `'` itself, so that a reader removes exactly one leading `'` ([`restore`]). An
/// empty text is a lone `'` (shown empty): an empty cell is `null`, never an empty text.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        None => Cow::Borrowed("'"),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// A neutralised cell as it was written ([`neutralise`] undone).
pub fn restore(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
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

/// One CSV record, cells neutralised: the entry, its proof and its checkpoint's size.
pub fn csv_record(
    e: &AuditEntry,
    proof: Option<&Proof>,
    checkpoint_size: Option<u64>,
) -> [String; 21] {
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
        csv_timestamp(&e.recorded_at),
        e.form.to_string(),
        proof
            .map(|p| p.0.iter().map(|h| to_hex(h)).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
        checkpoint_size.map(|n| n.to_string()).unwrap_or_default(),
    ]
}

/// A CSV record read back as the JSON entry it was written from (with `inclusion_proof` and
/// `checkpoint_size`): what `verify-export` checks. An empty optional cell is `null`.
pub fn csv_entry(record: &csv::StringRecord) -> Result<serde_json::Value, String> {
    use serde_json::{json, Value};
    if record.len() != CSV_COLUMNS.len() {
        return Err(format!(
            "it has {} cells, not the {} of the header",
            record.len(),
            CSV_COLUMNS.len()
        ));
    }
    let raw = |name: &str| {
        let i = CSV_COLUMNS
            .iter()
            .position(|c| *c == name)
            .expect("a column");
        record[i].to_string()
    };
    let cell = |name: &str| restore(&raw(name)).to_string();
    // An empty cell is null; an empty text was written as a lone `'`.
    let optional = |name: &str| match raw(name) {
        s if s.is_empty() => Value::Null,
        s => Value::String(restore(&s).to_string()),
    };
    let number = |name: &str| -> Result<Value, String> {
        match raw(name) {
            s if s.is_empty() => Ok(Value::Null),
            s => s
                .parse::<u64>()
                .map(Value::from)
                .map_err(|_| format!("{name} {s:?} is not a number")),
        }
    };
    let details: Value =
        serde_json::from_str(&cell("details")).map_err(|e| format!("details is not JSON ({e})"))?;
    let resource = match (raw("resource_type"), raw("resource_id")) {
        (t, i) if t.is_empty() && i.is_empty() => Value::Null,
        (t, i) => json!({"type": restore(&t), "id": restore(&i)}),
    };
    let proof = match raw("inclusion_proof") {
        s if s.is_empty() => Value::Null,
        s => Value::from(s.split(' ').map(str::to_string).collect::<Vec<_>>()),
    };
    Ok(json!({
        "id": cell("id"),
        "seq": number("seq")?,
        "occurred_at": cell("timestamp"),
        "recorded_at": cell("recorded_at"),
        "action": cell("action"),
        "actor": {
            "type": cell("actor_type"),
            "id": cell("actor_id"),
            "name": optional("actor_name"),
            "email": optional("actor_email"),
        },
        "resource": resource,
        "ip": optional("ip"),
        "user_agent": optional("user_agent"),
        "status": cell("status"),
        "details": details,
        "source": optional("source"),
        "source_name": optional("source_name"),
        "form": number("form")?,
        "leaf_hash": cell("leaf_hash"),
        "inclusion_proof": proof,
        "checkpoint_size": number("checkpoint_size")?,
    }))
}

/// The last instant a period includes (its end bound is exclusive), or `now` when open.
pub fn last_instant(bounds: &Bounds, now: DateTime<Utc>) -> DateTime<Utc> {
    bounds
        .to
        .map(|t| t - chrono::Duration::nanoseconds(1))
        .unwrap_or(now)
}

/// `trailkeep-audit-<from>_<to>-<n>.<ext>`: the period as UTC dates (`all-time` when it has
/// no start) and the number of entries. Only `[0-9a-z_-.]`, so it is safe in any header and file system.
pub fn file_name(bounds: &Bounds, now: DateTime<Utc>, n: i64, format: Format) -> String {
    let from = bounds
        .from
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "all-time".into());
    let to = last_instant(bounds, now).format("%Y-%m-%d");
    format!("trailkeep-audit-{from}_{to}-{n}.{}", format.as_str())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_archived_header_stays_small_however_many_months_were_archived() {
        let part = |m: u32| app::model::ArchivedPart {
            month: format!("2020-{m:02}"),
            first_seq: i64::from(m) * 10,
            end_seq: i64::from(m) * 10 + 10,
            destination: "s3".into(),
            location: format!("s3://bucket/trailkeep/monthly/{}", "x".repeat(60)),
            version: None,
            sha256: "00".repeat(32),
        };
        let one = archived_header(&[part(1)]);
        assert!(
            one.starts_with("2020-01 (10 entries, seqs 10-19) in s3://bucket/"),
            "{one}"
        );
        let many: Vec<_> = (1..=12).map(part).collect();
        let header = archived_header(&many);
        assert!(header.len() <= ARCHIVED_HEADER_MAX, "{}", header.len());
        assert_eq!(
            header,
            "12 months from 2020-01 to 2020-12 (120 entries); each bundle is named on the Exports page"
        );
    }

    use super::*;

    #[test]
    fn the_json_members_are_the_documents() {
        let entry: AuditEntry = serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000000", "seq": 0,
            "occurred_at": "2026-01-01T00:00:00Z", "recorded_at": "2026-01-01T00:00:00Z",
            "action": "a.b", "actor": {"type": "user", "id": "u"}, "status": "success",
            "details": {}, "leaf_hash": "00", "form": 2
        }))
        .unwrap();
        let head = ExportHead {
            format_version: FORMAT_VERSION,
            generated_at: String::new(),
            filter: String::new(),
            from: None,
            to: None,
            generated_by: String::new(),
            checkpoint: None,
            archived: Vec::new(),
            recorded: None,
        };
        let doc = serde_json::to_value(JsonExport {
            export: head,
            entries: vec![ProvenEntry {
                entry: &entry,
                inclusion_proof: None,
                checkpoint_size: None,
            }],
            count: 1,
            proven: 0,
        })
        .unwrap();
        let keys: Vec<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut expected = JSON_KEYS.to_vec();
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected);
    }

    #[test]
    fn formulas_are_neutralised_and_other_text_is_kept() {
        // A leading `'` is doubled too, so that a reader removes exactly one.
        for formula in [
            "=cmd|' /C calc'!A0",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "'quoted",
        ] {
            assert_eq!(neutralise(formula), format!("'{formula}"));
            assert_eq!(restore(&neutralise(formula)), formula);
        }
        // An empty text is a lone `'`, so that an empty cell can mean null.
        assert_eq!(neutralise(""), "'");
        assert_eq!(restore("'"), "");
        for plain in ["admin@company.com", "config.updated", "a=b"] {
            assert_eq!(neutralise(plain), plain);
            assert_eq!(restore(&neutralise(plain)), plain);
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
            "trailkeep-audit-all-time_2026-11-26-0.ndjson"
        );
    }
}
