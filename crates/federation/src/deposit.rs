//! Peg-in deposit parsing (DESIGN §7).
//!
//! A deposit is a Bitcoin transaction that pays the federation's scriptPubKey and carries
//! exactly one `OP_RETURN` output whose payload is exactly 20 bytes: the EVM recipient. The
//! amount is the sum of **all** outputs paying the federation, and each of them is minted as
//! its own peg-in (one [`PegIn`] per federation output: same txid and recipient, that output's
//! `vout` and value), so the federation's UTXO set knows every output's value. A transaction
//! that pays the federation but breaks a rule is a [`DepositRejection`] (not minted, reported
//! with the reason; the coins stay with the federation).

use alys_bitcoin::DepositOutput;
use alys_primitives::block::PegIn;
use alys_primitives::{Address, Sats, B256};
use bitcoin::hashes::Hash;
use bitcoin::script::Instruction;
use bitcoin::{BlockHash, Script, Transaction, Txid};

use crate::Federation;

/// A valid deposit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Deposit {
    /// The deposit transaction.
    pub txid: Txid,
    /// The outputs paying the federation, each with its value (ascending vout; at least one).
    pub outputs: Vec<DepositOutput>,
    /// EVM recipient from the OP_RETURN.
    pub recipient: Address,
}

impl Deposit {
    /// The deposited amount: the sum of the federation outputs.
    pub fn sats(&self) -> Sats {
        sum(self.outputs.iter().map(|o| o.sats))
    }

    /// The consensus peg-ins for this deposit found in block `block_hash`: one per federation
    /// output.
    pub fn to_pegins(&self, block_hash: BlockHash) -> Vec<PegIn> {
        pegins(&self.txid, &self.outputs, self.recipient, &block_hash)
    }
}

/// Saturating sum of amounts.
pub(crate) fn sum(amounts: impl IntoIterator<Item = Sats>) -> Sats {
    Sats(amounts.into_iter().fold(0u64, |a, s| a.saturating_add(s.0)))
}

/// One peg-in per output of a deposit.
pub fn pegins(
    txid: &Txid,
    outputs: &[DepositOutput],
    recipient: Address,
    block_hash: &BlockHash,
) -> Vec<PegIn> {
    outputs
        .iter()
        .map(|o| PegIn {
            txid: B256::from(txid.to_byte_array()),
            block_hash: B256::from(block_hash.to_byte_array()),
            vout: o.vout,
            sats: o.sats.0,
            evm_address: recipient,
        })
        .collect()
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
    #[error("deposit of {} sats is below the minimum of {} sats", sats.0, min.0)]
    BelowMinimum {
        /// Sum of the federation outputs.
        sats: Sats,
        /// The chain's `minPegInSats`.
        min: Sats,
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
    let mut outputs = Vec::new();
    let mut op_return = None;
    let mut op_returns = 0usize;
    for (i, out) in tx.output.iter().enumerate() {
        if out.script_pubkey.as_bytes() == spk {
            outputs.push(DepositOutput {
                vout: i as u32,
                sats: Sats(out.value.to_sat()),
            });
        } else if out.script_pubkey.is_op_return() {
            op_returns += 1;
            op_return = Some(&out.script_pubkey);
        }
    }
    if outputs.is_empty() {
        return Err(DepositRejection::NoFederationOutput);
    }
    let recipient = match (op_returns, op_return) {
        (1, Some(s)) => {
            op_return_recipient(s).map_err(|len| DepositRejection::MalformedOpReturn { len })?
        }
        (0, _) | (_, None) => return Err(DepositRejection::MissingOpReturn),
        _ => return Err(DepositRejection::MultipleOpReturns),
    };
    let sats = sum(outputs.iter().map(|o| o.sats));
    let min = Sats(federation.min_peg_in_sats());
    if sats < min {
        return Err(DepositRejection::BelowMinimum { sats, min });
    }
    Ok(Deposit {
        txid: tx.compute_txid(),
        outputs,
        recipient,
    })
}
