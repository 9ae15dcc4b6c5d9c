//! Randomized robustness ("fuzz-like") tests: the decoder, the verifier and ASERT must never
//! panic, and every input the decoder accepts must re-encode byte-identically.
//!
//! Budget: `ALYS_AUXPOW_FUZZ_ITERS` iterations per test (default 20 000) and, if set,
//! `ALYS_AUXPOW_FUZZ_SECS` seconds minimum per test (e.g. 600 for a 10-minute run).
//! `ALYS_AUXPOW_FUZZ_SEED` fixes the RNG seed (printed on every run).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256};
use alys_auxpow::bitcoin::block::{Header, Version};
use alys_auxpow::bitcoin::hashes::{sha256d, Hash};
use alys_auxpow::bitcoin::{
    absolute, transaction, Amount, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness,
};
use alys_auxpow::verify::merkle_branch_root;
use alys_auxpow::{
    grind_header, next_bits, AsertAnchor, AsertParams, AuxPow, CommitmentPlacement,
    MergedMiningHeader, MerkleBranch, ParentBlockBuilder, VerifyParams, WorkCommitment, WorkHash,
};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

fn env_u64(key: &str) -> Option<u64> {
    std::env::var(key).ok().and_then(|v| v.parse().ok())
}

struct Budget {
    iters: u64,
    min_time: Duration,
    start: Instant,
}

impl Budget {
    fn new() -> Self {
        Budget {
            iters: env_u64("ALYS_AUXPOW_FUZZ_ITERS").unwrap_or(20_000),
            min_time: Duration::from_secs(env_u64("ALYS_AUXPOW_FUZZ_SECS").unwrap_or(0)),
            start: Instant::now(),
        }
    }
    fn more(&self, done: u64) -> bool {
        done < self.iters || self.start.elapsed() < self.min_time
    }
}

fn rng(test: &str) -> StdRng {
    let seed = env_u64("ALYS_AUXPOW_FUZZ_SEED").unwrap_or(0x00a1_5a0f);
    println!("{test}: seed {seed}");
    StdRng::seed_from_u64(seed)
}

/// Seeds: locally mined proofs plus, when present, the real Namecoin AuxPoWs.
fn seeds() -> Vec<(WorkHash, Vec<u8>)> {
    let c = WorkCommitment {
        chain_id: 7,
        head_root: B256::repeat_byte(3),
        range_start: 1,
        payout: Address::repeat_byte(4),
    };
    let hash = c.work_hash();
    let mut out = Vec::new();
    for placement in [CommitmentPlacement::ScriptSig, CommitmentPlacement::Output] {
        let b = ParentBlockBuilder {
            placement,
            ..Default::default()
        };
        let aux = b.mine(&hash, &common::regtest_target(), 1_000_000).unwrap();
        out.push((hash, aux.to_bytes()));
    }
    if let Some(path) =
        alys_primitives::vectors::vectors_path("auxpow/namecoin_auxpow_headers.json")
    {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        for v in doc["vectors"].as_array().unwrap() {
            let bytes = hex::decode(v["hex"].as_str().unwrap()).unwrap();
            if bytes.len() > 80 {
                let header: Header =
                    alys_auxpow::bitcoin::consensus::deserialize(&bytes[..80]).unwrap();
                let h = WorkHash(header.block_hash().to_byte_array());
                out.push((h, bytes[80..].to_vec()));
            }
        }
    }
    out
}

fn mutate(rng: &mut StdRng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    let n = v.len().max(1);
    match rng.gen_range(0..9) {
        0 => {
            let len = rng.gen_range(0..2_000);
            v = vec![0; len];
            rng.fill_bytes(&mut v);
        }
        1 => {
            for _ in 0..rng.gen_range(1..8) {
                let i = rng.gen_range(0..n);
                if let Some(b) = v.get_mut(i) {
                    *b ^= 1 << rng.gen_range(0..8);
                }
            }
        }
        2 => {
            for _ in 0..rng.gen_range(1..8) {
                let i = rng.gen_range(0..n);
                if let Some(b) = v.get_mut(i) {
                    *b = rng.gen();
                }
            }
        }
        3 => v.truncate(rng.gen_range(0..n)),
        4 => {
            let at = rng.gen_range(0..=v.len());
            let mut ins = vec![0; rng.gen_range(1..64)];
            rng.fill_bytes(&mut ins);
            v.splice(at..at, ins);
        }
        5 => {
            let a = rng.gen_range(0..n).min(v.len());
            let b = rng.gen_range(a..=v.len());
            v.drain(a..b);
        }
        6 => {
            // Plant a large/non-minimal varint or count.
            let at = rng.gen_range(0..n).min(v.len());
            let pat: Vec<u8> = match rng.gen_range(0..5) {
                0 => vec![0xfd, rng.gen(), rng.gen()],
                1 => vec![0xfe, rng.gen(), rng.gen(), rng.gen(), 0x7f],
                2 => vec![0xff; 9],
                3 => vec![0xfd, 0x01, 0x00],
                _ => vec![rng.gen_range(0x1f..0x30)],
            };
            let end = (at + pat.len()).min(v.len());
            v.splice(at..end, pat);
        }
        7 => {
            // Splice two seeds.
            let a = rng.gen_range(0..n).min(v.len());
            let b = rng.gen_range(0..other.len().max(1)).min(other.len());
            v.truncate(a);
            v.extend_from_slice(&other[b..]);
        }
        _ => {
            // Plant the merged-mining magic somewhere.
            let at = rng.gen_range(0..n).min(v.len());
            let end = (at + 4).min(v.len());
            v.splice(at..end, [0xfa, 0xbe, 0x6d, 0x6d]);
        }
    }
    v
}

fn random_params(rng: &mut StdRng) -> (CompactTarget, VerifyParams) {
    let bits = match rng.gen_range(0..3) {
        0 => common::regtest_bits(),
        1 => CompactTarget::from_consensus(rng.gen()),
        _ => CompactTarget::from_consensus(0x1d00_ffff),
    };
    let pow_limit = if rng.gen() {
        common::regtest_target()
    } else {
        common::no_limit()
    };
    (
        bits,
        VerifyParams {
            chain_id: rng.gen_range(0..4),
            pow_limit,
        },
    )
}

#[test]
fn fuzz_decoder_never_panics_and_round_trips() {
    let mut rng = rng("decode");
    let seeds = seeds();
    let budget = Budget::new();
    let (mut done, mut decoded) = (0u64, 0u64);
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    while budget.more(done) {
        let (hash, seed) = &seeds[rng.gen_range(0..seeds.len())];
        let (_, other) = &seeds[rng.gen_range(0..seeds.len())];
        let input = mutate(&mut rng, seed, other);
        let outcome = match AuxPow::from_bytes(&input) {
            Ok(aux) => {
                decoded += 1;
                assert_eq!(
                    aux.to_bytes(),
                    input,
                    "accepted input must re-encode identically"
                );
                let _ = MergedMiningHeader::find_all(&aux.coinbase_tx);
                let (bits, params) = random_params(&mut rng);
                match aux.verify(hash, bits, &params) {
                    Ok(_) => "verified".to_owned(),
                    Err(e) => format!("verify: {}", variant(&format!("{e:?}"))),
                }
            }
            Err(e) => format!("decode: {}", variant(&format!("{e:?}"))),
        };
        *outcomes.entry(outcome).or_default() += 1;
        let hex_input = hex::encode(&input);
        let _ = AuxPow::from_hex(&hex_input[..rng.gen_range(0..=hex_input.len())]);
        done += 1;
    }
    println!(
        "decode fuzz: {done} inputs, {decoded} decoded, {:?}",
        budget.start.elapsed()
    );
    for (k, v) in &outcomes {
        println!("  {v:>8}  {k}");
    }
    assert!(done >= budget.iters);
}

fn variant(debug: &str) -> &str {
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or(debug)
}

fn random_hashes(rng: &mut StdRng, max: usize) -> Vec<sha256d::Hash> {
    (0..rng.gen_range(0..=max))
        .map(|_| sha256d::Hash::from_byte_array(rng.gen()))
        .collect()
}

fn random_script(rng: &mut StdRng, root: &WorkHash) -> ScriptBuf {
    let mut s = vec![0u8; rng.gen_range(0..90)];
    rng.fill_bytes(&mut s);
    if rng.gen_bool(0.6) {
        let at = rng.gen_range(0..=s.len());
        let in_output = rng.gen();
        let size = if rng.gen() { 1 } else { rng.gen() };
        let h = MergedMiningHeader::encode(root, size, rng.gen(), in_output);
        let cut = rng.gen_range(0..=h.len());
        s.splice(at..at, h[..cut].iter().copied());
    }
    ScriptBuf::from_bytes(s)
}

/// Structurally valid but random proofs (indices, branches, scripts, versions): verification
/// must return `Ok` or a typed error, never panic; encoding must decode back or fail typed.
#[test]
fn fuzz_verifier_on_random_structures() {
    let mut rng = rng("verify");
    let budget = Budget::new();
    let mut done = 0u64;
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    while budget.more(done) {
        let hash = WorkHash(rng.gen());
        let index = |rng: &mut StdRng| match rng.gen_range(0..4) {
            0 => 0,
            1 => -1,
            2 => rng.gen_range(0..64),
            _ => rng.gen(),
        };
        let (chain_max, coinbase_max) = if rng.gen() { (3, 3) } else { (32, 34) };
        let chain_branch = MerkleBranch {
            hashes: random_hashes(&mut rng, chain_max),
            index: index(&mut rng),
        };
        let coinbase_branch = MerkleBranch {
            hashes: random_hashes(&mut rng, coinbase_max),
            index: if rng.gen_bool(0.8) {
                0
            } else {
                index(&mut rng)
            },
        };
        // Mostly commit the right chain root so that the later rules are exercised too.
        let root = if rng.gen_bool(0.8) {
            WorkHash(
                merkle_branch_root(hash.to_sha256d(), &chain_branch.hashes, chain_branch.index)
                    .to_byte_array(),
            )
        } else {
            WorkHash(rng.gen())
        };
        let coinbase_tx = Transaction {
            version: transaction::Version::ONE,
            lock_time: absolute::LockTime::ZERO,
            input: (0..if rng.gen_bool(0.8) {
                1
            } else {
                rng.gen_range(0..3)
            })
                .map(|_| TxIn {
                    previous_output: if rng.gen_bool(0.8) {
                        OutPoint::null()
                    } else {
                        OutPoint {
                            txid: Txid::from_byte_array(rng.gen()),
                            vout: rng.gen(),
                        }
                    },
                    script_sig: random_script(&mut rng, &root),
                    sequence: Sequence::MAX,
                    witness: Witness::new(),
                })
                .collect(),
            output: (0..rng.gen_range(0..4))
                .map(|_| TxOut {
                    value: Amount::from_sat(rng.gen_range(0..1_000)),
                    script_pubkey: random_script(&mut rng, &root),
                })
                .collect(),
        };
        let merkle_root = if rng.gen_bool(0.8) {
            let txid = coinbase_tx.compute_txid().to_raw_hash();
            TxMerkleNode::from_raw_hash(merkle_branch_root(txid, &coinbase_branch.hashes, 0))
        } else {
            TxMerkleNode::from_byte_array(rng.gen())
        };
        let version: i32 = rng.gen();
        let version = if rng.gen_bool(0.8) {
            version & !0x100
        } else {
            version
        };
        let mut aux = AuxPow {
            coinbase_tx,
            parent_hash: BlockHash::from_byte_array(rng.gen()),
            coinbase_branch,
            chain_branch,
            parent_header: Header {
                version: Version::from_consensus(version),
                prev_blockhash: BlockHash::from_byte_array(rng.gen()),
                merkle_root,
                time: rng.gen(),
                bits: CompactTarget::from_consensus(rng.gen()),
                nonce: rng.gen(),
            },
        };
        if rng.gen() {
            grind_header(&mut aux.parent_header, &common::regtest_target(), 64);
        }
        let (bits, mut params) = random_params(&mut rng);
        if rng.gen() {
            params.chain_id = rng.gen();
        }
        match aux.verify(&hash, bits, &params) {
            Ok(_) => *outcomes.entry("verified".into()).or_default() += 1,
            Err(e) => {
                *outcomes
                    .entry(variant(&format!("{e:?}")).to_owned())
                    .or_default() += 1
            }
        }
        let _ = aux.check(&hash, rng.gen());
        let bytes = aux.to_bytes();
        if let Ok(back) = AuxPow::from_bytes(&bytes) {
            assert_eq!(back.to_bytes(), bytes);
        }
        done += 1;
    }
    println!(
        "verify fuzz: {done} random proofs, {:?}",
        budget.start.elapsed()
    );
    for (k, v) in &outcomes {
        println!("  verify {v:>8}  {k}");
    }
}

#[test]
fn fuzz_asert_never_panics() {
    let mut rng = rng("asert");
    let budget = Budget::new();
    let mut done = 0u64;
    while budget.more(done) {
        let params = AsertParams {
            target_spacing_secs: rng.gen(),
            half_life_secs: rng.gen(),
            pow_limit: if rng.gen() {
                common::no_limit()
            } else {
                common::regtest_target()
            },
        };
        let anchor = AsertAnchor {
            height: rng.gen(),
            parent_time: rng.gen(),
            bits: CompactTarget::from_consensus(rng.gen()),
        };
        let _ = next_bits(&params, &anchor, rng.gen(), rng.gen());
        let _ = next_bits(
            &params,
            &anchor,
            anchor.height.saturating_add(rng.gen_range(0..10_000)),
            rng.gen(),
        );
        done += 1;
    }
}
