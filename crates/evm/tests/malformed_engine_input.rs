//! Malformed Engine API input never crashes the execution client: thousands of mutated
//! `engine_newPayloadV3` / `engine_forkchoiceUpdatedV3` requests (byte flips, truncations,
//! wrong types, random transactions, oversize fields) each get a JSON-RPC error or a payload
//! status, and the server keeps serving valid requests afterwards.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::{collections::BTreeMap, time::Duration};

use alloy::rpc::types::engine::{Claims, PayloadAttributes, PayloadStatusEnum};
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::{Address, B256, U256};
use alys_engine::ExecutionEngine;
use alys_test_utils::el::{forkchoice, TestEl, GENESIS_TIME};
use rand::{rngs::StdRng, Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn genesis() -> Genesis {
    alys_test_utils::el::genesis(BTreeMap::from([(
        Address::repeat_byte(1),
        GenesisAccount::default().with_balance(U256::from(1)),
    )]))
}

/// Sends one raw HTTP request; returns (status code, body), or `None` if the connection broke.
async fn post(addr: &str, token: &str, body: &[u8]) -> Option<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(body).await.ok()?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Some((status, body))
}

fn mutate(rng: &mut StdRng, base: &serde_json::Value) -> Vec<u8> {
    let text = base.to_string().into_bytes();
    match rng.gen_range(0..6) {
        // Flip random bytes.
        0 => {
            let mut t = text;
            for _ in 0..rng.gen_range(1..8) {
                let i = rng.gen_range(0..t.len());
                t[i] = rng.gen();
            }
            t
        }
        // Truncate.
        1 => text[..rng.gen_range(0..text.len())].to_vec(),
        // Replace a transaction with random bytes.
        2 => {
            let mut v = base.clone();
            let raw: Vec<u8> = (0..rng.gen_range(0..300)).map(|_| rng.gen()).collect();
            v["params"][0]["transactions"] = serde_json::json!([format!("0x{}", hex::encode(raw))]);
            v.to_string().into_bytes()
        }
        // Replace a field with a value of another type or an odd size.
        3 => {
            let mut v = base.clone();
            let fields = [
                "parentHash",
                "feeRecipient",
                "stateRoot",
                "logsBloom",
                "blockNumber",
                "gasLimit",
                "timestamp",
                "extraData",
                "baseFeePerGas",
                "blockHash",
                "withdrawals",
                "blobGasUsed",
            ];
            let field = fields[rng.gen_range(0..fields.len())];
            let replacements = [
                serde_json::json!(null),
                serde_json::json!(-1),
                serde_json::json!("0x"),
                serde_json::json!("0x123"),
                serde_json::json!(format!("0x{}", "ff".repeat(rng.gen_range(0..400)))),
                serde_json::json!({"a": [1, 2]}),
                serde_json::json!("0xffffffffffffffffffffffffffffffffffff"),
            ];
            v["params"][0][field] = replacements[rng.gen_range(0..replacements.len())].clone();
            v.to_string().into_bytes()
        }
        // Wrong number or kinds of params.
        4 => {
            let mut v = base.clone();
            let params = v["params"].as_array_mut().unwrap();
            match rng.gen_range(0..3) {
                0 => {
                    params.pop();
                }
                1 => params.push(serde_json::json!("extra")),
                _ => params.swap(0, 1),
            }
            v.to_string().into_bytes()
        }
        // Random garbage.
        _ => (0..rng.gen_range(0..2000)).map(|_| rng.gen()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_engine_requests_never_crash_the_server() {
    let TestEl {
        el,
        engine: client,
        secret,
        tempdir: _dir,
        ..
    } = TestEl::start_temp(genesis()).await;
    let genesis_hash = el.chain().lock().genesis_hash();
    let fcs = forkchoice(genesis_hash);
    let attrs = PayloadAttributes {
        timestamp: GENESIS_TIME + 2,
        prev_randao: B256::ZERO,
        suggested_fee_recipient: Address::ZERO,
        withdrawals: Some(vec![]),
        parent_beacon_block_root: Some(B256::ZERO),
        slot_number: None,
        target_gas_limit: None,
    };
    let id = client
        .forkchoice_updated(fcs, Some(attrs.clone()))
        .await
        .unwrap()
        .payload_id
        .unwrap();
    let payload = client.get_payload(id).await.unwrap().execution_payload;
    let new_payload = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "engine_newPayloadV3",
        "params": [payload, [], B256::ZERO],
    });
    let fcu = serde_json::json!({
        "jsonrpc": "2.0", "id": 2, "method": "engine_forkchoiceUpdatedV3",
        "params": [fcs, attrs],
    });
    let addr = el.engine_url().trim_start_matches("http://").to_string();
    let mut rng = StdRng::seed_from_u64(0x414c);
    let iterations = std::env::var("ALYS_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    for i in 0..iterations {
        let token = secret.encode(&Claims::default()).unwrap();
        let base = if i % 3 == 0 { &fcu } else { &new_payload };
        let body = mutate(&mut rng, base);
        let (status, response) = post(&addr, &token, &body).await.unwrap_or_else(|| {
            panic!(
                "connection broken on input {i}: {}",
                String::from_utf8_lossy(&body)
            )
        });
        assert!(
            status == 200 || status == 400,
            "input {i}: HTTP {status} {response}"
        );
        let value: serde_json::Value = serde_json::from_str(&response)
            .unwrap_or_else(|e| panic!("input {i}: response is not JSON ({e}): {response}"));
        // A request object without an `id` is a notification: executed, never answered
        // (the server's HTTP transport writes `null`).
        // (Invalid UTF-8 inside a string does not stop the server reading it as one.)
        let notification =
            serde_json::from_str::<serde_json::Value>(&String::from_utf8_lossy(&body))
                .is_ok_and(|v| v.is_object() && v.get("id").is_none() && v.get("method").is_some());
        assert!(
            value.get("result").is_some()
                || value.get("error").is_some()
                || (notification && value.is_null()),
            "input {i}: {value} for {}",
            String::from_utf8_lossy(&body)
        );
    }
    // Oversize body: refused with an error, server alive.
    let token = secret.encode(&Claims::default()).unwrap();
    let huge = vec![b' '; 65 << 20];
    let response = post(&addr, &token, &huge).await;
    assert!(
        response
            .as_ref()
            .is_none_or(|(status, _)| *status == 413 || *status == 400),
        "{response:?}"
    );
    // The valid payload still imports.
    let status = client
        .new_payload(payload, vec![], B256::ZERO)
        .await
        .unwrap();
    assert_eq!(status.status, PayloadStatusEnum::Valid);
    el.stop().await;
}
