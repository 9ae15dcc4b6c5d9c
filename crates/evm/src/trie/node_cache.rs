//! A bounded in-memory cache of trie nodes in front of the store.
//!
//! Nodes are content-addressed (`keccak256(rlp) → rlp`) and never change, so an entry can never
//! go stale: the cache only bounds memory, evicting the least recently used nodes first. Every
//! block reads the upper levels of the state trie again and the nodes the previous block wrote,
//! so keeping them here spares a store lookup per level of every changed path.

use alloy_primitives::B256;
use lru::LruCache;
use parking_lot::Mutex;

/// Default memory budget of the node cache: 64 MiB of node RLP.
pub const DEFAULT_NODE_CACHE_BYTES: usize = 64 << 20;

/// Bounded least-recently-used cache of trie node RLP, keyed by node hash.
#[derive(Debug)]
pub struct NodeCache {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    nodes: LruCache<B256, Vec<u8>>,
    bytes: usize,
    budget: usize,
}

impl NodeCache {
    /// A cache holding at most `budget` bytes of node RLP.
    pub fn new(budget: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                nodes: LruCache::unbounded(),
                bytes: 0,
                budget,
            }),
        }
    }

    /// The node stored under `hash`, if cached.
    pub fn get(&self, hash: &B256) -> Option<Vec<u8>> {
        self.inner.lock().nodes.get(hash).cloned()
    }

    /// Caches nodes known to be in the store.
    pub fn insert_all<'a>(&self, nodes: impl IntoIterator<Item = (&'a B256, &'a Vec<u8>)>) {
        let mut inner = self.inner.lock();
        for (hash, rlp) in nodes {
            inner.insert(*hash, rlp.clone());
        }
    }

    /// Caches one node known to be in the store.
    pub fn insert(&self, hash: B256, rlp: Vec<u8>) {
        self.inner.lock().insert(hash, rlp);
    }

    /// Bytes of node RLP currently cached.
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }
}

impl Default for NodeCache {
    fn default() -> Self {
        Self::new(DEFAULT_NODE_CACHE_BYTES)
    }
}

impl Inner {
    fn insert(&mut self, hash: B256, rlp: Vec<u8>) {
        if rlp.len() > self.budget {
            return;
        }
        self.bytes += rlp.len();
        if let Some(old) = self.nodes.put(hash, rlp) {
            self.bytes -= old.len();
        }
        while self.bytes > self.budget {
            match self.nodes.pop_lru() {
                Some((_, evicted)) => self.bytes -= evicted.len(),
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let cache = NodeCache::new(100);
        let (a, b, c) = (
            B256::repeat_byte(1),
            B256::repeat_byte(2),
            B256::repeat_byte(3),
        );
        cache.insert(a, vec![0; 40]);
        cache.insert(b, vec![0; 40]);
        assert!(cache.get(&a).is_some(), "a is now the most recently used");
        cache.insert(c, vec![0; 40]);
        assert_eq!(cache.get(&b), None, "b was the least recently used");
        assert_eq!(cache.get(&a).map(|v| v.len()), Some(40));
        assert_eq!(cache.get(&c).map(|v| v.len()), Some(40));
        assert_eq!(cache.bytes(), 80);
    }

    #[test]
    fn ignores_a_node_larger_than_the_budget_and_counts_replacements_once() {
        let cache = NodeCache::new(10);
        cache.insert(B256::ZERO, vec![0; 11]);
        assert_eq!(cache.bytes(), 0);
        cache.insert(B256::ZERO, vec![0; 5]);
        cache.insert(B256::ZERO, vec![0; 5]);
        assert_eq!(cache.bytes(), 5);
    }
}
