//! `alys dev`: a complete development chain in one process: a dev federation (1 authority by
//! default), each authority with its own embedded execution client, connected in-process.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use alys_consensus::{LocalNetwork, ServiceHandle, Signer};
use alys_primitives::{
    dev::{dev_secret_key, DEV_ACCOUNTS, DEV_ACCOUNT_BALANCE_BTC},
    ChainSpec,
};
use eyre::WrapErr;

use super::network_args::NetworkArgs;
use super::server_args::ServerArgs;
use super::wiring::{start_node, ExecutionClient};

/// Arguments of `alys dev`.
#[derive(Debug, clap::Args)]
pub(crate) struct DevArgs {
    /// TOML config file: keys are the long flag names (`rpc-port = 3000`); flags on the
    /// command line and their environment variables override it (docs/configuration.md).
    #[arg(long, env = "ALYS_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory; kept across restarts. Default: a fresh temporary directory.
    #[arg(long)]
    datadir: Option<PathBuf>,
    /// Number of authorities run in this process.
    #[arg(long, default_value_t = 1)]
    authorities: usize,
    #[command(flatten)]
    servers: ServerArgs,
    /// Node JSON-RPC password (HTTP Basic auth).
    #[arg(long, default_value = "alys")]
    rpc_password: String,
    /// Slot duration in milliseconds (a multiple of 1000).
    #[arg(long)]
    slot_ms: Option<u64>,
    /// Do not run the built-in CPU merged miner (blocks then stay unfinalized and production
    /// halts after `maxBlocksWithoutPow` blocks until an external miner submits a proof).
    #[arg(long)]
    no_miner: bool,
    /// Payout address of the built-in miner and of `getauxblock` without arguments.
    /// Default: the dev miner address (`keccak256("alys-dev-miner")[12..]`).
    #[arg(long)]
    miner_address: Option<alloy_primitives::Address>,
    /// Threads of the built-in miner.
    #[arg(long, default_value_t = 1)]
    miner_threads: usize,
    /// Override the dev spec's `maxBlocksWithoutPow` (halting rule), e.g. to try halting.
    #[arg(long)]
    max_blocks_without_pow: Option<u64>,
    /// Print the dev chain spec (JSON) and exit: a starting point for a chain spec of your own.
    #[arg(long)]
    print_spec: bool,
    /// RPC port of the embedded regtest Bitcoin (ignored with `--bitcoin-rpc-url`).
    #[arg(long, default_value_t = alys_btc_devnet::DEFAULT_RPC_PORT)]
    bitcoin_rpc_port: u16,
    /// The embedded regtest Bitcoin mines a block every N seconds (0: never).
    #[arg(long, default_value_t = 5)]
    btc_block_secs: u64,
    #[command(flatten)]
    bitcoin: super::wiring::BitcoinRpcArgs,
    #[command(flatten)]
    network: NetworkArgs,
    #[command(flatten)]
    ui: super::ui_args::UiArgs,
    #[command(flatten)]
    metrics: super::metrics_args::MetricsArgs,
}

impl DevArgs {
    /// The first authority's eth JSON-RPC server: CORS for any origin unless
    /// `--http-corsdomain` says otherwise (local dapp development).
    pub(super) fn eth_http(&self) -> alys_evm::eth::server::RpcServerConfig {
        self.servers.eth_http(alys_evm::eth::server::Cors::Any)
    }

    /// Runs the dev chain until Ctrl-C.
    pub(crate) async fn run(self) -> eyre::Result<()> {
        let eth_http = self.eth_http();
        let mut spec = ChainSpec::dev(self.authorities)?;
        if let Some(ms) = self.slot_ms {
            spec.slot_duration_ms = ms;
            if let Some(pow) = spec.pow.as_mut() {
                // One proof per slot keeps the regtest-like target at the limit.
                pow.target_spacing_secs = (ms / 1000).max(1);
            }
        }
        if let Some(max) = self.max_blocks_without_pow {
            spec.max_blocks_without_pow = max;
        }
        let miner_address = self
            .miner_address
            .unwrap_or_else(alys_primitives::dev::dev_miner_address);
        spec.validate()?;
        if self.print_spec {
            println!("{}", spec.to_json_pretty());
            return Ok(());
        }
        if let Some(path) = &self.config {
            println!("config file {}", path.display());
        }
        let spec = Arc::new(spec);
        let metrics = self.metrics.start(spec.authorities.len(), true).await?;
        let (datadir, _temp) = match self.datadir {
            Some(d) => (d, None),
            None => {
                let t = tempfile::tempdir().wrap_err("creating a temporary data directory")?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        // Bitcoin: an external node when given, else the embedded regtest devnet.
        let (devnet, bitcoin) = match self.bitcoin.config() {
            Some(cfg) => (None, cfg),
            None => {
                let config = |port| alys_btc_devnet::DevnetConfig {
                    datadir: Some(datadir.join("bitcoin")),
                    rpc_addr: SocketAddr::new(self.servers.addr(), port),
                    rpc_user: self.bitcoin.bitcoin_rpc_user.clone(),
                    rpc_password: self.bitcoin.bitcoin_rpc_password.clone(),
                    block_interval: (self.btc_block_secs > 0)
                        .then(|| std::time::Duration::from_secs(self.btc_block_secs)),
                };
                let devnet = match alys_btc_devnet::BtcDevnet::start(config(self.bitcoin_rpc_port))
                    .await
                {
                    Ok(d) => d,
                    // The default port is taken (e.g. another dev chain): any free port.
                    Err(e) if self.bitcoin_rpc_port == alys_btc_devnet::DEFAULT_RPC_PORT => {
                        tracing::warn!(error = %e, "Bitcoin RPC port {} unavailable, using a free port", self.bitcoin_rpc_port);
                        alys_btc_devnet::BtcDevnet::start(config(0))
                            .await
                            .wrap_err("starting the embedded regtest Bitcoin")?
                    }
                    Err(e) => {
                        return Err(e).wrap_err("starting the embedded regtest Bitcoin");
                    }
                };
                let cfg = super::wiring::BitcoinRpcConfig {
                    url: devnet.url(),
                    user: self.bitcoin.bitcoin_rpc_user.clone(),
                    password: self.bitcoin.bitcoin_rpc_password.clone(),
                };
                (Some(devnet), cfg)
            }
        };
        let ui = self.ui.bind(self.servers.addr(), true).await?;
        let mut nodes = Vec::new();
        for i in 0..self.authorities {
            let signer = Signer::new(&spec, dev_secret_key(i))
                .ok_or_else(|| eyre::eyre!("dev key {i} is not an authority of the dev spec"))?;
            let (authrpc, http) = if i == 0 {
                let mut http = eth_http.clone();
                self.ui.allow_in_eth_cors(&mut http, ui.as_ref());
                (self.servers.authrpc_addr(), Some(http))
            } else {
                (SocketAddr::new(self.servers.addr(), 0), None)
            };
            let dir = if self.authorities == 1 {
                datadir.clone()
            } else {
                datadir.join(format!("authority-{i}"))
            };
            let rpc = (i == 0).then(|| {
                let mut rpc = self
                    .servers
                    .node_rpc(self.rpc_password.clone(), Some(miner_address));
                rpc.public = ui.as_ref().map(|b| self.ui.public_access(b));
                rpc
            });
            let node = start_node(
                spec.clone(),
                dir,
                ExecutionClient::Embedded {
                    authrpc,
                    pool: Box::new(self.servers.pool_config()),
                    http,
                },
                Some(signer),
                rpc,
                super::wiring::PegIns::Follow(bitcoin.clone()),
                alys_federation::SchnorrSigner::from_bytes(
                    &alys_primitives::dev::dev_bitcoin_secret_key(i),
                )
                .ok(),
            )
            .await
            .wrap_err_with(|| format!("starting authority {i}"))?;
            nodes.push(node);
        }
        let rpc_addr = nodes
            .first()
            .and_then(|n| n.rpc.as_ref())
            .map(|r| r.local_addr());
        // The chain spec others need to join this chain (`alys node --chain <file>`).
        std::fs::create_dir_all(&datadir)
            .wrap_err_with(|| format!("creating {}", datadir.display()))?;
        let spec_file = datadir.join("chain.json");
        std::fs::write(&spec_file, spec.to_json_pretty())
            .wrap_err_with(|| format!("writing {}", spec_file.display()))?;
        let eth_url = nodes
            .first()
            .and_then(|n| n.el.as_ref())
            .and_then(|el| el.http_url());
        let ui = match (ui, rpc_addr) {
            (Some(bound), Some(addr)) => Some(self.ui.serve(bound, addr, eth_url)?),
            _ => None,
        };
        let mut links = Vec::new();
        let mut p2p = None;
        if let Some(mut config) = self.network.config(&datadir) {
            if config.port == alys_network::DEFAULT_P2P_PORT
                && std::net::TcpListener::bind((config.listen_addr, config.port)).is_err()
            {
                tracing::warn!("p2p port {} unavailable, using a free port", config.port);
                config.port = 0;
            }
            let first = &nodes[0];
            let (bus_link, net_links) =
                super::p2p::bus_member(first.service.inputs.clone(), nodes.len() > 1);
            let network = super::p2p::start_p2p(
                config,
                super::p2p::NodeLinks {
                    spec: spec.clone(),
                    clock: first.clock.clone(),
                    store: first.chain_store.clone(),
                    status: first.service.status.clone(),
                    inputs: net_links.0,
                    outbound: net_links.1,
                    el_chain: first.el.as_ref().map(|el| el.chain().clone()),
                },
            )
            .await?;
            super::wiring::report_network(network.status.clone(), first.network_summary.clone());
            links.push(bus_link);
            p2p = Some(network);
        }
        let mut els = Vec::new();
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
        println!("  chain spec        {}", spec_file.display());
        if let Some(n) = &p2p {
            for addr in &n.listen_addrs {
                println!("  p2p               {addr}");
            }
        }
        // The embedded devnet's credentials are the dev defaults and printed for convenience;
        // an external node's URL and password are secrets and never shown.
        let (bitcoin_url, bitcoin_password) = match &devnet {
            Some(_) => (bitcoin.url.clone(), bitcoin.password.as_str()),
            None => (alys_secrets::redact_url(&bitcoin.url), "<hidden>"),
        };
        println!(
            "  bitcoin RPC       {bitcoin_url} (user {}, password {bitcoin_password}){}",
            bitcoin.user,
            match &devnet {
                Some(_) if self.btc_block_secs > 0 => format!(
                    ", embedded regtest, a block every {} s",
                    self.btc_block_secs
                ),
                Some(_) => ", embedded regtest, no auto-mining".to_string(),
                None => ", external".to_string(),
            }
        );
        if let Ok(fed) = alys_federation::Federation::from_spec(&spec) {
            println!(
                "  deposit address   {} ({} confirmations, min {} sats)",
                fed.address(),
                spec.required_btc_confirmations.unwrap_or_default(),
                fed.min_peg_in_sats()
            );
        }
        if let Some(ui) = &ui {
            println!("  peg web page      {} (--no-ui to turn off)", ui.url());
        }
        if let Some(m) = &metrics {
            println!(
                "  metrics           {} (Prometheus; --no-metrics to turn off)",
                m.url()
            );
        }
        if let Some(Some(el)) = els.first().map(|(el, _, _)| el.as_ref()) {
            alys_evm::pool_metrics::spawn(el.chain());
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
                self.servers.rpc_user(),
                self.rpc_password
            );
        }
        let miner = match (rpc_addr, self.no_miner) {
            (Some(addr), false) => {
                println!(
                    "  merged miner      built in, {} thread(s), fee share to {miner_address} (--no-miner to turn off)",
                    self.miner_threads.max(1)
                );
                Some(alys_miner::spawn(alys_miner::MinerConfig {
                    url: format!("http://{addr}"),
                    user: self.servers.rpc_user().to_string(),
                    password: self.rpc_password.clone(),
                    address: miner_address,
                    threads: self.miner_threads.max(1),
                    placement: alys_auxpow::CommitmentPlacement::ScriptSig,
                    poll_interval: std::time::Duration::from_millis(100),
                }))
            }
            _ => {
                println!(
                    "  merged miner      off: production halts after {} blocks without AuxPoW (createauxblock/submitauxblock on the node RPC)",
                    spec.max_blocks_without_pow
                );
                None
            }
        };
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
                tracing::info!(height = s.head_height, slot = s.head_slot, finalized = s.finalized_height, root = %s.head_root, "head");
            }
        });
        tokio::signal::ctrl_c().await?;
        println!("stopping");
        if let Some(m) = miner {
            m.stop().await;
        }
        network.shutdown();
        if let Some(m) = metrics {
            m.stop();
        }
        if let Some(n) = p2p {
            n.task.abort();
        }
        if let Some(devnet) = devnet {
            devnet.shutdown().await;
        }
        for (el, _, task) in els {
            task.abort();
            if let Some(el) = el {
                el.stop().await;
            }
        }
        Ok(())
    }
}
