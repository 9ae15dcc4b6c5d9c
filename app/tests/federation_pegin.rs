//! Peg-in across processes: 3 authorities (threshold 2) and a full node, each an `alys node`
//! following the one shared `alys btc-devnet`. A deposit built and signed by python-bitcoinlib
//! (a Bitcoin client no one here wrote) is minted exactly once: every node reports it minted in
//! the same block and credits exactly sats × 10^10 wei, and it stays so while the chain and the
//! Bitcoin chain go on (no authority mints it again in a later block).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use alys_test_utils::cluster::{Cluster, NodeProcess};
use alys_test_utils::wait::wait_until;
use common::{alys, build_deposits, require_all, with_auth, write_dev_keys, write_dev_spec, Tool};
use serde_json::{json, Value};

/// `address`'s balance in wei on `node`'s latest block.
fn balance(node: &NodeProcess, address: &[u8; 20]) -> Option<u128> {
    let hex = node
        .eth(
            "eth_getBalance",
            json!([format!("0x{}", hex::encode(address)), "latest"]),
        )
        .ok()?;
    u128::from_str_radix(hex.as_str()?.trim_start_matches("0x"), 16).ok()
}

fn pegin_status(node: &NodeProcess, txid: &str) -> Option<Value> {
    node.node("getpeginstatus", json!([txid])).ok()
}

/// Mines `n` regtest blocks to a fresh wallet address.
fn mine(cluster: &Cluster, n: u64) {
    let to = cluster.devnet.call("getnewaddress", json!([])).unwrap();
    cluster
        .devnet
        .call("generatetoaddress", json!([n, to]))
        .unwrap();
}

#[test]
fn a_deposit_is_minted_exactly_once_by_three_authorities_following_one_bitcoin() {
    if require_all(&[Tool::PythonBitcoinlib]).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (spec, chain) = write_dev_spec(dir.path(), 3);
    let confirmations = u64::from(spec.required_btc_confirmations.unwrap());
    let keys = write_dev_keys(dir.path(), 3);
    let mut cluster = Cluster::new(alys(), &chain, dir.path());
    for (i, key) in keys.iter().enumerate() {
        cluster.add_node(&format!("authority-{i}"), Some(key.clone()));
    }
    cluster.add_node("full", None);
    cluster.wait_same_block_at(2, Duration::from_secs(60));

    let fed = cluster.nodes[0].node("getfederation", json!([])).unwrap();
    let spk = fed["scriptPubKey"].as_str().unwrap().to_string();
    let sats: u64 = 250_000;
    assert!(sats >= fed["minPegInSats"].as_u64().unwrap(), "{fed}");
    let recipient: [u8; 20] = rand::random();
    let plan = json!([{"fed": [sats], "op_return": hex::encode(recipient)}]);
    let btc_url = with_auth(&cluster.devnet.url, "alys", "alys");
    let (_, txs) = build_deposits(&btc_url, &spk, &plan)
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.devnet.log_tail()));
    let txid = txs[0].txid.clone();

    // Confirm it: one block holds it, the rest bury it to the required depth.
    mine(&cluster, confirmations);
    let expected = u128::from(sats) * 10u128.pow(10);
    let minted_in = wait_until(
        Duration::from_secs(90),
        "every node to report the deposit minted in the same block",
        || {
            let blocks: Vec<String> = cluster
                .running()
                .map(|n| {
                    let s = pegin_status(n, &txid)?;
                    (s["state"] == "minted").then(|| s["mintedIn"].as_str().map(str::to_string))?
                })
                .collect::<Option<Vec<_>>>()?;
            blocks
                .iter()
                .all(|b| *b == blocks[0])
                .then(|| blocks[0].clone())
        },
        || {
            let states: Vec<Option<Value>> =
                cluster.running().map(|n| pegin_status(n, &txid)).collect();
            format!("{states:?}\n{}", cluster.logs())
        },
    );
    wait_until(
        Duration::from_secs(30),
        "every node to credit exactly sats × 10^10 wei",
        || {
            cluster
                .running()
                .all(|n| balance(n, &recipient) == Some(expected))
                .then_some(())
        },
        || {
            let b: Vec<Option<u128>> = cluster.running().map(|n| balance(n, &recipient)).collect();
            format!("balances {b:?}, expected {expected}\n{}", cluster.logs())
        },
    );

    // More Bitcoin blocks and more sidechain slots, every authority proposing in turn: the
    // deposit stays minted once, in the same block, with the same balance everywhere.
    let head = cluster.nodes[0].head_height().unwrap();
    mine(&cluster, 3);
    let later = head + 6;
    cluster.wait_same_block_at(later, Duration::from_secs(60));
    for n in cluster.running() {
        let s = pegin_status(n, &txid).unwrap();
        assert_eq!(s["state"], "minted", "{s}");
        assert_eq!(s["mintedIn"].as_str(), Some(minted_in.as_str()), "{s}");
        assert_eq!(s["sats"], sats, "{s}");
        assert_eq!(balance(n, &recipient), Some(expected));
    }
}
