//! Block import: validate → EL `newPayload` must be VALID → priority fees from the EL's
//! receipts → the peg-out ledger records the block (burns from the receipts) → fork choice (and, for a block carrying an AuxPoW, finalization of its range) →
//! persist (one atomic batch: block, indexes, head, finalized) → `forkchoiceUpdated(head, safe,
//! finalized)`.
//!
//! A block that fails any step is not imported: nothing is written and fork choice is
//! unchanged. [`Chain::finalize`] also finalizes from outside (tests).

use crate::chain::Chain;
use crate::chain_store::ChainStoreError;
use crate::fees::priority_fees;
use crate::forkchoice::{BlockInfo, ForkChoiceError, PowIndex};
use crate::validate::{check_block_auxpow, validate_proposal, validate_signed_block, BlockError};
use alloy::rpc::types::TransactionReceipt;
use alloy_primitives::{keccak256, B256, U256};
use alys_engine::{methods, EngineError, ExecutionEngine, PayloadStatusEnum};
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
    #[error("execution client, {method}: {source}")]
    Engine {
        /// The method that failed.
        method: &'static str,
        /// The error.
        #[source]
        source: EngineError,
    },
    /// Persisting failed.
    #[error(transparent)]
    Store(#[from] ChainStoreError),
    /// Fork choice refused the block.
    #[error(transparent)]
    ForkChoice(#[from] ForkChoiceError),
    /// The EL's receipts (for the priority fees) are unknown to it or do not match the block.
    #[error("receipts of payload {hash}: {reason}")]
    Receipts {
        /// Payload hash.
        hash: B256,
        /// What is wrong.
        reason: String,
    },
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

/// The EL does not give the receipts of payload `hash`.
fn receipts_unknown(hash: B256) -> ImportError {
    ImportError::Receipts {
        hash,
        reason: "unknown to the execution client (is --execution-rpc-url the eth JSON-RPC of the same client?)".into(),
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
        let started = std::time::Instant::now();
        let root = block.root();
        if self.forkchoice.contains(&root) || self.store.contains(&root)? {
            return Ok(ImportOutcome::AlreadyKnown);
        }
        let parent = self.parent_info(&block.message.parent_root)?;
        let pow = {
            let ctx = self.validation_context();
            validate_signed_block(&ctx, &parent, block)?;
            check_block_auxpow(&ctx, &parent, &block.message)?
        };
        let validated = started.elapsed();
        el_verdict(self.new_payload_checked(&block.message).await?)?;
        let executed = started.elapsed();
        let height = parent.height.saturating_add(1);
        let receipts = match self.import_receipts(&block.message).await? {
            Some(receipts) => receipts,
            // Some clients (EthereumJS) serve receipts only for canonical blocks: a block that
            // becomes our head is made the EL's head first, and the EL is set back if the
            // receipts still fail.
            None if height > self.head().height => {
                self.set_el_head(&block.message).await?;
                match self.import_receipts(&block.message).await {
                    Ok(Some(receipts)) => receipts,
                    failed => {
                        self.notify_el().await;
                        return Err(failed.err().unwrap_or_else(|| {
                            receipts_unknown(block.message.execution_payload.block_hash)
                        }));
                    }
                }
            }
            None => return Err(receipts_unknown(block.message.execution_payload.block_hash)),
        };
        let fees = self.fees_from_receipts(&block.message, &receipts)?;
        let refunds = block
            .message
            .execution_payload
            .engine_withdrawals()
            .iter()
            .filter(|w| w.validator_index == crate::pegout::REFUND_VALIDATOR_INDEX)
            .count();
        self.pegouts
            .imported(&parent, root, &block.message, refunds, &receipts)
            .map_err(BlockError::PegOut)?;
        let timestamp = block.message.execution_payload.timestamp;
        let index = match &pow {
            Some(v) => v.child_index(&parent.pow, timestamp, fees),
            None => PowIndex {
                cum_fees: parent.pow.cum_fees.saturating_add(fees),
                ..parent.pow
            },
        };

        let old_head_height = self.head().height;
        let old_head = self.head().root;
        let backup = pow.as_ref().map(|_| self.forkchoice.clone());
        self.forkchoice
            .insert(BlockInfo::from_signed(block, height).with_pow(index))?;
        let mut finalized = None;
        if let Some(v) = &pow {
            let end = v.header.range_end;
            if v.range_end_height > self.finalized().height && self.forkchoice.contains(&end) {
                match self.forkchoice.finalize(end) {
                    Ok(_) => finalized = Some(end),
                    Err(e) => tracing::warn!(%end, error = %e, "AuxPoW range not finalized"),
                }
            }
        }
        let new_head = self.head().root != old_head;
        let persisted = match new_head {
            true => self.canonical_update(old_head_height).and_then(|u| {
                self.store
                    .put_imported_block(block, height, &index, Some(&u), finalized.as_ref())
            }),
            false => self
                .store
                .put_imported_block(block, height, &index, None, finalized.as_ref()),
        };
        if let Err(e) = persisted {
            match backup {
                Some(fc) => self.forkchoice = fc,
                None => self.forkchoice.remove_leaf(&root),
            }
            return Err(e.into());
        }
        let new_head = self.head().root == root;
        if let Some(end) = finalized {
            tracing::info!(
                %root,
                finalized = %end,
                finalized_height = self.finalized().height,
                "AuxPoW finalized blocks"
            );
        }
        let stored = started.elapsed();
        self.prune_pending_auxpow();
        if new_head || finalized.is_some() {
            self.notify_el().await;
        }
        tracing::debug!(
            %root,
            slot = block.message.slot,
            height,
            new_head,
            validate_us = validated.as_micros() as u64,
            new_payload_us = (executed - validated).as_micros() as u64,
            store_us = (stored - executed).as_micros() as u64,
            forkchoice_us = (started.elapsed() - stored).as_micros() as u64,
            "imported block"
        );
        crate::metrics::block_imported(
            block,
            parent.slot,
            self.spec().authorities.len(),
            started.elapsed(),
            new_head,
        );
        Ok(ImportOutcome::Imported { root, new_head })
    }

    /// Priority fees (wei) of an executed payload ([`crate::fees`]), from the EL's receipts;
    /// `None` when the EL does not give the block's receipts (yet). Zero without transactions
    /// or without merged mining (nothing is re-minted then). The last few results are cached
    /// by payload hash: a proposer checks its block before proposing it and imports it right
    /// after.
    pub(crate) async fn block_fees(
        &self,
        block: &ConsensusBlock,
    ) -> Result<Option<U256>, ImportError> {
        let p = &block.execution_payload;
        if p.transactions.is_empty() || self.pow.is_none() {
            return Ok(Some(U256::ZERO));
        }
        if let Some(fees) = self.fee_cache.get(&p.block_hash) {
            return Ok(Some(fees));
        }
        let err = |reason: String| ImportError::Receipts {
            hash: p.block_hash,
            reason,
        };
        let tx_hashes: Vec<B256> = p.transactions.iter().map(|tx| keccak256(&tx[..])).collect();
        let Some(receipts) = self
            .engine
            .block_receipts(p.block_hash, p.block_number, &tx_hashes)
            .await
            .map_err(|source| ImportError::Engine {
                method: methods::GET_BLOCK_RECEIPTS,
                source,
            })?
        else {
            return Ok(None);
        };
        let fees = priority_fees(p, &receipts).map_err(|e| err(e.to_string()))?;
        self.fee_cache.put(p.block_hash, fees);
        Ok(Some(fees))
    }

    /// The receipts import needs: those of a block with transactions when merged mining (the
    /// fee re-mint) or the peg-out ledger (burns) reads them, otherwise none. `None` when the
    /// EL does not give them (yet).
    async fn import_receipts(
        &self,
        block: &ConsensusBlock,
    ) -> Result<Option<Vec<TransactionReceipt>>, ImportError> {
        let p = &block.execution_payload;
        if p.transactions.is_empty() || (self.pow.is_none() && !self.pegouts.needs_receipts()) {
            return Ok(Some(Vec::new()));
        }
        let tx_hashes: Vec<B256> = p.transactions.iter().map(|tx| keccak256(&tx[..])).collect();
        self.engine
            .block_receipts(p.block_hash, p.block_number, &tx_hashes)
            .await
            .map_err(|source| ImportError::Engine {
                method: methods::GET_BLOCK_RECEIPTS,
                source,
            })
    }

    /// Priority fees (wei) of `block` from its `receipts` (zero without merged mining).
    fn fees_from_receipts(
        &self,
        block: &ConsensusBlock,
        receipts: &[TransactionReceipt],
    ) -> Result<U256, ImportError> {
        let p = &block.execution_payload;
        if p.transactions.is_empty() || self.pow.is_none() {
            return Ok(U256::ZERO);
        }
        if let Some(fees) = self.fee_cache.get(&p.block_hash) {
            return Ok(fees);
        }
        let fees = priority_fees(p, receipts).map_err(|e| ImportError::Receipts {
            hash: p.block_hash,
            reason: e.to_string(),
        })?;
        self.fee_cache.put(p.block_hash, fees);
        Ok(fees)
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
        el_verdict(self.new_payload_checked(block).await?)?;
        Ok(())
    }

    /// What import needs from the EL for `block`, checked before proposing it: `newPayload`
    /// VALID and (when the fee re-mint needs them) the receipts method served and, if the EL
    /// already gives the block's receipts, receipts that match the payload. (An EL that gives
    /// receipts only for canonical blocks, like EthereumJS, answers "unknown" here; import then
    /// makes the block the EL's head first.)
    pub async fn check_importable(&self, block: &ConsensusBlock) -> Result<(), ImportError> {
        el_verdict(self.new_payload_checked(block).await?)?;
        self.block_fees(block).await?;
        Ok(())
    }

    /// `forkchoiceUpdated` with `block` as the EL's head (safe and finalized unchanged).
    async fn set_el_head(&self, block: &ConsensusBlock) -> Result<(), ImportError> {
        let state = alys_engine::ForkchoiceState {
            head_block_hash: block.execution_payload.block_hash,
            ..self.forkchoice_state()
        };
        let updated = self
            .engine
            .forkchoice_updated(state, None)
            .await
            .map_err(|source| ImportError::Engine {
                method: methods::FORKCHOICE_UPDATED_V3,
                source,
            })?;
        el_verdict(updated.payload_status.status)?;
        Ok(())
    }

    /// [`Chain::new_payload`] with the method named in the error.
    async fn new_payload_checked(
        &self,
        block: &ConsensusBlock,
    ) -> Result<PayloadStatusEnum, ImportError> {
        self.new_payload(block)
            .await
            .map_err(|source| ImportError::Engine {
                method: methods::NEW_PAYLOAD_V3,
                source,
            })
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
        self.prune_pending_auxpow();
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
