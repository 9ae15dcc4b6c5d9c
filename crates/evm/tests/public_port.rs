//! The eth JSON-RPC port under attack: slow clients that never finish their headers or body,
//! from one address and from many, must not keep a wallet from being answered
//! (`eth_blockNumber`), and are closed after the read timeouts.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::{net::SocketAddr, time::Duration};

use alys_evm::eth::server::RpcServerConfig;
use alys_http_guard::ConnectionLimits;
use alys_test_utils::slowloris::{closed_after, connect_from, loopback, spawn_slow_clients};
use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TIMEOUT: Duration = Duration::from_secs(2);

async fn start(max_connections: usize, max_per_ip: usize) -> TestNode {
    let mut rpc = RpcServerConfig::new("127.0.0.1:0".parse().unwrap());
    rpc.limits = ConnectionLimits {
        max_connections,
        max_per_ip,
        header_read_timeout: TIMEOUT,
        body_read_timeout: TIMEOUT,
    };
    TestNode::start_with_rpc(genesis(&[]), rpc).await
}

/// `eth_blockNumber` from `local` over a fresh connection; the result.
async fn block_number(local: std::net::IpAddr, server: SocketAddr) -> Value {
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).to_string();
    let mut stream = connect_from(local, server).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (_, json) = response.split_once("\r\n\r\n").unwrap();
    serde_json::from_str::<Value>(json).unwrap()["result"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_slow_connections_from_one_address_do_not_stop_a_wallet() {
    let node = start(256, 32).await;
    let slow = spawn_slow_clients(&[loopback(1)], 300, node.addr, "", Duration::from_secs(20));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let answer = tokio::time::timeout(TIMEOUT / 2, block_number(loopback(2), node.addr))
        .await
        .expect("eth_blockNumber answered while the slow clients hold their connections");
    assert_eq!(answer, json!("0x0"));

    let closed = closed_after(slow).await;
    assert!(
        closed.iter().all(Option::is_some),
        "a slow connection stayed open"
    );
    let refused = closed.iter().flatten().filter(|t| **t < TIMEOUT).count();
    assert!(refused >= 300 - 32, "{refused} of 300 refused at once");
    assert!(
        closed.iter().flatten().all(|t| *t < TIMEOUT * 3),
        "{closed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_connections_from_many_addresses_are_closed_after_the_read_timeouts() {
    let node = start(64, 8).await;
    let attackers: Vec<_> = (10..48).map(loopback).collect();
    let slow = spawn_slow_clients(&attackers, 8, node.addr, "", Duration::from_secs(20));
    tokio::time::sleep(TIMEOUT + Duration::from_secs(1)).await;

    let answer = tokio::time::timeout(TIMEOUT, block_number(loopback(2), node.addr))
        .await
        .expect("eth_blockNumber answered once the slow connections timed out");
    assert_eq!(answer, json!("0x0"));
    let closed = closed_after(slow).await;
    assert_eq!(closed.len(), 304);
    assert!(
        closed.iter().all(Option::is_some),
        "a slow connection stayed open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_sessions_count_against_the_address_limit() {
    let node = start(64, 2).await;
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let mut ws = connect_from(loopback(1), node.addr).await.unwrap();
        let upgrade = format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            node.addr
        );
        ws.write_all(upgrade.as_bytes()).await.unwrap();
        let mut buf = [0u8; 512];
        let n = ws.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"));
        sessions.push(ws);
    }
    // Both places of 127.0.0.1 are held by the sessions: a third connection is closed.
    let mut third = connect_from(loopback(1), node.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(TIMEOUT, third.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0) | Err(_))), "{read:?}");
    // Another address is served.
    assert_eq!(block_number(loopback(2), node.addr).await, json!("0x0"));
    drop(sessions);
}
