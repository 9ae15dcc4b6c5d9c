//! Deposit parsing: the valid shape and every rejection reason.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alys_federation::bitcoin::absolute::LockTime;
use alys_federation::bitcoin::hashes::Hash;
use alys_federation::bitcoin::opcodes::all::{OP_PUSHNUM_1, OP_RETURN};
use alys_federation::bitcoin::script::{Builder, PushBytesBuf};
use alys_federation::bitcoin::transaction::Version;
use alys_federation::bitcoin::{
    Amount, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, WPubkeyHash, Witness,
};
use alys_federation::{parse_deposit, DepositOutput, DepositRejection, Federation};
use alys_primitives::{Address, Sats};

const RECIPIENT: [u8; 20] = [0xab; 20];

fn fed() -> Federation {
    Federation::new(Network::Regtest, common::keys(3), 2, None, 10_000).unwrap()
}

fn op_return(data: &[u8]) -> TxOut {
    TxOut {
        value: Amount::ZERO,
        script_pubkey: ScriptBuf::new_op_return(PushBytesBuf::try_from(data.to_vec()).unwrap()),
    }
}

fn pay(fed: &Federation, sats: u64) -> TxOut {
    TxOut {
        value: Amount::from_sat(sats),
        script_pubkey: fed.script_pubkey().clone(),
    }
}

fn other(sats: u64) -> TxOut {
    TxOut {
        value: Amount::from_sat(sats),
        script_pubkey: ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([7; 20])),
    }
}

fn tx(outputs: Vec<TxOut>) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::default(),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: outputs,
    }
}

#[test]
fn valid_deposit() {
    let f = fed();
    let t = tx(vec![other(5), pay(&f, 50_000), op_return(&RECIPIENT)]);
    let d = parse_deposit(&t, &f).unwrap();
    assert_eq!(d.sats(), Sats(50_000));
    assert_eq!(
        d.outputs,
        vec![DepositOutput {
            vout: 1,
            sats: Sats(50_000)
        }]
    );
    assert_eq!(d.recipient, Address::from(RECIPIENT));
    assert_eq!(d.txid, t.compute_txid());
    // OP_RETURN may come first.
    let t = tx(vec![op_return(&RECIPIENT), pay(&f, 10_000)]);
    assert_eq!(parse_deposit(&t, &f).unwrap().sats(), Sats(10_000));
}

#[test]
fn amount_is_the_sum_of_all_federation_outputs() {
    let f = fed();
    let t = tx(vec![
        pay(&f, 6_000),
        other(1),
        op_return(&RECIPIENT),
        pay(&f, 7_000),
    ]);
    let d = parse_deposit(&t, &f).unwrap();
    assert_eq!(
        d.sats(),
        Sats(13_000),
        "split deposit sums both outputs (each below the minimum)"
    );
    assert_eq!(
        d.outputs
            .iter()
            .map(|o| (o.vout, o.sats))
            .collect::<Vec<_>>(),
        vec![(0, Sats(6_000)), (3, Sats(7_000))]
    );
    // One peg-in per federation output, each with its own value.
    let pegins = d.to_pegins(alys_federation::bitcoin::BlockHash::all_zeros());
    assert_eq!(
        pegins
            .iter()
            .map(|p| (p.vout, p.sats, p.evm_address))
            .collect::<Vec<_>>(),
        vec![
            (0, 6_000, Address::from(RECIPIENT)),
            (3, 7_000, Address::from(RECIPIENT))
        ]
    );
    assert!(pegins.iter().all(|p| p.txid.0 == d.txid.to_byte_array()));
}

#[test]
fn no_federation_output() {
    let f = fed();
    let t = tx(vec![other(50_000), op_return(&RECIPIENT)]);
    assert_eq!(
        parse_deposit(&t, &f),
        Err(DepositRejection::NoFederationOutput)
    );
    // A different federation's address is not ours.
    let g = Federation::new(Network::Regtest, common::keys(3), 3, None, 0).unwrap();
    let t = tx(vec![pay(&g, 50_000), op_return(&RECIPIENT)]);
    assert_eq!(
        parse_deposit(&t, &f),
        Err(DepositRejection::NoFederationOutput)
    );
}

#[test]
fn missing_op_return() {
    let f = fed();
    let t = tx(vec![pay(&f, 50_000), other(1)]);
    let e = parse_deposit(&t, &f).unwrap_err();
    assert_eq!(e, DepositRejection::MissingOpReturn);
    assert!(e.to_string().contains("no OP_RETURN"));
}

#[test]
fn malformed_op_return() {
    let f = fed();
    for len in [0usize, 19, 21, 32, 80] {
        let t = tx(vec![pay(&f, 50_000), op_return(&vec![1u8; len])]);
        let e = parse_deposit(&t, &f).unwrap_err();
        assert_eq!(e, DepositRejection::MalformedOpReturn { len }, "len {len}");
        assert!(e.to_string().contains(&format!("{len} bytes")));
    }
    // Two pushes of 10 bytes: 20 bytes of data but not one push.
    let s = Builder::new()
        .push_opcode(OP_RETURN)
        .push_slice([1u8; 10])
        .push_slice([2u8; 10])
        .into_script();
    let t = tx(vec![
        pay(&f, 50_000),
        TxOut {
            value: Amount::ZERO,
            script_pubkey: s,
        },
    ]);
    assert_eq!(
        parse_deposit(&t, &f),
        Err(DepositRejection::MalformedOpReturn { len: 20 })
    );
    // A non-push opcode after OP_RETURN.
    let s = Builder::new()
        .push_opcode(OP_RETURN)
        .push_opcode(OP_PUSHNUM_1)
        .into_script();
    let t = tx(vec![
        pay(&f, 50_000),
        TxOut {
            value: Amount::ZERO,
            script_pubkey: s,
        },
    ]);
    assert!(matches!(
        parse_deposit(&t, &f),
        Err(DepositRejection::MalformedOpReturn { .. })
    ));
    // Truncated push (claims 20 bytes, has 3).
    let s = ScriptBuf::from_bytes(vec![0x6a, 0x14, 1, 2, 3]);
    let t = tx(vec![
        pay(&f, 50_000),
        TxOut {
            value: Amount::ZERO,
            script_pubkey: s,
        },
    ]);
    assert_eq!(
        parse_deposit(&t, &f),
        Err(DepositRejection::MalformedOpReturn { len: 4 })
    );
}

#[test]
fn multiple_op_returns() {
    let f = fed();
    let t = tx(vec![
        pay(&f, 50_000),
        op_return(&RECIPIENT),
        op_return(&RECIPIENT),
    ]);
    assert_eq!(
        parse_deposit(&t, &f),
        Err(DepositRejection::MultipleOpReturns)
    );
}

#[test]
fn below_minimum() {
    let f = fed();
    let t = tx(vec![pay(&f, 9_999), op_return(&RECIPIENT)]);
    let e = parse_deposit(&t, &f).unwrap_err();
    assert_eq!(
        e,
        DepositRejection::BelowMinimum {
            sats: Sats(9_999),
            min: Sats(10_000)
        }
    );
    assert!(e
        .to_string()
        .contains("9999 sats is below the minimum of 10000"));
    let t = tx(vec![pay(&f, 10_000), op_return(&RECIPIENT)]);
    assert!(parse_deposit(&t, &f).is_ok());
}
