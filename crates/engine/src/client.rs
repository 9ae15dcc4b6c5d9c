//! [`HttpEngineClient`]: the Engine API JSON-RPC client over HTTP with JWT authentication.

use std::path::Path;
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
    /// `eth_getBlockReceipts` (served on the authenticated port by Geth and the embedded EL)
    pub const GET_BLOCK_RECEIPTS: &str = "eth_getBlockReceipts";
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

struct Inner {
    url: String,
    client: RpcClient,
    config: EngineClientConfig,
}

/// Engine API client over HTTP, authenticating each request with a fresh JWT.
///
/// Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct HttpEngineClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HttpEngineClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpEngineClient")
            .field("url", &self.inner.url)
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
                    EngineError::InvalidUrl(format!("{url}: {t}"))
                }
                other => EngineError::InvalidUrl(format!("{url}: {other}")),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                client,
                config,
            }),
        })
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

    /// Calls `method`, retrying retryable failures with exponential backoff.
    async fn call<R: DeserializeOwned>(
        &self,
        method: &'static str,
        params: ArrayParams,
    ) -> Result<R, EngineError> {
        let config = &self.inner.config;
        let mut backoff = config.retry_backoff;
        let mut attempt = 0u32;
        loop {
            let result = self
                .inner
                .client
                .request::<R, _>(method, params.clone())
                .await;
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
                url = %self.inner.url,
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
    /// `eth_getBlockReceipts` by block hash.
    async fn block_receipts(
        &self,
        block_hash: B256,
    ) -> Result<Option<Vec<alloy::rpc::types::TransactionReceipt>>, EngineError> {
        self.call(methods::GET_BLOCK_RECEIPTS, params1(block_hash)?)
            .await
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

fn params1<T: Serialize>(value: T) -> Result<ArrayParams, EngineError> {
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
