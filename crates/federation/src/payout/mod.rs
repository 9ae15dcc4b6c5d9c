//! The peg-out payout transaction (DESIGN §8): the deterministic unsigned transaction that pays
//! a batch of peg-out requests from federation UTXOs, the policy a member checks before signing
//! it, and its BIP-341 script-path signatures.
//!
//! - [`build`]: coin selection, outputs, fee and its pro-rata split ([`build_payout`],
//!   [`fee_rate_of`]);
//! - [`weight`]: the exact virtual size of the signed transaction ([`estimated_vsize`]);
//! - [`policy`]: what a member verifies before signing ([`check_payout`]);
//! - [`sign`]: sighashes, signatures, their verification and the final witnesses
//!   ([`sign_payout`], [`verify_payout_signature`], [`assemble`]).
//!
//! This module owns the shared types: [`Utxo`], [`RequestId`], [`PayoutRequest`], [`Payout`].

pub mod build;
pub mod policy;
pub mod sign;
pub mod weight;

use alys_primitives::{Sats, B256};
use bitcoin::{OutPoint, Transaction};

use crate::burns::{PegOutDisposition, PegOutRequest};

pub use build::{build_payout, fee_rate_of, split_fee, PayoutError};
pub use policy::{check_payout, PolicyError};
pub use sign::{
    assemble, payout_sighash, sign_payout, verify_payout_signature, verify_payout_signatures,
    SignError,
};
pub use weight::{estimated_vsize, input_witness_size};

/// Most inputs one payout spends; a larger selection is [`PayoutError::TooManyInputs`]. A
/// leaf-A input is about 109 vB for 2-of-3 and 342 vB for 10-of-15, so 200 inputs stay within
/// [`MAX_PAYOUT_VSIZE`] for federations up to about 15 keys; larger federations hit that limit
/// first.
pub const MAX_PAYOUT_INPUTS: usize = 200;

/// Largest signed payout, in vB: Bitcoin Core's standardness limit (400,000 weight units). A
/// larger payout would not relay: [`PayoutError::TooLarge`].
pub const MAX_PAYOUT_VSIZE: u64 = 100_000;

/// Most requests one payout pays; the caller batches the rest into later payouts.
pub const MAX_PAYOUT_REQUESTS: usize = 100;

/// A federation-owned output that a payout may spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Utxo {
    /// Where it is.
    pub outpoint: OutPoint,
    /// Its value.
    pub value: Sats,
}

/// A peg-out request's identity: the burn's transaction and log index (ordered by both).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId {
    /// The transaction that burned.
    pub tx_hash: B256,
    /// Position of the log among all logs of its block.
    pub log_index: u64,
}

/// A request to pay: the address has already been checked for the chain's network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutRequest {
    /// Which burn.
    pub id: RequestId,
    /// Where to pay.
    pub address: bitcoin::Address,
    /// The amount burned; the output pays this minus the request's fee share.
    pub amount: Sats,
}

impl PayoutRequest {
    /// The payout of a burn classified [`PegOutDisposition::Pay`], `None` for a refund.
    pub fn from_peg_out(request: &PegOutRequest) -> Option<Self> {
        match &request.disposition {
            PegOutDisposition::Pay(address) => Some(Self {
                id: RequestId {
                    tx_hash: request.tx_hash,
                    log_index: request.log_index,
                },
                address: address.clone(),
                amount: request.amount,
            }),
            PegOutDisposition::Refund(_) => None,
        }
    }
}

/// An unsigned payout transaction and what it spends and pays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payout {
    /// The unsigned transaction (empty witnesses); its txid is final.
    pub tx: Transaction,
    /// The outputs spent, in input order (the sighash prevouts).
    pub inputs: Vec<Utxo>,
    /// The requests paid, in output order.
    pub requests: Vec<RequestId>,
    /// Total fee: inputs − outputs (the deducted fee plus any change below dust).
    pub fee: Sats,
    /// The change output back to the federation, if any (always the last output).
    pub change: Option<Utxo>,
}
