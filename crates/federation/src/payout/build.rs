//! Building the unsigned payout: deterministic coin selection, outputs in request order, the
//! fee of the signed transaction and its pro-rata deduction from the payouts.
//!
//! Every node builds byte-identical transactions from the same federation, UTXO set (in any
//! order), requests (in the caller's order) and fee rate; see `docs/peg-out.md`, "Payout
//! transaction", for the rules.

use std::collections::BTreeSet;

use alys_primitives::Sats;
use bitcoin::absolute::LockTime;
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};

use crate::payout::{
    estimated_vsize, Payout, PayoutRequest, RequestId, Utxo, MAX_PAYOUT_INPUTS,
    MAX_PAYOUT_REQUESTS, MAX_PAYOUT_VSIZE,
};
use crate::{Federation, FederationError};

/// Sequence of every payout input: opts in to replace-by-fee, no relative locktime.
pub const PAYOUT_SEQUENCE: Sequence = Sequence::ENABLE_RBF_NO_LOCKTIME;

/// Why a payout cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayoutError {
    /// No request to pay.
    #[error("no request to pay")]
    NoRequests,
    /// More requests than one payout carries.
    #[error("{n} requests, at most {max} per payout")]
    TooManyRequests {
        /// Requests given.
        n: usize,
        /// [`MAX_PAYOUT_REQUESTS`].
        max: usize,
    },
    /// The same request twice.
    #[error("request {id:?} is listed twice")]
    DuplicateRequest {
        /// The request.
        id: RequestId,
    },
    /// The same UTXO twice.
    #[error("UTXO {outpoint} is listed twice")]
    DuplicateUtxo {
        /// The outpoint.
        outpoint: OutPoint,
    },
    /// The federation's UTXOs do not cover the requested sum.
    #[error("insufficient funds: need {need}, have {have}")]
    InsufficientFunds {
        /// Sum of the requests.
        need: Sats,
        /// Sum of all UTXOs.
        have: Sats,
    },
    /// Covering the requests takes more inputs than one payout spends.
    #[error("{need} inputs needed, at most {max} per payout")]
    TooManyInputs {
        /// Inputs the selection took.
        need: usize,
        /// [`MAX_PAYOUT_INPUTS`].
        max: usize,
    },
    /// The signed payout would exceed the standard transaction size.
    #[error("signed payout of {vsize} vB, at most {max} vB")]
    TooLarge {
        /// Its signed vsize.
        vsize: u64,
        /// [`MAX_PAYOUT_VSIZE`].
        max: u64,
    },
    /// After its fee share, the request's output would be dust (or negative).
    #[error("request {id:?} is below the dust threshold after its fee share")]
    RequestBelowDustAfterFee {
        /// The request.
        id: RequestId,
    },
    /// An amount or the fee does not fit in 64 bits.
    #[error("amount overflow")]
    Overflow,
    /// The federation's leaf A cannot be spent (no control block).
    #[error(transparent)]
    Federation(FederationError),
}

/// Splits `fee` over `amounts` pro rata: share_i = ⌊fee × amount_i / Σamounts⌋, then the
/// rounding remainder (fewer sats than there are amounts) one sat each to the first amounts.
/// `None` when the amounts sum to zero (or overflow) and the fee is not zero.
pub fn split_fee(fee: Sats, amounts: &[Sats]) -> Option<Vec<Sats>> {
    let total = amounts
        .iter()
        .try_fold(0u64, |acc, a| acc.checked_add(a.0))?;
    if total == 0 {
        return (fee.0 == 0).then(|| vec![Sats::ZERO; amounts.len()]);
    }
    let mut shares: Vec<u64> = amounts
        .iter()
        .map(|a| (u128::from(fee.0) * u128::from(a.0) / u128::from(total)) as u64)
        .collect();
    let assigned: u64 = shares.iter().sum();
    let remainder = fee.0.checked_sub(assigned)?;
    for share in shares.iter_mut().take(remainder as usize) {
        *share += 1;
    }
    Some(shares.into_iter().map(Sats).collect())
}

/// The smallest change output kept (330 sats for the federation's P2TR scriptPubKey, Bitcoin
/// Core's dust limit at 3 sat/vB); smaller change is left to the fee.
pub fn change_dust_threshold(federation: &Federation) -> Sats {
    Sats(federation.script_pubkey().minimal_non_dust().to_sat())
}

/// Deterministic coin selection: UTXOs by value descending, then outpoint ascending, taken
/// until they cover `need` (at least one).
fn select(utxos: &[Utxo], need: u64) -> Result<(Vec<Utxo>, u64), PayoutError> {
    let mut seen = BTreeSet::new();
    for u in utxos {
        if !seen.insert(u.outpoint) {
            return Err(PayoutError::DuplicateUtxo {
                outpoint: u.outpoint,
            });
        }
    }
    let mut sorted: Vec<Utxo> = utxos.to_vec();
    sorted.sort_by(|a, b| b.value.cmp(&a.value).then(a.outpoint.cmp(&b.outpoint)));
    let mut have = 0u64;
    let mut taken = 0;
    for u in &sorted {
        if have >= need && taken > 0 {
            break;
        }
        have = have.checked_add(u.value.0).ok_or(PayoutError::Overflow)?;
        taken += 1;
    }
    if have < need || taken == 0 {
        return Err(PayoutError::InsufficientFunds {
            need: Sats(need),
            have: Sats(have),
        });
    }
    if taken > MAX_PAYOUT_INPUTS {
        return Err(PayoutError::TooManyInputs {
            need: taken,
            max: MAX_PAYOUT_INPUTS,
        });
    }
    sorted.truncate(taken);
    Ok((sorted, have))
}

/// Builds the unsigned payout of `requests` (paid in this order) from the federation's `utxos`
/// at `fee_rate` sat/vB. Pure and deterministic; the order of `utxos` does not matter.
pub fn build_payout(
    federation: &Federation,
    utxos: &[Utxo],
    requests: &[PayoutRequest],
    fee_rate: u64,
) -> Result<Payout, PayoutError> {
    if requests.is_empty() {
        return Err(PayoutError::NoRequests);
    }
    if requests.len() > MAX_PAYOUT_REQUESTS {
        return Err(PayoutError::TooManyRequests {
            n: requests.len(),
            max: MAX_PAYOUT_REQUESTS,
        });
    }
    let mut ids = BTreeSet::new();
    for r in requests {
        if !ids.insert(r.id) {
            return Err(PayoutError::DuplicateRequest { id: r.id });
        }
    }
    let amounts: Vec<Sats> = requests.iter().map(|r| r.amount).collect();
    let total = amounts
        .iter()
        .try_fold(0u64, |acc, a| acc.checked_add(a.0))
        .ok_or(PayoutError::Overflow)?;

    if let Some(first) = requests.first().filter(|_| total == 0) {
        // Only zero amounts: none can reach its dust limit.
        return Err(PayoutError::RequestBelowDustAfterFee { id: first.id });
    }
    let (inputs, have) = select(utxos, total)?;
    let change_value = have - total;
    let has_change = change_value >= change_dust_threshold(federation).0;

    let mut outputs: Vec<TxOut> = requests
        .iter()
        .map(|r| TxOut {
            value: Amount::ZERO,
            script_pubkey: r.address.script_pubkey(),
        })
        .collect();
    if has_change {
        outputs.push(TxOut {
            value: Amount::from_sat(change_value),
            script_pubkey: federation.script_pubkey().clone(),
        });
    }
    let vsize = estimated_vsize(federation, inputs.len(), &outputs)?;
    if vsize > MAX_PAYOUT_VSIZE {
        return Err(PayoutError::TooLarge {
            vsize,
            max: MAX_PAYOUT_VSIZE,
        });
    }
    let fee = fee_rate.checked_mul(vsize).ok_or(PayoutError::Overflow)?;
    let shares = split_fee(Sats(fee), &amounts).ok_or(PayoutError::Overflow)?;
    for ((out, r), share) in outputs.iter_mut().zip(requests).zip(&shares) {
        let below = || PayoutError::RequestBelowDustAfterFee { id: r.id };
        let value = r.amount.0.checked_sub(share.0).ok_or_else(below)?;
        if value < out.script_pubkey.minimal_non_dust().to_sat() {
            return Err(below());
        }
        out.value = Amount::from_sat(value);
    }

    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: inputs
            .iter()
            .map(|u| TxIn {
                previous_output: u.outpoint,
                script_sig: ScriptBuf::new(),
                sequence: PAYOUT_SEQUENCE,
                witness: Witness::new(),
            })
            .collect(),
        output: outputs,
    };
    let change = has_change.then(|| Utxo {
        outpoint: OutPoint {
            txid: tx.compute_txid(),
            vout: requests.len() as u32,
        },
        value: Sats(change_value),
    });
    Ok(Payout {
        tx,
        inputs,
        requests: requests.iter().map(|r| r.id).collect(),
        fee: Sats(if has_change { fee } else { fee + change_value }),
        change,
    })
}

/// The fee rate (sat/vB) a payout of `requests` was built at: the fee deducted from the payouts
/// (Σ request amounts − Σ of the first `requests.len()` outputs) divided by the signed vsize.
/// `None` when the transaction is shorter than the requests, pays more than requested, or the
/// deducted fee is not a whole multiple of the vsize (no builder made it). For a payout built
/// by [`build_payout`] at rate `r`, this is `Some(r)`, so a validator rebuilds with it.
pub fn fee_rate_of(
    federation: &Federation,
    tx: &Transaction,
    requests: &[PayoutRequest],
) -> Option<u64> {
    let paid_outputs = tx.output.get(..requests.len())?;
    let requested = requests
        .iter()
        .try_fold(0u64, |acc, r| acc.checked_add(r.amount.0))?;
    let paid = paid_outputs
        .iter()
        .try_fold(0u64, |acc, o| acc.checked_add(o.value.to_sat()))?;
    let deducted = requested.checked_sub(paid)?;
    let vsize = estimated_vsize(federation, tx.input.len(), &tx.output).ok()?;
    if vsize == 0 || deducted % vsize != 0 {
        return None;
    }
    Some(deducted / vsize)
}
