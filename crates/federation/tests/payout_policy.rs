//! The signing policy: the built payout passes; each rule rejects its bad transaction.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alys_federation::bitcoin::{Amount, Transaction, TxOut};
use alys_federation::{
    build_payout, check_payout, Federation, Payout, PayoutRequest, PolicyError, Utxo,
};
use common::payout::*;

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
    // No request.
    assert_eq!(
        check_payout(&c.f, &c.p.tx, &c.us, &[], 10),
        Err(PolicyError::NoRequests)
    );
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
