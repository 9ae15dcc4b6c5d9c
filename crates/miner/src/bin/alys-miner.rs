//! `alys-miner`: a CPU merged miner against an Alys node's RPC (createauxblock →
//! grind a parent block → submitauxblock).

use std::sync::atomic::Ordering;
use std::time::Duration;

use alys_auxpow::CommitmentPlacement;
use alys_miner::{cli::MinerArgs, spawn, MinerConfig};
use clap::Parser;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = MinerArgs::parse();
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
