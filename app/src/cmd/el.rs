//! `alys el`: the embedded execution client as a standalone process (Engine API + eth RPC), and
//! `alys el ef-tests <dir>`, the ethereum/tests conformance runner.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
};

use alys_evm::{ElConfig, EmbeddedEl};

use super::eth_rpc_args::EthRpcArgs;
use eyre::WrapErr;

/// Arguments of `alys el`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct ElCommand {
    #[command(subcommand)]
    sub: Option<ElSub>,
    #[command(flatten)]
    run: ElRunArgs,
}

#[derive(Debug, clap::Subcommand)]
enum ElSub {
    /// Check a data directory: flat state, recomputed from scratch, must hash to the head's
    /// state root. Prints the head and exits non-zero on any inconsistency.
    CheckDb {
        /// Chain spec or geth genesis file the database was created with.
        #[arg(long)]
        chain: PathBuf,
        /// Data directory.
        #[arg(long)]
        datadir: PathBuf,
    },
    /// Run ethereum/tests fixtures (state and blockchain tests) found under a directory.
    EfTests {
        /// Directory searched recursively for fixture JSON files.
        dir: PathBuf,
    },
}

/// Options of the standalone execution client.
#[derive(Debug, clap::Args)]
pub(super) struct ElRunArgs {
    /// Chain spec (Alys chain spec JSON, whose `genesis` is used) or a geth genesis JSON file.
    #[arg(long)]
    chain: Option<PathBuf>,
    /// Data directory.
    #[arg(long, default_value = "./alys-el-data")]
    datadir: PathBuf,
    /// Engine API port.
    #[arg(long, default_value_t = 8551)]
    authrpc_port: u16,
    /// Engine API listen address.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    authrpc_addr: IpAddr,
    /// Engine API JWT secret file (32 bytes hex); created if missing.
    #[arg(long)]
    jwt_secret: Option<PathBuf>,
    /// eth JSON-RPC port (HTTP and WebSocket).
    #[arg(long, default_value_t = 8545)]
    http_port: u16,
    /// eth JSON-RPC listen address.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    http_addr: IpAddr,
    #[command(flatten)]
    eth_rpc: EthRpcArgs,
    #[command(flatten)]
    txpool: super::txpool_args::TxPoolArgs,
}

impl ElCommand {
    /// The eth JSON-RPC server of `alys el`.
    #[cfg(test)]
    pub(super) fn eth_http(&self) -> alys_evm::eth::server::RpcServerConfig {
        self.run.eth_http()
    }

    /// Runs the command.
    pub(crate) async fn run(self) -> eyre::Result<()> {
        match self.sub {
            Some(ElSub::EfTests { dir }) => {
                let report =
                    tokio::task::spawn_blocking(move || alys_ef_tests::run_dir(&dir)).await?;
                println!("{report}");
                if report.failed.is_empty() {
                    Ok(())
                } else {
                    eyre::bail!("{} ethereum/tests cases failed", report.failed.len())
                }
            }
            Some(ElSub::CheckDb { chain, datadir }) => check_db(&chain, &datadir),
            None => self.run.run().await,
        }
    }
}

fn check_db(chain: &std::path::Path, datadir: &std::path::Path) -> eyre::Result<()> {
    let genesis = load_genesis(chain)?;
    let store = std::sync::Arc::new(alys_store::Store::open(&datadir.join("el"))?);
    let chain = alys_evm::chain::Chain::open(store, &genesis)?;
    let (head, hash) = chain.head();
    let root = alys_evm::verify::flat_state_root(chain.db())?;
    println!("head {} {hash} state root {}", head.number, head.state_root);
    if root != head.state_root {
        eyre::bail!(
            "flat state hashes to {root}, head state root is {}",
            head.state_root
        );
    }
    println!("ok: flat state matches the head state root");
    Ok(())
}

/// Reads a genesis from an Alys chain spec (its `genesis` field) or a geth genesis file.
pub(super) fn load_genesis(path: &std::path::Path) -> eyre::Result<alloy_genesis::Genesis> {
    let text =
        std::fs::read_to_string(path).wrap_err_with(|| format!("reading {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .wrap_err_with(|| format!("{} is not valid JSON", path.display()))?;
    let genesis = value.get("genesis").cloned().unwrap_or(value);
    serde_json::from_value(genesis).wrap_err_with(|| format!("{}: invalid genesis", path.display()))
}

impl ElRunArgs {
    /// The eth JSON-RPC server: no CORS unless `--http-corsdomain` says otherwise.
    fn eth_http(&self) -> alys_evm::eth::server::RpcServerConfig {
        self.eth_rpc.server_config(
            SocketAddr::new(self.http_addr, self.http_port),
            alys_evm::eth::server::Cors::Disabled,
        )
    }

    async fn run(self) -> eyre::Result<()> {
        let eth_http = self.eth_http();
        let chain = self
            .chain
            .ok_or_else(|| eyre::eyre!("--chain <spec or genesis file> is required"))?;
        let genesis = load_genesis(&chain)?;
        let jwt_path = self
            .jwt_secret
            .unwrap_or_else(|| self.datadir.join("jwt.hex"));
        let jwt_secret = alys_engine::load_or_create_jwt_secret(&jwt_path)?;
        let el = EmbeddedEl::start(ElConfig {
            datadir: self.datadir.clone(),
            genesis,
            authrpc_addr: SocketAddr::new(self.authrpc_addr, self.authrpc_port),
            http: Some(eth_http),
            jwt_secret,
            pool: self.txpool.pool_config(),
        })
        .await?;
        println!(
            "Engine API: {} (JWT secret {})",
            el.engine_url(),
            jwt_path.display()
        );
        if let Some(url) = el.http_url() {
            println!("eth JSON-RPC: {url}");
        }
        tokio::signal::ctrl_c().await?;
        el.stop().await;
        Ok(())
    }
}
