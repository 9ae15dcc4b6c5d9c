//! Payout signatures: the BIP-341 script-path sighash of leaf A (SIGHASH_DEFAULT) for each
//! input, a member's BIP-340 signatures, their verification, and the final witnesses.

use bitcoin::hashes::Hash;
use bitcoin::key::XOnlyPublicKey;
use bitcoin::secp256k1::schnorr;
use bitcoin::sighash::{Prevouts, SighashCache};
use bitcoin::taproot::{LeafVersion, TapLeafHash};
use bitcoin::{Amount, TapSighashType, Transaction, TxOut};

use crate::payout::Utxo;
use crate::schnorr::{verify, SchnorrSigner};
use crate::{Federation, FederationError};

/// Why a payout cannot be signed, a signature is refused, or the witnesses cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// Not one prevout per input.
    #[error("{prevouts} prevouts for {inputs} inputs")]
    PrevoutCount {
        /// Inputs of the transaction.
        inputs: usize,
        /// Prevouts given.
        prevouts: usize,
    },
    /// Prevout `index` is not what input `index` spends.
    #[error("prevout {index} is not the output input {index} spends")]
    PrevoutMismatch {
        /// Input index.
        index: usize,
    },
    /// No such input.
    #[error("input {index} out of {inputs}")]
    InputIndex {
        /// Requested index.
        index: usize,
        /// Inputs of the transaction.
        inputs: usize,
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
    /// Not one signature slot per federation member.
    #[error("{got} members' signatures for {n} members")]
    MemberCount {
        /// Slots given.
        got: usize,
        /// Federation size.
        n: usize,
    },
    /// Fewer members signed than the threshold.
    #[error("{have} members signed, {need} needed")]
    NotEnoughSignatures {
        /// Members present.
        have: usize,
        /// Threshold.
        need: usize,
    },
    /// A member's signatures do not cover every input.
    #[error("member {member} gave {got} signatures for {inputs} inputs")]
    SignatureCount {
        /// Member (key index).
        member: usize,
        /// Signatures given.
        got: usize,
        /// Inputs.
        inputs: usize,
    },
    /// A signature is not a valid BIP-340 encoding.
    #[error("member {member}'s signature of input {index} is malformed")]
    MalformedSignature {
        /// Member (key index).
        member: usize,
        /// Input index.
        index: usize,
    },
    /// The witness cannot be built.
    #[error(transparent)]
    Federation(#[from] FederationError),
}

/// The spent outputs of `tx`: `prevouts` (in input order) at the federation's scriptPubKey.
fn spent_outputs(
    federation: &Federation,
    tx: &Transaction,
    prevouts: &[Utxo],
) -> Result<Vec<TxOut>, SignError> {
    if prevouts.len() != tx.input.len() {
        return Err(SignError::PrevoutCount {
            inputs: tx.input.len(),
            prevouts: prevouts.len(),
        });
    }
    tx.input
        .iter()
        .zip(prevouts)
        .enumerate()
        .map(|(index, (input, u))| {
            if input.previous_output != u.outpoint {
                return Err(SignError::PrevoutMismatch { index });
            }
            Ok(TxOut {
                value: Amount::from_sat(u.value.0),
                script_pubkey: federation.script_pubkey().clone(),
            })
        })
        .collect()
}

fn sighashes(
    federation: &Federation,
    tx: &Transaction,
    spent: &[TxOut],
    indices: impl Iterator<Item = usize>,
) -> Result<Vec<[u8; 32]>, SignError> {
    let leaf = TapLeafHash::from_script(federation.federation_leaf(), LeafVersion::TapScript);
    let prevouts = Prevouts::All(spent);
    let mut cache = SighashCache::new(tx);
    indices
        .map(|i| {
            cache
                .taproot_script_spend_signature_hash(i, &prevouts, leaf, TapSighashType::Default)
                .map(|h| h.to_byte_array())
                .map_err(|e| SignError::Sighash(e.to_string()))
        })
        .collect()
}

/// The leaf-A, SIGHASH_DEFAULT sighash of input `input_index` of `tx` spending `prevouts`.
pub fn payout_sighash(
    federation: &Federation,
    tx: &Transaction,
    prevouts: &[Utxo],
    input_index: usize,
) -> Result<[u8; 32], SignError> {
    if input_index >= tx.input.len() {
        return Err(SignError::InputIndex {
            index: input_index,
            inputs: tx.input.len(),
        });
    }
    let spent = spent_outputs(federation, tx, prevouts)?;
    let mut hashes = sighashes(federation, tx, &spent, std::iter::once(input_index))?;
    hashes.pop().ok_or(SignError::InputIndex {
        index: input_index,
        inputs: tx.input.len(),
    })
}

/// One BIP-340 signature per input of `tx` (spending `prevouts`, in input order). Signatures are
/// deterministic (all-zero auxiliary randomness, which BIP-340 permits: the nonce still derives
/// from the key and the sighash).
pub fn sign_payout(
    signer: &SchnorrSigner,
    federation: &Federation,
    tx: &Transaction,
    prevouts: &[Utxo],
) -> Result<Vec<[u8; 64]>, SignError> {
    let spent = spent_outputs(federation, tx, prevouts)?;
    let hashes = sighashes(federation, tx, &spent, 0..tx.input.len())?;
    Ok(hashes
        .iter()
        .map(|h| signer.sign(h, &[0; 32]).serialize())
        .collect())
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
    let hash = payout_sighash(federation, tx, prevouts, input_index)?;
    let bad = SignError::BadSignature { index: input_index };
    let sig = schnorr::Signature::from_slice(sig).map_err(|_| bad.clone())?;
    verify(&key, &hash, &sig).map_err(|_| bad)
}

/// Verifies member `key`'s signatures of every input of `tx` (`sigs[i]` signs input `i`),
/// computing the sighashes with one cache: what a collector runs on a member's gossiped
/// signatures. Cheaper than [`verify_payout_signature`] per input, which rehashes the prevouts.
pub fn verify_payout_signatures(
    key: XOnlyPublicKey,
    federation: &Federation,
    tx: &Transaction,
    prevouts: &[Utxo],
    sigs: &[[u8; 64]],
) -> Result<(), SignError> {
    let member = federation
        .keys()
        .iter()
        .position(|k| *k == key)
        .ok_or(SignError::NotAFederationKey(key))?;
    if sigs.len() != tx.input.len() {
        return Err(SignError::SignatureCount {
            member,
            got: sigs.len(),
            inputs: tx.input.len(),
        });
    }
    let spent = spent_outputs(federation, tx, prevouts)?;
    let hashes = sighashes(federation, tx, &spent, 0..tx.input.len())?;
    for (index, (hash, sig)) in hashes.iter().zip(sigs).enumerate() {
        let bad = SignError::BadSignature { index };
        let sig = schnorr::Signature::from_slice(sig).map_err(|_| bad.clone())?;
        verify(&key, hash, &sig).map_err(|_| bad)?;
    }
    Ok(())
}

/// `tx` with every input's leaf-A witness, from the signatures of the first `threshold` members
/// present in `sigs_by_member` (indexed like the federation's keys; each `Some` holds one
/// signature per input). The signatures must already be verified
/// ([`verify_payout_signature`]); this only assembles them.
pub fn assemble(
    federation: &Federation,
    tx: &Transaction,
    sigs_by_member: &[Option<Vec<[u8; 64]>>],
) -> Result<Transaction, SignError> {
    let n = federation.keys().len();
    if sigs_by_member.len() != n {
        return Err(SignError::MemberCount {
            got: sigs_by_member.len(),
            n,
        });
    }
    let need = federation.threshold() as usize;
    let chosen: Vec<(usize, &Vec<[u8; 64]>)> = sigs_by_member
        .iter()
        .enumerate()
        .filter_map(|(member, s)| s.as_ref().map(|s| (member, s)))
        .take(need)
        .collect();
    if chosen.len() < need {
        return Err(SignError::NotEnoughSignatures {
            have: chosen.len(),
            need,
        });
    }
    let inputs = tx.input.len();
    for (member, sigs) in &chosen {
        if sigs.len() != inputs {
            return Err(SignError::SignatureCount {
                member: *member,
                got: sigs.len(),
                inputs,
            });
        }
    }
    let mut signed = tx.clone();
    for (index, input) in signed.input.iter_mut().enumerate() {
        let mut slots: Vec<Option<bitcoin::taproot::Signature>> = vec![None; n];
        for (member, sigs) in &chosen {
            let bytes = sigs.get(index).ok_or(SignError::SignatureCount {
                member: *member,
                got: sigs.len(),
                inputs,
            })?;
            let signature = schnorr::Signature::from_slice(bytes).map_err(|_| {
                SignError::MalformedSignature {
                    member: *member,
                    index,
                }
            })?;
            if let Some(slot) = slots.get_mut(*member) {
                *slot = Some(bitcoin::taproot::Signature {
                    signature,
                    sighash_type: TapSighashType::Default,
                });
            }
        }
        input.witness = federation.federation_witness(&slots)?;
    }
    Ok(signed)
}
