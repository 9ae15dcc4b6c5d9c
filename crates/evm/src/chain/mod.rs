//! The execution chain: executed blocks, the canonical head and the fork choice pointers.
//!
//! [`Chain`] is what the Engine API drives. This module owns the chain's state and its store
//! access (opening, state views, storing executed blocks); the rest is split by job:
//!
//! * [`engine`]: the Engine API state machine, [`Chain::new_payload`] and
//!   [`Chain::forkchoice_updated`];
//! * [`import`]: validating and executing a block on its parent's state;
//! * [`canonical`]: the canonical head, reorgs and state views of non-head blocks;
//! * [`payload_builder`]: building payloads from the pool, [`Chain::get_payload`];
//! * [`invalid_blocks`]: the cache of blocks found invalid;
//! * [`error`]: the chain's own failures, [`ChainError`].
//!
//! Each block write is one atomic batch, so a crash leaves the chain at a consistent head. The
//! transaction pool is shared with the RPC under a lock of its own ([`SharedPool`]), and the
//! head is published on a watch channel ([`Chain::watch_head`]), so submissions need neither
//! the chain nor its lock.

mod canonical;
mod engine;
pub(crate) mod error;
mod import;
mod invalid_blocks;
mod payload_builder;

use std::sync::Arc;

use alloy::consensus::Header;
use alloy_genesis::Genesis;
use alloy_primitives::B256;
use alys_store::{Durability, Store, WriteBatch};
use parking_lot::Mutex;
use tokio::sync::watch;

pub use canonical::CanonicalHead;
pub use engine::ForkchoiceError;
pub use error::ChainError;
#[cfg(test)]
pub(crate) use payload_builder::BuildHold;
pub use payload_builder::BuiltPayload;

use crate::{
    create_collision::StorageOnlyAccounts,
    db::{DbError, ElDb, StoredBody},
    execute::{ExecTimings, ExecutedBlock},
    forks::ForkSchedule,
    genesis::genesis_block,
    recent_blocks::{RecentBlock, RecentBlocks},
    state::{Ancestry, StateView},
    txpool::{SharedPool, TxPool},
};

/// The chain shared between the Engine API and the RPC servers.
pub type SharedChain = Arc<Mutex<Chain>>;

/// The execution chain state machine.
#[derive(Debug)]
pub struct Chain {
    db: ElDb,
    schedule: ForkSchedule,
    /// The genesis accounts a creation can collide with by storage alone (EIP-7610).
    collision_targets: StorageOnlyAccounts,
    genesis_hash: B256,
    head: Header,
    head_hash: B256,
    head_watch: watch::Sender<CanonicalHead>,
    safe: B256,
    finalized: B256,
    invalid: invalid_blocks::InvalidBlocks,
    built: payload_builder::BuiltPayloads,
    last_import: Option<ExecTimings>,
    recent: RecentBlocks,
    pool: SharedPool,
    #[cfg(test)]
    pub(crate) build_hold: Option<payload_builder::BuildHold>,
}

impl Chain {
    /// Opens the chain in `store`, writing `genesis` on first start.
    pub fn open(store: Arc<Store>, genesis: &Genesis) -> Result<Self, ChainError> {
        let db = ElDb::new(store)?;
        let schedule = ForkSchedule::from_chain_config(&genesis.config)?;
        let (genesis_header, genesis_batch) = genesis_block(&db, genesis)?;
        let genesis_hash = genesis_header.hash_slow();
        match db.canonical_hash(0)? {
            Some(stored) if stored != genesis_hash => {
                return Err(ChainError::GenesisMismatch {
                    stored,
                    expected: genesis_hash,
                })
            }
            Some(_) => {}
            None => db.write(genesis_batch, Durability::Synced)?,
        }
        let head_hash = db.pointer("head")?.unwrap_or(genesis_hash);
        let head = db
            .header(&head_hash)?
            .ok_or(ChainError::MissingBlock(head_hash))?;
        let safe = db.pointer("safe")?.unwrap_or(genesis_hash);
        let finalized = db.pointer("finalized")?.unwrap_or(genesis_hash);
        let head_watch = watch::Sender::new(CanonicalHead {
            header: head.clone(),
            hash: head_hash,
        });
        Ok(Self {
            pool: Arc::new(Mutex::new(TxPool::new(schedule.chain_id))),
            db,
            schedule,
            collision_targets: StorageOnlyAccounts::from_alloc(&genesis.alloc),
            genesis_hash,
            head,
            head_hash,
            head_watch,
            safe,
            finalized,
            invalid: Default::default(),
            built: Default::default(),
            last_import: None,
            recent: RecentBlocks::default(),
            #[cfg(test)]
            build_hold: None,
        })
    }

    /// The database.
    pub fn db(&self) -> &ElDb {
        &self.db
    }

    /// The fork schedule.
    pub fn schedule(&self) -> &ForkSchedule {
        &self.schedule
    }

    /// The genesis accounts a creation can collide with by storage alone (EIP-7610).
    pub fn collision_targets(&self) -> &StorageOnlyAccounts {
        &self.collision_targets
    }

    /// Genesis block hash.
    pub fn genesis_hash(&self) -> B256 {
        self.genesis_hash
    }

    /// Canonical head header and hash.
    pub fn head(&self) -> (&Header, B256) {
        (&self.head, self.head_hash)
    }

    /// The canonical head as it moves: a receiver marked changed on every head change.
    pub fn watch_head(&self) -> watch::Receiver<CanonicalHead> {
        self.head_watch.subscribe()
    }

    /// The pending transactions (locked on their own, never while waiting for the chain).
    pub fn pool(&self) -> &SharedPool {
        &self.pool
    }

    /// Timings of the last block imported by `new_payload` (execution and state root).
    pub fn last_import_timings(&self) -> Option<ExecTimings> {
        self.last_import
    }

    /// Safe block hash.
    pub fn safe(&self) -> B256 {
        self.safe
    }

    /// Finalized block hash.
    pub fn finalized(&self) -> B256 {
        self.finalized
    }

    /// A view of the state after block `hash` (which must be executed and stored).
    pub fn state_at(&self, hash: B256) -> Result<StateView, ChainError> {
        let header = self
            .db
            .header(&hash)?
            .ok_or(ChainError::MissingBlock(hash))?;
        let overlay = self.overlay_to(hash, header.number)?;
        Ok(StateView::new(
            self.db.clone(),
            overlay,
            Ancestry {
                number: header.number,
                hash,
            },
        ))
    }

    /// Whether `hash` is executed and stored.
    pub fn is_known(&self, hash: &B256) -> Result<bool, ChainError> {
        Ok(self.recent.get(hash).is_some() || self.db.has_changes(hash)?)
    }

    /// The change record and body of an executed block: from memory for the last blocks
    /// executed, otherwise from the store.
    fn recent_block(&self, hash: &B256) -> Result<Arc<RecentBlock>, ChainError> {
        if let Some(block) = self.recent.get(hash) {
            return Ok(block);
        }
        let changes = self
            .db
            .changes(hash)?
            .ok_or(ChainError::MissingBlock(*hash))?;
        let body = self.db.body(hash)?.ok_or(ChainError::MissingBlock(*hash))?;
        Ok(Arc::new(RecentBlock {
            changes: Arc::new(changes),
            body: Arc::new(body),
        }))
    }

    /// Stores an executed block in one batch, then keeps its new trie nodes in the node cache
    /// and its change record and body among the recent blocks.
    fn persist(&mut self, executed: &ExecutedBlock) -> Result<(), DbError> {
        let mut batch = WriteBatch::new();
        ElDb::put_nodes_and_code(&mut batch, &executed.trie_nodes, &executed.code);
        ElDb::put_block(
            &mut batch,
            executed.hash,
            &executed.header,
            &executed.body,
            &executed.receipts,
            &executed.changes,
        );
        self.db.write(batch, Durability::Buffered)?;
        self.db.cache_nodes(&executed.trie_nodes);
        self.recent.insert(
            executed.hash,
            RecentBlock {
                changes: executed.changes.clone(),
                body: executed.body.clone(),
            },
        );
        Ok(())
    }

    /// A stored block (header and body) by hash.
    pub fn block(&self, hash: &B256) -> Result<Option<(Header, StoredBody)>, ChainError> {
        let Some(header) = self.db.header(hash)? else {
            return Ok(None);
        };
        let Some(body) = self.db.body(hash)? else {
            return Ok(None);
        };
        Ok(Some((header, body)))
    }
}
