//! Engine API conformance of the embedded execution client, over real HTTP with JWT, driven
//! by the node's own Engine API client (`alys-engine`).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::{collections::BTreeMap, time::Duration};

use alloy::consensus::{Block, SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::{eip4788, eip4895::Withdrawal};
use alloy::network::TxSignerSync;
use alloy::rpc::types::engine::{
    ExecutionPayloadV3, ForkchoiceState, JwtSecret, PayloadAttributes, PayloadStatusEnum,
};
use alloy::signers::local::PrivateKeySigner;
use alloy_engine::{EngineClientConfig, EngineError, ExecutionEngine, HttpEngineClient};
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alys_engine as alloy_engine;
use alys_evm::EmbeddedEl;
use alys_test_utils::el::{
    beacon_roots_account, el_config, forkchoice, TestEl, CHAIN_ID, GENESIS_TIME,
};

fn genesis(signers: &[PrivateKeySigner]) -> Genesis {
    let mut alloc: BTreeMap<_, _> = signers
        .iter()
        .map(|s| {
            (
                s.address(),
                GenesisAccount::default().with_balance(U256::from(10u128.pow(24))),
            )
        })
        .collect();
    alloc.extend([beacon_roots_account()]);
    alys_test_utils::el::genesis(alloc)
}

fn signers() -> Vec<PrivateKeySigner> {
    (1u8..=3)
        .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap())
        .collect()
}

fn transfer(signer: &PrivateKeySigner, nonce: u64, to: Address, value: u64) -> TxEnvelope {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::Eip1559(tx.into_signed(sig))
}

async fn start() -> TestEl {
    TestEl::start_temp(genesis(&signers())).await
}

fn attrs(timestamp: u64, withdrawals: Vec<Withdrawal>, salt: u8) -> PayloadAttributes {
    PayloadAttributes {
        timestamp,
        prev_randao: B256::repeat_byte(salt),
        suggested_fee_recipient: Address::repeat_byte(0xde),
        withdrawals: Some(withdrawals),
        parent_beacon_block_root: Some(B256::repeat_byte(salt.wrapping_add(1))),
        slot_number: None,
        target_gas_limit: None,
    }
}

/// Builds a payload on `parent` with `attributes` (fcU → getPayload).
async fn build(
    client: &HttpEngineClient,
    parent: B256,
    attributes: PayloadAttributes,
) -> ExecutionPayloadV3 {
    let updated = client
        .forkchoice_updated(forkchoice(parent), Some(attributes))
        .await
        .unwrap();
    assert_eq!(updated.payload_status.status, PayloadStatusEnum::Valid);
    let id = updated.payload_id.expect("payload id");
    client.get_payload(id).await.unwrap().execution_payload
}

/// Imports a payload (newPayload → fcU) and returns its hash.
async fn import(client: &HttpEngineClient, payload: ExecutionPayloadV3, beacon_root: B256) -> B256 {
    let hash = payload.payload_inner.payload_inner.block_hash;
    let status = client
        .new_payload(payload, vec![], beacon_root)
        .await
        .unwrap();
    assert_eq!(status.status, PayloadStatusEnum::Valid, "{status:?}");
    let updated = client
        .forkchoice_updated(forkchoice(hash), None)
        .await
        .unwrap();
    assert_eq!(updated.payload_status.status, PayloadStatusEnum::Valid);
    hash
}

fn balance(el: &EmbeddedEl, address: &Address) -> U256 {
    let chain = el.chain().lock();
    let head = chain.head().1;
    chain
        .state_at(head)
        .unwrap()
        .account(address)
        .unwrap()
        .map(|a| a.balance)
        .unwrap_or_default()
}

/// Flat state, recomputed from scratch, hashes to the head's state root.
fn assert_flat_state_matches_head(el: &EmbeddedEl) {
    let chain = el.chain().lock();
    let root = alys_evm::verify::flat_state_root(chain.db()).unwrap();
    assert_eq!(root, chain.head().0.state_root);
}

fn pool_add(el: &EmbeddedEl, tx: TxEnvelope) {
    let chain = el.chain().lock();
    let view = chain.state_at(chain.head().1).unwrap();
    chain.pool().lock().add(tx, &view).unwrap();
}

fn reseal(payload: &mut ExecutionPayloadV3, beacon_root: B256) {
    let block: Block<TxEnvelope> = payload.clone().try_into_block().unwrap();
    let mut header = block.header;
    header.parent_beacon_block_root = Some(beacon_root);
    payload.payload_inner.payload_inner.block_hash = header.hash_slow();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_blocks_with_transfers_and_withdrawals() {
    let h = start().await;
    let signers = signers();
    let genesis_hash = h.el.chain().lock().genesis_hash();
    let mut head = genesis_hash;
    let recipient = Address::repeat_byte(0x77);
    let mut expected_withdrawn = U256::ZERO;
    for i in 1..=50u64 {
        for (k, s) in signers.iter().enumerate() {
            pool_add(&h.el, transfer(s, i - 1, recipient, 1_000 + k as u64));
        }
        let withdrawal = Withdrawal {
            index: i,
            validator_index: 0,
            address: Address::with_last_byte(i as u8),
            amount: 1_000 * i,
        };
        expected_withdrawn += U256::from(1_000 * i) * U256::from(1_000_000_000u64);
        let root = B256::with_last_byte(i as u8);
        let mut a = attrs(GENESIS_TIME + 2 * i, vec![withdrawal], i as u8);
        a.parent_beacon_block_root = Some(root);
        let payload = build(&h.engine, head, a).await;
        assert_eq!(
            payload.payload_inner.payload_inner.transactions.len(),
            3,
            "block {i}"
        );
        assert_eq!(payload.payload_inner.payload_inner.block_number, i);
        head = import(&h.engine, payload, root).await;
        assert!(h.el.chain().lock().pool().lock().is_empty());
    }
    assert_eq!(
        balance(&h.el, &recipient),
        U256::from(50 * (1_000 + 1_001 + 1_002))
    );
    assert_flat_state_matches_head(&h.el);
    let withdrawn: U256 = (1..=50u8)
        .map(|i| balance(&h.el, &Address::with_last_byte(i)))
        .sum();
    assert_eq!(withdrawn, expected_withdrawn);
    // EIP-4788: the beacon roots contract holds the root of block 50 keyed by its timestamp.
    {
        let chain = h.el.chain().lock();
        let view = chain.state_at(head).unwrap();
        let ts = U256::from(GENESIS_TIME + 100);
        let slot = B256::from(ts % U256::from(8191) + U256::from(8191));
        assert_eq!(
            view.storage(&eip4788::BEACON_ROOTS_ADDRESS, &slot).unwrap(),
            U256::from_be_bytes(B256::with_last_byte(50).0)
        );
    }
    let bodies = h.engine.payload_bodies_by_range(1, 50).await.unwrap();
    assert_eq!(bodies.len(), 50);
    assert!(bodies
        .iter()
        .all(|b| b.as_ref().is_some_and(|b| b.transactions.len() == 3)));
    h.el.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_to_sibling_and_back_restores_state() {
    let h = start().await;
    let signers = signers();
    let mut head = h.el.chain().lock().genesis_hash();
    let mut hashes = vec![head];
    for i in 1..=5u64 {
        pool_add(
            &h.el,
            transfer(&signers[0], i - 1, Address::repeat_byte(0x11), 5),
        );
        let a = attrs(GENESIS_TIME + 2 * i, vec![], 1);
        let root = a.parent_beacon_block_root.unwrap();
        head = import(&h.engine, build(&h.engine, head, a).await, root).await;
        hashes.push(head);
    }
    let balance_before = balance(&h.el, &signers[0].address());
    assert_flat_state_matches_head(&h.el);

    // Sibling branch from block 3: two blocks with different content.
    let mut side = hashes[3];
    for i in 4..=5u64 {
        pool_add(
            &h.el,
            transfer(&signers[1], i - 4, Address::repeat_byte(0x22), 9),
        );
        let a = attrs(GENESIS_TIME + 2 * i + 1, vec![], 2);
        let root = a.parent_beacon_block_root.unwrap();
        side = import(&h.engine, build(&h.engine, side, a).await, root).await;
    }
    assert_eq!(h.el.chain().lock().head().1, side);
    assert_eq!(balance(&h.el, &Address::repeat_byte(0x22)), U256::from(18));
    // Transactions of the reorged-out blocks 4 and 5 went back to the pool and were mined again.
    assert_eq!(balance(&h.el, &Address::repeat_byte(0x11)), U256::from(25));
    assert_flat_state_matches_head(&h.el);

    // Back to the original head.
    let back = h
        .engine
        .forkchoice_updated(forkchoice(head), None)
        .await
        .unwrap();
    assert_eq!(back.payload_status.status, PayloadStatusEnum::Valid);
    assert_eq!(balance(&h.el, &Address::repeat_byte(0x22)), U256::ZERO);
    assert_eq!(balance(&h.el, &Address::repeat_byte(0x11)), U256::from(25));
    assert_eq!(balance(&h.el, &signers[0].address()), balance_before);
    assert_flat_state_matches_head(&h.el);
    // The side branch's transactions are pending again.
    assert_eq!(h.el.chain().lock().pool().lock().len(), 2);
    h.el.stop().await;
}

/// `forkchoiceUpdated(head, finalized)` with `finalized` on the head's branch or on another.
async fn fcu_finalized(
    client: &HttpEngineClient,
    head: B256,
    finalized: B256,
) -> Result<PayloadStatusEnum, EngineError> {
    let state = ForkchoiceState {
        head_block_hash: head,
        safe_block_hash: B256::ZERO,
        finalized_block_hash: finalized,
    };
    Ok(client
        .forkchoice_updated(state, None)
        .await?
        .payload_status
        .status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalized_must_be_an_ancestor_of_the_new_head_across_branches() {
    let h = start().await;
    let mut main = vec![h.el.chain().lock().genesis_hash()];
    for i in 1..=5u64 {
        let a = attrs(GENESIS_TIME + 2 * i, vec![], 1);
        let root = a.parent_beacon_block_root.unwrap();
        let parent = main[main.len() - 1];
        main.push(import(&h.engine, build(&h.engine, parent, a).await, root).await);
    }
    // A side branch from block 3 (blocks 4' and 5'), made canonical.
    let mut side = vec![main[3]];
    for i in 4..=5u64 {
        let a = attrs(GENESIS_TIME + 2 * i + 1, vec![], 2);
        let root = a.parent_beacon_block_root.unwrap();
        let parent = side[side.len() - 1];
        side.push(import(&h.engine, build(&h.engine, parent, a).await, root).await);
    }
    assert_eq!(h.el.chain().lock().head().1, side[2]);
    let not_ancestor = |r: Result<PayloadStatusEnum, EngineError>| {
        assert!(
            matches!(r, Err(EngineError::InvalidForkchoiceState(_))),
            "{r:?}"
        )
    };

    // Head back on the main branch: a block of the canonical (side) branch above the fork is
    // not its ancestor; main's own blocks and those below the fork are.
    not_ancestor(fcu_finalized(&h.engine, main[5], side[1]).await);
    assert_eq!(
        h.el.chain().lock().head().1,
        side[2],
        "a refused update moves nothing"
    );
    for finalized in [main[4], main[3], main[1], main[0]] {
        assert_eq!(
            fcu_finalized(&h.engine, main[5], finalized).await.unwrap(),
            PayloadStatusEnum::Valid
        );
    }
    assert_eq!(h.el.chain().lock().head().1, main[5]);
    // And from the main branch back onto the side branch.
    not_ancestor(fcu_finalized(&h.engine, side[2], main[4]).await);
    assert_eq!(
        fcu_finalized(&h.engine, side[2], main[2]).await.unwrap(),
        PayloadStatusEnum::Valid
    );
    h.el.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_payloads_are_rejected() {
    let h = start().await;
    let signers = signers();
    let genesis_hash = h.el.chain().lock().genesis_hash();
    let a = attrs(GENESIS_TIME + 2, vec![], 1);
    let root = a.parent_beacon_block_root.unwrap();
    let b1 = import(&h.engine, build(&h.engine, genesis_hash, a).await, root).await;
    pool_add(
        &h.el,
        transfer(&signers[0], 0, Address::repeat_byte(0x33), 1),
    );
    let a = attrs(GENESIS_TIME + 4, vec![], 2);
    let root = a.parent_beacon_block_root.unwrap();
    let good = build(&h.engine, b1, a).await;

    // Bad state root (block hash recomputed so only the state root is wrong).
    let mut bad = good.clone();
    bad.payload_inner.payload_inner.state_root = B256::repeat_byte(0xaa);
    reseal(&mut bad, root);
    let status = h.engine.new_payload(bad, vec![], root).await.unwrap();
    assert!(
        matches!(status.status, PayloadStatusEnum::Invalid { ref validation_error } if validation_error.contains("state root")),
        "{status:?}"
    );
    assert_eq!(status.latest_valid_hash, Some(b1));

    // Bad block hash.
    let mut bad = good.clone();
    bad.payload_inner.payload_inner.block_hash = B256::repeat_byte(0xbb);
    let status = h.engine.new_payload(bad, vec![], root).await.unwrap();
    assert!(
        matches!(status.status, PayloadStatusEnum::Invalid { ref validation_error } if validation_error.contains("block hash")),
        "{status:?}"
    );

    // Bad parent: a known block that is not the parent (genesis for a block numbered 2).
    let mut bad = good.clone();
    bad.payload_inner.payload_inner.parent_hash = genesis_hash;
    reseal(&mut bad, root);
    let status = h.engine.new_payload(bad, vec![], root).await.unwrap();
    assert!(
        matches!(status.status, PayloadStatusEnum::Invalid { ref validation_error } if validation_error.contains("block number")),
        "{status:?}"
    );

    // Unknown parent: SYNCING per spec.
    let mut bad = good.clone();
    bad.payload_inner.payload_inner.parent_hash = B256::repeat_byte(0xcc);
    reseal(&mut bad, root);
    let status = h.engine.new_payload(bad, vec![], root).await.unwrap();
    assert_eq!(status.status, PayloadStatusEnum::Syncing);

    // Wrong beacon root (the header commits to it): block hash mismatch.
    let status = h
        .engine
        .new_payload(good.clone(), vec![], B256::repeat_byte(0xdd))
        .await
        .unwrap();
    assert!(matches!(status.status, PayloadStatusEnum::Invalid { .. }));

    // Forkchoice to an invalid-marked or unknown head.
    let updated = h
        .engine
        .forkchoice_updated(forkchoice(B256::repeat_byte(0xee)), None)
        .await
        .unwrap();
    assert_eq!(updated.payload_status.status, PayloadStatusEnum::Syncing);
    // Finalized not an ancestor of head → -38002.
    let err = h
        .engine
        .forkchoice_updated(
            ForkchoiceState {
                head_block_hash: genesis_hash,
                safe_block_hash: B256::ZERO,
                finalized_block_hash: b1,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidForkchoiceState(_)),
        "{err:?}"
    );
    // Attributes with a timestamp not after the head → -38003.
    let err = h
        .engine
        .forkchoice_updated(forkchoice(b1), Some(attrs(GENESIS_TIME + 2, vec![], 3)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidPayloadAttributes(_)),
        "{err:?}"
    );
    // Unknown payload id → -38001.
    let err = h
        .engine
        .get_payload(alloy::rpc::types::engine::PayloadId::new([7; 8]))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::UnknownPayload(_)), "{err:?}");
    // Too many bodies → -38004.
    let err = h.engine.payload_bodies_by_range(1, 1025).await.unwrap_err();
    assert!(matches!(err, EngineError::TooLargeRequest(_)), "{err:?}");
    // The good payload still imports.
    import(&h.engine, good, root).await;
    h.el.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_or_expired_jwt_is_rejected() {
    let h = start().await;
    let wrong = HttpEngineClient::new(
        &h.el.engine_url(),
        JwtSecret::random(),
        EngineClientConfig::default(),
    )
    .unwrap();
    let err = wrong.exchange_capabilities(vec![]).await.unwrap_err();
    assert!(matches!(err, EngineError::Unauthorized), "{err:?}");

    // A token issued two minutes ago, a token with no iat, and no token at all: HTTP 401.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stale = h
        .secret
        .encode(&alloy::rpc::types::engine::Claims {
            iat: now - 120,
            exp: None,
        })
        .unwrap();
    let future = h
        .secret
        .encode(&alloy::rpc::types::engine::Claims {
            iat: now + 120,
            exp: None,
        })
        .unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"engine_exchangeCapabilities","params":[[]]}"#;
    for auth in [
        Some(format!("Bearer {stale}")),
        Some(format!("Bearer {future}")),
        Some("Bearer junk".into()),
        None,
    ] {
        let status = raw_post(&h.el.engine_url(), auth.as_deref(), body).await;
        assert_eq!(status, 401, "{auth:?}");
    }
    let fresh = h
        .secret
        .encode(&alloy::rpc::types::engine::Claims {
            iat: now,
            exp: None,
        })
        .unwrap();
    assert_eq!(
        raw_post(&h.el.engine_url(), Some(&format!("Bearer {fresh}")), body).await,
        200
    );
    h.el.stop().await;
}

/// POSTs `body` with an optional Authorization header over a plain TCP connection; returns the
/// HTTP status code.
async fn raw_post(url: &str, auth: Option<&str>, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .unwrap()
    .unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Whether `value` breaks a `bytesN` schema (a hex string of exactly N bytes).
fn violates_fixed_bytes(schema: &serde_json::Value, value: &serde_json::Value) -> bool {
    let Some(n) = schema["$ref"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .and_then(|name| name.strip_prefix("bytes"))
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return false;
    };
    value.as_str().is_some_and(|v| v.len() != 2 + 2 * n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_methods_match_the_openrpc_spec() {
    let vector = alys_primitives::vectors::vectors_path;
    let (Some(index), Some(examples)) = (
        vector("engine_api/engine_openrpc_index.json"),
        vector("engine_api/engine_openrpc_examples.json"),
    ) else {
        return;
    };
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(index).unwrap()).unwrap();
    let examples: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(examples).unwrap()).unwrap();
    let mut cases = 0;
    let h = start().await;
    let served = h.engine.exchange_capabilities(vec![]).await.unwrap();
    let http = jsonrpsee::http_client::HttpClientBuilder::default()
        .set_headers({
            let mut headers = http::HeaderMap::new();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let token = h
                .secret
                .encode(&alloy::rpc::types::engine::Claims {
                    iat: now,
                    exp: None,
                })
                .unwrap();
            headers.insert("Authorization", format!("Bearer {token}").parse().unwrap());
            headers
        })
        .build(h.el.engine_url())
        .unwrap();
    for method in &served {
        if method == "engine_getClientVersionV1" {
            // Specified in identification.md, outside the OpenRPC method files.
            continue;
        }
        let spec = index["methods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == *method)
            .unwrap_or_else(|| panic!("{method} is not in the spec"));
        let spec_errors: Vec<i64> = spec["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e.as_i64())
            .collect();
        for example in examples[method.as_str()].as_array().into_iter().flatten() {
            let params: Vec<serde_json::Value> = example["params"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["value"].clone())
                .collect();
            // Some published examples break their own schema (e.g. a 15-digit `bytes8`
            // payload id); for those the only right answer is -32602.
            let malformed_example = params
                .iter()
                .zip(spec["params"].as_array().unwrap())
                .any(|(value, param)| violates_fixed_bytes(&param["schema"], value));
            assert_eq!(
                params.len(),
                spec["params"].as_array().unwrap().len().min(params.len())
            );
            use jsonrpsee::core::client::ClientT;
            let mut rpc_params = jsonrpsee::core::params::ArrayParams::new();
            for p in params {
                rpc_params.insert(p).unwrap();
            }
            let result: Result<serde_json::Value, _> = http.request(method, rpc_params).await;
            match result {
                Ok(value) => {
                    assert!(
                        !malformed_example,
                        "{method}: accepted a malformed parameter"
                    );
                    let expected = &example["result"]["value"];
                    if let (Some(e), Some(v)) = (expected.as_object(), value.as_object()) {
                        for key in e.keys() {
                            assert!(
                                v.contains_key(key),
                                "{method}: result lacks `{key}`: {value}"
                            );
                        }
                    }
                }
                Err(jsonrpsee::core::ClientError::Call(e)) if malformed_example => {
                    assert_eq!(
                        e.code(),
                        -32602,
                        "{method}: malformed example must be -32602"
                    );
                }
                Err(jsonrpsee::core::ClientError::Call(e)) => {
                    assert!(
                        spec_errors.contains(&(e.code() as i64)),
                        "{method}: error {} ({}) is not one the spec lists: {spec_errors:?}",
                        e.code(),
                        e.message()
                    );
                }
                Err(e) => panic!("{method}: {e}"),
            }
            cases += 1;
        }
    }
    alys_primitives::vectors::report_cases("Engine API OpenRPC examples", cases);
    h.el.stop().await;
    let _ = h.datadir;
}

/// A reorg deeper than the blocks the client keeps in memory: the change records and bodies of
/// the older blocks come back from the store, and the state is the same either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_deeper_than_the_blocks_kept_in_memory() {
    let depth = alys_evm::recent_blocks::RECENT_BLOCKS as u64 + 4;
    let h = start().await;
    let signers = signers();
    let genesis_hash = h.el.chain().lock().genesis_hash();
    let recipient_a = Address::repeat_byte(0x44);
    let recipient_b = Address::repeat_byte(0x55);

    let mut head_a = genesis_hash;
    for i in 1..=depth {
        pool_add(&h.el, transfer(&signers[0], i - 1, recipient_a, 1));
        let a = attrs(GENESIS_TIME + 2 * i, vec![], 3);
        let root = a.parent_beacon_block_root.unwrap();
        head_a = import(&h.engine, build(&h.engine, head_a, a).await, root).await;
    }
    let root_a = h.el.chain().lock().head().0.state_root;
    assert_eq!(balance(&h.el, &recipient_a), U256::from(depth));

    // Branch B from genesis: moving the head there unwinds all of A, the oldest blocks from the
    // store. A's transactions return to the pool and are mined again on B.
    let mut head_b = genesis_hash;
    for i in 1..=depth + 1 {
        if i > 1 {
            pool_add(&h.el, transfer(&signers[1], i - 2, recipient_b, 2));
        }
        let a = attrs(GENESIS_TIME + 2 * i + 1, vec![], 4);
        let root = a.parent_beacon_block_root.unwrap();
        head_b = import(&h.engine, build(&h.engine, head_b, a).await, root).await;
    }
    assert_eq!(balance(&h.el, &recipient_a), U256::from(depth));
    assert_eq!(balance(&h.el, &recipient_b), U256::from(2 * depth));
    assert_flat_state_matches_head(&h.el);

    // Back to A: B's first blocks are unwound from the store, A's re-applied from it.
    let back = h
        .engine
        .forkchoice_updated(forkchoice(head_a), None)
        .await
        .unwrap();
    assert_eq!(back.payload_status.status, PayloadStatusEnum::Valid);
    assert_eq!(h.el.chain().lock().head().0.state_root, root_a);
    assert_eq!(balance(&h.el, &recipient_b), U256::ZERO);
    assert_flat_state_matches_head(&h.el);

    // And a restart, with nothing in memory, reopens A's head with the same state.
    let datadir = h.datadir.clone();
    let secret = h.secret;
    h.el.stop().await;
    let mut config = el_config(&datadir, genesis(&signers));
    config.jwt_secret = secret;
    let el = EmbeddedEl::start(config).await.unwrap();
    let (state_root, hash) = {
        let chain = el.chain().lock();
        (chain.head().0.state_root, chain.head().1)
    };
    assert_eq!((hash, state_root), (head_a, root_a));
    assert_flat_state_matches_head(&el);
    el.stop().await;
}
