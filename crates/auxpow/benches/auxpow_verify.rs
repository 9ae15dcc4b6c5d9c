//! AuxPoW decode + verify cost per proof for the real Namecoin vectors, next to the SHA256d
//! work every verification must do (the physical floor): the parent header hash, the coinbase
//! txid, one hash per coinbase-branch level and one per chain-branch level.
//!
//! `cargo bench -p alys-auxpow --bench auxpow_verify` (vectors from `tests/vectors`, or
//! `ALYS_VECTORS_DIR`).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![allow(missing_docs)] // criterion_main! writes an undocumented main

use alys_auxpow::bitcoin::block::Header;
use alys_auxpow::bitcoin::consensus::encode::{deserialize, serialize};
use alys_auxpow::bitcoin::hashes::{sha256d, Hash};
use alys_auxpow::bitcoin::Target;
use alys_auxpow::{AuxPow, VerifyParams, WorkHash};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn vectors() -> Vec<(String, Header, Vec<u8>)> {
    let Some(path) = alys_primitives::vectors::vectors_path("auxpow/namecoin_auxpow_headers.json")
    else {
        return Vec::new();
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    doc["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .filter(|v| v["has_auxpow"].as_bool() == Some(true))
        .map(|v| {
            let bytes = hex::decode(v["hex"].as_str().expect("hex")).expect("hex");
            let header: Header = deserialize(&bytes[..80]).expect("header");
            (
                v["name"].as_str().expect("name").to_owned(),
                header,
                bytes[80..].to_vec(),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let params = VerifyParams {
        chain_id: 1,
        pow_limit: Target::from_be_bytes([0xff; 32]),
    };
    for (name, header, bytes) in vectors() {
        let aux = AuxPow::from_bytes(&bytes).expect("decodes");
        let hash = WorkHash(header.block_hash().to_byte_array());
        let mut g = c.benchmark_group(name);
        g.bench_function("decode+verify", |b| {
            b.iter(|| {
                let aux = AuxPow::from_bytes(black_box(&bytes)).expect("decodes");
                aux.verify(&hash, header.bits, &params).expect("valid")
            })
        });
        g.bench_function("verify", |b| {
            b.iter(|| aux.verify(&hash, header.bits, &params).expect("valid"))
        });
        // The floor: sha256d of the 80-byte parent header, of the coinbase (txid), and of one
        // 64-byte node per branch level.
        let parent = serialize(&aux.parent_header);
        let coinbase = serialize(&aux.coinbase_tx);
        let levels = aux.coinbase_branch.hashes.len() + aux.chain_branch.hashes.len();
        let label = format!(
            "sha256d floor ({levels} levels, {} B coinbase)",
            coinbase.len()
        );
        g.bench_function(label, |b| {
            b.iter(|| {
                let p = sha256d::Hash::hash(black_box(&parent));
                let mut h = sha256d::Hash::hash(black_box(&coinbase));
                let mut node = [0u8; 64];
                for _ in 0..levels {
                    node[..32].copy_from_slice(h.as_byte_array());
                    node[32..].copy_from_slice(p.as_byte_array());
                    h = sha256d::Hash::hash(&node);
                }
                (p, h)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
