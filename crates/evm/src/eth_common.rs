//! Pieces shared by the `eth_*` methods of both RPC ports: resolving block tags and block
//! lookups.

use alloy::eips::BlockNumberOrTag;
use alloy::rpc::types::Block;
use alloy_primitives::B256;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};

use crate::{chain::Chain, rpc_block::rpc_block};

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObject::owned(-32603, e.to_string(), None::<()>)
}

/// Resolves a block number or tag to a canonical block hash, if any (`pending` is the head).
pub(crate) fn resolve(
    chain: &Chain,
    tag: BlockNumberOrTag,
) -> Result<Option<B256>, ErrorObjectOwned> {
    Ok(match tag {
        BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => Some(chain.head().1),
        BlockNumberOrTag::Safe => Some(chain.safe()),
        BlockNumberOrTag::Finalized => Some(chain.finalized()),
        BlockNumberOrTag::Earliest => Some(chain.genesis_hash()),
        BlockNumberOrTag::Number(n) => chain.db().canonical_hash(n).map_err(internal)?,
    })
}

/// `eth_getBlockByNumber`.
pub(crate) fn block_by_number(
    chain: &Chain,
    tag: BlockNumberOrTag,
    full: bool,
) -> Result<Option<Block>, ErrorObjectOwned> {
    match resolve(chain, tag)? {
        Some(hash) => block_by_hash(chain, hash, full),
        None => Ok(None),
    }
}

/// `eth_getBlockByHash`.
pub(crate) fn block_by_hash(
    chain: &Chain,
    hash: B256,
    full: bool,
) -> Result<Option<Block>, ErrorObjectOwned> {
    Ok(chain
        .block(&hash)
        .map_err(internal)?
        .map(|(header, body)| rpc_block(&header, hash, &body, full)))
}
