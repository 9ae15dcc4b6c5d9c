//! Generic taproot construction (BIP-341): script trees, tweak, output key, control blocks.
//!
//! The federation address is built by [`taproot_spend_info`] on a [`ScriptTree`]; the BIP-341
//! wallet test vectors run through the very same function.

use bitcoin::key::{Secp256k1, XOnlyPublicKey};
use bitcoin::taproot::{LeafVersion, NodeInfo, TaprootSpendInfo};
use bitcoin::ScriptBuf;

use crate::FederationError;

/// The BIP-341 "nothing up my sleeve" point H: no one knows its discrete logarithm, so an
/// output with this internal key can only be spent through its script tree.
pub const NUMS_H: [u8; 32] = [
    0x50, 0x92, 0x9b, 0x74, 0xc1, 0xa0, 0x49, 0x54, 0xb7, 0x8b, 0x4b, 0x60, 0x35, 0xe9, 0x7a, 0x5e,
    0x07, 0x8a, 0x5a, 0x0f, 0x28, 0xec, 0x96, 0xd5, 0x47, 0xbf, 0xee, 0x9a, 0xce, 0x80, 0x3a, 0xc0,
];

/// [`NUMS_H`] as an x-only key.
pub fn nums_point() -> XOnlyPublicKey {
    // NUMS_H is a valid curve point (checked by a unit test); the fallback is unreachable.
    XOnlyPublicKey::from_slice(&NUMS_H).unwrap_or_else(|_| unreachable!("NUMS H is on the curve"))
}

/// A taproot script tree: leaves (script + leaf version) and binary branches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptTree {
    /// One script leaf.
    Leaf {
        /// The leaf script.
        script: ScriptBuf,
        /// Its leaf version (0xc0 for tapscript).
        version: LeafVersion,
    },
    /// A branch over two subtrees (order is irrelevant: BIP-341 sorts node hashes).
    Branch(Box<ScriptTree>, Box<ScriptTree>),
}

impl ScriptTree {
    /// A tapscript (leaf version 0xc0) leaf.
    pub fn tapscript(script: ScriptBuf) -> Self {
        ScriptTree::Leaf {
            script,
            version: LeafVersion::TapScript,
        }
    }

    /// A branch over `a` and `b`.
    pub fn branch(a: ScriptTree, b: ScriptTree) -> Self {
        ScriptTree::Branch(Box::new(a), Box::new(b))
    }

    fn node_info(&self) -> Result<NodeInfo, FederationError> {
        match self {
            ScriptTree::Leaf { script, version } => {
                Ok(NodeInfo::new_leaf_with_ver(script.clone(), *version))
            }
            ScriptTree::Branch(a, b) => NodeInfo::combine(a.node_info()?, b.node_info()?)
                .map_err(|e| FederationError::Taproot(e.to_string())),
        }
    }
}

/// Tweaks `internal_key` with the merkle root of `tree` (key-path only when `None`) and returns
/// the spend info: merkle root, tweak, output key and every leaf's control block.
pub fn taproot_spend_info(
    internal_key: XOnlyPublicKey,
    tree: Option<&ScriptTree>,
) -> Result<TaprootSpendInfo, FederationError> {
    let secp = Secp256k1::verification_only();
    match tree {
        None => Ok(TaprootSpendInfo::new_key_spend(&secp, internal_key, None)),
        Some(tree) => Ok(TaprootSpendInfo::from_node_info(
            &secp,
            internal_key,
            tree.node_info()?,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nums_point_is_valid() {
        assert_eq!(nums_point().serialize(), NUMS_H);
    }
}
