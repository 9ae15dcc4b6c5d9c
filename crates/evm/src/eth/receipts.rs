//! RPC receipts (`eth_getTransactionReceipt`, `eth_getBlockReceipts`), computed from stored
//! consensus receipts and block bodies: sender, recipient, created contract, per-transaction gas
//! used (from cumulative gas), effective gas price and logs with block-wide indices.

use std::sync::Arc;

use alloy::consensus::{
    transaction::SignerRecoverable, Header, ReceiptEnvelope, Transaction as _, TxEnvelope,
};
use alloy::eips::BlockId;
use alloy::rpc::types::{Log, TransactionReceipt};
use alloy_primitives::{TxKind, B256};
use jsonrpsee::{
    types::{ErrorObjectOwned, Params},
    RpcModule,
};

use super::{blocking, errors::internal, locked, EthApi};
use crate::{chain::SharedChain, db::ElDb};

/// The RPC receipt of transaction `index` of a block, given the block's receipts (for gas
/// and log offsets). `None` if the index is out of range.
pub fn rpc_receipt(
    header: &Header,
    block_hash: B256,
    transactions: &[TxEnvelope],
    receipts: &[ReceiptEnvelope],
    index: usize,
) -> Option<TransactionReceipt> {
    let tx = transactions.get(index)?;
    let receipt = receipts.get(index)?;
    let log_offset: usize = receipts[..index].iter().map(|r| r.logs().len()).sum();
    let prev_cumulative = index
        .checked_sub(1)
        .and_then(|i| receipts.get(i))
        .map_or(0, |r| r.cumulative_gas_used());
    Some(build(
        header,
        block_hash,
        tx,
        receipt,
        index,
        log_offset,
        prev_cumulative,
    ))
}

fn build(
    header: &Header,
    block_hash: B256,
    tx: &TxEnvelope,
    receipt: &ReceiptEnvelope,
    index: usize,
    log_offset: usize,
    prev_cumulative: u64,
) -> TransactionReceipt {
    let from = tx.recover_signer().unwrap_or_default();
    let tx_hash = *tx.tx_hash();
    let (to, contract_address) = match tx.kind() {
        TxKind::Call(to) => (Some(to), None),
        TxKind::Create => (None, Some(from.create(tx.nonce()))),
    };
    let mut i = 0u64;
    let inner = receipt.clone().map_logs(|log| {
        let rpc = Log {
            inner: log,
            block_hash: Some(block_hash),
            block_number: Some(header.number),
            block_timestamp: Some(header.timestamp),
            transaction_hash: Some(tx_hash),
            transaction_index: Some(index as u64),
            log_index: Some(log_offset as u64 + i),
            removed: false,
        };
        i += 1;
        rpc
    });
    TransactionReceipt {
        inner,
        transaction_hash: tx_hash,
        transaction_index: Some(index as u64),
        block_hash: Some(block_hash),
        block_number: Some(header.number),
        gas_used: receipt
            .cumulative_gas_used()
            .saturating_sub(prev_cumulative),
        effective_gas_price: tx.effective_gas_price(header.base_fee_per_gas),
        blob_gas_used: None,
        blob_gas_price: None,
        from,
        to,
        contract_address,
    }
}

/// All receipts of the block `hash`, `None` if it is unknown.
pub fn block_receipts(
    db: &ElDb,
    hash: B256,
) -> Result<Option<Vec<TransactionReceipt>>, ErrorObjectOwned> {
    let Some(header) = db.header(&hash).map_err(internal)? else {
        return Ok(None);
    };
    let (Some(body), Some(receipts)) = (
        db.body(&hash).map_err(internal)?,
        db.receipts(&hash).map_err(internal)?,
    ) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(receipts.len());
    let mut log_offset = 0;
    let mut prev = 0;
    for (i, (tx, receipt)) in body.transactions.iter().zip(&receipts).enumerate() {
        out.push(build(&header, hash, tx, receipt, i, log_offset, prev));
        log_offset += receipt.logs().len();
        prev = receipt.cumulative_gas_used();
    }
    Ok(Some(out))
}

impl EthApi {
    /// `eth_getTransactionReceipt`: `None` until the transaction is in a canonical block.
    pub fn transaction_receipt(
        db: &ElDb,
        hash: B256,
    ) -> Result<Option<TransactionReceipt>, ErrorObjectOwned> {
        let Some((block_hash, index)) = db.tx_location(&hash).map_err(internal)? else {
            return Ok(None);
        };
        let (Some(header), Some(body), Some(receipts)) = (
            db.header(&block_hash).map_err(internal)?,
            db.body(&block_hash).map_err(internal)?,
            db.receipts(&block_hash).map_err(internal)?,
        ) else {
            return Ok(None);
        };
        Ok(rpc_receipt(
            &header,
            block_hash,
            &body.transactions,
            &receipts,
            index as usize,
        ))
    }

    /// `eth_getBlockReceipts`.
    pub fn block_receipts(
        &self,
        params: Params,
    ) -> Result<Option<Vec<TransactionReceipt>>, ErrorObjectOwned> {
        let block: BlockId = params.one()?;
        let (db, hash) = {
            let chain = self.chain().lock();
            let hash = match block {
                BlockId::Hash(h) => Some(h.block_hash),
                BlockId::Number(tag) => EthApi::resolve_tag(&chain, tag)?,
            };
            (chain.db().clone(), hash)
        };
        match hash {
            Some(hash) => block_receipts(&db, hash),
            None => Ok(None),
        }
    }
}

/// Registers the receipt methods.
pub fn register(module: &mut RpcModule<SharedChain>, api: &Arc<EthApi>) {
    locked(
        module,
        api,
        "eth_getTransactionReceipt",
        |_, p| p.one::<B256>(),
        |_, chain, hash| EthApi::transaction_receipt(chain.db(), hash),
    );
    blocking(module, api, "eth_getBlockReceipts", |api, p| {
        api.block_receipts(p)
    });
}
