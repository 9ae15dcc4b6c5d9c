//! [`Dialect`]: the HTTP behaviour around JSON-RPC that differs between Bitcoin Core and a
//! plain JSON-RPC server. Every choice that depends on it is a method here.

use std::time::Duration;

use hyper::StatusCode;
use serde_json::json;

use crate::{
    envelope::Version,
    error::{INVALID_REQUEST, METHOD_NOT_FOUND},
};

/// Content type of JSON bodies.
pub(crate) const JSON: &str = "application/json";
/// Content type of Core's text bodies.
const HTML: &str = "text/html";

/// How a server answers beyond the JSON-RPC envelopes, which are the same in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Bitcoin Core 28's HTTP server: a failed login waits 250 ms and gets 401 with no body;
    /// a non-POST request gets 405 with a text body; a JSON-RPC 1.0 error carries HTTP 400
    /// (invalid request), 404 (unknown method) or 500 (any other), and an unparsable body 500;
    /// a 2.0 request without `id` is a notification and gets no response (204 when alone);
    /// transport errors come in a 1.0 envelope; every JSON body ends with a newline.
    BitcoinCore,
    /// Every JSON-RPC outcome is HTTP 200 (a body over the cap 413, a failed login 401, a
    /// non-POST request 405, each with a JSON body); every request gets a response;
    /// transport errors come in a 2.0 envelope and a parse error names what failed.
    Plain,
}

impl Dialect {
    /// How long a failed login waits before its 401 (Core slows down brute force).
    pub(crate) fn auth_failure_delay(self) -> Duration {
        match self {
            Dialect::BitcoinCore => Duration::from_millis(250),
            Dialect::Plain => Duration::ZERO,
        }
    }

    /// Body of the 401 (with its content type); Core sends none.
    pub(crate) fn unauthorized_body(self) -> Option<(String, &'static str)> {
        match self {
            Dialect::BitcoinCore => None,
            Dialect::Plain => Some((json!({"error": "authorization required"}).to_string(), JSON)),
        }
    }

    /// Body of the 405 answering a request that is not a POST, with its content type.
    pub(crate) fn post_only_body(self) -> (String, &'static str) {
        match self {
            Dialect::BitcoinCore => ("JSONRPC server handles only POST requests".into(), HTML),
            Dialect::Plain => (json!({"error": "use POST"}).to_string(), JSON),
        }
    }

    /// Whether a 2.0 request without `id` is answered with nothing.
    pub(crate) fn has_notifications(self) -> bool {
        self == Dialect::BitcoinCore
    }

    /// The envelope of errors found before any request object is read (body size, JSON).
    pub(crate) fn transport_error_version(self) -> Version {
        match self {
            Dialect::BitcoinCore => Version::One,
            Dialect::Plain => Version::Two,
        }
    }

    /// HTTP status of a body that is not JSON.
    pub(crate) fn parse_error_status(self) -> StatusCode {
        match self {
            Dialect::BitcoinCore => StatusCode::INTERNAL_SERVER_ERROR,
            Dialect::Plain => StatusCode::OK,
        }
    }

    /// Message of a body that is not JSON.
    pub(crate) fn parse_error_message(self, error: &serde_json::Error) -> String {
        match self {
            Dialect::BitcoinCore => "Parse error".into(),
            Dialect::Plain => format!("Parse error: {error}"),
        }
    }

    /// Message of a body over `max` bytes.
    pub(crate) fn too_large_message(self, max: usize) -> String {
        match self {
            Dialect::BitcoinCore => "Request body too large".into(),
            Dialect::Plain => format!("request body larger than {max} bytes"),
        }
    }

    /// Message of a batch element or body that is not a JSON object.
    pub(crate) fn not_an_object_message(self) -> &'static str {
        match self {
            Dialect::BitcoinCore => "Invalid Request object",
            Dialect::Plain => "Invalid Request: no method",
        }
    }

    /// Message of a request object without `method`.
    pub(crate) fn missing_method_message(self) -> &'static str {
        match self {
            Dialect::BitcoinCore => "Missing method",
            Dialect::Plain => "Invalid Request: no method",
        }
    }

    /// Message of a request object whose `method` is not a string.
    pub(crate) fn method_not_string_message(self) -> &'static str {
        match self {
            Dialect::BitcoinCore => "Method must be a string",
            Dialect::Plain => "Invalid Request: no method",
        }
    }

    /// HTTP status of a single (not batched) request answered with a JSON-RPC 1.0 error
    /// `code`.
    pub(crate) fn legacy_error_status(self, code: i64) -> StatusCode {
        match (self, code) {
            (Dialect::Plain, _) => StatusCode::OK,
            (Dialect::BitcoinCore, INVALID_REQUEST) => StatusCode::BAD_REQUEST,
            (Dialect::BitcoinCore, METHOD_NOT_FOUND) => StatusCode::NOT_FOUND,
            (Dialect::BitcoinCore, _) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether JSON bodies end with a newline.
    pub(crate) fn newline_after_body(self) -> bool {
        self == Dialect::BitcoinCore
    }
}
