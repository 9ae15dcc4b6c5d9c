//! The Engine API state machine: `engine_newPayload` and `engine_forkchoiceUpdated` as the
//! chain answers them.
//!
//! A new payload is decoded and its hash checked, then answered from what the chain already
//! knows (a remembered invalid block or parent: INVALID; a stored block: VALID; an unknown
//! parent: SYNCING) before it is imported and stored. A forkchoice update is refused for an
//! invalid or unknown head, checks that safe and finalized are canonical ancestors of the head,
//! moves the head, records the pointers and, given attributes, starts a payload.

use alloy::consensus::{Block, TxEnvelope};
use alloy::rpc::types::engine::{
    ExecutionPayload, ExecutionPayloadSidecar, ForkchoiceState, ForkchoiceUpdated,
    PayloadAttributes, PayloadStatus, PayloadStatusEnum,
};
use alloy_primitives::B256;
use alys_store::WriteBatch;

use super::{import::ImportError, Chain, ChainError};
use crate::db::ElDb;

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
            self.invalid
                .insert(block_hash, bad.latest_valid, reason.clone());
            return Ok(invalid(reason, bad.latest_valid));
        }
        let Some(parent) = self.db.header(&parent_hash)? else {
            return Ok(status(PayloadStatusEnum::Syncing, None));
        };
        if !versioned_hashes.is_empty() {
            let reason = "blob transactions are not supported: versioned hashes must be empty";
            self.invalid
                .insert(block_hash, Some(parent_hash), reason.into());
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
                self.invalid
                    .insert(block_hash, Some(parent_hash), reason.clone());
                Ok(invalid(reason, Some(parent_hash)))
            }
            Err(ImportError::Chain(e)) => Err(e),
        }
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
                .write(batch, alys_store::Durability::Buffered)
                .map_err(ChainError::from)?;
        }
        let valid = status(PayloadStatusEnum::Valid, Some(state.head_block_hash));
        let Some(attrs) = attributes else {
            return Ok(ForkchoiceUpdated::new(valid));
        };
        let id = self.build_payload(attrs)?;
        Ok(ForkchoiceUpdated::new(valid).with_payload_id(id))
    }
}
