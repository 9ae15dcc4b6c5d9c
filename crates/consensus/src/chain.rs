//! The consensus chain state owned by one node: spec, clock, execution engine, store and fork
//! choice, plus opening it at start (genesis, restart, re-driving a lagging EL).
//!
//! Block import lives in [`crate::import`], production in [`crate::producer`]; both are
//! methods on [`Chain`]. The chain is owned by one task ([`crate::service`]); nothing here is
//! shared behind locks.

use crate::chain_store::{CanonicalUpdate, ChainStore, ChainStoreError};
use crate::clock::SlotClock;
use crate::forkchoice::{BlockInfo, ForkChoice, PowIndex};
use crate::pegout::PegOutLedger;
use crate::pow::{ChainLookup, PowParams};
use crate::validate::{BlockError, PegInVerifier, ValidationContext};
use alloy_primitives::{B256, U256};
use alys_engine::{EngineError, ExecutionEngine, ForkchoiceState, PayloadStatusEnum};
use alys_primitives::block::AggregateApproval;
use alys_primitives::genesis::genesis_execution_payload;
use alys_primitives::signing::{compute_domain, DomainType};
use alys_primitives::{
    AuxPowHeader, ChainSpec, ConsensusBlock, Domain, PublicKey, SecretKey, SignedConsensusBlock,
    SpecError,
};
use alys_store::Store;
use std::sync::Arc;

/// The genesis consensus block of `spec`: parent root zero, slot 0, the EL genesis block as
/// payload, and an empty approval (genesis is trusted by construction).
pub fn genesis_block(spec: &ChainSpec) -> Result<SignedConsensusBlock, SpecError> {
    let payload = genesis_execution_payload(&spec.genesis)?;
    Ok(SignedConsensusBlock {
        message: ConsensusBlock::new(B256::ZERO, 0, payload),
        approval: AggregateApproval::empty(spec.authorities.len()),
    })
}

/// A local authority's signing key and its index in the spec.
#[derive(Clone)]
pub struct Signer {
    index: usize,
    key: SecretKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The signer for `key` if its public key is one of the spec's authorities.
    pub fn new(spec: &ChainSpec, key: SecretKey) -> Option<Self> {
        let pk: PublicKey = key.public_key();
        let index = spec.authorities.iter().position(|a| *a == pk)?;
        Some(Self { index, key })
    }

    /// Authority index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The secret key.
    pub(crate) fn key(&self) -> &SecretKey {
        &self.key
    }
}

/// Errors opening the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The spec's genesis is unusable.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Store failure.
    #[error(transparent)]
    Store(#[from] ChainStoreError),
    /// The execution client failed.
    #[error("execution client: {0}")]
    Engine(#[from] EngineError),
    /// A stored block is missing or inconsistent.
    #[error("inconsistent consensus store: {0}")]
    Inconsistent(String),
    /// The EL refused a stored, previously valid payload while re-driving it.
    #[error("execution client rejected stored block {root}: {reason}")]
    ElRejectedStored {
        /// The block.
        root: B256,
        /// Why.
        reason: String,
    },
}

/// Summary of the chain for observers (RPC, tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainStatus {
    /// Head root.
    pub head_root: B256,
    /// Head slot.
    pub head_slot: u64,
    /// Head height.
    pub head_height: u64,
    /// Head payload hash.
    pub head_payload_hash: B256,
    /// Finalized root.
    pub finalized_root: B256,
    /// Finalized height.
    pub finalized_height: u64,
    /// Merged mining: what a proof on the head must commit to, and the halting state.
    pub pow: PowStatus,
    /// The execution-client failure that stops this node producing or importing, if any
    /// (set by the consensus service).
    pub el: Option<crate::el_health::ElProblem>,
}

/// Merged-mining status of the head (RPC `getsyncstatus`, miner work).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PowStatus {
    /// Merged mining is enabled by the spec.
    pub enabled: bool,
    /// Height of the last block finalized in the head's chain.
    pub finalized_height: u64,
    /// First height a proof on the head finalizes (`finalized_height + 1`).
    pub range_start: u64,
    /// Compact target a proof on the head must meet.
    pub bits: u32,
    /// Blocks since the last finalized one (`head height − finalized_height`).
    pub blocks_without_pow: u64,
    /// `maxBlocksWithoutPow`.
    pub max_blocks_without_pow: u64,
    /// The next block needs an AuxPoW (halting rule).
    pub pow_required: bool,
    /// Production is halted: an AuxPoW is required and none usable is pending.
    pub halted: bool,
    /// Priority fees (wei) of the unfinalized blocks of the head's chain (what the next proof
    /// re-mints, to the gwei).
    pub pending_fees_wei: U256,
    /// Proofs waiting to be included.
    pub pending_proofs: usize,
}

/// One node's consensus chain.
pub struct Chain<E> {
    pub(crate) spec: Arc<ChainSpec>,
    pub(crate) approval_domain: Domain,
    pub(crate) clock: SlotClock,
    pub(crate) engine: E,
    pub(crate) store: ChainStore,
    pub(crate) forkchoice: ForkChoice,
    pub(crate) pegins: Arc<dyn PegInVerifier>,
    pub(crate) pegouts: Arc<dyn PegOutLedger>,
    pub(crate) pow: Option<PowParams>,
    /// Submitted AuxPoW headers waiting for a proposer (see [`Chain::add_pending_auxpow`]).
    pub(crate) pending_auxpow: Vec<AuxPowHeader>,
    /// Priority fees of recently checked payloads.
    pub(crate) fee_cache: crate::fees::FeeCache,
}

impl<E: ExecutionEngine> ChainLookup for Chain<E> {
    fn ancestor_by_root(
        &self,
        of: &BlockInfo,
        root: &B256,
        min_height: u64,
    ) -> Option<(u64, PowIndex)> {
        self.lookup().ancestor_by_root(of, root, min_height)
    }

    fn pow_index(&self, root: &B256) -> Option<PowIndex> {
        self.lookup().pow_index(root)
    }
}

/// Most pending AuxPoW headers kept.
pub const MAX_PENDING_AUXPOW: usize = 16;

/// Fork choice, then the store for blocks below the finalized one.
pub(crate) struct Lookup<'a> {
    pub(crate) forkchoice: &'a ForkChoice,
    pub(crate) store: &'a ChainStore,
}

impl ChainLookup for Lookup<'_> {
    fn ancestor_by_root(
        &self,
        of: &BlockInfo,
        root: &B256,
        min_height: u64,
    ) -> Option<(u64, PowIndex)> {
        let mut cur = of.root;
        let mut height = of.height;
        loop {
            if height < min_height {
                return None;
            }
            let (parent, pow) = match self.forkchoice.get(&cur) {
                Some(info) => (info.parent_root, info.pow),
                None => {
                    let block = self.store.block(&cur).ok()??;
                    (block.message.parent_root, self.store.pow_index(&cur).ok()??)
                }
            };
            if cur == *root {
                return Some((height, pow));
            }
            if height == 0 {
                return None;
            }
            cur = parent;
            height -= 1;
        }
    }

    fn pow_index(&self, root: &B256) -> Option<PowIndex> {
        match self.forkchoice.get(root) {
            Some(info) => Some(info.pow),
            None => self.store.pow_index(root).ok().flatten(),
        }
    }
}

impl<E: ExecutionEngine> Chain<E> {
    /// Open the chain: write genesis on first start, otherwise rebuild fork choice from the
    /// store (finalized block and every imported descendant), then bring the EL to our head,
    /// replaying stored payloads with `newPayload` if it is behind.
    pub async fn open(
        spec: Arc<ChainSpec>,
        clock: SlotClock,
        engine: E,
        store: Arc<Store>,
        pegins: Arc<dyn PegInVerifier>,
    ) -> Result<Self, ChainError> {
        spec.validate()?;
        let genesis = genesis_block(&spec)?;
        let store = ChainStore::open(store, &genesis)?;
        let finalized_root = store.finalized_root()?;
        let finalized_height = store
            .height_of(&finalized_root)?
            .ok_or_else(|| ChainError::Inconsistent("finalized block height missing".into()))?;
        let finalized = store
            .block(&finalized_root)?
            .ok_or_else(|| ChainError::Inconsistent("finalized block missing".into()))?;
        let pow = PowParams::from_spec(&spec, genesis.message.execution_payload.timestamp)?;
        let pow_of = |root: &B256| -> Result<PowIndex, ChainError> {
            store.pow_index(root)?.ok_or_else(|| {
                ChainError::Inconsistent(format!(
                    "merged-mining index of {root} missing (database from an older version?)"
                ))
            })
        };
        let mut forkchoice = ForkChoice::new(
            BlockInfo::from_signed(&finalized, finalized_height).with_pow(pow_of(&finalized_root)?),
        );
        for (height, root) in store.blocks_from_height(finalized_height.saturating_add(1))? {
            let block = store
                .block(&root)?
                .ok_or_else(|| ChainError::Inconsistent(format!("block {root} missing")))?;
            // Blocks on branches pruned by finalization are skipped.
            if forkchoice.contains(&block.message.parent_root) {
                let _ = forkchoice
                    .insert(BlockInfo::from_signed(&block, height).with_pow(pow_of(&root)?));
            }
        }
        let approval_domain = compute_domain(DomainType::BlockApproval, spec.spec_hash());
        let mut chain = Self {
            spec,
            approval_domain,
            clock,
            engine,
            store,
            forkchoice,
            pegins,
            pegouts: Arc::new(crate::pegout::NoPegOuts),
            pow,
            pending_auxpow: Vec::new(),
            fee_cache: Default::default(),
        };
        // The head pointer is written in the same batch as the block that moved it, so it
        // matches the recomputed head; if it does not (e.g. a database from another version of
        // the tie-break), trust fork choice and rewrite the canonical index.
        let stored_head = chain.store.head_root()?;
        if stored_head != chain.forkchoice.head().root {
            tracing::warn!(%stored_head, head = %chain.forkchoice.head().root, "head recomputed on restart");
            let update = chain.canonical_update(0)?;
            chain
                .store
                .put_finalized(&chain.forkchoice.finalized().root, Some(&update))?;
        }
        chain.redrive_el().await?;
        Ok(chain)
    }

    /// Keep the peg-out state in `ledger` (default: [`crate::pegout::NoPegOuts`]). Set before
    /// the first block is produced or imported.
    pub fn set_pegout_ledger(&mut self, ledger: Arc<dyn PegOutLedger>) {
        self.pegouts = ledger;
    }

    /// The chain spec.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The slot clock.
    pub fn clock(&self) -> &SlotClock {
        &self.clock
    }

    /// The current head.
    pub fn head(&self) -> &BlockInfo {
        self.forkchoice.head()
    }

    /// The finalized block.
    pub fn finalized(&self) -> &BlockInfo {
        self.forkchoice.finalized()
    }

    /// The fork-choice tree.
    pub fn forkchoice(&self) -> &ForkChoice {
        &self.forkchoice
    }

    /// The store.
    pub fn store(&self) -> &ChainStore {
        &self.store
    }

    /// The approval domain.
    pub fn approval_domain(&self) -> Domain {
        self.approval_domain
    }

    /// Status summary.
    pub fn status(&self) -> ChainStatus {
        let h = self.head();
        let f = self.finalized();
        ChainStatus {
            head_root: h.root,
            head_slot: h.slot,
            head_height: h.height,
            head_payload_hash: h.payload_hash,
            finalized_root: f.root,
            finalized_height: f.height,
            pow: self.pow_status(),
            el: None,
        }
    }

    /// Merged-mining parameters (`None`: disabled by the spec).
    pub fn pow_params(&self) -> Option<&PowParams> {
        self.pow.as_ref()
    }

    /// Merged-mining status of the head.
    pub fn pow_status(&self) -> PowStatus {
        let h = self.head();
        let Some(params) = &self.pow else {
            return PowStatus::default();
        };
        let range_start = h.pow.finalized_height.saturating_add(1);
        let pow_required = params.pow_required(h);
        let usable = self
            .pending_auxpow
            .iter()
            .any(|p| p.range_start == range_start);
        let start_fees = self
            .lookup()
            .pow_index(&h.pow.finalized_root)
            .map(|p| p.cum_fees)
            .unwrap_or_default();
        PowStatus {
            enabled: true,
            finalized_height: h.pow.finalized_height,
            range_start,
            bits: params.expected_bits(&h.pow).to_consensus(),
            blocks_without_pow: h.height.saturating_sub(h.pow.finalized_height),
            max_blocks_without_pow: params.max_blocks_without_pow,
            pow_required,
            halted: pow_required && !usable,
            pending_fees_wei: h.pow.cum_fees.saturating_sub(start_fees),
            pending_proofs: self.pending_auxpow.len(),
        }
    }

    pub(crate) fn lookup(&self) -> Lookup<'_> {
        Lookup {
            forkchoice: &self.forkchoice,
            store: &self.store,
        }
    }

    /// The validation context at the current time.
    pub(crate) fn validation_context(&self) -> ValidationContext<'_> {
        ValidationContext {
            spec: &self.spec,
            approval_domain: self.approval_domain,
            current_slot: self.clock.current_slot(),
            pegins: self.pegins.as_ref(),
            pegouts: self.pegouts.as_ref(),
            slot_duration_ms: self.spec.slot_duration_ms,
            pow: self.pow.as_ref(),
            lookup: self,
        }
    }

    /// The parent of a new block: it must be in the fork-choice tree.
    pub(crate) fn parent_info(&self, parent_root: &B256) -> Result<BlockInfo, BlockError> {
        if let Some(info) = self.forkchoice.get(parent_root) {
            return Ok(info.clone());
        }
        match self.store.contains(parent_root) {
            Ok(true) => Err(BlockError::ConflictsWithFinalized(*parent_root)),
            _ => Err(BlockError::UnknownParent(*parent_root)),
        }
    }

    /// The fork-choice state sent to the EL.
    pub(crate) fn forkchoice_state(&self) -> ForkchoiceState {
        let fin = self.finalized().payload_hash;
        ForkchoiceState {
            head_block_hash: self.head().payload_hash,
            safe_block_hash: fin,
            finalized_block_hash: fin,
        }
    }

    /// Canonical-index changes for the current head, given the previous head's height.
    pub(crate) fn canonical_update(
        &self,
        old_head_height: u64,
    ) -> Result<CanonicalUpdate, ChainStoreError> {
        let head = self.head();
        let mut set = Vec::new();
        // Walk back from the head (fork choice, then the store below the finalized block, so a
        // finalization that switched branches rewrites the heights it covers).
        let (mut root, mut height) = (head.root, head.height);
        while self.store.canonical_root(height)? != Some(root) {
            set.push((height, root));
            let parent = match self.forkchoice.get(&root) {
                Some(info) => info.parent_root,
                None => match self.store.block(&root)? {
                    Some(b) => b.message.parent_root,
                    None => break,
                },
            };
            if height == 0 {
                break;
            }
            root = parent;
            height -= 1;
        }
        let delete = (head.height.saturating_add(1)..=old_head_height).collect();
        Ok(CanonicalUpdate {
            head: head.root,
            set,
            delete,
        })
    }

    /// Tell the EL our head/safe/finalized. Returns the payload status.
    pub(crate) async fn update_el_forkchoice(&self) -> Result<PayloadStatusEnum, EngineError> {
        let res = self
            .engine
            .forkchoice_updated(self.forkchoice_state(), None)
            .await?;
        Ok(res.payload_status.status)
    }

    /// Make the EL's head ours. If it does not know our head (SYNCING), walk back from the
    /// head until a payload it accepts as VALID, then replay forward with `newPayload`.
    /// Run at start, and by the service when the EL says it lacks our chain (it restarted
    /// behind, or lost its data).
    pub async fn redrive_el(&mut self) -> Result<(), ChainError> {
        match self.update_el_forkchoice().await? {
            PayloadStatusEnum::Valid => return Ok(()),
            status => tracing::info!(
                status = status.as_str(),
                "EL is behind; replaying stored payloads"
            ),
        }
        let genesis = self.store.genesis_root()?;
        let mut pending: Vec<SignedConsensusBlock> = Vec::new();
        let mut cur = self.head().root;
        while cur != genesis {
            let block = self
                .store
                .block(&cur)?
                .ok_or_else(|| ChainError::Inconsistent(format!("block {cur} missing")))?;
            let status = self.new_payload(&block.message).await?;
            match status {
                PayloadStatusEnum::Valid => break,
                PayloadStatusEnum::Invalid { validation_error } => {
                    return Err(ChainError::ElRejectedStored {
                        root: cur,
                        reason: validation_error,
                    })
                }
                _ => {}
            }
            cur = block.message.parent_root;
            pending.push(block);
        }
        // `pending[0]` is the head; the last one's parent is known to the EL.
        for block in pending.iter().rev() {
            let root = block.root();
            match self.new_payload(&block.message).await? {
                PayloadStatusEnum::Valid => {}
                other => {
                    return Err(ChainError::ElRejectedStored {
                        root,
                        reason: format!("{other:?}"),
                    })
                }
            }
        }
        match self.update_el_forkchoice().await? {
            PayloadStatusEnum::Valid => Ok(()),
            other => Err(ChainError::ElRejectedStored {
                root: self.head().root,
                reason: format!("forkchoiceUpdated after replay: {other:?}"),
            }),
        }
    }

    /// `engine_newPayloadV3` for a block's payload, with the parent root as beacon root.
    pub(crate) async fn new_payload(
        &self,
        block: &ConsensusBlock,
    ) -> Result<PayloadStatusEnum, EngineError> {
        let status = self
            .engine
            .new_payload(
                block.execution_payload.to_engine(),
                Vec::new(),
                block.parent_root,
            )
            .await?;
        Ok(status.status)
    }
}
