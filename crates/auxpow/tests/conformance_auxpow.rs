//! Conformance with real data: `tests/vectors/auxpow/namecoin_auxpow_headers.json` and
//! `tests/vectors/auxpow/bitcoin_coinbase_mm_commitments.json`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alys_auxpow::bitcoin::block::Header;
use alys_auxpow::bitcoin::consensus::encode::{deserialize, deserialize_partial, serialize};
use alys_auxpow::bitcoin::hashes::Hash;
use alys_auxpow::bitcoin::Transaction;
use alys_auxpow::verify::{has_auxpow_flag, parent_chain_id};
use alys_auxpow::{
    AuxPow, AuxPowError, CommitmentLocation, MergedMiningHeader, ParentBlockBuilder, VerifyParams,
    WorkHash,
};
use alys_primitives::vectors::{report_cases, vectors_path};
use serde_json::Value;

fn load(name: &str) -> Option<Value> {
    let path = vectors_path(&format!("auxpow/{name}"))?;
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Some(serde_json::from_str(&text).expect("valid JSON"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// Splits a vector into (aux header, auxpow bytes).
fn split(hex_str: &str) -> (Header, Vec<u8>) {
    let bytes = hex::decode(hex_str).expect("hex");
    let (header, used): (Header, usize) = deserialize_partial(&bytes).expect("80-byte header");
    assert_eq!(used, 80);
    (header, bytes[80..].to_vec())
}

fn params(chain_id: u16) -> VerifyParams {
    VerifyParams {
        chain_id,
        pow_limit: common::no_limit(),
    }
}

fn aux_hash(header: &Header) -> WorkHash {
    WorkHash::from_byte_array(header.block_hash().to_byte_array())
}

#[test]
fn namecoin_headers_decode_roundtrip_and_verify() {
    let Some(doc) = load("namecoin_auxpow_headers.json") else {
        return;
    };
    let chain_id = doc["chain_id"].as_u64().expect("chain_id") as u16;
    let vectors = doc["vectors"].as_array().expect("vectors");
    let (mut verified, mut plain) = (0, 0);
    for v in vectors {
        let name = s(v, "name");
        let bytes = hex::decode(s(v, "hex")).unwrap();
        assert_eq!(
            bytes.len() as u64,
            v["hex_bytes"].as_u64().unwrap(),
            "{name}"
        );
        let (header, aux_bytes) = split(s(v, "hex"));
        assert_eq!(
            header.block_hash().to_string(),
            s(v, "block_hash"),
            "{name}: block hash"
        );
        assert_eq!(
            header.prev_blockhash.to_string(),
            s(v, "prev_hash"),
            "{name}"
        );
        assert_eq!(
            format!("{:#x}", header.version.to_consensus()),
            s(v, "version"),
            "{name}"
        );
        assert_eq!(
            format!("{:#010x}", header.bits.to_consensus()),
            s(v, "bits"),
            "{name}"
        );
        assert_eq!(
            u64::from(header.time),
            v["time"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            parent_chain_id(header.version.to_consensus()),
            v["chain_id"].as_i64().unwrap() as i32
        );

        if !v["has_auxpow"].as_bool().unwrap() {
            assert!(aux_bytes.is_empty(), "{name}: plain header is 80 bytes");
            assert!(!has_auxpow_flag(&header), "{name}");
            plain += 1;
            continue;
        }
        assert!(
            has_auxpow_flag(&header),
            "{name}: aux header has the auxpow flag"
        );

        let aux = AuxPow::from_bytes(&aux_bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            aux.to_bytes(),
            aux_bytes,
            "{name}: byte-identical re-encoding"
        );
        let mut full = serialize(&header);
        full.extend(aux.to_bytes());
        assert_eq!(full, bytes, "{name}: header + auxpow re-encode");

        assert_eq!(
            aux.coinbase_tx.compute_txid().to_string(),
            s(v, "coinbase_txid"),
            "{name}"
        );
        assert_eq!(
            aux.parent_header.block_hash().to_string(),
            s(v, "parent_block_hash"),
            "{name}: parent hash"
        );
        assert_eq!(
            aux.coinbase_branch.hashes.len() as u64,
            v["coinbase_merkle_branch_len"].as_u64().unwrap()
        );
        assert_eq!(
            aux.chain_branch.hashes.len() as u64,
            v["chain_merkle_branch_len"].as_u64().unwrap()
        );
        assert_eq!(
            i64::from(aux.chain_branch.index),
            v["chain_merkle_index"].as_i64().unwrap()
        );
        assert_eq!(
            aux.coinbase_tx.output.len() as u64,
            v["parent_coinbase_outputs"].as_u64().unwrap()
        );

        let location = aux
            .verify(&aux_hash(&header), header.bits, &params(chain_id))
            .unwrap_or_else(|e| panic!("{name}: should verify: {e}"));
        let explicit = v["explicit_mm_header_fabe6d6d"].as_bool().unwrap();
        match location {
            CommitmentLocation::ScriptSig { .. } => assert!(explicit, "{name}"),
            CommitmentLocation::LegacyScriptSig { offset } => {
                assert!(!explicit && offset <= 20, "{name}")
            }
            CommitmentLocation::Output { .. } => panic!("{name}: Namecoin uses the scriptSig"),
        }
        // Another chain id must not verify (the parent is never ours; the slot or root differs
        // only when the tree is non-trivial, so just require no panic and, for h > 0, failure).
        let other = aux.verify(&aux_hash(&header), header.bits, &params(chain_id + 1));
        if !aux.chain_branch.hashes.is_empty() {
            assert!(
                matches!(other, Err(AuxPowError::WrongChainIndex { .. })),
                "{name}: {other:?}"
            );
        }
        verified += 1;
    }
    assert_eq!(
        (verified, plain),
        (4, 1),
        "vector counts changed; review the test"
    );
    println!("namecoin vectors: {verified} auxpow headers verified, {plain} plain header checked");
    report_cases("Namecoin AuxPoW headers", verified + plain);
}

#[test]
fn namecoin_labelled_negatives_fail_with_matching_error() {
    let Some(doc) = load("namecoin_auxpow_headers.json") else {
        return;
    };
    let chain_id = doc["chain_id"].as_u64().unwrap() as u16;
    let negatives = doc["derived_negative_vectors"]
        .as_array()
        .expect("negatives");
    for v in negatives {
        let name = s(v, "name");
        assert_eq!(v["expected_valid"].as_bool(), Some(false), "{name}");
        let (header, aux_bytes) = split(s(v, "hex"));
        let result = AuxPow::from_bytes(&aux_bytes)
            .and_then(|aux| aux.verify(&aux_hash(&header), header.bits, &params(chain_id)));
        let err = result.expect_err(name);
        let ok = match name {
            "neg_37174_coinbase_index_1" => err == AuxPowError::CoinbaseNotAtIndexZero { index: 1 },
            "neg_19414_timestamp_42" => err == AuxPowError::ChainRootNotFound,
            "neg_37174_chain_branch_bitflip" => err == AuxPowError::ChainRootNotFound,
            "neg_37174_parent_merkleroot_bitflip" => err == AuxPowError::MerkleRootMismatch,
            "neg_37174_parent_own_chain_id" => {
                err == AuxPowError::ParentHasOurChainId { chain_id: 1 }
            }
            "neg_37174_trailing_byte" => err == AuxPowError::TrailingBytes { extra: 1 },
            other => panic!("unlabelled negative vector {other}: map it to an error variant"),
        };
        assert!(
            ok,
            "{name}: expected '{}', got {err:?}",
            s(v, "expected_error")
        );
        println!("{name}: rejected: {err}");
    }
    assert_eq!(negatives.len(), 6);
    report_cases("Namecoin AuxPoW negatives", negatives.len());
}

#[test]
fn mara_output_commitments_match_expected_aux_hash() {
    let Some(doc) = load("bitcoin_coinbase_mm_commitments.json") else {
        return;
    };
    let vectors = doc["vectors"].as_array().unwrap();
    for v in vectors {
        let tx: Transaction = deserialize(&hex::decode(s(v, "coinbase_hex")).unwrap()).unwrap();
        assert_eq!(tx.compute_txid().to_string(), s(v, "coinbase_txid"));
        assert!(tx.is_coinbase());
        let vout = v["commitment_vout"].as_u64().unwrap() as usize;
        assert_eq!(
            hex::encode(tx.output[vout].script_pubkey.as_bytes()),
            s(v, "commitment_script_pubkey")
        );

        let headers = MergedMiningHeader::find_all(&tx);
        assert_eq!(headers.len(), 1, "exactly one merged-mining header");
        let h = headers[0];
        assert_eq!(h.location, CommitmentLocation::Output { vout, offset: 0 });
        assert_eq!(h.root.to_rpc_hex(), s(v, "expected_aux_block_hash"));
        assert_eq!((h.size, h.nonce), (1, 0));

        // The real coinbase inside a (locally mined) parent verifies through the output path.
        let expected = WorkHash::from_rpc_hex(s(v, "expected_aux_block_hash")).unwrap();
        let mut aux = ParentBlockBuilder::default().build(&expected);
        aux.coinbase_tx = tx.clone();
        common::reseal(&mut aux);
        let p = VerifyParams {
            chain_id: 0x4242,
            pow_limit: common::regtest_target(),
        };
        assert_eq!(
            aux.verify(&expected, common::regtest_bits(), &p),
            Ok(CommitmentLocation::Output { vout, offset: 0 })
        );
        let bytes = aux.to_bytes();
        assert_eq!(
            AuxPow::from_bytes(&bytes).unwrap(),
            aux,
            "segwit coinbase round trip"
        );
        // Any other aux hash is not committed.
        assert_eq!(
            aux.verify(&WorkHash([7; 32]), common::regtest_bits(), &p),
            Err(AuxPowError::ChainRootNotFound)
        );
    }
    assert_eq!(vectors.len(), 2);
    report_cases("merged-mining output commitments", vectors.len());
}
