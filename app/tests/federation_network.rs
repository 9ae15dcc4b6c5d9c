//! The federation over the p2p network, as separate processes: 3 authorities (threshold 2) and
//! 1 full node (no signer key), each an `alys node` with its own datadir and embedded execution
//! client, sharing one `alys btc-devnet`, with 1-second slots and a merged miner on one
//! authority. They must agree on blocks, finality and state, and a transaction sent to the full
//! node must be included by the authorities.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use alloy_primitives::{Address, U256};
use alys_primitives::{dev::DEV_ACCOUNTS, ChainSpec};
use alys_test_utils::cluster::{Cluster, NODE_RPC_AUTH};
use alys_test_utils::tx::signed_transfer;
use alys_test_utils::wait::wait_until;
use common::{alys, write_dev_keys, write_dev_spec};
use serde_json::json;

/// A signed transfer of 12,345 wei from dev account 0.
fn transfer(chain_id: u64, nonce: u64) -> (String, String) {
    signed_transfer(
        chain_id,
        &DEV_ACCOUNTS[0].1,
        nonce,
        Address::repeat_byte(0x42),
        U256::from(12_345u64),
    )
}

#[test]
fn three_authorities_and_a_full_node_agree_and_relay_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, chain) = write_dev_spec(dir.path(), 3);
    assert_eq!(spec.approval_threshold, 2);
    let keys = write_dev_keys(dir.path(), 3);
    let mut cluster = Cluster::new(alys(), &chain, dir.path());
    for (i, key) in keys.iter().enumerate() {
        cluster.add_node(&format!("authority-{i}"), Some(key.clone()));
    }
    let full = cluster.add_node("full", None);

    // Every node's head moves only through the others' approvals (threshold 2 of 3).
    cluster.wait_same_block_at(3, Duration::from_secs(60));
    // getsyncstatus reports the network: the full node sees the three authorities.
    let net = wait_until(
        Duration::from_secs(20),
        "the full node to report its three peers",
        || {
            let s = cluster.nodes[full].sync_status()?;
            let n = &s["network"];
            (n["peers"].as_u64()? >= 3 && n["targetHeight"].as_u64()? >= 3).then(|| n.clone())
        },
        || cluster.logs(),
    );
    assert_eq!(net["enabled"], true, "{net}");
    assert!(net["targetHeight"].as_u64().unwrap() >= 3, "{net}");
    assert!(net["blocksPerSecond"].as_f64().is_some(), "{net}");

    // A transaction sent to the full node reaches the authorities' pools and is included.
    let (raw, hash) = transfer(spec.chain_id, 0);
    let sent = cluster.nodes[full]
        .eth("eth_sendRawTransaction", json!([raw]))
        .unwrap();
    assert_eq!(sent.as_str(), Some(hash.as_str()));
    let included_at = wait_until(
        Duration::from_secs(30),
        "the transfer sent to the full node to be included",
        || {
            let r = cluster.nodes[0]
                .eth("eth_getTransactionReceipt", json!([hash]))
                .ok()?;
            u64::from_str_radix(r["blockNumber"].as_str()?.trim_start_matches("0x"), 16).ok()
        },
        || cluster.logs(),
    );
    for n in cluster.running() {
        wait_until(
            Duration::from_secs(20),
            &format!("{} to have the receipt", n.options.name),
            || {
                n.eth("eth_getTransactionReceipt", json!([hash]))
                    .ok()
                    .filter(|r| !r.is_null())
            },
            || n.log_tail(),
        );
    }

    // Merged mining on one authority finalizes on all of them.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let miner = runtime.block_on(async {
        alys_miner::spawn(alys_miner::MinerConfig {
            url: cluster.nodes[1].node_rpc.clone(),
            user: NODE_RPC_AUTH.0.into(),
            password: NODE_RPC_AUTH.1.into(),
            address: alys_primitives::dev::dev_miner_address(),
            threads: 1,
            placement: alys_auxpow::CommitmentPlacement::ScriptSig,
            poll_interval: Duration::from_millis(100),
        })
    });
    let finalized = wait_until(
        Duration::from_secs(60),
        "every node to finalize the same block above the transfer",
        || {
            let f: Vec<(u64, String)> = cluster
                .running()
                .map(|n| {
                    let s = n.sync_status()?;
                    Some((
                        s["finalizedHeight"].as_u64()?,
                        s["finalizedRoot"].as_str()?.to_string(),
                    ))
                })
                .collect::<Option<Vec<_>>>()?;
            (f.iter().all(|x| *x == f[0]) && f[0].0 >= included_at).then(|| f[0].0)
        },
        || cluster.logs(),
    );
    runtime.block_on(miner.stop());
    eprintln!("transfer included at height {included_at}, finalized {finalized}");

    // Same blocks and the same execution state everywhere.
    let height = finalized + 2;
    cluster.wait_same_block_at(height, Duration::from_secs(30));
    let roots: Vec<Option<String>> = cluster.running().map(|n| n.state_root_at(height)).collect();
    assert!(roots[0].is_some(), "{roots:?}");
    assert!(roots.iter().all(|r| *r == roots[0]), "{roots:?}");
    // The full node signs nothing: every block's approvals come from the 3 authorities.
    let full_log = cluster.nodes[full].log_text();
    assert!(full_log.contains("full node (no signer key)"), "{full_log}");
}

/// The slot of the canonical block at `height` on `node`.
fn slot_at(node: &alys_test_utils::cluster::NodeProcess, height: u64) -> Option<u64> {
    node.node("getblockbyheight", json!([height])).ok()?["slot"].as_u64()
}

#[test]
fn a_killed_authority_restarts_and_rejoins_and_a_late_full_node_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let (_spec, chain) = write_dev_spec(dir.path(), 3);
    let keys = write_dev_keys(dir.path(), 3);
    let mut cluster = Cluster::new(alys(), &chain, dir.path());
    for (i, key) in keys.iter().enumerate() {
        cluster.add_node(&format!("authority-{i}"), Some(key.clone()));
    }
    cluster.wait_same_block_at(2, Duration::from_secs(60));

    // Authority 1 dies: the other two (threshold 2) go on without it.
    cluster.nodes[1].kill();
    let dead_at = cluster.nodes[0].head_height().unwrap();
    cluster.wait_same_block_at(dead_at + 4, Duration::from_secs(30));
    let while_dead = cluster.nodes[0].head_height().unwrap();

    // Restarted, it fetches what it missed and proposes again.
    cluster.nodes[1].restart();
    cluster.wait_same_block_at(while_dead + 1, Duration::from_secs(30));
    let restarted = &cluster.nodes[1];
    wait_until(
        Duration::from_secs(30),
        "a block proposed by the restarted authority",
        || {
            let head = restarted.head_height()?;
            (while_dead + 1..=head).find(|h| slot_at(restarted, *h).is_some_and(|s| s % 3 == 1))
        },
        || cluster.logs(),
    );

    // A full node started now syncs from genesis to the head by itself.
    let head = cluster.nodes[0].head_height().unwrap();
    let late = cluster.add_node("late-full", None);
    cluster.wait_same_block_at(head + 2, Duration::from_secs(60));
    assert!(cluster.nodes[late].head_height().unwrap() >= head + 2);
    let log = cluster.nodes[late].log_text();
    assert!(log.contains("peer connected"), "{log}");
}

#[test]
fn a_node_of_another_chain_is_disconnected_with_the_reason_logged() {
    let dir = tempfile::tempdir().unwrap();
    let (_spec, chain) = write_dev_spec(dir.path(), 1);
    let keys = write_dev_keys(dir.path(), 1);
    let mut cluster = Cluster::new(alys(), &chain, dir.path());
    cluster.add_node("authority-0", Some(keys[0].clone()));

    // Same authorities, another chain id: another spec hash.
    let other_dir = dir.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let mut other = ChainSpec::dev(1).unwrap();
    other.slot_duration_ms = 1000;
    other.chain_id += 1;
    other.genesis.config.chain_id = other.chain_id;
    other.validate().unwrap();
    let other_chain = other_dir.join("chain.json");
    std::fs::write(&other_chain, other.to_json_pretty()).unwrap();
    let stranger = alys_test_utils::cluster::NodeProcess::start(
        alys(),
        &other_chain,
        &other_dir.join("stranger"),
        alys_test_utils::cluster::NodeOptions {
            name: "stranger".into(),
            signer_key: None,
            bitcoin_rpc: Some(cluster.devnet.url.clone()),
            execution: alys_test_utils::cluster::Execution::Embedded,
            extra: Vec::new(),
        },
        std::slice::from_ref(&cluster.nodes[0].p2p),
    );
    for (node, who) in [(&stranger, "stranger"), (&cluster.nodes[0], "authority")] {
        wait_until(
            Duration::from_secs(60),
            &format!("the {who} to log the disconnection"),
            || {
                node.log_text()
                    .lines()
                    .find(|l| l.contains("disconnecting peer: different chain spec"))
                    .map(str::to_string)
            },
            || {
                format!(
                    "--- stranger ---\n{}\n--- authority ---\n{}",
                    stranger.log_text(),
                    cluster.nodes[0].log_tail()
                )
            },
        );
    }
    // The authority's chain goes on, the stranger's stays at genesis.
    cluster.wait_same_block_at(3, Duration::from_secs(30));
    assert_eq!(stranger.head_height(), Some(0));
}

#[test]
fn a_full_node_follows_alys_dev_with_the_spec_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let dev = alys_test_utils::nodes::DevProcess::start(alys(), &dir.path().join("dev"), &[]);
    let mut dev = dev;
    let p2p = dev.process.wait_for_line(
        Duration::from_secs(30),
        "the dev chain's p2p address",
        alys_test_utils::cluster::p2p_addr_of,
    );
    let spec = dir.path().join("dev").join("chain.json");
    let full = alys_test_utils::cluster::NodeProcess::start(
        alys(),
        &spec,
        &dir.path().join("full"),
        alys_test_utils::cluster::NodeOptions {
            name: "full".into(),
            signer_key: None,
            bitcoin_rpc: dev.bitcoin_rpc.clone(),
            execution: alys_test_utils::cluster::Execution::Embedded,
            extra: Vec::new(),
        },
        &[p2p],
    );
    let root = wait_until(
        Duration::from_secs(40),
        "the full node to follow the dev chain to height 3",
        || {
            let ours = full.root_at(3)?;
            let theirs = dev.node("getblockbyheight", json!([3])).ok()?;
            (theirs["root"].as_str() == Some(ours.as_str())).then_some(ours)
        },
        || format!("{}\n--- dev ---\n{}", full.log_tail(), dev.log_tail()),
    );
    assert!(root.starts_with("0x"));
}

/// Every running node has the same canonical block at each height of `heights`.
fn assert_same_chain(cluster: &Cluster, heights: std::ops::RangeInclusive<u64>) {
    for h in heights {
        let roots: Vec<Option<String>> = cluster.running().map(|n| n.root_at(h)).collect();
        assert!(
            roots[0].is_some() && roots.iter().all(|r| *r == roots[0]),
            "divergence at height {h}: {roots:?}"
        );
    }
}

/// Faults with 1-second slots. A frozen process (SIGSTOP) misses gossip, its peers' status
/// rounds and its own slot timers, exactly as for 30 s; five slots of it are enough to show it
/// catches up after the thaw, and keep the test short. A partitioned authority (both sides
/// refuse each other's peer id) cannot reach the threshold alone; once healed it syncs the
/// others' blocks and every node holds the same chain.
#[test]
fn a_frozen_authority_catches_up_and_a_partitioned_one_heals_without_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let (_spec, chain) = write_dev_spec(dir.path(), 3);
    let keys = write_dev_keys(dir.path(), 3);
    let mut cluster = Cluster::new(alys(), &chain, dir.path());
    for (i, key) in keys.iter().enumerate() {
        cluster.add_node(&format!("authority-{i}"), Some(key.clone()));
    }
    cluster.wait_same_block_at(2, Duration::from_secs(60));

    // Freeze authority 2 for five slots; the other two go on (threshold 2).
    cluster.nodes[2].freeze();
    let frozen_at = cluster.nodes[0].head_height().unwrap();
    wait_until(
        Duration::from_secs(30),
        "five blocks while authority 2 is frozen",
        || (cluster.nodes[0].head_height()? >= frozen_at + 5).then_some(()),
        || cluster.logs(),
    );
    cluster.nodes[2].thaw();
    let thawed_at = cluster.nodes[0].head_height().unwrap();
    cluster.wait_same_block_at(thawed_at + 2, Duration::from_secs(30));

    // Partition authority 1 for six slots.
    cluster.partition(1);
    let cut_at = cluster.nodes[0].head_height().unwrap();
    wait_until(
        Duration::from_secs(30),
        "six blocks while authority 1 is cut off",
        || (cluster.nodes[0].head_height()? >= cut_at + 6).then_some(()),
        || cluster.logs(),
    );
    let alone = cluster.nodes[1].head_height().unwrap();
    assert!(
        alone <= cut_at + 1,
        "a lone authority extended its chain: {alone} (cut at {cut_at})"
    );
    cluster.heal();
    let healed_at = cluster.nodes[0].head_height().unwrap();
    cluster.wait_same_block_at(healed_at + 2, Duration::from_secs(40));
    assert_same_chain(&cluster, 1..=healed_at + 2);
    let log = cluster.nodes[1].log_text();
    assert!(log.contains("peer denied (partition)"), "{log}");
}
