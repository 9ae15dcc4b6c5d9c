//! `alys-miner`: a CPU merged miner against an Alys node's RPC (createauxblock →
//! grind a parent block → submitauxblock).

use std::sync::atomic::Ordering;
use std::time::Duration;

use alloy_primitives::Address;
use alys_auxpow::CommitmentPlacement;
use alys_miner::{spawn, MinerConfig};
use clap::Parser;

/// CPU merged miner for Alys.
#[derive(Debug, Parser)]
#[command(name = "alys-miner", version)]
struct Args {
    /// Node JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Node RPC user.
    #[arg(long, default_value = "alys")]
    user: String,
    /// Node RPC password.
    #[arg(long, env = "ALYS_RPC_PASSWORD", default_value = "alys")]
    password: String,
    /// EVM address receiving the miner's fee share.
    #[arg(long)]
    address: Address,
    /// Grinding threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Put the merged-mining commitment in a coinbase output (MARA style) instead of the
    /// coinbase scriptSig.
    #[arg(long)]
    commitment_in_output: bool,
    /// Milliseconds between polls for new work.
    #[arg(long, default_value_t = 250)]
    poll_ms: u64,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let placement = if args.commitment_in_output {
        CommitmentPlacement::Output
    } else {
        CommitmentPlacement::ScriptSig
    };
    println!(
        "alys-miner: {} threads mining for {} against {}",
        args.threads.max(1),
        args.address,
        args.url
    );
    let miner = spawn(MinerConfig {
        url: args.url,
        user: args.user,
        password: args.password,
        address: args.address,
        threads: args.threads.max(1),
        placement,
        poll_interval: Duration::from_millis(args.poll_ms.max(10)),
    });
    let _ = tokio::signal::ctrl_c().await;
    let stats = miner.stats.clone();
    miner.stop().await;
    println!(
        "alys-miner: stopped; {} proofs accepted, {} rejected, {} hashes",
        stats.accepted.load(Ordering::Relaxed),
        stats.rejected.load(Ordering::Relaxed),
        stats.hashes.load(Ordering::Relaxed)
    );
}
