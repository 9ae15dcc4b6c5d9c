//! The accept loop against raw TCP clients: an idle kept-alive connection is closed after the
//! header timeout, a body that stops coming fails at the body deadline, and a stopped server
//! accepts no more connections.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use alys_http_guard::{serve, ConnectionLimits, DeadlineBody};
use http_body_util::{BodyExt, Full};
use hyper::{
    body::{Bytes, Incoming},
    Request, Response, StatusCode,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
    time::Instant,
};

const TIMEOUT: Duration = Duration::from_millis(300);

/// Echoes the body's length, or 408 when it did not arrive in time.
async fn echo_len(
    request: Request<DeadlineBody<Incoming>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, text) = match request.into_body().collect().await {
        Ok(body) => (StatusCode::OK, body.to_bytes().len().to_string()),
        Err(e) => (StatusCode::REQUEST_TIMEOUT, e.to_string()),
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    Ok(response)
}

async fn start() -> (SocketAddr, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = ConnectionLimits {
        max_connections: 8,
        max_per_ip: 8,
        header_read_timeout: TIMEOUT,
        body_read_timeout: TIMEOUT,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop = move || {
        let mut stop_rx = stop_rx.clone();
        async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        }
    };
    tokio::spawn(serve(
        listener,
        limits,
        |_| tower::service_fn(echo_len),
        stop,
    ));
    (addr, stop_tx)
}

/// Reads until the server closes the connection; what it sent and when it closed.
async fn read_until_closed(stream: &mut TcpStream, give_up: Duration) -> (String, Option<Instant>) {
    let mut text = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + give_up;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                return (String::from_utf8_lossy(&text).into(), Some(Instant::now()))
            }
            Ok(Ok(n)) => text.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&text).into(), None),
        }
    }
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let (addr, _stop) = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let answered = Instant::now();
    let (text, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("\r\n\r\n2"), "{text}");
    let idle = closed.expect("closed") - answered;
    assert!(idle >= TIMEOUT / 2 && idle < TIMEOUT * 5, "{idle:?}");
}

#[tokio::test]
async fn a_body_that_stops_coming_fails_at_the_deadline() {
    let (addr, _stop) = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":")
        .await
        .unwrap();
    let (text, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request body not received within"), "{text}");
    assert!(closed.is_some());
}

#[tokio::test]
async fn a_stopped_server_accepts_no_more_connections() {
    let (addr, stop) = start().await;
    stop.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = match TcpStream::connect(addr).await {
        Err(_) => true,
        Ok(mut stream) => read_until_closed(&mut stream, Duration::from_secs(2))
            .await
            .1
            .is_some(),
    };
    assert!(refused);
}
