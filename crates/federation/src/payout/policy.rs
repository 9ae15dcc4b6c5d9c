//! The signing policy (DESIGN §8): what a member verifies in a proposed payout before it signs,
//! from the transaction alone and independently of how it was built.
//!
//! The checks, in order (the first failure is returned):
//! 0. there is a request to pay (`NoRequests`);
//! 1. every input spends a distinct federation UTXO (`UnknownInput`, `DuplicateInput`);
//! 2. output `i` (for each request `i`) pays the request's address (`MissingOutput`,
//!    `AddressMismatch`), never more than requested (`AmountAboveRequest`);
//! 3. at most one more output, paying the federation's scriptPubKey (`UnrequestedOutput`,
//!    `ChangeElsewhere`);
//! 4. outputs do not exceed inputs (`OutputsExceedInputs`), inputs cover the requests
//!    (`InputsBelowRequests`);
//! 5. the fee deducted from the payouts, Σ requests − Σ payouts, is at most `fee_cap` × the
//!    signed vsize (`FeeAboveCap`);
//! 6. each payout is its amount minus its pro-rata share of that fee ([`split_fee`]:
//!    `AmountMismatch`);
//! 7. the change is inputs − requests when that is at least the dust threshold, and there is
//!    no change otherwise (`ChangeMismatch`): nothing else goes to the miners.

use std::collections::{BTreeMap, BTreeSet};

use alys_primitives::Sats;
use bitcoin::{OutPoint, Transaction};

use crate::payout::build::change_dust_threshold;
use crate::payout::{estimated_vsize, split_fee, PayoutError, PayoutRequest, RequestId, Utxo};
use crate::Federation;

/// Why a member refuses to sign a payout.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// No request to pay: there is nothing to sign for.
    #[error("no request to pay")]
    NoRequests,
    /// The transaction has no input.
    #[error("the payout spends nothing")]
    NoInputs,
    /// An input spends an output that is not a federation UTXO.
    #[error("input {index} spends {outpoint}, not a federation UTXO")]
    UnknownInput {
        /// Input index.
        index: usize,
        /// What it spends.
        outpoint: OutPoint,
    },
    /// Two inputs spend the same outpoint.
    #[error("input {index} spends {outpoint} again")]
    DuplicateInput {
        /// Input index.
        index: usize,
        /// What it spends.
        outpoint: OutPoint,
    },
    /// A request has no output.
    #[error("request {id:?} has no output")]
    MissingOutput {
        /// The request.
        id: RequestId,
    },
    /// Output `index` does not pay its request's address.
    #[error("output {index} does not pay request {id:?}'s address")]
    AddressMismatch {
        /// Output index.
        index: usize,
        /// The request.
        id: RequestId,
    },
    /// Output `index` pays more than its request.
    #[error("output {index} pays {paid}, more than request {id:?}'s {requested}")]
    AmountAboveRequest {
        /// Output index.
        index: usize,
        /// The request.
        id: RequestId,
        /// Requested.
        requested: Sats,
        /// Paid.
        paid: Sats,
    },
    /// An output beyond the requests and the change.
    #[error("output {index} pays no request")]
    UnrequestedOutput {
        /// Output index.
        index: usize,
    },
    /// The output after the requests does not pay the federation.
    #[error("output {index} (change) does not pay the federation")]
    ChangeElsewhere {
        /// Output index.
        index: usize,
    },
    /// Outputs sum to more than inputs.
    #[error("outputs {outputs} exceed inputs {inputs}")]
    OutputsExceedInputs {
        /// Σ inputs.
        inputs: Sats,
        /// Σ outputs.
        outputs: Sats,
    },
    /// Inputs do not cover the requested sum.
    #[error("inputs {inputs} below the requested {requested}")]
    InputsBelowRequests {
        /// Σ inputs.
        inputs: Sats,
        /// Σ requests.
        requested: Sats,
    },
    /// The fee deducted from the payouts is above `cap` sat/vB.
    #[error("fee {fee} for {vsize} vB is above the cap of {cap} sat/vB")]
    FeeAboveCap {
        /// Deducted fee.
        fee: Sats,
        /// Signed vsize.
        vsize: u64,
        /// The cap.
        cap: u64,
    },
    /// A payout is not its amount minus its fee share.
    #[error("output {index} pays {paid}, expected {expected}")]
    AmountMismatch {
        /// Output index.
        index: usize,
        /// Amount minus fee share.
        expected: Sats,
        /// Paid.
        paid: Sats,
    },
    /// The change is not inputs − requests (or is present below dust, or absent above).
    #[error("change {actual:?}, expected {expected:?}")]
    ChangeMismatch {
        /// What the rule gives.
        expected: Option<Sats>,
        /// What the transaction pays.
        actual: Option<Sats>,
    },
    /// An amount sum overflows 64 bits.
    #[error("amount overflow")]
    Overflow,
    /// The size of the payout cannot be computed.
    #[error(transparent)]
    Size(#[from] PayoutError),
}

fn sum(values: impl IntoIterator<Item = u64>) -> Result<u64, PolicyError> {
    values
        .into_iter()
        .try_fold(0u64, |acc, v| acc.checked_add(v))
        .ok_or(PolicyError::Overflow)
}

/// Checks `tx` as a payout of `requests` (in output order) spending federation UTXOs from
/// `prevouts`, at no more than `fee_cap` sat/vB. `Ok` means the member may sign.
pub fn check_payout(
    federation: &Federation,
    tx: &Transaction,
    prevouts: &[Utxo],
    requests: &[PayoutRequest],
    fee_cap: u64,
) -> Result<(), PolicyError> {
    if requests.is_empty() {
        return Err(PolicyError::NoRequests);
    }
    // 1. Inputs.
    if tx.input.is_empty() {
        return Err(PolicyError::NoInputs);
    }
    let known: BTreeMap<OutPoint, Sats> = prevouts.iter().map(|u| (u.outpoint, u.value)).collect();
    let mut spent = BTreeSet::new();
    let mut input_values = Vec::with_capacity(tx.input.len());
    for (index, input) in tx.input.iter().enumerate() {
        let outpoint = input.previous_output;
        let value = known
            .get(&outpoint)
            .ok_or(PolicyError::UnknownInput { index, outpoint })?;
        if !spent.insert(outpoint) {
            return Err(PolicyError::DuplicateInput { index, outpoint });
        }
        input_values.push(value.0);
    }
    let inputs = sum(input_values)?;

    // 2. One output per request, to its address, never above it.
    for (index, r) in requests.iter().enumerate() {
        let out = tx
            .output
            .get(index)
            .ok_or(PolicyError::MissingOutput { id: r.id })?;
        if out.script_pubkey != r.address.script_pubkey() {
            return Err(PolicyError::AddressMismatch { index, id: r.id });
        }
        if out.value.to_sat() > r.amount.0 {
            return Err(PolicyError::AmountAboveRequest {
                index,
                id: r.id,
                requested: r.amount,
                paid: Sats(out.value.to_sat()),
            });
        }
    }

    // 3. At most one more output: the change, to the federation.
    let k = requests.len();
    if tx.output.len() > k + 1 {
        return Err(PolicyError::UnrequestedOutput { index: k + 1 });
    }
    let change = match tx.output.get(k) {
        None => None,
        Some(out) if out.script_pubkey == *federation.script_pubkey() => {
            Some(Sats(out.value.to_sat()))
        }
        Some(_) => return Err(PolicyError::ChangeElsewhere { index: k }),
    };

    // 4. Value conservation.
    let outputs = sum(tx.output.iter().map(|o| o.value.to_sat()))?;
    if outputs > inputs {
        return Err(PolicyError::OutputsExceedInputs {
            inputs: Sats(inputs),
            outputs: Sats(outputs),
        });
    }
    let requested = sum(requests.iter().map(|r| r.amount.0))?;
    let Some(expected_change) = inputs.checked_sub(requested) else {
        return Err(PolicyError::InputsBelowRequests {
            inputs: Sats(inputs),
            requested: Sats(requested),
        });
    };

    // 5. The deducted fee under the cap (step 2 made every payout ≤ its request).
    let paid = sum(tx.output[..k].iter().map(|o| o.value.to_sat()))?;
    let fee = requested - paid;
    let vsize = estimated_vsize(federation, tx.input.len(), &tx.output)?;
    if u128::from(fee) > u128::from(fee_cap) * u128::from(vsize) {
        return Err(PolicyError::FeeAboveCap {
            fee: Sats(fee),
            vsize,
            cap: fee_cap,
        });
    }

    // 6. Each payout is its amount minus its share of the fee.
    let amounts: Vec<Sats> = requests.iter().map(|r| r.amount).collect();
    let shares = split_fee(Sats(fee), &amounts).ok_or(PolicyError::Overflow)?;
    for (index, ((r, share), out)) in requests.iter().zip(shares).zip(&tx.output).enumerate() {
        let expected = Sats(r.amount.0.saturating_sub(share.0));
        let paid = Sats(out.value.to_sat());
        if paid != expected {
            return Err(PolicyError::AmountMismatch {
                index,
                expected,
                paid,
            });
        }
    }

    // 7. The change: all of inputs − requests, or none below dust.
    let expected =
        (expected_change >= change_dust_threshold(federation).0).then_some(Sats(expected_change));
    if change != expected {
        return Err(PolicyError::ChangeMismatch {
            expected,
            actual: change,
        });
    }
    Ok(())
}
