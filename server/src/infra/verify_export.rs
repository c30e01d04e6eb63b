//! `trailkeep verify-export FILE --key VKEY`: reads a JSON or NDJSON export from disk, with no
//! database, and hands its parts to `domain::export_check`. JSON is read as a stream (one entry
//! in memory at a time); NDJSON is read twice, first for its trailer line (the checkpoint),
//! then entry by entry.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::Path;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::domain::checkpoint::VerifierKey;
use crate::domain::export_check::{Checker, Summary};

/// `Ok(Ok(summary))`: sound. `Ok(Err(why))`: the first thing wrong, named. `Err`: the file
/// could not be read as an export at all.
pub fn verify(path: &Path, key: &VerifierKey) -> Result<Result<Summary, String>, String> {
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut start = [0u8; 16];
    let n = file.read(&mut start).map_err(|e| e.to_string())?;
    file.rewind().map_err(|e| e.to_string())?;
    // A JSON export opens with its head (`{"export":`); an NDJSON one with an entry or, when
    // empty, its trailer.
    let head: String = String::from_utf8_lossy(&start[..n])
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if head.starts_with("{\"export\"") {
        Ok(json(BufReader::new(file), key))
    } else {
        ndjson(file, key)
    }
}

fn ndjson(file: File, key: &VerifierKey) -> Result<Result<Summary, String>, String> {
    let mut reader = BufReader::new(file);
    let mut last = String::new();
    let mut lines = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            break;
        }
        if !line.trim().is_empty() {
            lines += 1;
            std::mem::swap(&mut last, &mut line);
        }
    }
    let trailer: Value = serde_json::from_str(&last).unwrap_or(Value::Null);
    let Some(trailer) = trailer.get("trailer") else {
        return Ok(Err(
            "the last line is not the export's trailer: the file was cut short, or is not a \
             Trailkeep NDJSON export"
                .into(),
        ));
    };
    let mut checker = match Checker::new(
        key,
        trailer["checkpoint"].as_str(),
        trailer["filter"].as_str().unwrap_or(""),
    ) {
        Ok(c) => c,
        Err(why) => return Ok(Err(why)),
    };
    let mut reader = reader.into_inner();
    reader.rewind().map_err(|e| e.to_string())?;
    let mut entries = 0u64;
    for text in BufReader::new(reader).lines() {
        let text = text.map_err(|e| e.to_string())?;
        if text.trim().is_empty() {
            continue;
        }
        if entries + 1 == lines {
            break; // the trailer
        }
        entries += 1;
        let value: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => return Ok(Err(format!("line {entries} is not JSON: {e}"))),
        };
        if let Err(why) = checker.entry(value) {
            return Ok(Err(why));
        }
    }
    Ok(checker.finish(trailer["count"].as_u64(), trailer["proven"].as_u64()))
}

/// The JSON export `{"export": head, "entries": [...], "count": n, "proven": p}`, streamed.
fn json(reader: impl Read, key: &VerifierKey) -> Result<Summary, String> {
    let failure = RefCell::new(None::<String>);
    let visitor = ExportVisitor {
        key,
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
        Err(e) => Err(format!(
            "the file is not a whole Trailkeep JSON export: {e}"
        )),
    }
}

struct ExportVisitor<'a> {
    key: &'a VerifierKey,
    failure: &'a RefCell<Option<String>>,
}

impl<'de> Visitor<'de> for ExportVisitor<'_> {
    type Value = Result<Summary, String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Trailkeep JSON export")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut checker = None;
        let (mut count, mut proven) = (None, None);
        let stop = |why: String| {
            *self.failure.borrow_mut() = Some(why);
            A::Error::custom("stopped at the first failure")
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "export" => {
                    let head: Value = map.next_value()?;
                    checker = Some(
                        Checker::new(
                            self.key,
                            head["checkpoint"].as_str(),
                            head["filter"].as_str().unwrap_or(""),
                        )
                        .map_err(stop)?,
                    );
                }
                "entries" => {
                    let Some(checker) = checker.as_mut() else {
                        return Err(stop(
                            "the export's head must come before its entries".into(),
                        ));
                    };
                    map.next_value_seed(Entries {
                        checker,
                        failure: self.failure,
                    })?;
                }
                "count" => count = Some(map.next_value::<u64>()?),
                "proven" => proven = Some(map.next_value::<u64>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(match checker {
            None => Err("the export has no head".into()),
            Some(checker) => checker.finish(count, proven),
        })
    }
}

struct Entries<'a> {
    checker: &'a mut Checker,
    failure: &'a RefCell<Option<String>>,
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
        while let Some(value) = seq.next_element::<Value>()? {
            if let Err(why) = self.checker.entry(value) {
                *self.failure.borrow_mut() = Some(why);
                return Err(A::Error::custom("stopped at the first failure"));
            }
        }
        Ok(())
    }
}
