//! The canonical head and reorgs.
//!
//! Moving the head to another block walks both branches down to their common ancestor
//! ([`Chain::path_to`]), unwinds the old branch's change records from flat state and applies the
//! new branch's, rewrites the canonical index, all in one batch; then it hands the pool what
//! was mined and what was reorged out, and publishes the new head ([`CanonicalHead`]) to
//! whoever watches it (pool submissions, chain events). The same walk yields the overlay that
//! shows the state after a non-head block.

use alloy::consensus::{Header, TxEnvelope};
use alloy_primitives::B256;
use alys_store::{Durability, WriteBatch};

use super::{Chain, ChainError};
use crate::{
    db::{Direction, ElDb},
    state::Overlay,
};

/// The canonical head as published to watchers: the header and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalHead {
    /// Head header.
    pub header: Header,
    /// Head hash.
    pub hash: B256,
}

/// Blocks (number, hash) along a path through the block tree.
type BlockPath = Vec<(u64, B256)>;

impl Chain {
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

    /// The change records leading from the head's flat state to the state after `target`.
    pub(super) fn overlay_to(&self, target: B256, number: u64) -> Result<Overlay, ChainError> {
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

    /// Moves the canonical head to `target`, unwinding and re-applying change records.
    pub(super) fn set_head(&mut self, target: B256) -> Result<(), ChainError> {
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
        self.pool.lock().on_reorg(reinject, &mined);
        self.head_watch.send_replace(CanonicalHead {
            header: self.head.clone(),
            hash: target,
        });
        Ok(())
    }

    /// Whether `hash` is zero (unset), the head, or an ancestor of `head`.
    ///
    /// Walks back from `head` only until a block of the current canonical chain (at once when
    /// `head` extends it, as it does outside reorgs), then answers from the canonical index: the
    /// cost does not grow with the distance to `hash` (the finalized block can be thousands of
    /// blocks back while no proof of work arrives).
    pub(super) fn is_canonical_ancestor(
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
            if number <= self.head.number && self.db.canonical_hash(number)? == Some(cursor) {
                return Ok(self.db.canonical_hash(h.number)? == Some(hash));
            }
            cursor = self
                .db
                .header(&cursor)?
                .ok_or(ChainError::MissingBlock(cursor))?
                .parent_hash;
            number -= 1;
        }
        Ok(cursor == hash)
    }
}
