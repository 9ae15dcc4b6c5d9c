//! Subcommands of the `alys` binary.

mod el;

/// What to run.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the embedded execution client as its own process, or its conformance runner.
    El(el::ElCommand),
}

impl Command {
    /// Runs the subcommand to completion.
    pub async fn run(self) -> eyre::Result<()> {
        match self {
            Command::El(c) => c.run().await,
        }
    }
}
