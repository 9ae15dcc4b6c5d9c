//! Peg-out end to end on `alys dev --authorities 3` (2-of-3 peg threshold) with its embedded
//! regtest Bitcoin: a deposit built by python-bitcoinlib funds the federation; `cast send`
//! burns through the Bridge to a regtest bech32, bech32m and base58 address; the ledger puts
//! the requests in a payout proposed by a block (`getpegoutstatus` walks requested → proposed);
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

/// Burns `sats` to `address` from the first dev account; the transaction hash and receipt.
fn burn(rpc: &str, address: &str, sats: u64) -> (String, Value) {
    let value = (u128::from(sats) * WEI_PER_SAT).to_string();
    let receipt = common::send_mined(
        rpc,
        &[
            BRIDGE,
            "requestPegOut(bytes)",
            &common::hex_of(address),
            "--value",
            &value,
        ],
    );
    let hash = receipt["transactionHash"].as_str().unwrap().to_string();
    (hash, receipt)
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
        &["--authorities", "3", "--btc-block-secs", "1", "--no-ui"],
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

    // Burns to the three address kinds: each requested, then proposed in a payout.
    let mut hashes = Vec::new();
    for (address, sats) in [(BECH32, 100_000u64), (BECH32M, 50_000), (BASE58, 30_000)] {
        let (hash, receipt) = burn(&rpc, address, sats);
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        hashes.push((hash, address, sats));
    }
    for (hash, address, sats) in &hashes {
        let proposed = common::wait_until(
            Duration::from_secs(60),
            "the request to be proposed in a payout",
            || status(&dev, hash).filter(|s| s["state"] == "proposed"),
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

    // A burn to a mainnet address: refunded to the sender, to the wei.
    let before = common::wei_balance(&rpc, ADDR0);
    let (hash, receipt) = burn(&rpc, MAINNET, 40_000);
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
