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

use crate::approvals::ApprovalPool;
use crate::chain::{Chain, ChainStatus, Signer};
use crate::deferred::{is_retryable, Deferred, DeferredQueue, RETRY_INTERVAL};
use crate::el_health::{ElFault, ElHealth, IMPORT_METHODS, PRODUCTION_METHODS};
use crate::import::{ImportError, ImportOutcome};
use crate::schedule::proposer_index;
use crate::validate::BlockError;
use alloy_primitives::B256;
use alys_engine::ExecutionEngine;
use alys_primitives::{
    Approval, AuxPowHeader, BlockProposal, ConsensusBlock, SignedConsensusBlock,
};
use std::collections::HashMap;
use tokio::sync::{mpsc, watch};

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
}

/// Slots kept in the approval pool behind the current one.
const APPROVAL_WINDOW_SLOTS: u64 = 64;
/// Orphans kept at most.
const MAX_ORPHANS: usize = 64;
/// Least time between two replays of our chain to an EL that lacks it.
pub const REDRIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// The consensus task.
pub struct ConsensusService<E> {
    chain: Chain<E>,
    signer: Option<Signer>,
    approvals: ApprovalPool,
    proposals: HashMap<B256, ConsensusBlock>,
    /// Highest slot signed for (persisted: see [`Self::claim_slot`]).
    last_signed_slot: u64,
    orphans: Vec<SignedConsensusBlock>,
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
    pub fn spawn(chain: Chain<E>, signer: Option<Signer>) -> ServiceHandle {
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
            last_signed_slot,
            orphans: Vec::new(),
            halted: false,
            deferred: DeferredQueue::default(),
            retry_scheduled: false,
            inputs: in_tx.downgrade(),
            outbound: out_tx,
            status: status_tx,
            el: ElHealth::default(),
            last_redrive: None,
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
            Input::Gossip(GossipMessage::Proposal(p)) => self.on_proposal(*p).await,
            Input::Gossip(GossipMessage::Approval(a)) => self.on_approval(a).await,
            Input::Gossip(GossipMessage::Block(b)) => self.on_block(*b).await,
            Input::Gossip(GossipMessage::AuxPow(h)) => {
                if let Err(e) = self.chain.add_pending_auxpow(*h) {
                    tracing::debug!(error = %e, "gossiped AuxPoW refused");
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
                        Deferred::Proposal(p) => self.on_proposal(p).await,
                        Deferred::Block(b) => {
                            self.import(&b).await;
                        }
                    }
                }
            }
            Input::Finalize(root) => {
                if let Err(e) = self.chain.finalize(root).await {
                    tracing::warn!(%root, error = %e, "finalize failed");
                }
            }
        }
    }

    async fn on_tick(&mut self, slot: u64) {
        let keep_from = slot
            .saturating_sub(APPROVAL_WINDOW_SLOTS)
            .max(self.chain.finalized().slot);
        self.approvals.prune_below(keep_from);
        self.proposals.retain(|_, b| b.slot >= keep_from);

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
        self.proposals.insert(root, proposal.block.clone());
        self.publish(GossipMessage::Proposal(Box::new(proposal)));
        self.try_complete(root).await;
    }

    async fn on_proposal(&mut self, proposal: BlockProposal) {
        let root = proposal.block.root();
        if self.proposals.contains_key(&root) || self.chain.forkchoice().contains(&root) {
            return;
        }
        if let Err(e) = self
            .chain
            .verify_proposal(&proposal.block, &proposal.proposer_approval)
            .await
        {
            let slot = proposal.block.slot;
            if let Some(fault) = ElFault::from_import(&e) {
                self.el.failed(fault, "proposal verification", slot);
            }
            if is_retryable(&e) && self.defer(Deferred::Proposal(proposal)) {
                tracing::debug!(%root, slot, error = %e, "proposal deferred");
            } else {
                tracing::info!(%root, slot, error = %e, "proposal rejected");
            }
            return;
        }
        if let Err(e) = self.add_approval(&proposal.proposer_approval) {
            tracing::info!(%root, error = %e, "proposer approval refused");
            return;
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

    async fn on_approval(&mut self, approval: Approval) {
        match self.add_approval(&approval) {
            Ok(_) => self.try_complete(approval.block_root).await,
            Err(e) => tracing::debug!(error = %e, "approval refused"),
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
        self.approvals.add(
            self.chain.spec(),
            self.chain.approval_domain(),
            approval,
            (min, current.saturating_add(1)),
        )
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
        if self.import(&signed).await {
            self.proposals.remove(&root);
            self.publish(GossipMessage::Block(Box::new(signed)));
        }
    }

    async fn on_block(&mut self, block: SignedConsensusBlock) {
        self.import(&block).await;
    }

    /// Import a block, then any orphans it unblocks. Returns whether `block` is now imported.
    async fn import(&mut self, block: &SignedConsensusBlock) -> bool {
        let imported = match self.chain.import_block(block).await {
            Ok(ImportOutcome::Imported { .. }) => true,
            Ok(ImportOutcome::AlreadyKnown) => return false,
            Err(ImportError::Invalid(BlockError::UnknownParent(parent))) => {
                tracing::debug!(%parent, "orphan block buffered");
                if self.orphans.len() >= MAX_ORPHANS {
                    self.orphans.remove(0);
                }
                if !self.orphans.contains(block) {
                    self.orphans.push(block.clone());
                }
                false
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
                false
            }
        };
        if imported {
            let used = match block.message.execution_payload.transactions.is_empty() {
                true => &IMPORT_METHODS[..1],
                false => IMPORT_METHODS,
            };
            self.el.succeeded(used, block.message.slot);
            self.proposals.remove(&block.root());
            self.import_orphans().await;
        }
        imported
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
            let ready: Vec<SignedConsensusBlock> = self
                .orphans
                .iter()
                .filter(|b| self.chain.forkchoice().contains(&b.message.parent_root))
                .cloned()
                .collect();
            if ready.is_empty() {
                return;
            }
            self.orphans.retain(|b| !ready.contains(b));
            for b in ready {
                if let Err(e) = self.chain.import_block(&b).await {
                    tracing::info!(root = %b.root(), error = %e, "orphan not imported");
                }
            }
        }
    }
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
