//! The virtual size of a signed payout, computed from its shape before it is signed.
//!
//! Every input spends a federation output through leaf A, so its witness is fixed by the
//! federation: `threshold` 64-byte signatures (SIGHASH_DEFAULT adds no sighash byte),
//! `n − threshold` empty items, the leaf script and the control block. With that witness known,
//! the estimate is the exact vsize of the signed transaction, not a bound.

use bitcoin::consensus::encode::VarInt;
use bitcoin::TxOut;

use crate::payout::PayoutError;
use crate::Federation;

/// Bytes of an input without its witness: outpoint (36), empty scriptSig (1), sequence (4).
const INPUT_BASE_SIZE: u64 = 36 + 1 + 4;
/// Version and locktime.
const TX_FIXED_SIZE: u64 = 4 + 4;
/// Segwit marker and flag (witness bytes, weight 1 each).
const SEGWIT_HEADER_SIZE: u64 = 2;

fn varint_size(n: u64) -> u64 {
    VarInt(n).size() as u64
}

/// Serialized size of one input's leaf-A witness, item count included.
pub fn input_witness_size(federation: &Federation) -> Result<u64, PayoutError> {
    let n = federation.keys().len() as u64;
    let m = u64::from(federation.threshold());
    let script = federation.federation_leaf().len() as u64;
    let control = federation
        .federation_control_block()
        .map_err(PayoutError::Federation)?
        .serialize()
        .len() as u64;
    Ok(varint_size(n + 2)
        + m * (1 + 64)
        + n.saturating_sub(m)
        + varint_size(script)
        + script
        + varint_size(control)
        + control)
}

/// Virtual size (vB, rounded up) of a payout with `n_inputs` federation inputs, once signed,
/// paying `outputs`.
pub fn estimated_vsize(
    federation: &Federation,
    n_inputs: usize,
    outputs: &[TxOut],
) -> Result<u64, PayoutError> {
    let n_in = n_inputs as u64;
    let outputs_size: u64 = outputs
        .iter()
        .map(|o| {
            let s = o.script_pubkey.len() as u64;
            8 + varint_size(s) + s
        })
        .sum();
    let base = TX_FIXED_SIZE
        + varint_size(n_in)
        + n_in * INPUT_BASE_SIZE
        + varint_size(outputs.len() as u64)
        + outputs_size;
    let witness = SEGWIT_HEADER_SIZE + n_in * input_witness_size(federation)?;
    Ok((base * 4 + witness).div_ceil(4))
}
