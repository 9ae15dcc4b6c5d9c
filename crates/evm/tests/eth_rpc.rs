//! The core `eth_*` methods through a running server: chain and account queries, the lifecycle
//! of a transfer (pool → block → receipt), contract calls with Geth-formatted reverts, gas
//! estimation, access lists, fees, logs, and malformed requests.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use alloy::sol_types::{SolCall, SolError};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use serde_json::{json, Value};
use support::*;

fn hex_u64(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a quantity: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}

fn hex_u256(v: &Value) -> U256 {
    v.as_str()
        .unwrap_or_else(|| panic!("not a quantity: {v}"))
        .parse()
        .expect("U256")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_and_account_queries() {
    let mut node = TestNode::start().await;
    let chain_id: Value = node.ok("eth_chainId", json!([])).await;
    assert_eq!(hex_u64(&chain_id), CHAIN_ID);
    assert_eq!(
        node.ok::<String>("net_version", json!([])).await,
        CHAIN_ID.to_string()
    );
    assert!(node.ok::<bool>("net_listening", json!([])).await);
    assert_eq!(node.ok::<String>("net_peerCount", json!([])).await, "0x0");
    assert!(node
        .ok::<String>("web3_clientVersion", json!([]))
        .await
        .starts_with("alys-el/v"));
    assert_eq!(
        node.ok::<B256>("web3_sha3", json!(["0x"])).await,
        keccak256([])
    );
    assert_eq!(
        node.ok::<Value>("eth_syncing", json!([])).await,
        json!(false)
    );
    assert_eq!(node.ok::<Value>("eth_accounts", json!([])).await, json!([]));
    assert_eq!(node.ok::<String>("eth_blockNumber", json!([])).await, "0x0");

    let a0 = signer(0).address();
    let balance: Value = node.ok("eth_getBalance", json!([a0, "latest"])).await;
    assert_eq!(
        hex_u256(&balance),
        U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18))
    );
    // The block parameter is optional, as in most clients.
    let balance2: Value = node.ok("eth_getBalance", json!([a0])).await;
    assert_eq!(balance, balance2);
    let code: Bytes = node
        .ok("eth_getCode", json!([BEACON_ROOTS, "latest"]))
        .await;
    assert!(!code.is_empty());
    let none: Bytes = node.ok("eth_getCode", json!([a0, "latest"])).await;
    assert!(none.is_empty());
    let err = node
        .rpc::<Value>("eth_getBalance", json!([a0, "0x99"]))
        .await
        .expect_err("unknown block");
    assert_eq!(
        (err.code, err.message.as_str()),
        (-32000, "header not found")
    );

    node.produce_block().await;
    node.produce_block().await;
    assert_eq!(node.ok::<String>("eth_blockNumber", json!([])).await, "0x2");
    // EIP-4788 stores each block's beacon root: storage changes over blocks are visible per
    // block through eth_getStorageAt with a block number.
    let ts_slot = U256::from(node.timestamp % 8191);
    let at_head: B256 = node
        .ok("eth_getStorageAt", json!([BEACON_ROOTS, ts_slot, "latest"]))
        .await;
    assert_eq!(U256::from_be_bytes(at_head.0), U256::from(node.timestamp));
    let at_one: B256 = node
        .ok("eth_getStorageAt", json!([BEACON_ROOTS, ts_slot, "0x1"]))
        .await;
    assert_eq!(at_one, B256::ZERO);
    let uncles: String = node
        .ok("eth_getUncleCountByBlockNumber", json!(["latest"]))
        .await;
    assert_eq!(uncles, "0x0");
    let block: Value = node
        .ok("eth_getBlockByNumber", json!(["earliest", false]))
        .await;
    assert_eq!(block["number"], "0x0");
    let block: Value = node
        .ok("eth_getBlockByNumber", json!(["0x63", false]))
        .await;
    assert!(block.is_null());
    // EIP-1898 block object.
    let by_hash: Value = node
        .ok(
            "eth_getBalance",
            json!([a0, {"blockHash": node.head, "requireCanonical": true}]),
        )
        .await;
    assert_eq!(by_hash, balance);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_from_pool_to_receipt() {
    let mut node = TestNode::start().await;
    let (a0, a1) = (signer(0).address(), signer(1).address());
    let tx = transfer(0, 0, a1, 12345);
    let hash = node.send(&tx).await.expect("accepted");
    assert_eq!(hash, *tx.tx_hash());

    let pending: Value = node.ok("eth_getTransactionByHash", json!([hash])).await;
    assert!(pending["blockHash"].is_null(), "{pending}");
    assert_eq!(
        pending["from"].as_str().map(str::to_lowercase),
        Some(format!("{a0:#x}"))
    );
    let nonce: String = node
        .ok("eth_getTransactionCount", json!([a0, "pending"]))
        .await;
    assert_eq!(nonce, "0x1");
    let nonce: String = node
        .ok("eth_getTransactionCount", json!([a0, "latest"]))
        .await;
    assert_eq!(nonce, "0x0");
    let receipt: Value = node.ok("eth_getTransactionReceipt", json!([hash])).await;
    assert!(receipt.is_null());

    let block_hash = node.produce_block().await;
    let receipt: Value = node.ok("eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["blockHash"], json!(block_hash));
    assert_eq!(receipt["blockNumber"], "0x1");
    assert_eq!(receipt["transactionIndex"], "0x0");
    assert_eq!(receipt["gasUsed"], "0x5208");
    assert_eq!(receipt["cumulativeGasUsed"], "0x5208");
    assert_eq!(receipt["type"], "0x2");
    assert!(receipt["contractAddress"].is_null());
    assert_eq!(
        receipt["from"].as_str().map(str::to_lowercase),
        Some(format!("{a0:#x}"))
    );
    assert_eq!(
        receipt["to"].as_str().map(str::to_lowercase),
        Some(format!("{a1:#x}"))
    );
    // base fee 1 gwei (first block after genesis keeps it: genesis is empty, so it drops by
    // 1/8) + 1 gwei tip, capped at 2 gwei.
    let block: Value = node
        .ok("eth_getBlockByNumber", json!(["latest", true]))
        .await;
    let base_fee = hex_u64(&block["baseFeePerGas"]);
    assert_eq!(
        hex_u64(&receipt["effectiveGasPrice"]),
        (base_fee + 1_000_000_000).min(2_000_000_000)
    );
    assert_eq!(block["transactions"][0]["hash"], json!(hash));
    let hashes: Value = node
        .ok("eth_getBlockByHash", json!([block_hash, false]))
        .await;
    assert_eq!(hashes["transactions"], json!([hash]));

    let mined: Value = node.ok("eth_getTransactionByHash", json!([hash])).await;
    assert_eq!(mined["blockHash"], json!(block_hash));
    assert_eq!(mined["transactionIndex"], "0x0");
    let by_index: Value = node
        .ok(
            "eth_getTransactionByBlockHashAndIndex",
            json!([block_hash, "0x0"]),
        )
        .await;
    assert_eq!(by_index["hash"], json!(hash));
    let by_number: Value = node
        .ok(
            "eth_getTransactionByBlockNumberAndIndex",
            json!(["0x1", "0x0"]),
        )
        .await;
    assert_eq!(by_number["hash"], json!(hash));
    let missing: Value = node
        .ok(
            "eth_getTransactionByBlockNumberAndIndex",
            json!(["0x1", "0x5"]),
        )
        .await;
    assert!(missing.is_null());
    let count: String = node
        .ok("eth_getBlockTransactionCountByNumber", json!(["0x1"]))
        .await;
    assert_eq!(count, "0x1");
    let count: String = node
        .ok("eth_getBlockTransactionCountByHash", json!([block_hash]))
        .await;
    assert_eq!(count, "0x1");
    let receipts: Vec<Value> = node.ok("eth_getBlockReceipts", json!(["latest"])).await;
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0], receipt);

    let b1: Value = node.ok("eth_getBalance", json!([a1, "latest"])).await;
    assert_eq!(
        hex_u256(&b1),
        U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18)) + U256::from(12345)
    );
    let nonce: String = node
        .ok("eth_getTransactionCount", json!([a0, "latest"]))
        .await;
    assert_eq!(nonce, "0x1");
    node.stop().await;
}

fn call_data(data: impl SolCall) -> Bytes {
    Bytes::from(data.abi_encode())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_reverts_and_overrides() {
    let mut node = TestNode::start().await;
    let a0 = signer(0).address();
    let supply = U256::from(1_000_000u64);
    let token = deploy_token(&mut node, 0, 0, supply).await;

    let out: Bytes = node
        .ok(
            "eth_call",
            json!([{"to": token, "data": call_data(RpcTestToken::balanceOfCall(a0))}, "latest"]),
        )
        .await;
    assert_eq!(U256::from_be_slice(&out), supply);
    // Before the deployment block, the contract does not exist.
    let out: Bytes = node
        .ok(
            "eth_call",
            json!([{"to": token, "data": call_data(RpcTestToken::balanceOfCall(a0))}, "0x0"]),
        )
        .await;
    assert!(out.is_empty());

    // require(false, "always fails") → code 3, message with the reason, data = revert bytes.
    let err = node
        .rpc::<Bytes>(
            "eth_call",
            json!([{"to": token, "data": call_data(RpcTestToken::failRequireCall {})}]),
        )
        .await
        .expect_err("reverts");
    assert_eq!(err.code, 3);
    assert_eq!(err.message, "execution reverted: always fails");
    let data: Bytes = serde_json::from_value(err.data.expect("data")).expect("hex");
    assert_eq!(&data[..4], &[0x08, 0xc3, 0x79, 0xa0]);

    // Custom error: plain "execution reverted", data = selector and arguments.
    let err = node
        .rpc::<Bytes>(
            "eth_call",
            json!([{"from": signer(1).address(), "to": token,
                    "data": call_data(RpcTestToken::transferCall { to: a0, value: U256::from(5) })}]),
        )
        .await
        .expect_err("reverts");
    assert_eq!((err.code, err.message.as_str()), (3, "execution reverted"));
    let data: Bytes = serde_json::from_value(err.data.expect("data")).expect("hex");
    let decoded = RpcTestToken::InsufficientBalance::abi_decode(&data).expect("custom error");
    assert_eq!(decoded.available, U256::ZERO);
    assert_eq!(decoded.required, U256::from(5));

    // Panic(0x12).
    let err = node
        .rpc::<Bytes>(
            "eth_call",
            json!([{"to": token, "data": call_data(RpcTestToken::divideCall { n: U256::from(1), d: U256::ZERO })}]),
        )
        .await
        .expect_err("panics");
    assert_eq!(
        (err.code, err.message.as_str()),
        (3, "execution reverted: division or modulo by zero")
    );

    // Without fee fields the call sees a zero base fee (Geth's NoBaseFee); with them, the
    // block's.
    let out: Bytes = node
        .ok(
            "eth_call",
            json!([{"to": token, "data": call_data(RpcTestToken::envCall {})}]),
        )
        .await;
    let env = RpcTestToken::envCall::abi_decode_returns(&out).expect("decode");
    assert_eq!(env.baseFee, U256::ZERO);
    assert_eq!(env.number, U256::from(1));
    assert_eq!(env.chainId, U256::from(CHAIN_ID));
    let out: Bytes = node
        .ok(
            "eth_call",
            json!([{"from": a0, "to": token, "maxFeePerGas": "0x2540be400", "data": call_data(RpcTestToken::envCall {})}]),
        )
        .await;
    let env = RpcTestToken::envCall::abi_decode_returns(&out).expect("decode");
    assert!(env.baseFee > U256::ZERO);

    // State overrides: a fresh address given the token's code and a balance slot.
    let runtime: Bytes = node.ok("eth_getCode", json!([token, "latest"])).await;
    let fake = Address::repeat_byte(0x77);
    // balanceOf is mapping slot 3 (after name, symbol, totalSupply; decimals is a constant).
    let slot = {
        let mut buf = [0u8; 64];
        buf[12..32].copy_from_slice(a0.as_slice());
        buf[63] = 3;
        keccak256(buf)
    };
    let out: Bytes = node
        .ok(
            "eth_call",
            json!([
                {"to": fake, "data": call_data(RpcTestToken::balanceOfCall(a0))},
                "latest",
                {format!("{fake:#x}"): {"code": runtime, "stateDiff": {format!("{slot:#x}"): format!("{:#066x}", 42)}}}
            ]),
        )
        .await;
    assert_eq!(U256::from_be_slice(&out), U256::from(42));
    // Balance override lets an empty account pay for a value transfer.
    let poor = Address::repeat_byte(0x55);
    let err = node
        .rpc::<Bytes>(
            "eth_call",
            json!([{"from": poor, "to": a0, "value": "0x1000"}]),
        )
        .await
        .expect_err("no funds");
    assert!(err.message.starts_with("insufficient funds"), "{err:?}");
    let ok: Bytes = node
        .ok(
            "eth_call",
            json!([{"from": poor, "to": a0, "value": "0x1000"}, "latest", {format!("{poor:#x}"): {"balance": "0x10000"}}]),
        )
        .await;
    assert!(ok.is_empty());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimates_are_enough_and_tight() {
    let mut node = TestNode::start().await;
    let (a0, a1) = (signer(0).address(), signer(1).address());
    let token = deploy_token(&mut node, 0, 0, U256::from(1_000_000u64)).await;

    let est: String = node
        .ok(
            "eth_estimateGas",
            json!([{"from": a0, "to": a1, "value": "0x1"}]),
        )
        .await;
    assert_eq!(est, "0x5208");

    let cases: Vec<(&str, Bytes)> = vec![
        (
            "transfer",
            call_data(RpcTestToken::transferCall {
                to: a1,
                value: U256::from(10),
            }),
        ),
        (
            "needsGas",
            call_data(RpcTestToken::needsGasCall {
                minimum: U256::from(150_000),
            }),
        ),
        (
            "setAndClear",
            call_data(RpcTestToken::setAndClearCall { n: U256::from(20) }),
        ),
    ];
    for (nonce, (name, data)) in (1u64..).zip(cases) {
        let est: Value = node
            .ok(
                "eth_estimateGas",
                json!([{"from": a0, "to": token, "data": data.clone()}]),
            )
            .await;
        let est = hex_u64(&est);
        // Sent with exactly the estimate, the transaction succeeds.
        let tx = eip1559(
            0,
            nonce,
            Some(token),
            U256::ZERO,
            data.clone(),
            est,
            10_000_000_000,
            1_000_000_000,
        );
        let hash = node.send(&tx).await.expect("accepted");
        node.produce_block().await;
        let receipt: Value = node.ok("eth_getTransactionReceipt", json!([hash])).await;
        assert_eq!(
            receipt["status"], "0x1",
            "{name} with estimate {est}: {receipt}"
        );
        let used = hex_u64(&receipt["gasUsed"]);
        // Tight: within Geth's 1.5% search tolerance of what is needed, or (for the gas-left
        // check) of the requirement itself.
        if name == "needsGas" {
            // 150,000 left at the check, plus ~21,600 intrinsic and the code before it.
            assert!((171_000..175_000).contains(&est), "needsGas estimate {est}");
        } else {
            assert!(
                (est as f64) < (used as f64) * 1.6 + 5_000.0,
                "{name}: estimate {est} vs used {used}"
            );
        }
        // And clearly less than the estimate fails (the search found the boundary).
        if name != "transfer" {
            let probe: Result<Value, _> = node
                .rpc(
                    "eth_call",
                    json!([{"from": a0, "to": token, "data": data, "gas": format!("{:#x}", est * 95 / 100)}]),
                )
                .await;
            assert!(probe.is_err(), "{name}: 95% of the estimate should fail");
        }
    }

    // Estimating a reverting call answers the revert like eth_call.
    let err = node
        .rpc::<Value>(
            "eth_estimateGas",
            json!([{"from": a0, "to": token, "data": call_data(RpcTestToken::failRequireCall {})}]),
        )
        .await
        .expect_err("reverts");
    assert_eq!(
        (err.code, err.message.as_str()),
        (3, "execution reverted: always fails")
    );
    let err = node
        .rpc::<Value>(
            "eth_estimateGas",
            json!([{"from": signer(2).address(), "to": token,
                    "data": call_data(RpcTestToken::transferCall { to: a0, value: U256::from(1) })}]),
        )
        .await
        .expect_err("custom error");
    assert_eq!((err.code, err.message.as_str()), (3, "execution reverted"));
    assert!(err.data.is_some());

    // Access list for a token transfer names the token's balance slots.
    let al: Value = node
        .ok(
            "eth_createAccessList",
            json!([{"from": a0, "to": token, "data": call_data(RpcTestToken::transferCall { to: a1, value: U256::from(1) })}]),
        )
        .await;
    let list = al["accessList"].as_array().expect("list");
    assert_eq!(list.len(), 1, "{al}");
    assert_eq!(
        list[0]["address"].as_str().map(str::to_lowercase),
        Some(format!("{token:#x}"))
    );
    assert_eq!(list[0]["storageKeys"].as_array().map(Vec::len), Some(2));
    assert!(hex_u64(&al["gasUsed"]) > 21_000);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fees_and_fee_history() {
    let mut node = TestNode::start().await;
    let a1 = signer(1).address();
    // Empty chain: default tip of 1 gwei.
    let tip: Value = node.ok("eth_maxPriorityFeePerGas", json!([])).await;
    assert_eq!(hex_u64(&tip), 1_000_000_000);
    let price: Value = node.ok("eth_gasPrice", json!([])).await;
    assert_eq!(hex_u64(&price), 1_000_000_000 + BASE_FEE);

    for i in 0..3u64 {
        let tx = eip1559(
            0,
            i,
            Some(a1),
            U256::from(1),
            Bytes::new(),
            21_000,
            10_000_000_000,
            u128::from(i + 2) * 1_000_000_000,
        );
        node.send(&tx).await.expect("accepted");
        node.produce_block().await;
    }
    let tip: Value = node.ok("eth_maxPriorityFeePerGas", json!([])).await;
    assert_eq!(
        hex_u64(&tip),
        3_000_000_000,
        "60th percentile of 2, 3, 4 gwei"
    );

    let history: Value = node
        .ok("eth_feeHistory", json!(["0x3", "latest", [10.0, 90.0]]))
        .await;
    assert_eq!(history["oldestBlock"], "0x1");
    assert_eq!(history["baseFeePerGas"].as_array().map(Vec::len), Some(4));
    assert_eq!(history["gasUsedRatio"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        history["reward"],
        json!([
            ["0x77359400", "0x77359400"],
            ["0xb2d05e00", "0xb2d05e00"],
            ["0xee6b2800", "0xee6b2800"]
        ])
    );
    // Decimal block counts (Geth accepts them), and counts beyond the chain are clamped.
    let history: Value = node.ok("eth_feeHistory", json!([100, "0x2"])).await;
    assert_eq!(history["oldestBlock"], "0x0");
    assert_eq!(history["baseFeePerGas"].as_array().map(Vec::len), Some(4));
    assert!(history.get("reward").is_none() || history["reward"].is_null());
    let err = node
        .rpc::<Value>("eth_feeHistory", json!(["0x2", "latest", [90.0, 10.0]]))
        .await
        .expect_err("decreasing percentiles");
    assert_eq!(err.code, -32602);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_logs_with_filters_and_limits() {
    let mut node = TestNode::start().await;
    let (a0, a1) = (signer(0).address(), signer(1).address());
    let token = deploy_token(&mut node, 0, 0, U256::from(1_000_000u64)).await;
    let data = call_data(RpcTestToken::transferCall {
        to: a1,
        value: U256::from(7),
    });
    for nonce in 1..=2 {
        let tx = eip1559(
            0,
            nonce,
            Some(token),
            U256::ZERO,
            data.clone(),
            100_000,
            10_000_000_000,
            1_000_000_000,
        );
        node.send(&tx).await.expect("accepted");
    }
    node.produce_block().await;
    let transfer_topic = keccak256("Transfer(address,address,uint256)");
    let logs: Vec<Value> = node
        .ok(
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "toBlock": "latest", "address": token, "topics": [transfer_topic]}]),
        )
        .await;
    // Mint in the deployment block + two transfers.
    assert_eq!(logs.len(), 3);
    assert_eq!(logs[1]["logIndex"], "0x0");
    assert_eq!(logs[2]["logIndex"], "0x1");
    assert_eq!(logs[2]["transactionIndex"], "0x1");
    assert_eq!(logs[2]["blockNumber"], "0x2");
    assert_eq!(logs[2]["removed"], false);
    let to_topic = B256::left_padding_from(a1.as_slice());
    let only_to: Vec<Value> = node
        .ok(
            "eth_getLogs",
            json!([{"fromBlock": "0x2", "topics": [null, null, [to_topic]]}]),
        )
        .await;
    assert_eq!(only_to.len(), 2);
    let block_hash = node.head;
    let by_hash: Vec<Value> = node
        .ok("eth_getLogs", json!([{"blockHash": block_hash}]))
        .await;
    assert_eq!(by_hash.len(), 2);
    let none: Vec<Value> = node
        .ok(
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "address": Address::repeat_byte(9)}]),
        )
        .await;
    assert!(none.is_empty());
    let err = node
        .rpc::<Value>(
            "eth_getLogs",
            json!([{"fromBlock": "0x2", "toBlock": "0x1"}]),
        )
        .await
        .expect_err("inverted range");
    assert_eq!(err.message, "invalid block range params");
    let _ = a0;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_json_rpc_errors() {
    let node = TestNode::start().await;
    let (status, body) = node.post_raw(b"{not json").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).expect("json error body");
    assert_eq!(v["error"]["code"], -32700);

    let (_, body) = node
        .post_raw(br#"{"jsonrpc":"2.0","id":1,"method":"eth_noSuchMethod","params":[]}"#)
        .await;
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["error"]["code"], -32601);

    for bad in [
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[123, "latest"]}),
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x1234", "latest"]}),
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[]}),
        json!({"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to": 5}]}),
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["lastest", false]}),
        json!({"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0xzz"]}),
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock": {}}]}),
        json!({"jsonrpc":"2.0","id":1,"method":"eth_feeHistory","params":[-1, "latest"]}),
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getProof","params":["0x0000000000000000000000000000000000000000", "notalist"]}),
    ] {
        let (_, body) = node.post_raw(bad.to_string().as_bytes()).await;
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["error"]["code"], -32602, "{bad} → {v}");
    }
    // Undecodable raw transactions: -32000 with a reason, not a panic.
    for raw in ["0x", "0x02", "0xf800", "0x02f8"] {
        let (_, body) = node
            .post_raw(
                json!({"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":[raw]})
                    .to_string()
                    .as_bytes(),
            )
            .await;
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["error"]["code"], -32000, "{raw} → {v}");
    }
    // Batches work; an oversized batch is refused.
    let batch: Vec<Value> = (0..3)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"eth_chainId","params":[]}))
        .collect();
    let (_, body) = node
        .post_raw(Value::from(batch).to_string().as_bytes())
        .await;
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(3));
    let batch: Vec<Value> = (0..1001)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"eth_chainId","params":[]}))
        .collect();
    let (_, body) = node
        .post_raw(Value::from(batch).to_string().as_bytes())
        .await;
    let v: Value = serde_json::from_str(&body).expect("json");
    assert!(v["error"]["code"].is_number(), "{v}");
    // Oversized body (over 5 MiB): refused with a JSON-RPC error.
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{{"data":"0x{}"}}]}}"#,
        "00".repeat(3 * 1024 * 1024)
    );
    let (status, body) = node.post_raw(big.as_bytes()).await;
    assert_eq!(status, 413);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["error"]["code"], -32007, "{v}");
    // Still serving.
    let chain_id: Value = node.ok("eth_chainId", json!([])).await;
    assert_eq!(hex_u64(&chain_id), CHAIN_ID);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_allows_browser_wallets() {
    let node = TestNode::start().await;
    let response = node
        .http_raw(
            "OPTIONS / HTTP/1.1\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type",
        )
        .await
        .to_lowercase();
    assert!(response.starts_with("http/1.1 200"), "{response}");
    assert!(
        response.contains("access-control-allow-origin: *"),
        "{response}"
    );
    assert!(
        response.contains("access-control-allow-methods"),
        "{response}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_results_follow_the_head() {
    let mut node = TestNode::start().await;
    let (a0, a1) = (signer(0).address(), signer(1).address());
    let token = deploy_token(&mut node, 0, 0, U256::from(1_000u64)).await;
    let balance_of =
        |who| json!([{"to": token, "data": call_data(RpcTestToken::balanceOfCall(who))}, "latest"]);
    let read = |out: Bytes| U256::from_be_slice(&out);
    assert_eq!(read(node.ok("eth_call", balance_of(a1)).await), U256::ZERO);
    // An override applies to its own call only, never to later ones.
    let mut buf = [0u8; 64];
    buf[12..32].copy_from_slice(a1.as_slice());
    buf[63] = 3;
    let slot = keccak256(buf);
    let overridden: Bytes = node
        .ok(
            "eth_call",
            json!([
                {"to": token, "data": call_data(RpcTestToken::balanceOfCall(a1))},
                "latest",
                {format!("{token:#x}"): {"stateDiff": {format!("{slot:#x}"): format!("{:#066x}", 9)}}}
            ]),
        )
        .await;
    assert_eq!(read(overridden), U256::from(9));
    assert_eq!(read(node.ok("eth_call", balance_of(a1)).await), U256::ZERO);
    // A new head with a transfer: calls see it at once; the old block still answers the old
    // value.
    let tx = eip1559(
        0,
        1,
        Some(token),
        U256::ZERO,
        call_data(RpcTestToken::transferCall {
            to: a1,
            value: U256::from(40),
        }),
        100_000,
        10_000_000_000,
        1_000_000_000,
    );
    node.send(&tx).await.expect("accepted");
    node.produce_block().await;
    assert_eq!(
        read(node.ok("eth_call", balance_of(a1)).await),
        U256::from(40)
    );
    assert_eq!(
        read(node.ok("eth_call", balance_of(a0)).await),
        U256::from(960)
    );
    let old: Bytes = node
        .ok(
            "eth_call",
            json!([{"to": token, "data": call_data(RpcTestToken::balanceOfCall(a1))}, "0x1"]),
        )
        .await;
    assert_eq!(read(old), U256::ZERO);
    node.stop().await;
}
