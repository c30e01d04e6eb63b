//! The hash chain's check: every entry's stored fields give its stored leaf hash, each chain
//! hash follows from the one before, no seq is missing, and the chain head agrees with the last
//! entry. Read in one snapshot, streamed (one entry in memory at a time). What `trailkeep
//! verify` runs first; `service::tree::verify` checks the Merkle tree beside it.
//!
//! A month that retention dropped (`archived_months`) is crossed by its recorded anchor: the
//! chain must reach its first seq with the chain hash recorded before it, and goes on from the
//! one recorded after it (its entries are checked in their bundle, offline).

use app::integrity::{to_hex, Check, Finding};
use futures::TryStreamExt;
use sqlx::PgPool;

use crate::domain::entry::chain::{chain_hash, GENESIS};
use crate::storage;
use crate::storage::retention::ArchivedMonthRow;

/// The chain checked: how many entries it holds, or the first [`Finding`].
pub type ChainVerdict = Result<i64, Finding>;

/// Recomputes every leaf and chain hash in seq order, then checks the chain head.
pub async fn verify(pool: &PgPool) -> Result<ChainVerdict, sqlx::Error> {
    let mut tx = storage::read_only_snapshot(pool).await?;
    let mut expected_seq = 0i64;
    let mut head = GENESIS;
    let archived = storage::retention::archived(&mut *tx).await?;
    let mut archived = archived.iter().peekable();
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
            if let Err(finding) = cross(&mut archived, &mut expected_seq, &mut head) {
                return Ok(Err(finding));
            }
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
    if let Err(finding) = cross(&mut archived, &mut expected_seq, &mut head) {
        return Ok(Err(finding));
    }
    if let Some(a) = archived.next() {
        return Ok(Err(Finding::new(
            Check::Chain,
            format!(
                "seqs {}..{} are recorded as archived, but the log ends at {expected_seq}",
                a.first_seq, a.end_seq
            ),
        )
        .seq(a.first_seq)));
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

/// Crosses the archived months that start at `expected`: the chain must arrive with the hash
/// recorded before each, and goes on from the one recorded after it.
fn cross<'a>(
    archived: &mut std::iter::Peekable<impl Iterator<Item = &'a ArchivedMonthRow>>,
    expected: &mut i64,
    head: &mut [u8; 32],
) -> Result<(), Finding> {
    while let Some(a) = archived.next_if(|a| a.first_seq == *expected) {
        if a.chain_hash_before != head.as_slice() {
            return Err(Finding::new(
                Check::Chain,
                format!(
                    "the chain does not arrive at the archived seqs {}..{} with the hash                      recorded when they were dropped",
                    a.first_seq, a.end_seq
                ),
            )
            .seq(a.first_seq)
            .differs(to_hex(head), to_hex(&a.chain_hash_before)));
        }
        *head = a.chain_hash_after.as_slice().try_into().map_err(|_| {
            Finding::new(
                Check::Chain,
                "an archived month's chain hash is not 32 bytes",
            )
            .seq(a.first_seq)
        })?;
        *expected = a.end_seq;
    }
    Ok(())
}
