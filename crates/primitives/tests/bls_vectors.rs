//! Ethereum BLS12-381 conformance vectors (ethereum/bls12-381-tests v0.1.2): sign, verify,
//! aggregate, fast_aggregate_verify, deserialization of G1/G2. A `null`/`false` output must be
//! an error or `false`, never a panic. Each test prints how many cases it ran.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use alys_primitives::bls::{AggregateSignature, BlsError, PublicKey, SecretKey, Signature};
use alys_primitives::vectors::report_cases;
use serde_json::Value;

fn dir(kind: &str) -> Option<Vec<(String, Value)>> {
    let d = alys_primitives::vectors::vectors_path(&format!(
        "bls/eth_bls12_381_tests_v0.1.2_json/{kind}"
    ))?;
    let mut out = Vec::new();
    for e in std::fs::read_dir(&d).unwrap() {
        let p = e.unwrap().path();
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        out.push((p.file_name().unwrap().to_string_lossy().into_owned(), v));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Some(out)
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap().trim_start_matches("0x")).unwrap()
}

#[test]
fn sign() {
    let Some(cases) = dir("sign") else { return };
    let ran = cases.len();
    for (name, c) in cases {
        let sk = SecretKey::from_bytes(&bytes(&c["input"]["privkey"]));
        let msg = bytes(&c["input"]["message"]);
        match &c["output"] {
            Value::Null => assert!(sk.is_err(), "{name}"),
            out => {
                let sig = sk.unwrap().sign(&msg);
                assert_eq!(sig.to_bytes().to_vec(), bytes(out), "{name}");
            }
        }
    }
    report_cases("BLS sign", ran);
}

fn verify_case(pk: &Value, msg: &Value, sig: &Value) -> bool {
    let Ok(pk) = PublicKey::from_bytes(&bytes(pk)) else {
        return false;
    };
    let Ok(sig) = Signature::from_bytes(&bytes(sig)) else {
        return false;
    };
    sig.verify(&pk, &bytes(msg))
}

#[test]
fn verify() {
    let Some(cases) = dir("verify") else { return };
    let ran = cases.len();
    for (name, c) in cases {
        let i = &c["input"];
        let got = verify_case(&i["pubkey"], &i["message"], &i["signature"]);
        assert_eq!(got, c["output"].as_bool().unwrap(), "{name}");
    }
    report_cases("BLS verify", ran);
}

#[test]
fn aggregate() {
    let Some(cases) = dir("aggregate") else {
        return;
    };
    let ran = cases.len();
    for (name, c) in cases {
        let sigs: Result<Vec<Signature>, BlsError> = c["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| Signature::from_bytes(&bytes(s)))
            .collect();
        let agg = sigs.and_then(|s| AggregateSignature::aggregate(&s));
        match &c["output"] {
            Value::Null => assert!(agg.is_err(), "{name}"),
            out => assert_eq!(
                agg.unwrap().to_signature().to_bytes().to_vec(),
                bytes(out),
                "{name}"
            ),
        }
    }
    report_cases("BLS aggregate", ran);
}

#[test]
fn fast_aggregate_verify() {
    let Some(cases) = dir("fast_aggregate_verify") else {
        return;
    };
    let ran = cases.len();
    for (name, c) in cases {
        let i = &c["input"];
        let pks: Result<Vec<PublicKey>, _> = i["pubkeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| PublicKey::from_bytes(&bytes(p)))
            .collect();
        let got = match (pks, Signature::from_bytes(&bytes(&i["signature"]))) {
            (Ok(pks), Ok(sig)) => sig.fast_aggregate_verify(&pks, &bytes(&i["message"])),
            _ => false,
        };
        assert_eq!(got, c["output"].as_bool().unwrap(), "{name}");
    }
    report_cases("BLS fast_aggregate_verify", ran);
}

/// The vectors deserialize raw points; infinity is a valid point encoding, but an infinite
/// *public key* is rejected by us as `PublicKeyInfinity` (KeyValidate), which we accept as the
/// expected outcome of the "succeeds_infinity" G1 case.
#[test]
fn deserialization_g1() {
    let Some(cases) = dir("deserialization_G1") else {
        return;
    };
    let ran = cases.len();
    for (name, c) in cases {
        let input = hex::decode(c["input"]["pubkey"].as_str().unwrap()).unwrap_or_default();
        let got = PublicKey::from_bytes(&input);
        let expected = c["output"].as_bool().unwrap();
        if expected && name.contains("infinity") {
            assert_eq!(got, Err(BlsError::PublicKeyInfinity), "{name}");
        } else {
            assert_eq!(got.is_ok(), expected, "{name}: {got:?}");
        }
    }
    report_cases("BLS deserialization_G1", ran);
}

#[test]
fn deserialization_g2() {
    let Some(cases) = dir("deserialization_G2") else {
        return;
    };
    let ran = cases.len();
    for (name, c) in cases {
        let input = hex::decode(c["input"]["signature"].as_str().unwrap()).unwrap_or_default();
        let got = Signature::from_bytes(&input);
        assert_eq!(
            got.is_ok(),
            c["output"].as_bool().unwrap(),
            "{name}: {got:?}"
        );
    }
    report_cases("BLS deserialization_G2", ran);
}
