//! [`HttpEngineClient`]: the Engine API JSON-RPC client over HTTP with JWT authentication.

use alys_secrets::redact_url;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use alloy::rpc::types::engine::{
    ExecutionPayloadBodyV1, ExecutionPayloadEnvelopeV3, ExecutionPayloadV3, ForkchoiceState,
    ForkchoiceUpdated, JwtSecret, PayloadAttributes, PayloadId, PayloadStatus,
};
use alloy_primitives::{B256, U64};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::http_client::{
    HttpBackend, HttpClient, HttpClientBuilder, RpcService, RpcServiceBuilder,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::jwt::{jwt_auth_layer, load_jwt_secret, JwtAuthService};
use crate::{EngineError, ExecutionEngine};

/// Largest response body accepted (payload bodies by range can be big).
const MAX_RESPONSE_SIZE: u32 = 256 * 1024 * 1024;
/// Upper bound for a single retry delay.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Engine API method names used by this client.
pub mod methods {
    /// `engine_forkchoiceUpdatedV3`
    pub const FORKCHOICE_UPDATED_V3: &str = "engine_forkchoiceUpdatedV3";
    /// `engine_getPayloadV3`
    pub const GET_PAYLOAD_V3: &str = "engine_getPayloadV3";
    /// `engine_newPayloadV3`
    pub const NEW_PAYLOAD_V3: &str = "engine_newPayloadV3";
    /// `engine_exchangeCapabilities`
    pub const EXCHANGE_CAPABILITIES: &str = "engine_exchangeCapabilities";
    /// `engine_getClientVersionV1`
    pub const GET_CLIENT_VERSION_V1: &str = "engine_getClientVersionV1";
    /// `engine_getPayloadBodiesByHashV1`
    pub const GET_PAYLOAD_BODIES_BY_HASH_V1: &str = "engine_getPayloadBodiesByHashV1";
    /// `engine_getPayloadBodiesByRangeV1`
    pub const GET_PAYLOAD_BODIES_BY_RANGE_V1: &str = "engine_getPayloadBodiesByRangeV1";
    /// `eth_getBlockReceipts`: not in the Engine API's `eth` subset, so most clients serve it
    /// only on their eth JSON-RPC port (see [`HttpEngineClient::with_execution_rpc_url`])
    pub const GET_BLOCK_RECEIPTS: &str = "eth_getBlockReceipts";
    /// `eth_getTransactionReceipt`: the fallback when `eth_getBlockReceipts` is not served
    pub const GET_TRANSACTION_RECEIPT: &str = "eth_getTransactionReceipt";
}

/// The Engine API methods this client can call (for `engine_exchangeCapabilities`).
pub const CAPABILITIES: &[&str] = &[
    methods::FORKCHOICE_UPDATED_V3,
    methods::GET_PAYLOAD_V3,
    methods::NEW_PAYLOAD_V3,
    methods::GET_CLIENT_VERSION_V1,
    methods::GET_PAYLOAD_BODIES_BY_HASH_V1,
    methods::GET_PAYLOAD_BODIES_BY_RANGE_V1,
];

/// Timeout and retry policy of an [`HttpEngineClient`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineClientConfig {
    /// Per-attempt timeout (spec: 8 s for forkchoiceUpdated / newPayload).
    pub request_timeout: Duration,
    /// Extra attempts after the first for retryable errors (see [`EngineError::is_retryable`]).
    pub retries: u32,
    /// Delay before the first retry; doubles on each further retry (capped at 5 s).
    pub retry_backoff: Duration,
}

impl Default for EngineClientConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(8),
            retries: 3,
            retry_backoff: Duration::from_millis(200),
        }
    }
}

type RpcClient = HttpClient<RpcService<JwtAuthService<HttpBackend>>>;
/// A client without JWT, for an eth JSON-RPC URL other than the Engine API's.
pub(crate) type PlainClient = HttpClient<RpcService<HttpBackend>>;

/// The eth JSON-RPC endpoint of the execution client, when it is not the Engine API URL.
pub(crate) struct EthEndpoint {
    pub(crate) url: String,
    pub(crate) client: PlainClient,
}

pub(crate) struct Inner {
    pub(crate) url: String,
    pub(crate) client: RpcClient,
    pub(crate) config: EngineClientConfig,
    /// Where `eth_*` calls go when not to the Engine API URL (no JWT is sent there).
    pub(crate) eth: Option<EthEndpoint>,
    /// The eth endpoint answered -32601 to `eth_getBlockReceipts`: receipts are fetched one
    /// by one from then on.
    pub(crate) block_receipts_missing: AtomicBool,
}

/// Engine API client over HTTP, authenticating each request with a fresh JWT.
///
/// Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct HttpEngineClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for HttpEngineClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpEngineClient")
            .field("url", &redact_url(&self.inner.url))
            .field("execution_rpc_url", &redact_url(self.execution_rpc_url()))
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl HttpEngineClient {
    /// Creates a client for the Engine API at `url` (e.g. `http://127.0.0.1:8551`).
    ///
    /// Does not connect; connection errors surface on the first call.
    pub fn new(
        url: &str,
        secret: JwtSecret,
        config: EngineClientConfig,
    ) -> Result<Self, EngineError> {
        let client = HttpClientBuilder::new()
            .request_timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .max_response_size(MAX_RESPONSE_SIZE)
            .set_http_middleware(tower::ServiceBuilder::new().layer(jwt_auth_layer(secret)))
            .set_rpc_middleware(RpcServiceBuilder::new())
            .build(url)
            .map_err(|e| match e {
                jsonrpsee::core::client::Error::Transport(t) => {
                    EngineError::InvalidUrl(format!("{}: {t}", redact_url(url)))
                }
                other => EngineError::InvalidUrl(format!("{}: {other}", redact_url(url))),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                client,
                config,
                eth: None,
                block_receipts_missing: AtomicBool::new(false),
            }),
        })
    }

    /// Sends the `eth_*` calls (the receipts of the fee re-mint) to `url`, the execution
    /// client's eth JSON-RPC, instead of the Engine API URL. The Engine API spec only requires
    /// a small `eth` subset on the authenticated port, without receipts, so Reth, Nethermind,
    /// Besu, Erigon and EthereumJS serve receipts only on their eth port. No JWT is sent
    /// there; the receipts are checked against the block's receipts root by the caller.
    /// The same URL as the Engine API's keeps the JWT-authenticated client.
    pub fn with_execution_rpc_url(self, url: &str) -> Result<Self, EngineError> {
        if url == self.inner.url {
            return Ok(self);
        }
        let config = &self.inner.config;
        let client = HttpClientBuilder::new()
            .request_timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .max_response_size(MAX_RESPONSE_SIZE)
            .set_rpc_middleware(RpcServiceBuilder::new())
            .build(url)
            .map_err(|e| EngineError::InvalidUrl(format!("{}: {e}", redact_url(url))))?;
        Ok(Self {
            inner: Arc::new(Inner {
                url: self.inner.url.clone(),
                client: self.inner.client.clone(),
                config: config.clone(),
                eth: Some(EthEndpoint {
                    url: url.to_owned(),
                    client,
                }),
                block_receipts_missing: AtomicBool::new(false),
            }),
        })
    }

    /// The URL the `eth_*` calls go to (the Engine API URL unless
    /// [`HttpEngineClient::with_execution_rpc_url`] set another).
    pub fn execution_rpc_url(&self) -> &str {
        self.inner.eth.as_ref().map_or(&self.inner.url, |e| &e.url)
    }

    /// Like [`HttpEngineClient::new`], reading the secret with [`load_jwt_secret`].
    pub fn from_jwt_file(
        url: &str,
        jwt_path: &Path,
        config: EngineClientConfig,
    ) -> Result<Self, EngineError> {
        Self::new(url, load_jwt_secret(jwt_path)?, config)
    }

    /// The URL this client talks to.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The timeout/retry policy.
    pub fn config(&self) -> &EngineClientConfig {
        &self.inner.config
    }

    /// `engine_exchangeCapabilities`: sends our method list, returns the execution client's.
    pub async fn exchange_capabilities(
        &self,
        ours: Vec<String>,
    ) -> Result<Vec<String>, EngineError> {
        self.call(methods::EXCHANGE_CAPABILITIES, params1(ours)?)
            .await
    }

    /// `engine_getClientVersionV1`: identifies us (code `AL`, "Alys") and returns the
    /// execution client's version(s).
    pub async fn client_version(&self) -> Result<Vec<ClientVersion>, EngineError> {
        // Sent as plain JSON because `ClientCode` has no variant for unlisted clients.
        let ours = serde_json::json!({
            "code": "AL",
            "name": "Alys",
            "version": env!("CARGO_PKG_VERSION"),
            "commit": "00000000",
        });
        self.call(methods::GET_CLIENT_VERSION_V1, params1(ours)?)
            .await
    }

    /// `engine_getPayloadBodiesByHashV1`: `None` for each block the execution client lacks.
    pub async fn payload_bodies_by_hash(
        &self,
        hashes: Vec<B256>,
    ) -> Result<Vec<Option<ExecutionPayloadBodyV1>>, EngineError> {
        self.call(methods::GET_PAYLOAD_BODIES_BY_HASH_V1, params1(hashes)?)
            .await
    }

    /// `engine_getPayloadBodiesByRangeV1`: bodies of canonical blocks `start..start + count`.
    pub async fn payload_bodies_by_range(
        &self,
        start: u64,
        count: u64,
    ) -> Result<Vec<Option<ExecutionPayloadBodyV1>>, EngineError> {
        let mut params = params1(U64::from(start))?;
        push(&mut params, U64::from(count))?;
        self.call(methods::GET_PAYLOAD_BODIES_BY_RANGE_V1, params)
            .await
    }

    /// Calls `method` on the Engine API URL, retrying retryable failures with exponential
    /// backoff.
    pub(crate) async fn call<R: DeserializeOwned>(
        &self,
        method: &'static str,
        params: ArrayParams,
    ) -> Result<R, EngineError> {
        self.call_on(&self.inner.client, &self.inner.url, method, params)
            .await
    }

    /// Calls `method` on `client` (at `url`), with the retry policy of [`Self::call`].
    pub(crate) async fn call_on<R: DeserializeOwned, C: ClientT + Sync>(
        &self,
        client: &C,
        url: &str,
        method: &'static str,
        params: ArrayParams,
    ) -> Result<R, EngineError> {
        let config = &self.inner.config;
        let mut backoff = config.retry_backoff;
        let mut attempt = 0u32;
        loop {
            let result = client.request::<R, _>(method, params.clone()).await;
            let err = match result {
                Ok(value) => return Ok(value),
                Err(e) => EngineError::from_client_error(e, config.request_timeout),
            };
            if !err.is_retryable() || attempt >= config.retries {
                tracing::debug!(method, attempt, error = %err, "engine API call failed");
                return Err(err);
            }
            attempt += 1;
            tracing::warn!(
                method,
                url = %redact_url(url),
                attempt,
                retries = config.retries,
                error = %err,
                "engine API call failed; retrying in {backoff:?}"
            );
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
        }
    }
}

impl ExecutionEngine for HttpEngineClient {
    /// `eth_getBlockReceipts` by block hash on the eth endpoint, falling back to
    /// `eth_getTransactionReceipt` per transaction where it is not served.
    async fn block_receipts(
        &self,
        block_hash: B256,
        block_number: u64,
        tx_hashes: &[B256],
    ) -> Result<Option<Vec<alloy::rpc::types::TransactionReceipt>>, EngineError> {
        self.receipts(block_hash, block_number, tx_hashes).await
    }

    /// `engine_forkchoiceUpdatedV3`.
    async fn forkchoice_updated(
        &self,
        state: ForkchoiceState,
        attributes: Option<PayloadAttributes>,
    ) -> Result<ForkchoiceUpdated, EngineError> {
        let mut params = params1(state)?;
        push(&mut params, attributes)?;
        self.call(methods::FORKCHOICE_UPDATED_V3, params).await
    }

    /// `engine_getPayloadV3`.
    async fn get_payload(&self, id: PayloadId) -> Result<ExecutionPayloadEnvelopeV3, EngineError> {
        self.call(methods::GET_PAYLOAD_V3, params1(id)?).await
    }

    /// `engine_newPayloadV3`.
    async fn new_payload(
        &self,
        payload: ExecutionPayloadV3,
        versioned_hashes: Vec<B256>,
        parent_beacon_block_root: B256,
    ) -> Result<PayloadStatus, EngineError> {
        let mut params = params1(payload)?;
        push(&mut params, versioned_hashes)?;
        push(&mut params, parent_beacon_block_root)?;
        self.call(methods::NEW_PAYLOAD_V3, params).await
    }
}

pub(crate) fn params1<T: Serialize>(value: T) -> Result<ArrayParams, EngineError> {
    let mut params = ArrayParams::new();
    push(&mut params, value)?;
    Ok(params)
}

fn push<T: Serialize>(params: &mut ArrayParams, value: T) -> Result<(), EngineError> {
    params
        .insert(value)
        .map_err(|e| EngineError::InvalidParams(format!("cannot serialize request parameter: {e}")))
}

/// One entry of `engine_getClientVersionV1`. Any two-letter client code is accepted, as the
/// spec requires (alloy's `ClientCode` only knows listed clients).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientVersion {
    /// Two-letter client code.
    pub code: String,
    /// Human-readable client name.
    pub name: String,
    /// Client version.
    pub version: String,
    /// First four bytes of the commit hash, hex.
    pub commit: String,
}
