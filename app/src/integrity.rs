//! The verifying half of Trailkeep's integrity, wherever the reader is: "this checkpoint is
//! signed by this key" and "this proof leads from this entry to that root". It runs in the
//! browser (the console's integrity badge) and in the server's own checks alike, so there is
//! one implementation of each: `signed_note` and `tlog_tiles` (ports of Go's sumdb `note` and
//! `tlog`). The proving and signing half is the server's (`domain::tree`, `domain::checkpoint`).
//!
//! Opening a note always verifies its signature against a verifier key the caller pins (an
//! auditor's, or the one the browser kept): text read from anywhere else is never believed.

use signed_note::{Note, StandardVerifier, Verifier, VerifierList};
use tlog_tiles::{tlog, Checkpoint as Text};

/// A SHA-256 hash: a leaf's, a node's or a root.
pub type Hash = [u8; 32];

/// What a note or key failed on, in words that say what to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    /// The key text is not a key (`name+keyid+base64` for a verifier key).
    Key(String),
    /// The note is not a signed note holding a checkpoint.
    Malformed(String),
    /// Not signed by the given key (another key, or a changed text or signature).
    NotSigned(String),
    /// The checkpoint is of another log.
    Origin { expected: String, found: String },
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointError::Key(m) | CheckpointError::Malformed(m) => f.write_str(m),
            CheckpointError::NotSigned(m) => write!(f, "the signature does not verify: {m}"),
            CheckpointError::Origin { expected, found } => write!(
                f,
                "the checkpoint is of the log {found:?}, not {expected:?} (the key's name)"
            ),
        }
    }
}

impl std::error::Error for CheckpointError {}

/// A checkpoint's content: the tree of the first `size` entries of the log `origin` has `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

/// A verifier key (`name+keyid+base64`, what `trailkeep key-info` prints and auditors pin).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    text: String,
    name: String,
    id: u32,
}

impl VerifierKey {
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let text = text.trim();
        let verifier = StandardVerifier::new(text).map_err(|e| {
            CheckpointError::Key(format!(
                "not a verifier key ({e}): give name+keyid+base64, as `trailkeep key-info` prints"
            ))
        })?;
        Ok(VerifierKey {
            text: text.to_string(),
            name: verifier.name().to_string(),
            id: verifier.key_id(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The key's name: the origin of the log it signs for.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// Verifies `note` (its signature by this key, its origin = this key's name) and returns
    /// the checkpoint it states.
    pub fn open(&self, note: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let parsed = Note::from_bytes(note).map_err(|e| {
            CheckpointError::Malformed(format!("not a signed note ({e}): expected a checkpoint"))
        })?;
        let verifier = StandardVerifier::new(&self.text)
            .map_err(|e| CheckpointError::Key(format!("not a verifier key: {e}")))?;
        parsed
            .verify(&VerifierList::new(vec![Box::new(verifier)]))
            .map_err(|e| CheckpointError::NotSigned(format!("{e} (key {})", self.text)))?;
        let text = Text::from_bytes(parsed.text()).map_err(|_| {
            CheckpointError::Malformed(
                "the note's text is not a checkpoint (origin, size, base64 root)".into(),
            )
        })?;
        if text.origin() != self.name {
            return Err(CheckpointError::Origin {
                expected: self.name.clone(),
                found: text.origin().to_string(),
            });
        }
        Ok(Checkpoint {
            origin: text.origin().to_string(),
            size: text.size(),
            root: text.hash().0,
        })
    }
}

/// A proof that does not show what it claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidProof;

/// Checks that `proof` shows leaf `seq` with hash `leaf` in the tree of `size` with `root`
/// (RFC 9162 §2.1.3.2).
pub fn check_inclusion(
    proof: &[Hash],
    size: u64,
    root: Hash,
    seq: u64,
    leaf: Hash,
) -> Result<(), InvalidProof> {
    let proof: Vec<tlog::Hash> = proof.iter().map(|h| tlog::Hash(*h)).collect();
    tlog::check_record(&proof, size, tlog::Hash(root), seq, tlog::Hash(leaf))
        .map_err(|_| InvalidProof)
}

/// Checks that `proof` shows the tree of `from` leaves with `from_root` is a prefix of the tree
/// of `to` leaves with `to_root` (RFC 9162 §2.1.4.2).
pub fn check_consistency(
    proof: &[Hash],
    to: u64,
    to_root: Hash,
    from: u64,
    from_root: Hash,
) -> Result<(), InvalidProof> {
    let proof: Vec<tlog::Hash> = proof.iter().map(|h| tlog::Hash(*h)).collect();
    tlog::check_tree(&proof, to, tlog::Hash(to_root), from, tlog::Hash(from_root))
        .map_err(|_| InvalidProof)
}

/// A hash written as 64 lower- or upper-case hex digits.
pub fn hash_from_hex(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// An entry the console shows, with the proof the server gave for it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProvenLeaf {
    pub seq: i64,
    /// The entry's leaf hash as the console received it (hex).
    pub leaf_hash: String,
    /// Its inclusion proof in the checkpoint's tree (hex, leaf to root).
    pub proof: Vec<String>,
}

/// What the console's badge checks: `note` is signed by the pinned `key`, and each leaf's
/// proof leads to its root. The checkpoint, or the first thing wrong, in words for the badge.
pub fn check_view(key: &str, note: &str, leaves: &[ProvenLeaf]) -> Result<Checkpoint, String> {
    let key = VerifierKey::parse(key).map_err(|e| format!("the pinned key: {e}"))?;
    let checkpoint = key
        .open(note.as_bytes())
        .map_err(|e| format!("the latest checkpoint is not signed by the pinned key: {e}"))?;
    for leaf in leaves {
        let bad = || {
            format!(
                "entry {}: its proof does not lead to the signed root",
                leaf.seq
            )
        };
        let hash = hash_from_hex(&leaf.leaf_hash).ok_or_else(bad)?;
        let proof: Vec<Hash> = leaf
            .proof
            .iter()
            .map(|h| hash_from_hex(h))
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        if leaf.seq < 0 {
            return Err(bad());
        }
        check_inclusion(
            &proof,
            checkpoint.size,
            checkpoint.root,
            leaf.seq as u64,
            hash,
        )
        .map_err(|_| bad())?;
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of c2sp.org/signed-note (and Go's sumdb/note documentation).
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n\
                        \n\
                        — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn the_c2sp_signed_note_test_vector_verifies() {
        let key = VerifierKey::parse(VKEY).unwrap();
        assert_eq!((key.name(), key.id()), ("PeterNeumann", 0xc74f20a3));
        // The signature verifies; then its text is refused, for it is not a checkpoint.
        assert!(matches!(
            key.open(NOTE.as_bytes()),
            Err(CheckpointError::Malformed(_))
        ));
        let changed = NOTE.replace("answer", "Answer");
        assert!(matches!(
            key.open(changed.as_bytes()),
            Err(CheckpointError::NotSigned(_))
        ));
        assert!(VerifierKey::parse("PeterNeumann+c74f20a3+AAAA").is_err());
    }

    #[test]
    fn hex_hashes_read_back() {
        let h: Hash = core::array::from_fn(|i| (i * 7) as u8);
        let text: String = h.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hash_from_hex(&text), Some(h));
        assert_eq!(hash_from_hex(&text.to_uppercase()), Some(h));
        assert_eq!(hash_from_hex(&text[1..]), None);
        assert_eq!(hash_from_hex(&format!("{}zz", &text[2..])), None);
    }
}
