//! The public JSON-RPC server: HTTP and WebSocket on one port, CORS, request/response size and
//! batch limits, connection caps and read timeouts, Geth-style (`0x…`) subscription ids.

use std::{net::SocketAddr, sync::Arc};

use alys_http_guard::ConnectionLimits;
use http::{HeaderValue, Method};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::{
    server::{BatchRequestConfig, Server, ServerConfig, ServerHandle},
    Methods,
};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use super::{
    ids::HexIdProvider,
    module,
    rpc_metrics::{RpcCounters, RpcMetrics},
    EthConfig,
};
use crate::{chain::SharedChain, serve::serve_module};

/// Which browser origins may call the RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// Any origin (`*`), like `--http.corsdomain '*'`.
    Any,
    /// Only these origins.
    Origins(Vec<String>),
    /// No CORS headers (browsers refuse cross-origin calls).
    Disabled,
}

/// Default connection limits: 1000 connections, 100 per client address, headers within 10 s,
/// bodies within 30 s.
pub const DEFAULT_LIMITS: ConnectionLimits = ConnectionLimits::new(1000, 100);

/// Configuration of the public RPC server.
#[derive(Debug, Clone)]
pub struct RpcServerConfig {
    /// Listen address (port 0 picks a free port).
    pub addr: SocketAddr,
    /// Allowed browser origins.
    pub cors: Cors,
    /// Largest request body, in bytes.
    pub max_request_body_size: u32,
    /// Largest response body, in bytes.
    pub max_response_body_size: u32,
    /// Most calls in one batch.
    pub max_batch_len: u32,
    /// Connection caps (total, per client address; WebSocket sessions included) and read
    /// timeouts.
    pub limits: ConnectionLimits,
    /// Most subscriptions per WebSocket connection.
    pub max_subscriptions_per_connection: u32,
    /// Limits of the `eth` API itself.
    pub eth: EthConfig,
}

impl RpcServerConfig {
    /// Defaults on `addr`: CORS for any origin, 5 MiB requests (Geth), 160 MiB responses,
    /// batches of at most 1000 calls (Geth's `BatchRequestLimit`), [`DEFAULT_LIMITS`].
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            cors: Cors::Any,
            max_request_body_size: 5 * 1024 * 1024,
            max_response_body_size: 160 * 1024 * 1024,
            max_batch_len: 1000,
            limits: DEFAULT_LIMITS,
            max_subscriptions_per_connection: 1024,
            eth: EthConfig::default(),
        }
    }
}

fn cors_layer(cors: &Cors) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
        .allow_headers(Any);
    match cors {
        Cors::Any => base.allow_origin(Any),
        Cors::Origins(list) => base.allow_origin(AllowOrigin::list(
            list.iter().filter_map(|o| HeaderValue::from_str(o).ok()),
        )),
        Cors::Disabled => CorsLayer::new(),
    }
}

/// Starts the server with `chain`'s `eth` module; returns the bound address and the handle.
pub async fn start(
    chain: SharedChain,
    config: RpcServerConfig,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.max_request_body_size)
        .max_response_body_size(config.max_response_body_size)
        .max_connections(u32::try_from(config.limits.max_connections).unwrap_or(u32::MAX))
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_len))
        .set_id_provider(HexIdProvider)
        .build();
    let module = module(chain, config.eth);
    let counters = Arc::new(RpcCounters::new(module.method_names()));
    let builder = Server::builder()
        .set_config(server_config)
        .set_http_middleware(tower::ServiceBuilder::new().layer(cors_layer(&config.cors)))
        .set_rpc_middleware(
            RpcServiceBuilder::new().layer_fn(move |s| RpcMetrics::new(s, counters.clone())),
        )
        .to_service_builder();
    let methods: Methods = module.into();
    let (local, handle) = serve_module(config.addr, config.limits, move |stop| {
        builder.clone().build(methods.clone(), stop)
    })
    .await?;
    tracing::info!(%local, "eth JSON-RPC listening (HTTP and WebSocket)");
    Ok((local, handle))
}
