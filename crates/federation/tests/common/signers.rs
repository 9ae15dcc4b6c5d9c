//! What a payout signer runs on in tests that never reach Bitcoin: a fixed list of proposed
//! payouts as its source, and a Bitcoin RPC that is never called.

use std::sync::Mutex;

use alys_federation::bitcoin::{Block, BlockHash, Transaction, Txid};
use alys_federation::signing::{PayoutRpc, PayoutSource, ProposedPayout, RpcFailure};
use async_trait::async_trait;

/// A source with a fixed list of payouts (the test may change it between rounds).
pub(crate) struct Fixed(pub(crate) Mutex<Vec<ProposedPayout>>);

impl PayoutSource for Fixed {
    fn payouts(&self) -> Vec<ProposedPayout> {
        self.0.lock().unwrap().clone()
    }
}

/// An RPC that is never called (tests that never reach a broadcast).
pub(crate) struct NoRpc;

#[async_trait]
impl PayoutRpc for NoRpc {
    async fn send_raw_transaction(&self, _: &Transaction) -> Result<Txid, RpcFailure> {
        Err(RpcFailure::new("sendrawtransaction", "no node"))
    }
    async fn get_raw_transaction(&self, _: &Txid) -> Result<Option<Transaction>, RpcFailure> {
        Err(RpcFailure::new("getrawtransaction", "no node"))
    }
    async fn get_block_count(&self) -> Result<u64, RpcFailure> {
        Err(RpcFailure::new("getblockcount", "no node"))
    }
    async fn get_block_hash(&self, _: u64) -> Result<BlockHash, RpcFailure> {
        Err(RpcFailure::new("getblockhash", "no node"))
    }
    async fn get_block(&self, _: &BlockHash) -> Result<Block, RpcFailure> {
        Err(RpcFailure::new("getblock", "no node"))
    }
}
