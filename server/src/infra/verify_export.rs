//! `trailkeep verify-export FILE --key VKEY`: reads a JSON, NDJSON or CSV export from disk,
//! with no database, and hands its parts to `domain::export::check`. JSON is read as a stream
//! (one entry in memory at a time) and states its checkpoint, filter, period and count in
//! itself. CSV and NDJSON (format version 4) hold entries only: their checkpoint comes from the
//! file beside them ([`Beside`]: `<export>.checkpoint`), and their filter and count from the
//! auditor when they know them. An NDJSON file of version 2 or 3 ends with a trailer line that
//! states them; it is read twice, first for that line.
//!
//! Every value is read strictly: an object with a repeated member is refused at any level
//! (serde_json would keep the last copy, other tools the first), and so is a member, or a
//! second `entries` list, that an export never holds. A file is verified only as every other
//! reader of JSON reads it.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::Path;

use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use app::integrity::Finding;

use crate::domain::export::check::{malformed, Checker, Summary};
use crate::domain::export::format::{ExportHead, Stated, Trailer, TrailerLine, JSON_KEYS};
use crate::domain::export::strict::{strict_line, Strict};
use crate::domain::integrity::checkpoint::VerifierKey;

/// The file could not be read at all (nothing was checked).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct ReadError {
    path: String,
    source: std::io::Error,
}

/// What travels beside a CSV or NDJSON export (format version 4), which holds entries only:
/// the signed checkpoint it was cut against (the note, as the API serves it by size), and, if
/// the auditor knows them, the filter it was made with and how many entries it holds.
#[derive(Clone, Debug, Default)]
pub struct Beside {
    pub checkpoint: Option<String>,
    pub filter: Option<String>,
    pub count: Option<u64>,
    /// A scheduled file's head (`<file>.head.json`): what it states of itself — filter,
    /// period, checkpoint and count — as a JSON export states them in its own head.
    pub head: Option<Trailer>,
}

/// The head stored beside a scheduled CSV or NDJSON file: `<file>.head.json`, if it exists.
pub fn head_beside(path: &Path) -> Option<std::path::PathBuf> {
    let p = std::path::PathBuf::from(format!("{}.head.json", path.display()));
    p.is_file().then_some(p)
}

/// A head file's text, read strictly (only the members Trailkeep writes, none twice).
pub fn read_head(text: &str) -> Result<Trailer, Finding> {
    let value = strict_line(text.trim())
        .map_err(|e| malformed(format!("the head beside the file is not JSON: {e}")))?;
    typed::<Trailer>(value, "the head beside the file")
}

/// The checkpoint file beside an export: `<file>.checkpoint`, else the file's name with its
/// extension replaced (`trailkeep-audit-….checkpoint`), if either exists.
pub fn checkpoint_beside(path: &Path) -> Option<std::path::PathBuf> {
    let appended = std::path::PathBuf::from(format!("{}.checkpoint", path.display()));
    let replaced = path.with_extension("checkpoint");
    [appended, replaced].into_iter().find(|p| p.is_file())
}

/// `Ok(Ok(summary))`: sound. `Ok(Err(finding))`: the first thing wrong, named. `Err`: the file
/// could not be read at all. `allow_unproven`: accept entries newer than the checkpoint.
pub fn verify(
    path: &Path,
    key: &VerifierKey,
    allow_unproven: bool,
    beside: &Beside,
) -> Result<Result<Summary, Finding>, ReadError> {
    let failed = |source| ReadError {
        path: path.display().to_string(),
        source,
    };
    let mut file = File::open(path).map_err(failed)?;
    let mut start = [0u8; 64];
    let n = file.read(&mut start).map_err(failed)?;
    file.rewind().map_err(failed)?;
    // A JSON export opens with its head (`{"export":`); an NDJSON one with an entry or, when
    // empty, its trailer.
    let head: String = String::from_utf8_lossy(&start[..n])
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if head.starts_with("{\"export\"") {
        Ok(json(BufReader::new(file), key, allow_unproven))
    } else if head.starts_with("timestamp,actor_type") {
        Ok(csv_export(file, key, allow_unproven, beside))
    } else {
        ndjson(file, key, allow_unproven, beside).map_err(failed)
    }
}

/// What a CSV or version-4 NDJSON export is checked against: what the auditor gives beside it.
fn stated_beside(beside: &Beside) -> Result<Stated, Finding> {
    if let Some(head) = &beside.head {
        // What the auditor states wins: a head that says otherwise is refused, never
        // silently preferred (a head beside a file is as unsigned as the file).
        let differs = |what: &str, given: &str, head: &str| {
            malformed(format!(
                "the head beside the file states {what} {head:?} but you gave {given:?}: check \
                 the file without its head (move <file>.head.json away), or with what it states"
            ))
        };
        if let Some(f) = beside.filter.as_deref().filter(|f| *f != head.filter) {
            return Err(differs("the filter", f, &head.filter));
        }
        let note = head.checkpoint.as_deref().unwrap_or("");
        if beside
            .checkpoint
            .as_deref()
            .is_some_and(|c| c.trim() != note.trim())
        {
            return Err(malformed(
                "the head beside the file states another checkpoint than the one you gave: \
                 check the file without its head (move <file>.head.json away), or with the \
                 checkpoint it states",
            ));
        }
        if let Some(n) = beside.count.filter(|n| *n != head.count) {
            return Err(differs(
                "the count",
                &n.to_string(),
                &head.count.to_string(),
            ));
        }
        return Ok(Stated::from(head));
    }
    let checkpoint = beside.checkpoint.clone().ok_or_else(|| {
        malformed(
            "a CSV or NDJSON export holds only entries: give the checkpoint it was cut against \
             (the file <export>.checkpoint the console offers beside it, or GET \
             /api/v1/integrity/checkpoint?size=N with N its entries' checkpoint_size) with \
             --checkpoint",
        )
    })?;
    Ok(Stated {
        format_version: crate::domain::export::format::FORMAT_VERSION,
        filter: beside.filter.clone(),
        from: None,
        to: None,
        checkpoint: Some(checkpoint),
        recorded: None,
    })
}

/// The count the auditor states, else the head beside the file.
fn stated_count(beside: &Beside) -> Option<u64> {
    beside.count.or(beside.head.as_ref().map(|h| h.count))
}

/// How many entries the head beside the file says are proven.
fn stated_proven(beside: &Beside) -> Option<u64> {
    beside.head.as_ref().map(|h| h.proven)
}

/// A CSV export: a header of the columns Trailkeep writes, then one entry per record.
fn csv_export(
    file: File,
    key: &VerifierKey,
    allow_unproven: bool,
    beside: &Beside,
) -> Result<Summary, Finding> {
    use crate::domain::export::format::{csv_entry, CSV_COLUMNS};
    let mut checker = Checker::new(key, stated_beside(beside)?, allow_unproven)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(BufReader::new(file));
    let header = reader
        .headers()
        .map_err(|e| malformed(format!("the CSV header cannot be read: {e}")))?;
    if header.iter().ne(CSV_COLUMNS) {
        return Err(malformed(
            "the CSV header is not the columns Trailkeep writes (format version 4): the file \
             was changed, or is an older export",
        ));
    }
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| malformed(format!("record {}: {e}", i + 1)))?;
        let value = csv_entry(&record).map_err(|e| malformed(format!("record {}: {e}", i + 1)))?;
        checker.entry(value)?;
    }
    checker.finish(stated_count(beside), stated_proven(beside), false)
}

/// A head or trailer read strictly: only the members its type names.
fn typed<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, Finding> {
    serde_json::from_value(value).map_err(|e| {
        malformed(format!(
            "{what} is not one Trailkeep writes ({e}): a member Trailkeep never writes, or a \
             changed value: the file was changed"
        ))
    })
}

fn ndjson(
    file: File,
    key: &VerifierKey,
    allow_unproven: bool,
    beside: &Beside,
) -> Result<Result<Summary, Finding>, std::io::Error> {
    let mut reader = BufReader::new(file);
    let mut last = String::new();
    let mut lines = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        if !line.trim().is_empty() {
            lines += 1;
            std::mem::swap(&mut last, &mut line);
        }
    }
    let trailer = strict_line(&last)
        .ok()
        .filter(|v| v.get("trailer").is_some_and(Value::is_object));
    let Some(trailer) = trailer else {
        // Version 4: every line is an entry.
        let checker = match stated_beside(beside)
            .and_then(|stated| Checker::new(key, stated, allow_unproven))
        {
            Ok(c) => c,
            Err(finding) => return Ok(Err(finding)),
        };
        let mut reader = reader.into_inner();
        reader.rewind()?;
        return entry_lines(reader, checker, u64::MAX)
            .map(|r| r.and_then(|c| c.finish(stated_count(beside), stated_proven(beside), false)));
    };
    let trailer = match typed::<TrailerLine>(trailer, "the trailer") {
        Ok(line) => line.trailer,
        Err(finding) => return Ok(Err(finding)),
    };
    let checker = match Checker::new(key, Stated::from(&trailer), allow_unproven) {
        Ok(c) => c,
        Err(finding) => return Ok(Err(finding)),
    };
    let mut reader = reader.into_inner();
    reader.rewind()?;
    // Every line but the last (the trailer) is an entry.
    Ok(entry_lines(reader, checker, lines - 1)?
        .and_then(|c| c.finish(Some(trailer.count), Some(trailer.proven), true)))
}

/// Checks the first `entries` non-empty lines of `file` (all of them for `u64::MAX`) as
/// entries, one JSON object each.
fn entry_lines(
    file: File,
    mut checker: Checker,
    entries: u64,
) -> Result<Result<Checker, Finding>, std::io::Error> {
    let mut seen = 0u64;
    for text in BufReader::new(file).lines() {
        let text = text?;
        if text.trim().is_empty() {
            continue;
        }
        if seen == entries {
            break;
        }
        seen += 1;
        let value = match strict_line(&text) {
            Ok(v) => v,
            Err(e) => {
                return Ok(Err(malformed(format!(
                    "line {seen} is not one JSON entry: {e}"
                ))))
            }
        };
        if let Err(finding) = checker.entry(value) {
            return Ok(Err(finding));
        }
    }
    Ok(Ok(checker))
}

/// The JSON export `{"export": head, "entries": [...], "count": n, "proven": p}`, streamed.
fn json(reader: impl Read, key: &VerifierKey, allow_unproven: bool) -> Result<Summary, Finding> {
    let failure = RefCell::new(None::<Finding>);
    let visitor = ExportVisitor {
        key,
        allow_unproven,
        failure: &failure,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let outcome =
        serde::Deserializer::deserialize_map(&mut de, visitor).and_then(|v| de.end().map(|()| v));
    if let Some(why) = failure.into_inner() {
        return Err(why);
    }
    match outcome {
        Ok(summary) => summary,
        Err(e) => Err(malformed(format!(
            "the file is not a whole Trailkeep JSON export: {e}"
        ))),
    }
}

struct ExportVisitor<'a> {
    key: &'a VerifierKey,
    allow_unproven: bool,
    failure: &'a RefCell<Option<Finding>>,
}

impl<'de> Visitor<'de> for ExportVisitor<'_> {
    type Value = Result<Summary, Finding>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Trailkeep JSON export")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut checker = None;
        let (mut count, mut proven) = (None, None);
        let mut seen: Vec<String> = Vec::new();
        let stop = |finding: Finding| {
            *self.failure.borrow_mut() = Some(finding);
            A::Error::custom("stopped at the first failure")
        };
        while let Some(key) = map.next_key::<String>()? {
            if !JSON_KEYS.contains(&key.as_str()) {
                return Err(stop(malformed(format!(
                    "the export has a member {key:?} that Trailkeep never writes: the file was \
                     changed"
                ))));
            }
            if seen.contains(&key) {
                return Err(stop(malformed(format!(
                    "the export's {key:?} appears twice (readers disagree on which counts): \
                     the file was changed"
                ))));
            }
            seen.push(key.clone());
            match key.as_str() {
                "export" => {
                    let Strict(head) = map.next_value()?;
                    let head: ExportHead = typed(head, "the export's head").map_err(stop)?;
                    checker = Some(
                        Checker::new(self.key, Stated::from(&head), self.allow_unproven)
                            .map_err(stop)?,
                    );
                }
                "entries" => {
                    let Some(checker) = checker.as_mut() else {
                        return Err(stop(malformed(
                            "the export's head must come before its entries",
                        )));
                    };
                    map.next_value_seed(Entries {
                        checker,
                        failure: self.failure,
                    })?;
                }
                "count" => count = Some(map.next_value::<u64>()?),
                _ => proven = Some(map.next_value::<u64>()?),
            }
        }
        Ok(match checker {
            None => Err(malformed("the export has no head")),
            Some(_) if !seen.iter().any(|k| k == "entries") => {
                Err(malformed("the export has no entries list"))
            }
            Some(checker) => checker.finish(count, proven, true),
        })
    }
}

struct Entries<'a> {
    checker: &'a mut Checker,
    failure: &'a RefCell<Option<Finding>>,
}

impl<'de> DeserializeSeed<'de> for Entries<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("the export's entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(Strict(value)) = seq.next_element()? {
            if let Err(finding) = self.checker.entry(value) {
                *self.failure.borrow_mut() = Some(finding);
                return Err(A::Error::custom("stopped at the first failure"));
            }
        }
        Ok(())
    }
}
