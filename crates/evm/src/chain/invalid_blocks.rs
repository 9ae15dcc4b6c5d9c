//! The invalid-block cache: blocks `engine_newPayload` found invalid, remembered with their
//! reason and latest valid ancestor so that the block, its descendants and a forkchoice onto
//! them are answered INVALID without executing anything again.

use std::collections::HashMap;

use alloy_primitives::B256;

/// Invalid blocks remembered for `latestValidHash` answers.
const MAX_INVALID: usize = 1024;

/// Why a block is invalid and the latest valid block on its branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InvalidBlock {
    /// The latest valid ancestor (`None`: unknown).
    pub latest_valid: Option<B256>,
    /// The validation error.
    pub reason: String,
}

/// Recently found invalid blocks, at most [`MAX_INVALID`] (cleared wholesale when full).
#[derive(Debug, Default)]
pub(super) struct InvalidBlocks {
    blocks: HashMap<B256, InvalidBlock>,
}

impl InvalidBlocks {
    /// The verdict on `hash`, if it was found invalid.
    pub(super) fn get(&self, hash: &B256) -> Option<&InvalidBlock> {
        self.blocks.get(hash)
    }

    /// Remembers `hash` as invalid.
    pub(super) fn insert(&mut self, hash: B256, latest_valid: Option<B256>, reason: String) {
        if self.blocks.len() >= MAX_INVALID {
            self.blocks.clear();
        }
        self.blocks.insert(
            hash,
            InvalidBlock {
                latest_valid,
                reason,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_reason_and_latest_valid_and_stays_bounded() {
        let mut cache = InvalidBlocks::default();
        let parent = B256::repeat_byte(1);
        cache.insert(B256::repeat_byte(2), Some(parent), "bad root".into());
        assert_eq!(
            cache.get(&B256::repeat_byte(2)),
            Some(&InvalidBlock {
                latest_valid: Some(parent),
                reason: "bad root".into()
            })
        );
        assert_eq!(cache.get(&parent), None);
        for i in 0..(MAX_INVALID as u64 + 1) {
            cache.insert(B256::left_padding_from(&i.to_be_bytes()), None, "x".into());
        }
        assert!(cache.blocks.len() <= MAX_INVALID);
    }
}
