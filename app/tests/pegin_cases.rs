//! Peg-in edge cases end to end, on the real `alys` binary (DESIGN §7, invariant 1 of §12: no
//! mint without a confirmed, unminted deposit; every confirmed deposit minted exactly once).
//! python-bitcoinlib (a Bitcoin client no one here wrote, `tests/pegin/deposit.py`) builds and
//! signs every deposit; Foundry's `cast` reads balances; the Bitcoin side is `alys dev`'s
//! embedded regtest devnet or `alys btc-devnet` as its own process, driven over Bitcoin Core's
//! JSON-RPC.
//!
//! - deposit shapes: no OP_RETURN, 19- and 21-byte OP_RETURN payloads (rejected with a reason
//!   naming the problem, never credited), and a deposit split over two federation outputs
//!   (minted once with the sum, as one peg-in per output);
//! - Bitcoin reorgs with `invalidateblock`: a deposit with 1 of 2 confirmations whose block is
//!   invalidated and whose input is double-spent on the replacement chain is never minted; one
//!   whose block is invalidated and that is mined again in another block is minted once;
//! - the Bitcoin node SIGKILLed and restarted while a deposit waits for confirmations: the
//!   sidechain keeps producing blocks, and the deposit is minted once after the restart.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::{
    alys, build_deposits, json_rpc, require_all, with_auth, BtcDevnetProcess, BuiltTx,
    DevProcess as Dev, Tool,
};
use serde_json::{json, Value};

/// Wei per satoshi (1 BTC = 10^8 sats = 10^18 wei).
const WEI_PER_SAT: u128 = 10_000_000_000;

/// python-bitcoinlib and cast are both usable (else the test failed, or printed `SKIPPED: …`
/// under `ALYS_ALLOW_MISSING_TOOLS=1`).
fn prerequisites() -> bool {
    require_all(&[Tool::PythonBitcoinlib, Tool::Cast]).is_some()
}

/// The federation's scriptPubKey hex and `minPegInSats`, from `getfederation`.
fn federation(dev: &Dev) -> (String, u64) {
    let fed = dev
        .node("getfederation", json!([]))
        .unwrap_or_else(|e| panic!("getfederation: {e}\n{}", dev.log_tail()));
    (
        fed["scriptPubKey"]
            .as_str()
            .expect("scriptPubKey")
            .to_string(),
        fed["minPegInSats"].as_u64().expect("minPegInSats"),
    )
}

/// `alys dev` with its embedded Bitcoin devnet mining every `btc_block_secs` (0: only when the
/// test mines), its Bitcoin RPC, and the federation's scriptPubKey and `minPegInSats`.
fn start_dev(dir: &std::path::Path, btc_block_secs: &str) -> (Dev, Btc, String, u64) {
    let dev = common::start_dev(&dir.join("node"), &["--btc-block-secs", btc_block_secs]);
    let btc = Btc::of(&dev);
    let (spk, min) = federation(&dev);
    (dev, btc, spk, min)
}

/// A Bitcoin node's RPC (user/password alys/alys).
struct Btc {
    url: String,
}

impl Btc {
    fn of(dev: &Dev) -> Self {
        Self {
            url: dev
                .bitcoin_rpc
                .clone()
                .expect("alys dev printed its Bitcoin RPC"),
        }
    }

    fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        json_rpc(&self.url, "alys:alys", method, params)
    }

    fn ok(&self, method: &str, params: Value) -> Value {
        self.call(method, params.clone())
            .unwrap_or_else(|e| panic!("bitcoin RPC {method} {params}: {e}"))
    }

    /// The URL with credentials, for python-bitcoinlib.
    fn auth_url(&self) -> String {
        with_auth(&self.url, "alys", "alys")
    }

    /// Mines `n` blocks to a fresh wallet address (so a block mined again at the same height
    /// differs from an invalidated one); their hashes.
    fn mine(&self, n: u64) -> Vec<String> {
        let to = self.ok("getnewaddress", json!([]));
        let hashes = self.ok("generatetoaddress", json!([n, to]));
        hashes
            .as_array()
            .expect("block hashes")
            .iter()
            .map(|h| h.as_str().expect("hash").to_string())
            .collect()
    }

    fn height(&self) -> u64 {
        self.ok("getblockcount", json!([]))
            .as_u64()
            .expect("height")
    }

    fn mempool(&self) -> Vec<String> {
        serde_json::from_value(self.ok("getrawmempool", json!([]))).expect("txids")
    }

    fn send(&self, tx: &BuiltTx) -> Result<Value, String> {
        self.call("sendrawtransaction", json!([tx.hex]))
    }

    /// The active-chain block containing `txid`, if any.
    fn block_of(&self, txid: &str) -> Option<String> {
        let tx = self.call("getrawtransaction", json!([txid, true])).ok()?;
        tx["blockhash"].as_str().map(str::to_string)
    }
}

fn addr(bytes: &[u8]) -> [u8; 20] {
    bytes.try_into().expect("20 bytes")
}

/// Waits until `getpeginstatus` shows `txid` minted; checks the record and that the recipient's
/// balance is exactly `sats` × 10^10 wei.
fn expect_minted(dev: &Dev, txid: &str, recipient: &[u8; 20], sats: u64) -> Value {
    let minted = dev.wait_pegin(txid, "minted", |s| s["state"] == "minted");
    assert!(minted["mintedIn"].is_string(), "{minted}");
    assert_eq!(minted["sats"], sats, "{minted}");
    assert_eq!(
        minted["recipient"].as_str().map(str::to_lowercase),
        Some(format!("0x{}", hex::encode(recipient))),
        "{minted}"
    );
    let expected = u128::from(sats) * WEI_PER_SAT;
    common::wait_until(
        Duration::from_secs(30),
        "the recipient's balance to reach sats × 10^10 wei",
        || (dev.balance(recipient) == expected).then_some(()),
        || {
            format!(
                "balance {} != {expected}\n{}",
                dev.balance(recipient),
                dev.log_tail()
            )
        },
    );
    minted
}

/// Lets `slots` more sidechain blocks be produced, then checks every `(recipient, wei)` balance
/// is unchanged and the canonical chain holds exactly `pegins` peg-ins in all.
fn expect_settled(dev: &Dev, balances: &[([u8; 20], u128)], pegins: u64, slots: u64) {
    dev.wait_block_above(dev.block_number() + slots - 1);
    for (who, wei) in balances {
        assert_eq!(
            dev.balance(who),
            *wei,
            "balance of 0x{} changed\n{}",
            hex::encode(who),
            dev.log_tail()
        );
    }
    assert_eq!(
        dev.pegins_on_chain(),
        pegins,
        "peg-ins minted on the canonical chain\n{}",
        dev.log_tail()
    );
}

#[test]
fn deposit_shapes_rejected_with_reason_and_split_deposit_minted_once_with_the_sum() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (dev, btc, spk, min) = start_dev(dir.path(), "1");
    let amount = 100_000u64.max(min);
    let split = [70_000u64.max(min), 53_456];
    let short: [u8; 19] = rand::random();
    let long: [u8; 21] = rand::random();
    let recipient: [u8; 20] = rand::random();
    let plan = json!([
        {"fed": [amount]},
        {"fed": [amount], "op_return": hex::encode(short)},
        {"fed": [amount], "op_return": hex::encode(long)},
        {"fed": split, "op_return": hex::encode(recipient)},
    ]);
    let (_, txs) = build_deposits(&btc.auth_url(), &spk, &plan)
        .unwrap_or_else(|e| panic!("{e}\n{}", dev.log_tail()));

    // Split over two federation outputs: minted once, with the sum credited, as one peg-in per
    // federation output.
    let sum = split[0] + split[1];
    let minted = expect_minted(&dev, &txs[3].txid, &recipient, sum);
    assert_eq!(minted["vouts"], json!([0, 1]), "{minted}");

    // Each rejected one is visible with a reason naming its problem, and never minted.
    let expectations: [(&str, &[&str]); 3] = [
        ("no OP_RETURN", &["no OP_RETURN"]),
        ("19-byte OP_RETURN", &["OP_RETURN", "19 bytes"]),
        ("21-byte OP_RETURN", &["OP_RETURN", "21 bytes"]),
    ];
    for (tx, (what, words)) in txs.iter().zip(expectations) {
        let s = dev.wait_pegin(&tx.txid, "rejected", |s| s["state"] != "seen");
        assert_eq!(s["state"], "rejected", "{what}: {s}");
        let reason = s["reason"].as_str().unwrap_or_default();
        for w in words {
            assert!(
                reason.contains(w),
                "{what}: reason {reason:?} lacks {w:?}: {s}"
            );
        }
        assert_eq!(s["sats"], amount, "{what}: {s}");
        assert!(s["mintedIn"].is_null(), "{what}: {s}");
    }

    // Nobody else was credited: not the addresses the bad payloads come closest to naming, and
    // the chain holds the split deposit's two peg-ins only (checked again after more blocks).
    let mut padded = [0u8; 20];
    padded[..19].copy_from_slice(&short);
    let mut left_padded = [0u8; 20];
    left_padded[1..].copy_from_slice(&short);
    let untouched = [padded, left_padded, addr(&long[..20]), addr(&long[1..])];
    for who in &untouched {
        assert_eq!(dev.balance(who), 0, "0x{} credited", hex::encode(who));
    }
    let mut balances: Vec<_> = untouched.iter().map(|a| (*a, 0u128)).collect();
    balances.push((recipient, u128::from(sum) * WEI_PER_SAT));
    expect_settled(&dev, &balances, 2, 3);
    for tx in &txs[..3] {
        let s = dev.pegin_status(&tx.txid).unwrap();
        assert_eq!(s["state"], "rejected", "{s}");
    }
    dev.stop();
}

#[test]
fn reorged_out_deposit_double_spent_on_the_replacement_chain_is_never_minted() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (dev, btc, spk, min) = start_dev(dir.path(), "0");
    let sats = 150_000u64.max(min);
    let canary_sats = 60_000u64.max(min);
    let recipient: [u8; 20] = rand::random();
    let canary_recipient: [u8; 20] = rand::random();
    // 0: the deposit D; 1: C, spending D's coin to a plain address (no federation output),
    // final only from height tip+2; 2: a later deposit on its own coin, proving the follower
    // got past the replacement chain.
    let plan = json!([
        {"fed": [sats], "op_return": hex::encode(recipient), "send": false},
        {"conflicts_with": 0, "locktime_after_tip": 1, "send": false},
        {"fed": [canary_sats], "op_return": hex::encode(canary_recipient), "send": false},
    ]);
    let (tip, txs) = build_deposits(&btc.auth_url(), &spk, &plan)
        .unwrap_or_else(|e| panic!("{e}\n{}", dev.log_tail()));
    let (deposit, conflict, canary) = (&txs[0], &txs[1], &txs[2]);
    assert_eq!(btc.height(), tip);

    // The replacement chain first: tip ← R1 ← R2 (C) ← R3 ← R4, then set aside with
    // `invalidateblock R1`; C, not final at R1's height, leaves the mempool.
    let r1 = btc.mine(1).remove(0);
    btc.send(conflict)
        .unwrap_or_else(|e| panic!("conflicting tx refused: {e}"));
    let rest = btc.mine(3);
    assert_eq!(btc.block_of(&conflict.txid).as_ref(), Some(&rest[0]));
    btc.ok("invalidateblock", json!([r1]));
    assert_eq!(btc.height(), tip);
    assert!(btc.mempool().is_empty(), "{:?}", btc.mempool());

    // The deposit is mined in block A: 1 confirmation of the 2 required.
    btc.send(deposit)
        .unwrap_or_else(|e| panic!("deposit refused: {e}"));
    let a = btc.mine(1).remove(0);
    let seen = dev.wait_pegin(&deposit.txid, "seen in block A with 1 confirmation", |s| {
        s["state"] == "seen" && s["block"]["hash"] == a.as_str()
    });
    assert_eq!(seen["confirmations"], 1, "{seen}");

    // `invalidateblock A`: the deposit goes back to the mempool and the follower drops it.
    btc.ok("invalidateblock", json!([a]));
    assert_eq!(btc.mempool(), vec![deposit.txid.clone()]);
    dev.wait_pegin(&deposit.txid, "dropped", |s| s["state"] == "dropped");

    // The replacement chain, in which C double-spends the deposit's input, becomes active
    // (more work): the deposit leaves the mempool and can never be mined again.
    btc.ok("reconsiderblock", json!([r1]));
    assert_eq!(btc.ok("getbestblockhash", json!([])), rest[2].as_str());
    assert!(btc.mempool().is_empty(), "{:?}", btc.mempool());
    let refused = btc.send(deposit);
    assert!(
        refused.is_err(),
        "double-spent deposit accepted: {refused:?}"
    );
    // Past the required depth, with a later deposit confirmed on top.
    btc.send(canary)
        .unwrap_or_else(|e| panic!("later deposit refused: {e}"));
    btc.mine(3);
    expect_minted(&dev, &canary.txid, &canary_recipient, canary_sats);

    let s = dev.pegin_status(&deposit.txid).unwrap();
    assert_eq!(s["state"], "dropped", "{s}");
    assert!(s["mintedIn"].is_null(), "{s}");
    assert_eq!(dev.balance(&recipient), 0);
    // Over several more slots: still never minted; the chain holds the later deposit only.
    expect_settled(
        &dev,
        &[
            (recipient, 0),
            (canary_recipient, u128::from(canary_sats) * WEI_PER_SAT),
        ],
        1,
        4,
    );
    let s = dev.pegin_status(&deposit.txid).unwrap();
    assert_ne!(s["state"], "minted", "{s}");
    assert!(s["mintedIn"].is_null(), "{s}");
    dev.stop();
}

#[test]
fn reorged_out_deposit_mined_again_in_another_block_is_minted_once() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (dev, btc, spk, min) = start_dev(dir.path(), "0");
    let sats = 210_000u64.max(min);
    let recipient: [u8; 20] = rand::random();
    let plan = json!([{"fed": [sats], "op_return": hex::encode(recipient)}]);
    let (_, txs) = build_deposits(&btc.auth_url(), &spk, &plan)
        .unwrap_or_else(|e| panic!("{e}\n{}", dev.log_tail()));
    let deposit = &txs[0];
    assert_eq!(btc.mempool(), vec![deposit.txid.clone()]);

    // Mined in block B: 1 confirmation.
    let b = btc.mine(1).remove(0);
    let seen = dev.wait_pegin(&deposit.txid, "seen in block B", |s| {
        s["state"] == "seen" && s["block"]["hash"] == b.as_str()
    });
    assert_eq!(seen["confirmations"], 1, "{seen}");

    // `invalidateblock B`: like Bitcoin Core, the devnet returns the deposit to the mempool.
    btc.ok("invalidateblock", json!([b]));
    assert_eq!(btc.mempool(), vec![deposit.txid.clone()]);
    dev.wait_pegin(&deposit.txid, "dropped", |s| s["state"] == "dropped");
    assert_eq!(dev.balance(&recipient), 0);

    // Mined again in another block B', then confirmed.
    let b2 = btc.mine(1).remove(0);
    assert_ne!(b2, b);
    assert_eq!(btc.block_of(&deposit.txid), Some(b2.clone()));
    dev.wait_pegin(&deposit.txid, "seen in block B'", |s| {
        s["block"]["hash"] == b2.as_str()
    });
    btc.mine(1);
    let minted = expect_minted(&dev, &deposit.txid, &recipient, sats);
    assert_eq!(minted["block"]["hash"], b2.as_str(), "{minted}");

    // Minted exactly once: unchanged over several more slots and Bitcoin blocks.
    btc.mine(2);
    let wei = u128::from(sats) * WEI_PER_SAT;
    expect_settled(&dev, &[(recipient, wei)], 1, 3);

    // A reorg deeper than the required confirmations after the mint: B' is invalidated, the
    // deposit is confirmed again in a third block, and it is still minted only once (its
    // outpoint is in the minted set).
    btc.ok("invalidateblock", json!([b2]));
    assert_eq!(btc.mempool(), vec![deposit.txid.clone()]);
    let reverted = dev.wait_pegin(&deposit.txid, "reverted", |s| {
        s["block"]["hash"] != b2.as_str()
    });
    // The mint stands; the Bitcoin side shows the reorg.
    assert_eq!(reverted["state"], "minted", "{reverted}");
    assert_eq!(reverted["bitcoinState"], "reverted", "{reverted}");
    let b3 = btc.mine(3).remove(0);
    assert_eq!(btc.block_of(&deposit.txid), Some(b3.clone()));
    let again = dev.wait_pegin(&deposit.txid, "confirmed again in a third block", |s| {
        s["block"]["hash"] == b3.as_str() && s["confirmations"].as_u64() >= Some(2)
    });
    assert_eq!(again["state"], "minted", "{again}");
    assert_eq!(again["bitcoinState"], "confirmed", "{again}");
    assert_eq!(again["mintedIn"], minted["mintedIn"], "{again}");
    expect_settled(&dev, &[(recipient, wei)], 1, 4);
    dev.stop();
}

#[test]
fn bitcoin_node_killed_and_restarted_deposit_minted_once() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut devnet = BtcDevnetProcess::start(alys(), &dir.path().join("btc"));
    let mut dev = common::start_dev(
        &dir.path().join("node"),
        &[
            "--bitcoin-rpc-url",
            &devnet.url,
            "--bitcoin-rpc-user",
            "alys",
            "--bitcoin-rpc-password",
            "alys",
        ],
    );
    assert_eq!(dev.bitcoin_rpc.as_deref(), Some(devnet.url.as_str()));
    let btc = Btc::of(&dev);
    let (spk, min) = federation(&dev);
    let sats = 175_000u64.max(min);
    let recipient: [u8; 20] = rand::random();
    let plan = json!([{"fed": [sats], "op_return": hex::encode(recipient)}]);
    let (tip, txs) = build_deposits(&btc.auth_url(), &spk, &plan)
        .unwrap_or_else(|e| panic!("{e}\n{}", dev.log_tail()));
    let deposit = &txs[0];

    // 1 confirmation, then the Bitcoin node is SIGKILLed.
    let b = btc.mine(1).remove(0);
    let seen = dev.wait_pegin(&deposit.txid, "seen with 1 confirmation", |s| {
        s["state"] == "seen" && s["confirmations"] == 1
    });
    assert_eq!(seen["block"]["hash"], b.as_str(), "{seen}");
    devnet.kill();
    assert!(btc.call("getblockcount", json!([])).is_err());

    // Without Bitcoin the sidechain keeps producing blocks, the node keeps answering and
    // nothing is minted. (The follower's warning shows it did find the node gone.)
    let before = dev.block_number();
    dev.wait_block_above(before + 3);
    common::wait_until(
        Duration::from_secs(30),
        "the follower to report the Bitcoin RPC failure",
        || {
            dev.log_text()
                .contains("bitcoin follower: RPC failed")
                .then_some(())
        },
        || dev.log_tail(),
    );
    assert!(
        matches!(dev.process.child.try_wait(), Ok(None)),
        "alys dev exited without Bitcoin:\n{}",
        dev.log_tail()
    );
    let s = dev.pegin_status(&deposit.txid).unwrap();
    assert_eq!(s["state"], "seen", "{s}");
    assert_eq!(dev.balance(&recipient), 0);

    // Restarted on the same datadir and port: the chain is there, the remaining confirmation
    // is mined and the deposit is minted once.
    devnet.restart();
    assert_eq!(btc.height(), tip + 1);
    assert_eq!(btc.block_of(&deposit.txid), Some(b));
    btc.mine(1);
    expect_minted(&dev, &deposit.txid, &recipient, sats);
    btc.mine(2);
    expect_settled(&dev, &[(recipient, u128::from(sats) * WEI_PER_SAT)], 1, 3);
    let log = dev.log_text();
    assert!(
        !log.to_lowercase().contains("panic"),
        "the node logged a panic:\n{}",
        dev.log_tail()
    );
    dev.stop();
}
