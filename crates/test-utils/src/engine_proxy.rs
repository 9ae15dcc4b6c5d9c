//! A fault-injecting proxy in front of a real execution client's Engine API: every request is
//! passed through unchanged (the JWT is checked by the execution client behind it), except
//! calls to the methods given a [`Fault`], which fail as an unreliable or misconfigured client
//! fails: JSON-RPC -32601, no answer at all (the caller times out), or a `SYNCING` payload
//! status. Faults are set and cleared while the test runs, so a test can break the EL and
//! let it recover.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a method fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// JSON-RPC error -32601 "Method not found".
    MethodNotFound,
    /// The request is read and never answered.
    NoAnswer,
    /// A `SYNCING` payload status (`engine_newPayloadV3`, `engine_forkchoiceUpdatedV3`, the
    /// latter without a payload id).
    Syncing,
}

#[derive(Default)]
struct State {
    faults: HashMap<String, Fault>,
    /// Calls seen per method (faulted or not).
    calls: HashMap<String, u64>,
}

/// A running proxy; it stops with the test's runtime.
pub struct EngineProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl EngineProxy {
    /// Starts a proxy on a free port of 127.0.0.1 forwarding to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream host:port");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, upstream, shared.clone()));
            }
        });
        Self { addr, state }
    }

    /// The proxy's URL (give it to the node as its Engine API URL).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes `method` fail with `fault` from now on.
    pub fn fail(&self, method: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .insert(method.to_owned(), fault);
    }

    /// Lets every method through again.
    pub fn heal(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// Calls of `method` seen so far.
    pub fn calls(&self, method: &str) -> u64 {
        self.state
            .lock()
            .unwrap()
            .calls
            .get(method)
            .copied()
            .unwrap_or(0)
    }
}

/// One HTTP/1.1 message: the raw bytes and where its body starts.
async fn read_message(stream: &mut TcpStream) -> Option<(Vec<u8>, usize)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                buf.truncate(end + 4 + len);
                return Some((buf, end + 4));
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn serve(mut client: TcpStream, upstream: SocketAddr, state: Arc<Mutex<State>>) {
    while let Some((request, body_at)) = read_message(&mut client).await {
        let body: Value = serde_json::from_slice(&request[body_at..]).unwrap_or(Value::Null);
        let method = body["method"].as_str().unwrap_or_default().to_owned();
        let fault = {
            let mut s = state.lock().unwrap();
            *s.calls.entry(method.clone()).or_default() += 1;
            s.faults.get(&method).copied()
        };
        let response = match fault {
            None => match forward(&request, upstream).await {
                Some(r) => r,
                None => return,
            },
            Some(Fault::NoAnswer) => {
                // Hold the connection open without answering until the caller gives up.
                let mut sink = [0u8; 1024];
                while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
                return;
            }
            Some(Fault::MethodNotFound) => http_json(&json!({
                "jsonrpc": "2.0", "id": body["id"],
                "error": {"code": -32601, "message": "Method not found"}
            })),
            Some(Fault::Syncing) => {
                let status =
                    json!({"status": "SYNCING", "latestValidHash": null, "validationError": null});
                let result = match method.as_str() {
                    "engine_forkchoiceUpdatedV3" => {
                        json!({"payloadStatus": status, "payloadId": null})
                    }
                    _ => status,
                };
                http_json(&json!({"jsonrpc": "2.0", "id": body["id"], "result": result}))
            }
        };
        if client.write_all(&response).await.is_err() {
            return;
        }
    }
}

async fn forward(request: &[u8], upstream: SocketAddr) -> Option<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).await.ok()?;
    up.write_all(request).await.ok()?;
    read_message(&mut up).await.map(|(r, _)| r)
}

fn http_json(body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
