//! The priority fees of an executed payload, which the next AuxPoW re-mints (DESIGN §4 "Fees").
//!
//! Rule: Σ over the payload's transactions of `tip × gas used`, where
//! - `tip` is computed here from the signed transaction and the payload's base fee:
//!   `min(maxPriorityFeePerGas, maxFeePerGas − baseFee)` for EIP-1559/4844/7702 transactions,
//!   `gasPrice − baseFee` for legacy and EIP-2930 ones (blob gas is burned, not counted);
//! - `gas used` of transaction `i` is `cumulativeGasUsed[i] − cumulativeGasUsed[i − 1]` from
//!   the execution client's receipts.
//!
//! Only what the block commits to is used: the receipts must hash to the payload's
//! `receiptsRoot` (status, cumulative gas, bloom and logs, in the consensus encoding) and the
//! last cumulative gas must equal the payload's `gasUsed`. So every node computes the same
//! fees whatever execution client it runs and whichever endpoint served the receipts; the
//! receipts' `effectiveGasPrice` and `gasUsed` fields, which are derived values (and which some
//! clients report differently), are not trusted.

use alloy::consensus::proofs::calculate_receipt_root;
use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::eips::Decodable2718;
use alloy::rpc::types::TransactionReceipt;
use alloy_primitives::{keccak256, B256, U256};
use alys_primitives::ExecutionPayload;

/// Why a payload's fees cannot be computed from the receipts given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    /// Not one receipt per transaction.
    #[error("{receipts} receipts for {transactions} transactions")]
    Count {
        /// Receipts given.
        receipts: usize,
        /// Transactions in the payload.
        transactions: usize,
    },
    /// Receipt `index` is for another transaction.
    #[error("receipt {index} is for transaction {got}, not {expected}")]
    WrongTransaction {
        /// Position.
        index: usize,
        /// The payload's transaction hash.
        expected: B256,
        /// The receipt's.
        got: B256,
    },
    /// The receipts do not hash to the payload's receipts root.
    #[error("the receipts hash to {computed}, not to the payload's receipts root {expected}")]
    ReceiptsRoot {
        /// The payload's receipts root.
        expected: B256,
        /// The root of the receipts given.
        computed: B256,
    },
    /// Cumulative gas decreases, or does not end at the payload's `gasUsed`.
    #[error("cumulative gas used of receipt {index} is inconsistent ({detail})")]
    Gas {
        /// Position.
        index: usize,
        /// What is wrong.
        detail: String,
    },
    /// A transaction of the payload does not decode.
    #[error("transaction {index} does not decode: {reason}")]
    Transaction {
        /// Position.
        index: usize,
        /// Decoder error.
        reason: String,
    },
    /// A transaction cannot pay the payload's base fee (no valid block holds it).
    #[error("transaction {index} pays less than the base fee")]
    BelowBaseFee {
        /// Position.
        index: usize,
    },
    /// The payload's base fee exceeds 64 bits.
    #[error("base fee {0} does not fit 64 bits")]
    BaseFee(U256),
}

/// Priority fees (wei) of `payload`, given its receipts in transaction order.
pub fn priority_fees(
    payload: &ExecutionPayload,
    receipts: &[TransactionReceipt],
) -> Result<U256, FeeError> {
    let txs = &payload.transactions;
    if receipts.len() != txs.len() {
        return Err(FeeError::Count {
            receipts: receipts.len(),
            transactions: txs.len(),
        });
    }
    let base_fee: u64 = payload
        .base_fee_per_gas
        .try_into()
        .map_err(|_| FeeError::BaseFee(payload.base_fee_per_gas))?;
    let mut consensus_receipts = Vec::with_capacity(receipts.len());
    let mut fees = U256::ZERO;
    let mut cumulative = 0u64;
    for (index, (r, tx)) in receipts.iter().zip(txs.iter()).enumerate() {
        let expected = keccak256(&tx[..]);
        if r.transaction_hash != expected {
            return Err(FeeError::WrongTransaction {
                index,
                expected,
                got: r.transaction_hash,
            });
        }
        let envelope =
            TxEnvelope::decode_2718(&mut &tx[..]).map_err(|e| FeeError::Transaction {
                index,
                reason: e.to_string(),
            })?;
        let tip = envelope
            .effective_tip_per_gas(base_fee)
            .ok_or(FeeError::BelowBaseFee { index })?;
        let receipt = r.inner.clone().into_primitives_receipt();
        let now = receipt.cumulative_gas_used();
        let gas = now.checked_sub(cumulative).ok_or_else(|| FeeError::Gas {
            index,
            detail: format!("{now} after {cumulative}"),
        })?;
        cumulative = now;
        fees = fees.saturating_add(U256::from(tip).saturating_mul(U256::from(gas)));
        consensus_receipts.push(receipt);
    }
    if cumulative != payload.gas_used {
        return Err(FeeError::Gas {
            index: receipts.len().saturating_sub(1),
            detail: format!(
                "ends at {cumulative}, the payload used {}",
                payload.gas_used
            ),
        });
    }
    let computed = calculate_receipt_root(&consensus_receipts);
    if computed != payload.receipts_root {
        return Err(FeeError::ReceiptsRoot {
            expected: payload.receipts_root,
            computed,
        });
    }
    Ok(fees)
}

/// Fees of the last few payloads, by payload hash (bounded: [`FeeCache::CAPACITY`]).
#[derive(Debug, Default)]
pub(crate) struct FeeCache(std::sync::Mutex<std::collections::VecDeque<(B256, U256)>>);

impl FeeCache {
    /// Entries kept.
    const CAPACITY: usize = 32;

    /// The cached fees of payload `hash`.
    pub(crate) fn get(&self, hash: &B256) -> Option<U256> {
        let entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().find(|(h, _)| h == hash).map(|(_, f)| *f)
    }

    /// Remember the fees of payload `hash`, dropping the oldest entry when full.
    pub(crate) fn put(&self, hash: B256, fees: U256) {
        let mut entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::CAPACITY {
            entries.pop_front();
        }
        entries.push_back((hash, fees));
    }
}
