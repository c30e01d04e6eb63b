//! The proving and signing half of Trailkeep's integrity: the Merkle tree over every entry's
//! leaf hash (`tree`) and the signed checkpoints of its root (`checkpoint`). The verifying half
//! is shared with the browser (`app::integrity`).

pub mod checkpoint;
pub mod tree;
