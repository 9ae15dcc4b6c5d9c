//! Merged mining end to end, as users run it: `alys dev` with its built-in miner finalizes blocks
//! and re-mints priority fees to the miner and the federation (to the wei, read over eth RPC
//! with Foundry's `cast`); with `--no-miner` and a small `--max-blocks-without-pow` production
//! halts, shows it on `getsyncstatus`, and resumes when the `alys-miner` binary mines against
//! the node RPC; the finalized height survives a restart.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use common::{cast, miner_bin, require, DevProcess as Dev, Tool};
use serde_json::{json, Value};

const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDR1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const GWEI: u128 = 1_000_000_000;

/// Node RPC shorthands of these tests.
trait DevExt {
    fn log(&self) -> String;
    fn call(&mut self, method: &str, params: Value) -> Value;
    fn sync(&mut self) -> Value;
}

impl DevExt for Dev {
    fn log(&self) -> String {
        self.log_text()
    }

    /// A node RPC call (Basic alys:alys); returns `result` or panics with the log.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.node(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}\n{}", self.log_tail()))
    }

    fn sync(&mut self) -> Value {
        self.call("getsyncstatus", json!([]))
    }
}

fn start_dev(datadir: &Path, extra: &[&str]) -> Dev {
    let mut args = vec!["--slot-ms", "1000"];
    args.extend_from_slice(extra);
    let mut dev = common::start_dev(datadir, &args);
    wait(&mut dev, Duration::from_secs(30), "node RPC up", |d| {
        d.node("getsyncstatus", json!([])).is_ok()
    });
    dev
}

fn wait(dev: &mut Dev, timeout: Duration, what: &str, mut ok: impl FnMut(&mut Dev) -> bool) {
    dev.wait_for(timeout, what, |d| ok(d).then_some(()));
}

fn balance(rpc: &str, addr: &str) -> u128 {
    cast(&["balance", addr, "-r", rpc])
        .unwrap()
        .parse()
        .unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn built_in_miner_finalizes_and_remints_fees_to_the_wei() {
    if require(Tool::Cast).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start_dev(dir.path(), &[]);
    // Blocks become finalized within a few slots of the first proof.
    wait(&mut dev, Duration::from_secs(30), "finalized ≥ 2", |d| {
        u(&d.sync()["finalizedHeight"]) >= 2
    });
    let s = dev.sync();
    assert!(u(&s["headHeight"]) - u(&s["finalizedHeight"]) <= 3, "{s}");
    assert_eq!(s["mergedMining"]["halted"], false);

    // A transfer paying a priority fee with a sub-gwei part.
    let receipt = cast(&[
        "send",
        "--private-key",
        KEY0,
        ADDR1,
        "--value",
        "1",
        "--gas-price",
        "5000000000",
        "--priority-gas-price",
        "1500000007",
        "-r",
        &dev.eth_rpc,
        "--json",
    ])
    .unwrap();
    let receipt: Value = serde_json::from_str(&receipt).unwrap();
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let hex =
        |v: &Value| u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let gas_used = hex(&receipt["gasUsed"]);
    let price = hex(&receipt["effectiveGasPrice"]);
    let number = hex(&receipt["blockNumber"]) as u64;
    let base_fee: u128 = cast(&[
        "block",
        &number.to_string(),
        "-f",
        "baseFeePerGas",
        "-r",
        &dev.eth_rpc,
    ])
    .unwrap()
    .parse()
    .unwrap();
    let fees = (price - base_fee) * gas_used;
    assert_eq!(fees, 1_500_000_007 * 21_000);

    // Wait until a proof covering the block has been included and executed.
    let miner = alys_primitives::dev::dev_miner_address().to_string();
    let federation = alys_primitives::dev::dev_fee_address().to_string();
    wait(&mut dev, Duration::from_secs(30), "fee re-mint", |d| {
        u(&d.sync()["finalizedHeight"]) >= number && balance(&d.eth_rpc, &miner) > 0
    });
    // Only this transaction paid fees: the whole gwei part is re-minted, 80 % to the miner,
    // the rest to the (single) federation address; the sub-gwei 147 wei wait for a later proof.
    let pool = fees / GWEI;
    let miner_share = pool * 80 / 100;
    assert_eq!(balance(&dev.eth_rpc, &miner), miner_share * GWEI);
    assert_eq!(
        balance(&dev.eth_rpc, &federation),
        (pool - miner_share) * GWEI
    );
    assert!(dev.log().contains("AuxPoW finalized blocks"));
    dev.stop();
}

#[test]
fn production_halts_without_pow_and_resumes_with_alys_miner() {
    let miner_bin = miner_bin();
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start_dev(dir.path(), &["--no-miner", "--max-blocks-without-pow", "3"]);
    wait(&mut dev, Duration::from_secs(30), "halt", |d| {
        d.sync()["mergedMining"]["halted"] == true
    });
    let s = dev.sync();
    assert_eq!(u(&s["headHeight"]), 3, "{s}");
    assert_eq!(u(&s["finalizedHeight"]), 0);
    assert!(s["mergedMining"]["haltReason"]
        .as_str()
        .unwrap()
        .contains("needs an AuxPoW"));
    // Three more slots pass without a block.
    let halted_at = u(&s["currentSlot"]);
    wait(
        &mut dev,
        Duration::from_secs(30),
        "three slots while halted",
        |d| u(&d.sync()["currentSlot"]) >= halted_at + 3,
    );
    assert_eq!(u(&dev.sync()["headHeight"]), 3, "no block while halted");
    assert!(
        dev.log().contains("production halted"),
        "{}",
        dev.log_tail()
    );

    // An external miner resumes production.
    let mut miner = Command::new(&miner_bin)
        .args(["--url", &format!("http://127.0.0.1:{}", dev.node_rpc_port)])
        .args(["--user", "alys", "--password", "alys"])
        .args(["--address", "0x6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait(&mut dev, Duration::from_secs(30), "resume", |d| {
        let s = d.sync();
        u(&s["headHeight"]) >= 8 && u(&s["finalizedHeight"]) >= 3
    });
    assert!(dev.log().contains("block production resumed"));
    let _ = miner.kill();
    let _ = miner.wait();

    // Without the miner it halts again at finalized + 3.
    wait(&mut dev, Duration::from_secs(30), "halt again", |d| {
        d.sync()["mergedMining"]["halted"] == true
    });
    let s = dev.sync();
    let finalized = u(&s["finalizedHeight"]);
    assert_eq!(u(&s["headHeight"]), finalized + 3, "{s}");
    dev.stop();

    // Finality survives a restart.
    let mut dev = start_dev(dir.path(), &["--no-miner", "--max-blocks-without-pow", "3"]);
    let s = dev.sync();
    assert_eq!(u(&s["finalizedHeight"]), finalized, "{s}");
    assert_eq!(s["mergedMining"]["halted"], true);
    dev.stop();
}
