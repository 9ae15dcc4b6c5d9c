//! Polling filters, WebSocket subscriptions (including logs removed by a reorg) and
//! `eth_getProof` verified against the block's state root.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use alloy::sol_types::SolCall;
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_trie::{proof::verify_proof, Nibbles, TrieAccount};
use jsonrpsee::core::client::{Subscription, SubscriptionClientT};
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{json, Value};
use support::*;

async fn next(sub: &mut Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("notification within 10 s")
        .expect("subscription open")
        .expect("valid notification")
}

async fn nothing_more(sub: &mut Subscription<Value>) {
    let extra = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
    assert!(extra.is_err(), "unexpected notification: {extra:?}");
}

fn token_transfer(
    nonce: u64,
    token: Address,
    to: Address,
    value: u64,
) -> alloy::consensus::TxEnvelope {
    eip1559(
        0,
        nonce,
        Some(token),
        U256::ZERO,
        Bytes::from(
            RpcTestToken::transferCall {
                to,
                value: U256::from(value),
            }
            .abi_encode(),
        ),
        100_000,
        10_000_000_000,
        1_000_000_000,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_filters() {
    let mut node = TestNode::start().await;
    let a1 = signer(1).address();
    let block_filter: String = node.ok("eth_newBlockFilter", json!([])).await;
    assert!(block_filter.starts_with("0x"));
    let tx_filter: String = node.ok("eth_newPendingTransactionFilter", json!([])).await;
    let token = deploy_token(&mut node, 0, 0, U256::from(1000)).await;
    // The deployment's block (and its mint log) is published asynchronously: the log filter is
    // installed only once that block has reached the filters, so the mint is not a change of it.
    let b1: Vec<B256> = changes_until(&node, &block_filter, |b: &[B256]| !b.is_empty()).await;
    assert_eq!(b1.len(), 1);
    let log_filter: String = node
        .ok(
            "eth_newFilter",
            json!([{"address": token, "fromBlock": "0x0"}]),
        )
        .await;

    let tx = token_transfer(1, token, a1, 5);
    node.send(&tx).await.expect("accepted");
    let pending: Vec<B256> = node.ok("eth_getFilterChanges", json!([tx_filter])).await;
    assert_eq!(pending.len(), 2, "deployment and transfer");
    assert_eq!(pending[1], *tx.tx_hash());
    let b2 = node.produce_block().await;
    // The event task publishes asynchronously after the head moves: the filters' changes are
    // collected until the new head and its log are among them.
    let blocks: Vec<B256> = changes_until(&node, &block_filter, |b: &[B256]| b.contains(&b2)).await;
    assert_eq!(blocks, vec![b2]);
    let again: Vec<B256> = node.ok("eth_getFilterChanges", json!([block_filter])).await;
    assert!(again.is_empty());

    let logs: Vec<Value> = changes_until(&node, &log_filter, |l: &[Value]| !l.is_empty()).await;
    assert_eq!(logs.len(), 1, "only the transfer after installation");
    assert_eq!(logs[0]["transactionHash"], json!(tx.tx_hash()));
    let all: Vec<Value> = node.ok("eth_getFilterLogs", json!([log_filter])).await;
    assert_eq!(all.len(), 2, "mint and transfer");

    assert!(
        node.ok::<bool>("eth_uninstallFilter", json!([log_filter]))
            .await
    );
    assert!(
        !node
            .ok::<bool>("eth_uninstallFilter", json!([log_filter]))
            .await
    );
    let err = node
        .rpc::<Value>("eth_getFilterChanges", json!([log_filter]))
        .await
        .expect_err("gone");
    assert_eq!(
        (err.code, err.message.as_str()),
        (-32000, "filter not found")
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscriptions_follow_heads_logs_and_reorgs() {
    let mut node = TestNode::start().await;
    let a1 = signer(1).address();
    let token = deploy_token(&mut node, 0, 0, U256::from(1000)).await;
    let ws = WsClientBuilder::default()
        .build(node.ws_url())
        .await
        .expect("ws connect");
    let mut heads: Subscription<Value> = ws
        .subscribe("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe")
        .await
        .expect("newHeads");
    let mut logs: Subscription<Value> = ws
        .subscribe(
            "eth_subscribe",
            rpc_params!["logs", json!({"address": token, "topics": [keccak256("Transfer(address,address,uint256)")]})],
            "eth_unsubscribe",
        )
        .await
        .expect("logs");
    let mut pending: Subscription<Value> = ws
        .subscribe(
            "eth_subscribe",
            rpc_params!["newPendingTransactions"],
            "eth_unsubscribe",
        )
        .await
        .expect("pending");
    let mut pending_full: Subscription<Value> = ws
        .subscribe(
            "eth_subscribe",
            rpc_params!["newPendingTransactions", true],
            "eth_unsubscribe",
        )
        .await
        .expect("pending full");

    let parent = node.head;
    let parent_ts = node.timestamp;
    let tx = token_transfer(1, token, a1, 5);
    node.send(&tx).await.expect("accepted");
    assert_eq!(next(&mut pending).await, json!(tx.tx_hash()));
    let full = next(&mut pending_full).await;
    assert_eq!(full["hash"], json!(tx.tx_hash()));
    assert!(full["blockHash"].is_null());

    let b2 = node.produce_block().await;
    let head = next(&mut heads).await;
    assert_eq!(head["hash"], json!(b2));
    assert_eq!(head["number"], "0x2");
    assert_eq!(head["parentHash"], json!(parent));
    let log = next(&mut logs).await;
    assert_eq!(log["blockHash"], json!(b2));
    assert_eq!(log["removed"], false);
    assert_eq!(log["transactionHash"], json!(tx.tx_hash()));

    // Reorg: a sibling of b2 (the transfer is re-added to the pool and mined again).
    let b2b = node.produce_on(parent, parent_ts + 1).await;
    assert_ne!(b2, b2b);
    let head = next(&mut heads).await;
    assert_eq!(head["hash"], json!(b2b));
    let removed = next(&mut logs).await;
    assert_eq!(removed["blockHash"], json!(b2));
    assert_eq!(removed["removed"], true);
    let added = next(&mut logs).await;
    assert_eq!(added["blockHash"], json!(b2b));
    assert_eq!(added["removed"], false);
    assert_eq!(added["transactionHash"], json!(tx.tx_hash()));
    let receipt: Value = node
        .ok("eth_getTransactionReceipt", json!([tx.tx_hash()]))
        .await;
    assert_eq!(receipt["blockHash"], json!(b2b));

    // Blocks without matching logs produce heads but no log notifications.
    let b3 = node.produce_block().await;
    assert_eq!(next(&mut heads).await["hash"], json!(b3));
    nothing_more(&mut logs).await;

    // Unsubscribing stops notifications; unknown kinds are refused.
    heads.unsubscribe().await.expect("unsubscribe");
    let err = ws
        .subscribe::<Value, _>("eth_subscribe", rpc_params!["bogus"], "eth_unsubscribe")
        .await
        .expect_err("unknown kind");
    match err {
        jsonrpsee::core::client::Error::Call(e) => assert_eq!(e.code(), -32602),
        other => panic!("unexpected error {other}"),
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_proof_verifies_against_state_root() {
    let mut node = TestNode::start().await;
    let a0 = signer(0).address();
    let token = deploy_token(&mut node, 0, 0, U256::from(1000)).await;
    let block: Value = node
        .ok("eth_getBlockByNumber", json!(["latest", false]))
        .await;
    let state_root: B256 = serde_json::from_value(block["stateRoot"].clone()).expect("root");
    // balanceOf[a0] is at keccak(a0 ‖ 3); totalSupply at slot 2; slot 9 is empty.
    let mut buf = [0u8; 64];
    buf[12..32].copy_from_slice(a0.as_slice());
    buf[63] = 3;
    let balance_slot = keccak256(buf);
    let slots = [
        balance_slot,
        B256::from(U256::from(2)),
        B256::from(U256::from(9)),
    ];
    let proof: Value = node
        .ok("eth_getProof", json!([token, slots, "latest"]))
        .await;
    let account = TrieAccount {
        nonce: u64::from_str_radix(
            proof["nonce"]
                .as_str()
                .expect("nonce")
                .trim_start_matches("0x"),
            16,
        )
        .expect("nonce"),
        balance: proof["balance"]
            .as_str()
            .expect("balance")
            .parse()
            .expect("U256"),
        storage_root: serde_json::from_value(proof["storageHash"].clone()).expect("root"),
        code_hash: serde_json::from_value(proof["codeHash"].clone()).expect("hash"),
    };
    let code: Bytes = node.ok("eth_getCode", json!([token, "latest"])).await;
    assert_eq!(account.code_hash, keccak256(&code));
    let account_proof: Vec<Bytes> =
        serde_json::from_value(proof["accountProof"].clone()).expect("proof");
    verify_proof(
        state_root,
        Nibbles::unpack(keccak256(token)),
        Some(alloy_rlp::encode(account)),
        &account_proof,
    )
    .expect("account proof verifies against the block's state root");
    let expected = [U256::from(1000), U256::from(1000), U256::ZERO];
    for (i, entry) in proof["storageProof"]
        .as_array()
        .expect("list")
        .iter()
        .enumerate()
    {
        let value: U256 = entry["value"]
            .as_str()
            .expect("value")
            .parse()
            .expect("U256");
        assert_eq!(value, expected[i]);
        let nodes: Vec<Bytes> = serde_json::from_value(entry["proof"].clone()).expect("proof");
        verify_proof(
            account.storage_root,
            Nibbles::unpack(keccak256(slots[i])),
            (!value.is_zero()).then(|| alloy_rlp::encode(value)),
            &nodes,
        )
        .expect("storage proof verifies");
    }
    // An absent account: exclusion proof.
    let nobody = Address::repeat_byte(0xab);
    let proof: Value = node.ok("eth_getProof", json!([nobody, [], "latest"])).await;
    assert_eq!(proof["balance"], "0x0");
    let nodes: Vec<Bytes> = serde_json::from_value(proof["accountProof"].clone()).expect("proof");
    verify_proof(state_root, Nibbles::unpack(keccak256(nobody)), None, &nodes)
        .expect("exclusion proof verifies");
    // Historical: the proof at genesis shows the deployer's original balance.
    let genesis: Value = node.ok("eth_getBlockByNumber", json!(["0x0", false])).await;
    let genesis_root: B256 = serde_json::from_value(genesis["stateRoot"].clone()).expect("root");
    let proof: Value = node.ok("eth_getProof", json!([a0, [], "earliest"])).await;
    let account = TrieAccount {
        nonce: 0,
        balance: U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18)),
        storage_root: alloy_trie::EMPTY_ROOT_HASH,
        code_hash: alloy::consensus::constants::KECCAK_EMPTY,
    };
    let nodes: Vec<Bytes> = serde_json::from_value(proof["accountProof"].clone()).expect("proof");
    verify_proof(
        genesis_root,
        Nibbles::unpack(keccak256(a0)),
        Some(alloy_rlp::encode(account)),
        &nodes,
    )
    .expect("historical proof verifies");
    node.stop().await;
}

/// `eth_getFilterChanges` of `filter`, collected until `done` holds of them (within 10 s).
async fn changes_until<T: serde::de::DeserializeOwned>(
    node: &TestNode,
    filter: &str,
    done: impl Fn(&[T]) -> bool,
) -> Vec<T> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut all: Vec<T> = Vec::new();
    while !done(&all) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "filter {filter}: changes not published within 10 s"
        );
        let more: Vec<T> = node.ok("eth_getFilterChanges", json!([filter])).await;
        if more.is_empty() {
            tokio::time::sleep(alys_test_utils::wait::POLL).await;
        }
        all.extend(more);
    }
    all
}
