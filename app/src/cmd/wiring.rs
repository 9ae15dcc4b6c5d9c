//! Assembling one node from its parts: execution client (embedded or external over the
//! Engine API), consensus store and chain, and the consensus service task.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use alys_consensus::{
    Chain, ConsensusService, NoPegIns, PegInVerifier, ServiceHandle, Signer, SlotClock,
};
use alys_engine::{EngineClientConfig, HttpEngineClient, JwtSecret};
use alys_evm::{eth::server::RpcServerConfig, ElConfig, EmbeddedEl};
use alys_primitives::ChainSpec;
use alys_store::Store;
use eyre::WrapErr;

/// Where a node's execution client comes from.
pub(super) enum ExecutionClient {
    /// Start the embedded client in this process.
    Embedded {
        /// Engine API address (port 0: any free port).
        authrpc: SocketAddr,
        /// eth JSON-RPC server, if served.
        http: Option<RpcServerConfig>,
    },
    /// Connect to an external client (Geth, Reth, `alys el`).
    External {
        /// Engine API URL.
        url: String,
        /// JWT secret file.
        jwt_secret: PathBuf,
    },
}

/// The node's own JSON-RPC server settings.
pub(super) struct NodeRpc {
    /// Listen address.
    pub addr: SocketAddr,
    /// Basic-auth credentials.
    pub credentials: alys_rpc::Credentials,
    /// Payout address of `getauxblock` without arguments (merged mining).
    pub miner_payout: Option<alloy_primitives::Address>,
    /// Methods served without credentials (the peg web page's), if any.
    pub public: Option<alys_rpc::PublicAccess>,
}

/// How the node reaches Bitcoin (peg-in follower).
#[derive(Clone, Debug)]
pub(super) struct BitcoinRpcConfig {
    /// Bitcoin Core JSON-RPC URL.
    pub url: String,
    /// RPC user.
    pub user: String,
    /// RPC password.
    pub password: String,
}

/// Bitcoin RPC flags shared by `alys node` and `alys dev`.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct BitcoinRpcArgs {
    /// Bitcoin Core JSON-RPC URL of the peg-in follower (`alys dev`: an external node instead
    /// of the embedded regtest devnet).
    #[arg(long)]
    pub bitcoin_rpc_url: Option<String>,
    /// Bitcoin RPC user.
    #[arg(long, default_value = "alys")]
    pub bitcoin_rpc_user: String,
    /// Bitcoin RPC password.
    #[arg(long, env = "ALYS_BITCOIN_RPC_PASSWORD", default_value = "alys")]
    pub bitcoin_rpc_password: String,
}

impl BitcoinRpcArgs {
    /// The follower's connection, if a URL was given.
    pub(super) fn config(&self) -> Option<BitcoinRpcConfig> {
        self.bitcoin_rpc_url.clone().map(|url| BitcoinRpcConfig {
            url,
            user: self.bitcoin_rpc_user.clone(),
            password: self.bitcoin_rpc_password.clone(),
        })
    }
}

/// The running peg-in side of a node.
struct Peg {
    federation: Arc<alys_federation::Federation>,
    index: alys_bitcoin::DepositIndex,
    verifier: Arc<alys_bitcoin::FollowerPegIns>,
}

/// Starts the Bitcoin follower as a task feeding the deposit index, and the verifier over it.
/// `None` (peg disabled, logged) when the spec has no federation Bitcoin keys.
fn start_peg(
    spec: &ChainSpec,
    store: Arc<Store>,
    bitcoin: Option<BitcoinRpcConfig>,
) -> eyre::Result<Option<Peg>> {
    if spec.federation_bitcoin_pubkeys.is_empty() {
        tracing::warn!("peg-in disabled: the chain spec has no federationBitcoinPubkeys");
        return Ok(None);
    }
    let Some(btc) = bitcoin else {
        tracing::warn!("peg-in disabled: no --bitcoin-rpc-url given");
        return Ok(None);
    };
    let federation =
        Arc::new(alys_federation::Federation::from_spec(spec).wrap_err("deriving the federation")?);
    let rpc = alys_bitcoin::CoreRpcClient::new(
        &btc.url,
        alys_bitcoin::Auth::UserPass {
            user: btc.user,
            password: btc.password,
        },
        alys_bitcoin::ClientConfig::default(),
    )
    .wrap_err("Bitcoin RPC client")?;
    let follower = alys_bitcoin::Follower::open(
        Arc::new(rpc),
        federation.clone(),
        store.clone(),
        alys_bitcoin::FollowerConfig::from_spec(spec),
    )
    .wrap_err("opening the Bitcoin follower")?;
    let index = follower.index();
    let genesis = alys_consensus::genesis_block(spec)?;
    let chain_store = alys_consensus::chain_store::ChainStore::open(store.clone(), &genesis)
        .wrap_err("opening the consensus store")?;
    let verifier = Arc::new(
        alys_bitcoin::FollowerPegIns::open(index.clone(), Arc::new(chain_store), store)
            .wrap_err("opening the minted peg-in set")?,
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    // Never signalled: the follower lives as long as the process.
    let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _keep = shutdown_tx;
        if let Err(e) = follower.run(tx, shutdown).await {
            tracing::error!(error = %e, "Bitcoin follower stopped");
        }
    });
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            tracing::info!(?event, "bitcoin follower");
        }
    });
    tracing::info!(address = %federation.address(), url = %btc.url, "peg-in enabled");
    Ok(Some(Peg {
        federation,
        index,
        verifier,
    }))
}

/// A running node.
pub(super) struct Node {
    /// The node's JSON-RPC server, when started.
    pub rpc: Option<alys_rpc::RpcServer>,
    /// The embedded execution client, when there is one.
    pub el: Option<EmbeddedEl>,
    /// Channels to the consensus service.
    pub service: ServiceHandle,
    /// This node's authority index, if it signs.
    pub authority: Option<usize>,
}

/// Opens the stores, starts or connects the execution client, opens the consensus chain (which
/// re-drives the execution client to its head) and spawns the consensus service.
pub(super) async fn start_node(
    spec: Arc<ChainSpec>,
    datadir: PathBuf,
    execution: ExecutionClient,
    signer: Option<Signer>,
    rpc: Option<NodeRpc>,
    bitcoin: Option<BitcoinRpcConfig>,
) -> eyre::Result<Node> {
    std::fs::create_dir_all(&datadir)
        .wrap_err_with(|| format!("creating {}", datadir.display()))?;
    let (el, engine) = match execution {
        ExecutionClient::Embedded { authrpc, http } => {
            let jwt_path = datadir.join("jwt.hex");
            let jwt_secret: JwtSecret = alys_engine::load_or_create_jwt_secret(&jwt_path)?;
            let el = EmbeddedEl::start(ElConfig {
                datadir: datadir.clone(),
                genesis: spec.genesis.clone(),
                authrpc_addr: authrpc,
                http,
                jwt_secret,
            })
            .await?;
            let engine =
                HttpEngineClient::new(&el.engine_url(), jwt_secret, EngineClientConfig::default())?;
            (Some(el), engine)
        }
        ExecutionClient::External { url, jwt_secret } => {
            let engine =
                HttpEngineClient::from_jwt_file(&url, &jwt_secret, EngineClientConfig::default())?;
            (None, engine)
        }
    };
    let store =
        Arc::new(Store::open(&datadir.join("consensus")).wrap_err("opening the consensus store")?);
    let clock = SlotClock::system(spec.slot_duration_ms);
    let peg = start_peg(&spec, store.clone(), bitcoin)?;
    let pegins: Arc<dyn PegInVerifier> = match &peg {
        Some(p) => p.verifier.clone(),
        None => Arc::new(NoPegIns),
    };
    let chain = Chain::open(spec.clone(), clock.clone(), engine, store, pegins)
        .await
        .wrap_err("opening the consensus chain")?;
    let authority = signer.as_ref().map(|s| s.index());
    let chain_store = chain.store().clone();
    let service = ConsensusService::spawn(chain, signer);
    alys_consensus::spawn_slot_ticker(clock.clone(), service.inputs.clone());
    let rpc = match rpc {
        Some(NodeRpc {
            addr,
            credentials,
            miner_payout,
            public,
        }) => {
            let mut methods = alys_rpc::Methods::new();
            alys_rpc::register_miner_methods(
                &mut methods,
                alys_rpc::MinerView {
                    status: service.status.clone(),
                    spec: spec.clone(),
                    inputs: service.inputs.clone(),
                    default_payout: miner_payout,
                },
            );
            alys_rpc::register_chain_methods(
                &mut methods,
                alys_rpc::ChainView {
                    store: chain_store.clone(),
                    status: service.status.clone(),
                    spec: spec.clone(),
                    current_slot: Arc::new(move || clock.current_slot()),
                },
            );
            if let Some(peg) = &peg {
                alys_rpc::register_peg_methods(
                    &mut methods,
                    alys_rpc::PegView {
                        federation: peg.federation.clone(),
                        index: peg.index.clone(),
                        minted: peg.verifier.clone(),
                        status: service.status.clone(),
                        chain: chain_store.clone(),
                        required_confirmations: alys_bitcoin::FollowerConfig::from_spec(&spec)
                            .required_confirmations,
                    },
                );
            }
            let server = alys_rpc::RpcServer::start_with_public(addr, methods, credentials, public)
                .await
                .wrap_err_with(|| format!("binding the node RPC on {addr}"))?;
            Some(server)
        }
        None => None,
    };
    Ok(Node {
        rpc,
        el,
        service,
        authority,
    })
}
