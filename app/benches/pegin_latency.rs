//! Peg-in latency: from the Bitcoin block that gives a deposit its required confirmation to the
//! mint being in an imported sidechain block. Target: the mint lands in the next slot.
//!
//! `cargo bench -p alys --bench pegin_latency` (`ALYS_BENCH_PEGINS`, default 20 deposits).
//! Starts `alys dev` without Bitcoin auto-mining (the bench mines), funds the devnet wallet, then
//! per deposit: wallet-built deposit (`createrawtransaction` with the federation address and a
//! 20-byte OP_RETURN → `fundrawtransaction` → `signrawtransactionwithwallet` →
//! `sendrawtransaction`), mine the blocks up to one short of `requiredBtcConfirmations`, wait
//! until the node has seen them, sleep a random 0–1 slot (so t0 covers every phase of the slot),
//! mine the last block and take t0 when `generatetoaddress` returns. Poll every 10 ms:
//! `getpeginstatus` until "minted", then `eth_getBalance` (latest) until it equals
//! sats × 10^10: t1. Latency = t1 − t0; the slot of the minting block (`getblockbyhash` of
//! `mintedIn`) minus the slot of t0 (slot = floor(unix ms / slot ms), the node's clock) is the
//! number of slots the mint took: 1 = the next slot = target met.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use alys_test_utils::bench_env::now_ms as unix_ms;
use common::{hex_u128, p50_p90_max, Dev, POLL};

use serde_json::json;

/// One measured deposit.
struct Sample {
    sats: u64,
    /// t0 → state "confirmed" first seen (the follower has connected the block).
    confirmed_ms: f64,
    /// t0 → `getpeginstatus` says "minted".
    minted_ms: f64,
    /// t0 → `eth_getBalance` shows the mint (the latency).
    latency_ms: f64,
    /// t0 → start of the next slot.
    to_next_slot_ms: u64,
    /// Slot of the minting block − slot at t0 (1 = next slot).
    slots: u64,
    /// Execution block number of the mint − `eth_blockNumber` at t0.
    blocks: u64,
    /// Start of the minting slot → the balance shows the mint (production + import + polling).
    in_slot_ms: f64,
}

fn main() {
    let k: usize = std::env::var("ALYS_BENCH_PEGINS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(dir.path(), &[]);
    let (node, eth) = (&dev.node, &dev.eth);

    let spec = dev.spec();
    let required = spec["requiredBtcConfirmations"]
        .as_u64()
        .unwrap_or(6)
        .max(1);
    let slot_ms = spec["slotDurationMs"].as_u64().unwrap();
    let fed = node.call("getdepositaddress", json!([])).unwrap();
    let fed = fed.as_str().unwrap().to_string();
    let mine = |n: u64| dev.mine(n);
    println!(
        "peg-in latency: {k} deposits, requiredBtcConfirmations = {required}, slot = {slot_ms} ms, \
         poll every {} ms",
        POLL.as_millis()
    );

    let mut samples = Vec::new();
    for i in 0..k {
        let recipient: [u8; 20] = rand::random();
        let recipient_hex = format!("0x{}", hex::encode(recipient));
        let sats = 100_000 + i as u64;
        let txid = dev.wallet_deposit(&fed, sats, &recipient);
        let status = || node.call("getpeginstatus", json!([txid]));

        // All confirmations but the last; wait until the follower has them.
        if required > 1 {
            mine(required - 1);
            dev.wait("follower confirmations", Duration::from_secs(30), || {
                let c = status().ok()?["confirmations"].as_u64();
                (c == Some(required - 1)).then_some(())
            });
        }
        std::thread::sleep(Duration::from_millis(rand::random::<u64>() % slot_ms));

        mine(1);
        let t0 = Instant::now();
        let t0_ms = unix_ms();
        let head_t0 = hex_u128(&eth.call("eth_blockNumber", json!([])).unwrap()) as u64;
        let elapsed = |t: Instant| t.duration_since(t0).as_secs_f64() * 1000.0;

        let deadline = t0 + Duration::from_secs(60);
        let mut confirmed = None;
        let minted = loop {
            if let Ok(s) = status() {
                if confirmed.is_none() && (s["state"] == "confirmed" || s["state"] == "minted") {
                    confirmed = Some(Instant::now());
                }
                if s["state"] == "minted" {
                    break (Instant::now(), s);
                }
            }
            assert!(
                Instant::now() < deadline,
                "not minted in 60 s: {:?}\n{}",
                status(),
                dev.log_tail()
            );
            std::thread::sleep(POLL);
        };
        let expected = u128::from(sats) * 10u128.pow(10);
        let t1 = loop {
            let b = eth.call("eth_getBalance", json!([recipient_hex, "latest"]));
            if b.as_ref().map(hex_u128).ok() == Some(expected) {
                break Instant::now();
            }
            assert!(Instant::now() < deadline, "balance {b:?} != {expected}");
            std::thread::sleep(POLL);
        };
        assert_eq!(minted.1["sats"], sats, "{}", minted.1);
        let block = node
            .call("getblockbyhash", json!([minted.1["mintedIn"]]))
            .unwrap();
        let mint_slot = block["slot"].as_u64().unwrap();
        let mint_number = block["executionBlockNumber"].as_u64().unwrap();
        let eth_block = eth
            .call(
                "eth_getBlockByNumber",
                json!([format!("{mint_number:#x}"), false]),
            )
            .unwrap();
        assert_eq!(
            hex_u128(&eth_block["timestamp"]) as u64,
            mint_slot * slot_ms / 1000,
            "block timestamp is its slot start"
        );
        let slots = mint_slot.saturating_sub(t0_ms / slot_ms);
        let latency_ms = elapsed(t1);
        let mint_slot_start = mint_slot * slot_ms;
        let s = Sample {
            sats,
            confirmed_ms: elapsed(confirmed.unwrap()),
            minted_ms: elapsed(minted.0),
            latency_ms,
            to_next_slot_ms: slot_ms - t0_ms % slot_ms,
            slots,
            blocks: mint_number.saturating_sub(head_t0),
            in_slot_ms: latency_ms - mint_slot_start.saturating_sub(t0_ms) as f64,
        };
        eprintln!(
            "deposit {:>2}/{k}: {} sats, latency {:.0} ms, {} slot(s)",
            i + 1,
            s.sats,
            s.latency_ms,
            s.slots
        );
        samples.push(s);
    }

    println!();
    println!(
        "| # | t0 → next slot (ms) | t0 → follower confirmed (ms) | t0 → minted status (ms) | \
         latency t0 → balance (ms) | after slot start (ms) | latency / slot | slots after t0 | \
         blocks after t0 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, s) in samples.iter().enumerate() {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {} | {} |",
            i + 1,
            s.to_next_slot_ms,
            s.confirmed_ms,
            s.minted_ms,
            s.latency_ms,
            s.in_slot_ms,
            s.latency_ms / slot_ms as f64,
            s.slots,
            s.blocks
        );
    }
    println!();
    println!("| figure | p50 (ms) | p90 (ms) | max (ms) | p50 / slot | p90 / slot | max / slot |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    type Figure = (&'static str, fn(&Sample) -> f64);
    let rows: [Figure; 4] = [
        ("t0 → follower confirmed", |s| s.confirmed_ms),
        ("minting slot start → balance", |s| s.in_slot_ms),
        ("t0 → minted status", |s| s.minted_ms),
        ("**latency** (t0 → balance)", |s| s.latency_ms),
    ];
    for (name, f) in rows {
        let (p50, p90, max) = p50_p90_max(samples.iter().map(f).collect());
        let slot = slot_ms as f64;
        println!(
            "| {name} | {p50:.0} | {p90:.0} | {max:.0} | {:.2} | {:.2} | {:.2} |",
            p50 / slot,
            p90 / slot,
            max / slot
        );
    }
    let next = samples.iter().filter(|s| s.slots <= 1).count();
    let mut hist = std::collections::BTreeMap::new();
    for s in &samples {
        *hist.entry(s.slots).or_insert(0usize) += 1;
    }
    let hist: Vec<String> = hist
        .iter()
        .map(|(slots, n)| format!("{slots} slot(s): {n}"))
        .collect();
    println!();
    println!(
        "minted in the next slot (target): {next}/{} ({:.0} %); slots after t0: {}",
        samples.len(),
        100.0 * next as f64 / samples.len() as f64,
        hist.join(", ")
    );
}
