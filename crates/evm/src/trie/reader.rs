//! Access to the content-addressed node store.

use super::{TrieCommit, TrieError};
use alloy_primitives::{keccak256, map::HashMap, B256};
use std::sync::Arc;

/// Read access to stored trie nodes, keyed by `keccak256(rlp(node))`.
pub trait NodeReader {
    /// Returns the RLP of the node with the given hash, or `None` if it is not stored.
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError>;

    /// Returns the RLP of the node with the given hash, checked to hash to `hash`.
    ///
    /// Readers that hold nodes already checked (a cache filled from checked reads and from
    /// commits, which computed the hashes) override this to skip hashing them again.
    fn verified_node(&self, hash: &B256) -> Result<Vec<u8>, TrieError> {
        verify(hash, self.node(hash)?)
    }
}

/// Checks that `bytes`, read under `hash`, are present and hash to it.
pub fn verify(hash: &B256, bytes: Option<Vec<u8>>) -> Result<Vec<u8>, TrieError> {
    let bytes = bytes.ok_or(TrieError::MissingNode(*hash))?;
    let actual = keccak256(&bytes);
    if actual != *hash {
        return Err(TrieError::HashMismatch {
            expected: *hash,
            actual,
        });
    }
    Ok(bytes)
}

macro_rules! forward_node_reader {
    ($($wrapper:ty),*) => {$(
        impl<T: NodeReader + ?Sized> NodeReader for $wrapper {
            fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
                (**self).node(hash)
            }

            fn verified_node(&self, hash: &B256) -> Result<Vec<u8>, TrieError> {
                (**self).verified_node(hash)
            }
        }
    )*};
}

forward_node_reader!(&T, Box<T>, Arc<T>);

/// An in-memory node store, for tests and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct MemoryNodes {
    nodes: HashMap<B256, Vec<u8>>,
}

impl MemoryNodes {
    /// Creates an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `rlp` under `hash` (the caller vouches that `hash == keccak256(rlp)`).
    pub fn insert(&mut self, hash: B256, rlp: Vec<u8>) {
        self.nodes.insert(hash, rlp);
    }

    /// Stores the nodes written by a commit.
    pub fn apply_commit(&mut self, commit: &TrieCommit) {
        self.nodes.extend(
            commit
                .new_nodes
                .iter()
                .map(|(hash, rlp)| (*hash, rlp.clone())),
        );
    }

    /// Removes the node stored under `hash`, returning it.
    pub fn remove(&mut self, hash: &B256) -> Option<Vec<u8>> {
        self.nodes.remove(hash)
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is stored.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl Extend<(B256, Vec<u8>)> for MemoryNodes {
    fn extend<I: IntoIterator<Item = (B256, Vec<u8>)>>(&mut self, iter: I) {
        self.nodes.extend(iter);
    }
}

impl NodeReader for MemoryNodes {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(self.nodes.get(hash).cloned())
    }
}
