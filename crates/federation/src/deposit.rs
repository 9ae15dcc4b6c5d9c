//! Peg-in deposit parsing (DESIGN §7).
//!
//! A deposit is a Bitcoin transaction that pays the federation's scriptPubKey and carries
//! exactly one `OP_RETURN` output whose payload is exactly 20 bytes: the EVM recipient. The
//! amount is the sum of **all** outputs paying the federation. A transaction that pays the
//! federation but breaks a rule is a [`DepositRejection`] (not minted, reported with the reason;
//! the coins stay with the federation).

use alys_primitives::block::PegIn;
use alys_primitives::{Address, B256};
use bitcoin::hashes::Hash;
use bitcoin::script::Instruction;
use bitcoin::{BlockHash, Script, Transaction, Txid};

use crate::Federation;

/// A valid deposit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Deposit {
    /// The deposit transaction.
    pub txid: Txid,
    /// Output indexes paying the federation (ascending; at least one).
    pub vouts: Vec<u32>,
    /// Sum of the federation outputs, in sats.
    pub sats: u64,
    /// EVM recipient from the OP_RETURN.
    pub recipient: Address,
}

impl Deposit {
    /// First output paying the federation (the peg-in's identifying outpoint).
    pub fn vout(&self) -> u32 {
        self.vouts.first().copied().unwrap_or(0)
    }

    /// The consensus peg-in for this deposit, found in block `block_hash`.
    pub fn to_pegin(&self, block_hash: BlockHash) -> PegIn {
        PegIn {
            txid: B256::from(self.txid.to_byte_array()),
            block_hash: B256::from(block_hash.to_byte_array()),
            vout: self.vout(),
            sats: self.sats,
            evm_address: self.recipient,
        }
    }
}

/// Why a transaction paying the federation is not a valid deposit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DepositRejection {
    /// No output pays the federation: not a deposit at all.
    #[error("no output pays the federation address")]
    NoFederationOutput,
    /// No OP_RETURN output carrying the EVM recipient.
    #[error("no OP_RETURN output with the EVM recipient")]
    MissingOpReturn,
    /// The OP_RETURN payload is not exactly one 20-byte push.
    #[error("OP_RETURN payload is {len} bytes, expected exactly one 20-byte push (EVM address)")]
    MalformedOpReturn {
        /// Payload length in bytes (pushed data, or raw bytes after OP_RETURN if not pushes).
        len: usize,
    },
    /// More than one OP_RETURN output: the recipient is ambiguous.
    #[error("more than one OP_RETURN output: recipient is ambiguous")]
    MultipleOpReturns,
    /// Amount below `minPegInSats`.
    #[error("deposit of {sats} sats is below the minimum of {min} sats")]
    BelowMinimum {
        /// Sum of the federation outputs.
        sats: u64,
        /// The chain's `minPegInSats`.
        min: u64,
    },
}

/// `true` if some output of `tx` pays `federation_spk` (the cheap pre-filter of a block scan).
pub fn pays_to(tx: &Transaction, federation_spk: &Script) -> bool {
    tx.output
        .iter()
        .any(|o| o.script_pubkey.as_bytes() == federation_spk.as_bytes())
}

/// Parses the OP_RETURN payload: `Ok(address)` for exactly one 20-byte push, else the length.
fn op_return_recipient(script: &Script) -> Result<Address, usize> {
    let bytes = script.as_bytes();
    let rest = bytes.get(1..).unwrap_or(&[]);
    let mut data: Vec<u8> = Vec::new();
    let mut pushes = 0usize;
    for ins in script.instructions().skip(1) {
        match ins {
            Ok(Instruction::PushBytes(p)) => {
                pushes += 1;
                data.extend_from_slice(p.as_bytes());
            }
            // A non-push opcode or a truncated push: not a data carrier we accept.
            _ => return Err(rest.len()),
        }
    }
    if pushes == 1 && data.len() == 20 {
        Ok(Address::from_slice(&data))
    } else {
        Err(data.len())
    }
}

/// Parses `tx` as a deposit to `federation` (rules in the module docs).
pub fn parse_deposit(
    tx: &Transaction,
    federation: &Federation,
) -> Result<Deposit, DepositRejection> {
    let spk = federation.script_pubkey().as_bytes();
    let mut vouts = Vec::new();
    let mut sats: u64 = 0;
    let mut op_return = None;
    let mut op_returns = 0usize;
    for (i, out) in tx.output.iter().enumerate() {
        if out.script_pubkey.as_bytes() == spk {
            vouts.push(i as u32);
            sats = sats.saturating_add(out.value.to_sat());
        } else if out.script_pubkey.is_op_return() {
            op_returns += 1;
            op_return = Some(&out.script_pubkey);
        }
    }
    if vouts.is_empty() {
        return Err(DepositRejection::NoFederationOutput);
    }
    let recipient = match (op_returns, op_return) {
        (1, Some(s)) => {
            op_return_recipient(s).map_err(|len| DepositRejection::MalformedOpReturn { len })?
        }
        (0, _) | (_, None) => return Err(DepositRejection::MissingOpReturn),
        _ => return Err(DepositRejection::MultipleOpReturns),
    };
    let min = federation.min_peg_in_sats();
    if sats < min {
        return Err(DepositRejection::BelowMinimum { sats, min });
    }
    Ok(Deposit {
        txid: tx.compute_txid(),
        vouts,
        sats,
        recipient,
    })
}
