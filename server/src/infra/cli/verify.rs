//! The auditor's checks: `trailkeep verify` (the log in the database: chain, tree,
//! checkpoints, what was signed outside it) and `trailkeep verify-export` (a file, without the
//! database). Each prints what it checked, what it could not, and the first [`Finding`] by the
//! name of its check; exit 0 sound, 1 bad, 2 not checked.
//!
//! [`Finding`]: app::integrity::Finding

use std::path::{Path, PathBuf};

use app::integrity::to_hex;

use super::{CliError, KeyFile};
use crate::infra::keyfile;
use crate::service::{chain, checkpoints, tree};

/// What the auditor states beside a CSV or NDJSON export (`--checkpoint`, `--filter`,
/// `--count`).
pub struct Stated {
    pub checkpoint: Option<PathBuf>,
    pub filter: Option<String>,
    pub count: Option<u64>,
}

/// `trailkeep verify-export`: 0 sound, 1 the first bad thing named, 2 could not check.
pub fn verify_export(file: &Path, key: &str, allow_unproven: bool, stated: Stated) -> i32 {
    let checkpoint_file = stated
        .checkpoint
        .or_else(|| crate::infra::verify_export::checkpoint_beside(file));
    let checkpoint = match checkpoint_file {
        None => Ok(None),
        Some(path) => std::fs::read_to_string(&path)
            .map(Some)
            .map_err(|source| CliError::CheckpointFile { path, source }),
    };
    // A scheduled CSV or NDJSON file's head, beside it: what it states of itself.
    let head = match crate::infra::verify_export::head_beside(file) {
        None => Ok(None),
        Some(path) => std::fs::read_to_string(&path)
            .map(|text| Some(crate::infra::verify_export::read_head(&text)))
            .map_err(|source| CliError::CheckpointFile { path, source }),
    };
    let checked = checkpoint.and_then(|checkpoint| {
        let head = match head? {
            None => None,
            Some(Ok(head)) => Some(head),
            Some(Err(finding)) => return Ok(Err(finding)),
        };
        let beside = crate::infra::verify_export::Beside {
            checkpoint,
            filter: stated.filter,
            count: stated.count,
            head,
        };
        keyfile::verifier_arg(key)
            .map_err(CliError::from)
            .and_then(|key| {
                crate::infra::verify_export::verify(file, &key, allow_unproven, &beside)
                    .map_err(CliError::from)
            })
    });
    match checked {
        Ok(Ok(s)) => {
            println!(
                "ok {} entries: {} proven in the signed checkpoint of {} entries",
                s.entries, s.proven, s.checkpoint_size
            );
            if let Some(r) = &s.recorded {
                println!(
                    "scheduled export: the entries recorded from {} to {}, seqs {} to {} (each \
                     entry checked against it, in seq order)",
                    crate::domain::export::format::timestamp(&r.from),
                    crate::domain::export::format::timestamp(&r.to),
                    r.first_seq,
                    r.end_seq
                );
            }
            match &s.filter {
                _ if s.complete && s.recorded.is_some() => println!(
                    "filter: none (every entry): complete, every seq of the period is here"
                ),
                _ if s.complete => println!(
                    "filter: none (every entry): complete, every entry of the checkpoint is here"
                ),
                Some(filter) => println!(
                    "filter: {filter}: filtered, so completeness cannot be proven (each entry \
                     here matches it and is proven; none can show that no matching entry was \
                     left out)"
                ),
                None => println!(
                    "not checked: the filter, the period and completeness (a CSV or NDJSON \
                     export states none: give --filter with the filter it was made with)"
                ),
            }
            if !s.count_checked {
                println!(
                    "not checked: the number of entries (give --count with the number the \
                     console or the export.downloaded entry states)"
                );
            }
            match (&s.period, s.period_from_filter) {
                (Some(p), true) => println!(
                    "period: {} (every entry checked against it; it follows from the filter)",
                    crate::domain::export::check::words(p)
                ),
                (Some(p), false) => println!(
                    "period: {} as the export states it (a relative range, or dates in a zone \
                     only PostgreSQL resolves: not provable from the file); every entry checked \
                     against it",
                    crate::domain::export::check::words(p)
                ),
                (None, _) => println!(
                    "not checked: the period (an export of format 2 of a relative range states \
                     none)"
                ),
            }
            if s.search_unchecked {
                println!(
                    "not checked: the filter's q= search (PostgreSQL's text search cannot be \
                     rebuilt offline); every other part of the filter was checked"
                );
            }
            if s.unhashed_sources > 0 {
                println!(
                    "not verified: source on {} entries recorded before provenance (form 1, \
                     whose hash does not cover it)",
                    s.unhashed_sources
                );
            }
            if s.unhashed_names > 0 {
                println!(
                    "not verified: source_name on {} entries (the key's current name, which no \
                     hash covers; source, the key's id, is verified)",
                    s.unhashed_names
                );
            }
            if s.newer > 0 {
                println!(
                    "not proven: {} entries were appended after that checkpoint and carry no \
                     proof (accepted with --allow-unproven); export them again after the next \
                     checkpoint to prove them",
                    s.newer
                );
            }
            0
        }
        Ok(Err(finding)) => {
            println!("bad: {finding}");
            1
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// `trailkeep verify-export BUNDLE [--previous BUNDLE]`: 0 sound, 1 the first bad thing named,
/// 2 could not check.
pub fn verify_bundle(file: &Path, previous: Option<&Path>, key: &str) -> i32 {
    let key = match keyfile::verifier_arg(key) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    match crate::service::bundle_file::verify_chain(file, previous, &key) {
        Ok(Ok((this, before))) => {
            let s = &this.summary;
            let m = &s.manifest;
            println!(
                "ok bundle of {} entries: seqs {}..{}, recorded {} to {}, each proven in the \
                 signed checkpoint of {} entries",
                s.entries, m.first_seq, m.end_seq, m.period_start, m.period_end, s.checkpoint.size
            );
            println!(
                "consistent: that checkpoint extends the signed one of {} entries that covers \
                 the period's first entry",
                s.from_size
            );
            if s.complete {
                println!(
                    "filter: none (every entry): complete, every seq of the period is here and \
                     the entries lead from chain hash {} to {}",
                    m.chain_hash_before, m.chain_hash_after
                );
            } else {
                println!(
                    "filter: {}: filtered, so completeness cannot be proven (each entry here \
                     matches it, lies in the period and is proven)",
                    m.filter
                );
            }
            if s.search_unchecked {
                println!(
                    "not checked: the filter's q= search (PostgreSQL's text search cannot be \
                     rebuilt offline)"
                );
            }
            if s.unhashed_names > 0 {
                println!(
                    "not verified: source_name on {} entries (the key's name when written, \
                     which no hash covers; source, the key's id, is verified)",
                    s.unhashed_names
                );
            }
            match before {
                Some(b) => println!(
                    "follows the previous bundle ({} to {}): periods and seqs meet, the chain \
                     carries over, and its checkpoint of {} entries is consistent with this one",
                    b.summary.manifest.period_start,
                    b.summary.manifest.period_end,
                    b.summary.checkpoint.size
                ),
                None => println!(
                    "not checked: continuity with the period before (give its bundle with \
                     --previous)"
                ),
            }
            0
        }
        Ok(Err(finding)) => {
            println!("bad: {finding}");
            1
        }
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            2
        }
    }
}

/// `trailkeep verify`: exit 0 when everything it checks is sound, 1 on the first bad thing
/// (named), 2 when it could not check something it normally checks (no verifier key, an
/// unreadable memory file, a database error) unless told to skip it.
pub async fn verify(
    url: Option<String>,
    checkpoint: Option<PathBuf>,
    key: Option<String>,
    no_checkpoints: bool,
    key_file: KeyFile,
) -> i32 {
    match verify_log(url, checkpoint, key, no_checkpoints, key_file).await {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

async fn verify_log(
    url: Option<String>,
    checkpoint: Option<PathBuf>,
    key: Option<String>,
    skip_checkpoints: bool,
    key_file: KeyFile,
) -> Result<bool, CliError> {
    let saved = match checkpoint {
        Some(path) => Some(
            std::fs::read(&path).map_err(|source| CliError::SavedCheckpoint { path, source })?,
        ),
        None => None,
    };
    let key_file = key_file.log_config()?.key_file;
    let key = match key {
        Some(v) => Some(keyfile::verifier_arg(&v)?),
        None => match keyfile::load(&key_file) {
            Ok(key) => Some(key.verifier().clone()),
            Err(keyfile::LoadError::Missing) => None,
            Err(keyfile::LoadError::Other(e)) => return Err(e.into()),
        },
    };
    let pool = super::pool(url).await?;
    let archived = crate::storage::retention::archived(&pool).await?;
    match chain::verify(&pool).await? {
        Ok(entries) if archived.is_empty() => println!("ok {entries} entries"),
        Ok(entries) => {
            let held: i64 = archived.iter().map(|a| a.end_seq - a.first_seq).sum();
            println!(
                "ok {entries} entries: {} in the database, {held} archived (the chain crosses \
                 each archived month by the hashes recorded when it was dropped)",
                entries - held
            );
            for a in &archived {
                println!(
                    "archived seqs {}..{} (recorded in {}): {} {}{}, SHA-256 {}; check it with \
                     `trailkeep verify-export`",
                    a.first_seq,
                    a.end_seq,
                    a.month.format("%Y-%m"),
                    a.destination,
                    a.location,
                    a.object_version
                        .as_deref()
                        .map(|v| format!(" (version {v})"))
                        .unwrap_or_default(),
                    to_hex(&a.sha256)
                );
            }
        }
        Err(finding) => {
            println!("bad {finding}");
            return Ok(false);
        }
    }
    match tree::verify(&pool).await? {
        tree::TreeVerdict::Ok { size, root } => {
            println!("ok Merkle tree of {size} entries, root {}", to_hex(&root))
        }
        tree::TreeVerdict::Bad(finding) => {
            println!("bad Merkle tree: {finding}");
            return Ok(false);
        }
    }
    if skip_checkpoints {
        println!("checkpoints not checked (--no-checkpoints)");
        return Ok(true);
    }
    let Some(key) = key else {
        println!(
            "not checked: checkpoints, for want of the log's verifier key (give --key VKEY, set \
             TRAILKEEP_KEY_FILE, or skip them with --no-checkpoints)"
        );
        return Err(CliError::CheckpointsUnchecked);
    };
    match checkpoints::verify_all(&pool, &key).await? {
        Ok(n) => println!("ok {n} checkpoints, signed by {}", key.as_str()),
        Err(finding) => {
            println!("bad checkpoint: {finding}");
            return Ok(false);
        }
    }
    // What was signed, kept outside the database: the only way to see a cut tail.
    let memory = checkpoints::Memory::beside(&key_file);
    let remembered = match std::fs::read(memory.path()) {
        Ok(note) => Some((memory.path().display().to_string(), note)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(CliError::Memory {
                path: memory.path().to_path_buf(),
                source,
            })
        }
    };
    let outside: Vec<(String, Vec<u8>)> = saved
        .map(|note| ("the saved checkpoint".to_string(), note))
        .into_iter()
        .chain(remembered)
        .collect();
    if outside.is_empty() {
        println!(
            "note: entries cut from the end of the log, with the database's guards switched \
             off by its owner or a superuser, are detectable only against a checkpoint kept \
             outside the database: give --checkpoint FILE (a checkpoint saved earlier), or run \
             this where the signer's memory ({}) can be read",
            memory.path().display()
        );
    }
    for (what, note) in outside {
        match checkpoints::verify_saved(&pool, &key, &note).await? {
            Ok(cp) => println!("ok the log still holds the {} entries of {what}", cp.size),
            Err(finding) => {
                println!("bad ({what}): {finding}");
                return Ok(false);
            }
        }
    }
    Ok(true)
}
