//! The HTTP server of the page: GET and HEAD of the embedded files and `/config.json`, with
//! security headers; at most [`MAX_CONNECTIONS`] connections at once (more are closed at
//! once), each closed after [`CONNECTION_LIFETIME`] and a header read timeout.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use http_body_util::Full;
use hyper::{
    body::{Bytes, Incoming},
    header::{self, HeaderValue},
    Method, Request, Response, StatusCode,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore};

use crate::{assets, config, UiConfig};

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// A connection is closed (gracefully, after its request in flight) this long after it opened.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// Time a client has to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The page's listening socket, bound but not serving yet (its address decides the origins
/// the node RPC allows before the node starts).
pub struct BoundUi {
    listener: TcpListener,
    addr: SocketAddr,
}

impl BoundUi {
    /// Binds `addr` (port 0: any free port).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(Self { listener, addr })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The browser origins of the page (for the node RPC's CORS).
    pub fn origins(&self) -> Vec<String> {
        config::origins_for(self.addr)
    }

    /// Serves the page with `config` until [`UiServer::stop`].
    pub fn serve(self, config: UiConfig) -> UiServer {
        self.serve_with_limit(config, MAX_CONNECTIONS)
    }

    /// [`BoundUi::serve`] with at most `max_connections` connections at once.
    pub fn serve_with_limit(self, config: UiConfig, max_connections: usize) -> UiServer {
        let addr = self.addr;
        let shared = Arc::new(config);
        let permits = Arc::new(Semaphore::new(max_connections));
        let listener = self.listener;
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    tracing::debug!("peg web page: connection limit reached, closing a connection");
                    drop(stream);
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let service = hyper::service::service_fn(move |request| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(respond(&request, &shared, addr)) }
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        () = tokio::time::sleep(CONNECTION_LIFETIME) => {
                            connection.as_mut().graceful_shutdown();
                            let _ = connection.await;
                        }
                    }
                });
            }
        });
        UiServer { addr, task }
    }
}

/// The running page server.
pub struct UiServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl UiServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL (`http://127.0.0.1:<port>` when bound to an unspecified address).
    pub fn url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        } else {
            self.addr.ip()
        };
        format!("http://{}/", SocketAddr::new(ip, self.addr.port()))
    }

    /// Stops accepting connections.
    pub fn stop(self) {
        self.task.abort();
    }
}

fn respond(
    request: &Request<Incoming>,
    config: &UiConfig,
    addr: SocketAddr,
) -> Response<Full<Bytes>> {
    let head = request.method() == Method::HEAD;
    if request.method() != Method::GET && !head {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let host = config::request_host(request.headers().get(header::HOST), addr.ip());
    let path = request.uri().path();
    let mut response = if path == "/config.json" {
        let mut r = with_body(config.json(&host).into_bytes(), "application/json");
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    } else if let Some(asset) = assets::asset(path) {
        let mut r = with_body(asset.body.to_vec(), asset.content_type);
        let headers = r.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if asset.document {
            if let Ok(csp) = HeaderValue::from_str(&config.content_security_policy(&host)) {
                headers.insert(header::CONTENT_SECURITY_POLICY, csp);
            }
        }
        r
    } else {
        plain(StatusCode::NOT_FOUND, "not found\n")
    };
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // hyper leaves the body out of a HEAD response and keeps its length.
    response
}

fn with_body(body: Vec<u8>, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = with_body(text.as_bytes().to_vec(), "text/plain; charset=utf-8");
    *response.status_mut() = status;
    response
}
