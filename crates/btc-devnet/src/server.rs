//! The devnet's RPC over the shared JSON-RPC HTTP transport (`alys-json-rpc-http`) in Bitcoin
//! Core's dialect (POST only, HTTP Basic authentication with a 401 without a body, JSON-RPC 1.0
//! errors carrying HTTP 404/400/500, 2.0 notifications answered with 204, batches), calls run
//! on the blocking pool under the node's lock, and BTC amounts written with 8 decimals.

use std::sync::Arc;

use alys_json_rpc_http::{
    ConnectionLimits, Credentials, Dialect, Dispatch, Execution, ServerConfig,
};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::{
    node::Node,
    rpc::{self, After, RpcError, AMOUNT_MARK},
};

/// Largest request body accepted (Core's limit is 32 MB; a devnet never needs more than this).
pub(crate) const MAX_BODY_BYTES: usize = 16 << 20;

/// The methods of [`rpc`] over a shared node; `stop` signals the server to stop.
pub(crate) struct DevnetRpc {
    pub node: Arc<Mutex<Node>>,
    pub stop: watch::Sender<bool>,
}

impl Dispatch for DevnetRpc {
    fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        call(&self.node, &self.stop, method, params)
    }

    fn render(&self, body: &Value) -> String {
        let mut out = String::new();
        write_json(body, &mut out);
        out
    }
}

/// Calls `method` with `params` (positional or named) on `node`, signalling `stop` when asked
/// to; amounts in the result stay marked (see [`AMOUNT_MARK`]).
pub(crate) fn call(
    node: &Mutex<Node>,
    stop: &watch::Sender<bool>,
    method: &str,
    params: Value,
) -> Result<Value, RpcError> {
    let params = rpc::positional(method, params)?;
    let (value, after) = rpc::call(&mut node.lock(), method, &params)?;
    if after == After::Stop {
        let _ = stop.send(true);
    }
    Ok(value)
}

/// How the devnet serves: Core's dialect with `credentials`.
pub(crate) fn config(credentials: Credentials) -> ServerConfig {
    ServerConfig {
        credentials,
        max_body_bytes: MAX_BODY_BYTES,
        dialect: Dialect::BitcoinCore,
        execution: Execution::Blocking,
        public: None,
        limits: ConnectionLimits::new(256, 256),
    }
}

/// Writes `v` as JSON, turning amount-marked strings into numbers with 8 decimals.
pub(crate) fn write_json(v: &Value, out: &mut String) {
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
pub(crate) fn amounts_to_numbers(v: Value) -> Value {
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
