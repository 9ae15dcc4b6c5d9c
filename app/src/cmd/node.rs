//! `alys node`: a production node: an authority when given a signer key, otherwise a full node.

use std::{path::PathBuf, sync::Arc};

use alys_consensus::Signer;
use alys_primitives::ChainSpec;

use super::network_args::NetworkArgs;
use super::server_args::ServerArgs;
use super::wiring::{start_node, ExecutionClient};

/// Arguments of `alys node`.
#[derive(Debug, clap::Args)]
pub(crate) struct NodeArgs {
    /// Chain spec file (JSON).
    #[arg(long)]
    chain: PathBuf,
    /// Data directory.
    #[arg(long, default_value = "./alys-data")]
    datadir: PathBuf,
    /// Engine API URL of an external execution client (Geth, Reth, `alys el`), e.g.
    /// `http://127.0.0.1:8551` (docs/execution-clients.md lists the flags per client).
    #[arg(long, conflicts_with = "embedded_el", requires = "jwt_secret")]
    engine_url: Option<String>,
    /// eth JSON-RPC URL of the same execution client (e.g. `http://127.0.0.1:8545`), where the
    /// node reads block receipts for the fee re-mint; default: the --engine-url. The Engine
    /// API port of most clients does not serve receipts.
    #[arg(long, requires = "engine_url")]
    execution_rpc_url: Option<String>,
    /// JWT secret file shared with the external execution client.
    #[arg(long)]
    jwt_secret: Option<PathBuf>,
    /// Run the embedded execution client in this process.
    #[arg(long)]
    embedded_el: bool,
    /// BLS signer key file of this authority; without it the node does not sign (full node).
    #[arg(long)]
    signer_key: Option<PathBuf>,
    #[command(flatten)]
    servers: ServerArgs,
    /// Node JSON-RPC password (HTTP Basic auth); required to serve the node RPC.
    #[arg(long, env = "ALYS_RPC_PASSWORD")]
    rpc_password: Option<String>,
    /// Payout address of `getauxblock` without arguments (merged-mining pools that use it).
    #[arg(long)]
    miner_address: Option<alloy_primitives::Address>,
    #[command(flatten)]
    bitcoin: super::wiring::BitcoinRpcArgs,
    #[command(flatten)]
    network: NetworkArgs,
    #[command(flatten)]
    ui: super::ui_args::UiArgs,
    #[command(flatten)]
    metrics: super::metrics_args::MetricsArgs,
}

impl NodeArgs {
    /// Runs the node until Ctrl-C.
    pub(crate) async fn run(self) -> eyre::Result<()> {
        let spec = Arc::new(ChainSpec::from_file(&self.chain)?);
        let signer = match &self.signer_key {
            Some(path) => {
                let key = alys_primitives::bls::load_secret_key(path)?;
                Some(Signer::new(&spec, key).ok_or_else(|| {
                    eyre::eyre!(
                        "the key in {} is not an authority of this chain",
                        path.display()
                    )
                })?)
            }
            None => None,
        };
        let pegins = super::wiring::PegIns::choose(&spec, &self.bitcoin, signer.is_some())?;
        let execution = match (self.engine_url, self.jwt_secret, self.embedded_el) {
            (Some(url), Some(jwt_secret), false) => ExecutionClient::External {
                execution_rpc_url: self.execution_rpc_url.unwrap_or_else(|| url.clone()),
                url,
                jwt_secret,
            },
            (None, _, true) => ExecutionClient::Embedded {
                authrpc: self.servers.authrpc_addr(),
                http: Some(self.servers.eth_http()),
            },
            _ => eyre::bail!("give either --engine-url with --jwt-secret, or --embedded-el"),
        };
        let metrics = self.metrics.start(spec.authorities.len(), false).await?;
        let ui = self.ui.bind(self.servers.addr(), false).await?;
        let mut rpc = self
            .rpc_password
            .clone()
            .map(|password| self.servers.node_rpc(password, self.miner_address));
        match (&mut rpc, &ui) {
            (Some(rpc), Some(bound)) => rpc.public = Some(self.ui.public_access(bound)),
            (None, Some(_)) => eyre::bail!(
                "the peg web page (--ui-port) needs the node JSON-RPC: give --rpc-password"
            ),
            _ => {}
        }
        if rpc.is_none() {
            println!(
                "node JSON-RPC disabled: give --rpc-password (or ALYS_RPC_PASSWORD) to serve it"
            );
        }
        let node = start_node(
            spec.clone(),
            self.datadir.clone(),
            execution,
            signer,
            rpc,
            pegins,
        )
        .await?;
        if let Some(server) = &node.rpc {
            println!("node JSON-RPC http://{}", server.local_addr());
        }
        let _ui = match (ui, &node.rpc) {
            (Some(bound), Some(rpc)) => {
                let eth_url = node.el.as_ref().and_then(|el| el.http_url());
                let ui = self.ui.serve(bound, rpc.local_addr(), eth_url)?;
                println!("peg web page {}", ui.url());
                Some(ui)
            }
            _ => None,
        };
        match node.authority {
            Some(i) => println!("authority {i} of {}", spec.authorities.len()),
            None => println!("full node (no signer key)"),
        }
        match &metrics {
            Some(m) => println!("metrics {}", m.url()),
            None => println!("metrics disabled (--no-metrics)"),
        }
        if let Some(el) = &node.el {
            alys_evm::pool_metrics::spawn(el.chain());
            println!("Engine API {}", el.engine_url());
            if let Some(url) = el.http_url() {
                println!("eth JSON-RPC {url}");
            }
        }
        let alys_consensus::ServiceHandle {
            inputs,
            outbound,
            status,
            task,
        } = node.service;
        let network = match self.network.config(&self.datadir) {
            Some(config) => Some(
                super::p2p::start_p2p(
                    config,
                    super::p2p::NodeLinks {
                        spec: spec.clone(),
                        clock: node.clock.clone(),
                        store: node.chain_store.clone(),
                        status,
                        inputs,
                        outbound,
                        el_chain: node.el.as_ref().map(|el| el.chain().clone()),
                    },
                )
                .await?,
            ),
            None => {
                println!("p2p disabled (--no-p2p)");
                super::p2p::discard(outbound);
                None
            }
        };
        if let Some(n) = &network {
            for addr in &n.listen_addrs {
                println!("p2p {addr}");
            }
            super::wiring::report_network(n.status.clone(), node.network_summary.clone());
        }
        tokio::signal::ctrl_c().await?;
        if let Some(n) = network {
            n.task.abort();
        }
        task.abort();
        if let Some(m) = metrics {
            m.stop();
        }
        if let Some(el) = node.el {
            el.stop().await;
        }
        Ok(())
    }
}
