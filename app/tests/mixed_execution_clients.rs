//! A federation whose authorities run different execution clients: 3 `alys node` processes
//! (threshold 2, 1 s slots) over the p2p network, authority 0 driving EthereumJS (npm
//! `@ethereumjs/client`, written outside this project) over the Engine API, authorities 1 and 2
//! on the embedded execution client. For 200 blocks, transactions signed with Foundry's `cast`
//! go to each authority's eth RPC (EthereumJS's included): ETH transfers to new accounts, and
//! ERC-20 transfers, storage set-and-clear (gas refunds) and reverting transfers on one token
//! deployed through EthereumJS and one through an embedded client. Then all three must report
//! the same block hash, state root and receipts root at every height, the same consensus block,
//! and the same receipt for every transaction; EthereumJS's authority must have filled its
//! slots with blocks the other two approved. A consensus split between execution clients (one
//! computing another state, gas or receipt than the other for the same block) fails here.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use alys_primitives::dev::DEV_ACCOUNTS;
use alys_test_utils::cluster::{Cluster, Execution, NodeProcess};
use alys_test_utils::wait::POLL;
use common::{alys, cast_send, require, write_dev_keys, write_dev_spec, SentTx, Tool};
use serde_json::{json, Value};

/// Blocks the federation produces under load (issue 16's number).
const BLOCKS: u64 = 200;
/// The authority that runs EthereumJS.
const ETHEREUMJS: usize = 0;

/// Receipt fields that all clients must agree on: all but `effectiveGasPrice`, which EthereumJS
/// 0.10.5 reports as the bare tip (docs/execution-clients.md).
const RECEIPT_FIELDS: [&str; 12] = [
    "transactionHash",
    "transactionIndex",
    "blockHash",
    "blockNumber",
    "from",
    "to",
    "contractAddress",
    "type",
    "status",
    "gasUsed",
    "cumulativeGasUsed",
    "logsBloom",
];
/// Fields of each log all clients must agree on: all but `blockTimestamp`, which EthereumJS
/// 0.10.5 does not serve (a later addition to the eth JSON-RPC spec).
const LOG_FIELDS: [&str; 9] = [
    "address",
    "topics",
    "data",
    "blockHash",
    "blockNumber",
    "transactionHash",
    "transactionIndex",
    "logIndex",
    "removed",
];

/// A dev account sending through one authority's eth RPC, one call at a time per kind.
struct Sender {
    account: usize,
    node: usize,
    nonce: u64,
    token: Option<String>,
    /// Sent and not yet seen in a block by the node it was sent to.
    pending: Vec<SentTx>,
    /// Every transaction sent, and whether it must succeed.
    sent: Vec<(String, bool)>,
}

impl Sender {
    fn key(&self) -> String {
        DEV_ACCOUNTS[self.account].1.to_string()
    }

    fn send(&mut self, node: &NodeProcess, gas: u64, args: &[&str], succeeds: bool) {
        let tx = cast_send(&node.eth_rpc, &self.key(), self.nonce, gas, args);
        self.nonce += 1;
        self.sent.push((tx.hash.clone(), succeeds));
        self.pending.push(tx);
    }

    /// Sends the next ETH transfer (to an account that does not exist yet) and, with a token,
    /// the next token call: transfer, set-and-clear, transfer, transfer above the balance.
    fn send_next(&mut self, node: &NodeProcess) {
        let n = self.nonce;
        let fresh = format!("0x{:040x}", ((self.account as u64 + 1) << 32) | n);
        let wei = (1_000 + n).to_string();
        self.send(node, 21_000, &[&fresh, "--value", &wei], true);
        let Some(token) = self.token.clone() else {
            return;
        };
        let (sig, args, succeeds) = match n % 4 {
            1 => ("setAndClear(uint256)", vec!["3".to_string()], true),
            3 => (
                "transfer(address,uint256)",
                vec![fresh, "1000000000".into()],
                false,
            ),
            _ => ("transfer(address,uint256)", vec![fresh, "7".into()], true),
        };
        let mut call = vec![token.as_str(), sig];
        call.extend(args.iter().map(String::as_str));
        self.send(node, 120_000, &call, succeeds);
    }

    /// Forgets the pending transactions `node` has a receipt for; true when none is left.
    fn settled(&mut self, node: &NodeProcess) -> bool {
        self.pending.retain(|tx| receipt(node, &tx.hash).is_none());
        self.pending.is_empty()
    }
}

fn receipt(node: &NodeProcess, hash: &str) -> Option<Value> {
    node.eth("eth_getTransactionReceipt", json!([hash]))
        .ok()
        .filter(|r| !r.is_null())
}

fn head(node: &NodeProcess) -> u64 {
    node.head_height().unwrap_or(0)
}

/// `eth_getBlockByNumber(height)` without transactions.
fn el_block(node: &NodeProcess, height: u64) -> Value {
    node.eth(
        "eth_getBlockByNumber",
        json!([format!("{height:#x}"), false]),
    )
    .unwrap_or_else(|e| panic!("{} block {height}: {e}", node.options.name))
}

#[test]
fn ethereumjs_and_embedded_authorities_agree_on_every_block() {
    if require(Tool::Cast).is_none() || require(Tool::EthereumJs).is_none() {
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (spec, chain) = write_dev_spec(dir.path(), 3);
    assert_eq!(spec.approval_threshold, 2);
    let keys = write_dev_keys(dir.path(), 3);
    let mut cluster = Cluster::new(alys(), &chain, dir.path());
    for (i, key) in keys.iter().enumerate() {
        let execution = match i {
            ETHEREUMJS => Execution::EthereumJs,
            _ => Execution::Embedded,
        };
        cluster.add_node_on(&format!("authority-{i}"), Some(key.clone()), execution);
    }
    cluster.wait_same_block_at(1, Duration::from_secs(60));

    // Dev account i sends through authority i; accounts 0 (EthereumJS) and 1 (embedded) each
    // deploy a token first.
    let mut senders: Vec<Sender> = (0..3)
        .map(|i| Sender {
            account: i,
            node: i,
            nonce: 0,
            token: None,
            pending: Vec::new(),
            sent: Vec::new(),
        })
        .collect();
    let artifact: Value = serde_json::from_str(include_str!(
        "../../crates/evm/tests/support/RpcTestToken.json"
    ))
    .unwrap();
    let code = format!(
        "{}{:064x}",
        artifact["bytecode"].as_str().unwrap(),
        1_000_000u64
    );
    for s in &mut senders[..2] {
        s.send(
            &cluster.nodes[s.node],
            1_500_000,
            &["--create", &code],
            true,
        );
    }

    // Each sender sends its next transactions once the previous ones are in a block, until
    // every node is at BLOCKS.
    let deadline = Instant::now() + Duration::from_secs(BLOCKS + 120);
    while cluster.running().map(head).min() < Some(BLOCKS) {
        for s in &mut senders {
            let node = &cluster.nodes[s.node];
            if !s.settled(node) {
                continue;
            }
            if s.token.is_none() && s.nonce == 1 && s.account < 2 {
                let deployed = receipt(node, &s.sent[0].0).unwrap();
                assert_eq!(deployed["status"], "0x1", "{deployed}");
                s.token = deployed["contractAddress"].as_str().map(str::to_string);
            }
            s.send_next(node);
        }
        assert!(
            Instant::now() < deadline,
            "no height {BLOCKS} on every node; pending: {:?}\n{}",
            senders.iter().map(|s| s.pending.len()).collect::<Vec<_>>(),
            cluster.logs()
        );
        std::thread::sleep(POLL);
    }
    // The last transactions land too.
    alys_test_utils::wait::wait_until(
        Duration::from_secs(30),
        "the last transactions in a block",
        || {
            senders
                .iter_mut()
                .all(|s| s.settled(&cluster.nodes[s.node]))
                .then_some(())
        },
        || cluster.logs(),
    );
    let top = cluster.running().map(head).min().unwrap();
    let tip_root = cluster.wait_same_block_at(top, Duration::from_secs(30));
    eprintln!(
        "height {top} ({tip_root}) after {:?}; transactions sent: {}",
        started.elapsed(),
        senders.iter().map(|s| s.sent.len()).sum::<usize>()
    );

    // The same consensus block, EL block hash, state root and receipts root at every height.
    let mut blocks = Vec::new();
    for h in 0..=top {
        let per_node: Vec<(String, String, String, String)> = cluster
            .running()
            .map(|n| {
                let el = el_block(n, h);
                let field = |k: &str| el[k].as_str().unwrap_or_default().to_string();
                (
                    n.root_at(h).unwrap_or_default(),
                    field("hash"),
                    field("stateRoot"),
                    field("receiptsRoot"),
                )
            })
            .collect();
        assert!(
            per_node.iter().all(|b| *b == per_node[0]),
            "block {h} differs between the nodes (consensus root, EL hash, state root, receipts \
             root; authority 0 runs EthereumJS): {per_node:#?}"
        );
        if h > 0 {
            let block = cluster.nodes[1].block_at(h).unwrap();
            assert_eq!(block["executionBlockHash"].as_str(), Some(&*per_node[0].1));
            blocks.push(block);
        }
    }

    // Every receipt, the same on all three; successes and reverts as intended.
    let mut ok = 0;
    for (hash, succeeds) in senders.iter().flat_map(|s| &s.sent) {
        let receipts: Vec<BTreeMap<&str, Value>> = cluster
            .running()
            .map(|n| {
                let r = receipt(n, hash)
                    .unwrap_or_else(|| panic!("{} has no receipt of {hash}", n.options.name));
                let logs: Vec<Value> = (r["logs"].as_array().unwrap().iter())
                    .map(|l| LOG_FIELDS.iter().map(|k| (*k, l[*k].clone())).collect())
                    .collect();
                let fields = RECEIPT_FIELDS.iter().map(|k| (*k, r[*k].clone()));
                fields.chain([("logs", Value::Array(logs))]).collect()
            })
            .collect();
        assert!(
            receipts.iter().all(|r| *r == receipts[0]),
            "receipt of {hash} differs between the nodes: {receipts:#?}"
        );
        let status = if *succeeds { "0x1" } else { "0x0" };
        assert_eq!(receipts[0]["status"], status, "{hash}: {:?}", receipts[0]);
        ok += usize::from(*succeeds);
    }
    assert!(ok > 100, "only {ok} successful transactions");

    // EthereumJS's authority proposed in its slots, with transactions, and the embedded
    // authorities approved its blocks (threshold 2: the proposer and at least one of them).
    let slots: Vec<u64> = blocks.iter().map(|b| b["slot"].as_u64().unwrap()).collect();
    let mut proposed = [0u64; 3];
    let mut missed = [0u64; 3];
    for s in slots[0]..=slots[slots.len() - 1] {
        let who = (s % 3) as usize;
        if slots.binary_search(&s).is_ok() {
            proposed[who] += 1;
        } else {
            missed[who] += 1;
        }
    }
    let by_ethereumjs: Vec<&Value> = blocks
        .iter()
        .filter(|b| b["slot"].as_u64().unwrap() % 3 == ETHEREUMJS as u64)
        .collect();
    eprintln!("blocks proposed per authority {proposed:?}, slots missed {missed:?}");
    assert!(by_ethereumjs
        .iter()
        .all(|b| b["approvals"].as_u64() >= Some(2)));
    assert!(
        by_ethereumjs
            .iter()
            .filter(|b| b["transactions"].as_u64() > Some(0))
            .count()
            > 10,
        "EthereumJS's blocks carry the transactions sent to it"
    );
    assert_eq!(
        missed[ETHEREUMJS], 0,
        "EthereumJS's authority missed slots (proposed {proposed:?}, missed {missed:?})"
    );
}
