//! The chain's failures that are not a verdict on a block.

use alloy_primitives::B256;

use crate::{db::DbError, execute::ExecError, forks::ForkError, trie::TrieError};

/// Failures of the chain that are not a verdict on a block.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Store failure.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Trie failure.
    #[error(transparent)]
    Trie(#[from] TrieError),
    /// Unsupported or malformed fork schedule.
    #[error(transparent)]
    Fork(#[from] ForkError),
    /// The genesis cannot start this chain (a header field out of range, a nonzero number).
    #[error(transparent)]
    Genesis(#[from] alys_primitives::SpecError),
    /// The genesis in the chain spec differs from the one this database was created with.
    #[error("database was initialised with genesis {stored}, chain spec gives {expected}")]
    GenesisMismatch {
        /// Genesis hash in the database.
        stored: B256,
        /// Genesis hash of the spec.
        expected: B256,
    },
    /// A block the chain refers to is missing from the store.
    #[error("block {0} is missing from the store")]
    MissingBlock(B256),
    /// Execution failed for a reason that is not the block's fault.
    #[error(transparent)]
    Exec(#[from] ExecError),
}
