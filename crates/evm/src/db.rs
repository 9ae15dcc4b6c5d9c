//! The execution client's on-disk schema: typed accessors over the node's LevelDB store.
//!
//! Flat state (accounts, storage, code) always reflects the canonical head. Every executed block
//! keeps a [`BlockChanges`] record (old and new values of everything it touched), so the head
//! can move to any known block by unwinding and re-applying records without re-execution. Trie
//! nodes are content-addressed and never overwritten, so the state trie of any executed block
//! can be reopened from its state root.
//!
//! A block's transactions and receipts are stored one record per transaction, keyed by block
//! hash ‖ index, each receipt with the gas its transaction used and the block-wide index of its
//! first log: a lookup by transaction hash ([`crate::tx_lookup`]) reads one transaction and one
//! receipt whatever the size of the block, and a block's records are read back in order by one
//! prefix scan. Records are never rewritten; which of them are canonical is said by the
//! transaction lookup index, moved with the canonical chain.

use std::sync::Arc;

use alloy::consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy::eips::eip2718::{Decodable2718, Encodable2718};
use alloy::eips::eip4895::Withdrawal;
use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use alloy_trie::TrieAccount;
use alys_store::{Column, Durability, Store, StoreError, WriteBatch};

use crate::trie::{verify, NodeCache, NodeReader, TrieError};

pub(crate) use alys_store::columns::execution::{
    ACCOUNTS, BODIES, CANONICAL, CHANGES, CODE, HEADERS, POINTERS, RECEIPTS, STORAGE, TRANSACTIONS,
    TRIE, TX_LOOKUP,
};

/// Name and version of this schema in the store (2: transactions and receipts stored one record
/// per transaction).
pub(crate) const SCHEMA: (&str, u32) = ("execution", 2);

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

/// A transaction's receipt as stored, with what depends on the transactions before it in its
/// block.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StoredReceipt {
    /// The consensus receipt.
    pub receipt: ReceiptEnvelope,
    /// Gas used by this transaction alone.
    pub gas_used: u64,
    /// Block-wide index of the receipt's first log.
    pub first_log_index: u64,
}

/// Encoding side of [`StoredReceipt`], borrowing the receipt.
#[derive(RlpEncodable)]
struct StoredReceiptRef<'a> {
    receipt: &'a ReceiptEnvelope,
    gas_used: u64,
    first_log_index: u64,
}

/// Key of a per-transaction record: block hash ‖ index (u32 BE).
pub(crate) fn record_key(block: &B256, index: u32) -> [u8; 36] {
    let mut key = [0u8; 36];
    key[..32].copy_from_slice(block.as_slice());
    key[32..].copy_from_slice(&index.to_be_bytes());
    key
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

fn decode_tx(key: &[u8], bytes: &[u8]) -> Result<TxEnvelope, DbError> {
    let mut buf = bytes;
    TxEnvelope::decode_2718(&mut buf).map_err(|e| DbError::Corrupt {
        what: "transaction",
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
        let Some(withdrawals) = self.withdrawals(hash)? else {
            return Ok(None);
        };
        Ok(Some(StoredBody {
            transactions: self.block_transactions(hash)?,
            withdrawals,
        }))
    }

    fn withdrawals(&self, hash: &B256) -> Result<Option<Vec<Withdrawal>>, DbError> {
        self.store
            .get(BODIES, hash.as_slice())?
            .map(|b| decode("body", hash.as_slice(), &b))
            .transpose()
    }

    /// Consensus receipts by block hash, in block order.
    pub fn receipts(&self, hash: &B256) -> Result<Option<Vec<ReceiptEnvelope>>, DbError> {
        if self.store.get(BODIES, hash.as_slice())?.is_none() {
            return Ok(None);
        }
        Ok(Some(
            self.block_receipts(hash)?
                .into_iter()
                .map(|r| r.receipt)
                .collect(),
        ))
    }

    /// The stored records of one column for block `hash`, in block order, each checked to sit
    /// at its index.
    fn block_records<T>(
        &self,
        column: Column,
        what: &'static str,
        hash: &B256,
        decode: impl Fn(&[u8], &[u8]) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        self.store
            .scan(column, hash.as_slice(), &[])
            .enumerate()
            .map(|(i, (key, value))| {
                if key.len() != 36 || key[32..] != (i as u32).to_be_bytes() {
                    return Err(DbError::Corrupt {
                        what,
                        key: hex::encode(&key),
                        reason: format!("expected the record of index {i}"),
                    });
                }
                decode(&key, &value)
            })
            .collect()
    }

    /// Transactions of block `hash`, in block order (empty for an unknown block).
    pub fn block_transactions(&self, hash: &B256) -> Result<Vec<TxEnvelope>, DbError> {
        self.block_records(TRANSACTIONS, "transaction", hash, decode_tx)
    }

    /// Stored receipts of block `hash`, in block order (empty for an unknown block).
    pub fn block_receipts(&self, hash: &B256) -> Result<Vec<StoredReceipt>, DbError> {
        self.block_records(RECEIPTS, "receipt", hash, |k, v| decode("receipt", k, v))
    }

    /// Transaction `index` of block `hash`.
    pub fn transaction(&self, hash: &B256, index: u32) -> Result<Option<TxEnvelope>, DbError> {
        let key = record_key(hash, index);
        self.store
            .get(TRANSACTIONS, &key)?
            .map(|b| decode_tx(&key, &b))
            .transpose()
    }

    /// Stored receipt of transaction `index` of block `hash`.
    pub fn receipt(&self, hash: &B256, index: u32) -> Result<Option<StoredReceipt>, DbError> {
        let key = record_key(hash, index);
        self.store
            .get(RECEIPTS, &key)?
            .map(|b| decode("receipt", &key, &b))
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

    /// Writes an executed block (header, withdrawals, one record per transaction and per
    /// receipt, changes) into `batch`.
    pub fn put_block(
        batch: &mut WriteBatch,
        hash: B256,
        header: &Header,
        body: &StoredBody,
        receipts: &[ReceiptEnvelope],
        changes: &BlockChanges,
    ) {
        batch.put(HEADERS, hash.as_slice(), encode(header));
        batch.put(BODIES, hash.as_slice(), encode(&body.withdrawals));
        for (i, tx) in body.transactions.iter().enumerate() {
            batch.put(
                TRANSACTIONS,
                &record_key(&hash, i as u32),
                tx.encoded_2718(),
            );
        }
        let (mut prev_cumulative, mut first_log_index) = (0, 0);
        for (i, receipt) in receipts.iter().enumerate() {
            let stored = StoredReceiptRef {
                receipt,
                gas_used: receipt
                    .cumulative_gas_used()
                    .saturating_sub(prev_cumulative),
                first_log_index,
            };
            batch.put(RECEIPTS, &record_key(&hash, i as u32), encode(&stored));
            prev_cumulative = receipt.cumulative_gas_used();
            first_log_index += receipt.logs().len() as u64;
        }
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

    fn block_with(n: u64) -> (StoredBody, Vec<ReceiptEnvelope>) {
        use alloy::consensus::{Receipt, ReceiptWithBloom, SignableTransaction, TxLegacy};
        use alloy_primitives::{Log, Signature};
        let mut transactions = Vec::new();
        let mut receipts = Vec::new();
        for i in 0..n {
            let tx = TxLegacy {
                nonce: i,
                gas_limit: 21_000 + i,
                ..Default::default()
            };
            transactions.push(TxEnvelope::from(
                tx.into_signed(Signature::test_signature()),
            ));
            let logs = (0..i % 3)
                .map(|l| Log::new_unchecked(Address::repeat_byte(l as u8), vec![], Bytes::new()))
                .collect();
            let receipt = Receipt {
                status: true.into(),
                cumulative_gas_used: 21_000 * (i + 1) + i * i,
                logs,
            };
            receipts.push(ReceiptEnvelope::Legacy(ReceiptWithBloom::new(
                receipt,
                Default::default(),
            )));
        }
        let body = StoredBody {
            transactions,
            withdrawals: vec![],
        };
        (body, receipts)
    }

    #[test]
    fn blocks_are_stored_one_record_per_transaction() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = ElDb::new(Arc::new(Store::open(dir.path()).expect("store"))).expect("db");
        let hash = B256::repeat_byte(7);
        let (body, receipts) = block_with(6);
        let mut batch = WriteBatch::new();
        ElDb::put_block(
            &mut batch,
            hash,
            &Header::default(),
            &body,
            &receipts,
            &BlockChanges::default(),
        );
        // A neighbouring block's records must not leak into this one's.
        let (other, other_receipts) = block_with(2);
        ElDb::put_block(
            &mut batch,
            B256::repeat_byte(8),
            &Header::default(),
            &other,
            &other_receipts,
            &BlockChanges::default(),
        );
        db.write(batch, Durability::Buffered).expect("write");

        assert_eq!(db.body(&hash).expect("body"), Some(body.clone()));
        assert_eq!(
            db.receipts(&hash).expect("receipts"),
            Some(receipts.clone())
        );
        let stored = db.block_receipts(&hash).expect("stored receipts");
        let (mut prev, mut logs) = (0, 0);
        for (i, (s, r)) in stored.iter().zip(&receipts).enumerate() {
            assert_eq!(&s.receipt, r);
            assert_eq!(
                s.gas_used,
                r.cumulative_gas_used() - prev,
                "gas used of {i}"
            );
            assert_eq!(s.first_log_index, logs, "first log index of {i}");
            prev = r.cumulative_gas_used();
            logs += r.logs().len() as u64;
            assert_eq!(
                db.receipt(&hash, i as u32).expect("receipt"),
                Some(s.clone())
            );
            assert_eq!(
                db.transaction(&hash, i as u32).expect("tx").as_ref(),
                Some(&body.transactions[i])
            );
        }
        assert_eq!(db.transaction(&hash, 6).expect("past the end"), None);
        assert_eq!(db.body(&B256::ZERO).expect("unknown"), None);
        assert_eq!(db.receipts(&B256::ZERO).expect("unknown"), None);

        // A missing record inside a block is corruption, not a shorter block.
        let mut batch = WriteBatch::new();
        batch.delete(TRANSACTIONS, &record_key(&hash, 2));
        batch.put(RECEIPTS, &record_key(&hash, 3), vec![0xc0]);
        db.write(batch, Durability::Buffered).expect("write");
        assert!(matches!(
            db.body(&hash),
            Err(DbError::Corrupt {
                what: "transaction",
                ..
            })
        ));
        assert!(matches!(
            db.receipt(&hash, 3),
            Err(DbError::Corrupt {
                what: "receipt",
                ..
            })
        ));
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
