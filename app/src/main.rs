//! The `alys` binary: parses the command line (and its config file) and runs the subcommand.

/// mimalloc: the node is allocation-heavy (JSON-RPC, EVM, SSZ) and multi-threaded; it serves
/// RPC measurably faster than the system allocator (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> eyre::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = match alys::Cli::try_parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        Err(alys::CliError::Args(e)) => e.exit(),
        Err(alys::CliError::Config(e)) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    cli.run()
}
