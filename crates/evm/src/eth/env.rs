//! The EVM environment of an RPC execution (`eth_call`, `eth_estimateGas`, tracing): the block
//! context of a stored header, with the fork rules active at its timestamp.

use alloy::consensus::Header;
use alloy::eips::eip7840::BlobParams;
use alloy_evm::EvmEnv;
use alloy_primitives::U256;
use revm::{
    context::{BlockEnv, CfgEnv},
    context_interface::block::BlobExcessGasAndPrice,
    primitives::hardfork::SpecId,
};

use crate::forks::ForkSchedule;

/// The revm spec of a block at `timestamp`.
pub(crate) fn spec_at(schedule: &ForkSchedule, timestamp: u64) -> SpecId {
    if schedule.is_cancun(timestamp) {
        SpecId::CANCUN
    } else if schedule.is_shanghai(timestamp) {
        SpecId::SHANGHAI
    } else {
        SpecId::MERGE
    }
}

/// The environment in which the transactions of `header`'s block executed.
pub(crate) fn block_evm_env(schedule: &ForkSchedule, header: &Header) -> EvmEnv<SpecId> {
    let spec = spec_at(schedule, header.timestamp);
    let cfg = CfgEnv::new_with_spec(spec).with_chain_id(schedule.chain_id);
    let blob = header.excess_blob_gas.map(|excess| BlobExcessGasAndPrice {
        excess_blob_gas: excess,
        blob_gasprice: BlobParams::cancun().calc_blob_fee(excess),
    });
    let block = BlockEnv {
        number: U256::from(header.number),
        beneficiary: header.beneficiary,
        timestamp: U256::from(header.timestamp),
        difficulty: header.difficulty,
        prevrandao: Some(header.mix_hash),
        gas_limit: header.gas_limit,
        basefee: header.base_fee_per_gas.unwrap_or_default(),
        blob_excess_gas_and_price: blob,
        ..Default::default()
    };
    EvmEnv::new(cfg, block)
}
