//! Command-line limits of the embedded execution client's transaction pool, shared by
//! `alys dev`, `alys node --embedded-el` and `alys el`.

use alys_evm::txpool::{self, PoolConfig};

/// Limits of the transaction pool.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct TxPoolArgs {
    /// Most transactions held in the pool.
    #[arg(long, default_value_t = txpool::MAX_POOL_SIZE)]
    txpool_max_txs: usize,
    /// Most encoded bytes held in the pool.
    #[arg(long, default_value_t = txpool::MAX_POOL_BYTES)]
    txpool_max_bytes: usize,
    /// Most transactions held per sender.
    #[arg(long, default_value_t = txpool::MAX_PER_SENDER)]
    txpool_account_slots: usize,
    /// Most transactions per sender waiting behind a nonce gap.
    #[arg(long, default_value_t = txpool::MAX_QUEUED_PER_SENDER)]
    txpool_account_queue: usize,
    /// Most transactions held whose fee cap is below the current base fee.
    #[arg(long, default_value_t = txpool::MAX_BELOW_BASE_FEE)]
    txpool_max_below_basefee: usize,
}

impl TxPoolArgs {
    /// The pool configuration.
    pub(super) fn pool_config(&self) -> PoolConfig {
        PoolConfig {
            max_size: self.txpool_max_txs,
            max_bytes: self.txpool_max_bytes,
            max_per_sender: self.txpool_account_slots,
            max_queued_per_sender: self.txpool_account_queue,
            max_below_base_fee: self.txpool_max_below_basefee,
            ..PoolConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        pool: TxPoolArgs,
    }

    #[test]
    fn defaults_and_flags() {
        let parse = |a: &[&str]| {
            Cli::try_parse_from(std::iter::once("alys").chain(a.iter().copied()))
                .unwrap()
                .pool
                .pool_config()
        };
        assert_eq!(parse(&[]), PoolConfig::default());
        let set = parse(&[
            "--txpool-max-txs",
            "10",
            "--txpool-max-bytes",
            "4096",
            "--txpool-account-slots",
            "3",
            "--txpool-account-queue",
            "2",
            "--txpool-max-below-basefee",
            "1",
        ]);
        assert_eq!(
            (
                set.max_size,
                set.max_bytes,
                set.max_per_sender,
                set.max_queued_per_sender,
                set.max_below_base_fee
            ),
            (10, 4096, 3, 2, 1)
        );
    }
}
