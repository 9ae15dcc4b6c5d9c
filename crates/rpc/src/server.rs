//! HTTP transport, authentication and JSON-RPC 1.0/2.0 framing.

use std::{collections::BTreeMap, convert::Infallible, net::SocketAddr, sync::Arc};

use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    body::{Bytes, Incoming},
    header, Method, Request, Response, StatusCode,
};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// A JSON-RPC error (code and message, as Bitcoin Core words them where it has a code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct RpcError {
    /// Error code.
    pub code: i64,
    /// Message.
    pub message: String,
}

impl RpcError {
    /// -32601: unknown method.
    pub fn method_not_found() -> Self {
        Self {
            code: -32601,
            message: "Method not found".into(),
        }
    }
    /// -32602 (Bitcoin Core uses -8 for bad parameter values; we keep the JSON-RPC code).
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self {
            code: -32602,
            message: message.into(),
        }
    }
    /// -32603: internal error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: -32603,
            message: message.into(),
        }
    }
    /// -5 (Bitcoin Core's "invalid address or key" / not found).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            code: -5,
            message: message.into(),
        }
    }
}

type Handler = Box<dyn Fn(Vec<Value>) -> Result<Value, RpcError> + Send + Sync>;

/// The method table: name → handler taking positional params.
#[derive(Default)]
pub struct Methods {
    handlers: BTreeMap<String, (String, Handler)>,
}

impl Methods {
    /// An empty table (with `help`, which lists the others).
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `name` with a one-line usage text.
    pub fn register(
        &mut self,
        name: &str,
        usage: &str,
        handler: impl Fn(Vec<Value>) -> Result<Value, RpcError> + Send + Sync + 'static,
    ) {
        self.handlers
            .insert(name.to_string(), (usage.to_string(), Box::new(handler)));
    }

    /// Calls `method` with positional `params`.
    pub fn call(&self, method: &str, params: Vec<Value>) -> Result<Value, RpcError> {
        if method == "help" {
            let text: Vec<&str> = self
                .handlers
                .values()
                .map(|(usage, _)| usage.as_str())
                .collect();
            return Ok(Value::String(text.join("\n")));
        }
        match self.handlers.get(method) {
            Some((_, handler)) => handler(params),
            None => Err(RpcError::method_not_found()),
        }
    }
}

/// HTTP Basic credentials required by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl Credentials {
    fn accepts(&self, header: Option<&hyper::header::HeaderValue>) -> bool {
        let Some(value) = header.and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let Some(encoded) = value.strip_prefix("Basic ") else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let expected = format!("{}:{}", self.user, self.password);
        // Constant-time comparison of equal-length byte strings.
        decoded.len() == expected.len()
            && decoded
                .iter()
                .zip(expected.as_bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// A running server.
pub struct RpcServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RpcServer {
    /// Binds `addr` and serves `methods`.
    pub async fn start(
        addr: SocketAddr,
        methods: Methods,
        credentials: Credentials,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new((methods, credentials));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(req, &shared.0, &shared.1).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, task })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections.
    pub fn stop(self) {
        self.task.abort();
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn error_body(version2: bool, id: Value, error: &RpcError) -> Value {
    let error = json!({"code": error.code, "message": error.message});
    if version2 {
        json!({"jsonrpc": "2.0", "error": error, "id": id})
    } else {
        json!({"result": null, "error": error, "id": id})
    }
}

async fn handle(
    req: Request<Incoming>,
    methods: &Methods,
    credentials: &Credentials,
) -> Response<Full<Bytes>> {
    if !credentials.accepts(req.headers().get(header::AUTHORIZATION)) {
        let mut r = reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": "authorization required"}),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"jsonrpc\""),
        );
        return r;
    }
    if req.method() != Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, json!({"error": "use POST"}));
    }
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let e = RpcError {
                code: -32600,
                message: format!("request body larger than {MAX_BODY_BYTES} bytes"),
            };
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                error_body(true, Value::Null, &e),
            );
        }
    };
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            let e = RpcError {
                code: -32700,
                message: format!("Parse error: {e}"),
            };
            return reply(StatusCode::OK, error_body(true, Value::Null, &e));
        }
    };
    match request {
        Value::Array(batch) => {
            let responses: Vec<Value> = batch.into_iter().map(|r| call_one(methods, r)).collect();
            reply(StatusCode::OK, Value::Array(responses))
        }
        single => reply(StatusCode::OK, call_one(methods, single)),
    }
}

fn call_one(methods: &Methods, request: Value) -> Value {
    let version2 = request.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return error_body(
            version2,
            id,
            &RpcError {
                code: -32600,
                message: "Invalid Request: no method".into(),
            },
        );
    };
    let params = match request.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(p)) => p.clone(),
        Some(Value::Object(o)) => o.values().cloned().collect(),
        Some(_) => {
            return error_body(
                version2,
                id,
                &RpcError::invalid_params("params must be an array or an object"),
            )
        }
    };
    match methods.call(method, params) {
        Ok(result) if version2 => json!({"jsonrpc": "2.0", "result": result, "id": id}),
        Ok(result) => json!({"result": result, "error": null, "id": id}),
        Err(e) => error_body(version2, id, &e),
    }
}
