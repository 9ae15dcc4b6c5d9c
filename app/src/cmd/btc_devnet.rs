//! `alys btc-devnet`: the embedded regtest Bitcoin (Bitcoin Core 28-compatible RPC) as its own
//! process.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use alys_btc_devnet::{BtcDevnet, DevnetConfig};

/// Arguments of `alys btc-devnet`.
#[derive(Debug, clap::Args)]
pub(crate) struct BtcDevnetArgs {
    /// Data directory (chain, mempool and wallet; replayed on restart).
    #[arg(long, default_value = "./alys-btc-devnet")]
    datadir: PathBuf,
    /// RPC port.
    #[arg(long, default_value_t = alys_btc_devnet::DEFAULT_RPC_PORT)]
    rpc_port: u16,
    /// RPC listen address.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    rpc_addr: IpAddr,
    /// RPC user (HTTP Basic auth).
    #[arg(long, default_value = "alys")]
    rpc_user: String,
    /// RPC password (HTTP Basic auth).
    #[arg(long, default_value = "alys")]
    rpc_password: String,
    /// Mine a block to the dev wallet every N seconds (off when absent).
    #[arg(long)]
    block_interval_secs: Option<u64>,
}

impl BtcDevnetArgs {
    /// Runs the devnet until Ctrl-C or the `stop` RPC.
    pub(crate) async fn run(self) -> eyre::Result<()> {
        let devnet = BtcDevnet::start(DevnetConfig {
            datadir: Some(self.datadir.clone()),
            rpc_addr: SocketAddr::new(self.rpc_addr, self.rpc_port),
            rpc_user: self.rpc_user.clone(),
            rpc_password: self.rpc_password.clone(),
            block_interval: self
                .block_interval_secs
                .filter(|s| *s > 0)
                .map(Duration::from_secs),
        })
        .await?;
        println!(
            "Bitcoin regtest RPC: {} (user {}, password {}), datadir {}",
            devnet.url(),
            self.rpc_user,
            self.rpc_password,
            self.datadir.display()
        );
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = devnet.stopped() => {}
        }
        devnet.shutdown().await;
        Ok(())
    }
}
