//! The federation over the p2p network, as separate processes: 3 authorities (threshold 2) and
//! 1 full node (no signer key), each an `alys node` with its own datadir and embedded execution
//! client, sharing one `alys btc-devnet`, with 1-second slots and a merged miner on one
//! authority. They must agree on blocks, finality and state, and a transaction sent to the full
//! node must be included by the authorities.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{Address, TxKind, U256};
use alys_primitives::{bls::save_secret_key, dev::dev_secret_key, dev::DEV_ACCOUNTS, ChainSpec};
use alys_test_utils::cluster::{Cluster, NODE_RPC_AUTH};
use alys_test_utils::wait::wait_until;
use serde_json::json;

fn alys() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_alys"))
}

/// The dev spec for `n` authorities with the shortest slot the spec allows (1 s).
fn write_spec(dir: &Path, n: usize) -> (ChainSpec, PathBuf) {
    let mut spec = ChainSpec::dev(n).unwrap();
    spec.slot_duration_ms = 1000;
    if let Some(pow) = spec.pow.as_mut() {
        pow.target_spacing_secs = 1;
    }
    spec.validate().unwrap();
    let path = dir.join("chain.json");
    std::fs::write(&path, spec.to_json_pretty()).unwrap();
    (spec, path)
}

fn write_keys(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("authority-{i}.key"));
            save_secret_key(&p, &dev_secret_key(i)).unwrap();
            p
        })
        .collect()
}

/// A signed transfer from dev account 0.
fn transfer(chain_id: u64, nonce: u64) -> (String, String) {
    let signer: PrivateKeySigner = DEV_ACCOUNTS[0].1.to_string().parse().unwrap();
    let mut tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(12_345u64),
        access_list: Default::default(),
        input: Default::default(),
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    let env: TxEnvelope = tx.into_signed(sig).into();
    (
        format!("0x{}", hex::encode(env.encoded_2718())),
        format!("{:#x}", env.tx_hash()),
    )
}

#[test]
fn three_authorities_and_a_full_node_agree_and_relay_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, chain) = write_spec(dir.path(), 3);
    assert_eq!(spec.approval_threshold, 2);
    let keys = write_keys(dir.path(), 3);
    let mut cluster = Cluster::new(alys(), &chain, dir.path());
    for (i, key) in keys.iter().enumerate() {
        cluster.add_node(&format!("authority-{i}"), Some(key.clone()));
    }
    let full = cluster.add_node("full", None);

    // Every node's head moves only through the others' approvals (threshold 2 of 3).
    cluster.wait_same_block_at(3, Duration::from_secs(60));

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
