//! The per-block cost of the peg-out ledger as consensus pays it: `work()` (the proposer),
//! `expected_refunds()` + `check_proposal()` (every validator) and `imported()` (every node) for
//! one block carrying a payout of 100 requests, on top of chains of different lengths and UTXO
//! counts; and the restart cost, `Ledger::state()` of a cold head (a fresh ledger rebuilding the
//! head's state from the stored blocks and burns).
//!
//! `cargo bench -p alys-federation --bench ledger -- --warm-up-time 1 --measurement-time 3`;
//! figures in `docs/benchmarks.md`, "Peg-out ledger".
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/ledger_chain.rs"]
mod ledger_chain;

use std::hint::black_box;
use std::time::Duration;

use alys_consensus::pegout::PegOutLedger;
use alys_consensus::BlockInfo;
use alys_federation::bitcoin::Network;
use alys_primitives::{Address, ConsensusBlock, B256};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ledger_chain::{addresses, pegin, refunds_of, Burn, Content, TestChain};

/// A chain of `blocks` blocks minting `utxos` deposits (10k..2M sats) between them, the last
/// recording `pending` burns to regtest addresses; and the next block the proposer builds on
/// it (a payout of the pending requests), with its receipts (two more burns).
struct Setup {
    tc: TestChain,
    head: BlockInfo,
    block: ConsensusBlock,
    receipts: Vec<alloy::rpc::types::TransactionReceipt>,
    _dir: tempfile::TempDir,
}

fn txid(n: u64) -> B256 {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&n.to_be_bytes());
    h[31] = 0xbe;
    B256::from(h)
}

fn setup(blocks: usize, utxos: usize, pending: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut tc = TestChain::new(dir.path());
    let regtest: Vec<String> = (1..=4)
        .flat_map(|s| addresses(s, Network::Regtest))
        .collect();
    let mut head = tc.genesis.clone();
    let mut minted = 0usize;
    for b in 0..blocks {
        // Spread the deposits evenly over the blocks.
        let upto = utxos * (b + 1) / blocks;
        let pegins = (minted..upto)
            .map(|i| {
                let sats = 10_000 + (i as u64 * 7_919_993) % 1_990_000;
                pegin(txid(i as u64), 0, sats, Address::repeat_byte(0x20))
            })
            .collect();
        minted = upto;
        let receipts = if b + 1 == blocks {
            let burns: Vec<Burn> = (0..pending)
                .map(|i| {
                    Burn::new(
                        Address::repeat_byte(1 + (i % 8) as u8),
                        &regtest[i % regtest.len()],
                        20_000 + (i as u64 * 3_331) % 80_000,
                    )
                })
                .collect();
            tc.burn_receipts(&burns)
        } else {
            Vec::new()
        };
        head = tc.extend_unchecked(
            &head,
            &Content {
                pegins,
                receipts,
                ..Default::default()
            },
        );
    }
    let block = tc.propose(&head, &Content::default());
    assert!(
        block.pegout_proposal.is_some(),
        "the benchmarked block carries a payout"
    );
    tc.validate(&head, &block).unwrap();
    let receipts = tc.burn_receipts(&[
        Burn::new(Address::repeat_byte(9), &regtest[0], 50_000),
        Burn::new(Address::repeat_byte(9), &regtest[1], 60_000),
    ]);
    Setup {
        tc,
        head,
        block,
        receipts,
        _dir: dir,
    }
}

/// work + expected_refunds + check_proposal + imported of one block on the head.
fn one_block(s: &Setup) {
    let ledger = &s.tc.ledger;
    let block = &s.block;
    let work = ledger.work(&s.head);
    let proposal = work.proposal.expect("payout");
    let due = ledger.expected_refunds(&s.head).unwrap();
    black_box(due);
    ledger.check_proposal(&s.head, Some(&proposal)).unwrap();
    ledger
        .imported(&s.head, block.root(), block, refunds_of(block), &s.receipts)
        .unwrap();
}

fn per_block(c: &mut Criterion) {
    let mut g = c.benchmark_group("pegout_ledger_block");
    for (name, blocks, utxos) in [
        ("a_empty_chain_2_blocks_10_utxos", 2, 10),
        ("b_3600_blocks_10000_utxos", 3_600, 10_000),
        ("c_3600_blocks_10_utxos", 3_600, 10),
        ("d_100_blocks_10000_utxos", 100, 10_000),
    ] {
        let s = setup(blocks, utxos, 100);
        g.bench_function(name, |b| b.iter(|| one_block(&s)));
    }
    g.finish();
}

fn rebuild(c: &mut Criterion) {
    let mut g = c.benchmark_group("pegout_ledger_restart");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));
    for (name, blocks, utxos) in [
        ("state_cold_head_3600_blocks_10000_utxos", 3_600, 10_000),
        ("state_cold_head_3600_blocks_10_utxos", 3_600, 10),
        // Longer than the state cache (MAX_CACHED_STATES = 8192): the rebuild evicts.
        ("state_cold_head_12000_blocks_10_utxos", 12_000, 10),
    ] {
        let s = setup(blocks, utxos, 100);
        let root = s.head.root;
        g.bench_function(name, |b| {
            b.iter_batched(
                || s.tc.restarted_ledger(),
                |ledger| {
                    let state = ledger.state(&root).unwrap();
                    assert_eq!(state.utxos.len(), utxos);
                    black_box(state);
                    ledger
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, per_block, rebuild);
criterion_main!(benches);
