//! One federation member's signatures of a proposed peg-out payout (DESIGN §8), as gossiped on
//! the consensus message path.
//!
//! | field | meaning |
//! |---|---|
//! | `txid` | the unsigned payout's txid, Bitcoin's internal byte order (as hashed) |
//! | `member` | index of the signer in the spec's `federationBitcoinPubkeys` |
//! | `signatures` | one 64-byte BIP-340 signature per input, in input order (leaf A, SIGHASH_DEFAULT) |
//!
//! Nothing here checks a signature: the receiving node's collector verifies each one against
//! the member's key over that exact transaction.

use alloy_primitives::B256;
use ssz::{Decode, Encode};
use ssz_derive::{Decode, Encode};
use ssz_types::typenum::{Unsigned, U200, U64};
use ssz_types::{FixedVector, VariableList};
use tree_hash_derive::TreeHash;

/// Most inputs a payout spends (one signature each).
pub type MaxPayoutInputs = U200;

/// One BIP-340 signature (64 bytes).
pub type SchnorrSignatureBytes = FixedVector<u8, U64>;

/// Largest SSZ encoding of [`PegOutSignatures`]: txid 32, member 8, list offset 4, and
/// [`MaxPayoutInputs`] signatures of 64 bytes.
pub const MAX_PEGOUT_SIGNATURES_BYTES: usize = 32 + 8 + 4 + 64 * MaxPayoutInputs::USIZE;

/// A member's signatures of every input of one payout.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct PegOutSignatures {
    /// The payout's txid (internal byte order).
    pub txid: B256,
    /// Index of the member in `federationBitcoinPubkeys`.
    pub member: u64,
    /// One signature per input, in input order.
    pub signatures: VariableList<SchnorrSignatureBytes, MaxPayoutInputs>,
}

/// The bytes are not a valid [`PegOutSignatures`], or there are too many signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PegOutSignaturesError {
    /// More signatures than [`MaxPayoutInputs`].
    #[error("{0} signatures, at most {max}", max = MaxPayoutInputs::USIZE)]
    TooMany(usize),
    /// The encoding is longer than [`MAX_PEGOUT_SIGNATURES_BYTES`].
    #[error("{0} bytes, at most {MAX_PEGOUT_SIGNATURES_BYTES}")]
    TooLarge(usize),
    /// Not valid SSZ.
    #[error("malformed peg-out signatures: {0}")]
    Ssz(String),
}

impl PegOutSignatures {
    /// A message from raw signatures; an error when there are more than [`MaxPayoutInputs`].
    pub fn new(
        txid: B256,
        member: u64,
        signatures: &[[u8; 64]],
    ) -> Result<Self, PegOutSignaturesError> {
        let sigs = signatures
            .iter()
            .map(|s| FixedVector::new(s.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PegOutSignaturesError::Ssz(format!("{e:?}")))?;
        Ok(Self {
            txid,
            member,
            signatures: VariableList::new(sigs)
                .map_err(|_| PegOutSignaturesError::TooMany(signatures.len()))?,
        })
    }

    /// The signatures as 64-byte arrays.
    pub fn signatures(&self) -> Vec<[u8; 64]> {
        self.signatures
            .iter()
            .map(|s| {
                let mut out = [0u8; 64];
                out.copy_from_slice(&s[..]);
                out
            })
            .collect()
    }

    /// SSZ encoding (the wire format).
    pub fn encode(&self) -> Vec<u8> {
        self.as_ssz_bytes()
    }

    /// Decodes the SSZ encoding (size checked first); never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, PegOutSignaturesError> {
        if bytes.len() > MAX_PEGOUT_SIGNATURES_BYTES {
            return Err(PegOutSignaturesError::TooLarge(bytes.len()));
        }
        Self::from_ssz_bytes(bytes).map_err(|e| PegOutSignaturesError::Ssz(format!("{e:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_largest_size() {
        let sigs: Vec<[u8; 64]> = (0..MaxPayoutInputs::USIZE).map(|i| [i as u8; 64]).collect();
        let m = PegOutSignatures::new(B256::repeat_byte(7), 2, &sigs).unwrap();
        let bytes = m.encode();
        assert_eq!(bytes.len(), MAX_PEGOUT_SIGNATURES_BYTES);
        let back = PegOutSignatures::decode(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.signatures(), sigs);
    }

    #[test]
    fn too_many_and_garbage_are_errors() {
        let sigs = vec![[0u8; 64]; MaxPayoutInputs::USIZE + 1];
        assert_eq!(
            PegOutSignatures::new(B256::ZERO, 0, &sigs),
            Err(PegOutSignaturesError::TooMany(MaxPayoutInputs::USIZE + 1))
        );
        assert!(matches!(
            PegOutSignatures::decode(&[0u8; MAX_PEGOUT_SIGNATURES_BYTES + 1]),
            Err(PegOutSignaturesError::TooLarge(_))
        ));
        assert!(matches!(
            PegOutSignatures::decode(&[1, 2, 3]),
            Err(PegOutSignaturesError::Ssz(_))
        ));
        // A signature of 63 bytes: the list's length is not a multiple of 64.
        let mut bytes = PegOutSignatures::new(B256::ZERO, 0, &[[1; 64]])
            .unwrap()
            .encode();
        bytes.pop();
        assert!(PegOutSignatures::decode(&bytes).is_err());
    }
}
