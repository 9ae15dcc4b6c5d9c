//! Client tests against a local jsonrpsee test double of an execution client that checks the
//! JWT for real (401 otherwise), plus raw TCP servers for malformed/hanging responses.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use alloy::rpc::types::engine::Claims;
use alloy_primitives::U64;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse, RpcModule, Server, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, Service};

use crate::*;

// ---------------------------------------------------------------------------------------------
// JWT-checking jsonrpsee test server
// ---------------------------------------------------------------------------------------------

/// What the server saw in one HTTP request's `Authorization` header.
#[derive(Clone, Debug)]
struct AuthRecord {
    token: Option<String>,
    accepted: bool,
}

#[derive(Default)]
struct ServerState {
    auth: Mutex<Vec<AuthRecord>>,
    /// If set, every method answers with this JSON-RPC error `(code, message, data)`.
    error: Mutex<Option<(i32, String, Option<Value>)>>,
    /// Parameters of the last call, as JSON.
    last_params: Mutex<Option<Value>>,
}

#[derive(Clone)]
struct AuthCheckLayer {
    secret: JwtSecret,
    state: Arc<ServerState>,
}

impl<S> Layer<S> for AuthCheckLayer {
    type Service = AuthCheck<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthCheck {
            secret: self.secret,
            state: self.state.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
struct AuthCheck<S> {
    secret: JwtSecret,
    state: Arc<ServerState>,
    inner: S,
}

impl<S> Service<HttpRequest> for AuthCheck<S>
where
    S: Service<HttpRequest, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let token = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let accepted = token
            .as_deref()
            .is_some_and(|t| self.secret.validate(t).is_ok());
        self.state
            .auth
            .lock()
            .unwrap()
            .push(AuthRecord { token, accepted });
        if !accepted {
            let resp = http::Response::builder()
                .status(http::StatusCode::UNAUTHORIZED)
                .body(HttpBody::from("unauthorized"))
                .unwrap();
            return Box::pin(std::future::ready(Ok(resp)));
        }
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        Box::pin(ready.call(req))
    }
}

struct TestServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    _handle: ServerHandle,
}

impl TestServer {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn auth(&self) -> Vec<AuthRecord> {
        self.state.auth.lock().unwrap().clone()
    }

    fn set_error(&self, code: i32, message: &str, data: Option<Value>) {
        *self.state.error.lock().unwrap() = Some((code, message.to_owned(), data));
    }

    fn last_params(&self) -> Value {
        self.state.last_params.lock().unwrap().clone().unwrap()
    }
}

fn zero_hash(byte: u8) -> String {
    format!("0x{}", hex::encode([byte; 32]))
}

fn sample_payload_json() -> Value {
    json!({
        "parentHash": zero_hash(1),
        "feeRecipient": "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b",
        "stateRoot": zero_hash(2),
        "receiptsRoot": zero_hash(3),
        "logsBloom": format!("0x{}", "00".repeat(256)),
        "prevRandao": zero_hash(4),
        "blockNumber": "0x1",
        "gasLimit": "0x1c9c380",
        "gasUsed": "0x0",
        "timestamp": "0x5",
        "extraData": "0x",
        "baseFeePerGas": "0x7",
        "blockHash": zero_hash(5),
        "transactions": [],
        "withdrawals": [],
        "blobGasUsed": "0x0",
        "excessBlobGas": "0x0"
    })
}

/// Payload id for which `engine_getPayloadV3` answers with a wrongly shaped result.
const BAD_SHAPE_ID: [u8; 8] = [0xff; 8];

type MethodResult = Result<Value, ErrorObjectOwned>;

fn register(
    module: &mut RpcModule<Arc<ServerState>>,
    name: &'static str,
    f: impl Fn(Value) -> Value + Send + Sync + 'static,
) {
    module
        .register_method(name, move |params, state, _| -> MethodResult {
            let params: Value = params.parse().unwrap_or(Value::Null);
            *state.last_params.lock().unwrap() = Some(params.clone());
            if let Some((code, message, data)) = state.error.lock().unwrap().clone() {
                return Err(ErrorObjectOwned::owned(code, message, data));
            }
            Ok(f(params))
        })
        .unwrap();
}

async fn start_server(secret: JwtSecret) -> TestServer {
    let state = Arc::new(ServerState::default());
    let mut module = RpcModule::new(state.clone());
    register(&mut module, "engine_forkchoiceUpdatedV3", |p| {
        let _: (ForkchoiceState, Option<PayloadAttributes>) =
            serde_json::from_value(p.clone()).unwrap();
        let payload_id = if p[1].is_null() {
            Value::Null
        } else {
            json!("0x0102030405060708")
        };
        json!({
            "payloadStatus": {"status": "VALID", "latestValidHash": p[0]["headBlockHash"], "validationError": null},
            "payloadId": payload_id
        })
    });
    register(&mut module, "engine_getPayloadV3", |p| {
        let id: PayloadId = serde_json::from_value(p[0].clone()).unwrap();
        if id == PayloadId::new(BAD_SHAPE_ID) {
            return json!({"foo": 1});
        }
        json!({
            "executionPayload": sample_payload_json(),
            "blockValue": "0x2a",
            "blobsBundle": {"commitments": [], "proofs": [], "blobs": []},
            "shouldOverrideBuilder": false
        })
    });
    register(&mut module, "engine_newPayloadV3", |p| {
        let (_payload, _hashes, _root): (ExecutionPayloadV3, Vec<B256>, B256) =
            serde_json::from_value(p).unwrap();
        json!({"status": "INVALID", "latestValidHash": zero_hash(1), "validationError": "bad block"})
    });
    register(&mut module, "engine_exchangeCapabilities", |_| {
        json!(["engine_newPayloadV3", "engine_forkchoiceUpdatedV3"])
    });
    register(
        &mut module,
        "engine_getClientVersionV1",
        |_| json!([{"code": "RH", "name": "Reth", "version": "v1.0.0", "commit": "fa4ff922"}]),
    );
    register(&mut module, "engine_getPayloadBodiesByHashV1", |p| {
        let hashes: Vec<B256> = serde_json::from_value(p[0].clone()).unwrap();
        hashes
            .iter()
            .map(|h| {
                if h.0[0] == 0 {
                    Value::Null
                } else {
                    json!({"transactions": ["0x01"], "withdrawals": []})
                }
            })
            .collect()
    });
    register(&mut module, "engine_getPayloadBodiesByRangeV1", |p| {
        let (_start, count): (U64, U64) = serde_json::from_value(p).unwrap();
        (0..count.to::<u64>())
            .map(|_| json!({"transactions": [], "withdrawals": null}))
            .collect()
    });

    let server = Server::builder()
        .set_http_middleware(tower::ServiceBuilder::new().layer(AuthCheckLayer {
            secret,
            state: state.clone(),
        }))
        .build("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.start(module);
    TestServer {
        addr,
        state,
        _handle: handle,
    }
}

fn fast_config() -> EngineClientConfig {
    EngineClientConfig {
        request_timeout: Duration::from_secs(2),
        retries: 3,
        retry_backoff: Duration::from_millis(10),
    }
}

fn fcu_state() -> ForkchoiceState {
    ForkchoiceState {
        head_block_hash: B256::repeat_byte(0xaa),
        safe_block_hash: B256::repeat_byte(0xbb),
        finalized_block_hash: B256::ZERO,
    }
}

fn decode_claims(secret: &JwtSecret, token: &str) -> Claims {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    jsonwebtoken::decode::<Claims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------------------------------------
// Raw TCP servers (malformed responses, hangs, HTTP errors)
// ---------------------------------------------------------------------------------------------

/// Reads one HTTP request (headers + `Content-Length` body); false on EOF.
async fn read_http_request(stream: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return true;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Serves `response` (or nothing at all, if `None`) to every request; counts requests.
async fn raw_server(response: Option<&'static str>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = counter.clone();
            match response {
                None => {
                    counter.fetch_add(1, Ordering::SeqCst);
                    held.push(stream); // never answer
                }
                Some(response) => {
                    tokio::spawn(async move {
                        while read_http_request(&mut stream).await {
                            counter.fetch_add(1, Ordering::SeqCst);
                            if stream.write_all(response.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        }
    });
    (url, count)
}

fn http_response(status: &str, body: &str) -> &'static str {
    Box::leak(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    )
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sends_fresh_valid_jwt_on_every_request() {
    let secret = JwtSecret::random();
    let server = start_server(secret).await;
    let client = HttpEngineClient::new(&server.url(), secret, fast_config()).unwrap();

    client
        .exchange_capabilities(vec!["engine_newPayloadV3".into()])
        .await
        .unwrap();
    client.forkchoice_updated(fcu_state(), None).await.unwrap();
    // Tokens have 1 s resolution: wait so a cached token would be detectable.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.client_version().await.unwrap();

    let auth = server.auth();
    assert_eq!(auth.len(), 3, "one HTTP request per call: {auth:?}");
    let now = now_secs();
    for rec in &auth {
        assert!(rec.accepted, "{rec:?}");
        let token = rec.token.as_deref().unwrap();
        secret.validate(token).unwrap();
        let iat = decode_claims(&secret, token).iat;
        assert!(now.abs_diff(iat) <= 5, "iat {iat} is not fresh (now {now})");
    }
    assert_ne!(
        auth[0].token, auth[2].token,
        "token must be minted per request"
    );
}

#[tokio::test]
async fn wrong_secret_is_unauthorized_and_not_retried() {
    let server = start_server(JwtSecret::random()).await;
    let client = HttpEngineClient::new(&server.url(), JwtSecret::random(), fast_config()).unwrap();
    let err = client
        .forkchoice_updated(fcu_state(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Unauthorized), "{err:?}");
    assert!(!err.is_retryable());
    let auth = server.auth();
    assert_eq!(auth.len(), 1);
    assert!(auth[0].token.is_some() && !auth[0].accepted);
}

#[tokio::test]
async fn from_jwt_file_uses_the_file_secret() {
    let secret = JwtSecret::random();
    let server = start_server(secret).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwt.hex");
    std::fs::write(&path, format!("0x{}\n", hex::encode(secret.as_bytes()))).unwrap();
    let client = HttpEngineClient::from_jwt_file(&server.url(), &path, fast_config()).unwrap();
    client.exchange_capabilities(vec![]).await.unwrap();
    assert!(server.auth()[0].accepted);

    let missing = dir.path().join("missing.hex");
    let err = HttpEngineClient::from_jwt_file(&server.url(), &missing, fast_config()).unwrap_err();
    assert!(matches!(err, EngineError::Jwt(_)), "{err:?}");
}

#[tokio::test]
async fn engine_methods_round_trip() {
    let secret = JwtSecret::random();
    let server = start_server(secret).await;
    let client = HttpEngineClient::new(&server.url(), secret, fast_config()).unwrap();

    // forkchoiceUpdated without attributes: null second param, no payload id.
    let updated = client.forkchoice_updated(fcu_state(), None).await.unwrap();
    assert_eq!(updated.payload_status.status, PayloadStatusEnum::Valid);
    assert_eq!(
        updated.payload_status.latest_valid_hash,
        Some(B256::repeat_byte(0xaa))
    );
    assert_eq!(updated.payload_id, None);
    let params = server.last_params();
    assert_eq!(params.as_array().unwrap().len(), 2);
    assert!(params[1].is_null());

    // With attributes: a payload id comes back.
    let attrs = PayloadAttributes {
        timestamp: 10,
        prev_randao: B256::repeat_byte(1),
        suggested_fee_recipient: Default::default(),
        withdrawals: Some(vec![]),
        parent_beacon_block_root: Some(B256::repeat_byte(2)),
        slot_number: None,
        target_gas_limit: None,
    };
    let updated = client
        .forkchoice_updated(fcu_state(), Some(attrs))
        .await
        .unwrap();
    let id = updated.payload_id.unwrap();
    assert_eq!(id, PayloadId::new([1, 2, 3, 4, 5, 6, 7, 8]));
    let sent = server.last_params()[1].clone();
    assert_eq!(sent["timestamp"], "0xa");
    // Exactly the V3 attribute fields go on the wire.
    let mut keys: Vec<&str> = sent
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "parentBeaconBlockRoot",
            "prevRandao",
            "suggestedFeeRecipient",
            "timestamp",
            "withdrawals"
        ]
    );

    // getPayload → newPayload with the returned payload; INVALID is a status, not an error.
    let envelope = client.get_payload(id).await.unwrap();
    assert_eq!(
        envelope
            .execution_payload
            .payload_inner
            .payload_inner
            .block_number,
        1
    );
    assert_eq!(envelope.block_value, alloy_primitives::U256::from(42));
    let status = client
        .new_payload(
            envelope.execution_payload,
            vec![B256::repeat_byte(9)],
            B256::repeat_byte(7),
        )
        .await
        .unwrap();
    assert_eq!(
        status.status,
        PayloadStatusEnum::Invalid {
            validation_error: "bad block".into()
        }
    );
    assert_eq!(status.latest_valid_hash, Some(B256::repeat_byte(1)));
    let params = server.last_params();
    assert_eq!(params.as_array().unwrap().len(), 3);
    assert_eq!(params[2], json!(zero_hash(7)));

    // Auxiliary methods.
    let caps = client
        .exchange_capabilities(CAPABILITIES.iter().map(|s| s.to_string()).collect())
        .await
        .unwrap();
    assert_eq!(
        caps,
        vec![
            "engine_newPayloadV3".to_string(),
            "engine_forkchoiceUpdatedV3".into()
        ]
    );
    assert_eq!(
        server.last_params()[0].as_array().unwrap().len(),
        CAPABILITIES.len()
    );

    let versions = client.client_version().await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].name, "Reth");
    assert_eq!(server.last_params()[0]["code"], "AL");

    let bodies = client
        .payload_bodies_by_hash(vec![B256::ZERO, B256::repeat_byte(3)])
        .await
        .unwrap();
    assert_eq!(bodies.len(), 2);
    assert!(bodies[0].is_none());
    assert_eq!(bodies[1].as_ref().unwrap().transactions.len(), 1);

    let bodies = client.payload_bodies_by_range(16, 3).await.unwrap();
    assert_eq!(bodies.len(), 3);
    assert_eq!(server.last_params(), json!(["0x10", "0x3"]));
}

#[tokio::test]
async fn every_spec_error_code_maps_to_its_variant_and_is_not_retried() {
    let secret = JwtSecret::random();
    let server = start_server(secret).await;
    let client = HttpEngineClient::new(&server.url(), secret, fast_config()).unwrap();

    type Check = fn(&EngineError) -> bool;
    let cases: &[(i32, Check)] = &[
        (
            -32700,
            |e| matches!(e, EngineError::ParseError(m) if m == "msg"),
        ),
        (
            -32600,
            |e| matches!(e, EngineError::InvalidRequest(m) if m == "msg"),
        ),
        (
            -32601,
            |e| matches!(e, EngineError::MethodNotFound(m) if m == "msg"),
        ),
        (
            -32602,
            |e| matches!(e, EngineError::InvalidParams(m) if m == "msg"),
        ),
        (
            -32603,
            |e| matches!(e, EngineError::Internal(m) if m == "msg"),
        ),
        (
            -32000,
            |e| matches!(e, EngineError::Server { message, err: None } if message == "msg"),
        ),
        (
            -38001,
            |e| matches!(e, EngineError::UnknownPayload(m) if m == "msg"),
        ),
        (
            -38002,
            |e| matches!(e, EngineError::InvalidForkchoiceState(m) if m == "msg"),
        ),
        (
            -38003,
            |e| matches!(e, EngineError::InvalidPayloadAttributes(m) if m == "msg"),
        ),
        (
            -38004,
            |e| matches!(e, EngineError::TooLargeRequest(m) if m == "msg"),
        ),
        (
            -38005,
            |e| matches!(e, EngineError::UnsupportedFork(m) if m == "msg"),
        ),
        (
            -38006,
            |e| matches!(e, EngineError::TooDeepReorg(m) if m == "msg"),
        ),
        (
            -39999,
            |e| matches!(e, EngineError::OtherRpc { code: -39999, message } if message == "msg"),
        ),
    ];
    for (code, check) in cases {
        server.set_error(*code, "msg", None);
        let before = server.auth().len();
        let err = client
            .forkchoice_updated(fcu_state(), None)
            .await
            .unwrap_err();
        assert!(check(&err), "code {code} mapped to {err:?}");
        assert_eq!(err.rpc_code(), Some(*code));
        assert!(!err.is_retryable(), "{err:?}");
        assert_eq!(
            server.auth().len(),
            before + 1,
            "JSON-RPC error {code} must not be retried"
        );
    }

    // -32000 carries `data.err`.
    server.set_error(
        -32000,
        "Server error",
        Some(json!({"err": "Database corrupted"})),
    );
    let err = client
        .get_payload(PayloadId::new([0; 8]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Server { message, err: Some(d) } if message == "Server error" && d == "Database corrupted"),
        "{err:?}"
    );
    assert!(err.to_string().contains("Database corrupted"));

    // Also through the other trait methods.
    server.set_error(-38001, "Unknown payload", None);
    let err = client
        .get_payload(PayloadId::new([0; 8]))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::UnknownPayload(_)), "{err:?}");
    server.set_error(-38005, "Unsupported fork", None);
    let payload: ExecutionPayloadV3 = serde_json::from_value(sample_payload_json()).unwrap();
    let err = client
        .new_payload(payload, vec![], B256::ZERO)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::UnsupportedFork(_)), "{err:?}");
}

#[tokio::test]
async fn wrongly_shaped_result_is_invalid_response() {
    let secret = JwtSecret::random();
    let server = start_server(secret).await;
    let client = HttpEngineClient::new(&server.url(), secret, fast_config()).unwrap();
    let err = client
        .get_payload(PayloadId::new(BAD_SHAPE_ID))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidResponse(_)), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(server.auth().len(), 1);
}

#[tokio::test]
async fn malformed_json_is_invalid_response_not_panic() {
    for body in [
        "{not json",
        "",
        "[1,2",
        "{\"foo\":1}",
        "{\"jsonrpc\":\"2.0\",\"id\":0}",
    ] {
        let (url, count) = raw_server(Some(http_response("200 OK", body))).await;
        let client = HttpEngineClient::new(&url, JwtSecret::random(), fast_config()).unwrap();
        let err = client
            .forkchoice_updated(fcu_state(), None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::InvalidResponse(_)),
            "body {body:?} gave {err:?}"
        );
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "invalid responses are not retried"
        );
    }
}

#[tokio::test]
async fn http_error_status_maps_and_5xx_is_retried() {
    let (url, count) = raw_server(Some(http_response("503 Service Unavailable", "busy"))).await;
    let client = HttpEngineClient::new(&url, JwtSecret::random(), fast_config()).unwrap();
    let err = client.exchange_capabilities(vec![]).await.unwrap_err();
    assert!(matches!(err, EngineError::HttpStatus(503)), "{err:?}");
    assert_eq!(count.load(Ordering::SeqCst), 4, "1 attempt + 3 retries");

    let (url, count) = raw_server(Some(http_response("404 Not Found", ""))).await;
    let client = HttpEngineClient::new(&url, JwtSecret::random(), fast_config()).unwrap();
    let err = client.exchange_capabilities(vec![]).await.unwrap_err();
    assert!(matches!(err, EngineError::HttpStatus(404)), "{err:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn dead_port_is_transport_error_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = EngineClientConfig {
        request_timeout: Duration::from_secs(2),
        retries: 2,
        retry_backoff: Duration::from_millis(50),
    };
    let client =
        HttpEngineClient::new(&format!("http://{addr}"), JwtSecret::random(), config).unwrap();
    let start = Instant::now();
    let err = client
        .forkchoice_updated(fcu_state(), None)
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        matches!(&err, EngineError::Transport(m) if m.contains("Connection refused")),
        "{err:?}"
    );
    assert!(err.is_retryable());
    // Two retries: 50 ms + 100 ms of backoff.
    assert!(
        elapsed >= Duration::from_millis(150),
        "retries did not back off: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn timeout_is_honoured_and_retried() {
    let (url, count) = raw_server(None).await;
    let config = EngineClientConfig {
        request_timeout: Duration::from_millis(300),
        retries: 0,
        retry_backoff: Duration::from_millis(10),
    };
    let client = HttpEngineClient::new(&url, JwtSecret::random(), config).unwrap();
    let start = Instant::now();
    let err = client
        .get_payload(PayloadId::new([0; 8]))
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        matches!(err, EngineError::Timeout(d) if d == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);

    let config = EngineClientConfig {
        request_timeout: Duration::from_millis(200),
        retries: 2,
        retry_backoff: Duration::from_millis(10),
    };
    let client = HttpEngineClient::new(&url, JwtSecret::random(), config).unwrap();
    let start = Instant::now();
    let err = client
        .get_payload(PayloadId::new([0; 8]))
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, EngineError::Timeout(_)), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_millis(2500),
        "{elapsed:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 4, "1 earlier + 3 attempts");
}

#[test]
fn invalid_url_is_rejected() {
    let err = HttpEngineClient::new(
        "not a url",
        JwtSecret::random(),
        EngineClientConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, EngineError::InvalidUrl(_)), "{err:?}");
    let err = HttpEngineClient::new(
        "ftp://127.0.0.1:8551",
        JwtSecret::random(),
        EngineClientConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, EngineError::InvalidUrl(_)), "{err:?}");
}

#[test]
fn default_config() {
    let c = EngineClientConfig::default();
    assert_eq!(c.request_timeout, Duration::from_secs(8));
    assert_eq!(c.retries, 3);
    assert_eq!(c.retry_backoff, Duration::from_millis(200));
}

#[test]
fn retry_classification() {
    assert!(EngineError::Transport("refused".into()).is_retryable());
    assert!(EngineError::Timeout(Duration::from_secs(1)).is_retryable());
    assert!(EngineError::HttpStatus(502).is_retryable());
    assert!(!EngineError::HttpStatus(400).is_retryable());
    assert!(!EngineError::Unauthorized.is_retryable());
    assert!(!EngineError::InvalidResponse("x".into()).is_retryable());
    assert!(!EngineError::Jwt("x".into()).is_retryable());
    assert!(!EngineError::Server {
        message: "x".into(),
        err: None
    }
    .is_retryable());
    assert!(!EngineError::UnknownPayload("x".into()).is_retryable());
}

/// The trait is usable generically (compile-time check that futures are `Send`).
#[allow(dead_code)]
fn assert_engine_is_send<E: ExecutionEngine>(engine: Arc<E>) {
    fn is_send<T: Send>(_: T) {}
    is_send(async move { engine.forkchoice_updated(fcu_state(), None).await });
}

#[test]
fn client_is_clone_send_sync() {
    fn check<T: Clone + Send + Sync + 'static + ExecutionEngine>() {}
    check::<HttpEngineClient>();
}
