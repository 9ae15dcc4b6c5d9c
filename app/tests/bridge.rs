//! The Bridge predeploy on a running `alys dev`, driven with Foundry's `cast` (a client no one
//! here wrote): a peg-out request to a regtest bech32 address burns its value and emits
//! `RequestPegOut` with the sender, the address bytes and the value; a value that is not a whole
//! number of sats and a plain transfer are mined and revert, leaving the Bridge's balance alone.
//! The node's reader of burns, run on the chain's real receipts, finds the request and ignores
//! the same event emitted by another contract.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use alys_engine::TransactionReceipt;
use alys_federation::{burns_from_receipts, PegOutDisposition, PegOutRules};
use alys_primitives::{ChainSpec, Sats, BRIDGE_ADDRESS};
use common::{cast, require, Tool};
use serde_json::Value;

const BRIDGE: &str = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB";
const ADDR0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// A regtest P2WPKH address (bech32).
const BTC_ADDRESS: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
/// 20,000 sats in wei.
const VALUE_WEI: u128 = 20_000 * 10_000_000_000;

/// The receipts of the block that holds `receipt`, as the node reads them.
fn block_receipts(rpc: &str, receipt: &Value) -> Vec<TransactionReceipt> {
    let block = receipt["blockNumber"].as_str().unwrap();
    let json = cast(&["rpc", "eth_getBlockReceipts", block, "-r", rpc]).unwrap();
    serde_json::from_str(&json).unwrap()
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
    let receipt = common::send_mined(
        &rpc,
        &[
            BRIDGE,
            "requestPegOut(bytes)",
            &common::hex_of(BTC_ADDRESS),
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
    assert_eq!(fields.next(), Some(common::hex_of(BTC_ADDRESS).as_str()));
    assert_eq!(
        fields.next().and_then(|v| v.split_whitespace().next()),
        Some(value.as_str())
    );
    assert_eq!(
        common::wei_balance(&rpc, BRIDGE),
        VALUE_WEI,
        "the burned value stays"
    );

    // The node's reader on the real receipts: the request, to be paid.
    let rules = PegOutRules::from_spec(&ChainSpec::dev(1).unwrap()).unwrap();
    let requests =
        burns_from_receipts(&block_receipts(&rpc, &receipt), BRIDGE_ADDRESS, &rules).unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].amount, Sats(20_000));
    assert_eq!(requests[0].sender.to_string(), ADDR0);
    assert_eq!(requests[0].btc_address, BTC_ADDRESS.as_bytes());
    assert_eq!(
        requests[0].tx_hash.to_string(),
        receipt["transactionHash"].as_str().unwrap()
    );
    assert!(matches!(
        &requests[0].disposition,
        PegOutDisposition::Pay(a) if a.to_string() == BTC_ADDRESS
    ));

    // The same event from another contract: on chain, and ignored.
    let created = common::send_mined(
        &rpc,
        &["--create", &common::impostor_creation_code(&topic0)],
    );
    assert_eq!(created["status"], "0x1", "{created}");
    let impostor = created["contractAddress"].as_str().unwrap().to_string();
    let data = cast(&[
        "abi-encode",
        "f(bytes,uint256)",
        &common::hex_of(BTC_ADDRESS),
        &value,
    ])
    .unwrap();
    let fake = common::send_mined(&rpc, &[&impostor, &data]);
    assert_eq!(fake["status"], "0x1", "{fake}");
    assert_eq!(fake["logs"][0]["topics"][0].as_str().unwrap(), topic0);
    assert_eq!(
        fake["logs"][0]["data"].as_str().unwrap(),
        log["data"].as_str().unwrap()
    );
    let requests =
        burns_from_receipts(&block_receipts(&rpc, &fake), BRIDGE_ADDRESS, &rules).unwrap();
    assert!(requests.is_empty(), "{requests:?}");

    // The revert reason a wallet sees for a value that is not whole sats.
    let not_whole = (VALUE_WEI + 1).to_string();
    let call = cast(&[
        "call",
        BRIDGE,
        "requestPegOut(bytes)",
        &common::hex_of(BTC_ADDRESS),
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
    let receipt = common::send_mined(
        &rpc,
        &[
            BRIDGE,
            "requestPegOut(bytes)",
            &common::hex_of(BTC_ADDRESS),
            "--value",
            &not_whole,
        ],
    );
    assert_eq!(receipt["status"], "0x0", "{receipt}");
    assert_eq!(receipt["logs"].as_array().map(Vec::len), Some(0));
    let receipt = common::send_mined(&rpc, &[BRIDGE, "--value", "1ether"]);
    assert_eq!(receipt["status"], "0x0", "{receipt}");
    assert_eq!(
        common::wei_balance(&rpc, BRIDGE),
        VALUE_WEI,
        "nothing else kept"
    );
    dev.stop();
}
