//! The accept loop: admission through the [`ConnectionGate`], HTTP/1.1 with a header read
//! timeout, request bodies under a deadline, and graceful shutdown.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use hyper::{body::Incoming, server::conn::http1, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tower::{Service, ServiceExt};

use crate::{
    body::{BoxError, DeadlineBody},
    gate::{ConnectionGate, ConnectionPermit},
};

/// Limits of one server's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once (WebSocket sessions included); more are closed at once.
    pub max_connections: usize,
    /// Connections open at once from one client address (IPv4 address or IPv6 /64).
    pub max_per_ip: usize,
    /// Time a client has to send a request's headers, counted from the connection's start or
    /// the end of its previous request: also the longest a connection may sit idle.
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's whole body, counted from the end of its headers.
    pub body_read_timeout: Duration,
}

impl ConnectionLimits {
    /// Default header read timeout.
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default body read timeout.
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

    /// `max_connections` in all, `max_per_ip` per client, the default timeouts.
    pub const fn new(max_connections: usize, max_per_ip: usize) -> Self {
        Self {
            max_connections,
            max_per_ip,
            header_read_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_read_timeout: Self::DEFAULT_BODY_TIMEOUT,
        }
    }
}

/// Serves HTTP/1.1 on `listener` under `limits` until `stop()` resolves, then lets the open
/// connections finish their request in flight. `make_service` gives the tower service of each
/// admitted connection (from its peer address); each request carries the connection's
/// `Arc<ConnectionPermit>` in its extensions.
pub async fn serve<M, S, B, F>(
    listener: TcpListener,
    limits: ConnectionLimits,
    mut make_service: M,
    stop: impl Fn() -> F + Clone + Send + 'static,
) where
    M: FnMut(SocketAddr) -> S,
    S: Service<Request<DeadlineBody<Incoming>>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    F: Future<Output = ()> + Send + 'static,
{
    let gate = ConnectionGate::new(limits.max_connections, limits.max_per_ip);
    let stopped = stop();
    tokio::pin!(stopped);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stopped => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let permit = match gate.admit(peer.ip()) {
            Ok(permit) => Arc::new(permit),
            Err(refused) => {
                tracing::debug!(%peer, %refused, "connection refused");
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = make_service(peer);
        tokio::spawn(serve_connection(
            stream,
            service,
            permit,
            limits,
            stop.clone()(),
        ));
    }
}

async fn serve_connection<S, B>(
    stream: tokio::net::TcpStream,
    service: S,
    permit: Arc<ConnectionPermit>,
    limits: ConnectionLimits,
    stopped: impl Future<Output = ()>,
) where
    S: Service<Request<DeadlineBody<Incoming>>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let body_timeout = limits.body_read_timeout;
    let connection_permit = permit.clone();
    let hyper_service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let mut request = request.map(|body| DeadlineBody::new(body, body_timeout));
        request.extensions_mut().insert(connection_permit.clone());
        service.clone().oneshot(request)
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), hyper_service)
        .with_upgrades();
    tokio::pin!(connection, stopped);
    tokio::select! {
        _ = connection.as_mut() => {}
        () = &mut stopped => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
    drop(permit);
}
