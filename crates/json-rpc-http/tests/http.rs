//! The transport over real HTTP, in both dialects: authentication, POST only, the body cap,
//! malformed JSON, unknown methods, notifications and batches.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use alys_json_rpc_http::{
    serve, ConnectionLimits, Credentials, Dialect, Dispatch, Execution, RpcError, ServerConfig,
};
use serde_json::{json, Value};

const MAX_BODY: usize = 1024;

/// `echo` returns its params, `fail` a -5 error, `panic` panics; anything else is unknown.
struct Echo;

impl Dispatch for Echo {
    fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            "echo" => Ok(params),
            "fail" => Err(RpcError::not_found("no such thing")),
            "panic" => panic!("a method that panics"),
            _ => Err(RpcError::method_not_found()),
        }
    }
}

struct Server {
    url: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    async fn start(dialect: Dialect, execution: Execution) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let config = ServerConfig {
            credentials: Credentials {
                user: "u".into(),
                password: "p".into(),
            },
            max_body_bytes: MAX_BODY,
            dialect,
            execution,
            public: None,
            limits: ConnectionLimits::new(64, 64),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, Echo, config, async move {
            let _ = stopped.await;
        }));
        Self {
            url,
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    async fn post_as(&self, user: &str, password: &str, body: String) -> (u16, String) {
        let response = self
            .client
            .post(&self.url)
            .basic_auth(user, Some(password))
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    async fn post(&self, body: Value) -> (u16, Value) {
        let (status, text) = self.post_as("u", "p", body.to_string()).await;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("a JSON body")
        };
        (status, value)
    }
}

#[tokio::test]
async fn bad_credentials_get_401() {
    for dialect in [Dialect::BitcoinCore, Dialect::Plain] {
        let s = Server::start(dialect, Execution::Inline).await;
        let call = json!({"method": "echo", "params": [], "id": 1}).to_string();
        for (user, password) in [("u", "wrong"), ("x", "p"), ("", "")] {
            let (status, _) = s.post_as(user, password, call.clone()).await;
            assert_eq!(status, 401, "{dialect:?} {user}:{password}");
        }
        let response = s
            .client
            .post(&s.url)
            .body(call.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(
            response.status().as_u16(),
            401,
            "{dialect:?} without credentials"
        );
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"jsonrpc\""
        );
        let body = response.text().await.expect("body");
        match dialect {
            Dialect::BitcoinCore => assert_eq!(body, ""),
            Dialect::Plain => assert_eq!(body, r#"{"error":"authorization required"}"#),
        }
    }
}

#[tokio::test]
async fn only_post_is_served() {
    for dialect in [Dialect::BitcoinCore, Dialect::Plain] {
        let s = Server::start(dialect, Execution::Inline).await;
        let response = s
            .client
            .get(&s.url)
            .basic_auth("u", Some("p"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 405, "{dialect:?}");
    }
}

#[tokio::test]
async fn an_oversized_body_gets_413() {
    let big = json!({"method": "echo", "params": ["x".repeat(MAX_BODY)], "id": 1});
    let s = Server::start(Dialect::BitcoinCore, Execution::Blocking).await;
    let (status, body) = s.post(big.clone()).await;
    assert_eq!(status, 413);
    assert_eq!(
        body,
        json!({"result": null, "error": {"code": -32600, "message": "Request body too large"}, "id": null})
    );
    let s = Server::start(Dialect::Plain, Execution::Inline).await;
    let (status, body) = s.post(big).await;
    assert_eq!(status, 413);
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["error"]["code"], -32600);
    // A body just under the cap is served.
    let fits = json!({"method": "echo", "params": ["x".repeat(MAX_BODY - 100)], "id": 1});
    assert_eq!(s.post(fits).await.0, 200);
}

#[tokio::test]
async fn malformed_json_is_a_parse_error() {
    let s = Server::start(Dialect::BitcoinCore, Execution::Blocking).await;
    let (status, text) = s.post_as("u", "p", "{not json".into()).await;
    assert_eq!(status, 500);
    // Core's body, one line; key order follows serde_json's map (sorted unless another crate
    // of the build turns on its `preserve_order`), so the value is compared, not the text.
    assert!(text.ends_with("}\n"), "{text:?}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("JSON"),
        json!({"result": null, "error": {"code": -32700, "message": "Parse error"}, "id": null})
    );
    let s = Server::start(Dialect::Plain, Execution::Inline).await;
    let (status, text) = s.post_as("u", "p", "{not json".into()).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(body["error"]["code"], -32700);
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Parse error: ")));
}

#[tokio::test]
async fn unknown_methods_and_errors_carry_cores_status_in_1_0_only() {
    let s = Server::start(Dialect::BitcoinCore, Execution::Blocking).await;
    let (status, body) = s
        .post(json!({"method": "nope", "params": [], "id": 1}))
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"result": null, "error": {"code": -32601, "message": "Method not found"}, "id": 1})
    );
    let (status, body) = s
        .post(json!({"jsonrpc": "2.0", "method": "nope", "id": 1}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["error"]["code"], -32601);
    assert_eq!(s.post(json!({"method": "fail", "id": 1})).await.0, 500);
    assert_eq!(s.post(json!({"id": 1})).await.0, 400);
    assert_eq!(s.post(json!("not an object")).await.0, 400);

    let s = Server::start(Dialect::Plain, Execution::Inline).await;
    for request in [
        json!({"method": "nope", "id": 1}),
        json!({"method": "fail", "id": 1}),
        json!({"id": 1}),
    ] {
        let (status, body) = s.post(request.clone()).await;
        assert_eq!(status, 200, "{request}");
        assert!(body["error"]["code"].is_i64(), "{request}: {body}");
    }
}

#[tokio::test]
async fn params_reach_the_method_as_sent() {
    let s = Server::start(Dialect::Plain, Execution::Inline).await;
    for params in [json!([1, "a"]), json!({"b": 2}), json!(7)] {
        let (_, body) = s
            .post(json!({"jsonrpc": "2.0", "method": "echo", "params": params, "id": 3}))
            .await;
        assert_eq!(body, json!({"jsonrpc": "2.0", "result": params, "id": 3}));
    }
    let (_, body) = s.post(json!({"method": "echo", "id": 4})).await;
    assert_eq!(body, json!({"result": null, "error": null, "id": 4}));
}

#[tokio::test]
async fn notifications_and_batches() {
    let s = Server::start(Dialect::BitcoinCore, Execution::Blocking).await;
    let (status, body) = s
        .post(json!({"jsonrpc": "2.0", "method": "echo", "params": []}))
        .await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, body) = s
        .post(json!([
            {"method": "echo", "params": [1], "id": 1},
            {"jsonrpc": "2.0", "method": "echo", "params": [2]},
            {"method": "nope", "id": 3},
        ]))
        .await;
    assert_eq!(status, 200, "a batch is 200 whatever its errors");
    assert_eq!(
        body,
        json!([
            {"result": [1], "error": null, "id": 1},
            {"result": null, "error": {"code": -32601, "message": "Method not found"}, "id": 3},
        ])
    );

    let s = Server::start(Dialect::Plain, Execution::Inline).await;
    let (status, body) = s
        .post(json!([{"jsonrpc": "2.0", "method": "echo", "params": [2]}]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([{"jsonrpc": "2.0", "result": [2], "id": null}]));
}

#[tokio::test]
async fn a_panicking_method_is_an_internal_error_and_the_server_keeps_serving() {
    let s = Server::start(Dialect::BitcoinCore, Execution::Blocking).await;
    let (status, body) = s.post(json!({"method": "panic", "id": 1})).await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["code"], -32603);
    let (status, body) = s
        .post(json!({"method": "echo", "params": [], "id": 2}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"], json!([]));
}
