//! The SSZ execution payload carried in a consensus block.
//!
//! Layout and limits are Deneb's `ExecutionPayload` (consensus-specs), so its
//! `hash_tree_root` is reproducible by any SSZ implementation. Conversions to and from the
//! Engine API's [`ExecutionPayloadV3`] are lossless for every payload that fits the SSZ limits;
//! [`PayloadConversionError`] says which limit a payload exceeds.

use alloy::eips::eip4895::Withdrawal as EngineWithdrawal;
use alloy::rpc::types::engine::{ExecutionPayloadV1, ExecutionPayloadV2, ExecutionPayloadV3};
use alloy_primitives::{Address, Bloom, Bytes, B256, U256};
use ssz_derive::{Decode, Encode};
use ssz_types::typenum::{U1048576, U1073741824, U16, U256 as N256, U32};
use ssz_types::{FixedVector, VariableList};
use tree_hash_derive::TreeHash;

/// Maximum bytes of one transaction (2^30).
pub type MaxBytesPerTransaction = U1073741824;
/// Maximum transactions per payload (2^20).
pub type MaxTransactionsPerPayload = U1048576;
/// Maximum withdrawals per payload.
pub type MaxWithdrawalsPerPayload = U16;
/// Maximum extra-data bytes.
pub type MaxExtraDataBytes = U32;
/// Logs bloom size in bytes.
pub type BytesPerLogsBloom = N256;

/// Maximum number of withdrawals in one payload, as a number.
pub const MAX_WITHDRAWALS_PER_PAYLOAD: usize = 16;

/// One opaque (EIP-2718 encoded) transaction.
pub type Transaction = VariableList<u8, MaxBytesPerTransaction>;

/// SSZ form of an EIP-4895 withdrawal (amount in gwei).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Encode, Decode, TreeHash)]
pub struct Withdrawal {
    /// Monotonic withdrawal index.
    pub index: u64,
    /// Validator index (Alys: 0 for peg-in mints, see [`crate::withdrawals`]).
    pub validator_index: u64,
    /// Recipient.
    pub address: Address,
    /// Amount in gwei.
    pub amount: u64,
}

impl From<EngineWithdrawal> for Withdrawal {
    fn from(w: EngineWithdrawal) -> Self {
        Self {
            index: w.index,
            validator_index: w.validator_index,
            address: w.address,
            amount: w.amount,
        }
    }
}

impl From<Withdrawal> for EngineWithdrawal {
    fn from(w: Withdrawal) -> Self {
        Self {
            index: w.index,
            validator_index: w.validator_index,
            address: w.address,
            amount: w.amount,
        }
    }
}

/// Deneb `ExecutionPayload`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct ExecutionPayload {
    /// Parent execution block hash.
    pub parent_hash: B256,
    /// Fee recipient (Alys: always [`crate::BURN_ADDRESS`]).
    pub fee_recipient: Address,
    /// Post-state root.
    pub state_root: B256,
    /// Receipts root.
    pub receipts_root: B256,
    /// Logs bloom.
    pub logs_bloom: FixedVector<u8, BytesPerLogsBloom>,
    /// `prevRandao` (Alys: see the consensus producer).
    pub prev_randao: B256,
    /// Execution block number.
    pub block_number: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Timestamp in seconds.
    pub timestamp: u64,
    /// Extra data (≤ 32 bytes).
    pub extra_data: VariableList<u8, MaxExtraDataBytes>,
    /// EIP-1559 base fee.
    pub base_fee_per_gas: U256,
    /// Execution block hash.
    pub block_hash: B256,
    /// EIP-2718 encoded transactions.
    pub transactions: VariableList<Transaction, MaxTransactionsPerPayload>,
    /// Withdrawals (Alys: mints).
    pub withdrawals: VariableList<Withdrawal, MaxWithdrawalsPerPayload>,
    /// EIP-4844 blob gas used.
    pub blob_gas_used: u64,
    /// EIP-4844 excess blob gas.
    pub excess_blob_gas: u64,
}

/// Why an Engine API payload does not fit the SSZ container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadConversionError {
    /// `extraData` longer than 32 bytes.
    #[error("extra data is {0} bytes, more than 32")]
    ExtraDataTooLong(usize),
    /// Too many transactions.
    #[error("{0} transactions, more than 2^20")]
    TooManyTransactions(usize),
    /// A transaction longer than 2^30 bytes.
    #[error("transaction {index} is {len} bytes, more than 2^30")]
    TransactionTooLong {
        /// Position in the payload.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// More than 16 withdrawals.
    #[error("{0} withdrawals, more than 16")]
    TooManyWithdrawals(usize),
}

impl ExecutionPayload {
    /// The withdrawals in Engine API form.
    pub fn engine_withdrawals(&self) -> Vec<EngineWithdrawal> {
        self.withdrawals
            .iter()
            .map(|w| EngineWithdrawal::from(*w))
            .collect()
    }

    /// The logs bloom as an alloy [`Bloom`].
    pub fn bloom(&self) -> Bloom {
        Bloom::from_slice(&self.logs_bloom[..])
    }

    /// Convert to the Engine API V3 payload (infallible).
    pub fn to_engine(&self) -> ExecutionPayloadV3 {
        ExecutionPayloadV3 {
            payload_inner: ExecutionPayloadV2 {
                payload_inner: ExecutionPayloadV1 {
                    parent_hash: self.parent_hash,
                    fee_recipient: self.fee_recipient,
                    state_root: self.state_root,
                    receipts_root: self.receipts_root,
                    logs_bloom: self.bloom(),
                    prev_randao: self.prev_randao,
                    block_number: self.block_number,
                    gas_limit: self.gas_limit,
                    gas_used: self.gas_used,
                    timestamp: self.timestamp,
                    extra_data: Bytes::copy_from_slice(&self.extra_data[..]),
                    base_fee_per_gas: self.base_fee_per_gas,
                    block_hash: self.block_hash,
                    transactions: self
                        .transactions
                        .iter()
                        .map(|tx| Bytes::copy_from_slice(&tx[..]))
                        .collect(),
                },
                withdrawals: self.engine_withdrawals(),
            },
            blob_gas_used: self.blob_gas_used,
            excess_blob_gas: self.excess_blob_gas,
        }
    }

    /// Convert from the Engine API V3 payload, checking the SSZ limits.
    pub fn from_engine(p: &ExecutionPayloadV3) -> Result<Self, PayloadConversionError> {
        let v2 = &p.payload_inner;
        let v1 = &v2.payload_inner;
        let extra_data = VariableList::new(v1.extra_data.to_vec())
            .map_err(|_| PayloadConversionError::ExtraDataTooLong(v1.extra_data.len()))?;
        let txs = v1
            .transactions
            .iter()
            .enumerate()
            .map(|(index, tx)| {
                VariableList::new(tx.to_vec()).map_err(|_| {
                    PayloadConversionError::TransactionTooLong {
                        index,
                        len: tx.len(),
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let transactions = VariableList::new(txs)
            .map_err(|_| PayloadConversionError::TooManyTransactions(v1.transactions.len()))?;
        let withdrawals = VariableList::new(
            v2.withdrawals
                .iter()
                .map(|w| Withdrawal::from(*w))
                .collect(),
        )
        .map_err(|_| PayloadConversionError::TooManyWithdrawals(v2.withdrawals.len()))?;
        Ok(Self {
            parent_hash: v1.parent_hash,
            fee_recipient: v1.fee_recipient,
            state_root: v1.state_root,
            receipts_root: v1.receipts_root,
            logs_bloom: bloom_vector(v1.logs_bloom.as_slice()),
            prev_randao: v1.prev_randao,
            block_number: v1.block_number,
            gas_limit: v1.gas_limit,
            gas_used: v1.gas_used,
            timestamp: v1.timestamp,
            extra_data,
            base_fee_per_gas: v1.base_fee_per_gas,
            block_hash: v1.block_hash,
            transactions,
            withdrawals,
            blob_gas_used: p.blob_gas_used,
            excess_blob_gas: p.excess_blob_gas,
        })
    }

    /// The payload's execution block hash.
    pub fn block_hash(&self) -> B256 {
        self.block_hash
    }
}

/// A 256-byte bloom as an SSZ vector (the input is always 256 bytes).
fn bloom_vector(bytes: &[u8]) -> FixedVector<u8, BytesPerLogsBloom> {
    let mut v = vec![0u8; 256];
    let n = bytes.len().min(256);
    v[..n].copy_from_slice(&bytes[..n]);
    FixedVector::new(v).unwrap_or_default()
}

impl Default for ExecutionPayload {
    fn default() -> Self {
        Self {
            parent_hash: B256::ZERO,
            fee_recipient: Address::ZERO,
            state_root: B256::ZERO,
            receipts_root: B256::ZERO,
            logs_bloom: bloom_vector(&[0u8; 256]),
            prev_randao: B256::ZERO,
            block_number: 0,
            gas_limit: 0,
            gas_used: 0,
            timestamp: 0,
            extra_data: VariableList::empty(),
            base_fee_per_gas: U256::ZERO,
            block_hash: B256::ZERO,
            transactions: VariableList::empty(),
            withdrawals: VariableList::empty(),
            blob_gas_used: 0,
            excess_blob_gas: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssz::{Decode, Encode};

    fn sample_engine() -> ExecutionPayloadV3 {
        ExecutionPayloadV3 {
            payload_inner: ExecutionPayloadV2 {
                payload_inner: ExecutionPayloadV1 {
                    parent_hash: B256::repeat_byte(1),
                    fee_recipient: crate::BURN_ADDRESS,
                    state_root: B256::repeat_byte(2),
                    receipts_root: B256::repeat_byte(3),
                    logs_bloom: Bloom::repeat_byte(0x11),
                    prev_randao: B256::repeat_byte(4),
                    block_number: 7,
                    gas_limit: 30_000_000,
                    gas_used: 21_000,
                    timestamp: 1_700_000_000,
                    extra_data: Bytes::from_static(b"alys"),
                    base_fee_per_gas: U256::from(1_000_000_000u64),
                    block_hash: B256::repeat_byte(5),
                    transactions: vec![Bytes::from_static(&[0x02, 0xaa]), Bytes::new()],
                },
                withdrawals: vec![EngineWithdrawal {
                    index: 3,
                    validator_index: 0,
                    address: Address::repeat_byte(9),
                    amount: 100,
                }],
            },
            blob_gas_used: 0,
            excess_blob_gas: 0,
        }
    }

    #[test]
    fn engine_roundtrip_is_lossless() {
        let e = sample_engine();
        let p = ExecutionPayload::from_engine(&e).unwrap();
        assert_eq!(p.to_engine(), e);
        let bytes = p.as_ssz_bytes();
        assert_eq!(ExecutionPayload::from_ssz_bytes(&bytes).unwrap(), p);
    }

    #[test]
    fn limits_are_typed_errors() {
        let mut e = sample_engine();
        e.payload_inner.payload_inner.extra_data = Bytes::from(vec![0u8; 33]);
        assert_eq!(
            ExecutionPayload::from_engine(&e),
            Err(PayloadConversionError::ExtraDataTooLong(33))
        );
        let mut e = sample_engine();
        e.payload_inner.withdrawals = vec![EngineWithdrawal::default(); 17];
        assert_eq!(
            ExecutionPayload::from_engine(&e),
            Err(PayloadConversionError::TooManyWithdrawals(17))
        );
    }
}
