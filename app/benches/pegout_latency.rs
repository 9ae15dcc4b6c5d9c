//! Peg-out latency: from the burn being in an imported sidechain block to its payout proposed,
//! signed and broadcast on Bitcoin, and from each Bitcoin block to the node reporting the
//! payout's confirmations.
//!
//! Targets: the payout is proposed in the block after the burn's (≤ 2 slots after the burn is
//! mined) and broadcast within the slot after that (≤ 1 slot after the proposal, ≤ 3 slots
//! after the burn); a confirmation is seen within the payout signer's poll interval (500 ms)
//! plus one poll of the Bitcoin follower (100 ms).
//!
//! `cargo bench -p alys --bench pegout_latency` (`ALYS_BENCH_PEGOUTS`, default 10 burns).
//! Starts `alys dev --authorities 3` without Bitcoin auto-mining (the bench mines), funds the
//! federation with three wallet-built deposits and waits until they are minted and in the
//! federation's UTXO total. Then per burn, one at a time: sleep a random 0–1 slot, `cast send
//! --async` of the Bridge's `requestPegOut(bytes)` to a new bech32 address of the devnet wallet,
//! poll `eth_getTransactionReceipt` every 10 ms: t0 when it is there. Poll `getpegoutstatus`
//! every 10 ms: t_proposed when `payoutTxid` appears, t_broadcast when the state is
//! "broadcast" (or later); the payout must then be in the devnet's mempool. Sleep a random
//! 0–500 ms (the signer's phase), mine one block (t_mined when `generatetoaddress` returns) and
//! poll until "confirmed": the 1-confirmation detection delay. The payout must pay the burn's
//! address (its output to that scriptPubKey, less a fee share). Then mine up to one short of
//! `requiredBtcConfirmations`, wait until the node shows them, sleep again, mine the last one
//! and poll until `confirmations` reaches it.
#![allow(clippy::unwrap_used)] // bench code: a failed unwrap is a failed run

mod common;

use std::time::{Duration, Instant};

use alys_federation::bitcoin::{Address, Network};
use alys_primitives::{dev::DEV_ACCOUNTS, BRIDGE_ADDRESS};
use alys_test_utils::bench_env::env_u64;
use alys_test_utils::nodes::cast;
use common::{p50_p90_max, Dev};

use serde_json::{json, Value};

const WEI_PER_SAT: u128 = 10_000_000_000;
/// The payout signer's poll interval and the Bitcoin follower's (the confirmation target).
const SIGNER_POLL_MS: u64 = 500;
const FOLLOWER_POLL_MS: u64 = 100;
const DEPOSITS: u64 = 3;
const TIMEOUT: Duration = Duration::from_secs(60);

/// One measured burn (times in ms).
struct Sample {
    sats: u64,
    /// t0 → `payoutTxid` seen.
    proposed_ms: f64,
    /// Slot of the proposing block − slot of the burn's block (1 = the next block).
    proposed_slots: u64,
    /// t_proposed → state "broadcast" seen.
    proposed_to_broadcast_ms: f64,
    /// t0 → state "broadcast" seen.
    broadcast_ms: f64,
    /// Block mined → state "confirmed" seen.
    confirm1_ms: f64,
    /// Last required block mined → `confirmations` = required seen.
    confirm_n_ms: f64,
}

/// The first request of the burn `hash`; fails on a refund.
fn request(dev: &Dev, hash: &str) -> Option<Value> {
    let s = dev.node.call("getpegoutstatus", json!([hash])).ok()?["requests"][0].clone();
    let state = s["state"].as_str().unwrap_or("");
    assert!(!state.starts_with("refund"), "burn {hash} refunded: {s}");
    Some(s)
}

/// The burn's status, the federation's summary, the devnet mempool and the log's peg-out
/// lines, for a failure.
fn peg_detail(dev: &Dev, hash: &str) -> String {
    let log = dev.process.log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("payout") || l.contains("peg-out") || l.contains("WARN"))
        .collect();
    format!(
        "status {:?}\nsummary {:?}\ndevnet mempool {:?}\n{}",
        dev.node.call("getpegoutstatus", json!([hash])),
        dev.node.call("getpegoutsummary", json!([])),
        dev.btc.call("getrawmempool", json!([])),
        lines[lines.len().saturating_sub(60)..].join("\n")
    )
}

fn since(t: Instant, from: Instant) -> f64 {
    t.duration_since(from).as_secs_f64() * 1000.0
}

fn random_sleep(max_ms: u64) {
    std::thread::sleep(Duration::from_millis(rand::random::<u64>() % max_ms));
}

/// The payout `txid` pays `address` its `sats` less a fee share, and has a confirmation.
fn check_payout(dev: &Dev, txid: &str, address: &str, sats: u64) {
    let tx = dev
        .btc
        .call("getrawtransaction", json!([txid, true]))
        .unwrap();
    assert!(tx["confirmations"].as_u64().unwrap_or(0) >= 1, "{tx}");
    let spk = address
        .parse::<Address<_>>()
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap()
        .script_pubkey();
    let spk = hex::encode(spk.as_bytes());
    let out = tx["vout"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["scriptPubKey"]["hex"] == spk.as_str())
        .unwrap_or_else(|| panic!("payout {txid} pays nothing to {address}: {tx}"));
    let paid = (out["value"].as_f64().unwrap() * 1e8).round() as u64;
    assert!(
        paid < sats && paid + 5_000 > sats,
        "payout {txid} pays {paid} for {sats}: {tx}"
    );
}

fn main() {
    let k = env_u64("ALYS_BENCH_PEGOUTS", 10) as usize;
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(dir.path(), &["--authorities", "3", "--no-ui"]);
    let (node, eth, btc) = (&dev.node, &dev.eth, &dev.btc);
    let spec = dev.spec();
    let required = spec["requiredBtcConfirmations"]
        .as_u64()
        .unwrap_or(6)
        .max(1);
    let slot_ms = spec["slotDurationMs"].as_u64().unwrap();
    let min_sats = spec["minPegOutSats"].as_u64().unwrap_or(10_000);
    let burn_sats = min_sats.max(50_000);

    // Fund the federation: three deposits holding all the burns twice over.
    let fed = node.call("getdepositaddress", json!([])).unwrap();
    let fed = fed.as_str().unwrap().to_string();
    let each = (2 * k as u64 * (burn_sats + k as u64)).div_ceil(DEPOSITS) + 100_000;
    let deposits: Vec<String> = (0..DEPOSITS)
        .map(|_| dev.wallet_deposit(&fed, each, &rand::random()))
        .collect();
    dev.mine(required);
    for txid in &deposits {
        dev.wait("mint of a deposit", TIMEOUT, || {
            let s = node.call("getpeginstatus", json!([txid])).ok()?;
            (s["state"] == "minted").then_some(())
        });
    }
    dev.wait("deposits in the federation's UTXOs", TIMEOUT, || {
        let s = node.call("getpegoutsummary", json!([])).ok()?;
        (s["utxoTotalSats"].as_u64()? >= DEPOSITS * each).then_some(())
    });
    println!(
        "peg-out latency: {k} burns of ≥ {burn_sats} sats (minPegOutSats = {min_sats}), \
         requiredBtcConfirmations = {required}, slot = {slot_ms} ms, poll every {} ms",
        common::POLL.as_millis()
    );

    let mut samples = Vec::new();
    for i in 0..k {
        let sats = burn_sats + i as u64;
        let address = btc.call("getnewaddress", json!(["", "bech32"])).unwrap();
        let address = address.as_str().unwrap().to_string();
        random_sleep(slot_ms);
        let value = (u128::from(sats) * WEI_PER_SAT).to_string();
        // The first prefunded dev account burns.
        let hash = cast(&[
            "send",
            "--private-key",
            &format!("{:#x}", DEV_ACCOUNTS[0].1),
            "--gas-limit",
            "200000",
            "-r",
            eth.url(),
            "--async",
            &format!("{BRIDGE_ADDRESS:#x}"),
            "requestPegOut(bytes)",
            &format!("0x{}", hex::encode(&address)),
            "--value",
            &value,
        ])
        .unwrap();
        let receipt = dev.wait("burn receipt", TIMEOUT, || {
            eth.call("eth_getTransactionReceipt", json!([hash])).ok()
        });
        let t0 = Instant::now();
        assert_eq!(receipt["status"], "0x1", "{receipt}");

        // Proposed, then signed and broadcast.
        let mut proposed: Option<(Instant, Value)> = None;
        let (t_broadcast, broadcast) = dev.wait_or(
            "payout broadcast",
            TIMEOUT,
            || {
                let s = request(&dev, &hash)?;
                if proposed.is_none() && s["payoutTxid"].is_string() {
                    proposed = Some((Instant::now(), s.clone()));
                }
                matches!(s["state"].as_str(), Some("broadcast" | "confirmed"))
                    .then(|| (Instant::now(), s))
            },
            || peg_detail(&dev, &hash),
        );
        let (t_proposed, proposed) = proposed.unwrap();
        assert_eq!(proposed["bitcoinAddress"], address.as_str(), "{proposed}");
        assert_eq!(proposed["sats"], sats, "{proposed}");
        let txid = proposed["payoutTxid"].as_str().unwrap().to_string();
        assert_eq!(broadcast["payoutTxid"], txid.as_str(), "{broadcast}");
        let mempool = btc.call("getrawmempool", json!([])).unwrap();
        assert!(
            mempool
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == txid.as_str()),
            "payout {txid} broadcast but not in the mempool: {mempool}"
        );
        let slot_of = |block: &Value| {
            node.call("getblockbyhash", json!([block])).unwrap()["slot"]
                .as_u64()
                .unwrap()
        };
        let proposed_slots = slot_of(&proposed["proposedIn"]) - slot_of(&proposed["requestedIn"]);

        // One confirmation.
        let confirmations = || request(&dev, &hash).and_then(|s| s["confirmations"].as_u64());
        random_sleep(SIGNER_POLL_MS);
        dev.mine(1);
        let t_mined = Instant::now();
        dev.wait("payout confirmed", TIMEOUT, || {
            (request(&dev, &hash)?["state"] == "confirmed").then_some(())
        });
        let confirm1_ms = since(Instant::now(), t_mined);
        check_payout(&dev, &txid, &address, sats);

        // The required confirmations.
        let confirm_n_ms = if required > 1 {
            if required > 2 {
                dev.mine(required - 2);
                dev.wait("confirmations", TIMEOUT, || {
                    (confirmations()? >= required - 1).then_some(())
                });
            }
            random_sleep(SIGNER_POLL_MS);
            dev.mine(1);
            let t_mined = Instant::now();
            dev.wait("required confirmations", TIMEOUT, || {
                (confirmations()? >= required).then_some(())
            });
            since(Instant::now(), t_mined)
        } else {
            confirm1_ms
        };

        let s = Sample {
            sats,
            proposed_ms: since(t_proposed, t0),
            proposed_slots,
            proposed_to_broadcast_ms: since(t_broadcast, t_proposed),
            broadcast_ms: since(t_broadcast, t0),
            confirm1_ms,
            confirm_n_ms,
        };
        eprintln!(
            "burn {:>2}/{k}: {} sats, proposed {:.0} ms ({} block slot(s)), broadcast {:.0} ms, \
             1 conf seen {:.0} ms, {required} confs seen {:.0} ms",
            i + 1,
            s.sats,
            s.proposed_ms,
            s.proposed_slots,
            s.broadcast_ms,
            s.confirm1_ms,
            s.confirm_n_ms
        );
        samples.push(s);
    }

    println!();
    println!(
        "| # | sats | burn mined → proposed (ms) | block slots | proposed → broadcast (ms) | \
         burn mined → broadcast (ms) | block → confirmed (ms) | last block → {required} confs (ms) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, s) in samples.iter().enumerate() {
        println!(
            "| {} | {} | {:.0} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            i + 1,
            s.sats,
            s.proposed_ms,
            s.proposed_slots,
            s.proposed_to_broadcast_ms,
            s.broadcast_ms,
            s.confirm1_ms,
            s.confirm_n_ms
        );
    }
    println!();
    println!(
        "| figure | p50 (ms) | p90 (ms) | max (ms) | p50 / p90 / max in slots | target | \
         p50 / p90 / max ÷ target |"
    );
    println!("|---|---:|---:|---:|---|---|---|");
    let slot = slot_ms as f64;
    let confirm_target = (SIGNER_POLL_MS + FOLLOWER_POLL_MS) as f64;
    type Figure = (&'static str, fn(&Sample) -> f64, f64, String);
    let rows: [Figure; 5] = [
        (
            "burn mined → proposed",
            |s| s.proposed_ms,
            2.0 * slot,
            "2 slots".into(),
        ),
        (
            "proposed → broadcast",
            |s| s.proposed_to_broadcast_ms,
            slot,
            "1 slot".into(),
        ),
        (
            "burn mined → broadcast",
            |s| s.broadcast_ms,
            3.0 * slot,
            "3 slots".into(),
        ),
        (
            "Bitcoin block mined → confirmed (1 conf)",
            |s| s.confirm1_ms,
            confirm_target,
            format!("{confirm_target:.0} ms"),
        ),
        (
            "last required block mined → required confs",
            |s| s.confirm_n_ms,
            confirm_target,
            format!("{confirm_target:.0} ms"),
        ),
    ];
    for (name, f, target, target_text) in rows {
        let (p50, p90, max) = p50_p90_max(samples.iter().map(f).collect());
        println!(
            "| {name} | {p50:.0} | {p90:.0} | {max:.0} | {:.2} / {:.2} / {:.2} | {target_text} | \
             {:.2} / {:.2} / {:.2} |",
            p50 / slot,
            p90 / slot,
            max / slot,
            p50 / target,
            p90 / target,
            max / target
        );
    }
    let next = samples.iter().filter(|s| s.proposed_slots == 1).count();
    println!();
    println!(
        "proposed in the block after the burn's (target): {next}/{}",
        samples.len()
    );
}
