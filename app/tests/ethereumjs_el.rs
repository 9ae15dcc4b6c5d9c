//! `alys node` driving an execution client nobody here wrote: EthereumJS (npm
//! `@ethereumjs/client`) over the Engine API with a JWT secret file, the way a federation
//! member runs Geth or Reth. One authority (threshold 1) on the dev chain with 1 s slots,
//! `alys-miner` finalizing:
//!
//! 1. `alys chain export-genesis` writes the genesis EthereumJS starts from; its block 0 hash is
//!    the spec's;
//! 2. without `--execution-rpc-url` the first block with a transaction cannot be imported
//!    (EthereumJS serves no receipts on its Engine API port): nothing is proposed, the log and
//!    `getsyncstatus` name `eth_getBlockReceipts` and the flag to set;
//! 3. the node restarts with `--execution-rpc-url` (re-driving the EL) and production resumes;
//! 4. 100 blocks with ETH transfers and ERC-20 transfers sent with `cast` to EthereumJS's RPC,
//!    EthereumJS restarted on the way (the node reports the outage, waits, goes on);
//! 5. receipts and balances checked on EthereumJS; the fees re-minted to the miner and the
//!    federation equal, to the wei, the priority fees EthereumJS reports for the finalized
//!    blocks;
//! 6. EthereumJS comes back behind, on an empty data directory: the node replays its chain to
//!    it and production goes on with the same state. (EthereumJS 0.10.5 keeps no receipts for
//!    blocks it is given this way, which is why this comes after the receipt checks.)
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alys_primitives::{bls::save_secret_key, dev::dev_secret_key};
use alys_test_utils::ethereumjs::EthereumJsProcess;
use alys_test_utils::nodes::{export_geth_genesis, BtcDevnetProcess};
use alys_test_utils::process::LoggedProcess;
use common::{alys, cast, cast_send, json_rpc, miner_bin, require, wait_until, SentTx, Tool};
use serde_json::{json, Value};

const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDR1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const ADDR2: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const MINER: &str = "0x6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d";
const GWEI: u128 = 1_000_000_000;
const BLOCKS: u64 = 100;

fn hex_u128(v: &Value) -> u128 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not a hex string: {v}"));
    u128::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// `alys node` as a process, with its node RPC.
struct Node {
    process: LoggedProcess,
    rpc: String,
}

impl Node {
    fn start(
        dir: &Path,
        el: &EthereumJsProcess,
        btc: &BtcDevnetProcess,
        execution_rpc: bool,
    ) -> Self {
        let d = |p: &str| dir.join(p).to_string_lossy().to_string();
        let mut args = vec![
            "node".to_string(),
            "--chain".into(),
            d("chain.json"),
            "--datadir".into(),
            d("node"),
            "--signer-key".into(),
            d("signer.key"),
            "--rpc-port".into(),
            "0".into(),
            "--rpc-password".into(),
            "alys".into(),
            // One authority: no peers (and no fixed p2p port another test may hold).
            "--no-p2p".into(),
            "--metrics-port".into(),
            "0".into(),
            // The chain has a peg: an authority verifies peg-ins against a Bitcoin node.
            "--bitcoin-rpc-url".into(),
            btc.url.clone(),
        ];
        args.extend(el.node_args(execution_rpc));
        let mut process = LoggedProcess::spawn("alys node", alys(), args, &dir.join("node.log"));
        let rpc = process.wait_for_url("node JSON-RPC", Duration::from_secs(60));
        Self { process, rpc }
    }

    fn sync(&self) -> Value {
        json_rpc(&self.rpc, "alys:alys", "getsyncstatus", json!([]))
            .unwrap_or_else(|e| panic!("getsyncstatus: {e}\n{}", self.process.log_tail(40)))
    }

    fn wait(&mut self, secs: u64, what: &str, mut ok: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.sync();
            if ok(&s) {
                return s;
            }
            if let Some(status) = self.process.exited() {
                panic!(
                    "alys node exited ({status}) waiting for {what}:\n{}",
                    self.process.log_tail(40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {s}\n{}",
                self.process.log_tail(40)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn count_log(&self, needle: &str) -> usize {
        self.process
            .log_text()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }
}

fn head(s: &Value) -> u64 {
    s["headHeight"].as_u64().unwrap()
}

/// The receipt of `tx`; published again if EthereumJS lost it (its pool lives in memory, and
/// a restart drops what it held), as a wallet does.
fn included(el: &EthereumJsProcess, tx: &SentTx) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut published = Instant::now();
    loop {
        if let Some(r) = receipt(el, &tx.hash) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no receipt of {}:\n{}",
            tx.hash,
            el.log_tail()
        );
        if published.elapsed() > Duration::from_secs(5) {
            let _ = cast(&["publish", "--async", &tx.raw, "-r", &el.eth_rpc]);
            published = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn receipt(el: &EthereumJsProcess, hash: &str) -> Option<Value> {
    el.eth("eth_getTransactionReceipt", json!([hash]))
        .ok()
        .filter(|r| !r.is_null())
}

fn el_block_number(el: &EthereumJsProcess) -> u64 {
    el.eth("eth_blockNumber", json!([]))
        .map(|v| hex_u128(&v) as u64)
        .unwrap_or(0)
}

fn balance(el: &EthereumJsProcess, addr: &str) -> u128 {
    hex_u128(&el.eth("eth_getBalance", json!([addr, "latest"])).unwrap())
}

/// `alys-miner`, killed when dropped (also when the test fails).
struct Miner(std::process::Child);

impl Drop for Miner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_miner(node: &Node) -> Miner {
    Miner(
        Command::new(miner_bin())
            .args(["--url", &node.rpc, "--user", "alys", "--password", "alys"])
            .args(["--address", MINER])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// The dev chain spec with 1 s slots.
fn write_spec(dir: &Path) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc/chain-dev.json");
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    spec["slotDurationMs"] = json!(1000);
    let out = dir.join("chain.json");
    std::fs::write(&out, spec.to_string()).unwrap();
    out
}

#[test]
fn alys_node_drives_ethereumjs() {
    if require(Tool::Cast).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path());
    save_secret_key(&dir.path().join("signer.key"), &dev_secret_key(0)).unwrap();

    // 1. The genesis file, and EthereumJS agreeing on the genesis hash.
    let genesis = dir.path().join("genesis.json");
    let genesis_hash = export_geth_genesis(alys(), &spec, &genesis);
    let Some(mut el) = EthereumJsProcess::start(
        &genesis,
        &dir.path().join("ethereumjs"),
        &dir.path().join("jwt.hex"),
    ) else {
        return;
    };
    let block0 = el.block("0x0").unwrap();
    assert_eq!(
        block0["hash"],
        json!(genesis_hash),
        "EthereumJS's genesis block: {block0}"
    );

    let btc = BtcDevnetProcess::start(alys(), &dir.path().join("btc"));

    // 2. Engine API only: empty blocks work, the first transaction stops production visibly.
    let mut node = Node::start(dir.path(), &el, &btc, false);
    node.wait(30, "two blocks", |s| head(s) >= 2);
    let mut nonce = 0;
    let first = cast_send(&el.eth_rpc, KEY0, nonce, 21_000, &[ADDR1, "--value", "1"]);
    nonce += 1;
    let s = node.wait(30, "the receipts error", |s| {
        s["executionClient"]["error"]["failures"].as_u64() >= Some(3)
    });
    let error = &s["executionClient"]["error"];
    assert_eq!(s["executionClient"]["ok"], false);
    assert_eq!(error["method"], "eth_getBlockReceipts", "{s}");
    assert!(error["message"].as_str().unwrap().contains("-32601"), "{s}");
    assert!(
        error["hint"]
            .as_str()
            .unwrap()
            .contains("--execution-rpc-url"),
        "{s}"
    );
    let stalled = head(&s);
    let s = node.wait(30, "more failed slots", |s| {
        s["executionClient"]["error"]["failures"].as_u64() >= Some(5)
    });
    assert_eq!(
        head(&s),
        stalled,
        "no block proposed while the receipts are missing"
    );
    assert!(receipt(&el, &first.hash).is_none());
    assert_eq!(
        node.count_log(
            "block production stopped: the execution client failed eth_getBlockReceipts"
        ),
        1,
        "one error line, not one per slot:\n{}",
        node.process.log_tail(20)
    );

    // 3. Restart with the eth RPC URL: the node re-drives EthereumJS and the transfer lands.
    node.process.interrupt(Duration::from_secs(15));
    let mut node = Node::start(dir.path(), &el, &btc, true);
    node.wait(30, "production resumed", |s| {
        head(s) > stalled && s["executionClient"]["ok"] == true
    });
    assert_eq!(included(&el, &first)["status"], "0x1");
    let miner = start_miner(&node);

    // 4. An ERC-20, then transfers of ETH and tokens in every block up to block 100.
    let artifact: Value = serde_json::from_str(include_str!(
        "../../crates/evm/tests/support/RpcTestToken.json"
    ))
    .unwrap();
    let supply = format!("{:064x}", 1_000_000u64);
    let code = format!("{}{supply}", artifact["bytecode"].as_str().unwrap());
    let deploy = cast_send(&el.eth_rpc, KEY0, nonce, 1_500_000, &["--create", &code]);
    nonce += 1;
    let deployed = included(&el, &deploy);
    assert_eq!(deployed["status"], "0x1", "{deployed}");
    let token = deployed["contractAddress"].as_str().unwrap().to_string();

    let (eth_before, mut sent) = (balance(&el, ADDR1), vec![first, deploy]);
    let (mut sent_wei, mut sent_tokens) = (0u128, 0u128);
    let mut restarted = false;
    // Until block 100 and past the execution client's restart (on a loaded machine the chain
    // may pass block 50 before this loop reaches it: the restart then comes late, never not).
    while el_block_number(&el) < BLOCKS || !restarted {
        let number = el_block_number(&el);
        let round = std::time::Instant::now();
        let (wei, tokens) = (1_000 + u128::from(nonce), u128::from(nonce % 7 + 1));
        sent.push(cast_send(
            &el.eth_rpc,
            KEY0,
            nonce,
            21_000,
            &[ADDR1, "--value", &wei.to_string()],
        ));
        sent.push(cast_send(
            &el.eth_rpc,
            KEY0,
            nonce + 1,
            100_000,
            &[
                &token,
                "transfer(address,uint256)",
                ADDR2,
                &tokens.to_string(),
            ],
        ));
        nonce += 2;
        sent_wei += wei;
        sent_tokens += tokens;
        if !restarted && number >= BLOCKS / 2 {
            // 5. The execution client restarts (its pool is in memory: every transaction sent
            //    is included first). The node reports the outage, waits, and goes on.
            for tx in &sent {
                included(&el, tx);
            }
            restart_el(&mut el, &mut node, false);
            restarted = true;
            continue;
        }
        wait_until(
            Duration::from_secs(30),
            "the next block",
            || (el_block_number(&el) > number).then_some(()),
            || node.process.log_tail(20),
        );
        if round.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "block {number}: sending two transactions and waiting for the next block took {:?}",
                round.elapsed()
            );
        }
    }

    // Every transaction succeeded, and the balances on EthereumJS add up.
    for tx in &sent {
        let r = included(&el, tx);
        assert_eq!(r["status"], "0x1", "{r}");
    }
    assert_eq!(balance(&el, ADDR1), eth_before + sent_wei);
    let token_balance = cast(&[
        "call",
        &token,
        "balanceOf(address)(uint256)",
        ADDR2,
        "-r",
        &el.eth_rpc,
    ])
    .unwrap();
    assert_eq!(
        token_balance.split_whitespace().next().unwrap(),
        sent_tokens.to_string()
    );

    // 6. Fee re-mint: stop mining, let the last proof land, then compare what was re-minted
    //    with the priority fees EthereumJS itself reports for every finalized block.
    drop(miner);
    // Settled: no proof pending and the finalized height unchanged for 3 s (3 slots).
    let mut last = (u64::MAX, Instant::now());
    let s = node.wait(60, "finality to settle", |s| {
        let finalized = s["finalizedHeight"].as_u64().unwrap();
        if finalized != last.0 || s["mergedMining"]["pendingProofs"] != 0 {
            last = (finalized, Instant::now());
        }
        last.1.elapsed() >= Duration::from_secs(3)
    });
    let finalized = s["finalizedHeight"].as_u64().unwrap();
    assert!(finalized >= BLOCKS / 2, "{s}");
    let mut fees = 0u128;
    let mut proofs = 0u128;
    for n in 1..=finalized {
        let block = el
            .eth("eth_getBlockByNumber", json!([format!("{n:#x}"), true]))
            .unwrap();
        let base = hex_u128(&block["baseFeePerGas"]);
        let receipts = el
            .eth("eth_getBlockReceipts", json!([format!("{n:#x}")]))
            .unwrap();
        for (tx, r) in block["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .zip(receipts.as_array().unwrap())
        {
            let tip =
                hex_u128(&tx["maxPriorityFeePerGas"]).min(hex_u128(&tx["maxFeePerGas"]) - base);
            fees += tip * hex_u128(&r["gasUsed"]);
        }
        let consensus = json_rpc(&node.rpc, "alys:alys", "getblockbyheight", json!([n])).unwrap();
        proofs += u128::from(consensus["auxpow"] == true);
    }
    assert!(fees > 0);
    let federation = alys_primitives::dev::dev_fee_address().to_string();
    let (to_miner, to_federation) = (balance(&el, MINER), balance(&el, &federation));
    assert_eq!(
        to_miner + to_federation,
        fees,
        "every priority fee re-minted, to the wei"
    );
    // 80 % to the miner in each range, rounded down to the gwei.
    assert!(to_miner <= fees * 80 / 100 && to_miner + proofs * GWEI >= fees * 80 / 100);

    // 7. EthereumJS comes back behind: on an empty data directory. The node replays its whole
    //    chain to it and goes on; the state is the one it had.
    let before = node.sync();
    let head_block = el.block("latest").unwrap();
    restart_el(&mut el, &mut node, true);
    let replayed = el
        .eth("eth_getBlockByNumber", json!([head_block["number"], false]))
        .unwrap();
    assert_eq!(
        replayed["hash"], head_block["hash"],
        "the same chain, replayed"
    );
    assert!(head(&node.sync()) > head(&before));
    assert_eq!(balance(&el, ADDR1), eth_before + sent_wei);
    assert_eq!(balance(&el, MINER), to_miner);
    let last = cast_send(&el.eth_rpc, KEY0, nonce, 21_000, &[ADDR1, "--value", "1"]);
    assert_eq!(included(&el, &last)["status"], "0x1");
    node.process.interrupt(Duration::from_secs(15));
}

/// Stops EthereumJS (on an empty data directory when `wipe`) and starts it again; the node
/// reports the outage, then production resumes on top of what it had.
fn restart_el(el: &mut EthereumJsProcess, node: &mut Node, wipe: bool) {
    el.stop();
    node.wait(30, "the EL outage reported", |s| {
        s["executionClient"]["ok"] == false
    });
    let stalled = head(&node.sync());
    if wipe {
        std::fs::remove_dir_all(el.datadir()).unwrap();
    }
    el.restart();
    node.wait(90, "production after the EL restart", |s| {
        head(s) > stalled + 1 && s["executionClient"]["ok"] == true
    });
    assert!(el_block_number(el) > stalled);
}
