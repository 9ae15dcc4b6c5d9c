//! Miner RPC throughput: `createauxblock` and `createauxblock` + `submitauxblock` (verified
//! proofs, regtest target) per second over HTTP with concurrent JSON-RPC 1.0 clients. The
//! consensus service is replaced by its channels (status watch, drained inputs), so this
//! measures the RPC path itself: HTTP, auth, JSON, job table, AuxPoW decode and verify.
//!
//! `cargo bench -p alys-rpc --bench miner_rpc` (env `CLIENTS`, `SECS` to change the load).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256};
use alys_auxpow::bitcoin::Target;
use alys_auxpow::miner_rpc_types::CreateAuxBlockResponse;
use alys_auxpow::ParentBlockBuilder;
use alys_consensus::{ChainStatus, PowStatus};
use alys_primitives::ChainSpec;
use alys_rpc::{Credentials, Methods, MinerView, RpcServer};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

async fn call(client: &reqwest::Client, url: &str, method: &str, params: Value) -> Value {
    client
        .post(url)
        .basic_auth("alys", Some("alys"))
        .json(&json!({"jsonrpc": "1.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

async fn run(url: &str, clients: usize, secs: u64, submit: bool) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (url, done) = (url.to_string(), done.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let payout = Address::repeat_byte(c as u8 + 1).to_string();
            let mut extra = 0u64;
            while Instant::now() < deadline {
                let work = call(&client, &url, "createauxblock", json!([payout])).await;
                let work: CreateAuxBlockResponse =
                    serde_json::from_value(work["result"].clone()).expect("work");
                done.fetch_add(1, Ordering::Relaxed);
                if submit {
                    extra += 1;
                    let builder = ParentBlockBuilder {
                        extra_nonce: (c as u64) << 32 | extra,
                        ..ParentBlockBuilder::default()
                    };
                    let target: Target = work.target;
                    let aux = builder.mine(&work.hash, &target, 1 << 20).expect("mined");
                    let r = call(
                        &client,
                        &url,
                        "submitauxblock",
                        json!([work.hash.to_rpc_hex(), aux.to_hex()]),
                    )
                    .await;
                    assert_eq!(r["result"], true, "{r}");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let start = Instant::now();
    for t in tasks {
        t.await.expect("client");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let clients: usize = std::env::var("CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let secs: u64 = std::env::var("SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let status = ChainStatus {
        head_root: B256::repeat_byte(0xaa),
        head_height: 10,
        pow: PowStatus {
            enabled: true,
            range_start: 1,
            bits: 0x207f_ffff,
            ..PowStatus::default()
        },
        ..ChainStatus::default()
    };
    let (_status_tx, status_rx) = watch::channel(status);
    let (in_tx, mut in_rx) = mpsc::channel(1024);
    tokio::spawn(async move { while in_rx.recv().await.is_some() {} });
    let mut methods = Methods::new();
    alys_rpc::register_miner_methods(
        &mut methods,
        MinerView {
            status: status_rx,
            spec: Arc::new(ChainSpec::dev(1).expect("dev spec")),
            inputs: in_tx,
            default_payout: None,
        },
    );
    let server = RpcServer::start(
        "127.0.0.1:0".parse().expect("addr"),
        methods,
        Credentials {
            user: "alys".into(),
            password: "alys".into(),
        },
    )
    .await
    .expect("server");
    let url = format!("http://{}", server.local_addr());
    let create = run(&url, clients, secs, false).await;
    println!("createauxblock: {create:.0} requests/s ({clients} concurrent clients, {secs} s)");
    let both = run(&url, clients, secs, true).await;
    println!(
        "createauxblock + submitauxblock (verified proof): {both:.0} requests/s ({clients} concurrent clients, {secs} s)"
    );
    server.stop();
}
