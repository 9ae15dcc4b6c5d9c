//! Types shared by every part of the Alys node.
//!
//! This crate owns the wire formats and the protocol constants: the chain spec ([`spec`]), the
//! EL genesis header ([`genesis`]), BLS keys and signatures ([`bls`]), the SSZ execution payload
//! ([`payload`]), the consensus block and its approvals ([`block`]), peg-out signatures
//! ([`pegout_signatures`]), signing domains
//! ([`signing`]), the Bridge predeploy ([`bridge`]), units ([`units`]) and the expected
//! withdrawals (mints) of a block ([`withdrawals`]). It holds no logic that needs I/O beyond
//! loading spec and key files.

pub mod auxpow_header;
pub mod block;
pub mod bls;
pub mod bridge;
pub mod dev;
pub mod genesis;
pub mod payload;
pub mod pegout_signatures;
pub mod signing;
pub mod spec;
pub mod units;
pub mod vectors;
pub mod withdrawals;

pub use alloy_primitives::{address, b256, Address, B256, U256};

pub use auxpow_header::AuxPowHeader;
pub use block::{
    AggregateApproval, Approval, AuthorityIndex, BlockProposal, ConsensusBlock, DecodeBlockError,
    FederationSpend, PegIn, SignedConsensusBlock,
};
pub use bls::{AggregateSignature, BlsError, PublicKey, SecretKey, Signature};
pub use bridge::{
    bridge_genesis_account, bridge_runtime_code, RequestPegOut, DEFAULT_MIN_PEG_OUT_SATS,
};
pub use payload::ExecutionPayload;
pub use pegout_signatures::{PegOutSignatures, PegOutSignaturesError, MAX_PEGOUT_SIGNATURES_BYTES};
pub use signing::{
    approval_signing_root, compute_domain, sign_approval, signing_root, ApprovalData, Domain,
    DomainType, SigningData,
};
pub use spec::{ChainSpec, SpecError};
pub use units::Sats;
pub use withdrawals::{
    expected_withdrawals, fee_withdrawals, withdrawal_index_base, FeeSplit, WithdrawalError,
};

/// Fee recipient of every execution payload: priority fees are burned here and re-minted to
/// miners and the federation as withdrawals of the PoW-carrying block (DESIGN §4 "Fees").
pub const BURN_ADDRESS: Address = address!("0x000000000000000000000000000000000000dEaD");

/// Address of the `Bridge` predeploy (peg-out requests, DESIGN §8).
pub const BRIDGE_ADDRESS: Address = address!("0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB");
