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
mod payouts;
mod server_args;
mod txpool_args;
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

#[cfg(test)]
mod tests {
    use alys_evm::eth::server::Cors;
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("alys").chain(args.iter().copied()))
            .unwrap()
            .command
    }

    fn eth_cors(args: &[&str]) -> Cors {
        match parse(args) {
            Command::Dev(c) => c.eth_http().cors,
            Command::Node(c) => c.eth_http().cors,
            Command::El(c) => c.eth_http().cors,
            _ => unreachable!(),
        }
    }

    #[test]
    fn eth_rpc_cors_is_open_in_dev_only() {
        assert_eq!(eth_cors(&["dev"]), Cors::Any);
        // No origin (the peg web page adds its own when served).
        assert_eq!(
            eth_cors(&["node", "--chain", "c.json", "--embedded-el"]),
            Cors::Origins(Vec::new())
        );
        assert_eq!(eth_cors(&["el"]), Cors::Disabled);
        // An explicit value wins everywhere.
        assert_eq!(
            eth_cors(&["dev", "--http-corsdomain", "none"]),
            Cors::Disabled
        );
        assert_eq!(
            eth_cors(&[
                "node",
                "--chain",
                "c.json",
                "--embedded-el",
                "--http-corsdomain",
                "*"
            ]),
            Cors::Any
        );
        assert_eq!(
            eth_cors(&["el", "--http-corsdomain", "https://app.example"]),
            Cors::Origins(vec!["https://app.example".into()])
        );
    }
}
