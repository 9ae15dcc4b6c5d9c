//! The flag group of the servers `alys dev` and `alys node` both run: listen address, the
//! embedded execution client's ports and eth RPC options, the node JSON-RPC port and user.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use alys_evm::eth::server::RpcServerConfig;

use super::{eth_rpc_args::EthRpcArgs, wiring::NodeRpc};

/// Where the RPC servers listen (the passwords stay with each command: `alys node` serves its
/// RPC only when given one).
#[derive(Debug, Clone, clap::Args)]
pub(super) struct ServerArgs {
    /// Listen address of the RPC servers.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    addr: IpAddr,
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
    #[command(flatten)]
    eth_rpc: EthRpcArgs,
}

impl ServerArgs {
    /// The listen address of the RPC servers.
    pub(super) fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The node JSON-RPC user.
    pub(super) fn rpc_user(&self) -> &str {
        &self.rpc_user
    }

    /// The embedded execution client's Engine API address.
    pub(super) fn authrpc_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.authrpc_port)
    }

    /// The embedded execution client's eth JSON-RPC server.
    pub(super) fn eth_http(&self) -> RpcServerConfig {
        self.eth_rpc
            .server_config(SocketAddr::new(self.addr, self.http_port))
    }

    /// The node JSON-RPC server with `password` and the payout address of `getauxblock`
    /// without arguments.
    pub(super) fn node_rpc(
        &self,
        password: String,
        miner_payout: Option<alloy_primitives::Address>,
    ) -> NodeRpc {
        NodeRpc {
            addr: SocketAddr::new(self.addr, self.rpc_port),
            credentials: alys_rpc::Credentials {
                user: self.rpc_user.clone(),
                password,
            },
            miner_payout,
            public: None,
        }
    }
}
