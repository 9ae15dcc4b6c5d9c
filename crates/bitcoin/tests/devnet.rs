//! The follower over HTTP against the embedded regtest Bitcoin (`alys-btc-devnet`, Bitcoin
//! Core 28-compatible RPC): deposits built and signed by the devnet wallet, reorgs forced with
//! `invalidateblock`, and the devnet restarted mid-run on the same datadir and port.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::sync::Arc;
use std::time::Duration;

use alys_bitcoin::bitcoin::Txid;
use alys_bitcoin::{
    BitcoinRpc, ClientConfig, CoreRpcClient, Follower, FollowerConfig, FollowerEvent, PegInState,
};
use alys_btc_devnet::BtcDevnet;
use alys_federation::Federation;
use alys_store::Store;
use alys_test_utils::devnet::{core_client, start_devnet, start_devnet_at};
use common::{federation, wait_for};
use serde_json::{json, Value};

fn client(dev: &BtcDevnet) -> CoreRpcClient {
    core_client(
        dev,
        ClientConfig {
            timeout: Duration::from_secs(10),
            max_retries: 2,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            ..ClientConfig::default()
        },
    )
}

async fn start(dir: &std::path::Path, addr: std::net::SocketAddr) -> BtcDevnet {
    start_devnet_at(Some(dir), addr).await
}

async fn mine(c: &CoreRpcClient, n: u64) -> Vec<String> {
    let addr = c.call("getnewaddress", vec![]).await.unwrap();
    let v = c
        .call("generatetoaddress", vec![json!(n), addr])
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

/// Builds, funds and signs a deposit with the devnet wallet and broadcasts it.
async fn send_deposit(c: &CoreRpcClient, fed: &Federation, btc: f64, recipient: [u8; 20]) -> Txid {
    let raw = c
        .call(
            "createrawtransaction",
            vec![
                json!([]),
                json!([{ fed.address().to_string(): btc }, { "data": hex::encode(recipient) }]),
            ],
        )
        .await
        .unwrap();
    let funded = c.call("fundrawtransaction", vec![raw]).await.unwrap();
    let signed = c
        .call("signrawtransactionwithwallet", vec![funded["hex"].clone()])
        .await
        .unwrap();
    assert_eq!(signed["complete"], json!(true), "{signed}");
    let txid = c
        .call("sendrawtransaction", vec![signed["hex"].clone()])
        .await
        .unwrap();
    txid.as_str().unwrap().parse().unwrap()
}

fn deposits_of(evs: &[FollowerEvent], txid: Txid) -> Vec<alys_bitcoin::FoundDeposit> {
    evs.iter()
        .filter_map(|e| match e {
            FollowerEvent::Deposit(d) if d.txid == txid => Some(d.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_against_btc_devnet() {
    let btc_dir = tempfile::tempdir().unwrap();
    let node_dir = tempfile::tempdir().unwrap();
    let dev = start(btc_dir.path(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = dev.local_addr();
    let c = client(&dev);
    let fed = federation();
    mine(&c, 101).await; // mature coinbase for the dev wallet
    let start_height = c.get_block_count().await.unwrap() + 1;

    let store = Arc::new(Store::open(node_dir.path()).unwrap());
    let cfg = FollowerConfig {
        start_height,
        required_confirmations: 3,
        window: 0,
        poll_interval: Duration::from_millis(25),
        max_backoff: Duration::from_millis(200),
    };
    let f = Follower::open(
        Arc::new(client(&dev)),
        Arc::new(fed.clone()),
        store.clone(),
        cfg.clone(),
    )
    .unwrap();
    let index = f.index();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(f.run(tx, stop_rx));
    let mut seen = Vec::new();

    // 1. A deposit reorged out (invalidateblock) at 2 confirmations is dropped, not reported.
    let d1 = send_deposit(&c, &fed, 0.0005, [0x33; 20]).await;
    let a: alys_bitcoin::bitcoin::BlockHash = mine(&c, 1).await[0].parse().unwrap();
    mine(&c, 1).await;
    wait_for(&mut rx, &mut seen, |s| {
        s.iter()
            .any(|e| matches!(e, FollowerEvent::BlockConnected(b) if b.height == start_height + 1))
    })
    .await;
    assert_eq!(index.status(&d1).unwrap().confirmations, 2);
    c.call("invalidateblock", vec![json!(a.to_string())])
        .await
        .unwrap();
    wait_for(&mut rx, &mut seen, |s| {
        s.iter()
            .any(|e| matches!(e, FollowerEvent::Dropped(d) if d.txid == d1 && d.block.hash == a))
    })
    .await;
    assert!(deposits_of(&seen, d1).is_empty());
    assert_eq!(index.status(&d1).unwrap().record.state, PegInState::Dropped);

    // 2. Re-mined in another block (back from the mempool, or re-sent): reported once.
    let pool = c.call("getrawmempool", vec![]).await.unwrap();
    if !pool
        .as_array()
        .is_some_and(|p| p.iter().any(|t| t.as_str() == Some(&d1.to_string())))
    {
        let raw = c
            .call(
                "getrawtransaction",
                vec![json!(d1.to_string()), json!(false), json!(a.to_string())],
            )
            .await
            .unwrap();
        c.call("sendrawtransaction", vec![raw]).await.unwrap();
    }
    mine(&c, 3).await;
    wait_for(&mut rx, &mut seen, |s| deposits_of(s, d1).len() == 1).await;
    let got = &deposits_of(&seen, d1)[0];
    assert_ne!(got.block.hash, a);
    assert_eq!(
        (got.sats, got.recipient.0 .0),
        (alys_primitives::Sats(50_000), [0x33; 20])
    );

    // 3. The devnet goes away after the deposit's first confirmation and comes back on the
    //    same datadir and port: reported once, after the restart.
    let d2 = send_deposit(&c, &fed, 0.0007, [0x44; 20]).await;
    mine(&c, 1).await;
    wait_for(&mut rx, &mut seen, |s| {
        s.iter()
            .any(|e| matches!(e, FollowerEvent::DepositSeen(d) if d.txid == d2))
    })
    .await;
    dev.shutdown().await;
    // The follower tries the address (and fails) while the devnet is down.
    alys_test_utils::wait::refuse_connections(addr, 3, Duration::from_secs(10)).await;
    let dev = start(btc_dir.path(), addr).await;
    let c = client(&dev);
    mine(&c, 2).await;
    wait_for(&mut rx, &mut seen, |s| deposits_of(s, d2).len() == 1).await;

    // 4. The follower restarts too: nothing lost, nothing repeated.
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    while let Ok(ev) = rx.try_recv() {
        seen.push(ev);
    }
    let d3 = send_deposit(&c, &fed, 0.0009, [0x55; 20]).await;
    mine(&c, 3).await;
    let mut f = Follower::open(
        Arc::new(client(&dev)),
        Arc::new(fed.clone()),
        store.clone(),
        cfg,
    )
    .unwrap();
    seen.extend(f.catch_up().await.unwrap());
    for (d, sats) in [(d1, 50_000), (d2, 70_000), (d3, 90_000)] {
        let got = deposits_of(&seen, d);
        assert_eq!(got.len(), 1, "deposit {d} reported exactly once");
        assert_eq!(got[0].sats, alys_primitives::Sats(sats));
    }
    assert_eq!(
        f.tip().unwrap().hash,
        c.get_best_block_hash().await.unwrap()
    );
    assert_eq!(f.index().status(&d3).unwrap().confirmations, 3);
    dev.shutdown().await;
}

#[tokio::test]
async fn devnet_rpc_shapes_decode() {
    let dev = start_devnet(None).await;
    let c = client(&dev);
    mine(&c, 3).await;
    let info = c.get_blockchain_info().await.unwrap();
    assert_eq!((info.chain.as_str(), info.blocks), ("regtest", 3));
    let best = c.get_best_block_hash().await.unwrap();
    let h = c.get_block_header_info(&best).await.unwrap();
    assert_eq!((h.height, h.confirmations, h.nextblockhash), (3, 1, None));
    let block = c.get_block(&best).await.unwrap();
    assert_eq!(block.block_hash(), best);
    assert_eq!(c.get_block_header(&best).await.unwrap(), block.header);
    let cb = &block.txdata[0];
    let tx = c
        .get_raw_transaction(&cb.compute_txid(), Some(&best))
        .await
        .unwrap();
    assert_eq!(&tx, cb);
    assert!(c
        .estimate_smart_fee(6)
        .await
        .unwrap()
        .sat_per_vb()
        .is_some());
    let res = c
        .test_mempool_accept(std::slice::from_ref(cb))
        .await
        .unwrap();
    assert_eq!(res[0].allowed, Some(false));
    let err = c.send_raw_transaction(cb).await.unwrap_err();
    assert!(err.core_code().is_some(), "{err}");
    let _: Value = c.call("getblockcount", vec![]).await.unwrap();
    dev.shutdown().await;
}
