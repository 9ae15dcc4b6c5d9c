//! `alys dev` as a user runs it: start it, send a transfer with Foundry's `cast` (a client no
//! one here wrote), check the receipt, stop it, restart it on the same `--datadir` and find the
//! head and balances preserved; then kill it with SIGKILL at random moments and check that every
//! restart keeps producing on top of the previous head.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::{path::Path, time::Duration};

use alys_test_utils::seed::seeded_rng;
use common::{cast, require, DevProcess as Dev, Tool};
use rand::Rng;

const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDR1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

/// POSTs `body` to the node RPC with optional Basic credentials; returns (status, JSON body).
fn node_rpc(port: u16, auth: Option<&str>, body: &str) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let auth = auth
        .map(|a| format!("Authorization: Basic {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let json =
        serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap_or("null")).unwrap_or_default();
    (status, json)
}

fn start_dev(datadir: &Path, slot_ms: u64) -> Dev {
    common::start_dev(datadir, &["--slot-ms", &slot_ms.to_string()])
}

fn block_number(rpc: &str) -> Option<u64> {
    cast(&["block-number", "-r", rpc]).ok()?.parse().ok()
}

fn block_hash(rpc: &str, number: u64) -> String {
    cast(&["block", &number.to_string(), "-f", "hash", "-r", rpc]).unwrap()
}

/// Waits until the chain's head is above `above`; on timeout or exit, fails with the node's log.
fn wait_for_block(dev: &mut Dev, above: u64, timeout: Duration) -> u64 {
    dev.wait_for(timeout, &format!("a block above {above}"), |d| {
        block_number(&d.eth_rpc).filter(|n| *n > above)
    })
}

#[test]
fn cast_transfer_survives_restart() {
    if require(Tool::Cast).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start_dev(dir.path(), 2000);
    wait_for_block(&mut dev, 0, Duration::from_secs(20));
    let before: u128 = cast(&["balance", ADDR1, "-r", &dev.eth_rpc])
        .unwrap()
        .parse()
        .unwrap();
    let receipt = cast(&[
        "send",
        "--private-key",
        KEY0,
        ADDR1,
        "--value",
        "1ether",
        "-r",
        &dev.eth_rpc,
        "--json",
    ])
    .unwrap();
    let receipt: serde_json::Value = serde_json::from_str(&receipt).unwrap();
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let tx = receipt["transactionHash"].as_str().unwrap().to_string();
    let after: u128 = cast(&["balance", ADDR1, "-r", &dev.eth_rpc])
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(after, before + 10u128.pow(18));
    let head = block_number(&dev.eth_rpc).unwrap();
    let head_hash = block_hash(&dev.eth_rpc, head);
    dev.stop();

    let mut dev = start_dev(dir.path(), 2000);
    wait_for_block(&mut dev, head, Duration::from_secs(20));
    assert_eq!(
        block_hash(&dev.eth_rpc, head),
        head_hash,
        "block {head} changed across restart"
    );
    let again: u128 = cast(&["balance", ADDR1, "-r", &dev.eth_rpc])
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(again, after);
    let receipt = cast(&["receipt", &tx, "status", "-r", &dev.eth_rpc]).unwrap();
    assert!(receipt.starts_with('1') || receipt == "true", "{receipt}");
    dev.stop();
}

#[test]
fn sigkill_at_random_moments_keeps_producing_on_the_previous_head() {
    if require(Tool::Cast).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = seeded_rng("sigkill_at_random_moments");
    let mut last: Option<(u64, String)> = None;
    for round in 0..20 {
        let mut dev = start_dev(dir.path(), 1000);
        let floor = last.as_ref().map(|(n, _)| *n).unwrap_or(0);
        let now = wait_for_block(&mut dev, floor, Duration::from_secs(60));
        if let Some((n, hash)) = &last {
            assert_eq!(
                &block_hash(&dev.eth_rpc, *n),
                hash,
                "round {round}: block {n} was replaced"
            );
        }
        assert!(now > floor, "round {round}");
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..2500)));
        let head = block_number(&dev.eth_rpc).unwrap();
        let hash = block_hash(&dev.eth_rpc, head);
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..1200)));
        dev.kill();
        last = Some((head, hash));
    }
}

#[test]
fn node_rpc_answers_json_rpc_1_and_2_with_basic_auth() {
    if require(Tool::Cast).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start_dev(dir.path(), 1000);
    let head = wait_for_block(&mut dev, 1, Duration::from_secs(20));
    // "alys:alys" in base64.
    let auth = Some("YWx5czphbHlz");
    let (status, _) = node_rpc(
        dev.node_rpc_port,
        None,
        r#"{"method":"getheadblock","params":[],"id":1}"#,
    );
    assert_eq!(status, 401);
    let (status, _) = node_rpc(
        dev.node_rpc_port,
        Some("YWx5czp3cm9uZw=="),
        r#"{"method":"help","id":1}"#,
    );
    assert_eq!(status, 401);
    // JSON-RPC 1.0, as Bitcoin-style clients send it.
    let (status, v) = node_rpc(
        dev.node_rpc_port,
        auth,
        r#"{"method":"getblockbyheight","params":[1],"id":"a"}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(v["error"], serde_json::Value::Null, "{v}");
    assert_eq!(v["result"]["height"], 1);
    assert_eq!(v["result"]["executionBlockNumber"], 1);
    assert_eq!(v["id"], "a");
    // JSON-RPC 2.0.
    let (_, v) = node_rpc(
        dev.node_rpc_port,
        auth,
        r#"{"jsonrpc":"2.0","method":"getsyncstatus","id":2}"#,
    );
    assert_eq!(v["jsonrpc"], "2.0");
    assert!(
        v["result"]["headHeight"].as_u64().unwrap() >= head.min(1),
        "{v}"
    );
    let (_, v) = node_rpc(
        dev.node_rpc_port,
        auth,
        r#"{"jsonrpc":"2.0","method":"getchainspec","id":3}"#,
    );
    assert_eq!(v["result"]["spec"]["chainId"], 263634);
    let (_, v) = node_rpc(dev.node_rpc_port, auth, r#"{"method":"help","id":4}"#);
    assert!(v["result"].as_str().unwrap().contains("getheadblock"));
    // Errors, never a dropped connection.
    let (_, v) = node_rpc(
        dev.node_rpc_port,
        auth,
        r#"{"method":"nosuchmethod","id":5}"#,
    );
    assert_eq!(v["error"]["code"], -32601);
    let (_, v) = node_rpc(
        dev.node_rpc_port,
        auth,
        r#"{"method":"getblockbyheight","params":["x"],"id":6}"#,
    );
    assert_eq!(v["error"]["code"], -32602);
    let (_, v) = node_rpc(
        dev.node_rpc_port,
        auth,
        r#"{"method":"getblockbyheight","params":[999999],"id":7}"#,
    );
    assert_eq!(v["error"]["code"], -5);
    let (_, v) = node_rpc(dev.node_rpc_port, auth, "{not json");
    assert_eq!(v["error"]["code"], -32700);
    dev.stop();
}
