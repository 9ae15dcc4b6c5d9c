//! Commit cost of the incremental trie: 100 changed keys in tries of 10k and 1M keys.
//!
//! Run with `cargo bench -p alys-evm --bench trie`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![allow(missing_docs)] // criterion_main! writes an undocumented main

use alloy_primitives::B256;
use alys_evm::trie::{MemoryNodes, Trie};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Keys per build commit, to bound the memory of the in-memory tree while building.
const BUILD_BATCH: usize = 100_000;
/// Changed keys per measured commit.
const CHANGES: usize = 100;

fn random_key(rng: &mut StdRng) -> B256 {
    B256::from(rng.r#gen::<[u8; 32]>())
}

/// An account-sized leaf value.
fn random_value(rng: &mut StdRng) -> Vec<u8> {
    (0..70).map(|_| rng.r#gen()).collect()
}

/// A committed trie of `size` random keys: its store, root and keys.
fn build(size: usize, rng: &mut StdRng) -> (MemoryNodes, B256, Vec<B256>) {
    let mut db = MemoryNodes::new();
    let mut trie = Trie::default();
    let keys: Vec<B256> = (0..size).map(|_| random_key(rng)).collect();
    for batch in keys.chunks(BUILD_BATCH) {
        for key in batch {
            trie.insert(&db, *key, random_value(rng)).expect("insert");
        }
        let commit = trie.commit();
        db.extend(commit.new_nodes);
    }
    let root = trie.root_hash();
    (db, root, keys)
}

/// 100 changes: half updates of existing keys, a quarter new keys, a quarter removals.
fn changes(rng: &mut StdRng, keys: &[B256]) -> Vec<(B256, Option<Vec<u8>>)> {
    (0..CHANGES)
        .map(|i| match i % 4 {
            0 | 1 => (keys[rng.gen_range(0..keys.len())], Some(random_value(rng))),
            2 => (random_key(rng), Some(random_value(rng))),
            _ => (keys[rng.gen_range(0..keys.len())], None),
        })
        .collect()
}

fn bench_commit(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let mut group = c.benchmark_group("trie_100_changes");
    group.sample_size(50);
    for size in [10_000, 1_000_000] {
        let (db, root, keys) = build(size, &mut rng);

        // Loading the touched paths, applying the changes and committing.
        group.bench_with_input(BenchmarkId::new("apply_and_commit", size), &size, |b, _| {
            b.iter_batched(
                || (Trie::new(root), changes(&mut rng, &keys)),
                |(mut trie, updates)| {
                    trie.apply(&db, updates).expect("apply");
                    trie.commit()
                },
                BatchSize::SmallInput,
            )
        });

        // Hashing the changed paths only.
        group.bench_with_input(BenchmarkId::new("commit", size), &size, |b, _| {
            b.iter_batched(
                || {
                    let mut trie = Trie::new(root);
                    trie.apply(&db, changes(&mut rng, &keys)).expect("apply");
                    trie
                },
                |mut trie| trie.commit(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_commit);
criterion_main!(benches);
