//! Why the pool refuses a transaction, with Geth's error strings.

use alloy_primitives::U256;

/// Why a transaction was refused (messages as Geth words them, so tools recognise them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Signature does not recover.
    #[error("invalid sender: {0}")]
    InvalidSender(String),
    /// Wrong chain id.
    #[error("invalid chain id")]
    WrongChainId,
    /// Legacy transaction without EIP-155 chain id.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    /// Blob transactions are not accepted on this chain.
    #[error("transaction type not supported: blob transactions are not accepted on this chain")]
    BlobNotSupported,
    /// A transaction type of a fork that is not active.
    #[error("transaction type not supported")]
    TypeNotSupported,
    /// Encoded transaction too large.
    #[error("oversized data: transaction size {size}, limit {limit}")]
    Oversized {
        /// Encoded size.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// Init code above the EIP-3860 limit.
    #[error("max initcode size exceeded: code size {size}, limit {limit}")]
    InitCodeTooLarge {
        /// Init code size.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// Gas limit above the block gas limit.
    #[error("exceeds block gas limit")]
    GasLimit,
    /// Gas limit below the intrinsic cost.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGas {
        /// Transaction gas limit.
        gas: u64,
        /// Intrinsic gas.
        needed: u64,
    },
    /// Priority fee above the fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// Nonce below the account's.
    #[error("nonce too low: next nonce {expected}, tx nonce {got}")]
    NonceTooLow {
        /// Account nonce.
        expected: u64,
        /// Transaction nonce.
        got: u64,
    },
    /// Replacement does not pay enough more.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// Already known.
    #[error("already known")]
    AlreadyKnown,
    /// Pool full and the transaction does not pay more than the cheapest held.
    #[error("txpool is full")]
    PoolFull,
    /// The sender holds the maximum number of transactions.
    #[error("account limit exceeded: {limit} transactions per sender")]
    AccountLimit {
        /// Limit.
        limit: usize,
    },
    /// The sender holds the maximum number of transactions behind a nonce gap.
    #[error("account queue limit exceeded: {limit} transactions per sender behind a nonce gap")]
    QueuedLimit {
        /// Limit.
        limit: usize,
    },
    /// The fee cap is below the base fee and the pool holds its maximum of such transactions.
    #[error(
        "max fee per gas less than block base fee: maxFeePerGas: {fee_cap}, baseFee: {base_fee}"
    )]
    FeeCapBelowBaseFee {
        /// The transaction's fee cap.
        fee_cap: u128,
        /// The current base fee.
        base_fee: u64,
    },
    /// Sender balance cannot cover gas × max fee + value.
    #[error("insufficient funds for gas * price + value: balance {balance}, tx cost {cost}")]
    InsufficientFunds {
        /// Balance.
        balance: U256,
        /// Cost.
        cost: U256,
    },
    /// Tip below the pool minimum.
    #[error("transaction underpriced: gas tip cap {tip}, minimum needed {min}")]
    Underpriced {
        /// Offered tip.
        tip: u128,
        /// Minimum tip.
        min: u128,
    },
    /// State could not be read.
    #[error("internal error: {0}")]
    Internal(String),
}
