//! Serving over hyper: connections admitted and timed by `alys-http-guard`, and per HTTP request the credentials check, POST only,
//! the body size cap, JSON parsing, a single request or a batch answered through [`Dispatch`]
//! (inline or on the blocking pool), and the rendered reply with the dialect's status.
//! With [`PublicAccess`], requests without credentials or from a browser take the public path
//! instead: origin check, CORS preflight, rate limit, the smaller body cap, and only the public
//! methods.

use std::{convert::Infallible, future::Future, net::IpAddr, sync::Arc, time::Instant};

use alys_http_guard::{BodyTimeout, ConnectionLimits, DeadlineBody};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    body::{Bytes, Incoming},
    header, Method, Request, Response, StatusCode,
};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::{
    auth::Credentials,
    dialect::{Dialect, JSON},
    envelope,
    error::{RpcError, INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR},
    public::{PublicAccess, RateLimiter},
    request::{self, Answer},
};

/// JSON-RPC error code of a request refused by the rate limit (HTTP 429), as Ethereum
/// clients use it ("limit exceeded").
pub const RATE_LIMITED: i64 = -32005;

/// The methods a server answers.
pub trait Dispatch: Send + Sync + 'static {
    /// Calls `method` with the request's `params` as sent (`null` when absent); mapping named
    /// parameters to positions is the method table's.
    fn call(&self, method: &str, params: Value) -> Result<Value, RpcError>;

    /// Writes a JSON reply body (compact JSON unless the methods need their own encoding).
    fn render(&self, body: &Value) -> String {
        body.to_string()
    }
}

/// Where calls run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// On the connection's task (methods that never block).
    Inline,
    /// On tokio's blocking pool, one task per HTTP request (methods that take locks or do I/O).
    Blocking,
}

/// How a server authenticates, limits and answers.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The credentials every request must carry.
    pub credentials: Credentials,
    /// Largest request body accepted, in bytes (larger: HTTP 413).
    pub max_body_bytes: usize,
    /// Bitcoin Core's HTTP behaviour or a plain JSON-RPC server's.
    pub dialect: Dialect,
    /// Where calls run.
    pub execution: Execution,
    /// Methods served without credentials, to which browser origins, how often; `None`: every
    /// request needs the credentials.
    pub public: Option<PublicAccess>,
    /// Connection caps and read timeouts.
    pub limits: ConnectionLimits,
}

/// The request body as the server reads it: under the body read deadline.
type RequestBody = DeadlineBody<Incoming>;

struct Shared<D> {
    dispatch: D,
    config: ServerConfig,
    limiter: Option<RateLimiter>,
}

/// Serves `dispatch` on `listener` until `shutdown` resolves; connections already accepted
/// finish their request in flight.
pub async fn serve<D: Dispatch>(
    listener: TcpListener,
    dispatch: D,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let limiter = config.public.as_ref().map(|p| RateLimiter::new(p.limits));
    let limits = config.limits;
    let shared = Arc::new(Shared {
        dispatch,
        config,
        limiter,
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop = move || {
        let mut stop_rx = stop_rx.clone();
        async move {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
        }
    };
    let make_service = |peer: std::net::SocketAddr| {
        let shared = shared.clone();
        tower::service_fn(move |request: Request<RequestBody>| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(handle(request, peer.ip(), shared).await) }
        })
    };
    let serving = alys_http_guard::serve(listener, limits, make_service, stop);
    tokio::pin!(serving);
    tokio::select! {
        () = &mut serving => {}
        () = shutdown => {
            let _ = stop_tx.send(true);
            serving.await;
        }
    }
}

/// The reply to a parsed body.
enum Outcome {
    /// A JSON body with its status.
    Reply(StatusCode, Value),
    /// A lone notification: 204 without a body.
    NoContent,
}

async fn handle<D: Dispatch>(
    request: Request<RequestBody>,
    peer: IpAddr,
    shared: Arc<Shared<D>>,
) -> Response<Full<Bytes>> {
    let config = &shared.config;
    let dialect = config.dialect;
    let authorized = config
        .credentials
        .accepts(request.headers().get(header::AUTHORIZATION));
    if let Some(public) = &config.public {
        if !authorized || request.headers().contains_key(header::ORIGIN) {
            return handle_public(request, peer, public, &shared).await;
        }
    }
    if !authorized {
        let delay = dialect.auth_failure_delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        return unauthorized(dialect);
    }
    answer_body(request, config.max_body_bytes, &shared, |_| Ok(())).await
}

/// A request on the public path: without credentials, or from a browser (`Origin` header).
async fn handle_public<D: Dispatch>(
    request: Request<RequestBody>,
    peer: IpAddr,
    public: &PublicAccess,
    shared: &Arc<Shared<D>>,
) -> Response<Full<Bytes>> {
    let dialect = shared.config.dialect;
    let origin = request.headers().get(header::ORIGIN).cloned();
    if let Some(origin) = &origin {
        if !public.allows_origin(origin) {
            let body = serde_json::json!({"error": "origin not allowed"}).to_string();
            return http_response(StatusCode::FORBIDDEN, body, Some(JSON));
        }
    }
    let cors = |mut response: Response<Full<Bytes>>| {
        let headers = response.headers_mut();
        headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
        if let Some(origin) = &origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
        response
    };
    if let Some(limiter) = &shared.limiter {
        if let Err(limited) = limiter.check(peer, Instant::now()) {
            let error = RpcError::new(
                RATE_LIMITED,
                format!("rate limited: {limited}; retry in a moment"),
            );
            let mut response = shared.json(
                StatusCode::TOO_MANY_REQUESTS,
                &transport_error(dialect, &error),
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(limited.retry_after().as_secs()),
            );
            return cors(response);
        }
    }
    if request.method() == Method::OPTIONS && origin.is_some() {
        // CORS preflight: POST with a JSON body, no credentials (no `Authorization` allowed).
        let mut response = http_response(StatusCode::NO_CONTENT, String::new(), None);
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::HeaderValue::from_static("POST, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::HeaderValue::from_static("content-type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            header::HeaderValue::from_static("600"),
        );
        return cors(response);
    }
    let response = answer_body(request, public.max_body_bytes, shared, |parsed| {
        let calls: &[Value] = match parsed {
            Value::Array(batch) if batch.len() > public.max_batch => {
                return Err(Refusal::Error(RpcError::new(
                    INVALID_REQUEST,
                    format!(
                        "batch of {} calls; at most {} without credentials",
                        batch.len(),
                        public.max_batch
                    ),
                )))
            }
            Value::Array(batch) => batch,
            single => std::slice::from_ref(single),
        };
        let private = calls
            .iter()
            .filter_map(|c| c.get("method").and_then(Value::as_str))
            .find(|m| !public.allows_method(m));
        match private {
            Some(_) => Err(Refusal::NeedsCredentials),
            None => Ok(()),
        }
    })
    .await;
    cors(response)
}

/// Why a parsed body is not answered.
enum Refusal {
    /// It calls a method that needs credentials: 401.
    NeedsCredentials,
    /// It breaks a limit: this error, in the transport envelope.
    Error(RpcError),
}

/// Reads, caps and parses the body of `request`, checks it with `allowed`, and answers it.
async fn answer_body<D: Dispatch>(
    request: Request<RequestBody>,
    max_body_bytes: usize,
    shared: &Arc<Shared<D>>,
    allowed: impl FnOnce(&Value) -> Result<(), Refusal>,
) -> Response<Full<Bytes>> {
    let dialect = shared.config.dialect;
    if request.method() != Method::POST {
        let (body, content_type) = dialect.post_only_body();
        return http_response(StatusCode::METHOD_NOT_ALLOWED, body, Some(content_type));
    }
    let body = match Limited::new(request.into_body(), max_body_bytes)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) if e.downcast_ref::<BodyTimeout>().is_some() => {
            let error = RpcError::new(INVALID_REQUEST, e.to_string());
            let mut response = shared.json(
                StatusCode::REQUEST_TIMEOUT,
                &transport_error(dialect, &error),
            );
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return response;
        }
        Err(_) => {
            let error = RpcError::new(INVALID_REQUEST, dialect.too_large_message(max_body_bytes));
            return shared.json(
                StatusCode::PAYLOAD_TOO_LARGE,
                &transport_error(dialect, &error),
            );
        }
    };
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => {
            let error = RpcError::new(PARSE_ERROR, dialect.parse_error_message(&e));
            return shared.json(
                dialect.parse_error_status(),
                &transport_error(dialect, &error),
            );
        }
    };
    match allowed(&parsed) {
        Ok(()) => {}
        Err(Refusal::NeedsCredentials) => return unauthorized(dialect),
        Err(Refusal::Error(e)) => {
            return shared.json(dialect.parse_error_status(), &transport_error(dialect, &e))
        }
    }
    let outcome = match shared.config.execution {
        Execution::Inline => respond(shared, &parsed),
        Execution::Blocking => {
            let task = shared.clone();
            tokio::task::spawn_blocking(move || respond(&task, &parsed))
                .await
                .unwrap_or_else(|_| {
                    let error = RpcError::new(INTERNAL_ERROR, "Internal error");
                    Outcome::Reply(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        transport_error(dialect, &error),
                    )
                })
        }
    };
    match outcome {
        Outcome::Reply(status, body) => shared.json(status, &body),
        Outcome::NoContent => http_response(StatusCode::NO_CONTENT, String::new(), None),
    }
}

/// The 401 asking for Basic credentials.
fn unauthorized(dialect: Dialect) -> Response<Full<Bytes>> {
    let mut response = match dialect.unauthorized_body() {
        Some((body, content_type)) => {
            http_response(StatusCode::UNAUTHORIZED, body, Some(content_type))
        }
        None => http_response(StatusCode::UNAUTHORIZED, String::new(), None),
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"jsonrpc\""),
    );
    response
}

/// Answers a single request or a batch (HTTP 200, notifications left out).
fn respond<D: Dispatch>(shared: &Shared<D>, parsed: &Value) -> Outcome {
    let dialect = shared.config.dialect;
    let call = |method: &str, params: Value| shared.dispatch.call(method, params);
    match parsed {
        Value::Array(batch) => Outcome::Reply(
            StatusCode::OK,
            Value::Array(
                batch
                    .iter()
                    .filter_map(|item| request::answer(dialect, item, call).response)
                    .collect(),
            ),
        ),
        single => {
            let Answer {
                response,
                legacy_error,
            } = request::answer(dialect, single, call);
            match response {
                Some(response) => Outcome::Reply(
                    legacy_error.map_or(StatusCode::OK, |code| dialect.legacy_error_status(code)),
                    response,
                ),
                None => Outcome::NoContent,
            }
        }
    }
}

/// An error found before any request object was read, in the dialect's envelope.
fn transport_error(dialect: Dialect, error: &RpcError) -> Value {
    envelope::failure(dialect.transport_error_version(), Value::Null, error)
}

impl<D: Dispatch> Shared<D> {
    /// A JSON reply rendered by the methods' encoding.
    fn json(&self, status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
        let mut text = self.dispatch.render(body);
        if self.config.dialect.newline_after_body() {
            text.push('\n');
        }
        http_response(status, text, Some(JSON))
    }
}

fn http_response(
    status: StatusCode,
    body: String,
    content_type: Option<&'static str>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Some(content_type) = content_type {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(content_type),
        );
    }
    response
}
