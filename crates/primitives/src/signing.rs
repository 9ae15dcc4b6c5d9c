//! Signing domains and signing roots.
//!
//! Every BLS signature in Alys is over a **signing root**:
//!
//! ```text
//! domain       = hash_tree_root(DomainData { domain_type: Bytes4, spec_hash: Bytes32 })
//! signing_root = hash_tree_root(SigningData { object_root: Bytes32, domain: Bytes32 })
//! ```
//!
//! `spec_hash` is [`crate::ChainSpec::spec_hash`], so a signature made for one chain never
//! verifies on another, and `domain_type` is a 4-byte tag per message type, so a block
//! approval can never be replayed as, say, an aux-work attestation.
//!
//! A block approval signs `object_root = hash_tree_root(ApprovalData { block_root, slot })`
//! ([`approval_signing_root`]): the slot an approval claims is covered by its signature, so a
//! relay cannot relabel an approval with another slot.

use crate::bls::{SecretKey, Signature};
use alloy_primitives::{FixedBytes, B256};
use ssz_derive::{Decode, Encode};
use tree_hash::TreeHash;
use tree_hash_derive::TreeHash;

/// A 32-byte signing domain.
pub type Domain = B256;

/// The message types that are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DomainType {
    /// An authority approving a consensus block.
    BlockApproval,
    /// A federation member's peg-out signature (reserved).
    PegOutSignature,
    /// Aux-work attestation (reserved).
    AuxWork,
}

impl DomainType {
    /// The 4-byte tag.
    pub const fn tag(self) -> [u8; 4] {
        match self {
            DomainType::BlockApproval => [0x01, 0, 0, 0],
            DomainType::PegOutSignature => [0x02, 0, 0, 0],
            DomainType::AuxWork => [0x03, 0, 0, 0],
        }
    }
}

/// Input of [`compute_domain`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct DomainData {
    /// The message-type tag.
    pub domain_type: FixedBytes<4>,
    /// The chain-spec hash.
    pub spec_hash: B256,
}

/// Input of [`signing_root`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct SigningData {
    /// Root of the signed object.
    pub object_root: B256,
    /// Its domain.
    pub domain: Domain,
}

/// What an authority's block approval signs: the block root and the slot it claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct ApprovalData {
    /// Root of the approved block.
    pub block_root: B256,
    /// Slot of the approved block.
    pub slot: u64,
}

/// The root signed by an approval of `block_root` at `slot` in `domain` (block approvals and
/// their aggregates).
pub fn approval_signing_root(block_root: B256, slot: u64, domain: Domain) -> B256 {
    signing_root(ApprovalData { block_root, slot }.tree_hash_root(), domain)
}

/// Sign an approval of `block_root` at `slot` in `domain`.
pub fn sign_approval(sk: &SecretKey, block_root: B256, slot: u64, domain: Domain) -> Signature {
    sk.sign(approval_signing_root(block_root, slot, domain).as_slice())
}

/// The domain of `domain_type` on the chain with `spec_hash`.
pub fn compute_domain(domain_type: DomainType, spec_hash: B256) -> Domain {
    DomainData {
        domain_type: FixedBytes(domain_type.tag()),
        spec_hash,
    }
    .tree_hash_root()
}

/// The root actually signed for `object_root` in `domain`.
pub fn signing_root(object_root: B256, domain: Domain) -> B256 {
    SigningData {
        object_root,
        domain,
    }
    .tree_hash_root()
}

/// Sign `object_root` in `domain`.
pub fn sign_root(sk: &SecretKey, object_root: B256, domain: Domain) -> Signature {
    sk.sign(signing_root(object_root, domain).as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_bound_to_chain_and_type() {
        let sk = SecretKey::key_gen(&[3u8; 32]).unwrap();
        let pk = sk.public_key();
        let root = B256::repeat_byte(0xab);
        let chain_a = B256::repeat_byte(1);
        let chain_b = B256::repeat_byte(2);
        let d = compute_domain(DomainType::BlockApproval, chain_a);
        let sig = sign_root(&sk, root, d);
        assert!(sig.verify(&pk, signing_root(root, d).as_slice()));
        let other_chain = compute_domain(DomainType::BlockApproval, chain_b);
        assert!(!sig.verify(&pk, signing_root(root, other_chain).as_slice()));
        let other_type = compute_domain(DomainType::AuxWork, chain_a);
        assert!(!sig.verify(&pk, signing_root(root, other_type).as_slice()));
        assert_ne!(
            compute_domain(DomainType::PegOutSignature, chain_a),
            compute_domain(DomainType::AuxWork, chain_a)
        );
    }

    #[test]
    fn approval_signature_covers_the_slot() {
        let sk = SecretKey::key_gen(&[4u8; 32]).unwrap();
        let d = compute_domain(DomainType::BlockApproval, B256::repeat_byte(1));
        let root = B256::repeat_byte(0xcd);
        let sig = sign_approval(&sk, root, 7, d);
        assert!(sig.verify(
            &sk.public_key(),
            approval_signing_root(root, 7, d).as_slice()
        ));
        assert!(!sig.verify(
            &sk.public_key(),
            approval_signing_root(root, 8, d).as_slice()
        ));
        assert!(!sig.verify(&sk.public_key(), signing_root(root, d).as_slice()));
    }

    #[test]
    fn signing_root_is_ssz_container_root() {
        // hash_tree_root of a two-field container = sha256(field0 || field1).
        use sha2::{Digest, Sha256};
        let o = B256::repeat_byte(5);
        let d = B256::repeat_byte(6);
        let expected = Sha256::digest([o.as_slice(), d.as_slice()].concat());
        assert_eq!(signing_root(o, d).as_slice(), &expected[..]);
    }
}
