//! The [`BitcoinRpc`] trait: the subset of Bitcoin Core's JSON-RPC the follower and the peg use,
//! with typed results and errors.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use bitcoin::block::Header;
use bitcoin::{Block, BlockHash, Transaction, Txid};
use serde::{Deserialize, Deserializer};

/// Bitcoin Core's `RPC_INVALID_ADDRESS_OR_KEY` (e.g. "Block not found").
pub const RPC_INVALID_ADDRESS_OR_KEY: i64 = -5;
/// Bitcoin Core's `RPC_INVALID_PARAMETER` (e.g. "Block height out of range").
pub const RPC_INVALID_PARAMETER: i64 = -8;
/// Bitcoin Core's `RPC_IN_WARMUP` (node still starting).
pub const RPC_IN_WARMUP: i64 = -28;
/// JSON-RPC "Method not found".
pub const RPC_METHOD_NOT_FOUND: i64 = -32601;

/// Errors talking to a Bitcoin node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The URL is not a usable `http://host:port[/path]`.
    #[error("invalid Bitcoin RPC URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it is unusable.
        reason: String,
    },
    /// The node could not be reached or the connection broke.
    #[error("cannot reach Bitcoin RPC at {url}: {reason}")]
    Connect {
        /// Endpoint.
        url: String,
        /// Transport error.
        reason: String,
    },
    /// No complete answer within the timeout.
    #[error("Bitcoin RPC `{method}` timed out after {timeout:?}")]
    Timeout {
        /// Method called.
        method: String,
        /// The timeout.
        timeout: Duration,
    },
    /// HTTP 401/403: wrong user/password or stale cookie.
    #[error("Bitcoin RPC rejected the credentials (HTTP {0})")]
    Unauthorized(u16),
    /// The cookie file could not be read.
    #[error("cannot read Bitcoin RPC cookie file {path}: {reason}")]
    Cookie {
        /// Cookie path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A non-JSON HTTP error.
    #[error("Bitcoin RPC answered HTTP {status}: {body}")]
    Http {
        /// HTTP status.
        status: u16,
        /// Body (truncated).
        body: String,
    },
    /// Bitcoin Core returned a JSON-RPC error.
    #[error("Bitcoin Core error {code} on `{method}`: {message}")]
    Core {
        /// Method called.
        method: String,
        /// Core's error code (e.g. -5, -8, -25, -26, -32601).
        code: i64,
        /// Core's message.
        message: String,
    },
    /// The answer did not have the expected shape.
    #[error("cannot decode Bitcoin RPC `{method}` result: {reason}")]
    Decode {
        /// Method called.
        method: String,
        /// What was wrong.
        reason: String,
    },
}

impl RpcError {
    /// Worth retrying: connection problems, timeouts and a node still warming up.
    pub fn is_transient(&self) -> bool {
        match self {
            RpcError::Connect { .. } | RpcError::Timeout { .. } => true,
            RpcError::Core { code, .. } => *code == RPC_IN_WARMUP,
            _ => false,
        }
    }

    /// Core's error code, if this is a Core error.
    pub fn core_code(&self) -> Option<i64> {
        match self {
            RpcError::Core { code, .. } => Some(*code),
            _ => None,
        }
    }
}

pub(crate) fn de_from_str<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

pub(crate) fn de_opt_from_str<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// `getblockchaininfo` (the fields the node uses).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct BlockchainInfo {
    /// Network name (`main`, `test`, `testnet4`, `signet`, `regtest`).
    pub chain: String,
    /// Height of the active chain tip.
    pub blocks: u64,
    /// Headers known.
    #[serde(default)]
    pub headers: u64,
    /// Hash of the active chain tip.
    #[serde(deserialize_with = "de_from_str")]
    pub bestblockhash: BlockHash,
    /// Whether the node is still in initial block download.
    #[serde(default)]
    pub initialblockdownload: bool,
}

/// `getblockheader <hash> true`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct HeaderInfo {
    /// Block hash.
    #[serde(deserialize_with = "de_from_str")]
    pub hash: BlockHash,
    /// Confirmations; -1 when the block is not on the active chain.
    pub confirmations: i64,
    /// Height.
    pub height: u64,
    /// Parent (absent for genesis).
    #[serde(default, deserialize_with = "de_opt_from_str")]
    pub previousblockhash: Option<BlockHash>,
    /// Child on the active chain, if any.
    #[serde(default, deserialize_with = "de_opt_from_str")]
    pub nextblockhash: Option<BlockHash>,
    /// Block time.
    #[serde(default)]
    pub time: u64,
}

/// One entry of `testmempoolaccept`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct MempoolAcceptResult {
    /// Transaction id.
    #[serde(deserialize_with = "de_from_str")]
    pub txid: Txid,
    /// Accepted (absent when package validation stopped early).
    #[serde(default)]
    pub allowed: Option<bool>,
    /// Virtual size.
    #[serde(default)]
    pub vsize: Option<u64>,
    /// Why it was rejected.
    #[serde(default, rename = "reject-reason")]
    pub reject_reason: Option<String>,
}

/// `estimatesmartfee`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FeeEstimate {
    /// Fee rate in BTC/kvB, when an estimate exists.
    #[serde(default)]
    pub feerate: Option<f64>,
    /// Why there is no estimate.
    #[serde(default)]
    pub errors: Vec<String>,
    /// Blocks the estimate is for.
    #[serde(default)]
    pub blocks: u64,
}

impl FeeEstimate {
    /// The fee rate in sat/vB (rounded up), if any.
    pub fn sat_per_vb(&self) -> Option<u64> {
        self.feerate
            .filter(|r| r.is_finite() && *r >= 0.0)
            .map(|r| ((r * 100_000_000.0).round() as u64).div_ceil(1000))
    }
}

/// The Bitcoin node as the follower and the peg see it. Implemented over HTTP JSON-RPC by
/// [`crate::CoreRpcClient`]; tests implement it over in-memory chains.
#[async_trait]
pub trait BitcoinRpc: Send + Sync {
    /// `getblockchaininfo`.
    async fn get_blockchain_info(&self) -> Result<BlockchainInfo, RpcError>;
    /// `getblockcount`.
    async fn get_block_count(&self) -> Result<u64, RpcError>;
    /// `getbestblockhash`.
    async fn get_best_block_hash(&self) -> Result<BlockHash, RpcError>;
    /// `getblockhash <height>` (active chain).
    async fn get_block_hash(&self, height: u64) -> Result<BlockHash, RpcError>;
    /// `getblockheader <hash> false`, decoded.
    async fn get_block_header(&self, hash: &BlockHash) -> Result<Header, RpcError>;
    /// `getblockheader <hash> true`.
    async fn get_block_header_info(&self, hash: &BlockHash) -> Result<HeaderInfo, RpcError>;
    /// `getblock <hash> 0`, decoded with rust-bitcoin.
    async fn get_block(&self, hash: &BlockHash) -> Result<Block, RpcError>;
    /// `getrawtransaction <txid> false [blockhash]`, decoded.
    async fn get_raw_transaction(
        &self,
        txid: &Txid,
        block_hash: Option<&BlockHash>,
    ) -> Result<Transaction, RpcError>;
    /// `sendrawtransaction <hex>`.
    async fn send_raw_transaction(&self, tx: &Transaction) -> Result<Txid, RpcError>;
    /// `testmempoolaccept [<hex>…]`.
    async fn test_mempool_accept(
        &self,
        txs: &[Transaction],
    ) -> Result<Vec<MempoolAcceptResult>, RpcError>;
    /// `estimatesmartfee <conf_target>`.
    async fn estimate_smart_fee(&self, conf_target: u16) -> Result<FeeEstimate, RpcError>;
}
