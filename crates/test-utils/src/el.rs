//! An embedded execution client (`alys_evm::EmbeddedEl`) started for a test or bench, with the
//! node's own Engine API client (`alys_engine::HttpEngineClient`) connected to it over HTTP +
//! JWT, and the test chain's genesis.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::eips::eip4788;
use alloy::rpc::types::engine::{ForkchoiceState, JwtSecret};
use alloy_genesis::{Genesis, GenesisAccount};
use alys_engine::{EngineClientConfig, HttpEngineClient};
use alys_evm::{ElConfig, EmbeddedEl};

/// The Engine API client the tests drive an EL with.
pub type Engine = HttpEngineClient;

/// Chain id of the test chain (the Alys dev chain's).
pub const CHAIN_ID: u64 = 263_634;
/// Genesis timestamp of [`genesis`].
pub const GENESIS_TIME: u64 = 1_700_000_000;
/// Block gas limit of [`genesis`].
pub const GAS_LIMIT: u64 = 30_000_000;
/// Genesis base fee of [`genesis`] (1 gwei).
pub const BASE_FEE: u64 = 1_000_000_000;

/// A Cancun-at-genesis chain ([`CHAIN_ID`], [`GENESIS_TIME`], [`GAS_LIMIT`], [`BASE_FEE`]) with
/// `alloc`.
pub fn genesis(alloc: BTreeMap<alloy::primitives::Address, GenesisAccount>) -> Genesis {
    Genesis {
        config: alys_evm::forks::cancun_chain_config(CHAIN_ID),
        timestamp: GENESIS_TIME,
        gas_limit: GAS_LIMIT,
        base_fee_per_gas: Some(u128::from(BASE_FEE)),
        alloc,
        ..Default::default()
    }
}

/// The EIP-4788 beacon roots contract as a genesis account.
pub fn beacon_roots_account() -> (alloy::primitives::Address, GenesisAccount) {
    (
        eip4788::BEACON_ROOTS_ADDRESS,
        GenesisAccount::default()
            .with_code(Some(eip4788::BEACON_ROOTS_CODE.clone()))
            .with_nonce(Some(1)),
    )
}

/// A fork choice of `head` with no safe or finalized block.
pub fn forkchoice(head: alloy::primitives::B256) -> ForkchoiceState {
    ForkchoiceState {
        head_block_hash: head,
        safe_block_hash: alloy::primitives::B256::ZERO,
        finalized_block_hash: alloy::primitives::B256::ZERO,
    }
}

/// The configuration of an EL on `datadir` with `genesis`: Engine API on a free port of
/// 127.0.0.1, a fresh JWT secret, no eth JSON-RPC.
pub fn el_config(datadir: &Path, genesis: Genesis) -> ElConfig {
    ElConfig {
        datadir: datadir.to_path_buf(),
        genesis,
        authrpc_addr: ([127, 0, 0, 1], 0).into(),
        http: None,
        jwt_secret: JwtSecret::random(),
        pool: Default::default(),
    }
}

/// A running EL and an Engine API client for it.
pub struct TestEl {
    /// The execution client.
    pub el: EmbeddedEl,
    /// Its Engine API client.
    pub engine: Engine,
    /// The JWT secret they share.
    pub secret: JwtSecret,
    /// The EL's data directory.
    pub datadir: PathBuf,
    /// The temporary directory holding `datadir`, when [`TestEl::start_temp`] made it.
    pub tempdir: Option<tempfile::TempDir>,
}

impl TestEl {
    /// Starts an EL on `datadir` with `genesis` ([`el_config`]) and the default client config.
    pub async fn start(datadir: &Path, genesis: Genesis) -> Self {
        Self::start_with(el_config(datadir, genesis), EngineClientConfig::default()).await
    }

    /// [`TestEl::start`] in a fresh temporary directory, removed when this is dropped.
    pub async fn start_temp(genesis: Genesis) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut el = Self::start(dir.path(), genesis).await;
        el.tempdir = Some(dir);
        el
    }

    /// Starts an EL with `config` and connects a client with `client`.
    pub async fn start_with(config: ElConfig, client: EngineClientConfig) -> Self {
        let secret = config.jwt_secret;
        let datadir = config.datadir.clone();
        let el = EmbeddedEl::start(config).await.expect("EL starts");
        let engine =
            HttpEngineClient::new(&el.engine_url(), secret, client).expect("engine client");
        Self {
            el,
            engine,
            secret,
            datadir,
            tempdir: None,
        }
    }
}

/// Adds `tx` to `el`'s pool, checked against the state of its head: its hash.
pub fn submit(el: &EmbeddedEl, tx: alloy::consensus::TxEnvelope) -> alloy::primitives::B256 {
    let chain = el.chain().lock();
    let view = chain.state_at(chain.head().1).expect("head state");
    let hash = chain
        .pool()
        .lock()
        .add(tx, &view)
        .expect("the pool accepts it");
    hash
}
