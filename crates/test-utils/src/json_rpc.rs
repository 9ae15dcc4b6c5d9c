//! A blocking JSON-RPC 2.0 client over HTTP with optional Basic auth, for tests that drive a
//! node process from outside (Bitcoin Core's 1.0 dialect answers errors with HTTP 500/404 and
//! a JSON body, which it reads too).

use std::time::Duration;

use serde_json::{json, Value};

/// A JSON-RPC endpoint.
#[derive(Debug, Clone)]
pub struct JsonRpc {
    url: String,
    auth: Option<(String, String)>,
    client: reqwest::blocking::Client,
}

impl JsonRpc {
    /// The endpoint at `url`, with `auth` as `(user, password)` when given.
    pub fn new(url: &str, auth: Option<(&str, &str)>) -> Self {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        Self {
            url: url.to_string(),
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
            client,
        }
    }

    /// The endpoint's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method`: its `result` (null included), or the error object or the transport
    /// failure as text.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        let mut request = self
            .client
            .post(&self.url)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request
            .send()
            .map_err(|e| format!("{method} at {}: {e}", self.url))?;
        let status = response.status();
        let text = response
            .text()
            .map_err(|e| format!("{method} at {}: {e}", self.url))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{method} at {}: HTTP {status}, {e}: {text}", self.url))?;
        match v.get("error") {
            Some(e) if !e.is_null() => Err(e.to_string()),
            _ => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
        }
    }
}
