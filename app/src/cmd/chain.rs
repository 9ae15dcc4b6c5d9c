//! `alys chain`: chain-spec tools. `export-genesis` writes the genesis file an external
//! execution client (Geth, Reth, Erigon, Besu, EthereumJS) is initialised with, so that its
//! genesis block is the one the spec commits to.

use std::path::PathBuf;

use alloy::eips::eip7840::BlobParams;
use alys_primitives::ChainSpec;
use eyre::WrapErr;

/// `alys chain` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ChainCommand {
    /// Write the execution genesis of a chain spec for an external execution client.
    ExportGenesis(ExportGenesisArgs),
}

/// Genesis file formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum GenesisFormat {
    /// Geth's `genesis.json` (`geth init`, `reth --chain`, `erigon init`, Besu
    /// `--genesis-file`, EthereumJS `--gethGenesis`).
    Geth,
}

/// Arguments of `alys chain export-genesis`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportGenesisArgs {
    /// Chain spec file (JSON).
    #[arg(long)]
    chain: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "geth")]
    format: GenesisFormat,
    /// Output file (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

impl ChainCommand {
    /// Runs the subcommand.
    pub(crate) async fn run(self) -> eyre::Result<()> {
        match self {
            ChainCommand::ExportGenesis(args) => args.run(),
        }
    }
}

impl ExportGenesisArgs {
    fn run(self) -> eyre::Result<()> {
        let spec = ChainSpec::from_file(&self.chain)?;
        let hash = spec.genesis_header()?.hash_slow();
        let json = match self.format {
            GenesisFormat::Geth => geth_genesis(&spec)?,
        };
        match &self.out {
            Some(path) => std::fs::write(path, json + "\n")
                .wrap_err_with(|| format!("writing {}", path.display()))?,
            None => println!("{json}"),
        }
        // On stderr, so the file on stdout stays clean: what the EL must report for block 0.
        eprintln!("genesis block hash {hash}");
        Ok(())
    }
}

/// The spec's genesis as Geth's `genesis.json`, with the fields recent clients require
/// spelled out: the Cancun blob schedule (EIP-7840; Geth 1.15+ refuses a Cancun genesis
/// without it) and zero blob gas fields. None of them changes the genesis block hash.
fn geth_genesis(spec: &ChainSpec) -> eyre::Result<String> {
    let mut genesis = spec.genesis.clone();
    if genesis.config.cancun_time.is_some() {
        genesis
            .config
            .blob_schedule
            .entry("cancun".to_owned())
            .or_insert_with(BlobParams::cancun);
    }
    genesis.excess_blob_gas.get_or_insert(0);
    genesis.blob_gas_used.get_or_insert(0);
    Ok(serde_json::to_string_pretty(&genesis)?)
}
