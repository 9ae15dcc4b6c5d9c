//! The public `eth_*` JSON-RPC of the embedded execution client.
//!
//! Everything a wallet (MetaMask), Foundry (`cast`, `forge`) or a library (viem, ethers) needs
//! from a node, with Geth's formats, error codes and messages:
//!
//! * [`EthApi`] holds the shared chain, the polling filters and the chain-event stream and
//!   answers every method; [`register`] mounts the methods on an [`RpcModule`].
//! * [`call`]: `eth_call`, `eth_estimateGas`, `eth_createAccessList` on revm.
//! * [`receipts`], [`logs`], [`fees`], [`pool`], [`proof`], [`trace`]: the rest by topic.
//! * [`events`]: new canonical heads (driven by [`crate::chain::Chain::watch_head`]) for
//!   `eth_subscribe` and the polling filters.
//! * [`server`]: the HTTP + WebSocket server, CORS and request limits, subscription ids.
//!
//! The chain lock is held only to resolve a block and read from it; transactions and receipts
//! by hash are read without it ([`crate::tx_lookup`]), and EVM executions run without it, so
//! RPC load does not stall block production. Cheap methods run inline when the lock is free
//! and move to Tokio's blocking pool while a block is being built; executions always run on
//! the blocking pool. Transaction submission and pool inspection never take the chain lock:
//! they read the published head and the pool, which has a lock of its own.

mod block_logs;
pub(crate) mod cache;
pub(crate) mod call;
pub(crate) mod env;
pub(crate) mod errors;
pub(crate) mod events;
pub(crate) mod fees;
mod ids;
pub(crate) mod logs;
pub(crate) mod pool;
pub(crate) mod proof;
pub(crate) mod receipts;
mod rpc_metrics;
pub mod server;

pub use receipts::rpc_receipt;
pub(crate) mod trace;

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

use tokio::sync::watch;

use crate::{
    chain::{CanonicalHead, Chain, ChainError, SharedChain},
    db::ElDb,
    eth_common::block_by_hash,
    rpc_block::rpc_transaction,
    state::{Ancestry, Overlay, StateView},
    tx_lookup::TxLookup,
    txpool::SharedPool,
};
use alloy::consensus::constants::KECCAK_EMPTY;
use alloy::rpc::types::serde_helpers::JsonStorageKey;
use alloy_trie::TrieAccount;
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
    pool: SharedPool,
    head: watch::Receiver<CanonicalHead>,
    db: ElDb,
    chain_id: u64,
    config: EthConfig,
    filters: logs::Filters,
    events: OnceLock<events::ChainEvents>,
    head_cache: Arc<cache::HeadCache>,
    lookup: TxLookup,
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
        let (chain_id, pool, head, db) = {
            let c = chain.lock();
            (
                c.schedule().chain_id,
                c.pool().clone(),
                c.watch_head(),
                c.db().clone(),
            )
        };
        let lookup = TxLookup::new(db.clone());
        Arc::new(Self {
            chain,
            pool,
            head,
            db,
            chain_id,
            filters: logs::Filters::new(config.max_filters, config.filter_timeout),
            config,
            events: OnceLock::new(),
            head_cache: Arc::default(),
            lookup,
        })
    }

    /// Transactions and receipts by hash, read without the chain lock.
    pub fn lookup(&self) -> &TxLookup {
        &self.lookup
    }

    /// The chain.
    pub fn chain(&self) -> &SharedChain {
        &self.chain
    }

    /// The transaction pool.
    pub fn pool(&self) -> &SharedPool {
        &self.pool
    }

    /// A view of the state at the canonical head as last published, read without the chain
    /// lock.
    pub fn head_view(&self) -> (Header, StateView) {
        let head = self.head.borrow().clone();
        let view = StateView::new(
            self.db.clone(),
            Overlay::default(),
            Ancestry {
                number: head.header.number,
                hash: head.hash,
            },
        );
        (head.header, view)
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
        crate::eth_common::resolve(chain, tag)
    }

    /// Resolves a block id (tag, number or EIP-1898 hash object) to a stored block. The head
    /// (`latest`, `pending`) is served from memory.
    pub fn resolve_block(chain: &Chain, id: BlockId) -> Result<ResolvedBlock, ErrorObjectOwned> {
        if let BlockId::Number(BlockNumberOrTag::Latest | BlockNumberOrTag::Pending) = id {
            let (header, hash) = chain.head();
            return Ok(ResolvedBlock {
                header: header.clone(),
                hash,
            });
        }
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

    /// A view of the state after `block` (the head's needs no change records).
    pub fn view_of(chain: &Chain, block: &ResolvedBlock) -> Result<StateView, ErrorObjectOwned> {
        if block.hash == chain.head().1 {
            return Ok(StateView::new(
                chain.db().clone(),
                Overlay::default(),
                Ancestry {
                    number: block.header.number,
                    hash: block.hash,
                },
            ));
        }
        chain.state_at(block.hash).map_err(|e| match e {
            ChainError::MissingBlock(_) => header_not_found(),
            e => internal(e),
        })
    }

    /// The block named by `id` and a view of the state after it.
    pub fn state_at(&self, id: BlockId) -> Result<(ResolvedBlock, StateView), ErrorObjectOwned> {
        let chain = self.chain.lock();
        let block = Self::resolve_block(&chain, id)?;
        let view = Self::view_of(&chain, &block)?;
        Ok((block, view))
    }

    /// The account `address` after `block`, with the view it was read from.
    fn account_at(
        chain: &Chain,
        address: &Address,
        block: BlockId,
    ) -> Result<(StateView, Option<TrieAccount>), ErrorObjectOwned> {
        let resolved = Self::resolve_block(chain, block)?;
        let view = Self::view_of(chain, &resolved)?;
        let account = view.account(address).map_err(internal)?;
        Ok((view, account))
    }

    /// `eth_getBalance`.
    pub fn balance(chain: &Chain, (address, block): AddressAt) -> Result<U256, ErrorObjectOwned> {
        let (_, account) = Self::account_at(chain, &address, block)?;
        Ok(account.map(|a| a.balance).unwrap_or_default())
    }

    /// `eth_getTransactionCount`; `pending` counts the sender's contiguous pooled transactions.
    pub fn transaction_count(
        chain: &Chain,
        (address, block): AddressAt,
    ) -> Result<U64, ErrorObjectOwned> {
        let (_, account) = Self::account_at(chain, &address, block)?;
        let nonce = account.map(|a| a.nonce).unwrap_or_default();
        if block == BlockId::Number(BlockNumberOrTag::Pending) {
            return Ok(U64::from(
                chain.pool().lock().pending_nonce(&address, nonce),
            ));
        }
        Ok(U64::from(nonce))
    }

    /// `eth_getCode`.
    pub fn code(chain: &Chain, (address, block): AddressAt) -> Result<Bytes, ErrorObjectOwned> {
        let (view, account) = Self::account_at(chain, &address, block)?;
        match account {
            Some(a) if a.code_hash != KECCAK_EMPTY => Ok(view
                .db()
                .code(&a.code_hash)
                .map_err(internal)?
                .unwrap_or_default()),
            _ => Ok(Bytes::new()),
        }
    }

    /// `eth_getStorageAt`.
    pub fn storage_at(
        chain: &Chain,
        (address, slot, block): (Address, JsonStorageKey, BlockId),
    ) -> Result<B256, ErrorObjectOwned> {
        let resolved = Self::resolve_block(chain, block)?;
        let view = Self::view_of(chain, &resolved)?;
        let value = view.storage(&address, &slot.as_b256()).map_err(internal)?;
        Ok(B256::from(value))
    }

    /// `eth_getTransactionByHash` among canonical blocks (without the chain lock).
    pub fn canonical_transaction(
        &self,
        hash: B256,
    ) -> Result<Option<Transaction>, ErrorObjectOwned> {
        Ok(self.lookup.transaction(&hash).map_err(internal)?.map(|tx| {
            rpc_transaction(
                &tx.transaction,
                &tx.header,
                tx.block_hash,
                tx.index as usize,
            )
        }))
    }

    /// `eth_getTransactionByHash`: canonical chain first, then the pool. A transaction leaves
    /// the pool only once the block holding it is canonical, so the chain is asked again after
    /// the pool misses.
    fn transaction_by_hash(&self, hash: B256) -> Result<Option<Transaction>, ErrorObjectOwned> {
        if let Some(tx) = self.canonical_transaction(hash)? {
            return Ok(Some(tx));
        }
        let pooled = self.pool.lock().get(&hash).map(pending_transaction);
        match pooled {
            Some(tx) => Ok(Some(tx)),
            None => self.canonical_transaction(hash),
        }
    }

    /// `eth_getTransactionByBlock{Hash,Number}AndIndex`.
    fn transaction_by_block_and_index(
        chain: &Chain,
        (block, index): (BlockId, U64),
    ) -> Result<Option<Transaction>, ErrorObjectOwned> {
        let Ok(resolved) = Self::resolve_block(chain, block) else {
            return Ok(None);
        };
        let Some(body) = chain.db().body(&resolved.hash).map_err(internal)? else {
            return Ok(None);
        };
        let index = index.to::<u64>() as usize;
        Ok(body
            .transactions
            .get(index)
            .map(|tx| rpc_transaction(tx, &resolved.header, resolved.hash, index)))
    }

    /// Transaction count of a block, `None` if the block is unknown.
    fn block_transaction_count(
        chain: &Chain,
        block: BlockId,
    ) -> Result<Option<U64>, ErrorObjectOwned> {
        let Ok(resolved) = Self::resolve_block(chain, block) else {
            return Ok(None);
        };
        Ok(chain
            .db()
            .body(&resolved.hash)
            .map_err(internal)?
            .map(|b| U64::from(b.transactions.len())))
    }
}

/// An address and an optional block (default `latest`), the parameters of the account queries.
pub type AddressAt = (Address, BlockId);

fn address_at(params: Params) -> Result<AddressAt, ErrorObjectOwned> {
    let mut seq = params.sequence();
    let address: Address = seq.next()?;
    let block: Option<BlockId> = seq.optional_next()?;
    Ok((address, block.unwrap_or_default()))
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

/// Registers a method that needs the chain lock: `prepare` (parameter parsing, signature
/// recovery…) runs without it; `f` runs under it, inline when the lock is free and on Tokio's
/// blocking pool when block production holds it, so the async workers never wait for a block.
pub(crate) fn locked<T, R, P, F>(
    module: &mut RpcModule<SharedChain>,
    api: &Arc<EthApi>,
    name: &'static str,
    prepare: P,
    f: F,
) where
    T: Send + 'static,
    R: Serialize + Clone + Send + 'static,
    P: Fn(&EthApi, Params) -> Result<T, ErrorObjectOwned> + Clone + Send + Sync + 'static,
    F: Fn(&EthApi, &mut Chain, T) -> Result<R, ErrorObjectOwned> + Clone + Send + Sync + 'static,
{
    let api = api.clone();
    let result = module.register_async_method(name, move |params, _, _| {
        let (api, prepare, f) = (api.clone(), prepare.clone(), f.clone());
        async move {
            let input = prepare(&api, params)?;
            with_chain(api, move |api, chain| f(api, chain, input)).await
        }
    });
    if let Err(e) = result {
        tracing::error!("duplicate RPC method registration: {e}");
    }
}

/// Runs `f` under the chain lock: inline when the lock is free, on Tokio's blocking pool when
/// block production holds it.
async fn with_chain<R, F>(api: Arc<EthApi>, f: F) -> Result<R, ErrorObjectOwned>
where
    R: Send + 'static,
    F: FnOnce(&EthApi, &mut Chain) -> Result<R, ErrorObjectOwned> + Send + 'static,
{
    if let Some(mut chain) = api.chain.try_lock() {
        return f(&api, &mut chain);
    }
    tokio::task::spawn_blocking(move || {
        let mut chain = api.chain.lock();
        f(&api, &mut chain)
    })
    .await
    .unwrap_or_else(|e| Err(internal(e)))
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

/// The public RPC module over `chain` with `config`.
pub fn module(chain: SharedChain, config: EthConfig) -> RpcModule<SharedChain> {
    let api = EthApi::new(chain.clone(), config);
    let mut module = RpcModule::new(chain);
    register(&mut module, &api);
    module
}

/// Mounts every public method of `api` on `module`.
fn register(module: &mut RpcModule<SharedChain>, api: &Arc<EthApi>) {
    inline(module, api, "eth_chainId", |api, _| {
        Ok(U64::from(api.chain_id))
    });
    inline(module, api, "net_version", |api, _| {
        Ok(api.chain_id.to_string())
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
    locked(
        module,
        api,
        "eth_blockNumber",
        |_, _| Ok(()),
        |_, chain, ()| Ok(U64::from(chain.head().0.number)),
    );
    let by_address = |_: &EthApi, p: Params| address_at(p);
    locked(module, api, "eth_getBalance", by_address, |_, chain, a| {
        EthApi::balance(chain, a)
    });
    locked(
        module,
        api,
        "eth_getTransactionCount",
        by_address,
        |_, chain, a| EthApi::transaction_count(chain, a),
    );
    locked(module, api, "eth_getCode", by_address, |_, chain, a| {
        EthApi::code(chain, a)
    });
    locked(
        module,
        api,
        "eth_getStorageAt",
        |_, params| {
            let mut seq = params.sequence();
            let address: Address = seq.next()?;
            let slot: JsonStorageKey = seq.next()?;
            let block: Option<BlockId> = seq.optional_next()?;
            Ok((address, slot, block.unwrap_or_default()))
        },
        |_, chain, a| EthApi::storage_at(chain, a),
    );
    locked(
        module,
        api,
        "eth_getBlockByNumber",
        |_, params| {
            let mut seq = params.sequence();
            let tag: BlockNumberOrTag = seq.next()?;
            let full: Option<bool> = seq.optional_next()?;
            Ok((tag, full.unwrap_or(false)))
        },
        |_, chain, (tag, full)| match EthApi::resolve_tag(chain, tag)? {
            Some(hash) => block_by_hash(chain, hash, full),
            None => Ok(None),
        },
    );
    locked(
        module,
        api,
        "eth_getBlockByHash",
        |_, params| {
            let mut seq = params.sequence();
            let hash: B256 = seq.next()?;
            let full: Option<bool> = seq.optional_next()?;
            Ok((hash, full.unwrap_or(false)))
        },
        |_, chain, (hash, full)| block_by_hash(chain, hash, full),
    );
    inline(module, api, "eth_getTransactionByHash", |api, p| {
        api.transaction_by_hash(p.one::<B256>()?)
    });
    locked(
        module,
        api,
        "eth_getTransactionByBlockHashAndIndex",
        |_, p| {
            let (hash, index): (B256, U64) = p.parse()?;
            Ok((BlockId::from(hash), index))
        },
        |_, chain, a| EthApi::transaction_by_block_and_index(chain, a),
    );
    locked(
        module,
        api,
        "eth_getTransactionByBlockNumberAndIndex",
        |_, p| {
            let (tag, index): (BlockNumberOrTag, U64) = p.parse()?;
            Ok((BlockId::Number(tag), index))
        },
        |_, chain, a| EthApi::transaction_by_block_and_index(chain, a),
    );
    let by_hash = |_: &EthApi, p: Params| Ok(BlockId::from(p.one::<B256>()?));
    let by_number = |_: &EthApi, p: Params| Ok(BlockId::Number(p.one::<BlockNumberOrTag>()?));
    locked(
        module,
        api,
        "eth_getBlockTransactionCountByHash",
        by_hash,
        |_, chain, b| EthApi::block_transaction_count(chain, b),
    );
    locked(
        module,
        api,
        "eth_getBlockTransactionCountByNumber",
        by_number,
        |_, chain, b| EthApi::block_transaction_count(chain, b),
    );
    locked(
        module,
        api,
        "eth_getUncleCountByBlockHash",
        by_hash,
        |_, chain, b| Ok(EthApi::block_transaction_count(chain, b)?.map(|_| U64::ZERO)),
    );
    locked(
        module,
        api,
        "eth_getUncleCountByBlockNumber",
        by_number,
        |_, chain, b| Ok(EthApi::block_transaction_count(chain, b)?.map(|_| U64::ZERO)),
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
