//! Assembling one node from its parts: execution client (embedded or external over the
//! Engine API), consensus store and chain, and the consensus service task.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use alys_consensus::{Chain, ConsensusService, NoPegIns, ServiceHandle, Signer, SlotClock};
use alys_engine::{EngineClientConfig, HttpEngineClient, JwtSecret};
use alys_evm::{ElConfig, EmbeddedEl};
use alys_primitives::ChainSpec;
use alys_store::Store;
use eyre::WrapErr;

/// Where a node's execution client comes from.
pub enum ExecutionClient {
    /// Start the embedded client in this process.
    Embedded {
        /// Engine API address (port 0: any free port).
        authrpc: SocketAddr,
        /// eth JSON-RPC address, if served.
        http: Option<SocketAddr>,
    },
    /// Connect to an external client (Geth, Reth, `alys el`).
    External {
        /// Engine API URL.
        url: String,
        /// JWT secret file.
        jwt_secret: PathBuf,
    },
}

/// A running node.
pub struct Node {
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
                http_addr: http,
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
    let service = ConsensusService::spawn(chain, signer);
    alys_consensus::spawn_slot_ticker(clock, service.inputs.clone());
    Ok(Node {
        el,
        service,
        authority,
    })
}
