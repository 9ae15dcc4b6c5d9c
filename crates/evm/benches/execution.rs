//! Execution throughput of the embedded execution client.
//!
//! Blocks of plain transfers and of ERC-20 transfers are built once, then imported into a fresh
//! client over HTTP through `engine_newPayloadV3` + `engine_forkchoiceUpdatedV3` (execution,
//! state root, persistence): the end-to-end figure. The same transactions are then executed by
//! revm alone on an in-memory database with no state root and no persistence: the physical
//! limit of this machine. After a discarded warm-up import, import and raw run alternately,
//! seven rounds each, and the medians are reported. A second part imports the same block into clients whose state holds
//! 10k and 1M accounts, to show that the cost of a block follows the accounts it changes, not
//! the size of the state, next to the time to rebuild that state's root from scratch.
//!
//! Run: `cargo bench -p alys-evm --bench execution` (env `ALYS_BENCH_BIG_STATE=0` skips the 1M
//! account part).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::{collections::BTreeMap, time::Instant};

use alloy::consensus::{
    transaction::SignerRecoverable, SignableTransaction, TxEip1559, TxEnvelope,
};
use alloy::network::TxSignerSync;
use alloy::rpc::types::engine::{ExecutionPayloadV3, PayloadAttributes, PayloadStatusEnum};
use alloy::signers::local::PrivateKeySigner;
use alloy_evm::{EthEvmFactory, Evm, EvmEnv, EvmFactory, FromRecoveredTx};
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use alys_engine::{ExecutionEngine, HttpEngineClient};
use alys_evm::EmbeddedEl;
use alys_test_utils::el::{forkchoice, TestEl, CHAIN_ID, GENESIS_TIME};
use revm::{
    context::{BlockEnv, CfgEnv, TxEnv},
    database::{CacheDB, EmptyDB},
    primitives::hardfork::SpecId,
    state::{AccountInfo, Bytecode},
    DatabaseCommit,
};

/// The allocator of the node binary, so the figures are the node's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SENDERS: usize = 100;
const BLOCKS: u64 = 10;
const TOKEN: Address = Address::new([0x70; 20]);
/// Rounds of (import, raw) measured alternately per workload.
const ROUNDS: usize = 7;

fn token_runtime() -> Bytes {
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../../../contracts/artifacts/TestToken.json"))
            .expect("artifact");
    artifact["deployedBytecode"]
        .as_str()
        .expect("deployedBytecode")
        .parse()
        .expect("hex")
}

/// Storage slot of `balanceOf[holder]` (mapping at slot 1).
fn balance_slot(holder: Address) -> B256 {
    let mut buf = [0u8; 64];
    buf[12..32].copy_from_slice(holder.as_slice());
    buf[63] = 1;
    keccak256(buf)
}

fn genesis(senders: &[PrivateKeySigner], filler_accounts: usize) -> Genesis {
    let mut alloc = BTreeMap::new();
    let mut token_storage = BTreeMap::new();
    for s in senders {
        alloc.insert(
            s.address(),
            GenesisAccount::default().with_balance(U256::from(10u128.pow(24))),
        );
        token_storage.insert(
            balance_slot(s.address()),
            B256::from(U256::from(10u128.pow(24))),
        );
    }
    alloc.insert(
        TOKEN,
        GenesisAccount::default()
            .with_code(Some(token_runtime()))
            .with_storage(Some(token_storage)),
    );
    for i in 0..filler_accounts {
        let mut a = [0u8; 20];
        a[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
        a[19] = 0xf1;
        alloc.insert(
            Address::new(a),
            GenesisAccount::default().with_balance(U256::from(1 + i)),
        );
    }
    alys_test_utils::el::genesis(alloc)
}

fn sign(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    value: U256,
    input: Bytes,
    gas: u64,
) -> TxEnvelope {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input,
    };
    let sig = signer.sign_transaction_sync(&mut tx).expect("sign");
    TxEnvelope::Eip1559(tx.into_signed(sig))
}

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    Transfers,
    Erc20,
}

/// Transactions of one block: `per_sender` from every sender, to fresh recipients.
fn block_txs(
    senders: &[PrivateKeySigner],
    block: u64,
    per_sender: u64,
    workload: Workload,
) -> Vec<TxEnvelope> {
    let mut txs = Vec::new();
    for k in 0..per_sender {
        for (i, s) in senders.iter().enumerate() {
            let nonce = block * per_sender + k;
            let mut to = [0u8; 20];
            to[..8].copy_from_slice(&(block * 1_000_000 + k * 1000 + i as u64).to_be_bytes());
            to[19] = 0xee;
            let to = Address::new(to);
            txs.push(match workload {
                Workload::Transfers => sign(s, nonce, to, U256::from(1), Bytes::new(), 21_000),
                Workload::Erc20 => {
                    let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
                    data.extend_from_slice(&[0u8; 12]);
                    data.extend_from_slice(to.as_slice());
                    data.extend_from_slice(&U256::from(1).to_be_bytes::<32>());
                    sign(s, nonce, TOKEN, U256::ZERO, data.into(), 60_000)
                }
            });
        }
    }
    txs
}

fn attrs(number: u64) -> PayloadAttributes {
    PayloadAttributes {
        timestamp: GENESIS_TIME + 2 * number,
        prev_randao: B256::with_last_byte(number as u8),
        suggested_fee_recipient: Address::repeat_byte(0xde),
        withdrawals: Some(vec![]),
        parent_beacon_block_root: Some(B256::ZERO),
        slot_number: None,
        target_gas_limit: None,
    }
}

async fn start(genesis: Genesis) -> (EmbeddedEl, HttpEngineClient, Option<tempfile::TempDir>) {
    let TestEl {
        el,
        engine,
        tempdir,
        ..
    } = TestEl::start_temp(genesis).await;
    (el, engine, tempdir)
}

/// Builds `blocks` on a producer client; returns the payloads and their transactions.
async fn build_chain(genesis: Genesis, blocks: Vec<Vec<TxEnvelope>>) -> Vec<ExecutionPayloadV3> {
    let (el, client, _dir) = start(genesis).await;
    let mut head = el.chain().lock().genesis_hash();
    let mut payloads = Vec::new();
    for (i, txs) in blocks.into_iter().enumerate() {
        let expected = txs.len();
        {
            let chain = el.chain().lock();
            let view = chain.state_at(head).expect("state");
            for tx in txs {
                chain.pool().lock().add(tx, &view).expect("pool");
            }
        }
        let number = i as u64 + 1;
        let id = client
            .forkchoice_updated(forkchoice(head), Some(attrs(number)))
            .await
            .expect("fcu")
            .payload_id
            .expect("id");
        let payload = client.get_payload(id).await.expect("get").execution_payload;
        assert_eq!(
            payload.payload_inner.payload_inner.transactions.len(),
            expected,
            "block {number} not full"
        );
        head = payload.payload_inner.payload_inner.block_hash;
        client
            .new_payload(payload.clone(), vec![], B256::ZERO)
            .await
            .expect("new");
        client
            .forkchoice_updated(forkchoice(head), None)
            .await
            .expect("fcu");
        payloads.push(payload);
    }
    el.stop().await;
    payloads
}

/// Imports `payloads` into a fresh client; returns seconds spent in the Engine API calls and
/// the state root time of the last block.
async fn import(genesis: Genesis, payloads: &[ExecutionPayloadV3]) -> (f64, f64) {
    let (el, client, _dir) = start(genesis).await;
    let started = Instant::now();
    for p in payloads {
        let hash = p.payload_inner.payload_inner.block_hash;
        let status = client
            .new_payload(p.clone(), vec![], B256::ZERO)
            .await
            .expect("new");
        assert_eq!(status.status, PayloadStatusEnum::Valid, "{status:?}");
        client
            .forkchoice_updated(forkchoice(hash), None)
            .await
            .expect("fcu");
    }
    let secs = started.elapsed().as_secs_f64();
    let state_root = el
        .chain()
        .lock()
        .last_import_timings()
        .map(|t| t.state_root.as_secs_f64())
        .unwrap_or_default();
    el.stop().await;
    (secs, state_root)
}

/// Executes the payloads' transactions with revm alone on an in-memory database. Returns
/// (seconds for decode + sender recovery + execution, seconds for execution alone).
fn raw_revm(genesis: &Genesis, payloads: &[ExecutionPayloadV3]) -> (f64, f64) {
    use rayon::prelude::*;
    let mut db = CacheDB::new(EmptyDB::default());
    for (address, account) in &genesis.alloc {
        let code = account.code.clone().map(Bytecode::new_raw);
        let info = AccountInfo {
            balance: account.balance,
            nonce: account.nonce.unwrap_or_default(),
            code_hash: code
                .as_ref()
                .map(|c| c.hash_slow())
                .unwrap_or(alloy::consensus::constants::KECCAK_EMPTY),
            code,
            ..Default::default()
        };
        db.insert_account_info(*address, info);
        for (slot, value) in account.storage_slots() {
            db.insert_account_storage(*address, U256::from_be_bytes(slot.0), value)
                .expect("storage");
        }
    }
    let started = Instant::now();
    let blocks: Vec<Vec<TxEnv>> = payloads
        .iter()
        .map(|p| {
            p.payload_inner
                .payload_inner
                .transactions
                .par_iter()
                .map(|raw| {
                    let tx: TxEnvelope =
                        alloy::eips::Decodable2718::decode_2718(&mut raw.as_ref()).expect("tx");
                    let sender = tx.recover_signer().expect("signer");
                    TxEnv::from_recovered_tx(&tx, sender)
                })
                .collect()
        })
        .collect();
    let decode_and_recover = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for (block, txs) in blocks.into_iter().enumerate() {
        let env = EvmEnv::new(
            CfgEnv::new_with_spec(SpecId::CANCUN).with_chain_id(CHAIN_ID),
            BlockEnv {
                number: U256::from(block + 1),
                timestamp: U256::from(GENESIS_TIME + 2 * (block as u64 + 1)),
                gas_limit: 30_000_000,
                basefee: 1_000_000_000,
                prevrandao: Some(B256::ZERO),
                ..Default::default()
            },
        );
        let mut evm = EthEvmFactory::default().create_evm(&mut db, env);
        for tx in txs {
            let result = evm.transact_raw(tx).expect("execute");
            assert!(result.result.is_success());
            evm.db_mut().commit(result.state);
        }
    }
    let execute = started.elapsed().as_secs_f64();
    (decode_and_recover + execute, execute)
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn gas_of(payloads: &[ExecutionPayloadV3]) -> u64 {
    payloads
        .iter()
        .map(|p| p.payload_inner.payload_inner.gas_used)
        .sum()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `RUST_LOG=alys_evm=debug` prints each imported payload's execution and state-root time.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    let senders: Vec<PrivateKeySigner> = (1..=SENDERS as u64)
        .map(|i| PrivateKeySigner::from_bytes(&B256::from(U256::from(i))).expect("key"))
        .collect();
    println!(
        "| workload | blocks | gas/block | end-to-end Mgas/s | raw: recover + revm Mgas/s | ratio: median (per round) | revm execution only Mgas/s |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (workload, per_sender, label) in [
        (Workload::Transfers, 14, "plain transfers"),
        (Workload::Erc20, 5, "ERC-20 transfers"),
    ] {
        let genesis = genesis(&senders, 0);
        let blocks: Vec<_> = (0..BLOCKS)
            .map(|b| block_txs(&senders, b, per_sender, workload))
            .collect();
        let payloads = build_chain(genesis.clone(), blocks).await;
        let gas = gas_of(&payloads) as f64;
        // Alternate the two measurements so a slow spell of the machine hits both alike; report
        // the medians over the rounds.
        let mut rounds = Vec::new();
        // One discarded round first: the first import in a process pays for faulting in memory.
        import(genesis.clone(), &payloads).await;
        for _ in 0..ROUNDS {
            let (e2e, _) = import(genesis.clone(), &payloads).await;
            let (raw, execute_only) = raw_revm(&genesis, &payloads);
            rounds.push((gas / e2e / 1e6, gas / raw / 1e6, gas / execute_only / 1e6));
        }
        let e2e_mgas = median(rounds.iter().map(|r| r.0));
        let raw_mgas = median(rounds.iter().map(|r| r.1));
        let ratio = median(rounds.iter().map(|r| r.0 / r.1));
        let ratios: Vec<String> = rounds.iter().map(|r| format!("{:.2}", r.0 / r.1)).collect();
        println!(
            "| {label} | {BLOCKS} | {:.1}M | {e2e_mgas:.1} | {raw_mgas:.1} | **{ratio:.2}** ({}) | {:.1} |",
            gas / BLOCKS as f64 / 1e6,
            ratios.join(", "),
            median(rounds.iter().map(|r| r.2))
        );
    }

    let big = std::env::var("ALYS_BENCH_BIG_STATE")
        .map(|v| v != "0")
        .unwrap_or(true);
    let sizes: &[usize] = if big { &[10_000, 1_000_000] } else { &[10_000] };
    println!();
    println!("| accounts in state | transfers in block (changed accounts) | import (ms) | state root (ms) | state root from scratch (ms) | incremental / from scratch |");
    println!("|---|---|---|---|---|---|");
    for &size in sizes {
        let genesis = genesis(&senders, size);
        // Reference: the root rebuilt from every account, in memory (what a client without
        // incremental updates would redo per block).
        let started = Instant::now();
        let full_root = alloy_trie::root::state_root_ref_unhashed(&genesis.alloc);
        let from_scratch = started.elapsed().as_secs_f64();
        assert_ne!(full_root, B256::ZERO);
        for per_sender in [1, 14] {
            let block = block_txs(&senders, 0, per_sender, Workload::Transfers);
            let changed = block.len() + SENDERS;
            let payloads = build_chain(genesis.clone(), vec![block]).await;
            let (secs, root) = import(genesis.clone(), &payloads).await;
            println!(
                "| {size} | {} ({changed}) | {:.1} | {:.1} | {:.1} | {:.3} |",
                per_sender as usize * SENDERS,
                secs * 1e3,
                root * 1e3,
                from_scratch * 1e3,
                root / from_scratch
            );
        }
    }
}
