//! The node's method table and its server: the table answers over the shared JSON-RPC HTTP
//! transport (`alys-json-rpc-http`) in its plain dialect (every JSON-RPC outcome HTTP 200),
//! with calls run inline (no method blocks).

use std::{collections::BTreeMap, net::SocketAddr};

use alys_json_rpc_http::{
    ConnectionLimits, Credentials, Dialect, Dispatch, Execution, PublicAccess, RpcError,
    ServerConfig,
};
use serde_json::Value;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Default connection limits: 256 connections, 32 per client address, headers within 10 s,
/// bodies within 30 s.
pub const DEFAULT_LIMITS: ConnectionLimits = ConnectionLimits::new(256, 32);

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

impl Dispatch for Methods {
    /// Named params are taken in the order they were sent. Every call is counted in
    /// `alys_node_rpc_requests_total` by method (`other` for a name not in the table) and
    /// status.
    fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let result = match params {
            Value::Null => Methods::call(self, method, Vec::new()),
            Value::Array(p) => Methods::call(self, method, p),
            Value::Object(o) => {
                Methods::call(self, method, o.into_iter().map(|(_, v)| v).collect())
            }
            _ => Err(RpcError::invalid_params(
                "params must be an array or an object",
            )),
        };
        let label =
            alys_metrics::known_or_other(method, |m| m == "help" || self.handlers.contains_key(m));
        let status = if result.is_ok() { "ok" } else { "error" };
        alys_metrics::counter!(
            alys_metrics::catalog::NODE_RPC_REQUESTS,
            "method" => label.to_string(),
            "status" => status
        )
        .increment(1);
        result
    }
}

/// A running server.
pub struct RpcServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RpcServer {
    /// Binds `addr` and serves `methods`, every one behind `credentials`.
    pub async fn start(
        addr: SocketAddr,
        methods: Methods,
        credentials: Credentials,
    ) -> std::io::Result<Self> {
        Self::start_with_public(addr, methods, credentials, None, DEFAULT_LIMITS).await
    }

    /// Binds `addr` and serves `methods` behind `credentials`, except those `public` serves
    /// without them (see [`crate::peg_read_access`]), under the connection `limits`.
    pub async fn start_with_public(
        addr: SocketAddr,
        methods: Methods,
        credentials: Credentials,
        public: Option<PublicAccess>,
        limits: ConnectionLimits,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let config = ServerConfig {
            credentials,
            max_body_bytes: MAX_BODY_BYTES,
            dialect: Dialect::Plain,
            execution: Execution::Inline,
            public,
            limits,
        };
        let task = tokio::spawn(alys_json_rpc_http::serve(
            listener,
            methods,
            config,
            std::future::pending(),
        ));
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
