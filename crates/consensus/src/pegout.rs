//! The seam to the peg-out (DESIGN §8): what a block must carry for the burns recorded by the
//! Bridge, and how consensus tells the peg about the blocks it imports.
//!
//! A [`PegOutLedger`] keeps the peg-out state of every block (pending requests, pending refunds,
//! federation UTXOs, proposed payouts) as a function of the chain: a block's state is its
//! parent's, updated by the block's refunds, its payout proposal and the burns in its receipts.
//! Consensus asks it
//!
//! - as a proposer: which refunds and which unsigned payout a block on top of `parent` carries
//!   ([`PegOutLedger::work`]);
//! - as a validator: whether a block's refunds are exactly the expected ones
//!   ([`PegOutLedger::expected_refunds`]), its payout is the one every node rebuilds
//!   ([`PegOutLedger::check_proposal`]) and the federation outputs it declares spent outside
//!   the peg are spent so on this node's Bitcoin ([`PegOutLedger::check_spends`]);
//! - on import, after the EL executed the block: to record it with its receipts
//!   ([`PegOutLedger::imported`]), before the block is persisted.
//!
//! Refunds are minted as withdrawals after the peg-in mints and the AuxPoW fee re-mint,
//! `validator_index` = [`REFUND_VALIDATOR_INDEX`], one per refunded burn, as many as the
//! payload has room for (at most [`MAX_REFUNDS_PER_BLOCK`]), oldest first.

use alloy::rpc::types::TransactionReceipt;
use alloy_primitives::{Address, B256};
use alys_primitives::{ConsensusBlock, FederationSpend, Sats};

use crate::forkchoice::BlockInfo;

/// `validator_index` of refund withdrawals (tells them apart from peg-in mints and fee shares).
pub const REFUND_VALIDATOR_INDEX: u64 = 2;
/// Most refunds minted by one block.
pub const MAX_REFUNDS_PER_BLOCK: usize = 4;

/// A burn minted back to its sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refund {
    /// Who burned.
    pub recipient: Address,
    /// The amount burned.
    pub amount: Sats,
}

/// What a proposer puts in a block for the peg-out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PegOutWork {
    /// Refunds due, oldest first (the proposer mints as many as the payload has room for).
    pub refunds: Vec<Refund>,
    /// The unsigned payout transaction (consensus encoding), if any request is pending.
    pub proposal: Option<Vec<u8>>,
    /// Federation outputs spent outside the peg that the block declares (a block declaring
    /// any proposes no payout: the next one is built without them).
    pub spends: Vec<FederationSpend>,
}

/// Why a block's peg-out part is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PegOutRejection {
    /// The block carries peg-out data but this node keeps no peg-out state.
    #[error("peg-outs are not enabled on this node")]
    NotEnabled,
    /// The peg-out state of the parent is not known.
    #[error("peg-out state of block {0} unknown")]
    UnknownState(B256),
    /// The payout does not decode as a Bitcoin transaction.
    #[error("payout proposal does not decode: {0}")]
    Undecodable(String),
    /// A payout while no request is pending.
    #[error("payout proposal while no peg-out request is pending")]
    NothingToPay,
    /// An input that is not a federation UTXO (or is spent).
    #[error("payout input {0} is not an unspent federation output")]
    UnknownInput(String),
    /// The same input twice.
    #[error("payout spends input {0} twice")]
    DuplicateInput(String),
    /// The payout spends nothing.
    #[error("payout proposal spends nothing")]
    NoInputs,
    /// A request of the batch has no output.
    #[error("payout pays only {outputs} of the {requests} requests due")]
    MissingOutput {
        /// Outputs of the proposal.
        outputs: usize,
        /// Requests it must pay.
        requests: usize,
    },
    /// An output pays another address than its request's.
    #[error("payout output {index} does not pay its request's address")]
    AddressMismatch {
        /// Output index.
        index: usize,
    },
    /// The change is not what the inputs leave.
    #[error("payout change {got:?} sats, expected {expected:?}")]
    ChangeMismatch {
        /// What the rule gives.
        expected: Option<u64>,
        /// What the proposal pays.
        got: Option<u64>,
    },
    /// The inputs do not cover the requests.
    #[error("payout inputs do not cover the requests")]
    InputsBelowRequests,
    /// An output that pays no pending request.
    #[error("payout output {index} pays no pending request")]
    UnrequestedOutput {
        /// Output index.
        index: usize,
    },
    /// An output pays its request a wrong amount.
    #[error("payout output {index} pays {got}, expected {expected}")]
    AmountMismatch {
        /// Output index.
        index: usize,
        /// Expected amount.
        expected: Sats,
        /// Amount paid.
        got: Sats,
    },
    /// Change not sent back to the federation.
    #[error("payout output {index} is change to another address than the federation")]
    ChangeElsewhere {
        /// Output index.
        index: usize,
    },
    /// Outputs worth more than inputs.
    #[error("payout outputs exceed its inputs")]
    OutputsExceedInputs,
    /// Fee rate above the chain's cap.
    #[error("payout fee rate {rate} sat/vB above the cap of {cap}")]
    FeeAboveCap {
        /// Rate of the proposal.
        rate: u64,
        /// `maxPegOutFeeRate`.
        cap: u64,
    },
    /// Fee rate below the floor.
    #[error("payout fee rate {rate} sat/vB below the floor of {floor}")]
    FeeBelowFloor {
        /// Rate of the proposal.
        rate: u64,
        /// The floor.
        floor: u64,
    },
    /// Not the payout every node builds from the parent's state at that fee rate.
    #[error("payout {got} differs from the deterministic payout {expected}")]
    Differs {
        /// Txid every node builds.
        expected: String,
        /// Txid of the proposal.
        got: String,
    },
    /// This node's Bitcoin node has not seen the declared spend (yet).
    #[error("spend of federation output {outpoint} not known to this node's Bitcoin node")]
    SpendUnknown {
        /// The spent output (`txid:vout`).
        outpoint: String,
    },
    /// The declared spend is not yet `requiredBtcConfirmations` deep here.
    #[error("spend of federation output {outpoint} has {confirmations} confirmations, {required} required")]
    SpendUnconfirmed {
        /// The spent output.
        outpoint: String,
        /// Its spender's confirmations on this node's best chain.
        confirmations: u64,
        /// `requiredBtcConfirmations`.
        required: u64,
    },
    /// This node's Bitcoin node saw another spender or block for the output.
    #[error("spend of federation output {outpoint} differs from the one this node saw")]
    SpendMismatch {
        /// The spent output.
        outpoint: String,
    },
    /// The declared output is neither a federation UTXO nor an input of a payout of the chain.
    #[error("declared spent output {0} is not a federation output")]
    NotAFederationOutput(String),
    /// The declared spender is a payout of this chain: not a spend outside the peg.
    #[error("declared spend of {0} is by a payout of this chain")]
    SpentByPayout(String),
    /// The same output declared twice.
    #[error("federation output {0} declared spent twice")]
    DuplicateSpend(String),
    /// The Bridge's logs in the receipts are malformed.
    #[error("Bridge logs: {0}")]
    BurnLog(String),
}

impl PegOutRejection {
    /// Whether the rejection may go away once this node's Bitcoin node catches up: a declared
    /// spend it has not seen, or not as deep. Every other rule is final.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Self::SpendUnknown { .. } | Self::SpendUnconfirmed { .. }
        )
    }
}

/// The peg-out state kept along the chain (see the module docs).
pub trait PegOutLedger: Send + Sync + 'static {
    /// Refunds and payout a proposer puts in a block on top of `parent`.
    fn work(&self, parent: &BlockInfo) -> PegOutWork;

    /// The refunds a block on top of `parent` must mint first, oldest first (the block mints a
    /// prefix of them: as many as the payload has room for, up to [`MAX_REFUNDS_PER_BLOCK`]).
    fn expected_refunds(&self, parent: &BlockInfo) -> Result<Vec<Refund>, PegOutRejection>;

    /// Whether `proposal` (the block's unsigned payout, if any) is the payout every node builds
    /// on top of `parent`.
    fn check_proposal(
        &self,
        parent: &BlockInfo,
        proposal: Option<&[u8]>,
    ) -> Result<(), PegOutRejection>;

    /// Whether each of `spends` (the federation outputs a block on top of `parent` declares
    /// spent outside the peg) is an output of the federation there, spent by no payout of the
    /// chain, and spent so on this node's Bitcoin, `requiredBtcConfirmations` deep.
    fn check_spends(
        &self,
        parent: &BlockInfo,
        spends: &[FederationSpend],
    ) -> Result<(), PegOutRejection>;

    /// Record the state of `block` (root `root`, child of `parent`), executed by the EL with
    /// `receipts`, minting `refunds` of the expected ones. Called before the block is
    /// persisted.
    fn imported(
        &self,
        parent: &BlockInfo,
        root: B256,
        block: &ConsensusBlock,
        refunds: usize,
        receipts: &[TransactionReceipt],
    ) -> Result<(), PegOutRejection>;

    /// Whether this ledger needs the receipts of every block with transactions.
    fn needs_receipts(&self) -> bool {
        true
    }
}

/// The ledger of a chain without peg-outs (tests, chains without a federation): no refunds,
/// no payouts, and a block carrying a payout is invalid.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPegOuts;

impl PegOutLedger for NoPegOuts {
    fn work(&self, _parent: &BlockInfo) -> PegOutWork {
        PegOutWork::default()
    }

    fn expected_refunds(&self, _parent: &BlockInfo) -> Result<Vec<Refund>, PegOutRejection> {
        Ok(Vec::new())
    }

    fn check_proposal(
        &self,
        _parent: &BlockInfo,
        proposal: Option<&[u8]>,
    ) -> Result<(), PegOutRejection> {
        match proposal {
            None => Ok(()),
            Some(_) => Err(PegOutRejection::NotEnabled),
        }
    }

    fn check_spends(
        &self,
        _parent: &BlockInfo,
        spends: &[FederationSpend],
    ) -> Result<(), PegOutRejection> {
        if spends.is_empty() {
            Ok(())
        } else {
            Err(PegOutRejection::NotEnabled)
        }
    }

    fn imported(
        &self,
        _parent: &BlockInfo,
        _root: B256,
        _block: &ConsensusBlock,
        _refunds: usize,
        _receipts: &[TransactionReceipt],
    ) -> Result<(), PegOutRejection> {
        Ok(())
    }

    fn needs_receipts(&self) -> bool {
        false
    }
}
