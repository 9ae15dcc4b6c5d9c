//! Validation of a block before import (DESIGN §4 "Validation on import").
//!
//! Every rule is a variant of [`BlockError`]; nothing here panics on any input. The rules that
//! exist at this stage, in the order they are checked:
//!
//! 1. slot after the parent's, and at most one slot ahead of the local clock;
//! 2. approvals: bitfield has no bit ≥ n and length n, the slot's proposer signed,
//!    popcount ≥ threshold, the aggregate signature verifies over the block's signing root
//!    (for a proposal: the proposer's single approval, from the right authority);
//! 3. the parent approval carried by the block: a valid threshold approval of the parent
//!    (the same rules as 2), or empty when the parent is genesis;
//! 4. payload: parent hash = the parent's payload hash, number = parent's + 1, timestamp =
//!    slot start and after the parent's, fee recipient = burn address, `prevRandao` =
//!    sha256(parent approval's signature), zero on top of genesis;
//! 5. AuxPoW ([`crate::pow`]): a valid proof for the right range and bits, or none while
//!    the halting rule allows it;
//! 6. withdrawals exactly equal the expected mints: the block's peg-ins, then the fee re-mint of
//!    its AuxPoW, then the refunds due ([`crate::pegout`]; as many as the payload has room for)
//!    (no extra, missing, duplicate or reordered withdrawal);
//! 7. peg-ins: no outpoint twice, each accepted by the [`PegInVerifier`] (confirmed, unspent,
//!    not yet minted: the Bitcoin side is a seam; the default verifier rejects every peg-in);
//! 8. peg-outs: the payout proposal, if any, is the one every node builds from the parent's
//!    peg-out state ([`crate::pegout::PegOutLedger`]); blocks carry no finalized payouts.
//!
//! The EL verdict (`newPayload` VALID) is checked by [`crate::import`], which maps it onto
//! [`BlockError::ElInvalid`] / [`BlockError::ElNotValid`].

use crate::forkchoice::{prev_randao, BlockInfo};
use crate::pegout::{
    PegOutLedger, PegOutRejection, Refund, MAX_REFUNDS_PER_BLOCK, REFUND_VALIDATOR_INDEX,
};
use crate::pow::{check_auxpow, ChainLookup, PowError, PowParams, VerifiedPow};
use crate::schedule::proposer_index;
use alloy::eips::eip4895::Withdrawal;
use alloy_primitives::{Address, B256};
use alys_primitives::block::AggregateApproval;
use alys_primitives::signing::approval_signing_root;
use alys_primitives::withdrawals::{expected_withdrawals, withdrawal_index_base, WithdrawalError};
use alys_primitives::{
    Approval, ChainSpec, ConsensusBlock, Domain, PegIn, PublicKey, Signature, BURN_ADDRESS,
};

/// How the withdrawals of a payload differ from the expected mints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WithdrawalMismatch {
    /// A withdrawal that no peg-in accounts for.
    #[error("extra withdrawal {0:?}")]
    Extra(Withdrawal),
    /// An expected mint that is not in the payload.
    #[error("missing withdrawal {0:?}")]
    Missing(Withdrawal),
    /// Two withdrawals to the same recipient (one per recipient is the rule).
    #[error("duplicate withdrawal to {0}")]
    Duplicate(Address),
    /// Same withdrawals, different order.
    #[error("withdrawals out of order")]
    Order,
}

/// Why a block is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The parent is not known.
    #[error("unknown parent {0}")]
    UnknownParent(B256),
    /// The parent is known but not a descendant of the finalized block.
    #[error("parent {0} conflicts with the finalized chain")]
    ConflictsWithFinalized(B256),
    /// Slot not after the parent's.
    #[error("slot {slot} is not after the parent's slot {parent_slot}")]
    SlotNotAfterParent {
        /// Block slot.
        slot: u64,
        /// Parent slot.
        parent_slot: u64,
    },
    /// Slot more than one ahead of the local clock.
    #[error("slot {slot} is in the future (current slot {current})")]
    SlotInFuture {
        /// Block slot.
        slot: u64,
        /// Local current slot.
        current: u64,
    },
    /// A proposal signed by an authority that is not the slot's proposer.
    #[error("slot {slot}: proposer is authority {expected}, got {got}")]
    WrongProposer {
        /// Slot.
        slot: u64,
        /// Scheduled proposer.
        expected: u64,
        /// Signer.
        got: u64,
    },
    /// The aggregate does not include the slot's proposer.
    #[error("slot {slot}: proposer {proposer} did not sign")]
    ProposerDidNotSign {
        /// Slot.
        slot: u64,
        /// Scheduled proposer.
        proposer: u64,
    },
    /// Bitfield length differs from the number of authorities.
    #[error("approval bitfield has length {got}, expected {expected}")]
    BitfieldLength {
        /// Number of authorities.
        expected: usize,
        /// Bitfield length.
        got: usize,
    },
    /// A set bit beyond the authorities.
    #[error("approval bit {index} set, but there are only {n} authorities")]
    BitOutOfRange {
        /// The bit.
        index: usize,
        /// Number of authorities.
        n: usize,
    },
    /// Not enough approvals.
    #[error("{have} approvals, {need} required")]
    BelowThreshold {
        /// Set bits.
        have: usize,
        /// Threshold.
        need: usize,
    },
    /// Signature bytes are not a valid G2 point.
    #[error("invalid signature encoding: {0}")]
    InvalidSignatureEncoding(String),
    /// The aggregate signature does not verify.
    #[error("aggregate approval signature does not verify")]
    BadAggregateSignature,
    /// The proposer's own approval does not verify or is for another block.
    #[error("proposer approval does not verify")]
    BadProposerSignature,
    /// The block's approval of its parent is invalid.
    #[error("invalid parent approval: {0}")]
    BadParentApproval(Box<BlockError>),
    /// A child of genesis must carry an empty parent approval.
    #[error("a child of genesis must carry an empty parent approval")]
    ParentApprovalNotEmpty,
    /// Payload parent hash differs from the parent's payload hash.
    #[error("payload parent {got} is not the parent's payload {expected}")]
    PayloadParentMismatch {
        /// Parent's payload hash.
        expected: B256,
        /// Payload's parent hash.
        got: B256,
    },
    /// Payload number is not the parent's + 1.
    #[error("payload number {got}, expected {expected}")]
    PayloadNumberMismatch {
        /// Expected number.
        expected: u64,
        /// Payload number.
        got: u64,
    },
    /// Payload timestamp differs from the slot start.
    #[error("payload timestamp {got} is not the slot start {expected}")]
    TimestampNotSlotStart {
        /// Slot start in seconds.
        expected: u64,
        /// Payload timestamp.
        got: u64,
    },
    /// Payload timestamp not after the parent's.
    #[error("payload timestamp {timestamp} is not after the parent's {parent}")]
    TimestampNotAfterParent {
        /// Payload timestamp.
        timestamp: u64,
        /// Parent timestamp.
        parent: u64,
    },
    /// Fee recipient is not the burn address.
    #[error("payload fee recipient {0} is not the burn address")]
    FeeRecipientNotBurn(Address),
    /// `prevRandao` not derived from the parent's aggregate signature.
    #[error("prevRandao {got}, expected {expected}")]
    PrevRandaoMismatch {
        /// Expected value.
        expected: B256,
        /// Payload value.
        got: B256,
    },
    /// Withdrawals differ from the expected mints.
    #[error("withdrawals mismatch: {0}")]
    Withdrawals(WithdrawalMismatch),
    /// Expected mints cannot be computed (amount overflow, too many recipients).
    #[error("peg-ins cannot be minted: {0}")]
    PegInsUnmintable(WithdrawalError),
    /// The same deposit outpoint twice in one block.
    #[error("peg-in {index} repeats an earlier outpoint")]
    DuplicatePegIn {
        /// Position in the block.
        index: usize,
    },
    /// A peg-in refused by the verifier.
    #[error("peg-in {index} rejected: {reason}")]
    PegInRejected {
        /// Position in the block.
        index: usize,
        /// Why.
        reason: PegInRejection,
    },
    /// The AuxPoW rules (or the halting rule) are broken.
    #[error("{0}")]
    AuxPow(PowError),
    /// The peg-out part of the block (payout proposal) is invalid.
    #[error("peg-out: {0}")]
    PegOut(PegOutRejection),
    /// The EL answered INVALID.
    #[error("execution payload invalid: {reason}")]
    ElInvalid {
        /// The EL's validation error.
        reason: String,
    },
    /// The EL did not answer VALID (SYNCING / ACCEPTED).
    #[error("execution client did not validate the payload: {status}")]
    ElNotValid {
        /// The status.
        status: String,
    },
}

/// Why the [`PegInVerifier`] refuses a peg-in. Only [`PegInRejection::retryable`] reasons may
/// change as this node's Bitcoin view catches up; the others are final for the block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PegInRejection {
    /// This node's Bitcoin follower has never seen the deposit.
    #[error("deposit {} unknown to the Bitcoin follower", btc_txid(txid))]
    Unknown {
        /// Txid, internal byte order (as in [`PegIn::txid`]).
        txid: B256,
    },
    /// Seen, but not (yet, or no longer) confirmed per this node's follower.
    #[error("deposit {} not confirmed: {state}", btc_txid(txid))]
    Unconfirmed {
        /// Txid, internal byte order.
        txid: B256,
        /// Its state per the follower.
        state: String,
    },
    /// The outpoint was already minted by an ancestor of the block.
    #[error("deposit {}:{vout} already minted in block {block}", btc_txid(txid))]
    AlreadyMinted {
        /// Txid, internal byte order.
        txid: B256,
        /// Output.
        vout: u32,
        /// Root of the minting block.
        block: B256,
    },
    /// The follower found the deposit, but not as the block lists it.
    #[error(
        "deposit {} does not match the follower's record: {field}",
        btc_txid(txid)
    )]
    Mismatch {
        /// Txid, internal byte order.
        txid: B256,
        /// Which field differs (`vout`, `sats`, `recipient`, `bitcoin block`).
        field: &'static str,
    },
    /// Pays the federation but is not a valid deposit (never minted).
    #[error("transaction {} is not a valid deposit: {reason}", btc_txid(txid))]
    NotADeposit {
        /// Txid, internal byte order.
        txid: B256,
        /// Why.
        reason: String,
    },
    /// The minted set of the parent chain cannot be derived (store failure, or a parent not
    /// descending from the finalized block).
    #[error("cannot derive minted deposits: {0}")]
    State(String),
    /// This node has no Bitcoin follower and verifies no peg-in.
    #[error("no Bitcoin follower: peg-ins cannot be verified")]
    NoBitcoinFollower,
}

impl PegInRejection {
    /// Whether the verdict may change once this node's Bitcoin follower catches up (the
    /// deposit is unknown or not yet confirmed here). Already minted, mismatched, invalid
    /// deposits and state failures are final.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            PegInRejection::Unknown { .. } | PegInRejection::Unconfirmed { .. }
        )
    }
}

/// A txid in internal byte order shown as Bitcoin shows it (reversed hex).
fn btc_txid(txid: &B256) -> String {
    let mut b = txid.0;
    b.reverse();
    alloy_primitives::hex::encode(b)
}

/// The seam to the peg: may a block on top of `parent` mint `pegin`?
pub trait PegInVerifier: Send + Sync + 'static {
    /// `Ok` iff the deposit is confirmed, unspent, and not yet minted on the chain ending
    /// at `parent`; the typed reason otherwise.
    fn verify(&self, parent: &BlockInfo, pegin: &PegIn) -> Result<(), PegInRejection>;

    /// Deposits a proposer on top of `parent` should mint (none by default).
    fn candidates(&self, _parent: &BlockInfo) -> Vec<PegIn> {
        Vec::new()
    }
}

/// The verifier of a node without a Bitcoin follower: every peg-in is rejected.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPegIns;

impl PegInVerifier for NoPegIns {
    fn verify(&self, _parent: &BlockInfo, _pegin: &PegIn) -> Result<(), PegInRejection> {
        Err(PegInRejection::NoBitcoinFollower)
    }
}

/// The verifier of a full node that runs without a Bitcoin node in the explicit
/// `--pegin-trust-approvals` mode: it accepts every peg-in of a block, trusting the threshold of
/// authorities that approved it (each of which verified it against its own Bitcoin node), and
/// proposes none. Only for imports of threshold-approved blocks: an authority never runs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrustedPegIns;

impl PegInVerifier for TrustedPegIns {
    fn verify(&self, _parent: &BlockInfo, _pegin: &PegIn) -> Result<(), PegInRejection> {
        Ok(())
    }
}

/// Everything validation needs besides the block and its parent.
pub struct ValidationContext<'a> {
    /// The chain spec.
    pub spec: &'a ChainSpec,
    /// Domain of block approvals on this chain.
    pub approval_domain: Domain,
    /// The local clock's current slot.
    pub current_slot: u64,
    /// The peg-in seam.
    pub pegins: &'a dyn PegInVerifier,
    /// The peg-out seam.
    pub pegouts: &'a dyn PegOutLedger,
    /// Slot duration in ms (for the slot start).
    pub slot_duration_ms: u64,
    /// Merged-mining parameters (`None`: disabled by the spec).
    pub pow: Option<&'a PowParams>,
    /// Ancestor lookups for the AuxPoW rules.
    pub lookup: &'a dyn ChainLookup,
}

impl ValidationContext<'_> {
    fn slot_start_secs(&self, slot: u64) -> u64 {
        slot.saturating_mul(self.slot_duration_ms) / 1000
    }

    fn n(&self) -> usize {
        self.spec.authorities.len()
    }

    fn signing_root(&self, block_root: B256, slot: u64) -> B256 {
        approval_signing_root(block_root, slot, self.approval_domain)
    }
}

/// Rule 1: slot ordering and clock.
pub fn check_slot(
    ctx: &ValidationContext<'_>,
    parent: &BlockInfo,
    slot: u64,
) -> Result<(), BlockError> {
    if slot <= parent.slot {
        return Err(BlockError::SlotNotAfterParent {
            slot,
            parent_slot: parent.slot,
        });
    }
    if slot > ctx.current_slot.saturating_add(1) {
        return Err(BlockError::SlotInFuture {
            slot,
            current: ctx.current_slot,
        });
    }
    Ok(())
}

/// Rule 2 for a proposal: the proposer's own approval.
pub fn check_proposer_approval(
    ctx: &ValidationContext<'_>,
    block_root: B256,
    slot: u64,
    approval: &Approval,
) -> Result<(), BlockError> {
    let expected = proposer_index(slot, ctx.n()) as u64;
    if approval.authority_index != expected {
        return Err(BlockError::WrongProposer {
            slot,
            expected,
            got: approval.authority_index,
        });
    }
    if approval.block_root != block_root || approval.slot != slot {
        return Err(BlockError::BadProposerSignature);
    }
    let sig = Signature::from_bytes(approval.signature.as_slice())
        .map_err(|e| BlockError::InvalidSignatureEncoding(e.to_string()))?;
    let pk = &ctx.spec.authorities[expected as usize];
    if !sig.verify(pk, ctx.signing_root(block_root, slot).as_slice()) {
        return Err(BlockError::BadProposerSignature);
    }
    Ok(())
}

/// Rule 2 for a signed block: the aggregate approval.
pub fn check_aggregate(
    ctx: &ValidationContext<'_>,
    block_root: B256,
    slot: u64,
    approval: &AggregateApproval,
) -> Result<(), BlockError> {
    let n = ctx.n();
    let bits = &approval.bitfield;
    if let Some(index) = (n..bits.len()).find(|i| bits.get(*i).unwrap_or(false)) {
        return Err(BlockError::BitOutOfRange { index, n });
    }
    if bits.len() != n {
        return Err(BlockError::BitfieldLength {
            expected: n,
            got: bits.len(),
        });
    }
    let proposer = proposer_index(slot, n);
    if !bits.get(proposer).unwrap_or(false) {
        return Err(BlockError::ProposerDidNotSign {
            slot,
            proposer: proposer as u64,
        });
    }
    let signers: Vec<PublicKey> = (0..n)
        .filter(|i| bits.get(*i).unwrap_or(false))
        .map(|i| ctx.spec.authorities[i])
        .collect();
    if signers.len() < ctx.spec.approval_threshold {
        return Err(BlockError::BelowThreshold {
            have: signers.len(),
            need: ctx.spec.approval_threshold,
        });
    }
    let sig = Signature::from_bytes(approval.signature.as_slice())
        .map_err(|e| BlockError::InvalidSignatureEncoding(e.to_string()))?;
    if !sig.fast_aggregate_verify(&signers, ctx.signing_root(block_root, slot).as_slice()) {
        return Err(BlockError::BadAggregateSignature);
    }
    Ok(())
}

/// Rule 3: the block's approval of its parent.
pub fn check_parent_approval(
    ctx: &ValidationContext<'_>,
    parent: &BlockInfo,
    block: &ConsensusBlock,
) -> Result<(), BlockError> {
    if parent.height == 0 {
        if block.parent_approval != AggregateApproval::empty(ctx.n()) {
            return Err(BlockError::ParentApprovalNotEmpty);
        }
        return Ok(());
    }
    check_aggregate(ctx, parent.root, parent.slot, &block.parent_approval)
        .map_err(|e| BlockError::BadParentApproval(Box::new(e)))
}

/// Rules 3–7: the block body against its parent.
pub fn check_body(
    ctx: &ValidationContext<'_>,
    parent: &BlockInfo,
    block: &ConsensusBlock,
) -> Result<(), BlockError> {
    check_parent_approval(ctx, parent, block)?;
    let p = &block.execution_payload;
    if p.parent_hash != parent.payload_hash {
        return Err(BlockError::PayloadParentMismatch {
            expected: parent.payload_hash,
            got: p.parent_hash,
        });
    }
    let number = parent.payload_number.saturating_add(1);
    if p.block_number != number {
        return Err(BlockError::PayloadNumberMismatch {
            expected: number,
            got: p.block_number,
        });
    }
    let start = ctx.slot_start_secs(block.slot);
    if p.timestamp != start {
        return Err(BlockError::TimestampNotSlotStart {
            expected: start,
            got: p.timestamp,
        });
    }
    if p.timestamp <= parent.timestamp {
        return Err(BlockError::TimestampNotAfterParent {
            timestamp: p.timestamp,
            parent: parent.timestamp,
        });
    }
    if p.fee_recipient != BURN_ADDRESS {
        return Err(BlockError::FeeRecipientNotBurn(p.fee_recipient));
    }
    let randao = prev_randao(parent, &block.parent_approval);
    if p.prev_randao != randao {
        return Err(BlockError::PrevRandaoMismatch {
            expected: randao,
            got: p.prev_randao,
        });
    }
    let pow = check_block_auxpow(ctx, parent, block)?;
    let fees = pow
        .as_ref()
        .map(|p| p.withdrawals.as_slice())
        .unwrap_or(&[]);
    let refunds = ctx
        .pegouts
        .expected_refunds(parent)
        .map_err(BlockError::PegOut)?;
    check_withdrawals(block, fees, &refunds)?;
    for (index, pegin) in block.pegins.iter().enumerate() {
        if block.pegins[..index]
            .iter()
            .any(|o| o.txid == pegin.txid && o.vout == pegin.vout)
        {
            return Err(BlockError::DuplicatePegIn { index });
        }
    }
    for (index, pegin) in block.pegins.iter().enumerate() {
        ctx.pegins
            .verify(parent, pegin)
            .map_err(|reason| BlockError::PegInRejected { index, reason })?;
    }
    ctx.pegouts
        .check_spends(parent, &block.federation_spends)
        .map_err(BlockError::PegOut)?;
    ctx.pegouts
        .check_proposal(parent, block.pegout_proposal.as_ref().map(|b| &b[..]))
        .map_err(BlockError::PegOut)
}

/// Rule 5: the block's AuxPoW against its parent (fee withdrawals indexed after the peg-in
/// mints).
pub fn check_block_auxpow(
    ctx: &ValidationContext<'_>,
    parent: &BlockInfo,
    block: &ConsensusBlock,
) -> Result<Option<VerifiedPow>, BlockError> {
    let first_index = withdrawal_index_base(block.execution_payload.block_number)
        .saturating_add(distinct_recipients(&block.pegins) as u64);
    check_auxpow(
        ctx.spec,
        ctx.pow,
        ctx.lookup,
        parent,
        block.auxpow.as_ref().map(|b| &b[..]),
        first_index,
    )
    .map_err(BlockError::AuxPow)
}

fn distinct_recipients(pegins: &[PegIn]) -> usize {
    let mut seen: Vec<Address> = Vec::new();
    for p in pegins {
        if !seen.contains(&p.evm_address) {
            seen.push(p.evm_address);
        }
    }
    seen.len()
}

/// How many of `due` refunds a block minting `mints` peg-in withdrawals and `fees` fee shares
/// carries: as many as the payload has room for, at most [`MAX_REFUNDS_PER_BLOCK`].
pub fn refunds_in_block(due: usize, mints: usize, fees: usize) -> usize {
    let room = alys_primitives::payload::MAX_WITHDRAWALS_PER_PAYLOAD.saturating_sub(mints + fees);
    due.min(MAX_REFUNDS_PER_BLOCK).min(room)
}

/// The refund withdrawals, indices from `first_index`.
pub fn refund_withdrawals(refunds: &[Refund], first_index: u64) -> Vec<Withdrawal> {
    refunds
        .iter()
        .enumerate()
        .map(|(i, r)| Withdrawal {
            index: first_index.saturating_add(i as u64),
            validator_index: REFUND_VALIDATOR_INDEX,
            address: r.recipient,
            amount: r.amount.to_gwei().unwrap_or(u64::MAX),
        })
        .collect()
}

/// The withdrawals a block must carry: peg-in mints, then `fees` (the AuxPoW's fee re-mint),
/// then the first refunds of `due` that fit ([`refunds_in_block`]).
pub fn block_withdrawals(
    pegins: &[PegIn],
    block_number: u64,
    fees: &[Withdrawal],
    due: &[Refund],
) -> Result<Vec<Withdrawal>, WithdrawalError> {
    let base = withdrawal_index_base(block_number);
    let mut expected = expected_withdrawals(pegins, base)?;
    let mints = expected.len();
    expected.extend_from_slice(fees);
    let n = refunds_in_block(due.len(), mints, fees.len());
    let first = base.saturating_add(expected.len() as u64);
    expected.extend(refund_withdrawals(&due[..n], first));
    if expected.len() > alys_primitives::payload::MAX_WITHDRAWALS_PER_PAYLOAD {
        return Err(WithdrawalError::TooManyRecipients(expected.len()));
    }
    Ok(expected)
}

/// Rule 6: withdrawals = peg-in mints, then `fees` (the AuxPoW's fee re-mint), then the refunds
/// that fit, exactly.
pub fn check_withdrawals(
    block: &ConsensusBlock,
    fees: &[Withdrawal],
    due: &[Refund],
) -> Result<(), BlockError> {
    let p = &block.execution_payload;
    let expected = block_withdrawals(&block.pegins, p.block_number, fees, due)
        .map_err(BlockError::PegInsUnmintable)?;
    let actual = p.engine_withdrawals();
    if actual == expected {
        return Ok(());
    }
    let mismatch = |m| Err(BlockError::Withdrawals(m));
    for (i, w) in actual.iter().enumerate() {
        if actual[..i]
            .iter()
            .any(|o| o.address == w.address && o.validator_index == w.validator_index)
        {
            return mismatch(WithdrawalMismatch::Duplicate(w.address));
        }
    }
    if let Some(w) = actual.iter().find(|w| !expected.contains(w)) {
        return mismatch(WithdrawalMismatch::Extra(*w));
    }
    if let Some(w) = expected.iter().find(|w| !actual.contains(w)) {
        return mismatch(WithdrawalMismatch::Missing(*w));
    }
    mismatch(WithdrawalMismatch::Order)
}

/// All consensus rules for a proposal (block + proposer approval).
pub fn validate_proposal(
    ctx: &ValidationContext<'_>,
    parent: &BlockInfo,
    block: &ConsensusBlock,
    approval: &Approval,
) -> Result<(), BlockError> {
    check_slot(ctx, parent, block.slot)?;
    check_proposer_approval(ctx, block.root(), block.slot, approval)?;
    check_body(ctx, parent, block)
}

/// All consensus rules for a signed block.
pub fn validate_signed_block(
    ctx: &ValidationContext<'_>,
    parent: &BlockInfo,
    block: &alys_primitives::SignedConsensusBlock,
) -> Result<(), BlockError> {
    let slot = block.message.slot;
    check_slot(ctx, parent, slot)?;
    check_aggregate(ctx, block.root(), slot, &block.approval)?;
    check_body(ctx, parent, &block.message)
}
