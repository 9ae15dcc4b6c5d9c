//! The response envelopes of JSON-RPC 1.0 and 2.0.

use serde_json::{json, Value};

use crate::error::RpcError;

/// The envelope a request was sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// JSON-RPC 1.0 (Bitcoin Core's "legacy"): `result` and `error` are both present.
    One,
    /// JSON-RPC 2.0: `"jsonrpc": "2.0"` and one of `result` or `error`.
    Two,
}

/// A successful response in `version`'s envelope.
pub(crate) fn success(version: Version, id: Value, result: Value) -> Value {
    match version {
        Version::One => json!({"result": result, "error": null, "id": id}),
        Version::Two => json!({"jsonrpc": "2.0", "result": result, "id": id}),
    }
}

/// An error response in `version`'s envelope.
pub(crate) fn failure(version: Version, id: Value, error: &RpcError) -> Value {
    match version {
        Version::One => json!({"result": null, "error": error.to_json(), "id": id}),
        Version::Two => json!({"jsonrpc": "2.0", "error": error.to_json(), "id": id}),
    }
}
