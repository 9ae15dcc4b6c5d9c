//! The logs of one stored block, as RPC logs with block and transaction metadata, filtered by
//! address and topics: what `eth_getLogs`, the polling filters and the `logs` subscription
//! read.

use alloy::consensus::Header;
use alloy::eips::BlockNumHash;
use alloy::rpc::types::{Filter, FilterBlockOption, Log};
use alloy_primitives::B256;
use jsonrpsee::types::ErrorObjectOwned;

use super::errors::internal;
use crate::db::ElDb;

/// All logs of block `hash` that match `filter` (address and topics only).
pub(super) fn block_logs(
    db: &ElDb,
    header: &Header,
    hash: B256,
    filter: &Filter,
    removed: bool,
) -> Result<Vec<Log>, ErrorObjectOwned> {
    if !filter.matches_bloom(header.logs_bloom) {
        return Ok(Vec::new());
    }
    let (Some(body), Some(receipts)) = (
        db.body(&hash).map_err(internal)?,
        db.receipts(&hash).map_err(internal)?,
    ) else {
        return Ok(Vec::new());
    };
    let unbounded = Filter {
        block_option: FilterBlockOption::default(),
        ..filter.clone()
    };
    Ok(unbounded.matching_block_logs(
        BlockNumHash::new(header.number, hash),
        header.timestamp,
        body.transactions
            .iter()
            .map(|t| *t.tx_hash())
            .zip(receipts.iter()),
        removed,
    ))
}
