//! The `alys` binary: command-line parsing and wiring of the node's services. No protocol
//! logic lives here.

mod cmd;

use clap::Parser;

/// mimalloc: the node is allocation-heavy (JSON-RPC, EVM, SSZ) and multi-threaded; it serves
/// RPC measurably faster than the system allocator (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "alys",
    version,
    about = "Alys: a Bitcoin merged-mined EVM sidechain node"
)]
struct Cli {
    #[command(subcommand)]
    command: cmd::Command,
}

fn main() -> eyre::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(cli.command.run())
}
