//! The execution chain: executed blocks, the canonical head and the fork choice pointers.
//!
//! [`Chain`] is what the Engine API drives: [`Chain::new_payload`] validates and executes a
//! block against its parent's state and stores it; [`Chain::forkchoice_updated`] moves the
//! canonical head (unwinding and re-applying per-block change records across a reorg) and
//! starts building a payload; [`Chain::get_payload`] hands a built payload out. Each of these
//! writes one atomic batch, so a crash leaves the chain at a consistent head.

use std::{collections::HashMap, sync::Arc};

use alloy::consensus::{Block, Header, TxEnvelope};
use alloy::eips::{eip1559::BaseFeeParams, eip7840::BlobParams};
use alloy::rpc::types::engine::{
    BlobsBundleV1, ExecutionPayload, ExecutionPayloadEnvelopeV3, ExecutionPayloadSidecar,
    ExecutionPayloadV3, ForkchoiceState, ForkchoiceUpdated, PayloadAttributes, PayloadId,
    PayloadStatus, PayloadStatusEnum,
};
use alloy_genesis::Genesis;
use alloy_primitives::{keccak256, Bytes, B256, U256};
use alys_store::{Durability, Store, WriteBatch};

pub use crate::genesis::genesis_block;
pub use crate::header_rules::check_header_against_parent;
use crate::{
    db::{DbError, Direction, ElDb, StoredBody},
    execute::{execute_block, BlockContext, ExecError, ExecutedBlock, Mode},
    forks::{ForkError, ForkSchedule},
    recent_blocks::{RecentBlock, RecentBlocks},
    sender_recovery::with_recovered_senders,
    state::{Ancestry, Overlay, StateView},
    trie::TrieError,
    txpool::TxPool,
};

/// Built payloads kept for `getPayload`.
const MAX_BUILT_PAYLOADS: usize = 64;
/// Invalid blocks remembered for `latestValidHash` answers.
const MAX_INVALID: usize = 1024;

/// Failures of the chain that are not a verdict on a block.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Store failure.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Trie failure.
    #[error(transparent)]
    Trie(#[from] TrieError),
    /// Unsupported or malformed fork schedule.
    #[error(transparent)]
    Fork(#[from] ForkError),
    /// The genesis cannot start this chain (a header field out of range, a nonzero number).
    #[error(transparent)]
    Genesis(#[from] alys_primitives::SpecError),
    /// The genesis in the chain spec differs from the one this database was created with.
    #[error("database was initialised with genesis {stored}, chain spec gives {expected}")]
    GenesisMismatch {
        /// Genesis hash in the database.
        stored: B256,
        /// Genesis hash of the spec.
        expected: B256,
    },
    /// A block the chain refers to is missing from the store.
    #[error("block {0} is missing from the store")]
    MissingBlock(B256),
    /// Execution failed for a reason that is not the block's fault.
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// Engine API level errors of `forkchoiceUpdated` (spec codes -38002, -38003, -38005, -32602).
#[derive(Debug, thiserror::Error)]
pub enum ForkchoiceError {
    /// Safe or finalized block is not an ancestor of the head (-38002).
    #[error("invalid forkchoice state: {0}")]
    InvalidState(String),
    /// Payload attributes are invalid (-38003).
    #[error("invalid payload attributes: {0}")]
    InvalidAttributes(String),
    /// Attributes for a fork this method version does not cover (-38005).
    #[error("unsupported fork: {0}")]
    UnsupportedFork(String),
    /// Missing required fields (-32602).
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// Internal failure.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// A payload built by `forkchoiceUpdated` with attributes.
#[derive(Debug, Clone)]
pub struct BuiltPayload {
    /// The executed block.
    pub block: ExecutedBlock,
    /// Sum of the priority fees paid to the fee recipient.
    pub fees: U256,
}

#[derive(Debug, Clone)]
struct InvalidBlock {
    latest_valid: Option<B256>,
    reason: String,
}

/// The execution chain state machine.
#[derive(Debug)]
pub struct Chain {
    db: ElDb,
    schedule: ForkSchedule,
    genesis_hash: B256,
    head: Header,
    head_hash: B256,
    safe: B256,
    finalized: B256,
    invalid: HashMap<B256, InvalidBlock>,
    built: Vec<(PayloadId, BuiltPayload)>,
    last_import: Option<crate::execute::ExecTimings>,
    recent: RecentBlocks,
    /// Pending transactions.
    pub pool: TxPool,
}

pub(crate) fn rlp_bytes<T: alloy_rlp::Encodable>(v: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.length());
    v.encode(&mut out);
    out
}

fn status(status: PayloadStatusEnum, latest_valid: Option<B256>) -> PayloadStatus {
    PayloadStatus::new(status, latest_valid)
}

fn invalid(reason: impl Into<String>, latest_valid: Option<B256>) -> PayloadStatus {
    status(
        PayloadStatusEnum::Invalid {
            validation_error: reason.into(),
        },
        latest_valid,
    )
}

impl Chain {
    /// Opens the chain in `store`, writing `genesis` on first start.
    pub fn open(store: Arc<Store>, genesis: &Genesis) -> Result<Self, ChainError> {
        let db = ElDb::new(store)?;
        let schedule = ForkSchedule::from_chain_config(&genesis.config)?;
        let (genesis_header, genesis_batch) = genesis_block(&db, genesis)?;
        let genesis_hash = genesis_header.hash_slow();
        match db.canonical_hash(0)? {
            Some(stored) if stored != genesis_hash => {
                return Err(ChainError::GenesisMismatch {
                    stored,
                    expected: genesis_hash,
                })
            }
            Some(_) => {}
            None => db.write(genesis_batch, Durability::Synced)?,
        }
        let head_hash = db.pointer("head")?.unwrap_or(genesis_hash);
        let head = db
            .header(&head_hash)?
            .ok_or(ChainError::MissingBlock(head_hash))?;
        let safe = db.pointer("safe")?.unwrap_or(genesis_hash);
        let finalized = db.pointer("finalized")?.unwrap_or(genesis_hash);
        Ok(Self {
            pool: TxPool::new(schedule.chain_id),
            db,
            schedule,
            genesis_hash,
            head,
            head_hash,
            safe,
            finalized,
            invalid: HashMap::new(),
            built: Vec::new(),
            last_import: None,
            recent: RecentBlocks::default(),
        })
    }

    /// The database.
    pub fn db(&self) -> &ElDb {
        &self.db
    }

    /// The fork schedule.
    pub fn schedule(&self) -> &ForkSchedule {
        &self.schedule
    }

    /// Genesis block hash.
    pub fn genesis_hash(&self) -> B256 {
        self.genesis_hash
    }

    /// Canonical head header and hash.
    pub fn head(&self) -> (&Header, B256) {
        (&self.head, self.head_hash)
    }

    /// Timings of the last block imported by `new_payload` (execution and state root).
    pub fn last_import_timings(&self) -> Option<crate::execute::ExecTimings> {
        self.last_import
    }

    /// Safe block hash.
    pub fn safe(&self) -> B256 {
        self.safe
    }

    /// Finalized block hash.
    pub fn finalized(&self) -> B256 {
        self.finalized
    }

    /// A view of the state after block `hash` (which must be executed and stored).
    pub fn state_at(&self, hash: B256) -> Result<StateView, ChainError> {
        let header = self
            .db
            .header(&hash)?
            .ok_or(ChainError::MissingBlock(hash))?;
        let overlay = self.overlay_to(hash, header.number)?;
        Ok(StateView::new(
            self.db.clone(),
            overlay,
            Ancestry {
                number: header.number,
                hash,
            },
        ))
    }

    /// Walks from the head and from `target` down to their common ancestor, returning the
    /// blocks to unwind (head first) and to apply (ancestor first).
    fn path_to(
        &self,
        target: B256,
        target_number: u64,
    ) -> Result<(BlockPath, BlockPath), ChainError> {
        let mut unwind = Vec::new();
        let mut forward = Vec::new();
        let (mut a, mut an) = (self.head_hash, self.head.number);
        let (mut b, mut bn) = (target, target_number);
        let parent = |h: B256| -> Result<B256, ChainError> {
            Ok(self
                .db
                .header(&h)?
                .ok_or(ChainError::MissingBlock(h))?
                .parent_hash)
        };
        while bn > an {
            forward.push((bn, b));
            b = parent(b)?;
            bn -= 1;
        }
        while an > bn {
            unwind.push((an, a));
            a = parent(a)?;
            an -= 1;
        }
        while a != b {
            unwind.push((an, a));
            forward.push((bn, b));
            a = parent(a)?;
            b = parent(b)?;
            an -= 1;
            bn -= 1;
        }
        forward.reverse();
        Ok((unwind, forward))
    }

    fn overlay_to(&self, target: B256, number: u64) -> Result<Overlay, ChainError> {
        let mut overlay = Overlay::default();
        if target == self.head_hash {
            return Ok(overlay);
        }
        let (unwind, forward) = self.path_to(target, number)?;
        for (_, hash) in unwind {
            overlay.apply(&self.recent_block(&hash)?.changes, Direction::Backward);
        }
        for (_, hash) in forward {
            overlay.apply(&self.recent_block(&hash)?.changes, Direction::Forward);
        }
        Ok(overlay)
    }

    /// Whether `hash` is executed and stored.
    pub fn is_known(&self, hash: &B256) -> Result<bool, ChainError> {
        Ok(self.recent.get(hash).is_some() || self.db.has_changes(hash)?)
    }

    /// The change record and body of an executed block: from memory for the last blocks
    /// executed, otherwise from the store.
    fn recent_block(&self, hash: &B256) -> Result<Arc<RecentBlock>, ChainError> {
        if let Some(block) = self.recent.get(hash) {
            return Ok(block);
        }
        let changes = self
            .db
            .changes(hash)?
            .ok_or(ChainError::MissingBlock(*hash))?;
        let body = self.db.body(hash)?.ok_or(ChainError::MissingBlock(*hash))?;
        Ok(Arc::new(RecentBlock {
            changes: Arc::new(changes),
            body: Arc::new(body),
        }))
    }

    /// Stores an executed block in one batch, then keeps its new trie nodes in the node cache
    /// and its change record and body among the recent blocks.
    fn persist(&mut self, executed: &ExecutedBlock) -> Result<(), DbError> {
        let mut batch = WriteBatch::new();
        ElDb::put_nodes_and_code(&mut batch, &executed.trie_nodes, &executed.code);
        ElDb::put_block(
            &mut batch,
            executed.hash,
            &executed.header,
            &executed.body,
            &executed.receipts,
            &executed.changes,
        );
        self.db.write(batch, Durability::Buffered)?;
        self.db.cache_nodes(&executed.trie_nodes);
        self.recent.insert(
            executed.hash,
            RecentBlock {
                changes: executed.changes.clone(),
                body: executed.body.clone(),
            },
        );
        Ok(())
    }

    /// `engine_newPayload`: validates, executes and stores a block.
    ///
    /// `sidecar` carries the fields outside the payload (Cancun: parent beacon block root and
    /// blob versioned hashes); the Engine API server builds it from the method's params.
    pub fn new_payload(
        &mut self,
        payload: ExecutionPayload,
        sidecar: ExecutionPayloadSidecar,
    ) -> Result<PayloadStatus, ChainError> {
        let started = std::time::Instant::now();
        let block_hash = payload.block_hash();
        let parent_hash = payload.parent_hash();
        let versioned_hashes = sidecar.versioned_hashes().cloned().unwrap_or_default();
        let block: Block<TxEnvelope> = match payload.try_into_block_with_sidecar(&sidecar) {
            Ok(b) => b,
            Err(e) => return Ok(invalid(format!("malformed payload: {e}"), None)),
        };
        let computed = block.header.hash_slow();
        if computed != block_hash {
            return Ok(invalid(
                format!(
                    "block hash mismatch: payload says {block_hash}, header hashes to {computed}"
                ),
                None,
            ));
        }
        if let Some(bad) = self.invalid.get(&block_hash) {
            return Ok(invalid(bad.reason.clone(), bad.latest_valid));
        }
        if self.is_known(&block_hash)? {
            return Ok(status(PayloadStatusEnum::Valid, Some(block_hash)));
        }
        if let Some(bad) = self.invalid.get(&parent_hash).cloned() {
            let reason = format!("parent {parent_hash} is invalid: {}", bad.reason);
            self.remember_invalid(block_hash, bad.latest_valid, reason.clone());
            return Ok(invalid(reason, bad.latest_valid));
        }
        let Some(parent) = self.db.header(&parent_hash)? else {
            return Ok(status(PayloadStatusEnum::Syncing, None));
        };
        if !versioned_hashes.is_empty() {
            let reason = "blob transactions are not supported: versioned hashes must be empty";
            self.remember_invalid(block_hash, Some(parent_hash), reason.into());
            return Ok(invalid(reason, Some(parent_hash)));
        }
        let decoded = started.elapsed();
        match self.import_block(&parent, parent_hash, block) {
            Ok(executed) => {
                let imported = started.elapsed();
                self.last_import = Some(executed.timings);
                self.persist(&executed)?;
                tracing::debug!(
                    number = executed.header.number,
                    txs = executed.tx_hashes.len(),
                    decode = ?decoded,
                    recover_and_execute = ?executed.timings.execution,
                    state_root = ?executed.timings.state_root,
                    import = ?(imported - decoded),
                    store = ?(started.elapsed() - imported),
                    "payload executed"
                );
                Ok(status(PayloadStatusEnum::Valid, Some(block_hash)))
            }
            Err(ImportError::Invalid(reason)) => {
                self.remember_invalid(block_hash, Some(parent_hash), reason.clone());
                Ok(invalid(reason, Some(parent_hash)))
            }
            Err(ImportError::Chain(e)) => Err(e),
        }
    }

    fn remember_invalid(&mut self, hash: B256, latest_valid: Option<B256>, reason: String) {
        if self.invalid.len() >= MAX_INVALID {
            self.invalid.clear();
        }
        self.invalid.insert(
            hash,
            InvalidBlock {
                latest_valid,
                reason,
            },
        );
    }

    fn import_block(
        &self,
        parent: &Header,
        parent_hash: B256,
        block: Block<TxEnvelope>,
    ) -> Result<ExecutedBlock, ImportError> {
        let header = &block.header;
        check_header_against_parent(&self.schedule, header, parent)
            .map_err(ImportError::Invalid)?;
        if !block.body.ommers.is_empty() {
            return Err(ImportError::Invalid("ommers must be empty".into()));
        }
        let view = self.state_at(parent_hash).map_err(ImportError::Chain)?;
        let ctx = BlockContext {
            parent_hash,
            number: header.number,
            timestamp: header.timestamp,
            beneficiary: header.beneficiary,
            prev_randao: header.mix_hash,
            gas_limit: header.gas_limit,
            base_fee: header.base_fee_per_gas.unwrap_or_default(),
            extra_data: header.extra_data.clone(),
            parent_beacon_block_root: header.parent_beacon_block_root.unwrap_or_default(),
            withdrawals: block
                .body
                .withdrawals
                .clone()
                .map(|w| w.into_inner())
                .unwrap_or_default(),
            excess_blob_gas: header.excess_blob_gas.unwrap_or_default(),
            parent_state_root: parent.state_root,
        };
        let executed = with_recovered_senders(&block.body.transactions, |txs| {
            execute_block(view, &self.schedule, &ctx, txs, Mode::Import)
        })
        .map_err(|bad| ImportError::Invalid(bad.to_string()))?;
        let executed = match executed {
            Ok(e) => e,
            Err(ExecError::Invalid(reason)) => return Err(ImportError::Invalid(reason)),
            Err(e) => return Err(ImportError::Chain(e.into())),
        };
        let got = &executed.header;
        let checks = [
            (
                "gas used",
                got.gas_used == header.gas_used,
                format!("{} vs {}", got.gas_used, header.gas_used),
            ),
            (
                "state root",
                got.state_root == header.state_root,
                format!("{} vs {}", got.state_root, header.state_root),
            ),
            (
                "receipts root",
                got.receipts_root == header.receipts_root,
                format!("{} vs {}", got.receipts_root, header.receipts_root),
            ),
            (
                "logs bloom",
                got.logs_bloom == header.logs_bloom,
                String::new(),
            ),
            (
                "transactions root",
                got.transactions_root == header.transactions_root,
                String::new(),
            ),
            (
                "withdrawals root",
                got.withdrawals_root == header.withdrawals_root,
                String::new(),
            ),
            (
                "blob gas used",
                got.blob_gas_used == header.blob_gas_used,
                String::new(),
            ),
        ];
        for (what, ok, detail) in checks {
            if !ok {
                return Err(ImportError::Invalid(format!(
                    "{what} mismatch (computed vs header) {detail}"
                )));
            }
        }
        if executed.hash != block.header.hash_slow() {
            return Err(ImportError::Invalid(
                "sealed header differs from the payload header".into(),
            ));
        }
        Ok(executed)
    }

    /// Moves the canonical head to `target`, unwinding and re-applying change records.
    fn set_head(&mut self, target: B256) -> Result<(), ChainError> {
        if target == self.head_hash {
            return Ok(());
        }
        let header = self
            .db
            .header(&target)?
            .ok_or(ChainError::MissingBlock(target))?;
        let (unwind, forward) = self.path_to(target, header.number)?;
        let mut batch = WriteBatch::new();
        let mut reinject = Vec::new();
        for (number, hash) in &unwind {
            let block = self.recent_block(hash)?;
            ElDb::apply_changes(&mut batch, &block.changes, Direction::Backward);
            ElDb::delete_canonical(&mut batch, *number, &block.body.tx_hashes());
            reinject.extend(block.body.transactions.iter().cloned());
        }
        let mut mined_blocks = Vec::new();
        for (number, hash) in &forward {
            let block = self.recent_block(hash)?;
            ElDb::apply_changes(&mut batch, &block.changes, Direction::Forward);
            ElDb::put_canonical(&mut batch, *number, *hash, &block.body.tx_hashes());
            mined_blocks.push(block);
        }
        ElDb::put_pointer(&mut batch, "head", target);
        self.db.write(batch, Durability::Buffered)?;
        self.head = header;
        self.head_hash = target;
        let mined: Vec<&TxEnvelope> = mined_blocks
            .iter()
            .flat_map(|b| &b.body.transactions)
            .collect();
        self.pool.on_reorg(reinject, &mined);
        Ok(())
    }

    fn is_canonical_ancestor(
        &self,
        hash: B256,
        head: &Header,
        head_hash: B256,
    ) -> Result<bool, ChainError> {
        if hash.is_zero() || hash == head_hash {
            return Ok(true);
        }
        let Some(h) = self.db.header(&hash)? else {
            return Ok(false);
        };
        if h.number > head.number {
            return Ok(false);
        }
        let mut cursor = head_hash;
        let mut number = head.number;
        while number > h.number {
            cursor = self
                .db
                .header(&cursor)?
                .ok_or(ChainError::MissingBlock(cursor))?
                .parent_hash;
            number -= 1;
        }
        Ok(cursor == hash)
    }

    /// `engine_forkchoiceUpdated`: sets head/safe/finalized and optionally starts a payload.
    pub fn forkchoice_updated(
        &mut self,
        state: ForkchoiceState,
        attributes: Option<PayloadAttributes>,
    ) -> Result<ForkchoiceUpdated, ForkchoiceError> {
        if let Some(bad) = self.invalid.get(&state.head_block_hash) {
            return Ok(ForkchoiceUpdated::new(invalid(
                bad.reason.clone(),
                bad.latest_valid,
            )));
        }
        let Some(head) = self
            .db
            .header(&state.head_block_hash)
            .map_err(ChainError::from)?
        else {
            return Ok(ForkchoiceUpdated::new(status(
                PayloadStatusEnum::Syncing,
                None,
            )));
        };
        if !self.is_known(&state.head_block_hash)? {
            return Ok(ForkchoiceUpdated::new(status(
                PayloadStatusEnum::Syncing,
                None,
            )));
        }
        for (name, hash) in [
            ("safe", state.safe_block_hash),
            ("finalized", state.finalized_block_hash),
        ] {
            if !self.is_canonical_ancestor(hash, &head, state.head_block_hash)? {
                return Err(ForkchoiceError::InvalidState(format!(
                    "{name} block {hash} is not an ancestor of head {}",
                    state.head_block_hash
                )));
            }
        }
        self.set_head(state.head_block_hash)?;
        let mut batch = WriteBatch::new();
        if !state.safe_block_hash.is_zero() {
            self.safe = state.safe_block_hash;
            ElDb::put_pointer(&mut batch, "safe", self.safe);
        }
        if !state.finalized_block_hash.is_zero() {
            self.finalized = state.finalized_block_hash;
            ElDb::put_pointer(&mut batch, "finalized", self.finalized);
        }
        if !batch.is_empty() {
            self.db
                .write(batch, Durability::Buffered)
                .map_err(ChainError::from)?;
        }
        let valid = status(PayloadStatusEnum::Valid, Some(state.head_block_hash));
        let Some(attrs) = attributes else {
            return Ok(ForkchoiceUpdated::new(valid));
        };
        let id = self.start_payload(attrs)?;
        Ok(ForkchoiceUpdated::new(valid).with_payload_id(id))
    }

    fn start_payload(&mut self, attrs: PayloadAttributes) -> Result<PayloadId, ForkchoiceError> {
        let parent = self.head.clone();
        let parent_hash = self.head_hash;
        if attrs.timestamp <= parent.timestamp {
            return Err(ForkchoiceError::InvalidAttributes(format!(
                "timestamp {} is not after the head's {}",
                attrs.timestamp, parent.timestamp
            )));
        }
        if !self.schedule.is_cancun(attrs.timestamp) {
            return Err(ForkchoiceError::UnsupportedFork(
                "payload timestamp is before Cancun; use forkchoiceUpdatedV2".into(),
            ));
        }
        let withdrawals = attrs.withdrawals.clone().ok_or_else(|| {
            ForkchoiceError::InvalidParams("withdrawals are required (V3)".into())
        })?;
        let beacon_root = attrs.parent_beacon_block_root.ok_or_else(|| {
            ForkchoiceError::InvalidParams("parentBeaconBlockRoot is required (V3)".into())
        })?;
        let id = payload_id(parent_hash, &attrs);
        if self.built.iter().any(|(i, _)| *i == id) {
            return Ok(id);
        }
        let ctx = BlockContext {
            parent_hash,
            number: parent.number + 1,
            timestamp: attrs.timestamp,
            beneficiary: attrs.suggested_fee_recipient,
            prev_randao: attrs.prev_randao,
            gas_limit: parent.gas_limit,
            base_fee: parent
                .next_block_base_fee(BaseFeeParams::ethereum())
                .unwrap_or_default(),
            extra_data: Bytes::new(),
            parent_beacon_block_root: beacon_root,
            withdrawals,
            excess_blob_gas: parent
                .next_block_excess_blob_gas(BlobParams::cancun())
                .unwrap_or_default(),
            parent_state_root: parent.state_root,
        };
        let view = self.state_at(parent_hash)?;
        let txs = self.pool.best_transactions(&view, ctx.base_fee);
        let executed = execute_block(view, &self.schedule, &ctx, txs, Mode::Build)
            .map_err(|e| ForkchoiceError::Chain(e.into()))?;
        let fees = executed
            .receipts
            .iter()
            .zip(&executed.body.transactions)
            .fold((U256::ZERO, 0u64), |(acc, prev_cum), (r, tx)| {
                use alloy::consensus::Transaction;
                let cum = r.cumulative_gas_used();
                let used = cum - prev_cum;
                let tip = tx.effective_tip_per_gas(ctx.base_fee).unwrap_or_default();
                (acc + U256::from(tip) * U256::from(used), cum)
            })
            .0;
        for (hash, reason) in &executed.skipped {
            tracing::debug!(%hash, %reason, "transaction left out of payload");
        }
        self.persist(&executed).map_err(ChainError::from)?;
        if self.built.len() >= MAX_BUILT_PAYLOADS {
            self.built.remove(0);
        }
        self.built.push((
            id,
            BuiltPayload {
                block: executed,
                fees,
            },
        ));
        Ok(id)
    }

    /// `engine_getPayload`: a payload built earlier, or `None` if the id is unknown.
    pub fn get_payload(&self, id: PayloadId) -> Option<ExecutionPayloadEnvelopeV3> {
        let (_, built) = self.built.iter().find(|(i, _)| *i == id)?;
        let block = Block {
            header: built.block.header.clone(),
            body: alloy::consensus::BlockBody {
                transactions: built.block.body.transactions.clone(),
                ommers: vec![],
                withdrawals: Some(built.block.body.withdrawals.clone().into()),
            },
        };
        Some(ExecutionPayloadEnvelopeV3 {
            execution_payload: ExecutionPayloadV3::from_block_unchecked(built.block.hash, &block),
            block_value: built.fees,
            blobs_bundle: BlobsBundleV1::new(vec![]),
            should_override_builder: false,
        })
    }

    /// A stored block (header and body) by hash.
    pub fn block(&self, hash: &B256) -> Result<Option<(Header, StoredBody)>, ChainError> {
        let Some(header) = self.db.header(hash)? else {
            return Ok(None);
        };
        let Some(body) = self.db.body(hash)? else {
            return Ok(None);
        };
        Ok(Some((header, body)))
    }
}

/// Blocks (number, hash) along a path through the block tree.
type BlockPath = Vec<(u64, B256)>;

enum ImportError {
    Invalid(String),
    Chain(ChainError),
}

/// Deterministic payload id: the first 8 bytes of keccak(parent ‖ attributes).
fn payload_id(parent: B256, attrs: &PayloadAttributes) -> PayloadId {
    let mut buf = parent.to_vec();
    buf.extend_from_slice(&attrs.timestamp.to_be_bytes());
    buf.extend_from_slice(attrs.prev_randao.as_slice());
    buf.extend_from_slice(attrs.suggested_fee_recipient.as_slice());
    if let Some(w) = &attrs.withdrawals {
        buf.extend_from_slice(&rlp_bytes(w));
    }
    if let Some(r) = &attrs.parent_beacon_block_root {
        buf.extend_from_slice(r.as_slice());
    }
    let hash = keccak256(&buf);
    PayloadId::new(hash[..8].try_into().unwrap_or_default())
}
