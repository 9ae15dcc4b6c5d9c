//! Unauthenticated access over real HTTP: the public methods answer without credentials, every
//! other method still needs them, browsers (requests with `Origin`) reach only the public
//! methods and only from the allowed origins (CORS preflight and headers), and a flood is
//! answered 429 with a JSON-RPC error while authenticated callers are still served.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use alys_json_rpc_http::{
    serve, ConnectionLimits, Credentials, Dialect, Dispatch, Execution, PublicAccess, Rate,
    RateLimits, RpcError, ServerConfig, RATE_LIMITED,
};
use reqwest::header::{HeaderMap, ORIGIN};
use serde_json::{json, Value};

const UI: &str = "http://127.0.0.1:3001";

/// `read` is public; `write` is not.
struct Methods;

impl Dispatch for Methods {
    fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            "read" => Ok(json!({"read": params})),
            "write" => Ok(json!("written")),
            _ => Err(RpcError::method_not_found()),
        }
    }
}

struct Server {
    url: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(per_client: u32) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut public = PublicAccess::new(["read"], [UI]);
    public.limits = RateLimits {
        per_client: Rate {
            per_second: per_client,
            burst: per_client,
        },
        global: Rate {
            per_second: 10_000,
            burst: 10_000,
        },
        max_clients: 16,
    };
    public.max_batch = 4;
    public.max_body_bytes = 512;
    let config = ServerConfig {
        credentials: Credentials {
            user: "u".into(),
            password: "p".into(),
        },
        max_body_bytes: 1 << 20,
        dialect: Dialect::Plain,
        execution: Execution::Inline,
        public: Some(public),
        limits: ConnectionLimits::new(64, 64),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, Methods, config, async move {
        let _ = stopped.await;
    }));
    Server {
        url,
        client: reqwest::Client::new(),
        _stop: stop,
    }
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Server {
    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn post(&self, origin: Option<&str>, auth: bool, body: Value) -> Reply {
        let mut request = self.client.post(&self.url).body(body.to_string());
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        if auth {
            request = request.basic_auth("u", Some("p"));
        }
        self.send(request).await
    }
}

fn call(method: &str) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": [1], "id": 1})
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn public_methods_answer_without_credentials_and_others_need_them() {
    let server = start(1000).await;
    let read = server.post(None, false, call("read")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["result"], json!({"read": [1]}));
    assert_eq!(header(&read, "access-control-allow-origin"), None);

    let write = server.post(None, false, call("write")).await;
    assert_eq!(write.status, 401);
    assert_eq!(
        header(&write, "www-authenticate"),
        Some("Basic realm=\"jsonrpc\"")
    );
    assert!(write.body.get("result").is_none(), "{}", write.body);
    // An unknown method is not public either: the caller learns nothing without credentials.
    assert_eq!(server.post(None, false, call("nope")).await.status, 401);
    // A batch that slips one private call among public ones is refused whole.
    let batch = server
        .post(None, false, json!([call("read"), call("write")]))
        .await;
    assert_eq!(batch.status, 401);
    // Wrong credentials are no credentials.
    let wrong = server
        .send(
            server
                .client
                .post(&server.url)
                .basic_auth("u", Some("wrong"))
                .body(call("write").to_string()),
        )
        .await;
    assert_eq!(wrong.status, 401);

    // With the credentials (and no Origin) everything is served, as before.
    let write = server.post(None, true, call("write")).await;
    assert_eq!(write.status, 200);
    assert_eq!(write.body["result"], "written");
    let batch = server
        .post(None, true, json!([call("read"), call("write")]))
        .await;
    assert_eq!(batch.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn browsers_reach_only_public_methods_from_the_allowed_origin() {
    let server = start(1000).await;
    let read = server.post(Some(UI), false, call("read")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["result"], json!({"read": [1]}));
    assert_eq!(header(&read, "access-control-allow-origin"), Some(UI));
    assert_eq!(header(&read, "vary"), Some("Origin"));

    // A page holding the credentials still cannot call a private method.
    let write = server.post(Some(UI), true, call("write")).await;
    assert_eq!(write.status, 401);

    // Any other origin is refused, with no CORS header, even for public methods.
    for origin in ["http://evil.test", "http://127.0.0.1:3002", "null"] {
        let other = server.post(Some(origin), false, call("read")).await;
        assert_eq!(other.status, 403, "{origin}");
        assert_eq!(
            header(&other, "access-control-allow-origin"),
            None,
            "{origin}"
        );
        assert_eq!(
            server.post(Some(origin), true, call("write")).await.status,
            403
        );
    }

    // Preflight: POST with a JSON content type, never an Authorization header.
    let preflight = |origin: &str| {
        server
            .client
            .request(reqwest::Method::OPTIONS, &server.url)
            .header(ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
    };
    let ok = server.send(preflight(UI)).await;
    assert_eq!(ok.status, 204);
    assert_eq!(header(&ok, "access-control-allow-origin"), Some(UI));
    assert_eq!(
        header(&ok, "access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    assert_eq!(
        header(&ok, "access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(header(&ok, "access-control-allow-credentials"), None);
    let refused = server.send(preflight("http://evil.test")).await;
    assert_eq!(refused.status, 403);
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn unauthenticated_requests_have_smaller_limits() {
    let server = start(1000).await;
    let big = server
        .post(
            None,
            false,
            json!([
                call("read"),
                call("read"),
                call("read"),
                call("read"),
                call("read")
            ]),
        )
        .await;
    assert_eq!(big.status, 200);
    assert_eq!(big.body["error"]["code"], -32600, "{}", big.body);
    assert!(big.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 4"));
    let four = server
        .post(
            None,
            false,
            json!([call("read"), call("read"), call("read"), call("read")]),
        )
        .await;
    assert_eq!(four.body.as_array().unwrap().len(), 4);

    let padding = "x".repeat(600);
    let body = json!({"jsonrpc": "2.0", "method": "read", "params": [padding], "id": 1});
    assert_eq!(server.post(None, false, body.clone()).await.status, 413);
    // The credentials' own cap is larger.
    assert_eq!(server.post(None, true, body).await.status, 200);
}

#[tokio::test]
async fn a_flood_without_credentials_gets_429_and_credentials_still_work() {
    let server = start(10).await;
    let mut ok = 0;
    let mut limited = Vec::new();
    for _ in 0..100 {
        let reply = server.post(Some(UI), false, call("read")).await;
        match reply.status {
            200 => ok += 1,
            429 => limited.push(reply),
            s => panic!("unexpected status {s}: {}", reply.body),
        }
    }
    assert!(ok >= 10, "the burst is served ({ok})");
    assert!(
        limited.len() >= 50,
        "most of the flood is refused ({})",
        limited.len()
    );
    let first = &limited[0];
    assert_eq!(first.body["error"]["code"], RATE_LIMITED);
    assert!(first.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("rate limited"));
    assert_eq!(header(first, "retry-after"), Some("1"));
    // The page can read the refusal (CORS header on the 429).
    assert_eq!(header(first, "access-control-allow-origin"), Some(UI));

    // Authenticated callers (miners, operators) are not limited.
    for _ in 0..20 {
        assert_eq!(server.post(None, true, call("write")).await.status, 200);
    }
}
