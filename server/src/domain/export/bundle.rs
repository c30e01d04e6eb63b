//! The archive bundle, Trailkeep's long-term evidence of one period: a deterministic gzipped
//! tar whose members, in name order, are
//!
//! - `checkpoint.txt`: the signed checkpoint the entries are proven in (the smallest the log's
//!   key signed that covers the period's last entry);
//! - `consistency.json`: the signed checkpoint that covers the period's first entry (the
//!   previous period's bundle's checkpoint) and the consistency proof from it to this one;
//! - `entries.ndjson`: the period's entries that match the schedule's filter, in seq order, as
//!   exports write them, each with its inclusion proof in `checkpoint.txt`;
//! - `manifest.json`: what the bundle is of (schedule, filter, period, seq range, count), the
//!   chain hash before its first entry and after its last, and every other member's SHA-256.
//!
//! The same period gives the same bytes: nothing in a bundle depends on when or by whom it was
//! made (no clock, no user, fixed tar headers, gzip without a time or name). What
//! [`BundleChecker`] proves offline: the checkpoint is signed by the pinned key; the members
//! are the manifest's; every entry's fields give its leaf hash, its proof leads to the signed
//! root, it was recorded in the period, lies in the seq range, matches the filter, in seq
//! order, once; an unfiltered bundle holds every seq of its range and its leaves extend the
//! stated chain hash to the stated one after. Given the previous bundle of the schedule,
//! [`continues`] proves the two are consecutive: periods and seq ranges meet, the chain hash
//! carries over, and this one's consistency proof starts at the other's checkpoint — so a
//! chain of bundles shows that no entry was dropped between them.

use std::collections::BTreeMap;

use app::filter::{Filter, TimeWindow};
use app::integrity::{hash_from_hex, to_hex, Check, Checkpoint, Finding, Hash, Place, Proof};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::entry::chain::chain_hash;
use crate::domain::export::check::{malformed, read_entry};
use crate::domain::integrity::checkpoint::VerifierKey;
use crate::domain::integrity::tree;
use crate::domain::query::live_filter::LiveFilter;
use crate::domain::query::window::Bounds;

use super::schedule::Period;

/// The bundle format this server writes and the verifier reads.
pub const BUNDLE_VERSION: u64 = 1;

pub const CHECKPOINT: &str = "checkpoint.txt";
pub const CONSISTENCY: &str = "consistency.json";
pub const ENTRIES: &str = "entries.ndjson";
pub const MANIFEST: &str = "manifest.json";

/// The members, in the order the tar holds them (their names' order).
pub const MEMBERS: [&str; 4] = [CHECKPOINT, CONSISTENCY, ENTRIES, MANIFEST];

/// The largest small member (manifest, checkpoint, consistency) a verifier reads into memory.
pub const SMALL_MEMBER_MAX: u64 = 1 << 20;

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub bundle_version: u64,
    /// The Trailkeep release that wrote it.
    pub trailkeep_version: String,
    pub schedule_id: Uuid,
    /// The schedule's filter, canonical (empty: every entry). Its time window is not used: the
    /// period is.
    pub filter: String,
    /// The period, closed-open, of `recorded_at`, as RFC 3339 instants in UTC.
    pub period_start: String,
    pub period_end: String,
    /// The seqs recorded in the period: `first_seq <= seq < end_seq`.
    pub first_seq: u64,
    pub end_seq: u64,
    /// How many entries `entries.ndjson` holds (all of the range when unfiltered).
    pub count: u64,
    /// The chain hash of the entry before `first_seq` (the genesis hash for seq 0), and of the
    /// one before `end_seq`.
    pub chain_hash_before: String,
    pub chain_hash_after: String,
    /// The size of the checkpoint in `checkpoint.txt`.
    pub checkpoint_size: u64,
    /// The SHA-256 of every other member, by name.
    pub members: BTreeMap<String, String>,
}

/// `consistency.json`: this bundle's checkpoint extends the one that covers its first entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consistency {
    /// The signed checkpoint (a note) the proof starts from.
    pub from_checkpoint: String,
    pub from_size: u64,
    pub to_size: u64,
    pub proof: Proof,
}

/// A run's object name: `trailkeep-<schedule>-<start>_<end>.<extension>` (UTC, to the
/// second; `tar.gz` for a bundle, else the format's own).
pub fn object_name(schedule: Uuid, period: Period, extension: &str) -> String {
    let at = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let id = schedule.simple().to_string();
    format!(
        "trailkeep-{}-{}_{}.{extension}",
        &id[..8],
        at(period.start),
        at(period.end)
    )
}

/// The name of `run`'s object when another run of the same period came first (a "Run now"
/// of a period that already ran): [`object_name`] with `-run-<run>` before the extension, so
/// that no run's object replaces another's.
pub fn object_name_of_run(schedule: Uuid, period: Period, run: Uuid, extension: &str) -> String {
    let plain = object_name(schedule, period, extension);
    let stem = plain
        .strip_suffix(&format!(".{extension}"))
        .unwrap_or(&plain);
    format!("{stem}-run-{}.{extension}", &run.simple().to_string()[..8])
}

/// The media type of a run's object, by its name: a bundle is gzip, a file its format's type,
/// the head stored beside a CSV or NDJSON file JSON.
pub fn content_type(name: &str) -> &'static str {
    use crate::domain::export::format::Format;
    if name.ends_with(".head.json") {
        return "application/json";
    }
    name.rsplit_once('.')
        .and_then(|(_, ext)| Format::named(ext))
        .map_or("application/gzip", Format::content_type)
}

/// An instant as the manifest states it.
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// The fixed tar header of member `name` of `size` bytes: no owner, no time, mode 0644.
pub fn tar_header(name: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).expect("member names are short and plain");
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    h
}

/// A member's SHA-256 as the manifest states it.
pub fn digest_hex(d: Sha256) -> String {
    to_hex(&d.finalize())
}

fn bundle_finding(check: Check, detail: impl Into<String>) -> Finding {
    Finding::new(check, detail)
}

/// What a sound bundle holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSummary {
    pub manifest: Manifest,
    pub checkpoint: Checkpoint,
    /// The size of the checkpoint `consistency.json` starts from.
    pub from_size: u64,
    pub entries: u64,
    /// Unfiltered: every seq of the range is present and the chain hashes were recomputed.
    pub complete: bool,
    /// The filter's `q=` search could not be checked offline.
    pub search_unchecked: bool,
    /// Entries carrying a `source_name` (the key's name when written, which no hash covers).
    pub unhashed_names: u64,
}

/// Checks one bundle: built from its small members, then given its entries in file order,
/// then finished with the SHA-256 of each member as read.
pub struct BundleChecker {
    manifest: Manifest,
    checkpoint: Checkpoint,
    from_size: u64,
    period: Period,
    everything: bool,
    matcher: LiveFilter,
    search_unchecked: bool,
    before: Hash,
    after: Hash,
    chain: Hash,
    entries: u64,
    names: u64,
    last_seq: Option<u64>,
}

impl BundleChecker {
    pub fn new(
        key: &VerifierKey,
        manifest: &[u8],
        checkpoint: &[u8],
        consistency: &[u8],
    ) -> Result<Self, Finding> {
        let manifest: Manifest = serde_json::from_slice(manifest)
            .map_err(|e| malformed(format!("{MANIFEST} is not a bundle's manifest: {e}")))?;
        if manifest.bundle_version != BUNDLE_VERSION {
            return Err(malformed(format!(
                "the bundle's version {} is not one this verifier reads ({BUNDLE_VERSION})",
                manifest.bundle_version
            )));
        }
        let checkpoint = key.open(checkpoint).map_err(|e| {
            bundle_finding(Check::Signature, format!("the bundle's {CHECKPOINT}: {e}"))
        })?;
        if checkpoint.size != manifest.checkpoint_size {
            return Err(bundle_finding(
                Check::ExportFormat,
                format!(
                    "the manifest names a checkpoint of {} entries but {CHECKPOINT} is of {}: \
                     a checkpoint was swapped in",
                    manifest.checkpoint_size, checkpoint.size
                ),
            )
            .differs(
                manifest.checkpoint_size.to_string(),
                checkpoint.size.to_string(),
            ));
        }
        if manifest.first_seq > manifest.end_seq || checkpoint.size < manifest.end_seq {
            return Err(bundle_finding(
                Check::ExportFormat,
                format!(
                    "the seq range {}..{} is not within the checkpoint of {} entries: the \
                     manifest or the checkpoint was changed",
                    manifest.first_seq, manifest.end_seq, checkpoint.size
                ),
            ));
        }
        let parse_instant = |s: &str, what: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| malformed(format!("the manifest's {what} {s:?} is not an instant")))
        };
        let period = Period {
            start: parse_instant(&manifest.period_start, "period_start")?,
            end: parse_instant(&manifest.period_end, "period_end")?,
        };
        if period.start >= period.end {
            return Err(malformed("the manifest's period ends before it starts"));
        }
        let hash = |s: &str, what: &str| {
            hash_from_hex(s)
                .ok_or_else(|| malformed(format!("the manifest's {what} {s:?} is not a hash")))
        };
        let before = hash(&manifest.chain_hash_before, "chain_hash_before")?;
        let after = hash(&manifest.chain_hash_after, "chain_hash_after")?;
        let filter = Filter::parse(&manifest.filter).map_err(|e| {
            malformed(format!(
                "the manifest's filter {:?} does not parse: {e}",
                manifest.filter
            ))
        })?;
        if filter.to_query_string() != manifest.filter {
            return Err(malformed(format!(
                "the manifest's filter {:?} is not written as Trailkeep writes it: the manifest \
                 was changed",
                manifest.filter
            )));
        }
        let consistency: Consistency = serde_json::from_slice(consistency)
            .map_err(|e| malformed(format!("{CONSISTENCY} is not a consistency proof: {e}")))?;
        let from = key
            .open(consistency.from_checkpoint.as_bytes())
            .map_err(|e| {
                bundle_finding(
                    Check::Signature,
                    format!("the checkpoint {CONSISTENCY} starts from: {e}"),
                )
            })?;
        if from.size != consistency.from_size
            || consistency.to_size != checkpoint.size
            || from.size > checkpoint.size
            || from.size < manifest.first_seq
        {
            return Err(bundle_finding(
                Check::Consistency,
                format!(
                    "{CONSISTENCY} is from {} to {} entries, which is not from the checkpoint \
                     covering the period's first entry ({}) to the bundle's ({})",
                    consistency.from_size, consistency.to_size, from.size, checkpoint.size
                ),
            ));
        }
        tree::check_consistency(
            &consistency.proof.0,
            checkpoint.size,
            checkpoint.root,
            from.size,
            from.root,
        )
        .map_err(|_| {
            bundle_finding(
                Check::Consistency,
                format!(
                    "the bundle's checkpoint of {} entries does not extend the one of {} it \
                     names: the log was rewritten between them, or a checkpoint was swapped in",
                    checkpoint.size, from.size
                ),
            )
            .at(Place::TreeSize(checkpoint.size))
        })?;
        let search_unchecked = filter.q.is_some();
        let everything = Filter {
            time: TimeWindow::All,
            ..filter.clone()
        }
        .is_everything();
        let matcher = LiveFilter::new(
            Filter {
                time: TimeWindow::All,
                q: None,
                ..filter
            },
            Bounds::default(),
        );
        Ok(BundleChecker {
            manifest,
            checkpoint,
            from_size: from.size,
            period,
            everything,
            matcher,
            search_unchecked,
            before,
            after,
            chain: before,
            entries: 0,
            names: 0,
            last_seq: None,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The bundle's checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The next line of `entries.ndjson`.
    pub fn entry(&mut self, value: Value) -> Result<(), Finding> {
        let at = self.entries + 1;
        let here = Place::FileEntry(at);
        let read = read_entry(value, at, true)?;
        let entry = &read.entry;
        let seq = entry.seq as u64;
        let name = format!("entry #{at} (seq {seq})");
        let named = |check: Check, detail: String| Finding::new(check, detail).at(here);
        let m = &self.manifest;
        if seq < m.first_seq || seq >= m.end_seq {
            return Err(named(
                Check::ExportFilter,
                format!(
                    "{name} is outside the bundle's seq range {}..{}: it was added",
                    m.first_seq, m.end_seq
                ),
            ));
        }
        if !self.period.holds(entry.recorded_at) {
            return Err(named(
                Check::ExportFilter,
                format!(
                    "{name} was recorded at {}, outside the bundle's period {} to {}: it was \
                     added, or the period was changed",
                    instant(entry.recorded_at),
                    m.period_start,
                    m.period_end
                ),
            ));
        }
        let expected_seq = match self.last_seq {
            None => m.first_seq,
            Some(last) => last + 1,
        };
        if self.last_seq.is_some_and(|last| seq <= last) {
            return Err(named(
                Check::ExportFilter,
                format!("{name} is out of seq order: entries were moved or repeated"),
            ));
        }
        if self.everything && seq != expected_seq {
            return Err(named(
                Check::ExportCount,
                format!(
                    "the bundle is of every entry of its period but lacks seq {expected_seq}: \
                     entries were removed"
                ),
            )
            .seq(expected_seq as i64));
        }
        if !self.matcher.matches(entry, "", Utc::now()) {
            return Err(named(
                Check::ExportFilter,
                format!(
                    "{name} does not match the bundle's filter {:?}: it was added",
                    m.filter
                ),
            ));
        }
        let size = self.checkpoint.size;
        if read
            .checkpoint_size
            .as_ref()
            .is_none_or(|n| n.as_u64() != Some(size))
        {
            return Err(named(
                Check::ExportFormat,
                format!("{name}: its checkpoint_size is not the bundle's checkpoint ({size})"),
            ));
        }
        let proof: Proof = serde_json::from_value(read.proof).map_err(|e| {
            named(
                Check::ExportFormat,
                format!("{name}: inclusion_proof is not a proof ({e})"),
            )
        })?;
        tree::check_inclusion(&proof.0, size, self.checkpoint.root, seq, read.leaf).map_err(
            |_| {
                named(
                    Check::Inclusion,
                    format!(
                        "{name}: its inclusion proof does not lead to the checkpoint's root (the \
                         entry, its proof or the checkpoint was changed)"
                    ),
                )
            },
        )?;
        self.chain = chain_hash(&self.chain, &read.leaf);
        if entry.source_name.is_some() {
            self.names += 1;
        }
        self.last_seq = Some(seq);
        self.entries += 1;
        Ok(())
    }

    /// After the last entry, with each member's SHA-256 as read (by name).
    pub fn finish(self, read: &BTreeMap<String, String>) -> Result<BundleSummary, Finding> {
        let m = &self.manifest;
        let expected: Vec<&str> = MEMBERS.iter().copied().filter(|n| *n != MANIFEST).collect();
        let stated: Vec<&str> = m.members.keys().map(String::as_str).collect();
        if stated != expected {
            return Err(malformed(format!(
                "the manifest lists the members {stated:?}, not {expected:?}"
            )));
        }
        for (name, sha) in &m.members {
            let found = read.get(name).map(String::as_str).unwrap_or("");
            if found != sha {
                return Err(bundle_finding(
                    Check::ExportFormat,
                    format!("the member {name} is not the one the manifest names: its bytes were changed"),
                )
                .differs(sha.clone(), found.to_string()));
            }
        }
        if self.entries != m.count {
            return Err(bundle_finding(
                Check::ExportCount,
                format!(
                    "the manifest says the bundle holds {} entries but it holds {}: entries were \
                     removed or added",
                    m.count, self.entries
                ),
            )
            .differs(m.count.to_string(), self.entries.to_string()));
        }
        if self.everything {
            if self.entries != m.end_seq - m.first_seq {
                return Err(bundle_finding(
                    Check::ExportCount,
                    format!(
                        "the bundle is of every entry of seqs {}..{} but holds {}: entries were \
                         removed",
                        m.first_seq, m.end_seq, self.entries
                    ),
                ));
            }
            if self.chain != self.after {
                return Err(bundle_finding(
                    Check::Chain,
                    "the entries do not lead from the stated chain hash before them to the one \
                     after: an entry was changed, removed or reordered, or a chain hash was \
                     changed",
                )
                .differs(m.chain_hash_after.clone(), to_hex(&self.chain)));
            }
        } else if m.first_seq == m.end_seq && self.before != self.after {
            return Err(bundle_finding(
                Check::Chain,
                "an empty seq range leaves the chain hash as it was, but the manifest states two",
            ));
        }
        Ok(BundleSummary {
            checkpoint: self.checkpoint,
            from_size: self.from_size,
            entries: self.entries,
            complete: self.everything,
            search_unchecked: self.search_unchecked,
            unhashed_names: self.names,
            manifest: self.manifest,
        })
    }
}

/// `this` is the bundle that follows `previous` in the same schedule: same schedule and
/// filter, the periods and seq ranges meet, the chain hash carries over, and `this`'s
/// consistency proof starts at `previous`'s checkpoint (`from`: the note it starts from).
pub fn continues(
    previous: &BundleSummary,
    previous_note: &str,
    this: &BundleSummary,
    from_note: &str,
) -> Result<(), Finding> {
    let (p, t) = (&previous.manifest, &this.manifest);
    let broken = |detail: String| bundle_finding(Check::Consistency, detail);
    if p.schedule_id != t.schedule_id || p.filter != t.filter {
        return Err(broken(format!(
            "the previous bundle is of another schedule or filter ({} {:?}, this one {} {:?})",
            p.schedule_id, p.filter, t.schedule_id, t.filter
        )));
    }
    if p.period_end != t.period_start {
        return Err(broken(format!(
            "the previous bundle's period ends at {} but this one starts at {}: a period \
             between them is missing, or they are not consecutive",
            p.period_end, t.period_start
        ))
        .differs(p.period_end.clone(), t.period_start.clone()));
    }
    if p.end_seq != t.first_seq {
        return Err(broken(format!(
            "the previous bundle's seqs end at {} but this one's start at {}: entries between \
             the two bundles were dropped or added",
            p.end_seq, t.first_seq
        ))
        .differs(p.end_seq.to_string(), t.first_seq.to_string()));
    }
    if p.chain_hash_after != t.chain_hash_before {
        return Err(broken(
            "the chain hash after the previous bundle is not the one this bundle starts from: \
             the log was rewritten between them"
                .into(),
        )
        .differs(p.chain_hash_after.clone(), t.chain_hash_before.clone()));
    }
    if previous_note.trim_end() != from_note.trim_end() {
        return Err(broken(format!(
            "this bundle's consistency proof starts from a checkpoint of {} entries, not the \
             previous bundle's ({}): the two checkpoints are not shown consistent",
            this.from_size, previous.checkpoint.size
        )));
    }
    Ok(())
}

/// A member's SHA-256 while it is read or written.
pub fn sha256() -> Sha256 {
    Sha256::new()
}
