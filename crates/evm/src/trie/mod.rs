//! A persistent, incremental Ethereum Merkle Patricia Trie.
//!
//! Nodes live in a content-addressed store: a node whose RLP is 32 bytes or longer is stored
//! as `keccak256(rlp) -> rlp` and referenced by hash, shorter nodes are embedded in their parent
//! (the Ethereum rules). The root node is always stored by hash, even when short, so every
//! committed root can be reopened with [`Trie::new`].
//!
//! A [`Trie`] loads nodes lazily through a [`NodeReader`], only along the paths it touches.
//! Changes are kept in memory until [`Trie::commit`], which hashes just the changed paths and
//! returns the root together with the new nodes for the caller to persist. The cost of an update
//! round is proportional to the number of changed keys times the trie depth, never to the size
//! of the trie.
//!
//! Keys are always 32 bytes (64 nibbles): callers hash addresses and storage slots with
//! keccak256 first. Values are the raw leaf payload (e.g. the RLP of an account) and are never
//! empty; an empty value is expressed as a removal.
//!
//! ```
//! use alloy_primitives::{B256, keccak256};
//! use alys_evm::trie::{MemoryNodes, Trie};
//!
//! let mut db = MemoryNodes::new();
//! let mut trie = Trie::default();
//! trie.insert(&db, keccak256([1]), vec![0x2a])?;
//! let commit = trie.commit();
//! db.apply_commit(&commit);
//!
//! let reopened = Trie::new(commit.root);
//! assert_eq!(reopened.get(&db, &keccak256([1]))?, Some(vec![0x2a]));
//! # Ok::<(), alys_evm::trie::TrieError>(())
//! ```

mod node;
mod node_cache;
mod reader;
#[cfg(test)]
mod tests;

pub use alloy_trie::EMPTY_ROOT_HASH;
pub use node_cache::{NodeCache, DEFAULT_NODE_CACHE_BYTES};
pub use reader::{verify, MemoryNodes, NodeReader};

use alloy_primitives::{keccak256, Bytes, B256};
use alloy_trie::nodes::RlpNode;
use alloy_trie::Nibbles;
use node::{fetch, load, resolve, Node};
use std::mem;

/// Errors raised by trie operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrieError {
    /// A node referenced by the trie is not in the store.
    #[error("missing trie node {0}")]
    MissingNode(B256),
    /// The store returned bytes that do not hash to the requested key.
    #[error("trie node {expected} is corrupt: its content hashes to {actual}")]
    HashMismatch {
        /// The hash the node was requested by.
        expected: B256,
        /// The hash of the bytes returned.
        actual: B256,
    },
    /// A stored node is not a well-formed trie node.
    #[error("malformed trie node: {0}")]
    Decode(#[from] alloy_rlp::Error),
    /// The node store failed.
    #[error("trie node store: {0}")]
    Db(String),
    /// An empty value was inserted; empty values are expressed by removing the key.
    #[error("empty values cannot be inserted, remove the key instead")]
    EmptyValue,
}

/// The result of [`Trie::commit`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrieCommit {
    /// The new root hash.
    pub root: B256,
    /// Nodes created since the previous commit, as `(keccak256(rlp), rlp)`, which must be
    /// persisted before the trie is read again. May contain nodes the store already holds.
    pub new_nodes: Vec<(B256, Vec<u8>)>,
}

/// A Merkle Patricia Trie over 32-byte keys, backed by a [`NodeReader`].
///
/// After an error the in-memory state may be partially updated; discard the trie (or reopen
/// the last committed root) rather than committing it.
#[derive(Debug, Clone)]
pub struct Trie {
    root: Node,
    dirty: bool,
}

impl Default for Trie {
    /// The empty trie.
    fn default() -> Self {
        Self::new(EMPTY_ROOT_HASH)
    }
}

impl Trie {
    /// Opens the trie with the given root ([`EMPTY_ROOT_HASH`] for the empty trie). Nothing is
    /// read until the trie is used.
    pub fn new(root: B256) -> Self {
        let root = if root == EMPTY_ROOT_HASH {
            Node::Empty
        } else {
            Node::Hash(root)
        };
        Self { root, dirty: false }
    }

    /// Whether there are changes not yet committed.
    pub const fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The root hash including uncommitted changes. Hashes the changed paths without storing
    /// anything; [`Trie::commit`] does the same work again.
    pub fn root_hash(&self) -> B256 {
        root_of(&self.root, &mut Vec::new())
    }

    /// Returns the value stored under `key`.
    pub fn get(&self, db: &dyn NodeReader, key: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        get_at(&self.root, db, &Nibbles::unpack_array(&key.0), 0, false)
    }

    /// Sets the value of `key`. The value must not be empty: use [`Trie::remove`] for that.
    pub fn insert(
        &mut self,
        db: &dyn NodeReader,
        key: B256,
        value: Vec<u8>,
    ) -> Result<(), TrieError> {
        if value.is_empty() {
            return Err(TrieError::EmptyValue);
        }
        let key = Nibbles::unpack_array(&key.0);
        self.dirty |= insert_at(&mut self.root, db, &key, 0, value, false)?;
        Ok(())
    }

    /// Removes `key` from the trie; removing an absent key is a no-op.
    pub fn remove(&mut self, db: &dyn NodeReader, key: &B256) -> Result<(), TrieError> {
        let key = Nibbles::unpack_array(&key.0);
        self.dirty |= remove_at(&mut self.root, db, &key, 0, false)?;
        Ok(())
    }

    /// Applies a batch of updates in order: `Some(value)` inserts, `None` removes.
    pub fn apply(
        &mut self,
        db: &dyn NodeReader,
        updates: impl IntoIterator<Item = (B256, Option<Vec<u8>>)>,
    ) -> Result<(), TrieError> {
        for (key, value) in updates {
            match value {
                Some(value) => self.insert(db, key, value)?,
                None => self.remove(db, &key)?,
            }
        }
        Ok(())
    }

    /// Hashes the changed paths and returns the new root with the nodes to persist.
    ///
    /// Afterwards the in-memory tree is dropped and the trie continues from the new root,
    /// loading nodes again on demand: `new_nodes` must be visible through the reader before the
    /// trie is used again.
    pub fn commit(&mut self) -> TrieCommit {
        let mut new_nodes = Vec::new();
        let root = root_of(&self.root, &mut new_nodes);
        *self = Self::new(root);
        TrieCommit { root, new_nodes }
    }

    /// The EIP-1186 proof for `key`: the stored nodes on the path from the root to the leaf, or
    /// to the point where the path diverges if `key` is absent. Uncommitted changes are
    /// included (the proof is then against [`Trie::root_hash`]).
    pub fn proof(&self, db: &dyn NodeReader, key: &B256) -> Result<Vec<Bytes>, TrieError> {
        let mut proof = Vec::new();
        proof_at(
            &self.root,
            db,
            &Nibbles::unpack_array(&key.0),
            0,
            false,
            &mut proof,
        )?;
        Ok(proof)
    }
}

/// Shorthand for a structural error in the stored trie.
const fn malformed(reason: &'static str) -> TrieError {
    TrieError::Decode(alloy_rlp::Error::Custom(reason))
}

/// The nibble of `key` at `depth`, as a branch slot index.
fn slot(key: &Nibbles, depth: usize) -> Result<usize, TrieError> {
    key.get(depth)
        .map(usize::from)
        .ok_or_else(|| malformed("path longer than the key"))
}

/// `child` behind the key segment `key`: an extension, or `child` itself for an empty segment.
fn with_prefix(key: Nibbles, child: Node) -> Node {
    if key.is_empty() {
        child
    } else {
        Node::extension(key, child)
    }
}

/// A new branch with two children at distinct slots.
fn branch_of(a: (usize, Node), b: (usize, Node)) -> Node {
    let mut branch = Node::empty_branch();
    if let Node::Branch { children, .. } = &mut branch {
        children[a.0] = a.1;
        children[b.0] = b.1;
    }
    branch
}

/// The root hash of the tree under `node`, pushing changed nodes (including a short root) to
/// `out`.
fn root_of(node: &Node, out: &mut Vec<(B256, Vec<u8>)>) -> B256 {
    match node {
        Node::Empty => EMPTY_ROOT_HASH,
        Node::Hash(hash) => *hash,
        node => {
            let reference = node.reference(out);
            reference.as_hash().unwrap_or_else(|| {
                // The root is stored by hash even when it is short enough to be embedded.
                let hash = keccak256(&reference);
                out.push((hash, reference.to_vec()));
                hash
            })
        }
    }
}

fn get_at(
    node: &Node,
    db: &dyn NodeReader,
    key: &Nibbles,
    depth: usize,
    under_extension: bool,
) -> Result<Option<Vec<u8>>, TrieError> {
    match node {
        Node::Empty => Ok(None),
        Node::Hash(hash) => {
            let node = load(db, hash, depth, under_extension)?;
            get_at(&node, db, key, depth, under_extension)
        }
        Node::Leaf {
            key: leaf_key,
            value,
            ..
        } => Ok((*leaf_key == key.slice(depth..)).then(|| value.clone())),
        Node::Extension {
            key: ext_key,
            child,
            ..
        } => {
            if key.slice(depth..).starts_with(ext_key) {
                get_at(child, db, key, depth + ext_key.len(), true)
            } else {
                Ok(None)
            }
        }
        Node::Branch { children, .. } => {
            get_at(&children[slot(key, depth)?], db, key, depth + 1, false)
        }
    }
}

/// Inserts into the subtree `node` located `depth` nibbles below the root. Returns whether
/// anything changed.
fn insert_at(
    node: &mut Node,
    db: &dyn NodeReader,
    key: &Nibbles,
    depth: usize,
    value: Vec<u8>,
    under_extension: bool,
) -> Result<bool, TrieError> {
    match node {
        Node::Empty => {
            *node = Node::leaf(key.slice(depth..), value);
            Ok(true)
        }
        Node::Hash(hash) => {
            *node = load(db, hash, depth, under_extension)?;
            insert_at(node, db, key, depth, value, under_extension)
        }
        Node::Leaf {
            key: leaf_key,
            value: leaf_value,
            rlp,
        } => {
            let rest = key.slice(depth..);
            if *leaf_key == rest {
                if *leaf_value == value {
                    return Ok(false);
                }
                *leaf_value = value;
                *rlp = None;
                return Ok(true);
            }
            // Both keys run to the end of the 64 nibbles, so they differ before that.
            let common = leaf_key.common_prefix_length(&rest);
            let old = Node::leaf(leaf_key.slice(common + 1..), mem::take(leaf_value));
            let new = Node::leaf(rest.slice(common + 1..), value);
            let branch = branch_of((slot(leaf_key, common)?, old), (slot(&rest, common)?, new));
            *node = with_prefix(rest.slice(..common), branch);
            Ok(true)
        }
        Node::Extension {
            key: ext_key,
            child,
            rlp,
        } => {
            let rest = key.slice(depth..);
            let common = ext_key.common_prefix_length(&rest);
            if common == ext_key.len() {
                let changed = insert_at(child, db, key, depth + common, value, true)?;
                if changed {
                    *rlp = None;
                }
                return Ok(changed);
            }
            // The key leaves the extension early: split it around a new branch.
            let old = with_prefix(ext_key.slice(common + 1..), mem::take(&mut **child));
            let new = Node::leaf(rest.slice(common + 1..), value);
            let branch = branch_of((slot(ext_key, common)?, old), (slot(&rest, common)?, new));
            *node = with_prefix(rest.slice(..common), branch);
            Ok(true)
        }
        Node::Branch { children, rlp } => {
            let child = &mut children[slot(key, depth)?];
            let changed = insert_at(child, db, key, depth + 1, value, false)?;
            if changed {
                *rlp = None;
            }
            Ok(changed)
        }
    }
}

/// Removes from the subtree `node` located `depth` nibbles below the root, restoring the
/// canonical shape (no single-child branches, no extension chains). Returns whether anything
/// changed.
fn remove_at(
    node: &mut Node,
    db: &dyn NodeReader,
    key: &Nibbles,
    depth: usize,
    under_extension: bool,
) -> Result<bool, TrieError> {
    match node {
        Node::Empty => Ok(false),
        Node::Hash(hash) => {
            *node = load(db, hash, depth, under_extension)?;
            remove_at(node, db, key, depth, under_extension)
        }
        Node::Leaf { key: leaf_key, .. } => {
            if *leaf_key != key.slice(depth..) {
                return Ok(false);
            }
            *node = Node::Empty;
            Ok(true)
        }
        Node::Extension {
            key: ext_key,
            child,
            ..
        } => {
            let ext_key = *ext_key;
            if !key.slice(depth..).starts_with(&ext_key) {
                return Ok(false);
            }
            if !remove_at(child, db, key, depth + ext_key.len(), true)? {
                return Ok(false);
            }
            // The child was a branch; it may have collapsed into a leaf or an extension.
            *node = match mem::take(&mut **child) {
                Node::Empty => Node::Empty,
                Node::Leaf { key, value, .. } => Node::leaf(ext_key.join(&key), value),
                Node::Extension { key, child, .. } => Node::Extension {
                    key: ext_key.join(&key),
                    child,
                    rlp: None,
                },
                child => Node::extension(ext_key, child),
            };
            Ok(true)
        }
        Node::Branch { children, rlp } => {
            if !remove_at(&mut children[slot(key, depth)?], db, key, depth + 1, false)? {
                return Ok(false);
            }
            *rlp = None;
            let mut occupied = (0..16).filter(|&index| !children[index].is_empty());
            match (occupied.next(), occupied.next()) {
                (Some(_), Some(_)) => {}
                (None, _) => *node = Node::Empty,
                (Some(index), None) => {
                    // A single child is left: merge it upwards.
                    let only = &mut children[index];
                    resolve(only, db, depth + 1, false)?;
                    let prefix = Nibbles::from_nibbles_unchecked([index as u8]);
                    *node = match mem::take(only) {
                        Node::Leaf { key, value, .. } => Node::leaf(prefix.join(&key), value),
                        Node::Extension { key, child, .. } => Node::Extension {
                            key: prefix.join(&key),
                            child,
                            rlp: None,
                        },
                        child => Node::extension(prefix, child),
                    };
                }
            }
            Ok(true)
        }
    }
}

/// Appends the stored nodes on the path of `key` through the subtree `node` to `proof`.
fn proof_at(
    node: &Node,
    db: &dyn NodeReader,
    key: &Nibbles,
    depth: usize,
    under_extension: bool,
    proof: &mut Vec<Bytes>,
) -> Result<(), TrieError> {
    let loaded;
    let node = match node {
        Node::Empty => return Ok(()),
        Node::Hash(hash) => {
            let bytes = fetch(db, hash)?;
            loaded = node::decode(&bytes, RlpNode::word_rlp(hash), depth, under_extension)?;
            proof.push(bytes.into());
            &loaded
        }
        node => {
            // Only nodes referenced by hash are proof items; embedded ones are part of their
            // parent. The root is always referenced by hash.
            let encoded = node.encode(&mut Vec::new());
            if depth == 0 || encoded.len() >= 32 {
                proof.push(encoded.into());
            }
            node
        }
    };
    match node {
        Node::Extension {
            key: ext_key,
            child,
            ..
        } if key.slice(depth..).starts_with(ext_key) => {
            proof_at(child, db, key, depth + ext_key.len(), true, proof)
        }
        Node::Branch { children, .. } => proof_at(
            &children[slot(key, depth)?],
            db,
            key,
            depth + 1,
            false,
            proof,
        ),
        _ => Ok(()),
    }
}
