//! A federation output spent on Bitcoin outside the peg does not stop later payouts, end to
//! end on `alys dev` with its embedded regtest Bitcoin mined by the test: two deposits fund the
//! federation (python-bitcoinlib); a transaction the peg never proposed, signed with the
//! federation's dev keys, spends the larger one and confirms once (below the 2 confirmations
//! required); a burn is then proposed in a payout spending that same output, which Bitcoin
//! refuses. One more Bitcoin block and the spend is declared: the payout is void, the request
//! goes into a new payout from the other deposit, which confirms and pays the address. The
//! node reports the spend (`getpegoutsummary`, metrics) and the peg balance still holds.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use alys_federation::bitcoin::consensus::encode::serialize_hex;
use alys_federation::bitcoin::{Address, Network, OutPoint, Txid};
use alys_federation::{
    assemble, build_payout, parse_bitcoin_key, sign_payout, Federation, PayoutRequest, RequestId,
    SchnorrSigner, Utxo,
};
use alys_primitives::dev::dev_bitcoin_secret_key;
use alys_primitives::{Sats, B256};
use common::{build_deposits, require_all, with_auth, JsonRpc, Tool};
use serde_json::{json, Value};

const BRIDGE: &str = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB";
/// Where the payout pays (regtest bech32).
const PAYEE: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
/// Where the spend outside the peg sends the federation's BTC (regtest bech32m).
const ELSEWHERE: &str = "bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6";
const WEI_PER_SAT: u128 = 10_000_000_000;

fn mine(btc: &JsonRpc, n: u64) {
    let to = btc.call("getnewaddress", json!([])).unwrap();
    btc.call("generatetoaddress", json!([n, to])).unwrap();
}

/// The federation output of deposit `txid` (its only output paying `spk`).
fn federation_output(btc: &JsonRpc, txid: &str, spk: &str) -> Utxo {
    let tx = btc.call("getrawtransaction", json!([txid, true])).unwrap();
    let (vout, out) = tx["vout"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .find(|(_, o)| o["scriptPubKey"]["hex"] == spk)
        .unwrap();
    Utxo {
        outpoint: OutPoint::new(txid.parse().unwrap(), vout as u32),
        value: Sats((out["value"].as_f64().unwrap() * 1e8).round() as u64),
    }
}

/// A transaction spending `utxo` to [`ELSEWHERE`], signed by the first `threshold` dev keys:
/// what members using their keys outside the node would broadcast.
fn spend_outside_the_peg(fed: &Federation, utxo: &Utxo) -> String {
    let to = ELSEWHERE
        .parse::<Address<_>>()
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap();
    let request = PayoutRequest {
        id: RequestId {
            tx_hash: B256::repeat_byte(0xee),
            log_index: 0,
        },
        address: to,
        amount: Sats(utxo.value.0 - 20_000),
    };
    let p = build_payout(fed, std::slice::from_ref(utxo), &[request], 2).unwrap();
    let sigs: Vec<Option<Vec<[u8; 64]>>> = (0..fed.keys().len())
        .map(|i| {
            (i < fed.threshold() as usize).then(|| {
                let signer = SchnorrSigner::from_bytes(&dev_bitcoin_secret_key(i)).unwrap();
                sign_payout(&signer, fed, &p.tx, &p.inputs).unwrap()
            })
        })
        .collect();
    serialize_hex(&assemble(fed, &p.tx, &sigs).unwrap())
}

#[test]
fn a_federation_output_spent_outside_the_peg_does_not_stop_later_payouts() {
    if require_all(&[Tool::PythonBitcoinlib, Tool::Cast]).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Bitcoin blocks only when the test mines them.
    let dev = common::start_dev(
        &dir.path().join("node"),
        &["--btc-block-secs", "0", "--no-ui"],
    );
    let btc_url = dev.bitcoin_rpc.clone().unwrap();
    let btc = JsonRpc::new(&btc_url, Some(("alys", "alys")));
    let info = dev.node("getfederation", json!([])).unwrap();
    let spk = info["scriptPubKey"].as_str().unwrap().to_string();
    let keys: Vec<_> = info["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| parse_bitcoin_key("keys", k.as_str().unwrap()).unwrap())
        .collect();
    let fed = Federation::new(
        Network::Regtest,
        keys,
        info["threshold"].as_u64().unwrap() as u32,
        None,
        info["minPegInSats"].as_u64().unwrap(),
    )
    .unwrap();
    assert_eq!(fed.address().to_string(), info["address"], "{info}");

    // Two deposits, 600k and 400k sats, minted.
    let recipient: [u8; 20] = rand::random();
    let plan = json!([
        {"fed": [600_000], "op_return": hex::encode(recipient)},
        {"fed": [400_000], "op_return": hex::encode(recipient)},
    ]);
    let (_, txs) = build_deposits(&with_auth(&btc_url, "alys", "alys"), &spk, &plan)
        .unwrap_or_else(|e| panic!("{e}\n{}", dev.log_tail()));
    mine(&btc, 2);
    common::wait_until(
        Duration::from_secs(60),
        "both deposits to be minted",
        || {
            let s = dev.node("getpegoutsummary", json!([])).ok()?;
            (s["utxoTotalSats"] == 1_000_000).then_some(())
        },
        || {
            format!(
                "{:?}\n{}",
                dev.node("getpegoutsummary", json!([])),
                dev.log_tail()
            )
        },
    );
    let large = federation_output(&btc, &txs[0].txid, &spk);
    assert_eq!(large.value, Sats(600_000));

    // The 600k output is spent outside the peg: one confirmation, one short of the required 2.
    let spender: String = btc
        .call(
            "sendrawtransaction",
            json!([spend_outside_the_peg(&fed, &large)]),
        )
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    mine(&btc, 1);

    // A burn: the payout takes the largest output, the one already spent.
    let value = (350_000u128 * WEI_PER_SAT).to_string();
    let receipt = common::send_mined(
        &dev.eth_rpc,
        &[
            BRIDGE,
            "requestPegOut(bytes)",
            &common::hex_of(PAYEE),
            "--value",
            &value,
        ],
    );
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let hash = receipt["transactionHash"].as_str().unwrap().to_string();
    let status = |dev: &common::DevProcess| -> Option<Value> {
        dev.node("getpegoutstatus", json!([hash]))
            .ok()
            .and_then(|s| s["requests"].get(0).cloned())
    };
    let first = common::wait_until(
        Duration::from_secs(60),
        "the request to be proposed in a payout",
        || status(&dev).filter(|s| s["payoutTxid"].is_string()),
        || format!("{:?}\n{}", status(&dev), dev.log_tail()),
    );
    let stuck: Txid = first["payoutTxid"].as_str().unwrap().parse().unwrap();
    let summary = dev.node("getpegoutsummary", json!([])).unwrap();
    assert_eq!(summary["spentElsewhere"], json!([]), "{summary}");

    // The spend reaches 2 confirmations: declared, the stuck payout void, the request paid by a
    // new payout from the 400k deposit, which confirms as the test mines.
    mine(&btc, 1);
    let confirmed = common::wait_until(
        Duration::from_secs(120),
        "a new payout to confirm",
        || {
            let s = status(&dev)?;
            if s["payoutTxid"].as_str()? == stuck.to_string() {
                return None;
            }
            if s["state"] == "confirmed" {
                return Some(s);
            }
            if s["state"] == "broadcast" {
                mine(&btc, 1);
            }
            None
        },
        || format!("{:?}\n{}", status(&dev), dev.log_tail()),
    );
    let payout = confirmed["payoutTxid"].as_str().unwrap().to_string();
    let tx = btc
        .call("getrawtransaction", json!([payout, true]))
        .unwrap();
    let inputs: Vec<_> = tx["vin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["txid"].as_str().unwrap().to_string(),
                i["vout"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        inputs,
        vec![(
            txs[1].txid.clone(),
            federation_output(&btc, &txs[1].txid, &spk).outpoint.vout as u64
        )],
        "{tx}"
    );
    assert_eq!(tx["vout"][0]["scriptPubKey"]["address"], PAYEE, "{tx}");
    let paid = (tx["vout"][0]["value"].as_f64().unwrap() * 1e8).round() as u64;
    assert!(paid < 350_000 && paid + 5_000 > 350_000, "{tx}");

    let summary = dev.node("getpegoutsummary", json!([])).unwrap();
    let spent = &summary["spentElsewhere"][0];
    assert_eq!(spent["outpoint"], large.outpoint.to_string(), "{summary}");
    assert_eq!(spent["sats"], 600_000, "{summary}");
    assert_eq!(spent["spender"], spender, "{summary}");
    assert_eq!(spent["voidedPayout"], stuck.to_string(), "{summary}");
    assert_eq!(summary["voidedPayouts"], 1, "{summary}");
    assert_eq!(
        summary["totals"]["spentElsewhereSats"], 600_000,
        "{summary}"
    );

    let scrape = common::Scrape::of(dev.metrics.as_deref().unwrap());
    let sample = |name: &str| scrape.sample(name);
    let metrics = &scrape.0;
    assert_eq!(sample("alys_peg_balance_ok"), 1.0, "{metrics}");
    assert_eq!(
        sample("alys_pegout_spent_elsewhere_total"),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        sample("alys_pegout_spent_elsewhere_sats"),
        600_000.0,
        "{metrics}"
    );
    assert_eq!(sample("alys_pegout_payouts_voided_total"), 1.0, "{metrics}");
}
