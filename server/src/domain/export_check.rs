//! What `trailkeep verify-export` checks, without a database: the export's checkpoint is
//! signed by the pinned key; every entry's fields give its leaf hash (recomputed from the
//! fields, never read); every entry the checkpoint covers carries an inclusion proof that leads
//! from that leaf hash to the signed root; entries are in the export's order, none twice, as
//! many as the export says; and an export of everything holds every entry the checkpoint
//! covers. The first failure is named (by `seq` and position) and ends the check.
//!
//! The file's framing (JSON or NDJSON) is read by `infra::verify_export`; this takes its parts.

use app::filter::{Filter, Order};
use app::model::AuditEntry;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::checkpoint::{Checkpoint, VerifierKey};
use super::entry::EntryRecord;
use super::tree::{self, Hash};

/// What a sound export holds.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub entries: u64,
    /// Entries proven in the checkpoint's tree.
    pub proven: u64,
    /// Entries appended after the checkpoint (no proof possible yet).
    pub newer: u64,
    pub checkpoint_size: u64,
}

/// Checks an export's entries one at a time, in file order (memory: one bit per entry the
/// checkpoint covers).
pub struct Checker {
    checkpoint: Checkpoint,
    order: Order,
    everything: bool,
    entries: u64,
    proven: u64,
    last: Option<(DateTime<Utc>, i64)>,
    seen: Vec<u64>,
    newer_seen: std::collections::BTreeSet<i64>,
}

impl Checker {
    /// From the export's checkpoint note and filter (as its head or trailer states them).
    pub fn new(key: &VerifierKey, note: Option<&str>, filter: &str) -> Result<Self, String> {
        let note = note.ok_or(
            "the export carries no checkpoint (it was made before the log's first checkpoint \
             was signed): nothing in it can be proven; export it again",
        )?;
        let checkpoint = key
            .open(note.as_bytes())
            .map_err(|e| format!("the export's checkpoint: {e}"))?;
        let filter = Filter::parse(filter)
            .map_err(|e| format!("the export's filter {filter:?} does not parse: {e}"))?;
        let words = checkpoint.size.div_ceil(64) as usize;
        Ok(Checker {
            order: filter.order,
            everything: filter.is_everything(),
            entries: 0,
            proven: 0,
            last: None,
            seen: vec![0; words],
            newer_seen: Default::default(),
            checkpoint,
        })
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The next entry of the file (an object: the API's entry and its `inclusion_proof`).
    pub fn entry(&mut self, mut value: Value) -> Result<(), String> {
        let at = self.entries + 1;
        let proof = value
            .as_object_mut()
            .and_then(|o| o.remove("inclusion_proof"))
            .ok_or_else(|| format!("entry #{at} has no inclusion_proof field"))?;
        let entry: AuditEntry = serde_json::from_value(value)
            .map_err(|e| format!("entry #{at} is not an entry: {e}"))?;
        let seq = entry.seq;
        let name = format!("entry #{at} (seq {seq})");
        let record = EntryRecord::from_entry(&entry).map_err(|e| format!("{name}: {e}"))?;
        let leaf = record.leaf_hash();
        if hex::encode(leaf) != entry.leaf_hash {
            return Err(format!(
                "{name}: its fields do not give its leaf_hash: a field was changed"
            ));
        }
        let key = (entry.occurred_at, seq);
        if let Some(last) = self.last {
            let in_order = match self.order {
                Order::Desc => key < last,
                Order::Asc => key > last,
            };
            if !in_order {
                return Err(format!(
                    "{name} is out of the export's order (entries were moved or repeated)"
                ));
            }
        }
        self.last = Some(key);
        let size = self.checkpoint.size;
        if seq >= 0 && (seq as u64) < size {
            let (word, bit) = ((seq as u64 / 64) as usize, seq as u64 % 64);
            if self.seen[word] & (1 << bit) != 0 {
                return Err(format!("{name} appears twice"));
            }
            self.seen[word] |= 1 << bit;
            let proof = hashes(&proof).map_err(|e| format!("{name}: inclusion_proof {e}"))?;
            tree::check_inclusion(&proof, size, self.checkpoint.root, seq as u64, leaf).map_err(
                |_| {
                    format!(
                        "{name}: its inclusion proof does not lead to the checkpoint's root \
                         (the entry, or its proof, was changed)"
                    )
                },
            )?;
            self.proven += 1;
        } else {
            if !proof.is_null() {
                return Err(format!(
                    "{name} has a proof but the checkpoint covers only {size} entries"
                ));
            }
            if !self.newer_seen.insert(seq) {
                return Err(format!("{name} appears twice"));
            }
        }
        self.entries += 1;
        Ok(())
    }

    /// After the last entry: the counts the export states must be what it holds.
    pub fn finish(self, count: Option<u64>, proven: Option<u64>) -> Result<Summary, String> {
        let count =
            count.ok_or("the export does not say how many entries it holds (cut short?)")?;
        if count != self.entries {
            return Err(format!(
                "the export says it holds {count} entries but it holds {}: entries were removed \
                 or added",
                self.entries
            ));
        }
        if proven.is_some_and(|p| p != self.proven) {
            return Err(format!(
                "the export says {} entries are proven but {} are",
                proven.unwrap_or(0),
                self.proven
            ));
        }
        if self.everything && self.proven != self.checkpoint.size {
            let missing = (0..self.checkpoint.size)
                .find(|s| self.seen[(s / 64) as usize] & (1 << (s % 64)) == 0)
                .unwrap_or(0);
            return Err(format!(
                "the export is of every entry but lacks seq {missing}, which the checkpoint \
                 covers: entries were removed"
            ));
        }
        Ok(Summary {
            entries: self.entries,
            proven: self.proven,
            newer: self.entries - self.proven,
            checkpoint_size: self.checkpoint.size,
        })
    }
}

/// A proof as exports write it: an array of hex hashes.
fn hashes(proof: &Value) -> Result<Vec<Hash>, String> {
    let list = proof.as_array().ok_or("is missing")?;
    list.iter()
        .map(|h| {
            h.as_str()
                .and_then(|h| hex::decode(h).ok())
                .and_then(|b| Hash::try_from(b).ok())
                .ok_or_else(|| "holds something that is not a hex SHA-256 hash".to_string())
        })
        .collect()
}
