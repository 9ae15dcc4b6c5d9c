//! The change records and bodies of the blocks this client executed last, kept in memory.
//!
//! The usual life of a block is: executed by `engine_newPayload` (or built), then made head by
//! the next `engine_forkchoiceUpdated`. Moving the head needs the block's change record and
//! transactions; holding the last few here spares decoding them back from the store right after
//! they were encoded into it.

use std::{collections::VecDeque, sync::Arc};

use alloy_primitives::B256;

use crate::db::{BlockChanges, StoredBody};

/// How many executed blocks are kept.
pub const RECENT_BLOCKS: usize = 16;

/// What moving the head onto or off a block needs.
#[derive(Debug)]
pub struct RecentBlock {
    /// The block's flat-state changes.
    pub changes: Arc<BlockChanges>,
    /// The block's transactions and withdrawals.
    pub body: Arc<StoredBody>,
}

/// The last [`RECENT_BLOCKS`] blocks executed and stored, newest last.
#[derive(Debug, Default)]
pub struct RecentBlocks {
    blocks: VecDeque<(B256, Arc<RecentBlock>)>,
}

impl RecentBlocks {
    /// Remembers a block once it is stored.
    pub fn insert(&mut self, hash: B256, block: RecentBlock) {
        if self.blocks.iter().any(|(h, _)| *h == hash) {
            return;
        }
        if self.blocks.len() == RECENT_BLOCKS {
            self.blocks.pop_front();
        }
        self.blocks.push_back((hash, Arc::new(block)));
    }

    /// The block with `hash`, if it is among the recent ones.
    pub fn get(&self, hash: &B256) -> Option<Arc<RecentBlock>> {
        self.blocks
            .iter()
            .rev()
            .find(|(h, _)| h == hash)
            .map(|(_, b)| b.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> RecentBlock {
        RecentBlock {
            changes: Arc::default(),
            body: Arc::new(StoredBody {
                transactions: vec![],
                withdrawals: vec![],
            }),
        }
    }

    #[test]
    fn keeps_the_newest_blocks() {
        let mut recent = RecentBlocks::default();
        for i in 0..=RECENT_BLOCKS as u8 {
            recent.insert(B256::repeat_byte(i), block());
        }
        assert!(
            recent.get(&B256::repeat_byte(0)).is_none(),
            "oldest evicted"
        );
        assert!(recent.get(&B256::repeat_byte(1)).is_some());
        assert!(recent
            .get(&B256::repeat_byte(RECENT_BLOCKS as u8))
            .is_some());
    }
}
