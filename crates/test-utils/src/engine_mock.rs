//! A stand-in execution client for Engine API client tests: a jsonrpsee server that checks
//! the JWT of every request for real (401 otherwise), records what it saw and answers the
//! Cancun (`V3`) methods with canned responses or a chosen JSON-RPC error; and raw TCP servers
//! for malformed, failing or hanging HTTP responses.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use alloy::rpc::types::engine::{
    ExecutionPayloadV3, ForkchoiceState, JwtSecret, PayloadAttributes, PayloadId,
};
use alloy_primitives::{B256, U64};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse, RpcModule, Server, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, Service};

/// What the server saw in one HTTP request's `Authorization` header.
#[derive(Clone, Debug)]
pub struct AuthRecord {
    /// The bearer token, if any.
    pub token: Option<String>,
    /// Whether it validated against the secret.
    pub accepted: bool,
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

/// A running mock execution client; stopped when dropped.
pub struct MockEngine {
    addr: SocketAddr,
    state: Arc<ServerState>,
    _handle: ServerHandle,
}

impl MockEngine {
    /// Starts a mock on a free port of 127.0.0.1 that accepts tokens signed with `secret`.
    pub async fn start(secret: JwtSecret) -> Self {
        start_server(secret).await
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request's `Authorization`, in order.
    pub fn auth(&self) -> Vec<AuthRecord> {
        self.state.auth.lock().unwrap().clone()
    }

    /// Makes every method answer with this JSON-RPC error from now on.
    pub fn set_error(&self, code: i32, message: &str, data: Option<Value>) {
        *self.state.error.lock().unwrap() = Some((code, message.to_owned(), data));
    }

    /// Parameters of the last call, as JSON.
    pub fn last_params(&self) -> Value {
        self.state.last_params.lock().unwrap().clone().unwrap()
    }
}

/// `0x` and 32 bytes of `byte`.
pub fn zero_hash(byte: u8) -> String {
    format!("0x{}", hex::encode([byte; 32]))
}

/// The payload `engine_getPayloadV3` answers with, as JSON.
pub fn sample_payload_json() -> Value {
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
pub const BAD_SHAPE_ID: [u8; 8] = [0xff; 8];

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

async fn start_server(secret: JwtSecret) -> MockEngine {
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
    MockEngine {
        addr,
        state,
        _handle: handle,
    }
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
pub async fn raw_server(response: Option<&'static str>) -> (String, Arc<AtomicUsize>) {
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

/// A whole HTTP/1.1 response with `status` and a JSON `body`.
pub fn http_response(status: &str, body: &str) -> &'static str {
    Box::leak(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    )
}
