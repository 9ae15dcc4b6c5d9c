//! Access to the content-addressed node store.

use super::{TrieCommit, TrieError};
use alloy_primitives::{map::HashMap, B256};
use std::sync::Arc;

/// Read access to stored trie nodes, keyed by `keccak256(rlp(node))`.
pub trait NodeReader {
    /// Returns the RLP of the node with the given hash, or `None` if it is not stored.
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError>;
}

impl<T: NodeReader + ?Sized> NodeReader for &T {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        (**self).node(hash)
    }
}

impl<T: NodeReader + ?Sized> NodeReader for Box<T> {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        (**self).node(hash)
    }
}

impl<T: NodeReader + ?Sized> NodeReader for Arc<T> {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        (**self).node(hash)
    }
}

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
