//! The flag group of the servers `alys dev` and `alys node` both run: listen addresses (one
//! per service, `--addr` the default of all), the embedded execution client's ports and eth
//! RPC options, the node JSON-RPC port, user and connection limits.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use alys_evm::eth::server::{Cors, RpcServerConfig};
use alys_rpc::ConnectionLimits;

use super::{eth_rpc_args::EthRpcArgs, txpool_args::TxPoolArgs, wiring::NodeRpc};

/// Where the RPC servers listen and how many connections they hold (the passwords stay with
/// each command: `alys node` serves its RPC only when given one).
#[derive(Debug, Clone, clap::Args)]
pub(super) struct ServerArgs {
    /// Listen address of every server whose own address flag is not given (`--rpc-addr`,
    /// `--http-addr`, `--authrpc-addr`, `--ui-addr`, the regtest Bitcoin of `alys dev`).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    addr: IpAddr,
    /// Listen address of the node JSON-RPC (default: `--addr`).
    #[arg(long)]
    rpc_addr: Option<IpAddr>,
    /// Listen address of the embedded execution client's eth JSON-RPC (default: `--addr`).
    #[arg(long)]
    http_addr: Option<IpAddr>,
    /// Listen address of the embedded execution client's Engine API (default: `--addr`).
    #[arg(long)]
    authrpc_addr: Option<IpAddr>,
    /// eth JSON-RPC port (HTTP and WebSocket) of the embedded execution client (`alys dev`: of
    /// the first authority's).
    #[arg(long, default_value_t = 8545)]
    http_port: u16,
    /// Engine API port of the embedded execution client (`alys dev`: of the first authority's).
    #[arg(long, default_value_t = 8551)]
    authrpc_port: u16,
    /// Node JSON-RPC port (chain queries, merged-mining and peg methods).
    #[arg(long, default_value_t = 3000)]
    rpc_port: u16,
    /// Node JSON-RPC user (HTTP Basic auth).
    #[arg(long, default_value = "alys")]
    rpc_user: String,
    /// Most node JSON-RPC connections open at once; more are closed at once.
    #[arg(long, default_value_t = alys_rpc::DEFAULT_LIMITS.max_connections)]
    rpc_max_connections: usize,
    /// Most node JSON-RPC connections open at once from one client address (IPv4 address or
    /// IPv6 /64).
    #[arg(long, default_value_t = alys_rpc::DEFAULT_LIMITS.max_per_ip)]
    rpc_max_connections_per_ip: usize,
    /// Seconds a node JSON-RPC client has to send a request's headers (also the longest an
    /// idle connection stays open).
    #[arg(long, default_value_t = alys_rpc::DEFAULT_LIMITS.header_read_timeout.as_secs())]
    rpc_header_timeout: u64,
    /// Seconds a node JSON-RPC client has to send a request's body.
    #[arg(long, default_value_t = alys_rpc::DEFAULT_LIMITS.body_read_timeout.as_secs())]
    rpc_body_timeout: u64,
    #[command(flatten)]
    eth_rpc: EthRpcArgs,
    #[command(flatten)]
    txpool: TxPoolArgs,
}

impl ServerArgs {
    /// The default listen address (`--addr`).
    pub(super) fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The embedded execution client's pool limits.
    pub(super) fn pool_config(&self) -> alys_evm::txpool::PoolConfig {
        self.txpool.pool_config()
    }

    /// The node JSON-RPC user.
    pub(super) fn rpc_user(&self) -> &str {
        &self.rpc_user
    }

    /// The embedded execution client's Engine API address.
    pub(super) fn authrpc_addr(&self) -> SocketAddr {
        SocketAddr::new(self.authrpc_addr.unwrap_or(self.addr), self.authrpc_port)
    }

    /// The embedded execution client's eth JSON-RPC server, whose CORS is `default_cors`
    /// unless `--http-corsdomain` says otherwise.
    pub(super) fn eth_http(&self, default_cors: Cors) -> RpcServerConfig {
        let addr = SocketAddr::new(self.http_addr.unwrap_or(self.addr), self.http_port);
        self.eth_rpc.server_config(addr, default_cors)
    }

    /// The node JSON-RPC server with `password` and the payout address of `getauxblock`
    /// without arguments.
    pub(super) fn node_rpc(
        &self,
        password: String,
        miner_payout: Option<alloy_primitives::Address>,
    ) -> NodeRpc {
        NodeRpc {
            addr: SocketAddr::new(self.rpc_addr.unwrap_or(self.addr), self.rpc_port),
            credentials: alys_rpc::Credentials {
                user: self.rpc_user.clone(),
                password,
            },
            miner_payout,
            public: None,
            limits: ConnectionLimits {
                max_connections: self.rpc_max_connections,
                max_per_ip: self.rpc_max_connections_per_ip,
                header_read_timeout: Duration::from_secs(self.rpc_header_timeout),
                body_read_timeout: Duration::from_secs(self.rpc_body_timeout),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        servers: ServerArgs,
    }

    fn args(a: &[&str]) -> ServerArgs {
        Cli::try_parse_from(std::iter::once("alys").chain(a.iter().copied()))
            .unwrap()
            .servers
    }

    #[test]
    fn each_service_binds_its_own_address_else_the_default() {
        let all = args(&["--addr", "0.0.0.0"]);
        assert_eq!(all.authrpc_addr(), "0.0.0.0:8551".parse().unwrap());
        assert_eq!(
            all.eth_http(Cors::Disabled).addr,
            "0.0.0.0:8545".parse().unwrap()
        );
        let rpc = all.node_rpc("p".into(), None);
        assert_eq!(rpc.addr, "0.0.0.0:3000".parse().unwrap());
        assert_eq!(rpc.limits, alys_rpc::DEFAULT_LIMITS);

        let split = args(&[
            "--rpc-addr",
            "10.0.0.5",
            "--http-addr",
            "10.0.0.6",
            "--rpc-max-connections",
            "9",
            "--rpc-max-connections-per-ip",
            "3",
            "--rpc-header-timeout",
            "4",
            "--rpc-body-timeout",
            "5",
        ]);
        assert_eq!(split.authrpc_addr(), "127.0.0.1:8551".parse().unwrap());
        assert_eq!(
            split.eth_http(Cors::Disabled).addr,
            "10.0.0.6:8545".parse().unwrap()
        );
        let rpc = split.node_rpc("p".into(), None);
        assert_eq!(rpc.addr, "10.0.0.5:3000".parse().unwrap());
        assert_eq!(
            rpc.limits,
            ConnectionLimits {
                max_connections: 9,
                max_per_ip: 3,
                header_read_timeout: Duration::from_secs(4),
                body_read_timeout: Duration::from_secs(5),
            }
        );
    }
}
