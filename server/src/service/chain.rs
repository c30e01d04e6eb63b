//! The hash chain's check: every entry's stored fields give its stored leaf hash, each chain
//! hash follows from the one before, no seq is missing, and the chain head agrees with the last
//! entry. Read in one snapshot, streamed (one entry in memory at a time). What `trailkeep
//! verify` runs first; `service::tree::verify` checks the Merkle tree beside it.

use app::integrity::{to_hex, Check, Finding};
use futures::TryStreamExt;
use sqlx::PgPool;

use crate::domain::entry::chain::{chain_hash, GENESIS};
use crate::storage;

/// The chain checked: how many entries it holds, or the first [`Finding`].
pub type ChainVerdict = Result<i64, Finding>;

/// Recomputes every leaf and chain hash in seq order, then checks the chain head.
pub async fn verify(pool: &PgPool) -> Result<ChainVerdict, sqlx::Error> {
    let mut tx = storage::read_only_snapshot(pool).await?;
    let mut expected_seq = 0i64;
    let mut head = GENESIS;
    {
        let mut rows = storage::entries::all_in_order(&mut tx);
        loop {
            let row = match rows.try_next().await {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(sqlx::Error::ColumnDecode { index, source }) => {
                    return Ok(Err(Finding::new(
                        Check::LeafHash,
                        format!("column {index} holds a value Trailkeep never writes ({source})"),
                    )
                    .seq(expected_seq)))
                }
                Err(e) => return Err(e),
            };
            let record = &row.record;
            if record.seq != expected_seq {
                return Ok(Err(Finding::new(
                    Check::Chain,
                    format!(
                        "entry {expected_seq} is missing (next stored seq is {})",
                        record.seq
                    ),
                )
                .seq(expected_seq)));
            }
            let leaf = record.leaf_hash();
            if row.leaf_hash != leaf {
                return Ok(Err(Finding::new(
                    Check::LeafHash,
                    "leaf hash does not match the entry's content",
                )
                .seq(expected_seq)
                .differs(to_hex(&leaf), to_hex(&row.leaf_hash))));
            }
            head = chain_hash(&head, &leaf);
            if row.chain_hash != head {
                return Ok(Err(Finding::new(
                    Check::Chain,
                    "chain hash does not follow from the previous entry",
                )
                .seq(expected_seq)
                .differs(to_hex(&head), to_hex(&row.chain_hash))));
            }
            expected_seq += 1;
        }
    }
    let (next_seq, head_hash) = storage::entries::chain_head(&mut *tx).await?;
    if next_seq != expected_seq {
        return Ok(Err(Finding::new(
            Check::ChainHead,
            format!("the chain head records {next_seq} entries, {expected_seq} are stored"),
        )
        .seq(expected_seq)
        .differs(expected_seq.to_string(), next_seq.to_string())));
    }
    if head_hash != head {
        return Ok(Err(Finding::new(
            Check::ChainHead,
            "the chain head hash does not match the last entry",
        )
        .seq(expected_seq - 1)
        .differs(to_hex(&head), to_hex(&head_hash))));
    }
    Ok(Ok(expected_seq))
}
