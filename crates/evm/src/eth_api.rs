//! The public `eth_*` JSON-RPC server (HTTP and WebSocket on one port).
//!
//! The methods live in [`crate::eth`]; this module keeps the entry points used by the node.

use std::net::SocketAddr;

use jsonrpsee::{server::ServerHandle, RpcModule};

use crate::{
    engine_api::SharedChain,
    eth::{server::RpcServerConfig, EthApi, EthConfig},
    node::ElError,
};

/// Builds the public RPC module with default limits.
pub fn eth_module(chain: SharedChain) -> RpcModule<SharedChain> {
    eth_module_with(chain, EthConfig::default())
}

/// Builds the public RPC module with `config`.
pub fn eth_module_with(chain: SharedChain, config: EthConfig) -> RpcModule<SharedChain> {
    let api = EthApi::new(chain.clone(), config);
    let mut module = RpcModule::new(chain);
    crate::eth::register(&mut module, &api);
    module
}

/// Serves the public RPC on `addr` with default limits (HTTP and WebSocket, CORS for any
/// origin).
pub async fn serve(
    chain: SharedChain,
    addr: SocketAddr,
) -> Result<(SocketAddr, ServerHandle), ElError> {
    serve_with(chain, RpcServerConfig::new(addr)).await
}

/// Serves the public RPC with `config`.
pub async fn serve_with(
    chain: SharedChain,
    config: RpcServerConfig,
) -> Result<(SocketAddr, ServerHandle), ElError> {
    crate::eth::server::start(chain, config).await
}
