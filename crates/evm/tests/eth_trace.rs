//! `debug_traceTransaction`, `debug_traceCall` and `debug_traceBlockBy*` with the struct logger,
//! `callTracer`, `prestateTracer`, `4byteTracer`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use alloy::sol_types::SolCall;
use alloy_primitives::{keccak256, Bytes, U256};
use serde_json::{json, Value};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_mined_transactions_and_calls() {
    let mut node = TestNode::start().await;
    let (a0, a1) = (signer(0).address(), signer(1).address());
    let token = deploy_token(&mut node, 0, 0, U256::from(1000)).await;
    let data = |v: u64| {
        Bytes::from(
            RpcTestToken::transferCall {
                to: a1,
                value: U256::from(v),
            }
            .abi_encode(),
        )
    };
    // Two transfers in one block: tracing the second must replay the first.
    let mut hashes = Vec::new();
    for (nonce, value) in [(1u64, 10u64), (2, 20)] {
        let tx = eip1559(
            0,
            nonce,
            Some(token),
            U256::ZERO,
            data(value),
            100_000,
            10_000_000_000,
            1_000_000_000,
        );
        hashes.push(node.send(&tx).await.expect("accepted"));
    }
    node.produce_block().await;
    let receipt: Value = node
        .ok("eth_getTransactionReceipt", json!([hashes[1]]))
        .await;

    let call: Value = node
        .ok(
            "debug_traceTransaction",
            json!([hashes[1], {"tracer": "callTracer"}]),
        )
        .await;
    assert_eq!(call["type"], "CALL");
    assert_eq!(
        call["from"].as_str().map(str::to_lowercase),
        Some(format!("{a0:#x}"))
    );
    assert_eq!(
        call["to"].as_str().map(str::to_lowercase),
        Some(format!("{token:#x}"))
    );
    assert_eq!(call["gasUsed"], receipt["gasUsed"]);
    assert_eq!(call["input"], json!(data(20)));
    assert_eq!(
        call["output"],
        "0x0000000000000000000000000000000000000000000000000000000000000001"
    );
    assert!(call.get("error").is_none());

    // Struct logger.
    let logs: Value = node
        .ok("debug_traceTransaction", json!([hashes[1], {}]))
        .await;
    assert_eq!(logs["failed"], false);
    assert_eq!(
        logs["gas"],
        json!(u64::from_str_radix(
            receipt["gasUsed"]
                .as_str()
                .unwrap_or("0x0")
                .trim_start_matches("0x"),
            16
        )
        .unwrap_or(0))
    );
    let steps = logs["structLogs"].as_array().expect("structLogs");
    assert!(steps.len() > 50);
    assert_eq!(steps[0]["op"], "PUSH1");
    assert_eq!(steps[0]["pc"], 0);
    assert!(steps.iter().any(|s| s["op"] == "SSTORE"));
    assert!(steps.iter().any(|s| s["op"] == "LOG3"));

    // prestateTracer sees the state left by the first transfer of the block.
    let pre: Value = node
        .ok(
            "debug_traceTransaction",
            json!([hashes[1], {"tracer": "prestateTracer"}]),
        )
        .await;
    let mut buf = [0u8; 64];
    buf[12..32].copy_from_slice(a1.as_slice());
    buf[63] = 3;
    let slot = format!("{:#x}", keccak256(buf));
    let token_key = pre
        .as_object()
        .expect("map")
        .keys()
        .find(|k| k.to_lowercase() == format!("{token:#x}"))
        .cloned()
        .expect("token in prestate");
    assert_eq!(
        pre[&token_key]["storage"][&slot],
        "0x000000000000000000000000000000000000000000000000000000000000000a",
        "{pre}"
    );

    let four: Value = node
        .ok(
            "debug_traceTransaction",
            json!([hashes[0], {"tracer": "4byteTracer"}]),
        )
        .await;
    assert_eq!(four, json!({"0xa9059cbb-64": 1}));

    let block: Vec<Value> = node
        .ok(
            "debug_traceBlockByNumber",
            json!(["latest", {"tracer": "callTracer"}]),
        )
        .await;
    assert_eq!(block.len(), 2);
    assert_eq!(block[0]["txHash"], json!(hashes[0]));
    assert_eq!(block[1]["result"], call);

    // debug_traceCall of a reverting call.
    let reverted: Value = node
        .ok(
            "debug_traceCall",
            json!([
                {"from": a0, "to": token, "data": Bytes::from(RpcTestToken::failRequireCall {}.abi_encode())},
                "latest",
                {"tracer": "callTracer"}
            ]),
        )
        .await;
    assert_eq!(reverted["error"], "execution reverted");
    assert_eq!(reverted["revertReason"], "always fails");

    let err = node
        .rpc::<Value>("debug_traceTransaction", json!([keccak256("nope")]))
        .await
        .expect_err("unknown");
    assert_eq!(err.message, "transaction not found");
    let err = node
        .rpc::<Value>(
            "debug_traceTransaction",
            json!([hashes[0], {"tracer": "{ result: function() { return 1 } }"}]),
        )
        .await
        .expect_err("js tracer");
    assert!(err.message.contains("not supported"), "{err:?}");
    node.stop().await;
}
