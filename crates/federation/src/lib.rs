//! The peg: peg rules and peg state (DESIGN §4, §7, §8).
//!
//! This crate owns:
//! - the federation's **taproot output**: internal key = the BIP-341 NUMS point H, leaf A =
//!   `multi_a(m,k1,…,kn)`, optional leaf B = `<delay> CSV DROP` + emergency `multi_a`
//!   ([`Federation`], built from the chain spec), its address, scriptPubKey, descriptor,
//!   leaf scripts and control blocks;
//! - generic BIP-341 tree building and tweaking ([`taproot`]), the one code path behind the
//!   address (checked against the BIP-341 wallet vectors);
//! - **deposit parsing** ([`parse_deposit`]): what counts as a peg-in and why a transaction is
//!   rejected ([`DepositRejection`]); a deposit is minted as one peg-in per federation output;
//! - the **peg-in rules and state** ([`pegin`]): the Bitcoin follower's deposit recognition
//!   (`Federation` as an `alys_bitcoin::DepositScanner`) and the consensus `PegInVerifier`
//!   ([`FollowerPegIns`]) with the minted set (persisted up to the finalized block, kept
//!   incrementally above it);
//! - BIP-340 **Schnorr** signing and verification ([`schnorr`]) for peg-out signatures;
//! - **burns** ([`burns_from_receipts`]): the peg-out requests the Bridge recorded in a block's
//!   receipts, each to be paid or refunded with the reason ([`burns`]);
//! - the **payout** ([`payout`]): the deterministic unsigned peg-out transaction
//!   ([`build_payout`]), the policy a member checks before signing it ([`check_payout`]), and
//!   its leaf-A script-path signatures and witnesses ([`sign_payout`],
//!   [`verify_payout_signature`], [`assemble`]);
//! - the **peg-out ledger** ([`pegout`]): the peg-out state of every block, served to consensus.
//! - **signing and broadcast** of payouts ([`signing`]): members sign the proposed payouts that
//!   pass their policy, the collector gathers `pegThreshold` signatures from the gossip,
//!   assembles, broadcasts and tracks the transaction ([`PayoutSigner`]).
//!
//! Following Bitcoin (blocks, reorgs, confirmations, the transactions paying the federation)
//! is `alys-bitcoin`'s job: it reports facts, this crate decides what they mean.

pub mod burns;
pub mod checksum;
pub mod deposit;
pub mod descriptor;
pub mod payout;
pub mod pegin;
pub mod pegout;
pub mod schnorr;
pub mod signing;
pub mod taproot;

pub use alys_bitcoin::DepositOutput;
pub use bitcoin;
pub use burns::{
    burns_from_receipts, classify, BurnLogError, BurnLogErrorKind, PegOutDisposition,
    PegOutRequest, PegOutRules, RefundReason,
};
pub use deposit::{parse_deposit, pays_to, pegins, Deposit, DepositRejection};
pub use descriptor::{
    emergency_script, multi_a_script, parse_bitcoin_key, parse_network, EmergencyPath, Federation,
    DEFAULT_MIN_PEG_IN_SATS,
};
pub use payout::{
    assemble, build_payout, check_payout, estimated_vsize, fee_rate_of, sign_payout,
    verify_payout_signature, verify_payout_signatures, Payout, PayoutError, PayoutRequest,
    PolicyError, RequestId, SignError, Utxo, MAX_PAYOUT_INPUTS, MAX_PAYOUT_REQUESTS,
    MAX_PAYOUT_VSIZE,
};
pub use pegin::{FollowerPegIns, PegInCheckError, MINTED};
pub use schnorr::{SchnorrError, SchnorrSigner};
pub use signing::{
    MemberKey, PayoutRpc, PayoutSigner, PayoutSource, PayoutStatus, ProposedPayout, SignerConfig,
};
pub use taproot::{nums_point, taproot_spend_info, ScriptTree, NUMS_H};

/// Errors building the federation from the chain spec.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    /// `bitcoinNetwork` is not set.
    #[error("chain spec: `bitcoinNetwork` is required for the federation address")]
    MissingNetwork,
    /// `bitcoinNetwork` is not a known network.
    #[error("unknown Bitcoin network `{0}`")]
    UnknownNetwork(String),
    /// A key does not parse.
    #[error("`{field}` = {value}: {reason}")]
    InvalidKey {
        /// Spec field.
        field: String,
        /// The offending value.
        value: String,
        /// Why.
        reason: String,
    },
    /// No keys where some are required.
    #[error("`{0}`: at least one key is required")]
    NoKeys(String),
    /// More keys than `multi_a` allows.
    #[error("`{field}`: {n} keys, at most 999")]
    TooManyKeys {
        /// Spec field.
        field: String,
        /// Number of keys.
        n: usize,
    },
    /// The same x-only key twice (a compressed key and its x-only form count as the same).
    #[error("`{field}[{index}]` duplicates `{field}[{first}]` (as an x-only key)")]
    DuplicateKey {
        /// Spec field.
        field: String,
        /// Index of the duplicate.
        index: usize,
        /// Index of the first occurrence.
        first: usize,
    },
    /// Threshold outside 1..=n.
    #[error("`{field}`: threshold {threshold} must be in 1..={n}")]
    BadThreshold {
        /// Spec field.
        field: String,
        /// The threshold.
        threshold: u32,
        /// Number of keys.
        n: usize,
    },
    /// CSV delay outside 1..=65535 blocks.
    #[error("emergency.csvDelay = {0}: must be 1..=65535 blocks")]
    BadCsvDelay(u32),
    /// Taproot tree construction failed.
    #[error("taproot: {0}")]
    Taproot(String),
    /// Witness assembly failed.
    #[error("witness: {0}")]
    Witness(String),
}
