//! BIP-340 vectors through the federation's Schnorr signing and verification code.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use alys_federation::schnorr::{verify_bytes, SchnorrSigner};
use alys_primitives::vectors::{report_cases, vectors_path};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn bip340_vectors() {
    let Some(path) = vectors_path("taproot/bip340_test_vectors.csv") else {
        return;
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let (mut signed, mut verified, mut skipped) = (0, 0, Vec::new());
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let (index, sk, pk, aux, msg, sig, result) = (f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
        let expected = result == "TRUE";
        let msg = h(msg);
        let Ok(msg32) = <[u8; 32]>::try_from(msg.as_slice()) else {
            // rust-bitcoin 0.32's secp256k1 0.29 signs 32-byte digests only; peg-out signs
            // 32-byte taproot sighashes, so variable-length messages do not apply.
            skipped.push(format!("{index} ({}-byte message)", msg.len()));
            continue;
        };
        if !sk.is_empty() {
            let sk: [u8; 32] = h(sk).try_into().unwrap();
            let aux: [u8; 32] = h(aux).try_into().unwrap();
            let signer = SchnorrSigner::from_bytes(&sk).unwrap();
            assert_eq!(
                signer.public_key().serialize().to_vec(),
                h(pk),
                "row {index} pubkey"
            );
            let got = signer.sign(&msg32, &aux);
            assert_eq!(got.serialize().to_vec(), h(sig), "row {index} signature");
            signed += 1;
        }
        let ok = verify_bytes(&h(pk), &msg32, &h(sig)).is_ok();
        assert_eq!(
            ok,
            expected,
            "row {index} verification: {}",
            f.get(7).unwrap_or(&"")
        );
        verified += 1;
    }
    eprintln!("BIP-340: {signed} signed, {verified} verified, skipped: {skipped:?}");
    report_cases("BIP-340", verified);
    assert!(signed >= 4 && verified >= 15);
}
