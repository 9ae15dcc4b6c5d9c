//! The peg-in side of the peg (DESIGN §4, §7): what a deposit is, for the Bitcoin follower
//! ([`scanner`]: the `alys_bitcoin::DepositScanner` over [`crate::parse_deposit`]), and what may
//! be minted ([`verifier`]: the consensus `PegInVerifier` over the follower's deposit index,
//! with the minted set kept as consensus state).

pub mod scanner;
pub mod verifier;

pub use verifier::{
    BlockPegIns, FollowerPegIns, MintedSet, Outpoint, PegInChain, PegInCheckError, MAX_CANDIDATES,
    MAX_CANDIDATE_RECIPIENTS, MINTED, SNAPSHOTS,
};
