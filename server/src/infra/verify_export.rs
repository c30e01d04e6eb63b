//! `trailkeep verify-export FILE --key VKEY`: reads a JSON or NDJSON export from disk, with no
//! database, and hands its parts to `domain::export::check`. JSON is read as a stream (one entry
//! in memory at a time); NDJSON is read twice, first for its trailer line (the checkpoint),
//! then entry by entry.
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
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use app::integrity::Finding;

use crate::domain::export::check::{malformed, Checker, Summary};
use crate::domain::export::format::{ExportHead, Stated, TrailerLine, JSON_KEYS};
use crate::domain::integrity::checkpoint::VerifierKey;

/// The file could not be read at all (nothing was checked).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct ReadError {
    path: String,
    source: std::io::Error,
}

/// `Ok(Ok(summary))`: sound. `Ok(Err(finding))`: the first thing wrong, named. `Err`: the file
/// could not be read at all. `allow_unproven`: accept entries newer than the checkpoint.
pub fn verify(
    path: &Path,
    key: &VerifierKey,
    allow_unproven: bool,
) -> Result<Result<Summary, Finding>, ReadError> {
    let failed = |source| ReadError {
        path: path.display().to_string(),
        source,
    };
    let mut file = File::open(path).map_err(failed)?;
    let mut start = [0u8; 16];
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
    } else {
        ndjson(file, key, allow_unproven).map_err(failed)
    }
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

/// A JSON value read strictly: an object that repeats a member is refused.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Strict::deserialize(d).map(|s| s.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(A::Error::custom(format!(
                    "the member {key:?} appears twice in one object (readers disagree on which \
                     counts): the file was changed"
                )));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

fn strict_line(text: &str) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let Strict(value) = Strict::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

fn ndjson(
    file: File,
    key: &VerifierKey,
    allow_unproven: bool,
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
    let not_trailer = || {
        Ok(Err(malformed(
            "the last line is not the export's trailer: the file was cut short, or is not a \
             Trailkeep NDJSON export",
        )))
    };
    let Ok(trailer) = strict_line(&last) else {
        return not_trailer();
    };
    if !trailer.get("trailer").is_some_and(Value::is_object) {
        return not_trailer();
    }
    let trailer = match typed::<TrailerLine>(trailer, "the trailer") {
        Ok(line) => line.trailer,
        Err(finding) => return Ok(Err(finding)),
    };
    let mut checker = match Checker::new(key, Stated::from(&trailer), allow_unproven) {
        Ok(c) => c,
        Err(finding) => return Ok(Err(finding)),
    };
    let mut reader = reader.into_inner();
    reader.rewind()?;
    let mut entries = 0u64;
    for text in BufReader::new(reader).lines() {
        let text = text?;
        if text.trim().is_empty() {
            continue;
        }
        if entries + 1 == lines {
            break; // the trailer
        }
        entries += 1;
        let value = match strict_line(&text) {
            Ok(v) => v,
            Err(e) => {
                return Ok(Err(malformed(format!(
                    "line {entries} is not one JSON entry: {e}"
                ))))
            }
        };
        if let Err(finding) = checker.entry(value) {
            return Ok(Err(finding));
        }
    }
    Ok(checker.finish(Some(trailer.count), Some(trailer.proven)))
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
            Some(checker) => checker.finish(count, proven),
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
