//! In-memory trie nodes, and their conversion from and to the canonical RLP encoding.

use super::{NodeReader, TrieError};
use alloy_primitives::{keccak256, B256};
use alloy_rlp::{Decodable, Encodable, EMPTY_STRING_CODE};
use alloy_trie::{
    nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode, TrieNode},
    Nibbles, TrieMask,
};

/// Number of nibbles in a (hashed, 32-byte) trie key.
pub(crate) const KEY_NIBBLES: usize = 64;

/// A node of the partially loaded in-memory trie.
///
/// Loaded nodes carry the reference their parent holds to them (`rlp`: the inline encoding, or
/// the RLP of their hash). It is cleared as soon as the node or anything below it changes, so
/// `rlp.is_some()` means "unchanged since it was read from the store" and hashing can stop there.
#[derive(Debug, Clone, Default)]
pub(crate) enum Node {
    /// No node: the empty trie, or an empty branch slot.
    #[default]
    Empty,
    /// A stored node that has not been loaded yet.
    Hash(B256),
    /// A leaf holding the rest of the key and the value.
    Leaf {
        key: Nibbles,
        value: Vec<u8>,
        rlp: Option<RlpNode>,
    },
    /// A shared key segment leading to a branch.
    Extension {
        key: Nibbles,
        child: Box<Node>,
        rlp: Option<RlpNode>,
    },
    /// A 16-way branch (values in branches never occur with fixed-length keys).
    Branch {
        children: Box<[Node; 16]>,
        rlp: Option<RlpNode>,
    },
}

impl Node {
    /// A leaf node that has not been stored yet.
    pub(crate) const fn leaf(key: Nibbles, value: Vec<u8>) -> Self {
        Self::Leaf {
            key,
            value,
            rlp: None,
        }
    }

    /// An extension node that has not been stored yet.
    pub(crate) fn extension(key: Nibbles, child: Self) -> Self {
        Self::Extension {
            key,
            child: Box::new(child),
            rlp: None,
        }
    }

    /// A branch node with no children that has not been stored yet.
    pub(crate) fn empty_branch() -> Self {
        Self::Branch {
            children: Box::new(std::array::from_fn(|_| Self::Empty)),
            rlp: None,
        }
    }

    /// Whether this slot holds no node.
    pub(crate) const fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// The reference a parent holds to this node: its RLP if shorter than 32 bytes, otherwise the
    /// RLP of its hash. Changed nodes of 32 bytes or more are pushed to `out` as `(hash, rlp)`.
    pub(crate) fn reference(&self, out: &mut Vec<(B256, Vec<u8>)>) -> RlpNode {
        match self {
            Self::Hash(hash) => RlpNode::word_rlp(hash),
            Self::Leaf { rlp: Some(rlp), .. }
            | Self::Extension { rlp: Some(rlp), .. }
            | Self::Branch { rlp: Some(rlp), .. } => rlp.clone(),
            _ => {
                let encoded = self.encode(out);
                if encoded.len() < 32 {
                    RlpNode::from_rlp(&encoded)
                } else {
                    let hash = keccak256(&encoded);
                    out.push((hash, encoded));
                    RlpNode::word_rlp(&hash)
                }
            }
        }
    }

    /// The RLP encoding of this node. Changed descendants that are stored by hash are pushed to
    /// `out`; the node itself is not.
    ///
    /// `Hash` nodes have no encoding in memory; they encode as the empty string (callers never
    /// ask, since they are only ever referenced).
    pub(crate) fn encode(&self, out: &mut Vec<(B256, Vec<u8>)>) -> Vec<u8> {
        let mut buf = Vec::new();
        match self {
            Self::Empty | Self::Hash(_) => buf.push(EMPTY_STRING_CODE),
            Self::Leaf { key, value, .. } => LeafNodeRef::new(key, value).encode(&mut buf),
            Self::Extension { key, child, .. } => {
                let child = child.reference(out);
                ExtensionNodeRef::new(key, &child).encode(&mut buf);
            }
            Self::Branch { children, .. } => {
                let mut stack = Vec::with_capacity(16);
                let mut mask = TrieMask::default();
                for (index, child) in (0u8..).zip(children.iter()) {
                    if !child.is_empty() {
                        stack.push(child.reference(out));
                        mask.set_bit(index);
                    }
                }
                BranchNodeRef::new(&stack, mask).encode(&mut buf);
            }
        }
        buf
    }
}

/// Reads the node stored under `hash`, checking that its bytes hash to `hash`.
pub(crate) fn fetch(db: &dyn NodeReader, hash: &B256) -> Result<Vec<u8>, TrieError> {
    db.verified_node(hash)
}

/// Reads and decodes the node stored under `hash`, located `depth` nibbles below the root.
/// `under_extension` tells whether the parent is an extension (so the node must be a branch).
pub(crate) fn load(
    db: &dyn NodeReader,
    hash: &B256,
    depth: usize,
    under_extension: bool,
) -> Result<Node, TrieError> {
    let bytes = fetch(db, hash)?;
    decode(&bytes, RlpNode::word_rlp(hash), depth, under_extension)
}

/// Replaces a `Hash` node with the node it refers to; other nodes are left as they are.
pub(crate) fn resolve(
    node: &mut Node,
    db: &dyn NodeReader,
    depth: usize,
    under_extension: bool,
) -> Result<(), TrieError> {
    if let Node::Hash(hash) = node {
        *node = load(db, hash, depth, under_extension)?;
    }
    Ok(())
}

/// Shorthand for a structural decoding error.
const fn malformed(reason: &'static str) -> TrieError {
    TrieError::Decode(alloy_rlp::Error::Custom(reason))
}

/// Decodes the RLP of a node located `depth` nibbles below the root; `rlp` is the reference its
/// parent holds to it. Beyond RLP well-formedness this checks the structural invariants the
/// update algorithms rely on, so corrupt data surfaces as an error rather than a bad trie.
pub(crate) fn decode(
    mut bytes: &[u8],
    rlp: RlpNode,
    depth: usize,
    under_extension: bool,
) -> Result<Node, TrieError> {
    let node = TrieNode::decode(&mut bytes)?;
    if !bytes.is_empty() {
        return Err(TrieError::Decode(alloy_rlp::Error::UnexpectedLength));
    }
    if under_extension && !matches!(node, TrieNode::Branch(_)) {
        return Err(malformed("extension child is not a branch"));
    }
    Ok(match node {
        TrieNode::EmptyRoot => return Err(malformed("unexpected empty node")),
        TrieNode::Leaf(leaf) => {
            if depth + leaf.key.len() != KEY_NIBBLES {
                return Err(malformed("leaf key has the wrong length"));
            }
            if leaf.value.is_empty() {
                return Err(malformed("leaf value is empty"));
            }
            Node::Leaf {
                key: leaf.key,
                value: leaf.value,
                rlp: Some(rlp),
            }
        }
        TrieNode::Extension(ext) => {
            if ext.key.is_empty() || depth + ext.key.len() >= KEY_NIBBLES {
                return Err(malformed("extension key has the wrong length"));
            }
            let child = decode_child(&ext.child, depth + ext.key.len(), true)?;
            Node::Extension {
                key: ext.key,
                child: Box::new(child),
                rlp: Some(rlp),
            }
        }
        TrieNode::Branch(branch) => {
            if depth >= KEY_NIBBLES {
                return Err(malformed("branch below the key length"));
            }
            if branch.state_mask.count_bits() < 2 {
                return Err(malformed("branch has fewer than two children"));
            }
            let mut children: [Node; 16] = std::array::from_fn(|_| Node::Empty);
            for (index, child) in branch.state_mask.iter().zip(&branch.stack) {
                children[index as usize] = decode_child(child, depth + 1, false)?;
            }
            Node::Branch {
                children: Box::new(children),
                rlp: Some(rlp),
            }
        }
    })
}

/// Turns a child reference into a `Hash` node, or decodes it if it is embedded.
fn decode_child(child: &RlpNode, depth: usize, under_extension: bool) -> Result<Node, TrieError> {
    if child.len() == 33 && child[0] == EMPTY_STRING_CODE + 32 {
        Ok(Node::Hash(B256::from_slice(&child[1..])))
    } else if child.len() < 32 {
        decode(child, child.clone(), depth, under_extension)
    } else {
        Err(malformed("embedded node is not shorter than 32 bytes"))
    }
}
