//! [`EngineError`]: every way an Engine API call can fail, with one typed variant per
//! JSON-RPC error code defined in the Engine API spec (`common.md`, "Errors").

use std::time::Duration;

use jsonrpsee::core::client::Error as ClientError;
use jsonrpsee::http_client::transport::Error as TransportError;
use jsonrpsee::types::ErrorObjectOwned;

/// JSON-RPC error codes defined by the Engine API specification.
pub mod codes {
    /// Invalid JSON was received by the server.
    pub const PARSE_ERROR: i32 = -32700;
    /// The JSON sent is not a valid Request object.
    pub const INVALID_REQUEST: i32 = -32600;
    /// The method does not exist / is not available.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// Invalid method parameter(s).
    pub const INVALID_PARAMS: i32 = -32602;
    /// Internal JSON-RPC error.
    pub const INTERNAL_ERROR: i32 = -32603;
    /// Generic client error while processing request.
    pub const SERVER_ERROR: i32 = -32000;
    /// Payload does not exist / is not available.
    pub const UNKNOWN_PAYLOAD: i32 = -38001;
    /// Forkchoice state is invalid / inconsistent.
    pub const INVALID_FORKCHOICE_STATE: i32 = -38002;
    /// Payload attributes are invalid / inconsistent.
    pub const INVALID_PAYLOAD_ATTRIBUTES: i32 = -38003;
    /// Number of requested entities is too large.
    pub const TOO_LARGE_REQUEST: i32 = -38004;
    /// Payload belongs to a fork that is not supported.
    pub const UNSUPPORTED_FORK: i32 = -38005;
    /// Reorg depth exceeds limitation.
    pub const TOO_DEEP_REORG: i32 = -38006;
}

/// An error from an Engine API call.
///
/// JSON-RPC errors returned by the execution client are mapped to one variant per spec code
/// (each carrying the server's message); everything below JSON-RPC (connection, HTTP status,
/// timeout) and malformed replies have their own variants. Note that a `PayloadStatus` of
/// `INVALID`/`SYNCING`/`ACCEPTED` is *not* an error: it is a successful response.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// -32700: the server received invalid JSON.
    #[error("engine API parse error (-32700): {0}")]
    ParseError(String),
    /// -32600: the JSON sent is not a valid request object.
    #[error("engine API invalid request (-32600): {0}")]
    InvalidRequest(String),
    /// -32601: the method does not exist / is not available.
    #[error("engine API method not found (-32601): {0}")]
    MethodNotFound(String),
    /// -32602: invalid method parameter(s).
    #[error("engine API invalid params (-32602): {0}")]
    InvalidParams(String),
    /// -32603: internal JSON-RPC error.
    #[error("engine API internal error (-32603): {0}")]
    Internal(String),
    /// -32000: generic execution-client error; `err` is the `data.err` member if present.
    #[error("engine API server error (-32000): {message}{}", err.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    Server {
        /// The JSON-RPC error message.
        message: String,
        /// The `data.err` explanation (or the raw `data` if it is not of that shape).
        err: Option<String>,
    },
    /// -38001: payload does not exist / is not available.
    #[error("engine API unknown payload (-38001): {0}")]
    UnknownPayload(String),
    /// -38002: forkchoice state is invalid / inconsistent.
    #[error("engine API invalid forkchoice state (-38002): {0}")]
    InvalidForkchoiceState(String),
    /// -38003: payload attributes are invalid / inconsistent.
    #[error("engine API invalid payload attributes (-38003): {0}")]
    InvalidPayloadAttributes(String),
    /// -38004: number of requested entities is too large.
    #[error("engine API too large request (-38004): {0}")]
    TooLargeRequest(String),
    /// -38005: payload belongs to a fork that is not supported.
    #[error("engine API unsupported fork (-38005): {0}")]
    UnsupportedFork(String),
    /// -38006: reorg depth exceeds limitation.
    #[error("engine API too deep reorg (-38006): {0}")]
    TooDeepReorg(String),
    /// A JSON-RPC error with a code the spec does not define.
    #[error("engine API error ({code}): {message}")]
    OtherRpc {
        /// The JSON-RPC error code.
        code: i32,
        /// The JSON-RPC error message.
        message: String,
    },
    /// HTTP 401: the execution client rejected our JWT (wrong secret or clock skew > 60 s).
    #[error("engine API rejected the JWT (HTTP 401 Unauthorized): check that both sides use the same jwt secret and that clocks are in sync")]
    Unauthorized,
    /// A non-success HTTP status other than 401.
    #[error("engine API returned HTTP status {0}")]
    HttpStatus(u16),
    /// Connection-level failure (refused, reset, DNS, ...).
    #[error("engine API transport error: {0}")]
    Transport(String),
    /// No response within the configured request timeout.
    #[error("engine API request timed out after {0:?}")]
    Timeout(Duration),
    /// The JWT secret could not be read, parsed, written or used.
    #[error("JWT secret error: {0}")]
    Jwt(String),
    /// The response was not valid JSON-RPC or did not match the expected type.
    #[error("engine API invalid response: {0}")]
    InvalidResponse(String),
    /// The configured engine URL is unusable.
    #[error("invalid engine API url: {0}")]
    InvalidUrl(String),
}

impl EngineError {
    /// Whether the call may succeed if simply retried: transport failures, timeouts and
    /// HTTP 5xx. JSON-RPC errors, 401, bad responses and configuration errors are never retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) | Self::Timeout(_) => true,
            Self::HttpStatus(status) => *status >= 500,
            _ => false,
        }
    }

    /// The JSON-RPC error code, if this error came from a JSON-RPC error response.
    pub fn rpc_code(&self) -> Option<i32> {
        Some(match self {
            Self::ParseError(_) => codes::PARSE_ERROR,
            Self::InvalidRequest(_) => codes::INVALID_REQUEST,
            Self::MethodNotFound(_) => codes::METHOD_NOT_FOUND,
            Self::InvalidParams(_) => codes::INVALID_PARAMS,
            Self::Internal(_) => codes::INTERNAL_ERROR,
            Self::Server { .. } => codes::SERVER_ERROR,
            Self::UnknownPayload(_) => codes::UNKNOWN_PAYLOAD,
            Self::InvalidForkchoiceState(_) => codes::INVALID_FORKCHOICE_STATE,
            Self::InvalidPayloadAttributes(_) => codes::INVALID_PAYLOAD_ATTRIBUTES,
            Self::TooLargeRequest(_) => codes::TOO_LARGE_REQUEST,
            Self::UnsupportedFork(_) => codes::UNSUPPORTED_FORK,
            Self::TooDeepReorg(_) => codes::TOO_DEEP_REORG,
            Self::OtherRpc { code, .. } => *code,
            _ => return None,
        })
    }

    /// Maps a JSON-RPC error object to its typed variant.
    pub fn from_rpc_error(err: &ErrorObjectOwned) -> Self {
        let message = err.message().to_owned();
        match err.code() {
            codes::PARSE_ERROR => Self::ParseError(message),
            codes::INVALID_REQUEST => Self::InvalidRequest(message),
            codes::METHOD_NOT_FOUND => Self::MethodNotFound(message),
            codes::INVALID_PARAMS => Self::InvalidParams(message),
            codes::INTERNAL_ERROR => Self::Internal(message),
            codes::SERVER_ERROR => Self::Server {
                message,
                err: server_error_detail(err),
            },
            codes::UNKNOWN_PAYLOAD => Self::UnknownPayload(message),
            codes::INVALID_FORKCHOICE_STATE => Self::InvalidForkchoiceState(message),
            codes::INVALID_PAYLOAD_ATTRIBUTES => Self::InvalidPayloadAttributes(message),
            codes::TOO_LARGE_REQUEST => Self::TooLargeRequest(message),
            codes::UNSUPPORTED_FORK => Self::UnsupportedFork(message),
            codes::TOO_DEEP_REORG => Self::TooDeepReorg(message),
            code => Self::OtherRpc { code, message },
        }
    }

    /// Maps a jsonrpsee client error; `timeout` is the configured request timeout.
    pub(crate) fn from_client_error(err: ClientError, timeout: Duration) -> Self {
        match err {
            ClientError::Call(obj) => Self::from_rpc_error(&obj),
            ClientError::RequestTimeout => Self::Timeout(timeout),
            ClientError::ParseError(e) => Self::InvalidResponse(e.to_string()),
            ClientError::InvalidRequestId(e) => Self::InvalidResponse(e.to_string()),
            ClientError::Transport(e) => match e.downcast::<TransportError>() {
                Ok(t) => Self::from_transport_error(*t),
                Err(other) => Self::Transport(error_chain(other.as_ref())),
            },
            other => Self::Transport(error_chain(&other)),
        }
    }

    fn from_transport_error(err: TransportError) -> Self {
        match err {
            TransportError::Rejected { status_code: 401 } => Self::Unauthorized,
            TransportError::Rejected { status_code } => Self::HttpStatus(status_code),
            TransportError::Url(e) => Self::InvalidUrl(e),
            TransportError::RequestTooLarge => {
                Self::InvalidParams("request body exceeds the client's size limit".into())
            }
            TransportError::Http(jsonrpsee::core::http_helpers::HttpError::Malformed) => {
                Self::InvalidResponse("response body is not a JSON object or array".into())
            }
            TransportError::Http(jsonrpsee::core::http_helpers::HttpError::TooLarge) => {
                Self::InvalidResponse("response body exceeds the client's size limit".into())
            }
            TransportError::Http(jsonrpsee::core::http_helpers::HttpError::Stream(e))
                if e.is::<crate::jwt::TokenError>() =>
            {
                Self::Jwt(e.to_string())
            }
            other => Self::Transport(error_chain(&other)),
        }
    }
}

/// Extracts `data.err` from a -32000 error (falling back to the raw `data` JSON).
fn server_error_detail(err: &ErrorObjectOwned) -> Option<String> {
    let raw = err.data()?.get();
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Null) => None,
        Ok(serde_json::Value::Object(map)) => match map.get("err") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            _ => Some(raw.to_owned()),
        },
        _ => Some(raw.to_owned()),
    }
}

/// Renders an error with all its sources, e.g. "client error (Connect): Connection refused".
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_str = s.to_string();
        if !out.contains(&s_str) {
            out.push_str(": ");
            out.push_str(&s_str);
        }
        source = s.source();
    }
    out
}
