//! Gas and price arithmetic of admission and eviction.

use alloy::consensus::Transaction;
use alloy_primitives::Address;
use revm::{context_interface::cfg::gas::calculate_initial_tx_gas, primitives::hardfork::SpecId};

/// Intrinsic gas of `tx` under Cancun rules (EIP-2028 calldata, EIP-2930 access list, EIP-3860
/// init code words), as revm charges it.
pub(super) fn intrinsic_gas(tx: &impl Transaction) -> u64 {
    let (accounts, slots) = tx.access_list().map_or((0, 0), |list| {
        (
            list.len() as u64,
            list.iter().map(|i| i.storage_keys.len() as u64).sum(),
        )
    });
    let authorizations = tx.authorization_list().map_or(0, |a| a.len() as u64);
    calculate_initial_tx_gas(
        SpecId::CANCUN,
        tx.input(),
        tx.kind().is_create(),
        accounts,
        slots,
        authorizations,
        None,
    )
    .initial_total_gas()
}

/// Priority fee a transaction offers (the gas price for legacy and EIP-2930 transactions).
pub(super) fn tip_cap(tx: &impl Transaction) -> u128 {
    tx.max_priority_fee_per_gas()
        .unwrap_or_else(|| tx.max_fee_per_gas())
}

/// A sender's last transaction as an eviction candidate: its rank, sender and nonce.
pub(super) type Tail = ((u128, u128), Address, u64);

/// Price used to rank transactions for eviction: effective tip at `base_fee`, then fee cap.
pub(super) fn rank(tx: &impl Transaction, base_fee: u64) -> (u128, u128) {
    (
        tx.effective_tip_per_gas(base_fee).unwrap_or_default(),
        tx.max_fee_per_gas(),
    )
}
