//! Read view of the world state at one block, for revm.
//!
//! Flat state holds the canonical head. To execute on top of another block (a side branch, or a
//! block not yet made canonical), a [`StateView`] carries an [`Overlay`]: the values that differ
//! between the head and that block, collected from the per-block change records.

use std::collections::HashMap;

use alloy::consensus::constants::KECCAK_EMPTY;
use alloy_primitives::{Address, B256, U256};
use alloy_trie::TrieAccount;
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, DatabaseRef},
    state::AccountInfo,
};

use crate::db::{BlockChanges, DbError, Direction, ElDb};

/// Error surfaced to revm when state cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("state read failed: {0}")]
pub struct StateError(#[from] pub DbError);

impl DBErrorMarker for StateError {}

/// Differences between flat state (the canonical head) and the state a view presents.
#[derive(Debug, Default, Clone)]
pub struct Overlay {
    accounts: HashMap<Address, Option<TrieAccount>>,
    storage: HashMap<(Address, B256), U256>,
}

impl Overlay {
    /// Applies one block's change record in `direction` on top of the overlay.
    pub fn apply(&mut self, changes: &BlockChanges, direction: Direction) {
        for change in &changes.accounts {
            let value = match direction {
                Direction::Forward => change.new.first().cloned(),
                Direction::Backward => change.old.first().cloned(),
            };
            self.accounts.insert(change.address, value);
        }
        for change in &changes.storage {
            let value = match direction {
                Direction::Forward => change.new,
                Direction::Backward => change.old,
            };
            self.storage.insert((change.address, change.slot), value);
        }
    }

    /// Whether the overlay changes nothing.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.storage.is_empty()
    }
}

/// Ancestor hashes for BLOCKHASH: the parent's number and hash, resolved through headers.
#[derive(Debug, Clone, Copy)]
pub struct Ancestry {
    /// Number of the block the view is at.
    pub number: u64,
    /// Hash of the block the view is at.
    pub hash: B256,
}

/// The world state after block `ancestry.hash`.
#[derive(Debug, Clone)]
pub struct StateView {
    db: ElDb,
    overlay: Overlay,
    at: Ancestry,
}

impl StateView {
    /// A view of flat state adjusted by `overlay`, positioned after block `at`.
    pub fn new(db: ElDb, overlay: Overlay, at: Ancestry) -> Self {
        Self { db, overlay, at }
    }

    /// The underlying database.
    pub fn db(&self) -> &ElDb {
        &self.db
    }

    /// Account (with storage root) as this view sees it.
    pub fn account(&self, address: &Address) -> Result<Option<TrieAccount>, DbError> {
        match self.overlay.accounts.get(address) {
            Some(v) => Ok(*v),
            None => self.db.account(address),
        }
    }

    /// Storage slot as this view sees it.
    pub fn storage(&self, address: &Address, slot: &B256) -> Result<U256, DbError> {
        match self.overlay.storage.get(&(*address, *slot)) {
            Some(v) => Ok(*v),
            None => self.db.storage(address, slot),
        }
    }

    /// All non-zero slots of `address` as this view sees them.
    pub fn storage_slots(&self, address: &Address) -> Vec<(B256, U256)> {
        let mut slots: HashMap<B256, U256> = self.db.storage_slots(address).into_iter().collect();
        for ((addr, slot), value) in &self.overlay.storage {
            if addr == address {
                slots.insert(*slot, *value);
            }
        }
        slots.into_iter().filter(|(_, v)| !v.is_zero()).collect()
    }

    fn ancestor_hash(&self, number: u64) -> Result<B256, DbError> {
        if number > self.at.number {
            return Ok(B256::ZERO);
        }
        if self.overlay.is_empty() {
            if let Some(hash) = self.db.canonical_hash(number)? {
                return Ok(hash);
            }
        }
        let mut hash = self.at.hash;
        let mut current = self.at.number;
        while current > number {
            match self.db.header(&hash)? {
                Some(h) => hash = h.parent_hash,
                None => return Ok(B256::ZERO),
            }
            current -= 1;
        }
        Ok(hash)
    }
}

impl DatabaseRef for StateView {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        // `code: None` makes revm load the code by hash (the default would be empty code).
        Ok(self.account(&address)?.map(|a| AccountInfo {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
            code: None,
            ..Default::default()
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        Ok(self
            .db
            .code(&code_hash)?
            .map(Bytecode::new_raw)
            .unwrap_or_default())
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.storage(&address, &B256::from(index))?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.ancestor_hash(number)?)
    }
}
