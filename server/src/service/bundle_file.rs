//! An archive bundle's file checked, with no database: what `trailkeep verify-export BUNDLE
//! [--previous BUNDLE]` runs, and what retention runs on a bundle read back from its
//! destination before a month may leave the log. Reads the bundle (a gzipped or plain tar,
//! `domain::export::bundle`) from disk and hands its members to
//! [`BundleChecker`]. Read twice: first every member is hashed and the small ones kept
//! (the manifest comes last), then the entries are streamed through the checker, one line in
//! memory at a time. A member that is missing, repeated, unknown, out of order or not a plain
//! file is refused, and so is anything after the last member.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use app::integrity::Finding;
use sha2::{Digest, Sha256};

use crate::domain::export::bundle::{
    self, BundleChecker, BundleSummary, CHECKPOINT, CONSISTENCY, ENTRIES, MANIFEST, MEMBERS,
    SMALL_MEMBER_MAX,
};
use crate::domain::export::check::malformed;
use crate::domain::export::strict::strict_line;
use crate::domain::integrity::checkpoint::VerifierKey;

/// Whether the file at `path` is a bundle: gzip, or a tar (`ustar` at offset 257).
pub fn is_bundle(path: &Path) -> std::io::Result<bool> {
    let mut start = Vec::with_capacity(512);
    File::open(path)?.take(512).read_to_end(&mut start)?;
    Ok(start.starts_with(&[0x1f, 0x8b]) || start.get(257..262) == Some(b"ustar"))
}

/// The bundle's bytes as a tar stream (gunzipped when gzipped).
fn tar_stream(path: &Path) -> std::io::Result<Box<dyn Read>> {
    let mut file = File::open(path)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    let file = File::open(path)?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    })
}

#[derive(Debug)]
/// A checked bundle: what it holds, its checkpoint's note and the one its consistency proof
/// starts from.
pub struct Verified {
    pub summary: BundleSummary,
    pub note: String,
    pub from_note: String,
}

/// Each member's SHA-256 (hex), and the small members' bytes, by name.
type Members = (BTreeMap<String, String>, BTreeMap<String, Vec<u8>>);

/// Reads every member once: their SHA-256 and the small members' bytes.
fn first_pass(path: &Path) -> std::io::Result<Result<Members, Finding>> {
    let mut archive = tar::Archive::new(tar_stream(path)?);
    let mut hashes = BTreeMap::new();
    let mut small = BTreeMap::new();
    let mut expected = MEMBERS.iter();
    for member in archive.entries()? {
        let mut member = member?;
        let name = member.path()?.to_string_lossy().into_owned();
        if member.header().entry_type() != tar::EntryType::Regular {
            return Ok(Err(malformed(format!(
                "the bundle's member {name:?} is not a plain file: the bundle was changed"
            ))));
        }
        match expected.next() {
            Some(want) if *want == name => {}
            want => {
                return Ok(Err(malformed(format!(
                    "the bundle holds {name:?} where Trailkeep writes {}: a member was added, \
                     removed, renamed or moved",
                    want.map_or("nothing more".to_string(), |w| format!("{w:?}"))
                ))))
            }
        }
        let mut sha = Sha256::new();
        let mut kept = Vec::new();
        let keep = name != ENTRIES;
        if keep && member.header().size()? > SMALL_MEMBER_MAX {
            return Ok(Err(malformed(format!(
                "the bundle's {name} is larger than any Trailkeep writes"
            ))));
        }
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = member.read(&mut buf)?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            if keep {
                kept.extend_from_slice(&buf[..n]);
            }
        }
        hashes.insert(name.clone(), bundle::digest_hex(sha));
        if keep {
            small.insert(name, kept);
        }
    }
    if let Some(missing) = expected.next() {
        return Ok(Err(malformed(format!(
            "the bundle has no {missing}: it was cut short or a member was removed"
        ))));
    }
    Ok(Ok((hashes, small)))
}

/// `Ok(Ok(verified))`: sound. `Ok(Err(finding))`: the first thing wrong, named. `Err`: the
/// file could not be read.
pub fn verify(path: &Path, key: &VerifierKey) -> std::io::Result<Result<Verified, Finding>> {
    let (hashes, small) = match first_pass(path)? {
        Ok(found) => found,
        Err(finding) => return Ok(Err(finding)),
    };
    let text = |name: &str| String::from_utf8(small[name].clone());
    let (Ok(manifest), Ok(note), Ok(consistency)) =
        (text(MANIFEST), text(CHECKPOINT), text(CONSISTENCY))
    else {
        return Ok(Err(malformed(
            "a member of the bundle is not UTF-8 text: it was changed",
        )));
    };
    // Strictly: a repeated member anywhere is refused.
    for (name, body) in [(MANIFEST, &manifest), (CONSISTENCY, &consistency)] {
        if let Err(e) = strict_line(body) {
            return Ok(Err(malformed(format!(
                "{name} is not one JSON object: {e}"
            ))));
        }
    }
    let mut checker = match BundleChecker::new(
        key,
        manifest.as_bytes(),
        note.as_bytes(),
        consistency.as_bytes(),
    ) {
        Ok(c) => c,
        Err(finding) => return Ok(Err(finding)),
    };
    let from_note = match serde_json::from_str::<bundle::Consistency>(&consistency) {
        Ok(c) => c.from_checkpoint,
        Err(e) => return Ok(Err(malformed(format!("{CONSISTENCY}: {e}")))),
    };
    let mut archive = tar::Archive::new(tar_stream(path)?);
    for member in archive.entries()? {
        let member = member?;
        if member.path()?.to_string_lossy() != ENTRIES {
            continue;
        }
        let mut line_no = 0u64;
        for line in BufReader::new(member).lines() {
            let line = line?;
            line_no += 1;
            let value = match strict_line(&line) {
                Ok(v) => v,
                Err(e) => {
                    return Ok(Err(malformed(format!(
                        "line {line_no} of {ENTRIES} is not one JSON entry: {e}"
                    ))))
                }
            };
            if let Err(finding) = checker.entry(value) {
                return Ok(Err(finding));
            }
        }
        break;
    }
    Ok(checker.finish(&hashes).map(|summary| Verified {
        summary,
        note,
        from_note,
    }))
}

/// Verifies `path`, and with `previous`, that `path` follows it in its schedule.
pub fn verify_chain(
    path: &Path,
    previous: Option<&Path>,
    key: &VerifierKey,
) -> std::io::Result<Result<(Verified, Option<Verified>), Finding>> {
    let this = match verify(path, key)? {
        Ok(v) => v,
        Err(finding) => return Ok(Err(finding)),
    };
    let Some(previous) = previous else {
        return Ok(Ok((this, None)));
    };
    let before = match verify(previous, key)? {
        Ok(v) => v,
        Err(finding) => {
            return Ok(Err(Finding {
                detail: format!("the previous bundle: {}", finding.detail),
                ..finding
            }))
        }
    };
    if let Err(finding) = bundle::continues(
        &before.summary,
        &before.note,
        &this.summary,
        &this.from_note,
    ) {
        return Ok(Err(finding));
    }
    Ok(Ok((this, Some(before))))
}
