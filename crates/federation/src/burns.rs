//! Peg-out requests read from the receipts of an imported block (DESIGN §8).
//!
//! A request's path through this file: the block's receipts, in transaction order → the logs of
//! successful transactions whose **emitter is the Bridge address** (a `RequestPegOut` from any
//! other contract is ignored) → decoded with the Bridge's ABI ([`RequestPegOut`]; a Bridge log
//! that does not decode, or whose value is not a whole number of sats, is a [`BurnLogError`],
//! never a panic) → classified by [`classify`]: paid to its Bitcoin address
//! ([`PegOutDisposition::Pay`]) or refunded to its sender with the reason
//! ([`PegOutDisposition::Refund`]). No request is dropped: a burn the federation cannot pay is
//! refunded.

use std::str::FromStr;

use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolEvent;
use alys_primitives::{Address, ChainSpec, RequestPegOut, Sats, B256, U256};
use bitcoin::address::NetworkUnchecked;
use bitcoin::Network;

use crate::{parse_network, FederationError};

/// What a request is checked against: the chain's Bitcoin network and minimum peg-out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PegOutRules {
    /// The network a payout address must belong to.
    pub network: Network,
    /// The smallest amount paid out.
    pub min: Sats,
}

impl PegOutRules {
    /// The rules of `spec`: `bitcoinNetwork` (required) and its minimum peg-out.
    pub fn from_spec(spec: &ChainSpec) -> Result<Self, FederationError> {
        let name = spec
            .bitcoin_network
            .as_deref()
            .ok_or(FederationError::MissingNetwork)?;
        Ok(Self {
            network: parse_network(name)?,
            min: spec.min_peg_out(),
        })
    }
}

/// A burn recorded by the Bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PegOutRequest {
    /// The transaction that burned.
    pub tx_hash: B256,
    /// Position of the log among all logs of the block.
    pub log_index: u64,
    /// Who burned (refunds go back to this address).
    pub sender: Address,
    /// The Bitcoin address as sent to the Bridge (UTF-8 bytes of the address string).
    pub btc_address: Vec<u8>,
    /// The amount burned.
    pub amount: Sats,
    /// Paid out or refunded.
    pub disposition: PegOutDisposition,
}

/// What the federation does with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PegOutDisposition {
    /// Pay the amount (less its fee share) to this address.
    Pay(bitcoin::Address),
    /// Mint the amount back to the sender, for this reason.
    Refund(RefundReason),
}

/// Why a request is refunded instead of paid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefundReason {
    /// The address bytes are not UTF-8 text.
    #[error("the Bitcoin address is not UTF-8 text")]
    AddressNotUtf8,
    /// The text is not a Bitcoin address of any network.
    #[error("`{address}` is not a Bitcoin address: {reason}")]
    AddressUnparseable {
        /// The address text.
        address: String,
        /// The parser's reason.
        reason: String,
    },
    /// The address belongs to another network than the chain's.
    #[error("`{address}` is not an address of the {network} network")]
    WrongNetwork {
        /// The address text.
        address: String,
        /// The chain's network.
        network: Network,
    },
    /// The amount is below the chain's minimum peg-out.
    #[error("{amount} is below the minimum peg-out of {min}")]
    BelowMinimum {
        /// The amount burned.
        amount: Sats,
        /// The chain's minimum.
        min: Sats,
    },
}

/// A Bridge log that is not a well-formed peg-out request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Bridge log {log_index} of transaction {tx_hash}: {kind}")]
pub struct BurnLogError {
    /// The transaction whose receipt holds the log.
    pub tx_hash: B256,
    /// Position of the log among all logs of the block.
    pub log_index: u64,
    /// What is wrong with it.
    pub kind: BurnLogErrorKind,
}

/// What is wrong with a Bridge log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BurnLogErrorKind {
    /// Not a `RequestPegOut` event in the Bridge's ABI (topics or data).
    #[error("not a RequestPegOut event: {0}")]
    Undecodable(String),
    /// The value is not a whole number of sats.
    #[error("value {0} wei is not a whole number of sats")]
    NotWholeSats(U256),
    /// The value does not fit a 64-bit amount of sats.
    #[error("value {0} wei is too large")]
    ValueTooLarge(U256),
}

/// The peg-out requests recorded by the Bridge at `bridge` in a block's `receipts` (in
/// transaction order), each classified under `rules`. Logs of other emitters and of failed
/// transactions are ignored.
pub fn burns_from_receipts(
    receipts: &[TransactionReceipt],
    bridge: Address,
    rules: &PegOutRules,
) -> Result<Vec<PegOutRequest>, BurnLogError> {
    let mut requests = Vec::new();
    let mut log_index = 0u64;
    for receipt in receipts {
        let logs = receipt.inner.logs();
        let first = log_index;
        log_index += logs.len() as u64;
        if !receipt.status() {
            continue;
        }
        for (offset, log) in logs.iter().enumerate() {
            if log.address() != bridge {
                continue;
            }
            let at = first + offset as u64;
            let error = |kind| BurnLogError {
                tx_hash: receipt.transaction_hash,
                log_index: at,
                kind,
            };
            let event = RequestPegOut::decode_log_data_validate(log.data())
                .map_err(|e| error(BurnLogErrorKind::Undecodable(e.to_string())))?;
            let amount = sats_of(event.value).map_err(error)?;
            let btc_address = event.bitcoinAddress.to_vec();
            requests.push(PegOutRequest {
                tx_hash: receipt.transaction_hash,
                log_index: at,
                sender: event.evmAddress,
                disposition: classify(&btc_address, amount, rules),
                btc_address,
                amount,
            });
        }
    }
    Ok(requests)
}

/// The exact amount of sats in `wei`.
fn sats_of(wei: U256) -> Result<Sats, BurnLogErrorKind> {
    let per_sat = U256::from(alys_primitives::units::WEI_PER_SAT);
    if wei % per_sat != U256::ZERO {
        return Err(BurnLogErrorKind::NotWholeSats(wei));
    }
    u64::try_from(wei / per_sat)
        .map(Sats)
        .map_err(|_| BurnLogErrorKind::ValueTooLarge(wei))
}

/// Whether a request of `amount` to `btc_address` is paid or refunded under `rules` (address
/// checked first).
pub fn classify(btc_address: &[u8], amount: Sats, rules: &PegOutRules) -> PegOutDisposition {
    match payout_address(btc_address, rules.network) {
        Err(reason) => PegOutDisposition::Refund(reason),
        Ok(_) if amount < rules.min => PegOutDisposition::Refund(RefundReason::BelowMinimum {
            amount,
            min: rules.min,
        }),
        Ok(address) => PegOutDisposition::Pay(address),
    }
}

/// `btc_address` as an address of `network` (base58, bech32 or bech32m).
fn payout_address(btc_address: &[u8], network: Network) -> Result<bitcoin::Address, RefundReason> {
    let text = std::str::from_utf8(btc_address).map_err(|_| RefundReason::AddressNotUtf8)?;
    let unchecked = bitcoin::Address::<NetworkUnchecked>::from_str(text).map_err(|e| {
        RefundReason::AddressUnparseable {
            address: text.to_string(),
            reason: e.to_string(),
        }
    })?;
    unchecked
        .require_network(network)
        .map_err(|_| RefundReason::WrongNetwork {
            address: text.to_string(),
            network,
        })
}
