//! Pieces shared by the `eth_*` methods of both RPC ports: block tags and block lookups.

use alloy::rpc::types::Block;
use alloy_primitives::B256;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use serde::Deserialize;

use crate::{chain::Chain, rpc_block::rpc_block};

/// A block named by number or tag (`latest`, `pending`, `safe`, `finalized`, `earliest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockSelector {
    /// A block number.
    Number(u64),
    /// The canonical head (also used for `pending`).
    Latest,
    /// The pending block; served as the head.
    Pending,
    /// The safe block.
    Safe,
    /// The finalized block.
    Finalized,
    /// Genesis.
    Earliest,
}

impl<'de> Deserialize<'de> for BlockSelector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "latest" => Self::Latest,
            "pending" => Self::Pending,
            "safe" => Self::Safe,
            "finalized" => Self::Finalized,
            "earliest" => Self::Earliest,
            hex => {
                let digits = hex.strip_prefix("0x").ok_or_else(|| {
                    serde::de::Error::custom(format!("invalid block number or tag `{hex}`"))
                })?;
                Self::Number(u64::from_str_radix(digits, 16).map_err(serde::de::Error::custom)?)
            }
        })
    }
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObject::owned(-32603, e.to_string(), None::<()>)
}

/// Resolves a selector to a canonical block hash, if any.
pub fn resolve(chain: &Chain, selector: BlockSelector) -> Result<Option<B256>, ErrorObjectOwned> {
    Ok(match selector {
        BlockSelector::Latest | BlockSelector::Pending => Some(chain.head().1),
        BlockSelector::Safe => Some(chain.safe()),
        BlockSelector::Finalized => Some(chain.finalized()),
        BlockSelector::Earliest => Some(chain.genesis_hash()),
        BlockSelector::Number(n) => chain.db().canonical_hash(n).map_err(internal)?,
    })
}

/// `eth_getBlockByNumber`.
pub fn block_by_number(
    chain: &Chain,
    selector: BlockSelector,
    full: bool,
) -> Result<Option<Block>, ErrorObjectOwned> {
    match resolve(chain, selector)? {
        Some(hash) => block_by_hash(chain, hash, full),
        None => Ok(None),
    }
}

/// `eth_getBlockByHash`.
pub fn block_by_hash(
    chain: &Chain,
    hash: B256,
    full: bool,
) -> Result<Option<Block>, ErrorObjectOwned> {
    Ok(chain
        .block(&hash)
        .map_err(internal)?
        .map(|(header, body)| rpc_block(&header, hash, &body, full)))
}
