//! Subcommands of the `alys` binary.

mod btc_devnet;
mod chain;
mod dev;
mod el;
mod eth_rpc_args;
mod keys;
mod metrics_args;
mod network_args;
mod node;
mod p2p;
mod server_args;
mod ui_args;
mod wiring;

/// What to run.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Run a complete development chain in one process.
    Dev(dev::DevArgs),
    /// Run a production node (authority with --signer-key, otherwise a full node).
    Node(node::NodeArgs),
    /// Run the embedded execution client as its own process, or its conformance runner.
    El(el::ElCommand),
    /// Run the embedded regtest Bitcoin (Bitcoin Core-compatible RPC) as its own process.
    BtcDevnet(btc_devnet::BtcDevnetArgs),
    /// Chain-spec tools (the genesis file of an external execution client).
    #[command(subcommand)]
    Chain(chain::ChainCommand),
    /// Generate and inspect key files (BLS signer, Bitcoin federation, p2p node key).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

impl Command {
    /// Runs the subcommand to completion.
    pub(crate) async fn run(self) -> eyre::Result<()> {
        match self {
            Command::Dev(c) => c.run().await,
            Command::Node(c) => c.run().await,
            Command::El(c) => c.run().await,
            Command::BtcDevnet(c) => c.run().await,
            Command::Chain(c) => c.run().await,
            Command::Keys(c) => c.run(),
        }
    }
}
