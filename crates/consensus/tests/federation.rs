//! Three authorities in one process, each with its own embedded EL (real Engine API over
//! HTTP + JWT) and store, connected by the in-process bus: 100 consecutive slots, every block
//! imported by all three with threshold approvals from the expected proposer. Then restart:
//! the chain resumes from the store and re-drives an EL that lost its state.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alys_consensus::schedule::proposer_index;
use alys_consensus::{ChainStatus, Input, NoPegIns};
use alys_test_utils::el::TestEl;
use alys_test_utils::federation::{manual_clock, start_nodes, temp_dirs};
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SLOTS: u64 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_authorities_produce_100_blocks() {
    let spec = spec();
    let time = manual_time();
    let (_dirs, nodes) = start_three(&spec, &time).await;
    let RunningFederation {
        inputs,
        mut statuses,
        stores,
        net,
        els,
    } = run_federation(&spec, nodes);

    let first = time_slot(&time) + 1;
    let mut latencies = Vec::new();
    for slot in first..first + SLOTS {
        time.set_ms(slot * spec.slot_duration_ms);
        let start = Instant::now();
        for tx in &inputs {
            tx.send(Input::Tick { slot }).await.expect("service alive");
        }
        for (i, st) in statuses.iter_mut().enumerate() {
            tokio::time::timeout(
                Duration::from_secs(20),
                st.wait_for(|s| s.head_slot >= slot),
            )
            .await
            .unwrap_or_else(|_| panic!("node {i} did not import slot {slot}"))
            .expect("status");
        }
        latencies.push(start.elapsed());
    }
    latencies.sort();
    eprintln!(
        "slot → imported on all 3: p50 {:?}, p99 {:?}, max {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
        latencies[latencies.len() - 1]
    );

    // Every node has the same 100 blocks, one per slot, each approved by ≥ threshold
    // authorities including the slot's proposer.
    let heads: Vec<_> = statuses.iter().map(|s| s.borrow().clone()).collect();
    assert!(heads.iter().all(|h| h == &heads[0]), "{heads:?}");
    assert_eq!(heads[0].head_height, SLOTS);
    for height in 1..=SLOTS {
        let roots: Vec<_> = stores
            .iter()
            .map(|s| {
                s.canonical_root(height)
                    .expect("store")
                    .expect("canonical block")
            })
            .collect();
        assert!(roots.iter().all(|r| *r == roots[0]), "height {height}");
        let block = stores[0].block(&roots[0]).expect("store").expect("block");
        let slot = first + height - 1;
        assert_eq!(block.message.slot, slot);
        let signers = block.approval.signers();
        assert!(
            signers.len() >= spec.approval_threshold,
            "height {height}: {signers:?}"
        );
        assert!(
            signers.contains(&proposer_index(slot, 3)),
            "proposer signed slot {slot}"
        );
        assert_eq!(block.approval.bitfield.len(), 3);
    }
    net.shutdown();
    for el in els {
        el.stop().await;
    }
}

fn time_slot(time: &alys_consensus::ManualTimeSource) -> u64 {
    use alys_consensus::TimeSource;
    time.now_ms() / 1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_and_redrives_a_lagging_el() {
    let spec = spec();
    let time = manual_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let TestNode {
        el,
        mut chain,
        engine,
        ..
    } = node(dir.path(), spec.clone(), &time).await;
    let first = time_slot(&time) + 1;
    for slot in first..first + 5 {
        extend(&mut chain, &time, slot).await;
    }
    let head = chain.status();
    assert_eq!(head.head_height, 5);
    drop(chain);

    // Same EL, same store: resumes at the same head and keeps producing.
    let mut chain = open_chain(dir.path(), spec.clone(), &time, engine, Arc::new(NoPegIns)).await;
    assert_eq!(chain.status(), head);
    extend(&mut chain, &time, first + 5).await;
    let head = chain.status();
    drop(chain);
    el.stop().await;

    // A fresh EL with no blocks: opening the chain replays the stored payloads.
    let fresh = tempfile::tempdir().expect("tempdir");
    let TestEl { el, engine, .. } = TestEl::start(fresh.path(), spec.genesis.clone()).await;
    let mut chain = open_chain(dir.path(), spec.clone(), &time, engine, Arc::new(NoPegIns)).await;
    assert_eq!(chain.status(), head);
    // The EL is at our head: producing on it works.
    let next = extend(&mut chain, &time, first + 6).await;
    assert_eq!(chain.head().root, next.root());
    assert_eq!(chain.head().height, 7);
    drop(chain);
    el.stop().await;
}

struct Federation {
    _dirs: Vec<tempfile::TempDir>,
    fed: RunningFederation,
}

async fn federation(
    spec: Arc<alys_primitives::ChainSpec>,
    time: &alys_consensus::ManualTimeSource,
) -> Federation {
    let dirs = temp_dirs(spec.authorities.len());
    let clock = manual_clock(&spec, time);
    let nodes = start_nodes(&dirs, &spec, &clock, |_| Arc::new(NoPegIns)).await;
    Federation {
        _dirs: dirs,
        fed: run_federation(&spec, nodes),
    }
}

async fn tick(f: &Federation, time: &alys_consensus::ManualTimeSource, slot: u64) {
    time.set_ms(slot * 1000);
    for tx in &f.fed.inputs {
        tx.send(Input::Tick { slot }).await.expect("service alive");
    }
}

async fn wait_all(f: &mut Federation, pred: impl Fn(&ChainStatus) -> bool + Copy) {
    for (i, st) in f.fed.statuses.iter_mut().enumerate() {
        let reached = matches!(
            tokio::time::timeout(Duration::from_secs(20), st.wait_for(pred)).await,
            Ok(Ok(_))
        );
        let last = st.borrow().clone();
        assert!(reached, "node {i}: condition not reached: {last:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_authority_produces_alone() {
    let mut spec = (*spec()).clone();
    spec.authorities.truncate(1);
    spec.authority_proofs_of_possession.truncate(1);
    spec.approval_threshold = 1;
    let spec = Arc::new(spec);
    let time = manual_time();
    let mut f = federation(spec, &time).await;
    let first = time_slot(&time) + 1;
    for slot in first..first + 5 {
        tick(&f, &time, slot).await;
        wait_all(&mut f, |s| s.head_slot >= slot).await;
    }
    assert_eq!(f.fed.statuses[0].borrow().head_height, 5);
    f.fed.net.shutdown();
    for el in f.fed.els {
        el.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partition_then_heal_converges() {
    let spec = spec();
    let time = manual_time();
    let mut f = federation(spec, &time).await;
    let first = time_slot(&time) + 1;
    // Node 2 is cut off: {0, 1} still reach the threshold of 2 in their own slots.
    f.fed.net.partition(vec![vec![0, 1], vec![2]]);
    for slot in first..first + 6 {
        tick(&f, &time, slot).await;
        // Let the majority settle on its slots (slots of proposer 2 produce nothing there).
        if proposer_index(slot, 3) != 2 {
            for st in f.fed.statuses[..2].iter_mut() {
                tokio::time::timeout(
                    Duration::from_secs(20),
                    st.wait_for(|s| s.head_slot >= slot),
                )
                .await
                .expect("majority progresses")
                .expect("status");
            }
        }
    }
    assert_eq!(
        f.fed.statuses[2].borrow().head_height,
        0,
        "the minority cannot finalize approvals alone"
    );
    // After healing, the minority catches up from the held messages before the next slot.
    let majority = f.fed.statuses[0].borrow().clone();
    assert_eq!(f.fed.statuses[1].borrow().head_root, majority.head_root);
    f.fed.net.heal();
    wait_all(&mut f, |s| s.head_root == majority.head_root).await;
    for slot in first + 6..first + 9 {
        tick(&f, &time, slot).await;
        wait_all(&mut f, |s| s.head_slot >= slot).await;
    }
    let heads: Vec<_> = f.fed.statuses.iter().map(|s| s.borrow().clone()).collect();
    assert!(heads.iter().all(|h| h == &heads[0]), "{heads:#?}");
    f.fed.net.shutdown();
    for el in f.fed.els {
        el.stop().await;
    }
}
