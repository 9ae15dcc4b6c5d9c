//! BIP-341 wallet vectors (scriptPubKey section) through the same tree/tweak code that builds
//! the federation address.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use alys_federation::bitcoin::hashes::Hash;
use alys_federation::bitcoin::key::XOnlyPublicKey;
use alys_federation::bitcoin::taproot::{LeafVersion, TapLeafHash};
use alys_federation::bitcoin::{Address, Network, ScriptBuf};
use alys_federation::{taproot_spend_info, ScriptTree};
use alys_primitives::vectors::{report_cases, vectors_path};
use serde_json::Value;

/// Parses a vector script tree; collects leaves by id.
fn tree(v: &Value, leaves: &mut Vec<(u64, ScriptBuf, LeafVersion)>) -> ScriptTree {
    match v {
        Value::Array(a) => {
            assert_eq!(a.len(), 2, "a branch has two children");
            ScriptTree::branch(tree(&a[0], leaves), tree(&a[1], leaves))
        }
        Value::Object(o) => {
            let script = ScriptBuf::from_bytes(hex::decode(o["script"].as_str().unwrap()).unwrap());
            let version =
                LeafVersion::from_consensus(o["leafVersion"].as_u64().unwrap() as u8).unwrap();
            leaves.push((o["id"].as_u64().unwrap(), script.clone(), version));
            ScriptTree::Leaf { script, version }
        }
        other => panic!("unexpected tree node {other}"),
    }
}

#[test]
fn bip341_script_pubkey_vectors() {
    let Some(path) = vectors_path("taproot/bip341_wallet_test_vectors.json") else {
        return;
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["scriptPubKey"].as_array().unwrap();
    assert_eq!(cases.len(), 7);
    for (n, case) in cases.iter().enumerate() {
        let given = &case["given"];
        let inter = &case["intermediary"];
        let exp = &case["expected"];
        let internal: XOnlyPublicKey = given["internalPubkey"].as_str().unwrap().parse().unwrap();
        let mut leaves = Vec::new();
        let t = match &given["scriptTree"] {
            Value::Null => None,
            v => Some(tree(v, &mut leaves)),
        };
        let info = taproot_spend_info(internal, t.as_ref()).unwrap();

        // Intermediary values.
        match inter["merkleRoot"].as_str() {
            None => assert!(info.merkle_root().is_none(), "case {n}"),
            Some(root) => assert_eq!(
                hex::encode(info.merkle_root().unwrap().to_byte_array()),
                root,
                "case {n} merkle root"
            ),
        }
        assert_eq!(
            hex::encode(info.tap_tweak().to_byte_array()),
            inter["tweak"].as_str().unwrap(),
            "case {n} tweak"
        );
        assert_eq!(
            info.output_key().to_x_only_public_key().to_string(),
            inter["tweakedPubkey"].as_str().unwrap(),
            "case {n} tweaked key"
        );
        leaves.sort_by_key(|l| l.0);
        if let Some(hashes) = inter["leafHashes"].as_array() {
            for ((_, script, ver), h) in leaves.iter().zip(hashes) {
                let lh = TapLeafHash::from_script(script, *ver);
                assert_eq!(
                    hex::encode(lh.to_byte_array()),
                    h.as_str().unwrap(),
                    "case {n}"
                );
            }
        }

        // Expected outputs.
        let addr = Address::p2tr_tweaked(info.output_key(), Network::Bitcoin);
        assert_eq!(
            hex::encode(addr.script_pubkey().as_bytes()),
            exp["scriptPubKey"].as_str().unwrap(),
            "case {n} scriptPubKey"
        );
        assert_eq!(
            addr.to_string(),
            exp["bip350Address"].as_str().unwrap(),
            "case {n}"
        );
        if let Some(cbs) = exp["scriptPathControlBlocks"].as_array() {
            assert_eq!(cbs.len(), leaves.len(), "case {n}");
            for ((_, script, ver), cb) in leaves.iter().zip(cbs) {
                let got = info.control_block(&(script.clone(), *ver)).unwrap();
                assert_eq!(
                    hex::encode(got.serialize()),
                    cb.as_str().unwrap(),
                    "case {n}"
                );
            }
        }
    }
    report_cases("BIP-341 scriptPubKey", cases.len());
}
