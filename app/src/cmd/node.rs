//! `alys node`: a production node: an authority when given a signer key, otherwise a full node.

use std::{path::PathBuf, sync::Arc};

use alys_consensus::Signer;
use alys_primitives::ChainSpec;

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
    /// Engine API URL of an external execution client (Geth, Reth, `alys el`).
    #[arg(long, conflicts_with = "embedded_el", requires = "jwt_secret")]
    engine_url: Option<String>,
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
    ui: super::ui_args::UiArgs,
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
        let execution = match (self.engine_url, self.jwt_secret, self.embedded_el) {
            (Some(url), Some(jwt_secret), false) => ExecutionClient::External { url, jwt_secret },
            (None, _, true) => ExecutionClient::Embedded {
                authrpc: self.servers.authrpc_addr(),
                http: Some(self.servers.eth_http()),
            },
            _ => eyre::bail!("give either --engine-url with --jwt-secret, or --embedded-el"),
        };
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
            self.bitcoin.config(),
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
        if let Some(el) = &node.el {
            println!("Engine API {}", el.engine_url());
            if let Some(url) = el.http_url() {
                println!("eth JSON-RPC {url}");
            }
        }
        tokio::signal::ctrl_c().await?;
        node.service.task.abort();
        if let Some(el) = node.el {
            el.stop().await;
        }
        Ok(())
    }
}
