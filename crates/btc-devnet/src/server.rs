//! HTTP transport as Bitcoin Core's: POST only, HTTP Basic authentication (401 without a
//! body otherwise), JSON-RPC 1.0 ("legacy": errors carry HTTP 404/400/500) and 2.0 (HTTP 200;
//! notifications get 204), batches, and BTC amounts written with 8 decimals.

use std::{convert::Infallible, sync::Arc};

use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    body::{Bytes, Incoming},
    header, Method, Request, Response, StatusCode,
};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::{
    node::Node,
    rpc::{self, After, RpcError, AMOUNT_MARK},
};

/// Largest request body accepted (Core's limit is 32 MB; a devnet never needs more than this).
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// Shared state of the server.
pub(crate) struct Shared {
    pub node: Arc<Mutex<Node>>,
    pub user: String,
    pub password: String,
    pub stop: watch::Sender<bool>,
}

fn authorized(shared: &Shared, value: Option<&header::HeaderValue>) -> bool {
    let Some(value) = value.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("{}:{}", shared.user, shared.password);
    decoded.len() == expected.len()
        && decoded
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Writes `v` as JSON, turning amount-marked strings into numbers with 8 decimals.
pub fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            if let Some(n) = s
                .strip_prefix(AMOUNT_MARK)
                .and_then(|r| r.parse::<i64>().ok())
            {
                out.push_str(&rpc::format_btc(n));
            } else {
                out.push_str(&Value::String(s.clone()).to_string());
            }
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_json(x, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Replaces amount-marked strings by JSON numbers (for in-process callers).
pub fn amounts_to_numbers(v: Value) -> Value {
    match v {
        Value::String(s) => match s
            .strip_prefix(AMOUNT_MARK)
            .and_then(|r| r.parse::<i64>().ok())
        {
            Some(n) => json!(n as f64 / 1e8),
            None => Value::String(s),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(amounts_to_numbers).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, amounts_to_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn render(v: &Value) -> String {
    let mut s = String::new();
    write_json(v, &mut s);
    s.push('\n');
    s
}

fn legacy_status(code: i64) -> StatusCode {
    match code {
        -32600 => StatusCode::BAD_REQUEST,
        -32601 => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// One JSON-RPC request object → (response or None for a 2.0 notification, legacy error code).
fn call_one(shared: &Shared, request: &Value) -> (Option<Value>, Option<i64>) {
    let Value::Object(obj) = request else {
        let e = json!({"code": -32600, "message": "Invalid Request object"});
        return (
            Some(json!({"result": null, "error": e, "id": null})),
            Some(-32600),
        );
    };
    let v2 = obj.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let is_notification = v2 && !obj.contains_key("id");
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    let result = (|| -> Result<Value, RpcError> {
        let method = match obj.get("method") {
            Some(Value::String(m)) => m.clone(),
            None => return Err(RpcError::new(-32600, "Missing method")),
            Some(_) => return Err(RpcError::new(-32600, "Method must be a string")),
        };
        let params = rpc::positional(&method, obj.get("params").cloned().unwrap_or(Value::Null))?;
        let (value, after) = {
            let mut node = shared.node.lock();
            rpc::call(&mut node, &method, &params)?
        };
        if after == After::Stop {
            let _ = shared.stop.send(true);
        }
        Ok(value)
    })();
    if is_notification {
        return (None, None);
    }
    match result {
        Ok(r) if v2 => (Some(json!({"jsonrpc": "2.0", "result": r, "id": id})), None),
        Ok(r) => (Some(json!({"result": r, "error": null, "id": id})), None),
        Err(e) => {
            let err = json!({"code": e.code, "message": e.message});
            if v2 {
                (
                    Some(json!({"jsonrpc": "2.0", "error": err, "id": id})),
                    None,
                )
            } else {
                (
                    Some(json!({"result": null, "error": err, "id": id})),
                    Some(e.code),
                )
            }
        }
    }
}

pub(crate) async fn handle(req: Request<Incoming>, shared: Arc<Shared>) -> Response<Full<Bytes>> {
    if !authorized(&shared, req.headers().get(header::AUTHORIZATION)) {
        // Core delays failed logins to slow down brute force.
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"jsonrpc\""),
        );
        return r;
    }
    if req.method() != Method::POST {
        let mut r = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "JSONRPC server handles only POST requests".into(),
        );
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/html"),
        );
        return r;
    }
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                render(
                    &json!({"result": null, "error": {"code": -32600, "message": "Request body too large"}, "id": null}),
                ),
            )
        }
    };
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                render(
                    &json!({"result": null, "error": {"code": -32700, "message": "Parse error"}, "id": null}),
                ),
            )
        }
    };
    let shared2 = shared.clone();
    let outcome = tokio::task::spawn_blocking(move || match request {
        Value::Array(batch) => {
            let out: Vec<Value> = batch
                .iter()
                .filter_map(|r| call_one(&shared2, r).0)
                .collect();
            (StatusCode::OK, Some(Value::Array(out)))
        }
        single => {
            let (resp, legacy_err) = call_one(&shared2, &single);
            let status = legacy_err.map_or(StatusCode::OK, legacy_status);
            match resp {
                Some(r) => (status, Some(r)),
                None => (StatusCode::NO_CONTENT, None),
            }
        }
    })
    .await;
    match outcome {
        Ok((status, Some(v))) => reply(status, render(&v)),
        Ok((status, None)) => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = status;
            r
        }
        Err(_) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            render(
                &json!({"result": null, "error": {"code": -32603, "message": "Internal error"}, "id": null}),
            ),
        ),
    }
}

/// The future a request handler returns.
pub(crate) type HandlerFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>,
>;

pub(crate) fn service(shared: Arc<Shared>) -> impl Fn(Request<Incoming>) -> HandlerFuture + Clone {
    move |req| {
        let shared = shared.clone();
        Box::pin(async move { Ok(handle(req, shared).await) })
    }
}
