//! Header rules a block must meet relative to its parent (Yellow Paper + EIP-1559/4844/4895):
//! number, timestamp, gas limit bounds (1/1024 of the parent's, at least 5000, at most
//! 2^63 - 1), base fee, and the fork-dependent header fields.

use alloy::consensus::Header;
use alloy::eips::{eip1559::BaseFeeParams, eip7840::BlobParams};

use crate::forks::ForkSchedule;

/// Upper bound on the gas limit change between a block and its parent (1/1024 of the parent's).
const GAS_LIMIT_BOUND_DIVISOR: u64 = 1024;
/// Minimum block gas limit.
const MIN_GAS_LIMIT: u64 = 5000;
/// Maximum block gas limit: 2^63 - 1 (geth's `params.MaxGasLimit`; the Yellow Paper bounds the
/// gas limit to a signed 64-bit integer).
pub(crate) const MAX_GAS_LIMIT: u64 = i64::MAX as u64;

/// Post-merge header rules relative to the parent (Yellow Paper + EIP-1559/4844/4895).
pub(crate) fn check_header_against_parent(
    schedule: &ForkSchedule,
    header: &Header,
    parent: &Header,
) -> Result<(), String> {
    if header.number != parent.number + 1 {
        return Err(format!(
            "block number {} does not follow parent {}",
            header.number, parent.number
        ));
    }
    if header.timestamp <= parent.timestamp {
        return Err(format!(
            "timestamp {} is not after parent's {}",
            header.timestamp, parent.timestamp
        ));
    }
    if header.gas_limit > MAX_GAS_LIMIT {
        return Err(format!(
            "gas limit {} exceeds the maximum 2^63 - 1",
            header.gas_limit
        ));
    }
    let bound = parent.gas_limit / GAS_LIMIT_BOUND_DIVISOR;
    if header.gas_limit.abs_diff(parent.gas_limit) >= bound || header.gas_limit < MIN_GAS_LIMIT {
        return Err(format!(
            "gas limit {} out of bounds for parent gas limit {}",
            header.gas_limit, parent.gas_limit
        ));
    }
    if header.gas_used > header.gas_limit {
        return Err(format!(
            "gas used {} exceeds gas limit {}",
            header.gas_used, header.gas_limit
        ));
    }
    if header.extra_data.len() > 32 {
        return Err(format!(
            "extra data is {} bytes, at most 32 allowed",
            header.extra_data.len()
        ));
    }
    let expected_base_fee = parent.next_block_base_fee(BaseFeeParams::ethereum());
    if header.base_fee_per_gas != expected_base_fee {
        return Err(format!(
            "base fee {:?} differs from expected {:?}",
            header.base_fee_per_gas, expected_base_fee
        ));
    }
    if !header.difficulty.is_zero() || !header.nonce.is_zero() {
        return Err("difficulty and nonce must be zero after the merge".into());
    }
    if header.ommers_hash != alloy::consensus::EMPTY_OMMER_ROOT_HASH {
        return Err("ommers hash must be the empty list hash".into());
    }
    let shanghai = schedule.is_shanghai(header.timestamp);
    if shanghai != header.withdrawals_root.is_some() {
        return Err("withdrawals root presence does not match the fork".into());
    }
    let cancun = schedule.is_cancun(header.timestamp);
    if cancun {
        let expected_excess = if schedule.is_cancun(parent.timestamp) {
            parent.next_block_excess_blob_gas(BlobParams::cancun())
        } else {
            Some(0)
        };
        if header.excess_blob_gas != expected_excess {
            return Err(format!(
                "excess blob gas {:?} differs from expected {:?}",
                header.excess_blob_gas, expected_excess
            ));
        }
        if header.blob_gas_used.is_none() || header.parent_beacon_block_root.is_none() {
            return Err("Cancun header fields missing".into());
        }
    } else if header.blob_gas_used.is_some()
        || header.excess_blob_gas.is_some()
        || header.parent_beacon_block_root.is_some()
    {
        return Err("Cancun header fields present before Cancun".into());
    }
    Ok(())
}
