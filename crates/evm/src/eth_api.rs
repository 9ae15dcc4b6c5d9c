//! The public `eth_*` JSON-RPC server (HTTP and WebSocket on one port).

use std::net::SocketAddr;

use jsonrpsee::{
    server::{Server, ServerConfig, ServerHandle},
    RpcModule,
};

use crate::{engine_api::SharedChain, node::ElError};

/// Builds the public RPC module.
pub fn eth_module(chain: SharedChain) -> RpcModule<SharedChain> {
    RpcModule::new(chain)
}

/// Serves the public RPC on `addr`.
pub async fn serve(
    chain: SharedChain,
    addr: SocketAddr,
) -> Result<(SocketAddr, ServerHandle), ElError> {
    let config = ServerConfig::builder()
        .max_request_body_size(16 << 20)
        .build();
    let server = Server::builder()
        .set_config(config)
        .build(addr)
        .await
        .map_err(|source| ElError::Bind { addr, source })?;
    let local = server
        .local_addr()
        .map_err(|source| ElError::Bind { addr, source })?;
    Ok((local, server.start(eth_module(chain))))
}
