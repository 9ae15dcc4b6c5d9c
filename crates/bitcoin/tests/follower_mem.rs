//! Follower over an in-memory chain of real rust-bitcoin blocks (Core's RPC semantics, no
//! HTTP): confirmation rule, reorgs, rejections, restart and outage.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use alys_bitcoin::{
    BitcoinRpc, Follower, FollowerConfig, FollowerError, FollowerEvent, PegInState, StateError,
    Step,
};
use alys_store::Store;
use common::{deposit_tx, federation, no_op_return_tx, other_tx, MemRpc};

const R: [u8; 20] = [0x11; 20];

fn config(required: u32) -> FollowerConfig {
    FollowerConfig {
        start_height: 1,
        required_confirmations: required,
        window: 0,
        poll_interval: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    }
}

fn open(rpc: &MemRpc, store: &Arc<Store>, required: u32) -> Follower {
    Follower::open(
        Arc::new(rpc.clone()),
        Arc::new(federation()),
        store.clone(),
        config(required),
    )
    .unwrap()
}

fn deposits(evs: &[FollowerEvent]) -> Vec<alys_bitcoin::FoundDeposit> {
    evs.iter()
        .filter_map(|e| match e {
            FollowerEvent::Deposit(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn deposit_reported_exactly_at_required_confirmations() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let rpc = MemRpc::default();
    let fed = federation();
    let mut f = open(&rpc, &store, 3);
    assert!(
        f.catch_up().await.unwrap().is_empty(),
        "nothing at start height 1 yet"
    );

    let tx = deposit_tx(&fed, 50_000, R, 1);
    let txid = tx.compute_txid();
    rpc.chain.lock().mine(vec![other_tx(9), tx]); // height 1
    let evs = f.catch_up().await.unwrap();
    assert!(deposits(&evs).is_empty());
    assert!(evs
        .iter()
        .any(|e| matches!(e, FollowerEvent::DepositSeen(d) if d.txid == txid)));
    let st = f.index().status(&txid).unwrap();
    assert_eq!(
        (st.record.state.clone(), st.confirmations),
        (PegInState::Seen, 1)
    );

    rpc.chain.lock().mine_empty(1); // 2 confirmations
    assert!(deposits(&f.catch_up().await.unwrap()).is_empty());
    assert_eq!(f.index().status(&txid).unwrap().confirmations, 2);

    rpc.chain.lock().mine_empty(1); // 3 confirmations
    let got = deposits(&f.catch_up().await.unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].txid, got[0].sats, got[0].recipient),
        (
            txid,
            alys_primitives::Sats(50_000),
            alys_primitives::Address::from(R)
        )
    );
    assert_eq!(got[0].block.height, 1);
    assert_eq!(
        got[0].outputs(),
        vec![alys_bitcoin::DepositOutput {
            vout: 0,
            sats: alys_primitives::Sats(50_000)
        }]
    );
    let st = f.index().status(&txid).unwrap();
    assert_eq!(
        (st.record.state.clone(), st.confirmations),
        (PegInState::Confirmed, 3)
    );
    assert_eq!(f.index().confirmed_unminted().len(), 1);

    rpc.chain.lock().mine_empty(5);
    assert!(
        deposits(&f.catch_up().await.unwrap()).is_empty(),
        "reported once"
    );
    assert_eq!(f.index().status(&txid).unwrap().confirmations, 8);

    f.index().set_minted(&txid, Some([7u8; 32].into())).unwrap();
    assert!(f.index().confirmed_unminted().is_empty());
}

#[tokio::test]
async fn deposit_reorged_out_before_confirmation_is_never_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let rpc = MemRpc::default();
    let fed = federation();
    let mut f = open(&rpc, &store, 3);
    let base = rpc.chain.lock().mine_empty(1); // h1
    let tx = deposit_tx(&fed, 50_000, R, 2);
    let txid = tx.compute_txid();
    let a = rpc.chain.lock().mine(vec![tx]); // h2 with the deposit
    rpc.chain.lock().mine_empty(1); // h3: 2 confirmations
    assert!(deposits(&f.catch_up().await.unwrap()).is_empty());

    // A longer branch from h1 without the deposit.
    let mut tip = base;
    for _ in 0..4 {
        tip = rpc.chain.lock().mine_on(tip, vec![]);
    }
    assert_eq!(rpc.chain.lock().tip(), tip);
    let evs = f.catch_up().await.unwrap();
    assert!(deposits(&evs).is_empty());
    assert!(evs
        .iter()
        .any(|e| matches!(e, FollowerEvent::Dropped(d) if d.txid == txid && d.block.hash == a)));
    assert!(evs
        .iter()
        .any(|e| matches!(e, FollowerEvent::BlockDisconnected(b) if b.hash == a)));
    let st = f.index().status(&txid).unwrap();
    assert_eq!(
        (st.record.state, st.confirmations),
        (PegInState::Dropped, 0)
    );

    rpc.chain.lock().mine_empty(10);
    assert!(deposits(&f.catch_up().await.unwrap()).is_empty());
    assert_eq!(f.tip().unwrap().hash, rpc.chain.lock().tip());
}

#[tokio::test]
async fn deposit_remined_in_another_block_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let rpc = MemRpc::default();
    let fed = federation();
    let mut f = open(&rpc, &store, 3);
    let base = rpc.chain.lock().mine_empty(1);
    let tx = deposit_tx(&fed, 70_000, R, 3);
    let txid = tx.compute_txid();
    rpc.chain.lock().mine(vec![tx.clone()]);
    let mut all = f.catch_up().await.unwrap();

    // Fork: the same tx re-mined one block later on a longer branch.
    let b1 = rpc.chain.lock().mine_on(base, vec![other_tx(50)]);
    let b2 = rpc.chain.lock().mine_on(b1, vec![tx]);
    let _ = rpc.chain.lock().mine_on(b2, vec![]);
    all.extend(f.catch_up().await.unwrap());
    rpc.chain.lock().mine_empty(6);
    all.extend(f.catch_up().await.unwrap());
    let got = deposits(&all);
    assert_eq!(got.len(), 1, "{all:#?}");
    assert_eq!(
        (got[0].txid, got[0].block.hash, got[0].block.height),
        (txid, b2, 3)
    );
    assert!(all
        .iter()
        .any(|e| matches!(e, FollowerEvent::Dropped(d) if d.txid == txid)));
    assert_eq!(
        f.index().status(&txid).unwrap().record.state,
        PegInState::Confirmed
    );
}

#[tokio::test]
async fn reported_deposit_reorged_out_is_reverted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let rpc = MemRpc::default();
    let fed = federation();
    let mut f = open(&rpc, &store, 2);
    let base = rpc.chain.lock().mine_empty(1);
    let tx = deposit_tx(&fed, 70_000, R, 4);
    rpc.chain.lock().mine(vec![tx]);
    rpc.chain.lock().mine_empty(1);
    assert_eq!(deposits(&f.catch_up().await.unwrap()).len(), 1);
    let mut t = base;
    for _ in 0..3 {
        t = rpc.chain.lock().mine_on(t, vec![]);
    }
    let evs = f.catch_up().await.unwrap();
    assert_eq!(
        evs.iter()
            .filter(|e| matches!(e, FollowerEvent::Reverted(_)))
            .count(),
        1
    );
}

#[tokio::test]
async fn rejections_are_indexed_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let rpc = MemRpc::default();
    let fed = federation();
    let mut f = open(&rpc, &store, 1);
    let small = deposit_tx(&fed, 999, R, 5);
    let bare = no_op_return_tx(&fed, 50_000, 6);
    let mut split = deposit_tx(&fed, 600, R, 7);
    split.output.push(split.output[0].clone()); // 2 × 600 = 1,200 ≥ 1,000
    let (s, b, sp) = (
        small.compute_txid(),
        bare.compute_txid(),
        split.compute_txid(),
    );
    rpc.chain.lock().mine(vec![small, bare, split]);
    let evs = f.catch_up().await.unwrap();
    let idx = f.index();
    match idx.status(&s).unwrap().record.state {
        PegInState::Rejected { reason } => {
            assert!(reason.contains("below the minimum"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    match idx.status(&b).unwrap().record.state {
        PegInState::Rejected { reason } => assert!(reason.contains("no OP_RETURN"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let d = deposits(&evs);
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].txid, d[0].sats, d[0].vouts.clone()),
        (sp, alys_primitives::Sats(1_200), vec![0, 2])
    );
    // Serialized status is what getpeginstatus would return.
    let json = serde_json::to_value(idx.status(&s).unwrap()).unwrap();
    assert_eq!(json["state"], "rejected");
    assert_eq!(json["confirmations"], 1);
}

#[tokio::test]
async fn restart_neither_loses_nor_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let rpc = MemRpc::default();
    let fed = federation();
    let mut reported = Vec::new();
    let txs: Vec<_> = (0..6)
        .map(|i| deposit_tx(&fed, 10_000 + i, R, 100 + i))
        .collect();
    for (i, tx) in txs.iter().enumerate() {
        rpc.chain.lock().mine(vec![tx.clone()]);
        rpc.chain.lock().mine_empty(i % 3);
        // A fresh follower process each round, on the same datadir, stopping mid-way.
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let mut f = open(&rpc, &store, 3);
        for _ in 0..(i + 1) {
            if let Step::Progress(evs) = f.step().await.unwrap() {
                reported.extend(deposits(&evs));
            }
        }
    }
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let mut f = open(&rpc, &store, 3);
    rpc.chain.lock().mine_empty(3);
    reported.extend(deposits(&f.catch_up().await.unwrap()));
    let mut ids: Vec<_> = reported.iter().map(|d| d.txid).collect();
    ids.sort();
    let mut want: Vec<_> = txs.iter().map(|t| t.compute_txid()).collect();
    want.sort();
    assert_eq!(ids, want, "each deposit exactly once across restarts");
    // A different configuration on the same datadir is refused.
    drop(f);
    let err = Follower::open(
        Arc::new(rpc.clone()),
        Arc::new(federation()),
        store.clone(),
        config(4),
    )
    .unwrap_err();
    assert!(matches!(err, FollowerError::ConfigMismatch { .. }), "{err}");
}

#[tokio::test]
async fn rpc_outage_is_retried_and_run_continues() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let rpc = MemRpc::default();
    let fed = federation();
    let mut f = open(&rpc, &store, 2);
    rpc.offline.store(true, Ordering::SeqCst);
    match f.step().await {
        Err(FollowerError::Rpc(e)) => assert!(e.is_transient()),
        other => panic!("{other:?}"),
    }
    let (tx_ev, mut rx) = tokio::sync::mpsc::channel(64);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(f.run(tx_ev, stop_rx));
    let dep = deposit_tx(&fed, 42_000, R, 8);
    let txid = dep.compute_txid();
    rpc.chain.lock().mine(vec![dep]);
    rpc.chain.lock().mine_empty(2);
    // The running follower tries (and fails) while the node is offline (the first permit is
    // the refused `step` above).
    let refused = rpc.refused.clone();
    tokio::time::timeout(Duration::from_secs(10), async {
        refused.notified().await;
        refused.notified().await;
    })
    .await
    .expect("the follower polls while the node is offline");
    rpc.offline.store(false, Ordering::SeqCst);
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(FollowerEvent::Deposit(d)) = rx.recv().await {
                return d;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(got.txid, txid);
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn reorg_deeper_than_window_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let rpc = MemRpc::default();
    let mut f = open(&rpc, &store, 1); // window = 1 + 6 = 7
    rpc.chain.lock().mine_empty(20);
    f.catch_up().await.unwrap();
    assert_eq!(f.state().window().count(), 7);
    let fork_base = rpc.chain.lock().active[5];
    let mut t = fork_base;
    for _ in 0..25 {
        t = rpc.chain.lock().mine_on(t, vec![]);
    }
    let err = f.catch_up().await.unwrap_err();
    assert!(
        matches!(err, FollowerError::State(StateError::ReorgTooDeep { .. })),
        "{err}"
    );
    let _ = rpc.get_block_count().await.unwrap();
}
