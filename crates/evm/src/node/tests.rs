//! The running client: submissions while a payload is being built, and stopping and reopening
//! the same datadir.

use std::{collections::BTreeMap, sync::mpsc, time::Duration};

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::rpc::types::engine::{ForkchoiceState, PayloadAttributes, PayloadStatusEnum};
use alloy::signers::local::PrivateKeySigner;
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256, U64};
use jsonrpsee::{
    core::client::{ClientT, SubscriptionClientT},
    http_client::HttpClientBuilder,
    rpc_params,
    ws_client::WsClientBuilder,
};

use super::*;
use crate::{chain::BuildHold, eth::server::RpcServerConfig};

const CHAIN_ID: u64 = 263_634;
const GENESIS_TIME: u64 = 1_700_000_000;
const BASE_FEE: u128 = 1_000_000_000;
const TIMEOUT: Duration = Duration::from_secs(60);

fn signer(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::with_last_byte(i + 1)).expect("valid key")
}

fn genesis(senders: u8) -> Genesis {
    let alloc: BTreeMap<Address, GenesisAccount> = (0..senders)
        .map(|i| {
            (
                signer(i).address(),
                GenesisAccount {
                    balance: U256::from(10u128.pow(24)),
                    ..Default::default()
                },
            )
        })
        .collect();
    Genesis {
        config: crate::forks::cancun_chain_config(CHAIN_ID),
        timestamp: GENESIS_TIME,
        gas_limit: 30_000_000,
        base_fee_per_gas: Some(BASE_FEE),
        difficulty: U256::ZERO,
        alloc,
        ..Default::default()
    }
}

fn transfer(from: &PrivateKeySigner, nonce: u64) -> TxEnvelope {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * BASE_FEE,
        max_priority_fee_per_gas: BASE_FEE,
        to: TxKind::Call(Address::repeat_byte(0x77)),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = from.sign_transaction_sync(&mut tx).expect("sign");
    tx.into_signed(sig).into()
}

fn config(datadir: &std::path::Path, senders: u8) -> ElConfig {
    ElConfig {
        datadir: datadir.to_path_buf(),
        genesis: genesis(senders),
        authrpc_addr: "127.0.0.1:0".parse().expect("addr"),
        http: Some(RpcServerConfig::new("127.0.0.1:0".parse().expect("addr"))),
        jwt_secret: JwtSecret::random(),
        pool: Default::default(),
    }
}

fn fcs(head: B256) -> ForkchoiceState {
    ForkchoiceState {
        head_block_hash: head,
        safe_block_hash: B256::ZERO,
        finalized_block_hash: B256::ZERO,
    }
}

fn attrs(timestamp: u64) -> PayloadAttributes {
    PayloadAttributes {
        timestamp,
        prev_randao: B256::ZERO,
        suggested_fee_recipient: Address::repeat_byte(0xc0),
        withdrawals: Some(vec![]),
        parent_beacon_block_root: Some(B256::ZERO),
        slot_number: None,
        target_gas_limit: None,
    }
}

/// Builds a block on the head and makes it the head; returns its hash.
fn produce_block(chain: &SharedChain) -> B256 {
    let mut chain = chain.lock();
    let (head, head_hash) = chain.head();
    let timestamp = head.timestamp + 2;
    let updated = chain
        .forkchoice_updated(fcs(head_hash), Some(attrs(timestamp)))
        .expect("forkchoice with attributes");
    let id = updated.payload_id.expect("payload id");
    let payload = chain.get_payload(id).expect("built payload");
    let hash = payload
        .execution_payload
        .payload_inner
        .payload_inner
        .block_hash;
    let moved = chain
        .forkchoice_updated(fcs(hash), None)
        .expect("forkchoice");
    assert_eq!(moved.payload_status.status, PayloadStatusEnum::Valid);
    hash
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_raw_transaction_is_answered_while_a_large_payload_is_built() {
    const SENDERS: u8 = 4;
    const PER_SENDER: u64 = 150;
    let dir = tempfile::tempdir().expect("tempdir");
    let el = EmbeddedEl::start(config(dir.path(), SENDERS + 1))
        .await
        .expect("start");
    let client = HttpClientBuilder::default()
        .request_timeout(TIMEOUT)
        .build(el.http_url().expect("http served"))
        .expect("client");
    let genesis_hash = {
        let chain = el.chain().lock();
        let view = chain.state_at(chain.genesis_hash()).expect("view");
        let mut pool = chain.pool().lock();
        for i in 0..SENDERS {
            for nonce in 0..PER_SENDER {
                pool.add(transfer(&signer(i), nonce), &view)
                    .expect("pooled");
            }
        }
        chain.genesis_hash()
    };

    let (reached_tx, reached) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    el.chain().lock().build_hold = Some(BuildHold {
        reached: reached_tx,
        release: release_rx,
    });
    let chain = el.chain().clone();
    let builder = std::thread::spawn(move || {
        chain
            .lock()
            .forkchoice_updated(fcs(genesis_hash), Some(attrs(GENESIS_TIME + 2)))
    });
    let taken = tokio::task::spawn_blocking(move || reached.recv_timeout(TIMEOUT))
        .await
        .expect("join")
        .expect("the builder reached the hold");
    assert_eq!(taken, (SENDERS as u64 * PER_SENDER) as usize);
    assert!(
        el.chain().try_lock().is_none(),
        "the build holds the chain lock"
    );

    let late = transfer(&signer(SENDERS), 0);
    let raw = Bytes::from(late.encoded_2718());
    let answered: B256 = tokio::time::timeout(
        TIMEOUT,
        client.request("eth_sendRawTransaction", rpc_params![raw]),
    )
    .await
    .expect("answered while the payload is being built")
    .expect("accepted");
    assert_eq!(answered, *late.tx_hash());
    let status: serde_json::Value = client
        .request("txpool_status", rpc_params![])
        .await
        .expect("pool status");
    assert_eq!(
        status["pending"],
        serde_json::json!(format!("{:#x}", SENDERS as u64 * PER_SENDER + 1))
    );
    assert!(!builder.is_finished(), "the build is still in progress");

    release.send(()).expect("release the builder");
    let updated = tokio::task::spawn_blocking(move || builder.join())
        .await
        .expect("join")
        .expect("builder thread")
        .expect("forkchoice with attributes");
    let id = updated.payload_id.expect("payload id");
    {
        let chain = el.chain().lock();
        let payload = chain.get_payload(id).expect("built payload");
        assert_eq!(
            payload
                .execution_payload
                .payload_inner
                .payload_inner
                .transactions
                .len(),
            (SENDERS as u64 * PER_SENDER) as usize,
            "the payload holds what the pool had when the build started"
        );
        assert!(chain.pool().lock().contains(late.tx_hash()));
    }
    el.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_the_store_so_the_datadir_reopens_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    for round in 0..5u64 {
        let el = EmbeddedEl::start(config(dir.path(), 1))
            .await
            .unwrap_or_else(|e| panic!("round {round}: reopening the datadir: {e}"));
        assert_eq!(el.chain().lock().head().0.number, round);
        let url = el.http_url().expect("http served");
        let http = HttpClientBuilder::default()
            .request_timeout(TIMEOUT)
            .build(&url)
            .expect("client");
        let ws = WsClientBuilder::default()
            .build(url.replace("http://", "ws://"))
            .await
            .expect("ws connect");
        let mut heads = ws
            .subscribe::<serde_json::Value, _>(
                "eth_subscribe",
                rpc_params!["newHeads"],
                "eth_unsubscribe",
            )
            .await
            .expect("subscribe");
        let _filter: String = http
            .request("eth_newBlockFilter", rpc_params![])
            .await
            .expect("filter");
        let chain = el.chain().clone();
        let hash = tokio::task::spawn_blocking(move || produce_block(&chain))
            .await
            .expect("produce");
        let head = tokio::time::timeout(TIMEOUT, heads.next())
            .await
            .expect("a head within the timeout")
            .expect("subscription open")
            .expect("head");
        assert_eq!(head["hash"], serde_json::json!(hash));
        let number: U64 = http
            .request("eth_blockNumber", rpc_params![])
            .await
            .expect("block number");
        assert_eq!(number, U64::from(round + 1));
        // The clients stay connected while the client stops.
        el.stop().await;
        drop((heads, ws, http));
    }
}
