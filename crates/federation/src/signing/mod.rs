//! Signing and broadcasting peg-out payouts (DESIGN §8).
//!
//! A [`PayoutSigner`] runs on every node:
//!
//! - as a **member** (with a [`MemberKey`]), for each payout proposed in a block of its chain
//!   ([`PayoutSource`]) it runs its own [`check_payout`] policy (never signing one that fails,
//!   logged once with the typed reason), signs every input (BIP-341 leaf A, SIGHASH_DEFAULT)
//!   and publishes a [`PegOutSignatures`] message through its callback (the consensus
//!   service's `Input::PublishPegOutSignatures`), again every rebroadcast interval until the
//!   payout is broadcast, so a node that learnt of the payout late still gets them;
//! - as the **collector** it is the consensus [`PegOutSignatureSink`]: it keeps a member's
//!   signatures only for a payout its source knows, from an index of the federation, with
//!   exactly one valid signature per input under that member's key over that transaction
//!   ([`verify_payout_signatures`]: every input's sighash from one cache);
//! - at `pegThreshold` members it **assembles** the witnesses, **broadcasts** the transaction
//!   and **tracks** it ([`PayoutRpc`]): confirmations from the blocks after the broadcast, up
//!   to `requiredBtcConfirmations`; while it is neither confirmed nor in the node's mempool it
//!   is sent again every [`SignerConfig::rebroadcast_interval`].
//!
//! Every payout has a local [`PayoutStatus`] ([`PayoutSigner::status`]). Everything is bounded:
//! at most [`MAX_TRACKED_PAYOUTS`] payouts, one signature set per member, at most
//! [`MAX_STATUSES`] statuses of payouts no longer tracked. External failures are logged with
//! typed errors ([`SignerError`]) and retried; nothing panics.

mod collector;
mod rpc;

pub use collector::{PayoutProgress, PayoutSigner, SignerStats};
pub use rpc::{PayoutRpc, RpcFailure};

pub use crate::payout::{
    assemble, check_payout, sign_payout, verify_payout_signature, verify_payout_signatures,
    PayoutRequest, PolicyError, RequestId, SignError, Utxo,
};

pub use alys_consensus::{PegOutSignatureSink, SignatureRejection, SignatureVerdict};
pub use alys_primitives::PegOutSignatures;

use std::sync::Arc;
use std::time::Duration;

use alys_primitives::{ChainSpec, B256};
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, Transaction, Txid};

use crate::schnorr::SchnorrSigner;
use crate::Federation;

/// Payouts tracked at once at most (the source's first ones when it has more).
pub const MAX_TRACKED_PAYOUTS: usize = 256;
/// Signature messages of payouts not known yet kept at most (a member's signatures can arrive
/// before this node imported the block proposing the payout).
pub const MAX_EARLY_SIGNATURES: usize = 64;
/// Statuses kept of payouts no longer tracked (the oldest forgotten first).
pub const MAX_STATUSES: usize = 1024;
/// Default time between two broadcasts of a payout missing from the node's mempool.
pub const DEFAULT_REBROADCAST_INTERVAL: Duration = Duration::from_secs(30);
/// Confirmations tracked when the spec sets no `requiredBtcConfirmations`.
pub const DEFAULT_REQUIRED_CONFIRMATIONS: u64 = 6;
/// Fee-rate cap (sat/vB) when the spec sets no `maxPegOutFeeRate`.
pub const DEFAULT_MAX_PEG_OUT_FEE_RATE: u64 = 100;

/// A payout proposed in a block of this node's chain, as the peg-out ledger gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposedPayout {
    /// Its txid (the unsigned transaction's; witnesses do not change it).
    pub txid: Txid,
    /// The unsigned transaction.
    pub tx: Transaction,
    /// The outputs spent, in input order.
    pub prevouts: Vec<Utxo>,
    /// The requests paid, in output order.
    pub requests: Vec<PayoutRequest>,
    /// The block that proposed it.
    pub block: B256,
    /// That block's height.
    pub height: u64,
}

impl ProposedPayout {
    /// From the peg-out ledger's record of a proposed payout
    /// ([`crate::pegout::Ledger::payouts`]).
    pub fn from_record(txid: Txid, record: &crate::pegout::ProposedPayoutRecord) -> Self {
        Self {
            txid,
            tx: record.tx.clone(),
            prevouts: record.prevouts.clone(),
            requests: record.requests.iter().map(|r| r.payout_request()).collect(),
            block: record.block,
            height: record.height,
        }
    }
}

/// The payouts proposed in blocks of the current head, not yet finished.
pub trait PayoutSource: Send + Sync {
    /// The payouts, oldest first. Called by the collector on the consensus task: quick, no I/O.
    fn payouts(&self) -> Vec<ProposedPayout>;

    /// The payouts of the head's chain that are void (an input was spent outside the peg):
    /// no longer signed, broadcast or watched.
    fn voided(&self) -> Vec<Txid> {
        Vec::new()
    }
}

/// No payouts (a node without a peg-out ledger).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPayouts;

impl PayoutSource for NoPayouts {
    fn payouts(&self) -> Vec<ProposedPayout> {
        Vec::new()
    }
}

/// This node's federation key and its index in `federationBitcoinPubkeys`.
#[derive(Clone, Debug)]
pub struct MemberKey {
    /// Index in the federation's keys.
    pub index: usize,
    /// The key.
    pub signer: SchnorrSigner,
}

impl MemberKey {
    /// The member whose key is `signer`, `None` if it is not a federation key.
    pub fn find(federation: &Federation, signer: SchnorrSigner) -> Option<Self> {
        let pk = signer.public_key();
        let index = federation.keys().iter().position(|k| *k == pk)?;
        Some(Self { index, signer })
    }
}

/// Where this node's signatures go (to the consensus service, which gossips them).
pub type Publish = Arc<dyn Fn(PegOutSignatures) + Send + Sync>;

/// The signer's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerConfig {
    /// Highest fee rate signed, sat/vB (`maxPegOutFeeRate`).
    pub fee_cap: u64,
    /// Confirmations after which a payout is no longer watched (`requiredBtcConfirmations`).
    pub required_confirmations: u64,
    /// Time between two broadcasts of a payout missing from the node's mempool.
    pub rebroadcast_interval: Duration,
}

impl SignerConfig {
    /// From the chain spec, with the defaults above for what it leaves unset.
    pub fn from_spec(spec: &ChainSpec) -> Self {
        Self {
            fee_cap: spec
                .max_peg_out_fee_rate
                .unwrap_or(DEFAULT_MAX_PEG_OUT_FEE_RATE),
            required_confirmations: spec
                .required_btc_confirmations
                .map_or(DEFAULT_REQUIRED_CONFIRMATIONS, u64::from)
                .max(1),
            rebroadcast_interval: DEFAULT_REBROADCAST_INTERVAL,
        }
    }
}

/// Where a payout stands, as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayoutStatus {
    /// Proposed in a block; fewer than `pegThreshold` members' signatures held.
    Proposed,
    /// Members whose valid signatures are held (below the threshold, or the broadcast not yet
    /// accepted by the Bitcoin node).
    Signed {
        /// Their indices, ascending.
        members: Vec<u64>,
    },
    /// Sent to the Bitcoin node, not yet in a block.
    Broadcast {
        /// Unix time (seconds) of the first accepted broadcast.
        at: u64,
    },
    /// Void: one of its inputs was spent outside the peg, so it can never confirm; its requests
    /// are paid by another payout.
    Voided,
    /// In a block of the Bitcoin node's best chain.
    Confirmed {
        /// Its confirmations (tracking stops at `requiredBtcConfirmations`).
        confirmations: u64,
        /// The block.
        block: BlockHash,
    },
}

/// Why the signer did not sign, assemble, publish or broadcast (all logged, none fatal).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The proposal's txid is not its transaction's.
    #[error("payout {claimed}: the transaction's txid is {actual}")]
    TxidMismatch {
        /// What the source said.
        claimed: Txid,
        /// What the transaction hashes to.
        actual: Txid,
    },
    /// The payout fails this member's policy: not signed.
    #[error("payout {txid} refused by policy: {reason}")]
    Policy {
        /// The payout.
        txid: Txid,
        /// Why.
        reason: PolicyError,
    },
    /// Signing, verifying or assembling failed.
    #[error("payout {txid}: {reason}")]
    Sign {
        /// The payout.
        txid: Txid,
        /// Why.
        reason: SignError,
    },
    /// The signatures do not fit a message.
    #[error("payout {txid}: {reason}")]
    Message {
        /// The payout.
        txid: Txid,
        /// Why.
        reason: alys_primitives::PegOutSignaturesError,
    },
    /// A Bitcoin RPC call failed.
    #[error("payout {txid}: {reason}")]
    Rpc {
        /// The payout.
        txid: Txid,
        /// Why.
        reason: RpcFailure,
    },
}

/// A txid as carried in [`PegOutSignatures::txid`] (internal byte order).
pub fn txid_to_b256(txid: &Txid) -> B256 {
    B256::from(txid.to_byte_array())
}

/// The txid of a [`PegOutSignatures::txid`].
pub fn b256_to_txid(b: &B256) -> Txid {
    Txid::from_byte_array(b.0)
}
