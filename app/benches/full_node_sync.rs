//! Fresh full-node sync over the network against local import of the same blocks (the limit).
//!
//! 1. **Build**: 3 authorities (threshold 2) in this process, each with its own embedded
//!    execution client over the Engine API and its own store, produce `ALYS_BENCH_BLOCKS`
//!    blocks (default 5,000) of `ALYS_BENCH_TXS_PER_BLOCK` transfers each (default 20) on a
//!    manual clock that ends near the present, so the chain is valid for nodes on the wall
//!    clock. Merged mining is off in this chain (no miner runs; nothing halts or finalizes).
//! 2. **Local import**: a fresh node in this process (its own embedded execution client and
//!    store) imports the same blocks read from authority 0's store, one after the other, with
//!    the full checks of [`alys_consensus::Chain::import_block`]: approvals, the execution
//!    client's `VALID`, fees. No network: the limit of what a syncing node can reach.
//! 3. **Network sync**: authority 0's datadir is served by an `alys node` full-node process;
//!    a fresh `alys node` full node with it as bootnode syncs to its head over p2p (blocks by
//!    range from the peer, each verified and imported the same way).
//!
//! The report gives blocks/s and Mgas/s of both, and the ratio (target ≥ 0.80). Both nodes
//! must end on the same head block and execution state root.
//!
//! `cargo bench -p alys --bench full_node_sync`.
#![allow(clippy::unwrap_used)] // bench code: a failed unwrap is a failed run

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use alys_consensus::schedule::proposer_index;
use alys_consensus::{Input, NoPegIns, SlotClock};
use alys_engine::EngineClientConfig;
use alys_evm::eth::server::RpcServerConfig;
use alys_primitives::dev::DEV_ACCOUNTS;
use alys_primitives::{ChainSpec, SignedConsensusBlock};
use alys_test_utils::bench_env::{env_u64, now_ms};
use alys_test_utils::cluster::Cluster;
use alys_test_utils::el::{el_config, TestEl};
use alys_test_utils::federation::{manual_clock, open_chain, run_federation, start_node, TestNode};
use alys_test_utils::tx::signed_transfer;
use common::{runtime, send_raw_batch, unmined_dev_spec};
use serde_json::{json, Value};

const AUTHORITIES: usize = 3;
const SLOT_MS: u64 = 1000;
const TRANSFER_GAS: u64 = 21_000;
/// The target: network sync at ≥ 80 % of local import.
const TARGET_RATIO: f64 = 0.80;
/// Senders of the transfers (dev accounts 1..=SENDERS).
const SENDERS: usize = 5;

/// One authority of the build: a node whose EL also serves eth JSON-RPC (to receive the
/// transactions of the slots it proposes).
async fn start_authority(
    dir: &Path,
    spec: &Arc<ChainSpec>,
    clock: SlotClock,
) -> (TestNode, String) {
    let mut config = el_config(dir, spec.genesis.clone());
    config.http = Some(RpcServerConfig::new(([127, 0, 0, 1], 0).into()));
    let TestEl { el, engine, .. } = TestEl::start_with(config, EngineClientConfig::default()).await;
    let url = el.http_url().expect("eth RPC is on");
    let chain = open_chain(dir, spec.clone(), clock, engine.clone(), Arc::new(NoPegIns)).await;
    let node = TestNode {
        dir: dir.to_path_buf(),
        el,
        engine,
        chain,
    };
    (node, url)
}

/// What the build produced.
struct Built {
    /// The canonical blocks 1..=head, in order.
    signed: Vec<SignedConsensusBlock>,
    txs: u64,
    took: Duration,
}

/// Phase 1: the source chain in `dirs[i]` (authority i's datadir).
fn build(
    rt: &tokio::runtime::Runtime,
    spec: &Arc<ChainSpec>,
    dirs: &[&Path],
    blocks: u64,
    per_block: u64,
) -> Built {
    // The clock starts far enough in the past that the last slot is a few seconds ago.
    let first = now_ms() / SLOT_MS - blocks - 5;
    let time = alys_consensus::ManualTimeSource::new((first - 1) * SLOT_MS);
    let clock = manual_clock(spec, &time);
    let (nodes, urls): (Vec<_>, Vec<_>) = rt.block_on(async {
        let mut out = Vec::new();
        for dir in dirs {
            out.push(start_authority(dir, spec, clock.clone()).await);
        }
        out.into_iter().unzip()
    });
    let federation = {
        let _guard = rt.enter();
        run_federation(spec, nodes)
    };
    let http = reqwest::blocking::Client::new();
    let mut nonces = [0u64; SENDERS];
    let mut statuses = federation.statuses.clone();
    let started = Instant::now();
    let mut txs = 0u64;
    for (n, slot) in (first..first + blocks).enumerate() {
        let raws: Vec<String> = (0..per_block)
            .map(|i| {
                let s = (i as usize) % SENDERS;
                let (raw, _) = signed_transfer(
                    spec.chain_id,
                    &DEV_ACCOUNTS[1 + s].1,
                    nonces[s],
                    Address::repeat_byte(0x42),
                    U256::from(1u64),
                );
                nonces[s] += 1;
                raw
            })
            .collect();
        if !raws.is_empty() {
            send_raw_batch(&http, &urls[proposer_index(slot, AUTHORITIES)], &raws);
            txs += raws.len() as u64;
        }
        time.set_ms(slot * SLOT_MS);
        rt.block_on(async {
            for tx in &federation.inputs {
                tx.send(Input::Tick { slot }).await.expect("service alive");
            }
            for (i, st) in statuses.iter_mut().enumerate() {
                tokio::time::timeout(
                    Duration::from_secs(30),
                    st.wait_for(|s| s.head_slot >= slot),
                )
                .await
                .unwrap_or_else(|_| panic!("authority {i} did not import slot {slot}"))
                .expect("status");
            }
        });
        if (n + 1) % 1000 == 0 {
            eprintln!(
                "built {} blocks in {:.0} s",
                n + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let took = started.elapsed();
    let head = statuses[0].borrow().clone();
    assert_eq!(head.head_height, blocks, "every slot made a block");
    // Every transfer is in the chain.
    let sender = format!("{:#x}", DEV_ACCOUNTS[1].0);
    let count: Value = http
        .post(&urls[0])
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount", "params": [sender, "latest"]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let included = u64::from_str_radix(
        count["result"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();
    assert_eq!(
        included, nonces[0],
        "all of sender 1's transfers were included"
    );
    let store = &federation.stores[0];
    let signed = (1..=blocks)
        .map(|h| {
            let root = store.canonical_root(h).unwrap().expect("canonical block");
            store.block(&root).unwrap().expect("stored block")
        })
        .collect();
    federation.net.shutdown();
    rt.block_on(async {
        drop(federation.inputs);
        for el in federation.els {
            el.stop().await;
        }
    });
    drop(federation.stores);
    Built { signed, txs, took }
}

/// Phase 2: a fresh node in `dir` imports `signed` in order; returns the time taken.
fn local_import(
    rt: &tokio::runtime::Runtime,
    spec: &Arc<ChainSpec>,
    signed: &[SignedConsensusBlock],
    dir: &Path,
) -> Duration {
    rt.block_on(async {
        let clock = SlotClock::system(spec.slot_duration_ms);
        let mut node = start_node(dir, spec.clone(), clock, Arc::new(NoPegIns)).await;
        let started = Instant::now();
        for block in signed {
            node.chain.import_block(block).await.expect("block imports");
        }
        let took = started.elapsed();
        assert_eq!(node.chain.head().height, signed.len() as u64);
        node.el.stop().await;
        took
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn main() {
    let blocks = env_u64("ALYS_BENCH_BLOCKS", 5000);
    let per_block = env_u64("ALYS_BENCH_TXS_PER_BLOCK", 20);
    let alys = Path::new(env!("CARGO_BIN_EXE_alys"));
    let dir = tempfile::tempdir().unwrap();
    let spec = unmined_dev_spec(AUTHORITIES, SLOT_MS);
    let rt = runtime();

    let authority_dirs: Vec<_> = (0..AUTHORITIES)
        .map(|i| dir.path().join(format!("authority-{i}")))
        .collect();
    let dir_refs: Vec<&Path> = authority_dirs.iter().map(|d| d.as_path()).collect();
    println!("full_node_sync: {blocks} blocks of {per_block} transfers, {AUTHORITIES} authorities");
    let built = build(&rt, &spec, &dir_refs, blocks, per_block);
    let gas = (built.txs * TRANSFER_GAS) as f64;
    println!(
        "built {} blocks ({} transfers) in {:.1} s",
        built.signed.len(),
        built.txs,
        built.took.as_secs_f64()
    );

    let local = local_import(&rt, &spec, &built.signed, &dir.path().join("local"));
    rt.shutdown_timeout(Duration::from_secs(5));

    let chain = dir.path().join("chain.json");
    std::fs::write(&chain, spec.to_json_pretty()).unwrap();
    let cluster_dir = dir.path().join("cluster");
    copy_dir(&authority_dirs[0], &cluster_dir.join("source"));
    let mut cluster = Cluster::new(alys, &chain, &cluster_dir);
    cluster.add_node("source", None);
    assert_eq!(
        cluster.nodes[0].head_height(),
        Some(blocks),
        "the source serves the chain"
    );
    let started = Instant::now();
    let fresh = cluster.add_node("fresh", None);
    let deadline = started + Duration::from_secs(1800);
    while cluster.nodes[fresh].head_height().unwrap_or(0) < blocks {
        assert!(
            Instant::now() < deadline,
            "not synced in 30 min:\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let synced = started.elapsed();
    let source_root = cluster.nodes[0].root_at(blocks);
    assert_eq!(
        cluster.nodes[fresh].root_at(blocks),
        source_root,
        "same head block"
    );
    assert_eq!(
        cluster.nodes[fresh].state_root_at(blocks),
        cluster.nodes[0].state_root_at(blocks),
        "same EL state root"
    );

    let rate = |d: Duration| (blocks as f64 / d.as_secs_f64(), gas / 1e6 / d.as_secs_f64());
    let (local_bps, local_mgas) = rate(local);
    let (sync_bps, sync_mgas) = rate(synced);
    let ratio = sync_bps / local_bps;
    println!("| path | blocks | time (s) | blocks/s | Mgas/s |");
    println!("|---|---|---|---|---|");
    println!(
        "| local import (no network, the limit) | {blocks} | {:.1} | {local_bps:.0} | {local_mgas:.1} |",
        local.as_secs_f64()
    );
    println!(
        "| fresh full node over p2p (process start included) | {blocks} | {:.1} | {sync_bps:.0} | {sync_mgas:.1} |",
        synced.as_secs_f64()
    );
    println!(
        "network sync / local import = {ratio:.2} (target ≥ {TARGET_RATIO:.2}): {}",
        if ratio >= TARGET_RATIO {
            "met"
        } else {
            "NOT met"
        }
    );
}
