//! The receipts of an executed block, read from the execution client's eth JSON-RPC (the fee
//! re-mint needs each transaction's gas used): `eth_getBlockReceipts` by block hash, then by
//! block number (EthereumJS 0.10 finds no block by hash there; by number it answers for the
//! canonical block, kept only if the receipts name our block), or, where the endpoint does not
//! serve it (-32601), `eth_getTransactionReceipt` for each transaction.
//!
//! The endpoint is the one given by [`HttpEngineClient::with_execution_rpc_url`], else the
//! Engine API URL (with its JWT). Once an endpoint answers -32601 to `eth_getBlockReceipts`,
//! the per-transaction calls are used directly, until they fail with -32601 too (then the
//! endpoint is asked for block receipts again: it may have been fixed or replaced).

use std::sync::atomic::Ordering;

use alloy::rpc::types::TransactionReceipt;
use alloy_primitives::{B256, U64};
use jsonrpsee::core::params::ArrayParams;
use serde::de::DeserializeOwned;

use crate::client::{methods, params1, HttpEngineClient};
use crate::EngineError;

impl HttpEngineClient {
    /// The receipts of block `block_hash`, whose transactions are `tx_hashes` in order;
    /// `None` when the endpoint does not know the block (or one of its transactions).
    pub(crate) async fn receipts(
        &self,
        block_hash: B256,
        block_number: u64,
        tx_hashes: &[B256],
    ) -> Result<Option<Vec<TransactionReceipt>>, EngineError> {
        if !self.inner.block_receipts_missing.load(Ordering::Relaxed) {
            match self
                .eth_call::<Option<Vec<TransactionReceipt>>>(
                    methods::GET_BLOCK_RECEIPTS,
                    params1(block_hash)?,
                )
                .await
            {
                Ok(None) => {
                    let by_number = self
                        .eth_call::<Option<Vec<TransactionReceipt>>>(
                            methods::GET_BLOCK_RECEIPTS,
                            params1(U64::from(block_number))?,
                        )
                        .await?;
                    return Ok(by_number.filter(|receipts| {
                        !receipts.is_empty()
                            && receipts.iter().all(|r| r.block_hash == Some(block_hash))
                    }));
                }
                Err(EngineError::MethodNotFound(message)) => {
                    tracing::debug!(
                        url = self.execution_rpc_url(),
                        %message,
                        "the execution client does not serve {} here; reading receipts with {} per transaction",
                        methods::GET_BLOCK_RECEIPTS,
                        methods::GET_TRANSACTION_RECEIPT,
                    );
                    self.inner
                        .block_receipts_missing
                        .store(true, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        let mut receipts = Vec::with_capacity(tx_hashes.len());
        for hash in tx_hashes {
            let receipt = self
                .eth_call::<Option<TransactionReceipt>>(
                    methods::GET_TRANSACTION_RECEIPT,
                    params1(hash)?,
                )
                .await
                .map_err(|e| match e {
                    EngineError::MethodNotFound(message) => {
                        // Neither is served: the endpoint is the wrong one (or a broken EL).
                        // Ask for block receipts again next time, in case it gets fixed.
                        self.inner
                            .block_receipts_missing
                            .store(false, Ordering::Relaxed);
                        EngineError::MethodNotFound(format!(
                            "neither {} nor {} is served at {}: {message}",
                            methods::GET_BLOCK_RECEIPTS,
                            methods::GET_TRANSACTION_RECEIPT,
                            self.execution_rpc_url()
                        ))
                    }
                    other => other,
                })?;
            match receipt {
                Some(r) if r.block_hash == Some(block_hash) => receipts.push(r),
                // Unknown, or included in another block (a reorg moved it): not this block's.
                _ => return Ok(None),
            }
        }
        Ok(Some(receipts))
    }

    /// Calls an `eth_*` method on the eth endpoint.
    async fn eth_call<R: DeserializeOwned>(
        &self,
        method: &'static str,
        params: ArrayParams,
    ) -> Result<R, EngineError> {
        match &self.inner.eth {
            Some(eth) => self.call_on(&eth.client, &eth.url, method, params).await,
            None => self.call(method, params).await,
        }
    }
}
