//! The node RPC port under attack: slow clients that never finish their headers or body, from
//! one address and from many, must not keep a pool from getting work (`createauxblock`), and
//! are closed after the read timeouts.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::{net::SocketAddr, sync::Arc, time::Duration};

use alloy_primitives::{Address, B256};
use alys_consensus::{ChainStatus, PowStatus};
use alys_primitives::ChainSpec;
use alys_rpc::{ConnectionLimits, Credentials, Methods, MinerView, RpcServer};
use alys_test_utils::slowloris::{closed_after, connect_from, loopback, spawn_slow_clients};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::{mpsc, watch},
};

/// `alys:alys`.
const AUTH: &str = "Authorization: Basic YWx5czphbHlz\r\n";
const TIMEOUT: Duration = Duration::from_secs(2);

async fn start(limits: ConnectionLimits) -> (RpcServer, watch::Sender<ChainStatus>) {
    let status = ChainStatus {
        head_root: B256::repeat_byte(0xaa),
        head_height: 5,
        pow: PowStatus {
            enabled: true,
            range_start: 1,
            bits: 0x207f_ffff,
            max_blocks_without_pow: 3600,
            ..PowStatus::default()
        },
        ..ChainStatus::default()
    };
    let (status_tx, status_rx) = watch::channel(status);
    let (inputs, _) = mpsc::channel(16);
    let mut methods = Methods::new();
    alys_rpc::register_miner_methods(
        &mut methods,
        MinerView {
            status: status_rx,
            spec: Arc::new(ChainSpec::dev(1).unwrap()),
            inputs,
            default_payout: Some(Address::repeat_byte(0xd0)),
        },
    );
    let credentials = Credentials {
        user: "alys".into(),
        password: "alys".into(),
    };
    let server = RpcServer::start_with_public(
        "127.0.0.1:0".parse().unwrap(),
        methods,
        credentials,
        None,
        limits,
    )
    .await
    .unwrap();
    (server, status_tx)
}

/// `createauxblock` from `local` over a fresh connection, as a pool sends it; the result.
async fn create_aux_block(local: std::net::IpAddr, server: SocketAddr) -> Value {
    let body = json!({"jsonrpc": "1.0", "id": 1, "method": "createauxblock",
        "params": [format!("{:#x}", Address::repeat_byte(0x11))]})
    .to_string();
    let mut stream = connect_from(local, server).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {server}\r\n{AUTH}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (_, json) = response.split_once("\r\n\r\n").unwrap();
    serde_json::from_str::<Value>(json).unwrap()["result"].clone()
}

fn limits(max_connections: usize, max_per_ip: usize) -> ConnectionLimits {
    ConnectionLimits {
        max_connections,
        max_per_ip,
        header_read_timeout: TIMEOUT,
        body_read_timeout: TIMEOUT,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_slow_connections_from_one_address_do_not_stop_a_pool() {
    let (server, _status) = start(limits(256, 32)).await;
    let addr = server.local_addr();
    let slow = spawn_slow_clients(&[loopback(1)], 300, addr, AUTH, Duration::from_secs(20));
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A pool on another address gets work at once.
    let work = tokio::time::timeout(TIMEOUT / 2, create_aux_block(loopback(2), addr))
        .await
        .expect("createauxblock answered while the slow clients hold their connections");
    assert_eq!(work["hash"].as_str().unwrap().len(), 64, "{work}");

    // The address over its limit was refused; every slow connection is closed after the
    // timeouts.
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
    let (server, _status) = start(limits(64, 8)).await;
    let addr = server.local_addr();
    // 38 addresses × 8 connections: more than the server holds.
    let attackers: Vec<_> = (10..48).map(loopback).collect();
    let slow = spawn_slow_clients(&attackers, 8, addr, AUTH, Duration::from_secs(20));
    tokio::time::sleep(TIMEOUT + Duration::from_secs(1)).await;

    // The header and body timeouts freed the places the slow clients held.
    let work = tokio::time::timeout(TIMEOUT, create_aux_block(loopback(2), addr))
        .await
        .expect("createauxblock answered once the slow connections timed out");
    assert_eq!(work["hash"].as_str().unwrap().len(), 64, "{work}");
    let closed = closed_after(slow).await;
    assert_eq!(closed.len(), 304);
    assert!(
        closed.iter().all(Option::is_some),
        "a slow connection stayed open"
    );
}
