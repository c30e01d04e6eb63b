//! The verifying half of Trailkeep's integrity, wherever the reader is: "this checkpoint is
//! signed by this key" and "this proof leads from this entry to that root". It runs in the
//! browser (the console's integrity badge) and in the server's own checks alike, so there is
//! one implementation of each: `signed_note` and `tlog_tiles` (ports of Go's sumdb `note` and
//! `tlog`). The proving and signing half is the server's (`domain::integrity::tree`, `domain::integrity::checkpoint`).
//!
//! Opening a note always verifies its signature against a verifier key the caller pins (an
//! auditor's, or the one the browser kept): text read from anywhere else is never believed.

use signed_note::{Note, StandardVerifier, Verifier, VerifierList};
use tlog_tiles::{tlog, Checkpoint as Text};

/// A SHA-256 hash: a leaf's, a node's or a root.
pub type Hash = [u8; 32];

/// Which integrity check a [`Finding`] comes from: the same name in `trailkeep verify`,
/// `verify-export`, the signer's refusal, `/readyz` and the console's badge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// An entry's stored fields give its stored leaf hash.
    LeafHash,
    /// Each entry's chain hash follows from the one before it, with no entry missing.
    Chain,
    /// The chain head agrees with the last entry.
    ChainHead,
    /// The stored Merkle tree is the one the entries give.
    Tree,
    /// A checkpoint is signed by the pinned key, for this log.
    Signature,
    /// A checkpoint's tree is a prefix of the current one (no entry changed or removed since).
    Consistency,
    /// An entry's inclusion proof leads from its leaf hash to the signed root.
    Inclusion,
    /// The tree still extends the checkpoint the signer last signed (kept outside the database).
    Memory,
    /// The signer has signed nothing for too long while the log grew.
    Stalled,
    /// An export file is a whole, untouched Trailkeep export (its framing and members).
    ExportFormat,
    /// An exported entry matches the export's filter and period, in its order, once.
    ExportFilter,
    /// An export holds as many entries as it states (and, unfiltered, every one covered).
    ExportCount,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::LeafHash => "leaf-hash",
            Check::Chain => "chain",
            Check::ChainHead => "chain-head",
            Check::Tree => "tree",
            Check::Signature => "signature",
            Check::Consistency => "consistency",
            Check::Inclusion => "inclusion",
            Check::Memory => "memory",
            Check::Stalled => "stalled",
            Check::ExportFormat => "export-format",
            Check::ExportFilter => "export-filter",
            Check::ExportCount => "export-count",
        }
    }

    /// The check in a compliance officer's words.
    pub fn title(self) -> &'static str {
        match self {
            Check::LeafHash => "an entry differs from what was recorded",
            Check::Chain => "the chain of entries is broken",
            Check::ChainHead => "the chain head disagrees with the entries",
            Check::Tree => "the stored tree disagrees with the entries",
            Check::Signature => "a checkpoint is not signed by the log's key",
            Check::Consistency => "the log no longer extends a signed checkpoint",
            Check::Inclusion => "an entry is not in the signed tree",
            Check::Memory => "the log no longer extends the checkpoint last signed",
            Check::Stalled => "no checkpoint has been signed for too long",
            Check::ExportFormat => "the file is not a whole Trailkeep export",
            Check::ExportFilter => "an exported entry does not belong where it is",
            Check::ExportCount => "the export does not hold what it states",
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a finding is: an entry of the log, a tree of that many entries, or an entry of an
/// export file (its 1-based position).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    Seq(i64),
    TreeSize(u64),
    FileEntry(u64),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Seq(seq) => write!(f, "entry {seq}"),
            Place::TreeSize(size) => write!(f, "the tree of {size} entries"),
            Place::FileEntry(n) => write!(f, "the file's entry {n}"),
        }
    }
}

/// What an integrity check found wrong: which check, where, what was expected and what was
/// found, and what it means in words. Every check (`trailkeep verify`, `verify-export`, the
/// signer, the browser's) reports this one shape, so each names a failure the same way.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    pub check: Check,
    pub at: Option<Place>,
    pub expected: Option<String>,
    pub found: Option<String>,
    /// What is wrong and what to do, in words.
    pub detail: String,
}

impl Finding {
    pub fn new(check: Check, detail: impl Into<String>) -> Self {
        Finding {
            check,
            at: None,
            expected: None,
            found: None,
            detail: detail.into(),
        }
    }

    pub fn at(mut self, place: Place) -> Self {
        self.at = Some(place);
        self
    }

    pub fn seq(self, seq: i64) -> Self {
        self.at(Place::Seq(seq))
    }

    /// What the check expected and what it found instead.
    pub fn differs(mut self, expected: impl Into<String>, found: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.found = Some(found.into());
        self
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] ", self.check)?;
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        f.write_str(&self.detail)?;
        if let (Some(expected), Some(found)) = (&self.expected, &self.found) {
            write!(f, " (expected {expected}, found {found})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Finding {}

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

/// Bytes as lower-case hex: how hashes and proofs are written everywhere (API, exports, CLI).
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Serde for a [`Hash`] as 64 hex digits.
pub mod hex_hash {
    use super::{hash_from_hex, to_hex, Hash};

    pub fn serialize<S: serde::Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(h))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        hash_from_hex(&text).ok_or_else(|| {
            <D::Error as serde::de::Error>::custom(format!(
                "{text:?} is not a hash (64 hex digits)"
            ))
        })
    }
}

/// A Merkle proof: the hashes from a leaf (inclusion) or a smaller tree (consistency) up to
/// a root, in order, written as a list of hex hashes. The one shape of a proof in the API, the
/// exports, the console and every check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proof(pub Vec<Hash>);

impl serde::Serialize for Proof {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|h| to_hex(h)))
    }
}

impl<'de> serde::Deserialize<'de> for Proof {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let texts = <Vec<String> as serde::Deserialize>::deserialize(d)?;
        texts
            .iter()
            .map(|t| hash_from_hex(t))
            .collect::<Option<Vec<Hash>>>()
            .map(Proof)
            .ok_or_else(|| {
                <D::Error as serde::de::Error>::custom(
                    "a proof is a list of hashes (64 hex digits)",
                )
            })
    }
}

#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for Proof {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[0-9a-f]{64}$"))
                    .description(Some("A SHA-256 hash, lower-case hex")),
            )
            .description(Some(
                "Hashes from the leaf (or smaller tree) up to the root",
            ))
            .into()
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for Proof {}

/// An entry's leaf hash with its inclusion proof: what the console's badge checks, and what
/// the API and exports give for each entry they prove.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProvenLeaf {
    pub seq: i64,
    /// The entry's leaf hash as the reader holds it.
    #[serde(with = "hex_hash")]
    pub leaf_hash: Hash,
    /// Its inclusion proof in the checkpoint's tree (leaf to root).
    pub proof: Proof,
}

/// What the console's badge checks: `note` is signed by the pinned `key`, and each leaf's
/// proof leads to its root. The checkpoint, or the first [`Finding`].
pub fn check_view(key: &str, note: &str, leaves: &[ProvenLeaf]) -> Result<Checkpoint, Finding> {
    let key = VerifierKey::parse(key)
        .map_err(|e| Finding::new(Check::Signature, format!("the pinned key: {e}")))?;
    let checkpoint = key.open(note.as_bytes()).map_err(|e| {
        Finding::new(
            Check::Signature,
            format!("the latest checkpoint is not signed by the pinned key: {e}"),
        )
    })?;
    for leaf in leaves {
        let bad = || {
            Finding::new(
                Check::Inclusion,
                "its proof does not lead to the signed root",
            )
            .seq(leaf.seq)
        };
        if leaf.seq < 0 {
            return Err(bad());
        }
        check_inclusion(
            &leaf.proof.0,
            checkpoint.size,
            checkpoint.root,
            leaf.seq as u64,
            leaf.leaf_hash,
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
        assert_eq!(to_hex(&h), text);
        assert_eq!(hash_from_hex(&text), Some(h));
        assert_eq!(hash_from_hex(&text.to_uppercase()), Some(h));
        assert_eq!(hash_from_hex(&text[1..]), None);
        assert_eq!(hash_from_hex(&format!("{}zz", &text[2..])), None);
    }
}
