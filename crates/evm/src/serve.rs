//! Serving a jsonrpsee module (the eth JSON-RPC, the Engine API) through the connection limits
//! of `alys-http-guard`: jsonrpsee's own accept loop caps only requests in flight and has no
//! header or body read timeout, so a client holding half-open connections could exhaust the
//! process; here every connection needs a permit (total and per client address), headers and
//! bodies must arrive in time, and a WebSocket session keeps its connection's permit.

use std::net::SocketAddr;

use alys_http_guard::{ConnectionLimits, DeadlineBody};
use hyper::body::{Body, Incoming};
use jsonrpsee::{
    core::BoxError,
    server::{stop_channel, HttpRequest, ServerHandle, StopHandle},
};
use tokio::net::TcpListener;

/// Binds `addr` and serves, under `limits`, the service `make` builds for each connection
/// (jsonrpsee's `TowerServiceBuilder::build` with the module and the given stop handle); the
/// bound address and the handle that stops the server.
pub(crate) async fn serve_module<S, B>(
    addr: SocketAddr,
    limits: ConnectionLimits,
    make: impl Fn(StopHandle) -> S + Send + 'static,
) -> std::io::Result<(SocketAddr, ServerHandle)>
where
    S: tower::Service<
            HttpRequest<DeadlineBody<Incoming>>,
            Response = http::Response<B>,
            Error = BoxError,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (stop_handle, server_handle) = stop_channel();
    let stop = {
        let stop_handle = stop_handle.clone();
        move || stop_handle.clone().shutdown()
    };
    let make_service = move |_peer: SocketAddr| make(stop_handle.clone());
    tokio::spawn(alys_http_guard::serve(listener, limits, make_service, stop));
    Ok((local, server_handle))
}
