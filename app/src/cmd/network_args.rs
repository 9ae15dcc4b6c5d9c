//! The p2p flag group shared by `alys node` and `alys dev`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use alys_network::{Multiaddr, NetworkConfig, DEFAULT_MAX_PEERS, DEFAULT_P2P_PORT};

/// Where the node listens for peers and whom it connects to.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct NetworkArgs {
    /// p2p TCP port (0: any free port).
    #[arg(long, default_value_t = DEFAULT_P2P_PORT)]
    p2p_port: u16,
    /// p2p listen address.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    p2p_listen_addr: IpAddr,
    /// Peers to connect to and stay connected to, as multiaddrs
    /// (`/ip4/<ip>/tcp/<port>/p2p/<peer id>`, as every node prints at start); repeat the flag or
    /// separate with commas.
    #[arg(long, value_delimiter = ',')]
    bootnodes: Vec<Multiaddr>,
    /// Most connected peers.
    #[arg(long, default_value_t = DEFAULT_MAX_PEERS)]
    max_peers: u32,
    /// Do not start the p2p network (a node on its own).
    #[arg(long)]
    no_p2p: bool,
    /// Test-only: a file of peer ids (one per line) to refuse, re-read continuously (network
    /// partitions in the multi-process tests).
    #[arg(long, hide = true)]
    p2p_deny_file: Option<std::path::PathBuf>,
}

impl NetworkArgs {
    /// The network's settings for a node with data directory `datadir` (node key in
    /// `<datadir>/p2p/node.key`); `None` with `--no-p2p`.
    pub(super) fn config(&self, datadir: &Path) -> Option<NetworkConfig> {
        (!self.no_p2p).then(|| NetworkConfig {
            listen_addr: self.p2p_listen_addr,
            port: self.p2p_port,
            bootnodes: self.bootnodes.clone(),
            max_peers: self.max_peers,
            key_file: datadir.join("p2p").join("node.key"),
            deny_file: self.p2p_deny_file.clone(),
        })
    }
}
