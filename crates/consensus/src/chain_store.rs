//! Persistence of the consensus chain over `alys_store`.
//!
//! Columns (registered in [`alys_store::columns::consensus`]):
//!
//! | column | key | value |
//! |---|---|---|
//! | `BLOCKS` 0x20 | block root | SSZ `SignedConsensusBlock` |
//! | `BY_HEIGHT` 0x21 | height (u64 BE) ‖ root | empty (every imported block, for restart) |
//! | `CANONICAL` 0x22 | height (u64 BE) | root on the head's chain |
//! | `META` 0x23 | `genesis` / `head` / `finalized` | root |
//! | `HEIGHTS` 0x24 | block root | height (u64 BE) |
//! | `POW` 0x28 | block root | [`PowIndex`] (merged-mining state of the chain ending there) |
//!
//! Schema name `consensus`, version [`SCHEMA_VERSION`]. Each imported block is one atomic
//! batch (block, height index, merged-mining index, canonical index changes, head and, for a
//! block carrying an AuxPoW, the new finalized pointer), so a crash leaves the chain either with
//! or without the block, never in between.

use crate::forkchoice::PowIndex;
use alloy_primitives::B256;
use alys_primitives::SignedConsensusBlock;
use alys_store::{Durability, Store, StoreError, WriteBatch};
use std::sync::Arc;

pub use alys_store::columns::consensus::{BLOCKS, BY_HEIGHT, CANONICAL, HEIGHTS, META, POW};
/// Schema version of the consensus columns (2: merged-mining index per block).
pub const SCHEMA_VERSION: u32 = 2;

const KEY_GENESIS: &[u8] = b"genesis";
const KEY_HEAD: &[u8] = b"head";
const KEY_FINALIZED: &[u8] = b"finalized";
const KEY_LAST_SIGNED_SLOT: &[u8] = b"last-signed-slot";

/// Chain-store errors.
#[derive(Debug, thiserror::Error)]
pub enum ChainStoreError {
    /// The underlying store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored value is not what was written.
    #[error("corrupt consensus store: {0}")]
    Corrupt(String),
    /// The database belongs to another chain.
    #[error("database genesis {stored} differs from the chain spec's genesis {expected}")]
    GenesisMismatch {
        /// Stored genesis root.
        stored: B256,
        /// The spec's genesis root.
        expected: B256,
    },
}

/// Changes to the canonical index when the head moves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanonicalUpdate {
    /// New head.
    pub head: B256,
    /// `(height, root)` entries to (re)write.
    pub set: Vec<(u64, B256)>,
    /// Heights to delete (the old chain was longer).
    pub delete: Vec<u64>,
}

/// The consensus chain's view of the store.
#[derive(Debug, Clone)]
pub struct ChainStore {
    store: Arc<Store>,
}

fn root_from(bytes: Vec<u8>, what: &str) -> Result<B256, ChainStoreError> {
    if bytes.len() != 32 {
        return Err(ChainStoreError::Corrupt(format!(
            "{what}: {} bytes",
            bytes.len()
        )));
    }
    Ok(B256::from_slice(&bytes))
}

fn height_key(height: u64, root: &B256) -> Vec<u8> {
    let mut k = height.to_be_bytes().to_vec();
    k.extend_from_slice(root.as_slice());
    k
}

impl ChainStore {
    /// Open over `store`, writing `genesis` on first use and checking it afterwards.
    pub fn open(
        store: Arc<Store>,
        genesis: &SignedConsensusBlock,
    ) -> Result<Self, ChainStoreError> {
        store.ensure_schema("consensus", SCHEMA_VERSION)?;
        let this = Self { store };
        let root = genesis.root();
        let genesis_pow = PowIndex {
            finalized_root: root,
            pow_time: genesis.message.execution_payload.timestamp,
            ..PowIndex::default()
        };
        if this.store.get(POW, root.as_slice())?.is_none() {
            let mut batch = WriteBatch::new();
            batch.put(POW, root.as_slice(), genesis_pow.encode());
            this.store.write(batch, Durability::Synced)?;
        }
        match this.store.get(META, KEY_GENESIS)? {
            Some(stored) => {
                let stored = root_from(stored, "genesis")?;
                if stored != root {
                    return Err(ChainStoreError::GenesisMismatch {
                        stored,
                        expected: root,
                    });
                }
            }
            None => {
                let mut batch = WriteBatch::new();
                batch.put(BLOCKS, root.as_slice(), genesis.encode());
                batch.put(BY_HEIGHT, &height_key(0, &root), Vec::new());
                batch.put(HEIGHTS, root.as_slice(), 0u64.to_be_bytes().to_vec());
                batch.put(CANONICAL, &0u64.to_be_bytes(), root.to_vec());
                batch.put(META, KEY_HEAD, root.to_vec());
                batch.put(META, KEY_FINALIZED, root.to_vec());
                batch.put(META, KEY_GENESIS, root.to_vec());
                this.store.write(batch, Durability::Synced)?;
            }
        }
        Ok(this)
    }

    /// A block by root.
    pub fn block(&self, root: &B256) -> Result<Option<SignedConsensusBlock>, ChainStoreError> {
        match self.store.get(BLOCKS, root.as_slice())? {
            None => Ok(None),
            Some(bytes) => SignedConsensusBlock::decode(&bytes)
                .map(Some)
                .map_err(|e| ChainStoreError::Corrupt(format!("block {root}: {e}"))),
        }
    }

    /// A stored block with its height (a block without a height is corrupt data).
    pub fn block_at(
        &self,
        root: &B256,
    ) -> Result<Option<(u64, SignedConsensusBlock)>, ChainStoreError> {
        let Some(block) = self.block(root)? else {
            return Ok(None);
        };
        let height = self
            .height_of(root)?
            .ok_or_else(|| ChainStoreError::Corrupt(format!("no height for block {root}")))?;
        Ok(Some((height, block)))
    }

    /// Height of a stored block.
    pub fn height_of(&self, root: &B256) -> Result<Option<u64>, ChainStoreError> {
        match self.store.get(HEIGHTS, root.as_slice())? {
            None => Ok(None),
            Some(v) => <[u8; 8]>::try_from(v.as_slice())
                .map(|b| Some(u64::from_be_bytes(b)))
                .map_err(|_| ChainStoreError::Corrupt(format!("height of {root}"))),
        }
    }

    /// Merged-mining index of a stored block.
    pub fn pow_index(&self, root: &B256) -> Result<Option<PowIndex>, ChainStoreError> {
        match self.store.get(POW, root.as_slice())? {
            None => Ok(None),
            Some(v) => PowIndex::decode(&v)
                .map(Some)
                .ok_or_else(|| ChainStoreError::Corrupt(format!("merged-mining index of {root}"))),
        }
    }

    /// Whether a block is stored.
    pub fn contains(&self, root: &B256) -> Result<bool, ChainStoreError> {
        Ok(self.store.get(BLOCKS, root.as_slice())?.is_some())
    }

    fn meta(&self, key: &[u8]) -> Result<B256, ChainStoreError> {
        let v = self.store.get(META, key)?.ok_or_else(|| {
            ChainStoreError::Corrupt(format!("missing {}", String::from_utf8_lossy(key)))
        })?;
        root_from(v, "meta")
    }

    /// The stored head.
    pub fn head_root(&self) -> Result<B256, ChainStoreError> {
        self.meta(KEY_HEAD)
    }

    /// The stored finalized block.
    pub fn finalized_root(&self) -> Result<B256, ChainStoreError> {
        self.meta(KEY_FINALIZED)
    }

    /// The genesis root.
    pub fn genesis_root(&self) -> Result<B256, ChainStoreError> {
        self.meta(KEY_GENESIS)
    }

    /// Root of the canonical block at `height`.
    pub fn canonical_root(&self, height: u64) -> Result<Option<B256>, ChainStoreError> {
        self.store
            .get(CANONICAL, &height.to_be_bytes())?
            .map(|v| root_from(v, "canonical"))
            .transpose()
    }

    /// All imported blocks at heights ≥ `from`, as `(height, root)` in height order.
    pub fn blocks_from_height(&self, from: u64) -> Result<Vec<(u64, B256)>, ChainStoreError> {
        let mut out = Vec::new();
        for (key, _) in self.store.scan(BY_HEIGHT, &[], &from.to_be_bytes()) {
            if key.len() != 40 {
                return Err(ChainStoreError::Corrupt("height index key".into()));
            }
            let mut h = [0u8; 8];
            h.copy_from_slice(&key[..8]);
            out.push((u64::from_be_bytes(h), B256::from_slice(&key[8..])));
        }
        Ok(out)
    }

    /// The highest slot this node has signed a proposal or an approval for (0 if none): a
    /// restarted node never signs at or below it, so a crash cannot make it sign twice.
    pub fn last_signed_slot(&self) -> Result<u64, ChainStoreError> {
        match self.store.get(META, KEY_LAST_SIGNED_SLOT)? {
            None => Ok(0),
            Some(v) => <[u8; 8]>::try_from(v.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| ChainStoreError::Corrupt("last signed slot".into())),
        }
    }

    /// Record that this node signs for `slot`, synced before the signature leaves the node.
    pub fn put_last_signed_slot(&self, slot: u64) -> Result<(), ChainStoreError> {
        let mut batch = WriteBatch::new();
        batch.put(META, KEY_LAST_SIGNED_SLOT, slot.to_be_bytes().to_vec());
        self.store.write(batch, Durability::Synced)?;
        Ok(())
    }

    /// Persist an imported block at `height` with its merged-mining index, the canonical
    /// changes if the head moved, and the new finalized block if it finalized one: one atomic
    /// batch.
    pub fn put_imported_block(
        &self,
        block: &SignedConsensusBlock,
        height: u64,
        pow: &PowIndex,
        head: Option<&CanonicalUpdate>,
        finalized: Option<&B256>,
    ) -> Result<(), ChainStoreError> {
        let root = block.root();
        let mut batch = WriteBatch::new();
        batch.put(BLOCKS, root.as_slice(), block.encode());
        batch.put(BY_HEIGHT, &height_key(height, &root), Vec::new());
        batch.put(HEIGHTS, root.as_slice(), height.to_be_bytes().to_vec());
        batch.put(POW, root.as_slice(), pow.encode());
        if let Some(update) = head {
            Self::add_canonical(&mut batch, update);
        }
        if let Some(f) = finalized {
            batch.put(META, KEY_FINALIZED, f.to_vec());
        }
        self.store.write(batch, Durability::Synced)?;
        Ok(())
    }

    /// Persist a new finalized block (and head change it caused).
    pub fn put_finalized(
        &self,
        finalized: &B256,
        head: Option<&CanonicalUpdate>,
    ) -> Result<(), ChainStoreError> {
        let mut batch = WriteBatch::new();
        batch.put(META, KEY_FINALIZED, finalized.to_vec());
        if let Some(update) = head {
            Self::add_canonical(&mut batch, update);
        }
        self.store.write(batch, Durability::Synced)?;
        Ok(())
    }

    fn add_canonical(batch: &mut WriteBatch, update: &CanonicalUpdate) {
        for (h, r) in &update.set {
            batch.put(CANONICAL, &h.to_be_bytes(), r.to_vec());
        }
        for h in &update.delete {
            batch.delete(CANONICAL, &h.to_be_bytes());
        }
        batch.put(META, KEY_HEAD, update.head.to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alys_primitives::block::AggregateApproval;
    use alys_primitives::{ConsensusBlock, ExecutionPayload};
    use ssz_types::BitList;

    fn block(parent: B256, slot: u64) -> SignedConsensusBlock {
        SignedConsensusBlock {
            message: ConsensusBlock::new(parent, slot, ExecutionPayload::default()),
            approval: AggregateApproval {
                bitfield: BitList::with_capacity(1).unwrap(),
                signature: Default::default(),
            },
        }
    }

    #[test]
    fn genesis_import_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let g = block(B256::ZERO, 0);
        let b1 = block(g.root(), 1);
        {
            let cs = ChainStore::open(Arc::new(Store::open(dir.path()).unwrap()), &g).unwrap();
            assert_eq!(cs.head_root().unwrap(), g.root());
            let update = CanonicalUpdate {
                head: b1.root(),
                set: vec![(1, b1.root())],
                delete: vec![],
            };
            cs.put_imported_block(&b1, 1, &PowIndex::default(), Some(&update), None)
                .unwrap();
        }
        let cs = ChainStore::open(Arc::new(Store::open(dir.path()).unwrap()), &g).unwrap();
        assert_eq!(cs.head_root().unwrap(), b1.root());
        assert_eq!(cs.finalized_root().unwrap(), g.root());
        assert_eq!(cs.block(&b1.root()).unwrap(), Some(b1.clone()));
        assert_eq!(cs.canonical_root(1).unwrap(), Some(b1.root()));
        assert_eq!(cs.blocks_from_height(1).unwrap(), vec![(1, b1.root())]);
        assert_eq!(cs.blocks_from_height(0).unwrap().len(), 2);
        assert_eq!(cs.height_of(&b1.root()).unwrap(), Some(1));
        drop(cs);
        let other = block(B256::repeat_byte(1), 0);
        assert!(matches!(
            ChainStore::open(Arc::new(Store::open(dir.path()).unwrap()), &other),
            Err(ChainStoreError::GenesisMismatch { .. })
        ));
    }
}
