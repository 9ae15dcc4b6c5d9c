//! Block production and import on a chain carrying a long peg history, next to an empty chain:
//! does a block cost more when 3,600 unfinalized blocks have minted 10,000 deposits?
//!
//! Each chain has two nodes in this process on one manual clock, each assembled as `alys node`
//! assembles an authority (`app/src/cmd/wiring.rs`): a real embedded execution client driven
//! over the Engine API (HTTP + JWT), a LevelDB store, the consensus [`Chain`], the real peg-in
//! verifier ([`FollowerPegIns`] over an [`alys_bitcoin::DepositIndex`]) and the real peg-out
//! ledger ([`Ledger`], installed with `Chain::set_pegout_ledger`). Node A proposes every block
//! (any node plays any authority: blocks are signed with the dev keys), node B imports them.
//!
//! - (a) **full**: `ALYS_BENCH_BLOCKS` blocks (default 3,600) minting `ALYS_BENCH_DEPOSITS`
//!   deposits (default 10,000), spread evenly (≈3 a block). Merged mining is off in the spec
//!   (no AuxPoW: nothing finalizes, nothing halts), so every block stays unfinalized and the
//!   minted set, the deposit index and the federation's UTXO set (one per deposit) all hold
//!   10,000 entries.
//! - (b) **empty**: [`EMPTY_BLOCKS`] blocks minting [`EMPTY_DEPOSITS`] deposits (UTXOs to pay
//!   from).
//!
//! Then [`WARMUP`] + `ALYS_BENCH_SLOTS` slots (default 200) on each, alternating between the two
//! chains so that both see the same machine load, each slot with the same work on both: 3 new
//! deposits confirmed, 2 `requestPegOut` calls of the Bridge sent to A's transaction pool. Each
//! measured block so mints 3 peg-ins, carries 2 burns and the payout of the previous block's 2
//! burns (checked). Measured per slot:
//! - **produce**: `Chain::produce_block` on A: peg-in candidates, the ledger's refunds and
//!   payout, the EL's payload (`engine_forkchoiceUpdated` with attributes, `engine_getPayload`)
//!   and the proposer's own check that the block imports;
//! - **import**: `Chain::import_block` of the threshold-signed block on B with every check:
//!   approvals, each peg-in against B's deposit index and minted set, the payout rebuilt by B's
//!   ledger, the EL's `VALID`, the burns read from the receipts.
//!
//! Double: Bitcoin. No Bitcoin node or follower runs: the deposits reach each node's deposit
//! index as its follower reports them, as confirmed `FollowerEvent::Deposit`s staged and
//! committed through the index's own API (`DepositIndex::stage` / `commit`), one synthetic
//! Bitcoin block per slot, buried by the spec's required confirmations. Payouts are proposed
//! and checked, never signed or broadcast.
//!
//! The report gives the median and p99 of both, and full / empty (target: flat, ≈ 1).
//!
//! `cargo bench -p alys --bench peg_chain`; figures in `docs/benchmarks.md`, "Peg at chain
//! level".
#![allow(clippy::unwrap_used)] // bench code: a failed unwrap is a failed run

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::sol_types::SolCall;
use alloy_primitives::{Address, Bytes, U256};
use alys_bitcoin::bitcoin::hashes::Hash;
use alys_bitcoin::bitcoin::{BlockHash, Txid};
use alys_bitcoin::{BlockRef, DepositIndex, FollowerEvent, FoundDeposit};
use alys_consensus::chain_store::ChainStore;
use alys_consensus::{genesis_block, Chain, ManualTimeSource};
use alys_engine::EngineClientConfig;
use alys_evm::eth::server::RpcServerConfig;
use alys_evm::EmbeddedEl;
use alys_federation::bitcoin::{Network, ScriptBuf};
use alys_federation::pegout::Ledger;
use alys_federation::FollowerPegIns;
use alys_primitives::dev::DEV_ACCOUNTS;
use alys_primitives::{ChainSpec, Sats, BRIDGE_ADDRESS};
use alys_store::{Durability, Store, WriteBatch};
use alys_test_utils::bench_env::{env_u64, now_ms};
use alys_test_utils::blocks::{produce, sign_block};
use alys_test_utils::el::{el_config, Engine, TestEl};
use alys_test_utils::federation::manual_clock;
use alys_test_utils::tx::{raw_and_hash, signed_call};
use common::{percentile, runtime, send_raw_batch, unmined_dev_spec};

alloy::sol! {
    function requestPegOut(bytes btcAddress) external payable;
}

const AUTHORITIES: usize = 3;
const SLOT_MS: u64 = 1000;
/// Blocks of the empty chain.
const EMPTY_BLOCKS: u64 = 4;
/// Deposits the empty chain mints.
const EMPTY_DEPOSITS: u64 = 10;
/// Slots run on each chain before the measured ones (the first carries no payout yet).
const WARMUP: u64 = 5;
/// Deposits confirmed, and minted, in each measured slot.
const DEPOSITS_PER_SLOT: u64 = 3;
/// Peg-out requests sent in each measured slot.
const BURNS_PER_SLOT: u64 = 2;
/// Gas of a `requestPegOut` call (ample).
const BURN_GAS: u64 = 200_000;
/// Wei per sat.
const WEI_PER_SAT: u64 = 10_000_000_000;

/// One node: its execution client, chain, store and the deposit index its peg-in verifier reads.
struct PegNode {
    el: EmbeddedEl,
    chain: Chain<Engine>,
    store: Arc<Store>,
    index: DepositIndex,
    pegins: Arc<FollowerPegIns>,
    ledger: Arc<Ledger>,
}

/// Starts a node on `dir` on the manual clock `time`, its EL serving eth JSON-RPC if `eth_rpc`
/// (the proposer's, to receive the burns); returns it with that URL.
async fn start_peg_node(
    dir: &Path,
    spec: &Arc<ChainSpec>,
    time: &ManualTimeSource,
    eth_rpc: bool,
) -> (PegNode, Option<String>) {
    let mut config = el_config(dir, spec.genesis.clone());
    if eth_rpc {
        config.http = Some(RpcServerConfig::new(([127, 0, 0, 1], 0).into()));
    }
    let TestEl { el, engine, .. } = TestEl::start_with(config, EngineClientConfig::default()).await;
    let url = el.http_url();
    // One store shared by the deposit index, the minted set, the chain and the ledger.
    let store = Arc::new(Store::open(&dir.join("consensus")).unwrap());
    let index = DepositIndex::open(store.clone(), None).unwrap();
    let chain_store = ChainStore::open(store.clone(), &genesis_block(spec).unwrap()).unwrap();
    let pegins = Arc::new(
        FollowerPegIns::open(index.clone(), Arc::new(chain_store), store.clone()).unwrap(),
    );
    let mut chain = Chain::open(
        spec.clone(),
        manual_clock(spec, time),
        engine,
        store.clone(),
        pegins.clone(),
    )
    .await
    .unwrap();
    let ledger =
        Arc::new(Ledger::new(spec, Arc::new(chain.store().clone()), store.clone()).unwrap());
    chain.set_pegout_ledger(ledger.clone());
    let node = PegNode {
        el,
        chain,
        store,
        index,
        pegins,
        ledger,
    };
    (node, url)
}

/// The synthetic Bitcoin block at `height`.
fn bitcoin_block(height: u64) -> BlockRef {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&height.to_be_bytes());
    hash[31] = 0xb1;
    BlockRef {
        height,
        hash: BlockHash::from_byte_array(hash),
    }
}

/// Deposit `n`: one federation output of 100,000..1,000,000 sats to a recipient of its own, in
/// `block`.
fn deposit(n: u64, block: BlockRef) -> FoundDeposit {
    let mut txid = [0u8; 32];
    txid[..8].copy_from_slice(&n.to_be_bytes());
    txid[31] = 0xde;
    let mut recipient = [0x5e; 20];
    recipient[12..].copy_from_slice(&n.to_be_bytes());
    let sats = Sats(100_000 + n * 7_919 % 900_000);
    FoundDeposit {
        txid: Txid::from_byte_array(txid),
        vouts: vec![0],
        values: vec![sats],
        sats,
        recipient: Address::from(recipient),
        block,
    }
}

/// A regtest address the burns pay (a P2WSH of a one-byte script).
fn burn_address(n: u64) -> String {
    let script = ScriptBuf::from_bytes(vec![0x51 + (n % 16) as u8]);
    alys_federation::bitcoin::Address::p2wsh(&script, Network::Regtest).to_string()
}

/// Per-slot timings, in ms.
#[derive(Default)]
struct Timings {
    produce: Vec<f64>,
    import: Vec<f64>,
}

/// A chain of two nodes and what its next slot needs.
struct Setup {
    name: &'static str,
    time: ManualTimeSource,
    proposer: PegNode,
    importer: PegNode,
    eth: String,
    required: u64,
    next_slot: u64,
    next_deposit: u64,
    nonce: u64,
    timings: Timings,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start(name: &'static str, spec: &Arc<ChainSpec>, first_slot: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let time = ManualTimeSource::new((first_slot - 1) * SLOT_MS);
        let (proposer, eth) = start_peg_node(&dir.path().join("a"), spec, &time, true).await;
        let (importer, _) = start_peg_node(&dir.path().join("b"), spec, &time, false).await;
        Self {
            name,
            time,
            proposer,
            importer,
            eth: eth.expect("eth RPC is on"),
            required: u64::from(spec.required_btc_confirmations.expect("dev spec sets it")),
            next_slot: first_slot,
            next_deposit: 0,
            nonce: 0,
            timings: Timings::default(),
            _dir: dir,
        }
    }

    /// The next `count` deposits, in the Bitcoin block of this slot, confirmed on both nodes
    /// (the Bitcoin tip `required - 1` blocks above it).
    fn confirm_deposits(&mut self, count: u64) {
        let block = bitcoin_block(self.next_slot);
        let tip = bitcoin_block(self.next_slot + self.required - 1);
        let events: Vec<FollowerEvent> = (self.next_deposit..self.next_deposit + count)
            .map(|n| FollowerEvent::Deposit(deposit(n, block)))
            .collect();
        self.next_deposit += count;
        for node in [&self.proposer, &self.importer] {
            let mut batch = WriteBatch::new();
            let staged = node.index.stage(&events, &mut batch);
            node.store.write(batch, Durability::Buffered).unwrap();
            node.index.commit(staged, Some(tip));
        }
    }

    /// Sends `count` `requestPegOut` calls of 20,000..60,000 sats to the proposer's pool.
    fn send_burns(&mut self, http: &reqwest::blocking::Client, chain_id: u64, count: u64) {
        let raws: Vec<String> = (0..count)
            .map(|_| {
                let n = self.nonce;
                self.nonce += 1;
                let sats = 20_000 + (n * 3_331) % 40_000;
                let input = requestPegOutCall {
                    btcAddress: Bytes::from(burn_address(n).into_bytes()),
                }
                .abi_encode();
                raw_and_hash(&signed_call(
                    chain_id,
                    &DEV_ACCOUNTS[1].1,
                    n,
                    BRIDGE_ADDRESS,
                    U256::from(sats * WEI_PER_SAT),
                    input.into(),
                    BURN_GAS,
                ))
                .0
            })
            .collect();
        tokio::task::block_in_place(|| send_raw_batch(http, &self.eth, &raws));
    }

    /// The block of the next slot: produced by A, imported by B, then by A. Returns the block
    /// and the times of production and of B's import.
    async fn slot(&mut self) -> (alys_primitives::ConsensusBlock, Duration, Duration) {
        let slot = self.next_slot;
        self.next_slot += 1;
        let started = Instant::now();
        let proposal = produce(&self.proposer.chain, &self.time, slot).await;
        let produced = started.elapsed();
        let signed = sign_block(&self.proposer.chain, proposal.block);
        let started = Instant::now();
        self.importer
            .chain
            .import_block(&signed)
            .await
            .unwrap_or_else(|e| panic!("{}: B refused slot {slot}: {e:?}", self.name));
        let imported = started.elapsed();
        self.proposer.chain.import_block(&signed).await.unwrap();
        (signed.message, produced, imported)
    }

    /// Builds `blocks` blocks minting `deposits` deposits between them, spread evenly.
    async fn build(&mut self, blocks: u64, deposits: u64) {
        let started = Instant::now();
        for b in 0..blocks {
            let upto = deposits * (b + 1) / blocks;
            self.confirm_deposits(upto - self.next_deposit);
            let (block, _, _) = self.slot().await;
            assert_eq!(
                block.pegins.len() as u64,
                deposits * (b + 1) / blocks - deposits * b / blocks
            );
            if (b + 1) % 500 == 0 {
                eprintln!(
                    "{}: built {} blocks in {:.0} s",
                    self.name,
                    b + 1,
                    started.elapsed().as_secs_f64()
                );
            }
        }
        eprintln!(
            "{}: built {blocks} blocks ({deposits} deposits) in {:.1} s",
            self.name,
            started.elapsed().as_secs_f64()
        );
    }

    /// One slot of the measured workload; its timings are kept if `measured`.
    async fn workload_slot(
        &mut self,
        http: &reqwest::blocking::Client,
        chain_id: u64,
        measured: bool,
    ) {
        self.confirm_deposits(DEPOSITS_PER_SLOT);
        let had_pending = self.nonce > 0;
        self.send_burns(http, chain_id, BURNS_PER_SLOT);
        let (block, produced, imported) = self.slot().await;
        assert_eq!(
            block.pegins.len() as u64,
            DEPOSITS_PER_SLOT,
            "{}",
            self.name
        );
        assert_eq!(
            block.execution_payload.transactions.len() as u64,
            BURNS_PER_SLOT,
            "{}: the burns are in the block",
            self.name
        );
        assert_eq!(
            block.pegout_proposal.is_some(),
            had_pending,
            "{}: a payout of the previous block's burns",
            self.name
        );
        if measured {
            self.timings.produce.push(produced.as_secs_f64() * 1e3);
            self.timings.import.push(imported.as_secs_f64() * 1e3);
        }
    }

    /// What the head's peg state holds, on each node.
    fn describe(&self) -> String {
        let mut out = Vec::new();
        for (who, node) in [("A", &self.proposer), ("B", &self.importer)] {
            let head = node.chain.head().clone();
            let minted = node.pegins.minted_on(&head.root).unwrap().len();
            let state = node.ledger.state(&head.root).unwrap();
            out.push(format!(
                "{who}: height {}, {} deposit records, {minted} minted, {} UTXOs, {} pending, {} payouts",
                head.height,
                node.index.len(),
                state.utxos.len(),
                state.pending.len(),
                state.payouts.len()
            ));
        }
        format!("{}: {}", self.name, out.join("; "))
    }

    async fn stop(self) {
        self.proposer.el.stop().await;
        self.importer.el.stop().await;
    }
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn main() {
    let blocks = env_u64("ALYS_BENCH_BLOCKS", 3_600);
    let deposits = env_u64("ALYS_BENCH_DEPOSITS", 10_000);
    let slots = env_u64("ALYS_BENCH_SLOTS", 200);
    let spec = unmined_dev_spec(AUTHORITIES, SLOT_MS);
    let rt = runtime();
    let http = reqwest::blocking::Client::new();
    println!(
        "peg_chain: full = {blocks} blocks minting {deposits} deposits, empty = {EMPTY_BLOCKS} \
         blocks minting {EMPTY_DEPOSITS}; {slots} measured slots each ({DEPOSITS_PER_SLOT} \
         peg-ins, {BURNS_PER_SLOT} burns and a payout a block); load {}",
        load()
    );
    // Every slot lies in the past of the wall clock.
    let first_slot = now_ms() / SLOT_MS - blocks - WARMUP - slots - 10;
    rt.block_on(async {
        let mut full = Setup::start("full", &spec, first_slot).await;
        let mut empty = Setup::start("empty", &spec, first_slot).await;
        full.build(blocks, deposits).await;
        empty.build(EMPTY_BLOCKS, EMPTY_DEPOSITS).await;
        println!("{}", full.describe());
        println!("{}", empty.describe());
        println!("measuring; load {}", load());
        for i in 0..WARMUP + slots {
            for s in [&mut full, &mut empty] {
                s.workload_slot(&http, spec.chain_id, i >= WARMUP).await;
            }
        }
        println!("{}", full.describe());
        println!("{}", empty.describe());
        println!("load {}", load());
        let f = std::mem::take(&mut full.timings);
        let e = std::mem::take(&mut empty.timings);
        report(blocks, deposits, f, e);
        full.stop().await;
        empty.stop().await;
    });
    rt.shutdown_timeout(Duration::from_secs(5));
}

fn report(blocks: u64, deposits: u64, full: Timings, empty: Timings) {
    let rows = [
        ("produce (A)", sorted(full.produce), sorted(empty.produce)),
        ("import (B)", sorted(full.import), sorted(empty.import)),
    ];
    println!(
        "| per block | (a) {blocks} blocks, {deposits} minted: p50 | p99 | (b) {EMPTY_BLOCKS} blocks, {EMPTY_DEPOSITS} minted: p50 | p99 | (a)/(b) p50 | (a)/(b) p99 |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (what, f, e) in rows {
        let (f50, f99) = (percentile(&f, 50.0), percentile(&f, 99.0));
        let (e50, e99) = (percentile(&e, 50.0), percentile(&e, 99.0));
        println!(
            "| {what} | {f50:.2} ms | {f99:.2} ms | {e50:.2} ms | {e99:.2} ms | **{:.2}** | {:.2} |",
            f50 / e50,
            f99 / e99
        );
    }
}
