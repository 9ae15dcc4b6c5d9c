//! Building payouts: shape, deterministic selection, change at the dust boundary, the pro-rata
//! fee split, caps and batching, and the fee-rate round trip.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alys_federation::bitcoin::{Amount, OutPoint};
use alys_federation::payout::build::{change_dust_threshold, PAYOUT_SEQUENCE};
use alys_federation::payout::split_fee;
use alys_federation::{
    build_payout, check_payout, estimated_vsize, fee_rate_of, PayoutError, MAX_PAYOUT_INPUTS,
    MAX_PAYOUT_REQUESTS,
};
use alys_primitives::Sats;
use common::payout::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;

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
    // Zero amounts.
    assert_eq!(
        build_payout(&f, &utxos(&[200_000]), &requests(&[0, 0]), 0),
        Err(PayoutError::RequestBelowDustAfterFee {
            id: request(0, 0).id
        })
    );
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
