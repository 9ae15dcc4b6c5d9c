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
        /// Limits of the transaction pool.
        pool: Box<alys_evm::txpool::PoolConfig>,
        /// eth JSON-RPC server, if served.
        http: Option<RpcServerConfig>,
    },
    /// Connect to an external client (Geth, Reth, `alys el`).
    External {
        /// Engine API URL.
        url: String,
        /// JWT secret file.
        jwt_secret: PathBuf,
        /// eth JSON-RPC URL of the same client (receipts); may equal `url`.
        execution_rpc_url: String,
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
    /// Connection caps and read timeouts.
    pub limits: alys_rpc::ConnectionLimits,
}

/// How the node reaches Bitcoin (peg-in follower). `Debug` shows neither the password nor the
/// URL's secret parts.
#[derive(Clone)]
pub(super) struct BitcoinRpcConfig {
    /// Bitcoin Core JSON-RPC URL.
    pub url: String,
    /// RPC user.
    pub user: String,
    /// RPC password.
    pub password: String,
}

impl std::fmt::Debug for BitcoinRpcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BitcoinRpcConfig")
            .field("url", &alys_secrets::redact_url(&self.url))
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
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
    /// Full node without `--bitcoin-rpc-url` on a chain with a peg: accept the peg-ins of
    /// threshold-approved blocks without verifying them against Bitcoin (logged at start).
    #[arg(long)]
    pub pegin_trust_approvals: bool,
}

/// Where a node's peg-in verdicts come from.
#[derive(Clone, Debug)]
pub(super) enum PegIns {
    /// Its own Bitcoin follower over this RPC.
    Follow(BitcoinRpcConfig),
    /// No Bitcoin node: trust the threshold approvals of imported blocks (full nodes only).
    TrustApprovals,
    /// No Bitcoin node and the spec has no peg.
    Off,
}

impl PegIns {
    /// Decides from the flags, refusing what would stall the node on the first peg-in block:
    /// a chain with a peg needs `--bitcoin-rpc-url`, or, for a full node only,
    /// `--pegin-trust-approvals`.
    pub(super) fn choose(
        spec: &ChainSpec,
        args: &BitcoinRpcArgs,
        authority: bool,
    ) -> eyre::Result<Self> {
        if let Some(cfg) = args.config() {
            return Ok(Self::Follow(cfg));
        }
        if spec.federation_bitcoin_pubkeys.is_empty() {
            return Ok(Self::Off);
        }
        match (args.pegin_trust_approvals, authority) {
            (true, false) => Ok(Self::TrustApprovals),
            (true, true) => eyre::bail!(
                "--pegin-trust-approvals is for full nodes only: an authority approves blocks and \
                 must verify their peg-ins against its own Bitcoin node (give --bitcoin-rpc-url)"
            ),
            (false, _) => eyre::bail!(
                "this chain has a peg (federationBitcoinPubkeys in the chain spec): without a \
                 Bitcoin node the node cannot verify peg-ins and would stop at the first block \
                 that mints one. Give --bitcoin-rpc-url (with --bitcoin-rpc-user and \
                 --bitcoin-rpc-password), or, on a full node, --pegin-trust-approvals to accept \
                 peg-ins on the authorities' threshold approvals"
            ),
        }
    }
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
    rpc: Arc<alys_bitcoin::CoreRpcClient>,
    index: alys_bitcoin::DepositIndex,
    verifier: Arc<alys_federation::FollowerPegIns>,
}

/// Starts the Bitcoin follower as a task feeding the deposit index, and the verifier over it.
/// `None` (peg disabled, logged) when the spec has no federation Bitcoin keys.
fn start_peg(spec: &ChainSpec, store: Arc<Store>, pegins: PegIns) -> eyre::Result<Option<Peg>> {
    if spec.federation_bitcoin_pubkeys.is_empty() {
        tracing::warn!("peg-in disabled: the chain spec has no federationBitcoinPubkeys");
        return Ok(None);
    }
    let btc = match pegins {
        PegIns::Follow(btc) => btc,
        PegIns::TrustApprovals => {
            tracing::warn!("no Bitcoin node (--pegin-trust-approvals): peg-ins of threshold-approved blocks are accepted without verification against Bitcoin");
            println!(
                "peg-ins trusted on threshold approvals (--pegin-trust-approvals; no Bitcoin node)"
            );
            return Ok(None);
        }
        PegIns::Off => return Ok(None),
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
    let rpc = Arc::new(rpc);
    let follower = alys_bitcoin::Follower::open(
        rpc.clone(),
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
        alys_federation::FollowerPegIns::open(index.clone(), Arc::new(chain_store), store)
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
    tracing::info!(
        address = %federation.address(),
        url = %alys_secrets::redact_url(&btc.url),
        "peg-in enabled"
    );
    Ok(Some(Peg {
        federation,
        rpc,
        index,
        verifier,
    }))
}

/// The peg-out ledger of a chain with a federation (`None` without `federationBitcoinPubkeys`).
fn open_pegout_ledger(
    spec: &ChainSpec,
    chain_store: &alys_consensus::chain_store::ChainStore,
    store: Arc<Store>,
) -> eyre::Result<Option<Arc<alys_federation::pegout::Ledger>>> {
    if spec.federation_bitcoin_pubkeys.is_empty() {
        return Ok(None);
    }
    let ledger = alys_federation::pegout::Ledger::new(spec, Arc::new(chain_store.clone()), store)
        .wrap_err("opening the peg-out ledger")?;
    Ok(Some(Arc::new(ledger)))
}

/// Keeps the ledger's payout fee rate at the Bitcoin node's 6-block estimate (polled every
/// minute; the spec's floor and cap apply).
fn spawn_fee_rate_updates(
    rpc: Arc<alys_bitcoin::CoreRpcClient>,
    ledger: Arc<alys_federation::pegout::Ledger>,
) {
    use alys_bitcoin::BitcoinRpc;
    tokio::spawn(async move {
        loop {
            match rpc.estimate_smart_fee(6).await {
                Ok(estimate) => {
                    if let Some(btc_per_kvb) = estimate.feerate {
                        // BTC/kvB → sat/vB, rounded up.
                        let rate = (btc_per_kvb * 100_000.0).ceil();
                        if rate.is_finite() && rate >= 0.0 {
                            ledger.set_fee_rate(rate as u64);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "estimatesmartfee failed: payout fee rate unchanged")
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
    });
}

/// Watches the Bitcoin node for federation outputs spent outside the peg, for the ledger to
/// check and declare (polled every second).
fn spawn_spend_watcher(
    rpc: Arc<alys_bitcoin::CoreRpcClient>,
    ledger: &Arc<alys_federation::pegout::Ledger>,
) {
    let watcher = Arc::new(alys_federation::pegout::SpendWatcher::new(
        ledger.federation().clone(),
        rpc,
    ));
    ledger.set_spend_view(watcher.clone());
    tokio::spawn(watcher.run(std::time::Duration::from_secs(1)));
}

/// Opens the consensus chain, waiting for an execution client that is not reachable yet (it
/// may start after the node, or be restarting): such failures are retried every 2 s, logged
/// once and then every minute. Any other error ends the start.
async fn open_chain(
    spec: Arc<ChainSpec>,
    clock: SlotClock,
    engine: HttpEngineClient,
    store: Arc<Store>,
    pegins: Arc<dyn PegInVerifier>,
) -> eyre::Result<Chain<HttpEngineClient>> {
    let mut last_log: Option<std::time::Instant> = None;
    loop {
        let opened = Chain::open(
            spec.clone(),
            clock.clone(),
            engine.clone(),
            store.clone(),
            pegins.clone(),
        )
        .await;
        match opened {
            Err(alys_consensus::ChainError::Engine(e)) if e.is_retryable() => {
                if last_log.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60)) {
                    last_log = Some(std::time::Instant::now());
                    tracing::error!(
                        url = %alys_secrets::redact_url(engine.url()),
                        error = %e,
                        "waiting for the execution client: check it is running and listening at --engine-url"
                    );
                }
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            other => return other.wrap_err("opening the consensus chain"),
        }
    }
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
    /// The consensus store (read by the network to serve blocks).
    pub chain_store: alys_consensus::chain_store::ChainStore,
    /// The slot clock.
    pub clock: SlotClock,
    /// What `getsyncstatus` reports about the p2p network (see [`report_network`]).
    pub network_summary: tokio::sync::watch::Sender<alys_rpc::NetworkSummary>,
}

/// Keeps `getsyncstatus`'s view of the network up to date from the network's status.
pub(super) fn report_network(
    mut status: tokio::sync::watch::Receiver<alys_network::NetworkStatus>,
    summary: tokio::sync::watch::Sender<alys_rpc::NetworkSummary>,
) {
    tokio::spawn(async move {
        loop {
            let s = status.borrow_and_update().clone();
            summary.send_replace(alys_rpc::NetworkSummary {
                enabled: true,
                peers: s.peers,
                target_height: s.target_height,
                syncing: s.syncing,
                blocks_per_s: s.blocks_per_s,
                bans: s.bans,
            });
            if status.changed().await.is_err() {
                return;
            }
        }
    });
}

/// Opens the stores, starts or connects the execution client, opens the consensus chain (which
/// re-drives the execution client to its head) and spawns the consensus service.
pub(super) async fn start_node(
    spec: Arc<ChainSpec>,
    datadir: PathBuf,
    execution: ExecutionClient,
    signer: Option<Signer>,
    rpc: Option<NodeRpc>,
    bitcoin: PegIns,
    bitcoin_key: Option<alys_federation::SchnorrSigner>,
) -> eyre::Result<Node> {
    std::fs::create_dir_all(&datadir)
        .wrap_err_with(|| format!("creating {}", datadir.display()))?;
    let (el, engine) = match execution {
        ExecutionClient::Embedded {
            authrpc,
            pool,
            http,
        } => {
            let jwt_path = datadir.join("jwt.hex");
            let jwt_secret: JwtSecret = alys_engine::load_or_create_jwt_secret(&jwt_path)?;
            let el = EmbeddedEl::start(ElConfig {
                datadir: datadir.clone(),
                genesis: spec.genesis.clone(),
                authrpc_addr: authrpc,
                http,
                jwt_secret,
                pool: *pool,
            })
            .await?;
            let engine =
                HttpEngineClient::new(&el.engine_url(), jwt_secret, EngineClientConfig::default())?;
            (Some(el), engine)
        }
        ExecutionClient::External {
            url,
            jwt_secret,
            execution_rpc_url,
        } => {
            let engine =
                HttpEngineClient::from_jwt_file(&url, &jwt_secret, EngineClientConfig::default())?
                    .with_execution_rpc_url(&execution_rpc_url)?;
            tracing::info!(
                engine_url = %alys_secrets::redact_url(&url),
                execution_rpc_url = %alys_secrets::redact_url(&execution_rpc_url),
                "external execution client"
            );
            (None, engine)
        }
    };
    let store =
        Arc::new(Store::open(&datadir.join("consensus")).wrap_err("opening the consensus store")?);
    let clock = SlotClock::system(spec.slot_duration_ms);
    let trusted = matches!(bitcoin, PegIns::TrustApprovals) && signer.is_none();
    let peg = start_peg(&spec, store.clone(), bitcoin)?;
    let pegins: Arc<dyn PegInVerifier> = match &peg {
        Some(p) => p.verifier.clone(),
        None if trusted => Arc::new(alys_consensus::TrustedPegIns),
        None => Arc::new(NoPegIns),
    };
    let mut chain = open_chain(spec.clone(), clock.clone(), engine, store.clone(), pegins).await?;
    let ledger = open_pegout_ledger(&spec, chain.store(), store)?;
    if let Some(ledger) = &ledger {
        chain.set_pegout_ledger(ledger.clone());
        if let Some(peg) = &peg {
            spawn_fee_rate_updates(peg.rpc.clone(), ledger.clone());
            spawn_spend_watcher(peg.rpc.clone(), ledger);
        }
    }
    let authority = signer.as_ref().map(|s| s.index());
    let chain_store = chain.store().clone();
    let node_store = chain_store.clone();
    let payouts = match (&ledger, &peg) {
        (Some(ledger), Some(peg)) => Some(super::payouts::Payouts::new(
            &spec,
            ledger.clone(),
            peg.rpc.clone(),
            bitcoin_key,
        )),
        _ => None,
    };
    let service = match &payouts {
        Some(p) => ConsensusService::spawn_with_pegout_sink(chain, signer, p.signer.clone()),
        None => ConsensusService::spawn(chain, signer),
    };
    if let Some(p) = &payouts {
        p.start(service.inputs.clone(), service.status.clone());
    }
    let (network_summary, network_view) = tokio::sync::watch::channel(Default::default());
    alys_consensus::spawn_slot_ticker(clock.clone(), service.inputs.clone());
    let rpc = match rpc {
        Some(NodeRpc {
            addr,
            credentials,
            miner_payout,
            public,
            limits,
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
                    network: network_view,
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
                        ledger: ledger.clone(),
                    },
                );
            }
            if let Some(ledger) = &ledger {
                alys_rpc::register_pegout_methods(
                    &mut methods,
                    alys_rpc::PegOutView {
                        ledger: ledger.clone(),
                        status: service.status.clone(),
                        progress: payouts.as_ref().map(|p| p.progress()),
                    },
                );
            }
            let server =
                alys_rpc::RpcServer::start_with_public(addr, methods, credentials, public, limits)
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
        chain_store: node_store,
        clock: SlotClock::system(spec.slot_duration_ms),
        network_summary,
    })
}
