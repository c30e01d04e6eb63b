//! The Merkle tree over the log (RFC 6962 / RFC 9162 §2.1: leaves hashed with `0x00`, nodes
//! with `0x01`), leaf index = `seq`, leaf = the entry's `leaf_hash`. The one place proof math
//! happens: it is `tlog_tiles` (a port of Go's sumdb `tlog`), and nothing else in Trailkeep
//! names that crate.
//!
//! The tree is kept as tlog's *stored hashes*: appending leaf `n` stores its hash and the roots
//! of the subtrees it completes, at consecutive indexes from [`first_index`]`(n)`; no stored
//! hash ever changes, so storage only grows. The library reads stored hashes synchronously
//! while the database is async, so every computation runs twice: [`needed`] replays it with a
//! reader that only notes which indexes are asked for (which depends on the sizes alone, never
//! on hash values), the caller fetches exactly those, and then computes with a [`Hashes`]
//! holding them. A reader that answers with the wrong number of hashes makes the library
//! panic: [`Hashes`] refuses with an error instead.

use std::cell::RefCell;
use std::collections::HashMap;

use tlog_tiles::tlog::{self, HashReader};

/// The one hash type, shared with the browser (a leaf's, a node's or a root).
pub use app::integrity::Hash;

/// A proof that failed to verify, or a computation asked of hashes not (yet) stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The proof does not show what it claims.
    #[error("the proof does not verify")]
    InvalidProof,
    /// A leaf or size outside the tree (`seq` must be below the size, sizes in order).
    #[error("{0}")]
    OutOfRange(String),
    /// A stored hash the computation needs was not given.
    #[error("stored hash {0} is missing")]
    Missing(u64),
}

/// The index at which leaf `n`'s stored hashes begin.
pub fn first_index(n: u64) -> u64 {
    tlog::stored_hash_index(0, n)
}

/// How many stored hashes a tree of `size` leaves has.
pub fn stored_count(size: u64) -> u64 {
    tlog::stored_hash_count(size)
}

/// Stored hashes by index: what a computation reads (fetched from the database, or all of them
/// in a test).
#[derive(Default, Clone)]
pub struct Hashes(HashMap<u64, Hash>);

impl Hashes {
    pub fn new(hashes: impl IntoIterator<Item = (u64, Hash)>) -> Self {
        Hashes(hashes.into_iter().collect())
    }

    pub fn insert(&mut self, index: u64, hash: Hash) {
        self.0.insert(index, hash);
    }

    pub fn get(&self, index: u64) -> Option<Hash> {
        self.0.get(&index).copied()
    }
}

impl HashReader for Hashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        indexes
            .iter()
            .map(|i| self.0.get(i).map(|h| tlog::Hash(*h)))
            .collect::<Option<Vec<_>>>()
            .ok_or(tlog::Error::IndexesNotInTree)
    }
}

/// Notes the indexes asked for and answers with placeholders of the right number.
#[derive(Default)]
struct Recorder(RefCell<Vec<u64>>);

impl HashReader for Recorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Ok(vec![tlog::Hash::default(); indexes.len()])
    }
}

/// The stored-hash indexes `compute` reads, sorted and without repeats: fetch these, then run
/// it for real with a [`Hashes`] of them.
pub fn needed<T>(compute: impl FnOnce(&dyn Reader) -> Result<T, TreeError>) -> Vec<u64> {
    let recorder = Recorder::default();
    // Placeholder hashes make proofs fail to check, never the reads: only the reads matter.
    let _ = compute(&recorder);
    let mut indexes = recorder.0.into_inner();
    indexes.sort_unstable();
    indexes.dedup();
    indexes
}

/// What the computations below read from (a [`Hashes`], or the recorder of [`needed`]).
pub trait Reader {
    fn hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error>;
}

impl<R: HashReader> Reader for R {
    fn hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        self.read_hashes(indexes)
    }
}

struct Via<'a>(&'a dyn Reader);

impl HashReader for Via<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        self.0.hashes(indexes)
    }
}

fn lib_error(e: tlog::Error, missing_hint: u64) -> TreeError {
    match e {
        tlog::Error::IndexesNotInTree => TreeError::Missing(missing_hint),
        tlog::Error::InvalidProof => TreeError::InvalidProof,
        other => TreeError::OutOfRange(other.to_string()),
    }
}

/// The hashes to store at [`first_index`]`(n)` onwards when leaf `n` (whose hash is `leaf`) is
/// appended to a tree of `n` leaves.
pub fn append(n: u64, leaf: Hash, r: &dyn Reader) -> Result<Vec<Hash>, TreeError> {
    tlog::stored_hashes_for_record_hash(n, tlog::Hash(leaf), &Via(r))
        .map(|hs| hs.into_iter().map(|h| h.0).collect())
        .map_err(|e| lib_error(e, n))
}

/// The root of the tree of the first `size` leaves.
pub fn root(size: u64, r: &dyn Reader) -> Result<Hash, TreeError> {
    tlog::tree_hash(size, &Via(r))
        .map(|h| h.0)
        .map_err(|e| lib_error(e, size))
}

/// The audit path of leaf `seq` in the tree of `size` leaves (RFC 9162 §2.1.3).
pub fn inclusion_proof(seq: u64, size: u64, r: &dyn Reader) -> Result<Vec<Hash>, TreeError> {
    if seq >= size {
        return Err(TreeError::OutOfRange(format!(
            "seq {seq} is not in a tree of {size} entries"
        )));
    }
    tlog::prove_record(size, seq, &Via(r))
        .map(|p| p.into_iter().map(|h| h.0).collect())
        .map_err(|e| lib_error(e, seq))
}

/// The consistency proof from the tree of `from` leaves to the tree of `to` (RFC 9162 §2.1.4).
pub fn consistency_proof(from: u64, to: u64, r: &dyn Reader) -> Result<Vec<Hash>, TreeError> {
    if from > to {
        return Err(TreeError::OutOfRange(format!(
            "a tree of {from} entries cannot be a prefix of one of {to}"
        )));
    }
    tlog::prove_tree(to, from, &Via(r))
        .map(|p| p.into_iter().map(|h| h.0).collect())
        .map_err(|e| lib_error(e, to))
}

/// Checks that `proof` shows leaf `seq` with hash `leaf` in the tree of `size` with `root`.
pub fn check_inclusion(
    proof: &[Hash],
    size: u64,
    root: Hash,
    seq: u64,
    leaf: Hash,
) -> Result<(), TreeError> {
    app::integrity::check_inclusion(proof, size, root, seq, leaf)
        .map_err(|_| TreeError::InvalidProof)
}

/// Checks that `proof` shows the tree of `from` leaves with `from_root` is a prefix of the tree
/// of `to` leaves with `to_root`.
pub fn check_consistency(
    proof: &[Hash],
    to: u64,
    to_root: Hash,
    from: u64,
    from_root: Hash,
) -> Result<(), TreeError> {
    app::integrity::check_consistency(proof, to, to_root, from, from_root)
        .map_err(|_| TreeError::InvalidProof)
}

/// The stored hashes below [`first_index`]`(size)` that extending a tree of `size` leaves by
/// `count` and computing the new root read (the rest are made by the extension itself).
pub fn needed_to_extend(size: u64, count: u64) -> Vec<u64> {
    let recorder = Recorder::default();
    for n in size..size + count {
        // Which indexes are read never depends on the values: placeholders will do.
        let _ = append(n, [0; 32], &recorder);
    }
    let _ = root(size + count, &recorder);
    let mut indexes: Vec<u64> = recorder
        .0
        .into_inner()
        .into_iter()
        .filter(|i| *i < first_index(size))
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    indexes
}

/// Extends the tree of `size` leaves by `leaves`: the stored hashes to write from
/// [`first_index`]`(size)` on, and the new root. `earlier` holds (at least) the hashes
/// [`needed_to_extend`] names.
pub fn extend(
    size: u64,
    leaves: &[Hash],
    earlier: &Hashes,
) -> Result<(Vec<Hash>, Hash), TreeError> {
    let mut all = earlier.clone();
    let mut made = Vec::new();
    for (k, leaf) in leaves.iter().enumerate() {
        let n = size + k as u64;
        for (j, h) in append(n, *leaf, &all)?.into_iter().enumerate() {
            all.insert(first_index(n) + j as u64, h);
            made.push(h);
        }
    }
    let root = root(size + leaves.len() as u64, &all)?;
    Ok((made, root))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ct_merkle::{mem_backed_tree::MemoryBackedTree, RootHash};
    use sha2_011::Sha256;

    /// Leaf data `i`, and its leaf hash as the log computes one: SHA-256(0x00 ‖ data).
    fn data(i: u64) -> Vec<u8> {
        format!("entry {i}").into_bytes()
    }

    fn leaf(i: u64) -> Hash {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update([0u8]);
        h.update(data(i));
        h.finalize().into()
    }

    /// Our tree of `size` leaves, every stored hash in memory.
    fn ours(size: u64) -> Hashes {
        let mut store = Hashes::default();
        for n in 0..size {
            let new = append(n, leaf(n), &store).unwrap();
            for (k, h) in new.into_iter().enumerate() {
                store.insert(first_index(n) + k as u64, h);
            }
        }
        assert_eq!(store.0.len() as u64, stored_count(size));
        store
    }

    fn theirs(size: u64) -> MemoryBackedTree<Sha256, Vec<u8>> {
        let mut t = MemoryBackedTree::new();
        for i in 0..size {
            t.push(data(i));
        }
        t
    }

    fn their_root(t: &MemoryBackedTree<Sha256, Vec<u8>>) -> Hash {
        t.root().as_bytes().as_slice().try_into().unwrap()
    }

    #[test]
    fn every_leaf_of_every_tree_up_to_300_is_proven_to_an_independent_implementation() {
        let store = ours(300);
        for size in 1..=300u64 {
            let t = theirs(size);
            let r = root(size, &store).unwrap();
            assert_eq!(r, their_root(&t), "root of {size}");
            let their = RootHash::<Sha256>::new(*t.root().as_bytes(), size);
            for seq in 0..size {
                let proof = inclusion_proof(seq, size, &store).unwrap();
                check_inclusion(&proof, size, r, seq, leaf(seq)).unwrap();
                let bytes: Vec<u8> = proof.concat();
                their
                    .verify_inclusion(
                        &data(seq),
                        seq,
                        &ct_merkle::InclusionProof::from_bytes(bytes),
                    )
                    .unwrap_or_else(|e| panic!("seq {seq} of {size}: {e:?}"));
                // A proof for another leaf, or with one hash changed, does not verify.
                if size > 1 {
                    assert_eq!(
                        check_inclusion(&proof, size, r, (seq + 1) % size, leaf(seq)),
                        Err(TreeError::InvalidProof)
                    );
                }
            }
        }
    }

    #[test]
    fn consistency_between_every_pair_of_small_trees() {
        let store = ours(64);
        for to in 1..=64u64 {
            let t = theirs(to);
            let their_to = RootHash::<Sha256>::new(*t.root().as_bytes(), to);
            for from in 1..=to {
                let proof = consistency_proof(from, to, &store).unwrap();
                let from_root = root(from, &store).unwrap();
                check_consistency(&proof, to, root(to, &store).unwrap(), from, from_root)
                    .unwrap_or_else(|e| panic!("{from} → {to}: {e}"));
                let old = theirs(from).root();
                their_to
                    .verify_consistency(
                        &old,
                        &ct_merkle::ConsistencyProof::try_from_bytes(proof.concat()).unwrap(),
                    )
                    .unwrap_or_else(|e| panic!("{from} → {to}: {e:?}"));
                if from < to {
                    // Against a root that is not the prefix's, it fails.
                    let mut wrong = from_root;
                    wrong[0] ^= 1;
                    assert_eq!(
                        check_consistency(&proof, to, root(to, &store).unwrap(), from, wrong),
                        Err(TreeError::InvalidProof)
                    );
                }
            }
        }
    }

    #[test]
    fn empty_and_single_leaf_trees() {
        let store = ours(1);
        // RFC 6962: the empty tree's hash is SHA-256 of nothing.
        assert_eq!(
            hex::encode(root(0, &store).unwrap()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(root(1, &store).unwrap(), leaf(0));
        assert_eq!(inclusion_proof(0, 1, &store).unwrap(), Vec::<Hash>::new());
        check_inclusion(&[], 1, leaf(0), 0, leaf(0)).unwrap();
        assert!(matches!(
            inclusion_proof(1, 1, &store),
            Err(TreeError::OutOfRange(_))
        ));
        assert!(matches!(
            consistency_proof(2, 1, &store),
            Err(TreeError::OutOfRange(_))
        ));
        assert_eq!(consistency_proof(1, 1, &store).unwrap(), Vec::<Hash>::new());
    }

    /// Extending in batches from only the hashes `needed_to_extend` names gives the same
    /// stored hashes and root as appending one leaf at a time with everything at hand.
    #[test]
    fn extending_in_batches_reads_only_what_it_names() {
        let full = ours(700);
        let mut stored = Hashes::default();
        let mut size = 0u64;
        for count in [1u64, 2, 5, 255, 256, 181] {
            let indexes = needed_to_extend(size, count);
            let earlier = Hashes::new(indexes.iter().map(|i| (*i, stored.0[i])));
            let leaves: Vec<Hash> = (size..size + count).map(leaf).collect();
            let (made, r) = extend(size, &leaves, &earlier).unwrap();
            for (k, h) in made.into_iter().enumerate() {
                stored.insert(first_index(size) + k as u64, h);
            }
            size += count;
            assert_eq!(stored.0.len() as u64, stored_count(size));
            assert_eq!(r, root(size, &full).unwrap(), "root of {size}");
        }
        for (i, h) in &stored.0 {
            assert_eq!(full.0[i], *h, "stored hash {i}");
        }
    }

    /// What a proof reads is known before any hash is: [`needed`] lists it, and exactly those
    /// hashes suffice (a database fetches them, then the proof is computed).
    #[test]
    fn a_proof_needs_only_the_hashes_needed_names() {
        let size = 1_000u64;
        let full = ours(size);
        for (seq, at) in [(0, 1), (17, 300), (999, 1000), (512, 777)] {
            let indexes = needed(|r| inclusion_proof(seq, at, r));
            assert!(
                indexes.len() as f64 <= 2.0 * (at as f64).log2() + 2.0,
                "{indexes:?}"
            );
            let few = Hashes::new(indexes.iter().map(|i| (*i, full.0[i])));
            assert_eq!(
                inclusion_proof(seq, at, &few).unwrap(),
                inclusion_proof(seq, at, &full).unwrap()
            );
            let indexes = needed(|r| root(at, r));
            let few = Hashes::new(indexes.iter().map(|i| (*i, full.0[i])));
            assert_eq!(root(at, &few).unwrap(), root(at, &full).unwrap());
        }
        // Without them, an error names what is missing instead of a panic.
        assert!(matches!(
            root(size, &Hashes::default()),
            Err(TreeError::Missing(_))
        ));
    }

    /// Large trees, at random sizes up to 10^6: roots, inclusion and consistency proofs all
    /// checked by the independent implementation, grown alongside.
    #[test]
    fn random_large_trees_agree_with_the_independent_implementation() {
        use rand_core::RngCore;
        let max = 1_000_000u64;
        let store = ours(max);
        let mut rng = rand_core::OsRng;
        let mut sizes: Vec<u64> = (0..12).map(|_| 1 + rng.next_u64() % max).collect();
        sizes.push(max);
        sizes.sort_unstable();
        let mut t = theirs(0);
        let mut earlier: Vec<RootHash<Sha256>> = Vec::new();
        for at in sizes {
            while t.len() < at {
                t.push(data(t.len()));
            }
            let r = root(at, &store).unwrap();
            assert_eq!(r, their_root(&t), "root of {at}");
            let their = t.root();
            let seq = rng.next_u64() % at;
            let proof = inclusion_proof(seq, at, &store).unwrap();
            their
                .verify_inclusion(
                    &data(seq),
                    seq,
                    &ct_merkle::InclusionProof::from_bytes(proof.concat()),
                )
                .unwrap_or_else(|e| panic!("seq {seq} of {at}: {e:?}"));
            for old in &earlier {
                let from = old.num_leaves();
                let proof = consistency_proof(from, at, &store).unwrap();
                their
                    .verify_consistency(
                        old,
                        &ct_merkle::ConsistencyProof::try_from_bytes(proof.concat()).unwrap(),
                    )
                    .unwrap_or_else(|e| panic!("{from} → {at}: {e:?}"));
            }
            earlier.push(their);
        }
    }
}
