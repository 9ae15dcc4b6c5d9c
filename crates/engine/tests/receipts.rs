//! Where the client reads receipts: the eth JSON-RPC URL given with `with_execution_rpc_url`
//! (no JWT is sent there), else the Engine API URL (with the JWT). Against the JWT-checking
//! mock, which answers 401 to a request without a token and -32601 to `eth_*` methods.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use alys_engine::*;
use alys_test_utils::engine_mock::MockEngine;

fn config() -> EngineClientConfig {
    EngineClientConfig {
        request_timeout: Duration::from_secs(2),
        retries: 0,
        retry_backoff: Duration::from_millis(10),
    }
}

#[tokio::test]
async fn receipts_go_to_the_execution_rpc_url_without_the_jwt() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(secret).await;
    let eth = MockEngine::start(secret).await;
    let client = HttpEngineClient::new(&engine.url(), secret, config())
        .unwrap()
        .with_execution_rpc_url(&eth.url())
        .unwrap();
    assert_eq!(client.execution_rpc_url(), eth.url());

    let err = client
        .block_receipts(B256::repeat_byte(1), 1, &[B256::repeat_byte(2)])
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Unauthorized), "{err}");
    assert!(
        engine.auth().is_empty(),
        "nothing sent to the Engine API URL"
    );
    let seen = eth.auth();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].token.is_none(),
        "no JWT sent to the eth JSON-RPC URL"
    );
}

#[tokio::test]
async fn by_default_receipts_are_asked_on_the_engine_url_with_the_jwt_and_both_methods_tried() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(secret).await;
    let client = HttpEngineClient::new(&engine.url(), secret, config()).unwrap();
    assert_eq!(client.execution_rpc_url(), engine.url());
    // The same URL keeps the authenticated client.
    let client = client.with_execution_rpc_url(&engine.url()).unwrap();

    let err = client
        .block_receipts(B256::repeat_byte(1), 1, &[B256::repeat_byte(2)])
        .await
        .unwrap_err();
    match &err {
        EngineError::MethodNotFound(message) => {
            assert!(message.contains("eth_getBlockReceipts"), "{message}");
            assert!(message.contains("eth_getTransactionReceipt"), "{message}");
        }
        other => panic!("expected -32601, got {other}"),
    }
    let seen = engine.auth();
    assert_eq!(
        seen.len(),
        2,
        "block receipts, then the per-transaction fallback"
    );
    assert!(seen.iter().all(|a| a.accepted));
}

#[test]
fn a_bad_execution_rpc_url_is_a_typed_error() {
    let client =
        HttpEngineClient::new("http://127.0.0.1:8551", JwtSecret::random(), config()).unwrap();
    assert!(matches!(
        client.with_execution_rpc_url("not a url"),
        Err(EngineError::InvalidUrl(_))
    ));
}
