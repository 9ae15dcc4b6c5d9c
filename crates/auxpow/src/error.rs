//! [`AuxPowError`]: every reason an AuxPoW is rejected, one variant per rule.
//!
//! Decoding and verification share this enum so that an RPC handler can map any failure of
//! `submitauxblock` to one JSON-RPC error message (`Display`) without losing the reason.

use thiserror::Error;

/// Why an AuxPoW failed to decode or verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuxPowError {
    // ---- decoding -------------------------------------------------------------------------
    /// The hex string is not valid hex.
    #[error("auxpow is not valid hex: {0}")]
    InvalidHex(String),
    /// The bytes end before the AuxPoW does.
    #[error("auxpow is truncated")]
    Truncated,
    /// Bytes remain after the AuxPoW.
    #[error("auxpow has {extra} trailing byte(s)")]
    TrailingBytes {
        /// Number of unread bytes.
        extra: usize,
    },
    /// Any other malformed encoding (non-minimal varint, bad segwit flag, oversized vector…).
    #[error("auxpow is malformed: {0}")]
    Malformed(String),
    /// The coinbase merkle branch is longer than [`crate::MAX_COINBASE_BRANCH_LEN`].
    #[error("auxpow coinbase merkle branch too long ({len} > 32)")]
    CoinbaseBranchTooLong {
        /// Length found.
        len: u64,
    },
    /// The chain merkle branch is longer than [`crate::MAX_CHAIN_BRANCH_LEN`] (Namecoin rule).
    #[error("auxpow chain merkle branch too long ({len} > 30)")]
    ChainBranchTooLong {
        /// Length found.
        len: u64,
    },

    // ---- verification ---------------------------------------------------------------------
    /// The coinbase branch index is not 0 (Namecoin: "AuxPow is not a generate").
    #[error("auxpow coinbase is not at index 0 of the parent block (index {index})")]
    CoinbaseNotAtIndexZero {
        /// Index found.
        index: i32,
    },
    /// The parent header's version has the auxpow flag (bit 8) set (Namecoin rejects this).
    #[error("auxpow parent block has the auxpow version flag (version {version:#x})")]
    ParentHasAuxPowFlag {
        /// Parent header version.
        version: i32,
    },
    /// The parent header's chain id (`version / 65536`) equals ours (strict chain id).
    #[error("auxpow parent block has our chain id {chain_id}")]
    ParentHasOurChainId {
        /// The chain id found in the parent version.
        chain_id: i32,
    },
    /// The coinbase branch does not lead to the parent header's merkle root.
    #[error("auxpow coinbase merkle branch does not match the parent merkle root")]
    MerkleRootMismatch,
    /// The "coinbase" does not have exactly one input with a null prevout.
    #[error("auxpow coinbase transaction is not a coinbase")]
    NotACoinbase,
    /// The `fabe6d6d` magic occurs more than once in the coinbase (scriptSig and outputs).
    #[error("multiple merged mining headers in coinbase ({count})")]
    MultipleMergedMiningHeaders {
        /// Number of magic occurrences.
        count: usize,
    },
    /// The chain merkle root is not where it has to be in the coinbase.
    #[error("auxpow chain merkle root missing from parent coinbase")]
    ChainRootNotFound,
    /// The magic is present but not immediately followed by the chain merkle root.
    #[error("merged mining header is not just before the chain merkle root")]
    MergedMiningHeaderNotBeforeRoot,
    /// Without magic, the root must start within the first 20 bytes of the scriptSig.
    #[error("auxpow chain merkle root must start in the first 20 bytes of the parent coinbase (found at {offset})")]
    LegacyRootTooLate {
        /// Offset of the root in the scriptSig.
        offset: usize,
    },
    /// Fewer than 8 bytes (size, nonce) follow the chain merkle root.
    #[error("auxpow missing chain merkle tree size and nonce in parent coinbase")]
    MissingSizeAndNonce,
    /// The committed merkle tree size is not `2^(chain branch length)`.
    #[error(
        "auxpow merkle tree size {actual} does not match the chain branch (expected {expected})"
    )]
    WrongSize {
        /// `2^h`.
        expected: u32,
        /// Size in the coinbase.
        actual: u32,
    },
    /// The chain branch index is not Namecoin's `getExpectedIndex(nonce, chainId, h)`.
    #[error("auxpow wrong chain index {actual} (expected {expected})")]
    WrongChainIndex {
        /// Expected slot.
        expected: u32,
        /// Index in the proof.
        actual: i32,
    },
    /// `bits` is negative, zero or overflows 256 bits.
    #[error("invalid compact target bits {bits:#010x}")]
    InvalidBits {
        /// The bits.
        bits: u32,
    },
    /// `bits` encodes a target above the pow limit.
    #[error("target bits {bits:#010x} above the pow limit")]
    BitsAboveLimit {
        /// The bits.
        bits: u32,
    },
    /// The parent header hash is above the target.
    #[error("auxpow proof of work insufficient: parent hash above target")]
    InsufficientWork,
}
