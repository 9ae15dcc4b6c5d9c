//! Starting the embedded execution client: open the store and the chain, serve the Engine API
//! (JWT) and the public `eth_*` JSON-RPC. Used by `alys el` (own process) and in-process by
//! `alys dev`; both run exactly this code.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Weak},
    time::{Duration, Instant},
};

use alloy::rpc::types::engine::JwtSecret;
use alloy_genesis::Genesis;
use alys_http_guard::ConnectionLimits;
use alys_store::Store;
use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use parking_lot::Mutex;

use crate::{
    auth::jwt_auth_layer,
    chain::{Chain, ChainError, SharedChain},
    engine_api::engine_module,
    eth::server::{self, RpcServerConfig},
    serve::serve_module,
    txpool::PoolConfig,
};

/// Connection limits of the Engine API: its one client is the consensus node (a few
/// connections), so 64 in all and 32 per address; headers within 10 s; a payload of up to
/// 64 MiB within 60 s.
pub const ENGINE_LIMITS: ConnectionLimits = ConnectionLimits {
    max_connections: 64,
    max_per_ip: 32,
    header_read_timeout: ConnectionLimits::DEFAULT_HEADER_TIMEOUT,
    body_read_timeout: std::time::Duration::from_secs(60),
};

/// Configuration of an embedded execution client.
#[derive(Debug, Clone)]
pub struct ElConfig {
    /// Data directory (the LevelDB store lives in `<datadir>/el`).
    pub datadir: PathBuf,
    /// Genesis (geth genesis JSON).
    pub genesis: Genesis,
    /// Address of the Engine API (port 0 picks a free port).
    pub authrpc_addr: SocketAddr,
    /// The public JSON-RPC server (address, CORS, limits), if served.
    pub http: Option<RpcServerConfig>,
    /// Shared secret of the Engine API.
    pub jwt_secret: JwtSecret,
    /// Limits of the transaction pool.
    pub pool: PoolConfig,
}

/// Errors starting the execution client.
#[derive(Debug, thiserror::Error)]
pub enum ElError {
    /// The store could not be opened.
    #[error("opening the execution store: {0}")]
    Store(#[from] alys_store::StoreError),
    /// The chain could not be opened.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A server could not bind.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A running embedded execution client.
#[derive(Debug)]
pub struct EmbeddedEl {
    chain: SharedChain,
    store: Weak<Store>,
    engine_addr: SocketAddr,
    engine_handle: ServerHandle,
    http: Option<(SocketAddr, ServerHandle)>,
}

impl EmbeddedEl {
    /// Opens the chain and starts the servers.
    pub async fn start(config: ElConfig) -> Result<Self, ElError> {
        let store = Arc::new(Store::open(&config.datadir.join("el"))?);
        let store_ref = Arc::downgrade(&store);
        let chain = Chain::open(store, &config.genesis)?;
        chain.pool().lock().set_config(config.pool);
        let chain: SharedChain = Arc::new(Mutex::new(chain));
        let server_config = ServerConfig::builder()
            .max_request_body_size(64 << 20)
            .max_response_body_size(256 << 20)
            .max_connections(ENGINE_LIMITS.max_connections as u32)
            .http_only()
            .build();
        let builder = Server::builder()
            .set_config(server_config)
            .set_http_middleware(
                tower::ServiceBuilder::new().layer(jwt_auth_layer(config.jwt_secret)),
            )
            .to_service_builder();
        let methods: jsonrpsee::Methods = engine_module(chain.clone()).into();
        let (engine_addr, engine_handle) =
            serve_module(config.authrpc_addr, ENGINE_LIMITS, move |stop| {
                builder.clone().build(methods.clone(), stop)
            })
            .await
            .map_err(|source| ElError::Bind {
                addr: config.authrpc_addr,
                source,
            })?;
        let http = match config.http {
            Some(rpc) => {
                let addr = rpc.addr;
                Some(
                    server::start(chain.clone(), rpc)
                        .await
                        .map_err(|source| ElError::Bind { addr, source })?,
                )
            }
            None => None,
        };
        tracing::info!(%engine_addr, "execution client Engine API listening");
        Ok(Self {
            chain,
            store: store_ref,
            engine_addr,
            engine_handle,
            http,
        })
    }

    /// The Engine API URL (`http://ip:port`).
    pub fn engine_url(&self) -> String {
        format!("http://{}", self.engine_addr)
    }

    /// The public JSON-RPC URL, if served.
    pub fn http_url(&self) -> Option<String> {
        self.http.as_ref().map(|(a, _)| format!("http://{a}"))
    }

    /// The chain (for in-process inspection).
    pub fn chain(&self) -> &SharedChain {
        &self.chain
    }

    /// Stops the servers and returns once the store is closed, so the datadir can be opened
    /// again at once.
    ///
    /// The servers stop after their in-flight calls; the last handles on the store (a method's
    /// context, a blocking read, the chain-event task) are dropped by whichever task finishes
    /// last, possibly just after the server reports it stopped, so the store's own handle
    /// count is what tells that it closed.
    pub async fn stop(self) {
        let Self {
            chain,
            store,
            engine_handle,
            http,
            ..
        } = self;
        let _ = engine_handle.stop();
        if let Some((_, h)) = &http {
            let _ = h.stop();
        }
        engine_handle.stopped().await;
        if let Some((_, h)) = http {
            h.stopped().await;
        }
        drop(chain);
        store_closed(store).await;
    }
}

/// How long the store may stay open after the servers stopped before a warning says so.
const STORE_CLOSE_WARNING: Duration = Duration::from_secs(5);

/// Resolves once no handle on `store` is left (LevelDB closed and its lock released).
async fn store_closed(store: Weak<Store>) {
    let started = Instant::now();
    let mut warned = false;
    while store.strong_count() > 0 {
        if !warned && started.elapsed() > STORE_CLOSE_WARNING {
            tracing::warn!(
                handles = store.strong_count(),
                "execution store still open after the servers stopped"
            );
            warned = true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[cfg(test)]
mod tests;
