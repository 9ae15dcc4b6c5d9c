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

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::consensus::{
        Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, SignableTransaction, TxEip1559,
        TxLegacy,
    };
    use alloy::eips::Encodable2718;
    use alloy::network::TxSignerSync;
    use alloy::signers::local::PrivateKeySigner;
    use alloy_primitives::{Address, TxKind};
    use ssz_types::VariableList;

    const BASE: u64 = 1_000;

    fn key() -> PrivateKeySigner {
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
            .parse()
            .unwrap()
    }

    fn eip1559(nonce: u64, max_fee: u128, tip: u128) -> Vec<u8> {
        let mut tx = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 100_000,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(Address::repeat_byte(1)),
            ..Default::default()
        };
        let sig = key().sign_transaction_sync(&mut tx).unwrap();
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
    }

    fn legacy(nonce: u64, gas_price: u128) -> Vec<u8> {
        let mut tx = TxLegacy {
            chain_id: Some(1),
            nonce,
            gas_price,
            gas_limit: 21_000,
            to: TxKind::Call(Address::repeat_byte(2)),
            ..Default::default()
        };
        let sig = key().sign_transaction_sync(&mut tx).unwrap();
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
    }

    fn receipt(tx: &[u8], cumulative: u64) -> TransactionReceipt {
        let inner = ReceiptWithBloom::from(Receipt {
            status: Eip658Value::Eip658(true),
            cumulative_gas_used: cumulative,
            logs: Vec::new(),
        });
        let inner = match tx[0] {
            2 => ReceiptEnvelope::Eip1559(inner),
            _ => ReceiptEnvelope::Legacy(inner),
        };
        TransactionReceipt {
            inner,
            transaction_hash: keccak256(tx),
            transaction_index: None,
            block_hash: None,
            block_number: None,
            // Derived fields the rule must not read: deliberately wrong.
            gas_used: 1,
            effective_gas_price: 1,
            blob_gas_used: None,
            blob_gas_price: None,
            from: Address::ZERO,
            to: None,
            contract_address: None,
        }
    }

    /// A payload of `txs` committing to `receipts`.
    fn payload(txs: &[Vec<u8>], receipts: &[TransactionReceipt]) -> ExecutionPayload {
        let consensus: Vec<_> = receipts
            .iter()
            .map(|r| r.inner.clone().into_primitives_receipt())
            .collect();
        ExecutionPayload {
            base_fee_per_gas: U256::from(BASE),
            gas_used: consensus.last().map_or(0, |r| r.cumulative_gas_used()),
            receipts_root: calculate_receipt_root(&consensus),
            transactions: VariableList::new(
                txs.iter()
                    .map(|t| VariableList::new(t.clone()).unwrap())
                    .collect(),
            )
            .unwrap(),
            ..Default::default()
        }
    }

    fn block() -> (Vec<Vec<u8>>, Vec<TransactionReceipt>) {
        // Tip capped by the fee cap (1_500 − 1_000 = 500 < 700); a legacy tx (2_000 − 1_000).
        let txs = vec![eip1559(0, 1_500, 700), legacy(1, 2_000)];
        let receipts = vec![receipt(&txs[0], 30_000), receipt(&txs[1], 51_000)];
        (txs, receipts)
    }

    #[test]
    fn fees_are_tip_times_gas_from_the_transactions_and_cumulative_gas() {
        let (txs, receipts) = block();
        let fees = priority_fees(&payload(&txs, &receipts), &receipts).unwrap();
        assert_eq!(fees, U256::from(500u64 * 30_000 + 1_000 * 21_000));
    }

    #[test]
    fn every_inconsistency_is_its_typed_error() {
        let (txs, receipts) = block();
        let good = payload(&txs, &receipts);

        let err = priority_fees(&good, &receipts[..1]).unwrap_err();
        assert_eq!(
            err,
            FeeError::Count {
                receipts: 1,
                transactions: 2
            }
        );

        let swapped = [receipts[1].clone(), receipts[0].clone()];
        assert!(matches!(
            priority_fees(&good, &swapped),
            Err(FeeError::WrongTransaction { index: 0, .. })
        ));

        let mut other_root = good.clone();
        other_root.receipts_root = B256::repeat_byte(9);
        assert!(matches!(
            priority_fees(&other_root, &receipts),
            Err(FeeError::ReceiptsRoot { .. })
        ));

        let mut other_gas = good.clone();
        other_gas.gas_used += 1;
        assert!(matches!(
            priority_fees(&other_gas, &receipts),
            Err(FeeError::Gas { index: 1, .. })
        ));

        let decreasing = vec![receipt(&txs[0], 30_000), receipt(&txs[1], 20_000)];
        assert!(matches!(
            priority_fees(&payload(&txs, &decreasing), &decreasing),
            Err(FeeError::Gas { index: 1, .. })
        ));

        let garbage = vec![vec![0x02, 0xff, 0x00]];
        let r = vec![receipt(&garbage[0], 21_000)];
        assert!(matches!(
            priority_fees(&payload(&garbage, &r), &r),
            Err(FeeError::Transaction { index: 0, .. })
        ));

        let poor = vec![eip1559(0, BASE as u128 - 1, 1)];
        let r = vec![receipt(&poor[0], 21_000)];
        assert_eq!(
            priority_fees(&payload(&poor, &r), &r),
            Err(FeeError::BelowBaseFee { index: 0 })
        );

        let mut huge_base = good;
        huge_base.base_fee_per_gas = U256::from(u64::MAX) + U256::from(1);
        assert!(matches!(
            priority_fees(&huge_base, &receipts),
            Err(FeeError::BaseFee(_))
        ));
    }

    #[test]
    fn the_fee_cache_is_bounded() {
        let cache = FeeCache::default();
        for i in 0..(FeeCache::CAPACITY as u64 + 10) {
            cache.put(B256::from(U256::from(i)), U256::from(i));
        }
        assert_eq!(cache.0.lock().unwrap().len(), FeeCache::CAPACITY);
        assert_eq!(cache.get(&B256::from(U256::from(0u64))), None);
        let last = FeeCache::CAPACITY as u64 + 9;
        assert_eq!(
            cache.get(&B256::from(U256::from(last))),
            Some(U256::from(last))
        );
    }
}
