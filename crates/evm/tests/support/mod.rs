//! Test harness for the public RPC: an embedded execution client on ports it bound itself, a block
//! producer that drives it through the Engine API exactly as the consensus client does
//! (`forkchoiceUpdatedV3` with attributes → `getPayloadV3` → `newPayloadV3` →
//! `forkchoiceUpdatedV3`), JSON-RPC clients, signing helpers and a test ERC-20.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::{address, b256, hex, Address, Bytes, TxKind, B256, U256};
use alys_engine::{
    EngineClientConfig, ExecutionEngine, ForkchoiceState, HttpEngineClient, PayloadAttributes,
    PayloadStatusEnum,
};
use alys_evm::EmbeddedEl;
use alys_test_utils::el::{beacon_roots_account, el_config, TestEl};
use jsonrpsee::core::client::{ClientT, Error as ClientError};
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::types::ErrorObjectOwned;
use serde::de::DeserializeOwned;
use serde_json::Value;

// Each test file and bench uses a part of these.
#[allow(unused_imports)]
pub(crate) use alys_test_utils::el::{BASE_FEE, CHAIN_ID, GAS_LIMIT, GENESIS_TIME};
/// Fee recipient of produced blocks.
pub(crate) const COINBASE: Address = address!("0x00000000000000000000000000000000000c01b5");
/// EIP-4788 beacon roots contract.
pub(crate) const BEACON_ROOTS: Address = alloy::eips::eip4788::BEACON_ROOTS_ADDRESS;

/// The first accounts of the `test test … junk` mnemonic (Foundry/anvil/Hardhat).
pub(crate) const KEYS: [B256; 4] = [
    b256!("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"),
    b256!("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
    b256!("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"),
    b256!("0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"),
];

/// Signer of `KEYS[i]`.
pub(crate) fn signer(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&KEYS[i]).expect("valid key")
}

/// The test genesis: Shanghai and Cancun at genesis, four funded accounts (10,000 ether each,
/// plus any `extra` accounts), the beacon roots contract.
pub(crate) fn genesis(extra: &[(Address, U256)]) -> Genesis {
    let mut alloc = BTreeMap::new();
    for i in 0..KEYS.len() {
        alloc.insert(
            signer(i).address(),
            GenesisAccount::default()
                .with_balance(U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18))),
        );
    }
    for (a, b) in extra {
        alloc.insert(*a, GenesisAccount::default().with_balance(*b));
    }
    alloc.extend([beacon_roots_account()]);
    alys_test_utils::el::genesis(alloc)
}

/// A JSON-RPC error as the client saw it.
#[derive(Debug, Clone)]
pub(crate) struct RpcError {
    /// Code.
    pub code: i32,
    /// Message.
    pub message: String,
    /// Data, if any.
    pub data: Option<Value>,
}

impl From<ErrorObjectOwned> for RpcError {
    fn from(e: ErrorObjectOwned) -> Self {
        Self {
            code: e.code(),
            message: e.message().to_string(),
            data: e.data().and_then(|d| serde_json::from_str(d.get()).ok()),
        }
    }
}

/// A running execution client with a block producer.
pub(crate) struct TestNode {
    /// The execution client.
    pub el: Option<EmbeddedEl>,
    /// Engine API client.
    pub engine: HttpEngineClient,
    /// Public RPC URL (`http://…`).
    pub url: String,
    /// Public RPC address.
    pub addr: SocketAddr,
    /// HTTP JSON-RPC client.
    pub client: HttpClient,
    /// Canonical head as driven by this producer.
    pub head: B256,
    /// Head timestamp.
    pub timestamp: u64,
    /// Blocks produced.
    pub produced: u64,
    dir: tempfile::TempDir,
}

impl TestNode {
    /// Starts a node on the test genesis.
    pub(crate) async fn start() -> Self {
        Self::start_with(genesis(&[])).await
    }

    /// Starts a node on `genesis`.
    pub(crate) async fn start_with(genesis: Genesis) -> Self {
        let rpc = alys_evm::eth::server::RpcServerConfig::new("127.0.0.1:0".parse().expect("addr"));
        Self::start_with_rpc(genesis, rpc).await
    }

    /// Starts a node on `genesis` serving the public RPC as `rpc` says.
    pub(crate) async fn start_with_rpc(
        genesis: Genesis,
        rpc: alys_evm::eth::server::RpcServerConfig,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = el_config(dir.path(), genesis.clone());
        config.http = Some(rpc);
        let TestEl { el, engine, .. } = TestEl::start_with(
            config,
            EngineClientConfig {
                request_timeout: Duration::from_secs(30),
                retries: 0,
                retry_backoff: Duration::from_millis(10),
            },
        )
        .await;
        let url = el.http_url().expect("http served");
        let addr: SocketAddr = url
            .trim_start_matches("http://")
            .parse()
            .expect("socket addr");
        let client = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(60))
            .build(&url)
            .expect("http client");
        let head = el.chain().lock().genesis_hash();
        Self {
            el: Some(el),
            engine,
            url,
            addr,
            client,
            head,
            timestamp: genesis.timestamp,
            produced: 0,
            dir,
        }
    }

    /// The WebSocket URL of the public RPC.
    pub(crate) fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The running client.
    pub(crate) fn el(&self) -> &EmbeddedEl {
        self.el.as_ref().expect("running")
    }

    /// Builds a block on `parent` with the pool's transactions, imports it and makes it the
    /// head. Returns its hash.
    pub(crate) async fn produce_on(&mut self, parent: B256, parent_timestamp: u64) -> B256 {
        self.produced += 1;
        let beacon_root = B256::from(U256::from(self.produced));
        let attrs = PayloadAttributes {
            timestamp: parent_timestamp + 2,
            prev_randao: B256::from(U256::from(self.produced * 7)),
            suggested_fee_recipient: COINBASE,
            withdrawals: Some(vec![]),
            parent_beacon_block_root: Some(beacon_root),
            slot_number: None,
            target_gas_limit: None,
        };
        let state = ForkchoiceState {
            head_block_hash: parent,
            safe_block_hash: parent,
            finalized_block_hash: B256::ZERO,
        };
        let fcu = self
            .engine
            .forkchoice_updated(state, Some(attrs))
            .await
            .expect("forkchoiceUpdated with attributes");
        let id = fcu.payload_id.expect("payload id");
        let envelope = self.engine.get_payload(id).await.expect("getPayload");
        let payload = envelope.execution_payload;
        let hash = payload.payload_inner.payload_inner.block_hash;
        let timestamp = payload.payload_inner.payload_inner.timestamp;
        let status = self
            .engine
            .new_payload(payload, vec![], beacon_root)
            .await
            .expect("newPayload");
        assert_eq!(status.status, PayloadStatusEnum::Valid, "newPayload status");
        let fcu = self
            .engine
            .forkchoice_updated(
                ForkchoiceState {
                    head_block_hash: hash,
                    safe_block_hash: parent,
                    finalized_block_hash: B256::ZERO,
                },
                None,
            )
            .await
            .expect("forkchoiceUpdated");
        assert_eq!(fcu.payload_status.status, PayloadStatusEnum::Valid);
        self.head = hash;
        self.timestamp = timestamp;
        hash
    }

    /// Builds one block on the current head.
    pub(crate) async fn produce_block(&mut self) -> B256 {
        self.produce_on(self.head, self.timestamp).await
    }

    /// Calls `method` and deserializes the result.
    pub(crate) async fn rpc<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, RpcError> {
        let mut p = ArrayParams::new();
        if let Value::Array(items) = params {
            for item in items {
                p.insert(item).expect("param");
            }
        }
        match self.client.request::<T, _>(method, p).await {
            Ok(v) => Ok(v),
            Err(ClientError::Call(e)) => Err(e.into()),
            Err(e) => panic!("transport error calling {method}: {e}"),
        }
    }

    /// Calls `method`, panicking on error.
    pub(crate) async fn ok<T: DeserializeOwned>(&self, method: &str, params: Value) -> T {
        match self.rpc(method, params.clone()).await {
            Ok(v) => v,
            Err(e) => panic!("{method}({params}) failed: {e:?}"),
        }
    }

    /// Sends a signed transaction; returns its hash.
    pub(crate) async fn send(&self, tx: &TxEnvelope) -> Result<B256, RpcError> {
        self.rpc(
            "eth_sendRawTransaction",
            serde_json::json!([Bytes::from(tx.encoded_2718())]),
        )
        .await
    }

    /// Raw HTTP POST of `body`; returns status and body.
    pub(crate) async fn post_raw(&self, body: &[u8]) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        // The server may answer (e.g. 413) before reading everything.
        let _ = stream.write_all(body).await;
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out).await;
        let text = String::from_utf8_lossy(&out).to_string();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// Sends a raw HTTP request (`head` without the blank line) and returns the whole response.
    pub(crate) async fn http_raw(&self, head: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        let request = format!("{head}\r\nHost: {}\r\nConnection: close\r\n\r\n", self.addr);
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).to_string()
    }

    /// Stops the client.
    pub(crate) async fn stop(mut self) {
        if let Some(el) = self.el.take() {
            el.stop().await;
        }
    }
}

/// A signed EIP-1559 transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) fn eip1559(
    key: usize,
    nonce: u64,
    to: Option<Address>,
    value: U256,
    input: Bytes,
    gas_limit: u64,
    max_fee: u128,
    tip: u128,
) -> TxEnvelope {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: to.map_or(TxKind::Create, TxKind::Call),
        value,
        access_list: Default::default(),
        input,
    };
    let sig = signer(key).sign_transaction_sync(&mut tx).expect("sign");
    tx.into_signed(sig).into()
}

/// A signed legacy (EIP-155) transaction.
pub(crate) fn legacy(
    key: usize,
    nonce: u64,
    to: Address,
    value: U256,
    gas_price: u128,
) -> TxEnvelope {
    let mut tx = TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce,
        gas_price,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value,
        input: Bytes::new(),
    };
    let sig = signer(key).sign_transaction_sync(&mut tx).expect("sign");
    tx.into_signed(sig).into()
}

/// A plain transfer of `value` wei with 2 gwei fee cap and 1 gwei tip.
pub(crate) fn transfer(key: usize, nonce: u64, to: Address, value: u64) -> TxEnvelope {
    eip1559(
        key,
        nonce,
        Some(to),
        U256::from(value),
        Bytes::new(),
        21_000,
        2_000_000_000,
        1_000_000_000,
    )
}

alloy::sol! {
    /// The test token's interface (source: `tests/e2e/contracts/RpcTestToken.sol`).
    contract RpcTestToken {
        event Transfer(address indexed from, address indexed to, uint256 value);
        error InsufficientBalance(uint256 available, uint256 required);
        function balanceOf(address) external view returns (uint256);
        function totalSupply() external view returns (uint256);
        function transfer(address to, uint256 value) external returns (bool);
        function failRequire() external pure;
        function divide(uint256 n, uint256 d) external pure returns (uint256);
        function needsGas(uint256 minimum) external;
        function setAndClear(uint256 n) external;
        function env() external view returns (uint256 baseFee, uint256 number, uint256 chainId);
        function scratch() external view returns (uint256);
    }
}

/// Creation code of the test token with `supply` as constructor argument (artifact compiled by
/// `tests/e2e/compile-artifact.mjs`).
pub(crate) fn token_creation_code(supply: U256) -> Bytes {
    let artifact: Value =
        serde_json::from_str(include_str!("RpcTestToken.json")).expect("artifact json");
    let code = artifact["bytecode"].as_str().expect("bytecode");
    let mut bytes = hex::decode(code).expect("hex");
    bytes.extend_from_slice(&supply.to_be_bytes::<32>());
    Bytes::from(bytes)
}

/// Deploys the test token from `KEYS[key]` (nonce `nonce`) and mines it; returns its address.
pub(crate) async fn deploy_token(
    node: &mut TestNode,
    key: usize,
    nonce: u64,
    supply: U256,
) -> Address {
    let tx = eip1559(
        key,
        nonce,
        None,
        U256::ZERO,
        token_creation_code(supply),
        3_000_000,
        10_000_000_000,
        1_000_000_000,
    );
    let hash = node.send(&tx).await.expect("deploy tx accepted");
    node.produce_block().await;
    let receipt: Value = node
        .ok("eth_getTransactionReceipt", serde_json::json!([hash]))
        .await;
    assert_eq!(receipt["status"], "0x1", "deployment succeeded: {receipt}");
    receipt["contractAddress"]
        .as_str()
        .expect("contract address")
        .parse()
        .expect("address")
}

/// Produces a block every `interval` (a fixed cadence, like anvil's `--block-time`) on a
/// background task until stopped.
pub(crate) struct Producer {
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<TestNode>,
}

impl Producer {
    /// Starts producing on `node`.
    pub(crate) fn start(mut node: TestNode, interval: Duration) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let handle = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = ticks.tick() => {}
                }
                node.produce_block().await;
            }
            node
        });
        Self { stop, handle }
    }

    /// Stops producing and hands the node back.
    pub(crate) async fn stop(self) -> TestNode {
        let _ = self.stop.send(true);
        self.handle.await.expect("producer task")
    }
}
