//! Canonical transactions and their receipts by transaction hash, read without the chain lock.
//!
//! A lookup reads the canonical transaction index (transaction hash → block hash ‖ index), then
//! the block's header and the transaction's own records: a fixed number of store reads whatever
//! the size of the block. The index moves with the canonical chain in the same batch as the
//! head, so a transaction reorged out is not found, and one that moved to another block is
//! found in that block. LevelDB reads are thread-safe: a [`TxLookup`] is a clone of the store
//! handle and never waits for block import or payload building.

use alloy::consensus::{Header, TxEnvelope};
use alloy_primitives::B256;

use crate::db::{DbError, ElDb, StoredReceipt};

/// Read handle for transactions and receipts by hash.
#[derive(Debug, Clone)]
pub struct TxLookup {
    db: ElDb,
}

/// A transaction of a canonical block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalTx {
    /// Hash of the block holding it.
    pub block_hash: B256,
    /// Header of that block.
    pub header: Header,
    /// Position in the block.
    pub index: u32,
    /// The transaction.
    pub transaction: TxEnvelope,
}

impl TxLookup {
    /// A lookup over `db`.
    pub fn new(db: ElDb) -> Self {
        Self { db }
    }

    /// The store handle it reads.
    pub fn db(&self) -> &ElDb {
        &self.db
    }

    /// The canonical transaction `hash`, `None` if no canonical block holds it.
    pub fn transaction(&self, hash: &B256) -> Result<Option<CanonicalTx>, DbError> {
        let Some((block_hash, index)) = self.db.tx_location(hash)? else {
            return Ok(None);
        };
        let (Some(header), Some(transaction)) = (
            self.db.header(&block_hash)?,
            self.db.transaction(&block_hash, index)?,
        ) else {
            return Ok(None);
        };
        Ok(Some(CanonicalTx {
            block_hash,
            header,
            index,
            transaction,
        }))
    }

    /// The canonical transaction `hash` with its receipt, `None` if no canonical block holds it.
    pub fn receipt(&self, hash: &B256) -> Result<Option<(CanonicalTx, StoredReceipt)>, DbError> {
        let Some(tx) = self.transaction(hash)? else {
            return Ok(None);
        };
        Ok(self
            .db
            .receipt(&tx.block_hash, tx.index)?
            .map(|receipt| (tx, receipt)))
    }
}
