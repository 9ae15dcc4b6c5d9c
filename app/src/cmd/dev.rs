//! `alys dev`: a complete development chain in one process: a dev federation (1 authority by
//! default), each authority with its own embedded execution client, connected in-process.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::Arc,
};

use alys_consensus::{LocalNetwork, ServiceHandle, Signer};
use alys_primitives::{
    dev::{dev_secret_key, DEV_ACCOUNTS, DEV_ACCOUNT_BALANCE_BTC},
    ChainSpec,
};
use eyre::WrapErr;

use super::eth_rpc_args::EthRpcArgs;
use super::wiring::{start_node, ExecutionClient, NodeRpc};

/// Arguments of `alys dev`.
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Data directory; kept across restarts. Default: a fresh temporary directory.
    #[arg(long)]
    datadir: Option<PathBuf>,
    /// Number of authorities run in this process.
    #[arg(long, default_value_t = 1)]
    authorities: usize,
    /// eth JSON-RPC port (HTTP and WebSocket) of the first authority's execution client.
    #[arg(long, default_value_t = 8545)]
    http_port: u16,
    /// Engine API port of the first authority's execution client.
    #[arg(long, default_value_t = 8551)]
    authrpc_port: u16,
    /// Node JSON-RPC port (chain queries; miner and peg methods later).
    #[arg(long, default_value_t = 3000)]
    rpc_port: u16,
    /// Node JSON-RPC user (HTTP Basic auth).
    #[arg(long, default_value = "alys")]
    rpc_user: String,
    /// Node JSON-RPC password (HTTP Basic auth).
    #[arg(long, default_value = "alys")]
    rpc_password: String,
    /// Listen address of the RPC servers.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    addr: IpAddr,
    /// Slot duration in milliseconds (a multiple of 1000).
    #[arg(long)]
    slot_ms: Option<u64>,
    /// Print the dev chain spec (JSON) and exit: a starting point for a chain spec of your own.
    #[arg(long)]
    print_spec: bool,
    #[command(flatten)]
    eth_rpc: EthRpcArgs,
}

impl DevArgs {
    /// Runs the dev chain until Ctrl-C.
    pub async fn run(self) -> eyre::Result<()> {
        let mut spec = ChainSpec::dev(self.authorities)?;
        if let Some(ms) = self.slot_ms {
            spec.slot_duration_ms = ms;
        }
        spec.validate()?;
        if self.print_spec {
            println!("{}", spec.to_json_pretty());
            return Ok(());
        }
        let spec = Arc::new(spec);
        let (datadir, _temp) = match self.datadir {
            Some(d) => (d, None),
            None => {
                let t = tempfile::tempdir().wrap_err("creating a temporary data directory")?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let mut nodes = Vec::new();
        for i in 0..self.authorities {
            let signer = Signer::new(&spec, dev_secret_key(i))
                .ok_or_else(|| eyre::eyre!("dev key {i} is not an authority of the dev spec"))?;
            let (authrpc, http) = if i == 0 {
                (
                    SocketAddr::new(self.addr, self.authrpc_port),
                    Some(
                        self.eth_rpc
                            .server_config(SocketAddr::new(self.addr, self.http_port)),
                    ),
                )
            } else {
                (SocketAddr::new(self.addr, 0), None)
            };
            let dir = if self.authorities == 1 {
                datadir.clone()
            } else {
                datadir.join(format!("authority-{i}"))
            };
            let rpc = (i == 0).then(|| NodeRpc {
                addr: SocketAddr::new(self.addr, self.rpc_port),
                credentials: alys_rpc::Credentials {
                    user: self.rpc_user.clone(),
                    password: self.rpc_password.clone(),
                },
            });
            let node = start_node(
                spec.clone(),
                dir,
                ExecutionClient::Embedded { authrpc, http },
                Some(signer),
                rpc,
            )
            .await
            .wrap_err_with(|| format!("starting authority {i}"))?;
            nodes.push(node);
        }
        let rpc_addr = nodes
            .first()
            .and_then(|n| n.rpc.as_ref())
            .map(|r| r.local_addr());
        let mut els = Vec::new();
        let mut links = Vec::new();
        for node in nodes {
            let ServiceHandle {
                inputs,
                outbound,
                status,
                task,
            } = node.service;
            links.push((inputs, outbound));
            els.push((node.el, status, task));
        }
        let network = LocalNetwork::connect(links);

        println!("Alys dev chain");
        println!("  chain id          {}", spec.chain_id);
        println!("  slot              {} ms", spec.slot_duration_ms);
        println!(
            "  authorities       {} (threshold {})",
            spec.authorities.len(),
            spec.approval_threshold
        );
        println!("  data directory    {}", datadir.display());
        if let Some(Some(el)) = els.first().map(|(el, _, _)| el.as_ref()) {
            if let Some(url) = el.http_url() {
                println!(
                    "  eth JSON-RPC      {url} (WebSocket: {})",
                    url.replace("http://", "ws://")
                );
            }
            println!(
                "  Engine API        {} (JWT secret {}/jwt.hex)",
                el.engine_url(),
                datadir.display()
            );
        }
        if let Some(addr) = rpc_addr {
            println!(
                "  node JSON-RPC     http://{addr} (user {}, password {})",
                self.rpc_user, self.rpc_password
            );
        }
        println!();
        println!("Prefunded accounts ({DEV_ACCOUNT_BALANCE_BTC} BTC each; mnemonic `test test test test test test test test test test test junk`):");
        for (i, (address, key)) in DEV_ACCOUNTS.iter().enumerate() {
            println!("  ({i}) {address}  {key}");
        }
        println!();
        let mut status = els[0].1.clone();
        tokio::spawn(async move {
            while status.changed().await.is_ok() {
                let s = status.borrow().clone();
                tracing::info!(height = s.head_height, slot = s.head_slot, root = %s.head_root, "head");
            }
        });
        tokio::signal::ctrl_c().await?;
        println!("stopping");
        network.shutdown();
        for (el, _, task) in els {
            task.abort();
            if let Some(el) = el {
                el.stop().await;
            }
        }
        Ok(())
    }
}
