//! The AuxPoW header a consensus block may carry (DESIGN §4–5), stored SSZ-encoded in
//! [`ConsensusBlock::auxpow`](crate::ConsensusBlock::auxpow).
//!
//! It says which range the proof finalizes and who gets the miner's fee share, plus the proof
//! itself in the Namecoin/Dogecoin serialization (decoded and verified by `alys-auxpow`):
//!
//! | field | meaning |
//! |---|---|
//! | `range_start` | height of the first block finalized (right after the last finalized one) |
//! | `range_end` | root of the newest block finalized (an ancestor of, or equal to, the parent) |
//! | `payout` | EVM address of the miner's fee share |
//! | `bits` | compact target the proof meets; must equal the consensus-expected bits |
//! | `auxpow` | Bitcoin consensus encoding of the AuxPoW |
//!
//! The work hash the parent coinbase commits to is computed from `range_end`, `range_start`,
//! `payout` and the chain's auxpow chain id, so none of them can be changed after mining.

use crate::block::ByteList;
use alloy_primitives::{Address, B256};
use ssz::{Decode, Encode};
use ssz_derive::{Decode, Encode};
use ssz_types::typenum::U524288;
use ssz_types::VariableList;
use tree_hash_derive::TreeHash;

/// Maximum size of the AuxPoW serialization inside the header (512 KiB).
pub type MaxAuxPowProofBytes = U524288;

/// The AuxPoW header of a block.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct AuxPowHeader {
    /// Height of the first block of the finalized range.
    pub range_start: u64,
    /// Root of the last block of the finalized range.
    pub range_end: B256,
    /// The miner's payout address.
    pub payout: Address,
    /// Compact target (`nBits`) the proof meets.
    pub bits: u32,
    /// The AuxPoW, Bitcoin consensus encoding.
    pub auxpow: ByteList<MaxAuxPowProofBytes>,
}

/// The header bytes are not a valid SSZ [`AuxPowHeader`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed AuxPoW header: {0}")]
pub struct AuxPowHeaderError(pub String);

impl AuxPowHeader {
    /// A header; `None` if `auxpow` exceeds [`MaxAuxPowProofBytes`].
    pub fn new(
        range_start: u64,
        range_end: B256,
        payout: Address,
        bits: u32,
        auxpow: Vec<u8>,
    ) -> Option<Self> {
        Some(Self {
            range_start,
            range_end,
            payout,
            bits,
            auxpow: VariableList::new(auxpow).ok()?,
        })
    }

    /// SSZ encoding (what goes into the block).
    pub fn encode(&self) -> Vec<u8> {
        self.as_ssz_bytes()
    }

    /// Decodes the SSZ encoding; never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, AuxPowHeaderError> {
        Self::from_ssz_bytes(bytes).map_err(|e| AuxPowHeaderError(format!("{e:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_garbage() {
        let h = AuxPowHeader::new(
            7,
            B256::repeat_byte(1),
            Address::repeat_byte(2),
            0x207fffff,
            vec![1, 2, 3],
        )
        .unwrap();
        assert_eq!(AuxPowHeader::decode(&h.encode()).unwrap(), h);
        assert!(AuxPowHeader::decode(&[1, 2, 3]).is_err());
        let enc = h.encode();
        for cut in 0..enc.len() {
            let _ = AuxPowHeader::decode(&enc[..cut]);
        }
    }
}
