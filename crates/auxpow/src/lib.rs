//! Namecoin-compatible merged mining (AuxPoW) for Alys.
//!
//! Bitcoin miners finalize Alys blocks by committing a *work hash* in the coinbase of a Bitcoin
//! block (the *parent*). This crate is self-contained and has one module per job:
//!
//! | module | job |
//! |---|---|
//! | [`auxpow`] | the [`AuxPow`] type and its exact Namecoin/Dogecoin consensus encoding |
//! | [`error`] | [`AuxPowError`], one variant per decoding or verification rule |
//! | [`verify`] | verification: Namecoin's `CAuxPow::check` plus the Alys rules (DESIGN §5) |
//! | [`work`] | the [`WorkHash`] handed to miners (binds range and payout address) |
//! | [`difficulty`] | ASERT (aserti3-2d) difficulty and strict compact-target decoding |
//! | [`jobs`] | bounded manager of outstanding work keyed by work hash |
//! | [`miner_rpc_types`] | serde types of Namecoin Core's `createauxblock` result |
//! | [`parent_block`] | building and grinding a parent block (test miners, `alys-miner`) |
//!
//! # Byte-order convention
//! A 32-byte hash is stored in *internal* order (the order SHA256d outputs it, the order a
//! Bitcoin `uint256` has in memory). Its *display* / RPC hex form is the reversed bytes, exactly
//! as Bitcoin and Namecoin print block hashes (`GetHex`). The `fabe6d6d` header in a coinbase
//! **scriptSig** carries the chain merkle root in display order (Namecoin); the header in a
//! coinbase **output** carries it in internal order (what MARA pool does, see
//! [`verify`]).
//!
//! Nothing in this crate panics on untrusted input: decoding and verification return typed
//! errors ([`AuxPowError`]).
//!
//! # Decisions
//! * **Output commitments use internal byte order**, scriptSig commitments display order. The
//!   real MARA coinbases (`tests/vectors/auxpow/bitcoin_coinbase_mm_commitments.json`) store
//!   the hash that way and the reference sidechain accepted them so; Namecoin's scriptSig rule is
//!   unchanged. A root in the other order in an output is not found.
//! * **Exactly one `fabe6d6d` in the whole coinbase** (scriptSig and all outputs together), and
//!   any magic disables the legacy no-magic rule, so one PoW never commits two roots.
//! * **Parent chain id** is `version / 65536` (C++ truncating division, `GetChainId`), compared
//!   whatever the parent's auxpow flag (Namecoin's strict-chain-id rule is unconditional; the
//!   real negative vector has no flag). A parent *with* the auxpow flag is rejected separately,
//!   as Namecoin's `CheckAuxPowProofOfWork` does.
//! * **Decoder caps**: chain branch ≤ 30 (same [`AuxPowError::ChainBranchTooLong`] as the
//!   verifier), coinbase branch ≤ 32. One error enum serves decoding and verification.
//! * **Segwit-serialized coinbases are accepted** (the txid ignores the witness; the encoding
//!   round-trips exactly because rust-bitcoin rejects a witness flag without witnesses).
//! * **PoW check** is Bitcoin Core's `CheckProofOfWork`: bits not negative, zero, overflowing,
//!   or above the pow limit. That `bits` equals the ASERT-expected bits is the caller's check.
//! * **ASERT** divides with truncation toward zero like the C++ reference (floor division fails
//!   the official vectors, e.g. run05), computes in 512 bits and clamps to `[1, pow_limit]`.
//! * **Jobs** go stale when their range start is finalized or their head lags too far, not on
//!   every head move (pools answer in seconds to minutes, the head moves every slot).

pub mod auxpow;
pub mod difficulty;
pub mod error;
pub mod jobs;
pub mod miner_rpc_types;
pub mod parent_block;
pub mod verify;
pub mod work;

pub use auxpow::{AuxPow, MerkleBranch, MAX_CHAIN_BRANCH_LEN, MAX_COINBASE_BRANCH_LEN};
pub use difficulty::{
    next_bits, next_target, target_from_compact, AsertAnchor, AsertParams, DifficultyError,
};
pub use error::AuxPowError;
pub use jobs::{Job, JobError, JobManager};
pub use miner_rpc_types::CreateAuxBlockResponse;
pub use parent_block::{grind_header, CommitmentPlacement, ParentBlockBuilder};
pub use verify::{CommitmentLocation, MergedMiningHeader, VerifyParams};
pub use work::{WorkCommitment, WorkHash};

/// Re-export of the `bitcoin` crate version this crate's API uses.
pub use bitcoin;
