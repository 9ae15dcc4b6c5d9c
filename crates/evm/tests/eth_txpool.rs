//! The transaction pool through the RPC: admission errors with Geth's strings, replacement by
//! fee bump, nonce gaps, pool-full eviction, ordering, and reorg re-injection.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use alloy_primitives::{Address, Bytes, B256, U256};
use alys_engine::{ExecutionEngine, ForkchoiceState};
use alys_evm::txpool::PoolConfig;
use serde_json::{json, Value};
use support::*;

const GWEI: u128 = 1_000_000_000;

fn tx(key: usize, nonce: u64, fee: u128, tip: u128) -> alloy::consensus::TxEnvelope {
    eip1559(
        key,
        nonce,
        Some(Address::repeat_byte(0x42)),
        U256::from(1),
        Bytes::new(),
        21_000,
        fee,
        tip,
    )
}

async fn status(node: &TestNode) -> (String, String) {
    let s: Value = node.ok("txpool_status", json!([])).await;
    (
        s["pending"].as_str().expect("pending").to_string(),
        s["queued"].as_str().expect("queued").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_needs_ten_percent_bump() {
    let mut node = TestNode::start().await;
    let original = tx(0, 0, 2 * GWEI, GWEI);
    let h0 = node.send(&original).await.expect("accepted");
    let err = node.send(&original).await.expect_err("duplicate");
    assert_eq!((err.code, err.message.as_str()), (-32000, "already known"));

    // +5% on both: refused.
    let err = node
        .send(&tx(0, 0, 2 * GWEI * 105 / 100, GWEI * 105 / 100))
        .await
        .expect_err("underpriced replacement");
    assert_eq!(err.message, "replacement transaction underpriced");
    // +10% fee cap but the same tip: refused.
    let err = node
        .send(&tx(0, 0, 2 * GWEI * 110 / 100, GWEI))
        .await
        .expect_err("tip not bumped");
    assert_eq!(err.message, "replacement transaction underpriced");
    // +10% on both: replaces.
    let replacement = tx(0, 0, 2 * GWEI * 110 / 100, GWEI * 110 / 100);
    let h1 = node.send(&replacement).await.expect("replacement accepted");
    let old: Value = node.ok("eth_getTransactionByHash", json!([h0])).await;
    assert!(old.is_null(), "replaced transaction is gone");
    let content: Value = node.ok("txpool_content", json!([])).await;
    let sender = format!("{}", signer(0).address());
    assert_eq!(
        content["pending"][&sender]["0"]["hash"],
        json!(h1),
        "{content}"
    );
    assert_eq!(status(&node).await, ("0x1".into(), "0x0".into()));

    node.produce_block().await;
    let receipt: Value = node.ok("eth_getTransactionReceipt", json!([h1])).await;
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(status(&node).await, ("0x0".into(), "0x0".into()));
    let err = node
        .send(&tx(0, 0, 5 * GWEI, 2 * GWEI))
        .await
        .expect_err("mined nonce");
    assert_eq!(err.message, "nonce too low: next nonce 1, tx nonce 0");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonce_gaps_are_queued_until_filled() {
    let mut node = TestNode::start().await;
    let a0 = signer(0).address();
    let later = tx(0, 1, 2 * GWEI, GWEI);
    node.send(&later)
        .await
        .expect("gapped transaction accepted");
    assert_eq!(status(&node).await, ("0x0".into(), "0x1".into()));
    let nonce: String = node
        .ok("eth_getTransactionCount", json!([a0, "pending"]))
        .await;
    assert_eq!(nonce, "0x0", "pending nonce stops at the gap");
    let content: Value = node.ok("txpool_content", json!([])).await;
    assert_eq!(
        content["queued"][format!("{a0}")]["1"]["hash"],
        json!(later.tx_hash())
    );
    let inspect: Value = node.ok("txpool_inspect", json!([])).await;
    assert!(inspect["queued"][format!("{a0}")]["1"]
        .as_str()
        .expect("summary")
        .contains("21000 gas"));

    node.produce_block().await;
    let block: Value = node
        .ok("eth_getBlockByNumber", json!(["latest", false]))
        .await;
    assert_eq!(
        block["transactions"],
        json!([]),
        "queued transaction not mined"
    );

    node.send(&tx(0, 0, 2 * GWEI, GWEI))
        .await
        .expect("gap filled");
    assert_eq!(status(&node).await, ("0x2".into(), "0x0".into()));
    let nonce: String = node
        .ok("eth_getTransactionCount", json!([a0, "pending"]))
        .await;
    assert_eq!(nonce, "0x2");
    node.produce_block().await;
    let block: Value = node
        .ok("eth_getBlockByNumber", json!(["latest", false]))
        .await;
    assert_eq!(block["transactions"].as_array().map(Vec::len), Some(2));
    assert_eq!(status(&node).await, ("0x0".into(), "0x0".into()));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_errors_use_geth_strings() {
    let node = TestNode::start().await;
    let a1 = signer(1).address();
    let cases: Vec<(alloy::consensus::TxEnvelope, &str)> = vec![
        (
            tx(0, 0, 2 * GWEI, 0),
            "transaction underpriced: gas tip cap 0, minimum needed 1",
        ),
        (
            legacy(0, 0, a1, U256::from(1), 0),
            "transaction underpriced",
        ),
        (
            tx(0, 0, GWEI, 2 * GWEI),
            "max priority fee per gas higher than max fee per gas",
        ),
        (
            eip1559(
                0,
                0,
                Some(a1),
                U256::ZERO,
                Bytes::new(),
                GAS_LIMIT + 1,
                2 * GWEI,
                GWEI,
            ),
            "exceeds block gas limit",
        ),
        (
            eip1559(
                0,
                0,
                Some(a1),
                U256::ZERO,
                Bytes::from(vec![1u8; 10]),
                21_000,
                2 * GWEI,
                GWEI,
            ),
            "intrinsic gas too low: gas 21000, minimum needed 21160",
        ),
        (
            eip1559(
                0,
                0,
                Some(a1),
                U256::from(10u64).pow(U256::from(23)),
                Bytes::new(),
                21_000,
                2 * GWEI,
                GWEI,
            ),
            "insufficient funds for gas * price + value",
        ),
    ];
    for (t, expected) in cases {
        let err = node.send(&t).await.expect_err(expected);
        assert_eq!(err.code, -32000);
        assert!(
            err.message.starts_with(expected),
            "expected `{expected}`, got `{}`",
            err.message
        );
    }
    // Wrong chain id.
    let mut other = alloy::consensus::TxLegacy {
        chain_id: Some(1),
        nonce: 0,
        gas_price: 2 * GWEI,
        gas_limit: 21_000,
        to: alloy_primitives::TxKind::Call(a1),
        value: U256::from(1),
        input: Bytes::new(),
    };
    let sig = {
        use alloy::network::TxSignerSync;
        signer(0).sign_transaction_sync(&mut other).expect("sign")
    };
    use alloy::consensus::SignableTransaction;
    let wrong: alloy::consensus::TxEnvelope = other.into_signed(sig).into();
    let err = node.send(&wrong).await.expect_err("wrong chain");
    assert_eq!(err.message, "invalid chain id");
    // Nothing was admitted.
    assert_eq!(status(&node).await, ("0x0".into(), "0x0".into()));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_pool_evicts_cheapest_or_refuses() {
    let mut node = TestNode::start().await;
    node.el()
        .chain()
        .lock()
        .pool()
        .lock()
        .set_config(PoolConfig {
            max_size: 3,
            max_per_sender: 2,
            ..PoolConfig::default()
        });
    let cheap = tx(0, 0, 10 * GWEI, GWEI);
    node.send(&cheap).await.expect("1");
    node.send(&tx(1, 0, 10 * GWEI, 2 * GWEI)).await.expect("2");
    node.send(&tx(2, 0, 10 * GWEI, 3 * GWEI)).await.expect("3");
    // Not better than the cheapest held: refused.
    let err = node
        .send(&tx(3, 0, 10 * GWEI, GWEI))
        .await
        .expect_err("full");
    assert_eq!((err.code, err.message.as_str()), (-32000, "txpool is full"));
    // Better: evicts the cheapest.
    let rich = tx(3, 0, 10 * GWEI, 5 * GWEI);
    node.send(&rich).await.expect("evicts");
    let gone: Value = node
        .ok("eth_getTransactionByHash", json!([cheap.tx_hash()]))
        .await;
    assert!(gone.is_null());
    assert_eq!(status(&node).await, ("0x3".into(), "0x0".into()));
    // Per-sender limit.
    node.el()
        .chain()
        .lock()
        .pool()
        .lock()
        .set_config(PoolConfig {
            max_size: 100,
            max_per_sender: 2,
            ..PoolConfig::default()
        });
    node.send(&tx(3, 1, 10 * GWEI, 5 * GWEI))
        .await
        .expect("second of sender");
    let err = node
        .send(&tx(3, 2, 10 * GWEI, 5 * GWEI))
        .await
        .expect_err("sender limit");
    assert!(err.message.starts_with("account limit exceeded"), "{err:?}");

    // Mined best tip first.
    node.produce_block().await;
    let block: Value = node
        .ok("eth_getBlockByNumber", json!(["latest", true]))
        .await;
    let tips: Vec<String> = block["transactions"]
        .as_array()
        .expect("txs")
        .iter()
        .map(|t| t["maxPriorityFeePerGas"].as_str().expect("tip").to_string())
        .collect();
    assert_eq!(
        tips,
        vec!["0x12a05f200", "0x12a05f200", "0xb2d05e00", "0x77359400"],
        "5, 5 (same sender, by nonce), 3, 2 gwei"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorged_out_transactions_return_to_the_pool() {
    let mut node = TestNode::start().await;
    let parent = node.head;
    let t = tx(0, 0, 10 * GWEI, GWEI);
    node.send(&t).await.expect("accepted");
    let mined_in = node.produce_block().await;
    assert_eq!(status(&node).await, ("0x0".into(), "0x0".into()));
    let mined: Value = node
        .ok("eth_getTransactionByHash", json!([t.tx_hash()]))
        .await;
    assert_eq!(mined["blockHash"], json!(mined_in));

    // The consensus layer moves the head back to the parent: the block is reorged out.
    let fcu = node
        .engine
        .forkchoice_updated(
            ForkchoiceState {
                head_block_hash: parent,
                safe_block_hash: parent,
                finalized_block_hash: B256::ZERO,
            },
            None,
        )
        .await
        .expect("fcu");
    assert!(fcu.payload_status.status.is_valid());
    let pending: Value = node
        .ok("eth_getTransactionByHash", json!([t.tx_hash()]))
        .await;
    assert!(
        pending["blockHash"].is_null(),
        "back in the pool: {pending}"
    );
    assert_eq!(status(&node).await, ("0x1".into(), "0x0".into()));
    let receipt: Value = node
        .ok("eth_getTransactionReceipt", json!([t.tx_hash()]))
        .await;
    assert!(receipt.is_null());
    node.head = parent;
    node.timestamp -= 2;
    let again = node.produce_block().await;
    assert_ne!(again, mined_in);
    let receipt: Value = node
        .ok("eth_getTransactionReceipt", json!([t.tx_hash()]))
        .await;
    assert_eq!(receipt["blockHash"], json!(again));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_below_base_fee_and_byte_limits_refuse_with_typed_errors() {
    let node = TestNode::start().await;
    node.el()
        .chain()
        .lock()
        .pool()
        .lock()
        .set_config(PoolConfig {
            max_queued_per_sender: 2,
            max_below_base_fee: 1,
            ..PoolConfig::default()
        });
    // Nonces 5 and 6 wait behind a gap; a third queued one is refused, the gap's own nonce
    // is not queued and still gets in.
    node.send(&tx(0, 5, 10 * GWEI, GWEI))
        .await
        .expect("queued 1");
    node.send(&tx(0, 6, 10 * GWEI, GWEI))
        .await
        .expect("queued 2");
    let err = node
        .send(&tx(0, 7, 10 * GWEI, GWEI))
        .await
        .expect_err("queue limit");
    assert_eq!(err.code, -32000);
    assert!(
        err.message.starts_with("account queue limit exceeded: 2"),
        "{err:?}"
    );
    node.send(&tx(0, 0, 10 * GWEI, GWEI))
        .await
        .expect("pending");
    assert_eq!(status(&node).await, ("0x1".into(), "0x2".into()));

    // Fee caps below the base fee (1 gwei): one is held, the next refused.
    node.send(&tx(1, 0, GWEI / 2, 1))
        .await
        .expect("one below base fee");
    let err = node
        .send(&tx(2, 0, GWEI / 2, 1))
        .await
        .expect_err("below base fee bound");
    assert_eq!(
        err.message,
        format!(
            "max fee per gas less than block base fee: maxFeePerGas: {}, baseFee: {BASE_FEE}",
            GWEI / 2
        )
    );

    // Bytes: a pool of 300 bytes holds at most two transfers (~115 bytes each); a third that
    // pays no more than those held is refused, one that pays more evicts the cheapest.
    node.el()
        .chain()
        .lock()
        .pool()
        .lock()
        .set_config(PoolConfig {
            max_bytes: 300,
            ..PoolConfig::default()
        });
    let held = node.el().chain().lock().pool().lock().bytes();
    assert!(held > 300, "{held} bytes held before the cap shrank");
    let err = node
        .send(&tx(3, 0, 10 * GWEI, 1))
        .await
        .expect_err("bytes cap");
    assert_eq!(err.message, "txpool is full");
    node.send(&tx(3, 0, 10 * GWEI, 5 * GWEI))
        .await
        .expect("outbids enough to fit");
    let bytes = node.el().chain().lock().pool().lock().bytes();
    assert!(bytes <= 300, "{bytes} bytes held");
    node.stop().await;
}
