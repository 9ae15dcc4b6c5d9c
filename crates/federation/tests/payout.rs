//! The payout transaction: deterministic build, fee split, caps, the signing policy, and
//! signatures checked by libbitcoinconsensus.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alys_federation::bitcoin::hashes::Hash;
use alys_federation::bitcoin::key::{CompressedPublicKey, Secp256k1};
use alys_federation::bitcoin::secp256k1::SecretKey;
use alys_federation::bitcoin::{Address, Amount, Network, OutPoint, Transaction, TxOut, Txid};
use alys_federation::payout::build::{change_dust_threshold, PAYOUT_SEQUENCE};
use alys_federation::payout::split_fee;
use alys_federation::{
    assemble, build_payout, check_payout, estimated_vsize, fee_rate_of, sign_payout,
    verify_payout_signature, verify_payout_signatures, EmergencyPath, Federation, Payout,
    PayoutError, PayoutRequest, PolicyError, RequestId, SignError, Utxo, MAX_PAYOUT_INPUTS,
    MAX_PAYOUT_REQUESTS,
};
use alys_primitives::{Sats, B256};
use rand::seq::SliceRandom;
use rand::SeedableRng;

fn fed(n: u8, m: u32) -> Federation {
    Federation::new(Network::Regtest, common::keys(n), m, None, 0).unwrap()
}

fn fed_with_emergency() -> Federation {
    let emergency = EmergencyPath {
        keys: common::keys(12)[8..].to_vec(),
        threshold: 2,
        csv_delay: 144,
    };
    Federation::new(Network::Regtest, common::keys(3), 2, Some(emergency), 0).unwrap()
}

fn utxo(i: u32, value: u64) -> Utxo {
    let mut h = [0u8; 32];
    h[..4].copy_from_slice(&i.to_be_bytes());
    Utxo {
        outpoint: OutPoint {
            txid: Txid::from_byte_array(h),
            vout: i % 3,
        },
        value: Sats(value),
    }
}

/// An address of a different type per `i`: P2WPKH, P2TR, P2PKH, P2SH-P2WPKH.
fn address(i: u64) -> Address {
    let secp = Secp256k1::new();
    let mut secret = [0x42u8; 32];
    secret[..8].copy_from_slice(&(i + 1).to_be_bytes());
    let sk = SecretKey::from_slice(&secret).unwrap();
    let pk = CompressedPublicKey(sk.public_key(&secp));
    match i % 4 {
        0 => Address::p2wpkh(&pk, Network::Regtest),
        1 => Address::p2tr(&secp, pk.0.x_only_public_key().0, None, Network::Regtest),
        2 => Address::p2pkh(pk, Network::Regtest),
        _ => Address::p2shwpkh(&pk, Network::Regtest),
    }
}

fn request(i: u64, amount: u64) -> PayoutRequest {
    PayoutRequest {
        id: RequestId {
            tx_hash: B256::with_last_byte((i % 256) as u8),
            log_index: i,
        },
        address: address(i),
        amount: Sats(amount),
    }
}

fn requests(amounts: &[u64]) -> Vec<PayoutRequest> {
    amounts
        .iter()
        .enumerate()
        .map(|(i, a)| request(i as u64, *a))
        .collect()
}

fn utxos(values: &[u64]) -> Vec<Utxo> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| utxo(i as u32, *v))
        .collect()
}

fn sum_out(tx: &Transaction) -> u64 {
    tx.output.iter().map(|o| o.value.to_sat()).sum()
}

// ---------- build ----------

#[test]
fn shape_and_selection() {
    let f = fed(3, 2);
    let us = utxos(&[50_000, 200_000, 10_000, 200_000, 120_000]);
    let rs = requests(&[150_000, 100_000, 40_000]);
    let p = build_payout(&f, &us, &rs, 5).unwrap();
    let tx = &p.tx;
    assert_eq!(tx.version.0, 2);
    assert_eq!(tx.lock_time.to_consensus_u32(), 0);
    assert!(tx
        .input
        .iter()
        .all(|i| i.sequence.0 == 0xFFFF_FFFD && i.witness.is_empty() && i.script_sig.is_empty()));
    assert_eq!(PAYOUT_SEQUENCE.0, 0xFFFF_FFFD);
    // Largest first, ties by outpoint: the two 200,000 (utxo 1 then 3) cover 290,000.
    assert_eq!(p.inputs, vec![us[1], us[3]]);
    let prev: Vec<OutPoint> = tx.input.iter().map(|i| i.previous_output).collect();
    assert_eq!(prev, vec![us[1].outpoint, us[3].outpoint]);
    for (o, r) in tx.output.iter().zip(&rs) {
        assert_eq!(o.script_pubkey, r.address.script_pubkey());
    }
    assert_eq!(tx.output.len(), 4);
    assert_eq!(&tx.output[3].script_pubkey, f.script_pubkey());
    assert_eq!(tx.output[3].value.to_sat(), 400_000 - 290_000);
    let change = p.change.unwrap();
    assert_eq!(change.outpoint, OutPoint::new(tx.compute_txid(), 3));
    assert_eq!(change.value, Sats(110_000));
    assert_eq!(p.requests, rs.iter().map(|r| r.id).collect::<Vec<_>>());
    let vsize = estimated_vsize(&f, 2, &tx.output).unwrap();
    assert_eq!(p.fee, Sats(5 * vsize));
    assert_eq!(400_000 - sum_out(tx), p.fee.0);
}

#[test]
fn deterministic_under_shuffled_utxos() {
    let f = fed(5, 3);
    let values: Vec<u64> = (0..300).map(|i| 1_000 + (i * 7_919) % 50_000).collect();
    let mut us = utxos(&values);
    // Duplicated values exercise the outpoint tie-break.
    us.extend(utxos(&[20_000; 10]).into_iter().map(|mut u| {
        u.outpoint.vout += 100;
        u
    }));
    let rs = requests(&[300_000, 12_345, 99_999, 500_000]);
    let want = build_payout(&f, &us, &rs, 7).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..20 {
        us.shuffle(&mut rng);
        let p = build_payout(&f, &us, &rs, 7).unwrap();
        assert_eq!(
            alys_federation::bitcoin::consensus::serialize(&p.tx),
            alys_federation::bitcoin::consensus::serialize(&want.tx)
        );
        assert_eq!(p, want);
    }
}

#[test]
fn duplicates_are_refused() {
    let f = fed(3, 2);
    let us = utxos(&[100_000]);
    let rs = vec![request(1, 20_000), request(1, 30_000)];
    assert_eq!(
        build_payout(&f, &us, &rs, 1),
        Err(PayoutError::DuplicateRequest { id: rs[0].id })
    );
    let us = vec![utxo(1, 100_000), utxo(1, 100_000)];
    assert_eq!(
        build_payout(&f, &us, &requests(&[20_000]), 1),
        Err(PayoutError::DuplicateUtxo {
            outpoint: us[0].outpoint
        })
    );
    assert_eq!(
        build_payout(&f, &us[..1], &[], 1),
        Err(PayoutError::NoRequests)
    );
}

#[test]
fn change_at_the_dust_boundary() {
    let f = fed(3, 2);
    let dust = change_dust_threshold(&f).0;
    assert_eq!(dust, 330, "P2TR dust limit");
    let rs = requests(&[50_000]);
    // Change exactly at the threshold: kept.
    let p = build_payout(&f, &utxos(&[50_000 + dust]), &rs, 2).unwrap();
    assert_eq!(p.change.map(|c| c.value), Some(Sats(dust)));
    assert_eq!(p.tx.output.len(), 2);
    let vsize = estimated_vsize(&f, 1, &p.tx.output).unwrap();
    assert_eq!(p.fee, Sats(2 * vsize));
    // One sat less: no change output, the 329 sats go to the fee.
    let p = build_payout(&f, &utxos(&[50_000 + dust - 1]), &rs, 2).unwrap();
    assert_eq!(p.change, None);
    assert_eq!(p.tx.output.len(), 1);
    let vsize = estimated_vsize(&f, 1, &p.tx.output).unwrap();
    assert_eq!(p.fee, Sats(2 * vsize + dust - 1));
    assert_eq!(p.tx.output[0].value.to_sat(), 50_000 - 2 * vsize);
    // Exact amount: no change, the deducted fee only.
    let p = build_payout(&f, &utxos(&[50_000]), &rs, 2).unwrap();
    assert_eq!(p.change, None);
    assert_eq!(p.fee.0, 50_000 - sum_out(&p.tx));
}

#[test]
fn pro_rata_fee_with_remainder() {
    // 100 split over 1:1:1 → 33 each, remainder 1 to the first.
    assert_eq!(
        split_fee(Sats(100), &[Sats(10), Sats(10), Sats(10)]),
        Some(vec![Sats(34), Sats(33), Sats(33)])
    );
    // 1000 over 1:2:3:4 is exact.
    assert_eq!(
        split_fee(Sats(1000), &[Sats(1), Sats(2), Sats(3), Sats(4)]),
        Some(vec![Sats(100), Sats(200), Sats(300), Sats(400)])
    );
    // 7 over 5 equal amounts: 1 each, 2 left over to the first two.
    assert_eq!(
        split_fee(Sats(7), &[Sats(9); 5]),
        Some(vec![Sats(2), Sats(2), Sats(1), Sats(1), Sats(1)])
    );
    assert_eq!(split_fee(Sats(1), &[Sats(0)]), None);
    assert_eq!(split_fee(Sats(0), &[Sats(0)]), Some(vec![Sats(0)]));
    // Large values do not overflow.
    let big = split_fee(Sats(u64::MAX / 2), &[Sats(u64::MAX / 2), Sats(1)]).unwrap();
    assert_eq!(big.iter().map(|s| s.0).sum::<u64>(), u64::MAX / 2);

    // In a payout: each output is amount − share of fee_rate × vsize.
    let f = fed(3, 2);
    let amounts = [10_000u64, 20_001, 30_002, 77_777];
    let rs = requests(&amounts);
    let p = build_payout(&f, &utxos(&[1_000_000]), &rs, 3).unwrap();
    let vsize = estimated_vsize(&f, 1, &p.tx.output).unwrap();
    let shares = split_fee(
        Sats(3 * vsize),
        &amounts.iter().map(|a| Sats(*a)).collect::<Vec<_>>(),
    )
    .unwrap();
    for ((o, a), s) in p.tx.output.iter().zip(amounts).zip(shares) {
        assert_eq!(o.value.to_sat(), a - s.0);
    }
    let deducted: u64 = amounts.iter().sum::<u64>() + p.change.unwrap().value.0 - sum_out(&p.tx);
    assert_eq!(deducted, 3 * vsize);
}

#[test]
fn insufficient_funds() {
    let f = fed(3, 2);
    assert_eq!(
        build_payout(
            &f,
            &utxos(&[30_000, 20_000]),
            &requests(&[40_000, 10_001]),
            1
        ),
        Err(PayoutError::InsufficientFunds {
            need: Sats(50_001),
            have: Sats(50_000)
        })
    );
    assert_eq!(
        build_payout(&f, &[], &requests(&[40_000]), 1),
        Err(PayoutError::InsufficientFunds {
            need: Sats(40_000),
            have: Sats(0)
        })
    );
}

#[test]
fn request_below_dust_after_fee() {
    let f = fed(3, 2);
    let rs = requests(&[100_000, 600]);
    // At 1 sat/vB the small request keeps more than its dust limit.
    assert!(build_payout(&f, &utxos(&[200_000]), &rs, 1).is_ok());
    // At 300 sat/vB the small request's share leaves it below its dust limit (330 for P2TR)
    // while the large one still pays.
    let err = build_payout(&f, &utxos(&[200_000]), &rs, 300).unwrap_err();
    assert_eq!(err, PayoutError::RequestBelowDustAfterFee { id: rs[1].id });
    // A fee larger than the request.
    let err = build_payout(&f, &utxos(&[200_000]), &requests(&[1_000]), 100).unwrap_err();
    assert!(matches!(err, PayoutError::RequestBelowDustAfterFee { .. }));
}

#[test]
fn caps_and_batching() {
    let f = fed(3, 2);
    let many = requests(&vec![20_000; MAX_PAYOUT_REQUESTS + 1]);
    assert_eq!(
        build_payout(&f, &utxos(&[10_000_000]), &many, 1),
        Err(PayoutError::TooManyRequests {
            n: MAX_PAYOUT_REQUESTS + 1,
            max: MAX_PAYOUT_REQUESTS
        })
    );
    let small = utxos(&vec![1_000; MAX_PAYOUT_INPUTS + 50]);
    assert_eq!(
        build_payout(
            &f,
            &small,
            &requests(&[(MAX_PAYOUT_INPUTS as u64 + 1) * 1_000]),
            1
        ),
        Err(PayoutError::TooManyInputs {
            need: MAX_PAYOUT_INPUTS + 1,
            max: MAX_PAYOUT_INPUTS
        })
    );
    // A large federation's witnesses reach the standard size limit before the input cap.
    let big = fed(100, 67);
    let err = build_payout(&big, &utxos(&vec![1_000; 60]), &requests(&[59_000]), 1).unwrap_err();
    assert!(
        matches!(err, PayoutError::TooLarge { max: 100_000, .. }),
        "{err:?}"
    );
    // 250 requests over 600 UTXOs in batches of the cap, each spending the remaining UTXOs
    // plus the previous change.
    let all = requests(&(0..250).map(|i| 15_000 + i * 37).collect::<Vec<_>>());
    let mut set = utxos(
        &(0..600)
            .map(|i| 5_000 + (i * 131) % 9_000)
            .collect::<Vec<_>>(),
    );
    let mut paid = 0;
    let mut batches = 0;
    for chunk in all.chunks(MAX_PAYOUT_REQUESTS) {
        let p = build_payout(&f, &set, chunk, 4).unwrap();
        check_payout(&f, &p.tx, &set, chunk, 4).unwrap();
        set.retain(|u| !p.inputs.contains(u));
        set.extend(p.change);
        paid += p.requests.len();
        batches += 1;
    }
    assert_eq!((paid, batches), (250, 3));
}

#[test]
fn fee_rate_round_trip() {
    for f in [fed(3, 2), fed(5, 3), fed_with_emergency()] {
        for (values, amounts) in [
            (vec![1_000_000, 70_000], vec![100_000, 23_456, 77_000]),
            // No change: the dust leftover does not disturb the recovered rate.
            (vec![60_100], vec![60_000]),
            (vec![40_000, 30_000, 20_000], vec![45_000, 44_800]),
        ] {
            let us = utxos(&values);
            let rs = requests(&amounts);
            for rate in [0, 1, 2, 7, 25, 60] {
                let p = build_payout(&f, &us, &rs, rate).unwrap();
                let got = fee_rate_of(&f, &p.tx, &rs);
                assert_eq!(got, Some(rate));
                assert_eq!(build_payout(&f, &us, &rs, got.unwrap()).unwrap(), p);
            }
        }
    }
    let f = fed(3, 2);
    let rs = requests(&[50_000]);
    let mut p = build_payout(&f, &utxos(&[100_000]), &rs, 3).unwrap();
    assert_eq!(fee_rate_of(&f, &p.tx, &rs[..0]), Some(0));
    assert_eq!(fee_rate_of(&f, &p.tx, &requests(&[50_000, 1])), None);
    p.tx.output[0].value = Amount::from_sat(p.tx.output[0].value.to_sat() - 1);
    assert_eq!(fee_rate_of(&f, &p.tx, &rs), None, "not a whole rate");
}

// ---------- signatures ----------

fn sign_all(f: &Federation, p: &Payout, signers: &[u8]) -> Vec<Option<Vec<[u8; 64]>>> {
    let n = f.keys().len() as u8;
    (0..n)
        .map(|i| {
            signers
                .contains(&i)
                .then(|| sign_payout(&common::signer(i), f, &p.tx, &p.inputs).unwrap())
        })
        .collect()
}

fn consensus_verify(f: &Federation, tx: &Transaction, prevouts: &[Utxo]) {
    let bytes = alys_federation::bitcoin::consensus::serialize(tx);
    let spk = f.script_pubkey().as_bytes();
    let spent: Vec<bitcoinconsensus::Utxo> = prevouts
        .iter()
        .map(|u| bitcoinconsensus::Utxo {
            script_pubkey: spk.as_ptr(),
            script_pubkey_len: spk.len() as u32,
            value: u.value.0 as i64,
        })
        .collect();
    let flags = bitcoinconsensus::VERIFY_ALL_PRE_TAPROOT | bitcoinconsensus::VERIFY_TAPROOT;
    for (i, u) in prevouts.iter().enumerate() {
        bitcoinconsensus::verify_with_flags(spk, u.value.0, &bytes, Some(&spent), i, flags)
            .unwrap_or_else(|e| panic!("input {i}: {e:?}"));
    }
}

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

// ---------- policy ----------

struct Case {
    f: Federation,
    us: Vec<Utxo>,
    rs: Vec<PayoutRequest>,
    p: Payout,
}

fn case() -> Case {
    let f = fed(3, 2);
    let us = utxos(&[80_000, 60_000, 5_000]);
    let rs = requests(&[70_000, 30_000, 20_000]);
    let p = build_payout(&f, &us, &rs, 4).unwrap();
    assert!(p.change.is_some());
    Case { f, us, rs, p }
}

fn check(c: &Case, tx: &Transaction) -> Result<(), PolicyError> {
    check_payout(&c.f, tx, &c.us, &c.rs, 10)
}

#[test]
fn policy_accepts_the_built_payout() {
    let c = case();
    assert_eq!(check(&c, &c.p.tx), Ok(()));
    // At exactly its own rate as the cap, too.
    assert_eq!(check_payout(&c.f, &c.p.tx, &c.us, &c.rs, 4), Ok(()));
    // Without change.
    let us = utxos(&[120_100]);
    let p = build_payout(&c.f, &us, &c.rs, 4).unwrap();
    assert!(p.change.is_none());
    assert_eq!(check_payout(&c.f, &p.tx, &us, &c.rs, 4), Ok(()));
}

#[test]
fn policy_rejects_each_bad_payout() {
    let c = case();
    let fed_spk = c.f.script_pubkey().clone();

    // Non-federation input.
    let mut tx = c.p.tx.clone();
    tx.input[1].previous_output = utxo(999, 0).outpoint;
    assert!(matches!(
        check(&c, &tx),
        Err(PolicyError::UnknownInput { index: 1, .. })
    ));
    // Duplicate input.
    let mut tx = c.p.tx.clone();
    tx.input[1] = tx.input[0].clone();
    assert!(matches!(
        check(&c, &tx),
        Err(PolicyError::DuplicateInput { index: 1, .. })
    ));
    // No input.
    let mut tx = c.p.tx.clone();
    tx.input.clear();
    assert_eq!(check(&c, &tx), Err(PolicyError::NoInputs));
    // Extra output (after the change).
    let mut tx = c.p.tx.clone();
    tx.output.push(TxOut {
        value: Amount::from_sat(1_000),
        script_pubkey: fed_spk.clone(),
    });
    assert_eq!(
        check(&c, &tx),
        Err(PolicyError::UnrequestedOutput { index: 4 })
    );
    // Change elsewhere.
    let mut tx = c.p.tx.clone();
    tx.output[3].script_pubkey = address(7).script_pubkey();
    assert_eq!(
        check(&c, &tx),
        Err(PolicyError::ChangeElsewhere { index: 3 })
    );
    // Output to another address.
    let mut tx = c.p.tx.clone();
    tx.output.swap(0, 1);
    assert!(matches!(
        check(&c, &tx),
        Err(PolicyError::AddressMismatch { index: 0, .. })
    ));
    // Missing output.
    let mut tx = c.p.tx.clone();
    tx.output.truncate(2);
    assert_eq!(
        check(&c, &tx),
        Err(PolicyError::MissingOutput { id: c.rs[2].id })
    );
    // Amount too high: above the request, then above its amount minus fee share.
    let mut tx = c.p.tx.clone();
    tx.output[0].value = Amount::from_sat(70_001);
    assert!(matches!(
        check(&c, &tx),
        Err(PolicyError::AmountAboveRequest { index: 0, .. })
    ));
    let mut tx = c.p.tx.clone();
    tx.output[1].value = Amount::from_sat(tx.output[1].value.to_sat() + 1);
    tx.output[3].value = Amount::from_sat(tx.output[3].value.to_sat() - 1);
    assert!(matches!(
        check(&c, &tx),
        Err(PolicyError::AmountMismatch { .. })
    ));
    // Over-cap fee: built at 40 sat/vB, checked against a cap of 10.
    let p = build_payout(&c.f, &c.us, &c.rs, 40).unwrap();
    assert!(matches!(
        check(&c, &p.tx),
        Err(PolicyError::FeeAboveCap { cap: 10, .. })
    ));
    // Outputs above inputs.
    let mut tx = c.p.tx.clone();
    tx.output[3].value = Amount::from_sat(10_000_000);
    assert!(matches!(
        check(&c, &tx),
        Err(PolicyError::OutputsExceedInputs { .. })
    ));
    // Change short of inputs − requests (the difference would go to the miners).
    let mut tx = c.p.tx.clone();
    tx.output[3].value = Amount::from_sat(tx.output[3].value.to_sat() - 500);
    assert!(matches!(
        check(&c, &tx),
        Err(PolicyError::ChangeMismatch { .. })
    ));
    // Change dropped altogether.
    let mut tx = c.p.tx.clone();
    tx.output.pop();
    assert!(matches!(
        check(&c, &tx),
        Err(PolicyError::ChangeMismatch { actual: None, .. })
    ));
    // Inputs that do not cover the requests.
    let mut tx = c.p.tx.clone();
    tx.input.pop();
    tx.output.pop();
    assert!(matches!(
        check(&c, &tx),
        Err(PolicyError::InputsBelowRequests { .. }) | Err(PolicyError::OutputsExceedInputs { .. })
    ));
}
