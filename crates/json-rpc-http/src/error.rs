//! [`RpcError`], the error member of a JSON-RPC response, and the standard JSON-RPC codes.

/// -32700: the body is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// -32600: not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// -32601: unknown method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// -32602: invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// -32603: internal error.
pub const INTERNAL_ERROR: i64 = -32603;

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
    /// An error with `code`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// -32601: unknown method.
    pub fn method_not_found() -> Self {
        Self::new(METHOD_NOT_FOUND, "Method not found")
    }

    /// -32602 (Bitcoin Core uses -8 for bad parameter values; this is the JSON-RPC code).
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    /// -32603: internal error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(INTERNAL_ERROR, message)
    }

    /// -5 (Bitcoin Core's "invalid address or key", its code for "not found").
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(-5, message)
    }

    /// The error member of a response: `{"code": …, "message": …}`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"code": self.code, "message": self.message})
    }
}
