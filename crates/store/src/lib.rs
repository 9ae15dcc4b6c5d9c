//! LevelDB-backed key-value store with typed columns, atomic write batches and a schema version.
//!
//! Every key lives in a [`Column`]: a one-byte prefix owned by one user of the store (the
//! consensus chain, the execution client's state, …), declared in the registry [`columns`],
//! where two claims of the same byte do not compile. All changes that belong together (one
//! imported block, one executed payload) go into one [`WriteBatch`], which LevelDB applies
//! atomically, so a crash leaves either all of it or none of it on disk.

pub mod columns;

use std::path::Path;

use columns::store::META;

use db_key::Key;
use leveldb::{
    batch::{Batch, Writebatch},
    database::{cache::Cache, Database},
    iterator::{Iterable, LevelDBIterator},
    kv::KV,
    options::{Options, ReadOptions, WriteOptions},
};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// LevelDB reported an error (I/O, corruption, lock held by another process).
    #[error("database error: {0}")]
    Db(String),
    /// The database was written by an incompatible version of the node.
    #[error("schema mismatch for `{name}`: database has version {found}, node expects {expected}")]
    SchemaMismatch {
        /// Which schema (the user of the column set).
        name: String,
        /// Version found on disk.
        found: u32,
        /// Version this build writes.
        expected: u32,
    },
    /// A stored value could not be decoded.
    #[error("corrupt value in column {column}: {reason}")]
    Corrupt {
        /// Column of the value.
        column: u8,
        /// What was wrong.
        reason: String,
    },
}

impl From<leveldb::error::Error> for StoreError {
    fn from(e: leveldb::error::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

/// A column: a one-byte key prefix that namespaces one kind of record. Columns are made only in
/// the registry [`columns`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Column(u8);

impl Column {
    /// The prefix byte.
    pub const fn byte(self) -> u8 {
        self.0
    }
}

/// Raw LevelDB key (column byte followed by the record key).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RawKey(Vec<u8>);

impl Key for RawKey {
    fn from_u8(key: &[u8]) -> Self {
        RawKey(key.to_vec())
    }
    fn as_slice<T, F: Fn(&[u8]) -> T>(&self, f: F) -> T {
        f(&self.0)
    }
}

fn raw_key(column: Column, key: &[u8]) -> RawKey {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(column.0);
    k.extend_from_slice(key);
    RawKey(k)
}

/// A set of writes applied atomically by [`Store::write`].
#[derive(Default)]
pub struct WriteBatch {
    ops: Vec<(RawKey, Option<Vec<u8>>)>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets `key` in `column` to `value`.
    pub fn put(&mut self, column: Column, key: &[u8], value: impl Into<Vec<u8>>) {
        self.ops.push((raw_key(column, key), Some(value.into())));
    }
    /// Deletes `key` from `column`.
    pub fn delete(&mut self, column: Column, key: &[u8]) {
        self.ops.push((raw_key(column, key), None));
    }
    /// Number of operations in the batch.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// Whether the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    /// Appends all operations of `other`, keeping their order.
    pub fn extend(&mut self, other: WriteBatch) {
        self.ops.extend(other.ops);
    }
}

/// Durability of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Flushed to the OS only: survives a process crash, not a power loss.
    Buffered,
    /// fsync before returning: survives a power loss.
    Synced,
}

/// A LevelDB database shared by the parts of one node.
pub struct Store {
    db: Database<RawKey>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (creating if missing) the database in directory `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(path)
            .map_err(|e| StoreError::Db(format!("{}: {e}", path.display())))?;
        let mut options = Options::new();
        options.create_if_missing = true;
        options.cache = Some(Cache::new(64 << 20));
        options.write_buffer_size = Some(32 << 20);
        let db = Database::open(path, options)
            .map_err(|e| StoreError::Db(format!("{}: {e}", path.display())))?;
        Ok(Self { db })
    }

    /// Reads `key` from `column`.
    pub fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(ReadOptions::new(), raw_key(column, key))?)
    }

    /// Applies `batch` atomically.
    pub fn write(&self, batch: WriteBatch, durability: Durability) -> Result<(), StoreError> {
        let mut wb = Writebatch::new();
        for (key, value) in batch.ops {
            match value {
                Some(v) => wb.put(key, &v),
                None => wb.delete(key),
            }
        }
        let mut options = WriteOptions::new();
        options.sync = durability == Durability::Synced;
        Ok(self.db.write(options, &wb)?)
    }

    /// Key-value pairs of `column` whose key starts with `prefix`, in key order, from the first
    /// key ≥ `prefix ‖ start`. Keys are returned without the column byte.
    pub fn scan(&self, column: Column, prefix: &[u8], start: &[u8]) -> ScanIter<'_> {
        let mut from = prefix.to_vec();
        from.extend_from_slice(start);
        let from = raw_key(column, &from);
        let mut iter = self.db.iter(ReadOptions::new());
        iter.seek(&from);
        // Mark the iterator as positioned so `advance` steps forward instead of re-seeking.
        iter.started();
        ScanIter {
            inner: iter,
            prefix: raw_key(column, prefix).0,
            first: true,
        }
    }

    /// Checks the schema version recorded for `name`, recording `version` on a fresh database.
    pub fn ensure_schema(&self, name: &str, version: u32) -> Result<(), StoreError> {
        match self.get(META, name.as_bytes())? {
            None => {
                let mut batch = WriteBatch::new();
                batch.put(META, name.as_bytes(), version.to_be_bytes().to_vec());
                self.write(batch, Durability::Synced)
            }
            Some(found) => {
                let found = <[u8; 4]>::try_from(found.as_slice())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        column: META.0,
                        reason: format!("schema version of `{name}`"),
                    })?;
                if found == version {
                    Ok(())
                } else {
                    Err(StoreError::SchemaMismatch {
                        name: name.into(),
                        found,
                        expected: version,
                    })
                }
            }
        }
    }
}

/// Iterator returned by [`Store::scan`].
pub struct ScanIter<'a> {
    inner: leveldb::iterator::Iterator<'a, RawKey>,
    prefix: Vec<u8>,
    first: bool,
}

impl Iterator for ScanIter<'_> {
    type Item = (Vec<u8>, Vec<u8>);

    fn next(&mut self) -> Option<Self::Item> {
        // The iterator was positioned by `seek`; the first element is the current one.
        if self.first {
            self.first = false;
            if !self.inner.valid() {
                return None;
            }
        } else if !self.inner.advance() {
            return None;
        }
        let (key, value) = self.inner.entry();
        if !key.0.starts_with(&self.prefix) {
            return None;
        }
        Some((key.0[1..].to_vec(), value))
    }
}

#[cfg(test)]
mod atomicity_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const A: Column = Column(1);
    const B: Column = Column(2);

    #[test]
    fn batch_is_atomic_and_columns_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(A, b"k", b"a".to_vec());
        batch.put(B, b"k", b"b".to_vec());
        store.write(batch, Durability::Synced).unwrap();
        assert_eq!(store.get(A, b"k").unwrap(), Some(b"a".to_vec()));
        assert_eq!(store.get(B, b"k").unwrap(), Some(b"b".to_vec()));
        let mut batch = WriteBatch::new();
        batch.delete(A, b"k");
        store.write(batch, Durability::Buffered).unwrap();
        assert_eq!(store.get(A, b"k").unwrap(), None);
    }

    #[test]
    fn scan_stays_within_prefix_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut batch = WriteBatch::new();
        for i in 0u8..10 {
            batch.put(A, &[7, i], vec![i]);
        }
        batch.put(A, &[8, 0], vec![99]);
        batch.put(B, &[7, 0], vec![98]);
        store.write(batch, Durability::Buffered).unwrap();
        let all: Vec<_> = store.scan(A, &[7], &[]).collect();
        assert_eq!(all.len(), 10);
        assert_eq!(all[0], (vec![7, 0], vec![0]));
        let tail: Vec<_> = store.scan(A, &[7], &[5]).map(|(_, v)| v[0]).collect();
        assert_eq!(tail, vec![5, 6, 7, 8, 9]);
        assert_eq!(store.scan(A, &[9], &[]).count(), 0);
        assert_eq!(store.scan(Column(3), &[], &[]).count(), 0);
    }

    #[test]
    fn schema_version_is_checked_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.ensure_schema("chain", 1).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        store.ensure_schema("chain", 1).unwrap();
        assert!(matches!(
            store.ensure_schema("chain", 2),
            Err(StoreError::SchemaMismatch {
                found: 1,
                expected: 2,
                ..
            })
        ));
    }

    #[test]
    fn second_open_of_same_dir_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let _store = Store::open(dir.path()).unwrap();
        assert!(matches!(Store::open(dir.path()), Err(StoreError::Db(_))));
    }
}
