//! `alys node` in production shape: the execution client runs as its own process (`alys el`)
//! and the node drives it over the Engine API with a JWT secret file, signing with a BLS key
//! file. Blocks appear on the execution client's eth JSON-RPC.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use alys_primitives::{bls::save_secret_key, dev::dev_secret_key};
use alys_test_utils::json_rpc::JsonRpc;
use alys_test_utils::nodes::ElProcess;
use alys_test_utils::wait::wait_until;

fn etc(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../etc")
        .join(name)
}

fn alys(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_alys"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn block_number(eth: &JsonRpc) -> Option<u64> {
    let v = eth.call("eth_blockNumber", serde_json::json!([])).ok()?;
    u64::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok()
}

fn kill(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

#[test]
fn node_drives_a_standalone_execution_client() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_string_lossy().to_string();
    let chain = etc("chain-dev.json");
    save_secret_key(&dir.path().join("signer.key"), &dev_secret_key(0)).unwrap();
    let el = ElProcess::start(
        Path::new(env!("CARGO_BIN_EXE_alys")),
        &chain,
        &dir.path().join("el"),
        &dir.path().join("jwt.hex"),
    );
    let eth = JsonRpc::new(&el.eth_rpc, None);
    assert!(block_number(&eth).is_some(), "alys el answers eth RPC");
    // The chain has a peg: an authority verifies peg-ins against a Bitcoin node.
    let btc = alys_test_utils::nodes::BtcDevnetProcess::start(
        Path::new(env!("CARGO_BIN_EXE_alys")),
        &dir.path().join("btc"),
    );
    let node = alys(&[
        "node",
        "--chain",
        &chain.to_string_lossy(),
        "--datadir",
        &d("node"),
        "--engine-url",
        &el.engine_url,
        "--jwt-secret",
        &d("jwt.hex"),
        "--signer-key",
        &d("signer.key"),
        "--metrics-port",
        "0",
        "--p2p-port",
        "0",
        "--p2p-listen-addr",
        "127.0.0.1",
        "--bitcoin-rpc-url",
        &btc.url,
    ]);
    wait_until(
        Duration::from_secs(30),
        "3 blocks from alys node",
        || block_number(&eth).filter(|n| *n >= 3),
        || format!("head {:?}", block_number(&eth)),
    );
    kill(node);
    drop(el);
}
