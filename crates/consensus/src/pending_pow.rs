//! Submitted AuxPoW proofs waiting for a proposer: checked against the head when they arrive,
//! kept (at most [`MAX_PENDING_AUXPOW`]) until a block includes one or finality makes them
//! stale, and picked by [`Chain::produce_block_on`](crate::Chain::produce_block_on): the valid
//! one covering the most blocks.

use crate::chain::{Chain, MAX_PENDING_AUXPOW};
use crate::forkchoice::BlockInfo;
use crate::pow::{check_auxpow, PowError, VerifiedPow};
use alys_engine::ExecutionEngine;
use alys_primitives::AuxPowHeader;

impl<E: ExecutionEngine> Chain<E> {
    /// Adds a submitted proof if it is valid for a child of the current head. Returns whether
    /// it is new (a caller gossips new proofs), or why it is invalid.
    pub fn add_pending_auxpow(&mut self, header: AuxPowHeader) -> Result<bool, PowError> {
        if self.pending_auxpow.contains(&header) {
            return Ok(false);
        }
        let head = self.head().clone();
        let bytes = header.encode();
        check_auxpow(&self.spec, self.pow.as_ref(), self, &head, Some(&bytes), 0)?;
        if self.pending_auxpow.len() >= MAX_PENDING_AUXPOW {
            self.pending_auxpow.remove(0);
        }
        self.pending_auxpow.push(header);
        Ok(true)
    }

    /// Drops proofs whose range start is already finalized.
    pub(crate) fn prune_pending_auxpow(&mut self) {
        let finalized = self.finalized().height;
        self.pending_auxpow.retain(|h| h.range_start > finalized);
    }

    /// The pending proof a child of `parent` should carry: valid on `parent`, covering the most
    /// blocks. Fee withdrawals are indexed from `first_index`.
    pub(crate) fn pick_auxpow(
        &self,
        parent: &BlockInfo,
        first_index: u64,
    ) -> Option<(Vec<u8>, VerifiedPow)> {
        let mut best: Option<(Vec<u8>, VerifiedPow)> = None;
        for header in &self.pending_auxpow {
            let bytes = header.encode();
            let Ok(Some(v)) = check_auxpow(
                &self.spec,
                self.pow.as_ref(),
                self,
                parent,
                Some(&bytes),
                first_index,
            ) else {
                continue;
            };
            if best
                .as_ref()
                .is_none_or(|(_, b)| v.range_end_height > b.range_end_height)
            {
                best = Some((bytes, v));
            }
        }
        best
    }
}
