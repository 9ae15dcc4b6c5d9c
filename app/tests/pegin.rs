//! Peg-in end to end, as a user does it: `alys dev` with its embedded regtest Bitcoin;
//! python-bitcoinlib (a Bitcoin client no one here wrote) builds and signs a deposit to the
//! address from `getdepositaddress` with an OP_RETURN naming the EVM recipient and submits it
//! with `sendrawtransaction`; after the required confirmations `cast balance` of the recipient
//! rises by exactly sats × 10^10 wei and `getpeginstatus` reports it minted. A deposit below
//! `minPegInSats` shows as rejected with its reason and is never minted.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::{path::Path, time::Duration};

use common::{build_deposits, require_all, with_auth, DevProcess as Dev, Tool};

fn start_dev(datadir: &Path) -> Dev {
    common::start_dev(&datadir.join("node"), &["--btc-block-secs", "1"])
}

#[test]
fn python_bitcoinlib_deposit_is_minted_once_and_small_one_rejected() {
    if require_all(&[Tool::PythonBitcoinlib, Tool::Cast]).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dev = start_dev(dir.path());

    let address = dev
        .node("getdepositaddress", serde_json::json!([]))
        .unwrap();
    assert!(address.as_str().unwrap().starts_with("bcrt1p"), "{address}");
    let fed = dev.node("getfederation", serde_json::json!([])).unwrap();
    assert_eq!(fed["address"], address);
    let spk = fed["scriptPubKey"].as_str().unwrap().to_string();
    let min = fed["minPegInSats"].as_u64().unwrap();

    let recipient: [u8; 20] = rand::random();
    let small_recipient: [u8; 20] = rand::random();
    let sats: u64 = 123_456;
    let small = min - 1;
    let btc_url = with_auth(
        dev.bitcoin_rpc
            .as_deref()
            .expect("alys dev printed its Bitcoin RPC"),
        "alys",
        "alys",
    );
    let plan = serde_json::json!([
        {"fed": [sats], "op_return": hex::encode(recipient)},
        {"fed": [small], "op_return": hex::encode(small_recipient)},
    ]);
    let (_, txs) =
        build_deposits(&btc_url, &spk, &plan).unwrap_or_else(|e| panic!("{e}\n{}", dev.log_tail()));
    let (deposit, small_tx) = (txs[0].txid.clone(), txs[1].txid.clone());
    let balance = |addr: &[u8; 20]| dev.balance(addr);
    assert_eq!(balance(&recipient), 0);

    let mut saw_confirmations = false;
    let minted = common::wait_until(
        Duration::from_secs(120),
        "the deposit to be minted",
        || {
            let s = dev.pegin_status(&deposit).ok()?;
            if s["state"] == "seen" || s["confirmations"].as_u64().unwrap_or(0) > 0 {
                saw_confirmations = true;
            }
            (s["state"] == "minted").then_some(s)
        },
        || format!("{:?}\n{}", dev.pegin_status(&deposit), dev.log_tail()),
    );
    assert!(saw_confirmations, "{minted}");
    assert!(minted["mintedIn"].is_string(), "{minted}");
    assert_eq!(minted["sats"], sats);

    // The mint is in an imported block: the balance rises by exactly sats × 10^10 wei.
    let expected = u128::from(sats) * 10u128.pow(10);
    common::wait_until(
        Duration::from_secs(30),
        "the recipient's balance to reach sats × 10^10 wei",
        || (balance(&recipient) == expected).then_some(()),
        || format!("balance {} != {expected}", balance(&recipient)),
    );
    // Minted once: three more sidechain blocks later it is unchanged.
    dev.wait_block_above(dev.block_number() + 2);
    assert_eq!(balance(&recipient), expected);

    let rejected = dev
        .node("getpeginstatus", serde_json::json!([small_tx]))
        .unwrap();
    assert_eq!(rejected["state"], "rejected", "{rejected}");
    assert!(
        rejected["reason"]
            .as_str()
            .unwrap_or("")
            .contains(&min.to_string()),
        "{rejected}"
    );
    assert_eq!(balance(&small_recipient), 0);
}

/// `alys node` on `chain` with `args`: its exit status and output, when it exits by itself.
fn node_refuses(chain: &Path, datadir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(common::alys())
        .arg("node")
        .arg("--chain")
        .arg(chain)
        .arg("--datadir")
        .arg(datadir)
        .args(["--embedded-el", "--no-p2p", "--metrics-port", "0"])
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "alys node {args:?} started");
    String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout)
}

#[test]
fn a_full_node_without_bitcoin_trusts_approved_pegins_only_when_told() {
    if require_all(&[Tool::PythonBitcoinlib]).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start_dev(dir.path());
    let chain = dir.path().join("node").join("chain.json");

    // Without a Bitcoin node and without the explicit mode: refused with the reason.
    let why = node_refuses(&chain, &dir.path().join("refused"), &[]);
    assert!(
        why.contains("cannot verify peg-ins") && why.contains("--pegin-trust-approvals"),
        "{why}"
    );
    // An authority must verify peg-ins itself.
    let key = dir.path().join("signer.key");
    alys_primitives::bls::save_secret_key(&key, &alys_primitives::dev::dev_secret_key(0)).unwrap();
    let why = node_refuses(
        &chain,
        &dir.path().join("refused-authority"),
        &[
            "--pegin-trust-approvals",
            "--signer-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(why.contains("full nodes only"), "{why}");

    // A full node in the explicit mode follows the dev chain through a peg-in block.
    let p2p = dev.process.wait_for_line(
        Duration::from_secs(30),
        "the dev chain's p2p address",
        alys_test_utils::cluster::p2p_addr_of,
    );
    let full = alys_test_utils::cluster::NodeProcess::start(
        common::alys(),
        &chain,
        &dir.path().join("full"),
        alys_test_utils::cluster::NodeOptions {
            name: "full".into(),
            signer_key: None,
            bitcoin_rpc: None,
            execution: alys_test_utils::cluster::Execution::Embedded,
            extra: vec!["--pegin-trust-approvals".into()],
        },
        &[p2p],
    );
    assert!(full
        .log_text()
        .contains("peg-ins trusted on threshold approvals"));
    let fed = dev.node("getfederation", serde_json::json!([])).unwrap();
    let spk = fed["scriptPubKey"].as_str().unwrap().to_string();
    let sats = 150_000u64.max(fed["minPegInSats"].as_u64().unwrap());
    let recipient: [u8; 20] = rand::random();
    let btc_url = with_auth(dev.bitcoin_rpc.as_deref().unwrap(), "alys", "alys");
    let plan = serde_json::json!([{"fed": [sats], "op_return": hex::encode(recipient)}]);
    let (_, txs) =
        build_deposits(&btc_url, &spk, &plan).unwrap_or_else(|e| panic!("{e}\n{}", dev.log_tail()));
    let minted = common::wait_until(
        Duration::from_secs(120),
        "the deposit to be minted",
        || {
            let s = dev.pegin_status(&txs[0].txid).ok()?;
            (s["state"] == "minted").then_some(s)
        },
        || dev.log_tail(),
    );
    let block = minted["mintedIn"].as_str().unwrap().to_string();
    let expected = format!("{:#x}", u128::from(sats) * 10u128.pow(10));
    common::wait_until(
        Duration::from_secs(60),
        "the full node to import the mint",
        || {
            let b = full
                .eth(
                    "eth_getBalance",
                    serde_json::json!([format!("0x{}", hex::encode(recipient)), "latest"]),
                )
                .ok()?;
            (b.as_str() == Some(expected.as_str())).then_some(())
        },
        || format!("mint in {block}\n{}", full.log_tail()),
    );
}
