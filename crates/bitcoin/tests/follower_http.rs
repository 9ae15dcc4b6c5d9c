//! The HTTP client and the follower against a real HTTP JSON-RPC server speaking Bitcoin
//! Core's dialect (an in-memory chain of real blocks behind hyper): typed results and errors,
//! auth, reorgs via `invalidateblock`-style switches, and the server going away mid-run.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alys_bitcoin::rpc::{RPC_INVALID_PARAMETER, RPC_METHOD_NOT_FOUND};
use alys_bitcoin::{
    Auth, BitcoinRpc, ClientConfig, CoreRpcClient, Follower, FollowerConfig, FollowerEvent,
    PegInState, RpcError,
};
use alys_store::Store;
use common::{deposit_tx, federation, wait_for, HttpServer, MemChain};
use parking_lot::Mutex;

const R: [u8; 20] = [0x22; 20];

fn client(addr: SocketAddr, password: &str, retries: u32) -> CoreRpcClient {
    CoreRpcClient::new(
        &format!("http://{addr}"),
        Auth::UserPass {
            user: "alys".into(),
            password: password.into(),
        },
        ClientConfig {
            timeout: Duration::from_secs(5),
            max_retries: retries,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            ..ClientConfig::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn client_methods_and_errors() {
    let chain = Arc::new(Mutex::new(MemChain::new()));
    let fed = federation();
    let dep = deposit_tx(&fed, 10_000, R, 1);
    let h1 = chain.lock().mine(vec![dep.clone()]);
    chain.lock().mine_empty(2);
    let server = HttpServer::start(chain.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let c = client(server.addr, "alys", 0);

    let info = c.get_blockchain_info().await.unwrap();
    assert_eq!((info.chain.as_str(), info.blocks), ("regtest", 3));
    assert_eq!(c.get_block_count().await.unwrap(), 3);
    assert_eq!(c.get_best_block_hash().await.unwrap(), chain.lock().tip());
    assert_eq!(c.get_block_hash(1).await.unwrap(), h1);
    let header = c.get_block_header(&h1).await.unwrap();
    assert_eq!(header.block_hash(), h1);
    let hi = c.get_block_header_info(&h1).await.unwrap();
    assert_eq!((hi.height, hi.confirmations), (1, 3));
    assert!(hi.nextblockhash.is_some());
    let block = c.get_block(&h1).await.unwrap();
    assert_eq!(block.block_hash(), h1);
    assert_eq!(block.txdata[1], dep);
    let fee = c.estimate_smart_fee(2).await.unwrap();
    assert_eq!(fee.sat_per_vb(), Some(10));

    match c.get_block_hash(99).await {
        Err(RpcError::Core { code, message, .. }) => {
            assert_eq!(code, RPC_INVALID_PARAMETER);
            assert!(message.contains("out of range"));
        }
        other => panic!("{other:?}"),
    }
    match c.get_raw_transaction(&dep.compute_txid(), None).await {
        Err(e) => assert_eq!(e.core_code(), Some(RPC_METHOD_NOT_FOUND), "{e}"),
        Ok(_) => panic!("not implemented by the test server"),
    }
    let bad = client(server.addr, "wrong", 0);
    assert_eq!(
        bad.get_block_count().await,
        Err(RpcError::Unauthorized(401))
    );

    // Nothing listening: a connection error, after the configured retries.
    let addr = server.addr;
    server.stop().await;
    let c = client(addr, "alys", 3);
    let t = Instant::now();
    let err = c.get_block_count().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(
        t.elapsed() >= Duration::from_millis(20 + 40 + 80),
        "backoff applied"
    );
}

fn count_deposits(evs: &[FollowerEvent], txid: alys_bitcoin::bitcoin::Txid) -> usize {
    evs.iter()
        .filter(|e| matches!(e, FollowerEvent::Deposit(d) if d.txid == txid))
        .count()
}

#[tokio::test]
async fn follower_over_http_reorgs_and_server_restart() {
    let chain = Arc::new(Mutex::new(MemChain::new()));
    let fed = federation();
    let server = HttpServer::start(chain.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let cfg = FollowerConfig {
        start_height: 1,
        required_confirmations: 3,
        window: 0,
        poll_interval: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    };
    let rpc = Arc::new(client(addr, "alys", 2));
    let f = Follower::open(rpc, Arc::new(fed.clone()), store.clone(), cfg.clone()).unwrap();
    let index = f.index();
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(f.run(tx, stop_rx));
    let mut seen = Vec::new();

    // 1. A deposit reorged out before 3 confirmations is never reported.
    let base = chain.lock().mine_empty(1);
    let d1 = deposit_tx(&fed, 20_000, R, 1);
    let id1 = d1.compute_txid();
    let a = chain.lock().mine(vec![d1.clone()]);
    chain.lock().mine_empty(1);
    wait_for(&mut rx, &mut seen, |s| {
        s.iter()
            .any(|e| matches!(e, FollowerEvent::BlockConnected(b) if b.height == 3))
    })
    .await;
    chain.lock().invalidate(a); // back to `base`
    let mut t = base;
    for _ in 0..3 {
        t = chain.lock().mine_on(t, vec![]);
    }
    wait_for(&mut rx, &mut seen, |s| {
        s.iter()
            .any(|e| matches!(e, FollowerEvent::Dropped(d) if d.txid == id1))
    })
    .await;
    assert_eq!(
        index.status(&id1).unwrap().record.state,
        PegInState::Dropped
    );

    // 2. The same deposit re-mined in another block is reported once.
    let b = chain.lock().mine(vec![d1]);
    chain.lock().mine_empty(2);
    wait_for(&mut rx, &mut seen, |s| count_deposits(s, id1) == 1).await;
    assert!(seen
        .iter()
        .any(|e| matches!(e, FollowerEvent::Deposit(d) if d.block.hash == b)));

    // 3. The server goes away mid-run; blocks keep coming; it comes back on the same port.
    drop(server);
    let d2 = deposit_tx(&fed, 30_000, R, 2);
    let id2 = d2.compute_txid();
    chain.lock().mine(vec![d2]);
    chain.lock().mine_empty(2);
    // The follower tries the address (and fails) while the server is down.
    alys_test_utils::wait::refuse_connections(addr, 3, Duration::from_secs(10)).await;
    assert_eq!(count_deposits(&seen, id2), 0);
    let server = HttpServer::start(chain.clone(), addr).await;
    wait_for(&mut rx, &mut seen, |s| count_deposits(s, id2) == 1).await;

    // 4. The follower process restarts too: no loss, no duplicate.
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    drop(rx);
    let d3 = deposit_tx(&fed, 40_000, R, 3);
    let id3 = d3.compute_txid();
    chain.lock().mine(vec![d3]);
    chain.lock().mine_empty(3);
    let rpc = Arc::new(client(server.addr, "alys", 2));
    let mut f = Follower::open(rpc, Arc::new(fed.clone()), store.clone(), cfg).unwrap();
    let more = f.catch_up().await.unwrap();
    seen.extend(more);
    for id in [id1, id2, id3] {
        assert_eq!(count_deposits(&seen, id), 1, "{id}");
    }
    assert_eq!(f.tip().unwrap().hash, chain.lock().tip());
    assert_eq!(f.index().status(&id3).unwrap().confirmations, 4);
}
