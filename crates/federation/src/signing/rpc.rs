//! What the collector needs from a Bitcoin node: broadcast, mempool lookup and blocks to find
//! confirmations; implemented over Bitcoin Core's JSON-RPC ([`CoreRpcClient`]) by forwarding
//! to `alys_bitcoin::BitcoinRpc`.

use alys_bitcoin::{BitcoinRpc, CoreRpcClient};
use async_trait::async_trait;
use bitcoin::{Block, BlockHash, Transaction, Txid};

/// A Bitcoin RPC call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Bitcoin RPC `{method}` failed: {message}")]
pub struct RpcFailure {
    /// The method.
    pub method: &'static str,
    /// What the node or the transport said.
    pub message: String,
}

impl RpcFailure {
    /// A failure of `method` with `message`.
    pub fn new(method: &'static str, message: impl std::fmt::Display) -> Self {
        Self {
            method,
            message: message.to_string(),
        }
    }
}

/// The Bitcoin node the collector broadcasts to and watches.
#[async_trait]
pub trait PayoutRpc: Send + Sync {
    /// `sendrawtransaction`.
    async fn send_raw_transaction(&self, tx: &Transaction) -> Result<Txid, RpcFailure>;
    /// `getrawtransaction txid` without a block: `Some` while the node has it in its mempool
    /// (or indexed), `None` when it answers "not found" (Core error -5).
    async fn get_raw_transaction(&self, txid: &Txid) -> Result<Option<Transaction>, RpcFailure>;
    /// `getblockcount`.
    async fn get_block_count(&self) -> Result<u64, RpcFailure>;
    /// `getblockhash height`.
    async fn get_block_hash(&self, height: u64) -> Result<BlockHash, RpcFailure>;
    /// `getblock hash 0`.
    async fn get_block(&self, hash: &BlockHash) -> Result<Block, RpcFailure>;
}

fn failure(method: &'static str) -> impl Fn(alys_bitcoin::RpcError) -> RpcFailure {
    move |e| RpcFailure::new(method, e)
}

#[async_trait]
impl PayoutRpc for CoreRpcClient {
    async fn send_raw_transaction(&self, tx: &Transaction) -> Result<Txid, RpcFailure> {
        BitcoinRpc::send_raw_transaction(self, tx)
            .await
            .map_err(failure("sendrawtransaction"))
    }

    async fn get_raw_transaction(&self, txid: &Txid) -> Result<Option<Transaction>, RpcFailure> {
        match BitcoinRpc::get_raw_transaction(self, txid, None).await {
            Ok(tx) => Ok(Some(tx)),
            Err(e) if e.core_code() == Some(alys_bitcoin::rpc::RPC_INVALID_ADDRESS_OR_KEY) => {
                Ok(None)
            }
            Err(e) => Err(failure("getrawtransaction")(e)),
        }
    }

    async fn get_block_count(&self) -> Result<u64, RpcFailure> {
        BitcoinRpc::get_block_count(self)
            .await
            .map_err(failure("getblockcount"))
    }

    async fn get_block_hash(&self, height: u64) -> Result<BlockHash, RpcFailure> {
        BitcoinRpc::get_block_hash(self, height)
            .await
            .map_err(failure("getblockhash"))
    }

    async fn get_block(&self, hash: &BlockHash) -> Result<Block, RpcFailure> {
        BitcoinRpc::get_block(self, hash)
            .await
            .map_err(failure("getblock"))
    }
}
