//! The hash chain over all entries, in `seq` order:
//!
//! leaf_hash  = SHA-256(0x00 ‖ JCS(entry without its two hashes))   (`domain::entry`)
//! chain_hash = SHA-256(previous chain_hash ‖ leaf_hash), 32 zero bytes before seq 0.

use sha2::{Digest, Sha256};

pub use app::integrity::Hash;
pub const GENESIS: Hash = [0u8; 32];

/// SHA-256(0x00 ‖ `canonical_bytes`): an entry's leaf (the prefix keeps leaves apart from
/// interior nodes of a tree over them).
pub fn leaf_hash(canonical_bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(canonical_bytes);
    h.finalize().into()
}

pub fn chain_hash(previous: &Hash, leaf: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(leaf);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_depends_on_order() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        assert_ne!(
            chain_hash(&chain_hash(&GENESIS, &a), &b),
            chain_hash(&chain_hash(&GENESIS, &b), &a)
        );
    }
}
