//! `alys node`: a production node: an authority when given a signer key, otherwise a full node.

use std::{path::PathBuf, sync::Arc};

use alys_consensus::Signer;
use alys_primitives::ChainSpec;
use eyre::WrapErr;

use super::network_args::NetworkArgs;
use super::server_args::ServerArgs;
use super::wiring::{start_node, ExecutionClient};

/// Arguments of `alys node`.
#[derive(Debug, clap::Args)]
pub(crate) struct NodeArgs {
    /// TOML config file: keys are the long flag names (`rpc-port = 3000`); flags on the
    /// command line and their environment variables override it (docs/configuration.md).
    #[arg(long, env = "ALYS_CONFIG")]
    config: Option<PathBuf>,
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
    /// BLS signer key file of this authority: a plain key file or an EIP-2335 keystore
    /// (`alys keys generate --kind bls`); without it the node does not sign (full node).
    #[arg(long)]
    signer_key: Option<PathBuf>,
    /// Password file of a keystore given as --signer-key (mode 0600); or the
    /// ALYS_SIGNER_KEY_PASSWORD environment variable.
    #[arg(long, requires = "signer_key")]
    signer_key_password_file: Option<PathBuf>,
    /// Bitcoin key file of this federation member (WIF, mode 0600; `alys keys generate --kind
    /// bitcoin`): with it and a Bitcoin node the node signs peg-out payouts. Its public key must
    /// be in the chain spec's federationBitcoinPubkeys.
    #[arg(long)]
    bitcoin_key: Option<PathBuf>,
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

/// The payout signing key in `path`, refused when it is not one of the spec's federation keys.
fn payout_signer_key(
    spec: &ChainSpec,
    path: &std::path::Path,
) -> eyre::Result<alys_federation::SchnorrSigner> {
    let key = alys_keys::load_bitcoin_key(path)?;
    let signer = alys_federation::SchnorrSigner::from_secret_key(&key.private.inner);
    let federation = alys_federation::Federation::from_spec(spec)
        .map_err(|e| eyre::eyre!("--bitcoin-key needs a federation in the chain spec: {e}"))?;
    if !federation.keys().contains(&signer.public_key()) {
        eyre::bail!(
            "the key in {} ({}) is not in the chain spec's federationBitcoinPubkeys",
            path.display(),
            signer.public_key()
        );
    }
    Ok(signer)
}

/// Environment variable holding the password of a keystore given as `--signer-key`.
const SIGNER_KEY_PASSWORD_ENV: &str = "ALYS_SIGNER_KEY_PASSWORD";

/// The signer keystore's password: from the file, else the environment, else none.
fn signer_key_password(
    file: Option<&std::path::Path>,
) -> eyre::Result<Option<alys_keys::Password>> {
    if let Some(file) = file {
        return Ok(Some(
            alys_keys::Password::from_file(file).wrap_err("signer key password file")?,
        ));
    }
    Ok(std::env::var(SIGNER_KEY_PASSWORD_ENV)
        .ok()
        .map(|p| alys_keys::Password::new(&p)))
}

/// Logs an error at start when authorities of the spec use the public dev keys: anyone can
/// sign for them, so such a chain has no security (docs/keys.md).
fn warn_dev_keys(spec: &ChainSpec) {
    let dev = alys_primitives::dev::dev_key_authorities(spec);
    if dev.is_empty() {
        return;
    }
    tracing::error!(
        authorities = ?dev,
        "INSECURE CHAIN SPEC: {} of {} authorities use the public dev keys (anyone can sign \
         for them); use this spec for development only, and give a real federation keys from \
         `alys keys generate --kind bls`",
        dev.len(),
        spec.authorities.len()
    );
}

impl NodeArgs {
    /// The embedded execution client's eth JSON-RPC server: by default no browser origin
    /// (an empty list, to which the peg web page adds its own origins when `--ui-port` serves
    /// it), unless `--http-corsdomain` says otherwise: a production node's RPC is not for any
    /// web page.
    pub(super) fn eth_http(&self) -> alys_evm::eth::server::RpcServerConfig {
        self.servers
            .eth_http(alys_evm::eth::server::Cors::Origins(Vec::new()))
    }

    /// Runs the node until Ctrl-C.
    pub(crate) async fn run(self) -> eyre::Result<()> {
        if let Some(path) = &self.config {
            println!("config file {}", path.display());
        }
        let ui = self.ui.bind(self.servers.addr(), false).await?;
        let mut eth_http = self.eth_http();
        self.ui.allow_in_eth_cors(&mut eth_http, ui.as_ref());
        let spec = Arc::new(ChainSpec::from_file(&self.chain)?);
        warn_dev_keys(&spec);
        let signer = match &self.signer_key {
            Some(path) => {
                let password = signer_key_password(self.signer_key_password_file.as_deref())?;
                let key = alys_keys::load_signer_key(path, password.as_ref())?;
                Some(Signer::new(&spec, key).ok_or_else(|| {
                    eyre::eyre!(
                        "the key in {} is not an authority of this chain",
                        path.display()
                    )
                })?)
            }
            None => None,
        };
        let bitcoin_key = match &self.bitcoin_key {
            Some(path) => Some(payout_signer_key(&spec, path)?),
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
                pool: Box::new(self.servers.pool_config()),
                http: Some(eth_http),
            },
            _ => eyre::bail!("give either --engine-url with --jwt-secret, or --embedded-el"),
        };
        let metrics = self.metrics.start(spec.authorities.len(), false).await?;
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
            bitcoin_key,
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
