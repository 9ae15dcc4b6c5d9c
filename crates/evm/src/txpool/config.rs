//! The pool's limits: defaults and the operator's [`PoolConfig`].

/// Default maximum transactions held in total.
pub const MAX_POOL_SIZE: usize = 20_000;
/// Default maximum encoded bytes held in total (64 MiB).
pub const MAX_POOL_BYTES: usize = 64 * 1024 * 1024;
/// Default maximum transactions per sender queued behind a nonce gap (Geth's
/// `--txpool.accountqueue`).
pub const MAX_QUEUED_PER_SENDER: usize = 64;
/// Default maximum transactions held whose fee cap is below the current base fee.
pub const MAX_BELOW_BASE_FEE: usize = 1024;
/// Default maximum transactions held per sender.
pub const MAX_PER_SENDER: usize = 1_000;
/// Default minimum fee bump, in percent, for a replacement.
pub const REPLACEMENT_BUMP_PERCENT: u128 = 10;
/// Largest accepted transaction, encoded (Geth's `txMaxSize`, 4 slots of 32 KiB).
pub const MAX_TX_SIZE: usize = 128 * 1024;
/// EIP-3860 limit on init code.
pub const MAX_INITCODE_SIZE: usize = 2 * 24_576;
/// Capacity of the new-transaction notification channel.
pub(super) const PENDING_CHANNEL_CAPACITY: usize = 4096;

/// Admission limits and prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Maximum transactions held in total.
    pub max_size: usize,
    /// Maximum encoded bytes held in total.
    pub max_bytes: usize,
    /// Maximum transactions held per sender.
    pub max_per_sender: usize,
    /// Maximum transactions per sender queued behind a nonce gap.
    pub max_queued_per_sender: usize,
    /// Maximum transactions held whose fee cap is below the current base fee (they cannot be
    /// mined until the base fee falls).
    pub max_below_base_fee: usize,
    /// Minimum fee bump, in percent, for a replacement (applies to fee cap and tip).
    pub price_bump_percent: u128,
    /// Minimum priority fee (tip) per gas, in wei.
    pub min_tip: u128,
    /// Largest accepted encoded transaction, in bytes.
    pub max_tx_size: usize,
    /// Accept legacy transactions without EIP-155 replay protection (Geth refuses them over
    /// RPC unless `--rpc.allow-unprotected-txs`).
    pub allow_unprotected: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: MAX_POOL_SIZE,
            max_bytes: MAX_POOL_BYTES,
            max_per_sender: MAX_PER_SENDER,
            max_queued_per_sender: MAX_QUEUED_PER_SENDER,
            max_below_base_fee: MAX_BELOW_BASE_FEE,
            price_bump_percent: REPLACEMENT_BUMP_PERCENT,
            min_tip: 1,
            max_tx_size: MAX_TX_SIZE,
            allow_unprotected: false,
        }
    }
}
