//! The Bridge predeploy on a running `alys dev`, driven with Foundry's `cast` (a client no one
//! here wrote): a peg-out request to a regtest bech32 address burns its value and emits
//! `RequestPegOut` with the sender, the address bytes and the value; a value that is not a whole
//! number of sats and a plain transfer are mined and revert, leaving the Bridge's balance alone.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::{cast, require, Tool};
use serde_json::Value;

const BRIDGE: &str = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB";
const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDR0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// A regtest P2WPKH address (bech32).
const BTC_ADDRESS: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
/// 20,000 sats in wei.
const VALUE_WEI: u128 = 20_000 * 10_000_000_000;

fn balance(rpc: &str, who: &str) -> u128 {
    cast(&["balance", who, "-r", rpc]).unwrap().parse().unwrap()
}

/// Sends a transaction with a fixed gas limit (so cast does not refuse it at estimation) and
/// returns its mined receipt.
fn send(rpc: &str, args: &[&str]) -> Value {
    let mut all = vec!["send", "--private-key", KEY0, "--gas-limit", "200000"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-r", rpc, "--async"]);
    let hash = cast(&all).unwrap();
    let receipt = cast(&["receipt", &hash, "--json", "-r", rpc]).unwrap();
    serde_json::from_str(&receipt).unwrap()
}

fn hex_of(text: &str) -> String {
    format!("0x{}", hex::encode(text))
}

#[test]
fn request_pegout_on_the_genesis_bridge() {
    if require(Tool::Cast).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut dev = common::start_dev(dir.path(), &["--no-ui"]);
    let rpc = dev.eth_rpc.clone();
    dev.wait_for(Duration::from_secs(30), "the first block", |_| {
        cast(&["block-number", "-r", &rpc])
            .ok()
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n > 0)
    });

    // The genesis code and minimum.
    let code = cast(&["code", BRIDGE, "-r", &rpc]).unwrap();
    assert_eq!(
        code,
        alys_primitives::bridge_runtime_code().to_string(),
        "the Bridge's code on chain is the compiled contract"
    );
    let min = cast(&["call", BRIDGE, "minPegOutSats()(uint256)", "-r", &rpc]).unwrap();
    assert_eq!(min.split_whitespace().next(), Some("10000"));

    // A request: the log, from the Bridge, with the sender, the address bytes and the value.
    let value = VALUE_WEI.to_string();
    let receipt = send(
        &rpc,
        &[
            BRIDGE,
            "requestPegOut(bytes)",
            &hex_of(BTC_ADDRESS),
            "--value",
            &value,
        ],
    );
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let logs = receipt["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "{receipt}");
    let log = &logs[0];
    assert_eq!(
        log["address"].as_str().unwrap().to_lowercase(),
        BRIDGE.to_lowercase()
    );
    let topic0 = cast(&["keccak", "RequestPegOut(address,bytes,uint256)"]).unwrap();
    assert_eq!(log["topics"][0].as_str().unwrap(), topic0);
    let sender_topic = format!("0x{:0>64}", ADDR0[2..].to_lowercase());
    assert_eq!(log["topics"][1].as_str().unwrap(), sender_topic);
    let decoded = cast(&[
        "abi-decode",
        "--input",
        "RequestPegOut(bytes,uint256)",
        log["data"].as_str().unwrap(),
    ])
    .unwrap();
    let mut fields = decoded.lines();
    assert_eq!(fields.next(), Some(hex_of(BTC_ADDRESS).as_str()));
    assert_eq!(
        fields.next().and_then(|v| v.split_whitespace().next()),
        Some(value.as_str())
    );
    assert_eq!(balance(&rpc, BRIDGE), VALUE_WEI, "the burned value stays");

    // The revert reason a wallet sees for a value that is not whole sats.
    let not_whole = (VALUE_WEI + 1).to_string();
    let call = cast(&[
        "call",
        BRIDGE,
        "requestPegOut(bytes)",
        &hex_of(BTC_ADDRESS),
        "--value",
        &not_whole,
        "--from",
        ADDR0,
        "-r",
        &rpc,
    ])
    .unwrap_err();
    let selector = cast(&["sig", "NotWholeSats(uint256)"]).unwrap();
    assert!(call.contains(&selector[2..]), "{call}");

    // Mined and reverted: not whole sats, and a plain transfer.
    let receipt = send(
        &rpc,
        &[
            BRIDGE,
            "requestPegOut(bytes)",
            &hex_of(BTC_ADDRESS),
            "--value",
            &not_whole,
        ],
    );
    assert_eq!(receipt["status"], "0x0", "{receipt}");
    assert_eq!(receipt["logs"].as_array().map(Vec::len), Some(0));
    let receipt = send(&rpc, &[BRIDGE, "--value", "1ether"]);
    assert_eq!(receipt["status"], "0x0", "{receipt}");
    assert_eq!(balance(&rpc, BRIDGE), VALUE_WEI, "nothing else kept");
    dev.stop();
}
