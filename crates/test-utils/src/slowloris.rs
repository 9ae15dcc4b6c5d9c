//! Slow HTTP clients, as an attacker runs them against a public port: connections that send
//! their headers, or their body, a byte at a time and never finish. Each reports when the
//! server closed it.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    task::JoinHandle,
    time::Instant,
};

/// What a slow client never finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slowness {
    /// The request headers: one more header byte every interval.
    Headers,
    /// The request body: complete headers announcing 1 MB, then one body byte every interval.
    Body,
}

/// Time between two bytes of a slow client.
pub const TRICKLE_INTERVAL: Duration = Duration::from_millis(250);

/// Connects from `local` (any 127.0.0.0/8 address on Linux loopback) to `server`.
pub async fn connect_from(local: IpAddr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match local {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(server).await
}

/// Starts a slow client from `local` to `server` sending `headers` (e.g. an `Authorization`
/// line, each line ending in `\r\n`) in its request. It resolves to how long after its start
/// the server closed the connection, or `None` if it was still open after `give_up`.
pub fn spawn_slow_client(
    local: IpAddr,
    server: SocketAddr,
    slowness: Slowness,
    headers: String,
    give_up: Duration,
) -> JoinHandle<Option<Duration>> {
    tokio::spawn(async move {
        let start = Instant::now();
        let Ok(mut stream) = connect_from(local, server).await else {
            return Some(start.elapsed());
        };
        let head = match slowness {
            Slowness::Headers => format!("POST / HTTP/1.1\r\nHost: {server}\r\n{headers}X-Slow: "),
            Slowness::Body => format!(
                "POST / HTTP/1.1\r\nHost: {server}\r\n{headers}Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{{\"x\":\""
            ),
        };
        if stream.write_all(head.as_bytes()).await.is_err() {
            return Some(start.elapsed());
        }
        let mut buf = [0u8; 1024];
        while start.elapsed() < give_up {
            match tokio::time::timeout(TRICKLE_INTERVAL, stream.read(&mut buf)).await {
                // Closed by the server (or reset).
                Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
                // An error response before the close: keep reading.
                Ok(Ok(_)) => continue,
                Err(_) => {}
            }
            if stream.write_all(b"a").await.is_err() {
                return Some(start.elapsed());
            }
        }
        None
    })
}

/// Starts `per_address` slow clients from each of `locals`, half of them slow in their
/// headers and half in their body.
pub fn spawn_slow_clients(
    locals: &[IpAddr],
    per_address: usize,
    server: SocketAddr,
    headers: &str,
    give_up: Duration,
) -> Vec<JoinHandle<Option<Duration>>> {
    let mut clients = Vec::new();
    for local in locals {
        for i in 0..per_address {
            let slowness = if i % 2 == 0 {
                Slowness::Headers
            } else {
                Slowness::Body
            };
            clients.push(spawn_slow_client(
                *local,
                server,
                slowness,
                headers.to_string(),
                give_up,
            ));
        }
    }
    clients
}

/// Waits for every client: when each was closed (`None`: still open when it gave up).
pub async fn closed_after(clients: Vec<JoinHandle<Option<Duration>>>) -> Vec<Option<Duration>> {
    let mut out = Vec::with_capacity(clients.len());
    for client in clients {
        out.push(client.await.unwrap());
    }
    out
}

/// `127.0.0.<last>`.
pub fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, last))
}
