//! Execution rules checked end to end, over the real HTTP Engine API and `eth` JSON-RPC of the
//! embedded execution client: a header gas limit above 2^63 - 1 is INVALID, and a `CREATE2`
//! onto an account with storage but no code and nonce 0 collides (EIP-7610).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;

use alloy::consensus::{Block, SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::rpc::types::engine::{
    ExecutionPayloadV3, ForkchoiceState, JwtSecret, PayloadAttributes, PayloadStatus,
    PayloadStatusEnum,
};
use alloy::signers::local::PrivateKeySigner;
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256, U64};
use alys_engine::{EngineClientConfig, ExecutionEngine, HttpEngineClient};
use alys_evm::eth::server::RpcServerConfig;
use alys_evm::{ElConfig, EmbeddedEl};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::{json, Value};

const CHAIN_ID: u64 = 263_634;
const GENESIS_TIME: u64 = 1_700_000_000;
const COINBASE: Address = Address::repeat_byte(0xc0);
const BEACON_ROOT: B256 = B256::repeat_byte(0x43);
const GWEI: u128 = 1_000_000_000;
const TIP: u128 = GWEI;
const SENDER_BALANCE: u128 = 1_000_000 * GWEI * GWEI;

struct Node {
    el: EmbeddedEl,
    engine: HttpEngineClient,
    rpc: HttpClient,
    _dir: tempfile::TempDir,
}

async fn start(genesis: Genesis) -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = JwtSecret::random();
    let el = EmbeddedEl::start(ElConfig {
        datadir: dir.path().to_path_buf(),
        genesis,
        authrpc_addr: "127.0.0.1:0".parse().expect("addr"),
        http: Some(RpcServerConfig::new("127.0.0.1:0".parse().expect("addr"))),
        jwt_secret: secret,
        pool: Default::default(),
    })
    .await
    .expect("start execution client");
    let engine = HttpEngineClient::new(&el.engine_url(), secret, EngineClientConfig::default())
        .expect("engine client");
    let rpc = HttpClientBuilder::default()
        .build(el.http_url().expect("http served"))
        .expect("rpc client");
    Node {
        el,
        engine,
        rpc,
        _dir: dir,
    }
}

fn sender() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0x11)).expect("key")
}

fn genesis(gas_limit: u64, extra: BTreeMap<Address, GenesisAccount>) -> Genesis {
    let mut alloc = extra;
    alloc.insert(
        sender().address(),
        GenesisAccount::default().with_balance(U256::from(SENDER_BALANCE)),
    );
    Genesis {
        config: alys_evm::forks::cancun_chain_config(CHAIN_ID),
        timestamp: GENESIS_TIME,
        gas_limit,
        base_fee_per_gas: Some(GWEI),
        alloc,
        ..Default::default()
    }
}

fn attributes(timestamp: u64) -> PayloadAttributes {
    PayloadAttributes {
        timestamp,
        prev_randao: B256::repeat_byte(0x42),
        suggested_fee_recipient: COINBASE,
        withdrawals: Some(vec![]),
        parent_beacon_block_root: Some(BEACON_ROOT),
        slot_number: None,
        target_gas_limit: None,
    }
}

fn head(hash: B256) -> ForkchoiceState {
    ForkchoiceState {
        head_block_hash: hash,
        safe_block_hash: B256::ZERO,
        finalized_block_hash: B256::ZERO,
    }
}

/// Builds a payload on `parent` (fcU with attributes → getPayload).
async fn build(node: &Node, parent: B256) -> ExecutionPayloadV3 {
    let updated = node
        .engine
        .forkchoice_updated(head(parent), Some(attributes(GENESIS_TIME + 2)))
        .await
        .expect("forkchoiceUpdated");
    assert_eq!(updated.payload_status.status, PayloadStatusEnum::Valid);
    let id = updated.payload_id.expect("payload id");
    node.engine
        .get_payload(id)
        .await
        .expect("getPayload")
        .execution_payload
}

async fn new_payload(node: &Node, payload: ExecutionPayloadV3) -> PayloadStatus {
    node.engine
        .new_payload(payload, vec![], BEACON_ROOT)
        .await
        .expect("newPayload")
}

/// Builds and imports the next block on genesis; returns its payload.
async fn produce(node: &Node) -> ExecutionPayloadV3 {
    let genesis = node.el.chain().lock().genesis_hash();
    let payload = build(node, genesis).await;
    let status = new_payload(node, payload.clone()).await;
    assert_eq!(status.status, PayloadStatusEnum::Valid, "{status:?}");
    let hash = payload.payload_inner.payload_inner.block_hash;
    let updated = node
        .engine
        .forkchoice_updated(head(hash), None)
        .await
        .expect("forkchoiceUpdated");
    assert_eq!(updated.payload_status.status, PayloadStatusEnum::Valid);
    payload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gas_limit_above_2_63_minus_1_is_invalid() {
    let max = i64::MAX as u64;
    // A parent at the bound, so that 2^63 is within 1/1024 of it and only the bound refuses it.
    let node = start(genesis(max, BTreeMap::new())).await;
    let genesis_hash = node.el.chain().lock().genesis_hash();
    let built = build(&node, genesis_hash).await;
    assert_eq!(built.payload_inner.payload_inner.gas_limit, max);

    let mut over = built.clone();
    over.payload_inner.payload_inner.gas_limit = max + 1;
    let block: Block<TxEnvelope> = over.clone().try_into_block().expect("block");
    let mut header = block.header;
    header.parent_beacon_block_root = Some(BEACON_ROOT);
    over.payload_inner.payload_inner.block_hash = header.hash_slow();
    let status = new_payload(&node, over).await;
    assert!(
        matches!(
            &status.status,
            PayloadStatusEnum::Invalid { validation_error }
                if validation_error.contains("gas limit 9223372036854775808")
                    && validation_error.contains("2^63 - 1")
        ),
        "{status:?}"
    );
    assert_eq!(status.latest_valid_hash, Some(genesis_hash));

    // The bound itself is a valid gas limit.
    let status = new_payload(&node, built).await;
    assert_eq!(status.status, PayloadStatusEnum::Valid, "{status:?}");
    node.el.stop().await;
}

/// `CREATE2(0, init, 0)`, then slot 0 := its result and slot 1 := 1.
const FACTORY: &[u8] = &[
    0x64, 0x60, 0x01, 0x60, 0x00, 0xf3, // PUSH5 init code
    0x60, 0x00, 0x52, // MSTORE at 0: the init code is memory[27..32]
    0x60, 0x00, 0x60, 0x05, 0x60, 0x1b, 0x60, 0x00, 0xf5, // CREATE2(value 0, 27, 5, salt 0)
    0x60, 0x00, 0x55, // SSTORE(0, result)
    0x60, 0x01, 0x60, 0x01, 0x55, // SSTORE(1, 1)
    0x00, // STOP
];
/// Init code deploying the one-byte runtime `0x00`.
const INIT: &[u8] = &[0x60, 0x01, 0x60, 0x00, 0xf3];

fn factory() -> Address {
    Address::repeat_byte(0xfa)
}

fn target() -> Address {
    factory().create2(B256::ZERO, keccak256(INIT))
}

fn slot(n: u8) -> B256 {
    B256::with_last_byte(n)
}

/// The factory, and the CREATE2 target holding storage slot 1 = 1 with `target_nonce`.
fn collision_alloc(target_nonce: u64) -> BTreeMap<Address, GenesisAccount> {
    BTreeMap::from([
        (
            factory(),
            GenesisAccount::default()
                .with_nonce(Some(1))
                .with_code(Some(Bytes::from_static(FACTORY))),
        ),
        (
            target(),
            GenesisAccount::default()
                .with_nonce(Some(target_nonce))
                .with_balance(U256::from(7))
                .with_storage(Some(BTreeMap::from([(slot(1), slot(1))]))),
        ),
    ])
}

fn call_factory() -> TxEnvelope {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 0,
        // A collision consumes all but 1/64 of the gas left: keep enough for two SSTOREs.
        gas_limit: 2_000_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: TIP,
        to: TxKind::Call(factory()),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = sender().sign_transaction_sync(&mut tx).expect("sign");
    TxEnvelope::Eip1559(tx.into_signed(sig))
}

/// Runs the factory call in block 1 of a chain whose target has `target_nonce`.
async fn run_factory(target_nonce: u64) -> (Node, ExecutionPayloadV3) {
    let node = start(genesis(30_000_000, collision_alloc(target_nonce))).await;
    let raw = format!(
        "0x{}",
        alloy_primitives::hex::encode(call_factory().encoded_2718())
    );
    let _: B256 = node
        .rpc
        .request("eth_sendRawTransaction", rpc_params![raw])
        .await
        .expect("sendRawTransaction");
    let payload = produce(&node).await;
    assert_eq!(payload.payload_inner.payload_inner.transactions.len(), 1);
    (node, payload)
}

async fn storage_at(node: &Node, address: Address, key: B256) -> U256 {
    node.rpc
        .request("eth_getStorageAt", rpc_params![address, key, "latest"])
        .await
        .expect("getStorageAt")
}

/// `eth_estimateGas` of the factory call on the genesis state.
async fn estimate_factory_call(node: &Node) -> U64 {
    node.rpc
        .request(
            "eth_estimateGas",
            rpc_params![json!({"from": sender().address(), "to": factory()}), "0x0"],
        )
        .await
        .expect("estimateGas")
}

/// The `callTracer` frame of the factory call on the genesis state.
async fn trace_factory_call(node: &Node) -> Value {
    node.rpc
        .request(
            "debug_traceCall",
            rpc_params![
                json!({"from": sender().address(), "to": factory(), "gas": "0x1e8480"}),
                "0x0",
                json!({"tracer": "callTracer"})
            ],
        )
        .await
        .expect("traceCall")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create2_onto_an_account_with_only_storage_collides() {
    // Reference: the same target with nonce 1 collides by EIP-684, which revm implements.
    let (reference, by_nonce) = run_factory(1).await;
    let reference_estimate = estimate_factory_call(&reference).await;
    let reference_trace = trace_factory_call(&reference).await;
    reference.el.stop().await;

    let (node, payload) = run_factory(0).await;
    let block = &payload.payload_inner.payload_inner;
    // The creation failed: CREATE2 pushed 0, the target kept its storage and got no code.
    assert_eq!(storage_at(&node, factory(), slot(0)).await, U256::ZERO);
    assert_eq!(storage_at(&node, factory(), slot(1)).await, U256::from(1));
    assert_eq!(storage_at(&node, target(), slot(1)).await, U256::from(1));
    let code: Bytes = node
        .rpc
        .request("eth_getCode", rpc_params![target(), "latest"])
        .await
        .expect("getCode");
    assert!(code.is_empty(), "{code}");
    // All the gas given to the creation is consumed, as for any collision.
    assert_eq!(
        block.gas_used,
        by_nonce.payload_inner.payload_inner.gas_used
    );

    // The state root is that of the expected post-state: the sender paid for the gas, the
    // factory's nonce went up (the creator's nonce increments on a collision) and it stored
    // only slot 1; the target is untouched; the fee recipient got the tips.
    let gas = u128::from(block.gas_used);
    let price = block.base_fee_per_gas.to::<u128>() + TIP;
    let mut expected = collision_alloc(0);
    expected.insert(
        sender().address(),
        GenesisAccount::default()
            .with_nonce(Some(1))
            .with_balance(U256::from(SENDER_BALANCE - gas * price)),
    );
    let factory_account = expected.get_mut(&factory()).expect("factory");
    factory_account.nonce = Some(2);
    factory_account.storage = Some(BTreeMap::from([(slot(1), slot(1))]));
    expected.insert(
        COINBASE,
        GenesisAccount::default().with_balance(U256::from(gas * TIP)),
    );
    assert_eq!(
        block.state_root,
        alloy_trie::root::state_root_ref_unhashed(&expected)
    );

    // Calls, estimates and traces on the RPC apply the same rule as block execution.
    assert_eq!(estimate_factory_call(&node).await, reference_estimate);
    let trace = trace_factory_call(&node).await;
    assert_eq!(trace["calls"][0]["type"], json!("CREATE2"));
    assert_eq!(
        trace["calls"][0]["error"],
        reference_trace["calls"][0]["error"]
    );
    assert_eq!(trace["gasUsed"], reference_trace["gasUsed"]);
    node.el.stop().await;
}
