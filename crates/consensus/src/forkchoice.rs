//! Fork choice: the tree of imported (hence approved and EL-valid) blocks rooted at the last
//! finalized block, and its head.
//!
//! Head rule (DESIGN §4): the longest chain from the finalized block; among equally long tips
//! the one with the lower slot, then the lower root. The order is total, so every node with
//! the same blocks picks the same head, independently of arrival order. Only descendants of
//! the finalized block are ever in the tree, so the head can never move below it; a block
//! whose parent is not in the tree is refused.

use alloy_primitives::{B256, U256};
use alys_primitives::block::AggregateApproval;
use alys_primitives::SignedConsensusBlock;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// What fork choice (and validation of children) needs to know about a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Block root.
    pub root: B256,
    /// Parent root.
    pub parent_root: B256,
    /// Slot.
    pub slot: u64,
    /// Number of blocks since genesis (genesis = 0).
    pub height: u64,
    /// Execution block hash of its payload.
    pub payload_hash: B256,
    /// Execution block number of its payload.
    pub payload_number: u64,
    /// Payload timestamp (seconds).
    pub timestamp: u64,
    /// The aggregate approval this node holds for the block (what a child produced here
    /// carries as its `parent_approval`).
    pub approval: AggregateApproval,
    /// Merged-mining state of the chain ending at this block.
    pub pow: PowIndex,
}

/// Merged-mining facts of the chain ending at a block, derived from chain data only (the
/// block and its ancestors), so every node computes the same values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PowIndex {
    /// Height of the newest block finalized by an AuxPoW in this chain (genesis: 0).
    pub finalized_height: u64,
    /// Root of that block.
    pub finalized_root: B256,
    /// Number of PoW-carrying blocks in this chain (the ASERT "height").
    pub pow_count: u64,
    /// Slot start (seconds) of the newest PoW-carrying block, genesis time if none (the ASERT
    /// "time").
    pub pow_time: u64,
    /// Priority fees (wei) of every block from genesis up to and including this one.
    pub cum_fees: U256,
}

impl PowIndex {
    /// Fixed encoded size.
    pub const ENCODED_LEN: usize = 8 + 32 + 8 + 8 + 32;

    /// Fixed-size big-endian encoding (store value).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::ENCODED_LEN);
        out.extend_from_slice(&self.finalized_height.to_be_bytes());
        out.extend_from_slice(self.finalized_root.as_slice());
        out.extend_from_slice(&self.pow_count.to_be_bytes());
        out.extend_from_slice(&self.pow_time.to_be_bytes());
        out.extend_from_slice(&self.cum_fees.to_be_bytes::<32>());
        out
    }

    /// Decodes [`PowIndex::encode`]; `None` if the length is wrong.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != Self::ENCODED_LEN {
            return None;
        }
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_be_bytes(a)
        };
        Some(Self {
            finalized_height: u64_at(0),
            finalized_root: B256::from_slice(&b[8..40]),
            pow_count: u64_at(40),
            pow_time: u64_at(48),
            cum_fees: U256::from_be_slice(&b[56..88]),
        })
    }
}

impl BlockInfo {
    /// Info of a signed block at `height`.
    pub fn from_signed(block: &SignedConsensusBlock, height: u64) -> Self {
        let p = &block.message.execution_payload;
        Self {
            root: block.root(),
            parent_root: block.message.parent_root,
            slot: block.message.slot,
            height,
            payload_hash: p.block_hash,
            payload_number: p.block_number,
            timestamp: p.timestamp,
            approval: block.approval.clone(),
            pow: PowIndex::default(),
        }
    }

    /// [`BlockInfo::from_signed`] with its merged-mining index.
    pub fn with_pow(mut self, pow: PowIndex) -> Self {
        self.pow = pow;
        self
    }
}

/// The `prevRandao` of a child of `parent` carrying `parent_approval`: sha256 of the
/// parent's aggregate signature bytes, zero on top of genesis.
pub fn prev_randao(parent: &BlockInfo, parent_approval: &AggregateApproval) -> B256 {
    if parent.height == 0 {
        B256::ZERO
    } else {
        B256::from_slice(&Sha256::digest(parent_approval.signature.as_slice()))
    }
}

/// Fork-choice errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForkChoiceError {
    /// The parent is not in the tree (unknown, or not a descendant of the finalized block).
    #[error("parent {0} is not in the fork-choice tree")]
    ParentNotInTree(B256),
    /// The block is not in the tree.
    #[error("block {0} is not in the fork-choice tree")]
    UnknownBlock(B256),
    /// Finalizing a block at or below the current finalized height.
    #[error("block {root} at height {height} is not above the finalized height {finalized}")]
    NotAboveFinalized {
        /// The block.
        root: B256,
        /// Its height.
        height: u64,
        /// Finalized height.
        finalized: u64,
    },
}

/// The block tree and its head.
#[derive(Debug, Clone)]
pub struct ForkChoice {
    nodes: HashMap<B256, BlockInfo>,
    children: HashMap<B256, Vec<B256>>,
    finalized: B256,
    head: B256,
}

/// Is `a` a better head than `b`?
pub fn is_better(a: &BlockInfo, b: &BlockInfo) -> bool {
    (
        a.height,
        std::cmp::Reverse(a.slot),
        std::cmp::Reverse(a.root),
    ) > (
        b.height,
        std::cmp::Reverse(b.slot),
        std::cmp::Reverse(b.root),
    )
}

impl ForkChoice {
    /// A tree containing only the finalized block.
    pub fn new(finalized: BlockInfo) -> Self {
        let root = finalized.root;
        let mut nodes = HashMap::new();
        nodes.insert(root, finalized);
        Self {
            nodes,
            children: HashMap::new(),
            finalized: root,
            head: root,
        }
    }

    /// Whether `root` is in the tree.
    pub fn contains(&self, root: &B256) -> bool {
        self.nodes.contains_key(root)
    }

    /// Info of a block in the tree.
    pub fn get(&self, root: &B256) -> Option<&BlockInfo> {
        self.nodes.get(root)
    }

    /// The head.
    pub fn head(&self) -> &BlockInfo {
        // The head is always in the tree (maintained by every mutation).
        &self.nodes[&self.head]
    }

    /// The finalized block.
    pub fn finalized(&self) -> &BlockInfo {
        &self.nodes[&self.finalized]
    }

    /// Number of blocks in the tree.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree holds only the finalized block.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    /// Add an imported block; returns whether the head changed to it.
    pub fn insert(&mut self, info: BlockInfo) -> Result<bool, ForkChoiceError> {
        if self.nodes.contains_key(&info.root) {
            return Ok(false);
        }
        if !self.nodes.contains_key(&info.parent_root) {
            return Err(ForkChoiceError::ParentNotInTree(info.parent_root));
        }
        let root = info.root;
        self.children
            .entry(info.parent_root)
            .or_default()
            .push(root);
        let better = is_better(&info, self.head());
        self.nodes.insert(root, info);
        if better {
            self.head = root;
        }
        Ok(better)
    }

    /// Remove a leaf just inserted (rollback when persisting it failed).
    pub fn remove_leaf(&mut self, root: &B256) {
        if *root == self.finalized || self.children.get(root).is_some_and(|c| !c.is_empty()) {
            return;
        }
        if let Some(info) = self.nodes.remove(root) {
            if let Some(siblings) = self.children.get_mut(&info.parent_root) {
                siblings.retain(|r| r != root);
            }
            if self.head == *root {
                self.recompute_head();
            }
        }
    }

    /// Blocks from the finalized block (exclusive) to `root` (inclusive), oldest first.
    pub fn chain_to(&self, root: &B256) -> Vec<BlockInfo> {
        let mut out = Vec::new();
        let mut cur = *root;
        while cur != self.finalized {
            let Some(info) = self.nodes.get(&cur) else {
                break;
            };
            out.push(info.clone());
            cur = info.parent_root;
        }
        out.reverse();
        out
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors within the tree.
    pub fn is_ancestor(&self, ancestor: &B256, descendant: &B256) -> bool {
        let mut cur = *descendant;
        loop {
            if cur == *ancestor {
                return true;
            }
            match self.nodes.get(&cur) {
                Some(info) if cur != self.finalized => cur = info.parent_root,
                _ => return false,
            }
        }
    }

    /// Make `root` the finalized block: everything not descending from it is pruned and the
    /// head is re-chosen within its subtree. Returns the pruned roots.
    pub fn finalize(&mut self, root: B256) -> Result<Vec<B256>, ForkChoiceError> {
        let info = self
            .nodes
            .get(&root)
            .ok_or(ForkChoiceError::UnknownBlock(root))?;
        let finalized_height = self.finalized().height;
        if root == self.finalized {
            return Ok(Vec::new());
        }
        if info.height <= finalized_height {
            return Err(ForkChoiceError::NotAboveFinalized {
                root,
                height: info.height,
                finalized: finalized_height,
            });
        }
        let mut keep = std::collections::HashSet::new();
        let mut stack = vec![root];
        while let Some(r) = stack.pop() {
            keep.insert(r);
            if let Some(c) = self.children.get(&r) {
                stack.extend(c.iter().copied());
            }
        }
        let pruned: Vec<B256> = self
            .nodes
            .keys()
            .filter(|r| !keep.contains(*r))
            .copied()
            .collect();
        for r in &pruned {
            self.nodes.remove(r);
            self.children.remove(r);
        }
        self.finalized = root;
        if !keep.contains(&self.head) {
            self.recompute_head();
        }
        Ok(pruned)
    }

    fn recompute_head(&mut self) {
        let mut best = self.finalized;
        for info in self.nodes.values() {
            if is_better(info, &self.nodes[&best]) {
                best = info.root;
            }
        }
        self.head = best;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(root: u8, parent: u8, slot: u64, height: u64) -> BlockInfo {
        BlockInfo {
            root: B256::repeat_byte(root),
            parent_root: B256::repeat_byte(parent),
            slot,
            height,
            payload_hash: B256::ZERO,
            payload_number: height,
            timestamp: slot,
            approval: AggregateApproval::empty(0),
            pow: PowIndex::default(),
        }
    }

    #[test]
    fn longest_then_lower_slot_then_lower_root() {
        let mut fc = ForkChoice::new(info(0, 0, 0, 0));
        assert!(fc.insert(info(1, 0, 1, 1)).unwrap());
        // same height, later slot: not better
        assert!(!fc.insert(info(2, 0, 2, 1)).unwrap());
        assert_eq!(fc.head().root, B256::repeat_byte(1));
        // longer branch on 2 wins
        assert!(fc.insert(info(0x30, 2, 3, 2)).unwrap());
        // same height, same slot, lower root wins
        assert!(fc.insert(info(0x20, 1, 3, 2)).unwrap());
        // same height, higher slot loses
        assert!(!fc.insert(info(0x10, 1, 4, 2)).unwrap());
        assert_eq!(fc.head().root, B256::repeat_byte(0x20));
        assert_eq!(
            fc.insert(info(9, 8, 4, 3)),
            Err(ForkChoiceError::ParentNotInTree(B256::repeat_byte(8)))
        );
    }

    #[test]
    fn insertion_order_does_not_matter() {
        let blocks = [
            info(1, 0, 1, 1),
            info(2, 0, 2, 1),
            info(3, 1, 3, 2),
            info(4, 2, 3, 2),
            info(5, 2, 4, 2),
        ];
        let mut a = ForkChoice::new(info(0, 0, 0, 0));
        for b in blocks.iter() {
            a.insert(b.clone()).unwrap();
        }
        let mut b = ForkChoice::new(info(0, 0, 0, 0));
        for i in [1, 0, 4, 3, 2] {
            let blk = &blocks[i];
            if b.insert(blk.clone()).is_err() {
                continue;
            }
        }
        // insert the ones skipped because their parent came later
        for blk in blocks.iter() {
            let _ = b.insert(blk.clone());
        }
        assert_eq!(a.head().root, b.head().root);
        assert_eq!(a.head().root, B256::repeat_byte(3));
    }

    #[test]
    fn finalize_prunes_and_never_goes_back() {
        let mut fc = ForkChoice::new(info(0, 0, 0, 0));
        fc.insert(info(1, 0, 1, 1)).unwrap();
        fc.insert(info(2, 1, 2, 2)).unwrap();
        fc.insert(info(3, 0, 3, 1)).unwrap();
        fc.insert(info(4, 3, 4, 2)).unwrap();
        fc.insert(info(5, 4, 5, 3)).unwrap();
        assert_eq!(fc.head().root, B256::repeat_byte(5));
        // finalize the shorter branch: head moves onto it
        let pruned = fc.finalize(B256::repeat_byte(2)).unwrap();
        assert_eq!(pruned.len(), 5);
        assert_eq!(fc.head().root, B256::repeat_byte(2));
        assert!(!fc.contains(&B256::repeat_byte(5)));
        // a block on the pruned branch can never come back
        assert!(fc.insert(info(6, 5, 6, 4)).is_err());
        assert!(matches!(
            fc.finalize(B256::repeat_byte(1)),
            Err(ForkChoiceError::UnknownBlock(_))
        ));
        assert_eq!(fc.chain_to(&B256::repeat_byte(2)), vec![]);
    }

    #[test]
    fn remove_leaf_rolls_back_head() {
        let mut fc = ForkChoice::new(info(0, 0, 0, 0));
        fc.insert(info(1, 0, 1, 1)).unwrap();
        fc.insert(info(2, 1, 2, 2)).unwrap();
        fc.remove_leaf(&B256::repeat_byte(2));
        assert_eq!(fc.head().root, B256::repeat_byte(1));
        assert_eq!(fc.chain_to(&B256::repeat_byte(1)).len(), 1);
        assert!(fc.is_ancestor(&B256::repeat_byte(0), &B256::repeat_byte(1)));
    }
}
