//! Block import: validate → EL `newPayload` must be VALID → persist (one atomic batch) →
//! fork choice → `forkchoiceUpdated(head, safe, finalized)`.
//!
//! A block that fails any step is not imported: nothing is written and fork choice is
//! unchanged. Finalization ([`Chain::finalize`]) is driven from outside (AuxPoW later).

use crate::chain::Chain;
use crate::chain_store::ChainStoreError;
use crate::forkchoice::{BlockInfo, ForkChoiceError};
use crate::validate::{validate_proposal, validate_signed_block, BlockError};
use alloy_primitives::B256;
use alys_engine::{EngineError, ExecutionEngine, PayloadStatusEnum};
use alys_primitives::{Approval, ConsensusBlock, SignedConsensusBlock};

/// Result of a successful import call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The block was imported.
    Imported {
        /// Its root.
        root: B256,
        /// Whether it became the head.
        new_head: bool,
    },
    /// The block was already imported.
    AlreadyKnown,
}

/// Why a block was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The block breaks a consensus rule (including the EL's verdict).
    #[error("invalid block: {0}")]
    Invalid(#[from] BlockError),
    /// The execution client could not be asked.
    #[error("execution client: {0}")]
    Engine(#[from] EngineError),
    /// Persisting failed.
    #[error(transparent)]
    Store(#[from] ChainStoreError),
    /// Fork choice refused the block.
    #[error(transparent)]
    ForkChoice(#[from] ForkChoiceError),
}

impl ImportError {
    /// The consensus rule broken, if that is why.
    pub fn block_error(&self) -> Option<&BlockError> {
        match self {
            ImportError::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

/// Map an EL payload status onto the consensus verdict.
fn el_verdict(status: PayloadStatusEnum) -> Result<(), BlockError> {
    match status {
        PayloadStatusEnum::Valid => Ok(()),
        PayloadStatusEnum::Invalid { validation_error } => Err(BlockError::ElInvalid {
            reason: validation_error,
        }),
        other => Err(BlockError::ElNotValid {
            status: other.as_str().to_string(),
        }),
    }
}

impl<E: ExecutionEngine> Chain<E> {
    /// Import a signed block.
    pub async fn import_block(
        &mut self,
        block: &SignedConsensusBlock,
    ) -> Result<ImportOutcome, ImportError> {
        let root = block.root();
        if self.forkchoice.contains(&root) || self.store.contains(&root)? {
            return Ok(ImportOutcome::AlreadyKnown);
        }
        let parent = self.parent_info(&block.message.parent_root)?;
        validate_signed_block(&self.validation_context(), &parent, block)?;
        el_verdict(self.new_payload(&block.message).await?)?;

        let height = parent.height.saturating_add(1);
        let old_head_height = self.head().height;
        let new_head = self
            .forkchoice
            .insert(BlockInfo::from_signed(block, height))?;
        let persisted = match new_head {
            true => self
                .canonical_update(old_head_height)
                .and_then(|u| self.store.put_imported(block, height, Some(&u))),
            false => self.store.put_imported(block, height, None),
        };
        if let Err(e) = persisted {
            self.forkchoice.remove_leaf(&root);
            return Err(e.into());
        }
        tracing::debug!(%root, slot = block.message.slot, height, new_head, "imported block");
        if new_head {
            self.notify_el().await;
        }
        Ok(ImportOutcome::Imported { root, new_head })
    }

    /// Check a proposal (block + proposer approval) and have the EL execute its payload:
    /// what an authority requires before approving. Nothing is persisted.
    pub async fn verify_proposal(
        &self,
        block: &ConsensusBlock,
        proposer_approval: &Approval,
    ) -> Result<(), ImportError> {
        let parent = self.parent_info(&block.parent_root)?;
        validate_proposal(
            &self.validation_context(),
            &parent,
            block,
            proposer_approval,
        )?;
        el_verdict(self.new_payload(block).await?)?;
        Ok(())
    }

    /// Finalize `root` (and everything before it): prune fork choice, persist, tell the EL.
    pub async fn finalize(&mut self, root: B256) -> Result<(), ImportError> {
        let old_head_height = self.head().height;
        let old_head = self.head().root;
        self.forkchoice.finalize(root)?;
        let update = if self.head().root != old_head {
            Some(self.canonical_update(old_head_height)?)
        } else {
            None
        };
        self.store.put_finalized(&root, update.as_ref())?;
        self.notify_el().await;
        Ok(())
    }

    /// Send the fork-choice state to the EL; failures are logged (the next import or restart
    /// re-sends it).
    pub(crate) async fn notify_el(&self) {
        match self.update_el_forkchoice().await {
            Ok(PayloadStatusEnum::Valid) => {}
            Ok(status) => tracing::warn!(status = status.as_str(), "EL did not accept our head"),
            Err(e) => tracing::warn!(error = %e, "forkchoiceUpdated failed"),
        }
    }
}
