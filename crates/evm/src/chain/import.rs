//! Block import: checks a block against its parent, executes it on the parent's state and
//! compares every computed root and total with the header.

use alloy::consensus::{Block, Header, TxEnvelope};
use alloy_primitives::B256;

use super::{Chain, ChainError};
use crate::{
    execute::{execute_block, BlockContext, ExecError, ExecutedBlock, Mode},
    header_rules::check_header_against_parent,
    sender_recovery::with_recovered_senders,
};

/// Why a block was not imported.
pub(super) enum ImportError {
    /// The block is invalid (the reason is the Engine API's `validationError`).
    Invalid(String),
    /// The chain failed for a reason that is not the block's fault.
    Chain(ChainError),
}

impl Chain {
    /// Validates and executes `block` on top of `parent`; does not store it.
    pub(super) fn import_block(
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
            execute_block(
                view,
                &self.schedule,
                &self.collision_targets,
                &ctx,
                txs,
                Mode::Import,
            )
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
}
