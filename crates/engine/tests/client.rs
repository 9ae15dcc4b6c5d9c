//! The Engine API client against a stand-in execution client that checks the JWT for real
//! (401 otherwise), and against raw TCP servers for malformed, failing and hanging responses.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::rpc::types::engine::Claims;
use alys_engine::*;
use alys_test_utils::engine_mock::{
    http_response, raw_server, sample_payload_json, zero_hash, MockEngine, BAD_SHAPE_ID,
};
use serde_json::json;

fn fast_config() -> EngineClientConfig {
    EngineClientConfig {
        request_timeout: Duration::from_secs(2),
        retries: 3,
        retry_backoff: Duration::from_millis(10),
    }
}

fn fcu_state() -> ForkchoiceState {
    ForkchoiceState {
        head_block_hash: B256::repeat_byte(0xaa),
        safe_block_hash: B256::repeat_byte(0xbb),
        finalized_block_hash: B256::ZERO,
    }
}

fn decode_claims(secret: &JwtSecret, token: &str) -> Claims {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    jsonwebtoken::decode::<Claims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn sends_fresh_valid_jwt_on_every_request() {
    let secret = JwtSecret::random();
    let server = MockEngine::start(secret).await;
    let client = HttpEngineClient::new(&server.url(), secret, fast_config()).unwrap();

    client
        .exchange_capabilities(vec!["engine_newPayloadV3".into()])
        .await
        .unwrap();
    client.forkchoice_updated(fcu_state(), None).await.unwrap();
    // Tokens have 1 s resolution: wait for the next second so a cached token would be
    // detectable.
    let into_second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    tokio::time::sleep(Duration::from_millis(u64::from(1010 - into_second))).await;
    client.client_version().await.unwrap();

    let auth = server.auth();
    assert_eq!(auth.len(), 3, "one HTTP request per call: {auth:?}");
    let now = now_secs();
    for rec in &auth {
        assert!(rec.accepted, "{rec:?}");
        let token = rec.token.as_deref().unwrap();
        secret.validate(token).unwrap();
        let iat = decode_claims(&secret, token).iat;
        assert!(now.abs_diff(iat) <= 5, "iat {iat} is not fresh (now {now})");
    }
    assert_ne!(
        auth[0].token, auth[2].token,
        "token must be minted per request"
    );
}

#[tokio::test]
async fn wrong_secret_is_unauthorized_and_not_retried() {
    let server = MockEngine::start(JwtSecret::random()).await;
    let client = HttpEngineClient::new(&server.url(), JwtSecret::random(), fast_config()).unwrap();
    let err = client
        .forkchoice_updated(fcu_state(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Unauthorized), "{err:?}");
    assert!(!err.is_retryable());
    let auth = server.auth();
    assert_eq!(auth.len(), 1);
    assert!(auth[0].token.is_some() && !auth[0].accepted);
}

#[tokio::test]
async fn from_jwt_file_uses_the_file_secret() {
    let secret = JwtSecret::random();
    let server = MockEngine::start(secret).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwt.hex");
    alys_secrets::create_secret_file(
        &path,
        format!("0x{}\n", hex::encode(secret.as_bytes())).as_bytes(),
    )
    .unwrap();
    let client = HttpEngineClient::from_jwt_file(&server.url(), &path, fast_config()).unwrap();
    client.exchange_capabilities(vec![]).await.unwrap();
    assert!(server.auth()[0].accepted);

    let missing = dir.path().join("missing.hex");
    let err = HttpEngineClient::from_jwt_file(&server.url(), &missing, fast_config()).unwrap_err();
    assert!(matches!(err, EngineError::Jwt(_)), "{err:?}");
}

#[tokio::test]
async fn engine_methods_round_trip() {
    let secret = JwtSecret::random();
    let server = MockEngine::start(secret).await;
    let client = HttpEngineClient::new(&server.url(), secret, fast_config()).unwrap();

    // forkchoiceUpdated without attributes: null second param, no payload id.
    let updated = client.forkchoice_updated(fcu_state(), None).await.unwrap();
    assert_eq!(updated.payload_status.status, PayloadStatusEnum::Valid);
    assert_eq!(
        updated.payload_status.latest_valid_hash,
        Some(B256::repeat_byte(0xaa))
    );
    assert_eq!(updated.payload_id, None);
    let params = server.last_params();
    assert_eq!(params.as_array().unwrap().len(), 2);
    assert!(params[1].is_null());

    // With attributes: a payload id comes back.
    let attrs = PayloadAttributes {
        timestamp: 10,
        prev_randao: B256::repeat_byte(1),
        suggested_fee_recipient: Default::default(),
        withdrawals: Some(vec![]),
        parent_beacon_block_root: Some(B256::repeat_byte(2)),
        slot_number: None,
        target_gas_limit: None,
    };
    let updated = client
        .forkchoice_updated(fcu_state(), Some(attrs))
        .await
        .unwrap();
    let id = updated.payload_id.unwrap();
    assert_eq!(id, PayloadId::new([1, 2, 3, 4, 5, 6, 7, 8]));
    let sent = server.last_params()[1].clone();
    assert_eq!(sent["timestamp"], "0xa");
    // Exactly the V3 attribute fields go on the wire.
    let mut keys: Vec<&str> = sent
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "parentBeaconBlockRoot",
            "prevRandao",
            "suggestedFeeRecipient",
            "timestamp",
            "withdrawals"
        ]
    );

    // getPayload → newPayload with the returned payload; INVALID is a status, not an error.
    let envelope = client.get_payload(id).await.unwrap();
    assert_eq!(
        envelope
            .execution_payload
            .payload_inner
            .payload_inner
            .block_number,
        1
    );
    assert_eq!(envelope.block_value, alloy_primitives::U256::from(42));
    let status = client
        .new_payload(
            envelope.execution_payload,
            vec![B256::repeat_byte(9)],
            B256::repeat_byte(7),
        )
        .await
        .unwrap();
    assert_eq!(
        status.status,
        PayloadStatusEnum::Invalid {
            validation_error: "bad block".into()
        }
    );
    assert_eq!(status.latest_valid_hash, Some(B256::repeat_byte(1)));
    let params = server.last_params();
    assert_eq!(params.as_array().unwrap().len(), 3);
    assert_eq!(params[2], json!(zero_hash(7)));

    // Auxiliary methods.
    let caps = client
        .exchange_capabilities(CAPABILITIES.iter().map(|s| s.to_string()).collect())
        .await
        .unwrap();
    assert_eq!(
        caps,
        vec![
            "engine_newPayloadV3".to_string(),
            "engine_forkchoiceUpdatedV3".into()
        ]
    );
    assert_eq!(
        server.last_params()[0].as_array().unwrap().len(),
        CAPABILITIES.len()
    );

    let versions = client.client_version().await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].name, "Reth");
    assert_eq!(server.last_params()[0]["code"], "AL");

    let bodies = client
        .payload_bodies_by_hash(vec![B256::ZERO, B256::repeat_byte(3)])
        .await
        .unwrap();
    assert_eq!(bodies.len(), 2);
    assert!(bodies[0].is_none());
    assert_eq!(bodies[1].as_ref().unwrap().transactions.len(), 1);

    let bodies = client.payload_bodies_by_range(16, 3).await.unwrap();
    assert_eq!(bodies.len(), 3);
    assert_eq!(server.last_params(), json!(["0x10", "0x3"]));
}

#[tokio::test]
async fn every_spec_error_code_maps_to_its_variant_and_is_not_retried() {
    let secret = JwtSecret::random();
    let server = MockEngine::start(secret).await;
    let client = HttpEngineClient::new(&server.url(), secret, fast_config()).unwrap();

    type Check = fn(&EngineError) -> bool;
    let cases: &[(i32, Check)] = &[
        (
            -32700,
            |e| matches!(e, EngineError::ParseError(m) if m == "msg"),
        ),
        (
            -32600,
            |e| matches!(e, EngineError::InvalidRequest(m) if m == "msg"),
        ),
        (
            -32601,
            |e| matches!(e, EngineError::MethodNotFound(m) if m == "msg"),
        ),
        (
            -32602,
            |e| matches!(e, EngineError::InvalidParams(m) if m == "msg"),
        ),
        (
            -32603,
            |e| matches!(e, EngineError::Internal(m) if m == "msg"),
        ),
        (
            -32000,
            |e| matches!(e, EngineError::Server { message, err: None } if message == "msg"),
        ),
        (
            -38001,
            |e| matches!(e, EngineError::UnknownPayload(m) if m == "msg"),
        ),
        (
            -38002,
            |e| matches!(e, EngineError::InvalidForkchoiceState(m) if m == "msg"),
        ),
        (
            -38003,
            |e| matches!(e, EngineError::InvalidPayloadAttributes(m) if m == "msg"),
        ),
        (
            -38004,
            |e| matches!(e, EngineError::TooLargeRequest(m) if m == "msg"),
        ),
        (
            -38005,
            |e| matches!(e, EngineError::UnsupportedFork(m) if m == "msg"),
        ),
        (
            -38006,
            |e| matches!(e, EngineError::TooDeepReorg(m) if m == "msg"),
        ),
        (
            -39999,
            |e| matches!(e, EngineError::OtherRpc { code: -39999, message } if message == "msg"),
        ),
    ];
    for (code, check) in cases {
        server.set_error(*code, "msg", None);
        let before = server.auth().len();
        let err = client
            .forkchoice_updated(fcu_state(), None)
            .await
            .unwrap_err();
        assert!(check(&err), "code {code} mapped to {err:?}");
        assert_eq!(err.rpc_code(), Some(*code));
        assert!(!err.is_retryable(), "{err:?}");
        assert_eq!(
            server.auth().len(),
            before + 1,
            "JSON-RPC error {code} must not be retried"
        );
    }

    // -32000 carries `data.err`.
    server.set_error(
        -32000,
        "Server error",
        Some(json!({"err": "Database corrupted"})),
    );
    let err = client
        .get_payload(PayloadId::new([0; 8]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Server { message, err: Some(d) } if message == "Server error" && d == "Database corrupted"),
        "{err:?}"
    );
    assert!(err.to_string().contains("Database corrupted"));

    // Also through the other trait methods.
    server.set_error(-38001, "Unknown payload", None);
    let err = client
        .get_payload(PayloadId::new([0; 8]))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::UnknownPayload(_)), "{err:?}");
    server.set_error(-38005, "Unsupported fork", None);
    let payload: ExecutionPayloadV3 = serde_json::from_value(sample_payload_json()).unwrap();
    let err = client
        .new_payload(payload, vec![], B256::ZERO)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::UnsupportedFork(_)), "{err:?}");
}

#[tokio::test]
async fn wrongly_shaped_result_is_invalid_response() {
    let secret = JwtSecret::random();
    let server = MockEngine::start(secret).await;
    let client = HttpEngineClient::new(&server.url(), secret, fast_config()).unwrap();
    let err = client
        .get_payload(PayloadId::new(BAD_SHAPE_ID))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidResponse(_)), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(server.auth().len(), 1);
}

#[tokio::test]
async fn malformed_json_is_invalid_response_not_panic() {
    for body in [
        "{not json",
        "",
        "[1,2",
        "{\"foo\":1}",
        "{\"jsonrpc\":\"2.0\",\"id\":0}",
    ] {
        let (url, count) = raw_server(Some(http_response("200 OK", body))).await;
        let client = HttpEngineClient::new(&url, JwtSecret::random(), fast_config()).unwrap();
        let err = client
            .forkchoice_updated(fcu_state(), None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::InvalidResponse(_)),
            "body {body:?} gave {err:?}"
        );
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "invalid responses are not retried"
        );
    }
}

#[tokio::test]
async fn http_error_status_maps_and_5xx_is_retried() {
    let (url, count) = raw_server(Some(http_response("503 Service Unavailable", "busy"))).await;
    let client = HttpEngineClient::new(&url, JwtSecret::random(), fast_config()).unwrap();
    let err = client.exchange_capabilities(vec![]).await.unwrap_err();
    assert!(matches!(err, EngineError::HttpStatus(503)), "{err:?}");
    assert_eq!(count.load(Ordering::SeqCst), 4, "1 attempt + 3 retries");

    let (url, count) = raw_server(Some(http_response("404 Not Found", ""))).await;
    let client = HttpEngineClient::new(&url, JwtSecret::random(), fast_config()).unwrap();
    let err = client.exchange_capabilities(vec![]).await.unwrap_err();
    assert!(matches!(err, EngineError::HttpStatus(404)), "{err:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn dead_port_is_transport_error_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = EngineClientConfig {
        request_timeout: Duration::from_secs(2),
        retries: 2,
        retry_backoff: Duration::from_millis(50),
    };
    let client =
        HttpEngineClient::new(&format!("http://{addr}"), JwtSecret::random(), config).unwrap();
    let start = Instant::now();
    let err = client
        .forkchoice_updated(fcu_state(), None)
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        matches!(&err, EngineError::Transport(m) if m.contains("Connection refused")),
        "{err:?}"
    );
    assert!(err.is_retryable());
    // Two retries: 50 ms + 100 ms of backoff.
    assert!(
        elapsed >= Duration::from_millis(150),
        "retries did not back off: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn timeout_is_honoured_and_retried() {
    let (url, count) = raw_server(None).await;
    let config = EngineClientConfig {
        request_timeout: Duration::from_millis(300),
        retries: 0,
        retry_backoff: Duration::from_millis(10),
    };
    let client = HttpEngineClient::new(&url, JwtSecret::random(), config).unwrap();
    let start = Instant::now();
    let err = client
        .get_payload(PayloadId::new([0; 8]))
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        matches!(err, EngineError::Timeout(d) if d == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);

    let config = EngineClientConfig {
        request_timeout: Duration::from_millis(200),
        retries: 2,
        retry_backoff: Duration::from_millis(10),
    };
    let client = HttpEngineClient::new(&url, JwtSecret::random(), config).unwrap();
    let start = Instant::now();
    let err = client
        .get_payload(PayloadId::new([0; 8]))
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, EngineError::Timeout(_)), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_millis(2500),
        "{elapsed:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 4, "1 earlier + 3 attempts");
}

#[test]
fn invalid_url_is_rejected() {
    let err = HttpEngineClient::new(
        "not a url",
        JwtSecret::random(),
        EngineClientConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, EngineError::InvalidUrl(_)), "{err:?}");
    let err = HttpEngineClient::new(
        "ftp://127.0.0.1:8551",
        JwtSecret::random(),
        EngineClientConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, EngineError::InvalidUrl(_)), "{err:?}");
}

#[test]
fn default_config() {
    let c = EngineClientConfig::default();
    assert_eq!(c.request_timeout, Duration::from_secs(8));
    assert_eq!(c.retries, 3);
    assert_eq!(c.retry_backoff, Duration::from_millis(200));
}

#[test]
fn retry_classification() {
    assert!(EngineError::Transport("refused".into()).is_retryable());
    assert!(EngineError::Timeout(Duration::from_secs(1)).is_retryable());
    assert!(EngineError::HttpStatus(502).is_retryable());
    assert!(!EngineError::HttpStatus(400).is_retryable());
    assert!(!EngineError::Unauthorized.is_retryable());
    assert!(!EngineError::InvalidResponse("x".into()).is_retryable());
    assert!(!EngineError::Jwt("x".into()).is_retryable());
    assert!(!EngineError::Server {
        message: "x".into(),
        err: None
    }
    .is_retryable());
    assert!(!EngineError::UnknownPayload("x".into()).is_retryable());
}

/// The trait is usable generically (compile-time check that futures are `Send`).
#[allow(dead_code)]
fn assert_engine_is_send<E: ExecutionEngine>(engine: Arc<E>) {
    fn is_send<T: Send>(_: T) {}
    is_send(async move { engine.forkchoice_updated(fcu_state(), None).await });
}

#[test]
fn client_is_clone_send_sync() {
    fn check<T: Clone + Send + Sync + 'static + ExecutionEngine>() {}
    check::<HttpEngineClient>();
}
