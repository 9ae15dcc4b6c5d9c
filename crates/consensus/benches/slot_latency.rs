//! Slot latency of a 3-authority federation in one process, on the wall clock: for each slot,
//! the time from the slot's start to the block being imported by all three authorities (each
//! with its own embedded execution client over the Engine API), and the share of slots that got
//! no block. The execution clients are idle (empty blocks).
//!
//! Run: `cargo bench -p alys-consensus --bench slot_latency` (env `ALYS_BENCH_SLOTS`, default
//! 300; slots are 1 s, so the default run takes about five minutes).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::{sync::Arc, time::Duration};

use alys_consensus::{NoPegIns, SlotClock};
use alys_test_utils::federation::{
    dev_spec, run_federation, start_nodes, temp_dirs, RunningFederation,
};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `RUST_LOG=warn` shows retries and slow paths behind outliers.
    let slots: u64 = std::env::var("ALYS_BENCH_SLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let spec = dev_spec(3, 1000);
    let clock = SlotClock::system(spec.slot_duration_ms);
    let dirs = temp_dirs(3);
    let nodes = start_nodes(&dirs, &spec, &clock, |_| Arc::new(NoPegIns)).await;
    let federation = run_federation(&spec, nodes);
    let RunningFederation {
        inputs, statuses, ..
    } = &federation;
    let mut statuses = statuses.clone();
    for tx in inputs {
        alys_consensus::spawn_slot_ticker(clock.clone(), tx.clone());
    }

    let first = clock.current_slot() + 1;
    let mut latencies = Vec::new();
    let mut missed = 0u64;
    for slot in first..first + slots {
        let deadline = clock.slot_start_ms(slot + 1);
        let mut imported_at = 0u64;
        for st in statuses.iter_mut() {
            let wait = Duration::from_millis(deadline.saturating_sub(clock.now_ms()));
            match tokio::time::timeout(wait, st.wait_for(|s| s.head_slot >= slot)).await {
                Ok(Ok(_)) => imported_at = imported_at.max(clock.now_ms()),
                _ => {
                    imported_at = u64::MAX;
                    break;
                }
            }
        }
        if imported_at == u64::MAX {
            missed += 1;
            // Wait for the slot to end before measuring the next one.
            tokio::time::sleep(Duration::from_millis(
                deadline.saturating_sub(clock.now_ms()),
            ))
            .await;
        } else {
            let latency = imported_at - clock.slot_start_ms(slot);
            if latency > 150 {
                tracing::warn!(slot, latency, "slow slot");
            }
            latencies.push(latency);
        }
    }
    latencies.sort_unstable();
    let pct = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!("| slots | p50 (ms) | p99 (ms) | max (ms) | missed | p99 / 200 ms target |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {slots} | {} | {} | {} | {missed} ({:.1}%) | {:.2} |",
        pct(50),
        pct(99),
        latencies.last().copied().unwrap_or(0),
        missed as f64 * 100.0 / slots as f64,
        pct(99) as f64 / 200.0
    );
    federation.stop_els().await;
}
