//! `alys node`: a production node: an authority when given a signer key, otherwise a full node.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::Arc,
};

use alys_consensus::Signer;
use alys_primitives::ChainSpec;

use super::eth_rpc_args::EthRpcArgs;
use super::wiring::{start_node, ExecutionClient, NodeRpc};

/// Arguments of `alys node`.
#[derive(Debug, clap::Args)]
pub struct NodeArgs {
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
    /// eth JSON-RPC port of the embedded execution client.
    #[arg(long, default_value_t = 8545)]
    http_port: u16,
    /// Engine API port of the embedded execution client.
    #[arg(long, default_value_t = 8551)]
    authrpc_port: u16,
    /// Node JSON-RPC port.
    #[arg(long, default_value_t = 3000)]
    rpc_port: u16,
    /// Node JSON-RPC user (HTTP Basic auth).
    #[arg(long, default_value = "alys")]
    rpc_user: String,
    /// Node JSON-RPC password (HTTP Basic auth); required to serve the node RPC.
    #[arg(long, env = "ALYS_RPC_PASSWORD")]
    rpc_password: Option<String>,
    /// Payout address of `getauxblock` without arguments (merged-mining pools that use it).
    #[arg(long)]
    miner_address: Option<alloy_primitives::Address>,
    /// Listen address of the RPC servers.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    addr: IpAddr,
    #[command(flatten)]
    bitcoin: super::wiring::BitcoinRpcArgs,
    #[command(flatten)]
    eth_rpc: EthRpcArgs,
}

impl NodeArgs {
    /// Runs the node until Ctrl-C.
    pub async fn run(self) -> eyre::Result<()> {
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
                authrpc: SocketAddr::new(self.addr, self.authrpc_port),
                http: Some(
                    self.eth_rpc
                        .server_config(SocketAddr::new(self.addr, self.http_port)),
                ),
            },
            _ => eyre::bail!("give either --engine-url with --jwt-secret, or --embedded-el"),
        };
        let rpc = self.rpc_password.clone().map(|password| NodeRpc {
            addr: SocketAddr::new(self.addr, self.rpc_port),
            credentials: alys_rpc::Credentials {
                user: self.rpc_user.clone(),
                password,
            },
            miner_payout: self.miner_address,
        });
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
