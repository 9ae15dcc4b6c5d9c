//! Payout signatures: sign, verify, assemble, and the assembled spends checked by
//! libbitcoinconsensus; the signed vsize against the estimate.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alys_federation::{
    assemble, build_payout, check_payout, estimated_vsize, sign_payout, verify_payout_signature,
    verify_payout_signatures, Federation, SignError,
};
use alys_primitives::Sats;
use common::payout::*;

#[test]
fn assembled_payouts_are_valid_spends() {
    let cases: [(Federation, &[u8]); 6] = [
        (fed(3, 2), &[0, 1, 2]),
        (fed(3, 2), &[1, 2]),
        (fed(3, 2), &[0, 2]),
        (fed(5, 3), &[0, 1, 2, 3, 4]),
        (fed(5, 3), &[0, 1, 3, 4]),
        (fed_with_emergency(), &[0, 2]),
    ];
    for (f, signers) in cases {
        let us = utxos(&[30_000, 25_000, 40_000]);
        let rs = requests(&[50_000, 20_000, 12_000]);
        let p = build_payout(&f, &us, &rs, 3).unwrap();
        assert_eq!(p.inputs.len(), 3);
        check_payout(&f, &p.tx, &us, &rs, 3).unwrap();
        let sigs = sign_all(&f, &p, signers);
        for (member, s) in sigs.iter().enumerate() {
            for (input, sig) in s.iter().flatten().enumerate() {
                verify_payout_signature(f.keys()[member], &f, &p.tx, &p.inputs, input, sig)
                    .unwrap();
            }
        }
        let signed = assemble(&f, &p.tx, &sigs).unwrap();
        assert_eq!(signed.compute_txid(), p.tx.compute_txid(), "txid is final");
        consensus_verify(&f, &signed, &p.inputs);

        // The estimate is the signed size.
        let real = signed.vsize() as u64;
        let est = estimated_vsize(&f, signed.input.len(), &signed.output).unwrap();
        assert!(
            real <= est && est - real <= 1,
            "real {real}, estimate {est}"
        );
    }
}

#[test]
fn estimate_matches_signed_vsize_across_shapes() {
    for (f, signers) in [
        (fed(1, 1), vec![0u8]),
        (fed(3, 2), vec![0, 1]),
        (fed(5, 3), vec![2, 3, 4]),
        (fed(15, 10), (0..10).collect()),
    ] {
        for n_in in [1usize, 2, 7] {
            let us = utxos(&vec![100_000; n_in]);
            let total = 100_000 * n_in as u64 - 1_000;
            let rs = requests(&[total / 2, total - total / 2]);
            let p = build_payout(&f, &us, &rs, 1).unwrap();
            assert_eq!(p.inputs.len(), n_in);
            let signed = assemble(&f, &p.tx, &sign_all(&f, &p, &signers)).unwrap();
            consensus_verify(&f, &signed, &p.inputs);
            let real = signed.vsize() as u64;
            let est = estimated_vsize(&f, n_in, &signed.output).unwrap();
            assert!(
                real <= est && est - real <= 1,
                "real {real}, estimate {est}"
            );
            assert_eq!(signed.weight().to_wu().div_ceil(4), est);
        }
    }
}

#[test]
fn foreign_and_misplaced_signatures_are_rejected() {
    let f = fed(3, 2);
    let us = utxos(&[60_000, 50_000]);
    let p = build_payout(&f, &us, &requests(&[90_000]), 2).unwrap();
    let other = build_payout(&f, &us, &requests(&[80_000]), 2).unwrap();
    let key0 = f.keys()[0];

    // A key outside the federation.
    let outsider = common::signer(9);
    let sigs = sign_payout(&outsider, &f, &p.tx, &p.inputs).unwrap();
    assert_eq!(
        verify_payout_signature(outsider.public_key(), &f, &p.tx, &p.inputs, 0, &sigs[0]),
        Err(SignError::NotAFederationKey(outsider.public_key()))
    );
    // … claimed as a member's.
    assert_eq!(
        verify_payout_signature(key0, &f, &p.tx, &p.inputs, 0, &sigs[0]),
        Err(SignError::BadSignature { index: 0 })
    );
    // A member's signature over another transaction.
    let theirs = sign_payout(&common::signer(0), &f, &other.tx, &other.inputs).unwrap();
    assert_eq!(
        verify_payout_signature(key0, &f, &p.tx, &p.inputs, 0, &theirs[0]),
        Err(SignError::BadSignature { index: 0 })
    );
    // The right signature for another input.
    let mine = sign_payout(&common::signer(0), &f, &p.tx, &p.inputs).unwrap();
    assert_eq!(
        verify_payout_signature(key0, &f, &p.tx, &p.inputs, 1, &mine[0]),
        Err(SignError::BadSignature { index: 1 })
    );
    assert!(verify_payout_signature(key0, &f, &p.tx, &p.inputs, 0, &mine[0]).is_ok());
    // Malformed bytes, bad index, wrong prevouts: errors, not panics.
    assert!(verify_payout_signature(key0, &f, &p.tx, &p.inputs, 0, &[0xff; 64]).is_err());
    assert!(matches!(
        verify_payout_signature(key0, &f, &p.tx, &p.inputs, 5, &mine[0]),
        Err(SignError::InputIndex { index: 5, .. })
    ));
    // All inputs at once.
    assert_eq!(
        verify_payout_signatures(key0, &f, &p.tx, &p.inputs, &mine),
        Ok(())
    );
    let mut wrong = mine.clone();
    wrong.swap(0, 1);
    assert_eq!(
        verify_payout_signatures(key0, &f, &p.tx, &p.inputs, &wrong),
        Err(SignError::BadSignature { index: 0 })
    );
    assert_eq!(
        verify_payout_signatures(f.keys()[1], &f, &p.tx, &p.inputs, &mine),
        Err(SignError::BadSignature { index: 0 })
    );
    assert_eq!(
        verify_payout_signatures(key0, &f, &p.tx, &p.inputs, &theirs),
        Err(SignError::BadSignature { index: 0 })
    );
    assert_eq!(
        verify_payout_signatures(outsider.public_key(), &f, &p.tx, &p.inputs, &sigs),
        Err(SignError::NotAFederationKey(outsider.public_key()))
    );
    assert!(matches!(
        verify_payout_signatures(key0, &f, &p.tx, &p.inputs, &mine[..1]),
        Err(SignError::SignatureCount {
            member: 0,
            got: 1,
            inputs: 2
        })
    ));
    let mut swapped = p.inputs.clone();
    swapped.reverse();
    assert_eq!(
        sign_payout(&common::signer(0), &f, &p.tx, &swapped),
        Err(SignError::PrevoutMismatch { index: 0 })
    );
    assert!(matches!(
        sign_payout(&common::signer(0), &f, &p.tx, &p.inputs[..1]),
        Err(SignError::PrevoutCount { .. })
    ));
    // A wrong amount in the prevouts changes the sighash.
    let mut cheaper = p.inputs.clone();
    cheaper[0].value = Sats(1);
    assert!(verify_payout_signature(key0, &f, &p.tx, &cheaper, 0, &mine[0]).is_err());
}

#[test]
fn assemble_errors() {
    let f = fed(3, 2);
    let us = utxos(&[60_000, 50_000]);
    let p = build_payout(&f, &us, &requests(&[90_000]), 2).unwrap();
    let sigs = sign_all(&f, &p, &[1]);
    assert_eq!(
        assemble(&f, &p.tx, &sigs),
        Err(SignError::NotEnoughSignatures { have: 1, need: 2 })
    );
    assert!(matches!(
        assemble(&f, &p.tx, &sigs[..2]),
        Err(SignError::MemberCount { got: 2, n: 3 })
    ));
    let mut sigs = sign_all(&f, &p, &[0, 1]);
    sigs[1].as_mut().unwrap().pop();
    assert_eq!(
        assemble(&f, &p.tx, &sigs),
        Err(SignError::SignatureCount {
            member: 1,
            got: 1,
            inputs: 2
        })
    );
    // Extra members beyond the threshold are ignored: the first two in key order are used.
    let all = sign_all(&f, &p, &[0, 1, 2]);
    let signed = assemble(&f, &p.tx, &all).unwrap();
    let w: Vec<&[u8]> = signed.input[0].witness.iter().collect();
    assert!(
        w[0].is_empty(),
        "key 2's slot (first, reverse order) is empty"
    );
    assert_eq!(w[1], all[1].as_ref().unwrap()[0].as_slice());
    assert_eq!(w[2], all[0].as_ref().unwrap()[0].as_slice());
}
