//! The pool's bounds under a flood: thousands of dust accounts sending large-calldata
//! transactions keep the pool under its count and byte caps, the lowest-paying go first, a
//! transaction paying less than every held one is refused with `txpool is full`, and a real
//! transfer paying a normal tip still gets in and is mined.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::network::TxSignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, U256};
use alys_evm::txpool::PoolConfig;
use serde_json::{json, Value};
use support::*;

const GWEI: u128 = 1_000_000_000;
const DUST_ACCOUNTS: u32 = 3_000;
const CALLDATA: usize = 8 * 1024;
const MAX_TXS: usize = 1_000;
const MAX_BYTES: usize = 2 * 1024 * 1024;

fn dust_key(i: u32) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(i.to_be_bytes())).unwrap()
}

/// A dust transaction with 8 KiB of calldata paying `tip` wei per gas.
fn dust_tx(key: &PrivateKeySigner, tip: u128) -> TxEnvelope {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: 21_000 + 16 * CALLDATA as u64,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::from(vec![1u8; CALLDATA]),
    };
    let sig = key.sign_transaction_sync(&mut tx).unwrap();
    tx.into_signed(sig).into()
}

fn pool_size(node: &TestNode) -> (usize, usize) {
    let chain = node.el().chain().lock();
    let pool = chain.pool().lock();
    (pool.len(), pool.bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dust_flood_stays_under_the_caps_and_a_real_transfer_is_mined() {
    // Each dust account holds just enough for one transaction.
    let dust: Vec<_> = (0..DUST_ACCOUNTS).map(dust_key).collect();
    let dust_balance = U256::from(2 * GWEI) * U256::from(21_000 + 16 * CALLDATA as u64);
    let alloc: Vec<_> = dust.iter().map(|k| (k.address(), dust_balance)).collect();
    let mut node = TestNode::start_with(genesis(&alloc)).await;
    node.el()
        .chain()
        .lock()
        .pool()
        .lock()
        .set_config(PoolConfig {
            max_size: MAX_TXS,
            max_bytes: MAX_BYTES,
            ..PoolConfig::default()
        });

    // Tips rise with the account index: every newcomer outbids the cheapest held one.
    let mut accepted = 0;
    for (i, key) in dust.iter().enumerate() {
        if node.send(&dust_tx(key, 1 + i as u128)).await.is_ok() {
            accepted += 1;
        }
        if i % 500 == 0 {
            let (len, bytes) = pool_size(&node);
            assert!(
                len <= MAX_TXS && bytes <= MAX_BYTES,
                "{len} txs, {bytes} bytes"
            );
        }
    }
    let (len, bytes) = pool_size(&node);
    assert!(
        len <= MAX_TXS && bytes <= MAX_BYTES,
        "{len} txs, {bytes} bytes"
    );
    assert!(
        bytes > MAX_BYTES - 2 * CALLDATA,
        "the pool is full: {bytes} bytes"
    );
    assert_eq!(accepted, DUST_ACCOUNTS, "each outbid the cheapest held");

    // The first accounts, which paid least, were evicted; the last is held.
    let first = dust_tx(&dust[0], 1);
    let gone: Value = node
        .ok("eth_getTransactionByHash", json!([first.tx_hash()]))
        .await;
    assert!(gone.is_null());
    let last = dust_tx(&dust[DUST_ACCOUNTS as usize - 1], u128::from(DUST_ACCOUNTS));
    let held: Value = node
        .ok("eth_getTransactionByHash", json!([last.tx_hash()]))
        .await;
    assert!(!held.is_null());

    // Paying less than every held transaction: refused.
    let cheap = PrivateKeySigner::from_bytes(&KEYS[1]).unwrap();
    let err = node
        .send(&dust_tx(&cheap, 1))
        .await
        .expect_err("underpriced");
    assert_eq!((err.code, err.message.as_str()), (-32000, "txpool is full"));

    // A real transfer with a normal tip gets in and is mined.
    let transfer = eip1559(
        0,
        0,
        Some(Address::repeat_byte(0x77)),
        U256::from(10u64.pow(18)),
        Bytes::new(),
        21_000,
        3 * GWEI,
        GWEI,
    );
    let hash = node.send(&transfer).await.expect("a real transfer gets in");
    node.produce_block().await;
    let receipt: Value = node.ok("eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let (len, bytes) = pool_size(&node);
    assert!(len <= MAX_TXS && bytes <= MAX_BYTES);
    node.stop().await;
}
