//! What `trailkeep verify-export` checks, without a database: the export's checkpoint is
//! signed by the pinned key; every entry's fields give its leaf hash (recomputed from the
//! fields, never read); every entry the checkpoint covers carries an inclusion proof that leads
//! from that leaf hash to the signed root; every entry matches the filter and lies in the
//! period the export states; entries are in the export's order, none twice, as many as the
//! export says; and an export of everything holds every entry the checkpoint covers. Entries
//! newer than the checkpoint cannot be proven: refused unless the caller allows them. The
//! first failure is named (by `seq` and position) and ends the check.
//!
//! Every object is read strictly: the file's framing (`infra::verify_export`) refuses duplicate
//! keys at any level, and this refuses any member an export does not write, so a file that
//! other tools read differently never passes.

use std::collections::BTreeSet;

use app::filter::{Filter, Order, TimeWindow};
use app::integrity::{to_hex, Check, Finding, Place, Proof};
use app::model::AuditEntry;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::domain::entry::record::EntryRecord;
use crate::domain::export::format::Stated;
use crate::domain::integrity::checkpoint::{Checkpoint, VerifierKey};
use crate::domain::integrity::tree;
use crate::domain::query::live_filter::LiveFilter;
use crate::domain::query::window::{self, Bounds};

/// What a sound export holds, and what could not be verified.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub entries: u64,
    /// Entries proven in the checkpoint's tree.
    pub proven: u64,
    /// Entries appended after the checkpoint (no proof possible yet; only when allowed).
    pub newer: u64,
    pub checkpoint_size: u64,
    /// The export's filter, canonical (empty: every entry); `None` when nothing stated it (a
    /// CSV or NDJSON export checked without `--filter`): neither the filter, the period nor
    /// completeness was checked.
    pub filter: Option<String>,
    /// Whether the number of entries was checked against one stated (JSON's count, an older
    /// NDJSON's trailer, or `--count`).
    pub count_checked: bool,
    /// An export of every entry: it is proven complete up to its checkpoint.
    pub complete: bool,
    /// The filter's `q=` search could not be checked offline (PostgreSQL's text search).
    pub search_unchecked: bool,
    /// Entries carrying a `source_name`, which no hash covers (the key's current name).
    pub unhashed_names: u64,
    /// Form-1 entries, whose `source` no hash covers (recorded before provenance).
    pub unhashed_sources: u64,
    /// The period every entry was checked against (`None`: none, a version-2 export of a
    /// relative range), and whether it follows from the filter itself (`false`: a relative
    /// range, or dates in a zone resolved only by PostgreSQL, taken as the export states it).
    pub period: Option<Bounds>,
    pub period_from_filter: bool,
    /// A scheduled export's recorded period, every entry checked against it (recorded in it,
    /// its seq in range, in seq order); with no filter, `complete` means every seq of it.
    pub recorded: Option<RecordedPeriod>,
}

/// A scheduled export's period as the checker holds it (`format::Recorded`, parsed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordedPeriod {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub first_seq: u64,
    pub end_seq: u64,
}

/// The members an entry of an export holds: the API's entry and its proof.
const ENTRY_KEYS: &[&str] = &[
    "id",
    "seq",
    "occurred_at",
    "recorded_at",
    "action",
    "actor",
    "resource",
    "ip",
    "user_agent",
    "status",
    "details",
    "source",
    "source_name",
    "form",
    "leaf_hash",
    "inclusion_proof",
    "checkpoint_size",
];
const ACTOR_KEYS: &[&str] = &["type", "id", "name", "email"];
const RESOURCE_KEYS: &[&str] = &["type", "id"];

/// A finding about the file's shape.
pub fn malformed(detail: impl Into<String>) -> Finding {
    Finding::new(Check::ExportFormat, detail)
}

/// Refuses an object with a member outside `allowed` (`what` names it in the message).
pub fn only_known(value: &Value, allowed: &[&str], what: &str) -> Result<(), Finding> {
    let object = value
        .as_object()
        .ok_or_else(|| malformed(format!("{what} is not an object")))?;
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(malformed(format!(
            "{what} has a member {k:?} that Trailkeep never writes: the file was changed"
        ))),
        None => Ok(()),
    }
}

/// Checks an export's entries one at a time, in file order (memory: one bit per entry the
/// checkpoint covers, and the seqs of newer ones).
pub struct Checker {
    checkpoint: Checkpoint,
    version: u64,
    /// `None`: no filter stated, none checked.
    canonical: Option<String>,
    order: Order,
    everything: bool,
    /// The filter without its time window and search: evaluated on each entry in memory.
    matcher: LiveFilter,
    /// The period entries are checked against, and whether it follows from the filter.
    period: Option<Bounds>,
    period_from_filter: bool,
    recorded: Option<RecordedPeriod>,
    /// A filter was stated and it is of every entry.
    unfiltered: bool,
    sources: u64,
    search_unchecked: bool,
    allow_unproven: bool,
    entries: u64,
    proven: u64,
    names: u64,
    last: Option<(DateTime<Utc>, i64)>,
    seen: Vec<u64>,
    newer_seen: BTreeSet<i64>,
}

impl Checker {
    /// From what the export's head (JSON) or trailer (NDJSON) states (read strictly by
    /// the caller: only the members its type names). `allow_unproven`: accept entries newer
    /// than the checkpoint.
    pub fn new(key: &VerifierKey, stated: Stated, allow_unproven: bool) -> Result<Self, Finding> {
        let version = stated.format_version;
        if !matches!(version, 2..=4) {
            return Err(malformed(format!(
                "the export's format_version {version} is not one this verifier reads (2 to 4)"
            )));
        }
        let note = stated.checkpoint.as_deref().ok_or_else(|| {
            malformed(
                "the export carries no checkpoint (it was made before the log's first \
                 checkpoint was signed): nothing in it can be proven; export it again",
            )
        })?;
        let checkpoint = key
            .open(note.as_bytes())
            .map_err(|e| Finding::new(Check::Signature, format!("the export's checkpoint: {e}")))?;
        let canonical = stated.filter.clone();
        let filter = Filter::parse(canonical.as_deref().unwrap_or("")).map_err(|e| {
            malformed(format!(
                "the export's filter {:?} does not parse: {e}",
                canonical.as_deref().unwrap_or("")
            ))
        })?;
        let instant = |v: &Option<String>, what: &str| -> Result<Option<DateTime<Utc>>, Finding> {
            match v {
                None => Ok(None),
                Some(s) => DateTime::parse_from_rfc3339(s)
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .map_err(|_| malformed(format!("the export's {what} {s:?} is not an instant"))),
            }
        };
        let stated_period = match version {
            3 | 4 if canonical.is_some() => Some(Bounds {
                from: instant(&stated.from, "from")?,
                to: instant(&stated.to, "to")?,
            }),
            _ => None,
        };
        // The filter's own window when it needs no clock and no zone database: authoritative,
        // and what the export states must be it.
        let own = canonical.as_ref().and_then(|_| filter_window(&filter));
        if let (Some(own), Some(stated)) = (own, stated_period) {
            if own != stated {
                return Err(Finding::new(
                    Check::ExportFilter,
                    format!(
                        "the export states the period {} but its filter {:?} means {}: \
                         the export was changed",
                        words(&stated),
                        canonical.as_deref().unwrap_or(""),
                        words(&own)
                    ),
                )
                .differs(words(&own), words(&stated)));
            }
        }
        let period_from_filter = own.is_some();
        let period = own.or(stated_period);
        let recorded = match &stated.recorded {
            None => None,
            Some(r) => {
                let at = |v: &str, what: &str| {
                    instant(&Some(v.to_string()), what).map(|t| t.expect("given"))
                };
                let (from, to) = (at(&r.from, "recorded from")?, at(&r.to, "recorded to")?);
                if from > to || r.first_seq > r.end_seq {
                    return Err(malformed(format!(
                        "the export's recorded period ({} to {}, seqs {} to {}) runs backwards",
                        r.from, r.to, r.first_seq, r.end_seq
                    )));
                }
                Some(RecordedPeriod {
                    from,
                    to,
                    first_seq: r.first_seq,
                    end_seq: r.end_seq,
                })
            }
        };
        let search_unchecked = filter.q.is_some();
        let matcher = LiveFilter::new(
            Filter {
                time: TimeWindow::All,
                q: None,
                ..filter.clone()
            },
            Bounds::default(),
        );
        let words = checkpoint.size.div_ceil(64) as usize;
        Ok(Checker {
            order: filter.order,
            // A scheduled export of everything holds every seq of its period, not of the log.
            everything: canonical.is_some() && filter.is_everything() && recorded.is_none(),
            unfiltered: canonical.is_some() && filter.is_everything(),
            version,
            canonical,
            matcher,
            period,
            period_from_filter,
            recorded,
            sources: 0,
            search_unchecked,
            allow_unproven,
            entries: 0,
            proven: 0,
            names: 0,
            last: None,
            seen: vec![0; words],
            newer_seen: BTreeSet::new(),
            checkpoint,
        })
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The next entry of the file (an object: the API's entry and its `inclusion_proof`).
    pub fn entry(&mut self, value: Value) -> Result<(), Finding> {
        let at = self.entries + 1;
        let here = Place::FileEntry(at);
        let Read {
            entry,
            leaf,
            proof,
            checkpoint_size,
        } = read_entry(value, at, self.version >= 4)?;
        let seq = entry.seq;
        let name = format!("entry #{at} (seq {seq})");
        let named = |check: Check, detail: String| Finding::new(check, detail).at(here);
        if let Some(Bounds { from, to }) = self.period {
            if from.is_some_and(|f| entry.occurred_at < f)
                || to.is_some_and(|t| entry.occurred_at >= t)
            {
                return Err(named(
                    Check::ExportFilter,
                    format!("{name} lies outside the period the export states: it was added"),
                ));
            }
        }
        if self.canonical.is_some() && !self.matcher.matches(&entry, "", Utc::now()) {
            return Err(named(
                Check::ExportFilter,
                format!(
                    "{name} does not match the export's filter {:?}: it was added",
                    self.canonical.as_deref().unwrap_or("")
                ),
            ));
        }
        if let Some(r) = self.recorded {
            if entry.recorded_at < r.from
                || entry.recorded_at >= r.to
                || (seq as u64) < r.first_seq
                || (seq as u64) >= r.end_seq
            {
                return Err(named(
                    Check::ExportFilter,
                    format!(
                        "{name} was not recorded in the period the export states (seqs {} to {}): it was added",
                        r.first_seq, r.end_seq
                    ),
                ));
            }
        }
        let key = (entry.occurred_at, seq);
        if let Some(last) = self.last {
            let in_order = match (self.recorded, self.order) {
                (Some(_), _) => seq > last.1,
                (None, Order::Desc) => key < last,
                (None, Order::Asc) => key > last,
            };
            if !in_order {
                return Err(named(
                    Check::ExportFilter,
                    format!("{name} is out of the export's order (entries were moved or repeated)"),
                ));
            }
        }
        self.last = Some(key);
        let size = self.checkpoint.size;
        if (seq as u64) < size {
            let (word, bit) = ((seq as u64 / 64) as usize, seq as u64 % 64);
            if self.seen[word] & (1 << bit) != 0 {
                return Err(named(Check::ExportCount, format!("{name} appears twice")));
            }
            self.seen[word] |= 1 << bit;
            let proof: Proof = serde_json::from_value(proof).map_err(|e| {
                named(
                    Check::ExportFormat,
                    format!("{name}: inclusion_proof is not a proof ({e})"),
                )
            })?;
            if checkpoint_size
                .as_ref()
                .is_some_and(|n| n.as_u64() != Some(size))
            {
                return Err(named(
                    Check::ExportFormat,
                    format!("{name}: its checkpoint_size is not the export's checkpoint ({size})"),
                ));
            }
            tree::check_inclusion(&proof.0, size, self.checkpoint.root, seq as u64, leaf).map_err(
                |_| {
                    named(
                        Check::Inclusion,
                        format!(
                            "{name}: its inclusion proof does not lead to the checkpoint's root \
                             (the entry, or its proof, was changed)"
                        ),
                    )
                },
            )?;
            self.proven += 1;
        } else {
            if !self.allow_unproven {
                return Err(named(
                    Check::Inclusion,
                    format!(
                        "{name} is newer than the export's checkpoint of {size} entries, so \
                         nothing proves it: export again after the next checkpoint (seconds \
                         later), or pass --allow-unproven to accept unproven entries"
                    ),
                ));
            }
            if !proof.is_null() || checkpoint_size.as_ref().is_some_and(|n| !n.is_null()) {
                return Err(named(
                    Check::ExportFormat,
                    format!("{name} has a proof but the checkpoint covers only {size} entries"),
                ));
            }
            if !self.newer_seen.insert(seq) {
                return Err(named(Check::ExportCount, format!("{name} appears twice")));
            }
        }
        if entry.source_name.is_some() {
            self.names += 1;
        }
        if entry.form == 1 {
            self.sources += 1;
        }
        self.entries += 1;
        Ok(())
    }

    /// After the last entry: the counts the export states must be what it holds. `count`:
    /// what the file (or the auditor) states; `required`: a file that always states it (JSON,
    /// older NDJSON) without one was cut short.
    pub fn finish(
        self,
        count: Option<u64>,
        proven: Option<u64>,
        required: bool,
    ) -> Result<Summary, Finding> {
        let counted = |detail: String| Finding::new(Check::ExportCount, detail);
        if required && count.is_none() {
            return Err(counted(
                "the export does not say how many entries it holds (cut short?)".into(),
            ));
        }
        if let Some(count) = count.filter(|c| *c != self.entries) {
            return Err(counted(format!(
                "the export says it holds {count} entries but it holds {}: entries were removed \
                 or added",
                self.entries
            ))
            .differs(count.to_string(), self.entries.to_string()));
        }
        if let Some(stated) = proven.filter(|p| *p != self.proven) {
            return Err(counted(format!(
                "the export says {stated} entries are proven but {} are",
                self.proven
            ))
            .differs(stated.to_string(), self.proven.to_string()));
        }
        let size = self.checkpoint.size;
        if self.everything && self.proven != size {
            let missing = (0..size)
                .find(|s| self.seen[(s / 64) as usize] & (1 << (s % 64)) == 0)
                .unwrap_or(0);
            return Err(counted(format!(
                "the export is of every entry but lacks seq {missing}, which the checkpoint \
                 covers: entries were removed"
            ))
            .seq(missing as i64));
        }
        // The unproven entries of an export of everything follow the checkpoint without a gap.
        if self.everything {
            let expected = (size as i64..).take(self.newer_seen.len());
            if !self.newer_seen.iter().copied().eq(expected) {
                return Err(counted(format!(
                    "the export is of every entry but its entries newer than the checkpoint \
                     are not seqs {size}, {}, … without a gap: entries were removed or added",
                    size + 1
                )));
            }
        }
        // A scheduled export of everything: its entries, in strict seq order inside the
        // period's seqs, are every one of them when there are as many.
        let whole_period = self.recorded.filter(|_| self.unfiltered);
        if let Some(r) = whole_period {
            let expected = r.end_seq - r.first_seq;
            if self.entries != expected {
                return Err(counted(format!(
                    "the export is of every entry recorded in its period, seqs {} to {}, but holds {} of those {expected}: entries were removed",
                    r.first_seq, r.end_seq, self.entries
                ))
                .differs(expected.to_string(), self.entries.to_string()));
            }
        }
        Ok(Summary {
            entries: self.entries,
            proven: self.proven,
            newer: self.entries - self.proven,
            checkpoint_size: size,
            filter: self.canonical,
            count_checked: count.is_some(),
            complete: self.everything || whole_period.is_some(),
            search_unchecked: self.search_unchecked,
            unhashed_names: self.names,
            unhashed_sources: self.sources,
            period: self.period,
            period_from_filter: self.period_from_filter,
            recorded: self.recorded,
        })
    }
}

/// One entry of an export as read: the API's entry, its leaf hash recomputed from its fields
/// (and found equal to the one it states), its proof and the checkpoint size beside it.
pub struct Read {
    pub entry: AuditEntry,
    pub leaf: tree::Hash,
    pub proof: Value,
    pub checkpoint_size: Option<Value>,
}

/// Reads entry number `at` of a file strictly (only the members an export writes), and checks
/// that its fields give its leaf hash. `sized`: the file's entries carry `checkpoint_size`
/// (format version 4, bundles).
pub fn read_entry(mut value: Value, at: u64, sized: bool) -> Result<Read, Finding> {
    let here = Place::FileEntry(at);
    only_known(&value, ENTRY_KEYS, &format!("entry #{at}")).map_err(|f| f.at(here))?;
    only_known(&value["actor"], ACTOR_KEYS, &format!("entry #{at}'s actor"))
        .map_err(|f| f.at(here))?;
    if !value["resource"].is_null() {
        only_known(
            &value["resource"],
            RESOURCE_KEYS,
            &format!("entry #{at}'s resource"),
        )
        .map_err(|f| f.at(here))?;
    }
    let proof = value
        .as_object_mut()
        .and_then(|o: &mut Map<String, Value>| o.remove("inclusion_proof"))
        .ok_or_else(|| malformed(format!("entry #{at} has no inclusion_proof field")).at(here))?;
    let checkpoint_size = value
        .as_object_mut()
        .and_then(|o: &mut Map<String, Value>| o.remove("checkpoint_size"));
    if sized && checkpoint_size.is_none() {
        return Err(malformed(format!("entry #{at} has no checkpoint_size field")).at(here));
    }
    let entry: AuditEntry = serde_json::from_value(value)
        .map_err(|e| malformed(format!("entry #{at} is not an entry: {e}")).at(here))?;
    let seq = entry.seq;
    let name = format!("entry #{at} (seq {seq})");
    let named = |check: Check, detail: String| Finding::new(check, detail).at(here);
    if seq < 0 {
        return Err(named(
            Check::ExportFormat,
            format!("{name}: a seq is never negative"),
        ));
    }
    let record = EntryRecord::from_entry(&entry)
        .map_err(|e| named(Check::LeafHash, format!("{name}: {e}")))?;
    let leaf = record.leaf_hash();
    if to_hex(&leaf) != entry.leaf_hash {
        return Err(named(
            Check::LeafHash,
            format!("{name}: its fields do not give its leaf_hash: a field was changed"),
        )
        .differs(to_hex(&leaf), entry.leaf_hash.clone()));
    }
    Ok(Read {
        entry,
        leaf,
        proof,
        checkpoint_size,
    })
}

/// The filter's window as instants when it follows from the filter alone: no window, instants,
/// or dates in UTC. `None` for a relative range (it needs the export's clock) or dates in
/// another zone (PostgreSQL's zone database resolves them).
fn filter_window(f: &Filter) -> Option<Bounds> {
    if matches!(f.time, TimeWindow::Last(_)) {
        return None;
    }
    let local = window::local_times(f);
    if !local.is_empty() && !matches!(f.tz.as_deref(), None | Some("UTC")) {
        return None;
    }
    let resolved = local.into_iter().map(|t| t.and_utc()).collect();
    window::bounds(f, Utc::now(), resolved).ok()
}

/// A period in words: `2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z`.
pub fn words(b: &Bounds) -> String {
    let at = |t: Option<DateTime<Utc>>, open: &str| {
        t.map_or(open.to_string(), |t| {
            t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        })
    };
    format!(
        "{} to {}",
        at(b.from, "the first entry"),
        at(b.to, "the last")
    )
}
