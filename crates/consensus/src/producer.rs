//! Block production by the slot's proposer.
//!
//! On top of the head, for slot `s`:
//!
//! 1. `forkchoiceUpdated(head, attrs)` with `timestamp` = start of `s` in seconds,
//!    `prevRandao` = sha256(parent's aggregate signature bytes) (zero on top of genesis; the
//!    aggregate used is the one this node holds, carried in the block as `parent_approval`),
//!    `suggestedFeeRecipient` = [`BURN_ADDRESS`], `withdrawals` = the expected mints of the
//!    peg-ins to include, then the fee re-mint of the pending AuxPoW it includes (the valid one
//!    covering the most blocks), `parentBeaconBlockRoot` = the parent consensus block root;
//!    then the refunds due that fit ([`crate::pegout`]);
//!    when the halting rule requires an AuxPoW and none is pending, nothing is produced
//!    ([`ProduceError::PowRequired`]);
//! 2. `getPayload(id)`;
//! 3. check that the block can be imported: `newPayload` must answer VALID and, when the fee
//!    re-mint needs them, the EL's receipts must be readable and match the payload
//!    ([`Chain::check_importable`]); a proposer never proposes a block it cannot import itself;
//! 4. build the [`ConsensusBlock`] (with the peg-out ledger's unsigned payout, if any) and sign it: the result is a [`BlockProposal`] carrying the
//!    proposer's own [`Approval`].

use crate::chain::{Chain, Signer};
use crate::forkchoice::prev_randao;
use crate::schedule::proposer_index;
use alloy_primitives::FixedBytes;
use alys_engine::{methods, EngineError, ExecutionEngine, PayloadAttributes};
use alys_primitives::block::MAX_FEDERATION_SPENDS_PER_BLOCK;
use alys_primitives::payload::PayloadConversionError;
use alys_primitives::signing::sign_approval;
use alys_primitives::withdrawals::{expected_withdrawals, withdrawal_index_base, WithdrawalError};
use alys_primitives::{Approval, BlockProposal, ConsensusBlock, ExecutionPayload, BURN_ADDRESS};
use ssz_types::{ListEncodedOption, VariableList};

/// Why a block could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// Not this signer's slot.
    #[error("slot {slot} belongs to authority {proposer}, not {signer}")]
    NotProposer {
        /// Slot.
        slot: u64,
        /// Scheduled proposer.
        proposer: usize,
        /// Local signer.
        signer: usize,
    },
    /// The parent is not in the fork-choice tree.
    #[error("parent {0} is not in the fork-choice tree")]
    UnknownParent(alloy_primitives::B256),
    /// The head is already at or past the slot.
    #[error("parent slot {parent_slot} is not before slot {slot}")]
    SlotNotAfterParent {
        /// Slot.
        slot: u64,
        /// Parent slot.
        parent_slot: u64,
    },
    /// An EL call failed.
    #[error("execution client, {method}: {source}")]
    Engine {
        /// The Engine API method.
        method: &'static str,
        /// The error.
        #[source]
        source: EngineError,
    },
    /// The built block could not be imported by this node (EL verdict or receipts).
    #[error("the built block cannot be imported: {0}")]
    NotImportable(Box<crate::import::ImportError>),
    /// The EL did not start building (no payload id).
    #[error("execution client did not start a payload: status {0}")]
    NoPayloadId(String),
    /// The EL's payload does not fit the block format.
    #[error("payload from the execution client: {0}")]
    Payload(#[from] PayloadConversionError),
    /// The peg-ins cannot be minted in one payload.
    #[error("peg-ins: {0}")]
    Withdrawals(#[from] WithdrawalError),
    /// Too many peg-in candidates for one block.
    #[error("too many peg-ins for one block")]
    TooManyPegIns,
    /// Halting rule: the block needs an AuxPoW and no valid proof is pending.
    #[error("production halted: block {height} needs an AuxPoW ({height} − finalized {finalized} > maxBlocksWithoutPow {max}); waiting for a miner to submit one")]
    PowRequired {
        /// Height of the block that would be produced.
        height: u64,
        /// Finalized height of the parent's chain.
        finalized: u64,
        /// `maxBlocksWithoutPow`.
        max: u64,
    },
}

impl<E: ExecutionEngine> Chain<E> {
    /// Build and sign the block for `slot` on top of the current head.
    pub async fn produce_block(
        &self,
        slot: u64,
        signer: &Signer,
    ) -> Result<BlockProposal, ProduceError> {
        let head = self.head().root;
        self.produce_block_on(head, slot, signer).await
    }

    /// Build and sign the block for `slot` on top of `parent_root` (a block in the fork-choice
    /// tree; normally the head).
    pub async fn produce_block_on(
        &self,
        parent_root: alloy_primitives::B256,
        slot: u64,
        signer: &Signer,
    ) -> Result<BlockProposal, ProduceError> {
        let proposer = proposer_index(slot, self.spec.authorities.len());
        if proposer != signer.index() {
            return Err(ProduceError::NotProposer {
                slot,
                proposer,
                signer: signer.index(),
            });
        }
        let parent = self
            .forkchoice
            .get(&parent_root)
            .cloned()
            .ok_or(ProduceError::UnknownParent(parent_root))?;
        if parent.slot >= slot {
            return Err(ProduceError::SlotNotAfterParent {
                slot,
                parent_slot: parent.slot,
            });
        }
        let pegins = self.pegins.candidates(&parent);
        let base = withdrawal_index_base(parent.payload_number.saturating_add(1));
        let mut withdrawals = expected_withdrawals(&pegins, base)?;
        let auxpow = self.pick_auxpow(&parent, base.saturating_add(withdrawals.len() as u64));
        match (&auxpow, &self.pow) {
            (Some((_, v)), _) => withdrawals.extend_from_slice(&v.withdrawals),
            (None, Some(params)) if params.pow_required(&parent) => {
                return Err(ProduceError::PowRequired {
                    height: parent.height.saturating_add(1),
                    finalized: parent.pow.finalized_height,
                    max: params.max_blocks_without_pow,
                })
            }
            _ => {}
        }
        let work = self.pegouts.work(&parent);
        let mints = withdrawals.len() - auxpow.as_ref().map_or(0, |(_, v)| v.withdrawals.len());
        let fees = withdrawals.len() - mints;
        let refunds = crate::validate::refunds_in_block(work.refunds.len(), mints, fees);
        withdrawals.extend(crate::validate::refund_withdrawals(
            &work.refunds[..refunds],
            base.saturating_add(withdrawals.len() as u64),
        ));
        if withdrawals.len() > alys_primitives::payload::MAX_WITHDRAWALS_PER_PAYLOAD {
            return Err(WithdrawalError::TooManyRecipients(withdrawals.len()).into());
        }
        let attrs = PayloadAttributes {
            timestamp: self.clock.slot_start_secs(slot),
            prev_randao: prev_randao(&parent, &parent.approval),
            suggested_fee_recipient: BURN_ADDRESS,
            withdrawals: Some(withdrawals),
            parent_beacon_block_root: Some(parent.root),
            slot_number: None,
            target_gas_limit: None,
        };
        let state = alys_engine::ForkchoiceState {
            head_block_hash: parent.payload_hash,
            ..self.forkchoice_state()
        };
        let updated = self
            .engine
            .forkchoice_updated(state, Some(attrs))
            .await
            .map_err(|source| ProduceError::Engine {
                method: methods::FORKCHOICE_UPDATED_V3,
                source,
            })?;
        let id = updated.payload_id.ok_or_else(|| {
            ProduceError::NoPayloadId(updated.payload_status.status.as_str().into())
        })?;
        let envelope =
            self.engine
                .get_payload(id)
                .await
                .map_err(|source| ProduceError::Engine {
                    method: methods::GET_PAYLOAD_V3,
                    source,
                })?;
        let payload = ExecutionPayload::from_engine(&envelope.execution_payload)?;

        let mut block = ConsensusBlock::new(parent.root, slot, payload);
        block.parent_approval = parent.approval.clone();
        block.pegins = VariableList::new(pegins).map_err(|_| ProduceError::TooManyPegIns)?;
        if let Some((bytes, _)) = auxpow {
            // The header encoding is at most 512 KiB + 68 bytes, under the 1 MiB list bound.
            block.auxpow = ListEncodedOption(VariableList::new(bytes).ok());
        }
        if let Some(tx) = work.proposal {
            // A payout larger than the list bound is not proposed (the ledger caps its size).
            block.pegout_proposal = ListEncodedOption(VariableList::new(tx).ok());
        }
        let mut spends = work.spends;
        spends.truncate(MAX_FEDERATION_SPENDS_PER_BLOCK);
        block.federation_spends = VariableList::new(spends).unwrap_or_default();
        self.check_importable(&block)
            .await
            .map_err(|e| ProduceError::NotImportable(Box::new(e)))?;
        let root = block.root();
        let signature = sign_approval(signer.key(), root, slot, self.approval_domain);
        let proposer_approval = Approval {
            block_root: root,
            slot,
            authority_index: signer.index() as u64,
            signature: FixedBytes(signature.to_bytes()),
        };
        Ok(BlockProposal {
            block,
            proposer_approval,
        })
    }

    /// This node's approval of `block_root` at `slot`.
    pub fn sign_approval(
        &self,
        block_root: alloy_primitives::B256,
        slot: u64,
        signer: &Signer,
    ) -> Approval {
        let signature = sign_approval(signer.key(), block_root, slot, self.approval_domain);
        Approval {
            block_root,
            slot,
            authority_index: signer.index() as u64,
            signature: FixedBytes(signature.to_bytes()),
        }
    }
}
