//! RPC receipts (`eth_getTransactionReceipt`, `eth_getBlockReceipts`), built from the stored
//! per-transaction records: sender, recipient, created contract, gas used, effective gas price
//! and logs with block-wide indices. A lookup by hash reads one transaction's records
//! ([`crate::tx_lookup`]) without the chain lock.

use std::sync::Arc;

use alloy::consensus::{transaction::SignerRecoverable, Header, Transaction as _, TxEnvelope};
use alloy::eips::BlockId;
use alloy::rpc::types::{Log, TransactionReceipt};
use alloy_primitives::{TxKind, B256};
use jsonrpsee::{
    types::{ErrorObjectOwned, Params},
    RpcModule,
};

use super::{blocking, errors::internal, inline, EthApi};
use crate::{
    chain::SharedChain,
    db::{ElDb, StoredReceipt},
    tx_lookup::TxLookup,
};

/// The RPC receipt of `tx`, transaction `index` of block `block_hash`, from its stored receipt.
pub fn rpc_receipt(
    header: &Header,
    block_hash: B256,
    tx: &TxEnvelope,
    stored: &StoredReceipt,
    index: usize,
) -> TransactionReceipt {
    let from = tx.recover_signer().unwrap_or_default();
    let tx_hash = *tx.tx_hash();
    let (to, contract_address) = match tx.kind() {
        TxKind::Call(to) => (Some(to), None),
        TxKind::Create => (None, Some(from.create(tx.nonce()))),
    };
    let mut log_index = stored.first_log_index;
    let inner = stored.receipt.clone().map_logs(|log| {
        let rpc = Log {
            inner: log,
            block_hash: Some(block_hash),
            block_number: Some(header.number),
            block_timestamp: Some(header.timestamp),
            transaction_hash: Some(tx_hash),
            transaction_index: Some(index as u64),
            log_index: Some(log_index),
            removed: false,
        };
        log_index += 1;
        rpc
    });
    TransactionReceipt {
        inner,
        transaction_hash: tx_hash,
        transaction_index: Some(index as u64),
        block_hash: Some(block_hash),
        block_number: Some(header.number),
        gas_used: stored.gas_used,
        effective_gas_price: tx.effective_gas_price(header.base_fee_per_gas),
        blob_gas_used: None,
        blob_gas_price: None,
        from,
        to,
        contract_address,
    }
}

/// All receipts of the block `hash`, `None` if it is unknown.
pub(crate) fn block_receipts(
    db: &ElDb,
    hash: B256,
) -> Result<Option<Vec<TransactionReceipt>>, ErrorObjectOwned> {
    let Some(header) = db.header(&hash).map_err(internal)? else {
        return Ok(None);
    };
    let transactions = db.block_transactions(&hash).map_err(internal)?;
    let receipts = db.block_receipts(&hash).map_err(internal)?;
    Ok(Some(
        transactions
            .iter()
            .zip(&receipts)
            .enumerate()
            .map(|(i, (tx, stored))| rpc_receipt(&header, hash, tx, stored, i))
            .collect(),
    ))
}

impl EthApi {
    /// `eth_getTransactionReceipt`: `None` until the transaction is in a canonical block.
    pub fn transaction_receipt(
        lookup: &TxLookup,
        hash: B256,
    ) -> Result<Option<TransactionReceipt>, ErrorObjectOwned> {
        Ok(lookup
            .receipt(&hash)
            .map_err(internal)?
            .map(|(tx, stored)| {
                rpc_receipt(
                    &tx.header,
                    tx.block_hash,
                    &tx.transaction,
                    &stored,
                    tx.index as usize,
                )
            }))
    }

    /// `eth_getBlockReceipts`.
    pub fn block_receipts(
        &self,
        params: Params,
    ) -> Result<Option<Vec<TransactionReceipt>>, ErrorObjectOwned> {
        let block: BlockId = params.one()?;
        let hash = match block {
            BlockId::Hash(h) => Some(h.block_hash),
            BlockId::Number(tag) => EthApi::resolve_tag(&self.chain().lock(), tag)?,
        };
        match hash {
            Some(hash) => block_receipts(self.lookup().db(), hash),
            None => Ok(None),
        }
    }
}

/// Registers the receipt methods.
pub(crate) fn register(module: &mut RpcModule<SharedChain>, api: &Arc<EthApi>) {
    inline(module, api, "eth_getTransactionReceipt", |api, p| {
        EthApi::transaction_receipt(api.lookup(), p.one::<B256>()?)
    });
    blocking(module, api, "eth_getBlockReceipts", |api, p| {
        api.block_receipts(p)
    });
}
