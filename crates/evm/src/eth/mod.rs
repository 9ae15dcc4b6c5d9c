//! The public `eth_*` JSON-RPC of the embedded execution client.
//!
//! Everything a wallet (MetaMask), Foundry (`cast`, `forge`) or a library (viem, ethers) needs
//! from a node, with Geth's formats, error codes and messages:
//!
//! * [`EthApi`] holds the shared chain, the polling filters and the chain-event stream and
//!   answers every method; [`register`] mounts the methods on an [`RpcModule`].
//! * [`call`]: `eth_call`, `eth_estimateGas`, `eth_createAccessList` on revm.
//! * [`receipts`], [`logs`], [`fees`], [`pool`], [`proof`], [`trace`]: the rest by topic.
//! * [`events`]: new canonical heads (driven by [`crate::txpool::TxPool::head_changes`]) for
//!   `eth_subscribe` and the polling filters.
//! * [`server`]: the HTTP + WebSocket server, CORS and request limits.
//!
//! The chain lock is held only to resolve a block and take a [`StateView`]; executions run
//! without it, so RPC load does not stall block production.

pub mod call;
pub mod env;
pub mod errors;
pub mod events;
pub mod fees;
pub mod logs;
pub mod pool;
pub mod proof;
pub mod receipts;
pub mod server;
pub mod trace;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use alloy::consensus::{Header, Transaction as _};
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::rpc::types::Transaction;
use alloy_primitives::{keccak256, Address, Bytes, B256, U256, U64};
use jsonrpsee::{
    types::{ErrorObjectOwned, Params},
    RpcModule,
};
use serde::Serialize;

use crate::{
    chain::Chain,
    engine_api::SharedChain,
    eth_common::{block_by_hash, BlockSelector},
    rpc_block::rpc_transaction,
    state::StateView,
};
use errors::{header_not_found, internal, server_err};

/// Limits and defaults of the `eth` API.
#[derive(Debug, Clone)]
pub struct EthConfig {
    /// Gas cap of `eth_call`, `eth_estimateGas` and `debug_traceCall` (Geth: 50M).
    pub gas_cap: u64,
    /// Widest block range of `eth_getLogs` / `eth_getFilterLogs`.
    pub max_log_range: u64,
    /// Most logs one `eth_getLogs` answer may carry.
    pub max_logs: usize,
    /// Idle time after which a polling filter is dropped (Geth: 5 minutes).
    pub filter_timeout: Duration,
    /// Most polling filters installed at once.
    pub max_filters: usize,
    /// Most blocks one `eth_feeHistory` covers (Geth: 1024).
    pub max_fee_history: u64,
    /// Blocks sampled by `eth_gasPrice` / `eth_maxPriorityFeePerGas` (Geth: 20).
    pub gas_price_blocks: u64,
    /// Percentile of sampled tips suggested (Geth: 60).
    pub gas_price_percentile: u8,
    /// Tip suggested when recent blocks hold no transactions, in wei.
    pub default_tip: u128,
}

impl Default for EthConfig {
    fn default() -> Self {
        Self {
            gas_cap: 50_000_000,
            max_log_range: 10_000,
            max_logs: 10_000,
            filter_timeout: Duration::from_secs(300),
            max_filters: 10_000,
            max_fee_history: 1024,
            gas_price_blocks: 20,
            gas_price_percentile: 60,
            default_tip: 1_000_000_000,
        }
    }
}

/// State shared by all `eth` methods.
#[derive(Debug)]
pub struct EthApi {
    chain: SharedChain,
    config: EthConfig,
    filters: logs::Filters,
    events: OnceLock<events::ChainEvents>,
}

/// A block resolved from a block id: its header and hash.
#[derive(Debug, Clone)]
pub struct ResolvedBlock {
    /// Header.
    pub header: Header,
    /// Hash.
    pub hash: B256,
}

impl EthApi {
    /// A new API over `chain`.
    pub fn new(chain: SharedChain, config: EthConfig) -> Arc<Self> {
        Arc::new(Self {
            chain,
            filters: logs::Filters::new(config.max_filters, config.filter_timeout),
            config,
            events: OnceLock::new(),
        })
    }

    /// The chain.
    pub fn chain(&self) -> &SharedChain {
        &self.chain
    }

    /// The configuration.
    pub fn config(&self) -> &EthConfig {
        &self.config
    }

    /// The chain-event stream (started on first use; needs a Tokio runtime).
    pub fn events(&self) -> &events::ChainEvents {
        self.events
            .get_or_init(|| events::ChainEvents::start(self.chain.clone()))
    }

    /// Resolves a tag or number to a canonical block hash, `None` if there is no such block.
    pub fn resolve_tag(
        chain: &Chain,
        tag: BlockNumberOrTag,
    ) -> Result<Option<B256>, ErrorObjectOwned> {
        let selector = match tag {
            BlockNumberOrTag::Latest => BlockSelector::Latest,
            BlockNumberOrTag::Pending => BlockSelector::Pending,
            BlockNumberOrTag::Safe => BlockSelector::Safe,
            BlockNumberOrTag::Finalized => BlockSelector::Finalized,
            BlockNumberOrTag::Earliest => BlockSelector::Earliest,
            BlockNumberOrTag::Number(n) => BlockSelector::Number(n),
        };
        crate::eth_common::resolve(chain, selector)
    }

    /// Resolves a block id (tag, number or EIP-1898 hash object) to a stored block.
    pub fn resolve_block(chain: &Chain, id: BlockId) -> Result<ResolvedBlock, ErrorObjectOwned> {
        let hash = match id {
            BlockId::Number(tag) => Self::resolve_tag(chain, tag)?.ok_or_else(header_not_found)?,
            BlockId::Hash(h) => h.block_hash,
        };
        let header = chain
            .db()
            .header(&hash)
            .map_err(internal)?
            .ok_or_else(header_not_found)?;
        if let BlockId::Hash(h) = id {
            if h.require_canonical == Some(true)
                && chain.db().canonical_hash(header.number).map_err(internal)? != Some(hash)
            {
                return Err(server_err(format!(
                    "hash {hash} is not currently canonical"
                )));
            }
        }
        Ok(ResolvedBlock { header, hash })
    }

    /// The block named by `id` and a view of the state after it.
    pub fn state_at(&self, id: BlockId) -> Result<(ResolvedBlock, StateView), ErrorObjectOwned> {
        let chain = self.chain.lock();
        let block = Self::resolve_block(&chain, id)?;
        let view = chain.state_at(block.hash).map_err(|e| match e {
            crate::chain::ChainError::MissingBlock(_) => header_not_found(),
            e => internal(e),
        })?;
        Ok((block, view))
    }

    fn account_field<T>(
        &self,
        params: Params,
        f: impl FnOnce(
            &StateView,
            Option<alloy_trie::TrieAccount>,
            Address,
        ) -> Result<T, ErrorObjectOwned>,
    ) -> Result<T, ErrorObjectOwned> {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let block: Option<BlockId> = seq.optional_next()?;
        let (_, view) = self.state_at(block.unwrap_or_default())?;
        let account = view.account(&address).map_err(internal)?;
        f(&view, account, address)
    }

    /// `eth_getBalance`.
    pub fn balance(&self, params: Params) -> Result<U256, ErrorObjectOwned> {
        self.account_field(params, |_, a, _| {
            Ok(a.map(|a| a.balance).unwrap_or_default())
        })
    }

    /// `eth_getTransactionCount`; `pending` counts the sender's contiguous pooled transactions.
    pub fn transaction_count(&self, params: Params) -> Result<U64, ErrorObjectOwned> {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let block: Option<BlockId> = seq.optional_next()?;
        let block = block.unwrap_or_default();
        let chain = self.chain.lock();
        let resolved = Self::resolve_block(&chain, block)?;
        let view = chain.state_at(resolved.hash).map_err(internal)?;
        let nonce = view
            .account(&address)
            .map_err(internal)?
            .map(|a| a.nonce)
            .unwrap_or_default();
        if block == BlockId::Number(BlockNumberOrTag::Pending) {
            return Ok(U64::from(chain.pool.pending_nonce(&address, nonce)));
        }
        Ok(U64::from(nonce))
    }

    /// `eth_getCode`.
    pub fn code(&self, params: Params) -> Result<Bytes, ErrorObjectOwned> {
        self.account_field(params, |view, a, _| {
            let Some(a) = a else {
                return Ok(Bytes::new());
            };
            if a.code_hash == alloy::consensus::constants::KECCAK_EMPTY {
                return Ok(Bytes::new());
            }
            Ok(view
                .db()
                .code(&a.code_hash)
                .map_err(internal)?
                .unwrap_or_default())
        })
    }

    /// `eth_getStorageAt`.
    pub fn storage_at(&self, params: Params) -> Result<B256, ErrorObjectOwned> {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let slot: alloy::rpc::types::serde_helpers::JsonStorageKey = seq.next()?;
        let block: Option<BlockId> = seq.optional_next()?;
        let (_, view) = self.state_at(block.unwrap_or_default())?;
        let value = view.storage(&address, &slot.as_b256()).map_err(internal)?;
        Ok(B256::from(value))
    }

    /// `eth_getTransactionByHash`: canonical chain first, then the pool.
    pub fn transaction_by_hash(
        &self,
        params: Params,
    ) -> Result<Option<Transaction>, ErrorObjectOwned> {
        let hash: B256 = params.one()?;
        let chain = self.chain.lock();
        if let Some((block_hash, index)) = chain.db().tx_location(&hash).map_err(internal)? {
            if let Some((header, body)) = chain.block(&block_hash).map_err(internal)? {
                if let Some(tx) = body.transactions.get(index as usize) {
                    return Ok(Some(rpc_transaction(
                        tx,
                        &header,
                        block_hash,
                        index as usize,
                    )));
                }
            }
        }
        Ok(chain.pool.get(&hash).map(pending_transaction))
    }

    /// `eth_getTransactionByBlock{Hash,Number}AndIndex`.
    fn transaction_by_block_and_index(
        &self,
        block: BlockId,
        index: U64,
    ) -> Result<Option<Transaction>, ErrorObjectOwned> {
        let chain = self.chain.lock();
        let Ok(resolved) = Self::resolve_block(&chain, block) else {
            return Ok(None);
        };
        let Some((header, body)) = chain.block(&resolved.hash).map_err(internal)? else {
            return Ok(None);
        };
        let index = index.to::<u64>() as usize;
        Ok(body
            .transactions
            .get(index)
            .map(|tx| rpc_transaction(tx, &header, resolved.hash, index)))
    }

    /// Transaction count of a block, `None` if the block is unknown.
    fn block_transaction_count(&self, block: BlockId) -> Result<Option<U64>, ErrorObjectOwned> {
        let chain = self.chain.lock();
        let Ok(resolved) = Self::resolve_block(&chain, block) else {
            return Ok(None);
        };
        Ok(chain
            .db()
            .body(&resolved.hash)
            .map_err(internal)?
            .map(|b| U64::from(b.transactions.len())))
    }
}

/// The RPC object of a transaction still in the pool (no block fields; `gasPrice` is the fee
/// cap for EIP-1559 transactions, as Geth reports it).
pub fn pending_transaction(
    tx: &alloy::consensus::transaction::Recovered<alloy::consensus::TxEnvelope>,
) -> Transaction {
    Transaction {
        inner: tx.clone(),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: Some(tx.max_fee_per_gas()),
        block_timestamp: None,
    }
}

/// This client's `web3_clientVersion`.
pub fn client_version() -> String {
    format!(
        "alys-el/v{}/{}-{}/rust",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Registers `f` as a blocking method (run on Tokio's blocking pool; it may take the chain lock).
pub(crate) fn blocking<R, F>(
    module: &mut RpcModule<SharedChain>,
    api: &Arc<EthApi>,
    name: &'static str,
    f: F,
) where
    R: Serialize + Clone + Send + 'static,
    F: Fn(&EthApi, Params) -> Result<R, ErrorObjectOwned> + Clone + Send + Sync + 'static,
{
    let api = api.clone();
    if let Err(e) = module.register_blocking_method(name, move |params, _, _| f(&api, params)) {
        tracing::error!("duplicate RPC method registration: {e}");
    }
}

/// Registers `f` as a cheap method answered inline.
pub(crate) fn inline<R, F>(
    module: &mut RpcModule<SharedChain>,
    api: &Arc<EthApi>,
    name: &'static str,
    f: F,
) where
    R: Serialize + Clone + Send + 'static,
    F: Fn(&EthApi, Params) -> Result<R, ErrorObjectOwned> + Send + Sync + 'static,
{
    let api = api.clone();
    if let Err(e) = module.register_method(name, move |params, _, _| f(&api, params)) {
        tracing::error!("duplicate RPC method registration: {e}");
    }
}

/// Mounts every public method of `api` on `module`.
pub fn register(module: &mut RpcModule<SharedChain>, api: &Arc<EthApi>) {
    inline(module, api, "eth_chainId", |api, _| {
        Ok(U64::from(api.chain.lock().schedule().chain_id))
    });
    inline(module, api, "net_version", |api, _| {
        Ok(api.chain.lock().schedule().chain_id.to_string())
    });
    inline(module, api, "net_listening", |_, _| Ok(true));
    inline(module, api, "net_peerCount", |_, _| Ok(U64::ZERO));
    inline(module, api, "web3_clientVersion", |_, _| {
        Ok(client_version())
    });
    inline(module, api, "web3_sha3", |_, params| {
        let data: Bytes = params.one()?;
        Ok(keccak256(&data))
    });
    inline(module, api, "eth_syncing", |_, _| Ok(false));
    inline(module, api, "eth_mining", |_, _| Ok(false));
    inline(module, api, "eth_hashrate", |_, _| Ok(U64::ZERO));
    inline(
        module,
        api,
        "eth_accounts",
        |_, _| Ok(Vec::<Address>::new()),
    );
    inline(module, api, "eth_blockNumber", |api, _| {
        Ok(U64::from(api.chain.lock().head().0.number))
    });
    blocking(module, api, "eth_getBalance", |api, p| api.balance(p));
    blocking(module, api, "eth_getTransactionCount", |api, p| {
        api.transaction_count(p)
    });
    blocking(module, api, "eth_getCode", |api, p| api.code(p));
    blocking(module, api, "eth_getStorageAt", |api, p| api.storage_at(p));
    blocking(module, api, "eth_getBlockByNumber", |api, params| {
        let mut seq = params.sequence();
        let tag: BlockNumberOrTag = seq.next()?;
        let full: Option<bool> = seq.optional_next()?;
        let chain = api.chain.lock();
        match EthApi::resolve_tag(&chain, tag)? {
            Some(hash) => block_by_hash(&chain, hash, full.unwrap_or(false)),
            None => Ok(None),
        }
    });
    blocking(module, api, "eth_getBlockByHash", |api, params| {
        let mut seq = params.sequence();
        let hash: B256 = seq.next()?;
        let full: Option<bool> = seq.optional_next()?;
        block_by_hash(&api.chain.lock(), hash, full.unwrap_or(false))
    });
    blocking(module, api, "eth_getTransactionByHash", |api, p| {
        api.transaction_by_hash(p)
    });
    blocking(
        module,
        api,
        "eth_getTransactionByBlockHashAndIndex",
        |api, params| {
            let (hash, index): (B256, U64) = params.parse()?;
            api.transaction_by_block_and_index(BlockId::from(hash), index)
        },
    );
    blocking(
        module,
        api,
        "eth_getTransactionByBlockNumberAndIndex",
        |api, params| {
            let (tag, index): (BlockNumberOrTag, U64) = params.parse()?;
            api.transaction_by_block_and_index(BlockId::Number(tag), index)
        },
    );
    blocking(
        module,
        api,
        "eth_getBlockTransactionCountByHash",
        |api, params| {
            let hash: B256 = params.one()?;
            api.block_transaction_count(BlockId::from(hash))
        },
    );
    blocking(
        module,
        api,
        "eth_getBlockTransactionCountByNumber",
        |api, params| {
            let tag: BlockNumberOrTag = params.one()?;
            api.block_transaction_count(BlockId::Number(tag))
        },
    );
    blocking(
        module,
        api,
        "eth_getUncleCountByBlockHash",
        |api, params| {
            let hash: B256 = params.one()?;
            Ok(api
                .block_transaction_count(BlockId::from(hash))?
                .map(|_| U64::ZERO))
        },
    );
    blocking(
        module,
        api,
        "eth_getUncleCountByBlockNumber",
        |api, params| {
            let tag: BlockNumberOrTag = params.one()?;
            Ok(api
                .block_transaction_count(BlockId::Number(tag))?
                .map(|_| U64::ZERO))
        },
    );
    inline(module, api, "eth_getUncleByBlockHashAndIndex", |_, _| {
        Ok(None::<()>)
    });
    inline(module, api, "eth_getUncleByBlockNumberAndIndex", |_, _| {
        Ok(None::<()>)
    });
    call::register(module, api);
    receipts::register(module, api);
    fees::register(module, api);
    pool::register(module, api);
    logs::register(module, api);
    events::register(module, api);
    proof::register(module, api);
    trace::register(module, api);
}
