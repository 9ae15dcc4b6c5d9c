//! Payout costs: building the payouts of 500 pending requests over 2,000 federation UTXOs, and
//! signing and verifying one input's leaf-A signature.
//!
//! A block carries one payout of at most `MAX_PAYOUT_REQUESTS` (100) requests, so 500 pending
//! requests take 5 payouts (5 blocks); `build_500_requests` builds all 5 in sequence, each
//! spending from what the previous left (its change included). `build_one_payout` is the cost
//! per block. Sign and verify figures are per input of a 100-input payout: `verify_all_inputs` calls
//! `verify_payout_signature` once per input (each call rehashes the prevouts),
//! `verify_all_inputs_one_cache` calls `verify_payout_signatures` once.
//!
//! `cargo bench -p alys-federation --bench payout`
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![allow(missing_docs)] // criterion_main! writes an undocumented main

use alys_federation::bitcoin::hashes::Hash;
use alys_federation::bitcoin::key::{CompressedPublicKey, Secp256k1};
use alys_federation::bitcoin::secp256k1::SecretKey;
use alys_federation::bitcoin::{Address, Network, OutPoint, Txid};
use alys_federation::{
    build_payout, sign_payout, verify_payout_signature, verify_payout_signatures, Federation,
    PayoutRequest, RequestId, SchnorrSigner, Utxo, MAX_PAYOUT_REQUESTS,
};
use alys_primitives::{Sats, B256};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

const FEE_RATE: u64 = 10;

fn signer(i: u8) -> SchnorrSigner {
    SchnorrSigner::from_bytes(&[i + 1; 32]).unwrap()
}

fn federation(n: u8, m: u32) -> Federation {
    let keys = (0..n).map(|i| signer(i).public_key()).collect();
    Federation::new(Network::Regtest, keys, m, None, 0).unwrap()
}

fn utxos(n: u32) -> Vec<Utxo> {
    (0..n)
        .map(|i| {
            let mut h = [0u8; 32];
            h[..4].copy_from_slice(&i.to_be_bytes());
            Utxo {
                outpoint: OutPoint::new(Txid::from_byte_array(h), i % 2),
                value: Sats(20_000 + u64::from(i * 7_919 % 300_000)),
            }
        })
        .collect()
}

fn requests(n: u64) -> Vec<PayoutRequest> {
    let secp = Secp256k1::new();
    (0..n)
        .map(|i| {
            let mut secret = [0x42u8; 32];
            secret[..8].copy_from_slice(&(i + 1).to_be_bytes());
            let pk = CompressedPublicKey(SecretKey::from_slice(&secret).unwrap().public_key(&secp));
            let address = if i % 2 == 0 {
                Address::p2wpkh(&pk, Network::Regtest)
            } else {
                Address::p2tr(&secp, pk.0.x_only_public_key().0, None, Network::Regtest)
            };
            PayoutRequest {
                id: RequestId {
                    tx_hash: B256::with_last_byte(i as u8),
                    log_index: i,
                },
                address,
                amount: Sats(50_000 + (i * 1_337) % 200_000),
            }
        })
        .collect()
}

/// Pays `pending` in payouts of at most `MAX_PAYOUT_REQUESTS`, updating the UTXO set.
fn pay_all(f: &Federation, mut set: Vec<Utxo>, pending: &[PayoutRequest]) -> usize {
    let mut payouts = 0;
    for chunk in pending.chunks(MAX_PAYOUT_REQUESTS) {
        let p = build_payout(f, &set, chunk, FEE_RATE).unwrap();
        set.retain(|u| !p.inputs.contains(u));
        set.extend(p.change);
        payouts += 1;
    }
    payouts
}

fn bench(c: &mut Criterion) {
    let f = federation(5, 3);
    let set = utxos(2_000);
    let pending = requests(500);
    assert_eq!(pay_all(&f, set.clone(), &pending), 5);

    let mut g = c.benchmark_group("payout_build");
    g.bench_function("build_500_requests_2000_utxos_5_payouts", |b| {
        b.iter(|| pay_all(&f, black_box(set.clone()), black_box(&pending)))
    });
    g.bench_function("build_one_payout_100_requests_2000_utxos", |b| {
        b.iter(|| build_payout(&f, black_box(&set), &pending[..100], FEE_RATE).unwrap())
    });
    g.finish();

    // A 100-input payout: small UTXOs so the selection takes 100 of them.
    let small: Vec<Utxo> = utxos(100)
        .into_iter()
        .map(|mut u| {
            u.value = Sats(10_000);
            u
        })
        .collect();
    let mut whole = requests(1);
    whole[0].amount = Sats(100 * 10_000);
    let p = build_payout(&f, &small, &whole, FEE_RATE).unwrap();
    assert_eq!(p.inputs.len(), 100);
    let n_in = p.inputs.len() as u64;
    let s = signer(0);
    let sigs = sign_payout(&s, &f, &p.tx, &p.inputs).unwrap();
    let key = s.public_key();

    let mut g = c.benchmark_group(format!("payout_sig_per_input_of_{n_in}"));
    g.throughput(Throughput::Elements(n_in));
    g.bench_function("sign_all_inputs", |b| {
        b.iter(|| sign_payout(&s, &f, black_box(&p.tx), &p.inputs).unwrap())
    });
    g.bench_function("verify_all_inputs", |b| {
        b.iter(|| {
            for (i, sig) in sigs.iter().enumerate() {
                verify_payout_signature(key, &f, black_box(&p.tx), &p.inputs, i, sig).unwrap();
            }
        })
    });
    g.bench_function("verify_all_inputs_one_cache", |b| {
        b.iter(|| verify_payout_signatures(key, &f, black_box(&p.tx), &p.inputs, &sigs).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
