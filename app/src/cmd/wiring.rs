//! Assembling one node from its parts: execution client (embedded or external over the
//! Engine API), consensus store and chain, and the consensus service task.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use alys_consensus::{Chain, ConsensusService, NoPegIns, ServiceHandle, Signer, SlotClock};
use alys_engine::{EngineClientConfig, HttpEngineClient, JwtSecret};
use alys_evm::{eth::server::RpcServerConfig, ElConfig, EmbeddedEl};
use alys_primitives::ChainSpec;
use alys_store::Store;
use eyre::WrapErr;

/// Where a node's execution client comes from.
pub enum ExecutionClient {
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
pub struct NodeRpc {
    /// Listen address.
    pub addr: SocketAddr,
    /// Basic-auth credentials.
    pub credentials: alys_rpc::Credentials,
}

/// A running node.
pub struct Node {
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
pub async fn start_node(
    spec: Arc<ChainSpec>,
    datadir: PathBuf,
    execution: ExecutionClient,
    signer: Option<Signer>,
    rpc: Option<NodeRpc>,
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
    let chain = Chain::open(
        spec.clone(),
        clock.clone(),
        engine,
        store,
        Arc::new(NoPegIns),
    )
    .await
    .wrap_err("opening the consensus chain")?;
    let authority = signer.as_ref().map(|s| s.index());
    let chain_store = chain.store().clone();
    let service = ConsensusService::spawn(chain, signer);
    alys_consensus::spawn_slot_ticker(clock.clone(), service.inputs.clone());
    let rpc = match rpc {
        Some(NodeRpc { addr, credentials }) => {
            let mut methods = alys_rpc::Methods::new();
            alys_rpc::register_chain_methods(
                &mut methods,
                alys_rpc::ChainView {
                    store: chain_store,
                    status: service.status.clone(),
                    spec: spec.clone(),
                    current_slot: Arc::new(move || clock.current_slot()),
                },
            );
            let server = alys_rpc::RpcServer::start(addr, methods, credentials)
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
