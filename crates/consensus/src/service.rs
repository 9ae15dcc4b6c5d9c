//! The consensus service: one task owning the [`Chain`], fed by a channel of [`Input`]s (slot
//! ticks, gossip, finalization) and emitting outbound [`GossipMessage`]s on another, so a
//! network (libp2p, or [`crate::local::LocalNetwork`] in one process) plugs in from outside.
//!
//! A block's path through this module, top to bottom:
//!
//! * **tick** → if this node proposes the slot: [`Chain::produce_block`] → gossip the
//!   proposal, count our own approval;
//! * **proposal** → [`Chain::verify_proposal`] (consensus rules + EL VALID) → sign our approval
//!   (at most one block per slot) → gossip it;
//! * **approval** → [`ApprovalPool::add`] (known authority, once, valid signature);
//! * at **threshold** → aggregate → [`Chain::import_block`] → gossip the signed block;
//! * **signed block** from the network → [`Chain::import_block`] (blocks whose parent is not
//!   yet known wait in a small orphan buffer).
//!
//! Proposals and blocks refused only because this node's Bitcoin follower has not yet seen a
//! deposit they mint are tried again shortly (see [`crate::deferred`]).
//!
//! Execution-client failures (a method missing, a timeout, SYNCING) stop production without
//! proposing anything: they are logged once with what to configure, published in
//! [`ChainStatus::el`], and production resumes by itself at the first slot the EL works again.
//! When the EL says it lacks our chain (SYNCING), the service replays our blocks to it
//! ([`Chain::redrive_el`], at most every [`REDRIVE_INTERVAL`]).
//!
//! Messages from peers arrive as [`Input::FromPeer`] with a channel for the verdict
//! ([`PeerVerdict`]): the network forwards a message only once consensus accepted it and
//! penalizes the peer that sent one consensus rejects ([`Rejection`], typed).
//!
//! Hardening against peers (each buffer holds only messages whose signatures verify against
//! the authority keys, and is bounded in count and bytes, see [`crate::buffers`]):
//!
//! * a proposal for a slot that has not started yet waits for its slot ([`EarlyProposals`]),
//!   so approving it cannot raise this node's signed-slot mark above the current slot and make
//!   it refuse the current slot's block;
//! * a second proposal for a slot whose proposer already sent a valid one is refused as
//!   equivocation before its payload goes to the execution client;
//! * blocks whose parent is unknown wait as orphans only with a verified threshold approval.

use crate::approvals::{ApprovalError, ApprovalPool};
use crate::buffers::{EarlyProposals, Orphans};
use crate::chain::{Chain, ChainStatus, Signer};
use crate::deferred::{is_retryable, Deferred, DeferredQueue, RETRY_INTERVAL};
use crate::el_health::{ElFault, ElHealth, IMPORT_METHODS, PRODUCTION_METHODS};
use crate::import::{ImportError, ImportOutcome};
use crate::pegout_signatures::{
    IgnorePegOutSignatures, PegOutSignatureSink, SignatureRejection, SignatureVerdict,
};
use crate::pow::PowError;
use crate::schedule::proposer_index;
use crate::validate::{check_aggregate, check_proposer_approval, BlockError};
use alloy_primitives::B256;
use alys_engine::ExecutionEngine;
use alys_primitives::{
    Approval, AuxPowHeader, BlockProposal, ConsensusBlock, PegOutSignatures, SignedConsensusBlock,
};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// Messages exchanged between nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GossipMessage {
    /// A block proposal with its proposer's approval.
    Proposal(Box<BlockProposal>),
    /// One authority's approval.
    Approval(Approval),
    /// A block with threshold approval.
    Block(Box<SignedConsensusBlock>),
    /// A submitted AuxPoW for the next proposer (DESIGN §9 "aux work").
    AuxPow(Box<AuxPowHeader>),
    /// A federation member's signatures of a peg-out payout (checked by the
    /// [`PegOutSignatureSink`]).
    PegOutSignatures(Box<PegOutSignatures>),
}

impl GossipMessage {
    /// Its SSZ size in bytes (what bounded queues count).
    pub fn size_bytes(&self) -> usize {
        use ssz::Encode;
        match self {
            GossipMessage::Proposal(p) => p.ssz_bytes_len(),
            GossipMessage::Approval(a) => a.ssz_bytes_len(),
            GossipMessage::Block(b) => b.ssz_bytes_len(),
            GossipMessage::AuxPow(h) => h.ssz_bytes_len(),
            GossipMessage::PegOutSignatures(s) => s.ssz_bytes_len(),
        }
    }
}

/// Inputs of the service.
#[derive(Debug)]
pub enum Input {
    /// A slot started.
    Tick {
        /// The slot.
        slot: u64,
    },
    /// A message from the network.
    Gossip(GossipMessage),
    /// Finalize this block (tests; AuxPoW finalizes through import).
    Finalize(B256),
    /// A proof submitted over the miner RPC: kept for the next proposer and gossiped.
    AuxPow(Box<AuxPowHeader>),
    /// Try deferred proposals and blocks again (sent by the service to itself).
    RetryDeferred,
    /// This node's own peg-out signatures: gossiped (the local collector already holds them).
    PublishPegOutSignatures(Box<PegOutSignatures>),
    /// A message from a peer: handled as [`Input::Gossip`], then what consensus made of it is
    /// sent on `verdict` (the network forwards it or penalizes the peer).
    FromPeer {
        /// The message.
        msg: GossipMessage,
        /// Where the verdict goes.
        verdict: oneshot::Sender<PeerVerdict>,
    },
}

/// What consensus made of a message from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerVerdict {
    /// Valid (or already known): forward it.
    Accepted,
    /// Not usable now, through nobody's fault (unknown parent, a slot outside the window, a
    /// peg-in this node's follower has not confirmed, the execution client busy, an
    /// equivocation an honest relay could not know of): not forwarded, no penalty.
    Ignored(String),
    /// Invalid by the consensus rules: not forwarded, the sender is penalized.
    Rejected(Rejection),
}

/// Why consensus rejected a peer's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A proposal or block breaks a consensus rule (EL verdict included).
    #[error(transparent)]
    Block(BlockError),
    /// An approval is invalid.
    #[error(transparent)]
    Approval(ApprovalError),
    /// An AuxPoW proof is invalid for the chain's current target.
    #[error(transparent)]
    AuxPow(PowError),
    /// A peg-out signature message is invalid.
    #[error(transparent)]
    PegOutSignature(SignatureRejection),
}

impl PeerVerdict {
    fn from_block_error(e: &BlockError) -> Self {
        match e {
            BlockError::UnknownParent(_)
            | BlockError::ConflictsWithFinalized(_)
            | BlockError::SlotInFuture { .. }
            | BlockError::PegInRejected { .. }
            | BlockError::ElNotValid { .. } => PeerVerdict::Ignored(e.to_string()),
            e => PeerVerdict::Rejected(Rejection::Block(e.clone())),
        }
    }

    fn from_import_error(e: &ImportError) -> Self {
        match e {
            ImportError::Invalid(b) => Self::from_block_error(b),
            e => PeerVerdict::Ignored(e.to_string()),
        }
    }

    fn from_approval_error(e: &ApprovalError) -> Self {
        match e {
            ApprovalError::UnknownAuthority { .. }
            | ApprovalError::InvalidSignatureEncoding { .. }
            | ApprovalError::BadSignature { .. } => {
                PeerVerdict::Rejected(Rejection::Approval(e.clone()))
            }
            // Relayed copies, a slot outside our window, an authority's equivocation (the
            // relay may have seen the other approval first): not the relay's fault.
            e => PeerVerdict::Ignored(e.to_string()),
        }
    }

    fn from_pow_error(e: &PowError) -> Self {
        match e {
            // Relative to our head: a peer on another head may relay it in good faith.
            PowError::WrongRangeStart { .. }
            | PowError::RangeEndNotAncestor(_)
            | PowError::MissingIndex(_) => PeerVerdict::Ignored(e.to_string()),
            e => PeerVerdict::Rejected(Rejection::AuxPow(e.clone())),
        }
    }
}

/// Slots kept in the approval pool behind the current one.
const APPROVAL_WINDOW_SLOTS: u64 = 64;
/// Least time between two replays of our chain to an EL that lacks it.
pub const REDRIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// The consensus task.
pub struct ConsensusService<E> {
    chain: Chain<E>,
    signer: Option<Signer>,
    approvals: ApprovalPool,
    proposals: HashMap<B256, ConsensusBlock>,
    /// The root of the first proposal with a valid proposer signature seen for each slot
    /// (equivocation guard, checked before the execution client sees a payload).
    first_proposal: HashMap<u64, B256>,
    /// Proposals for slots that have not started yet, with their verdict channels.
    early: EarlyProposals<oneshot::Sender<PeerVerdict>>,
    /// Highest slot signed for (persisted: see [`Self::claim_slot`]).
    last_signed_slot: u64,
    orphans: Orphans,
    /// Production is halted for want of an AuxPoW (logged once per halt).
    halted: bool,
    /// Proposals and blocks waiting for this node's Bitcoin follower.
    deferred: DeferredQueue,
    /// A [`Input::RetryDeferred`] is on its way.
    retry_scheduled: bool,
    /// Our own inputs, for [`Input::RetryDeferred`] (weak: the service ends with its senders).
    inputs: mpsc::WeakSender<Input>,
    outbound: mpsc::UnboundedSender<GossipMessage>,
    status: watch::Sender<ChainStatus>,
    /// The ongoing execution-client failure.
    el: ElHealth,
    /// When our chain was last replayed to the EL.
    last_redrive: Option<std::time::Instant>,
    /// Where peg-out signatures go.
    pegout_sink: Arc<dyn PegOutSignatureSink>,
}

/// The channels to talk to a running service.
#[derive(Debug)]
pub struct ServiceHandle {
    /// Send inputs.
    pub inputs: mpsc::Sender<Input>,
    /// Outbound gossip.
    pub outbound: mpsc::UnboundedReceiver<GossipMessage>,
    /// Chain status after every input.
    pub status: watch::Receiver<ChainStatus>,
    /// The task.
    pub task: tokio::task::JoinHandle<()>,
}

impl<E: ExecutionEngine> ConsensusService<E> {
    /// Start the service task over an opened chain. `signer` is `None` for a full node.
    /// Peg-out signatures are ignored (see [`Self::spawn_with_pegout_sink`]).
    pub fn spawn(chain: Chain<E>, signer: Option<Signer>) -> ServiceHandle {
        Self::spawn_with_pegout_sink(chain, signer, Arc::new(IgnorePegOutSignatures))
    }

    /// [`Self::spawn`] with the collector that checks and keeps peg-out signatures.
    pub fn spawn_with_pegout_sink(
        chain: Chain<E>,
        signer: Option<Signer>,
        pegout_sink: Arc<dyn PegOutSignatureSink>,
    ) -> ServiceHandle {
        let (in_tx, in_rx) = mpsc::channel(1024);
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (status_tx, status_rx) = watch::channel(chain.status());
        let last_signed_slot = chain.store().last_signed_slot().unwrap_or_else(|e| {
            // Refuse to sign until a later slot than any we could have signed: the current one.
            tracing::error!(error = %e, "last signed slot unreadable; not signing this slot");
            chain.clock().current_slot()
        });
        let service = Self {
            chain,
            signer,
            approvals: ApprovalPool::new(),
            proposals: HashMap::new(),
            first_proposal: HashMap::new(),
            early: EarlyProposals::default(),
            last_signed_slot,
            orphans: Orphans::default(),
            halted: false,
            deferred: DeferredQueue::default(),
            retry_scheduled: false,
            inputs: in_tx.downgrade(),
            outbound: out_tx,
            status: status_tx,
            el: ElHealth::default(),
            last_redrive: None,
            pegout_sink,
        };
        let task = tokio::spawn(service.run(in_rx));
        ServiceHandle {
            inputs: in_tx,
            outbound: out_rx,
            status: status_rx,
            task,
        }
    }

    async fn run(mut self, mut inputs: mpsc::Receiver<Input>) {
        while let Some(input) = inputs.recv().await {
            self.handle(input).await;
            let mut status = self.chain.status();
            status.el = self.el.problem().cloned();
            crate::metrics::status(&status, self.chain.clock().current_slot());
            self.status.send_if_modified(|s| {
                let changed = *s != status;
                *s = status;
                changed
            });
        }
    }

    fn publish(&self, msg: GossipMessage) {
        // The receiver is gone only when the node shuts down.
        let _ = self.outbound.send(msg);
    }

    /// Handle one input.
    pub async fn handle(&mut self, input: Input) {
        match input {
            Input::Tick { slot } => self.on_tick(slot).await,
            Input::Gossip(msg) => {
                self.on_gossip(msg, None).await;
            }
            Input::FromPeer { msg, verdict } => {
                if let Some(v) = self.on_gossip(msg, Some(verdict)).await {
                    tracing::trace!(?v, "peer message handled");
                }
            }
            Input::AuxPow(h) => match self.chain.add_pending_auxpow((*h).clone()) {
                Ok(true) => {
                    tracing::info!(range_start = h.range_start, range_end = %h.range_end, payout = %h.payout, "AuxPoW submitted; the next proposer includes it");
                    self.publish(GossipMessage::AuxPow(h));
                }
                Ok(false) => {}
                Err(e) => tracing::info!(error = %e, "submitted AuxPoW refused"),
            },
            Input::RetryDeferred => {
                self.retry_scheduled = false;
                for item in self.deferred.take() {
                    match item {
                        Deferred::Proposal(p) => {
                            self.on_proposal(p).await;
                        }
                        Deferred::Block(b) => {
                            self.import(&b).await;
                        }
                    }
                }
            }
            Input::PublishPegOutSignatures(s) => {
                self.publish(GossipMessage::PegOutSignatures(s));
            }
            Input::Finalize(root) => {
                if let Err(e) = self.chain.finalize(root).await {
                    tracing::warn!(%root, error = %e, "finalize failed");
                }
            }
        }
    }

    /// Handles a message from the network; with `verdict`, sends what consensus made of it
    /// there (a proposal for a future slot answers when its slot starts). Returns the verdict
    /// when it was given at once.
    async fn on_gossip(
        &mut self,
        msg: GossipMessage,
        verdict: Option<oneshot::Sender<PeerVerdict>>,
    ) -> Option<PeerVerdict> {
        let v = match msg {
            GossipMessage::Proposal(p) => {
                let slot = p.block.slot;
                if slot > self.chain.clock().current_slot() {
                    return match self.keep_early(*p, verdict) {
                        Ok(()) => None,
                        Err((v, tx)) => Some(answer(tx, v)),
                    };
                }
                self.on_proposal(*p).await
            }
            GossipMessage::Approval(a) => self.on_approval(a).await,
            GossipMessage::Block(b) => self.on_block(*b).await,
            GossipMessage::AuxPow(h) => match self.chain.add_pending_auxpow(*h) {
                Ok(_) => PeerVerdict::Accepted,
                Err(e) => {
                    tracing::debug!(error = %e, "gossiped AuxPoW refused");
                    PeerVerdict::from_pow_error(&e)
                }
            },
            GossipMessage::PegOutSignatures(s) => match self.pegout_sink.receive(&s) {
                Ok(SignatureVerdict::Accepted) => PeerVerdict::Accepted,
                Ok(SignatureVerdict::UnknownPayout) => PeerVerdict::Ignored(format!(
                    "peg-out signatures for unknown payout {}",
                    s.txid
                )),
                Err(e) => {
                    tracing::debug!(error = %e, "peg-out signatures refused");
                    PeerVerdict::Rejected(Rejection::PegOutSignature(e))
                }
            },
        };
        Some(answer(verdict, v))
    }

    /// Keeps a proposal for a slot that has not started (its proposer's signature verified)
    /// until [`Self::on_tick`] of its slot.
    #[allow(clippy::type_complexity)]
    fn keep_early(
        &mut self,
        proposal: BlockProposal,
        verdict: Option<oneshot::Sender<PeerVerdict>>,
    ) -> Result<(), (PeerVerdict, Option<oneshot::Sender<PeerVerdict>>)> {
        let ctx = self.chain.validation_context();
        let slot = proposal.block.slot;
        let checked =
            crate::validate::check_slot(&ctx, self.chain.finalized(), slot).and_then(|()| {
                check_proposer_approval(
                    &ctx,
                    proposal.block.root(),
                    slot,
                    &proposal.proposer_approval,
                )
            });
        if let Err(e) = checked {
            return Err((PeerVerdict::from_block_error(&e), verdict));
        }
        tracing::debug!(slot, root = %proposal.block.root(), "proposal for a later slot kept until its slot");
        self.early.push(proposal, verdict);
        Ok(())
    }

    async fn on_tick(&mut self, slot: u64) {
        let keep_from = slot
            .saturating_sub(APPROVAL_WINDOW_SLOTS)
            .max(self.chain.finalized().slot);
        self.approvals.prune_below(keep_from);
        self.proposals.retain(|_, b| b.slot >= keep_from);
        self.first_proposal.retain(|s, _| *s >= keep_from);
        self.early.prune_below(keep_from);

        self.produce(slot).await;
        for (proposal, verdict) in self.early.take_due(slot) {
            let v = self.on_proposal(proposal).await;
            answer(verdict, v);
        }
    }

    async fn produce(&mut self, slot: u64) {
        let Some(signer) = self.signer.clone() else {
            return;
        };
        if proposer_index(slot, self.chain.spec().authorities.len()) != signer.index()
            || self.chain.head().slot >= slot
            || slot <= self.last_signed_slot
        {
            return;
        }
        let started = std::time::Instant::now();
        let proposal = match self.chain.produce_block(slot, &signer).await {
            Ok(p) => {
                if std::mem::take(&mut self.halted) {
                    tracing::info!(slot, "AuxPoW arrived; block production resumed");
                }
                p
            }
            Err(e @ crate::producer::ProduceError::PowRequired { .. }) => {
                if !std::mem::replace(&mut self.halted, true) {
                    tracing::warn!(slot, "{e}");
                } else {
                    tracing::debug!(slot, "{e}");
                }
                return;
            }
            Err(e) => {
                match ElFault::from_produce(&e) {
                    Some(fault) => {
                        let behind = fault.is_behind();
                        self.el.failed(fault, "block production", slot);
                        if behind {
                            self.redrive_el().await;
                        }
                    }
                    None => tracing::warn!(slot, error = %e, "block production failed"),
                }
                return;
            }
        };
        let used = match proposal.block.execution_payload.transactions.is_empty() {
            true => &PRODUCTION_METHODS[..3],
            false => PRODUCTION_METHODS,
        };
        self.el.succeeded(used, slot);
        let root = proposal.block.root();
        tracing::debug!(slot, %root, produce_us = started.elapsed().as_micros() as u64, "proposed block");
        if !self.claim_slot(slot) {
            return;
        }
        if let Err(e) = self.add_approval(&proposal.proposer_approval) {
            tracing::error!(error = %e, "own approval refused");
            return;
        }
        self.first_proposal.insert(slot, root);
        self.proposals.insert(root, proposal.block.clone());
        self.publish(GossipMessage::Proposal(Box::new(proposal)));
        self.try_complete(root).await;
    }

    async fn on_proposal(&mut self, proposal: BlockProposal) -> PeerVerdict {
        let root = proposal.block.root();
        if self.proposals.contains_key(&root) || self.chain.forkchoice().contains(&root) {
            return PeerVerdict::Accepted;
        }
        let slot = proposal.block.slot;
        // Equivocation, before the payload reaches the execution client: the slot's proposer
        // already sent another block for it (only its valid signature counts, so nobody else
        // can take the slot from it this way).
        if let Some(first) = self.first_proposal.get(&slot).copied() {
            if first != root {
                let signed = {
                    let ctx = self.chain.validation_context();
                    check_proposer_approval(&ctx, root, slot, &proposal.proposer_approval)
                };
                return match signed {
                    Ok(()) => {
                        tracing::warn!(slot, %root, %first, proposer = proposal.proposer_approval.authority_index, "proposer equivocates: a second block for the slot; not executed");
                        PeerVerdict::Ignored(
                            ApprovalError::Equivocation {
                                index: proposal.proposer_approval.authority_index,
                                slot,
                                first,
                            }
                            .to_string(),
                        )
                    }
                    Err(e) => PeerVerdict::from_block_error(&e),
                };
            }
        }
        {
            let ctx = self.chain.validation_context();
            if let Err(e) = check_proposer_approval(&ctx, root, slot, &proposal.proposer_approval) {
                tracing::info!(%root, slot, error = %e, "proposal rejected");
                return PeerVerdict::from_block_error(&e);
            }
        }
        self.first_proposal.insert(slot, root);
        if let Err(e) = self
            .chain
            .verify_proposal(&proposal.block, &proposal.proposer_approval)
            .await
        {
            if let Some(fault) = ElFault::from_import(&e) {
                self.el.failed(fault, "proposal verification", slot);
            }
            let verdict = PeerVerdict::from_import_error(&e);
            if is_retryable(&e) && self.defer(Deferred::Proposal(proposal)) {
                tracing::debug!(%root, slot, error = %e, "proposal deferred");
            } else {
                tracing::info!(%root, slot, error = %e, "proposal rejected");
            }
            return verdict;
        }
        if let Err(e) = self.add_approval(&proposal.proposer_approval) {
            tracing::info!(%root, error = %e, "proposer approval refused");
            return PeerVerdict::from_approval_error(&e);
        }
        let slot = proposal.block.slot;
        self.proposals.insert(root, proposal.block);
        if let Some(signer) = self.signer.clone() {
            if slot > self.last_signed_slot
                && !self.approvals.has(&root, signer.index())
                && self.claim_slot(slot)
            {
                let approval = self.chain.sign_approval(root, slot, &signer);
                if self.add_approval(&approval).is_ok() {
                    self.publish(GossipMessage::Approval(approval));
                }
            }
        }
        self.try_complete(root).await;
        PeerVerdict::Accepted
    }

    /// Record, durably, that this node signs for `slot` before the signature leaves it, so it
    /// never signs two blocks for a slot, even across a crash. Slots only move forward.
    fn claim_slot(&mut self, slot: u64) -> bool {
        if let Err(e) = self.chain.store().put_last_signed_slot(slot) {
            tracing::error!(slot, error = %e, "cannot persist the signed slot; not signing");
            return false;
        }
        self.last_signed_slot = slot;
        true
    }

    async fn on_approval(&mut self, approval: Approval) -> PeerVerdict {
        match self.add_approval(&approval) {
            Ok(_) => {
                self.try_complete(approval.block_root).await;
                PeerVerdict::Accepted
            }
            Err(e) => {
                tracing::debug!(error = %e, "approval refused");
                PeerVerdict::from_approval_error(&e)
            }
        }
    }

    fn add_approval(
        &mut self,
        approval: &Approval,
    ) -> Result<usize, crate::approvals::ApprovalError> {
        let current = self.chain.clock().current_slot();
        let min = current
            .saturating_sub(APPROVAL_WINDOW_SLOTS)
            .max(self.chain.finalized().slot);
        let added = self.approvals.add(
            self.chain.spec(),
            self.chain.approval_domain(),
            approval,
            (min, current.saturating_add(1)),
        );
        crate::metrics::approval(added.is_ok());
        added
    }

    /// Aggregate and import `root` if it has a verified proposal and threshold approvals.
    async fn try_complete(&mut self, root: B256) {
        let Some(block) = self.proposals.get(&root) else {
            return;
        };
        let spec = self.chain.spec();
        let Some(approval) =
            self.approvals
                .aggregate(&root, spec.authorities.len(), spec.approval_threshold)
        else {
            return;
        };
        let signed = SignedConsensusBlock {
            message: block.clone(),
            approval,
        };
        if self.import(&signed).await == PeerVerdict::Accepted {
            self.proposals.remove(&root);
            self.publish(GossipMessage::Block(Box::new(signed)));
        }
    }

    async fn on_block(&mut self, block: SignedConsensusBlock) -> PeerVerdict {
        self.import(&block).await
    }

    /// Import a block, then any orphans it unblocks. Returns [`PeerVerdict::Accepted`] when
    /// `block` is newly imported.
    async fn import(&mut self, block: &SignedConsensusBlock) -> PeerVerdict {
        let verdict = match self.chain.import_block(block).await {
            Ok(ImportOutcome::Imported { .. }) => PeerVerdict::Accepted,
            Ok(ImportOutcome::AlreadyKnown) => {
                return PeerVerdict::Ignored("block already imported".into())
            }
            Err(ImportError::Invalid(e @ BlockError::UnknownParent(_))) => {
                match self.keep_orphan(block) {
                    Ok(()) => PeerVerdict::from_block_error(&e),
                    Err(bad) => PeerVerdict::from_block_error(&bad),
                }
            }
            Err(e) => {
                if let Some(fault) = ElFault::from_import(&e) {
                    self.el.failed(fault, "block import", block.message.slot);
                }
                if is_retryable(&e) && self.defer(Deferred::Block(block.clone())) {
                    tracing::debug!(root = %block.root(), error = %e, "block deferred");
                } else {
                    tracing::info!(root = %block.root(), error = %e, "block not imported");
                }
                PeerVerdict::from_import_error(&e)
            }
        };
        if verdict == PeerVerdict::Accepted {
            let used = match block.message.execution_payload.transactions.is_empty() {
                true => &IMPORT_METHODS[..1],
                false => IMPORT_METHODS,
            };
            self.el.succeeded(used, block.message.slot);
            self.proposals.remove(&block.root());
            self.import_orphans().await;
        }
        verdict
    }

    /// Buffers a block whose parent is unknown if its threshold approval verifies, else
    /// returns why it does not.
    fn keep_orphan(&mut self, block: &SignedConsensusBlock) -> Result<(), BlockError> {
        let checked = {
            let ctx = self.chain.validation_context();
            crate::validate::check_slot(&ctx, self.chain.finalized(), block.message.slot).and_then(
                |()| check_aggregate(&ctx, block.root(), block.message.slot, &block.approval),
            )
        };
        match checked {
            Ok(()) => {
                tracing::debug!(parent = %block.message.parent_root, "orphan block buffered");
                self.orphans.push(block.clone());
                Ok(())
            }
            Err(e) => {
                tracing::info!(root = %block.root(), error = %e, "orphan refused");
                Err(e)
            }
        }
    }

    /// Replay our chain to an EL that lacks it (rate limited: [`REDRIVE_INTERVAL`]).
    async fn redrive_el(&mut self) {
        if self
            .last_redrive
            .is_some_and(|t| t.elapsed() < REDRIVE_INTERVAL)
        {
            return;
        }
        self.last_redrive = Some(std::time::Instant::now());
        match self.chain.redrive_el().await {
            Ok(()) => tracing::info!(
                head = %self.chain.head().root,
                "execution client brought to our head"
            ),
            Err(e) => {
                tracing::debug!(error = %e, "replaying our chain to the execution client failed")
            }
        }
    }

    /// Keep `item` for another attempt in [`RETRY_INTERVAL`]; false when its window is over.
    fn defer(&mut self, item: Deferred) -> bool {
        if !self.deferred.push(item, self.chain.clock().current_slot()) {
            return false;
        }
        if !std::mem::replace(&mut self.retry_scheduled, true) {
            let inputs = self.inputs.clone();
            tokio::spawn(async move {
                tokio::time::sleep(RETRY_INTERVAL).await;
                if let Some(inputs) = inputs.upgrade() {
                    let _ = inputs.send(Input::RetryDeferred).await;
                }
            });
        }
        true
    }

    async fn import_orphans(&mut self) {
        loop {
            let forkchoice = self.chain.forkchoice();
            let ready = self
                .orphans
                .take_where(|b| forkchoice.contains(&b.message.parent_root));
            if ready.is_empty() {
                return;
            }
            for b in ready {
                if let Err(e) = self.chain.import_block(&b).await {
                    tracing::info!(root = %b.root(), error = %e, "orphan not imported");
                }
            }
        }
    }
}

/// Sends `v` on `tx` (if any; a gone receiver is fine) and returns it.
fn answer(tx: Option<oneshot::Sender<PeerVerdict>>, v: PeerVerdict) -> PeerVerdict {
    if let Some(tx) = tx {
        let _ = tx.send(v.clone());
    }
    v
}

/// Send `Tick` to `inputs` at the start of every slot of `clock` (production use).
pub fn spawn_slot_ticker(
    clock: crate::clock::SlotClock,
    inputs: mpsc::Sender<Input>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(clock.until_next_slot()).await;
            if inputs
                .send(Input::Tick {
                    slot: clock.current_slot(),
                })
                .await
                .is_err()
            {
                return;
            }
        }
    })
}
