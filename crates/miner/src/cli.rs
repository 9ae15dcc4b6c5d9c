//! The command line of the `alys-miner` binary, here so that tools and tests can read its
//! clap definition (the deployment files and docs are checked against it).

use alloy_primitives::Address;

/// CPU merged miner for Alys.
#[derive(Debug, clap::Parser)]
#[command(name = "alys-miner", version)]
pub struct MinerArgs {
    /// Node JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// Node RPC user.
    #[arg(long, default_value = "alys")]
    pub user: String,
    /// Node RPC password.
    #[arg(long, env = "ALYS_RPC_PASSWORD", default_value = "alys")]
    pub password: String,
    /// EVM address receiving the miner's fee share.
    #[arg(long)]
    pub address: Address,
    /// Grinding threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Put the merged-mining commitment in a coinbase output (MARA style) instead of the
    /// coinbase scriptSig.
    #[arg(long)]
    pub commitment_in_output: bool,
    /// Milliseconds between polls for new work.
    #[arg(long, default_value_t = 250)]
    pub poll_ms: u64,
}
