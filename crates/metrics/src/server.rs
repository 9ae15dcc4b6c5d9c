//! The scrape endpoint: `GET /metrics` answers the Prometheus text of a [`MetricsHandle`].
//! The port faces operators' networks, so the server is bounded: at most
//! [`ServerLimits::max_connections`] connections at once (more are closed at once), a time
//! limit to send the request headers, and a lifetime after which a connection is closed.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use http_body_util::Full;
use hyper::{
    body::{Bytes, Incoming},
    header::{self, HeaderValue},
    Method, Request, Response, StatusCode,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore};

use crate::MetricsHandle;

/// The Prometheus text exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The bounds of the scrape server.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// A connection is closed this long after it opened (after its request in flight).
    pub connection_lifetime: Duration,
}

impl Default for ServerLimits {
    /// 32 connections (a few Prometheus servers and operators' `curl`), 5 s for the headers,
    /// 60 s per connection.
    fn default() -> Self {
        Self {
            max_connections: 32,
            header_timeout: Duration::from_secs(5),
            connection_lifetime: Duration::from_secs(60),
        }
    }
}

/// The running scrape server.
pub struct MetricsServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `addr` (port 0: any free port) and serves `handle` with the default limits.
    pub async fn start(addr: SocketAddr, handle: MetricsHandle) -> std::io::Result<Self> {
        Self::start_with_limits(addr, handle, ServerLimits::default()).await
    }

    /// [`MetricsServer::start`] with `limits`.
    pub async fn start_with_limits(
        addr: SocketAddr,
        handle: MetricsHandle,
        limits: ServerLimits,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let permits = Arc::new(Semaphore::new(limits.max_connections));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    tracing::debug!("metrics: connection limit reached, closing a connection");
                    drop(stream);
                    continue;
                };
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let service = hyper::service::service_fn(move |request| {
                        let handle = handle.clone();
                        async move { Ok::<_, Infallible>(respond(&request, &handle)) }
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(limits.header_timeout)
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        () = tokio::time::sleep(limits.connection_lifetime) => {
                            connection.as_mut().graceful_shutdown();
                            let _ = connection.await;
                        }
                    }
                });
            }
        });
        Ok(Self { addr, task })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The scrape URL (`http://<addr>/metrics`).
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Stops accepting connections.
    pub fn stop(self) {
        self.task.abort();
    }
}

fn respond(request: &Request<Incoming>, handle: &MetricsHandle) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only\n".into());
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match request.uri().path() {
        "/metrics" => {
            let mut response = text(StatusCode::OK, handle.render());
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            response
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: the metrics are at /metrics\n".into(),
        ),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    fn handle() -> MetricsHandle {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let inner = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::gauge!(crate::catalog::HEAD_HEIGHT).set(7.0);
        });
        MetricsHandle { inner }
    }

    async fn request(addr: SocketAddr, head: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("{head}\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_the_text_at_metrics_only() {
        let server = MetricsServer::start(([127, 0, 0, 1], 0).into(), handle())
            .await
            .unwrap();
        let ok = request(server.local_addr(), "GET /metrics HTTP/1.1").await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.contains("version=0.0.4"), "{ok}");
        assert!(ok.contains("alys_head_height 7"), "{ok}");
        let missing = request(server.local_addr(), "GET /other HTTP/1.1").await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        let post = request(server.local_addr(), "POST /metrics HTTP/1.1").await;
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
        server.stop();
    }

    /// Idle connections beyond the cap are closed at once, the held ones after the header
    /// timeout, and scrapes work again right after.
    #[tokio::test]
    async fn a_flood_of_idle_connections_is_capped_and_timed_out() {
        let limits = ServerLimits {
            max_connections: 4,
            header_timeout: Duration::from_millis(300),
            connection_lifetime: Duration::from_secs(60),
        };
        let server = MetricsServer::start_with_limits(([127, 0, 0, 1], 0).into(), handle(), limits)
            .await
            .unwrap();
        let addr = server.local_addr();
        let mut held = Vec::new();
        for _ in 0..limits.max_connections {
            held.push(TcpStream::connect(addr).await.unwrap());
        }
        // Let the server take them before the next ones arrive.
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..20 {
            let mut extra = TcpStream::connect(addr).await.unwrap();
            let mut buf = [0u8; 1];
            let read = tokio::time::timeout(Duration::from_secs(2), extra.read(&mut buf))
                .await
                .expect("a connection over the cap is closed at once");
            assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        }
        for mut s in held {
            let mut buf = [0u8; 256];
            let read = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
                .await
                .expect("an idle connection is closed after the header timeout");
            // hyper may answer 408 before closing; either way the connection ends.
            if let Ok(n) = read {
                assert!(n == 0 || buf.starts_with(b"HTTP/1.1 408"), "{n}");
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let ok = request(addr, "GET /metrics HTTP/1.1").await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        server.stop();
    }
}
