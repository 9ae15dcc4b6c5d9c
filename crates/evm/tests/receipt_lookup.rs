//! Transactions and receipts by hash across reorgs: the lookup follows the canonical chain
//! (the new canonical block's receipt, `null` for a transaction no longer canonical, the old
//! block's again once it is back), and a receipt by hash equals the block's receipt of the
//! same transaction (gas used, log indices, effective gas price).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use alloy::sol_types::SolCall;
use alloy_primitives::{Bytes, B256, U256};
use alys_engine::{ExecutionEngine, ForkchoiceState, PayloadStatusEnum};
use serde_json::{json, Value};
use support::*;

async fn receipt(node: &TestNode, hash: B256) -> Value {
    node.ok("eth_getTransactionReceipt", json!([hash])).await
}

async fn transaction(node: &TestNode, hash: B256) -> Value {
    node.ok("eth_getTransactionByHash", json!([hash])).await
}

/// Makes `head` the canonical head without building on it.
async fn set_head(node: &mut TestNode, head: B256, timestamp: u64) {
    let fcu = node
        .engine
        .forkchoice_updated(
            ForkchoiceState {
                head_block_hash: head,
                safe_block_hash: B256::ZERO,
                finalized_block_hash: B256::ZERO,
            },
            None,
        )
        .await
        .expect("forkchoiceUpdated");
    assert_eq!(fcu.payload_status.status, PayloadStatusEnum::Valid);
    node.head = head;
    node.timestamp = timestamp;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_follow_the_canonical_chain_across_reorgs() {
    let mut node = TestNode::start().await;
    let genesis = (node.head, node.timestamp);
    let a1 = signer(1).address();

    // Block 1 (fork A) holds `first`; block 2 on it holds `second`.
    let first = node.send(&transfer(0, 0, a1, 1)).await.expect("first");
    let block_a1 = node.produce_block().await;
    let a1_time = node.timestamp;
    let second = node.send(&transfer(0, 1, a1, 2)).await.expect("second");
    let block_a2 = node.produce_block().await;
    assert_eq!(receipt(&node, first).await["blockHash"], json!(block_a1));
    assert_eq!(receipt(&node, second).await["blockHash"], json!(block_a2));

    // Back to genesis: neither is canonical any more; both are pending again.
    set_head(&mut node, genesis.0, genesis.1).await;
    for hash in [first, second] {
        assert_eq!(receipt(&node, hash).await, Value::Null, "{hash} unwound");
        let tx = transaction(&node, hash).await;
        assert_eq!(tx["blockHash"], Value::Null, "{hash} is pending again");
        assert_eq!(tx["hash"], json!(hash));
    }

    // Fork B: one block on genesis with both transactions, at new positions.
    let block_b1 = node.produce_on(genesis.0, genesis.1).await;
    assert_ne!(block_b1, block_a1);
    for (index, hash) in [first, second].into_iter().enumerate() {
        let r = receipt(&node, hash).await;
        assert_eq!(r["blockHash"], json!(block_b1), "{hash} is in fork B");
        assert_eq!(r["blockNumber"], "0x1");
        assert_eq!(r["transactionIndex"], json!(format!("{index:#x}")));
        let tx = transaction(&node, hash).await;
        assert_eq!(tx["blockHash"], json!(block_b1));
        assert_eq!(tx["transactionIndex"], json!(format!("{index:#x}")));
    }
    let b_cumulative = receipt(&node, second).await["cumulativeGasUsed"].clone();
    assert_eq!(b_cumulative, "0xa410", "two transfers in one block");

    // Back to fork A's first block: `first` is there again, `second` is not canonical.
    set_head(&mut node, block_a1, a1_time).await;
    let r = receipt(&node, first).await;
    assert_eq!(r["blockHash"], json!(block_a1));
    assert_eq!(r["transactionIndex"], "0x0");
    assert_eq!(r["cumulativeGasUsed"], "0x5208");
    assert_eq!(receipt(&node, second).await, Value::Null);
    assert_eq!(transaction(&node, second).await["blockHash"], Value::Null);

    // And to fork A's tip: both in their fork A blocks.
    set_head(&mut node, block_a2, a1_time + 2).await;
    assert_eq!(receipt(&node, first).await["blockHash"], json!(block_a1));
    let r = receipt(&node, second).await;
    assert_eq!(r["blockHash"], json!(block_a2));
    assert_eq!(r["blockNumber"], "0x2");
    assert_eq!(r["cumulativeGasUsed"], "0x5208");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_by_hash_equals_the_blocks_receipt() {
    let mut node = TestNode::start().await;
    let a1 = signer(1).address();
    let token = deploy_token(&mut node, 0, 0, U256::from(1_000_000u64)).await;
    let data = Bytes::from(
        RpcTestToken::transferCall {
            to: a1,
            value: U256::from(7),
        }
        .abi_encode(),
    );
    let mut hashes = Vec::new();
    for nonce in 1..=3 {
        let tx = eip1559(
            0,
            nonce,
            Some(token),
            U256::ZERO,
            data.clone(),
            100_000,
            10_000_000_000,
            1_000_000_000 + u128::from(nonce),
        );
        hashes.push(node.send(&tx).await.expect("transfer"));
    }
    hashes.push(
        node.send(&transfer(1, 0, signer(2).address(), 5))
            .await
            .expect("plain"),
    );
    let block = node.produce_block().await;
    let in_block: Vec<Value> = node.ok("eth_getBlockReceipts", json!([block])).await;
    assert_eq!(in_block.len(), hashes.len());
    let mut gas = 0u64;
    for (i, expected) in in_block.iter().enumerate() {
        let hash: B256 = serde_json::from_value(expected["transactionHash"].clone()).expect("hash");
        assert!(hashes.contains(&hash));
        assert_eq!(&receipt(&node, hash).await, expected, "receipt {i}");
        gas += u64::from_str_radix(
            expected["gasUsed"]
                .as_str()
                .expect("gasUsed")
                .trim_start_matches("0x"),
            16,
        )
        .expect("hex");
    }
    let logs: Vec<u64> = in_block
        .iter()
        .flat_map(|r| r["logs"].as_array().expect("logs").clone())
        .map(|l| {
            u64::from_str_radix(
                l["logIndex"]
                    .as_str()
                    .expect("logIndex")
                    .trim_start_matches("0x"),
                16,
            )
            .expect("hex")
        })
        .collect();
    assert_eq!(logs, vec![0, 1, 2], "block-wide log indices");
    let header: Value = node.ok("eth_getBlockByHash", json!([block, false])).await;
    assert_eq!(json!(format!("{gas:#x}")), header["gasUsed"]);
    assert_eq!(
        receipt(&node, B256::repeat_byte(0x42)).await,
        Value::Null,
        "unknown transaction"
    );
    node.stop().await;
}
