//! The payouts no honest member signs and no valid block carries, each made from the honest
//! payout of `k` requests (outputs `0..k` pay the requests, output `k` is the change): a fee
//! above the cap, an output no request asked for, the change sent elsewhere, an input that is
//! not a federation UTXO. Each comes with the typed reason a validator rejects a block
//! carrying it and the one a member's signing policy refuses it with.

use alys_consensus::pegout::PegOutRejection;
use alys_federation::bitcoin::{Amount, OutPoint, ScriptBuf, Transaction, TxOut};
use alys_federation::payout::estimated_vsize;
use alys_federation::{build_payout, Federation, PayoutRequest, PolicyError, Utxo};
use alys_primitives::Sats;

use super::payout::address;

/// A payout that breaks one rule.
pub(crate) struct BadPayout {
    /// Which rule.
    pub(crate) what: &'static str,
    /// The transaction.
    pub(crate) tx: Transaction,
    /// Why a block carrying it is invalid.
    pub(crate) rejection: PegOutRejection,
    /// Why a member refuses to sign it.
    pub(crate) refusal: PolicyError,
}

/// A regtest script that is not the federation's.
pub(crate) fn other_script() -> ScriptBuf {
    address(8).script_pubkey()
}

/// `requests` paid from `utxos` at one sat/vB above the cap `cap`.
pub(crate) fn fee_above_cap(
    federation: &Federation,
    utxos: &[Utxo],
    requests: &[PayoutRequest],
    cap: u64,
) -> BadPayout {
    let p = build_payout(federation, utxos, requests, cap + 1).unwrap();
    let k = requests.len();
    let requested: u64 = requests.iter().map(|r| r.amount.0).sum();
    let paid: u64 = p.tx.output[..k].iter().map(|o| o.value.to_sat()).sum();
    let vsize = estimated_vsize(federation, p.tx.input.len(), &p.tx.output).unwrap();
    BadPayout {
        what: "a fee above the cap",
        rejection: PegOutRejection::FeeAboveCap { rate: cap + 1, cap },
        refusal: PolicyError::FeeAboveCap {
            fee: Sats(requested - paid),
            vsize,
            cap,
        },
        tx: p.tx,
    }
}

/// The honest payout with 1,000 sats of the change sent to a third party in an extra output.
pub(crate) fn unrequested_output(honest: &Transaction, k: usize) -> BadPayout {
    let mut tx = honest.clone();
    let change = tx.output[k].value.to_sat();
    tx.output[k].value = Amount::from_sat(change - 1_000);
    tx.output.push(TxOut {
        value: Amount::from_sat(1_000),
        script_pubkey: other_script(),
    });
    BadPayout {
        what: "an unrequested output",
        tx,
        rejection: PegOutRejection::UnrequestedOutput { index: k + 1 },
        refusal: PolicyError::UnrequestedOutput { index: k + 1 },
    }
}

/// The honest payout with its change paid to a third party.
pub(crate) fn change_elsewhere(honest: &Transaction, k: usize) -> BadPayout {
    let mut tx = honest.clone();
    tx.output[k].script_pubkey = other_script();
    BadPayout {
        what: "change elsewhere",
        tx,
        rejection: PegOutRejection::ChangeElsewhere { index: k },
        refusal: PolicyError::ChangeElsewhere { index: k },
    }
}

/// The honest payout spending `foreign` instead of its first input.
pub(crate) fn foreign_input(honest: &Transaction, foreign: OutPoint) -> BadPayout {
    let mut tx = honest.clone();
    tx.input[0].previous_output = foreign;
    BadPayout {
        what: "a non-federation input",
        tx,
        rejection: PegOutRejection::UnknownInput(foreign.to_string()),
        refusal: PolicyError::UnknownInput {
            index: 0,
            outpoint: foreign,
        },
    }
}

/// The four bad payouts of the honest payout `honest` of `requests` from `utxos`.
pub(crate) fn bad_payouts(
    federation: &Federation,
    utxos: &[Utxo],
    requests: &[PayoutRequest],
    honest: &Transaction,
    cap: u64,
    foreign: OutPoint,
) -> Vec<BadPayout> {
    let k = requests.len();
    vec![
        fee_above_cap(federation, utxos, requests, cap),
        unrequested_output(honest, k),
        change_elsewhere(honest, k),
        foreign_input(honest, foreign),
    ]
}
