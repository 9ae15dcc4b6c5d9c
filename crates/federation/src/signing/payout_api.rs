//! Stand-in for `crate::payout` (the payout builder, policy and signatures, written on another
//! branch): the same names and signatures, so the signer switches to the real module by
//! changing one `use` in `signing/mod.rs`. Signing, verification and assembly are the BIP-341
//! leaf-A SIGHASH_DEFAULT path; the policy checks the outputs, the change and the fee cap.

use std::collections::HashSet;

use alys_primitives::{Sats, B256};
use bitcoin::consensus::encode::VarInt;
use bitcoin::hashes::Hash;
use bitcoin::key::XOnlyPublicKey;
use bitcoin::secp256k1::schnorr;
use bitcoin::sighash::{Prevouts, SighashCache};
use bitcoin::taproot::{LeafVersion, TapLeafHash};
use bitcoin::{Amount, OutPoint, TapSighashType, Transaction, TxOut};

use crate::schnorr::{verify, SchnorrSigner};
use crate::{Federation, FederationError};

/// A federation-owned output that a payout may spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Utxo {
    /// Where it is.
    pub outpoint: OutPoint,
    /// Its value.
    pub value: Sats,
}

/// A peg-out request's identity: the burn's transaction and log index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId {
    /// The transaction that burned.
    pub tx_hash: B256,
    /// Position of the log among all logs of its block.
    pub log_index: u64,
}

/// A request to pay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutRequest {
    /// Which burn.
    pub id: RequestId,
    /// Where to pay.
    pub address: bitcoin::Address,
    /// The amount burned; the output pays this minus the request's fee share.
    pub amount: Sats,
}

/// Why a member refuses to sign a payout.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The transaction has no input.
    #[error("the payout spends nothing")]
    NoInputs,
    /// An input does not spend its prevout, or spends one twice.
    #[error("input {index} spends {outpoint}, not its federation UTXO")]
    UnknownInput {
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
    #[error("output {index} pays more than its request")]
    AmountAboveRequest {
        /// Output index.
        index: usize,
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
    #[error("outputs exceed inputs")]
    OutputsExceedInputs,
    /// The change is not inputs − requests.
    #[error("change {actual}, expected {expected}")]
    ChangeMismatch {
        /// Inputs − requests.
        expected: u64,
        /// Paid.
        actual: u64,
    },
    /// The fee deducted from the payouts is above `cap` sat/vB.
    #[error("fee {fee} for {vsize} vB is above the cap of {cap} sat/vB")]
    FeeAboveCap {
        /// Deducted fee.
        fee: u64,
        /// Signed vsize.
        vsize: u64,
        /// The cap.
        cap: u64,
    },
    /// An amount sum overflows 64 bits.
    #[error("amount overflow")]
    Overflow,
    /// The size cannot be computed.
    #[error(transparent)]
    Federation(#[from] FederationError),
}

fn varint_size(n: u64) -> u64 {
    VarInt(n).size() as u64
}

/// Virtual size of `tx` once every input carries its leaf-A witness.
fn signed_vsize(federation: &Federation, tx: &Transaction) -> Result<u64, FederationError> {
    let n = federation.keys().len() as u64;
    let m = u64::from(federation.threshold());
    let script = federation.federation_leaf().len() as u64;
    let control = federation.federation_control_block()?.serialize().len() as u64;
    let per_input = varint_size(n + 2)
        + m * 65
        + n.saturating_sub(m)
        + varint_size(script)
        + script
        + varint_size(control)
        + control;
    let mut unsigned = tx.clone();
    for i in &mut unsigned.input {
        i.witness.clear();
    }
    let base = bitcoin::consensus::serialize(&unsigned).len() as u64;
    let witness = 2 + per_input * tx.input.len() as u64;
    Ok((base * 4 + witness).div_ceil(4))
}

/// The member's policy on a proposed payout: every input spends its federation UTXO, output
/// `i` pays request `i`'s address at most its amount, at most one more output pays the
/// federation exactly inputs − requests, and the fee deducted is at most `fee_cap` sat/vB.
pub fn check_payout(
    federation: &Federation,
    tx: &Transaction,
    prevouts: &[Utxo],
    requests: &[PayoutRequest],
    fee_cap: u64,
) -> Result<(), PolicyError> {
    if tx.input.is_empty() {
        return Err(PolicyError::NoInputs);
    }
    let mut seen = HashSet::new();
    for (index, input) in tx.input.iter().enumerate() {
        let outpoint = input.previous_output;
        if prevouts.get(index).map(|u| u.outpoint) != Some(outpoint) || !seen.insert(outpoint) {
            return Err(PolicyError::UnknownInput { index, outpoint });
        }
    }
    if prevouts.len() != tx.input.len() {
        return Err(PolicyError::UnknownInput {
            index: tx.input.len(),
            outpoint: OutPoint::null(),
        });
    }
    let mut paid: u64 = 0;
    for (index, r) in requests.iter().enumerate() {
        let out = tx
            .output
            .get(index)
            .ok_or(PolicyError::MissingOutput { id: r.id })?;
        if out.script_pubkey != r.address.script_pubkey() {
            return Err(PolicyError::AddressMismatch { index, id: r.id });
        }
        if out.value.to_sat() > r.amount.0 {
            return Err(PolicyError::AmountAboveRequest { index });
        }
        paid = paid
            .checked_add(out.value.to_sat())
            .ok_or(PolicyError::Overflow)?;
    }
    let inputs = prevouts
        .iter()
        .try_fold(0u64, |a, u| a.checked_add(u.value.0))
        .ok_or(PolicyError::Overflow)?;
    let requested = requests
        .iter()
        .try_fold(0u64, |a, r| a.checked_add(r.amount.0))
        .ok_or(PolicyError::Overflow)?;
    match tx.output.len() - requests.len().min(tx.output.len()) {
        0 => {}
        1 => {
            let index = requests.len();
            let change = &tx.output[index];
            if change.script_pubkey != *federation.script_pubkey() {
                return Err(PolicyError::ChangeElsewhere { index });
            }
            let expected = inputs
                .checked_sub(requested)
                .ok_or(PolicyError::OutputsExceedInputs)?;
            if change.value.to_sat() != expected {
                return Err(PolicyError::ChangeMismatch {
                    expected,
                    actual: change.value.to_sat(),
                });
            }
        }
        _ => {
            return Err(PolicyError::UnrequestedOutput {
                index: requests.len() + 1,
            })
        }
    }
    let outputs = tx
        .output
        .iter()
        .try_fold(0u64, |a, o| a.checked_add(o.value.to_sat()))
        .ok_or(PolicyError::Overflow)?;
    if outputs > inputs {
        return Err(PolicyError::OutputsExceedInputs);
    }
    let fee = requested.saturating_sub(paid);
    let vsize = signed_vsize(federation, tx)?;
    if u128::from(fee) > u128::from(fee_cap) * u128::from(vsize) {
        return Err(PolicyError::FeeAboveCap {
            fee,
            vsize,
            cap: fee_cap,
        });
    }
    Ok(())
}

/// Why a payout cannot be signed, a signature is refused, or the witnesses cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// Not one prevout per input, or one that is not what its input spends.
    #[error("prevouts do not match the inputs")]
    Prevouts,
    /// No such input.
    #[error("input {index} out of range")]
    InputIndex {
        /// Requested index.
        index: usize,
    },
    /// The sighash cannot be computed.
    #[error("sighash: {0}")]
    Sighash(String),
    /// The key is not one of the federation's.
    #[error("{0} is not a federation key")]
    NotAFederationKey(XOnlyPublicKey),
    /// The signature bytes are malformed or do not verify.
    #[error("signature of input {index} does not verify")]
    BadSignature {
        /// Input index.
        index: usize,
    },
    /// Fewer members signed than the threshold, or a member's signatures do not cover every
    /// input, or not one slot per member.
    #[error("cannot assemble: {0}")]
    Assemble(String),
    /// The witness cannot be built.
    #[error(transparent)]
    Federation(#[from] FederationError),
}

fn spent_outputs(
    federation: &Federation,
    tx: &Transaction,
    prevouts: &[Utxo],
) -> Result<Vec<TxOut>, SignError> {
    if prevouts.len() != tx.input.len()
        || tx
            .input
            .iter()
            .zip(prevouts)
            .any(|(i, u)| i.previous_output != u.outpoint)
    {
        return Err(SignError::Prevouts);
    }
    Ok(prevouts
        .iter()
        .map(|u| TxOut {
            value: Amount::from_sat(u.value.0),
            script_pubkey: federation.script_pubkey().clone(),
        })
        .collect())
}

fn sighash(
    federation: &Federation,
    cache: &mut SighashCache<&Transaction>,
    spent: &[TxOut],
    index: usize,
) -> Result<[u8; 32], SignError> {
    let leaf = TapLeafHash::from_script(federation.federation_leaf(), LeafVersion::TapScript);
    cache
        .taproot_script_spend_signature_hash(
            index,
            &Prevouts::All(spent),
            leaf,
            TapSighashType::Default,
        )
        .map(|h| h.to_byte_array())
        .map_err(|e| SignError::Sighash(e.to_string()))
}

/// One BIP-340 signature per input of `tx` (spending `prevouts`, in input order).
pub fn sign_payout(
    signer: &SchnorrSigner,
    federation: &Federation,
    tx: &Transaction,
    prevouts: &[Utxo],
) -> Result<Vec<[u8; 64]>, SignError> {
    let spent = spent_outputs(federation, tx, prevouts)?;
    let mut cache = SighashCache::new(tx);
    (0..tx.input.len())
        .map(|i| {
            let h = sighash(federation, &mut cache, &spent, i)?;
            Ok(signer.sign(&h, &[0; 32]).serialize())
        })
        .collect()
}

/// Verifies `sig` as federation member `key`'s signature of input `input_index` of `tx`.
pub fn verify_payout_signature(
    key: XOnlyPublicKey,
    federation: &Federation,
    tx: &Transaction,
    prevouts: &[Utxo],
    input_index: usize,
    sig: &[u8; 64],
) -> Result<(), SignError> {
    if !federation.keys().contains(&key) {
        return Err(SignError::NotAFederationKey(key));
    }
    if input_index >= tx.input.len() {
        return Err(SignError::InputIndex { index: input_index });
    }
    let spent = spent_outputs(federation, tx, prevouts)?;
    let hash = sighash(federation, &mut SighashCache::new(tx), &spent, input_index)?;
    let bad = SignError::BadSignature { index: input_index };
    let sig = schnorr::Signature::from_slice(sig).map_err(|_| bad.clone())?;
    verify(&key, &hash, &sig).map_err(|_| bad)
}

/// `tx` with every input's leaf-A witness from the first `threshold` members present in
/// `sigs_by_member` (indexed like the federation's keys, already verified).
pub fn assemble(
    federation: &Federation,
    tx: &Transaction,
    sigs_by_member: &[Option<Vec<[u8; 64]>>],
) -> Result<Transaction, SignError> {
    let n = federation.keys().len();
    if sigs_by_member.len() != n {
        return Err(SignError::Assemble(format!(
            "{} slots for {n} members",
            sigs_by_member.len()
        )));
    }
    let need = federation.threshold() as usize;
    let chosen: Vec<(usize, &Vec<[u8; 64]>)> = sigs_by_member
        .iter()
        .enumerate()
        .filter_map(|(m, s)| s.as_ref().map(|s| (m, s)))
        .take(need)
        .collect();
    if chosen.len() < need {
        return Err(SignError::Assemble(format!(
            "{} members signed, {need} needed",
            chosen.len()
        )));
    }
    let mut signed = tx.clone();
    for (index, input) in signed.input.iter_mut().enumerate() {
        let mut slots: Vec<Option<bitcoin::taproot::Signature>> = vec![None; n];
        for (member, sigs) in &chosen {
            let bytes = sigs.get(index).ok_or_else(|| {
                SignError::Assemble(format!("member {member} did not sign input {index}"))
            })?;
            let signature = schnorr::Signature::from_slice(bytes)
                .map_err(|_| SignError::BadSignature { index })?;
            slots[*member] = Some(bitcoin::taproot::Signature {
                signature,
                sighash_type: TapSighashType::Default,
            });
        }
        input.witness = federation.federation_witness(&slots)?;
    }
    Ok(signed)
}
