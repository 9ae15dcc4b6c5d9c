//! The `alys` node: its command line (clap) and the wiring of the node's services. No protocol
//! logic lives here. The binary (`main.rs`) only parses and runs; the command's clap definition
//! is public ([`command`]) so that the config file and the checks of the deployment files and
//! docs read the same definition the binary parses with.

mod cmd;
pub mod config_file;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches, Parser};

pub use config_file::ConfigError;

/// The `alys` command line.
#[derive(Debug, Parser)]
#[command(
    name = "alys",
    version,
    about = "Alys: a Bitcoin merged-mined EVM sidechain node"
)]
pub struct Cli {
    #[command(subcommand)]
    command: cmd::Command,
}

/// Why the command line (with its config file) was refused.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line itself (clap's message, usage and exit code).
    #[error("{0}")]
    Args(#[from] clap::Error),
    /// The `--config` file.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The clap definition of `alys`, every subcommand and flag included.
pub fn command() -> clap::Command {
    Cli::command()
}

impl Cli {
    /// Parses `args` (program name first), with the `--config` file (or `ALYS_CONFIG`) of
    /// `alys node` and `alys dev` merged in: command line, then environment, then file, then
    /// defaults.
    pub fn try_parse_args<I, T>(args: I) -> Result<Self, CliError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = config_file::matches_with_config(command(), args)?;
        Ok(Self::from_arg_matches(&matches)?)
    }

    /// Runs the chosen subcommand to completion on a multi-threaded Tokio runtime.
    pub fn run(self) -> eyre::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(self.command.run())
    }
}
