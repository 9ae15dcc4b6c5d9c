//! Payload building: `engine_forkchoiceUpdated` with attributes builds a block on the head from
//! the pool's best transactions, stores it like an imported block and keeps it for
//! `engine_getPayload`.
//!
//! The pool is read in two short locks (its senders, then the ordered transactions once their
//! nonces are read from state); execution runs with the pool free, so transaction submissions
//! never wait for a block being built.

use std::collections::HashMap;

use alloy::consensus::{Block, Transaction as _};
use alloy::eips::{eip1559::BaseFeeParams, eip7840::BlobParams};
use alloy::rpc::types::engine::{
    BlobsBundleV1, ExecutionPayloadEnvelopeV3, ExecutionPayloadV3, PayloadAttributes, PayloadId,
};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};

use super::{engine::ForkchoiceError, Chain, ChainError};
use crate::{
    execute::{execute_block, BlockContext, ExecutedBlock, Mode},
    rlp::rlp_bytes,
    state::StateView,
    txpool::SharedPool,
};

/// Built payloads kept for `getPayload`.
const MAX_BUILT_PAYLOADS: usize = 64;

/// A payload built by `forkchoiceUpdated` with attributes.
#[derive(Debug, Clone)]
pub struct BuiltPayload {
    /// The executed block.
    pub block: ExecutedBlock,
    /// Sum of the priority fees paid to the fee recipient.
    pub fees: U256,
}

/// The last [`MAX_BUILT_PAYLOADS`] payloads built, oldest first.
#[derive(Debug, Default)]
pub(super) struct BuiltPayloads {
    payloads: Vec<(PayloadId, BuiltPayload)>,
}

impl BuiltPayloads {
    fn get(&self, id: PayloadId) -> Option<&BuiltPayload> {
        self.payloads.iter().find(|(i, _)| *i == id).map(|(_, p)| p)
    }

    fn insert(&mut self, id: PayloadId, payload: BuiltPayload) {
        if self.payloads.len() >= MAX_BUILT_PAYLOADS {
            self.payloads.remove(0);
        }
        self.payloads.push((id, payload));
    }
}

/// A point where a test holds the builder: after the transactions are taken from the pool,
/// before they are executed (the chain lock is held throughout).
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct BuildHold {
    /// Told the number of transactions taken once the builder reaches the point.
    pub reached: std::sync::mpsc::Sender<usize>,
    /// The builder waits here for a message (or the sender's drop).
    pub release: std::sync::mpsc::Receiver<()>,
}

/// The pool's executable transactions against `view`, best tip first; the pool is locked only
/// to list senders and to order their transactions, not while state is read.
fn best_transactions(
    pool: &SharedPool,
    view: &StateView,
    base_fee: u64,
) -> Vec<alloy::consensus::transaction::Recovered<alloy::consensus::TxEnvelope>> {
    let senders: Vec<Address> = pool.lock().senders().copied().collect();
    let nonces: HashMap<Address, u64> = senders
        .into_iter()
        .filter_map(|s| Some((s, view.account(&s).ok()?.map_or(0, |a| a.nonce))))
        .collect();
    pool.lock()
        .best_transactions(|s| nonces.get(s).copied(), base_fee)
}

impl Chain {
    /// Builds a payload on the head for `attrs`, stores it and keeps it under its id.
    pub(super) fn build_payload(
        &mut self,
        attrs: PayloadAttributes,
    ) -> Result<PayloadId, ForkchoiceError> {
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
        if self.built.get(id).is_some() {
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
        let txs = best_transactions(&self.pool, &view, ctx.base_fee);
        #[cfg(test)]
        if let Some(hold) = &self.build_hold {
            let _ = hold.reached.send(txs.len());
            let _ = hold.release.recv();
        }
        let executed = execute_block(
            view,
            &self.schedule,
            &self.collision_targets,
            &ctx,
            txs,
            Mode::Build,
        )
        .map_err(|e| ForkchoiceError::Chain(e.into()))?;
        let fees = executed
            .receipts
            .iter()
            .zip(&executed.body.transactions)
            .fold((U256::ZERO, 0u64), |(acc, prev_cum), (r, tx)| {
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
        self.built.insert(
            id,
            BuiltPayload {
                block: executed,
                fees,
            },
        );
        Ok(id)
    }

    /// `engine_getPayload`: a payload built earlier, or `None` if the id is unknown.
    pub fn get_payload(&self, id: PayloadId) -> Option<ExecutionPayloadEnvelopeV3> {
        let built = self.built.get(id)?;
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
