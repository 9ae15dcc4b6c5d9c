//! The service's buffers of messages from peers that cannot be handled yet, each bounded in
//! count and in bytes (the oldest entry goes first when either bound is reached):
//!
//! * [`Orphans`]: signed blocks whose parent is not known yet (imported when it arrives);
//! * [`EarlyProposals`]: proposals for a slot that has not started yet (handled at its tick).
//!
//! The service puts an entry here only after its signatures verified against the authority
//! keys (threshold aggregate for a block, the slot proposer's for a proposal), so a peer
//! without an authority key cannot fill them, and an authority can fill them only up to the
//! bounds.

use alloy_primitives::B256;
use alys_primitives::{BlockProposal, SignedConsensusBlock};
use ssz::Encode;
use std::collections::VecDeque;

/// Orphan blocks kept at most.
pub const MAX_ORPHANS: usize = 64;
/// Bytes (SSZ) of orphan blocks kept at most.
pub const MAX_ORPHAN_BYTES: usize = 64 * 1024 * 1024;
/// Early proposals kept at most.
pub const MAX_EARLY: usize = 16;
/// Bytes (SSZ) of early proposals kept at most.
pub const MAX_EARLY_BYTES: usize = 32 * 1024 * 1024;

/// A FIFO of `(root, item, bytes)` bounded in count and bytes.
#[derive(Debug)]
struct Bounded<T> {
    items: VecDeque<(B256, T, usize)>,
    bytes: usize,
    max_items: usize,
    max_bytes: usize,
}

impl<T> Bounded<T> {
    fn new(max_items: usize, max_bytes: usize) -> Self {
        Self {
            items: VecDeque::new(),
            bytes: 0,
            max_items,
            max_bytes,
        }
    }

    /// Adds `item` unless its root is already in; drops the oldest entries to make room.
    /// Returns whether it was added (an item larger than the byte bound never is).
    fn push(&mut self, root: B256, item: T, bytes: usize) -> bool {
        if bytes > self.max_bytes || self.items.iter().any(|(r, _, _)| *r == root) {
            return false;
        }
        while !self.items.is_empty()
            && (self.items.len() >= self.max_items || self.bytes + bytes > self.max_bytes)
        {
            self.pop_front();
        }
        self.bytes += bytes;
        self.items.push_back((root, item, bytes));
        true
    }

    fn pop_front(&mut self) {
        if let Some((_, _, b)) = self.items.pop_front() {
            self.bytes -= b;
        }
    }

    /// Removes and returns the items for which `f` holds, in insertion order.
    fn take_where(&mut self, mut f: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut out = Vec::new();
        let mut keep = VecDeque::new();
        for (r, item, b) in self.items.drain(..) {
            if f(&item) {
                self.bytes -= b;
                out.push(item);
            } else {
                keep.push_back((r, item, b));
            }
        }
        self.items = keep;
        out
    }
}

/// Signed blocks waiting for their parent.
#[derive(Debug)]
pub struct Orphans(Bounded<SignedConsensusBlock>);

impl Default for Orphans {
    fn default() -> Self {
        Self(Bounded::new(MAX_ORPHANS, MAX_ORPHAN_BYTES))
    }
}

impl Orphans {
    /// Keeps `block` (the caller verified its approval); returns whether it was added.
    pub fn push(&mut self, block: SignedConsensusBlock) -> bool {
        let bytes = block.ssz_bytes_len();
        self.0.push(block.root(), block, bytes)
    }

    /// Removes and returns the blocks for which `f` holds (oldest first).
    pub fn take_where(
        &mut self,
        f: impl FnMut(&SignedConsensusBlock) -> bool,
    ) -> Vec<SignedConsensusBlock> {
        self.0.take_where(f)
    }

    /// Number of blocks kept.
    pub fn len(&self) -> usize {
        self.0.items.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.0.items.is_empty()
    }

    /// Bytes kept.
    pub fn bytes(&self) -> usize {
        self.0.bytes
    }
}

/// Proposals for slots that have not started, each with a value the caller needs back when the
/// slot starts (the peer verdict channel).
#[derive(Debug)]
pub struct EarlyProposals<T>(Bounded<(BlockProposal, Option<T>)>);

impl<T> Default for EarlyProposals<T> {
    fn default() -> Self {
        Self(Bounded::new(MAX_EARLY, MAX_EARLY_BYTES))
    }
}

impl<T> EarlyProposals<T> {
    /// Keeps `proposal` (the caller verified its proposer's signature) with `extra`; returns
    /// whether it was added.
    pub fn push(&mut self, proposal: BlockProposal, extra: Option<T>) -> bool {
        let bytes = proposal.ssz_bytes_len();
        let root = proposal.block.root();
        self.0.push(root, (proposal, extra), bytes)
    }

    /// Removes and returns the proposals whose slot is at most `slot`, oldest first.
    pub fn take_due(&mut self, slot: u64) -> Vec<(BlockProposal, Option<T>)> {
        self.0.take_where(|(p, _)| p.block.slot <= slot)
    }

    /// Drops the proposals below `slot`.
    pub fn prune_below(&mut self, slot: u64) {
        self.0.take_where(|(p, _)| p.block.slot < slot);
    }

    /// Number kept.
    pub fn len(&self) -> usize {
        self.0.items.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.0.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_in_count_and_bytes_oldest_first() {
        let mut b = Bounded::new(3, 100);
        for i in 0..10u8 {
            assert!(b.push(B256::repeat_byte(i), i, 10));
            assert!(b.items.len() <= 3);
        }
        assert_eq!(b.take_where(|_| true), vec![7, 8, 9]);
        assert_eq!(b.bytes, 0);
        assert!(b.push(B256::repeat_byte(1), 1, 60));
        assert!(!b.push(B256::repeat_byte(1), 1, 60), "same root twice");
        assert!(b.push(B256::repeat_byte(2), 2, 60));
        assert_eq!(b.items.len(), 1, "bytes bound dropped the oldest");
        assert_eq!(b.bytes, 60);
        assert!(
            !b.push(B256::repeat_byte(3), 3, 101),
            "larger than the bound"
        );
    }
}
