//! The page server over real HTTP: the embedded files with their types and security headers,
//! `/config.json` following the host the browser used, GET/HEAD only, 404 elsewhere, and the
//! connection cap (connections past it are closed; the server serves again once they go).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use alys_peg_ui::{BoundUi, Endpoint, UiConfig, UiServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start(max_connections: usize) -> UiServer {
    let bound = BoundUi::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = bound.local_addr().port();
    assert_eq!(
        bound.origins()[0],
        format!("http://127.0.0.1:{port}"),
        "origins name the bound port"
    );
    bound.serve_with_limit(
        UiConfig {
            node_rpc: Endpoint::Port(3000),
            eth_rpc: Some(Endpoint::Port(8545)),
        },
        max_connections,
    )
}

#[tokio::test]
async fn serves_the_page_its_files_and_its_config() {
    let server = start(16).await;
    let url = server.url();
    let client = reqwest::Client::new();

    let page = client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        csp.contains("connect-src 'self' http://127.0.0.1:3000 http://127.0.0.1:8545;"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(html.contains("<script src=\"/app.js\""), "the built page");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from outside"
    );

    let js = client.get(format!("{url}app.js")).send().await.unwrap();
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(js.bytes().await.unwrap().len() > 10_000, "the bundle");
    let css = client.get(format!("{url}app.css")).send().await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");

    // The endpoints use the host name the browser used for the page.
    let config: serde_json::Value = client
        .get(format!("{url}config.json"))
        .header("host", format!("localhost:{}", server.local_addr().port()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["nodeRpcUrl"], "http://localhost:3000");
    assert_eq!(config["ethRpcUrl"], "http://localhost:8545");

    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        html.len().to_string().as_str()
    );

    let post = client.post(&url).body("x").send().await.unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    for path in ["nope", "../Cargo.toml", "app.js.map", "config.json/x"] {
        let r = client.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}

/// Sends a GET on a fresh connection; the status line, or `None` when the server closed it.
async fn raw_get(addr: std::net::SocketAddr) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "GET /config.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).await.is_err() {
        return None;
    }
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the server answers or closes");
    match read {
        Ok(_) if !response.is_empty() => String::from_utf8_lossy(&response)
            .lines()
            .next()
            .map(str::to_string),
        _ => None,
    }
}

/// Polls `check` every 20 ms until it gives `Some`, for at most 10 s.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn connections_past_the_cap_are_closed() {
    let server = start(2).await;
    let addr = server.local_addr();
    // Two idle connections hold both slots: once the server has taken them, another
    // connection is closed without an answer.
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    eventually("a connection past the cap to be closed", || async {
        raw_get(addr).await.is_none().then_some(())
    })
    .await;
    drop(idle);
    // Once they are gone the server serves again.
    let status = eventually("the server to serve again", || raw_get(addr)).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
}
