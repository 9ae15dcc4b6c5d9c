//! Peg-out end to end on `alys dev --authorities 3` (2-of-3 peg threshold) with its embedded
//! regtest Bitcoin: a deposit built by python-bitcoinlib funds the federation; `cast send`
//! burns through the Bridge to a regtest bech32, bech32m and base58 address; the ledger puts
//! the requests in a payout proposed by a block; the members sign it, it is broadcast and confirms
//! on the devnet, which mines only when the test says so. `getpegoutstatus` of each burn is
//! polled every 20 ms from the burn on: the states it shows follow requested → proposed →
//! signed → broadcast → confirmed, include requested, broadcast (the payout in the devnet's
//! mempool, no block mined yet) and confirmed (in the block the test mined), and what each
//! carries (payout, signers, broadcast time) agrees with that order. The payout is checked with
//! `getrawtransaction`/`gettxout` and decoded by python-bitcoinlib;
//! a burn to an address of another network is refunded to the sender to the wei.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::{build_deposits, require_all, with_auth, DevProcess as Dev, Tool};
use serde_json::{json, Value};

const BRIDGE: &str = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB";
const ADDR0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// Regtest addresses of each kind.
const BECH32: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
const BECH32M: &str = "bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6";
const BASE58: &str = "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn";
/// A mainnet address: refunded on a regtest chain.
const MAINNET: &str = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
const WEI_PER_SAT: u128 = 10_000_000_000;

/// Burns `sats` to `address` from the first dev account, without waiting for it to be mined:
/// the transaction hash.
fn burn(rpc: &str, address: &str, sats: u64) -> String {
    let value = (u128::from(sats) * WEI_PER_SAT).to_string();
    common::send_async(
        rpc,
        &[
            BRIDGE,
            "requestPegOut(bytes)",
            &common::hex_of(address),
            "--value",
            &value,
        ],
    )
}

/// Mines `n` blocks on the devnet; the last one's hash.
fn mine(dev: &Dev, n: u64) -> String {
    let to = dev.btc("getnewaddress", json!([])).unwrap();
    let hashes = dev.btc("generatetoaddress", json!([n, to])).unwrap();
    hashes[hashes.as_array().unwrap().len() - 1]
        .as_str()
        .unwrap()
        .to_string()
}

/// The states `getpegoutstatus` walks a paid request through, in order.
const WALK: [&str; 5] = ["requested", "proposed", "signed", "broadcast", "confirmed"];
/// How often a [`Walk`] polls.
const WALK_POLL: Duration = Duration::from_millis(20);

/// `getpegoutstatus` of a burn's request, polled every [`WALK_POLL`] from a background thread
/// until it shows `confirmed` (or 180 s passed): the first status seen in each state, in the
/// order seen.
struct Walk(std::thread::JoinHandle<Vec<Value>>);

impl Walk {
    fn watch(dev: &Dev, hash: &str) -> Self {
        let rpc = common::JsonRpc::new(&dev.node_rpc, Some(("alys", "alys")));
        let hash = hash.to_string();
        Self(std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(180);
            let mut seen: Vec<Value> = Vec::new();
            while std::time::Instant::now() < deadline {
                let status = rpc
                    .call("getpegoutstatus", json!([hash]))
                    .ok()
                    .and_then(|s| s["requests"].get(0).cloned());
                if let Some(s) = status {
                    if seen.last().is_none_or(|l| l["state"] != s["state"]) {
                        seen.push(s.clone());
                    }
                    if s["state"] == "confirmed" {
                        break;
                    }
                }
                std::thread::sleep(WALK_POLL);
            }
            seen
        }))
    }

    /// The walk once it reached `confirmed`: checks the states seen are in order, include
    /// requested, broadcast and confirmed, and agree with each other; the states seen.
    fn check(self, hash: &str) -> Vec<String> {
        let seen = self.0.join().unwrap();
        let states: Vec<String> = seen
            .iter()
            .map(|s| s["state"].as_str().unwrap().to_string())
            .collect();
        let ranks: Vec<usize> = states
            .iter()
            .map(|s| {
                WALK.iter()
                    .position(|w| w == s)
                    .unwrap_or_else(|| panic!("{hash}: state {s} in {seen:?}"))
            })
            .collect();
        assert!(
            ranks.windows(2).all(|w| w[0] < w[1]),
            "{hash}: states out of order: {states:?}"
        );
        for state in ["requested", "broadcast", "confirmed"] {
            assert!(
                states.iter().any(|s| s == state),
                "{hash}: {state} never seen: {seen:?}"
            );
        }
        assert_eq!(states.last().unwrap(), "confirmed", "{seen:?}");
        let last = seen.last().unwrap();
        let requested_at = seen[0]["requestedAtHeight"].as_u64().unwrap();
        let signers = |s: &Value| -> Vec<u64> {
            s["signedBy"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_u64().unwrap())
                .collect()
        };
        for s in &seen[1..] {
            // Proposed by a later block, in the payout it keeps from then on.
            assert!(s["proposedIn"].is_string(), "{s}");
            assert_ne!(s["proposedIn"], seen[0]["requestedIn"], "{s}");
            assert_eq!(s["payoutTxid"], last["payoutTxid"], "{seen:?}");
            assert_eq!(s["requestedAtHeight"], requested_at, "{s}");
            match s["state"].as_str().unwrap() {
                "proposed" => assert!(s.get("signedBy").is_none(), "{s}"),
                "signed" => {
                    assert!(!signers(s).is_empty(), "{s}");
                    assert!(s["broadcastAt"].is_null(), "{s}");
                }
                // Broadcast once 2 of the 3 members signed; the first accepted broadcast's
                // time stays.
                _ => {
                    assert!(signers(s).len() >= 2, "{s}");
                    assert_eq!(s["broadcastAt"], last["broadcastAt"], "{seen:?}");
                }
            }
        }
        let signed: Vec<&Value> = seen
            .iter()
            .filter(|s| s.get("signedBy").is_some())
            .collect();
        assert!(
            signed
                .windows(2)
                .all(|w| signers(w[0]).iter().all(|m| signers(w[1]).contains(m))),
            "{hash}: signers lost: {seen:?}"
        );
        states
    }
}

/// The payout `txid` on the devnet pays each of `requests` (address, sats burned) its amount
/// less a fee share, in request order, its outputs unspent (`gettxout`); python-bitcoinlib
/// decodes it to the same outputs, and each input's witness is a 2-of-3 leaf-A script-path
/// spend: three signature slots (two 64-byte signatures, one empty), the script, the control
/// block.
fn check_payout_on_bitcoin(btc: &common::JsonRpc, txid: &str, requests: &[(&str, u64)]) {
    let tx = btc.call("getrawtransaction", json!([txid, true])).unwrap();
    let vout = tx["vout"].as_array().unwrap();
    let mut fee_shares = 0u64;
    for (i, (address, sats)) in requests.iter().enumerate() {
        let (n, paid) = common::payout_output(btc, txid, address);
        assert_eq!(n, i, "output {i} of {tx}");
        assert!(
            paid < *sats && paid + 5_000 > *sats,
            "output {i} pays {paid} for {sats}: {tx}"
        );
        fee_shares += sats - paid;
    }
    assert!(fee_shares > 0);

    let python = common::Tool::PythonBitcoinlib.locate().unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pegout/decode_payout.py");
    let url = common::with_auth(btc.url(), "alys", "alys");
    let out = std::process::Command::new(python)
        .arg(script)
        .args([url.as_str(), txid])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoded: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decoded["txid"], txid);
    for (i, output) in decoded["outputs"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            output["scriptPubKey"], vout[i]["scriptPubKey"]["hex"],
            "{decoded}"
        );
        assert_eq!(
            output["sats"].as_u64().unwrap(),
            (vout[i]["value"].as_f64().unwrap() * 1e8).round() as u64
        );
    }
    for input in decoded["inputs"].as_array().unwrap() {
        let witness: Vec<u64> = input["witness"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(witness.len(), 5, "{decoded}");
        assert_eq!(
            witness[..3].iter().filter(|n| **n == 64).count(),
            2,
            "{decoded}"
        );
        assert_eq!(
            witness[..3].iter().filter(|n| **n == 0).count(),
            1,
            "{decoded}"
        );
    }
}

fn status(dev: &Dev, hash: &str) -> Option<Value> {
    dev.node("getpegoutstatus", json!([hash]))
        .ok()
        .and_then(|s| s["requests"].get(0).cloned())
}

#[test]
fn burns_are_proposed_in_payouts_and_bad_addresses_refunded() {
    if require_all(&[Tool::PythonBitcoinlib, Tool::Cast]).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dev = common::start_dev(
        &dir.path().join("node"),
        &["--authorities", "3", "--btc-block-secs", "0", "--no-ui"],
    );
    let rpc = dev.eth_rpc.clone();

    // Fund the federation with a deposit.
    let fed = dev.node("getfederation", json!([])).unwrap();
    let spk = fed["scriptPubKey"].as_str().unwrap().to_string();
    let btc_url = with_auth(dev.bitcoin_rpc.as_deref().unwrap(), "alys", "alys");
    let deposit_sats = 900_000u64;
    let recipient: [u8; 20] = rand::random();
    let plan = json!([{"fed": [deposit_sats], "op_return": hex::encode(recipient)}]);
    let (_, txs) =
        build_deposits(&btc_url, &spk, &plan).unwrap_or_else(|e| panic!("{e}\n{}", dev.log_tail()));
    // The confirmations a deposit needs on the dev chain.
    mine(&dev, 2);
    common::wait_until(
        Duration::from_secs(120),
        "the deposit to be minted",
        || {
            let s = dev.pegin_status(&txs[0].txid).ok()?;
            (s["state"] == "minted").then_some(())
        },
        || dev.log_tail(),
    );
    common::wait_until(
        Duration::from_secs(30),
        "the federation's UTXO total to show the deposit",
        || {
            let s = dev.node("getpegoutsummary", json!([])).ok()?;
            (s["utxoTotalSats"] == deposit_sats).then_some(())
        },
        || format!("{:?}", dev.node("getpegoutsummary", json!([]))),
    );
    let fed = dev.node("getfederation", json!([])).unwrap();
    assert_eq!(fed["utxoTotalSats"], deposit_sats, "{fed}");
    assert_eq!(fed["pendingPegOuts"], 0, "{fed}");

    // Burns to the three address kinds, each watched from before it is mined: requested, then
    // proposed in a payout (the state may already be further on: signing and broadcast follow
    // within the slot).
    let mut hashes = Vec::new();
    let mut walks = Vec::new();
    for (address, sats) in [(BECH32, 100_000u64), (BECH32M, 50_000), (BASE58, 30_000)] {
        let hash = burn(&rpc, address, sats);
        walks.push(Walk::watch(&dev, &hash));
        let receipt = common::receipt(&rpc, &hash);
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        hashes.push((hash, address, sats));
    }
    for (hash, address, sats) in &hashes {
        let proposed = common::wait_until(
            Duration::from_secs(60),
            "the request to be proposed in a payout",
            || status(&dev, hash).filter(|s| s["payoutTxid"].is_string()),
            || format!("{:?}\n{}", status(&dev, hash), dev.log_tail()),
        );
        assert_eq!(proposed["bitcoinAddress"], *address, "{proposed}");
        assert_eq!(proposed["sats"], *sats, "{proposed}");
        assert_eq!(
            proposed["sender"].as_str().unwrap().to_lowercase(),
            ADDR0.to_lowercase()
        );
        assert!(proposed["payoutTxid"].is_string(), "{proposed}");
    }

    // Each payout is signed by at least 2 of the 3 members and broadcast: in the devnet's
    // mempool (which verified every input's script-path spend with libbitcoinconsensus), and
    // shown as broadcast while no block is mined.
    let btc = common::JsonRpc::new(dev.bitcoin_rpc.as_deref().unwrap(), Some(("alys", "alys")));
    for (hash, _, _) in &hashes {
        let broadcast = common::wait_until(
            Duration::from_secs(60),
            "the payout to be broadcast",
            || status(&dev, hash).filter(|s| s["state"] == "broadcast"),
            || format!("{:?}\n{}", status(&dev, hash), dev.log_tail()),
        );
        let mempool = btc.call("getrawmempool", json!([])).unwrap();
        assert!(
            mempool
                .as_array()
                .unwrap()
                .contains(&broadcast["payoutTxid"]),
            "{broadcast} {mempool}"
        );
    }
    // Then confirmed in the block mined now, tracked to the 2 confirmations the dev chain
    // requires, and the walk of each request was in order.
    let block = mine(&dev, 1);
    mine(&dev, 1);
    let mut payouts: Vec<(String, Vec<(&str, u64)>)> = Vec::new();
    for ((hash, address, sats), walk) in hashes.iter().zip(walks) {
        let confirmed = common::wait_until(
            Duration::from_secs(30),
            "the payout to confirm on Bitcoin",
            || status(&dev, hash).filter(|s| s["confirmations"] == 2),
            || format!("{:?}\n{}", status(&dev, hash), dev.log_tail()),
        );
        assert_eq!(confirmed["state"], "confirmed", "{confirmed}");
        assert_eq!(confirmed["bitcoinBlock"], block, "{confirmed}");
        let states = walk.check(hash);
        eprintln!("getpegoutstatus {hash}: {states:?}");
        assert!(
            confirmed["signedBy"].as_array().unwrap().len() >= 2,
            "{confirmed}"
        );
        assert!(
            confirmed["broadcastAt"].as_u64().unwrap() > 0,
            "{confirmed}"
        );
        assert!(
            confirmed["confirmations"].as_u64().unwrap() >= 1,
            "{confirmed}"
        );
        let txid = confirmed["payoutTxid"].as_str().unwrap().to_string();
        match payouts.iter_mut().find(|(t, _)| *t == txid) {
            Some((_, reqs)) => reqs.push((address, *sats)),
            None => payouts.push((txid, vec![(address, *sats)])),
        }
    }
    for (txid, requests) in &payouts {
        check_payout_on_bitcoin(&btc, txid, requests);
    }
    // What an operator's dashboard shows: payouts signed, broadcast and confirmed, and the peg
    // balance invariant holding on the ledger.
    let scrape = common::Scrape::of(dev.metrics.as_deref().unwrap());
    let sample = |name: &str| scrape.sample(name);
    let metrics = &scrape.0;
    assert_eq!(sample("alys_peg_balance_ok"), 1.0, "{metrics}");
    assert!(
        sample("alys_pegout_payouts_signed_total") >= 1.0,
        "{metrics}"
    );
    assert!(sample("alys_pegout_broadcasts_total") >= 1.0, "{metrics}");
    assert!(
        sample("alys_pegout_payouts_confirmed_total") >= 1.0,
        "{metrics}"
    );
    assert!(
        sample("alys_pegout_payouts_proposed_total") >= 1.0,
        "{metrics}"
    );

    // A burn to a mainnet address: refunded to the sender, to the wei.
    let before = common::wei_balance(&rpc, ADDR0);
    let hash = burn(&rpc, MAINNET, 40_000);
    let receipt = common::receipt(&rpc, &hash);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let gas_used = u128::from_str_radix(
        receipt["gasUsed"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let gas_price = u128::from_str_radix(
        receipt["effectiveGasPrice"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let refunded = common::wait_until(
        Duration::from_secs(60),
        "the bad-address burn to be refunded",
        || status(&dev, &hash).filter(|s| s["state"] == "refunded"),
        || format!("{:?}\n{}", status(&dev, &hash), dev.log_tail()),
    );
    assert!(
        refunded["reason"].as_str().unwrap().contains("regtest"),
        "{refunded}"
    );
    assert!(refunded["refundedIn"].is_string(), "{refunded}");
    common::wait_until(
        Duration::from_secs(30),
        "the refund to reach the sender",
        || (common::wei_balance(&rpc, ADDR0) == before - gas_used * gas_price).then_some(()),
        || {
            format!(
                "balance {} expected {}",
                common::wei_balance(&rpc, ADDR0),
                before - gas_used * gas_price
            )
        },
    );

    // The same event emitted by another contract: no request.
    let topic0 = common::cast(&["keccak", "RequestPegOut(address,bytes,uint256)"]).unwrap();
    let created = common::send_mined(
        &rpc,
        &["--create", &common::impostor_creation_code(&topic0)],
    );
    assert_eq!(created["status"], "0x1", "{created}");
    let impostor = created["contractAddress"].as_str().unwrap().to_string();
    let data = common::cast(&[
        "abi-encode",
        "f(bytes,uint256)",
        &common::hex_of(BECH32),
        &(100_000 * WEI_PER_SAT).to_string(),
    ])
    .unwrap();
    let fake = common::send_mined(&rpc, &[&impostor, &data]);
    assert_eq!(fake["status"], "0x1", "{fake}");
    assert_eq!(fake["logs"][0]["topics"][0].as_str().unwrap(), topic0);
    let fake_hash = fake["transactionHash"].as_str().unwrap().to_string();
    dev.wait_block_above(dev.block_number() + 2);
    let err = dev.node("getpegoutstatus", json!([fake_hash])).unwrap_err();
    assert!(err.contains("no peg-out request"), "{err}");

    let listed = dev.node("listpegouts", json!([{"sender": ADDR0}])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 4, "{listed}");
}
