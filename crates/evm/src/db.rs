//! The execution client's on-disk schema: typed accessors over the node's LevelDB store.
//!
//! Flat state (accounts, storage, code) always reflects the canonical head. Every executed block
//! keeps a [`BlockChanges`] record (old and new values of everything it touched), so the head
//! can move to any known block by unwinding and re-applying records without re-execution. Trie
//! nodes are content-addressed and never overwritten, so the state trie of any executed block
//! can be reopened from its state root.

use std::sync::Arc;

use alloy::consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy::eips::eip4895::Withdrawal;
use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use alloy_trie::TrieAccount;
use alys_store::{Column, Durability, Store, StoreError, WriteBatch};

use crate::trie::{verify, NodeCache, NodeReader, TrieError};

/// Flat accounts: address → RLP(TrieAccount).
pub const ACCOUNTS: Column = Column(0x10);
/// Flat storage: address ‖ slot → 32-byte big-endian value (zero values are absent).
pub const STORAGE: Column = Column(0x11);
/// Contract code: code hash → bytecode.
pub const CODE: Column = Column(0x12);
/// Trie nodes: keccak(node) → RLP(node).
pub const TRIE: Column = Column(0x13);
/// Headers: block hash → RLP(header).
pub const HEADERS: Column = Column(0x14);
/// Bodies: block hash → RLP(StoredBody).
pub const BODIES: Column = Column(0x15);
/// Receipts: block hash → RLP(list of 2718-encoded receipts).
pub const RECEIPTS: Column = Column(0x16);
/// Per-block state changes: block hash → RLP(BlockChanges).
pub const CHANGES: Column = Column(0x17);
/// Canonical chain: number (8 bytes BE) → block hash.
pub const CANONICAL: Column = Column(0x18);
/// Transaction lookup for canonical blocks: tx hash → block hash ‖ index (4 bytes BE).
pub const TX_LOOKUP: Column = Column(0x19);
/// Fork choice pointers: `head`, `safe`, `finalized` → block hash.
pub const POINTERS: Column = Column(0x1a);

/// Name and version of this schema in the store.
pub const SCHEMA: (&str, u32) = ("execution", 1);

/// Errors reading or writing execution data.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A record could not be decoded.
    #[error("corrupt {what} record for {key}: {reason}")]
    Corrupt {
        /// Which kind of record.
        what: &'static str,
        /// Its key, hex.
        key: String,
        /// Decoder message.
        reason: String,
    },
}

/// Body of a stored block.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StoredBody {
    /// Transactions, in block order.
    pub transactions: Vec<TxEnvelope>,
    /// Withdrawals (EIP-4895).
    pub withdrawals: Vec<Withdrawal>,
}

impl StoredBody {
    /// Hashes of the transactions, in block order.
    pub fn tx_hashes(&self) -> Vec<B256> {
        self.transactions.iter().map(|t| *t.tx_hash()).collect()
    }
}

/// Old and new value of one account touched by a block (`None` = absent).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountChange {
    /// The account.
    pub address: Address,
    /// Value before the block (empty list = absent).
    pub old: Vec<TrieAccount>,
    /// Value after the block (empty list = absent).
    pub new: Vec<TrieAccount>,
}

/// Old and new value of one storage slot touched by a block (zero = absent).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StorageChange {
    /// The contract.
    pub address: Address,
    /// The slot.
    pub slot: B256,
    /// Value before the block.
    pub old: U256,
    /// Value after the block.
    pub new: U256,
}

/// Everything a block changed in flat state.
#[derive(Debug, Clone, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockChanges {
    /// Account changes.
    pub accounts: Vec<AccountChange>,
    /// Storage changes.
    pub storage: Vec<StorageChange>,
}

/// Direction in which a [`BlockChanges`] record is applied to flat state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Write the new values (the block becomes part of the canonical state).
    Forward,
    /// Write the old values (the block is unwound).
    Backward,
}

/// Typed access to the execution client's columns.
#[derive(Debug, Clone)]
pub struct ElDb {
    store: Arc<Store>,
    nodes: Arc<NodeCache>,
}

fn storage_key(address: &Address, slot: &B256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(slot.as_slice());
    key
}

fn decode<T: Decodable>(what: &'static str, key: &[u8], bytes: &[u8]) -> Result<T, DbError> {
    let mut buf = bytes;
    T::decode(&mut buf).map_err(|e| DbError::Corrupt {
        what,
        key: hex::encode(key),
        reason: e.to_string(),
    })
}

fn encode<T: Encodable>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.length());
    value.encode(&mut out);
    out
}

impl ElDb {
    /// Wraps `store`, checking the schema version.
    pub fn new(store: Arc<Store>) -> Result<Self, DbError> {
        store.ensure_schema(SCHEMA.0, SCHEMA.1)?;
        Ok(Self {
            store,
            nodes: Arc::new(NodeCache::default()),
        })
    }

    /// Keeps trie nodes just written to the store in the node cache, for the next block's
    /// reads. Call only once the batch holding them is written.
    pub fn cache_nodes(&self, nodes: &[(B256, Vec<u8>)]) {
        self.nodes
            .insert_all(nodes.iter().map(|(hash, rlp)| (hash, rlp)));
    }

    /// The underlying store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Applies `batch` atomically.
    pub fn write(&self, batch: WriteBatch, durability: Durability) -> Result<(), DbError> {
        Ok(self.store.write(batch, durability)?)
    }

    /// Flat account at the canonical head.
    pub fn account(&self, address: &Address) -> Result<Option<TrieAccount>, DbError> {
        self.store
            .get(ACCOUNTS, address.as_slice())?
            .map(|b| decode("account", address.as_slice(), &b))
            .transpose()
    }

    /// Flat storage value at the canonical head.
    pub fn storage(&self, address: &Address, slot: &B256) -> Result<U256, DbError> {
        let key = storage_key(address, slot);
        Ok(match self.store.get(STORAGE, &key)? {
            Some(b) if b.len() == 32 => U256::from_be_slice(&b),
            Some(b) => {
                return Err(DbError::Corrupt {
                    what: "storage",
                    key: hex::encode(key),
                    reason: format!("{} bytes", b.len()),
                })
            }
            None => U256::ZERO,
        })
    }

    /// All non-zero storage slots of `address` at the canonical head.
    pub fn storage_slots(&self, address: &Address) -> Vec<(B256, U256)> {
        self.store
            .scan(STORAGE, address.as_slice(), &[])
            .filter(|(k, v)| k.len() == 52 && v.len() == 32)
            .map(|(k, v)| (B256::from_slice(&k[20..]), U256::from_be_slice(&v)))
            .collect()
    }

    /// Contract code by hash.
    pub fn code(&self, hash: &B256) -> Result<Option<Bytes>, DbError> {
        Ok(self.store.get(CODE, hash.as_slice())?.map(Bytes::from))
    }

    /// Header by block hash.
    pub fn header(&self, hash: &B256) -> Result<Option<Header>, DbError> {
        self.store
            .get(HEADERS, hash.as_slice())?
            .map(|b| decode("header", hash.as_slice(), &b))
            .transpose()
    }

    /// Body by block hash.
    pub fn body(&self, hash: &B256) -> Result<Option<StoredBody>, DbError> {
        self.store
            .get(BODIES, hash.as_slice())?
            .map(|b| decode("body", hash.as_slice(), &b))
            .transpose()
    }

    /// Receipts by block hash.
    pub fn receipts(&self, hash: &B256) -> Result<Option<Vec<ReceiptEnvelope>>, DbError> {
        self.store
            .get(RECEIPTS, hash.as_slice())?
            .map(|b| decode("receipts", hash.as_slice(), &b))
            .transpose()
    }

    /// State changes of an executed block.
    pub fn changes(&self, hash: &B256) -> Result<Option<BlockChanges>, DbError> {
        self.store
            .get(CHANGES, hash.as_slice())?
            .map(|b| decode("changes", hash.as_slice(), &b))
            .transpose()
    }

    /// Whether an executed block's change record is stored (without decoding it).
    pub fn has_changes(&self, hash: &B256) -> Result<bool, DbError> {
        Ok(self.store.get(CHANGES, hash.as_slice())?.is_some())
    }

    /// Canonical block hash at `number`.
    pub fn canonical_hash(&self, number: u64) -> Result<Option<B256>, DbError> {
        Ok(self
            .store
            .get(CANONICAL, &number.to_be_bytes())?
            .and_then(|b| (b.len() == 32).then(|| B256::from_slice(&b))))
    }

    /// Canonical location of a transaction: block hash and index.
    pub fn tx_location(&self, tx_hash: &B256) -> Result<Option<(B256, u32)>, DbError> {
        Ok(self
            .store
            .get(TX_LOOKUP, tx_hash.as_slice())?
            .and_then(|b| {
                (b.len() == 36).then(|| {
                    (
                        B256::from_slice(&b[..32]),
                        u32::from_be_bytes([b[32], b[33], b[34], b[35]]),
                    )
                })
            }))
    }

    /// A fork choice pointer (`head`, `safe`, `finalized`).
    pub fn pointer(&self, name: &str) -> Result<Option<B256>, DbError> {
        Ok(self
            .store
            .get(POINTERS, name.as_bytes())?
            .and_then(|b| (b.len() == 32).then(|| B256::from_slice(&b))))
    }

    /// Writes a fork choice pointer into `batch`.
    pub fn put_pointer(batch: &mut WriteBatch, name: &str, hash: B256) {
        batch.put(POINTERS, name.as_bytes(), hash.to_vec());
    }

    /// Writes an executed block (header, body, receipts, changes) into `batch`.
    pub fn put_block(
        batch: &mut WriteBatch,
        hash: B256,
        header: &Header,
        body: &StoredBody,
        receipts: &[ReceiptEnvelope],
        changes: &BlockChanges,
    ) {
        batch.put(HEADERS, hash.as_slice(), encode(header));
        batch.put(BODIES, hash.as_slice(), encode(body));
        batch.put(RECEIPTS, hash.as_slice(), encode(&receipts.to_vec()));
        batch.put(CHANGES, hash.as_slice(), encode(changes));
    }

    /// Writes trie nodes and contract code into `batch`.
    pub fn put_nodes_and_code(
        batch: &mut WriteBatch,
        nodes: &[(B256, Vec<u8>)],
        code: &[(B256, Bytes)],
    ) {
        for (hash, node) in nodes {
            batch.put(TRIE, hash.as_slice(), node.clone());
        }
        for (hash, bytes) in code {
            batch.put(CODE, hash.as_slice(), bytes.to_vec());
        }
    }

    /// Writes the flat-state effect of `changes` in `direction` into `batch`.
    pub fn apply_changes(batch: &mut WriteBatch, changes: &BlockChanges, direction: Direction) {
        for change in &changes.accounts {
            let value = match direction {
                Direction::Forward => change.new.first(),
                Direction::Backward => change.old.first(),
            };
            match value {
                Some(account) => batch.put(ACCOUNTS, change.address.as_slice(), encode(account)),
                None => batch.delete(ACCOUNTS, change.address.as_slice()),
            }
        }
        for change in &changes.storage {
            let value = match direction {
                Direction::Forward => change.new,
                Direction::Backward => change.old,
            };
            let key = storage_key(&change.address, &change.slot);
            if value.is_zero() {
                batch.delete(STORAGE, &key);
            } else {
                batch.put(STORAGE, &key, value.to_be_bytes::<32>().to_vec());
            }
        }
    }

    /// Marks `hash` canonical at `number`, indexing its transactions, into `batch`.
    pub fn put_canonical(batch: &mut WriteBatch, number: u64, hash: B256, tx_hashes: &[B256]) {
        batch.put(CANONICAL, &number.to_be_bytes(), hash.to_vec());
        for (i, tx) in tx_hashes.iter().enumerate() {
            let mut v = hash.to_vec();
            v.extend_from_slice(&(i as u32).to_be_bytes());
            batch.put(TX_LOOKUP, tx.as_slice(), v);
        }
    }

    /// Removes `number` from the canonical index and its transactions from the lookup.
    pub fn delete_canonical(batch: &mut WriteBatch, number: u64, tx_hashes: &[B256]) {
        batch.delete(CANONICAL, &number.to_be_bytes());
        for tx in tx_hashes {
            batch.delete(TX_LOOKUP, tx.as_slice());
        }
    }
}

impl ElDb {
    fn stored_node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        self.store
            .get(TRIE, hash.as_slice())
            .map_err(|e| TrieError::Db(e.to_string()))
    }
}

impl NodeReader for ElDb {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        match self.nodes.get(hash) {
            Some(rlp) => Ok(Some(rlp)),
            None => self.stored_node(hash),
        }
    }

    /// Cached nodes were checked when read or hashed when committed; nodes read from disk are
    /// checked, then cached.
    fn verified_node(&self, hash: &B256) -> Result<Vec<u8>, TrieError> {
        if let Some(rlp) = self.nodes.get(hash) {
            return Ok(rlp);
        }
        let rlp = verify(hash, self.stored_node(hash)?)?;
        self.nodes.insert(*hash, rlp.clone());
        Ok(rlp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn nodes_read_from_disk_are_checked_before_they_are_cached() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        let db = ElDb::new(store.clone()).expect("db");
        let node = vec![0xc2, 0x01, 0x02];
        let hash = keccak256(&node);
        let wrong_hash = keccak256(b"some other node");
        let mut batch = WriteBatch::new();
        batch.put(TRIE, hash.as_slice(), node.clone());
        batch.put(TRIE, wrong_hash.as_slice(), node.clone());
        store.write(batch, Durability::Buffered).expect("write");

        assert_eq!(db.verified_node(&hash).expect("good node"), node);
        for _ in 0..2 {
            // A corrupt node is refused on every read: it never enters the cache.
            assert!(matches!(
                db.verified_node(&wrong_hash),
                Err(TrieError::HashMismatch { expected, .. }) if expected == wrong_hash
            ));
        }
        assert!(matches!(
            db.verified_node(&keccak256(b"absent")),
            Err(TrieError::MissingNode(_))
        ));

        // The checked node is now served from memory.
        let mut batch = WriteBatch::new();
        batch.delete(TRIE, hash.as_slice());
        store.write(batch, Durability::Buffered).expect("delete");
        assert_eq!(db.verified_node(&hash).expect("cached"), node);
    }

    #[test]
    fn committed_nodes_are_cached_once_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        let db = ElDb::new(store).expect("db");
        let node = vec![0xc3, 0x01, 0x02, 0x03];
        let hash = keccak256(&node);
        assert!(matches!(
            db.verified_node(&hash),
            Err(TrieError::MissingNode(_))
        ));
        db.cache_nodes(&[(hash, node.clone())]);
        assert_eq!(db.node(&hash).expect("read"), Some(node));
    }
}
