//! The embedded regtest Bitcoin (`alys_btc_devnet`) started in-process on a free port of
//! 127.0.0.1, and a Core RPC client (`alys_bitcoin::CoreRpcClient`) for it.

use std::net::SocketAddr;
use std::path::Path;

use alys_bitcoin::{Auth, ClientConfig, CoreRpcClient};
use alys_btc_devnet::{BtcDevnet, DevnetConfig};

/// Starts a devnet on a free port: in memory, or on `datadir` (replayed on restart).
pub async fn start_devnet(datadir: Option<&Path>) -> BtcDevnet {
    start_devnet_at(datadir, ([127, 0, 0, 1], 0).into()).await
}

/// Starts a devnet on `addr` (to come back where a stopped one was), with `datadir`.
pub async fn start_devnet_at(datadir: Option<&Path>, addr: SocketAddr) -> BtcDevnet {
    let mut config = DevnetConfig::local(0);
    config.datadir = datadir.map(Path::to_path_buf);
    config.rpc_addr = addr;
    BtcDevnet::start(config).await.expect("devnet starts")
}

/// A Core RPC client for `devnet` with its credentials and `config`.
pub fn core_client(devnet: &BtcDevnet, config: ClientConfig) -> CoreRpcClient {
    let (user, password) = devnet.credentials();
    CoreRpcClient::new(
        &devnet.url(),
        Auth::UserPass {
            user: user.into(),
            password: password.into(),
        },
        config,
    )
    .expect("Core RPC client")
}
